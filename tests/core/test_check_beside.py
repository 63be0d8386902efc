"""A big xlsx read runs its pre-check in a second process while the reader process loads the
sheet: the same table and the same refusals as the read that checks first, whichever process
meets a hostile file first."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from tests.core.test_hostile import HANDLED, REFUSALS, one_line
from tests.raw_files import BASE_ROWS, raw_xlsx, sheet_xml, write_xlsx
from tui_detector.core.io import child, fastread, guard, reader, sandbox
from tui_detector.core.io.reader import ReadError, open_table, read_table

pytest.importorskip("fastexcel")

ROOT = Path(__file__).resolve().parents[2]


def _read(monkeypatch, mode: str, path, *, listing: bool = False, **kw):
    """Read in this process (mode "0") or in a reader process beside its pre-check ("1")."""
    monkeypatch.setenv(child.MODE_ENV, mode)
    monkeypatch.setenv(child.BESIDE_ENV, "1")
    if listing:
        return open_table(path, **kw)[1]
    return read_table(path, **kw)


def _same(a, b) -> None:
    pd.testing.assert_frame_equal(a.frame, b.frame)
    ra, rb = dict(vars(a.report)), dict(vars(b.report))
    ra.pop("seconds"), rb.pop("seconds")
    assert ra == rb


XLSX_REFUSALS = [r for r in REFUSALS if r[0].startswith(("A3", "A4", "A5", "A8 encrypted zip", "B"))]


@pytest.mark.slow
@pytest.mark.parametrize("case, build, phrase", XLSX_REFUSALS, ids=[c for c, _, _ in XLSX_REFUSALS])
def test_a_hostile_workbook_is_refused_in_the_same_words_beside_the_read(tmp_path, monkeypatch, case, build, phrase):
    # Far cells included: the reader process may run out of memory on one before the pre-check
    # refuses it, and the pre-check's words are still what the user reads.
    path = build(tmp_path)
    said = []
    for mode in ("0", "1"):
        with pytest.raises(ReadError) as err:
            _read(monkeypatch, mode, path)
        said.append(one_line(err))
    assert phrase in said[1], case
    assert said[0] == said[1], case


XLSX_HANDLED = [h for h in HANDLED if not h[0].startswith(("A2 ", "A10", "E40", "E44", "E45", "E46", "G6"))]


@pytest.mark.slow
@pytest.mark.parametrize("case, build, check", XLSX_HANDLED, ids=[c for c, _, _ in XLSX_HANDLED])
def test_an_odd_workbook_reads_the_same_beside_its_pre_check(tmp_path, monkeypatch, case, build, check):
    path = build(tmp_path)
    _same(_read(monkeypatch, "1", path, listing=True), _read(monkeypatch, "0", path, listing=True))


@pytest.mark.slow
def test_a_big_table_reads_the_same_beside_its_pre_check(tmp_path, monkeypatch):
    rows = [["id", "name", "amount", "when"]] + [
        [i, f"n{i % 97}", i * 1.25, pd.Timestamp("2026-01-01") + pd.Timedelta(hours=i)] for i in range(3000)
    ]
    path = write_xlsx(tmp_path / "big.xlsx", {"Notes": [["x"]], "Data": rows})
    for kw in ({}, {"sheet": "Data"}, {"sheet": "Data", "header_row": 2}):
        _same(_read(monkeypatch, "1", path, **kw), _read(monkeypatch, "0", path, **kw))


def test_the_read_goes_on_when_the_pre_check_process_cannot_start(tmp_path, monkeypatch):
    path = write_xlsx(tmp_path / "t.xlsx", {"Data": [["a", "b"], [1, "x"], [2, "y"]]})
    real = sandbox.run
    started = []

    def no_check_process(module, *args, **kw):
        started.append(module)
        if module.endswith("_checkchild"):
            raise sandbox.CannotStart("no processes left")
        return real(module, *args, **kw)

    monkeypatch.setattr(child.sandbox, "run", no_check_process)
    _same(_read(monkeypatch, "1", path), _read(monkeypatch, "0", path))
    # The reader process started beside the failed pre-check was not used; a plain one read it.
    assert [m.rsplit(".", 1)[1] for m in started] == ["_checkchild", "_tablechild", "_tablechild"]


@pytest.mark.slow
def test_a_sheet_past_excels_last_column_is_read_the_plain_way(tmp_path, monkeypatch):
    # fastexcel crawls on such a sheet, so the load ahead is stopped once the pre-check says so.
    path = raw_xlsx(tmp_path / "wide.xlsx", sheet_xml(BASE_ROWS + '<row r="4"><c r="XFE4"><v>7</v></c></row>'))
    started = []
    real = sandbox.run

    def watch(module, *args, **kw):
        started.append(module.rsplit(".", 1)[1])
        return real(module, *args, **kw)

    monkeypatch.setattr(child.sandbox, "run", watch)
    _same(_read(monkeypatch, "1", path), _read(monkeypatch, "0", path))
    assert started == ["_checkchild", "_tablechild", "_tablechild"]


def test_a_cancel_stops_both_processes(tmp_path, monkeypatch):
    import threading

    path = write_xlsx(tmp_path / "t.xlsx", {"Data": [["a"], [1]]})
    stop = threading.Event()
    stop.set()
    monkeypatch.setenv(child.MODE_ENV, "1")
    with pytest.raises(reader.ReadCancelled):
        open_table(path, cancel=stop)
    assert sandbox.live_children() == 0


# --------------------------------------------------------------------------------------------
# The pieces


def _probe(path):
    return reader._checked_probe(path, lambda _s: None)


def test_the_body_loaded_ahead_is_used_when_the_checked_plan_is_the_same(tmp_path, monkeypatch):
    path = write_xlsx(tmp_path / "t.xlsx", {"Data": [["title"], [], ["a", "b"], [1, "x"], [2, "y"]]})
    ahead = fastread.load_ahead(reader.probe_file(path, path.stat().st_size), None, "auto")
    assert ahead is not None and ahead.skip == 3
    loads = []
    real = fastread._load
    monkeypatch.setattr(fastread, "_load", lambda *a: loads.append(a) or real(*a))
    with_ahead = fastread.read_fast(_probe(path), None, "auto", ahead=ahead)
    assert loads == []
    without = fastread.read_fast(_probe(path), None, "auto")
    assert len(loads) == 1
    pd.testing.assert_frame_equal(with_ahead.built.frame, without.built.frame)


def test_a_body_loaded_for_another_plan_is_not_used(tmp_path, monkeypatch):
    path = write_xlsx(tmp_path / "t.xlsx", {"Data": [["a", "b"], [1, "x"], [2, "y"]]})
    ahead = fastread.load_ahead(reader.probe_file(path, path.stat().st_size), None, "auto")
    wrong = fastread.Ahead(path=ahead.path, name=ahead.name, skip=ahead.skip + 1, body=ahead.body)
    got = fastread.read_fast(_probe(path), None, "auto", ahead=wrong)
    pd.testing.assert_frame_equal(got.built.frame, fastread.read_fast(_probe(path), None, "auto").built.frame)
    assert got.built.frame["a"].tolist() == [1, 2]


def test_nothing_is_loaded_ahead_of_a_file_the_reader_cannot_plan(tmp_path):
    junk = tmp_path / "junk.xlsx"
    junk.write_bytes(b"PK\x03\x04" + bytes(300))
    assert fastread.load_ahead(reader.probe_file(junk, junk.stat().st_size), None, "auto") is None
    assert reader._read_ahead(tmp_path / "gone.xlsx", None) is None


def test_the_facts_survive_the_trip_and_damaged_ones_are_refused(tmp_path):
    path = write_xlsx(tmp_path / "t.xlsx", {"A": [["a"], [1]], "B": [["b"], ["#N/A"]]})
    facts = _probe(path).zip_facts
    again = guard.facts_from_wire(json.loads(json.dumps(guard.facts_to_wire(facts))))
    assert again == facts
    wire = guard.facts_to_wire(facts)
    for damage in ({"extents": {"x": [1, -2]}}, {"extents": {"x": [1.5, 2]}}, {"names": "x"},
                   {"error_hint": {"x": "yes"}}, {"external_links": True}):
        with pytest.raises(ValueError):
            guard.facts_from_wire({**wire, **damage})
    with pytest.raises(ValueError):
        guard.facts_from_wire({"names": []})


def test_a_child_never_loosens_a_limit_the_user_set():
    # ulimit -v in the shell: the reader process's own limit may only be tighter.
    code = (
        "import resource, sys\n"
        "from tui_detector.core.io import _launch\n"
        "resource.setrlimit(resource.RLIMIT_AS, (3 << 30, resource.RLIM_INFINITY))\n"
        "_launch._limit(12 << 30, 0)\n"
        "print(resource.getrlimit(resource.RLIMIT_AS)[0] >> 30)\n"
        "_launch._limit(2 << 30, 0)\n"
        "print(resource.getrlimit(resource.RLIMIT_AS)[0] >> 30)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.split() == ["3", "2"]


def test_the_reader_process_is_given_an_address_space_limit(monkeypatch):
    seen = []
    real = sandbox.run

    def watch(module, request, **kw):
        seen.append((module.rsplit(".", 1)[1], kw.get("limits")))
        return real(module, request, **kw)

    monkeypatch.setattr(child.sandbox, "run", watch)
    monkeypatch.setenv(child.MODE_ENV, "1")
    monkeypatch.setenv(child.BESIDE_ENV, "0")
    read_table(ROOT / "tui_detector" / "demo" / "data" / "expense-claims-demo-v1.xlsx")
    assert [m for m, _ in seen] == ["_tablechild"]
    limit = seen[0][1].memory
    assert limit == child.reader_memory() and 2 << 30 <= limit


@pytest.mark.slow
def test_the_pre_checks_refusal_is_said_even_when_the_reader_dies_on_the_file_first(tmp_path, monkeypatch):
    from tests.raw_files import FAR_ROWS

    path = raw_xlsx(tmp_path / "far.xlsx", sheet_xml(FAR_ROWS))
    real = sandbox.run
    ends = {}

    def late_check(module, request, **kw):
        name = module.rsplit(".", 1)[1]
        if name == "_checkchild":
            import time

            time.sleep(4)  # the reader's load ahead meets the far cell first
        ended = real(module, request, **kw)
        ends[name] = ended.returncode
        return ended

    monkeypatch.setattr(child.sandbox, "run", late_check)
    with pytest.raises(ReadError) as err:
        _read(monkeypatch, "1", path)
    assert "refused so it cannot exhaust memory" in one_line(err)
    # The reader process had ended of the far cell (out of address space) before that.
    assert ends["_tablechild"] != 0 and ends["_checkchild"] == 0


def test_a_pre_check_thread_that_breaks_never_leaves_the_reader_waiting(tmp_path, monkeypatch):
    path = write_xlsx(tmp_path / "t.xlsx", {"Data": [["a", "b"], [1, "x"], [2, "y"]]})

    def broken(_self):
        raise KeyError("a bug in the parent, not the file")

    monkeypatch.setattr(child._Scan, "_verdict", broken)
    _same(_read(monkeypatch, "1", path), _read(monkeypatch, "0", path))
