"""One row opened: the columns that make it strange (actual vs expected, share of the error)
and the whole row."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Label, Static

from tui_detector import core

from ..journey import OpenHistogram
from ..results_model import format_value
from ..widgets.vim_keys import VimTable

if TYPE_CHECKING:
    from ..results_model import ResultsModel

TOP_STYLES = ("bold white on dark_red", "bold black on dark_orange3", "bold on grey35")


class RowDetailScreen(Screen[int]):
    """One row; ``escape`` dismisses with the row shown last (``[`` ``]`` step through the table)."""

    SUB_TITLE = "Row details"
    BINDINGS = [
        Binding("escape", "back", "Back"),
        Binding("right_square_bracket,n", "step(1)", "Next row", key_display="]"),
        Binding("left_square_bracket,p", "step(-1)", "Previous row", key_display="["),
        Binding("H", "histogram", "Histogram"),
    ]

    def __init__(self, model: ResultsModel, row: int) -> None:
        super().__init__()
        self.model = model
        self.row = row

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(id="row-title")
        yield Label("Why this row is strange", classes="pane-title")
        yield VimTable(id="features", cursor_type="row", zebra_stripes=True)
        yield Label("The whole row", classes="pane-title")
        yield VimTable(id="full-row", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        self._fill()

    def _fill(self) -> None:
        run = self.model.run
        detection = run.detection
        row = self.row
        explained = self.model.top.explain_all_columns(row)
        if run.baseline:
            # Scored with another table's model: name the values that model never saw.
            core.annotate_unseen(run.detector, [explained])
        total = sum(float(f["reconstruction_error"]) for f in explained["anomalous_features"]) or 1.0
        flagged = bool(detection.flags[row])
        title = Text(f"row {row}", style="bold")
        if self.model.excel_rows is not None:
            title.append(f" · sheet row {int(self.model.excel_rows[row])}")
        title.append(f" · score {detection.scores[row]:.4g} · threshold {detection.threshold:.4g} · ")
        title.append("flagged as anomalous" if flagged else "not flagged", style="bold red" if flagged else "green")
        position = self.position
        if position is not None:
            title.append(f" · {position + 1:,} of {len(self.model.view):,} in the table", style="dim")
        self._explained = explained
        self.query_one("#row-title", Static).update(title)

        features = self.query_one("#features", DataTable)
        notes = any(item.get("note") for item in explained["anomalous_features"])
        labels = ["#", "column", "actual value", "expected value", "error", "share of the row's error"]
        for label in labels + (["note"] if notes else []):
            features.add_column(Text(label))
        ranks: dict[str, int] = {}
        for rank, item in enumerate(explained["anomalous_features"]):
            name = str(item["feature_name"])
            ranks[name] = rank
            share = item["reconstruction_error"] / total
            bar = "█" * int(round(share * 20))
            if rank >= 3:
                ranks.pop(name)
            cells = [
                Text(str(rank + 1), style=TOP_STYLES[rank] if rank < 3 else ""),
                Text(name, style="bold"),
                Text(format_value(item["actual_value"])),
                Text(format_value(item["expected_value"])),
                Text(f"{item['reconstruction_error']:.4g}"),
                Text(f"{share:6.1%} ") + Text(bar, style="red"),
            ]
            if notes:
                cells.append(Text(str(item.get("note") or ""), style="yellow"))
            features.add_row(*cells)
        full = self.query_one("#full-row", DataTable)
        full.add_column(Text("column"))
        full.add_column(Text("value"))
        for name, value in explained["raw_data"].items():
            rank = ranks.get(str(name))
            style = TOP_STYLES[rank] if rank is not None and rank < 3 else ""
            full.add_row(Text(str(name), style=style), Text(format_value(value)))
        features.focus()

    def action_back(self) -> None:
        self.dismiss(self.row)

    # -- walking the table's rows without going back to it ----------------------------------

    @property
    def position(self) -> int | None:
        """Where this row is in the table's current order and filter (``None``: not shown there)."""
        hits = (self.model.view == self.row).nonzero()[0]
        return int(hits[0]) if hits.size else None

    def action_step(self, by: int) -> None:
        view = self.model.view
        position = self.position
        if position is None:
            if not len(view):
                self.notify("The table shows no rows to step through.", severity="warning")
                return
            target = 0
        else:
            target = position + by
        if not 0 <= target < len(view):
            self.notify(f"This is the {'last' if by > 0 else 'first'} row of the table.", severity="warning")
            return
        self.row = int(view[target])
        for table in self.query(DataTable):
            table.clear(columns=True)
        self._fill()

    # -- the column histogram -------------------------------------------------------------

    def action_histogram(self) -> None:
        table = self.focused if isinstance(self.focused, DataTable) else self.query_one("#features", DataTable)
        if not table.row_count:
            return
        name = str(table.get_row_at(table.cursor_row)[1 if table.id == "features" else 0])
        key = next((c.key for c in self.model.columns if c.data_index is not None and self.model.names[c.data_index] == name), None)
        if key is None:
            self.notify(f"No column named {name} in the table.", severity="warning", markup=False)
            return
        expected = next(
            (f["expected_value"] for f in self._explained["anomalous_features"] if str(f["feature_name"]) == name), None
        )
        self.post_message(OpenHistogram(self.model, self.row, key, expected))
