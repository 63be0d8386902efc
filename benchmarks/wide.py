"""Wide tables: `anomaly-tui detect --all-rows --no-cache` as columns grow, beside IsolationForest.

    python benchmarks/wide.py                 # 200, 400, 800, 1,600 columns and the 1,555-column table
    python benchmarks/wide.py --runs 1 --columns 200 400

The tables are shaped like ADBench's InternetAds (1,966 rows x 1,555 columns: three sizes of an
image and 1,552 yes/no flags of the words around it), which is not handed out here: 2,000 rows,
``height``, ``width``, ``ratio`` and flags drawn from six kinds of page, each with its own flag
probabilities; 5% of the rows mix two kinds' flags and have an odd height. Written as CSV, as a
user would export them.

Both are timed as a user meets them, in one run: the product as the command in a fresh process
(read, roles, train, score, explain, JSON); IsolationForest in one process from the same CSV
(pandas read, fit, score; ``IsolationForest(random_state=0)``). Medians of ``--runs``. ROC-AUC of
both against the planted rows. Writes ``benchmarks/WIDE.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
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


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--columns", type=int, nargs="*", default=[200, 400, 800, 1600, 1555])
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "WIDE.md")
    args = parser.parse_args(argv)
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
    args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
