"""Row fingerprints: a name for a row that survives a re-sorted re-export and next month's file.

A verdict is kept against a fingerprint, never a row number, so that it finds its row again
wherever the row went. A table with an identifier column (the column roles find one: unique
per row, named like an ID) names each row by that column's value. Without one, a row is named
by a hash of its model-relevant content: the cells of the columns the model would learn from,
each with its column's name, so the column order does not matter either and an identifier,
free text or a constant "exported on" column does not change it.

Cells are compared as text in one canonical form, so the same value read from .xlsx and from
.csv (5 and 5.0, a date and the same date at midnight) gives the same fingerprint.

A table's *dataset* is its set of column names: a re-sorted copy and next month's file with the
same header share their verdicts; an unrelated table with other columns never sees them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
from dataclasses import dataclass
from functools import reduce
from typing import Any

import numpy as np
import pandas as pd

from ..model.roles import MODEL_ROLES, Role, as_datetime, as_numeric, looks_like_id_name, profile_columns
# The same yes/no reading the roles use, so a CSV's "yes" and a workbook's TRUE agree.
from ..model.roles import _bool_series as bool_series

#: Share of rows that must have a value in an identifier column for it to name the rows.
ID_FILLED = 0.9
_SEP = "\x1f"
_ROW_SEP = "\x1e"


def _digest(text: str, size: int = 16) -> str:
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=size).hexdigest()


def canonical(value: Any) -> str:
    """One cell as the text fingerprints and suppression scopes compare ("" when missing)."""
    if value is None or value is pd.NaT:
        return ""
    if isinstance(value, (bool, np.bool_)):
        return "true" if value else "false"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        number = float(value)
        if math.isnan(number):
            return ""
        if number.is_integer() and abs(number) < 2**63:
            return str(int(number))
        return repr(number)
    if isinstance(value, (pd.Timestamp, dt.datetime)):
        stamp = pd.Timestamp(value)
        if stamp.tzinfo is not None:
            stamp = stamp.tz_convert("UTC").tz_localize(None)
        if stamp == stamp.normalize():
            return stamp.strftime("%Y-%m-%d")
        return stamp.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    try:
        if pd.isna(value):
            return ""
    except (TypeError, ValueError):
        pass
    return str(value).strip()


def canonical_column(series: pd.Series) -> np.ndarray:
    """Every cell of a column in canonical form (an object array of str): each distinct value
    is converted once."""
    if len(series) and pd.api.types.infer_dtype(series, skipna=False) == "string" and not series.isna().any():
        # Nothing but text (an ID column: as many values as rows): canonical() of a str is the
        # str stripped, and finding the distinct values first would cost more than it saves.
        return np.array([text.strip() for text in series.tolist()], dtype=object)
    try:
        codes, uniques = pd.factorize(series, use_na_sentinel=True)
    except TypeError:  # unhashable cells
        return np.array([canonical(v) for v in series.tolist()], dtype=object)
    texts = np.array([canonical(v) for v in np.asarray(uniques, dtype=object)] + [""], dtype=object)
    return texts[codes]  # the sentinel -1 picks the "" appended last


def _as_role(series: pd.Series, role: str) -> pd.Series:
    """The column's cells as the model reads them, so text that holds numbers, dates or yes/no
    (a CSV) and the typed cells of a workbook come out the same."""
    if role == Role.NUMERIC:
        return as_numeric(series)[0]
    if role == Role.DATETIME:
        return as_datetime(series)[0]
    if role == Role.BOOLEAN:
        flags = bool_series(series)
        return flags if flags is not None else series
    return series


@dataclass(frozen=True)
class Fingerprinter:
    """How the rows of one table are named (see the module's description)."""

    dataset: str
    #: The identifier column that names the rows, or None (content hashes only).
    id_column: str | None
    #: ``(column, role)`` of the cells that make up a row's content hash, sorted by name.
    content_columns: tuple[tuple[str, str], ...]

    @classmethod
    def for_frame(cls, frame: pd.DataFrame, profiles: list | None = None) -> Fingerprinter:
        """``profiles``: :func:`profile_columns` of ``frame``, where already known."""
        profiles = profile_columns(frame) if profiles is None else profiles
        content = tuple(sorted((p.name, str(p.role)) for p in profiles if p.role in MODEL_ROLES))
        if not content:
            content = tuple(sorted((str(c), str(Role.CATEGORICAL)) for c in frame.columns))
        return cls(dataset_key(frame), _id_column(frame, profiles), content)

    def contents(self, frame: pd.DataFrame, rows: np.ndarray | list[int] | None = None) -> np.ndarray:
        """The content hash ``row:<hex>`` of ``rows`` (default every row)."""
        part = frame if rows is None else frame.iloc[np.asarray(rows, dtype=np.int64)]
        columns = {str(c): c for c in part.columns}
        pieces = []
        for name, role in self.content_columns:
            if name in columns:
                cells = canonical_column(_as_role(part[columns[name]], role))
            else:
                cells = np.full(len(part), "", dtype=object)
            pieces.append(name + _SEP + cells)
        joined = reduce(lambda a, b: a + _ROW_SEP + b, pieces)
        return np.array(["row:" + _digest(text) for text in joined], dtype=object)

    def keys(self, frame: pd.DataFrame, rows: np.ndarray | list[int] | None = None) -> np.ndarray:
        """Each row's fingerprint: ``id:<column>:<value>`` where the identifier column has a
        value, else its content hash (computed only for those rows)."""
        part = frame if rows is None else frame.iloc[np.asarray(rows, dtype=np.int64)]
        columns = {str(c): c for c in part.columns}
        if self.id_column is None or self.id_column not in columns:
            return self.contents(part)
        ids = canonical_column(part[columns[self.id_column]])
        keys = (f"id:{self.id_column}:" + ids).astype(object)
        missing = np.flatnonzero(ids == "")
        if len(missing):
            keys[missing] = self.contents(part, missing)
        return keys

    def rows(self, frame: pd.DataFrame, rows: np.ndarray | list[int] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """``(keys, contents)`` for ``rows``: a verdict keeps both, so a row recorded by its
        identifier can still be found by content in a copy whose identifier column is gone."""
        part = frame if rows is None else frame.iloc[np.asarray(rows, dtype=np.int64)]
        return self.keys(part), self.contents(part)

    def cells(self, frame: pd.DataFrame, column: str) -> np.ndarray:
        """One column in canonical form (what a suppression scope compares with)."""
        columns = {str(c): c for c in frame.columns}
        if column not in columns:
            return np.full(len(frame), None, dtype=object)
        return canonical_column(frame[columns[column]])


def dataset_key(frame: pd.DataFrame) -> str:
    """The table's column names, in any order, as a short key."""
    return _digest(_SEP.join(sorted(str(c) for c in frame.columns)), 8)


def _id_column(frame: pd.DataFrame, profiles: list) -> str | None:
    """The identifier column that can name rows: unique among its filled cells, filled in
    nearly every row. A column named like an ID wins over one that is only unique; a bare
    running number (1, 2, 3, … not named like an ID) is left alone, since a re-export
    renumbers it."""
    n = len(frame)
    if n == 0:
        return None
    columns = {str(c): c for c in frame.columns}
    candidates = []
    for profile in profiles:
        if profile.role is not Role.IDENTIFIER:
            continue
        series = frame[columns[profile.name]]
        filled = series.dropna()
        if len(filled) < ID_FILLED * n:
            continue
        canon = canonical_column(filled)
        if len(set(canon.tolist())) != len(canon) or (canon == "").any():
            continue
        named = looks_like_id_name(profile.name)
        if not named and _running_number(filled):
            continue
        candidates.append((0 if named else 1, list(columns).index(profile.name), profile.name))
    return min(candidates)[2] if candidates else None


def _running_number(filled: pd.Series) -> bool:
    if not pd.api.types.is_numeric_dtype(filled.dtype) or pd.api.types.is_bool_dtype(filled.dtype):
        return False
    values = np.sort(filled.to_numpy(dtype=np.float64))
    return bool(len(values) > 1 and np.all(np.diff(values) == 1))
