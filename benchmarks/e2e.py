"""Cold end to end on the 100,000 × 10 expense-claims workbook: the product against the design
note's recipe, in one run.

Usage (from the repository root):

    python benchmarks/e2e.py [--rows 100000] [--runs 3] [--seed-runs 1]

Every run is a fresh interpreter with nothing cached (imports included: TensorFlow for the
recipe). The product is timed twice over: as a user runs it (``anomaly-tui detect FILE
--no-cache -o out.json``, read, train, score, explain, write the JSON, record the run in the
review store) and as a script that calls the library (``train``, ``detect``, ``explain``, JSON in
memory: what ``quality.py`` has always timed). The recipe (openpyxl read, label encoding, Keras
64-32-8-32-64, 50 epochs at batch 32, 95th percentile, top 3) takes minutes, so it runs
``--seed-runs`` times between the product's runs; the ratios are of medians. Writes the
``e2e`` section of RESULTS.md.
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

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks._results import update_section  # noqa: E402
from benchmarks.quality import PRODUCT_E2E, SEED_E2E, e2e_workbook  # noqa: E402


def _script(code: str, path: Path, epochs: int = 50) -> float:
    script = code.format(root=str(ROOT), path=str(path), epochs=epochs)
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=False,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    if proc.returncode != 0:
        raise SystemExit(f"run failed:\n{proc.stderr[-2000:]}")
    return float(json.loads(proc.stdout.strip().splitlines()[-1])["seconds"])


def _cli(path: Path) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "ANOMALY_TUI_DATA_DIR": str(Path(tmp) / "data")}
        start = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-m", "tui_detector", "detect", str(path), "--no-cache", "-o", str(Path(tmp) / "out.json")],
            capture_output=True, text=True, check=False, env=env, cwd=ROOT,
        )
        seconds = time.perf_counter() - start
        if proc.returncode != 0:
            raise SystemExit(f"detect failed: {proc.stderr.strip()[-400:]}")
    return seconds


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seed-runs", type=int, default=1)
    args = parser.parse_args(argv)

    path = e2e_workbook(args.rows)
    cli, library, seed = [], [], []
    for i in range(args.runs):
        cli.append(_cli(path))
        library.append(_script(PRODUCT_E2E, path))
        print(f"product run {i + 1}: detect {cli[-1]:.1f} s, library {library[-1]:.1f} s", flush=True)
        if i < args.seed_runs:
            seed.append(_script(SEED_E2E, path))
            print(f"recipe run {i + 1}: {seed[-1]:.1f} s", flush=True)
    cli_m, lib_m, seed_m = statistics.median(cli), statistics.median(library), statistics.median(seed)
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    runs = lambda xs: ", ".join(f"{x:.1f}" for x in xs)  # noqa: E731
    body = [
        f"`python benchmarks/e2e.py --rows {args.rows} --runs {args.runs} --seed-runs {args.seed_runs}` ({stamp}; "
        f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}): `{path.name}`, "
        "cold (fresh interpreter, nothing cached). Medians; the recipe ran between the product's runs.",
        "",
        "| | seconds (median) | runs | recipe / this |",
        "|:--|--:|:--|--:|",
        f"| `anomaly-tui detect FILE --no-cache -o out.json` | {cli_m:.1f} | {runs(cli)} | **{seed_m / cli_m:.1f}×** |",
        f"| library: `train`, `detect`, `explain`, JSON in memory | {lib_m:.1f} | {runs(library)} | {seed_m / lib_m:.1f}× |",
        f"| the design note's recipe (openpyxl, Keras, 50 epochs, batch 32) | {seed_m:.1f} | {runs(seed)} | 1× |",
        "",
        "Target (issue 17): at least 30× the recipe.",
    ]
    update_section("e2e", "## Cold end to end, 100k × 10 (issue 17)", body)
    print("\n".join(body))
    return {"cli": cli_m, "library": lib_m, "recipe": seed_m, "cli_runs": cli}


if __name__ == "__main__":
    main()
