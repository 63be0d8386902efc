"""Verdicts, suppression scopes and runs: what the review store keeps, read and written.

A verdict is an event: setting one, or clearing it (undo), adds a row and never rewrites one,
so the history of a row stays readable. A row's verdict is the latest event for its
fingerprint. A suppression scope comes with a verdict ("dismissed" or "expected") and covers
every row whose cell in a column equals a value, optionally until a date (inclusive).
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .db import ReviewStore, StoreError, now_iso
from .fingerprint import Fingerprinter

VERDICTS = ("confirmed", "dismissed", "expected")
#: What a verdict tells the ranking: +1 a real anomaly, -1 not one (or not one to act on).
LABELS = {"confirmed": 1, "dismissed": -1, "expected": -1}
#: Verdicts that may carry a suppression scope.
SUPPRESSING = ("dismissed", "expected")
_CLEARED = "cleared"


@dataclass(frozen=True)
class Scope:
    """A suppression: every row whose ``column`` reads ``value``, until ``until`` (or for good)."""

    id: int
    column: str
    value: str
    until: str | None
    verdict: str
    note: str | None
    when: str

    def to_json(self) -> dict[str, Any]:
        return {"column": self.column, "value": self.value, "until": self.until}


@dataclass(frozen=True)
class Verdict:
    """A row's review: what the analyst said, when, and the scope it came through (if any)."""

    id: int
    verdict: str
    note: str | None
    when: str
    fingerprint: str
    content: str
    file_name: str | None = None
    row_index: int | None = None
    scope: Scope | None = None

    @property
    def hides(self) -> bool:
        """Dismissed rows and rows under a suppression are left out of the anomalies list."""
        return self.verdict == "dismissed" or self.scope is not None

    def to_json(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict,
            "note": self.note,
            "when": self.when,
            "suppressed_by": self.scope.to_json() if self.scope is not None else None,
        }


def parse_until(text: str) -> str:
    """A suppression's last day, ``YYYY-MM-DD``; ValueError in words otherwise."""
    try:
        return dt.date.fromisoformat(text.strip()).isoformat()
    except ValueError:
        raise ValueError(f"not a date (YYYY-MM-DD): {text!r}") from None


def today() -> str:
    return dt.date.today().isoformat()


# -- reading ------------------------------------------------------------------------------


def _verdict(row: sqlite3.Row | tuple) -> Verdict:
    vid, fingerprint, content, verdict, note, created, file_name, row_index = row
    return Verdict(vid, verdict, note, created, fingerprint, content, file_name, row_index)


def latest_verdicts(store: ReviewStore, dataset: str) -> tuple[dict[str, Verdict], dict[str, Verdict]]:
    """The dataset's current verdicts by fingerprint, and by content hash (cleared ones gone)."""
    rows = store.read(
        lambda c: c.execute(
            "SELECT id, fingerprint, content, verdict, note, created, file_name, row_index "
            "FROM verdicts WHERE dataset = ? ORDER BY id",
            (dataset,),
        ).fetchall()
    )
    by_key: dict[str, Verdict] = {}
    for row in rows:
        by_key[row[1]] = _verdict(row)
    by_content: dict[str, Verdict] = {}
    for verdict in sorted(by_key.values(), key=lambda v: v.id):
        by_content[verdict.content] = verdict
    live = {k: v for k, v in by_key.items() if v.verdict != _CLEARED}
    return live, {k: v for k, v in by_content.items() if v.verdict != _CLEARED}


def active_scopes(store: ReviewStore, dataset: str, on: str | None = None) -> list[Scope]:
    """Suppressions in force on the day ``on`` (default today), oldest first."""
    day = on or today()
    rows = store.read(
        lambda c: c.execute(
            "SELECT s.id, s.column_name, s.value, s.until, v.verdict, v.note, s.created "
            "FROM suppressions s JOIN verdicts v ON v.id = s.verdict_id "
            "WHERE s.dataset = ? AND s.lifted IS NULL AND (s.until IS NULL OR s.until >= ?) ORDER BY s.id",
            (dataset, day),
        ).fetchall()
    )
    return [Scope(*row) for row in rows]


