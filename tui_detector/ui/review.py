"""The analyst's verdicts on one run's rows, as the Results and Row details screens use them.

Plain Python, no Textual: a :class:`ReviewBook` wraps the core's review session for one run
(opened in a worker: it fingerprints the rows and reads the store), says what the status
column shows for a row, sets verdicts, and undoes the last one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from tui_detector import core

if TYPE_CHECKING:
    from tui_detector.core import DetectionRun

#: How the status column names a suppressed row (its verdict came through a scope).
SUPPRESSED = "suppressed"
#: The most flagged rows whose top features are recorded with an app run (explaining every
#: flagged row of a million-row sheet would keep a core busy long after the results show).
RECORDED_FEATURES = 2_000


@dataclass
class _Undo:
    rows: list[int]
    #: Each row's verdict before the change (None: it had none).
    before: list[Any]
    what: str


class ReviewBook:
    """Verdicts, suppressions and new/recurring marks for the rows of one run."""

    def __init__(self, session: Any) -> None:
        self.session = session
        #: Flagged row -> "new" / "recurring" (against the file's previous run), once recorded.
        self.marks: dict[int, str] = {}
        self._undo: list[_Undo] = []

    @classmethod
    def open(cls, run: DetectionRun) -> ReviewBook:
        """The book for ``run`` (slow: call it from a worker). The ranking is not applied yet."""
        return cls(core.ReviewSession(run, rerank_now=False))

    @property
    def problem(self) -> str | None:
        return self.session.problem

    @property
    def state(self) -> Any:
        return self.session.state

    @property
    def has_verdicts(self) -> bool:
        return bool(self.state.verdicts or self.state.suppressed)

    def record(self, run: DetectionRun) -> None:
        """Record the run with its flagged rows (from a worker), then mark them new/recurring."""
        detection = run.detection
        rows = [int(r) for r in detection.anomaly_rows]
        explained = {}
        if rows:
            for item in run.detector.explain(run.frame, detection, rows[:RECORDED_FEATURES]):
                explained[int(item["row_index"])] = item["anomalous_features"]
        excel = run.loaded.excel_rows
        anomalies = [
            {
                "row_index": row,
                "excel_row": None if excel is None else int(excel[row]),
                "anomaly_score": float(detection.scores[row]),
                "anomalous_features": explained.get(row, []),
            }
            for row in rows
        ]
        self.session.record(run, anomalies, origin="app")
        self.marks = {row: "recurring" if again else "new" for row, again in self.session.recurring().items()}

    # -- what a row shows ------------------------------------------------------------------

    def verdict(self, row: int) -> Any:
        return self.state.review_of(row)

    def status(self, row: int) -> str:
        own = self.state.verdicts.get(row)
        if own is not None:
            return own.verdict
        if row in self.state.suppressed:
            return SUPPRESSED
        return self.marks.get(row, "")

    def reviewed(self, rows: int) -> np.ndarray:
        return self.state.reviewed(rows)

    def counts(self) -> dict[str, int]:
        counts = self.state.counts()
        counts[SUPPRESSED] = len(self.state.suppressed)
        return counts

    # -- changing them ---------------------------------------------------------------------

    def set(self, rows: list[int], verdict: str, *, note: str | None = None, suppress_column: str | None = None, until: str | None = None) -> str:
        """Record ``verdict`` on ``rows`` (undoable); returns what was done, in words."""
        before = [self.state.verdicts.get(r) for r in rows]
        written = self.session.set_verdict(rows, verdict, note=note, suppress_column=suppress_column, until=until)
        what = f"{verdict}: row {', '.join(str(r) for r in rows)}"
        scope = next((w.scope for w in written if w.scope is not None), None)
        if scope is not None:
            covered = sum(1 for s in self.state.suppressed.values() if s.id == scope.id)
            what += f"; every row where {scope.column} = {scope.value} suppressed ({covered:,} more here)"
            if scope.until:
                what += f" until {scope.until}"
        self._undo.append(_Undo(list(rows), before, what))
        return what

    def add_note(self, row: int, note: str) -> str:
        """Keep ``note`` with the row's verdict (a new verdict event with the same verdict)."""
        current = self.state.verdicts.get(row)
        if current is None:
            raise ValueError("this row has no verdict yet: c confirms, d dismisses, x marks it expected")
        return self.set([row], current.verdict, note=note) + " (note kept)"

    def undo(self) -> str | None:
        """Take back the last change; None when there is nothing to undo."""
        if not self._undo:
            return None
        last = self._undo.pop()
        self.session.clear_verdict(last.rows)
        for row, previous in zip(last.rows, last.before):
            if previous is not None:
                # The verdict before comes back; a suppression it brought was never lifted.
                self.session.set_verdict([row], previous.verdict, note=previous.note)
        return f"undone: {last.what}"

    @property
    def can_undo(self) -> bool:
        return bool(self._undo)
