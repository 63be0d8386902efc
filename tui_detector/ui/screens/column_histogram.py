"""One column's distribution over the sheet (``H``), with the focused row's actual value and the
model's expected value marked: the picture to look at before believing "expected 30"."""

from __future__ import annotations

from typing import Any

from rich.cells import cell_len, set_cell_size
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Footer, Header, Static

from ..distribution import Distribution
from ..results_model import format_value

#: Eighths of a cell, for bars drawn left to right.
EIGHTHS = " ▏▎▍▌▋▊▉█"
#: How each mark reads beside its bar, and its style (the words carry it without colour).
MARK_STYLES = {"actual": "bold red", "expected": "bold cyan", "threshold": "bold yellow"}


def bar_text(count: int, top: int, width: int) -> str:
    """A bar ``count / top`` of ``width`` cells, in eighths; a count above zero shows at least one."""
    if top <= 0 or width <= 0:
        return ""
    eighths = round(count / top * width * 8)
    if count and not eighths:
        eighths = 1
    full, part = divmod(eighths, 8)
    return "█" * full + (EIGHTHS[part] if part else "")


class DistributionBars(Widget):
    """The bars, one line each: range or value, count, bar, and what is marked there."""

    DEFAULT_CSS = """
    DistributionBars { height: auto; width: 1fr; }
    """

    def __init__(self, distribution: Distribution, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.distribution = distribution

    def get_content_height(self, container: Any, viewport: Any, width: int) -> int:
        return max(1, len(self.distribution.bars))

    def render(self) -> Text:
        bars = self.distribution.bars
        text = Text(no_wrap=True, overflow="crop")
        if not bars:
            text.append("No values to count: every cell of this column is empty.", style="dim")
            return text
        width = max(30, self.size.width)
        label_width = min(max(cell_len(b.label) for b in bars), max(10, width // 3))
        top = max(b.count for b in bars)
        count_width = len(f"{top:,}")
        mark_width = max((cell_len(self._marks(b.marks)) for b in bars), default=0)
        room = max(4, width - label_width - count_width - mark_width - 5)
        for i, bar in enumerate(bars):
            label = bar.label
            if cell_len(label) > label_width:
                label = set_cell_size(label, label_width - 1) + "…"
            style = MARK_STYLES.get(bar.marks[0], "") if bar.marks else ""
            text.append(set_cell_size(label, label_width) + " ", style="bold" if bar.marks else "")
            text.append(f"{bar.count:>{count_width},} ", style="dim" if not bar.count else "")
            drawn = bar_text(bar.count, top, room)
            text.append(drawn, style=style or "blue")
            if bar.marks:  # right after its bar, so the eye goes from the mark to the bar
                text.append(" " + self._marks(bar.marks), style=style)
            if i < len(bars) - 1:
                text.append("\n")
        return text

    @staticmethod
    def _marks(marks: list[str]) -> str:
        return ("◀ " + " & ".join(marks)) if marks else ""


class ColumnHistogramScreen(Screen[None]):
    """The distribution of one column; ``escape`` (or ``H`` again) goes back."""

    SUB_TITLE = "Column histogram"
    DEFAULT_CSS = """
    ColumnHistogramScreen #histogram-title { padding: 0 1 1 1; }
    ColumnHistogramScreen #histogram-body { padding: 0 1; }
    ColumnHistogramScreen #histogram-note { padding-top: 1; }
    """
    BINDINGS = [
        Binding("escape", "close", "Back"),
        Binding("H", "close", "Back", show=False),
    ]

    def __init__(self, distribution: Distribution, *, row: int | None = None, values: dict[str, Any] | None = None, note: str = "") -> None:
        super().__init__()
        self.distribution = distribution
        self.row = row
        #: The marked values as the table shows them: {"actual": …, "expected": …}.
        self.values = values or {}
        self.note = note

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(self._title(), id="histogram-title")
        with VerticalScroll(id="histogram-body"):
            yield DistributionBars(self.distribution, id="histogram-bars")
            yield Static(self._footnote(), id="histogram-note")
        yield Footer()

    def _title(self) -> Text:
        d = self.distribution
        title = Text(d.column, style="bold")
        what = {
            "numbers": "in equal bins",
            "numbers, long tail": "in bins that grow ×2–×2.5 (a long tail)",
            "dates": "in equal spans of time",
            "values": "its most frequent values",
        }[d.kind]
        title.append(f" · all {d.rows:,} rows of the sheet, {what}")
        if d.missing:
            title.append(f" · {d.missing:,} empty")
        for mark, value in self.values.items():
            if value is None:
                continue
            title.append("\n")
            title.append(f"◀ {mark}", style=MARK_STYLES.get(mark, "bold"))
            shown = format_value(value) if not isinstance(value, str) else value
            label = {
                "actual": f" value of row {self.row}" if self.row is not None else " value",
                "expected": " value (the model's guess from the row's other columns)",
            }.get(mark, "")
            title.append(f"{label}: ")
            title.append(shown or '""', style="bold")
        return title

    def _footnote(self) -> Text:
        lines = [line for line in (self.distribution.note, self.distribution.standing, self.note) if line]
        return Text("\n".join(lines), style="dim")

    def action_close(self) -> None:
        self.app.pop_screen()


def column_histogram(model: Any, row: int | None, key: str, *, expected: Any = None) -> ColumnHistogramScreen | str:
    """The histogram screen of column ``key`` (a table column key) with ``row`` marked, or why
    there is none (in words). ``expected``: the model's expected value when the caller has the
    row's explanation already; otherwise it is asked of the detector for this one row."""
    from ..distribution import column_distribution  # noqa: PLC0415 - pandas: loaded by now

    column = model.column(key)
    if key == "score":
        scores = model.run.detection.scores
        actual = None if row is None else float(scores[row])
        threshold = float(model.run.detection.threshold)
        distribution = column_distribution("score", scores, actual=actual, marks={"threshold": threshold})
        return ColumnHistogramScreen(distribution, row=row, values={"actual": actual, "threshold": threshold})
    if column.data_index is None:
        return f"No histogram for the {column.label} column: move to a column of the sheet (or the score)."
    cells = model.values[column.data_index]
    actual = None if row is None else cells[row]
    note = ""
    if expected is None and row is not None:
        expected, note = expected_value(model, row, model.names[column.data_index])
    distribution = column_distribution(column.label, cells, actual=actual, expected=expected)
    # Named as the table shows them: the sheet's digits, one date format.
    name = model.names[column.data_index]
    shown = {
        "actual": None if row is None else model.value_text(row, name),
        "expected": None if expected is None or row is None else model.value_text(row, name, expected, own=False),
    }
    return ColumnHistogramScreen(distribution, row=row, values=shown, note=note)


def expected_value(model: Any, row: int, name: str) -> tuple[Any, str]:
    """What the model expected in column ``name`` of ``row``, or ``None`` and why not."""
    if name not in model.top.feature_names:
        return None, f"The model does not use {name}: it has no expected value for it."
    explained = model.top.explain_all_columns(row)
    for item in explained["anomalous_features"]:
        if str(item["feature_name"]) == name:
            return item["expected_value"], ""
    return None, f"{name} is not among the reasons this row is strange: it holds about what the model expected."
