import json
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest

from tui_detector import ModelFileError, TabularAnomalyDetector, TrainingCancelled, detect_anomalies_in_excel
from tui_detector.core.model import progress
from tui_detector.core.model.detector import NotFittedError
from tui_detector.core.model.persist import MODEL_FORMAT_VERSION
from tests.conftest import mixed_table

from tui_detector.core.env import tensorflow_available

requires_tf = pytest.mark.skipif(not tensorflow_available(), reason="the seed's autoencoder recipe trains in Keras: TensorFlow is not installed")


def test_planted_anomalies_rank_first_and_are_explained_by_the_broken_column(planted, trained_auto):
    frame, broken = planted
    anomalies = trained_auto.detect_anomalies(frame)
    top = [a["row_index"] for a in anomalies[: len(broken)]]
    assert sorted(top) == sorted(broken)
    for anomaly in anomalies[: len(broken)]:
        names = [f["feature_name"] for f in anomaly["anomalous_features"]]
        assert names[0] == broken[anomaly["row_index"]], anomaly


def test_output_has_the_seed_format_and_is_strict_json(planted, trained_auto):
    frame, _ = planted
    anomalies = trained_auto.detect_anomalies(frame)
    # The 95th percentile of training scores flags about 5% of the training rows.
    assert abs(len(anomalies) - 0.05 * len(frame)) <= 2
    scores = [a["anomaly_score"] for a in anomalies]
    assert scores == sorted(scores, reverse=True)
    assert min(scores) > trained_auto.threshold_
    first = anomalies[0]
    assert set(first) == {"row_index", "anomaly_score", "anomalous_features", "raw_data"}
    assert len(first["anomalous_features"]) == 3
    for feature in first["anomalous_features"]:
        # The seed's four keys, plus the additive ranking measure.
        assert set(feature) == {"feature_name", "actual_value", "expected_value", "reconstruction_error", "contribution"}
        assert feature["feature_name"] in frame.columns  # the user's own column names
    assert list(first["raw_data"]) == list(frame.columns)
    assert first["raw_data"]["order_id"] == frame.loc[first["row_index"], "order_id"]
    json.dumps(anomalies, allow_nan=False)
    # The extreme amount is reported as it is in the sheet, with a far smaller expectation.
    extreme = next(a for a in anomalies if a["row_index"] == 17)
    amount = next(f for f in extreme["anomalous_features"] if f["feature_name"] == "amount")
    assert amount["actual_value"] == 250_000.0 and amount["expected_value"] < 250_000.0
    # The datetime column is explained as a date, not as derived numbers.
    assert isinstance(first["raw_data"]["ordered_at"], str)


def test_excluded_columns_are_listed_with_reasons(trained_auto):
    dropped = {d["name"]: d["reason"] for d in trained_auto.columns_dropped}
    assert set(dropped) == {"order_id", "comment"}
    assert dropped["order_id"].startswith("identifier")
    assert dropped["comment"].startswith("text")
    assert "order_id" not in trained_auto.columns_used


def test_same_data_and_seed_give_identical_scores(planted):
    frame, _ = planted
    scores = []
    for _ in range(2):
        detector = TabularAnomalyDetector(random_state=7)
        detector.train(frame, epochs=3)
        scores.append(detector.score_samples(frame))
    assert np.array_equal(scores[0], scores[1])


def test_save_load_round_trip_gives_identical_results(planted, trained_auto, tmp_path):
    frame, _ = planted
    trained_auto.save(tmp_path / "model")
    # The default ensemble: the network, the forest, and the tails/neighbour arrays; no pickle.
    assert sorted(p.name for p in (tmp_path / "model").iterdir()) == [
        "ensemble.npz", "forest.npz", "manifest.json", "network.npz"
    ]
    loaded = TabularAnomalyDetector.load(tmp_path / "model")
    assert np.array_equal(loaded.score_samples(frame), trained_auto.score_samples(frame))
    assert loaded.detect_anomalies(frame) == trained_auto.detect_anomalies(frame)
    assert loaded.threshold_ == trained_auto.threshold_


