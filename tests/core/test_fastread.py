"""The Arrow fast path for xlsx sheets (core.io.fastread): the same table as the cell-by-cell
path, or the cell-by-cell path itself where it cannot vouch for that."""

from __future__ import annotations

import builtins
import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xlsxwriter

from tui_detector.core.io import fastread, reader
from tui_detector.core.io.reader import open_table, read_table

pytest.importorskip("fastexcel")


def _write(path: Path, fill, sheets: tuple[str, ...] = ("Data",)) -> Path:
    wb = xlsxwriter.Workbook(str(path))
    formats = {
        "date": wb.add_format({"num_format": "yyyy-mm-dd"}),
        "stamp": wb.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"}),
        "time": wb.add_format({"num_format": "hh:mm:ss"}),
        "dur": wb.add_format({"num_format": "[h]:mm:ss"}),
        "grey": wb.add_format({"bg_color": "#DDDDDD"}),
    }
    for name in sheets:
        fill(wb.add_worksheet(name), formats, name)
    wb.close()
    return path


def _cell(monkeypatch, path: Path, **kw):
    monkeypatch.setenv(fastread.FAST_ENV, "0")
    try:
        return read_table(path, **kw)
    finally:
        monkeypatch.delenv(fastread.FAST_ENV)


def _probe(path: Path):
    return reader._checked_probe(path, lambda _s: None)


def _assert_same(fast, slow) -> None:
    pd.testing.assert_frame_equal(fast.frame, slow.frame)
    assert list(fast.frame.dtypes) == list(slow.frame.dtypes)
    np.testing.assert_array_equal(fast.excel_rows, slow.excel_rows)
    a, b = dict(vars(fast.report)), dict(vars(slow.report))
    a.pop("seconds"), b.pop("seconds")
    assert a == b
    assert fast.sheets == slow.sheets


def _business(ws, f, _name) -> None:
    """A sheet with most of what the reader's rules decide: a title and a note above the
    header, a blank and an unnamed header cell, duplicate names, blank rows and a blank column,
    error cells, error texts, whitespace-only text, numbers as text, dates, flags, and enough
    rows that fastexcel reads far past the head."""
    ws.write(0, 0, "Claims export")
    ws.write(1, 0, "prepared by: ops")
    header = ["id", "amount", "when", "stamp", "region", "code", "ok", None, "amount", "note"]
    for c, h in enumerate(header):
        if h is not None:
            ws.write_string(3, c + 1, h)
    for i in range(600):
        r = 4 + i + (i >= 300)  # a blank row inside the table
        if i == 450:
            continue  # and a missing row, written as nothing at all
        ws.write_number(r, 1, i)
        ws.write_number(r, 2, round(i * 1.37, 2))
        ws.write_datetime(r, 3, dt.datetime(2021, 1, 1) + dt.timedelta(days=i), f["date"])
        ws.write_datetime(r, 4, dt.datetime(2021, 1, 1, 8) + dt.timedelta(minutes=37 * i), f["stamp"])
        ws.write_string(r, 5, ["north", "south", "  ", "east"][i % 4])
        ws.write_string(r, 6, f"{i % 50:05d}")
        ws.write_boolean(r, 7, i % 3 == 0)
        # column I stays blank except for its missing header: dropped and counted
        ws.write_number(r, 9, i % 7)
        if i % 97 == 5:
            ws.write_formula(r, 10, "=1/0", None, "#DIV/0!")
        elif i % 89 == 3:
            ws.write_string(r, 10, "#N/A")
        else:
            ws.write_string(r, 10, f"note {i % 11}")


def test_a_business_sheet_reads_the_same_through_arrow(tmp_path, monkeypatch):
    path = _write(tmp_path / "b.xlsx", _business)
    fast = fastread.read_fast(_probe(path), None, "auto")  # no Fallback: the fast path read it
    assert fast.built.header_row == 4 and len(fast.built.frame) == 599
    t = read_table(path)
    slow = _cell(monkeypatch, path)
    _assert_same(t, slow)
    assert t.report.dropped_empty_rows == 2 and t.report.dropped_empty_columns == 2  # column A: titles only
    assert any("error cell" in w for w in t.report.warnings)
    assert t.frame["code"].dtype == slow.frame["code"].dtype  # numbers as text stay text