@dataclass
class ReviewState:
    """The verdicts as they fall on the rows of one table."""

    fingerprinter: Fingerprinter
    #: Row position -> its own verdict (set on it, or on the same row in another copy).
    verdicts: dict[int, Verdict] = field(default_factory=dict)
    #: Row position -> the suppression covering it (rows without a verdict of their own).
    suppressed: dict[int, Scope] = field(default_factory=dict)
    #: The dataset's verdicts that name no row of this table.
    unmatched: int = 0
    #: Every row's fingerprint, when they had to be computed (verdicts exist).
    keys: np.ndarray | None = None

    def review_of(self, row: int) -> Verdict | None:
        own = self.verdicts.get(row)
        if own is not None:
            return own
        scope = self.suppressed.get(row)
        if scope is None:
            return None
        # The scope's verdict as the row's (a negative id: no verdict row of its own).
        return Verdict(-scope.id, scope.verdict, scope.note, scope.when, "", "", scope=scope)

    def labels(self) -> dict[int, int]:
        """Row position -> +1 / -1 for the ranking (verdicts set on rows; not the scopes)."""
        return {row: LABELS[v.verdict] for row, v in self.verdicts.items()}

    def reviewed(self, rows: int) -> np.ndarray:
        mask = np.zeros(rows, dtype=bool)
        marked = [r for r in (*self.verdicts, *self.suppressed) if r < rows]
        mask[marked] = True
        return mask

    def counts(self) -> dict[str, int]:
        out = dict.fromkeys(VERDICTS, 0)
        for verdict in self.verdicts.values():
            out[verdict.verdict] += 1
        return out


def review_state(store: ReviewStore, frame: pd.DataFrame, fingerprinter: Fingerprinter | None = None) -> ReviewState:
    """Find the rows of ``frame`` that the dataset's verdicts and suppressions name."""
    fp = fingerprinter or Fingerprinter.for_frame(frame)
    by_key, by_content = latest_verdicts(store, fp.dataset)
    scopes = active_scopes(store, fp.dataset)
    state = ReviewState(fp)
    if by_key:
        keys = fp.keys(frame)
        state.keys = keys
        matched: set[int] = set()
        for row, key in enumerate(keys.tolist()):
            verdict = by_key.get(key)
            if verdict is None and not key.startswith("id:"):
                # A row with no identifier here (its key is its content hash): the same
                # content reviewed in a copy that had one.
                verdict = by_content.get(key)
            if verdict is not None:
                state.verdicts[row] = verdict
                matched.add(verdict.id)
        state.unmatched = sum(1 for v in by_key.values() if v.id not in matched)
    cells: dict[str, np.ndarray] = {}
    for scope in scopes:
        if scope.column not in cells:
            cells[scope.column] = fp.cells(frame, scope.column)
        for row in np.flatnonzero(cells[scope.column] == scope.value).tolist():
            if row not in state.verdicts:
                state.suppressed.setdefault(row, scope)
    return state


# -- writing ------------------------------------------------------------------------------


def set_verdicts(
    store: ReviewStore,
    frame: pd.DataFrame,
    rows: Sequence[int],
    verdict: str,
    *,
    note: str | None = None,
    file_name: str | None = None,
    suppress_column: str | None = None,
    until: str | None = None,
    fingerprinter: Fingerprinter | None = None,
) -> list[Verdict]:
    """Record ``verdict`` for each of ``rows`` (positions in ``frame``), all in one transaction.

    With ``suppress_column`` every row whose cell in that column equals the cell of one of
    ``rows`` is covered too, from now on (until ``until``, inclusive, when given).
    """
    if verdict not in VERDICTS:
        raise ValueError(f"a verdict is one of {', '.join(VERDICTS)}, not {verdict!r}")
    rows = _check_rows(frame, rows)
    until = parse_until(until) if until is not None else None
    fp = fingerprinter or Fingerprinter.for_frame(frame)
    values: list[str] = []
    if suppress_column is not None:
        if verdict not in SUPPRESSING:
            raise ValueError(f"only a dismissed or expected verdict can suppress rows, not {verdict!r}")
        if suppress_column not in {str(c) for c in frame.columns}:
            raise ValueError(f"no column {suppress_column!r} to suppress by")
        cells = fp.cells(frame, suppress_column)
        values = [cells[r] for r in rows]
        for row, value in zip(rows, values):
            if value == "":
                raise ValueError(f"row {row} has no value in {suppress_column!r} to suppress by")
    elif until is not None:
        raise ValueError("a last day (until) applies to a suppression; name the column to suppress by")
    keys, contents = fp.rows(frame, rows)
    when = now_iso()
    clean_note = _clean_note(note)

    def write(conn: sqlite3.Connection) -> list[Verdict]:
        out = []
        scoped: dict[str, int] = {}
        for row, key, content, value in zip(rows, keys.tolist(), contents.tolist(), values or [None] * len(rows)):
            cursor = conn.execute(
                "INSERT INTO verdicts (dataset, fingerprint, content, verdict, note, created, file_name, row_index) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (fp.dataset, key, content, verdict, clean_note, when, file_name, int(row)),
            )
            vid = int(cursor.lastrowid)
            scope = None
            if value is not None and value not in scoped:
                sid = conn.execute(
                    "INSERT INTO suppressions (dataset, column_name, value, until, verdict_id, created) VALUES (?, ?, ?, ?, ?, ?)",
                    (fp.dataset, suppress_column, value, until, vid, when),
                ).lastrowid
                scoped[value] = int(sid)
                scope = Scope(int(sid), str(suppress_column), value, until, verdict, clean_note, when)
            out.append(Verdict(vid, verdict, clean_note, when, key, content, file_name, int(row), scope))
        return out

    return store.write(write)


