"""Parquet, JSON / JSON Lines and SQLite: one table whatever the format, typed columns kept,
tables as sheets, and text that is not a table refused."""

from __future__ import annotations

import datetime as dt
import decimal
import json
import sqlite3
import threading

import numpy as np
import pandas as pd
import pytest

from tests.fixtures_tables import assert_one_line
from tests.helpers import mixed_table
from tests.raw_files import sqlite_file
from tui_detector.core.export import explained_anomalies
from tui_detector.core.io import child, sandbox, sqlitedb
from tui_detector.core.io.formats import SUPPORTED_EXTENSIONS
from tui_detector.core.io.reader import ReadCancelled, ReadError, detect_format, list_sheets, open_table, read_table
from tui_detector.core.model.roles import Role, infer_role
from tui_detector.core.pipeline import DetectionSettings, run_detection


def _same_table() -> pd.DataFrame:
    """The planted table without the columns no text format can hold as the same type (dates
    are text in a CSV, flags are 0/1 in SQLite), with every float at 6 decimals: an xlsx keeps
    15 significant digits, and JSON writers round beyond that."""
    frame, _ = mixed_table(400)
    frame = frame.drop(columns=["ordered_at", "express"])
    frame["units"] = frame["units"].round(6)
    frame["revenue"] = frame["revenue"].round(6)
    frame["qty"] = np.arange(len(frame)) % 7 + 1
    return frame


def _save_all(frame: pd.DataFrame, folder) -> dict[str, object]:
    paths = {ext: folder / f"orders.{ext}" for ext in ("xlsx", "csv", "parquet", "jsonl", "sqlite")}
    frame.to_excel(paths["xlsx"], index=False)
    frame.to_csv(paths["csv"], index=False)
    frame.to_parquet(paths["parquet"], index=False)
    frame.to_json(paths["jsonl"], orient="records", lines=True, double_precision=15)
    with sqlite3.connect(paths["sqlite"]) as con:
        frame.to_sql("orders", con, index=False)
    con.close()
    return paths


@pytest.mark.slow
def test_the_same_table_in_five_formats_scores_and_explains_identically(tmp_path):
    paths = _save_all(_same_table(), tmp_path)
    settings = DetectionSettings(model="auto", epochs=3, use_cache=False)
    runs = {ext: run_detection(path, settings) for ext, path in paths.items()}
    base = runs["xlsx"]
    expected = explained_anomalies(base)
    assert expected, "the planted rows must be flagged for the explanations to be compared"
    for ext, run in runs.items():
        assert run.loaded.report.file_format == ("sqlite" if ext == "sqlite" else ext)
        assert list(run.frame.columns) == list(base.frame.columns), ext
        np.testing.assert_allclose(run.detection.scores, base.detection.scores, rtol=0, atol=1e-9, err_msg=ext)
        assert run.detection.threshold == pytest.approx(base.detection.threshold, abs=1e-9)
        got = explained_anomalies(run)
        assert [a["row_index"] for a in got] == [a["row_index"] for a in expected], ext
        for a, b in zip(got, expected):
            assert a["anomalous_features"] == b["anomalous_features"], ext
            assert a["raw_data"] == b["raw_data"], ext
            # Where the row is: a workbook's row, or the file's own line or row number.
            if ext == "xlsx":
                assert a["excel_row"] == a["row_index"] + 2 and a["source_row"] is None
            else:
                assert a["excel_row"] is None
                assert a["source_row"] == a["row_index"] + (2 if ext == "csv" else 1), ext


def test_every_extension_the_picker_lists_is_one_the_reader_opens():
    for ext in (".parquet", ".pq", ".json", ".jsonl", ".ndjson", ".sqlite", ".sqlite3", ".db"):
        assert ext in SUPPORTED_EXTENSIONS


