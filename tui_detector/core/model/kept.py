"""A scored table's results kept with the model cached for it, so reopening the file scores
nothing again.

The cache keys a model by the file's hash and the settings, so the table a cached model meets
again is usually the very one it scored before. Its four raw parts (``scores.npz``) give the
same scores to the bit; of its reconstruction only the flagged rows are kept (the rows a user
explains), and any other row asked for is restored then, from the rest of its row as always.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .persist import ModelFileError

#: The file in a model directory that holds them.
KEPT_FILE = "scores.npz"


def matrix_digest(matrix: np.ndarray) -> str:
    return hashlib.blake2b(np.ascontiguousarray(matrix).view(np.uint8), digest_size=16).hexdigest()


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

    def matches(self, matrix: np.ndarray) -> bool:
        return self.parts.shape[1] == matrix.shape[0] and self.digest == matrix_digest(matrix)

    def to_bytes(self) -> bytes:
        buffer = io.BytesIO()
        np.savez(
            buffer,
            parts=self.parts,
            rows=self.rows,
            recon=self.recon,
            errors=self.errors,
            ranking=self.ranking,
            contribution=self.contribution,
        )
        return buffer.getvalue()

    @classmethod
    def from_npz(cls, path: Path, digest: str, n_parts: int, n_features: int, n_columns: int) -> KeptScores:
        """Raises ModelFileError when the file does not fit the model."""
        try:
            with np.load(path, allow_pickle=False) as data:
                parts = np.array(data["parts"], dtype=np.float64)
                rows = np.array(data["rows"], dtype=np.int64)
                recon = np.array(data["recon"], dtype=np.float32)
                explained = [np.array(data[k], dtype=np.float64) for k in ("errors", "ranking", "contribution")]
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
        return cls(digest, parts, rows, recon, *explained)


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
