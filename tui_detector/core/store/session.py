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
from .review import ReviewState, previous_run, record_run, review_state, run_fingerprints

if TYPE_CHECKING:
    from ..pipeline import DetectionRun

#: Feature names kept per stored anomaly.
TOP_FEATURES = 3


def _tool_version() -> str:
    from ... import __version__  # noqa: PLC0415 - the package imports core lazily

    return __version__


class ReviewSession:
    """Verdicts for one run's rows, the re-ranking they bring, and the run's record."""

    def __init__(self, run: DetectionRun, *, feedback: bool = True, store: ReviewStore | None = None) -> None:
        self.store = store if store is not None else ReviewStore()
        self.fingerprinter = Fingerprinter.for_frame(run.frame)
        self.state = ReviewState(self.fingerprinter)
        #: Why the store could not be used, in words (None when it could).
        self.problem: str | None = None
        #: "applied", "off" (--no-feedback), "no verdicts".
        self.feedback = "no verdicts" if feedback else "off"
        self.previous_run: int | None = None
        self._previous_keys: set[str] = set()
        self.run_id: int | None = None
        self._flagged_keys: list[str] = []
        try:
            self.state = review_state(self.store, run.frame, self.fingerprinter)
            self.previous_run = previous_run(self.store, self.fingerprinter.dataset)
            if self.previous_run is not None:
                self._previous_keys = run_fingerprints(self.store, self.previous_run)
        except (StoreError, OSError, sqlite3.Error) as exc:
            self._fail(exc)
        labels = self.state.labels()
        if feedback and labels:
            self._rerank(run, labels)

    @property
    def notes(self) -> list[str]:
        return self.store.notes

    def _fail(self, exc: BaseException) -> None:
        self.problem = str(getattr(exc, "strerror", None) or exc)
        self.store.discard_if_new()

    def _rerank(self, run: DetectionRun, labels: dict[int, int]) -> None:
        from ..feedback import rerank  # noqa: PLC0415

        detection = run.detection
        scores = np.asarray(detection.scores, dtype=np.float64)
        parts = getattr(detection, "parts", None)
        if parts is None:
            parts = scores[:, None]
        ranked = np.asarray(rerank(parts, scores, labels), dtype=np.float64)
        if ranked.shape != scores.shape:
            raise ValueError(f"re-ranking gave {ranked.shape} scores for {scores.shape} rows")
        # Reviewed rows keep the detector's own score: their verdict, not a weight, decides them.
        final = np.where(self.state.reviewed(len(scores)), scores, ranked)
        run.detection = dataclasses.replace(detection, scores=final)
        self.feedback = "applied"

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
        self._flagged_keys = keys
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

    def recurring(self) -> set[str]:
        """Fingerprints of this run's flagged rows that the dataset's previous run flagged too."""
        return set(self._flagged_keys) & self._previous_keys

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
            "left_out": getattr(self, "left_out", 0),
            "feedback": self.feedback,
            "previous_run": self.previous_run,
            "new": len(flagged) - recurring if self.previous_run is not None else len(flagged),
            "recurring": recurring,
        }
