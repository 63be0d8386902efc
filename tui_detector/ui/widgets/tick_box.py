"""A checkbox whose state reads without colour, and whose ``enter`` belongs to its dialog.

Textual's checkbox draws the same ``X`` ticked or not (only its colour changes), so without
colour, or on a dim screen, the two states looked alike; and it toggles on ``enter`` too, so
a dialog whose footer says "enter: write" unticked the box instead of writing.
"""

from __future__ import annotations

from textual.binding import Binding
from textual.widgets import Checkbox


class TickBox(Checkbox, inherit_bindings=False):
    """``[x]`` ticked, ``[ ]`` not; ``space`` toggles, ``enter`` goes to the screen."""

    BINDINGS = [Binding("space", "toggle_button", "Toggle", show=False)]
    BUTTON_LEFT = "["
    BUTTON_RIGHT = "]"

    @property
    def BUTTON_INNER(self) -> str:  # type: ignore[override]  # noqa: N802 - Textual's name
        return "x" if self.value else " "
