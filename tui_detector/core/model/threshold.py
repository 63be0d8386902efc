"""The threshold: a percentile of the training scores, chosen when scoring, and its score value.

A fitted detector keeps the quantiles of its training scores (``score_quantiles_``), so any
percentile becomes a score threshold without retraining; a run carries the one it was scored
with, and moving it (``+``/``-`` in Results) makes a new one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Percentiles (0, 0.1, ..., 100) at which a model keeps its training scores.
QUANTILE_GRID = np.linspace(0.0, 100.0, 1001)


@dataclass(frozen=True)
class Threshold:
    """Rows scoring above ``value`` are flagged; ``value`` is the ``percentile``-th percentile
    of the training scores (``percentile`` is None for a score threshold given directly)."""

    percentile: float | None
    value: float

    @classmethod
    def from_quantiles(cls, score_quantiles: np.ndarray, percentile: float) -> Threshold:
        """The threshold at ``percentile``, read off the training scores' quantiles."""
        return cls(float(percentile), float(np.interp(percentile, QUANTILE_GRID, score_quantiles)))
