"""The JSON export (schema_version 1), atomic writes, and the scored copy."""

from __future__ import annotations

import csv
import json
import math
import os

import jsonschema
import numpy as np
import openpyxl
import pytest

from tests.fixtures_tables import BIG_ID, FORMULA_TEXTS, N_ROWS, write_tricky_csv, write_tricky_xlsx
from tui_detector.core import atomic, scored_copy
from tui_detector.core.atomic import OutputExistsError, write_bytes_atomic
from tui_detector.core.export import build_export, dumps, explained_anomalies, schema, write_export
from tui_detector.core.pipeline import DetectionSettings, run_detection
from tui_detector.core.scored_copy import ScoredCopyError, write_scored_copy

FAST = DetectionSettings(model="iforest", use_cache=False)


def validate(document):
    jsonschema.Draft202012Validator.check_schema(schema())
    # Round-trip through strict text first: what a reader of the file gets is what must validate.
    text = dumps(document)
    parsed = json.loads(text, parse_constant=lambda c: pytest.fail(f"non-strict JSON constant {c}"))
    jsonschema.validate(parsed, schema())
    return parsed


@pytest.fixture(scope="module")
def xlsx_run(tmp_path_factory):
    path = write_tricky_xlsx(tmp_path_factory.mktemp("x") / "export.xlsx")
    return run_detection(path, FAST)


@pytest.fixture(scope="module")
def csv_run(tmp_path_factory):
    path = write_tricky_csv(tmp_path_factory.mktemp("c") / "export.csv")
    return run_detection(path, FAST)


def test_xlsx_export_validates_and_holds_the_awkward_cells(xlsx_run):
    doc = validate(build_export(xlsx_run, all_rows=True))
    assert doc["schema_version"] == 1
    assert doc["source"]["sheet"] == "Data"
    assert doc["source"]["rows"] == N_ROWS
    assert doc["source"]["columns"] == ["id", "when", "amount", "label", "note"]
    anomalies = doc["anomalies"]
    assert doc["anomaly_count"] == len(anomalies) > 0
    scores = [a["anomaly_score"] for a in anomalies]
    assert scores == sorted(scores, reverse=True)
    by_row = {a["row_index"]: a for a in anomalies}
    # Excel row numbers: header on row 3, data from row 4, one empty row skipped after 100 rows.
    for a in anomalies:
        offset = 4 if a["row_index"] < 100 else 5
        assert a["excel_row"] == a["row_index"] + offset
    # Every row's score, aligned with row_index; the flagged ones agree with the anomalies list.
    assert len(doc["scores"]) == N_ROWS
    for row, a in by_row.items():
        assert doc["scores"][row] == a["anomaly_score"]
    flagged = sum(s > doc["model"]["threshold"] for s in doc["scores"])
    assert flagged == doc["anomaly_count"]
    # Missing cells are null, datetimes ISO strings, formula-like text verbatim.
    all_raw = [a["raw_data"] for a in anomalies]
    assert any(r["amount"] is None for r in all_raw) or 5 not in by_row
    assert all(isinstance(r["when"], str) and "T" in r["when"] for r in all_raw)
    text = dumps(build_export(xlsx_run))
    assert "NaN" not in text and "Infinity" not in text


def test_formula_text_and_big_ids_survive_verbatim(csv_run):
    # Explain every row so the formula-looking notes are certainly in the document.
    rows = np.arange(N_ROWS)
    explained = csv_run.detector.explain(csv_run.frame, csv_run.detection, rows)
    notes = {e["raw_data"]["note"] for e in explained}
    assert set(FORMULA_TEXTS) <= notes
    ids = [e["raw_data"]["id"] for e in explained]
    assert ids[0] == str(BIG_ID)  # beyond 2**53: a string, every digit kept
    assert all(isinstance(i, str) for i in ids)
    doc = validate(build_export(csv_run))
    assert doc["source"]["sheet"] is None
    assert all(a["excel_row"] is None for a in doc["anomalies"])


def test_csv_export_names_the_extreme_cell(tmp_path):
    path = write_tricky_csv(tmp_path / "a.csv")
    run = run_detection(path, DetectionSettings(model="auto", epochs=15, use_cache=False))
    doc = validate(build_export(run))
    top = doc["anomalies"][0]
    assert top["row_index"] == 42
    feature = top["anomalous_features"][0]
    assert feature["feature_name"] == "amount"
    assert feature["actual_value"] == 1_000_000.0
    assert feature["expected_value"] < 1_000
    assert doc["model"]["params"]["epochs"] == 15
    assert doc["model"]["kind"] == "auto"


