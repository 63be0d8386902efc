"""The export dialog: a JSON path (prefilled), every row's score or not, and a scored copy."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Label, Static

from tui_detector import core

from ..widgets.tick_box import TickBox

if TYPE_CHECKING:
    from tui_detector.core import DetectionRun

#: Rows in one Excel sheet (with the header row).
EXCEL_MAX_ROWS = 1_048_576


@dataclass
class ExportRequest:
    json_path: Path
    all_rows: bool
    scored_copy: Path | None

    @property
    def targets(self) -> list[Path]:
        return [self.json_path] + ([self.scored_copy] if self.scored_copy else [])


class ExportScreen(ModalScreen["ExportRequest | None"]):
    """``enter`` (in a field, or on Export) returns the request; ``escape`` cancels."""

    BINDINGS = [Binding("escape", "cancel", "Cancel"), Binding("enter", "submit", "Write", show=False)]

    def __init__(self, workdir: Path, run: DetectionRun) -> None:
        super().__init__()
        self.workdir = workdir
        stem = Path(run.path).stem
        self.default_json = workdir / core.default_export_name(run.path)
        suffix = ".xlsx" if len(run.detection.scores) + 1 <= EXCEL_MAX_ROWS else ".csv"
        self.default_copy = workdir / f"{stem}.scored{suffix}"
        self.count = int(run.detection.flags.sum())

    def compose(self) -> ComposeResult:
        with Vertical(id="export-dialog", classes="dialog"):
            yield Static(Text(f"Export {self.count:,} anomalous rows as JSON", style="bold"))
            yield Label(Text(f"JSON file (relative names go in {self.workdir.name or self.workdir}/)"))
            yield Input(self._shown(self.default_json), id="json-path")
            yield TickBox("add every row's score (\"scores\")", id="all-rows")
            yield TickBox("also write a scored copy of the sheet", id="scored")
            yield Input(self._shown(self.default_copy), id="copy-path", disabled=True)
            yield Static(
                Text("enter: write · space: tick/untick · escape: cancel · an existing file is only replaced if you say so", style="dim")
            )
            with Horizontal(classes="buttons"):
                yield Button("Export", id="export", variant="primary")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#json-path", Input).focus()

    @on(Checkbox.Changed, "#scored")
    def _scored(self, event: Checkbox.Changed) -> None:
        self.query_one("#copy-path", Input).disabled = not event.value

    def action_submit(self) -> None:
        """``enter`` anywhere in the dialog (a ticked box included) writes, as it says."""
        focused = self.focused
        if isinstance(focused, Button) and focused.id == "cancel":
            self.dismiss(None)
            return
        self._submit()

    @on(Input.Submitted)
    @on(Button.Pressed, "#export")
    def _submit(self) -> None:
        json_text = self.query_one("#json-path", Input).value.strip()
        if not json_text:
            self.notify("Give the JSON file a name.", severity="error")
            return
        scored: Path | None = None
        if self.query_one("#scored", Checkbox).value:
            copy_text = self.query_one("#copy-path", Input).value.strip()
            scored = self._resolve(copy_text)
            if scored.suffix.lower() not in (".xlsx", ".csv"):
                self.notify("The scored copy must end in .xlsx or .csv.", severity="error")
                return
        request = ExportRequest(self._resolve(json_text), self.query_one("#all-rows", Checkbox).value, scored)
        for target in request.targets:
            if target.is_dir():
                self.notify(f"{target} is a folder; give a file name.", severity="error", markup=False)
                return
            if not target.parent.is_dir():
                self.notify(f"The folder {target.parent} does not exist.", severity="error", markup=False)
                return
        self.dismiss(request)

    def _shown(self, path: Path) -> str:
        """Relative to the working directory (where exports go) when it is inside it."""
        try:
            return str(path.relative_to(self.workdir))
        except ValueError:
            return str(path)

    def _resolve(self, text: str) -> Path:
        path = Path(text).expanduser()
        return path if path.is_absolute() else self.workdir / path

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
