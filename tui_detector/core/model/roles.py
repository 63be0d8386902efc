"""Column roles: what each column of a table is, and whether the model should see it.

The seed recipe label-encoded every non-numeric column, which turns IDs, timestamps and free text
into large meaningless numbers. Here each column gets one role, decided from its values (and, for
identifiers, its name), with a sentence the user can read to see why.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, replace
from enum import StrEnum
from typing import Any

import numpy as np
import pandas as pd


class Role(StrEnum):
    NUMERIC = "numeric"
    BOOLEAN = "boolean"
    DATETIME = "datetime"
    CATEGORICAL = "categorical"
    IDENTIFIER = "identifier"
    TEXT = "text"
    CONSTANT = "constant"
    EMPTY = "empty"


#: Roles the model learns from; the others are excluded with a reason.
MODEL_ROLES = frozenset({Role.NUMERIC, Role.BOOLEAN, Role.DATETIME, Role.CATEGORICAL})

_ID_NAME = re.compile(
    r"(^|[\s_\-.])(id|ids|uuid|guid|key|code|no|nr|num|number|ref|reference|#)$|^(id|uuid|guid)[\s_\-.]|"
    r"[a-z](Id|ID)$",
)
_BOOL_TOKENS = {
    "true": True, "false": False, "yes": True, "no": False, "y": True, "n": False,
    "t": True, "f": False, "1": True, "0": False, "on": True, "off": False,
}
_DATE_LIKE = re.compile(
    r"^\s*(\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}|"
    r"\d{1,2}\s+[A-Za-z]{3,9}\.?\s+\d{2,4}|[A-Za-z]{3,9}\.?\s+\d{1,2},?\s+\d{2,4})"
    r"([ T]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?\s*([AaPp][Mm])?(Z|[+-]\d{2}:?\d{2})?)?\s*$"
)
_NUMERIC_TEXT = re.compile(r"^\s*[-+]?(\d+([.,]\d*)?|[.,]\d+)([eE][-+]?\d+)?\s*$")

#: Above this many distinct values per row a text column is an identifier or free text.
UNIQUE_RATIO = 0.9
#: Free text: values with this many words on average, or this many characters.
TEXT_WORDS = 3.0
TEXT_CHARS = 40.0


@dataclass(frozen=True)
class ColumnProfile:
    """What the core decided about one column, with the reason shown to the user."""

    name: str
    role: Role
    reason: str
    distinct: int
    missing: int
    rows: int
    #: ``True`` when the user chose the role; inference never overrides it.
    forced: bool = False

    @property
    def used(self) -> bool:
        return self.role in MODEL_ROLES

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["role"] = str(self.role)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ColumnProfile:
        return cls(**{**data, "role": Role(data["role"])})


def looks_like_id_name(name: str) -> bool:
    """Whether a column name reads like an identifier ("claim_id", "Order No", "SKU code")."""
    stripped = name.strip()
    return bool(_ID_NAME.search(stripped) or _ID_NAME.search(stripped.lower()))


def _text_values(series: pd.Series) -> pd.Series:
    values = series.dropna()
    if pd.api.types.is_string_dtype(values.dtype) and values.dtype != object:
        return values  # a string column holds only text: no per-cell conversion needed
    return values.map(lambda v: v if isinstance(v, str) else str(v))


UNIQUE_CHUNK = 65_536


def _distinct_values(series: pd.Series) -> np.ndarray:
    """The column's distinct values (a large column has few; checks on them cost per value, not per row)."""
    try:
        if len(series) <= UNIQUE_CHUNK:
            return pd.unique(series)
        # Chunk by chunk, then once more over the (few) results: the same values in the same
        # order, without one call that holds the interpreter lock for a million rows.
        parts = [pd.Series(pd.unique(series.iloc[i : i + UNIQUE_CHUNK])) for i in range(0, len(series), UNIQUE_CHUNK)]
        return pd.unique(pd.concat(parts, ignore_index=True))
    except TypeError:  # an unhashable cell: fall back to the cells themselves
        return series.to_numpy(dtype=object)


