"""The Textual app: the screens of the journey, global keys, and the factory the CLI uses.

``open file → set up → training → results``; ``?``/``f1`` shows every key, ``q`` quits
(asking only while a model trains), ``escape`` goes back. Nothing heavy is imported here:
pandas, scikit-learn and TensorFlow load inside workers, so the first screen is up at once.

The app owns the journey: screens post the messages of :mod:`.journey` and the methods below
decide which screen follows which. Screens go back by popping themselves; what lies beneath
was decided here.
"""

from __future__ import annotations

import asyncio
import signal
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual import on, work
from textual.app import App
from textual.binding import Binding

from tui_detector import core

from .journey import BackToFiles, OpenFile, OpenHistogram, OpenHistory, OpenRow, ScoreAnother, ShowResults, StartTraining, TrainingJob
from .screens.dialogs import ConfirmScreen
from .screens.help import HelpScreen
from .screens.open_file import OpenFileScreen
from .screens.setup import SetupScreen
from .screens.training import RunDetection, TrainingScreen
from .terminal import terminal_for_textual
from .text import trained_on_text

if TYPE_CHECKING:
    from tui_detector.core import DetectionRun

    from .results_model import ResultsModel

#: ``run_detection``'s signature: tests pass a fake or a fast model through :func:`make_app`.
Runner = RunDetection


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
        triage: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        self.path = path
        self.runner = runner
        #: Where the file picker starts and exports go by default.
        self.workdir = (workdir or Path.cwd()).resolve()
        #: The model the set-up screen proposes.
        self.default_model = model
        #: The triage endpoint's command-line options (``core.triage.config.resolve``'s
        #: keywords); the environment and the config file fill in the rest when triage starts.
        self.triage_options = dict(triage or {})
        #: Whether the user was told that models are not cached (said once per session).
        self.told_no_cache = False
        self._hang_up_handled = False

    def on_mount(self) -> None:
        self._end_on_hang_up()
        self._check_data_dir()
        if self.path is not None:
            self.open_file(self.path)
        else:
            self.push_screen(OpenFileScreen(self.workdir))

    def on_unmount(self) -> None:
        if self._hang_up_handled:
            try:
                asyncio.get_running_loop().remove_signal_handler(signal.SIGHUP)
            except (RuntimeError, ValueError, NotImplementedError):
                pass

    # -- the desktop around the app --------------------------------------------------------

    def _end_on_hang_up(self) -> None:
        """When the terminal goes away (SIGHUP) stop training and reading and exit, rather than
        die in the middle of them: their threads end, their reader processes are killed."""
        if not hasattr(signal, "SIGHUP") or threading.current_thread() is not threading.main_thread():
            return
        try:
            asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, self.hang_up)
        except (RuntimeError, ValueError, NotImplementedError):
            return
        self._hang_up_handled = True

    def hang_up(self) -> None:
        for screen in self.screen_stack:
            if isinstance(screen, TrainingScreen):
                screen.cancel()
        self._stop_reads()
        self.exit(return_code=129)  # 128 + SIGHUP, as a shell reports a hang-up

    @work(thread=True, exit_on_error=False, group="data-dir")
    def _check_data_dir(self) -> None:
        # A thread: the data directory can sit on a slow or hung network mount.
        problem = core.data_dir_problem()
        if problem is not None:
            self.call_from_thread(
                self.tell_no_cache,
                f"The data folder cannot be written ({problem}): models are not cached and recent files are not kept; everything else works.",
            )

    def tell_no_cache(self, message: str) -> None:
        """Say, once per session, that models are not being cached (and why)."""
        if self.told_no_cache:
            return
        self.told_no_cache = True
        self.notify(message, severity="warning", markup=False, timeout=10)

    def run_detection(self, *args: Any, **kwargs: Any) -> DetectionRun:
        """The pipeline (or the injected runner); called from the training worker."""
        if self.runner is not None:
            return self.runner(*args, **kwargs)
        return core.run_detection(*args, **kwargs)

    # -- the journey: which screen follows which --------------------------------------------

    def open_file(self, path: Path) -> None:
        """Set up ``path``, on top of the file picker."""
        self.push_screen(SetupScreen(path, model=self.default_model))

    def back_to_files(self, path: Path) -> None:
        """Leave Set up for the picker it came from, or a new one in the file's folder."""
        if len(self.screen_stack) > 2:
            self.pop_screen()
            return
        folder = path.resolve().parent
        if _out_of_sight(folder):
            # The demo's workbook lives in the user cache (a hidden folder): start where the user is.
            folder = self.workdir
        self.switch_screen(OpenFileScreen(folder))

    def start_training(self, job: TrainingJob) -> None:
        """Train on top of Set up, so that cancelling goes back to it."""
        self.push_screen(TrainingScreen(job, self.run_detection))

    def show_results(self, run: DetectionRun) -> None:
        """Results take the place of the screen that produced them (training, or scoring with
        a model), so ``escape`` goes back to Set up or to the results the model came from."""
        # The results screens load NumPy: imported when first shown, not at start-up.
        from .screens.results import ResultsScreen  # noqa: PLC0415

        self.switch_screen(ResultsScreen(run, workdir=self.workdir))
        note = getattr(run, "cache_note", "")
        if note.startswith("could not store: "):
            self.tell_no_cache(f"The model could not be cached ({note.removeprefix('could not store: ')}); the results are unaffected.")

    def open_row(self, model: ResultsModel, row: int) -> None:
        from .screens.row_detail import RowDetailScreen  # noqa: PLC0415 - see show_results

        results = self.screen

        def back(last: int | None) -> None:
            # After stepping with [ ], the table's cursor is on the row looked at last.
            show = getattr(results, "show_row", None)
            if last is not None and show is not None:
                show(last)

        self.push_screen(RowDetailScreen(model, row), back)

    def open_histogram(self, message: OpenHistogram) -> None:
        """A column's distribution, on top of the screen that asked (escape goes back to it)."""
        from .screens.column_histogram import column_histogram  # noqa: PLC0415 - see show_results

        screen = column_histogram(message.model, message.row, message.key, expected=message.expected)
        if isinstance(screen, str):
            self.notify(screen, severity="warning", markup=False)
        else:
            self.push_screen(screen)

    def score_another(self, run: DetectionRun) -> None:
        """Pick a file, then score it with the model of ``run`` (escape in the picker: back)."""

        def picked(path: Path | None) -> None:
            if path is not None:
                self.score_with(run, path)

        purpose = f"Pick a file to score with the model of {trained_on_text(run.trained_on)}"
        self.push_screen(OpenFileScreen(self.workdir, purpose=purpose), picked)

    def score_with(self, run: DetectionRun, path: Path) -> None:
        """Score ``path`` with the model of ``run``: schema check and drift first."""
        from .screens.baseline import BaselineScreen  # noqa: PLC0415 - see show_results

        self.push_screen(BaselineScreen(run, path))

    # -- what the screens ask for ----------------------------------------------------------

    @on(OpenFile)
    def _open_file(self, message: OpenFile) -> None:
        self.open_file(message.path)

    @on(BackToFiles)
    def _back_to_files(self, message: BackToFiles) -> None:
        self.back_to_files(message.path)

    @on(StartTraining)
    def _start_training(self, message: StartTraining) -> None:
        self.start_training(message.job)

    @on(ShowResults)
    def _show_results(self, message: ShowResults) -> None:
        self.show_results(message.run)

    @on(OpenRow)
    def _open_row(self, message: OpenRow) -> None:
        self.open_row(message.model, message.row)

    @on(OpenHistogram)
    def _open_histogram(self, message: OpenHistogram) -> None:
        self.open_histogram(message)

    @on(OpenHistory)
    def _open_history(self) -> None:
        from .screens.history import HistoryScreen  # noqa: PLC0415 - see show_results

        self.push_screen(HistoryScreen())

    @on(ScoreAnother)
    def _score_another(self, message: ScoreAnother) -> None:
        self.score_another(message.run)

    # -- global keys -----------------------------------------------------------------------

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
            self.push_screen(HelpScreen(self.screen.sub_title))


def _out_of_sight(folder: Path) -> bool:
    """Whether ``folder`` is hidden or in this app's cache, where no user keeps their files."""
    import platformdirs  # noqa: PLC0415 - small, and only needed when leaving Set up

    cache = Path(platformdirs.user_cache_dir("anomaly-tui")).resolve()
    return any(part.startswith(".") for part in folder.parts) or folder.is_relative_to(cache)


def make_app(path: Path | None = None, **options: Any) -> AnomalyApp:
    """The app the CLI runs; tests pass ``runner=``, ``workdir=`` or ``model=``."""
    core.small_pages()
    return AnomalyApp(path, **options)


def run_app(app: AnomalyApp) -> None:
    """Run ``app`` in this terminal with fd 2 kept off the screen (see :mod:`.terminal`)."""
    with terminal_for_textual():
        app.run()
