"""A virtual table: draws only the rows on screen, so a million rows cost what forty do.

Textual's ``DataTable`` builds every row up front (4.7 s for 50k rows). This widget keeps no
rows at all: it asks :class:`~tui_detector.ui.results_model.ResultsModel` for the cells of the
lines it paints (the Line API of :class:`~textual.scroll_view.ScrollView`). Every cell is
drawn as a plain :class:`~rich.segment.Segment`, so text from a file is never read as markup.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from .palette import Palette, palette_for

if TYPE_CHECKING:
    from tui_detector.ui.results_model import Column, ResultsModel

#: Columns that stay put when the table scrolls sideways (row, sheet row, score).
FIXED_KEYS = ("row", "sheet_row", "score")
#: Drawn between the columns that stay put and those that scroll, so that a column scrolled
#: half out of view never reads as if it continued the score (``4.183urrency``).
SEPARATOR = " │"


def fit(text: str, width: int, right: bool = False) -> str:
    """``text`` cut or padded to exactly ``width`` cells (an ellipsis marks a cut)."""
    if cell_len(text) > width:
        return set_cell_size(text, max(width - 1, 0)) + "…" if width else ""
    pad = " " * (width - cell_len(text))
    return pad + text if right else text + pad


class ScoreTable(ScrollView, can_focus=True):
    """The results table. ``s`` or a header click sorts; ``enter`` opens the row."""

    # The cursor and the highlights come from :mod:`.palette` (shared with the legend and Row
    # details, and fixed pairs of colours so that no theme makes them unreadable).
    COMPONENT_CLASSES = {"score-table--header", "score-table--header-sorted"}

    DEFAULT_CSS = """
    ScoreTable { background: $surface; color: $foreground; }
    ScoreTable > .score-table--header { background: $panel; text-style: bold; }
    ScoreTable > .score-table--header-sorted { background: $panel; color: $accent; text-style: bold underline; }
    """

    BINDINGS = [
        # The arrows and their vim-style twins (the keys VisiData and less users reach for).
        Binding("up,k", "cursor(-1, 0)", "Up", show=False),
        Binding("down,j", "cursor(1, 0)", "Down", show=False),
        Binding("left,h", "cursor(0, -1)", "Left", show=False),
        Binding("right,l", "cursor(0, 1)", "Right", show=False),
        Binding("pageup,ctrl+b", "page(-1)", "Page up", show=False),
        Binding("pagedown,ctrl+f", "page(1)", "Page down", show=False),
        Binding("ctrl+u", "half_page(-1)", "Half a page up", show=False),
        Binding("ctrl+d", "half_page(1)", "Half a page down", show=False),
        Binding("home,g", "jump(0)", "First row", show=False),
        Binding("end,G", "jump(-1)", "Last row", show=False),
        Binding("s", "sort_column", "Sort"),
        Binding("enter", "choose", "Open row"),
        Binding("y", "copy_cell", "Copy cell", show=False),
        Binding("Y", "copy_row", "Copy row", show=False),
        # The Results screen's (ui/triage.py); bound here so that help lists it after sorting.
        Binding("t", "screen.triage", "Triage", show=False),
    ]

    cursor_row: reactive[int] = reactive(0, always_update=True, repaint=False)
    cursor_column: reactive[int] = reactive(0, repaint=False)

    @dataclass
    class RowChosen(Message):
        """The user opened a row (``row`` is its position in the table, from 0)."""

        row: int

    @dataclass
    class Sorted(Message):
        """The order changed (a header click or ``s``)."""

    @dataclass
    class CellFocused(Message):
        """The cursor moved; ``cut`` is the focused cell's whole text when the table cuts it."""

        cut: str | None

    def __init__(self, model: ResultsModel, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.model = model
        self._component_styles: dict[str, Style] = {}
        self._layout()

    # -- geometry ---------------------------------------------------------------------------

    def _layout(self, room: int | None = None) -> None:
        """Column positions; with ``room`` (the width on screen), spare width goes to the
        columns whose cells are cut, the most cut last, none beyond what its cells need."""
        columns = self.model.columns
        self.fixed = [c for c in columns if c.key in FIXED_KEYS]
        self.scrolled = [c for c in columns if c.key not in FIXED_KEYS]
        self.fixed_width = sum(c.width + 1 for c in self.fixed) + len(SEPARATOR)
        for column in self.scrolled:
            column.width = column.base_width
        spare = (room or 0) - self.fixed_width - sum(c.width + 1 for c in self.scrolled)
        cut = sorted((c for c in self.scrolled if c.natural > c.width), key=lambda c: c.natural - c.width)
        for i, column in enumerate(cut):
            if spare <= 0:
                break
            grow = min(column.natural - column.width, spare // (len(cut) - i))
            column.width += grow
            spare -= grow
        self.offsets: list[int] = []
        x = 0
        for column in self.scrolled:
            self.offsets.append(x)
            x += column.width + 1
        self.scrolled_width = x
        self.virtual_size = Size(self.fixed_width + self.scrolled_width, len(self.model.view) + 1)

    def columns_changed(self) -> None:
        """The model added or removed a column: lay out again, the cursor on the same column."""
        focused = self.all_columns[self.cursor_column].key if self.all_columns else None
        self._layout(self.scrollable_content_region.width)
        keys = [c.key for c in self.all_columns]
        if focused in keys:
            self.cursor_column = keys.index(focused)
        self.refresh()

    def on_resize(self, event: events.Resize) -> None:
        self._layout(self.scrollable_content_region.width)
        self.refresh()

    @property
    def all_columns(self) -> list[Column]:
        return [*self.fixed, *self.scrolled]

    @property
    def page_rows(self) -> int:
        return max(1, self.scrollable_content_region.height - 1)

    def reload(self, keep_row: int | None = None) -> None:
        """The model's view changed: resize, keep the cursor on ``keep_row`` if still shown."""
        self.virtual_size = Size(self.fixed_width + self.scrolled_width, len(self.model.view) + 1)
        target = 0
        if keep_row is not None and len(self.model.view):
            hits = (self.model.view == keep_row).nonzero()[0]
            target = int(hits[0]) if hits.size else min(self.cursor_row, len(self.model.view) - 1)
        self.cursor_row = target
        self.refresh()

    @property
    def current_row(self) -> int | None:
        """The data row under the cursor (its index in the table), or ``None`` when empty."""
        view = self.model.view
        return int(view[self.cursor_row]) if 0 <= self.cursor_row < len(view) else None

    @property
    def current_column(self) -> Column:
        return self.all_columns[self.cursor_column]

    # -- cursor -----------------------------------------------------------------------------

    def validate_cursor_row(self, value: int) -> int:
        return max(0, min(value, len(self.model.view) - 1))

    def validate_cursor_column(self, value: int) -> int:
        return max(0, min(value, len(self.all_columns) - 1))

    def focused_cut_text(self) -> str | None:
        """``column: whole text`` of the focused cell when it is drawn cut, else ``None``."""
        row = self.current_row
        if row is None:
            return None
        column = self.current_column
        text = self.model.cell(row, column)
        if cell_len(text) <= column.width:
            return None
        return f"{column.label}: {text}"

    def _cell_focused(self) -> None:
        if self.is_mounted:
            self.post_message(self.CellFocused(self.focused_cut_text()))

    def watch_cursor_row(self, old: int, new: int) -> None:
        self._cell_focused()
        top = int(self.scroll_y)
        if new < top:
            self.scroll_to(y=new, animate=False, immediate=True)
        elif new > top + self.page_rows - 1:
            self.scroll_to(y=new - self.page_rows + 1, animate=False, immediate=True)
        self.refresh()

    def watch_cursor_column(self, old: int, new: int) -> None:
        self._cell_focused()
        index = new - len(self.fixed)
        if index >= 0:
            left = self.offsets[index]
            right = left + self.scrolled[index].width + 1
            view_width = max(1, self.scrollable_content_region.width - self.fixed_width)
            if left < self.scroll_x:
                self.scroll_to(x=left, animate=False, immediate=True)
            elif right > self.scroll_x + view_width:
                self.scroll_to(x=right - view_width, animate=False, immediate=True)
        self.refresh()

    def action_cursor(self, rows: int, columns: int) -> None:
        if rows:
            self.cursor_row += rows
        if columns:
            self.cursor_column += columns

    def action_page(self, direction: int) -> None:
        self.cursor_row += direction * self.page_rows

    def action_half_page(self, direction: int) -> None:
        self.cursor_row += direction * max(1, self.page_rows // 2)

    def action_jump(self, where: int) -> None:
        self.cursor_row = 0 if where == 0 else len(self.model.view) - 1

    def action_choose(self) -> None:
        row = self.current_row
        if row is not None:
            self.post_message(self.RowChosen(row))

    def action_sort_column(self) -> None:
        self.sort_by(self.current_column.key)

    def sort_by(self, key: str, descending: bool | None = None) -> None:
        refusal = self.model.sortable(key)
        if refusal:
            self.notify(refusal, severity="warning", markup=False)
            return
        self.model.sort(key, descending)
        # A new order is read from its top: "sorted by row (ascending)" shows row 0 first.
        self.reload()
        self.scroll_to(y=0, animate=False, immediate=True)
        self.post_message(self.Sorted())

    # -- copying (OSC 52, through Textual's clipboard support) -----------------------------

    def action_copy_cell(self) -> None:
        row = self.current_row
        if row is None:
            return
        column = self.current_column
        text = self.model.cell(row, column)
        self.app.copy_to_clipboard(text)
        shown = text if len(text) <= 40 else text[:39] + "…"
        self.notify(f"Copied {column.label} of row {row}: {shown}", markup=False)

    def action_copy_row(self) -> None:
        row = self.current_row
        if row is None:
            return
        cells = self.model.row_text(row)
        self.app.copy_to_clipboard("\t".join(cells))
        self.notify(f"Copied row {row}: {len(cells)} cells, tab-separated", markup=False)

    # -- mouse ------------------------------------------------------------------------------

    def column_at(self, x: int) -> int | None:
        """Index in :attr:`all_columns` of the column drawn at widget column ``x``."""
        edge = 0
        for i, column in enumerate(self.fixed):
            edge += column.width + 1
            if x < edge:
                return i
        if x < self.fixed_width:
            return None  # the separator
        x = x - self.fixed_width + int(self.scroll_x)
        for i, (left, column) in enumerate(zip(self.offsets, self.scrolled, strict=True)):
            if left <= x < left + column.width + 1:
                return len(self.fixed) + i
        return None

    def on_click(self, event: events.Click) -> None:
        index = self.column_at(event.x)
        if event.y == 0:
            if index is not None:
                self.cursor_column = index
                self.sort_by(self.all_columns[index].key)
            return
        self.cursor_row = int(self.scroll_y) + event.y - 1
        if index is not None:
            self.cursor_column = index
        if event.chain == 2:
            self.action_choose()

    # -- drawing ----------------------------------------------------------------------------

    def notify_style_update(self) -> None:
        self._component_styles.clear()
        super().notify_style_update()

    @property
    def palette(self) -> Palette:
        """The cursor and highlight styles (attributes only under ``NO_COLOR``)."""
        return palette_for(self.app)

    def _style(self, name: str) -> Style:
        style = self._component_styles.get(name)
        if style is None:
            style = self._component_styles[name] = self.get_component_rich_style(f"score-table--{name}", partial=True)
        return style

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        base = self.rich_style
        if y == 0:
            return self._header(width, base)
        index = int(self.scroll_y) + y - 1
        view = self.model.view
        if index >= len(view):
            return Strip.blank(width, base)
        row = int(view[index])
        # The rows on screen are explained in one call, not one call per line drawn.
        top = int(self.scroll_y)
        self.model.prefetch(view[top : top + self.size.height])
        on_cursor = index == self.cursor_row and self.has_focus
        palette = self.palette
        row_style = base + palette.cursor_row if index == self.cursor_row else base
        flagged = bool(self.model.flags[row])
        highlights = self.model.highlights(row)

        def cell(column: Column, position: int) -> Segment:
            text = fit(self.model.cell(row, column), column.width, right=column.numeric)
            style = row_style
            if column.key == "score" and flagged:
                style = (base + palette.flagged + palette.cursor_row) if index == self.cursor_row else base + palette.flagged
            rank = highlights.get(column.data_index) if column.data_index is not None else None
            if rank is not None and rank < 3:
                style = style + palette.top[rank]
            if on_cursor and position == self.cursor_column:
                style = style + palette.cursor_cell
            return Segment(" " + text, style)

        fixed = [cell(c, i) for i, c in enumerate(self.fixed)]
        fixed.append(Segment(SEPARATOR, row_style + palette.separator))
        scrolled = [cell(c, len(self.fixed) + i) for i, c in enumerate(self.scrolled)]
        return self._join(fixed, scrolled, width, row_style)

    def _header(self, width: int, base: Style) -> Strip:
        header = base + self._style("header")
        sorted_style = base + self._style("header-sorted")

        def label(column: Column) -> Segment:
            text = column.label
            style = header
            if column.key == self.model.sort_key:
                text = ("▼ " if self.model.descending else "▲ ") + text
                style = sorted_style
            return Segment(" " + fit(text, column.width, right=column.numeric), style)

        fixed = [label(c) for c in self.fixed]
        fixed.append(Segment(SEPARATOR, header + self.palette.separator))
        scrolled = [label(c) for c in self.scrolled]
        return self._join(fixed, scrolled, width, header)

    def _join(self, fixed: list[Segment], scrolled: list[Segment], width: int, fill: Style) -> Strip:
        left = Strip(fixed, self.fixed_width)
        room = max(0, width - self.fixed_width)
        x = int(self.scroll_x)
        right = Strip(scrolled, self.scrolled_width).crop(x, x + room)
        if x > 0 and room > 0:
            # Scrolled into the middle of a column: its first visible cell gives way to a gap.
            right = Strip.join([Strip([Segment(" ", fill)], 1), right.crop(1, room)])
        strip = Strip.join([left, right])
        return strip.extend_cell_length(width, fill).crop(0, width)