@pytest.mark.parametrize("header_row", [None, 4, 2])
def test_a_header_row_given_or_none_reads_the_same(tmp_path, monkeypatch, header_row):
    path = _write(tmp_path / "b.xlsx", _business)
    _assert_same(read_table(path, header_row=header_row), _cell(monkeypatch, path, header_row=header_row))


def test_open_table_lists_every_sheet_without_parsing_the_read_one_twice(tmp_path, monkeypatch):
    path = _write(tmp_path / "m.xlsx", _business, sheets=("One", "Two"))
    parsed: list[str] = []
    real = reader.engines.list_workbook

    def spy(probe, sheet=None, *, keep=False, sized=None):
        parsed.append(sorted(sized or {}))
        return real(probe, sheet, keep=keep, sized=sized)

    monkeypatch.setattr(reader.engines, "list_workbook", spy)
    heard = []
    sheets, fast = open_table(path, "Two", on_sheets=heard.append)
    assert parsed == [["Two"]]
    monkeypatch.setenv(fastread.FAST_ENV, "0")
    slow_sheets, slow = open_table(path, "Two")
    assert sheets == slow_sheets == heard[0]
    _assert_same(fast, slow)


def _head_grows(ws, f, _name) -> None:
    # 200 rows that hold only formatting: the head must grow past them to find the header.
    for r in range(200):
        ws.write_blank(r, 0, None, f["grey"])
    ws.write_row(200, 0, ["a", "b"])
    for r in range(201, 400):
        ws.write_row(r, 0, [r, f"x{r}"])


def test_the_head_grows_past_rows_of_formatting_only(tmp_path, monkeypatch):
    path = _write(tmp_path / "g.xlsx", _head_grows)
    fast = fastread.read_fast(_probe(path), None, "auto")
    assert fast.built.header_row == 201
    _assert_same(read_table(path), _cell(monkeypatch, path))


# --------------------------------------------------------------------------------------------
# Each reason to leave a sheet to the cell-by-cell path, and that path's table then


def _plain(ws, _f, _name, rows: int = 300) -> None:
    ws.write_row(0, 0, ["n", "t"])
    for r in range(1, rows + 1):
        ws.write_row(r, 0, [r * 1.5, f"v{r % 9}"])


def _mixed_far_down(ws, f, name) -> None:
    _plain(ws, f, name)
    ws.write_string(250, 0, "n/a")  # text in a number column, far below the head


def _times(ws, f, _name) -> None:
    ws.write_row(0, 0, ["n", "at"])
    for r in range(1, 300):
        ws.write_number(r, 0, r)
        ws.write_datetime(r, 1, dt.time(8, r % 60), f["time"])


def _times_below_head(ws, f, _name) -> None:
    # Dates in the head, a time of day far below it: python-calamine hands the time back as a
    # time, fastexcel as a timestamp, so only the cell-by-cell path types the column right.
    ws.write_row(0, 0, ["n", "at"])
    for r in range(1, 300):
        ws.write_number(r, 0, r)
        if r == 280:
            ws.write_datetime(r, 1, dt.time(8, 30), f["time"])
        else:
            ws.write_datetime(r, 1, dt.datetime(2020, 1, 1) + dt.timedelta(days=r), f["date"])


def _durations(ws, f, _name) -> None:
    ws.write_row(0, 0, ["n", "took"])
    for r in range(1, 300):
        ws.write_number(r, 0, r)
        ws.write_number(r, 1, 1.25 + r, f["dur"])


def _far_future(ws, f, _name) -> None:
    ws.write_row(0, 0, ["n", "due"])
    for r in range(1, 300):
        ws.write_number(r, 0, r)
        year = 3000 if r == 290 else 2020
        ws.write_datetime(r, 1, dt.datetime(year, 1, 1), f["date"])


def _empty_head(ws, _f, _name) -> None:
    ws.write_blank(0, 0, None)


