"""Reopening the very table a cached model scored encodes nothing: the kept results, the
encoding's report and what verdicts re-rank by come back with the model, and give what a fresh
encoding gives. Any other table (another file through the same model, the same rows read another
way) is encoded and scored as ever."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from tui_detector.core import pipeline
from tui_detector.core.export import explained_anomalies
from tui_detector.core.model.kept import DeferredMatrix
from tui_detector.core.model.preprocess import TabularPreprocessor
from tui_detector.core.pipeline import DetectionSettings, load_source, obtain_model, run_detection, score_with_baseline

TINY = DetectionSettings(model="auto", epochs=3)


def _claims(rows: int, seed: int, shift_days: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "claim_id": [f"C{seed}-{i:05d}" for i in range(rows)],
            "department": rng.choice(["sales", "ops", "it", "hr"], rows),
            "amount": np.round(rng.lognormal(4, 0.5, rows), 2),
            "nights": rng.integers(0, 5, rows).astype(object),
            "submitted": pd.Timestamp("2026-10-01") + pd.to_timedelta(rng.integers(0, 30 * 24, rows) + 24 * shift_days, unit="h"),
        }
    )
    frame.loc[7, "amount"] = 125_000.0
    frame.loc[11, "nights"] = "three"  # one cell that cannot be read as a number: the report counts it
    return frame


@pytest.fixture
def files(tmp_path, monkeypatch):
    monkeypatch.setenv("ANOMALY_TUI_DATA_DIR", str(tmp_path / "data"))
    october, november = tmp_path / "october.csv", tmp_path / "november.csv"
    _claims(600, 1).to_csv(october, index=False)
    _claims(600, 2, shift_days=31).to_csv(november, index=False)
    return october, november


class Encoded(AssertionError):
    pass


def _count_transforms(monkeypatch) -> list[int]:
    calls: list[int] = []
    real = TabularPreprocessor.transform

    def counting(self, frame):
        calls.append(len(frame))
        return real(self, frame)

    monkeypatch.setattr(TabularPreprocessor, "transform", counting)
    return calls


def test_the_same_table_reopened_is_not_encoded_and_reads_as_before(files, monkeypatch):
    october, _ = files
    cold = run_detection(october, TINY)
    assert not cold.from_cache
    shown = json.dumps(explained_anomalies(cold), sort_keys=True)

    calls = _count_transforms(monkeypatch)
    warm = run_detection(october, TINY)
    assert warm.from_cache
    assert calls == [], "the kept table was encoded again"
    assert isinstance(warm.detection.matrix, DeferredMatrix) and not warm.detection.matrix.built
    np.testing.assert_array_equal(warm.detection.scores, cold.detection.scores)
    np.testing.assert_array_equal(warm.detection.parts, cold.detection.parts)
    assert warm.detection.report == cold.detection.report
    assert warm.detection.report.coerced == {"nights": 1}
    assert json.dumps(explained_anomalies(warm), sort_keys=True) == shown
    assert calls == [], "explaining the flagged rows encoded the table"

    # A row that was not flagged is explained from the table, encoded then, once, as when the
    # table is encoded up front.
    quiet = [i for i in range(len(warm.frame)) if not warm.detection.flags[i]][:3]
    again = warm.detector.explain(warm.frame, warm.detection, quiet)
    assert calls == [len(warm.frame)]
    encoded = warm.detector.detect(warm.frame, threshold=warm.detection.cut)
    assert again == warm.detector.explain(warm.frame, encoded, quiet)
    np.testing.assert_array_equal(np.asarray(warm.detection.matrix), cold.detection.matrix)


def test_another_file_through_the_same_model_is_encoded_and_scored(files, monkeypatch):
    october, november = files
    run_detection(october, TINY)
    model = obtain_model(october, load_source(october), TINY)
    assert model.from_cache
    calls = _count_transforms(monkeypatch)
    run = score_with_baseline(november, load_source(november), model, TINY.threshold_percentile)
    assert calls == [600], "another file with the same shape took the kept results"
    fresh = model.detector.detect(run.frame, threshold=run.detection.cut)
    np.testing.assert_array_equal(run.detection.scores, fresh.scores)


def test_the_same_rows_under_other_column_names_are_not_taken_for_the_kept_table(files):
    october, _ = files
    run = run_detection(october, TINY)
    key = pipeline.table_key(run.cache_key, run.sha256, run.frame)
    assert key is not None
    assert pipeline.table_key(run.cache_key, run.sha256, run.frame.rename(columns={"amount": "total"})) != key
    assert pipeline.table_key(run.cache_key, run.sha256, run.frame.iloc[1:]) != key
    assert pipeline.table_key(run.cache_key, "0" * 64, run.frame) != key
    assert pipeline.table_key(None, run.sha256, run.frame) is None


def test_the_table_just_trained_on_is_encoded_once(files, monkeypatch):
    october, _ = files
    calls = _count_transforms(monkeypatch)
    cold = run_detection(october, TINY)
    assert not cold.from_cache and calls == [600], "training and scoring each encoded the table"
    fresh = cold.detector.detect(cold.frame, threshold=cold.detection.cut)
    np.testing.assert_array_equal(cold.detection.scores, fresh.scores)
    np.testing.assert_array_equal(cold.detection.matrix, fresh.matrix)


def test_only_the_very_frame_trained_on_takes_its_encoding(files):
    from tui_detector.core.model.detector import TabularAnomalyDetector  # noqa: PLC0415

    october, _ = files
    frame = load_source(october)[0].frame
    detector = TabularAnomalyDetector(model="iforest").fit(frame)
    changed = frame.copy()
    changed.loc[3, "amount"] = 9e9
    vouched = detector.detect(changed, as_trained=True)  # not the frame trained on: encoded
    assert vouched.matrix[3].max() > detector.detect(frame).matrix[3].max()
