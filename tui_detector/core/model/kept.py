"""A scored table's results kept with the model cached for it, so reopening the file scores
nothing again.

The cache keys a model by the file's hash and the settings, so the table a cached model meets
again is usually the very one it scored before. Its four raw parts (``scores.npz``) give the
same scores to the bit; of its reconstruction only the flagged rows are kept (the rows a user
explains), and any other row asked for is restored then, from the rest of its row as always.

Where the caller names the table (:attr:`KeptScores.table`: the cache entry, the file's hash,
the rows and columns), the rows are not even encoded again: what the encoding told (the
transform report) and what verdicts re-rank by (``feedback_parts``) are kept too, and the
encoded matrix is only built if something asks for a row the kept results do not cover
(:class:`DeferredMatrix`).
"""

from __future__ import annotations

import hashlib
import io
import threading
import weakref
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .persist import ModelFileError

#: The file in a model directory that holds them.
KEPT_FILE = "scores.npz"


#: The last read-only matrix hashed and its digest: training, scoring and keeping the same
#: table each ask (a full-size sheet's matrix takes about a second to hash).
_LAST_DIGEST: tuple[weakref.ref, str] | None = None


def matrix_digest(matrix: np.ndarray) -> str:
    global _LAST_DIGEST
    if not matrix.flags.writeable and _LAST_DIGEST is not None and _LAST_DIGEST[0]() is matrix:
        return _LAST_DIGEST[1]
    # SHA-256 (cut to 128 bits, the width kept since BLAKE2b-128) runs in the CPU's own SHA
    # instructions where it has them: 0.4 s for a full-size sheet's matrix against 1.0 s.
    digest = hashlib.sha256(np.ascontiguousarray(matrix).view(np.uint8)).hexdigest()[:32]
    if not matrix.flags.writeable and matrix.base is None:
        # Only an array that owns its memory and cannot be written through: nothing can change
        # it under the memo.
        _LAST_DIGEST = (weakref.ref(matrix), digest)
    return digest


@dataclass(frozen=True)
class KeptScores:
    """The raw parts of every row of one encoded table, and the reconstruction of some rows."""

    #: Of the encoded table (see :func:`matrix_digest`).
    digest: str
    #: parts x rows, float64: what ``EnsembleScorer.parts_of`` computed.
    parts: np.ndarray
    #: Sorted row positions whose reconstruction is kept, and that reconstruction (float32).
    rows: np.ndarray
    recon: np.ndarray
    #: Of those rows (rows x columns): ``EnsembleScorer.column_errors``' three arrays.
    errors: np.ndarray
    ranking: np.ndarray
    contribution: np.ndarray
    #: Who the table is (see ``pipeline.table_key``), the encoding's report on it (JSON-ready,
    #: see :meth:`TransformReport.to_json`) and its ``feedback_parts``: with all three a named
    #: table is scored without encoding it. None in entries written before they were kept.
    table: str | None = None
    report: dict[str, Any] | None = None
    features: np.ndarray | None = None

    def matches(self, matrix: np.ndarray) -> bool:
        return self.parts.shape[1] == matrix.shape[0] and self.digest == matrix_digest(matrix)

    def known_as(self, table: str | None, rows: int) -> bool:
        """Whether these are the results of the table named ``table`` with ``rows`` rows, with
        everything kept that scoring it without encoding it needs."""
        return (
            table is not None
            and self.table == table
            and self.parts.shape[1] == rows
            and self.report is not None
            and self.features is not None
        )

    def to_bytes(self) -> memoryview:
        """The ``.npz`` file's bytes, as a view of the buffer they were written to: on a
        full-size sheet they weigh over a hundred megabytes, and a copy would be the process's
        peak memory."""
        buffer = io.BytesIO()
        np.savez(
            buffer,
            parts=self.parts,
            rows=self.rows,
            recon=self.recon,
            errors=self.errors,
            ranking=self.ranking,
            contribution=self.contribution,
            **({"features": self.features} if self.features is not None else {}),
        )
        return buffer.getbuffer()

    def manifest(self) -> dict[str, Any]:
        """What the model's manifest says about them (its ``ensemble`` section)."""
        out: dict[str, Any] = {"kept_digest": self.digest}
        if self.table is not None and self.report is not None:
            out.update(kept_table=self.table, kept_report=self.report)
        return out

    @classmethod
    def from_npz(
        cls, path: Path, manifest: dict[str, Any], n_parts: int, n_features: int, n_columns: int
    ) -> KeptScores:
        """Raises ModelFileError when the file does not fit the model (``manifest``: the
        ensemble section of the model's manifest)."""
        digest = manifest.get("kept_digest")
        try:
            with np.load(path, allow_pickle=False) as data:
                parts = np.array(data["parts"], dtype=np.float64)
                rows = np.array(data["rows"], dtype=np.int64)
                recon = np.array(data["recon"], dtype=np.float32)
                explained = [np.array(data[k], dtype=np.float64) for k in ("errors", "ranking", "contribution")]
                features = np.array(data["features"], dtype=np.float32) if "features" in data.files else None
        except (KeyError, ValueError, OSError, zipfile.BadZipFile, EOFError) as exc:
            raise ModelFileError(f"{path} is unreadable ({exc})") from None
        n = parts.shape[1] if parts.ndim == 2 else -1
        if (
            not isinstance(digest, str)
            or parts.ndim != 2
            or parts.shape[0] != n_parts
            or rows.ndim != 1
            or recon.shape != (rows.size, n_features)
            or (rows.size and (rows.min() < 0 or rows.max() >= n or np.any(np.diff(rows) <= 0)))
            or not np.all(np.isfinite(parts))
            or any(a.shape != (rows.size, n_columns) for a in explained)
        ):
            raise ModelFileError(f"{path}: the kept scores do not fit the model")
        table, report = manifest.get("kept_table"), manifest.get("kept_report")
        if features is not None and (features.ndim != 2 or features.shape[0] != n or not np.all(np.isfinite(features))):
            raise ModelFileError(f"{path}: the kept scores do not fit the model")
        if not isinstance(table, str) or not isinstance(report, dict) or features is None:
            # Kept by a version that did not name the table: used only after encoding it.
            table, report, features = None, None, None
        return cls(digest, parts, rows, recon, *explained, table=table, report=report, features=features)


