"""Set up's table of columns: the role the core gave each and why, and include/exclude."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rich.text import Text
from textual.message import Message
from tui_detector import core

from .vim_keys import VimTable

if TYPE_CHECKING:
    from tui_detector.core import ColumnProfile

LABELS = ("column", "role", "used", "distinct", "missing", "why")
#: The narrowest the "why" column gets (narrower panes scroll sideways to it).
WHY_WIDTH = 24


class RolesTable(VimTable):
    """One row per column. :meth:`toggle` includes or excludes the highlighted one by the
    core's policy (:func:`tui_detector.core.toggle_column`) and keeps the user's choices as
    ``overrides`` (column -> role), the roles the detector is given. Walked with the arrows or
    vim-style keys."""

    @dataclass
    class Changed(Message):
        """The user included or excluded a column."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)
        #: The columns as they stand, in table order.
        self.profiles: list[ColumnProfile] = []
        #: What the core inferred for each column (where ``toggle`` goes back to).
        self.inferred: dict[str, ColumnProfile] = {}
        #: The user's choices, column -> role, in the order they were made.
        self.overrides: dict[str, str] = {}
        self._numeric: frozenset[str] = frozenset()
        self._wrap = False

    def on_mount(self) -> None:
        self._add_columns()

    def _add_columns(self) -> list[list[Text]]:
        """The columns, "why" last and as wide as the pane leaves it: a reason wraps, never cut."""
        self.clear(columns=True)
        cells = [self._cells(p) for p in self.profiles]
        widths = [max([len(label), *(row[i].cell_len for row in cells)]) for i, label in enumerate(LABELS[:-1])]
        for label, width in zip(LABELS[:-1], widths, strict=True):
            self.add_column(Text(label), key=label, width=width)
        room = self.size.width - sum(w + 2 * self.cell_padding for w in widths) - 2 * self.cell_padding - 2
        longest = max([len(LABELS[-1]), *(row[-1].cell_len for row in cells)])
        # Wrapped in the room the pane leaves; a pane too narrow for that scrolls sideways to
        # it, one line a row (Set up shows the highlighted column's reason under the table).
        self._wrap = WHY_WIDTH <= room < longest
        self.add_column(Text(LABELS[-1]), key=LABELS[-1], width=room if self._wrap else longest)
        return cells

    def on_resize(self) -> None:
        if self.profiles:
            self._redraw()

    @staticmethod
    def _cells(p: ColumnProfile) -> list[Text]:
        used = Text("✓ used", style="green") if p.used else Text("✗ excluded", style="dim")
        return [Text(p.name), Text(str(p.role)), used, Text(f"{p.distinct:,}"), Text(f"{p.missing:,}"), Text(p.reason)]

    @property
    def used(self) -> int:
        """How many columns the model will learn from."""
        return sum(p.used for p in self.profiles)

    def show(self, profiles: list[ColumnProfile], numeric: Collection[str]) -> None:
        """A newly read table's columns, as inferred; ``numeric``: the columns stored as numbers."""
        self.inferred = {p.name: p for p in profiles}
        self.overrides = {}
        self.profiles = list(profiles)
        self._numeric = frozenset(numeric)
        self._redraw()

    def toggle(self) -> None:
        """Include or exclude the highlighted column (``space`` in Set up)."""
        if not self.profiles:
            return
        row = self.cursor_row
        profile = self.profiles[row]
        new = core.toggle_column(profile, self.inferred[profile.name], numeric=profile.name in self._numeric)
        if new is None:
            self.notify("This column is empty: nothing to learn from it.", severity="warning")
            return
        if new.forced:
            self.overrides[profile.name] = str(new.role)
        else:
            self.overrides.pop(profile.name, None)
        self.profiles[row] = new
        self._redraw()
        self.post_message(self.Changed())

    def _redraw(self) -> None:
        keep = self.cursor_row
        for cells in self._add_columns():
            self.add_row(*cells, height=None if self._wrap else 1)
        if self.profiles:
            self.move_cursor(row=min(keep, len(self.profiles) - 1))
