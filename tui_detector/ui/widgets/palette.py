"""The highlight styles of the results: the table, its legend and Row details draw from here.

Each style sets its own text colour and background, so a theme (dark or light) cannot put
light grey on white: every pair is at least 4.5:1 (WCAG AA), and each colour is one of the
xterm 256-colour palette, so a 256-colour terminal shows the same colours and the same
contrast. The cursor (blue row, cyan cell) shares no hue with the three explaining columns
(red, amber, lavender). Without colour (``NO_COLOR``) the same roles are told apart by
attributes: the cursor row is reversed, the cursor cell is the one unreversed cell in it, and
the explaining cells are bold and underlined, underlined, and italic.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rich.style import Style
from rich.text import Text


@dataclass(frozen=True)
class Palette:
    cursor_row: Style
    cursor_cell: Style
    #: the 1st, 2nd and 3rd explaining column of a row
    top: tuple[Style, Style, Style]
    flagged: Style
    separator: Style

    def legend(self) -> Text:
        """`` 1st  2nd  3rd `` in the cells' own styles, and what the cursor cell looks like."""
        text = Text()
        for name, style in zip(("1st", "2nd", "3rd"), self.top, strict=True):
            text.append(f" {name} ", style=style)
            text.append(" ")
        text.append(" cursor ", style=self.cursor_cell)
        return text


COLOUR = Palette(
    cursor_row=Style.parse("bold #ffffff on #005f87"),
    cursor_cell=Style.parse("bold underline #000000 on #5fd7ff") + Style(reverse=False),
    top=(
        Style.parse("bold #ffffff on #af0000"),
        Style.parse("#000000 on #ffaf00"),
        Style.parse("#000000 on #d7afff"),
    ),
    flagged=Style.parse("bold #ff5f5f"),
    separator=Style.parse("dim"),
)

MONO = Palette(
    cursor_row=Style(reverse=True, bold=True),
    cursor_cell=Style(reverse=False, bold=True, underline=True),
    top=(Style(bold=True, underline=True), Style(underline=True), Style(italic=True)),
    flagged=Style(bold=True),
    separator=Style(),
)


def palette_for(app: Any) -> Palette:
    """The palette for this app: attributes only when colour is off (``NO_COLOR``)."""
    return MONO if getattr(app, "no_color", False) else COLOUR
