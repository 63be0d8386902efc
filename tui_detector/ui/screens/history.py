"""History: the runs the review store remembers (the app's and detect's), newest first; enter
opens a run's file again (its cached model makes that quick)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static

from tui_detector import core

from ..journey import OpenFile
from ..widgets.vim_keys import VimTable

#: The most runs listed.
LIMIT = 200


class HistoryScreen(Screen[None]):
    SUB_TITLE = "History"
    BINDINGS = [Binding("escape", "back", "Back")]

    def __init__(self) -> None:
        super().__init__()
        self.runs: list[Any] = []

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(Text("reading the review store …"), id="history-summary")
        yield VimTable(id="runs", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one("#runs", DataTable)
        for label in ("run", "when", "by", "file", "rows", "anomalies", "reviewed", "new"):
            table.add_column(Text(label))
        table.focus()
        self.load()

    @work(thread=True, exclusive=True, exit_on_error=False, group="history")
    def load(self) -> None:
        try:
            with core.ReviewStore() as store:
                runs = core.list_runs(store, limit=LIMIT)
                notes = list(store.notes)
            self.app.call_from_thread(self._show, runs, notes, None)
        except (core.StoreError, OSError) as exc:
            self.app.call_from_thread(self._show, [], [], str(exc))

    def _show(self, runs: list[Any], notes: list[str], problem: str | None) -> None:
        self.runs = runs
        table = self.query_one("#runs", DataTable)
        for run in runs:
            name = run.file_name + (f" [{run.sheet}]" if run.sheet else "")
            table.add_row(
                Text(str(run.id), justify="right"),
                Text(run.created.replace("T", " ").removesuffix("+00:00") + " UTC"),
                Text(run.origin),
                Text(name),
                Text(f"{run.rows:,}", justify="right"),
                Text(f"{run.anomaly_count:,}", justify="right"),
                Text(f"{run.reviewed:,}", justify="right"),
                Text("-" if run.new is None else f"{run.new:,}", justify="right"),
            )
        summary = self.query_one("#history-summary", Static)
        if problem is not None:
            summary.update(Text(f"The review store cannot be read: {problem}", style="bold red"))
        elif not runs:
            summary.update(Text("No runs yet: every detection (here or with anomaly-tui detect) is recorded."))
        else:
            summary.update(Text(f"{len(runs):,} runs, newest first · enter opens the run's file again · new: flagged rows the file's run before did not flag"))
        for note in notes:
            self.notify(note, severity="warning", markup=False, timeout=10)

    @on(DataTable.RowSelected, "#runs")
    def _chosen(self, event: DataTable.RowSelected) -> None:
        if not 0 <= event.cursor_row < len(self.runs):
            return
        path = Path(self.runs[event.cursor_row].path)
        if not path.is_file():
            self.notify(f"{path} is no longer there.", severity="warning", markup=False)
            return
        self.post_message(OpenFile(path))

    def action_back(self) -> None:
        self.app.pop_screen()
