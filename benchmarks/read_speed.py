"""Time reading a 100,000-row x 20-column workbook (and a full-size one): before and after the fast path.

Usage (from the repository root):

    python benchmarks/read_speed.py [--runs 3] [--rows 100000] [--out benchmarks/READ_SPEED.md]
        [--full-size benchmarks/_data/claims_1048575x10.xlsx --full-runs 3]

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


def _with_env(name: str, value: str | None, fn: Callable[[], object]) -> Callable[[], object]:
    def run() -> object:
        old = os.environ.get(name)
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
        try:
            return fn()
        finally:
            if old is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = old

    return run


def _same_table(path: Path) -> str:
    """Whether the fast path and the cell-by-cell path give the same table for ``path``."""
    import numpy as np
    import pandas as pd

    from tui_detector.core.io.fastread import FAST_ENV
    from tui_detector.core.io.reader import read_table

    fast = _with_env(FAST_ENV, None, lambda: read_table(path))()
    cells = _with_env(FAST_ENV, "0", lambda: read_table(path))()
    pd.testing.assert_frame_equal(fast.frame, cells.frame)
    assert np.array_equal(fast.excel_rows, cells.excel_rows)
    a, b = dict(vars(fast.report)), dict(vars(cells.report))
    a.pop("seconds"), b.pop("seconds")
    assert a == b, (a, b)
    return f"{fast.frame.shape[0]:,} x {fast.frame.shape[1]}, dtypes {sorted({str(d) for d in fast.frame.dtypes})}"


def _cases(path: Path, sheet: str, with_openpyxl: bool) -> list[tuple[str, Callable[[], object]]]:
    import pandas as pd

    from tui_detector.core.io.fastread import FAST_ENV
    from tui_detector.core.io.reader import read_table

    def calamine_only():
        from python_calamine import CalamineWorkbook

        wb = CalamineWorkbook.from_path(str(path))
        return wb.get_sheet_by_name(sheet).to_python()

    cases: list[tuple[str, Callable[[], object]]] = [
        ("`read_table`, cell by cell (`ANOMALY_TUI_FAST_READ=0`, the path before)",
         _with_env(FAST_ENV, "0", lambda: read_table(path))),
        ("`read_table`, fast path (default: fastexcel to Arrow, head cell by cell)",
         _with_env(FAST_ENV, None, lambda: read_table(path))),
    ]
    if with_openpyxl:
        cases += [
            ("`read_table(engine=\"openpyxl\")`", lambda: read_table(path, engine="openpyxl")),
            ("`pandas.read_excel(engine=\"openpyxl\")`", lambda: pd.read_excel(path, engine="openpyxl")),
        ]
    cases.append(("python-calamine `to_python()` alone (reference)", calamine_only))
    try:
        import fastexcel  # noqa: F401, PLC0415

        def fastexcel_only():
            import fastexcel  # noqa: PLC0415

            return fastexcel.read_excel(str(path)).load_sheet(sheet).to_arrow()

        cases.append(("fastexcel `load_sheet().to_arrow()` alone (reference: no checks, header on row 1)", fastexcel_only))
    except ImportError:
        print("fastexcel is not installed: its line is left out", flush=True)
    return cases


def _section(title: str, path: Path, sheet: str, runs: int, with_openpyxl: bool) -> list[str]:
    size_mb = path.stat().st_size / 1e6
    print(f"checking that both paths read the same table from {path.name} ...", flush=True)
    same = _same_table(path)
    results = []
    for label, fn in _cases(path, sheet, with_openpyxl):
        print(f"timing {label} x{runs} ...", flush=True)
        median, times = timed(fn, runs)
        results.append((label, median, times))
        print(f"  median {median:.2f} s  (runs: {', '.join(f'{t:.2f}' for t in times)})", flush=True)
    base = results[0][1]
    lines = [
        f"## {title}",
        "",
        f"`{path.name}` ({size_mb:.1f} MB xlsx); both paths give the same table ({same}), "
        "report and row numbers (checked before timing).",
        "",
        f"Median of {runs} runs; \"vs before\" is the time as a share of the cell-by-cell path's.",
        "",
        "| reader | median seconds | runs (s) | vs before |",
        "|---|---:|---|---:|",
    ]
    for label, median, times in results:
        runs_text = ", ".join(f"{t:.2f}" for t in times)
        lines.append(f"| {label} | {median:.2f} | {runs_text} | {median / base:.2f}x |")
    return lines + [""]


def _load_line() -> str:
    try:
        one, five, fifteen = os.getloadavg()
    except OSError:
        return "load average unknown"
    return f"load average {one:.2f} / {five:.2f} / {fifteen:.2f} (1 / 5 / 15 min)"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="runs per reader (default 3)")
    parser.add_argument("--rows", type=int, default=100_000, help="data rows (default 100000)")
    parser.add_argument(
        "--full-size", type=Path, default=None,
        help="also time this full-size workbook (e.g. benchmarks/_data/claims_1048575x10.xlsx, "
        "made by benchmarks/full_size.py); its reads go through the reader process as the app's do",
    )
    parser.add_argument("--full-runs", type=int, default=3, help="runs per reader on the full-size file")
    parser.add_argument(
        "--openpyxl", action="store_true", help="also time the openpyxl reads (16-21 s each at 100k x 20)"
    )
    parser.add_argument(
        "--out", type=Path, default=ROOT / "benchmarks" / "READ_SPEED.md", help="markdown report"
    )
    args = parser.parse_args(argv)

    path = DATA_DIR / f"mixed_{args.rows}x{COLUMNS}.xlsx"
    if not path.exists():
        print(f"generating {path} ...", flush=True)
        start = time.perf_counter()
        generate(path, args.rows)
        print(f"  done in {time.perf_counter() - start:.1f} s", flush=True)

    started_load = _load_line()
    lines = [
        "# Read speed",
        "",
        f"Machine: {machine_line()}, fastexcel {version('fastexcel')}; {started_load} at the start.",
        "",
    ]
    lines += _section(
        f"{args.rows:,} rows x {COLUMNS} columns (ints, floats, dates, categories, some free text, ~2% blanks)",
        path, "Data", args.runs, with_openpyxl=args.openpyxl,
    )
    if args.full_size is not None:
        from python_calamine import CalamineWorkbook

        first = CalamineWorkbook.from_path(str(args.full_size)).sheet_names[0]
        lines += _section(f"Full-size sheet: {args.full_size.name}", args.full_size, first, args.full_runs, with_openpyxl=False)
    lines += [
        f"At the end: {_load_line()}.",
        "",
        "`read_table` does more than a parser: the pre-check (zip, grid size and XML limits, "
        "in front of every parser, both paths), the header, title rows, error cells, formulas "
        "without a value, empty rows and columns, and each column's dtype. The fast path reads "
        "the sheet's first rows cell by cell exactly as before (header, titles, names), then the "
        "rest with fastexcel typed by column, compares the rows both read, and leaves the sheet "
        "to the cell-by-cell path wherever it cannot vouch for the same table (a mixed column, "
        "times of day, durations, dates past 2262, a cell the two parsers see differently).",
        "",
    ]
    text = "\n".join(lines)
    args.out.write_text(text, encoding="utf-8")
    print()
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
