"""The training loss and validation loss per epoch, as a small line chart of block characters."""

from __future__ import annotations

import math
import time

from rich.text import Text
from textual.widget import Widget

BLOCKS = " ▁▂▃▄▅▆▇█"


class LossChart(Widget):
    """Two series drawn as columns of blocks: loss (cyan) and validation loss (magenta)."""

    DEFAULT_CSS = """
    LossChart { height: 8; width: 1fr; }
    """

    #: Seconds between repaints: a small table runs a dozen epochs a second, and each repaint
    #: of the chart (a styled cell per block) competes with training for the interpreter.
    REPAINT_EVERY = 0.5

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.loss: list[float] = []
        self.val_loss: list[float] = []
        self._painted = 0.0
        self._pending = False

    def add(self, loss: float | None, val_loss: float | None) -> None:
        if loss is not None and math.isfinite(loss):
            self.loss.append(loss)
            if val_loss is not None and math.isfinite(val_loss):
                self.val_loss.append(val_loss)
            wait = self.REPAINT_EVERY - (time.monotonic() - self._painted)
            if wait <= 0:
                self._repaint()
            elif not self._pending:
                self._pending = True
                self.set_timer(wait, self._repaint)

    def _repaint(self) -> None:
        self._pending = False
        self._painted = time.monotonic()
        self.refresh()

    def render(self) -> Text:
        width = max(10, self.size.width - 12)
        height = max(2, self.size.height - 1)
        text = Text(no_wrap=True, overflow="crop")
        if not self.loss:
            text.append("loss: waiting for the first epoch…", style="dim")
            return text
        series = [(self.loss, "cyan"), (self.val_loss, "magenta")]
        values = [v for s, _ in series for v in s]
        lo, hi = min(values), max(values)
        span = (hi - lo) or 1.0
        # Each epoch gets two columns (loss, val loss) side by side; recent epochs if too many.
        per = 2 if self.val_loss else 1
        epochs = max(len(self.loss), len(self.val_loss))
        shown = min(epochs, width // (per + 1))
        first = epochs - shown
        for line in range(height, 0, -1):
            label = f"{hi:.3g}" if line == height else (f"{lo:.3g}" if line == 1 else "")
            text.append(f"{label:>9} │", style="dim")
            for epoch in range(first, epochs):
                for values_, colour in series[:per]:
                    if epoch < len(values_):
                        eighths = 1 + round((values_[epoch] - lo) / span * (height * 8 - 1))
                        fill = max(0, min(8, eighths - (line - 1) * 8))
                        text.append(BLOCKS[fill], style=colour)
                    else:
                        text.append(" ")
                text.append(" ")
            text.append("\n")
        text.append("          └ ", style="dim")
        text.append("█ loss", style="cyan")
        if self.val_loss:
            text.append("  █ validation loss", style="magenta")
        text.append(f"   epoch {first + 1}–{epochs}", style="dim")
        return text
