"""Parquet files through pyarrow, read a row group at a time, columns kept typed.

The footer's claims (rows, row groups) are checked against the reader's cell limit before a
row group is decoded, so a file that says it holds a billion rows is refused, not believed.
Numbers, flags and times stay NumPy arrays; only text and nested values become Python
objects, one column at a time.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd

from .columnar import text_without_blanks
from .columns import format_duration
from .formats import PARQUET_MAGIC
from .guard.dimensions import MAX_CELLS
from .probe import FileProbe
from .table import ReadError, SheetInfo, one_line, plural

__all__ = ["FLATTEN_DEPTH", "arrow_columns", "list_parquet", "read_parquet"]

#: Nested records become dotted names ("address.city") this many levels down; anything
#: deeper is kept as its JSON text.
FLATTEN_DEPTH = 3


def _damaged(probe: FileProbe, why: str) -> ReadError:
    return ReadError(f"cannot read '{probe.name}': it is a damaged or truncated Parquet file ({why})")


def _open(probe: FileProbe) -> Any:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        with open(probe.path, "rb") as fh:
            fh.seek(max(0, probe.size - 4))
            tail = fh.read(4)
    except OSError as exc:
        raise ReadError(f"cannot read '{probe.name}': {exc.strerror or exc}") from None
    if probe.size < 12 or tail != PARQUET_MAGIC:
        raise _damaged(probe, "its footer is missing")
    try:
        pf = pq.ParquetFile(str(probe.path))
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise _damaged(probe, one_line(exc)) from None
    meta = pf.metadata
    width = max(1, len(pf.schema_arrow))
    claimed = sum(meta.row_group(i).num_rows for i in range(meta.num_row_groups))
    if meta.num_rows < 0 or claimed < 0 or claimed != meta.num_rows:
        raise _damaged(probe, f"its footer claims {meta.num_rows:,} rows but its row groups {claimed:,}")
    if meta.num_rows * width > MAX_CELLS:
        raise ReadError(
            f"cannot read '{probe.name}': it claims {meta.num_rows:,} rows × {width} columns "
            f"({meta.num_rows * width:,} cells; the limit is {MAX_CELLS:,}); refused so it "
            "cannot exhaust memory"
        )
    return pf


def list_parquet(probe: FileProbe) -> list[SheetInfo]:
    pf = _open(probe)
    return [
        SheetInfo(
            name=probe.path.stem,
            index=0,
            rows=int(pf.metadata.num_rows),
            columns=len(pf.schema_arrow),
            visible=True,
        )
    ]


def read_parquet(probe: FileProbe, stage: Any) -> tuple[list[str], list[Any], int, list[str]]:
    """(names, columns, rows, warnings) of the whole file, a row group at a time."""
    import pyarrow as pa

    pf = _open(probe)
    groups = pf.metadata.num_row_groups
    parts = []
    rows = 0
    for i in range(groups):
        stage(f"reading row group {i + 1:,} of {groups:,}" if groups > 1 else "reading the rows")
        try:
            part = pf.read_row_group(i)
        except (pa.ArrowException, OSError, ValueError) as exc:
            raise _damaged(probe, f"row group {i + 1}: {one_line(exc)}") from None
        rows += part.num_rows
        if rows * max(1, part.num_columns) > MAX_CELLS:  # a row group that lied in the footer
            raise ReadError(
                f"cannot read '{probe.name}': it holds more than {MAX_CELLS:,} cells; "
                "refused so it cannot exhaust memory"
            )
        parts.append(part)
    if parts:
        table = pa.concat_tables(parts)
    else:
        table = pf.schema_arrow.empty_table()
    del parts
    stage(f"typing {table.num_rows:,} rows")
    names, columns, warnings = arrow_columns(table)
    return names, columns, table.num_rows, warnings


def _flattened(table: Any) -> Any:
    import pyarrow as pa

    for _ in range(FLATTEN_DEPTH):
        if not any(pa.types.is_struct(f.type) for f in table.schema):
            break
        table = table.flatten()
    return table


def arrow_columns(table: Any) -> tuple[list[str], list[Any], list[str]]:
    """Each column of an Arrow table as the reader's array: typed where Arrow's type says what
    the values are, a NumPy object array of Python values where the reader's rules decide."""
    table = _flattened(table)
    names: list[str] = []
    columns: list[Any] = []
    warnings: list[str] = []
    as_text: list[str] = []
    for field, column in zip(table.schema, table.columns):
        values, note = _convert(column.combine_chunks() if column.num_chunks != 1 else column.chunk(0))
        if note == "binary":
            warnings.append(
                f"'{field.name}': binary values cannot be a table's column; the column was left out"
            )
            continue
        if note == "json":
            as_text.append(field.name)
        elif note:
            warnings.append(f"'{field.name}': {note}")
        names.append(field.name)
        columns.append(values)
    if as_text:
        shown = ", ".join(f"'{n}'" for n in as_text[:5]) + (" ..." if len(as_text) > 5 else "")
        warnings.append(
            f"{plural(len(as_text), 'column')} of lists or deeper records "
            f"{'was' if len(as_text) == 1 else 'were'} kept as JSON text: {shown}"
        )
    return names, columns, warnings