def test_formats_are_sniffed_by_content_not_name(tmp_path):
    frame = pd.DataFrame({"a": [1, 2, 3], "b": ["x", "y", "z"]})
    frame.to_parquet(tmp_path / "export.dat")
    (tmp_path / "records.txt").write_text(json.dumps(frame.to_dict("records")))
    (tmp_path / "lines.log").write_text("\n".join(json.dumps(r) for r in frame.to_dict("records")))
    with sqlite3.connect(tmp_path / "app.data") as con:
        frame.to_sql("items", con, index=False)
    con.close()
    assert detect_format(tmp_path / "export.dat") == "parquet"
    assert detect_format(tmp_path / "records.txt") == "json"
    assert detect_format(tmp_path / "lines.log") == "jsonl"
    assert detect_format(tmp_path / "app.data") == "sqlite"
    for name in ("export.dat", "records.txt", "lines.log", "app.data"):
        t = read_table(tmp_path / name)
        assert t.frame["a"].tolist() == [1, 2, 3] and t.frame["b"].tolist() == ["x", "y", "z"], name
    assert any("holds JSON" in w for w in read_table(tmp_path / "records.txt").report.warnings)


@pytest.mark.parametrize(
    ("name", "content", "fragment"),
    [
        ("fake.parquet", b"a,b\n1,2\n3,4\n", "not a Parquet file"),
        ("fake.sqlite", b"a,b\n1,2\n3,4\n", "not an SQLite database"),
        ("half.db", b"SQLite format 3\x00" + bytes(50), "damaged SQLite database"),
        ("broken.json", b'[{"a": 1}, {"a": 2', "not valid JSON"),
        ("broken.jsonl", b'{"a": 1}\n{"a": 2\n', "line 2"),
    ],
)
def test_a_file_that_is_not_what_it_claims_is_one_line(tmp_path, name, content, fragment):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ReadError) as err:
        read_table(path)
    assert fragment in assert_one_line(err)


# --------------------------------------------------------------------------------------------
# Parquet


