"""The results table on a full-size sheet: mount, key press to repaint, sort (1,048,576 rows).

Usage (from the repository root):

    python benchmarks/app_latency.py [--rows 1048576] [--out benchmarks/APP_LATENCY.md]

Builds a table of ``--rows`` rows × 10 mixed columns in memory, fits IsolationForest on a
20,000-row sample and scores every row (the reading and training costs are measured elsewhere),
then opens the app's Results screen on it headless at 120×40 in all-rows mode and times:

* key press to repaint: ``pilot.press(key)`` then ``pilot.pause()`` (the key travels the
  whole event path and the screen is redrawn), median of 20 presses per key; the same on a
  50-row table gives the harness's own floor;
* sorting: ``ResultsModel.sort`` per column kind, first sort of a column (computes its rank)
  and a repeat (reuses it), and ``s`` through the key path;
* the column filter (``f``): :func:`tui_detector.core.filter_mask` per kind of expression,
  median of 5, and the whole key path (``f``, the expression, ``enter``, the filtered table
  repainted);
* the column histogram (``H``): the distribution of a column per kind, median of 5, and the
  key path to the histogram screen drawn;
* app start to first screen: ``anomaly-tui`` (file picker) in a subprocess, to the first
  repaint, median of 5.
"""

from __future__ import annotations

import argparse
import os
import asyncio
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tui_detector.core.model.detector import TabularAnomalyDetector  # noqa: E402
from tui_detector.core.pipeline import DetectionRun  # noqa: E402
from tui_detector.core.io.reader import LoadedTable, LoadReport  # noqa: E402


