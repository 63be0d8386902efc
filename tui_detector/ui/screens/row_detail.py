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

from ..results_model import format_value

if TYPE_CHECKING:
    from ..results_model import ResultsModel

TOP_STYLES = ("bold white on dark_red", "bold black on dark_orange3", "bold on grey35")


class RowDetailScreen(Screen[None]):
    SUB_TITLE = "Row details"
    BINDINGS = [Binding("escape", "back", "Back")]

    def __init__(self, model: ResultsModel, row: int) -> None:
        super().__init__()
        self.model = model
        self.row = row

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(id="row-title")
        yield Label("Why this row is strange", classes="pane-title")
        yield DataTable(id="features", cursor_type="row", zebra_stripes=True)
        yield Label("The whole row", classes="pane-title")
        yield DataTable(id="full-row", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
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
        self.app.pop_screen()