def test_parquet_types_become_the_matching_roles(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(0)
    n = 240
    start = dt.datetime(2024, 1, 1)
    table = pa.table(
        {
            "booked": pa.array([start + dt.timedelta(hours=int(h)) for h in rng.integers(0, 5000, n)], pa.timestamp("ms", tz="Europe/Paris")),
            "day": pa.array([start.date() + dt.timedelta(days=int(d)) for d in rng.integers(0, 300, n)], pa.date32()),
            "price": pa.array([decimal.Decimal(f"{v:.2f}") for v in rng.uniform(1, 100, n)], pa.decimal128(10, 2)),
            "city": pa.array(rng.choice(["Paris", "Lyon", "Nice"], n)).dictionary_encode(),
            "units": pa.array(rng.integers(0, 1000, n), pa.int32()),
            "ratio": pa.array(rng.normal(size=n), pa.float32()),
            "blob": pa.array([b"\x00\x01"] * n),
        }
    )
    pq.write_table(table, tmp_path / "typed.parquet", row_group_size=50)
    t = read_table(tmp_path / "typed.parquet")
    roles = {c: infer_role(t.frame[c], c)[0] for c in t.frame.columns}
    assert roles == {
        "booked": Role.DATETIME,
        "day": Role.DATETIME,
        "price": Role.NUMERIC,
        "city": Role.CATEGORICAL,
        "units": Role.NUMERIC,
        "ratio": Role.NUMERIC,
    }
    # The clock time the zone showed, not shifted to UTC; decimals exactly as written.
    first = table.column("booked")[0].as_py()
    assert t.frame["booked"].iloc[0] == pd.Timestamp(first.replace(tzinfo=None))
    assert t.frame["price"].iloc[0] == float(table.column("price")[0].as_py())
    assert t.frame["city"].tolist() == table.column("city").to_pylist()
    assert any("'blob'" in w and "left out" in w for w in t.report.warnings)
    assert any("Europe/Paris" in w for w in t.report.warnings)
    assert t.report.rows == n and t.report.engine == "pyarrow"


def test_parquet_nested_records_become_dotted_columns_and_empty_rows_are_counted(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table(
        {
            "id": pa.array([1, None, 3]),
            "who": pa.array([{"name": "a", "geo": {"lat": 1.5}}, None, {"name": "c", "geo": {"lat": 2.5}}]),
            "tags": pa.array([["x"], None, ["y", "z"]]),
        }
    )
    pq.write_table(table, tmp_path / "nested.parquet")
    t = read_table(tmp_path / "nested.parquet")
    assert list(t.frame.columns) == ["id", "who.name", "who.geo.lat", "tags"]
    assert t.frame["who.geo.lat"].tolist() == [1.5, 2.5]
    assert t.frame["tags"].tolist() == ['["x"]', '["y", "z"]']
    assert t.report.dropped_empty_rows == 1
    assert t.source_rows.tolist() == [1, 3]


# --------------------------------------------------------------------------------------------
# JSON and JSON Lines


def test_json_shapes_that_are_tables(tmp_path):
    records = [{"id": 1, "user": {"name": "a", "geo": {"lat": 1.5}}}, {"id": 2, "user": {"name": "b"}}, None, {"id": 4, "extra": True}]
    (tmp_path / "array.json").write_text(json.dumps(records))
    (tmp_path / "api.json").write_text(json.dumps({"page": 1, "total": 4, "data": records}))
    (tmp_path / "lines.jsonl").write_text("\n".join(json.dumps(r) for r in records[:2]) + "\n\nnull\n" + json.dumps(records[3]) + "\n")
    for name in ("array.json", "api.json", "lines.jsonl"):
        t = read_table(tmp_path / name)
        assert list(t.frame.columns) == ["id", "user.name", "user.geo.lat", "extra"], name
        assert t.frame["id"].tolist() == [1, 2, 4], name
        assert t.report.dropped_empty_rows == 1, name  # the null record
    assert read_table(tmp_path / "array.json").source_rows.tolist() == [1, 2, 4]  # records
    assert read_table(tmp_path / "lines.jsonl").source_rows.tolist() == [1, 2, 5]  # lines
    assert any("'data' member" in w for w in read_table(tmp_path / "api.json").report.warnings)


@pytest.mark.parametrize(
    ("doc", "fragment"),
    [
        ({"name": "report", "version": 3, "settings": {"colour": "blue"}}, "keys 'name', 'version', 'settings' and no list of records"),
        ({"a": [{"x": 1}], "b": [{"y": 2}]}, "2 lists of records ('a', 'b')"),
        ([1, 2, 3], "array of numbers"),
        ([{"x": 1}, "two"], "element 2 of its array is a string"),
        ([], "empty JSON array"),
        ("just text", "single JSON string"),
    ],
)
def test_json_that_is_not_a_table_is_refused_saying_what_it_is(tmp_path, doc, fragment):
    path = tmp_path / "doc.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(ReadError) as err:
        read_table(path)
    msg = assert_one_line(err)
    assert msg.startswith("'doc.json' does not look like a table") and fragment in msg, msg


@pytest.mark.slow
def test_our_own_export_is_refused_not_read_as_a_table(tmp_path, fitted):
    from tui_detector.core.export import build_export

    frame, _ = mixed_table(200)
    source = tmp_path / "orders.csv"
    frame.to_csv(source, index=False)
    run = run_detection(source, DetectionSettings(model="iforest"))
    export = tmp_path / "orders.anomalies.json"
    export.write_text(json.dumps(build_export(run), default=str))
    with pytest.raises(ReadError) as err:
        read_table(export)
    msg = assert_one_line(err)
    assert "is an anomaly-tui export" in msg and "orders.csv" in msg


# --------------------------------------------------------------------------------------------
# SQLite: tables and views are the sheets


def _shop(path):
    return sqlite_file(
        path,
        """
        CREATE TABLE orders (id INTEGER PRIMARY KEY, item TEXT, amount REAL, made TEXT);
        INSERT INTO orders (item, amount, made) VALUES ('pen', 1.5, '2024-01-02'), ('ink', 2.25, '2024-01-03'),
            ('pad', NULL, NULL), ('ink', 3.0, '2024-01-05');
        CREATE TABLE customers (name TEXT, city TEXT);
        INSERT INTO customers VALUES ('Ann', 'Oslo');
        CREATE VIEW big_orders AS SELECT item, amount FROM orders WHERE amount > 2;
        CREATE TABLE "odd ""name""; DROP TABLE orders; --" (x INTEGER);
        INSERT INTO "odd ""name""; DROP TABLE orders; --" VALUES (7);
        CREATE TABLE log (n INTEGER PRIMARY KEY AUTOINCREMENT, y INTEGER);
        """,
    )


def test_tables_and_views_are_listed_as_sheets_and_read_by_name_or_number(tmp_path):
    path = _shop(tmp_path / "shop.sqlite")
    sheets = list_sheets(path)
    assert [(s.name, s.rows, s.columns) for s in sheets] == [
        ("orders", 4, 4),
        ("customers", 1, 2),
        ('odd "name"; DROP TABLE orders; --', 1, 1),
        ("log", 0, 2),  # and not SQLite's own sqlite_sequence, which AUTOINCREMENT made
        ("big_orders", 2, 2),
    ]
    first = read_table(path)  # no sheet named: the first table
    assert first.report.sheet == "orders" and first.report.file_format == "sqlite"
    assert first.frame["amount"].tolist()[:2] == [1.5, 2.25]
    assert first.source_rows.tolist() == [1, 2, 3, 4]
    assert read_table(path, "big_orders").frame["item"].tolist() == ["ink", "ink"]
    assert read_table(path, 1).frame["name"].tolist() == ["Ann"]
    odd = read_table(path, 'odd "name"; DROP TABLE orders; --')
    assert odd.frame["x"].tolist() == [7]
    assert len(read_table(path, "orders").frame) == 4  # the name ran as a name, not as SQL
    listed, loaded = open_table(path, "customers")
    assert [s.name for s in listed] == [s.name for s in sheets] and loaded.report.sheet == "customers"
    with pytest.raises(ReadError) as err:
        read_table(path, "nope")
    assert "has no table named 'nope'" in assert_one_line(err) and "big_orders" in str(err.value)


def test_a_database_without_tables_says_so(tmp_path):
    path = sqlite_file(tmp_path / "empty.db", "CREATE TABLE t (a INTEGER); DROP TABLE t; PRAGMA user_version = 1;")
    with pytest.raises(ReadError) as err:
        read_table(path)
    assert "has no tables or views" in assert_one_line(err)


# --------------------------------------------------------------------------------------------
# Text that is not a table


@pytest.mark.parametrize(
    "text",
    [
        "Call Anna about the March claims.\nShe said the totals were off.\nAsk Bob for the new file.\n",
        "Meeting notes\nWe went through the budget for next year and agreed on most of it.\nAnna will send the figures on Monday.\n",
        "Dear Bob, thanks for the file.\nThe totals, as you said, were off by a few.\nBest, Anna\n",
    ],
)
def test_prose_is_refused_as_not_a_table(tmp_path, text):
    path = tmp_path / "notes.txt"
    path.write_text(text)
    with pytest.raises(ReadError) as err:
        read_table(path)
    assert assert_one_line(err).startswith("'notes.txt' does not look like a table (")


@pytest.mark.parametrize(
    ("text", "column", "values"),
    [
        ("amount\n12.5\n3\n7.25\n", "amount", [12.5, 3.0, 7.25]),  # one named column
        ("city\nOslo\nBergen\nTromsø\n", "city", ["Oslo", "Bergen", "Tromsø"]),
        ("5\n7\n11\n", "column 1", [5, 7, 11]),  # one column of numbers, no name
    ],
)
def test_a_one_column_table_is_still_a_table(tmp_path, text, column, values):
    path = tmp_path / "one.csv"
    path.write_text(text, encoding="utf-8")
    assert read_table(path).frame[column].tolist() == values


# --------------------------------------------------------------------------------------------
# Big files: the same reader in a child process


def test_the_child_process_reads_every_new_format_the_same(tmp_path, monkeypatch):
    frame = pd.DataFrame({"a": [1, 2, None, 4], "b": ["w", "x", None, "z"]})
    frame.to_parquet(tmp_path / "t.parquet")
    (tmp_path / "t.jsonl").write_text("\n".join(json.dumps(r) for r in frame.astype(object).where(frame.notna(), None).to_dict("records")))
    with sqlite3.connect(tmp_path / "t.db") as con:
        frame.to_sql("t", con, index=False)
    con.close()
    for name in ("t.parquet", "t.jsonl", "t.db"):
        monkeypatch.setenv(child.MODE_ENV, "0")
        here = open_table(tmp_path / name)
        monkeypatch.setenv(child.MODE_ENV, "1")
        there = open_table(tmp_path / name)
        pd.testing.assert_frame_equal(here[1].frame, there[1].frame)
        assert here[0] == there[0], name
        assert here[1].source_rows.tolist() == there[1].source_rows.tolist() == [1, 2, 4], name
        assert here[1].report.dropped_empty_rows == there[1].report.dropped_empty_rows == 1


def test_cancel_stops_a_view_that_never_ends(tmp_path, monkeypatch):
    path = sqlite_file(
        tmp_path / "forever.db",
        "CREATE TABLE t (a INTEGER); CREATE VIEW forever AS "
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) AS n FROM c;",
    )
    monkeypatch.setenv(child.MODE_ENV, "1")
    cancel = threading.Event()

    def stage(text: str) -> None:
        if text.startswith("reading view"):
            cancel.set()

    with pytest.raises(ReadCancelled):
        read_table(path, "forever", cancel=cancel, on_stage=stage)
    assert sandbox.live_children() == 0


def test_quote_name_doubles_quotes():
    assert sqlitedb.quote_name('a"b') == '"a""b"'
    with pytest.raises(ReadError):
        sqlitedb.quote_name("a\x00b")


# --------------------------------------------------------------------------------------------
# The command line


def _detect(*args):
    import os
    import subprocess
    import sys

    return subprocess.run(
        [sys.executable, "-m", "tui_detector", "detect", *map(str, args), "--model", "iforest"],
        capture_output=True, text=True, timeout=180, env=os.environ.copy(),
    )


@pytest.mark.slow
def test_detect_reads_a_database_table_and_refuses_what_is_not_a_table(tmp_path):
    frame, _ = mixed_table(300)
    frame = frame.drop(columns=["ordered_at"])
    db = tmp_path / "shop.sqlite"
    with sqlite3.connect(db) as con:
        con.execute("CREATE TABLE first (a INTEGER)")
        frame.to_sql("orders", con, index=False)
    con.close()
    proc = _detect(db, "--sheet", "orders")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["source"]["sheet"] == "orders" and doc["source"]["format"] == "sqlite"
    assert all(a["excel_row"] is None and a["source_row"] == a["row_index"] + 1 for a in doc["anomalies"])
    export = tmp_path / "shop.anomalies.json"
    export.write_text(proc.stdout)
    notes = tmp_path / "notes.txt"
    notes.write_text("Call Anna about the March claims.\nShe said the totals were off.\n")
    for path, fragment in ((export, "is an anomaly-tui export (the anomalies found in 'shop.sqlite')"), (notes, "does not look like a table")):
        proc = _detect(path)
        lines = proc.stderr.strip().splitlines()
        assert proc.returncode == 1 and proc.stdout == ""
        assert len(lines) == 1 and lines[0].startswith("error: ") and fragment in lines[0], proc.stderr


def test_blank_text_is_missing_as_in_a_sheet_and_a_blank_record_is_an_empty_row(tmp_path):
    records = [{"a": 1, "b": "x"}, {"a": None, "b": "   "}, {"a": 3, "b": ""}, {"a": 4, "b": " y "}]
    (tmp_path / "blank.json").write_text(json.dumps(records))
    pd.DataFrame(records).to_parquet(tmp_path / "blank.parquet")
    for name in ("blank.json", "blank.parquet"):
        t = read_table(tmp_path / name)
        assert t.frame["a"].tolist() == [1, 3, 4], name
        assert t.frame["b"].isna().tolist() == [False, True, False], name
        assert t.frame["b"].iloc[2] == " y ", name  # text is kept as it is, only blanks go
        assert t.report.dropped_empty_rows == 1 and t.source_rows.tolist() == [1, 3, 4], name


def test_json_lines_whose_keys_change_order_or_nest_line_by_line(tmp_path):
    lines = [
        {"a": 1, "b": "x"},
        {"a": 2, "b": "y"},
        {"b": "z", "a": 3},  # the same keys in another order
        {"a": 4, "c": {"d": 5}},  # a nested one, then plain ones again
        {"a": 5, "b": "{not nested}"},
        {"a": 6, "b": "w"},
        {"e": True},
    ]
    path = tmp_path / "changing.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in lines) + "\n")
    t = read_table(path)
    assert list(t.frame.columns) == ["a", "b", "c.d", "e"]
    assert t.frame["a"].tolist()[:6] == [1, 2, 3, 4, 5, 6] and pd.isna(t.frame["a"].iloc[6])
    assert t.frame["b"].fillna("-").tolist() == ["x", "y", "z", "-", "{not nested}", "w", "-"]
    assert t.frame["c.d"].fillna(0).tolist() == [0, 0, 0, 5, 0, 0, 0]
    assert t.frame["e"].fillna(False).tolist() == [False] * 6 + [True]


def test_database_text_that_is_not_utf8_is_read_with_the_bad_bytes_replaced(tmp_path):
    path = tmp_path / "latin.db"
    with sqlite3.connect(path) as con:
        con.execute("CREATE TABLE t (name TEXT, n INTEGER)")
        con.execute("INSERT INTO t VALUES (CAST(x'436166e9' AS TEXT), 1), ('ok', 2)")  # 'Caf\xe9'
    con.close()
    t = read_table(path)
    assert t.frame["name"].tolist() == ["Caf\ufffd", "ok"] and t.frame["n"].tolist() == [1, 2]


def test_json_lines_whose_first_line_is_longer_than_the_sniffed_head_is_still_read(tmp_path):
    path = tmp_path / "long.log"
    path.write_text(json.dumps({"a": 1, "b": "x" * 70_000}) + "\n" + json.dumps({"a": 2, "b": "y"}) + "\n")
    t = read_table(path)
    assert t.frame["a"].tolist() == [1, 2] and t.source_rows.tolist() == [1, 2]
    assert t.report.file_format == "jsonl"


def test_a_parquet_of_many_cells_is_read_in_the_child_whatever_its_size_and_cancels(tmp_path, monkeypatch):
    monkeypatch.delenv(child.MODE_ENV, raising=False)
    path = tmp_path / "dense.parquet"
    pd.DataFrame({"a": np.arange(40_000) % 3, "b": np.arange(40_000) % 5}).to_parquet(path, row_group_size=10_000)
    assert path.stat().st_size < child.CHILD_READ_BYTES
    assert not child.wanted(path)
    monkeypatch.setattr(child, "CHILD_READ_CELLS", 80_000)  # this file's rows x columns
    assert child.wanted(path)
    cancel = threading.Event()
    heard: list[str] = []

    def stage(text: str) -> None:
        heard.append(text)
        if text.startswith("reading row group 2"):
            cancel.set()

    with pytest.raises(ReadCancelled):
        read_table(path, cancel=cancel, on_stage=stage)
    assert "reading row group 1 of 4" in heard and sandbox.live_children() == 0


def test_a_totals_row_in_a_csv_is_named_by_its_line_and_the_rows_after_keep_theirs(tmp_path):
    from tui_detector.core.pipeline import without_totals

    rng = np.random.default_rng(1)
    amounts = np.round(rng.uniform(10, 100, 60), 2)
    lines = ["customer,amount"] + [f"c{i},{a}" for i, a in enumerate(amounts[:30])]
    lines += [f"Total,{round(float(amounts[:30].sum()), 2)}"] + [f"d{i},{a}" for i, a in enumerate(amounts[30:])]
    path = tmp_path / "with_total.csv"
    path.write_text("\n".join(lines) + "\n")
    (trimmed, _), rows = without_totals((read_table(path), "sha"))
    assert [(r["row_index"], r["excel_row"], r["source_row"], r["label"]) for r in rows] == [(30, None, 32, "Total")]
    assert trimmed.source_rows[29:31].tolist() == [31, 33]  # line 32 was the totals row
