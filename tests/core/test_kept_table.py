"""Reopening a file whose model is cached takes the table kept beside the model, not a new read."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest

from tests.fixtures_tables import write_tricky_xlsx
from tui_detector.core import pipeline
from tui_detector.core.cache import ModelCache
from tui_detector.core.pipeline import DetectionSettings, run_detection
from tui_detector.core.tablestore import TABLE_FILE

FAST = DetectionSettings(model="iforest")


class ReadAgain(AssertionError):
    pass


def _report(run):
    return {k: v for k, v in vars(run.loaded.report).items() if k not in ("path", "seconds")}


def test_a_cached_file_is_reopened_from_its_kept_table(tmp_path, monkeypatch):
    first = write_tricky_xlsx(tmp_path / "q3.xlsx")
    cold = run_detection(first, FAST)
    elsewhere = tmp_path / "copy" / "renamed.xlsx"
    elsewhere.parent.mkdir()
    shutil.copy(first, elsewhere)
    def refuse(*_args, **_kwargs):
        raise ReadAgain("the file was read again")

    monkeypatch.setattr(pipeline, "read_table", refuse)
    for path, sheet in ((first, None), (elsewhere, None), (first, cold.loaded.report.sheet)):
        warm = run_detection(path, FAST, sheet=sheet)
        assert warm.from_cache
        pd.testing.assert_frame_equal(warm.frame, cold.frame)
        assert _report(warm) == _report(cold) and warm.loaded.report.path == str(path)
        np.testing.assert_array_equal(warm.loaded.excel_rows, cold.loaded.excel_rows)
        np.testing.assert_array_equal(warm.detection.scores, cold.detection.scores)
        assert warm.totals == cold.totals


def test_only_what_was_kept_is_taken(tmp_path, monkeypatch):
    first = write_tricky_xlsx(tmp_path / "q3.xlsx")
    run_detection(first, FAST, sheet="Other")
    reads = []
    real = pipeline.read_table
    monkeypatch.setattr(pipeline, "read_table", lambda *a, **k: reads.append(a) or real(*a, **k))
    run_detection(first, FAST, sheet="Other")
    assert reads == []
    run_detection(first, FAST)  # the first sheet was never kept
    assert len(reads) == 1
    changed = tmp_path / "q3-changed.xlsx"
    shutil.copy(first, changed)
    with open(changed, "ab") as fh:
        fh.write(b"\0")  # other bytes: another file, whatever its sheets say
    run_detection(changed, FAST, sheet="Other")  # a zip reader skips the trailing byte
    assert len(reads) == 2


def test_a_damaged_kept_table_is_passed_over(tmp_path, monkeypatch):
    first = write_tricky_xlsx(tmp_path / "q3.xlsx")
    cold = run_detection(first, FAST)
    (entry,) = [p for p in ModelCache().root.iterdir() if not p.name.startswith(".")]
    kept = entry / TABLE_FILE
    kept.write_bytes(kept.read_bytes()[:-100])
    reads = []
    real = pipeline.read_table
    monkeypatch.setattr(pipeline, "read_table", lambda *a, **k: reads.append(a) or real(*a, **k))
    warm = run_detection(first, FAST)
    assert len(reads) == 1 and warm.from_cache
    pd.testing.assert_frame_equal(warm.frame, cold.frame)


def test_no_cache_keeps_nothing(tmp_path):
    first = write_tricky_xlsx(tmp_path / "q3.xlsx")
    run_detection(first, DetectionSettings(model="iforest", use_cache=False))
    root = ModelCache().root
    assert not root.exists() or not any(root.iterdir())


def test_the_entry_records_the_kept_table(tmp_path):
    first = write_tricky_xlsx(tmp_path / "q3.xlsx")
    cold = run_detection(first, FAST)
    (entry,) = [p for p in ModelCache().root.iterdir() if not p.name.startswith(".")]
    record = json.loads((entry / "entry.json").read_text())["table"]
    assert record["requests"] == [{"sheet": None}, {"sheet": cold.loaded.report.sheet}]
    assert set(record) == {"requests", "sheets", "totals", "profiles", "sha256", "rows_sha256", "source_rows_sha256", "report"}
    assert record["sheets"] is None  # a read that did not list the sheets


def test_the_guessed_roles_are_kept_with_the_table(tmp_path, monkeypatch):
    """Set up shows the roles guessed for the table; a reopen shows the same without guessing
    again (a guess over every column of a big sheet takes a while)."""
    from tui_detector.core.model.roles import profile_columns  # noqa: PLC0415

    first = write_tricky_xlsx(tmp_path / "q3.xlsx")
    cold = run_detection(first, FAST)  # as `detect` does: trained on the table as read
    guessed = [p.to_json() for p in profile_columns(cold.loaded.frame)]
    monkeypatch.setattr(pipeline, "profile_columns", lambda *_: (_ for _ in ()).throw(AssertionError("guessed again")))
    loaded, _ = pipeline.load_source(first, cache=ModelCache())
    assert [p.to_json() for p in pipeline.guessed_profiles(loaded)] == guessed


def test_damaged_kept_roles_are_guessed_again(tmp_path, monkeypatch):
    first = write_tricky_xlsx(tmp_path / "q3.xlsx")
    cold = run_detection(first, FAST)
    (entry,) = [p for p in ModelCache().root.iterdir() if not p.name.startswith(".")]
    manifest = json.loads((entry / "entry.json").read_text())
    manifest["table"]["profiles"][0]["role"] = "spreadsheet formula"
    (entry / "entry.json").write_text(json.dumps(manifest))
    monkeypatch.setattr(pipeline, "read_table", lambda *a, **k: (_ for _ in ()).throw(ReadAgain()))
    loaded, _ = pipeline.load_source(first, cache=ModelCache())  # the kept table, but not its roles
    assert loaded.profiles is None
    assert [p.name for p in pipeline.guessed_profiles(loaded)] == [str(c) for c in cold.loaded.frame.columns]


def test_opening_a_file_again_lists_its_sheets_from_the_kept_copy(tmp_path, monkeypatch):
    """The app's open (sheets listed, then one read) takes the kept table and sheet list."""
    first = write_tricky_xlsx(tmp_path / "q3.xlsx")
    cache = ModelCache()
    sheets, source = pipeline.open_source(first, cache=cache)
    cold = run_detection(first, FAST, source=source)
    monkeypatch.setattr(pipeline, "open_table", lambda *a, **k: (_ for _ in ()).throw(ReadAgain()))
    heard = []
    again, (loaded, sha) = pipeline.open_source(first, cache=cache, on_sheets=heard.append)
    assert again == sheets and heard == [sheets] and sha == source[1]
    pd.testing.assert_frame_equal(loaded.frame, cold.frame)


