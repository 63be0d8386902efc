"""Vim-style movement beside the arrows, for every table and list the user walks.

``j k h l`` move, ``g``/``G`` go to the first/last line, ``ctrl+f``/``ctrl+b`` a page,
``ctrl+d``/``ctrl+u`` half a page. The results table (:mod:`.score_table`) binds the same keys
on its own cursor; these are the bindings for Textual's DataTable, OptionList and Tree.
"""

from __future__ import annotations

from textual.binding import Binding
from textual.widgets import DataTable, OptionList, Tree


class VimTable(DataTable):  # type: ignore[type-arg] - rows of any renderable
    """A DataTable walked with vim-style keys too."""

    BINDINGS = [
        Binding("j", "cursor_down", "Down", show=False),
        Binding("k", "cursor_up", "Up", show=False),
        Binding("h", "cursor_left", "Left", show=False),
        Binding("l", "cursor_right", "Right", show=False),
        Binding("g", "scroll_top", "First line", show=False),
        Binding("G", "scroll_bottom", "Last line", show=False),
        Binding("ctrl+f", "page_down", "Page down", show=False),
        Binding("ctrl+b", "page_up", "Page up", show=False),
        Binding("ctrl+d", "half_page(1)", "Half a page down", show=False),
        Binding("ctrl+u", "half_page(-1)", "Half a page up", show=False),
    ]

    def action_half_page(self, direction: int) -> None:
        step = max(1, self.scrollable_content_region.height // 2)
        row = max(0, min(self.cursor_row + direction * step, self.row_count - 1))
        self.move_cursor(row=row)


class VimOptionList(OptionList):
    """An OptionList walked with vim-style keys too."""

    BINDINGS = [
        Binding("j", "cursor_down", "Down", show=False),
        Binding("k", "cursor_up", "Up", show=False),
        Binding("g", "first", "First line", show=False),
        Binding("G", "last", "Last line", show=False),
        Binding("ctrl+f", "page_down", "Page down", show=False),
        Binding("ctrl+b", "page_up", "Page up", show=False),
    ]


class VimTreeKeys:
    """Bindings for a Tree (mixed in before the Tree class)."""

    BINDINGS = [
        Binding("j", "cursor_down", "Down", show=False),
        Binding("k", "cursor_up", "Up", show=False),
        Binding("g", "first_line", "First line", show=False),
        Binding("G", "last_line", "Last line", show=False),
        Binding("ctrl+f", "page_down", "Page down", show=False),
        Binding("ctrl+b", "page_up", "Page up", show=False),
    ]

    def action_first_line(self: Tree) -> None:  # type: ignore[misc]
        self.cursor_line = 0

    def action_last_line(self: Tree) -> None:  # type: ignore[misc]
        self.cursor_line = self.last_line
