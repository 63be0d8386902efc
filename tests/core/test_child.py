"""Big files are read in a child process: same table, same messages, cancellable, and no Python
object per cell in this process. Tests that start a real reader process are marked slow."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from tests.fixtures_tables import write_tricky_csv, write_tricky_xlsx
from tests.raw_files import write_xlsx
from tui_detector.core.io import child, engines, reader, sandbox, tablewire
from tui_detector.core.io import text as text_file
from tui_detector.core.io.reader import ReadCancelled, ReadError, open_table, read_table



def _mixed(tmp_path: Path) -> Path:
    # A column of numbers, text and dates stays Python objects in the reader; another column is
    # empty apart from its header; an integer beyond int64 stays exact.
    rows = [["id", "mixed", "empty", "amount", "flag", "when"]]
    for i in range(40):
        mixed = [i, f"t{i}", dt.datetime(2024, 1, 1 + i % 28), 1.5 * i][i % 4]
        rows.append([f"00{i}", mixed, None, float(i) if i % 7 else None, bool(i % 2), dt.datetime(2025, 5, 1 + i % 28)])
    rows.append(["big", 2**70, None, 1.0, True, dt.datetime(2025, 5, 1)])
    return write_xlsx(tmp_path / "mixed.xlsx", {"Hidden": [["x"], [1]], "Data": rows}, hidden=("Hidden",))


def _only_objects(tmp_path: Path) -> Path:
    rows = [["a", "b"]] + [[[1, "x", dt.datetime(2020, 1, 2)][i % 3], [2.5, "y"][i % 2]] for i in range(9)]
    return write_xlsx(tmp_path / "objects.xlsx", {"S": rows})


FILES = {
    "tricky xlsx": lambda d: write_tricky_xlsx(d / "tricky.xlsx"),
    "tricky csv": lambda d: write_tricky_csv(d / "tricky.csv"),
    "mixed types, hidden first sheet": _mixed,
    "object columns only": _only_objects,
}


def _read(monkeypatch, mode: str, path: Path, **kw):
    monkeypatch.setenv(child.MODE_ENV, mode)
    return read_table(path, **kw)


def _same_report(a, b) -> None:
    da, db = dict(vars(a)), dict(vars(b))
    da.pop("seconds"), db.pop("seconds")
    assert da == db


@pytest.mark.slow
@pytest.mark.parametrize("name", list(FILES))
def test_child_reads_the_same_table(tmp_path, monkeypatch, name):
    path = FILES[name](tmp_path)
    here = _read(monkeypatch, "0", path)
    there = _read(monkeypatch, "1", path)
    pd.testing.assert_frame_equal(there.frame, here.frame)
    for col in here.frame.columns:  # object cells come back as the same Python types
        if here.frame[col].dtype == object:
            assert [type(v) for v in there.frame[col]] == [type(v) for v in here.frame[col]]
    _same_report(there.report, here.report)
    if here.excel_rows is None:
        assert there.excel_rows is None
    else:
        np.testing.assert_array_equal(there.excel_rows, here.excel_rows)


@pytest.mark.slow
def test_child_honours_sheet_header_and_engine(tmp_path, monkeypatch):
    path = write_tricky_xlsx(tmp_path / "t.xlsx")
    for kw in ({"sheet": "Other"}, {"sheet": 1}, {"header_row": 3}, {"header_row": None}, {"engine": "openpyxl"}):
        here = _read(monkeypatch, "0", path, **kw)
        there = _read(monkeypatch, "1", path, **kw)
        pd.testing.assert_frame_equal(there.frame, here.frame)
        _same_report(there.report, here.report)


@pytest.mark.slow
def test_text_arrives_in_arrow_buffers_not_python_objects(tmp_path, monkeypatch):
    loaded = _read(monkeypatch, "1", write_tricky_xlsx(tmp_path / "t.xlsx"))
    text = [c for c in loaded.frame.columns if loaded.frame[c].dtype == "str"]
    assert text, loaded.frame.dtypes
    for col in text:
        assert isinstance(loaded.frame[col].array, pd.arrays.ArrowStringArray), col
    assert all(loaded.frame[c].dtype != object for c in loaded.frame.columns)


def test_object_columns_round_trip_every_python_type():
    values = np.empty(12, dtype=object)
    values[:] = [
        None, "text", "", True, False, 7, -(2**63), 2**64 + 3, 1.25, float("nan"),
        dt.datetime(1, 1, 1, 0, 0, 0, 1), dt.datetime(9999, 12, 31, 23, 59, 59),
    ]
    frame = pd.DataFrame({"v": values, "n": np.arange(12.0)})
    back = tablewire.table_to_frame(tablewire.frame_to_table(frame))
    assert list(back.columns) == ["v", "n"]
    got = back["v"].tolist()
    assert [type(v) for v in got] == [type(v) for v in values]
    assert got[:9] == list(values[:9]) and np.isnan(got[9]) and got[10:] == list(values[10:])


def test_an_unknown_cell_type_is_refused_not_mangled():
    values = np.empty(2, dtype=object)
    values[:] = [1, dt.time(12, 0)]
    with pytest.raises(TypeError):
        tablewire.frame_to_table(pd.DataFrame({"v": values}))


@pytest.mark.slow
def test_same_messages_for_bad_files(tmp_path, monkeypatch):
    damaged = tmp_path / "damaged.xlsx"
    damaged.write_bytes(b"PK\x03\x04" + b"\0" * 200)
    good = write_tricky_xlsx(tmp_path / "t.xlsx")
    for path, kw in ((damaged, {}), (good, {"sheet": "Nope"}), (good, {"sheet": 5}), (tmp_path / "gone.xlsx", {})):
        messages = []
        for mode in ("0", "1"):
            with pytest.raises(ReadError) as err:
                _read(monkeypatch, mode, path, **kw)
            messages.append(str(err.value))
        assert messages[0] == messages[1]
        assert "\n" not in messages[1]


@pytest.mark.slow
def test_open_table_hands_over_the_sheets_before_the_table(tmp_path, monkeypatch):
    path = _mixed(tmp_path)
    results = {}
    for mode in ("0", "1"):
        monkeypatch.setenv(child.MODE_ENV, mode)
        seen: list = []
        sheets, loaded = open_table(path, on_sheets=seen.append)
        assert seen == [sheets]
        results[mode] = (sheets, loaded)
    assert results["0"][0] == results["1"][0]
    assert [s.name for s in results["1"][0]] == ["Hidden", "Data"]
    assert results["1"][1].report.sheet == "Data"  # the first visible sheet
    pd.testing.assert_frame_equal(results["1"][1].frame, results["0"][1].frame)


@pytest.mark.slow
def test_the_reader_process_says_what_it_is_doing(tmp_path, monkeypatch):
    path = write_tricky_xlsx(tmp_path / "t.xlsx")
    monkeypatch.setenv(child.MODE_ENV, "1")
    heard: list[str] = []
    open_table(path, on_stage=heard.append)
    assert heard == [
        "checking the file", "parsing the workbook", "reading the cells", "typing 304 rows", "handing the table over",
    ]
    heard.clear()
    read_table(write_tricky_csv(tmp_path / "t.csv"), on_stage=heard.append)
    assert heard == ["checking the file", "parsing the text", "typing 301 rows", "handing the table over"]


def test_open_table_parses_the_sheet_it_reads_once(tmp_path, monkeypatch):
    path = write_tricky_xlsx(tmp_path / "t.xlsx")
    calls: list[str] = []
    real_open = engines._calamine_open

    class Counting:
        def __init__(self, wb):
            self._wb = wb

        def get_sheet_by_name(self, name):
            calls.append(name)
            return self._wb.get_sheet_by_name(name)

        def __getattr__(self, attr):
            return getattr(self._wb, attr)

    monkeypatch.setattr(engines, "_calamine_open", lambda p: Counting(real_open(p)))
    monkeypatch.setenv(child.MODE_ENV, "0")
    sheets, loaded = open_table(path)
    assert sorted(calls) == ["Data", "Other"]  # listed once each; "Data" not parsed again
    assert loaded.report.sheet == "Data" and len(loaded.frame) == 300


def test_open_table_parses_a_text_file_once(tmp_path, monkeypatch):
    path = write_tricky_csv(tmp_path / "t.csv")
    expected = _read(monkeypatch, "0", path)
    calls = []
    real = text_file.read_text

    def counting(*args):
        calls.append(1)
        return real(*args)

    monkeypatch.setattr(text_file, "read_text", counting)
    sheets, loaded = open_table(path)
    assert len(calls) == 1  # the listing's parse is the one the read uses
    assert [(s.name, s.rows, s.columns) for s in sheets] == [("t", 301, 5)]
    pd.testing.assert_frame_equal(loaded.frame, expected.frame)
    _same_report(loaded.report, expected.report)


def _big_csv(path: Path, rows: int = 400_000) -> Path:
    rng = np.random.default_rng(0)
    pd.DataFrame(
        {"a": rng.normal(size=rows), "b": rng.integers(0, 9, rows).astype(str), "c": rng.normal(size=rows)}
    ).to_csv(path, index=False)
    return path


@pytest.mark.slow
def test_cancel_kills_the_reader(tmp_path, monkeypatch):
    # Cancelled while the reader process is busy typing the rows: the read ends as cancelled,
    # and by then the process and its hand-over folder are gone. (How fast: a benchmark,
    # benchmarks/child_timing.py.)
    path = _big_csv(tmp_path / "big.csv")
    monkeypatch.setenv(child.MODE_ENV, "1")
    # A temporary folder of this test's own: other tests (other xdist workers) read big files
    # at the same time, and their hand-over folders are not this read's leftovers.
    handover = tmp_path / "tmp"
    handover.mkdir()
    monkeypatch.setattr(child.tempfile, "tempdir", str(handover))
    cancel = threading.Event()
    heard: list[str] = []

    def stage(text: str) -> None:
        heard.append(text)
        if text.startswith("typing"):
            cancel.set()

    with pytest.raises(ReadCancelled):
        read_table(path, cancel=cancel, on_stage=stage)
    assert "typing 400,001 rows" in heard
    assert sandbox.live_children() == 0
    assert not list(handover.glob("anomaly-tui-read-*"))


def test_big_files_go_to_the_child_by_size(tmp_path, monkeypatch):
    monkeypatch.delenv(child.MODE_ENV, raising=False)
    small = write_tricky_csv(tmp_path / "small.csv")
    assert not child.wanted(small)
    monkeypatch.setattr(child, "CHILD_READ_BYTES", small.stat().st_size)
    assert child.wanted(small)
    monkeypatch.setenv(child.MODE_ENV, "0")
    assert not child.wanted(small)
    monkeypatch.setenv(child.IN_CHILD_ENV, "1")  # the child itself reads in-process
    monkeypatch.setenv(child.MODE_ENV, "1")
    assert not child.wanted(small)


def _fake_child(monkeypatch, script: str) -> None:
    real = subprocess.Popen
    monkeypatch.setattr(
        subprocess, "Popen", lambda args, **kw: real([sys.executable, "-c", script], **kw)
    )


def test_a_crashed_reader_is_a_one_line_message(tmp_path, monkeypatch):
    path = write_tricky_csv(tmp_path / "t.csv")
    monkeypatch.setenv(child.MODE_ENV, "1")
    _fake_child(monkeypatch, "import os, signal; os.kill(os.getpid(), signal.SIGABRT)")
    with pytest.raises(ReadError, match=r"^cannot read 't.csv': the reader process stopped \(SIGABRT\)$"):
        read_table(path)
    assert sandbox.live_children() == 0


def test_damaged_results_from_the_reader_are_refused(tmp_path, monkeypatch):
    path = write_tricky_csv(tmp_path / "t.csv")
    monkeypatch.setenv(child.MODE_ENV, "1")
    # Claims success but wrote no table.
    _fake_child(monkeypatch, 'print(\'{"done": {"path": "t.csv"}}\')')
    with pytest.raises(ReadError, match="damaged data"):
        read_table(path)


@pytest.mark.slow
def test_a_pickle_from_the_reader_is_refused(tmp_path, monkeypatch):
    """A reader process that sends a pickle (here, row numbers as an object array that would
    run code on load) gets 'damaged data'; nothing is unpickled."""
    path = write_tricky_csv(tmp_path / "t.csv")
    canary = tmp_path / "canary"
    monkeypatch.setenv(child.MODE_ENV, "1")
    script = f"""