def test_load_refuses_tampered_damaged_and_foreign_directories(trained_auto, tmp_path):
    path = trained_auto.save(tmp_path / "model")
    weights = (path / "network.npz").read_bytes()
    (path / "network.npz").write_bytes(weights[:-1] + bytes([weights[-1] ^ 1]))
    with pytest.raises(ModelFileError, match="checksum"):
        TabularAnomalyDetector.load(path)

    path = trained_auto.save(tmp_path / "model2")
    manifest = json.loads((path / "manifest.json").read_text())
    manifest["format_version"] = 99
    (path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ModelFileError, match="format version"):
        TabularAnomalyDetector.load(path)

    path = trained_auto.save(tmp_path / "model3")
    manifest = json.loads((path / "manifest.json").read_text())
    manifest["feature_means"] = manifest["feature_means"][:-1]  # no longer fits the network
    (path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ModelFileError):
        TabularAnomalyDetector.load(path)

    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelFileError, match="not a saved model"):
        TabularAnomalyDetector.load(tmp_path / "empty")
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "manifest.json").write_text("{not json")
    with pytest.raises(ModelFileError, match="damaged"):
        TabularAnomalyDetector.load(tmp_path / "junk")
    (tmp_path / "pickle").mkdir()
    (tmp_path / "pickle" / "manifest.json").write_text(
        json.dumps({"format": "anomaly-tui-model", "format_version": MODEL_FORMAT_VERSION, "files": {"model.pkl": "0"}})
    )
    with pytest.raises(ModelFileError, match="unexpected file"):
        TabularAnomalyDetector.load(tmp_path / "pickle")


def test_load_refuses_per_kind_error_scales_that_do_not_fit_the_table(trained_auto, tmp_path):
    """The per-kind yardsticks name the column whose values sort rows into kinds: a file that
    names a numeric column, or a column for itself, is refused even with a matching checksum."""
    import hashlib
    import io

    columns = trained_auto.preprocessor_.columns
    numeric = next(j for j, e in enumerate(trained_auto.preprocessor_.encoders) if str(e.role) == "numeric")
    for target, bad in ((0 if numeric else 1, numeric), (numeric, numeric)):
        path = trained_auto.save(tmp_path / f"model-{target}-{bad}")
        with np.load(path / "ensemble.npz") as data:
            arrays = {k: np.array(data[k]) for k in data.files}
        assert arrays["mode_column"].shape == (len(columns),)
        arrays["mode_column"][target] = bad
        buffer = io.BytesIO()
        np.savez(buffer, **arrays)
        (path / "ensemble.npz").write_bytes(buffer.getvalue())
        manifest = json.loads((path / "manifest.json").read_text())
        manifest["files"]["ensemble.npz"] = hashlib.sha256(buffer.getvalue()).hexdigest()
        (path / "manifest.json").write_text(json.dumps(manifest))
        with pytest.raises(ModelFileError, match="per-kind"):
            TabularAnomalyDetector.load(path)


@pytest.mark.slow
@requires_tf
def test_seed_signature_and_helper(planted, tmp_path, monkeypatch):
    frame, broken = planted
    detector = TabularAnomalyDetector(encoding_dim=8, threshold_percentile=95, model="autoencoder")
    history = detector.train(frame, epochs=2, batch_size=32, validation_split=0.2)
    assert len(history["loss"]) == 2 and len(history["val_loss"]) == 2
    assert detector.training_params_["batch_size"] == 32

    anomalies, trained = detect_anomalies_in_excel(frame, model_path=tmp_path / "m", train_if_needed=True)
    assert (tmp_path / "m" / "manifest.json").exists() and anomalies
    # Second call loads the saved model instead of training.
    monkeypatch.setattr(TabularAnomalyDetector, "train", lambda *a, **k: pytest.fail("retrained"))
    again, loaded = detect_anomalies_in_excel(frame, model_path=tmp_path / "m")
    assert again == anomalies
    with pytest.raises(ModelFileError):
        detect_anomalies_in_excel(frame, model_path=tmp_path / "none", train_if_needed=False)


@pytest.mark.slow
@requires_tf
def test_plain_autoencoder_scores_are_reconstruction_mse(planted):
    frame, _ = planted
    detector = TabularAnomalyDetector(model="autoencoder")
    detector.train(frame, epochs=2)
    detection = detector.detect(frame)
    mse = np.mean((detection.matrix - detection.reconstruction) ** 2, axis=1)
    assert np.allclose(detection.scores, mse)


