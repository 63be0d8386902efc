"""The model directory format is a promise to saved models and the cache: these lists are the
format as versions 2 and 3 have always written it, copied here on purpose (a change to the format
must change them, and MODEL_FORMAT_VERSION with them). Version 3 keeps version 2's keys, files and
arrays; what changed is inside the encoders' states (dates, entities), and version 2 models are
still read and scored as they were trained. Version 5 adds the relations between numbers and the
kinds of row on which a number is constant to ``ensemble.npz`` (``relation_*``,
``mode_constant``); a version 4 directory, without them, loads with none. Version 6 adds each
column's error-tail steepness (``error_steepness``); a version 5 directory loads with 1 for
every column. Version 7 adds whether each relation is a loose one that speaks only past its
kind's partner range (``relation_beyond``); a version 6 directory loads with every relation exact.
Version 8 adds whether each relation's curve is in the cells' own units (``relation_own_units``);
a version 7 directory loads with every curve in the model's units. Version 9 adds whether a loose
relation speaks inside its kind's partner range too (``relation_inside``) and whether an exact line
in the cells' own units is continued past it (``relation_continues``); a version 8 directory loads
with neither."""

from __future__ import annotations

import hashlib
import io
import json

import numpy as np
import pytest

from tui_detector.core.model.detector import TabularAnomalyDetector
from tui_detector.core.model.persist import MANIFEST, MODEL_FORMAT_VERSION

MANIFEST_KEYS = [
    "format", "format_version", "created_with", "trained_at", "model_kind", "params", "training",
    "threshold", "score_quantiles", "feature_means", "residual_scale", "input_clip", "ensemble",
    "history", "warnings", "preprocessor", "network", "files",
]  # fmt: skip
PARAM_KEYS = ["encoding_dim", "threshold_percentile", "model", "hidden_layers", "random_state", "roles", "top_features"]
TRAINING_KEYS = ["epochs", "epochs_run", "batch_size", "validation_split", "rows", "fit_rows"]
ENSEMBLE_KEYS = ["trim_share", "knn_k", "parts", "centre", "scale"]
ARRAYS = {
    "ensemble.npz": [
        "tail_quantiles", "tail_rows", "knn_reference", "projection", "error_quantiles", "error_rows",
        "error_steepness", "mode_column", "mode_table", "mode_constant", "relation_target", "relation_partner", "relation_groups",
        "relation_sizes", "relation_coef", "relation_bounds", "relation_spread", "relation_beyond",
        "relation_own_units", "relation_inside", "relation_continues",
    ],
    "forest.npz": ["left", "right", "feature", "threshold", "leaf_length", "meta"],
    "network.npz": ["w0", "b0", "w1", "b1", "w2", "b2", "w3", "b3", "w4", "b4", "w5", "b5"],
}  # fmt: skip
FILES = {"auto": ["ensemble.npz", "forest.npz", "network.npz"], "iforest": ["forest.npz"]}


@pytest.fixture(scope="module")
def tiny_auto(planted):
    frame, _ = planted
    detector = TabularAnomalyDetector()
    detector.train(frame.iloc[:400].reset_index(drop=True), epochs=2)
    return detector


@pytest.mark.parametrize("kind", ["auto", "iforest"])
def test_saved_model_has_the_format_version_9_keys_files_and_arrays(kind, tiny_auto, fitted, tmp_path):
    detector = tiny_auto if kind == "auto" else fitted
    path = detector.save(tmp_path / kind)
    manifest = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
    assert manifest["format"] == "anomaly-tui-model" and manifest["format_version"] == MODEL_FORMAT_VERSION == 9
    assert list(manifest) == MANIFEST_KEYS
    assert list(manifest["params"]) == PARAM_KEYS and list(manifest["training"]) == TRAINING_KEYS
    assert list(manifest["ensemble"] or {}) == (ENSEMBLE_KEYS if kind == "auto" else [])
    assert (manifest["network"] is None) == (kind == "iforest")
    assert sorted(manifest["files"]) == FILES[kind] == sorted(p.name for p in path.iterdir() if p.name != MANIFEST)
    for name in FILES[kind]:
        with np.load(path / name, allow_pickle=False) as data:
            assert data.files == ARRAYS[name]
        assert manifest["files"][name] == hashlib.sha256((path / name).read_bytes()).hexdigest()


