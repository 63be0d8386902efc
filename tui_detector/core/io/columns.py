"""One column of cells as a typed array: what a cell value is, and which dtype a column gets.

Workbook cells arrive as Python values (floats, dates, text); text-file fields arrive as
strings. Both end as the same dtypes here (nullable integers for whole numbers, float64,
datetime64, boolean, pandas' ``str``), so a table types the same whichever engine read it.
"""

from __future__ import annotations

import datetime as _dt
import re
from typing import Any

import numpy as np
import pandas as pd
from pandas.api.types import infer_dtype

__all__ = [
    "DECIMAL_COMMA_RE",
    "convert_native",
    "convert_text",
    "format_duration",
    "header_text",
    "is_texty_string",
]

_NUM_RE = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")
DECIMAL_COMMA_RE = re.compile(r"^[+-]?(\d{1,3}(\.\d{3})+|\d+),\d+$")
_DECIMAL_COMMA_FIELD_RE = re.compile(r"^[+-]?(\d{1,3}(\.\d{3})+|\d+)(,\d+)?$")
_DATE_LIKE_RE = re.compile(
    r"^(\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}([ T]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?)?"
    r"|\d{1,2}:\d{2}(:\d{2})?)$"
)
_BOOL_WORDS = frozenset({"true", "false"})


def is_texty_string(s: str) -> bool:
    """A string that reads as a label rather than as a number, boolean, date or time."""
    t = s.strip()
    if not t:
        return False
    if _NUM_RE.match(t) or DECIMAL_COMMA_RE.match(t):
        return False
    if t.lower() in _BOOL_WORDS:
        return False
    if _DATE_LIKE_RE.match(t):
        return False
    return True


def header_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 2**53:
            return str(int(value))
        return repr(value)
    if isinstance(value, _dt.datetime):
        if value.time() == _dt.time(0):
            return value.date().isoformat()
        return value.isoformat(sep=" ")
    if isinstance(value, (_dt.date, _dt.time)):
        return value.isoformat()
    if isinstance(value, _dt.timedelta):
        return format_duration(value)
    return str(value).strip()


def format_duration(td: _dt.timedelta) -> str:
    # Matches how Excel shows a [h]:mm:ss duration, e.g. 30:00:00 rather than "1 day, 6:00:00".
    total = td.total_seconds()
    sign = "-" if total < 0 else ""
    total = abs(total)
    hours, rest = divmod(int(total), 3600)
    minutes, seconds = divmod(rest, 60)
    frac = total - int(total)
    text = f"{sign}{hours}:{minutes:02d}:{seconds:02d}"
    if frac > 1e-9:
        text += f"{frac:.6f}"[1:].rstrip("0")
    return text


def convert_native(col: np.ndarray, present: np.ndarray | None = None) -> tuple[Any, str | None]:
    """Typed column for cell values from a workbook; second item is a note for the report."""
    n = len(col)
    if present is None:
        present = ~pd.isna(col)
    if not present.any():
        return np.full(n, None, dtype=object), None
    vals = col[present]
    kind = infer_dtype(vals, skipna=False)
    if kind == "boolean":
        return pd.array(col, dtype="boolean"), None
    if kind in ("floating", "integer", "mixed-integer-float"):
        return _numeric_column(present, vals, kind, n)
    if kind in ("datetime", "date", "datetime64"):
        try:
            conv = pd.to_datetime(pd.Series(col, dtype=object)).astype("datetime64[ns]")
            return conv.to_numpy(), None
        except (pd.errors.OutOfBoundsDatetime, OverflowError, ValueError, TypeError):
            return _mixed_column(col), "dates outside 1677-2262 were kept as plain values"
    if kind in ("time", "timedelta"):
        out = np.full(n, None, dtype=object)
        if kind == "time":
            out[present] = [v.isoformat() for v in vals]
        else:
            out[present] = [format_duration(v) for v in vals]
        return pd.array(out, dtype="str"), None
    if kind == "string":
        return pd.array(col, dtype="str"), None
    mixed = _mixed_column(col)
    if infer_dtype(mixed, skipna=True) == "string":
        return pd.array(mixed, dtype="str"), None
    return mixed, None


