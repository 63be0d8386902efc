"""A footer that keeps a screen's main keys on a narrow terminal.

Textual's footer draws the keys in binding order and cuts the line at the screen's edge: at 80
columns the Results footer lost Export, Quit and ``n``. This one, when the keys do not fit,
draws the screen's ``essential`` keys first and ``? More keys`` (Help lists every key) last,
and leaves out what does not fit in between.
"""

from __future__ import annotations

from textual import events
from textual.app import ComposeResult
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

#: The help action, which lists every key of the screen.
HELP_ACTION = "help"


def key_width(key: FooterKey) -> int:
    """Cells one key takes: its key, its description, and the padding around them."""
    return len(key.key_display) + len(key.description) + 3


class KeyFooter(Footer):
    def __init__(self, *essential: str, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        #: actions (as the bindings name them, e.g. ``export`` or ``quit``) kept first
        self.essential = essential
        self._width = 0

    def compose(self) -> ComposeResult:
        keys = list(super().compose())
        width = self.size.width or self.app.size.width
        if not keys or any(not isinstance(k, FooterKey) for k in keys):
            yield from keys
            return
        if sum(key_width(k) for k in keys) <= width:
            yield from keys
            return
        help_keys = [k for k in keys if k.action == HELP_ACTION]
        more = help_keys[0] if help_keys else None
        if more is not None:
            more.description = "More keys"
        rank = {action: i for i, action in enumerate(self.essential)}
        others = [k for k in keys if k is not more]
        ordered = sorted(others, key=lambda k: rank.get(k.action, len(rank)))
        room = width - (key_width(more) if more else 0)
        kept: list[FooterKey] = []
        for key in ordered:
            if key_width(key) <= room:
                kept.append(key)
                room -= key_width(key)
        # Drawn in the screen's own order, with "more" at the end.
        shown = [k for k in keys if k in kept] + ([more] if more else [])
        self.styles.grid_size_columns = len(shown)
        yield from shown

    def on_resize(self, event: events.Resize) -> None:
        if event.size.width != self._width:
            self._width = event.size.width
            self.call_after_refresh(self.recompose)