def _objects(values: list) -> np.ndarray:
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


def _json_text(values: list) -> np.ndarray:
    return _objects([None if v is None else json.dumps(v, default=str, ensure_ascii=False) for v in values])


def _convert(arr: Any) -> tuple[Any, str | None]:
    """One Arrow array as (values, note); note 'binary' leaves the column out, 'json' says the
    values were written out as JSON text."""
    import pyarrow as pa
    import pyarrow.compute as pc

    t = arr.type
    if pa.types.is_dictionary(t):
        arr = arr.dictionary_decode()
        t = arr.type
    n = len(arr)
    if pa.types.is_null(t):
        return np.full(n, None, dtype=object), None
    if pa.types.is_integer(t):
        if pa.types.is_uint64(t) and n and (pc.max(arr).as_py() or 0) >= 2**63:
            return _objects(arr.to_pylist()), None
        if arr.null_count == 0:
            return arr.to_numpy(zero_copy_only=False).astype(np.int64, copy=False), None
        mask = arr.is_null().to_numpy(zero_copy_only=False)
        filled = pc.fill_null(arr, 0).to_numpy(zero_copy_only=False).astype(np.int64)
        return pd.arrays.IntegerArray(filled, mask), None
    if pa.types.is_floating(t) or pa.types.is_decimal(t):
        try:
            floats = pc.cast(arr, pa.float64(), safe=False)
        except pa.ArrowException:
            floats = pa.array([None if v is None else float(v) for v in arr.to_pylist()], pa.float64())
        return floats.to_numpy(zero_copy_only=False).astype(np.float64, copy=False), None
    if pa.types.is_boolean(t):
        return pd.array(_objects(arr.to_pylist()), dtype="boolean"), None
    if pa.types.is_timestamp(t) or pa.types.is_date(t):
        return _times(arr)
    if pa.types.is_time(t):
        return pd.array(_objects([None if v is None else v.isoformat() for v in arr.to_pylist()]), dtype="str"), None
    if pa.types.is_duration(t):
        return pd.array(_objects([None if v is None else format_duration(v) for v in arr.to_pylist()]), dtype="str"), None
    if pa.types.is_string(t) or pa.types.is_large_string(t) or getattr(pa.types, "is_string_view", lambda _t: False)(t):
        return text_without_blanks(arr), None
    if pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_fixed_size_binary(t):
        return None, "binary"
    if pa.types.is_nested(t):
        return _json_text(arr.to_pylist()), "json"
    return _objects(arr.to_pylist()), None


def _times(arr: Any) -> tuple[Any, str | None]:
    import pyarrow as pa

    t = arr.type
    note = None
    series = arr.to_pandas(date_as_object=False) if pa.types.is_date(t) else None
    try:
        if series is None:
            series = arr.to_pandas()
            tz = getattr(t, "tz", None)
            if tz:
                # A spreadsheet's times have no zone: keep the clock time the zone shows.
                series = series.dt.tz_localize(None)
                note = f"times in zone {tz} were read as that zone's clock times"
        values = pd.Series(series).astype("datetime64[ns]").to_numpy()
    except (pd.errors.OutOfBoundsDatetime, OverflowError, ValueError, pa.ArrowException):
        return _objects(arr.to_pylist()), None  # typed by the reader's rules, which say so
    return values, note
