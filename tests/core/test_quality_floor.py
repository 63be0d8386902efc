"""A floor under detection quality, so it cannot regress silently (full figures: benchmarks/quality.py).

Small generated sheets with planted anomalies (each breaks one known cell: an extreme value, a
category wrong for its entity, a broken relation, an impossible value), the default detector with
its default training. The bars sit a little under what the defaults reach (claims ROC-AUC 0.98,
hit@3 0.93; sensors 0.93 / 1.00) and well above the seed recipe (ROC-AUC 0.82-0.90, hit@3
0.45-0.66 on such tables).
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from tui_detector import TabularAnomalyDetector
from tui_detector.core.synthetic import make_expense_claims, make_sensor_readings


@pytest.mark.parametrize(
    ("make", "min_auc", "min_hit"),
    [(make_expense_claims, 0.95, 0.85), (make_sensor_readings, 0.90, 0.90)],
    ids=["expense-claims", "sensor-readings"],
)
def test_planted_anomalies_are_found_and_explained(make, min_auc, min_hit):
    table = make(1500, anomaly_rate=0.02, seed=0)
    detector = TabularAnomalyDetector()
    detector.train(table.frame)
    detection = detector.detect(table.frame)
    auc = roc_auc_score(table.labels, detection.scores)
    explained = detector.explain(table.frame, detection, [p.row_index for p in table.planted])
    hits = [
        p.column in [f["feature_name"] for f in e["anomalous_features"]]
        for p, e in zip(table.planted, explained, strict=True)
    ]
    assert auc >= min_auc, f"ROC-AUC {auc:.3f} fell below {min_auc}"
    assert np.mean(hits) >= min_hit, f"hit@3 {np.mean(hits):.2f} fell below {min_hit}"
    # Impossible values (negative amounts, a year 2099, 365 hotel nights, loads over 100%) are
    # the plainest anomalies: every one is flagged at the default threshold.
    impossible = [p.row_index for p in table.planted if p.kind == "impossible_value"]
    assert impossible and detection.flags[impossible].all()
