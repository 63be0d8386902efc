"""The per-dataset model cache: hits, misses, damage, concurrency, eviction, privacy."""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import stat
import zipfile

import numpy as np
import pytest

from tests.fixtures_tables import write_tricky_csv, write_tricky_xlsx
from tui_detector.core import cache as cache_mod
from tui_detector.core.cache import ModelCache, cache_inputs, cache_key
from tui_detector.core.model.detector import TabularAnomalyDetector
from tui_detector.core.export import explained_anomalies
from tui_detector.core.pipeline import DetectionSettings, run_detection

from tui_detector.core.env import tensorflow_available

requires_tf = pytest.mark.skipif(not tensorflow_available(), reason="the seed's autoencoder recipe trains in Keras: TensorFlow is not installed")

FAST = DetectionSettings(model="iforest")


def inputs_for(detector, sha="a" * 64, sheet="Data", **options):
    return cache_inputs(
        source_sha256=sha, sheet=sheet, header_row=1, detector=detector, train_options={"epochs": None, **options}
    )


@pytest.fixture
def store(tmp_path):
    return ModelCache(tmp_path / "models")


def test_put_then_get_gives_identical_scores(store, fitted, planted):
    frame, _ = planted
    inputs = inputs_for(fitted)
    path = store.put(inputs, fitted, source_name="claims.xlsx")
    assert path.name == cache_key(inputs)
    loaded = store.get(inputs)
    assert loaded is not None and store.last_miss is None
    np.testing.assert_array_equal(loaded.detect(frame).scores, fitted.detect(frame).scores)
    assert loaded.threshold_ == fitted.threshold_
    entry = store.entries()[0]
    assert (entry.source_name, entry.sheet, entry.model_kind, entry.readable) == ("claims.xlsx", "Data", "iforest", True)


def test_entry_is_data_only_and_private(store, fitted):
    path = store.put(inputs_for(fitted), fitted)
    assert sorted(p.name for p in path.iterdir()) == ["entry.json", "forest.npz", "manifest.json"]
    for name in ("entry.json", "manifest.json"):
        json.loads((path / name).read_text())
    with zipfile.ZipFile(path / "forest.npz") as zf:
        assert all(n.endswith(".npy") for n in zf.namelist())
    np.load(path / "forest.npz", allow_pickle=False)  # raises if anything needs pickle
    assert stat.S_IMODE(store.root.stat().st_mode) == 0o700


def test_data_dir_created_private(tmp_path, fitted):
    store = ModelCache(tmp_path / "fresh" / "data" / "models")
    store.put(inputs_for(fitted), fitted)
    assert stat.S_IMODE((tmp_path / "fresh" / "data").stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "fresh").stat().st_mode) == 0o700


@pytest.mark.parametrize(
    "change",
    [
        {"sha": "b" * 64},
        {"sheet": "Other"},
        {"epochs": 7},
        {"batch_size": 64},
    ],
)
def test_other_content_sheet_or_params_miss(store, fitted, change):
    store.put(inputs_for(fitted), fitted)
    options = {k: v for k, v in change.items() if k in ("epochs", "batch_size")}
    other = inputs_for(fitted, sha=change.get("sha", "a" * 64), sheet=change.get("sheet", "Data"), **options)
    assert store.get(other) is None
    assert store.get(inputs_for(fitted)) is not None


def test_detector_settings_and_roles_are_part_of_the_key(fitted):
    base = cache_key(inputs_for(fitted))
    assert cache_key(inputs_for(TabularAnomalyDetector(model="iforest", random_state=1))) != base
    assert cache_key(inputs_for(TabularAnomalyDetector(model="autoencoder"))) != base
    assert cache_key(inputs_for(TabularAnomalyDetector(model="iforest", roles={"amount": "text"}))) != base
    # The threshold is a lookup in the stored quantiles, not a reason to retrain.
    assert cache_key(inputs_for(TabularAnomalyDetector(model="iforest", threshold_percentile=99))) == base