class DeferredMatrix:
    """A table's encoded matrix, built by ``build()`` the first time a row of it is asked for
    (read like the array: ``[rows]``, ``.shape``, ``np.asarray``). A named table's kept results
    answer everything a reopen usually asks without it."""

    ndim = 2

    def __init__(self, build: Callable[[], np.ndarray], shape: tuple[int, int]) -> None:
        self.shape = shape
        self._build = build
        self._value: np.ndarray | None = None
        self._lock = threading.Lock()

    @property
    def built(self) -> bool:
        return self._value is not None

    def value(self) -> np.ndarray:
        with self._lock:  # the app explains rows from more than one thread
            if self._value is None:
                self._value = self._build()
            return self._value

    def __getitem__(self, key: Any) -> np.ndarray:
        return self.value()[key]

    def __len__(self) -> int:
        return self.shape[0]

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        value = self.value()
        return value if dtype is None else value.astype(dtype, copy=False)


class KeptReconstruction:
    """A table's reconstruction, read like the array (``recon[rows]``, ``.shape``): kept rows
    come from :class:`KeptScores`, others from ``restore(rows)`` when first asked for."""

    def __init__(self, kept: KeptScores, n_features: int, restore: Callable[[np.ndarray], np.ndarray]) -> None:
        self.shape = (kept.parts.shape[1], n_features)
        self._kept = kept
        self._restore = restore
        self._where = np.full(self.shape[0], -1, dtype=np.int64)
        self._where[kept.rows] = np.arange(kept.rows.size)

    def __getitem__(self, rows: np.ndarray | list[int]) -> np.ndarray:
        rows = np.asarray(rows, dtype=np.int64).reshape(-1)
        out = np.empty((rows.size, self.shape[1]), dtype=np.float32)
        at = self._where[rows]
        have = at >= 0
        out[have] = self._kept.recon[at[have]]
        if not have.all():
            out[~have] = self._restore(rows[~have])
        return out

    def column_errors(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """The kept column errors of ``rows``; None unless every one of them is kept."""
        at = self._where[np.asarray(rows, dtype=np.int64).reshape(-1)]
        if not np.all(at >= 0):
            return None
        kept = self._kept
        return kept.errors[at], kept.ranking[at], kept.contribution[at]
