"""Cell values as strict-JSON-safe Python values (RFC 8259: no NaN, no Infinity)."""

from __future__ import annotations

import datetime as dt
import decimal
import math
from typing import Any

import numpy as np
import pandas as pd

#: Integers beyond this lose precision in JavaScript and many JSON readers; they become strings.
MAX_SAFE_INTEGER = 2**53


def json_value(value: Any) -> Any:
    """One cell as None, bool, int, float, or str; never NaN, Infinity or an unsafe integer."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        number = int(value)
        return str(number) if abs(number) > MAX_SAFE_INTEGER else number
    if isinstance(value, (float, np.floating)):
        number = float(value)
        return number if math.isfinite(number) else None
    if isinstance(value, decimal.Decimal):
        return json_value(float(value))
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, np.datetime64):
        return None if np.isnat(value) else pd.Timestamp(value).isoformat()
    if isinstance(value, (pd.Timedelta, dt.timedelta)):
        return str(value)
    if isinstance(value, str):
        return value
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)


def json_row(frame: pd.DataFrame, position: int) -> dict[str, Any]:
    """Row ``position`` (0-based) of ``frame`` as a JSON-safe mapping of column name to value."""
    row = frame.iloc[position]
    return {str(column): json_value(row[column]) for column in frame.columns}


def json_rows(frame: pd.DataFrame, positions: Any) -> list[dict[str, Any]]:
    """Rows at ``positions`` as JSON-safe mappings; column-wise, so thousands of rows stay fast."""
    positions = np.asarray(positions, dtype=np.int64)
    if positions.size == 0:
        return []
    subset = frame.iloc[positions]
    names = [str(c) for c in frame.columns]
    columns = [json_column(subset.iloc[:, j]) for j in range(subset.shape[1])]
    return [dict(zip(names, values)) for values in zip(*columns)]


def json_column(series: pd.Series) -> list[Any]:
    """Every cell of ``series`` as :func:`json_value` gives it, whole columns of the common
    dtypes at a time (a million-row sheet's anomalies are half a million cells)."""
    dtype = series.dtype
    if isinstance(dtype, pd.StringDtype):
        # pandas' own text dtype holds only text and missing values.
        return [v if isinstance(v, str) else None for v in series.tolist()]
    if not isinstance(dtype, np.dtype):
        # Masked and other extension dtypes: their missing values need json_value.
        return [json_value(v) for v in series.tolist()]
    if dtype.kind == "f":
        values = series.to_numpy()
        out = values.tolist()
        if not np.isfinite(values).all():
            for i in np.flatnonzero(~np.isfinite(values)).tolist():
                out[i] = None
        return out
    if dtype.kind in "iu":
        values = series.to_numpy()
        if values.size and (values.max() > MAX_SAFE_INTEGER or (dtype.kind == "i" and values.min() < -MAX_SAFE_INTEGER)):
            return [json_value(v) for v in values.tolist()]
        return values.tolist()
    if dtype.kind == "b":
        return series.to_numpy().tolist()
    return [json_value(v) for v in series.tolist()]