def test_diagnostics_count_what_was_dropped_and_coerced(tmp_path):
    path = tmp_path / "messy.csv"
    rng = np.random.default_rng(0)
    lines = ["id,value,group,empty"]
    for i in range(200):
        value = "n/a?" if i in (3, 9) else f"{rng.normal():.3f}"
        lines.append(f"{i},{value},{'ab'[i % 2]},")
        if i == 50:
            lines.append(",,,")
    path.write_text("\n".join(lines) + "\n")
    run = run_detection(path, FAST)
    diag = validate(build_export(run))["diagnostics"]
    assert diag["rows_in"] == 201 and diag["rows_scored"] == 200
    assert diag["rows_dropped"] == [{"reason": "empty row (no value in any column)", "count": 1}]
    # A headed column with no values is kept by the reader and dropped by the model, with why.
    dropped = {d["name"]: d["reason"] for d in diag["columns_dropped"]}
    assert set(dropped) == {"id", "empty"}
    assert dropped["empty"].startswith("empty")
    assert diag["columns_used"] == ["value", "group"]
    assert diag["cells_coerced_to_missing"] == {"value": 2}
    assert any("'value'" in w for w in diag["warnings"])


def test_threshold_moves_without_retraining(xlsx_run):
    before = xlsx_run.detection.flags.sum()
    xlsx_run.rethreshold(80)
    try:
        doc = validate(build_export(xlsx_run))
        assert doc["model"]["threshold_percentile"] == 80
        assert doc["anomaly_count"] == xlsx_run.detection.flags.sum() > before
    finally:
        xlsx_run.rethreshold(95)


# -- atomic writes ----------------------------------------------------------------------------


def test_export_never_replaces_a_different_file_unless_asked(tmp_path, xlsx_run):
    doc = build_export(xlsx_run)
    target = tmp_path / "out.json"
    target.write_text("precious")
    with pytest.raises(OutputExistsError):
        write_export(doc, target, overwrite=False)
    assert target.read_text() == "precious"
    write_export(doc, target, overwrite=True)
    assert json.loads(target.read_text())["schema_version"] == 1
    write_export(doc, target, overwrite=False)  # the same bytes again: not a conflict
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.json"]


def test_failed_write_leaves_the_old_file_and_no_debris(tmp_path, monkeypatch):
    target = tmp_path / "out.json"
    target.write_text("old")

    def boom(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", boom)
    with pytest.raises(OSError):
        write_bytes_atomic(target, b"new", overwrite=True)
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]


def test_export_file_gets_normal_permissions(tmp_path, xlsx_run):
    # mkstemp makes 0600 files; an export is an ordinary document, readable as the umask says.
    path = write_export(build_export(xlsx_run), tmp_path / "p.json", overwrite=False)
    assert path.stat().st_mode & 0o777 == 0o666 & ~atomic._UMASK


def test_dumps_refuses_nan_rather_than_writing_invalid_json():
    with pytest.raises(ValueError):
        dumps({"x": math.nan})


def _as_lists(document):
    return {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in document.items()}


def test_streamed_export_holds_what_json_dumps_would_with_one_anomaly_per_line(tmp_path, xlsx_run):
    doc = build_export(xlsx_run, all_rows=True)
    expected = json.loads(json.dumps(_as_lists(doc), ensure_ascii=False, allow_nan=False))
    path = write_export(doc, tmp_path / "all.json", overwrite=False)
    text = path.read_text(encoding="utf-8")
    assert text == dumps(doc)
    assert json.loads(text) == expected
    lines = text.splitlines()
    records = [line for line in lines if line.startswith('    {"row_index": ')]
    assert len(records) == doc["anomaly_count"] > 0
    first = lines.index('  "scores": [') + 1
    assert lines[first + len(doc["scores"])] == "  ]"  # one score per line


def test_a_cell_that_looks_like_a_marker_changes_nothing(tmp_path):
    scores = np.array([0.5, 0.25])
    fake = "\x00scores-0123456789abcdef0123456789abcdef\x00"
    doc = {"source": {"sheet": fake}, "anomalies": [{"raw_data": {"note": fake}}], "scores": scores}
    parsed = json.loads(dumps(doc))
    assert parsed == {"source": {"sheet": fake}, "anomalies": [{"raw_data": {"note": fake}}], "scores": [0.5, 0.25]}


