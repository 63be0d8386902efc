"""A path on one line: when it is too long, its start gives way (``…/claims/oct.xlsx``).

The end of a path (the folder it is in and its name) is what tells two recent files apart, so
it is what stays; a path wrapped mid-word over two lines read as two entries.
"""

from __future__ import annotations

from rich.cells import cell_len


def cut_left(text: str, width: int) -> str:
    """``text`` in at most ``width`` cells, its start replaced by ``…`` when it does not fit."""
    if cell_len(text) <= width:
        return text
    if width <= 1:
        return "…"[:width]
    kept = ""
    for char in reversed(text):
        if cell_len(kept) + cell_len(char) > width - 1:
            break
        kept = char + kept
    return "…" + kept


def recent_width(screen_width: int) -> int:
    """Cells a recent path gets in the picker's side pane (a third of the screen, less its
    border and padding)."""
    return max(16, screen_width // 3 - 6)
