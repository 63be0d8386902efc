"""Train once, score many: schema check, drift summary, unseen values, presets, saved models."""

from __future__ import annotations

import json

import jsonschema
import numpy as np
import pytest

from tests.helpers import mixed_table
from tui_detector.core.baseline import SchemaMismatch, compare_schema, drift_summary
from tui_detector.core.env import tensorflow_available
from tui_detector.core.model.detector import ModelFileError, TabularAnomalyDetector
from tui_detector.core.export import build_export, dumps, explained_anomalies, schema
from tui_detector.core.presets import PRESETS
from tui_detector.core.pipeline import (
    DetectionSettings,
    TrainedModel,
    load_source,
    model_from_dir,
    obtain_model,
    run_detection,
    save_model,
    score_with_baseline,
)


@pytest.fixture(scope="module")
def baseline_model():
    frame, _ = mixed_table(1500, 0)
    detector = TabularAnomalyDetector(model="iforest")
    detector.train(frame)
    return detector


def as_model(detector):
    return TrainedModel(detector, False, None, "test", trained_on={"file": "base.csv", "rows": 1500})


def test_same_process_new_month_passes_and_does_not_drift(baseline_model):
    new, _ = mixed_table(800, 1)
    diff = compare_schema(baseline_model, new)
    assert diff.ok and diff.missing == diff.renamed == diff.retyped == []
    assert set(diff.extra) == {"order_id", "comment"}  # the model never used them
    detection = baseline_model.detect(new)
    drift = drift_summary(baseline_model, detection)
    assert {c["level"] for c in drift["columns"]} <= {"none", "small"}
    assert drift["verdict"] == "this file looks like the training data"
    assert abs(drift["training_flagged_share"] - 0.05) < 0.002


def test_shifted_copy_drifts_where_it_moved(baseline_model):
    new, _ = mixed_table(800, 1)
    new["units"] = new["units"] + 3.0  # three training SDs
    new["segment"] = "north"  # one category for everyone
    drift = drift_summary(baseline_model, baseline_model.detect(new))
    by_column = {c["column"]: c for c in drift["columns"]}
    assert by_column["units"]["level"] == "large" and by_column["units"]["value"] == pytest.approx(3.0, abs=0.2)
    assert by_column["segment"]["level"] == "large" and by_column["segment"]["value"] == pytest.approx(0.75, abs=0.05)
    assert by_column["express"]["level"] in ("none", "small")
    assert drift["columns"][0]["level"] == "large"  # worst first
    assert drift["verdict"].startswith("this file differs from the training data")
    assert drift["flagged_share"] > 2 * drift["training_flagged_share"]


def test_missing_and_renamed_columns_are_refused_with_a_hint(baseline_model):
    new, _ = mixed_table(300, 1)
    new = new.rename(columns={"revenue": "Revenue (EUR)"}).drop(columns=["express"])
    diff = compare_schema(baseline_model, new)
    assert not diff.ok
    assert diff.missing == ["revenue", "express"]
    assert diff.renamed == [{"model": "revenue", "table": "Revenue (EUR)"}]
    assert "missing column 'revenue' (renamed to 'Revenue (EUR)'?)" in diff.lines()
    with pytest.raises(SchemaMismatch, match="--column-map 'Revenue \\(EUR\\)=revenue'"):
        raise SchemaMismatch(diff)


def test_retyped_column_is_reported_and_scored_as_blank(baseline_model, tmp_path):
    new, _ = mixed_table(300, 1)
    new["amount"] = [f"{v:.2f} EUR" for v in new["amount"]]  # an export that now adds the unit
    diff = compare_schema(baseline_model, new)
    assert diff.ok
    # Distinct "12.34 EUR" strings read like an ID column; what matters is that none parse.
    assert diff.retyped == [
        {"column": "amount", "model_role": "numeric", "table_role": "identifier", "unreadable_cells": 300}
    ]
    assert any("'amount' was numeric in training" in line for line in diff.lines())


