"""Set up's note on the model cache: whether ``t`` will train or take a model trained before."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from rich.text import Text
from textual import on, work
from textual.message import Message
from textual.widgets import Static

from tui_detector import core

if TYPE_CHECKING:
    from tui_detector.core import DetectionSettings, LoadedTable


class CacheNote(Static):
    """Looks the settings up in the model cache (a worker: it hashes the cache key's inputs)
    and says what ``t`` will do; posts :class:`Checked` with the answer."""

    @dataclass
    class Checked(Message):
        cached: bool

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__("", id=id)
        self.cached = False
        #: Whether the note reflects the settings last given (tests wait for it).
        self.checked = False

    def check(self, loaded: LoadedTable, sha: str, settings: DetectionSettings) -> None:
        self.checked = False
        self._look_up(loaded, sha, settings)

    def invalid(self, problem: str) -> None:
        """The settings cannot be used as they are: say why instead."""
        self.checked = False
        self.cached = False
        self.update(Text(problem, style="yellow"))

    @work(thread=True, exclusive=True, exit_on_error=False, group="setup-cache")
    def _look_up(self, loaded: LoadedTable, sha: str, settings: DetectionSettings) -> None:
        try:
            cached = core.ModelCache().contains(core.cache_inputs_for(loaded, sha, settings))
        except Exception:  # noqa: BLE001 - no cache is no reason to stop
            cached = False
        self.post_message(self.Checked(cached))

    @on(Checked)
    def _checked(self, message: Checked) -> None:
        self.cached = message.cached
        self.checked = True
        if message.cached:
            self.update(
                Text("A model trained on exactly this data and set-up is cached: t uses it (results at once), r retrains.", style="green")
            )
        else:
            self.update(Text("t trains a model on this sheet.", style="dim"))