def _bool_series(series: pd.Series) -> pd.Series | None:
    """The column as booleans when every value is a boolean token, else ``None``."""
    values = series.dropna()
    if values.empty:
        return None
    if pd.api.types.is_bool_dtype(values.dtype):
        return series.astype("boolean")
    if pd.api.types.is_numeric_dtype(values.dtype):
        numbers = values.to_numpy(dtype=float)
        if bool(((numbers == 0.0) | (numbers == 1.0)).all()):
            numbers = series.to_numpy(dtype=float, na_value=np.nan)
            flags = pd.array(numbers == 1.0, dtype="boolean")
            flags[np.isnan(numbers)] = pd.NA
            return pd.Series(flags, index=series.index, name=series.name)
        return None
    if pd.api.types.is_datetime64_any_dtype(values.dtype) or isinstance(values.dtype, pd.PeriodDtype):
        return None  # dates are never yes/no (and a million distinct ones are slow to look at)
    if isinstance(values.dtype, pd.StringDtype):
        # Text only: decided on the distinct values in Arrow (a column of a million IDs has a
        # million of them, and walking them as Python strings takes seconds).
        # Any one cell that is not a yes/no token decides: a column of IDs or names is told
        # apart by its first cells, without folding a million of them.
        first = values.iloc[:1024].str.strip().str.lower().unique()
        if not all(v in _BOOL_TOKENS for v in first):
            return None
        folded = series.str.strip().str.lower()
        distinct = folded.dropna().unique()
        if len(distinct) > 2 or not all(v in _BOOL_TOKENS for v in distinct):
            return None
        return folded.map(_BOOL_TOKENS).astype("boolean")
    lowered = {str(v).strip().lower() if not isinstance(v, bool) else v for v in _distinct_values(values)}
    if not all(isinstance(v, bool) or v in _BOOL_TOKENS for v in lowered):
        return None
    if len(lowered) > 2:
        return None
    mapped = series.map(
        lambda v: None
        if v is None or (isinstance(v, float) and np.isnan(v))
        else (v if isinstance(v, bool) else _BOOL_TOKENS[str(v).strip().lower()])
    )
    return mapped.astype("boolean")


def as_numeric(series: pd.Series) -> tuple[pd.Series, int]:
    """Numbers from a column: values that are not numbers become NaN, and are counted.

    Infinite values are not numbers a model can use; they are counted with the coerced cells.
    """
    if pd.api.types.is_bool_dtype(series.dtype):
        out = series.astype("float64")
    elif pd.api.types.is_numeric_dtype(series.dtype):
        out = pd.to_numeric(series, errors="coerce").astype("float64")
    else:
        def convert(value: Any) -> float:
            if value is None or isinstance(value, bool):
                return float(value) if isinstance(value, bool) else np.nan
            if isinstance(value, (int, float, np.number)):
                return float(value)
            text = str(value).strip().replace("\u00a0", "").replace(" ", "")
            if "," in text and "." not in text:
                text = text.replace(",", ".")
            else:
                text = text.replace(",", "")
            try:
                return float(text)
            except ValueError:
                return np.nan

        out = series.map(convert).astype("float64")
    before = int(series.notna().sum())
    out = out.where(np.isfinite(out.to_numpy(dtype="float64", na_value=np.nan)))
    coerced = before - int(out.notna().sum())
    return out, coerced


def as_datetime(series: pd.Series) -> tuple[pd.Series, int]:
    """Datetimes from a column (timezone dropped to UTC wall time); unparseable cells counted."""
    if pd.api.types.is_datetime64_any_dtype(series.dtype):
        out = series
    else:
        values = series.map(lambda v: v.isoformat() if hasattr(v, "isoformat") else v)
        out = pd.to_datetime(values, errors="coerce", utc=True, format="mixed")
    if getattr(out.dt, "tz", None) is not None:
        out = out.dt.tz_convert("UTC").dt.tz_localize(None)
    out = out.astype("datetime64[ns]")
    coerced = int(series.notna().sum()) - int(out.notna().sum())
    return out, coerced


def _share_matching(values: pd.Series, pattern: re.Pattern[str], sample: int = 500) -> float:
    head = values.head(sample)
    if head.empty:
        return 0.0
    return float(head.map(lambda v: bool(pattern.match(v))).mean())