@pytest.mark.parametrize(
    "fill, reason",
    [
        (_mixed_far_down, "mixes kinds of value"),
        (_times, "disagree on a cell"),
        (_times_below_head, "times of day"),
        (_durations, "a column of duration"),
        (_far_future, "outside 1677-2262"),
    ],
    ids=["mixed column", "times of day", "a time below the head", "durations", "dates past 2262"],
)
def test_what_fastexcel_types_differently_goes_cell_by_cell(tmp_path, monkeypatch, fill, reason):
    path = _write(tmp_path / "f.xlsx", fill)
    with pytest.raises(fastread.Fallback, match=reason):
        fastread.read_fast(_probe(path), None, "auto")
    _assert_same(read_table(path), _cell(monkeypatch, path))


def test_a_header_row_below_the_head_goes_cell_by_cell(tmp_path, monkeypatch):
    path = _write(tmp_path / "p.xlsx", _plain)
    with pytest.raises(fastread.Fallback, match="not in the head"):
        fastread.read_fast(_probe(path), None, 250)
    _assert_same(read_table(path, header_row=250), _cell(monkeypatch, path, header_row=250))


def test_a_sheet_past_excels_last_column_goes_cell_by_cell(tmp_path, monkeypatch):
    path = _write(tmp_path / "p.xlsx", _plain)
    probe = _probe(path)
    part = next(iter(probe.zip_facts.extents))
    probe.zip_facts.extents[part] = (301, 20_000)
    with pytest.raises(fastread.Fallback, match="last column"):
        fastread.read_fast(probe, None, "auto")


def test_a_disagreement_between_the_parsers_goes_cell_by_cell(tmp_path, monkeypatch):
    path = _write(tmp_path / "p.xlsx", _plain)
    real = fastread._load

    def shifted(p, name, skip):
        return real(p, name, skip + 1)  # fastexcel one row off: the head sees it

    monkeypatch.setattr(fastread, "_load", shifted)
    with pytest.raises(fastread.Fallback, match="disagree"):
        fastread.read_fast(_probe(path), None, "auto")
    _assert_same(read_table(path), _cell(monkeypatch, path))


def test_an_empty_sheet_is_refused_as_before(tmp_path, monkeypatch):
    path = _write(tmp_path / "e.xlsx", _empty_head)
    with pytest.raises(fastread.Fallback, match="empty"):
        fastread.read_fast(_probe(path), None, "auto")
    with pytest.raises(reader.ReadError, match="is empty"):
        read_table(path)


def test_the_fast_path_is_off_without_fastexcel_or_when_told(tmp_path, monkeypatch):
    path = _write(tmp_path / "p.xlsx", _plain)
    probe = _probe(path)
    assert fastread.enabled(probe, "auto")
    assert not fastread.enabled(probe, "openpyxl") and not fastread.enabled(probe, "calamine")
    monkeypatch.setenv(fastread.FAST_ENV, "0")
    assert not fastread.enabled(probe, "auto")
    monkeypatch.delenv(fastread.FAST_ENV)

    real_import = builtins.__import__

    def no_fastexcel(name, *args, **kwargs):
        if name == "fastexcel" or name.startswith("fastexcel."):
            raise ImportError("No module named 'fastexcel'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_fastexcel)
    assert not fastread.enabled(probe, "auto")

    def must_not_run(*_a, **_k):
        raise AssertionError("the fast path ran without fastexcel")

    monkeypatch.setattr(fastread, "read_fast", must_not_run)
    t = read_table(path)
    assert t.report.engine == "calamine" and len(t.frame) == 300


def test_a_surprise_in_the_fast_path_is_read_cell_by_cell(tmp_path, monkeypatch):
    path = _write(tmp_path / "p.xlsx", _plain)
    slow = _cell(monkeypatch, path)

    def panics(*_a, **_k):
        raise BaseException("a Rust panic")  # pyo3's PanicException is a BaseException

    monkeypatch.setattr(fastread, "_load", panics)
    _assert_same(read_table(path), slow)
    with pytest.raises(reader.ReadError, match="no sheet named"):
        read_table(path, sheet="Nope")
