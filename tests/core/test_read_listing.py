"""A read of a file that has one sheet (a workbook of one sheet, a text, JSON or Parquet file)
learns the sheet list on the way, the same as listing the file, in this process and in the
reader's child; the cache keeps it, so the app's first open after `detect` lists nothing again."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from tests.fixtures_tables import write_tricky_xlsx
from tui_detector.core import pipeline
from tui_detector.core.cache import ModelCache
from tui_detector.core.io import child
from tui_detector.core.io.reader import list_sheets, read_table
from tui_detector.core.pipeline import DetectionSettings, run_detection


def _one_sheet_files(folder):
    frame = pd.DataFrame({"region": ["north", "south", None, "east"] * 10, "sales": range(40), "units": [1.5, 2, 3, 4] * 10})
    xlsx = folder / "one.xlsx"
    with pd.ExcelWriter(xlsx) as writer:
        pd.DataFrame([["Sales report"]]).to_excel(writer, sheet_name="Report", header=False, index=False)
        frame.to_excel(writer, sheet_name="Report", startrow=2, index=False)
    csv = folder / "one.csv"
    csv.write_text("title line\n\n" + frame.to_csv(index=False))
    jsonl = folder / "one.jsonl"
    jsonl.write_text("\n".join(json.dumps(r) for r in frame.to_dict("records")))
    records = folder / "one.json"
    records.write_text(json.dumps(frame.to_dict("records")))
    parquet = folder / "one.parquet"
    frame.to_parquet(parquet)
    return [xlsx, csv, jsonl, records, parquet]


@pytest.mark.parametrize("in_child", ["0", "1"])
def test_a_read_of_a_one_sheet_file_lists_it_as_listing_it_does(tmp_path, monkeypatch, in_child):
    monkeypatch.setenv(child.MODE_ENV, in_child)
    for path in _one_sheet_files(tmp_path):
        assert read_table(path).sheets == tuple(list_sheets(path)), path.name


def test_a_workbook_of_several_sheets_is_not_listed_by_a_read(tmp_path):
    path = write_tricky_xlsx(tmp_path / "q3.xlsx")  # two sheets
    assert read_table(path).sheets is None


def test_the_app_opens_a_file_detect_scored_from_the_kept_table(tmp_path, monkeypatch):
    (path, *_) = _one_sheet_files(tmp_path)
    cold = run_detection(path, DetectionSettings(model="iforest"))  # as `detect` does
    monkeypatch.setattr(pipeline, "open_table", lambda *a, **k: (_ for _ in ()).throw(AssertionError("read again")))
    sheets, (loaded, _) = pipeline.open_source(path, cache=ModelCache())
    assert sheets == list_sheets(path)
    pd.testing.assert_frame_equal(loaded.frame, cold.frame)