def test_streamed_export_refuses_nan_and_leaves_no_file(tmp_path):
    target = tmp_path / "bad.json"
    with pytest.raises(ValueError):
        write_export({"scores": np.array([0.1, np.nan])}, target, overwrite=False)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_million_score_export_never_holds_the_whole_text(tmp_path):
    """A million scores are ~25 MB of text and, as Python floats, ~32 MB more; streamed, the
    export allocates a few chunks' worth at a time."""
    import tracemalloc

    scores = np.random.default_rng(0).random(1_000_000)
    doc = {"schema_version": 1, "anomalies": [], "scores": scores}
    tracemalloc.start()
    try:
        write_export(doc, tmp_path / "big.json", overwrite=False)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 12 * 2**20, peak
    assert json.loads((tmp_path / "big.json").read_text())["scores"] == scores.tolist()


# -- scored copy ------------------------------------------------------------------------------


def test_scored_xlsx_opens_in_openpyxl_with_formula_text_as_text(tmp_path, xlsx_run):
    anomalies = explained_anomalies(xlsx_run)
    path = write_scored_copy(xlsx_run, anomalies, tmp_path / "scored.xlsx", overwrite=False)
    wb = openpyxl.load_workbook(path)
    ws = wb.active
    header = [c.value for c in ws[1]]
    assert header == [
        "id", "when", "amount", "label", "note",
        "anomaly_score", "is_anomaly", "top_feature_1", "top_feature_2", "top_feature_3", "explanation",
    ]  # fmt: skip
    assert ws.max_row == N_ROWS + 1
    formula_cells = [c for c in ws["E"][1:] if isinstance(c.value, str) and c.value.startswith(("=", "+", "-", "@"))]
    assert {c.value for c in formula_cells} == set(FORMULA_TEXTS)
    assert all(c.data_type == "s" for c in formula_cells)  # text, not a formula
    scores = [c.value for c in ws["F"][1:]]
    flags = [c.value for c in ws["G"][1:]]
    assert scores == pytest.approx(list(xlsx_run.detection.scores))
    assert sum(flags) == len(anomalies)
    top = anomalies[0]
    row = ws[top["row_index"] + 2]
    assert row[7].value == top["anomalous_features"][0]["feature_name"]
    assert row[10].value.startswith(top["anomalous_features"][0]["feature_name"] + ":")
    # Datetimes stay dates; the big ID stays every digit.
    assert ws["B2"].is_date
    assert ws["A2"].value == str(BIG_ID)


def test_scored_csv_neutralises_formulas(tmp_path, csv_run):
    path = write_scored_copy(csv_run, explained_anomalies(csv_run), tmp_path / "scored.csv", overwrite=False)
    with open(path, encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0][-6:] == ["anomaly_score", "is_anomaly", "top_feature_1", "top_feature_2", "top_feature_3", "explanation"]
    notes = {r[4] for r in rows[1:]}
    assert {"'" + t for t in FORMULA_TEXTS} <= notes
    assert not any(n.startswith(("=", "+", "-", "@")) for n in notes)
    assert rows[1][0] == str(BIG_ID)


def test_scored_copy_columns_never_clobber_input_columns(tmp_path):
    path = tmp_path / "clash.csv"
    rng = np.random.default_rng(0)
    path.write_text("anomaly_score,is_anomaly\n" + "\n".join(f"{rng.normal():.3f},{i % 2}" for i in range(100)))
    run = run_detection(path, FAST)
    frame = scored_copy.scored_frame(run, explained_anomalies(run))
    assert list(frame.columns[:4]) == ["anomaly_score", "is_anomaly", "anomaly_score (anomaly-tui)", "is_anomaly (anomaly-tui)"]
    assert frame["anomaly_score"].tolist() == run.frame["anomaly_score"].tolist()


def test_scored_copy_refuses_what_excel_cannot_hold(tmp_path, csv_run, monkeypatch):
    monkeypatch.setattr(scored_copy, "EXCEL_MAX_ROWS", 100)
    with pytest.raises(ScoredCopyError, match="write a .csv"):
        write_scored_copy(csv_run, [], tmp_path / "big.xlsx", overwrite=False)
    assert not (tmp_path / "big.xlsx").exists()
    with pytest.raises(ScoredCopyError):
        write_scored_copy(csv_run, [], tmp_path / "x.txt", overwrite=False)
