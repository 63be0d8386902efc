"""A read table on the wire between the reader process and the app: an Arrow table, data only.

Typed columns go as Arrow arrays with pandas' own metadata. A column the reader leaves as Python
objects (a column mixing numbers, text and dates keeps each cell as it is) has no Arrow type; it
goes as a dense union with one child per Python type and comes back as the same objects. Text
comes back in Arrow buffers (pandas' ``str`` dtype), so the receiving process never holds a
Python object per cell.
"""

from __future__ import annotations

import functools
import json
from typing import Any

import numpy as np

__all__ = ["frame_to_table", "table_to_frame"]

_META_KEY = b"anomaly_tui"


@functools.cache
def _kinds() -> tuple[tuple[str, Any], ...]:
    """(name, Arrow type) per union child; the position is the union's type code."""
    import pyarrow as pa

    return (
        ("none", pa.null()),
        ("str", pa.large_string()),
        ("bool", pa.bool_()),
        ("int", pa.int64()),
        ("bigint", pa.large_string()),  # beyond int64, as its decimal digits
        ("float", pa.float64()),
        ("datetime", pa.timestamp("us")),
        ("date", pa.date32()),
    )


def _encode_objects(values: np.ndarray) -> Any:
    import datetime as dt

    import pyarrow as pa

    kinds = _kinds()
    n = len(values)
    codes = np.empty(n, dtype=np.int8)
    offsets = np.empty(n, dtype=np.int32)
    buckets: list[list] = [[] for _ in kinds]
    for i, v in enumerate(values):
        t = type(v)
        if v is None:
            k = 0
        elif t is str:
            k = 1
        elif t is bool:
            k = 2
        elif t is int:
            if -(2**63) <= v < 2**63:
                k = 3
            else:
                k, v = 4, str(v)
        elif t is float:
            k = 5
        elif t is dt.datetime and v.tzinfo is None:
            k = 6
        elif t is dt.date:
            k = 7
        else:
            raise TypeError(f"cannot send a {t.__name__} cell")
        codes[i] = k
        offsets[i] = len(buckets[k])
        buckets[k].append(v)
    children = [pa.array(b, type=typ) for b, (_, typ) in zip(buckets, kinds)]
    return pa.UnionArray.from_dense(
        pa.array(codes, type=pa.int8()),
        pa.array(offsets, type=pa.int32()),
        children,
        [name for name, _ in kinds],
    )


def _decode_objects(column: Any) -> np.ndarray:
    kinds = _kinds()
    parts = []
    for chunk in column.chunks:
        codes = np.asarray(chunk.type_codes)
        offsets = np.asarray(chunk.offsets)
        out = np.full(len(chunk), None, dtype=object)
        for k, (name, _) in enumerate(kinds):
            where = np.flatnonzero(codes == k)
            if k == 0 or not len(where):
                continue
            values = chunk.field(k).to_pylist()
            if name == "bigint":
                values = [int(v) for v in values]
            held = np.empty(len(values), dtype=object)
            held[:] = values
            out[where] = held[offsets[where]]
        parts.append(out)
    return np.concatenate(parts) if parts else np.empty(0, dtype=object)


def frame_to_table(frame: Any) -> Any:
    """The reader's DataFrame as an Arrow table (see above for object columns)."""
    import pyarrow as pa

    order = [str(c) for c in frame.columns]
    objects = [c for c in order if frame[c].dtype == object]
    encoded = {name: _encode_objects(frame[name].to_numpy()) for name in objects}
    typed = frame.drop(columns=objects) if objects else frame
    if len(typed.columns):
        table = pa.Table.from_pandas(typed, preserve_index=False)
        for name, column in encoded.items():
            table = table.append_column(name, pa.chunked_array([column]))
    else:  # no typed column for from_pandas to start from (and to count the rows: see "rows")
        table = pa.table(encoded)
    meta = dict(table.schema.metadata or {})
    meta[_META_KEY] = json.dumps({"order": order, "objects": objects, "rows": len(frame)}).encode("utf-8")
    return table.replace_schema_metadata(meta)


def table_to_frame(table: Any) -> Any:
    """The inverse of :func:`frame_to_table`. Text stays in Arrow buffers (pandas' ``str``
    dtype); numbers, dates and flags become NumPy-backed columns."""
    meta = json.loads((table.schema.metadata or {}).get(_META_KEY, b"{}"))
    order = meta.get("order") or list(table.column_names)
    objects = meta.get("objects") or []
    held = {name: _decode_objects(table.column(name)) for name in objects}
    typed = table.drop_columns(objects) if objects else table
    if typed.num_columns:
        frame = typed.to_pandas(split_blocks=True, self_destruct=True)
    else:
        import pandas as pd

        frame = pd.DataFrame(index=pd.RangeIndex(int(meta.get("rows", table.num_rows))))
    for name in objects:
        frame[name] = held[name]
    return frame[order] if list(frame.columns) != order else frame
