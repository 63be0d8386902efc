"""From named columns to the typed table, for formats that name and order their own columns.

Parquet, JSON records and SQLite tables have no header row to find and no grid to trim: the
file says what the columns are called. What they share with a sheet is everything after that:
blank text is missing, a record with no value at all is an empty row (dropped and counted),
names are cleaned and made unique with the same words, and a column of Python values is typed
by the same rules as a workbook's cells (:func:`.columns.convert_native`), so that the same
table reads the same from any of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from pandas.api.types import infer_dtype

from .columns import convert_native, header_text
from .grid import Built, _clean_name, _shown, unique_names
from .table import ReadError, plural

__all__ = ["blank_text_to_none", "build_columns"]


#: What ``infer_dtype`` calls an object column that may hold strings.
_STRINGY_KINDS = frozenset({"string", "mixed", "mixed-integer", "unknown-array"})


def blank_text_to_none(values: np.ndarray) -> np.ndarray:
    """``values`` (an object array) with empty and whitespace-only strings as None, as a
    workbook's blank cells are; each distinct value is judged once."""
    if infer_dtype(values, skipna=True) not in _STRINGY_KINDS:
        return values
    blank = [u for u in pd.unique(values) if type(u) is str and not u.strip()]
    if not blank:
        return values
    out = values.copy()
    out[pd.Series(values, dtype=object).isin(blank).to_numpy()] = None
    return out


def arrow_text(arr: Any) -> Any:
    """An Arrow string array as pandas' ``str`` array: where that dtype is Arrow-backed (pandas
    3 with pyarrow) the buffers are handed over as they are, with no Python object per cell."""
    import pyarrow as pa

    dtype = pd.array([], dtype="str").dtype
    if getattr(dtype, "storage", None) == "pyarrow":
        if not pa.types.is_large_string(arr.type):
            arr = arr.cast(pa.large_string())
        return arr.to_pandas(types_mapper=lambda _t: dtype).array
    return pd.array(arr.to_numpy(zero_copy_only=False), dtype="str")


def text_without_blanks(arr: Any) -> Any:
    """An Arrow string array as pandas' ``str`` array, empty and whitespace-only text missing."""
    import pyarrow as pa
    import pyarrow.compute as pc

    blank = pc.equal(pc.utf8_trim_whitespace(arr), "")
    return arrow_text(pc.if_else(blank, pa.scalar(None, arr.type), arr))


def _typed_text(values: np.ndarray) -> Any | None:
    """A column of nothing but strings (and gaps) typed in Arrow, blanks made missing; None for
    any other column (or without pyarrow), which the reader's rules type instead."""
    if infer_dtype(values, skipna=True) != "string":
        return None
    try:
        import pyarrow as pa
    except ImportError:
        return None
    return text_without_blanks(pa.array(values, type=pa.large_string(), from_pandas=True))


def _present(values: Any) -> np.ndarray:
    return ~np.asarray(pd.isna(values), dtype=bool)


def build_columns(
    names: Sequence[Any],
    columns: Sequence[Any],
    n_rows: int,
    *,
    empty_message: str,
    positions: np.ndarray | None = None,
) -> Built:
    """The typed table of ``columns`` (one array of ``n_rows`` per name: a NumPy object array
    of Python values is typed here; any other array is already typed and kept as it is).

    ``positions`` are the rows' 0-based places in the file (default: 0, 1, 2, ...); the kept
    rows' places come back as ``grid_rows``.
    """
    if not len(names):
        raise ReadError(empty_message)
    warnings: list[str] = []
    cleaned: list[Any] = []
    for values in columns:
        if isinstance(values, np.ndarray) and values.dtype == object:
            typed = _typed_text(values)
            values = blank_text_to_none(values) if typed is None else typed
        cleaned.append(values)
    present = [_present(v) for v in cleaned]
    row_has_value = np.logical_or.reduce(present) if present else np.zeros(n_rows, bool)
    keep_rows = np.flatnonzero(row_has_value)
    dropped_rows = n_rows - len(keep_rows)
    all_rows = len(keep_rows) == n_rows
    final = _names(names, warnings)
    frame_columns: dict[str, Any] = {}
    for name, values, has in zip(final, cleaned, present):
        if not all_rows:
            values = values[keep_rows]
            has = has[keep_rows]
        if isinstance(values, np.ndarray) and values.dtype == object:
            values, note = convert_native(values, has)
            if note:
                warnings.append(f"'{name}': {note}")
        frame_columns[name] = values
    frame = pd.DataFrame(frame_columns, index=pd.RangeIndex(len(keep_rows)))
    if not len(keep_rows):
        warnings.append("the table has column names but no rows of data")
    where = keep_rows if positions is None else np.asarray(positions)[keep_rows]
    return Built(
        frame=frame,
        grid_rows=np.asarray(where, dtype=np.int64),
        header_row=None,
        dropped_rows=int(dropped_rows),
        dropped_cols=0,
        warnings=warnings,
    )


def _names(names: Sequence[Any], warnings: list[str]) -> list[str]:
    """One unique, clean name per column, worded as a sheet's header problems are."""
    out: list[str] = []
    unnamed: list[str] = []
    changed: list[str] = []
    for pos, raw in enumerate(names):
        text = header_text(raw)
        name = _clean_name(text)
        if name != text and name:
            changed.append(name)
        if not name:
            name = f"column {pos + 1}"
            unnamed.append(name)
        out.append(name)
    if changed:
        warnings.append(
            "invisible characters (zero-width spaces, soft hyphens or byte-order marks) "
            f"were removed from {plural(len(changed), 'column name')}: {_shown(changed)}"
        )
    if unnamed:
        warnings.append(
            f"{plural(len(unnamed), 'column')} without a name "
            f"{'was' if len(unnamed) == 1 else 'were'} named by position: {_shown(unnamed)}"
        )
    return unique_names(out, warnings)
