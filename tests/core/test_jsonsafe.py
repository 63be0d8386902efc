"""Cells as strict-JSON values, one row at a time or many at once."""

import json
import math

import numpy as np
import pandas as pd

from tui_detector.core.jsonsafe import json_row, json_rows


def awkward_frame():
    return pd.DataFrame(
        {
            "f": [1.5, math.nan, math.inf],
            "i": pd.array([2**53 + 1, None, -(2**60)], dtype="Int64"),
            "t": pd.to_datetime(["2026-01-02 03:04:05", None, "1999-12-31 00:00:00"]),
            "s": pd.array(["=1+1", None, "[bold]x"], dtype="string"),
            "b": [True, False, True],
            "o": [{"a": 1}, b"bytes", None],
        }
    )


def test_many_rows_equal_one_row_at_a_time():
    frame = awkward_frame()
    assert json_rows(frame, [2, 0, 1]) == [json_row(frame, 2), json_row(frame, 0), json_row(frame, 1)]
    assert json_rows(frame, np.array([], dtype=int)) == []


def test_values_are_strict_json():
    rows = json_rows(awkward_frame(), [0, 1, 2])
    text = json.dumps(rows, allow_nan=False)
    assert rows[0] == {"f": 1.5, "i": "9007199254740993", "t": "2026-01-02T03:04:05", "s": "=1+1", "b": True, "o": "{'a': 1}"}
    assert rows[1]["f"] is None and rows[1]["i"] is None and rows[1]["t"] is None and rows[1]["s"] is None
    assert rows[2]["f"] is None and rows[2]["i"] == str(-(2**60))
    assert json.loads(text) == rows


def test_whole_columns_read_as_their_cells_do_one_by_one():
    """The column-at-a-time path (a million-row sheet's anomalies) gives exactly what the cell
    rule gives: no NaN or Infinity, big integers as text, missing values of every dtype as null."""
    from tui_detector.core.jsonsafe import json_column, json_value

    columns = [
        pd.Series(["a", None, "b", "ünï"], dtype="str"),
        pd.Series(["a", None, 3, np.nan], dtype=object),
        pd.Series([1.5, np.nan, np.inf, -0.0]),
        pd.Series([1.5, np.nan, 2.0, 3.1], dtype=np.float32),
        pd.Series([1, 2**60, -(2**60), 3]),
        pd.Series([1, 2, 3, 2**63], dtype=np.uint64),
        pd.Series([True, False, True, False]),
        pd.Series([True, None, False, True], dtype="boolean"),
        pd.Series([1, None, 3, 4], dtype="Int64"),
        pd.to_datetime(pd.Series(["2024-01-01", None, "2024-02-03 04:05:06", "2024-02-03 04:05:06.5"]), format="ISO8601"),
        pd.Series(["x", "y", None, "x"], dtype="category"),
    ]
    for series in columns:
        assert json.dumps(json_column(series)) == json.dumps([json_value(v) for v in series.tolist()]), series.dtype
