"""A small score histogram with the threshold marked: bars right of the cut are flagged rows."""

from __future__ import annotations

import numpy as np
from rich.text import Text
from textual.widget import Widget

BLOCKS = " ▁▂▃▄▅▆▇█"


class ScoreHistogram(Widget):
    """Counts (log scale) of scores in equal bins; the bins above the threshold are red."""

    DEFAULT_CSS = """
    ScoreHistogram { height: 4; width: 1fr; }
    """

    def __init__(self, scores: np.ndarray, threshold: float, *, id: str | None = None) -> None:
        super().__init__(id=id)
        finite = np.asarray(scores, dtype=np.float64)
        finite = finite[np.isfinite(finite)]
        self._scores = finite
        self.threshold = threshold
        if finite.size:
            self._lo = float(finite.min())
            # The top 0.1% would squash every other bar into the first bin: they share the last.
            self._hi = float(np.quantile(finite, 0.999)) if finite.size > 1000 else float(finite.max())
        else:
            self._lo = self._hi = 0.0
        self._counts: np.ndarray | None = None
        self._bins = 0

    def set_threshold(self, threshold: float) -> None:
        self.threshold = threshold
        self.refresh()

    def _histogram(self, bins: int) -> np.ndarray:
        if self._counts is None or self._bins != bins:
            span = self._hi - self._lo or 1.0
            index = np.clip(((self._scores - self._lo) / span * bins).astype(np.int64), 0, bins - 1)
            self._counts = np.bincount(index, minlength=bins)
            self._bins = bins
        return self._counts

    def render(self) -> Text:
        width = max(10, self.size.width)
        height = max(2, self.size.height) - 1
        counts = self._histogram(width)
        levels = np.log1p(counts)
        top = levels.max() or 1.0
        eighths = np.round(levels / top * height * 8).astype(int)
        eighths[(counts > 0) & (eighths == 0)] = 1
        span = self._hi - self._lo or 1.0
        cut = int(np.clip((self.threshold - self._lo) / span * width, 0, width))
        text = Text(no_wrap=True, overflow="crop")
        for line in range(height, 0, -1):
            for i, e in enumerate(eighths):
                fill = int(np.clip(e - (line - 1) * 8, 0, 8))
                char = BLOCKS[fill]
                if i == cut:
                    text.append(char if fill else "│", style="bold yellow")
                else:
                    text.append(char, style="red" if i > cut else "blue")
            text.append("\n")
        left = f"{self._lo:.3g}"
        right = f"{self._hi:.3g}"
        marker = f"▲ cut {self.threshold:.4g}"
        axis = [" "] * width
        for i, c in enumerate(left):
            if i < width:
                axis[i] = c
        for i, c in enumerate(right):
            j = width - len(right) + i
            if 0 <= j < width:
                axis[j] = c
        start = min(max(cut, 0), max(width - len(marker), 0))
        for i, c in enumerate(marker):
            if start + i < width:
                axis[start + i] = c
        text.append("".join(axis), style="dim")
        return text
