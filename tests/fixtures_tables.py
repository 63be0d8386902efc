"""Small files with the awkward things real exports have, for CLI and export tests; and the
five-column table the reader tests write in every format, with its check."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    import pytest

    from tui_detector.core.io.reader import LoadedTable

FORMULA_TEXTS = ["=HYPERLINK(\"http://evil.example\",\"click\")", "+1+2", "-2+3", "@SUM(A1:A2)", "=cmd|' /C calc'!A0"]
BIG_ID = 2**53 + 1  # the first integer a double cannot hold exactly
N_ROWS = 300


def _rows(n: int = N_ROWS, seed: int = 0) -> list[dict]:
    rng = np.random.default_rng(seed)
    rows = []
    start = dt.datetime(2026, 3, 1, 8, 0)
    for i in range(n):
        rows.append(
            {
                "id": BIG_ID + i,
                "when": start + dt.timedelta(hours=int(rng.integers(0, 24 * 60))),
                "amount": None if i % 37 == 5 else round(float(rng.lognormal(4, 0.3)), 2),
                "label": ["alpha", "beta", "gamma"][i % 3],
                "note": FORMULA_TEXTS[(i // 10) % len(FORMULA_TEXTS)] if i % 10 == 0 else f"ordinary note {i}",
            }
        )
    rows[42]["amount"] = 1_000_000.0  # the planted anomaly
    return rows


def write_tricky_xlsx(path: Path, n: int = N_ROWS) -> Path:
    """Sheet "Data": a title row, a blank row, the header on row 3, then rows with blanks,
    datetimes, formula-like text and one empty row in the middle; a second sheet "Other"."""
    import xlsxwriter

    rows = _rows(n)
    wb = xlsxwriter.Workbook(str(path), {"strings_to_formulas": False, "strings_to_numbers": False})
    ws = wb.add_worksheet("Data")
    datefmt = wb.add_format({"num_format": "yyyy-mm-dd hh:mm"})
    ws.write_string(0, 0, "Quarterly export")
    header = ["id", "when", "amount", "label", "note"]
    for j, name in enumerate(header):
        ws.write_string(2, j, name)
    r = 3
    for i, row in enumerate(rows):
        if i == 100:
            r += 1  # an entirely empty row inside the data
        # Excel stores numbers as doubles; an ID this long only survives as text.
        ws.write_string(r, 0, str(row["id"]))
        ws.write_datetime(r, 1, row["when"], datefmt)
        if row["amount"] is not None:
            ws.write_number(r, 2, row["amount"])
        ws.write_string(r, 3, row["label"])
        ws.write_string(r, 4, row["note"])
        r += 1
    other = wb.add_worksheet("Other")
    other.write_row(0, 0, ["x", "y"])
    rng = np.random.default_rng(1)
    for i in range(60):
        other.write_row(i + 1, 0, [float(rng.normal()), float(rng.normal())])
    wb.close()
    return path


def write_tricky_csv(path: Path, n: int = N_ROWS) -> Path:
    """The same rows as CSV, where integers beyond 2**53 stay exact."""
    import csv

    rows = _rows(n)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["id", "when", "amount", "label", "note"])
        for row in rows:
            writer.writerow(
                [row["id"], row["when"].isoformat(sep=" "), "" if row["amount"] is None else row["amount"], row["label"], row["note"]]
            )
    return path


# ------------------------------------------------------------------------------------------
# The reader tests' table: written in every format, read back, checked the same way.

TABLE = [
    ["id", "name", "amount", "when", "ok"],
    [1, "alpha", 1.5, dt.datetime(2024, 1, 2), True],
    [2, "beta", 2.25, dt.datetime(2024, 2, 3), False],
    [3, "gamma", 10.0, dt.datetime(2024, 3, 4), True],
]


def check_table(t: LoadedTable, *, dates: bool = True) -> None:
    f = t.frame
    assert list(f.columns) == ["id", "name", "amount", "when", "ok"]
    assert isinstance(f.index, pd.RangeIndex) and len(f) == 3
    assert f["id"].dtype == np.int64
    assert f["id"].tolist() == [1, 2, 3]
    assert f["name"].tolist() == ["alpha", "beta", "gamma"]
    assert f["amount"].dtype == np.float64
    assert f["amount"].tolist() == [1.5, 2.25, 10.0]
    if dates:
        assert f["when"].dtype == "datetime64[ns]"
        assert f["when"].iloc[1] == pd.Timestamp("2024-02-03")
    assert f["ok"].dtype == "boolean"
    assert f["ok"].tolist() == [True, False, True]
    assert t.report.header_row == 1
    assert t.report.rows == 3
    assert t.report.columns == list(f.columns)


def assert_one_line(err: pytest.ExceptionInfo) -> str:
    msg = str(err.value)
    assert msg and "\n" not in msg and "Traceback" not in msg
    return msg