@pytest.mark.parametrize("kind", ["auto", "iforest"])
def test_a_directory_written_to_the_format_description_loads_and_scores_alike(kind, tiny_auto, fitted, planted, tmp_path):
    """The directory is rebuilt here by hand from the description above (every array through
    np.savez under its listed name, the manifest with its listed keys and fresh checksums), not
    by save(): what another version of the code writes to this format loads."""
    frame, _ = planted
    detector = tiny_auto if kind == "auto" else fitted
    source = detector.save(tmp_path / "source")
    manifest = json.loads((source / MANIFEST).read_text(encoding="utf-8"))
    target = tmp_path / "by-hand"
    target.mkdir()
    files = {}
    for name in FILES[kind]:
        with np.load(source / name, allow_pickle=False) as data:
            arrays = {key: np.array(data[key]) for key in ARRAYS[name]}
        buffer = io.BytesIO()
        np.savez(buffer, **arrays)
        (target / name).write_bytes(buffer.getvalue())
        files[name] = hashlib.sha256(buffer.getvalue()).hexdigest()
    by_hand = {key: manifest[key] for key in MANIFEST_KEYS if key != "files"}
    by_hand["created_with"] = {"anomaly-tui": "0.1.0"}
    by_hand["files"] = files
    (target / MANIFEST).write_text(json.dumps(by_hand, indent=1), encoding="utf-8")
    loaded = TabularAnomalyDetector.load(target)
    assert loaded.model_kind_ == kind and loaded.threshold_ == detector.threshold_
    np.testing.assert_allclose(loaded.score_samples(frame), detector.score_samples(frame), rtol=1e-6, atol=1e-9)


def test_a_model_cached_for_its_table_keeps_that_tables_results(tiny_auto, planted, tmp_path):
    """``scores.npz`` (arrays parts, rows, recon; the matrix digest in the manifest's ensemble)
    gives the same table the same scores without scoring it, and nothing to another table."""
    frame, _ = planted
    table = frame.iloc[:400].reset_index(drop=True)
    detection = tiny_auto.detect(table)
    twin = TabularAnomalyDetector.load(tiny_auto.save(tmp_path / "plain"))
    kept = twin.keep_results(twin.detect(table))
    assert kept is not None
    path = twin.save(tmp_path / "kept")
    manifest = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
    assert sorted(manifest["files"]) == [*FILES["auto"], "scores.npz"]
    assert list(manifest["ensemble"]) == [*ENSEMBLE_KEYS, "kept_digest"]
    with np.load(path / "scores.npz", allow_pickle=False) as data:
        assert data.files == ["parts", "rows", "recon", "errors", "ranking", "contribution"]
        assert data["parts"].shape == (4, len(table))
        np.testing.assert_array_equal(data["rows"], np.sort(detection.anomaly_rows))
    loaded = TabularAnomalyDetector.load(path)
    again = loaded.detect(table)
    np.testing.assert_array_equal(again.scores, detection.scores)
    np.testing.assert_array_equal(again.raw_parts, detection.raw_parts)
    # What the run that kept them showed is what the reopened model shows.
    assert loaded.explain(table, again, again.anomaly_rows) == twin.explain(table, kept, kept.anomaly_rows)
    # Another table (one row changed) is scored as ever.
    other = table.copy()
    other.iloc[0, 1] = other.iloc[1, 1]
    np.testing.assert_allclose(loaded.detect(other).scores, tiny_auto.detect(other).scores, rtol=1e-6, atol=1e-9)


