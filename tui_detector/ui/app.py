"""The Textual app: the screens of the journey, global keys, and the factory the CLI uses.

``open file → set up → training → results``; ``?``/``f1`` shows every key, ``q`` quits
(asking only while a model trains), ``escape`` goes back. Nothing heavy is imported here:
pandas, scikit-learn and TensorFlow load inside workers, so the first screen is up at once.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual.app import App
from textual.binding import Binding

from .screens.dialogs import ConfirmScreen
from .screens.help import HelpScreen
from .screens.open_file import OpenFileScreen
from .screens.setup import SetupScreen
from .screens.training import TrainingScreen

if TYPE_CHECKING:
    from tui_detector.core.pipeline import DetectionRun

#: ``run_detection``'s signature: tests pass a fake or a fast model through :func:`make_app`.
Runner = Callable[..., "DetectionRun"]


class AnomalyApp(App[None]):
    """anomaly-tui: find the strange rows in a spreadsheet and see why they are strange."""

    TITLE = "anomaly-tui"
    CSS_PATH = "app.tcss"
    ENABLE_COMMAND_PALETTE = False
    BINDINGS = [
        Binding("q", "quit", "Quit"),
        Binding("question_mark", "help", "Help", key_display="?"),
        Binding("f1", "help", "Help", show=False),
    ]

    def __init__(
        self,
        path: Path | None = None,
        *,
        runner: Runner | None = None,
        workdir: Path | None = None,
        model: str = "auto",
    ) -> None:
        super().__init__()
        self.path = path
        self.runner = runner
        #: Where the file picker starts and exports go by default.
        self.workdir = (workdir or Path.cwd()).resolve()
        #: The model the set-up screen proposes.
        self.default_model = model

    def on_mount(self) -> None:
        if self.path is not None:
            self.push_screen(SetupScreen(self.path))
        else:
            self.push_screen(OpenFileScreen(self.workdir))

    def run_detection(self, *args: Any, **kwargs: Any) -> DetectionRun:
        """The pipeline (or the injected runner); called from the training worker."""
        if self.runner is not None:
            return self.runner(*args, **kwargs)
        from tui_detector.core.pipeline import run_detection  # noqa: PLC0415 - heavy

        return run_detection(*args, **kwargs)

    def open_file(self, path: Path) -> None:
        """Go to the set-up screen for ``path`` (from the file picker)."""
        self.push_screen(SetupScreen(path))

    async def action_quit(self) -> None:
        if isinstance(self.screen, TrainingScreen):
            training = self.screen

            def answered(quit_: bool | None) -> None:
                if quit_:
                    training.cancel()
                    self.exit()

            self.push_screen(ConfirmScreen("A model is training. Stop it and quit?", yes="Quit", no="Keep training"), answered)
            return
        self._stop_reads()
        self.exit()

    def _stop_reads(self) -> None:
        """Textual waits for worker threads before it exits: a read in progress is stopped
        (its reader process killed) so quitting never waits for a big file."""
        for screen in self.screen_stack:
            stop = getattr(screen, "cancel_reading", None)
            if stop is not None:
                stop()

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())


def make_app(path: Path | None = None, **options: Any) -> AnomalyApp:
    """The app the CLI runs; tests pass ``runner=``, ``workdir=`` or ``model=``."""
    return AnomalyApp(path, **options)


def run_app(app: AnomalyApp) -> None:
    """Run ``app`` in this terminal with fd 2 kept off the screen (see :mod:`.terminal`)."""
    from .terminal import terminal_for_textual  # noqa: PLC0415

    with terminal_for_textual():
        app.run()