def clear_verdicts(
    store: ReviewStore, frame: pd.DataFrame, rows: Sequence[int], *, file_name: str | None = None,
    fingerprinter: Fingerprinter | None = None,
) -> int:
    """Undo the rows' verdicts (and lift the suppressions they brought); returns how many
    rows had one."""
    rows = _check_rows(frame, rows)
    fp = fingerprinter or Fingerprinter.for_frame(frame)
    by_key, by_content = latest_verdicts(store, fp.dataset)
    keys, contents = fp.rows(frame, rows)
    when = now_iso()

    def write(conn: sqlite3.Connection) -> int:
        cleared = 0
        for row, key, content in zip(rows, keys.tolist(), contents.tolist()):
            # As review_state finds it: by the key, or by content for a row without an ID.
            current = by_key.get(key) or (by_content.get(key) if not key.startswith("id:") else None)
            if current is None:
                continue
            cleared += 1
            for name in {key, current.fingerprint}:
                conn.execute(
                    "INSERT INTO verdicts (dataset, fingerprint, content, verdict, note, created, file_name, row_index) "
                    "VALUES (?, ?, ?, 'cleared', NULL, ?, ?, ?)",
                    (fp.dataset, name, content if name == key else current.content, when, file_name, int(row)),
                )
            conn.execute("UPDATE suppressions SET lifted = ? WHERE verdict_id = ? AND lifted IS NULL", (when, current.id))
        return cleared

    return store.write(write)


def _check_rows(frame: pd.DataFrame, rows: Iterable[int]) -> list[int]:
    out = [int(r) for r in rows]
    if not out:
        raise ValueError("no rows given")
    n = len(frame)
    for row in out:
        if not 0 <= row < n:
            last = f"row_index 0-{n - 1}" if n else "no rows"
            raise ValueError(f"row {row} is not in the table ({n:,} rows: {last})")
    return list(dict.fromkeys(out))


def _clean_note(note: str | None) -> str | None:
    if note is None:
        return None
    text = str(note).strip()
    if len(text) > 2000:
        raise ValueError("a note is at most 2,000 characters")
    return text or None


# -- runs ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunSummary:
    id: int
    dataset: str
    origin: str
    file_name: str
    path: str
    sha256: str
    sheet: str | None
    model_key: str | None
    model_kind: str | None
    threshold: float | None
    threshold_percentile: float | None
    created: str
    rows: int
    anomaly_count: int
    fingerprint_column: str | None
    tool_version: str | None
    reviewed: int = 0
    new: int | None = None

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


_RUN_COLUMNS = (
    "id, dataset, origin, file_name, path, sha256, sheet, model_key, model_kind, threshold, threshold_percentile, "
    "created, rows, anomaly_count, fingerprint_column, tool_version"
)