def test_new_library_version_misses(store, fitted, monkeypatch):
    inputs = inputs_for(fitted)
    store.put(inputs, fitted)
    real = cache_mod.library_versions

    monkeypatch.setattr(cache_mod, "library_versions", lambda: {**real(), "tensorflow": "99.0"})
    assert store.get(inputs_for(fitted)) is None
    monkeypatch.setattr(cache_mod, "library_versions", lambda: {**real(), "anomaly-tui": "9.9.9"})
    assert store.get(inputs_for(fitted)) is None


def _damage_truncate(path):
    data = (path / "forest.npz").read_bytes()
    (path / "forest.npz").write_bytes(data[: len(data) // 2])


def _damage_manifest_value(path):
    manifest = json.loads((path / "manifest.json").read_text())
    manifest["threshold"] = 0.0  # plausible, valid JSON, wrong
    (path / "manifest.json").write_text(json.dumps(manifest))


def _damage_entry_garbage(path):
    (path / "entry.json").write_bytes(b"\x00\xff not json")


def _damage_missing_file(path):
    (path / "forest.npz").unlink()


def _damage_pickle_payload(path):
    # Someone swaps in an array file that needs pickle to load.
    import io

    buffer = io.BytesIO()
    np.save(buffer, np.array([{"evil": 1}], dtype=object), allow_pickle=True)
    with zipfile.ZipFile(path / "forest.npz", "w") as zf:
        zf.writestr("threshold.npy", buffer.getvalue())


def _damage_half_written(path):
    for child in path.iterdir():
        if child.name != "entry.json":
            child.unlink()


def _damage_not_a_directory(path):
    shutil.rmtree(path)
    path.write_text("junk")


@pytest.mark.parametrize(
    "damage",
    [
        _damage_truncate,
        _damage_manifest_value,
        _damage_entry_garbage,
        _damage_missing_file,
        _damage_pickle_payload,
        _damage_half_written,
        _damage_not_a_directory,
    ],
)
def test_damaged_entry_is_a_miss_and_is_replaced(store, fitted, damage):
    inputs = inputs_for(fitted)
    path = store.put(inputs, fitted)
    damage(path)
    assert store.get(inputs) is None
    assert store.last_miss.startswith("damaged entry replaced")
    assert not path.exists()
    store.put(inputs, fitted)
    assert store.get(inputs) is not None


def test_entry_from_other_inputs_under_this_key_is_a_miss(store, fitted):
    a, b = inputs_for(fitted), inputs_for(fitted, sha="c" * 64)
    store.put(b, fitted)
    os.rename(store.entry_path(cache_key(b)), store.entry_path(cache_key(a)))
    assert store.get(a) is None


def _writer(root, barrier, frame_seed):
    from tests.helpers import mixed_table

    frame, _ = mixed_table(400, frame_seed)
    detector = TabularAnomalyDetector(model="iforest")
    detector.train(frame)
    store = ModelCache(root)
    inputs = inputs_for(detector)
    barrier.wait()
    for _ in range(5):
        store.put(inputs, detector)
        assert store.get(inputs) is not None


@pytest.mark.slow
def test_concurrent_writers_leave_one_good_entry(tmp_path):
    root = tmp_path / "models"
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(3)
    procs = [ctx.Process(target=_writer, args=(root, barrier, 0)) for _ in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0, 0, 0]
    names = sorted(p.name for p in root.iterdir())
    assert len(names) == 1 and not names[0].startswith(".")
    entries = ModelCache(root).entries()
    assert len(entries) == 1 and entries[0].readable


def test_least_recently_used_entries_go_first(tmp_path, fitted):
    store = ModelCache(tmp_path / "models", max_bytes=10**9)
    paths = []
    for i in range(4):
        paths.append(store.put(inputs_for(fitted, sha=f"{i}" * 64), fitted))
        os.utime(paths[-1], (1000 + i, 1000 + i))
    size = store.entries()[0].size_bytes
    # Entry 0 is used again, so entry 1 is now the least recently used.
    assert store.get(inputs_for(fitted, sha="0" * 64)) is not None
    store.max_bytes = int(size * 3.5)
    removed = store.evict()
    assert removed == [paths[1].name]
    store.max_bytes = int(size * 1.5)
    newest = store.put(inputs_for(fitted, sha="9" * 64), fitted)
    assert [e.key for e in store.entries()] == [newest.name]
    assert store.total_bytes() <= store.max_bytes


def test_stale_leftovers_are_swept_but_fresh_ones_kept(store, fitted):
    store.put(inputs_for(fitted), fitted)
    stale = store.root / ".tmp-dead"
    stale.mkdir()
    os.utime(stale, (0, 0))
    fresh = store.root / ".tmp-busy"
    fresh.mkdir()
    store.evict()
    assert not stale.exists() and fresh.exists()


def test_clear_removes_everything(store, fitted):
    for i in range(3):
        store.put(inputs_for(fitted, sha=f"{i}" * 64), fitted)
    count, size = store.clear()
    assert count == 3 and size > 0
    assert list(store.root.iterdir()) == []
    assert store.clear() == (0, 0)


def test_unwritable_cache_does_not_fail_detection(tmp_path, monkeypatch):
    path = write_tricky_csv(tmp_path / "t.csv")
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the cache directory should be")
    run = run_detection(path, FAST, cache=ModelCache(blocked / "models"))
    assert not run.from_cache
    assert run.cache_note.startswith("could not store")
    assert any("could not be cached" in w for w in run.warnings)
    assert run.detection.scores.shape == (len(run.frame),)


def test_same_file_under_another_name_hits_with_identical_results(tmp_path):
    first = write_tricky_xlsx(tmp_path / "q3.xlsx")
    elsewhere = tmp_path / "copy" / "renamed export.xlsx"
    elsewhere.parent.mkdir()
    shutil.copy(first, elsewhere)
    cold = run_detection(first, FAST)
    warm = run_detection(elsewhere, FAST)
    assert (cold.from_cache, warm.from_cache) == (False, True)
    assert "train" not in warm.timings
    np.testing.assert_array_equal(cold.detection.scores, warm.detection.scores)
    assert cold.detection.threshold == warm.detection.threshold
    # Another threshold percentile reuses the same model.
    again = run_detection(first, DetectionSettings(model="iforest", threshold_percentile=90))
    assert again.from_cache and again.detection.flags.sum() > cold.detection.flags.sum()
    # The run's threshold is the one it was scored with, whatever percentile trained the model.
    assert again.detector.threshold_percentile == cold.detector.threshold_percentile == 95
    assert again.threshold == again.detection.cut == again.detector.threshold_for(90)
    assert again.threshold_percentile == 90
    again.rethreshold(99)
    assert again.threshold_percentile == 99 and again.detection.threshold == again.detector.threshold_at(99)
    assert again.detection.flags.sum() == int((again.detection.scores > again.detection.threshold).sum())
    # Another sheet is another dataset.
    other = run_detection(first, FAST, sheet="Other")
    assert not other.from_cache


@pytest.mark.slow
@requires_tf
def test_autoencoder_from_cache_scores_identically(tmp_path):
    path = write_tricky_csv(tmp_path / "t.csv")
    settings = DetectionSettings(model="auto", epochs=3)
    cold = run_detection(path, settings)
    warm = run_detection(path, settings)
    assert warm.from_cache and not cold.from_cache
    np.testing.assert_array_equal(cold.detection.scores, warm.detection.scores)
    # The flagged rows' reconstruction was kept with the model, so their explanations are the
    # cold run's to the bit; any other row is restored when asked for, to float32 rounding.
    flagged = cold.detection.anomaly_rows
    np.testing.assert_array_equal(cold.detection.reconstruction[flagged], warm.detection.reconstruction[flagged])
    assert explained_anomalies(cold) == explained_anomalies(warm)
    others = np.setdiff1d(np.arange(len(cold.frame)), flagged)
    np.testing.assert_allclose(
        cold.detection.reconstruction[others], warm.detection.reconstruction[others], rtol=1e-4, atol=1e-5
    )


def test_contains_is_a_cheap_yes_or_no(store, fitted):
    inputs = inputs_for(fitted)
    assert not store.contains(inputs)
    path = store.put(inputs, fitted)
    assert store.contains(inputs)
    assert not store.contains(inputs_for(fitted, sha="d" * 64))
    (path / "entry.json").write_text("{}")
    assert not store.contains(inputs)
