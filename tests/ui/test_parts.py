"""The app's parts: the vectorised explanations, the table model, imports, the fd-2 guard."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np

from tests.helpers import mixed_table
from tui_detector.core.pipeline import DetectionSettings, run_detection
from tui_detector.ui.explain import TopFeatures
from tui_detector.ui.results_model import ResultsModel, format_value


def _run(tmp_path, rows=400):
    frame, _ = mixed_table(rows, seed=2)
    path = tmp_path / "t.csv"
    frame.to_csv(path, index=False)
    return run_detection(path, DetectionSettings(model="iforest", use_cache=False))


def test_top_features_agree_with_the_detectors_explain(tmp_path):
    run = _run(tmp_path)
    rows = np.arange(len(run.frame))
    explained = run.detector.explain(run.frame, run.detection, rows)
    top = TopFeatures(run)
    for item in explained:
        assert top.names(item["row_index"]) == [f["feature_name"] for f in item["anomalous_features"]]


def test_sorting_any_column_both_ways_with_missing_values_last(tmp_path):
    run = _run(tmp_path)
    model = ResultsModel(run)
    model.set_all_rows(True)
    amount = next(c for c in model.columns if c.label == "amount")
    values = run.frame["amount"].to_numpy()
    model.sort(amount.key)
    assert not model.descending and np.all(np.diff(values[model.view]) >= 0)
    model.sort(amount.key)
    assert model.descending and np.all(np.diff(values[model.view]) <= 0)
    segment = next(c for c in model.columns if c.label == "segment")
    model.sort(segment.key, descending=False)
    shown = [model.cell(int(r), segment) for r in model.view]
    assert shown == sorted(shown)
    model.sort("why", descending=False)
    firsts = [model.top.names(int(r))[0] for r in model.view]
    assert firsts == sorted(firsts)


def test_cells_are_one_line_of_plain_text():
    assert format_value(float("nan")) == ""
    assert format_value(None) == ""
    assert format_value(3.0) == "3"
    assert format_value(True) == "true"
    assert format_value("a\nb\tc") == "a↵b c"
    assert format_value("[bold]x") == "[bold]x"


def test_the_app_module_imports_nothing_heavy():
    code = (
        "import sys, tui_detector.ui.app, tui_detector.cli; "
        "print(','.join(m for m in ('tensorflow', 'sklearn', 'pandas', 'keras') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_fd2_goes_to_the_log_while_textual_keeps_the_terminal(tmp_path):
    code = textwrap.dedent(
        """
        import os, sys
        from tui_detector.ui.terminal import terminal_for_textual
        with terminal_for_textual() as log:
            os.write(2, b"C++ LOG LINE\\n")          # what TensorFlow does
            sys.__stderr__.write("DRAWN BY TEXTUAL\\n")  # where Textual's driver writes
            sys.__stderr__.flush()
        print(log)
        os.write(2, b"AFTER\\n")
        """
    )
    env = {**os.environ, "ANOMALY_TUI_DATA_DIR": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert out.stderr == "DRAWN BY TEXTUAL\nAFTER\n"
    log = tmp_path / "logs" / "app.log"
    assert out.stdout.strip() == str(log)
    assert log.read_text() == "C++ LOG LINE\n"


def test_top_features_sort_is_refused_on_views_too_big_to_explain(tmp_path, monkeypatch):
    from tui_detector.ui import results_model

    run = _run(tmp_path)
    model = ResultsModel(run)
    model.set_all_rows(True)
    monkeypatch.setattr(results_model, "WHY_SORT_LIMIT", 100)
    assert "too long" in model.sortable("why")
    assert model.sortable("score") is None
    model.set_all_rows(False)
    assert model.sortable("why") is None


def test_text_sorts_in_c_agree_with_sorting_python_strings(monkeypatch):
    """The fast text sorts (categories by their few values, IDs as a fixed-width copy) give
    exactly the order of the general one, missing cells last, ties in row order."""
    import tui_detector.ui.results_model as results_model

    rng = np.random.default_rng(3)
    category = np.array(rng.choice(["travel", "meals", "Zoo", "é", "", None], 50_000), dtype=object)
    ids = np.array([f"ID-{i:06d}" for i in rng.permutation(50_000)], dtype=object)
    ids[::97] = None
    mixed = np.array(["b", 2, None, "a"], dtype=object)  # not all text: the general sort
    fast = [results_model._argsort_values(v) for v in (category, ids, mixed)]
    monkeypatch.setattr(results_model, "_argsort_text", lambda values: None)
    slow = [results_model._argsort_values(v) for v in (category, ids, mixed)]
    for a, b in zip(fast, slow, strict=True):
        assert np.array_equal(a, b)


def _searched_as_python_text(frame, query):
    """Rows where some cell's text holds ``query`` (case-folded), found the slow, plain way: text
    cells as Python strings, other cells as ``str()`` writes them."""
    import pandas as pd

    needle = query.casefold()
    mask = np.zeros(len(frame), dtype=bool)
    for name in frame.columns:
        column = frame[name]
        if isinstance(column.dtype, pd.StringDtype):
            mask |= np.array([isinstance(v, str) and needle in v.casefold() for v in column.tolist()])
        else:
            mask |= column.astype(str).str.casefold().str.contains(needle, regex=False, na=False).to_numpy()
    return mask


def test_arrow_text_columns_stay_arrow_and_sort_and_search_like_python(tmp_path):
    """Text read from a big file is Arrow-backed; the table keeps it that way (no Python
    string per cell), and sorts and searches it as it would Python strings."""
    import pandas as pd

    import tui_detector.ui.results_model as results_model

    run = _run(tmp_path, rows=2_000)
    rng = np.random.default_rng(4)
    words = np.array(["travel", "Meals", "zoo", "é", "", "meals-2"], dtype=object)
    text = words[rng.integers(0, len(words), len(run.frame))]
    text[::13] = None
    run.frame["note"] = pd.array(text, dtype="str")
    model = ResultsModel(run)
    col = model.names.index("note")
    assert isinstance(model.values[col], pd.arrays.ArrowStringArray)

    general = results_model._argsort_values(np.asarray(text, dtype=object))
    assert np.array_equal(results_model._argsort_values(model.values[col]), general)

    key = next(c.key for c in model.columns if c.data_index == col)
    model.set_all_rows(True)
    model.sort(key, descending=False)
    shown = [text[r] for r in model.view]
    present = [t for t in shown if t is not None]
    assert present == sorted(present) and shown[len(present):] == [None] * (len(shown) - len(present))
    assert model.cell(int(model.view[-1]), model.column(key)) == ""  # missing drawn blank

    for query in ("MEALS", "meals", "é", "zoo", "travel"):
        assert np.array_equal(model.search_mask(query), _searched_as_python_text(run.frame, query)), query


def test_search_finds_what_whole_column_text_would_a_chunk_at_a_time(tmp_path, monkeypatch):
    """Searching converts non-text columns a chunk at a time and skips columns whose cells
    cannot hold the query; the rows found are exactly those a whole-column search finds."""
    import pandas as pd

    import tui_detector.ui.results_model as results_model

    run = _run(tmp_path, rows=1_000)
    frame = run.frame
    frame["when"] = pd.date_range("2026-01-01", periods=len(frame), freq="h").astype("datetime64[ns]")
    frame["flag"] = np.arange(len(frame)) % 3 == 0
    frame["count"] = np.arange(len(frame))
    model = ResultsModel(run)

    monkeypatch.setattr(results_model, "SEARCH_CHUNK", 97)
    for query in ("north", "NOR", "1", "2026-01-02 0", "true", "17", "-", "nan", "e+", "zzz"):
        assert np.array_equal(model.search_mask(query), _searched_as_python_text(frame, query)), query