def record_run(
    store: ReviewStore,
    *,
    dataset: str,
    origin: str,
    file_name: str,
    path: str,
    sha256: str,
    sheet: str | None,
    model_key: str | None,
    model_kind: str | None,
    threshold: float | None,
    threshold_percentile: float | None,
    rows: int,
    fingerprint_column: str | None,
    tool_version: str | None,
    anomalies: Sequence[tuple[int, int | None, str, float, list[str]]],
) -> int:
    """Store one run and its anomalies ``(row_index, excel_row, fingerprint, score,
    top features)`` in rank order, in one transaction; returns the run's id."""
    created = now_iso()

    def write(conn: sqlite3.Connection) -> int:
        run_id = int(
            conn.execute(
                f"INSERT INTO runs ({_RUN_COLUMNS.partition(', ')[2]}) VALUES ({', '.join('?' * 15)})",
                (
                    dataset, origin, file_name, path, sha256, sheet, model_key, model_kind, threshold,
                    threshold_percentile, created, int(rows), len(anomalies), fingerprint_column, tool_version,
                ),
            ).lastrowid
        )
        conn.executemany(
            "INSERT INTO run_anomalies (run_id, rank, row_index, excel_row, fingerprint, score, top_features) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                (run_id, rank, int(row), excel, key, float(score), json.dumps(features, ensure_ascii=False))
                for rank, (row, excel, key, score, features) in enumerate(anomalies)
            ),
        )
        return run_id

    return store.write(write)


def previous_run(store: ReviewStore, dataset: str, before: int | None = None) -> int | None:
    """The dataset's latest run (before run ``before``, when given)."""
    limit = before if before is not None else 2**62
    row = store.read(lambda c: c.execute("SELECT max(id) FROM runs WHERE dataset = ? AND id < ?", (dataset, limit)).fetchone())
    return None if row is None or row[0] is None else int(row[0])


def run_fingerprints(store: ReviewStore, run_id: int) -> set[str]:
    rows = store.read(lambda c: c.execute("SELECT fingerprint FROM run_anomalies WHERE run_id = ?", (run_id,)).fetchall())
    return {r[0] for r in rows}


def list_runs(store: ReviewStore, *, dataset: str | None = None, limit: int = 50) -> list[RunSummary]:
    """Past runs, newest first, with how many of their anomalies are reviewed now and how many
    were not flagged in the dataset's run before."""

    def query(conn: sqlite3.Connection) -> list[tuple]:
        where, params = ("WHERE dataset = ?", (dataset, limit)) if dataset is not None else ("", (limit,))
        return conn.execute(f"SELECT {_RUN_COLUMNS} FROM runs {where} ORDER BY id DESC LIMIT ?", params).fetchall()

    current: dict[str, set[str]] = {}
    return [_summarised(store, RunSummary(*row), current) for row in store.read(query)]


def _summarised(store: ReviewStore, run: RunSummary, current: dict[str, set[str]]) -> RunSummary:
    if run.dataset not in current:
        current[run.dataset] = set(latest_verdicts(store, run.dataset)[0])
    keys = run_fingerprints(store, run.id)
    before = previous_run(store, run.dataset, run.id)
    new = len(keys - run_fingerprints(store, before)) if before is not None else None
    return RunSummary(**{**run.__dict__, "reviewed": len(keys & current[run.dataset]), "new": new})


def get_run(store: ReviewStore, run_id: int) -> tuple[RunSummary, list[dict[str, Any]]]:
    """One run and its anomalies (rank order), each with the row's verdict now."""
    row = store.read(lambda c: c.execute(f"SELECT {_RUN_COLUMNS} FROM runs WHERE id = ?", (int(run_id),)).fetchone())
    if row is None:
        raise StoreError(f"no run {run_id} in the review store")
    summary = _summarised(store, RunSummary(*row), {})
    verdicts, _ = latest_verdicts(store, summary.dataset)
    rows = store.read(
        lambda c: c.execute(
            "SELECT rank, row_index, excel_row, fingerprint, score, top_features FROM run_anomalies "
            "WHERE run_id = ? ORDER BY rank",
            (int(run_id),),
        ).fetchall()
    )
    anomalies = []
    for rank, row_index, excel_row, key, score, features in rows:
        verdict = verdicts.get(key)
        anomalies.append({
            "rank": rank, "row_index": row_index, "excel_row": excel_row, "fingerprint": key, "score": score,
            "top_features": json.loads(features), "review": verdict.to_json() if verdict is not None else None,
        })
    return summary, anomalies
