"""The simulated analyst of ``feedback.py``, through the command line as a user scripts it.

    python benchmarks/feedback_cli.py                       # the 14 ADBench datasets
    python benchmarks/feedback_cli.py --only 42_WBC 29_Pima

Per table (written as CSV with a ``row_id`` column, which the roles take as the identifier that
verdicts are fingerprinted by): ``anomaly-tui detect FILE --all-rows`` gives every row's score;
the 10 highest-ranked rows without a verdict get the ground truth through ``anomaly-tui review
set FILE ROW... --as confirmed|dismissed``; ``detect`` again (the model is cached; the verdicts
re-rank the rows), five rounds, 50 labels. Beside it: the first ranking's top 50 (no feedback).
Every command is a fresh process with a private data directory. Prints one line per table and
the mean ratio; writes nothing into the repository.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
ADBENCH = ROOT.parent / "shared" / "bench" / "adbench"
ROUNDS, PER_ROUND = 5, 10


def _cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "tui_detector", *args], capture_output=True, text=True, env=env, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(args[:2])} failed: {proc.stderr.strip()[-300:]}")
    return proc


def scores_of(path: Path, out: Path, env: dict[str, str]) -> np.ndarray:
    _cli(["detect", str(path), "--all-rows", "-o", str(out)], env)
    data = json.loads(out.read_text())
    out.unlink()
    return np.asarray(data["scores"], dtype=float)


def analyst(path: Path, y: np.ndarray, work: Path) -> tuple[int, int]:
    """(true anomalies within the 50 labels with feedback, within the first ranking's top 50)."""
    env = {**os.environ, "ANOMALY_TUI_DATA_DIR": str(work / "data")}
    labelled: dict[int, int] = {}
    first = None
    for _ in range(ROUNDS):
        scores = scores_of(path, work / "out.json", env)
        if first is None:
            first = scores
        order = np.lexsort((np.arange(scores.size), -scores))
        picked = [int(r) for r in order if int(r) not in labelled][:PER_ROUND]
        for verdict, rows in (("confirmed", [r for r in picked if y[r]]), ("dismissed", [r for r in picked if not y[r]])):
            if rows:
                _cli(["review", "set", str(path), *map(str, rows), "--as", verdict], env)
        labelled.update({r: int(y[r]) for r in picked})
    assert first is not None
    top = np.lexsort((np.arange(first.size), -first))[: ROUNDS * PER_ROUND]
    return sum(labelled.values()), int(y[top].sum())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*")
    args = parser.parse_args()
    ratios = []
    for file in sorted(ADBENCH.glob("*.npz")):
        if args.only and file.stem not in args.only:
            continue
        with np.load(file, allow_pickle=False) as data:
            x, y = np.asarray(data["X"], dtype=np.float64), np.asarray(data["y"]).astype(int)
        frame = pd.DataFrame(x, columns=[f"x{i}" for i in range(x.shape[1])])
        frame.insert(0, "row_id", [f"R{i:06d}" for i in range(len(frame))])
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / f"{file.stem}.csv"
            frame.to_csv(path, index=False)
            found, baseline = analyst(path, y, Path(tmp))
        ratio = found / baseline if baseline else float("nan")
        ratios.append(ratio)
        print(f"{file.stem:16s} feedback {found:2d}  no feedback {baseline:2d}  ratio {ratio:.2f}", flush=True)
    finite = [r for r in ratios if np.isfinite(r)]
    print(f"mean ratio {statistics.mean(finite):.2f}, worst {min(finite):.2f} over {len(finite)} tables")


if __name__ == "__main__":
    main()
