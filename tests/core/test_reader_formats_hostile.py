"""Hostile Parquet, JSON and SQLite files: each is refused in one line, or read without
running anything, within bounded memory and time (tests/HOSTILE_COVERAGE.md lists them)."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys

import pandas as pd
import pytest

from tests.fixtures_tables import assert_one_line
from tests.raw_files import big_json_line, parquet_claiming_rows, sqlite_file, sqlite_many_tables
from tui_detector.core.io import child, jsonrec, sqlitedb
from tui_detector.core.io.reader import ReadError, list_sheets, read_table


def _refusal(path, *args, **kwargs) -> str:
    with pytest.raises(ReadError) as err:
        read_table(path, *args, **kwargs)
    return assert_one_line(err)


# --------------------------------------------------------------------------------------------
# Parquet


@pytest.mark.parametrize("keep", [0.97, 0.6, 0.2, 20])
def test_a_truncated_parquet_is_one_line(tmp_path, keep):
    whole = tmp_path / "whole.parquet"
    pd.DataFrame({"a": range(5000), "b": [f"v{i}" for i in range(5000)]}).to_parquet(whole, row_group_size=1000)
    raw = whole.read_bytes()
    cut = tmp_path / "cut.parquet"
    cut.write_bytes(raw[: int(len(raw) * keep)] if keep < 1 else raw[:keep])
    msg = _refusal(cut)
    assert "damaged or truncated Parquet file" in msg or "not a Parquet file" in msg, msg


def test_a_parquet_whose_row_data_is_damaged_is_one_line(tmp_path):
    whole = tmp_path / "whole.parquet"
    pd.DataFrame({"a": range(5000), "b": [f"v{i}" for i in range(5000)]}).to_parquet(whole, compression=None)
    raw = bytearray(whole.read_bytes())
    raw[8:2000] = bytes(range(256)) * 7 + bytes(200)  # the first data pages, footer intact
    whole.write_bytes(bytes(raw))
    assert "damaged" in _refusal(whole)


def test_a_billion_row_claim_in_the_footer_is_refused_before_reading(tmp_path):
    path = parquet_claiming_rows(tmp_path / "claims.parquet", 1_000_000_000)
    msg = _refusal(path)
    assert "claims 1,000,000,000 rows × 2 columns" in msg and "the limit is 40,000,000" in msg
    with pytest.raises(ReadError):
        list_sheets(path)


# --------------------------------------------------------------------------------------------
# JSON


def _peak_rss_kib(path) -> tuple[int, str]:
    """Peak memory of a fresh process that reads ``path`` in-process, and what it printed."""
    code = (
        "import sys\n"
        "from tui_detector.core.io.reader import read_table, ReadError\n"
        "try:\n"
        "    read_table(sys.argv[1])\n"
        "    print('read')\n"
        "except ReadError as exc:\n"
        "    print(exc)\n"
    )
    env = dict(os.environ, **{child.MODE_ENV: "0"})
    proc = subprocess.Popen([sys.executable, "-c", code, str(path)], stdout=subprocess.PIPE, env=env)
    out = proc.stdout.read().decode()
    proc.stdout.close()
    _pid, _status, usage = os.wait4(proc.pid, 0)
    proc.returncode = 0
    return usage.ru_maxrss, out.strip()


@pytest.mark.slow
@pytest.mark.parametrize("lines", [False, True], ids=["json", "jsonl"])
def test_a_200_mb_json_line_is_refused_in_bounded_memory(tmp_path, lines):
    ext = "jsonl" if lines else "json"
    small = tmp_path / f"small.{ext}"
    small.write_text('{"id": 1, "note": "x"}\n' if lines else '[{"id": 1, "note": "x"}]')
    big = big_json_line(tmp_path / f"big.{ext}", 200, lines=lines)
    base, said = _peak_rss_kib(small)
    assert said == "read"
    peak, said = _peak_rss_kib(big)
    if lines:
        assert "line 1 is longer than 16 MiB" in said, said
    else:
        assert "200 MiB of JSON in one document" in said and "JSON Lines" in said, said
    # The 200 MiB line is never held: at most one line's limit more than reading a tiny file.
    assert peak - base < (jsonrec.LINE_BYTES >> 10) * 2 + 32 * 1024, (base, peak)


def test_deeply_nested_json_is_one_line_or_kept_as_text(tmp_path):
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000)
    assert "nested too deeply" in _refusal(deep)
    lines = tmp_path / "deep.jsonl"
    lines.write_text('{"a": 1}\n' + '{"a": ' * 100_000 + "1" + "}" * 100_000 + "\n")
    assert "line 2" in _refusal(lines)
    # Deep, but within what the parser takes: three levels become names, the rest stays text.
    fine = tmp_path / "fine.json"
    fine.write_text('[{"id": 1, "a": ' + '{"b": ' * 400 + "1" + "}" * 400 + "}, {\"id\": 2}]")
    t = read_table(fine)
    assert list(t.frame.columns) == ["id", "a.b.b"]
    assert t.frame["a.b.b"].iloc[0].startswith('{"b": {"b":')
    assert any("kept as JSON text" in w for w in t.report.warnings)


# --------------------------------------------------------------------------------------------
# SQLite


@pytest.mark.slow
def test_a_thousand_tables_are_all_listed_and_each_can_be_read(tmp_path):
    path = sqlite_many_tables(tmp_path / "many.db", 1000)
    sheets = list_sheets(path)
    assert len(sheets) == 1000 and sheets[0].name == "t0000" and sheets[-1].name == "t0999"
    assert all((s.rows, s.columns) == (3, 2) for s in sheets)
    assert read_table(path, "t0999").frame["a"].tolist() == [1, 2, 999]


_FOREVER = (
    "CREATE TABLE t (a INTEGER); INSERT INTO t VALUES (1), (2);"
    "CREATE VIEW forever AS WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) "
    "SELECT count(*) AS n FROM c;"
    "CREATE VIEW endless_rows AS WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) "
    "SELECT x FROM c;"
)


def test_a_view_that_never_ends_hits_the_time_limit(tmp_path, monkeypatch):
    monkeypatch.setenv(child.MODE_ENV, "0")
    monkeypatch.setattr(sqlitedb, "READ_SECONDS", 0.5)
    path = sqlite_file(tmp_path / "forever.db", _FOREVER)
    # The listing does not wait for it either: its size is left at 0.
    sheets = {s.name: (s.rows, s.columns) for s in list_sheets(path)}
    assert sheets == {"t": (2, 1), "forever": (0, 1), "endless_rows": (0, 1)}
    for view in ("forever", "endless_rows"):
        msg = _refusal(path, view)
        assert f"cannot read view '{view}' of 'forever.db': it took longer than 0.5 s" in msg, msg
    assert read_table(path, "t").frame["a"].tolist() == [1, 2]


def test_nothing_in_the_database_runs_and_nothing_is_written(tmp_path):
    path = sqlite_file(
        tmp_path / "traps.db",
        """
        PRAGMA journal_mode = WAL;
        CREATE TABLE t (a INTEGER, b TEXT);
        CREATE TABLE log (what TEXT);
        INSERT INTO t VALUES (1, 'x'), (2, 'y');
        CREATE TRIGGER on_insert AFTER INSERT ON t BEGIN INSERT INTO log VALUES ('insert'); END;
        CREATE TRIGGER on_delete BEFORE DELETE ON t BEGIN INSERT INTO log VALUES ('delete'); END;
        CREATE VIEW v AS SELECT a FROM t;
        CREATE TRIGGER on_view INSTEAD OF INSERT ON v BEGIN INSERT INTO log VALUES ('view'); END;
        CREATE VIEW loads AS SELECT load_extension('/nonexistent/evil.so') AS boom;
        PRAGMA wal_checkpoint(TRUNCATE);
        PRAGMA journal_mode = DELETE;
        """,
    )
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    assert read_table(path, "t").frame["a"].tolist() == [1, 2]
    assert read_table(path, "v").frame["a"].tolist() == [1, 2]
    assert read_table(path, "log").report.rows == 0  # no trigger ever fired
    msg = _refusal(path, "loads")
    assert "cannot read view 'loads'" in msg and "load_extension" in msg, msg
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["traps.db"]  # no journal, no WAL


def test_the_authorizer_lets_a_statement_read_and_nothing_else(tmp_path):
    path = sqlite_file(tmp_path / "a.db", "CREATE TABLE t (a INTEGER); INSERT INTO t VALUES (1);")
    from tui_detector.core.io.probe import probe_file

    probe = probe_file(path, path.stat().st_size)
    with sqlitedb._Database(probe) as db:
        assert db.run('SELECT * FROM "t"', 5).fetchall() == [(1,)]
        for sql in ("INSERT INTO t VALUES (2)", "DELETE FROM t", "CREATE TABLE u (b)", "ATTACH ':memory:' AS x", "PRAGMA journal_mode = WAL"):
            with pytest.raises(Exception, match="not authorized|prohibited|readonly|read-only"):
                db.run(sql, 5).fetchall()
    assert read_table(path).frame["a"].tolist() == [1]


def test_what_cannot_go_in_a_table_is_counted(tmp_path):
    path = sqlite_file(
        tmp_path / "blobs.db",
        "CREATE TABLE t (a INTEGER, pic BLOB); INSERT INTO t VALUES (1, x'00ff'), (2, NULL), (3, 'text');",
    )
    t = read_table(path)
    assert t.frame["a"].tolist() == [1, 2, 3]
    assert "1 binary (BLOB) value read as missing in 'pic'" in t.report.warnings


def test_json_records_never_run_as_anything(tmp_path):
    # Keys and values that look like code or markup stay the text they are.
    path = tmp_path / "odd.jsonl"
    path.write_text(json.dumps({"__class__": "os.system", "[b]x[/b]": "=1+1", "id": 1}) + "\n" + json.dumps({"id": 2}) + "\n")
    t = read_table(path)
    assert list(t.frame.columns) == ["__class__", "[b]x[/b]", "id"]
    assert t.frame["[b]x[/b]"].iloc[0] == "=1+1"


def test_a_write_ahead_log_that_immutable_mode_ignores_is_said(tmp_path):
    import sqlite3

    path = tmp_path / "we?ird #name %20.db"  # characters a file: URI must escape
    con = sqlite3.connect(path)
    try:
        con.execute("CREATE TABLE t (a INTEGER)")
        con.execute("INSERT INTO t VALUES (1)")
        con.commit()
        con.execute("PRAGMA journal_mode = WAL")
        con.execute("INSERT INTO t VALUES (2)")
        con.commit()
        # Still open: the second row is only in the log, which an immutable read never sees.
        t = read_table(path)
        assert t.frame["a"].tolist() == [1]
        assert any("write-ahead log" in w and "not read" in w for w in t.report.warnings)
    finally:
        con.close()
    # Closed: the log was checkpointed into the file and removed.
    t = read_table(path)
    assert t.frame["a"].tolist() == [1, 2] and not t.report.warnings