def test_cancellation_stops_within_one_batch(planted):
    frame, _ = planted
    calls = []

    def should_stop():
        calls.append(1)
        return len(calls) >= 3

    detector = TabularAnomalyDetector()
    with pytest.raises(TrainingCancelled):
        detector.train(frame, epochs=50, batch_size=32, should_stop=should_stop)
    # Asked after every batch: the third answer "stop" ended training before a fourth batch.
    assert len(calls) == 3
    with pytest.raises(NotFittedError):
        detector.detect(frame)


@pytest.mark.slow
def test_scoring_every_row_after_training_hears_a_cancel_between_chunks(planted, monkeypatch):
    """On a big table the models learn from a sample, then every row is scored, a chunk at a
    time: a cancel during that pass (after the last batch) stops it at the next chunk, and
    detect() on a big table stops the same way."""
    from tui_detector.core.model import sizing
    from tui_detector.core.model.ensemble import EnsembleScorer

    frame, _ = planted
    monkeypatch.setattr(sizing, "FIT_ROWS", 100)
    monkeypatch.setattr(sizing, "SCORE_CHUNK", 50)
    scoring = {"started": False, "chunks": 0}
    real = EnsembleScorer.parts_of

    def watched(self, *args, **kwargs):
        scoring["started"] = True
        return real(self, *args, **kwargs)

    monkeypatch.setattr(EnsembleScorer, "parts_of", watched)

    def should_stop():
        if scoring["started"]:
            scoring["chunks"] += 1
            return scoring["chunks"] > 2  # two chunks scored, then stop
        return False

    detector = TabularAnomalyDetector()
    with pytest.raises(TrainingCancelled):
        detector.train(frame, epochs=2, should_stop=should_stop)
    assert scoring["chunks"] == 3
    with pytest.raises(NotFittedError):
        detector.detect(frame)

    trained = TabularAnomalyDetector()
    trained.train(frame, epochs=2)
    asked = []
    with pytest.raises(TrainingCancelled):
        trained.detect(frame.iloc[::-1].reset_index(drop=True), should_stop=lambda: asked.append(1) or len(asked) > 1)
    assert len(asked) == 2


@pytest.mark.slow
def test_scoring_every_row_reports_how_far_it_has_got(planted, monkeypatch, tmp_path):
    from tui_detector.core import pipeline
    from tui_detector.core.model import sizing

    frame, _ = planted
    n = len(frame)
    monkeypatch.setattr(sizing, "FIT_ROWS", 100)
    monkeypatch.setattr(sizing, "SCORE_CHUNK", 128)
    heard: list[tuple[int, int]] = []
    detector = TabularAnomalyDetector()
    detector.train(frame, epochs=2, on_scored=lambda done, total: heard.append((done, total)))
    assert heard == [(min(k, n), n) for k in range(128, n + 128, 128)]

    # The pipeline turns it into stage lines (the app's Training screen, the CLI's status line).
    monkeypatch.setattr(pipeline, "SCORE_CHUNK", 128)
    path = tmp_path / "t.csv"
    frame.to_csv(path, index=False)
    stages: list[str] = []
    pipeline.run_detection(path, pipeline.DetectionSettings(use_cache=False, epochs=2), on_stage=stages.append)
    scored = [s for s in stages if s.startswith("scoring every row")]
    assert scored[0] == f"scoring every row: 128 of {n:,}" and scored[-1] == f"scoring every row: {n:,} of {n:,}"


def test_progress_reports_within_and_at_the_end_of_epochs(planted, monkeypatch):
    frame, _ = planted
    monkeypatch.setattr(progress, "PROGRESS_INTERVAL", 0.0)
    reports = []
    detector = TabularAnomalyDetector()
    detector.train(frame, epochs=3, batch_size=256, early_stopping=False, on_progress=reports.append)
    # First the preparation, step by step (it takes seconds on a big table), then the epochs.
    preparing = [r for r in reports if r.preparing is not None]
    assert [(r.prepared, r.prepare_steps) for r in preparing] == [(0, 3), (1, 3), (2, 3)]
    assert reports[: len(preparing)] == preparing and preparing[0].preparing == "profiling the columns"
    assert all(r.fraction == 0 and r.elapsed >= 0 for r in preparing)
    reports = reports[len(preparing) :]
    batches = reports[0].batches
    assert batches == int(np.ceil(len(frame) * 0.8 / 256))
    ends = [r for r in reports if r.epoch_end]
    assert [r.epoch for r in ends] == [1, 2, 3]
    assert all(r.loss is not None and r.val_loss is not None for r in ends)
    within = [r for r in reports if not r.epoch_end]
    assert len(within) >= 3 * (batches - 1)
    assert all(r.elapsed >= 0 and r.eta is not None for r in reports)
    assert all(0 <= r.fraction <= 1 for r in reports)
    assert ends[-1].fraction == 1.0 and ends[-1].eta == 0


