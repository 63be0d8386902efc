"""A floor under detection quality, so it cannot regress silently (full figures: benchmarks/quality.py).

Small generated sheets with planted anomalies (each breaks one known cell: an extreme value, a
category wrong for its entity, a broken relation, an impossible value), the default detector with
its default training. The bars sit a little under what the defaults reach (claims ROC-AUC 0.98,
hit@3 0.90; sensors 0.93 / 1.00) and well above the seed recipe (ROC-AUC 0.82-0.90, hit@3
0.45-0.66 on such tables).
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from tui_detector import TabularAnomalyDetector
from tui_detector.demo import make_expense_claims, make_sensor_readings


@pytest.mark.slow
@pytest.mark.parametrize(
    ("make", "min_auc", "min_hit"),
    [(make_expense_claims, 0.96, 0.85), (make_sensor_readings, 0.90, 0.90)],
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


@pytest.mark.slow
def test_large_tables_are_fitted_on_a_sample_and_every_row_scored(monkeypatch, tmp_path):
    """Above FIT_ROWS the models learn from a sample; every row is still scored, the planted
    anomalies are still found, and the scores handed from train() to the first detect() equal a
    fresh computation and a saved model's."""
    from tui_detector.core.model import sizing

    monkeypatch.setattr(sizing, "FIT_ROWS", 600)
    table = make_expense_claims(1500, anomaly_rate=0.02, seed=0)
    detector = TabularAnomalyDetector()
    detector.train(table.frame)
    assert detector.training_params_["fit_rows"] == 600
    first = detector.detect(table.frame)
    again = detector.detect(table.frame)
    loaded = TabularAnomalyDetector.load(detector.save(tmp_path / "model")).detect(table.frame)
    assert first.scores.shape == (1500,)
    np.testing.assert_allclose(first.scores, again.scores, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(first.scores, loaded.scores, rtol=1e-6, atol=1e-9)
    auc = roc_auc_score(table.labels, first.scores)
    assert auc >= 0.93, f"ROC-AUC {auc:.3f} with a 600-row fitting sample"


@pytest.mark.slow
def test_an_error_is_judged_against_its_own_kind_of_row(tmp_path):
    """A column predicted exactly on one kind of row and loosely on another (nights: 0 on a
    ride, 1-6 on a stay): its usual error is kept per kind, so a few nights on a ride stand out
    although nights that far off the prediction are common on stays. Saved and loaded, the
    per-kind yardsticks give the same scores."""
    import pandas as pd

    rng = np.random.default_rng(7)
    n = 1200
    stay = rng.random(n) < 0.5
    nights = np.where(stay, rng.integers(1, 7, n), 0)
    frame = pd.DataFrame(
        {
            "kind": np.where(stay, "stay", "ride"),
            "nights": nights,
            "amount": np.where(stay, 90.0 * nights, 25.0) + rng.normal(0, 40, n),
            "other": rng.normal(0, 1, n),
        }
    )
    planted = np.flatnonzero(~stay)[:6]
    frame.loc[planted, "nights"] = 3
    detector = TabularAnomalyDetector()
    detector.train(frame)
    columns = detector.preprocessor_.columns
    modes = detector.scorer_.mode_scales
    assert columns[modes.mode_column[columns.index("nights")]] == "kind"
    encoder = detector.preprocessor_.encoders[columns.index("nights")]
    kinds = modes.cell_scales(detector.preprocessor_, detector.detect(frame).matrix, detector.scorer_.residual_scale)
    ride = ~stay
    ride[planted] = False
    # Nights on a ride are always 0: a ride with 0 nights holds the one value its kind has, and
    # its nights are no error whatever the amount suggests; a ride with nights is judged
    # against the rides' own (small) usual error.
    assert np.all(kinds[ride, encoder.start] >= 1e9)
    on_ride = np.median(kinds[planted, encoder.start])
    on_stay = np.median(kinds[stay, encoder.start])
    assert on_stay > 10 * on_ride, (on_stay, on_ride)
    detection = detector.detect(frame)
    assert detection.flags[planted].all()
    explained = detector.explain(frame, detection, planted)
    assert all("nights" in [f["feature_name"] for f in e["anomalous_features"]] for e in explained)
    loaded = TabularAnomalyDetector.load(detector.save(tmp_path / "model")).detect(frame)
    np.testing.assert_allclose(detection.scores, loaded.scores, rtol=1e-6, atol=1e-9)
