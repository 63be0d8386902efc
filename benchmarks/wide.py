"""Wide tables: `anomaly-tui detect --all-rows --no-cache` as columns grow, beside IsolationForest.

    python benchmarks/wide.py                 # 200, 400, 800, 1,600 columns and the 1,555-column table
    python benchmarks/wide.py --runs 1 --columns 200 400
    python benchmarks/wide.py --profile 1555  # where the time goes, into WIDE.md's last section

The tables are shaped like ADBench's InternetAds (1,966 rows x 1,555 columns: three sizes of an
image and 1,552 yes/no flags of the words around it), which is not handed out here: 2,000 rows,
``height``, ``width``, ``ratio`` and flags drawn from six kinds of page, each with its own flag
probabilities; 5% of the rows mix two kinds' flags and have an odd height. Written as CSV, as a
user would export them.

Both are timed as a user meets them, in one run: the product as the command in a fresh process
(read, roles, train, score, explain, JSON); IsolationForest in one process from the same CSV
(pandas read, fit, score; ``IsolationForest(random_state=0)``). Medians of ``--runs``. ROC-AUC of
both against the planted rows. Writes ``benchmarks/WIDE.md``.

``--profile N`` runs the same command in this process under cProfile on the N-column table
and writes the functions that cost most (their own time) as WIDE.md's last section, beside
what the first profile found (the quadratic cost issue 17 named); the timing table is kept.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import platform
import pstats
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

ROOT = Path(__file__).resolve().parents[1]

ROWS = 2_000
KINDS = 6


def make_wide(columns: int, rows: int = ROWS, seed: int = 0, share: float = 0.05) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    flags = columns - 3
    # Sparse flag probabilities per kind of page (most words rarely appear).
    kinds = rng.random((KINDS, flags)) ** 4
    kind = rng.integers(0, KINDS, rows)
    labels = np.zeros(rows, dtype=int)
    labels[rng.choice(rows, int(rows * share), replace=False)] = 1
    odd = labels == 1
    p = kinds[kind].copy()
    other = kinds[(kind + rng.integers(1, KINDS, rows)) % KINDS]
    p[odd] = 0.5 * p[odd] + 0.5 * other[odd] + 0.05
    cells = (rng.random((rows, flags)) < p).astype(np.int8)
    height = rng.normal(60 + 10 * kind, 8)
    width = rng.normal(400 + 50 * kind, 40)
    height[odd] *= rng.choice([0.3, 3.0], odd.sum())
    frame = pd.DataFrame(cells, columns=[f"word_{i}" for i in range(flags)])
    frame.insert(0, "ratio", (width / height).round(4))
    frame.insert(0, "width", width.round())
    frame.insert(0, "height", height.round())
    return frame, labels


def product(path: Path, out: Path) -> tuple[float, np.ndarray]:
    env = {**os.environ, "ANOMALY_TUI_DATA_DIR": str(out.parent / "data")}
    start = time.perf_counter()
    cmd = [sys.executable, "-m", "tui_detector", "detect", str(path), "--all-rows", "--no-cache", "-o", str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"detect failed: {proc.stderr.strip()}")
    data = json.loads(out.read_text())
    scores = np.array(data["scores"], dtype=float) if "scores" in data else None
    out.unlink()
    return seconds, scores


def iforest(path: Path) -> tuple[float, np.ndarray]:
    code = (
        "import sys, time, json, numpy as np, pandas as pd\n"
        "from sklearn.ensemble import IsolationForest\n"
        "t0 = time.perf_counter()\n"
        "x = pd.read_csv(sys.argv[1]).to_numpy(dtype=float)\n"
        "model = IsolationForest(random_state=0).fit(x)\n"
        "s = -model.score_samples(x)\n"
        "print(json.dumps({'seconds': time.perf_counter() - t0, 'scores': s.tolist()}))\n"
    )
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, check=True)
    wall = time.perf_counter() - start
    data = json.loads(proc.stdout)
    return wall, np.array(data["scores"])


#: What the first profile found (the tree before the wide-table work, d7a991f): kept here so
#: that a rerun of the profile keeps it beside the current one.
FIRST_PROFILE = """\
What the first profile found (cProfile of `detect` on the 400-column table, the tree before
this work, d7a991f: 23.3 s in all): `ModeScales.fit` took 12.1 s, a Python loop over every
(column, candidate column) pair (158,403 iterations of a stack of bincounts), quadratic in the
columns: the 276 s at 1,555 columns the issue measured. It now measures every candidate from
group sums, one matrix product per batch of candidates (the same numbers, tested against the
loop: `tests/core/test_wide.py`). At 1,555 columns the next costs were `np.quantile` over a
1,001-point grid (7.5 s, one partition pass per quantile; now one sort, bit-identical), the 0/1
columns read as yes/no through a Python call per cell (3.8 s; now NumPy), and the masked
reconstruction, which now skips the rows where a block is already blank when that pays."""

PROFILE_HEADING = "## Where the time goes"


def profile(columns: int, top: int = 12) -> dict:
    """cProfile of ``detect --all-rows --no-cache`` on the ``columns``-wide table, in this
    process (imports done first, so they are not counted)."""
    sys.path.insert(0, str(ROOT))
    from tui_detector import cli  # noqa: PLC0415

    frame, _ = make_wide(columns)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"wide_{columns}.csv"
        frame.to_csv(path, index=False)
        os.environ["ANOMALY_TUI_DATA_DIR"] = str(Path(tmp) / "data")
        argv = ["detect", str(path), "--all-rows", "--no-cache", "-o", str(Path(tmp) / "out.json")]
        profiler = cProfile.Profile()
        start = time.perf_counter()
        profiler.enable()
        code = cli.main(argv)
        profiler.disable()
        seconds = time.perf_counter() - start
    if code != 0:
        raise SystemExit(f"detect failed with exit code {code}")
    stats = pstats.Stats(profiler, stream=io.StringIO())
    rows = []
    for (filename, line, name), (_, calls, own, cumulative, _) in stats.stats.items():  # type: ignore[attr-defined]
        where = Path(filename).name if filename.startswith(("/", ".")) else filename
        rows.append({"function": f"{where}:{line}({name})", "calls": calls, "own": own, "cumulative": cumulative})
    rows.sort(key=lambda r: -r["own"])
    return {"columns": columns, "seconds": seconds, "top": rows[:top]}


def write_profile(out: Path, found: dict) -> None:
    lines = [
        PROFILE_HEADING,
        "",
        FIRST_PROFILE,
        "",
        f"Now (`python benchmarks/wide.py --profile {found['columns']}`, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}): "
        f"`detect` on the {found['columns']:,}-column table took {found['seconds']:.1f} s under the profiler, "
        "in this process (threads other than the main one are not profiled: the scoring threads' "
        "work shows as the wait for them). The functions that cost most on their own:",
        "",
        "| function | calls | own (s) | with callees (s) |",
        "|:--|--:|--:|--:|",
    ]
    lines += [f"| `{r['function']}` | {r['calls']:,} | {r['own']:.2f} | {r['cumulative']:.2f} |" for r in found["top"]]
    largest = found["top"][0]
    lines += [
        "",
        f"No one function holds the time any more: the largest, `{largest['function']}`, is "
        f"{largest['own']:.2f} s of {found['seconds']:.1f} s. The masked reconstruction is one restore per "
        "column block through hidden layers of a fixed width, the searches one per column: costs that "
        "grow with the columns, not with their square (the curve above).",
    ]
    text = out.read_text(encoding="utf-8") if out.exists() else ""
    head = text.split(PROFILE_HEADING)[0].rstrip()
    out.write_text((head + "\n\n" if head else "") + "\n".join(lines) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--columns", type=int, nargs="*", default=[200, 400, 800, 1600, 1555])
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "WIDE.md")
    parser.add_argument("--profile", type=int, metavar="COLUMNS", help="profile detect on this table instead of timing")
    args = parser.parse_args(argv)
    if args.profile:
        found = profile(args.profile)
        write_profile(args.out, found)
        print(json.dumps(found), flush=True)
        return [found]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for columns in args.columns:
            frame, labels = make_wide(columns)
            path = Path(tmp) / f"wide_{columns}.csv"
            frame.to_csv(path, index=False)
            ours, theirs, our_scores, their_scores = [], [], None, None
            for _ in range(args.runs):
                seconds, our_scores = product(path, Path(tmp) / "out.json")
                ours.append(seconds)
                seconds, their_scores = iforest(path)
                theirs.append(seconds)
            row = {
                "columns": columns,
                "product": statistics.median(ours),
                "iforest": statistics.median(theirs),
                "auc": roc_auc_score(labels, our_scores) if our_scores is not None else None,
                "auc_if": roc_auc_score(labels, their_scores),
                "runs": ours,
            }
            rows.append(row)
            print(json.dumps(row), flush=True)
    write(args, rows)
    return rows


def write(args: argparse.Namespace, rows: list[dict]) -> None:
    growth = sorted((r for r in rows if r["columns"] != 1555), key=lambda r: r["columns"])
    lines = [
        "# Wide tables: cost as columns grow",
        "",
        f"`python benchmarks/wide.py --runs {args.runs}` on {platform.machine()}, Python "
        f"{platform.python_version()}, {os.cpu_count()} CPUs. {ROWS:,} rows; InternetAds-shaped tables "
        "(three sizes and yes/no word flags, six kinds of page, 5% planted rows; see the script). "
        "Product: `anomaly-tui detect FILE.csv --all-rows --no-cache` in a fresh process; "
        "IsolationForest: read + fit + score in one process, same run. Medians.",
        "",
        "| columns | product (s) | IsolationForest (s) | product / IF | product s per 100 columns | ROC-AUC product | ROC-AUC IF | runs (s) |",
        "|--:|--:|--:|--:|--:|--:|--:|:--|",
    ]
    for r in sorted(rows, key=lambda r: r["columns"]):
        auc = "n/a" if r["auc"] is None else f"{r['auc']:.3f}"
        lines.append(
            f"| {r['columns']:,} | {r['product']:.1f} | {r['iforest']:.2f} | {r['product'] / r['iforest']:.0f}× | "
            f"{100 * r['product'] / r['columns']:.2f} | {auc} | {r['auc_if']:.3f} | "
            f"{', '.join(f'{s:.1f}' for s in r['runs'])} |"
        )
    if len(growth) >= 2:
        first, last = growth[0], growth[-1]
        ratio = (last["product"] / first["product"]) / (last["columns"] / first["columns"])
        lines += [
            "",
            f"From {first['columns']:,} to {last['columns']:,} columns ({last['columns'] / first['columns']:.0f}× the "
            f"columns) the product's time grew {last['product'] / first['product']:.1f}×: "
            f"{ratio:.2f} of linear growth (1.00 = linear; process start and imports are a fixed cost).",
        ]
    # A profile written earlier stays (see write_profile).
    old = args.out.read_text(encoding="utf-8") if args.out.exists() else ""
    kept = PROFILE_HEADING + old.split(PROFILE_HEADING, 1)[1] if PROFILE_HEADING in old else ""
    args.out.write_text("\n".join(lines) + "\n" + ("\n" + kept if kept else ""), encoding="utf-8")


if __name__ == "__main__":
    main()