def infer_role(series: pd.Series, name: str | None = None, *, distinct: int | None = None) -> tuple[Role, str]:
    """The role of one column and the reason, in words a user can check (``distinct``: its
    count of distinct values, when the caller has it already: a million-row text column takes
    a fifth of a second to count)."""
    name = str(series.name if name is None else name)
    present = series.dropna()
    if series.dtype == object:
        present = present[present.map(lambda v: not (isinstance(v, str) and not v.strip()))]
    n = len(present)
    if n == 0:
        return Role.EMPTY, "every cell is empty"
    if pd.api.types.is_datetime64_any_dtype(series.dtype) or isinstance(series.dtype, pd.StringDtype):
        # in C; a str column holds nothing but strings (and nothing is left out of ``present``
        # but missing cells, so the caller's count of the whole column is the same)
        distinct = present.nunique() if distinct is None else distinct
    else:
        distinct = len({v if isinstance(v, (str, int, float, bool)) else str(v) for v in _distinct_values(present)})
    if distinct == 1:
        return Role.CONSTANT, f"every filled cell holds the same value ({_short(present.iloc[0])!r})"

    if _bool_series(series) is not None:
        return Role.BOOLEAN, "two values that read as yes/no"

    if pd.api.types.is_datetime64_any_dtype(series.dtype):
        return Role.DATETIME, "date/time cells"

    if pd.api.types.is_numeric_dtype(series.dtype):
        return _numeric_role(present, name, n, distinct)

    # Object columns: a mix of Python values, usually text.
    if isinstance(series.dtype, pd.StringDtype):
        share_text = 1.0
    else:
        kinds = present.map(lambda v: type(v).__name__)
        share_text = float((kinds == "str").mean())
    if share_text < 0.5:
        # Mostly numbers or dates written as cells, with some text mixed in.
        share_dt = float(present.map(lambda v: hasattr(v, "isoformat")).mean())
        if share_dt >= 0.9:
            return Role.DATETIME, f"date/time cells ({share_dt:.0%} of filled cells)"
        numbers, _ = as_numeric(present)
        share_num = float(numbers.notna().mean())
        if share_num >= 0.9:
            role, reason = _numeric_role(numbers.dropna(), name, n, distinct)
            return role, f"{reason}; {1 - share_num:.0%} of filled cells are not numbers"
    texts = _text_values(present)
    share_numeric_text = _share_matching(texts, _NUMERIC_TEXT)
    if share_numeric_text >= 0.95:
        numbers, _ = as_numeric(texts)
        if numbers.notna().mean() >= 0.95:
            role, reason = _numeric_role(numbers.dropna(), name, n, distinct)
            if role is Role.NUMERIC:
                return role, "numbers stored as text"
            return role, reason
    if _share_matching(texts, _DATE_LIKE) >= 0.9:
        parsed, _ = as_datetime(texts.head(500))
        if parsed.notna().mean() >= 0.9:
            return Role.DATETIME, "text that reads as dates"

    ratio = distinct / n
    words = float(texts.head(2000).map(lambda v: len(v.split())).mean())
    chars = float(texts.head(2000).map(len).mean())
    id_name = looks_like_id_name(name)
    if ratio >= UNIQUE_RATIO and n >= 10:
        if words >= TEXT_WORDS or chars >= TEXT_CHARS:
            return Role.TEXT, f"free text ({words:.1f} words per cell, {ratio:.0%} distinct)"
        return Role.IDENTIFIER, f"a different value in {ratio:.0%} of rows, like an ID"
    if id_name and ratio >= 0.5:
        return Role.IDENTIFIER, f"named like an ID and {ratio:.0%} distinct"
    if (words >= TEXT_WORDS or chars >= TEXT_CHARS) and ratio >= 0.5:
        return Role.TEXT, f"free text ({words:.1f} words per cell, {ratio:.0%} distinct)"
    return Role.CATEGORICAL, f"{distinct} distinct values"


