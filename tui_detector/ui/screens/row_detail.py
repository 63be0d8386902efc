"""One row opened: the columns that make it strange (actual vs expected, share of the strangeness)
and the whole row."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Footer, Header, Label, Static

from tui_detector import core

from ..values import score_text
from ..widgets.palette import palette_for
from ..journey import OpenHistogram
from ..triage import suggestion_text
from ..verdict_keys import VerdictScreen
from ..widgets.vim_keys import VimTable

if TYPE_CHECKING:
    from ..results_model import ResultsModel

#: What "expected value" means, in one line under the table that shows it.
EXPECTED_HINT = "expected value: what the model predicts here from the rest of the row"
#: The narrowest a note column is drawn in the table; with less room the notes go below it.
NOTE_WIDTH = 30


class RowDetailScreen(VerdictScreen):
    """One row; ``escape`` dismisses with the row shown last (``[`` ``]`` step through the table)."""

    SUB_TITLE = "Row details"
    BINDINGS = [
        Binding("escape", "back", "Back"),
        Binding("right_square_bracket,n", "step(1)", "Next row", key_display="]"),
        Binding("left_square_bracket,p", "step(-1)", "Previous row", key_display="["),
        Binding("H", "histogram", "Histogram"),
        Binding("right_curly_bracket", "step_unreviewed(1)", "Next unreviewed", key_display="}", show=False),
        Binding("left_curly_bracket", "step_unreviewed(-1)", "Previous unreviewed", key_display="{", show=False),
    ]

    def __init__(self, model: ResultsModel, row: int) -> None:
        super().__init__()
        self.model = model
        self.row = row

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(id="row-title")
        yield Static(id="suggestion")
        yield Label("Why this row is strange", classes="pane-title")
        yield VimTable(id="features", cursor_type="row", zebra_stripes=True)
        yield Static(id="notes", classes="hint")
        yield Static(Text(EXPECTED_HINT, style="dim"), id="expected-hint", classes="hint")
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
        # One measure ranks the columns, gives their share and is shown: how much of the row's
        # strangeness each accounts for (the core's "contribution").
        total = sum(float(f["contribution"]) for f in explained["anomalous_features"]) or 1.0
        flagged = bool(detection.flags[row])
        title = Text(f"row {row}", style="bold")
        if self.model.excel_rows is not None:
            title.append(f" · {self.model.file_row_label} {int(self.model.excel_rows[row])}")
        title.append(f" · score {score_text(detection.scores[row])} · threshold {score_text(detection.threshold)} · ")
        title.append("flagged as anomalous" if flagged else "not flagged", style="bold red" if flagged else "green")
        position = self.position
        if position is not None:
            title.append(f" · {position + 1:,} of {len(self.model.view):,} in the table", style="dim")
        status = self.model.status(row)
        if status:
            verdict = self.model.review.verdict(row)
            title.append(f" · {status}", style="bold cyan")
            if verdict is not None and verdict.note:
                title.append(f": {verdict.note}", style="cyan")
        self._explained = explained
        self.query_one("#row-title", Static).update(title)
        triage = self.model.triage
        suggestion = None if triage is None else triage.get(row)
        line = self.query_one("#suggestion", Static)
        line.display = suggestion is not None
        if suggestion is not None:
            own = self.model.review.state.verdicts.get(row) if self.model.review is not None else None
            line.update(suggestion_text(suggestion, accepted=None if own is None else own.verdict))

        features = self.query_one("#features", DataTable)
        labels = ["#", "column", "actual value", "expected value", "contribution", "share"]
        top_styles = palette_for(self.app).top
        ranks: dict[str, int] = {}
        model = self.model
        rows: list[list[Text]] = []
        for rank, item in enumerate(explained["anomalous_features"]):
            name = str(item["feature_name"])
            if rank < 3:
                ranks[name] = rank
            share = float(item["contribution"]) / total
            bar = "█" * int(round(share * 10))
            cells = [
                Text(str(rank + 1), style=top_styles[rank] if rank < 3 else ""),
                Text(name, style="bold"),
                Text(model.value_text(row, name, item["actual_value"])),
                Text(model.value_text(row, name, item["expected_value"], own=False)),
                Text(score_text(item["contribution"]), justify="right"),
                Text(f"{share:6.1%} ") + Text(bar, style="red"),
            ]
            rows.append(cells)
        # A note is the one long cell: it gets the room the others leave and wraps in it, or,
        # on a narrow screen, the notes are written out in full under the table.
        widths = [max([len(label), *(cells[i].cell_len for cells in rows)]) for i, label in enumerate(labels)]
        for label, width in zip(labels, widths, strict=True):
            features.add_column(Text(label), width=width)
        room = self.app.size.width - sum(w + 2 for w in widths) - 6
        noted = [(str(item["feature_name"]), str(item.get("note"))) for item in explained["anomalous_features"] if item.get("note")]
        in_table = bool(noted) and room >= NOTE_WIDTH
        if in_table:
            features.add_column(Text("note"), width=room)
            for cells, item in zip(rows, explained["anomalous_features"], strict=True):
                cells.append(Text(str(item.get("note") or ""), style="yellow"))
        for cells in rows:
            features.add_row(*cells, height=None if in_table else 1)
        notes_line = self.query_one("#notes", Static)
        notes_line.display = bool(noted) and not in_table
        if notes_line.display:
            text = Text()
            for i, (name, note) in enumerate(noted):
                text.append("\n" if i else "")
                text.append(f"{name}: ", style="bold")
                text.append(note, style="yellow")
            notes_line.update(text)
        full = self.query_one("#full-row", DataTable)
        full.add_column(Text("column"))
        full.add_column(Text("value"))
        for name in explained["raw_data"]:
            rank = ranks.get(str(name))
            style = top_styles[rank] if rank is not None else ""
            value = explained["raw_data"][name]
            full.add_row(Text(str(name), style=style), Text(model.value_text(row, str(name), value)))
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
        self._show(int(view[target]))

    def action_step_unreviewed(self, by: int) -> None:
        target = self.model.next_unreviewed(self.row, by)
        if target is None:
            self.notify(f"No unreviewed row {'after' if by > 0 else 'before'} this one in the table.", severity="warning")
            return
        self._show(target)

    def _show(self, row: int) -> None:
        self.row = row
        for table in self.query(DataTable):
            table.clear(columns=True)
        self._fill()

    # -- the verdict keys (see ..verdict_keys): this row, the highlighted column ---------------

    @property
    def verdict_model(self) -> ResultsModel:
        return self.model

    def verdict_row(self) -> int | None:
        return self.row

    def verdict_column(self) -> str | None:
        return self._highlighted_column()

    def verdict_changed(self, what: str, row: int) -> None:
        self._show(self.row)

    # -- the column histogram -------------------------------------------------------------

    def _highlighted_column(self) -> str | None:
        """The column highlighted in the focused table (the features table when neither is)."""
        table = self.focused if isinstance(self.focused, DataTable) else self.query_one("#features", DataTable)
        if not table.row_count:
            return None
        return str(table.get_row_at(table.cursor_row)[1 if table.id == "features" else 0])

    def action_histogram(self) -> None:
        name = self._highlighted_column()
        if name is None:
            return
        key = next((c.key for c in self.model.columns if c.data_index is not None and self.model.names[c.data_index] == name), None)
        if key is None:
            self.notify(f"No column named {name} in the table.", severity="warning", markup=False)
            return
        expected = next(
            (f["expected_value"] for f in self._explained["anomalous_features"] if str(f["feature_name"]) == name), None
        )
        self.post_message(OpenHistogram(self.model, self.row, key, expected))