def make_frame(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    segment = rng.choice(np.array(["north", "south", "east", "west"], dtype=object), n)
    # Text columns as the reader hands them over (pandas' str dtype, Arrow-backed).
    frame = pd.DataFrame(
        {
            "order_id": np.char.add("ORD-", np.char.zfill(np.arange(n).astype(str), 7)).astype(object),
            "segment": segment,
            "units": x,
            "revenue": 2 * x + rng.normal(scale=0.1, size=n),
            "amount": np.round(np.exp(rng.normal(3, 0.6, n)), 2),
            "discount": rng.random(n),
            "ordered_at": pd.Timestamp("2026-01-05") + pd.to_timedelta(rng.integers(0, 150 * 24, n), unit="h"),
            "express": rng.random(n) < 0.3,
            "channel": rng.choice(np.array(["web", "shop", "phone"], dtype=object), n),
            "warehouse": rng.choice(np.array([f"W{i:02d}" for i in range(40)], dtype=object), n),
        }
    )
    for name in ("order_id", "segment", "channel", "warehouse"):
        frame[name] = frame[name].astype("str")
    return frame


def make_run(n: int) -> DetectionRun:
    frame = make_frame(n)
    detector = TabularAnomalyDetector(model="iforest", random_state=0)
    detector.train(frame.sample(min(n, 20_000), random_state=0).reset_index(drop=True))
    detection = detector.detect(frame)
    report = LoadReport("bench.xlsx", "xlsx", "memory", "Sheet1", 1, n, [str(c) for c in frame.columns], 0, 0, [], 0.0)
    loaded = LoadedTable(frame, report, np.arange(n) + 2)
    return DetectionRun(Path("bench.xlsx"), "0" * 64, loaded, detector, detection, False, None, "memory")


#: (label, column key) sorted by :func:`measure_table` on :func:`make_frame`'s table.
SORTS = [
    ("score", "score"),
    ("number (amount)", "c4"),
    ("text (warehouse)", "c9"),
    ("text, unique (order_id)", "c0"),
    ("date (ordered_at)", "c6"),
]

#: Filters timed by :func:`measure_filter` (the table of :func:`make_frame`).
FILTERS = [
    "segment = north",
    "amount > 30",
    "segment = north and amount > 30",
    "ordered_at >= 2026-03-01",
    "express = true, warehouse != W07",
    "order_id = ORD-0000017",
    "channel ~ sho or discount < 0.01",
]
#: (label, column key) of the histograms timed.
HISTOGRAMS = [("number (amount)", "c4"), ("text (warehouse)", "c9"), ("text, unique (order_id)", "c0"), ("date (ordered_at)", "c6")]
RUNS = 5
#: How many rows each of :data:`FILTERS` kept (the last table measured: the big one is first).
MATCHES: dict[str, int] = {}


def _median(fn, runs: int = RUNS) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


async def measure_filter_and_histogram(app, pilot, screen) -> dict[str, float]:
    """The filter and the histogram on the Results screen already mounted (all rows)."""
    from tui_detector.ui.distribution import column_distribution
    from tui_detector.ui.screens.column_histogram import ColumnHistogramScreen

    out: dict[str, float] = {}
    model = screen.model
    for text in FILTERS:
        parsed = model.parse_filter(text)
        MATCHES[text] = int(model.filter_mask(parsed).sum())
        out[f"filter `{text}`, median of {RUNS} (s)"] = _median(lambda p=parsed: model.filter_mask(p))
    times = []
    for _ in range(RUNS):
        if model.row_filter is not None:
            await pilot.press("escape")  # clears the previous run's filter
            await pilot.pause()
        await pilot.press("f", *"segment = north and amount > 30")
        await pilot.pause()
        t0 = time.perf_counter()
        await pilot.press("enter")
        while model.row_filter is None:
            await pilot.pause(0.001)
        await pilot.pause()
        times.append(time.perf_counter() - t0)
    out[f"`enter` on a typed filter (2 clauses) to the filtered table repainted, median of {RUNS} (s)"] = statistics.median(times)
    await pilot.press("escape")
    await pilot.pause()
    assert app.screen is screen and model.row_filter is None
    row = int(model.view[0])
    for label, key in HISTOGRAMS:
        cells = model.values[model.column(key).data_index]
        out[f"histogram of {label}, median of {RUNS} (s)"] = _median(lambda c=cells, r=row: column_distribution("x", c, actual=c[r]))
    table = screen.table
    table.cursor_column = [c.key for c in table.all_columns].index("c4")
    times = []
    for _ in range(RUNS):
        t0 = time.perf_counter()
        await pilot.press("H")
        while not isinstance(app.screen, ColumnHistogramScreen):
            await pilot.pause(0.001)
        await pilot.pause()
        times.append(time.perf_counter() - t0)
        await pilot.press("escape")
        await pilot.pause()
    out[f"`H` on amount (with the row's expected value) to the histogram drawn, median of {RUNS} (s)"] = statistics.median(times)
    return out


async def measure_table(
    run: DetectionRun, presses: int = 20, sorts: list[tuple[str, str]] | None = None, filters: bool = True
) -> dict[str, float]:
    """Key-to-repaint, sorts and (``filters``: on :func:`make_frame`'s table, whose columns the
    filters name) the filter and histogram timings on Results for ``run``."""
    from textual import on
    from textual.app import App

    from tui_detector.ui.app import AnomalyApp
    from tui_detector.ui.journey import OpenHistogram
    from tui_detector.ui.screens.results import ResultsScreen
    from tui_detector.ui.widgets.score_table import ScoreTable

    out: dict[str, float] = {}

    class Bench(App[None]):
        CSS_PATH = str(ROOT / "tui_detector" / "ui" / "app.tcss")
        open_histogram = AnomalyApp.open_histogram

        @on(OpenHistogram)
        def _histogram(self, message: OpenHistogram) -> None:
            self.open_histogram(message)

    app = Bench()
    async with app.run_test(size=(120, 40)) as pilot:
        t0 = time.perf_counter()
        screen = ResultsScreen(run)
        painted: list[float] = []
        await app.push_screen(screen)
        # Called once the screen's first refresh is done: the table on screen.
        screen.call_after_refresh(lambda: painted.append(time.perf_counter()))
        await pilot.pause()
        out["mount Results screen (s)"] = time.perf_counter() - t0
        while not painted:
            await pilot.pause(0.001)
        out["Results first painted (s)"] = painted[0] - t0
        t0 = time.perf_counter()
        await pilot.press("a")  # all rows
        await pilot.pause()
        out["`a` to all rows, repainted (s)"] = time.perf_counter() - t0
        table = screen.query_one(ScoreTable)
        for key in ("down", "j", "pagedown", "ctrl+d", "right", "end", "G", "home", "plus"):
            times = []
            for _ in range(presses):
                t0 = time.perf_counter()
                await pilot.press(key)
                await pilot.pause()
                times.append(time.perf_counter() - t0)
                if key == "plus":
                    await pilot.press("minus")
                    await pilot.pause()
            out[f"key `{key}` to repaint, median (ms)"] = 1000 * statistics.median(times)
        # The widget's own cost, without the harness: move the cursor and draw every line.
        lines = table.size.height
        for key, action in (("down", lambda: table.action_cursor(1, 0)), ("pagedown", lambda: table.action_page(1))):
            times = []
            for _ in range(presses):
                t0 = time.perf_counter()
                action()
                for y in range(lines):
                    table.render_line(y)
                times.append(time.perf_counter() - t0)
            out[f"`{key}`: cursor move + draw all {lines} lines, no harness, median (ms)"] = 1000 * statistics.median(times)
        model = screen.model
        for label, key in sorts or SORTS:
            t0 = time.perf_counter()
            model.sort(key, descending=False)
            first = time.perf_counter() - t0
            t0 = time.perf_counter()
            model.sort(key, descending=True)
            again = time.perf_counter() - t0
            out[f"sort by {label}: first / reversed (s)"] = (first, again)  # type: ignore[assignment]
        # Top features are explained by the detector row by row: sorted only up to 20,000 rows.
        model.set_all_rows(False)
        t0 = time.perf_counter()
        model.sort("why", descending=False)
        out[f"sort anomalies only ({len(model.view):,} rows) by top features, first (s)"] = time.perf_counter() - t0
        model.set_all_rows(True)
        table.cursor_column = 2
        t0 = time.perf_counter()
        await pilot.press("s")
        await pilot.pause()
        out["`s` on score (rank cached) to repaint (s)"] = time.perf_counter() - t0
        assert len(model.view) == len(run.frame)
        if filters:
            out.update(await measure_filter_and_histogram(app, pilot, screen))
    return out


FLOOR_ROWS = 2_000


def first_screen_seconds(runs: int = 5, demo: bool = False, first_run: bool = False) -> float:
    """Median seconds from launching a fresh process to its first screen composed and mounted
    (Pilot's ``run_test`` entered): the file picker, or (``demo``) Set up on the bundled demo
    workbook as ``--demo`` opens it, its read still going on in a worker. The process says when
    (wall clock); its shutdown afterwards is not counted. ``first_run``: each process with an
    empty user cache and data directory, as on the first launch after an install (the demo
    workbook not copied out yet; the interpreter's bytecode of the installed packages is there,
    as pip leaves it)."""
    opened = (
        "__import__('tui_detector.demo.bundled', fromlist=['x']).demo_workbook_path()" if demo else "None"
    )
    code = (
        "import time\n"
        "from tui_detector.ui.app import make_app\n"
        "import asyncio\n"
        "async def main():\n"
        f"    app = make_app({opened})\n"
        "    async with app.run_test(size=(120, 40)):\n"
        "        print(time.time(), flush=True)\n"
        "asyncio.run(main())\n"
    )
    times = []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as fresh:
            env = dict(os.environ)
            if first_run:
                env.update(XDG_CACHE_HOME=str(Path(fresh) / "cache"), ANOMALY_TUI_DATA_DIR=str(Path(fresh) / "data"))
            launched = time.time()
            out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True, cwd=ROOT, env=env)
            times.append(float(out.stdout.split()[0]) - launched)
    return statistics.median(times)