def test_iforest_model_uses_the_same_api_and_saves_without_pickle(planted, tmp_path):
    frame, broken = planted
    detector = TabularAnomalyDetector(model="iforest")
    detector.train(frame)
    anomalies = detector.detect_anomalies(frame)
    assert anomalies and {f["feature_name"] for a in anomalies for f in a["anomalous_features"]} <= set(frame)
    path = detector.save(tmp_path / "forest")
    assert sorted(p.name for p in path.iterdir()) == ["forest.npz", "manifest.json"]
    loaded = TabularAnomalyDetector.load(path)
    assert np.array_equal(loaded.score_samples(frame), detector.score_samples(frame))


def test_forest_arrays_score_like_scikit_learn():
    from sklearn.ensemble import IsolationForest

    from tui_detector.core.model.forest import ForestArrays

    x = np.random.default_rng(3).normal(size=(500, 4))
    ours = ForestArrays.fit(x, n_estimators=50, seed=1).score(x)
    theirs = -IsolationForest(n_estimators=50, random_state=1).fit(x).score_samples(x)
    assert np.allclose(ours, theirs)


def test_unusable_tables_get_clear_errors():
    with pytest.raises(ValueError, match="at least 2 rows"):
        TabularAnomalyDetector().train(pd.DataFrame({"x": [1.0]}))
    with pytest.raises(ValueError, match="no column is usable"):
        TabularAnomalyDetector().train(pd.DataFrame({"id": [f"a{i}" for i in range(30)], "k": ["c"] * 30}))
    with pytest.raises(ValueError, match="threshold_percentile"):
        TabularAnomalyDetector(threshold_percentile=120).train(pd.DataFrame({"x": [1.0, 2.0, 3.0]}))


def test_unseen_category_at_detect_time_is_scored_not_a_crash(trained_auto, planted):
    frame, _ = planted
    new = frame.iloc[100:120].reset_index(drop=True)  # no planted rows here
    new.loc[3, "segment"] = "mars"
    detection = trained_auto.detect(new)
    assert np.all(np.isfinite(detection.scores))
    assert detection.report.unseen == {"segment": {"mars": 1}}
    assert detection.scores[3] == detection.scores.max()
    explained = trained_auto.explain(new, detection, [3])[0]["anomalous_features"][0]
    assert explained["feature_name"] == "segment" and explained["actual_value"] == "mars"


def _run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=300
    )