def test_scoring_with_a_baseline_through_the_api(tmp_path):
    base, _ = mixed_table(1500, 0)
    new, planted = mixed_table(600, 1)
    new.loc[40, "segment"] = "mars"  # never seen in training
    new = new.rename(columns={"units": "Units"})
    base_path, new_path = tmp_path / "base.csv", tmp_path / "new.csv"
    base.to_csv(base_path, index=False)
    new.to_csv(new_path, index=False)
    settings = DetectionSettings(model="auto", epochs=8)
    model = obtain_model(base_path, load_source(base_path), settings)
    with pytest.raises(SchemaMismatch):
        score_with_baseline(new_path, load_source(new_path), model, 95)
    run = score_with_baseline(new_path, load_source(new_path), model, 95, column_map={"Units": "units"})
    doc = json.loads(dumps(build_export(run)))
    jsonschema.validate(doc, schema())
    assert doc["model"]["trained_on"]["file"] == "base.csv"
    assert doc["model"]["trained_on"]["sha256"] == load_source(base_path)[1]
    assert doc["schema_check"]["ok"] and "order_id" in doc["schema_check"]["extra"]
    assert doc["drift"]["verdict"]
    flagged = {a["row_index"]: a for a in doc["anomalies"]}
    for row in (*planted, 40):
        assert row in flagged, f"row {row} not flagged"
    notes = [f.get("note") for f in flagged[40]["anomalous_features"]]
    assert "'mars' never seen in segment during training" in notes
    # The model's own table gets no schema check, drift or notes.
    own = run_detection(base_path, settings)
    assert own.from_cache and "drift" not in build_export(own)


def test_saved_model_round_trip_records_its_source(tmp_path, baseline_model):
    base, _ = mixed_table(1500, 0)
    path = tmp_path / "base.csv"
    base.to_csv(path, index=False)
    model = obtain_model(path, load_source(path), DetectionSettings(model="iforest"))
    save_model(model, tmp_path / "saved")
    loaded = model_from_dir(tmp_path / "saved")
    assert loaded.trained_on["file"] == "base.csv" and loaded.trained_on["sha256"] == model.trained_on["sha256"]
    np.testing.assert_array_equal(loaded.detector.detect(base).scores, model.detector.detect(base).scores)
    (tmp_path / "saved" / "trained_on.json").write_text("[not an object")
    assert model_from_dir(tmp_path / "saved").trained_on["file"] is None  # informational only
    with pytest.raises(ModelFileError):
        model_from_dir(tmp_path)


def test_presets_set_the_threshold_as_stated(tmp_path):
    frame, _ = mixed_table(1500, 0)
    path = tmp_path / "t.csv"
    frame.to_csv(path, index=False)
    flagged = {}
    for name, percentile in PRESETS.items():
        run = run_detection(path, DetectionSettings(model="iforest", threshold_percentile=percentile))
        assert run.detection.threshold == pytest.approx(np.percentile(run.detection.scores, percentile), rel=1e-3)
        flagged[name] = run.detection.flags.mean()
    assert PRESETS == {"strict": 99.0, "balanced": 95.0, "sensitive": 90.0}
    assert flagged["strict"] == pytest.approx(0.01, abs=0.002)
    assert flagged["balanced"] == pytest.approx(0.05, abs=0.002)
    assert flagged["sensitive"] == pytest.approx(0.10, abs=0.002)


def test_unseen_value_note_only_for_baseline_runs(tmp_path):
    frame, _ = mixed_table(400, 0)
    path = tmp_path / "t.csv"
    frame.to_csv(path, index=False)
    run = run_detection(path, DetectionSettings(model="iforest"))
    assert all("note" not in f for a in explained_anomalies(run) for f in a["anomalous_features"])


@pytest.mark.slow
@pytest.mark.skipif(not tensorflow_available(), reason="trains the seed's Keras recipe: TensorFlow is not installed")
def test_size_aware_defaults_are_what_training_uses(tmp_path):
    """The set-up screen shows size_defaults(); it must be what a run really trains with."""
    from tui_detector.core.pipeline import size_defaults

    small, _ = mixed_table(600, 0)
    path = tmp_path / "small.csv"
    small.to_csv(path, index=False)
    for model_name in ("autoencoder", "auto"):
        plan = size_defaults(600, model_name)
        model = obtain_model(path, load_source(path), DetectionSettings(model=model_name, use_cache=False))
        params = model.detector.training_params_
        assert params["batch_size"] == plan.batch_size
        assert params["epochs"] == plan.epochs
        assert model.detector.encoding_dim == plan.encoding_dim
    # The design note: bottleneck 4 and 30 epochs below 1k rows for its network; batch 256
    # above 10k rows; the user's choice wins.
    assert (size_defaults(600, "autoencoder").encoding_dim, size_defaults(600, "autoencoder").epochs) == (4, 30)
    assert size_defaults(5_000, "autoencoder").encoding_dim == 8
    assert size_defaults(20_000, "auto").batch_size == 256
    assert DetectionSettings(model="autoencoder", epochs=7).train_options(600)["epochs"] == 7
    assert DetectionSettings(model="autoencoder", encoding_dim=6).detector(600).encoding_dim == 6
    assert size_defaults(50, "iforest").batch_size is None
