"""Time reading one 1,000,000-row x 10-column table saved in each format the reader opens.

Usage (from the repository root):

    python benchmarks/read_formats.py [--rows 1000000] [--runs 3]

The table is the end-to-end benchmark's expense claims (dates, amounts, categories, text),
written once per format into a temporary folder (never the repository): .xlsx (xlsxwriter),
.csv, .parquet (pyarrow, row groups of 128k rows), .jsonl, and a SQLite table. Each file is read
``--runs`` times with ``read_table`` exactly as ``anomaly-tui detect`` reads it (a file this big
goes to the reader's child process); the median is reported. It also times listing a database
of 1,000 tables. The section between the markers in benchmarks/RESULTS.md is replaced.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import pandas as pd  # noqa: E402

from benchmarks._results import update_section  # noqa: E402
from benchmarks.quality import E2E_COLUMNS, write_cells  # noqa: E402
from tui_detector.demo import make_expense_claims  # noqa: E402



def write_xlsx(frame: pd.DataFrame, path: Path) -> None:
    import xlsxwriter

    wb = xlsxwriter.Workbook(str(path), {"constant_memory": True})
    ws = wb.add_worksheet("Claims")
    date_format = wb.add_format({"num_format": "yyyy-mm-dd hh:mm"})
    ws.write_row(0, 0, list(frame.columns))
    write_cells(ws, frame, date_format)
    wb.close()


def write_all(frame: pd.DataFrame, folder: Path) -> dict[str, Path]:
    paths = {}
    for label, name, write in (
        ("xlsx", "claims.xlsx", lambda p: write_xlsx(frame, p)),
        ("csv", "claims.csv", lambda p: frame.to_csv(p, index=False)),
        ("parquet", "claims.parquet", lambda p: frame.to_parquet(p, index=False, row_group_size=128_000)),
        ("jsonl", "claims.jsonl", lambda p: frame.to_json(p, orient="records", lines=True, date_format="iso")),
        ("sqlite", "claims.sqlite", lambda p: _to_sqlite(frame, p)),
    ):
        path = folder / name
        t0 = time.perf_counter()
        write(path)
        paths[label] = path
        print(f"wrote {name}: {path.stat().st_size / 1e6:.0f} MB in {time.perf_counter() - t0:.0f} s", flush=True)
    return paths


def _to_sqlite(frame: pd.DataFrame, path: Path) -> None:
    con = sqlite3.connect(path)
    try:
        frame.to_sql("claims", con, index=False, chunksize=50_000)
    finally:
        con.close()


def many_tables(path: Path, n: int = 1000) -> Path:
    con = sqlite3.connect(path)
    try:
        con.execute("BEGIN")
        for i in range(n):
            con.execute(f"CREATE TABLE t{i:04d} (a INTEGER, b TEXT, c REAL)")
            con.executemany(f"INSERT INTO t{i:04d} VALUES (?, ?, ?)", [(j, f"v{j}", j / 3) for j in range(100)])
        con.commit()
    finally:
        con.close()
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-results", action="store_true", help="print only; leave RESULTS.md alone")
    args = parser.parse_args()

    from tui_detector.core.io import child
    from tui_detector.core.io.reader import list_sheets, read_table

    work = Path(tempfile.mkdtemp(prefix="read-formats-"))
    try:
        frame = make_expense_claims(args.rows, anomaly_rate=0.01, seed=11).frame[E2E_COLUMNS]
        paths = write_all(frame, work)
        rows = []
        for label, path in paths.items():
            times = []
            for _ in range(args.runs):
                t0 = time.perf_counter()
                loaded = read_table(path)
                times.append(time.perf_counter() - t0)
                shape = loaded.frame.shape
                del loaded
            print(f"{label}: {[round(t, 2) for t in times]} s, {shape}", flush=True)
            where = "child process" if child.wanted(path) else "in-process"
            rows.append((label, path.stat().st_size, statistics.median(times), min(times), shape, where))
        db = many_tables(work / "many.sqlite")
        listing = []
        for _ in range(args.runs):
            t0 = time.perf_counter()
            n = len(list_sheets(db))
            listing.append(time.perf_counter() - t0)
        print(f"1,000 tables listed: {[round(t, 3) for t in listing]} s ({n} sheets)", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    xlsx = next(r[2] for r in rows if r[0] == "xlsx")
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    body = [
        f"`python benchmarks/read_formats.py --runs {args.runs}` ({stamp}; {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}): the end-to-end expense claims, "
        f"{args.rows:,} rows × {len(E2E_COLUMNS)} columns, saved in each format and read with `read_table` as "
        "`detect` reads it (files of 24 MiB or more, and Parquet files of 2.5M cells or more, go to the reader's child process). Median of "
        f"{args.runs} runs; the files are generated in a temporary folder.",
        "",
        "| format | file size | read in | read (median) | fastest | vs xlsx | table |",
        "|:--|--:|:--|--:|--:|--:|:--|",
    ]
    for label, size, median, fastest, shape, where in rows:
        body.append(
            f"| {label} | {size / 1e6:.0f} MB | {where} | {median:.2f} s | {fastest:.2f} s | "
            f"{xlsx / median:.1f}× | {shape[0]:,} × {shape[1]} |"
        )
    body += [
        "",
        f"Listing a SQLite file of 1,000 tables (100 rows each; names, column and row counts): "
        f"{statistics.median(listing) * 1000:.0f} ms (median of {args.runs}).",
    ]
    print("\n".join(body))
    if not args.no_results:
        _update_results(body)


def _update_results(body: list[str]) -> None:
    update_section("read-formats", "## Reading each format (issue 20)", body)


if __name__ == "__main__":
    main()