def test_kept_results_that_do_not_fit_the_model_are_refused(tiny_auto, planted, tmp_path):
    from tui_detector.core.model.persist import ModelFileError  # noqa: PLC0415

    frame, _ = planted
    table = frame.iloc[:400].reset_index(drop=True)
    twin = TabularAnomalyDetector.load(tiny_auto.save(tmp_path / "plain"))
    twin.keep_results(twin.detect(table))
    path = twin.save(tmp_path / "kept")
    with np.load(path / "scores.npz", allow_pickle=False) as data:
        arrays = {key: np.array(data[key]) for key in data.files}
    arrays["rows"] = arrays["rows"][::-1].copy()  # not sorted: not what this version writes
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    (path / "scores.npz").write_bytes(buffer.getvalue())
    manifest = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
    manifest["files"]["scores.npz"] = hashlib.sha256(buffer.getvalue()).hexdigest()
    (path / MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(ModelFileError, match="kept scores"):
        TabularAnomalyDetector.load(path)


def test_a_version_2_model_is_still_read_and_scores_dates_as_it_was_trained(tmp_path):
    import pandas as pd  # noqa: PLC0415

    rng = np.random.default_rng(3)
    frame = pd.DataFrame({
        "at": pd.Timestamp("2026-10-01") + pd.to_timedelta(rng.integers(0, 30 * 24, 300), unit="h"),
        "x": rng.normal(size=300),
    })
    detector = TabularAnomalyDetector()
    detector.train(frame, epochs=2)
    path = detector.save(tmp_path / "m")
    manifest = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
    # What version 2 wrote for a date column: its place in time as the first feature.
    manifest["format_version"] = 2
    for encoder in manifest["preprocessor"]["encoders"]:
        if encoder["column"] == "at":
            encoder["state"].pop("relative")
            encoder["state"].pop("period")
            encoder["features"][0] = "at"
    (path / MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")
    old = TabularAnomalyDetector.load(path)
    later = frame.assign(at=frame["at"] + pd.DateOffset(years=5))
    # Scored as it was trained: the absolute date, so a file five years on is all strange.
    assert old.detect(later).flags.mean() > 0.5
    # The model of this version is not fooled by the later period.
    assert detector.detect(later).flags.mean() < 0.1


def test_kept_results_of_a_named_table_keep_its_report_and_reranking_parts(tiny_auto, planted, tmp_path):
    """With the table named (``pipeline.table_key``), the manifest's ensemble adds ``kept_table``
    and ``kept_report`` and ``scores.npz`` adds ``features``; a version that does not know them
    reads the rest as before."""
    frame, _ = planted
    table = frame.iloc[:400].reset_index(drop=True)
    twin = TabularAnomalyDetector.load(tiny_auto.save(tmp_path / "plain"))
    detection = twin.detect(table)
    twin.keep_results(detection, known_as="the-table")
    path = twin.save(tmp_path / "kept")
    manifest = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
    assert list(manifest["ensemble"]) == [*ENSEMBLE_KEYS, "kept_digest", "kept_table", "kept_report"]
    assert manifest["ensemble"]["kept_table"] == "the-table"
    assert sorted(manifest["ensemble"]["kept_report"]) == ["coerced", "periods", "unseen"]
    with np.load(path / "scores.npz", allow_pickle=False) as data:
        assert data.files == ["parts", "rows", "recon", "errors", "ranking", "contribution", "features"]
        np.testing.assert_array_equal(data["features"], detection.parts)
    loaded = TabularAnomalyDetector.load(path)
    named = loaded.detect(table, known_as="the-table")
    np.testing.assert_array_equal(named.scores, detection.scores)
    assert named.report == detection.report
    # Under another name the table is encoded and scored: the same scores.
    np.testing.assert_array_equal(loaded.detect(table, known_as="another").scores, detection.scores)


def test_a_version_4_directory_loads_without_relations_or_constant_kinds(tmp_path):
    """A model written before version 5 has no ``relation_*`` or ``mode_constant`` arrays: it
    loads and scores with neither, as it was trained."""
    import pandas as pd  # noqa: PLC0415

    rng = np.random.default_rng(2)
    kwh = np.round(np.exp(rng.normal(5.6, 0.4, 600)))
    frame = pd.DataFrame({"kwh": kwh, "amount": np.round(kwh * 0.31 + 9.5, 2), "region": rng.choice(["N", "S"], 600)})
    detector = TabularAnomalyDetector()
    detector.train(frame, epochs=2)
    assert len(detector.scorer_.relations) > 0
    path = detector.save(tmp_path / "v5")
    _as_older_version(path, 4, lambda k: k.startswith("relation_") or k == "mode_constant")
    loaded = TabularAnomalyDetector.load(path)
    assert len(loaded.scorer_.relations) == 0
    assert np.isnan(loaded.scorer_.mode_scales.constant).all()
    assert np.isfinite(loaded.score_samples(frame)).all()


def test_a_version_5_directory_loads_with_every_tail_extrapolated_as_1_over_the_error(tmp_path):
    """A model written before version 6 has no ``error_steepness``: its threshold was set with
    every column's errors past their 99th percentile read as falling like 1/error, and it is
    scored so; the same model with the array scores its large errors higher."""
    import pandas as pd  # noqa: PLC0415

    rng = np.random.default_rng(4)
    frame = pd.DataFrame({"x": rng.normal(size=600), "y": rng.normal(size=600)})
    frame.loc[0, "x"] = 40.0
    detector = TabularAnomalyDetector()
    detector.train(frame, epochs=2)
    assert (detector.scorer_.error_tails.steepness > 1.0).any()
    path = detector.save(tmp_path / "v6")
    _as_older_version(path, 5, lambda k: k == "error_steepness")
    loaded = TabularAnomalyDetector.load(path)
    np.testing.assert_array_equal(loaded.scorer_.error_tails.steepness, np.ones(2))
    assert loaded.score_samples(frame)[0] < detector.score_samples(frame)[0]


def test_a_version_6_directory_loads_with_every_relation_exact(tmp_path):
    """A model written before version 7 has no ``relation_beyond``: every relation it holds was
    found against the exact bar and speaks inside its kind's range, and it is read so. The flag
    is what makes a loose relation loose: without it the same curve would judge every row."""
    _read_as_older_version(_two_carriers(1500, 2), tmp_path, 6, "beyond")


def _two_carriers(rows: int, seed: int):  # noqa: ANN202 - a DataFrame
    """Parcels of two carriers, each cost its carrier's base and price per kilo give or take 5%."""
    import pandas as pd  # noqa: PLC0415

    rng = np.random.default_rng(seed)
    heavy = rng.random(rows) < 0.2
    weight = np.round(np.where(heavy, np.exp(rng.normal(5.5, 0.5, rows)), np.exp(rng.normal(1.2, 0.8, rows))), 1)
    cost = np.round(np.where(heavy, 45.0 + 0.25 * weight, 4.0 + 0.9 * weight) * np.exp(rng.normal(0, 0.05, rows)), 2)
    return pd.DataFrame({"carrier": np.where(heavy, "Freight", "DHL"), "weight": weight, "cost": cost})


def test_a_version_7_directory_loads_with_every_curve_in_the_models_units(tmp_path):
    """A model written before version 8 has no ``relation_own_units``: every curve it holds was
    fitted in the model's units, and it is read so. The flag is what says a fee's line is in
    euros: without it the same coefficients would be applied to logs."""
    import pandas as pd  # noqa: PLC0415

    rng = np.random.default_rng(3)
    channel = rng.choice(["web", "store"], 1500)
    amount = np.round(np.exp(rng.normal(4.0, 0.7, 1500)), 2)
    fee = np.round(amount * np.where(channel == "web", 0.029, 0.015) + 0.25, 2)
    frame = pd.DataFrame({"channel": channel, "amount": amount, "fee": fee})
    _read_as_older_version(frame, tmp_path, 7, "own_units")


def test_a_version_8_directory_loads_with_every_loose_relation_speaking_only_past_its_range(tmp_path):
    """A model written before version 9 has no ``relation_inside``: its loose relations speak
    only past their kind's partner range, and it is read so. The flag is what lets a carrier's
    price judge the costs inside its weights: without it the network judges them."""
    _read_as_older_version(_two_carriers(1500, 2), tmp_path, 8, "inside", ("continues",))


def test_a_version_8_directory_loads_with_no_price_list_continued_past_its_range(tmp_path):
    """A model written before version 9 has no ``relation_continues``: its price lists say
    nothing past their kind's range, and it is read so. The flag is what lets a Green bill at
    the Business price be expected at Green's price: without it the network judges the bill."""
    from tests.core.test_trust import bills  # noqa: PLC0415

    frame = bills(seed=4)
    business = np.flatnonzero((frame["tariff"] == "Business").to_numpy())
    frame.loc[business[frame["kwh"].to_numpy()[business] > 1500][:3], "tariff"] = "Green"
    _read_as_older_version(frame, tmp_path, 8, "continues", ("inside",))


def _read_as_older_version(frame, tmp_path, version: int, flag: str, newer: tuple[str, ...] = ()) -> None:  # noqa: ANN001 - a DataFrame, a path
    """A model trained on ``frame`` sets relation flag ``flag`` somewhere; saved, rewritten as
    ``version`` wrote it (without ``relation_<flag>``, nor the ``newer`` flags it did not have
    either) and loaded, it holds the same relations with the flag clear everywhere, and scores
    differently (the flag is what the curves need)."""
    detector = TabularAnomalyDetector()
    detector.train(frame, epochs=2)
    assert getattr(detector.scorer_.relations, flag).any()
    path = detector.save(tmp_path / "model")
    _as_older_version(path, version, lambda k: k in {f"relation_{f}" for f in (flag, *newer)})
    loaded = TabularAnomalyDetector.load(path)
    np.testing.assert_array_equal(loaded.scorer_.relations.target, detector.scorer_.relations.target)
    assert not getattr(loaded.scorer_.relations, flag).any()
    assert not np.allclose(loaded.score_samples(frame), detector.score_samples(frame))


def _as_older_version(path, version: int, newer) -> None:
    """Rewrite the saved model at ``path`` as ``version`` wrote it: without the ensemble arrays
    ``newer(name)`` names, with that version number and the checksum to match."""
    with np.load(path / "ensemble.npz", allow_pickle=False) as data:
        arrays = {k: np.array(data[k]) for k in data.files if not newer(k)}
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    (path / "ensemble.npz").write_bytes(buffer.getvalue())
    manifest = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
    manifest["format_version"] = version
    manifest["files"]["ensemble.npz"] = hashlib.sha256(buffer.getvalue()).hexdigest()
    (path / MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")
