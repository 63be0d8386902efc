"""Time reading a 100,000-row x 20-column workbook: calamine vs openpyxl.

Usage (from the repository root):

    python benchmarks/read_speed.py [--runs 3] [--rows 100000] [--out benchmarks/READ_SPEED.md]

The workbook is generated once with xlsxwriter and cached under benchmarks/_data/ (git-ignored).
Each reader runs ``--runs`` times; the table reports the median, which is less sensitive than
the mean to a run that shares the machine with something else.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import os
import platform
import random
import statistics
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

DATA_DIR = ROOT / "benchmarks" / "_data"
COLUMNS = 20
CATEGORIES = ["north", "south", "east", "west", "central"]
STATUSES = ["open", "closed", "pending"]
FREE_TEXT = [
    "customer called twice about the delivery",
    "refund approved after review",
    "duplicate of an earlier order?",
    "address corrected by hand",
]


def column_kind(c: int) -> str:
    # Four of each: the mix a typical business export has.
    return ("int", "float", "date", "category", "text")[c % 5]


def generate(path: Path, rows: int, seed: int = 7) -> None:
    import xlsxwriter

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.xlsx")
    rng = random.Random(seed)
    # constant_memory streams rows to disk, so generating stays fast and small in memory.
    wb = xlsxwriter.Workbook(str(tmp), {"constant_memory": True})
    ws = wb.add_worksheet("Data")
    date_format = wb.add_format({"num_format": "yyyy-mm-dd"})
    header = [f"{column_kind(c)}_{c // 5 + 1}" for c in range(COLUMNS)]
    ws.write_row(0, 0, header)
    base = dt.datetime(2020, 1, 1)
    for r in range(1, rows + 1):
        for c in range(COLUMNS):
            if rng.random() < 0.02:  # some blanks everywhere
                continue
            kind = column_kind(c)
            if kind == "int":
                ws.write_number(r, c, rng.randint(1, 1_000_000))
            elif kind == "float":
                ws.write_number(r, c, round(rng.lognormvariate(4, 1), 2))
            elif kind == "date":
                ws.write_datetime(r, c, base + dt.timedelta(days=rng.randint(0, 2500)), date_format)
            elif kind == "category":
                ws.write_string(r, c, rng.choice(CATEGORIES))
            elif rng.random() < 0.05:
                ws.write_string(r, c, rng.choice(FREE_TEXT))
            else:
                ws.write_string(r, c, rng.choice(STATUSES))
    wb.close()
    tmp.replace(path)


def timed(fn: Callable[[], object], runs: int) -> tuple[float, list[float]]:
    times = []
    for _ in range(runs):
        gc.collect()
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
        del result
    return statistics.median(times), times


def version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def machine_line() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return (
        f"{cpu}, {cores} cores available, {platform.system()} {platform.release()}; "
        f"Python {platform.python_version()}, pandas {version('pandas')}, "
        f"numpy {version('numpy')}, "
        f"python-calamine {version('python-calamine')}, openpyxl {version('openpyxl')}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="runs per reader (default 3)")
    parser.add_argument("--rows", type=int, default=100_000, help="data rows (default 100000)")
    parser.add_argument(
        "--out", type=Path, default=ROOT / "benchmarks" / "READ_SPEED.md", help="markdown report"
    )
    args = parser.parse_args(argv)

    import pandas as pd

    from tui_detector.core.io.reader import read_table

    path = DATA_DIR / f"mixed_{args.rows}x{COLUMNS}.xlsx"
    if not path.exists():
        print(f"generating {path} ...", flush=True)
        start = time.perf_counter()
        generate(path, args.rows)
        print(f"  done in {time.perf_counter() - start:.1f} s", flush=True)
    size_mb = path.stat().st_size / 1e6

    def calamine_only():
        from python_calamine import CalamineWorkbook

        wb = CalamineWorkbook.from_path(str(path))
        return wb.get_sheet_by_name("Data").to_python()

    cases: list[tuple[str, Callable[[], object]]] = [
        ("`read_table(engine=\"calamine\")`", lambda: read_table(path, engine="calamine")),
        ("`read_table(engine=\"openpyxl\")`", lambda: read_table(path, engine="openpyxl")),
        (
            "`pandas.read_excel(engine=\"openpyxl\")`",
            lambda: pd.read_excel(path, engine="openpyxl"),
        ),
        ("python-calamine `to_python()` alone (reference)", calamine_only),
    ]
    try:
        import fastexcel  # noqa: F401, PLC0415 - a peer measured here, not a dependency

        def fastexcel_only():
            import fastexcel  # noqa: PLC0415

            return fastexcel.read_excel(str(path)).load_sheet("Data").to_arrow()

        cases.append(("fastexcel `load_sheet().to_arrow()` alone (reference: header on row 1, typed by column)", fastexcel_only))
    except ImportError:
        print("fastexcel is not installed (pip install -e '.[bench]'): its reference line is left out", flush=True)

    check = read_table(path, engine="calamine")
    assert check.frame.shape == (args.rows, COLUMNS), check.frame.shape

    results = []
    for label, fn in cases:
        print(f"timing {label} x{args.runs} ...", flush=True)
        median, times = timed(fn, args.runs)
        results.append((label, median, times))
        runs = ", ".join(f"{t:.2f}" for t in times)
        print(f"  median {median:.2f} s  (runs: {runs})", flush=True)

    fastest = results[0][1]
    lines = [
        "# Read speed",
        "",
        f"Workbook: {args.rows:,} rows x {COLUMNS} columns ({size_mb:.1f} MB xlsx) with ints, "
        "floats, dates, short categories, some free text and ~2% blank cells, generated by "
        "`benchmarks/read_speed.py` (xlsxwriter).",
        "",
        f"Machine: {machine_line()}.",
        "",
        f"Median of {args.runs} runs each; \"vs calamine\" is how many times longer than "
        "`read_table(engine=\"calamine\")`.",
        "",
        "| reader | median seconds | runs (s) | vs calamine |",
        "|---|---:|---|---:|",
    ]
    for label, median, times in results:
        ratio = median / fastest if fastest else float("nan")
        runs = ", ".join(f"{t:.2f}" for t in times)
        lines.append(f"| {label} | {median:.2f} | {runs} | {ratio:.1f}x |")
    openpyxl_rt = results[1][1]
    pandas_rt = results[2][1]
    lines += [
        "",
        f"Speed-up of the calamine path: {openpyxl_rt / fastest:.1f}x over `read_table` with "
        f"openpyxl, {pandas_rt / fastest:.1f}x over plain `pandas.read_excel` with openpyxl.",
        "",
        "`read_table` does more than `pandas.read_excel`: it finds the header, scans the sheet "
        "for Excel error cells, drops empty rows/columns, and types every column "
        "(Int64/float/datetime/boolean/str).",
        "",
        "fastexcel (calamine to Arrow, no Python object per cell) is timed as a reference: it is not "
        "the reader. It types a column as a whole and must be told the header row, where `read_table` "
        "decides the header, title rows and mixed columns from each cell's own type; a fast path "
        "through it would need the sheet's first rows cell by cell first, and each `load_sheet` "
        "parses the whole sheet again.",
        "",
    ]
    text = "\n".join(lines)
    args.out.write_text(text, encoding="utf-8")
    print()
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