import json, os, sys
import numpy as np, pandas as pd, pyarrow as pa, pyarrow.ipc
from tui_detector.core.io.tablewire import frame_to_table
req = json.loads(sys.stdin.read())
table = frame_to_table(pd.DataFrame({{"a": [1.0]}}))
with pa.OSFile(os.path.join(req["out"], "table.arrow"), "wb") as sink:
    with pa.ipc.new_file(sink, table.schema) as w:
        w.write_table(table)
class Evil:
    def __reduce__(self):
        return (os.system, ("touch {canary}",))
np.save(os.path.join(req["out"], "rows.npy"), np.array([Evil()], dtype=object), allow_pickle=True)
report = dict(path=req["path"], file_format="csv", engine="csv", sheet=None, header_row=1, rows=1,
              columns=["a"], dropped_empty_rows=0, dropped_empty_columns=0, warnings=[], seconds=0.0)
print(json.dumps({{"done": report, "excel_rows": True}}))
"""
    _fake_child(monkeypatch, script)
    with pytest.raises(ReadError, match="damaged data"):
        read_table(path)
    assert not canary.exists()


def test_without_a_reader_process_the_file_is_read_here(tmp_path, monkeypatch):
    path = write_tricky_xlsx(tmp_path / "t.xlsx")
    here = _read(monkeypatch, "0", path)

    def cannot_start(*args, **kwargs):
        raise OSError(11, "Resource temporarily unavailable")

    monkeypatch.setattr(subprocess, "Popen", cannot_start)
    monkeypatch.setenv(child.MODE_ENV, "1")
    pd.testing.assert_frame_equal(read_table(path).frame, here.frame)
    sheets, loaded = open_table(path)
    assert [s.name for s in sheets] == ["Data", "Other"]
    pd.testing.assert_frame_equal(loaded.frame, here.frame)


def test_a_reader_that_cannot_write_its_table_falls_back_to_reading_here(tmp_path, monkeypatch):
    path = write_tricky_csv(tmp_path / "t.csv")
    here = _read(monkeypatch, "0", path)
    monkeypatch.setenv(child.MODE_ENV, "1")
    _fake_child(monkeypatch, 'print(\'{"error": "OSError: [Errno 28] No space left on device", "kind": "unavailable"}\')')
    pd.testing.assert_frame_equal(read_table(path).frame, here.frame)


@pytest.mark.slow
def test_hand_over_folders_left_by_a_killed_process_are_swept(tmp_path, monkeypatch):
    import os

    monkeypatch.setattr(child.tempfile, "gettempdir", lambda: str(tmp_path))
    monkeypatch.setattr(child.tempfile, "tempdir", str(tmp_path))
    old = tmp_path / "anomaly-tui-read-old"
    fresh = tmp_path / "anomaly-tui-read-fresh"
    other = tmp_path / "something-else"
    for folder in (old, fresh, other):
        folder.mkdir()
        (folder / "table.arrow").write_bytes(b"x")
    day_ago = time.time() - 2 * 24 * 3600
    os.utime(old, (day_ago, day_ago))
    os.utime(other, (day_ago, day_ago))
    monkeypatch.setenv(child.MODE_ENV, "1")
    read_table(write_tricky_csv(tmp_path / "t.csv"))
    assert not old.exists() and fresh.exists() and other.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["anomaly-tui-read-fresh", "something-else", "t.csv"]
