"""Can an analyst trust the results on realistic monthly exports? (issue 14)

For each domain of ``benchmarks/exports.py`` and each seed: train on month 0 (oddities and a
totals row planted), score month 0 and the clean month 1 with that model, beside IsolationForest
on a sensible encoding of the same table, in one run.

Figures per table:

- ``next``: share of month 1's (clean) rows flagged at the default 95th percentile;
- ``p@N``: precision of the top N rows of month 0, N the planted count (the totals row is not
  a planted oddity: a detector that leaves it out gains nothing, one that ranks it high loses);
- ``hit@1`` / ``hit@3``: the broken column is named first / among the three named;
- ``innocent``: rows in the top N that are not planted but share an entity with a planted row;
  ``smear``: those of them whose first-named column is the entity or one judged against it
  (the planted row's entity profile is the reason), the rest are strange on their own;
- ``totals``: the totals rows left out of the model (product only).

Splits, reported apart: seed 0 of ``payments`` and ``shipments`` was tuned on from the start
("tune"); seeds 1-8 of those and 0-8 of ``expenses`` and ``utilities`` were held out at first
and have been looked at while changing the detector since ("held out, looked at": seeds 6-8
were the unseen tables of the tail-steepness change, run with its final code and looked at
since; seeds 9-14 were the unseen tables of two later checks, and 15-20 were run and looked at
while choosing the loose relations; seeds 21-26 were the unseen tables of the loose relations'
final run, and payments 21 and utilities 21 were studied since; seeds 27-32 were the unseen
tables of the relations in the cells' own units, and payments 24 and 29 and shipments 0 were
studied while fitting the rare kinds of row); seeds 33 and up of every domain were generated
for the final run of the rare kinds' lines, the loose relations judging inside their range and
the price lists continued against another kind's price, run with that change, its parent and
the change without its last step, and no row of them looked at ("held out, never looked at").

    python benchmarks/trust.py [--seeds 0 1 ... 38] [--domains payments ...] [--out benchmarks/TRUST.md]
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.exports import DOMAINS, Export, month  # noqa: E402
from tui_detector import TabularAnomalyDetector, core  # noqa: E402

TUNE = {("payments", 0), ("shipments", 0)}
#: Seeds below this were looked at while changing the detector.
FRESH = 33
SPLITS = ("tune", "held out, looked at", "held out, never looked at")


def split_of(domain: str, seed: int) -> str:
    if (domain, seed) in TUNE:
        return SPLITS[0]
    return SPLITS[1] if seed < FRESH else SPLITS[2]


def product(train: Export, later: Export) -> dict:
    frame = train.frame
    # As the pipeline does: totals rows are left out before training and are never flagged.
    totals = [t.position for t in core.find_totals(frame)]
    kept = np.ones(len(frame), dtype=bool)
    kept[totals] = False
    detector = TabularAnomalyDetector()
    detector.train(frame[kept].reset_index(drop=True))
    detection = detector.detect(frame)
    scores = np.where(kept, detection.scores, -np.inf)
    n = len(train.planted)
    top = np.argsort(-scores, kind="stable")[:n]
    explained = detector.explain(frame, detection, [p.row for p in train.planted])
    named = [[f["feature_name"] for f in e["anomalous_features"]] for e in explained]
    later_flags = detector.detect(later.frame).flags
    ranked = ranking(train, top)
    ranked["smear"] = smear(detector, detection, train, ranked.pop("innocent_rows"))
    return {
        **ranked,
        "auc": auc(train, np.where(kept, detection.scores, np.nanmin(detection.scores))),
        "hit1": float(np.mean([bool(t) and t[0] in p.accepted for p, t in zip(train.planted, named, strict=True)])),
        "hit3": float(np.mean([bool(set(t) & set(p.accepted)) for p, t in zip(train.planted, named, strict=True)])),
        "next": float(np.mean(later_flags)),
        "totals": f"{len(set(totals) & set(train.totals))}/{len(train.totals)}",
    }


def encode_for_forest(frame: pd.DataFrame, reference: pd.DataFrame) -> np.ndarray:
    """Numbers as they are, dates as epoch days + hour + weekday, categories one-hot where few
    (at most 30 values) else by frequency; fitted on ``reference``."""
    parts = []
    for column in reference.columns:
        ref, col = reference[column], frame[column]
        if pd.api.types.is_bool_dtype(ref):
            parts.append(col.astype(float).to_numpy()[:, None])
        elif pd.api.types.is_numeric_dtype(ref):
            parts.append(pd.to_numeric(col, errors="coerce").fillna(ref.median()).to_numpy(float)[:, None])
        elif pd.api.types.is_datetime64_any_dtype(ref):
            stamps = pd.to_datetime(col, errors="coerce")
            days = (stamps - pd.Timestamp("2000-01-01")).dt.total_seconds().fillna(0).to_numpy() / 86400
            parts.append(np.column_stack([days, stamps.dt.hour.fillna(0), stamps.dt.dayofweek.fillna(0)]))
        else:
            counts = ref.astype(str).value_counts()
            if ref.nunique() > 0.5 * len(ref):
                continue  # an identifier
            if len(counts) <= 30:
                parts.append(np.column_stack([(col.astype(str) == v).to_numpy(float) for v in counts.index]))
            else:
                parts.append(col.astype(str).map(counts / len(ref)).fillna(0).to_numpy(float)[:, None])
    return np.column_stack(parts)


def forest(train: Export, later: Export) -> dict:
    from sklearn.ensemble import IsolationForest  # noqa: PLC0415

    reference = train.frame
    x = encode_for_forest(reference, reference)
    model = IsolationForest(random_state=0).fit(x)
    scores = -model.score_samples(x)
    cut = np.quantile(scores, 0.95)
    top = np.argsort(-scores, kind="stable")[: len(train.planted)]
    later_scores = -model.score_samples(encode_for_forest(later.frame, reference))
    ranked = ranking(train, top)
    ranked.pop("innocent_rows")
    return {**ranked, "auc": auc(train, scores), "hit1": None, "hit3": None, "next": float(np.mean(later_scores > cut)), "totals": "-"}


def auc(train: Export, scores: np.ndarray) -> float:
    """ROC-AUC of the planted rows among the others (totals rows left out of both)."""
    from sklearn.metrics import roc_auc_score  # noqa: PLC0415

    labels = np.zeros(len(train.frame), dtype=int)
    labels[[p.row for p in train.planted]] = 1
    keep = np.ones(len(labels), dtype=bool)
    keep[train.totals] = False
    return float(roc_auc_score(labels[keep], scores[keep]))


def ranking(train: Export, top: np.ndarray) -> dict:
    planted = {p.row for p in train.planted}
    entities = {train.frame.at[p.row, train.entity] for p in train.planted}
    innocent = [r for r in top.tolist() if r not in planted and train.frame.at[r, train.entity] in entities]
    return {"precision": len(planted & set(top.tolist())) / len(planted), "innocent": len(innocent), "innocent_rows": innocent}


def smear(detector: TabularAnomalyDetector, detection, train: Export, rows: list[int]) -> int:  # noqa: ANN001
    """Innocent rows flagged through their entity: the first-named column is the entity or is
    judged against its profile (see the module docstring)."""
    if not rows:
        return 0
    judged = {e.column for e in detector.preprocessor_.encoders if e.entity_column == train.entity} | {train.entity}
    named = [e["anomalous_features"][0]["feature_name"] for e in detector.explain(train.frame, detection, rows) if e["anomalous_features"]]
    return sum(1 for n in named if n in judged)


def run(domains: list[str], seeds: list[int], rows: int) -> list[dict]:
    out = []
    for domain in domains:
        for seed in seeds:
            train, later = month(domain, seed, 0, rows=rows), month(domain, seed, 1, rows=rows)
            entry = {"domain": domain, "seed": seed, "split": split_of(domain, seed)}
            for name, fn in (("anomaly-tui", product), ("IsolationForest", forest)):
                start = time.perf_counter()
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    entry[name] = fn(train, later)
                entry[name]["seconds"] = time.perf_counter() - start
            out.append(entry)
            p, f = entry["anomaly-tui"], entry["IsolationForest"]
            print(
                f"{domain:10s} {seed} {entry['split']:26s} next {p['next']:.3f} (IF {f['next']:.3f})  "
                f"p@N {p['precision']:.2f} (IF {f['precision']:.2f})  AUC {p['auc']:.3f} (IF {f['auc']:.3f})  hit@1 {p['hit1']:.2f} hit@3 {p['hit3']:.2f}  "
                f"innocent {p['innocent']} (smear {p['smear']}; IF {f['innocent']})  totals {p['totals']}  {p['seconds']:.1f}s",
                flush=True,
            )
    return out


def write(path: Path, results: list[dict], rows: int) -> None:
    lines = [
        "# Trust on realistic monthly exports (issue 14)",
        "",
        f"Generated by `python benchmarks/trust.py` ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}), "
        f"{rows:,} rows per month, both detectors in the same run. Data: `benchmarks/exports.py` (not the demo "
        "generators the detector was tuned on). Train on month 0 (oddities and a totals row planted), score "
        "month 0, and month 1 (clean, a month later, values drifted 1-2%) with the same model. IsolationForest: "
        "`IsolationForest(random_state=0)` on numbers as they are, dates as epoch days + hour + weekday, "
        "categories one-hot (<= 30 values) or by frequency, identifiers left out; its cut is its own 95th "
        "percentile on month 0.",
        "",
    ]
    for split in SPLITS:
        chosen = [r for r in results if r["split"] == split]
        if not chosen:
            continue
        lines += [f"## {split}", "", "| domain | seed | next month flagged | p@N | ROC-AUC | hit@1 | hit@3 | innocent in top N (smear) | totals left out |",
                  "|:--|--:|--:|--:|--:|--:|--:|--:|--:|"]
        for r in chosen:
            p, f = r["anomaly-tui"], r["IsolationForest"]
            lines.append(
                f"| {r['domain']} | {r['seed']} | {p['next']:.1%} (IF {f['next']:.1%}) | {p['precision']:.2f} "
                f"(IF {f['precision']:.2f}) | {p['auc']:.3f} (IF {f['auc']:.3f}) | {p['hit1']:.2f} | {p['hit3']:.2f} | {p['innocent']} ({p['smear']}; IF {f['innocent']}) "
                f"| {p['totals']} |"
            )
        mean = {k: np.mean([r["anomaly-tui"][k] for r in chosen]) for k in ("next", "precision", "auc", "hit1", "hit3")}
        fmean = {k: np.mean([r["IsolationForest"][k] for r in chosen]) for k in ("next", "precision", "auc")}
        behind = min(r["anomaly-tui"]["auc"] - r["IsolationForest"]["auc"] for r in chosen)
        worst_next = max(r["anomaly-tui"]["next"] for r in chosen)
        lines += [
            f"| **mean** | | {mean['next']:.1%} (IF {fmean['next']:.1%}; worst {worst_next:.1%}) | "
            f"{mean['precision']:.2f} (IF {fmean['precision']:.2f}) | {mean['auc']:.3f} (IF {fmean['auc']:.3f}; "
            f"worst product - IF {behind:+.3f}) | {mean['hit1']:.2f} | {mean['hit3']:.2f} | "
            f"{sum(r['anomaly-tui']['innocent'] for r in chosen)} ({sum(r['anomaly-tui']['smear'] for r in chosen)}) | |",
            "",
        ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--domains", nargs="+", default=list(DOMAINS))
    parser.add_argument("--seeds", nargs="+", type=int, default=list(range(39)))
    parser.add_argument("--rows", type=int, default=4000)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    results = run(args.domains, args.seeds, args.rows)
    if args.out:
        write(args.out, results, args.rows)


if __name__ == "__main__":
    main()