def first_screens(runs: int = 5) -> dict[str, float]:
    """The three first-screen figures issue 17 sets targets for, medians of ``runs``."""
    return {
        "picker": first_screen_seconds(runs),
        "demo": first_screen_seconds(runs, demo=True),
        "demo_first_run": first_screen_seconds(runs, demo=True, first_run=True),
    }


def write_first_screens(figures: dict[str, float], runs: int, out: Path = ROOT / "benchmarks" / "APP_LATENCY.md") -> None:
    """The first-screen section of ``out`` (kept when the rest of the file is rewritten)."""
    from benchmarks._results import update_section

    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    met = lambda seconds, bound: "yes" if seconds < bound else "**no**"  # noqa: E731
    body = [
        f"`first_screens({runs})` ({stamp}): a fresh process each time, from launch to the first screen",
        "composed and mounted (Pilot's `run_test` entered; the interpreter's start counted, the exit not).",
        "Medians.",
        "",
        "| | seconds | target | met |",
        "|:--|--:|--:|:--|",
        f"| `anomaly-tui` file picker | {figures['picker']:.2f} | | |",
        f"| `anomaly-tui --demo` to Set up (warm: the demo workbook already in the user cache) | {figures['demo']:.2f} | < 0.6 | {met(figures['demo'], 0.6)} |",
        f"| `anomaly-tui --demo`, first run (empty user cache and data directory) | {figures['demo_first_run']:.2f} | < 1.5 | {met(figures['demo_first_run'], 1.5)} |",
    ]
    update_section("first-screen", "## First screen (issue 17)", body, path=out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_048_576)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "APP_LATENCY.md")
    args = parser.parse_args()

    t0 = time.perf_counter()
    run = make_run(args.rows)
    build = time.perf_counter() - t0
    big = asyncio.run(measure_table(run))
    matches = dict(MATCHES)
    # Big enough that pagedown scrolls (a whole-table repaint), small enough to cost nothing.
    small = asyncio.run(measure_table(make_run(FLOOR_ROWS)))
    screens = first_screens()
    start, demo_start = screens["picker"], screens["demo"]

    def fmt(value: object) -> str:
        if isinstance(value, tuple):
            return " / ".join(f"{v:.3f}" for v in value)
        return f"{value:.3f}" if isinstance(value, float) and value < 10 else f"{value:.1f}"

    lines = [
        "# App latency: the results table on a full-size sheet",
        "",
        f"`python benchmarks/app_latency.py --rows {args.rows}` on {platform.machine()}, "
        f"{platform.python_version()}, {__import__('os').cpu_count()} CPUs. Table: {args.rows:,} rows × 10 "
        f"columns ({build:.1f} s to build and score, not part of the app's cost). Headless Pilot at 120×40.",
        "",
        f"| measure | {args.rows:,} rows | {FLOOR_ROWS:,} rows (harness floor) |",
        "|---|---|---|",
    ]
    for key in big:
        lines.append(f"| {key} | {fmt(big[key])} | {fmt(small.get(key, float('nan')))} |")
    lines += [
        "",
        "Rows each filter keeps on the big table: "
        + "; ".join(f"`{text}` {count:,}" for text, count in matches.items())
        + ".",
        "",
        f"App start to first screen (`anomaly-tui` file picker, a fresh process, from launch to the screen "
        f"composed and mounted, median of 5): **{start:.2f} s** (includes the Python interpreter start; "
        "earlier figures also counted the process's exit).",
        f"`anomaly-tui --demo` to its first screen (Set up on the demo workbook, the workbook already "
        f"generated, subprocess, median of 5): **{demo_start:.2f} s** (target < 0.6 s).",
        "",
        "Widget: a virtual table on Textual's Line API (`tui_detector/ui/widgets/score_table.py`) that draws",
        "only the visible rows; sorting is a per-column rank array (NumPy argsort; Arrow's sort for text).",
        "A key that moves the cursor within the page repaints two lines; `pagedown` repaints the whole",
        f"table, which costs Textual and the harness more on any table: compare with the {FLOOR_ROWS:,}-row column.",
        "For comparison, `textual-fastdatatable` 0.19.5 (Arrow-backed) on the same kind of table measured",
        "0.25 s to mount, 85 ms `down`, 198 ms `pagedown` and 0.52 s to sort by score; the built-in",
        "`DataTable` takes 4.7 s to add 50k rows (DESIGN.md).",
        "",
        "The column filter (`f`) is parsed by hand (`tui_detector/core/filter.py`) and evaluated on whole",
        "columns: NumPy comparisons for numbers, dates and flags, Arrow compute for text (case-insensitive",
        "equality through `utf8_lower`); a column of mixed cells is compared once per distinct value. The",
        "key path runs it in a worker, so the screen stays live meanwhile. The histogram (`H`,",
        "`tui_detector/ui/distribution.py`) bins numbers and dates with NumPy and counts text values with",
        "pandas; its key path includes explaining the one row for the model's expected value.",
        "",
        "Bounds (issue 16): a filter under 0.5 s on 1M rows — the slowest expression above is its",
        "evaluation; the `enter` figure adds the worker hand-over and the harness's repaint (compare the",
        "small table). Key press to repaint under 100 ms of the table's own cost — the no-harness lines;",
        "the rest of each key figure is Pilot and Textual, the same on the small table.",
        "",
    ]
    args.out.write_text("\n".join(lines), encoding="utf-8")
    write_first_screens(screens, 5, args.out)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
