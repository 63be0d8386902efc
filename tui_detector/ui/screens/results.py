"""Results: the summary, a score histogram with the cut, and the sortable table of rows."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.widgets import Header, Input, Static

from tui_detector import core

from ..journey import OpenHistogram, OpenRow, ScoreAnother
from ..results_model import ResultsModel
from ..review import ReviewBook
from ..triage import TriageResults
from ..text import trained_on_text
from ..values import score_text
from ..verdict_keys import VerdictScreen
from ..widgets.histogram import ScoreHistogram
from ..widgets.key_footer import KeyFooter
from ..widgets.palette import palette_for
from ..widgets.score_table import ScoreTable
from .dialogs import ConfirmScreen
from .export import ExportRequest, ExportScreen

if TYPE_CHECKING:
    from tui_detector.core import DetectionRun

#: ``+``/``-`` move the threshold percentile by this much, within these bounds.
STEP = 0.5
LOWEST, HIGHEST = 50.0, 99.9
#: The keys the footer keeps on a narrow terminal, most needed first ("?" lists the rest).
MAIN_KEYS = ("export", "quit", "score_another", "choose", "sort_column", "search", "toggle_rows", "threshold(1)")


class ResultsScreen(TriageResults, VerdictScreen):
    SUB_TITLE = "Results"
    BINDINGS = [
        Binding("a", "toggle_rows", "All/anomalies"),
        Binding("slash", "search", "Search", key_display="/"),
        Binding("f,vertical_line", "filter", "Filter", key_display="f"),
        Binding("H", "histogram", "Histogram", show=False),
        # One footer entry for both directions: the footer's room is short at 80 columns.
        Binding("plus,equals_sign", "threshold(1)", "Threshold", key_display="+/-"),
        Binding("minus", "threshold(-1)", "Threshold -", key_display="-", show=False),
        Binding("e", "export", "Export"),
        Binding("n", "score_another", "Another file"),
        Binding("v", "toggle_reviewed", "Reviewed", show=False),
        Binding("escape", "back", "Back"),
        Binding("q", "quit", "Quit"),
    ]

    @dataclass
    class Searched(Message):
        query: str
        mask: np.ndarray

    @dataclass
    class Filtered(Message):
        row_filter: Any
        mask: np.ndarray

    @dataclass
    class Exported(Message):
        paths: list[Path]
        error: str | None = None

    def __init__(self, run: DetectionRun, *, workdir: Path | None = None) -> None:
        super().__init__()
        self.run = run
        self.model = ResultsModel(run)
        #: Where exports and the file picker for another file start.
        self.workdir = (workdir or Path.cwd()).resolve()
        #: The focused cell's whole text when the table draws it cut.
        self._cut_cell: str | None = None
        #: The threshold the results opened with: quitting after moving it asks first.
        self._percentile_at_start = run.threshold_percentile

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(self._summary(), id="summary")
        yield ScoreHistogram(self.run.detection.scores, self.run.detection.threshold, id="histogram")
        yield ScoreTable(self.model, id="table")
        yield Input(placeholder="search every cell (enter: find, escape: clear)", id="search")
        yield Input(placeholder="filter: currency = CHF and amount > 1000 (enter: apply, empty: clear, escape: cancel)", id="filter")
        yield Static(self._status(), id="table-status")
        yield KeyFooter(*MAIN_KEYS)

    def on_mount(self) -> None:
        self.query_one("#search", Input).display = False
        self.query_one("#filter", Input).display = False
        self.query_one(ScoreTable).focus()
        # After the first paint: the worker fingerprints every row and records the run, which
        # holds the interpreter lock long enough on a full-size sheet (about 1.6 s for a
        # million rows) to keep the table off the screen for a second. The verdict keys say
        # "still being read" until it is open, and its re-ranking redraws the table.
        self.call_after_refresh(self.open_review)

    def on_screen_resume(self) -> None:
        # Back from Row details, where verdicts may have been set: the view follows them.
        if self.model.review is not None:
            if self.model.update_status_column():
                self.table.columns_changed()
            self.model.rebuild()
            self.table.reload(keep_row=self.table.current_row)
            self._refresh_text()

    @property
    def table(self) -> ScoreTable:
        return self.query_one(ScoreTable)

    # -- text -------------------------------------------------------------------------------

    def _summary(self) -> Text:
        run = self.run
        report = run.loaded.report
        rows = len(run.detection.scores)
        count = self.model.anomaly_count
        text = Text(run.path.name, style="bold")
        if report.sheet:
            text.append(" · sheet ")
            text.append(report.sheet, style="bold")
        text.append(f" · {rows:,} rows · ")
        text.append(f"{count:,} anomalies ({count / max(rows, 1):.1%})", style="bold red")
        text.append(f" · threshold {score_text(run.detection.threshold)} at p{run.threshold_percentile:g}")
        text.append(f" · model {run.detector.model_kind_}")
        if run.baseline:
            text.append(" · scored with the model of ")
            text.append(trained_on_text(run.trained_on), style="bold")
            if run.drift:
                text.append(f" · {run.drift['verdict']}", style="yellow")
        else:
            text.append(" · from the cache" if run.from_cache else " · trained now", style="green" if run.from_cache else "")
        if run.totals:
            text.append(f" · {len(run.totals)} totals row{'s' if len(run.totals) != 1 else ''} left out")
        small = core.small_table_warning(rows)
        if small:
            text.append(f" · {small}", style="bold yellow")
        book = self.model.review
        if book is not None:
            counts = {k: v for k, v in book.counts().items() if v}
            if counts:
                text.append(" · reviewed: " + ", ".join(f"{v:,} {k}" for k, v in counts.items()), style="cyan")
            if book.marks:
                recurring = sum(1 for m in book.marks.values() if m == "recurring")
                text.append(f" · {len(book.marks) - recurring:,} new, {recurring:,} flagged last run too")
        return text

    def _status(self) -> Text:
        model = self.model
        text = Text()
        text.append("all rows" if model.all_rows else "anomalies only", style="bold")
        shown = len(model.view)
        text.append(f" · {shown:,} {'row' if shown == 1 else 'rows'} shown")
        if model.hide_reviewed:
            text.append(" · unreviewed only (v shows reviewed rows)")
        if model.row_filter is not None:
            text.append(" · filter: ")
            text.append(model.row_filter.text, style="bold")
            text.append(f" ({model.filter_matches:,} of {model.rows:,} rows match)")
        if model.sort_key is not None:
            label = model.column(model.sort_key).label
            text.append(" · sorted by ")
            text.append(label)
            text.append(" (descending)" if model.descending else " (ascending)")
        else:
            text.append(" · highest score first")
        if model.query:
            text.append(" · search: ")
            text.append(model.query, style="bold")
        text.append_text(self.triage_status())
        if self._cut_cell:
            text.append(" · ")
            text.append(self._cut_cell, style="bold")
            return text
        text.append("  —  top features: ", style="dim")
        text.append_text(palette_for(self.app).legend())
        return text

    def _refresh_text(self) -> None:
        self.query_one("#summary", Static).update(self._summary())
        self.query_one("#table-status", Static).update(self._status())

    # -- table events -----------------------------------------------------------------------

    @on(ScoreTable.Sorted)
    def _sorted(self) -> None:
        self._refresh_text()

    @on(ScoreTable.CellFocused)
    def _cell_focused(self, event: ScoreTable.CellFocused) -> None:
        # A cell cut to fit its column is shown whole on the status line.
        if event.cut != self._cut_cell:
            self._cut_cell = event.cut
            self.query_one("#table-status", Static).update(self._status())

    def show_row(self, row: int) -> None:
        """Put the table's cursor on data row ``row`` (when the view shows it)."""
        self.table.reload(keep_row=row)

    @on(ScoreTable.RowChosen)
    def _chosen(self, event: ScoreTable.RowChosen) -> None:
        self.post_message(OpenRow(self.model, event.row))

    # -- actions ----------------------------------------------------------------------------

    def action_toggle_rows(self) -> None:
        keep = self.table.current_row
        self.model.set_all_rows(not self.model.all_rows)
        self.table.reload(keep_row=keep)
        self._refresh_text()

    def action_threshold(self, direction: int) -> None:
        current = self.run.threshold_percentile
        target = min(HIGHEST, max(LOWEST, round((current + direction * STEP) / STEP) * STEP))
        if direction > 0 and current >= HIGHEST or direction < 0 and current <= LOWEST:
            self.notify(f"The threshold percentile stays between {LOWEST:g} and {HIGHEST:g}.", severity="warning")
            return
        if target == current:
            target = HIGHEST if direction > 0 else LOWEST
        keep = self.table.current_row
        self.run.rethreshold(target)
        if not self.model.all_rows:  # all rows: the same rows in the same order, recoloured
            self.model.rebuild()
        self.table.reload(keep_row=keep)
        self.query_one(ScoreHistogram).set_threshold(self.run.detection.threshold)
        self._refresh_text()

    def action_search(self) -> None:
        search = self.query_one("#search", Input)
        search.display = True
        search.value = self.model.query
        search.focus()

    @on(Input.Submitted, "#search")
    def _search_submitted(self, event: Input.Submitted) -> None:
        query = event.value.strip()
        event.input.display = False
        self.table.focus()
        if not query:
            self._clear_search()
            return
        self.query_one("#table-status", Static).update(Text("searching …"))
        self.search(query)

    @work(thread=True, exclusive=True, exit_on_error=False, group="search")
    def search(self, query: str) -> None:
        self.post_message(self.Searched(query, self.model.search_mask(query)))

    @on(Searched)
    def _searched(self, message: Searched) -> None:
        self.model.set_query(message.query, message.mask)
        self.table.reload()
        self._refresh_text()
        if not len(self.model.view):
            self.notify("No row matches.", severity="warning")

    def _clear_search(self) -> None:
        if self.model.query:
            self.model.set_query("", None)
            self.table.reload(keep_row=self.table.current_row)
            self._refresh_text()

    def action_back(self) -> None:
        search = self.query_one("#search", Input)
        if search.display:
            search.display = False
            self._clear_search()
            self.table.focus()
            return
        typed = self.query_one("#filter", Input)
        if typed.display:  # escape while typing a filter: cancel the typing, keep the filter
            typed.display = False
            self.table.focus()
            return
        if self.model.query:
            self._clear_search()
            return
        if self.model.row_filter is not None:
            self._clear_filter()
            return
        self.app.pop_screen()

    # -- the column filter ------------------------------------------------------------------

    def action_filter(self) -> None:
        typed = self.query_one("#filter", Input)
        typed.display = True
        typed.value = "" if self.model.row_filter is None else self.model.row_filter.text
        typed.focus()

    @on(Input.Submitted, "#filter")
    def _filter_submitted(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        if not text:
            event.input.display = False
            self.table.focus()
            self._clear_filter()
            return
        try:
            row_filter = self.model.parse_filter(text)
        except core.FilterError as exc:
            # The input stays open with the text, so that the mistake can be fixed in place.
            self.notify(f"Filter not applied: {exc}", severity="error", markup=False, timeout=8)
            return
        event.input.display = False
        self.table.focus()
        self.query_one("#table-status", Static).update(Text("filtering …"))
        self.apply_filter(row_filter)

    @work(thread=True, exclusive=True, exit_on_error=False, group="filter")
    def apply_filter(self, row_filter: Any) -> None:
        try:
            mask = self.model.filter_mask(row_filter)
        except core.FilterError as exc:
            self.app.call_from_thread(self._filter_failed, row_filter.text, str(exc))
            return
        self.post_message(self.Filtered(row_filter, mask))

    def _filter_failed(self, text: str, message: str) -> None:
        self.notify(f"Filter not applied: {message}", severity="error", markup=False, timeout=8)
        self._refresh_text()
        self.action_filter()
        self.query_one("#filter", Input).value = text  # back to the text, to be fixed in place

    @on(Filtered)
    def _filtered(self, message: Filtered) -> None:
        self.model.set_filter(message.row_filter, message.mask)
        self.table.reload()
        self._refresh_text()
        if not len(self.model.view):
            hint = " (showing anomalies only: a shows all rows)" if not self.model.all_rows else ""
            self.notify(f"No row matches the filter{hint}.", severity="warning")

    def _clear_filter(self) -> None:
        if self.model.row_filter is not None:
            self.model.set_filter(None, None)
            self.table.reload(keep_row=self.table.current_row)
            self._refresh_text()
            self.notify("Filter cleared.")

    # -- the column histogram -------------------------------------------------------------

    def action_histogram(self) -> None:
        self.post_message(OpenHistogram(self.model, self.table.current_row, self.table.current_column.key))

    # -- another file, this model ----------------------------------------------------------

    async def action_quit(self) -> None:
        """Quit; after the threshold moved, only once the user has heard the change is lost."""
        moved_from = self._percentile_at_start
        now = self.run.threshold_percentile
        if now == moved_from:
            await self.app.action_quit()
            return

        async def answered(quit_: bool | None) -> None:
            if quit_:
                await self.app.action_quit()

        question = (
            f"The threshold moved from p{moved_from:g} to p{now:g}; quitting forgets that "
            "(e exports the results as they are now). Quit anyway?"
        )
        self.app.push_screen(ConfirmScreen(question, yes="Quit", no="Stay"), answered)

    def action_score_another(self) -> None:
        self.post_message(ScoreAnother(self.run))

    # -- verdicts ---------------------------------------------------------------------------

    @work(thread=True, exclusive=True, exit_on_error=False, group="review")
    def open_review(self) -> None:
        """Read the store's verdicts for these rows, re-rank, then record the run (a worker:
        the rows are fingerprinted and the run is explained for the record)."""
        try:
            book = ReviewBook.open(self.run)
            scores = book.session.ranked_scores()
        except Exception as exc:  # noqa: BLE001 - the results stand without verdicts; say why
            self.app.call_from_thread(
                self.notify, f"The verdicts could not be read ({type(exc).__name__}: {exc}).", severity="error", markup=False
            )
            return
        self.app.call_from_thread(self._review_opened, book, scores)
        book.record(self.run)
        self.app.call_from_thread(self._review_recorded, book)

    def _review_opened(self, book: ReviewBook, scores: np.ndarray) -> None:
        self.model.review = book
        self._take_scores(scores)
        if book.has_verdicts:
            self.model.hide_reviewed = True
        if self.model.update_status_column():
            self.table.columns_changed()
        self.model.rebuild()
        self.table.reload(keep_row=self.table.current_row)
        self._refresh_text()
        for note in book.session.notes:
            self.notify(note, severity="warning", markup=False, timeout=10)

    def _review_recorded(self, book: ReviewBook) -> None:
        if book.problem is not None:
            self.notify(
                f"The review store cannot be used ({book.problem}): verdicts are not kept and this run is not recorded; "
                "the results are unaffected.",
                severity="warning", markup=False, timeout=10,
            )
        if self.model.update_status_column():
            self.table.columns_changed()
        self.table.refresh()
        self._refresh_text()

    def _take_scores(self, scores: np.ndarray) -> None:
        detection = self.run.detection
        if not np.array_equal(detection.scores, scores):
            self.run.detection = dataclasses.replace(detection, scores=scores)

    # The verdict keys (see ..verdict_keys) act on the row and column under the cursor.

    @property
    def verdict_model(self) -> ResultsModel:
        return self.model

    def verdict_row(self) -> int | None:
        return self.table.current_row

    def verdict_column(self) -> str | None:
        column = self.table.current_column
        return None if column.data_index is None else self.model.names[column.data_index]

    def verdict_changed(self, what: str, row: int) -> None:
        if self.model.update_status_column():
            self.table.columns_changed()
        self.table.reload(keep_row=row if row >= 0 else self.table.current_row)
        self._refresh_text()

    def action_toggle_reviewed(self) -> None:
        self.model.hide_reviewed = not self.model.hide_reviewed
        self.model.rebuild()
        self.table.reload(keep_row=self.table.current_row)
        self._refresh_text()

    # -- export -----------------------------------------------------------------------------

    def action_export(self) -> None:
        self.app.push_screen(ExportScreen(self.workdir, self.run), self._export_chosen)

    def _export_chosen(self, request: ExportRequest | None) -> None:
        if request is None:
            return
        existing = [p for p in request.targets if p.exists()]
        if not existing:
            self.export(request, overwrite=False)
            return
        names = ", ".join(str(p) for p in existing)

        def answered(replace: bool | None) -> None:
            if replace:
                self.export(request, overwrite=True)
            else:
                self.notify("Nothing written.")

        self.app.push_screen(ConfirmScreen(f"{names} already exists. Replace it?", yes="Replace", no="Keep"), answered)

    @work(thread=True, exclusive=True, exit_on_error=False, group="export")
    def export(self, request: ExportRequest, overwrite: bool) -> None:
        written: list[Path] = []
        try:
            anomalies = core.explained_anomalies(self.run)
            book = self.model.review
            # As detect writes it: each anomaly's review, dismissed and suppressed rows left out.
            listed = anomalies
            if book is not None:
                listed = book.session.annotate(anomalies)
                book.session.mark_recurring(listed)
            document = core.build_export(self.run, all_rows=request.all_rows, anomalies=listed)
            if book is not None:
                document["review"] = book.session.summary()
            if self.model.triage is not None:  # the model's suggestions, as detect --triage writes them
                document["triage"] = self.model.triage.annotate(listed)
            written.append(core.write_export(document, request.json_path, overwrite=overwrite))
            if request.scored_copy is not None:
                written.append(core.write_scored_copy(self.run, anomalies, request.scored_copy, overwrite=overwrite))
        except core.OutputExistsError as exc:
            self.post_message(self.Exported(written, f"{exc}; nothing replaced"))
            return
        except (OSError, ValueError) as exc:
            reason = getattr(exc, "strerror", None) or str(exc)
            self.post_message(self.Exported(written, f"cannot write: {reason}"))
            return
        self.post_message(self.Exported(written))

    @on(Exported)
    def _exported(self, message: Exported) -> None:
        if message.error:
            self.notify(message.error, severity="error", markup=False, timeout=8)
            return
        names = ", ".join(str(p) for p in message.paths)
        self.notify(f"Wrote {names}", markup=False, timeout=6)
