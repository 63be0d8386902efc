"""The review store's part in one detection run, the same for ``detect`` and the app.

Opened on a scored run, it finds the rows the dataset's verdicts name, re-ranks the unreviewed
rows from them (unless feedback is off), marks each anomaly with its review, and records the
run. The store failing (an unwritable data directory, a full disk) never fails the detection:
it is said once in :attr:`ReviewSession.problem` and the results are as they would have been.
"""

from __future__ import annotations

import dataclasses
import sqlite3
from typing import TYPE_CHECKING, Any

import numpy as np

from .db import ReviewStore, StoreError
from .fingerprint import Fingerprinter
from .review import ReviewState, Verdict, clear_verdicts, previous_run, record_run, review_state, run_fingerprints, set_verdicts

if TYPE_CHECKING:
    from ..pipeline import DetectionRun

#: Feature names kept per stored anomaly.
TOP_FEATURES = 3


def _tool_version() -> str:
    from ... import __version__  # noqa: PLC0415 - the package imports core lazily

    return __version__


class ReviewSession:
    """Verdicts for one run's rows, the re-ranking they bring, and the run's record."""

    def __init__(
        self, run: DetectionRun, *, feedback: bool = True, store: ReviewStore | None = None, rerank_now: bool = True
    ) -> None:
        self.store = store if store is not None else ReviewStore()
        self.frame = run.frame
        self.file_name = run.path.name
        #: The model's own scores and parts, which every re-ranking starts from.
        self.model_scores = np.array(run.detection.scores, dtype=np.float64)
        self._parts = getattr(run.detection, "parts", None)
        self.use_feedback = feedback
        # The model profiled this very table already (not so for a model from another file,
        # or one told other roles: fingerprints follow the roles guessed, whatever was chosen).
        detector = run.detector
        own = not run.baseline and not detector.roles and len(detector.profiles_) == len(run.frame.columns)
        self.fingerprinter = Fingerprinter.for_frame(run.frame, detector.profiles_ if own else None)
        self.state = ReviewState(self.fingerprinter)
        #: Why the store could not be used, in words (None when it could).
        self.problem: str | None = None
        #: "applied", "off" (--no-feedback), "no verdicts".
        self.feedback = "no verdicts" if feedback else "off"
        self.previous_run: int | None = None
        self._previous_keys: set[str] = set()
        self.run_id: int | None = None
        #: Anomalies :meth:`annotate` left out (dismissed or suppressed).
        self.left_out = 0
        self._flagged_rows: list[int] = []
        self._flagged_keys: list[str] = []
        try:
            self.state = review_state(self.store, run.frame, self.fingerprinter)
            self.previous_run = previous_run(self.store, self.fingerprinter.dataset)
            if self.previous_run is not None:
                self._previous_keys = run_fingerprints(self.store, self.previous_run)
        except (StoreError, OSError, sqlite3.Error) as exc:
            self._fail(exc)
        if rerank_now:
            self.apply_ranking(run)

    @property
    def notes(self) -> list[str]:
        return self.store.notes

    def _fail(self, exc: BaseException) -> None:
        self.problem = str(getattr(exc, "strerror", None) or exc)
        self.store.discard_if_new()

    def ranked_scores(self) -> np.ndarray:
        """Every row's score for the current verdicts: the model's scores re-ranked from them
        for the unreviewed rows (exactly the model's without verdicts or with feedback off)."""
        labels = self.state.labels()
        scores = self.model_scores
        if not (self.use_feedback and labels):
            self.feedback = "off" if not self.use_feedback else "no verdicts"
            return scores
        from ..feedback import rerank  # noqa: PLC0415

        parts = self._parts if self._parts is not None else scores[:, None]
        ranked = np.asarray(rerank(parts, scores, labels), dtype=np.float64)
        if ranked.shape != scores.shape:
            raise ValueError(f"re-ranking gave {ranked.shape} scores for {scores.shape} rows")
        self.feedback = "applied"
        # Reviewed rows keep the model's own score: their verdict, not a weight, decides them.
        return np.where(self.state.reviewed(len(scores)), scores, ranked)

    def apply_ranking(self, run: DetectionRun) -> None:
        """Put :meth:`ranked_scores` into the run (its threshold unchanged)."""
        ranked = self.ranked_scores()
        if ranked is self.model_scores and np.array_equal(run.detection.scores, ranked):
            return
        run.detection = dataclasses.replace(run.detection, scores=ranked)

    # -- verdicts set now (the app) --------------------------------------------------------

    def set_verdict(
        self, rows: list[int], verdict: str, *, note: str | None = None, suppress_column: str | None = None, until: str | None = None
    ) -> list[Verdict]:
        """Record a verdict for ``rows`` and take it into :attr:`state` at once."""
        written = set_verdicts(
            self.store, self.frame, rows, verdict, note=note, file_name=self.file_name,
            suppress_column=suppress_column, until=until, fingerprinter=self.fingerprinter,
        )
        for item in written:
            self.state.verdicts[int(item.row_index)] = item
            self.state.suppressed.pop(int(item.row_index), None)
            if item.scope is not None:
                covered = np.flatnonzero(self.fingerprinter.cells(self.frame, item.scope.column) == item.scope.value)
                for row in covered.tolist():
                    if row not in self.state.verdicts:
                        self.state.suppressed.setdefault(row, item.scope)
        return written

    def clear_verdict(self, rows: list[int]) -> int:
        """Take the rows' verdicts back (their suppressions lifted), in the store and here."""
        cleared = clear_verdicts(self.store, self.frame, rows, file_name=self.file_name, fingerprinter=self.fingerprinter)
        for row in rows:
            gone = self.state.verdicts.pop(int(row), None)
            if gone is not None and gone.scope is not None:
                for other, scope in list(self.state.suppressed.items()):
                    if scope.id == gone.scope.id:
                        del self.state.suppressed[other]
        return cleared

    # -- the anomalies ---------------------------------------------------------------------

    def annotate(self, anomalies: list[dict[str, Any]], *, include_reviewed: bool = False) -> list[dict[str, Any]]:
        """``anomalies`` with a ``review`` each (None when unreviewed); dismissed and suppressed
        rows are left out unless ``include_reviewed``."""
        out = []
        self.left_out = 0
        for item in anomalies:
            verdict = self.state.review_of(int(item["row_index"]))
            if verdict is not None and verdict.hides and not include_reviewed:
                self.left_out += 1
                continue
            out.append({**item, "review": verdict.to_json() if verdict is not None else None})
        return out

    def keys_of(self, frame: Any, rows: list[int]) -> list[str]:
        if self.state.keys is not None:
            return [str(self.state.keys[r]) for r in rows]
        return [str(k) for k in self.fingerprinter.keys(frame, rows).tolist()] if rows else []

    def record(self, run: DetectionRun, anomalies: list[dict[str, Any]], *, origin: str) -> int | None:
        """Store the run with every flagged row (``anomalies`` as explained, rank order)."""
        rows = [int(a["row_index"]) for a in anomalies]
        keys = self.keys_of(run.frame, rows)
        self._flagged_rows, self._flagged_keys = rows, keys
        if self.problem is not None:
            return None
        report = run.loaded.report
        try:
            self.run_id = record_run(
                self.store,
                dataset=self.fingerprinter.dataset,
                origin=origin,
                file_name=run.path.name,
                path=str(run.path),
                sha256=run.sha256,
                sheet=report.sheet,
                model_key=run.cache_key,
                model_kind=run.detector.model_kind_,
                threshold=float(run.detection.threshold),
                threshold_percentile=float(run.threshold_percentile),
                rows=len(run.detection.scores),
                fingerprint_column=self.fingerprinter.id_column,
                tool_version=_tool_version(),
                anomalies=[
                    (
                        row,
                        a.get("excel_row"),
                        key,
                        float(a["anomaly_score"]),
                        [f["feature_name"] for f in a.get("anomalous_features", [])[:TOP_FEATURES]],
                    )
                    for row, key, a in zip(rows, keys, anomalies)
                ],
            )
        except (StoreError, OSError, sqlite3.Error) as exc:
            self._fail(exc)
        return self.run_id

    def recurring(self) -> dict[int, bool]:
        """Per row :meth:`record` stored: whether the dataset's previous run flagged the same row
        too (by its fingerprint); empty when there is no previous run to compare with."""
        if self.previous_run is None:
            return {}
        before = self._previous_keys
        return {row: key in before for row, key in zip(self._flagged_rows, self._flagged_keys, strict=True)}

    def mark_recurring(self, listed: list[dict[str, Any]]) -> None:
        """Give each of ``listed`` (in place) ``recurring`` (see :meth:`recurring`): None where
        there is no previous run, or for a row this run has not recorded (yet)."""
        recurring = self.recurring()
        for item in listed:
            item["recurring"] = recurring.get(int(item["row_index"]))

    def summary(self) -> dict[str, Any]:
        """The export's top-level ``review`` section."""
        flagged = set(self._flagged_keys)
        recurring = len(flagged & self._previous_keys)
        return {
            "store": None if self.problem is not None else str(self.store.path),
            "problem": self.problem,
            "run_id": self.run_id,
            "dataset": self.fingerprinter.dataset,
            "id_column": self.fingerprinter.id_column,
            "verdicts": self.state.counts(),
            "suppressed_rows": len(self.state.suppressed),
            "verdicts_for_other_rows": self.state.unmatched,
            "left_out": self.left_out,
            "feedback": self.feedback,
            "previous_run": self.previous_run,
            "new": len(flagged) - recurring if self.previous_run is not None else len(flagged),
            "recurring": recurring,
        }
