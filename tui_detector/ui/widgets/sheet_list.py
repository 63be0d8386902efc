"""Set up's list of a workbook's sheets, with their size; a CSV shows it has just one table."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual.widgets import OptionList
from textual.widgets.option_list import Option

if TYPE_CHECKING:
    from tui_detector.core import SheetInfo


class SheetList(OptionList):
    """Sheet names are drawn as plain text (they come from the file, and may look like markup)."""

    def show(self, sheets: list[SheetInfo]) -> None:
        for info in sheets:
            # One line per sheet, "(hidden)" beside its name: a long name is cut, not wrapped.
            label = Text(info.name, no_wrap=True, overflow="ellipsis")
            if not info.visible:
                label.append(" (hidden)", style="italic yellow")
            label.append(f"  {info.rows:,} × {info.columns}", style="dim")
            self.add_option(Option(label, id=f"sheet-{info.index}"))
        if not sheets:  # CSV: one table, no sheets
            self.add_option(Option(Text("(one table)", style="dim"), disabled=True))

    def highlight(self, sheets: list[SheetInfo], name: str | None) -> None:
        for i, info in enumerate(sheets):
            if info.name == name:
                self.highlighted = i