def test_a_model_cached_by_detect_gains_the_sheet_list_when_the_app_opens_the_file(tmp_path, monkeypatch):
    first = write_tricky_xlsx(tmp_path / "q3.xlsx")
    run_detection(first, FAST)  # as `detect` does: the sheets are not listed
    cache = ModelCache()
    sheets, source = pipeline.open_source(first, cache=cache)  # no sheet list kept: read
    warm = run_detection(first, FAST, source=source)
    assert warm.from_cache
    monkeypatch.setattr(pipeline, "open_table", lambda *a, **k: (_ for _ in ()).throw(ReadAgain()))
    again, (loaded, _) = pipeline.open_source(first, cache=cache)
    assert again == sheets
    pd.testing.assert_frame_equal(loaded.frame, warm.frame)


def test_the_totals_rows_found_are_kept_with_the_table(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"region": [f"r{i % 7}" for i in range(80)], "sales": rng.integers(10, 99, 80), "units": rng.integers(1, 9, 80)})
    total = pd.DataFrame({"region": ["Total"], "sales": [frame["sales"].sum()], "units": [frame["units"].sum()]})
    path = tmp_path / "sales.csv"
    pd.concat([frame, total]).to_csv(path, index=False)
    cold = run_detection(path, FAST)
    assert [t["label"] for t in cold.totals] == ["Total"]
    from tui_detector.core import rowchecks  # noqa: PLC0415

    monkeypatch.setattr(rowchecks, "find_totals", lambda *_: (_ for _ in ()).throw(AssertionError("looked again")))
    monkeypatch.setattr(pipeline, "read_table", lambda *a, **k: (_ for _ in ()).throw(ReadAgain()))
    warm = run_detection(path, FAST)
    assert warm.from_cache and warm.totals == cold.totals
    np.testing.assert_array_equal(warm.loaded.source_rows, cold.loaded.source_rows)  # a CSV's line numbers


@pytest.mark.parametrize("suffix", [".parquet", ".jsonl", ".sqlite"])
def test_every_format_comes_back_from_its_kept_copy_as_read(tmp_path, monkeypatch, suffix):
    import sqlite3  # noqa: PLC0415

    rng = np.random.default_rng(1)
    frame = pd.DataFrame({
        "shop": rng.choice(["north", "south", "east"], 120),
        "amount": rng.normal(50, 5, 120).round(2),
        "items": rng.integers(1, 9, 120),
        "at": pd.Timestamp("2026-10-01") + pd.to_timedelta(rng.integers(0, 1000, 120), unit="h"),
    })
    path = tmp_path / f"orders{suffix}"
    if suffix == ".parquet":
        frame.to_parquet(path)
    elif suffix == ".jsonl":
        frame.assign(at=frame["at"].astype(str)).to_json(path, orient="records", lines=True)
    else:
        with sqlite3.connect(path) as db:
            frame.assign(at=frame["at"].astype(str)).to_sql("orders", db, index=False)
    cold = run_detection(path, FAST)
    monkeypatch.setattr(pipeline, "read_table", lambda *a, **k: (_ for _ in ()).throw(ReadAgain()))
    warm = run_detection(path, FAST)
    assert warm.from_cache
    pd.testing.assert_frame_equal(warm.frame, cold.frame)
    assert _report(warm) == _report(cold)
    np.testing.assert_array_equal(warm.loaded.source_rows, cold.loaded.source_rows)
    np.testing.assert_array_equal(warm.detection.scores, cold.detection.scores)
