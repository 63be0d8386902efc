"""The review store: how long recording a big run takes, and whether verdicts find their rows.

Usage (from the repository root):

    python benchmarks/store.py [--rows 100000] [--runs 5] [--out benchmarks/STORE.md]

1. Recording: a generated mixed table of ``--rows`` rows is scored with IsolationForest at the
   95th percentile (about 5% flagged: 5,000 of 100,000), explained, then the review session is
   opened on it (rows fingerprinted, the store's verdicts looked up) and the run recorded with
   every flagged row. Timed: that open plus the record, in a fresh store (median of ``--runs``),
   and again with 1,000 verdicts already in the store (every row's fingerprint is needed then).
2. Re-attachment: verdicts set on 500 rows of a workbook (.xlsx) are looked up, through the
   same reader ``detect`` uses, in a shuffled re-export of it as .csv (columns reordered too),
   and in next month's .xlsx: new values in every column but the ID, 30% of last month's rows
   gone, new rows added. Counted: of the reviewed rows present in the other file, how many
   carry their verdict (and that no other row does). Done with an ID column and without one
   (the shuffled re-export only: without an ID, next month's changed rows are other rows).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def table(rows: int, seed: int, ids: np.ndarray | None = None) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    kind = rng.choice(["card", "cash", "transfer", "cheque"], rows)
    amount = np.round(np.exp(rng.normal(4, 0.8, rows)), 2)
    return pd.DataFrame({
        "invoice_id": ids if ids is not None else np.array([f"INV-{i:07d}" for i in range(rows)]),
        "merchant": rng.choice([f"m{i:03d}" for i in range(200)], rows),
        "kind": kind,
        "amount": amount,
        "fee": np.round(amount * 0.02 + rng.normal(0, 0.05, rows), 2),
        "items": rng.integers(1, 20, rows),
        "booked": pd.Timestamp("2026-11-01") + pd.to_timedelta(rng.integers(0, 30 * 24, rows), unit="h"),
        "express": rng.random(rows) < 0.2,
    })


def time_recording(rows: int, runs: int) -> dict[str, float]:
    from tui_detector.core.export import explained_anomalies
    from tui_detector.core.pipeline import DetectionSettings, run_detection
    from tui_detector.core.store import review
    from tui_detector.core.store.db import ReviewStore
    from tui_detector.core.store.session import ReviewSession

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "big.csv"
        table(rows, 1).to_csv(path, index=False)
        run = run_detection(path, DetectionSettings(model="iforest", use_cache=False))
        anomalies = explained_anomalies(run)
        out = {"rows": len(run.frame), "anomalies": len(anomalies)}
        for label, verdicts in (("fresh store", 0), ("1,000 verdicts in the store", 1000)):
            times = []
            for i in range(runs):
                store = ReviewStore(Path(folder) / f"s-{label[:5]}-{i}.sqlite3")
                if verdicts:
                    review.set_verdicts(store, run.frame, list(range(0, verdicts * 7, 7)), "dismissed")
                t0 = time.perf_counter()
                session = ReviewSession(run, feedback=False, store=store)
                session.record(run, anomalies, origin="detect")
                times.append(time.perf_counter() - t0)
                assert session.run_id is not None and session.problem is None, session.problem
                store.close()
            out[label] = statistics.median(times)
        return out


def reattach(with_id: bool) -> dict[str, tuple[int, int, int]]:
    from tui_detector.core.pipeline import load_source
    from tui_detector.core.store import review
    from tui_detector.core.store.db import ReviewStore

    rows = 20_000
    rng = np.random.default_rng(7)
    out = {}
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        october = table(rows, 2)
        if not with_id:
            october = october.drop(columns=["invoice_id"])
        october.to_excel(folder / "october.xlsx", index=False)
        shuffled = october.sample(frac=1, random_state=3)[list(reversed(october.columns))]
        shuffled.to_csv(folder / "october-resorted.csv", index=False)
        store = ReviewStore(folder / "s.sqlite3")
        loaded, _ = load_source(folder / "october.xlsx")
        picked = sorted(rng.choice(rows, 500, replace=False).tolist())
        verdicts = {r: ("confirmed", "dismissed", "expected")[i % 3] for i, r in enumerate(picked)}
        for verdict in ("confirmed", "dismissed", "expected"):
            review.set_verdicts(store, loaded.frame, [r for r, v in verdicts.items() if v == verdict], verdict)
        key_column = "invoice_id" if with_id else None

        def count(frame: pd.DataFrame, original_rows: dict[int, int]) -> tuple[int, int, int]:
            state = review.review_state(store, frame)
            right = sum(1 for r, o in original_rows.items() if r in state.verdicts and state.verdicts[r].verdict == verdicts[o])
            wrong = sum(1 for r in state.verdicts if r not in original_rows)
            return right, len(original_rows), wrong

        copy, _ = load_source(folder / "october-resorted.csv")
        # Where each reviewed row went: by the ID, or (without one) by the shuffle's own order.
        if key_column:
            position = {v: i for i, v in enumerate(copy.frame[key_column])}
            went = {position[loaded.frame.loc[o, key_column]]: o for o in picked}
        else:
            order = shuffled.index.to_numpy()
            new_position = {int(o): i for i, o in enumerate(order)}
            went = {new_position[o]: o for o in picked}
        out["shuffled re-export (.xlsx -> .csv)"] = count(copy.frame, went)
        if key_column:
            kept = np.sort(rng.choice(rows, int(rows * 0.7), replace=False))
            ids = np.concatenate([october[key_column].to_numpy()[kept], [f"INV-9{i:06d}" for i in range(8000)]])
            november = table(len(ids), 5, ids=ids).sample(frac=1, random_state=6)
            november.to_excel(folder / "november.xlsx", index=False)
            month, _ = load_source(folder / "november.xlsx")
            position = {v: i for i, v in enumerate(month.frame[key_column])}
            went = {position[loaded.frame.loc[o, key_column]]: o for o in picked if loaded.frame.loc[o, key_column] in position}
            out["next month's file (.xlsx, 70% of the IDs again)"] = count(month.frame, went)
        store.close()
    return out


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "STORE.md")
    args = parser.parse_args()
    os.environ.setdefault("ANOMALY_TUI_DATA_DIR", tempfile.mkdtemp())
    recording = time_recording(args.rows, args.runs)
    attached = {"with an ID column": reattach(True), "without an ID column": reattach(False)}

    import numpy  # noqa: F401

    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    lines = [
        "# The review store: recording runs, re-attaching verdicts",
        "",
        f"Generated by `python benchmarks/store.py` ({stamp}). Machine: {platform.system()} {platform.release()}, "
        f"{os.cpu_count()} logical CPUs, Python {platform.python_version()}, SQLite {__import__('sqlite3').sqlite_version}.",
        "",
        "## Recording a run",
        "",
        f"{recording['rows']:,} rows, {recording['anomalies']:,} flagged (IsolationForest, 95th percentile). Timed: the review session "
        "opened on the scored run (the table's rows fingerprinted, its verdicts and suppressions looked up) plus the run recorded with "
        f"every flagged row (fingerprint, score, top features) in one transaction, `synchronous=FULL`; median of {args.runs}.",
        "",
        "| store | seconds |",
        "|:--|--:|",
        f"| fresh | {recording['fresh store']:.3f} |",
        f"| 1,000 verdicts already in it | {recording['1,000 verdicts in the store']:.3f} |",
        "",
        "## Re-attaching verdicts",
        "",
        "Verdicts set on 500 rows of a 20,000-row workbook, looked up through the reader `detect` uses.",
        "",
        "| fingerprint | other file | reviewed rows present | carrying their verdict | other rows given one |",
        "|:--|:--|--:|--:|--:|",
    ]
    for how, results in attached.items():
        for where, (right, present, wrong) in results.items():
            lines.append(f"| {how} | {where} | {present} | {right} ({right / present:.0%}) | {wrong} |")
    lines += [
        "",
        "Without an ID column a row is named by a hash of its model-relevant cells, so next month's rows, whose values "
        "differ, are other rows by design; with one, the ID names the row whatever else changed.",
        "",
    ]
    args.out.write_text("\n".join(lines), encoding="utf-8")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