def _ints_to_array(present: np.ndarray, ints: np.ndarray, n: int) -> Any:
    if present.all():
        return ints.astype(np.int64, copy=False)
    full = np.zeros(n, dtype=np.int64)
    full[present] = ints
    return pd.arrays.IntegerArray(full, ~present)


def _numeric_column(present: np.ndarray, vals: np.ndarray, kind: str, n: int) -> tuple[Any, None]:
    if kind == "integer":
        try:
            return _ints_to_array(present, vals.astype(np.int64), n), None
        except OverflowError:
            # Beyond int64: keep the exact Python ints rather than rounding them through float.
            out = np.full(n, None, dtype=object)
            out[present] = vals
            return out, None
    floats = vals.astype(np.float64)
    if (
        np.isfinite(floats).all()
        and (np.abs(floats) <= 2**53).all()
        and (floats == np.trunc(floats)).all()
    ):
        if kind == "mixed-integer-float":
            ints = np.array([int(v) for v in vals], dtype=np.int64)
        else:
            ints = floats.astype(np.int64)
        return _ints_to_array(present, ints, n), None
    full = np.full(n, np.nan)
    full[present] = floats
    return full, None


def _mixed_column(col: np.ndarray) -> np.ndarray:
    # Workbooks store every number as a double and calamine hands dates back as date objects,
    # while openpyxl gives ints and datetimes. Normalising here makes both engines agree and
    # shows whole numbers the way the spreadsheet does. Times of day and durations become text
    # because no pandas dtype holds them the way a spreadsheet shows them.
    out = np.empty(len(col), dtype=object)
    for i, v in enumerate(col):
        t = type(v)
        if t is float and v.is_integer() and abs(v) <= 2**53:
            out[i] = int(v)
        elif t is _dt.date:
            out[i] = _dt.datetime(v.year, v.month, v.day)
        elif t is _dt.time:
            out[i] = v.isoformat()
        elif t is _dt.timedelta:
            out[i] = format_duration(v)
        else:
            out[i] = v
    return out


def convert_text(
    col: np.ndarray, present: np.ndarray, decimal_comma: bool
) -> tuple[Any, str | None]:
    """Typed column for string fields from a text file."""
    n = len(col)
    if not present.any():
        return np.full(n, None, dtype=object), None
    # Every decision is taken on the distinct values, then mapped back through the codes: text
    # columns repeat themselves, and the number parser runs in C either way.
    codes, uniq = pd.factorize(col[present])
    uniq = np.asarray(uniq, dtype=object)
    stripped = [u.strip() for u in uniq]
    candidates = stripped
    if decimal_comma and all(_DECIMAL_COMMA_FIELD_RE.match(u) for u in stripped):
        candidates = [u.replace(".", "").replace(",", ".") for u in stripped]
    try:
        parsed = pd.to_numeric(np.asarray(candidates, dtype=object))
    except (ValueError, TypeError):
        parsed = None
    if parsed is not None:
        kind = parsed.dtype.kind
        if kind == "i" and not any(_has_leading_zero(u) for u in candidates):
            return _ints_to_array(present, parsed[codes].astype(np.int64), n), None
        if kind == "f":
            full = np.full(n, np.nan)
            full[present] = parsed[codes]
            return full, None
        # Leading zeros (ZIP codes, account numbers) or integers beyond int64: the text is
        # the value.
        return pd.array(col, dtype="str"), None
    lowered = [u.lower() for u in stripped]
    if all(u in _BOOL_WORDS for u in lowered):
        truth = np.array([u == "true" for u in lowered], dtype=bool)
        out = np.full(n, None, dtype=object)
        out[present] = truth[codes]
        return pd.array(out, dtype="boolean"), None
    return pd.array(col, dtype="str"), None


def _has_leading_zero(text: str) -> bool:
    digits = text.lstrip("+-")
    return len(digits) > 1 and digits[0] == "0" and digits[1].isdigit()