@pytest.mark.slow
def test_without_tensorflow_the_seed_recipe_falls_back_to_isolation_forest_and_auto_does_not():
    """Only the seed's Keras recipe needs TensorFlow: without it "autoencoder" becomes
    IsolationForest and says so; "auto" (its network trained in NumPy) still trains the
    ensemble, with no warning, and scores the same as with TensorFlow installed."""
    proc = _run(
        """
        import sys, warnings
        sys.modules["tensorflow"] = None  # makes `import tensorflow` fail
        sys.modules["keras"] = None
        import numpy as np
        import tui_detector
        from tests.helpers import mixed_table
        assert tui_detector.TF_AVAILABLE is False
        frame, broken = mixed_table(600)
        det = tui_detector.TabularAnomalyDetector(model="autoencoder")
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            det.train(frame)
        assert det.model_kind_ == "iforest", det.model_kind_
        assert any("TensorFlow is not installed" in str(w.message) for w in caught)
        assert any("IsolationForest" in w for w in det.warnings_)
        out = det.detect_anomalies(frame)
        assert out and len(out[0]["anomalous_features"]) == 3

        auto = tui_detector.TabularAnomalyDetector()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            auto.train(frame, epochs=4)
        assert auto.model_kind_ == "auto", auto.model_kind_
        assert type(auto.scorer_).__name__ == "EnsembleScorer"
        assert not any("TensorFlow" in str(w.message) for w in caught)
        assert not any("IsolationForest" in w for w in auto.warnings_)
        assert "tensorflow" not in [m for m in sys.modules if sys.modules[m] is not None]
        print("ok", len(out), ",".join(f"{s:.12g}" for s in auto.score_samples(frame)[:5]))
        """
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("ok")
    # The same table and seed with TensorFlow importable: "auto" never touches it.
    frame, _ = mixed_table(600)
    auto = TabularAnomalyDetector()
    auto.train(frame, epochs=4)
    assert proc.stdout.split()[2] == ",".join(f"{s:.12g}" for s in auto.score_samples(frame)[:5])


@pytest.mark.slow
def test_seed_api_on_a_3000_row_table_prints_nothing():
    proc = _run(
        """
        from tests.helpers import mixed_table
        from tui_detector import TabularAnomalyDetector, detect_anomalies_in_excel
        frame, _ = mixed_table(3000)
        anomalies, detector = detect_anomalies_in_excel(frame)
        assert detector.model_kind_ == "auto" and anomalies
        """
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "" and proc.stderr == ""


@pytest.mark.parametrize("module", ["tui_detector", "tui_detector.core", "tui_detector.core.model.detector",
                                    "tui_detector.core.io.reader", "tui_detector.cli"])
def test_importing_the_package_loads_neither_textual_nor_tensorflow(module):
    proc = _run(
        f"""
        import sys, {module}
        print(sorted(m for m in ("textual", "tensorflow", "keras", "rich") if m in sys.modules))
        """
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


@pytest.mark.parametrize("rows", [2, 5, 31])
def test_tiny_tables_train_to_finite_scores(rows):
    rng = np.random.default_rng(rows)
    frame = pd.DataFrame({"x": rng.normal(size=rows), "k": rng.choice(["a", "b"], rows)})
    detector = TabularAnomalyDetector()
    detector.train(frame, epochs=3)  # fewer rows than a batch, and for 2 rows no validation
    assert np.all(np.isfinite(detector.score_samples(frame)))
    assert np.isfinite(detector.threshold_)


def test_more_columns_than_rows_and_missing_cells():
    rng = np.random.default_rng(4)
    frame = pd.DataFrame(rng.normal(size=(20, 60)), columns=[f"c{i}" for i in range(60)])
    frame.iloc[::3, ::2] = np.nan
    detector = TabularAnomalyDetector()
    detector.train(frame, epochs=3)
    assert np.all(np.isfinite(detector.score_samples(frame)))
    assert "c0 (missing)" in detector.preprocessor_.feature_names


def test_roles_guessed_for_the_table_are_not_guessed_again(planted, monkeypatch):
    """Set up has profiled the table already: training takes those profiles (with the user's
    roles on top), gives the model it would have given, and profiles nothing again; profiles of
    another table (a totals row left out since: other rows) are not taken."""
    from tui_detector.core.model import detector as detector_module
    from tui_detector.core.model.roles import apply_roles, profile_columns

    frame, _ = planted
    guessed = profile_columns(frame)
    roles = {str(frame.columns[1]): "text", str(frame.columns[2]): "categorical"}
    assert apply_roles(guessed, roles) == profile_columns(frame, roles)

    plain = TabularAnomalyDetector(random_state=0, roles=roles)
    plain.train(frame, epochs=2)
    calls = []
    real = detector_module.profile_columns
    monkeypatch.setattr(detector_module, "profile_columns", lambda *a, **k: calls.append(1) or real(*a, **k))
    reused = TabularAnomalyDetector(random_state=0, roles=roles)
    reused.train(frame, epochs=2, guessed=guessed)
    assert calls == []
    assert reused.profiles_ == plain.profiles_
    np.testing.assert_array_equal(reused.detect(frame).scores, plain.detect(frame).scores)

    shorter = frame.iloc[:-1].reset_index(drop=True)
    TabularAnomalyDetector(random_state=0).train(shorter, epochs=2, guessed=guessed)
    assert calls == [1]
