"""Which columns explain each row, asked of the detector only for the rows on screen.

:meth:`TabularAnomalyDetector.explain` is the one source of truth for the ranking; the table
calls it for the ~40 rows it draws and remembers the answer, so a million-row table costs no
more than a small one until the user sorts by the top-features column (then every row).
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from tui_detector.core import DetectionRun

CHUNK = 65_536


class TopFeatures:
    """The top-k explaining columns of each row (the detector's own ranking), computed lazily
    in chunks and remembered."""

    def __init__(self, run: DetectionRun, k: int | None = None) -> None:
        self._run = run
        detector = run.detector
        self.feature_names = [str(e.column) for e in detector.preprocessor_.encoders]
        self._index = {name: i for i, name in enumerate(self.feature_names)}
        self.k = max(0, min(int(detector.top_features if k is None else k), len(self.feature_names)))
        n = len(run.detection.scores)
        self._top = np.full((n, self.k), -1, dtype=np.int32)
        self._done = np.zeros(n, dtype=bool)

    def explain_all_columns(self, row: int) -> dict:
        """``explain`` for one row with every model column ranked (for the row-details screen)."""
        detector = copy.copy(self._run.detector)
        detector.top_features = len(self.feature_names)
        return detector.explain(self._run.frame, self._run.detection, [row])[0]

    def ensure(self, rows: np.ndarray) -> None:
        rows = np.asarray(rows, dtype=np.int64)
        todo = np.unique(rows[~self._done[rows]])
        if todo.size == 0 or self.k == 0:
            self._done[todo] = True
            return
        run = self._run
        for start in range(0, todo.size, CHUNK):
            part = todo[start : start + CHUNK]
            for item in run.detector.explain(run.frame, run.detection, part):
                names = [self._index.get(str(f["feature_name"]), -1) for f in item["anomalous_features"]]
                self._top[item["row_index"], : len(names)] = names[: self.k]
            self._done[part] = True

    def names(self, row: int) -> list[str]:
        if not self._done[row]:
            self.ensure(np.array([row]))
        return [self.feature_names[j] for j in self._top[row] if j >= 0]

    def first_name_rank(self, rows: np.ndarray) -> np.ndarray:
        """For ``rows``, the alphabetical rank of each one's top feature (sorts that column)."""
        rows = np.asarray(rows, dtype=np.int64)
        self.ensure(rows)
        if self.k == 0:
            return np.zeros(len(rows), dtype=np.int64)
        by_name = np.argsort(np.array(self.feature_names, dtype=object), kind="stable")
        rank_of = np.empty(len(by_name) + 1, dtype=np.int64)
        rank_of[by_name] = np.arange(len(by_name))
        rank_of[-1] = len(by_name)  # no feature: last
        return rank_of[self._top[rows, 0]]