def _numeric_role(present: pd.Series, name: str, n: int, distinct: int) -> tuple[Role, str]:
    values = present.to_numpy(dtype="float64")
    integral = bool(np.all(np.mod(values[np.isfinite(values)], 1) == 0))
    ratio = distinct / n
    if integral and n >= 10 and ratio >= 0.99:
        ordered = np.sort(values)
        steps = np.diff(ordered)
        if looks_like_id_name(name):
            return Role.IDENTIFIER, "named like an ID and unique per row"
        if steps.size and np.all(steps == 1):
            return Role.IDENTIFIER, "a running number (1, 2, 3, …), unique per row"
    if integral and looks_like_id_name(name) and ratio >= 0.5:
        return Role.IDENTIFIER, f"named like an ID and {ratio:.0%} distinct"
    if integral and n >= 10 and ratio >= 0.9 and float(np.mean(np.abs(values) >= 2**53)) >= 0.9:
        # Account, card and device numbers: 16+ digit whole numbers, (nearly) all distinct.
        # As floats they are not even exact (Excel keeps 15 significant digits), and as
        # features their size would swamp every other column.
        return Role.IDENTIFIER, "whole numbers of 16+ digits, nearly all distinct: an identifier"
    return Role.NUMERIC, "numbers"


def _short(value: Any, limit: int = 30) -> str:
    text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def profile_columns(
    frame: pd.DataFrame, overrides: dict[str, Role | str] | None = None
) -> list[ColumnProfile]:
    """A profile per column, in table order; ``overrides`` (column → role) win over inference."""
    overrides = {str(k): Role(v) for k, v in (overrides or {}).items()}
    unknown = set(overrides) - {str(c) for c in frame.columns}
    if unknown:
        raise KeyError(f"no such column(s): {', '.join(sorted(unknown))}")
    profiles = []
    for column in frame.columns:
        series = frame[column]
        key = str(column)
        missing = int(series.isna().sum())
        try:
            distinct = int(series.nunique(dropna=True))
        except TypeError:
            distinct = int(series.astype(str).nunique(dropna=True))
        if key in overrides:
            role = overrides[key]
            reason = "chosen by you" if role in MODEL_ROLES else "excluded by you"
            profiles.append(ColumnProfile(key, role, reason, distinct, missing, len(series), True))
            continue
        role, reason = infer_role(series, key, distinct=distinct)
        profiles.append(ColumnProfile(key, role, reason, distinct, missing, len(series)))
    return profiles


def apply_roles(profiles: list[ColumnProfile], overrides: dict[str, Role | str] | None = None) -> list[ColumnProfile]:
    """``profile_columns(frame, overrides)`` from ``profiles``, the frame's guessed profiles: the
    columns the user chose a role for take it, the others keep the guess."""
    overrides = {str(k): Role(v) for k, v in (overrides or {}).items()}
    unknown = set(overrides) - {p.name for p in profiles}
    if unknown:
        raise KeyError(f"no such column(s): {', '.join(sorted(unknown))}")
    out = []
    for p in profiles:
        role = overrides.get(p.name)
        if role is None:
            out.append(p)
            continue
        reason = "chosen by you" if role in MODEL_ROLES else "excluded by you"
        out.append(ColumnProfile(p.name, role, reason, p.distinct, p.missing, p.rows, True))
    return out


def toggle_column(current: ColumnProfile, inferred: ColumnProfile, *, numeric: bool) -> ColumnProfile | None:
    """What include/exclude (``space`` in Set up) makes of a column; ``None`` when it cannot.

    ``current`` is the column as it stands, ``inferred`` what :func:`profile_columns` decided
    for it, ``numeric`` whether its cells are stored as numbers. A used column is excluded
    (as text, a role the model never sees); an excluded one goes back to its inferred role when
    the model would use that, and otherwise is included as numbers or categories, by how its
    cells are stored. An empty column has nothing to learn from and stays out. A result with
    ``forced`` set is the user's choice (an override for :func:`profile_columns`); one
    without is the inferred profile itself.
    """
    if current.used:
        return replace(current, role=Role.TEXT, reason="excluded by you", forced=True)
    if inferred.used:
        return inferred
    if inferred.role is Role.EMPTY:
        return None
    role = Role.NUMERIC if numeric else Role.CATEGORICAL
    return replace(current, role=role, reason="chosen by you", forced=True)
