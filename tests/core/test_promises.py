"""Security promises S5, S6 and S8 of ../shared/research/reliability-anchors.md (section 7), and
a few cheap cases of section 6 that no other file covers (A4 handles, A14, F58).

S1-S4 and S9 (reader side) live in test_hostile.py, S7 in test_export.py; the app side of S9 in
tests/ui/test_hostile_text.py. Every file here is generated in the test.
"""

from __future__ import annotations

import ast
import csv
import io
import os
import pickle
import re
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tui_detector.core import cache as cache_mod
from tui_detector.core.cache import ModelCache, cache_inputs
from tui_detector.core.model.detector import TabularAnomalyDetector
from tui_detector.core.io.reader import ReadError, read_table

PACKAGE = Path(__file__).resolve().parents[2] / "tui_detector"


# ------------------------------------------------------------------------------------------
# S5: the model cache is data only. First the rule, checked on the source itself: no call that
# can turn bytes into code on load anywhere in the package.

# (what, pattern) over the source text with comments and docstrings left out
_FORBIDDEN = [
    ("pickle.load/loads", re.compile(r"\bpickle\.loads?\s*\(")),
    ("an Unpickler", re.compile(r"\bUnpickler\b")),
    ("import pickle", re.compile(r"^\s*(?:import|from)\s+(?:c?pickle|_pickle)\b", re.M)),
    ("joblib/cloudpickle/dill/shelve", re.compile(r"^\s*(?:import|from)\s+(?:joblib|cloudpickle|dill|shelve)\b", re.M)),
    ("marshal.loads", re.compile(r"\bmarshal\.loads?\s*\(")),
    ("np.load with allow_pickle=True", re.compile(r"allow_pickle\s*=\s*True")),
    ("keras load_model/model_from_json", re.compile(r"\b(?:load_model|model_from_json|model_from_config)\s*\(")),
    ("keras safe_mode=False", re.compile(r"safe_mode\s*=\s*False")),
    ("enable_unsafe_deserialization", re.compile(r"enable_unsafe_deserialization")),
    ("torch.load", re.compile(r"\btorch\.load\s*\(")),
    ("eval/exec", re.compile(r"(?<![\w.])(?:eval|exec)\s*\(")),
]


def _code_only(source: str) -> str:
    """The source with docstrings and comments blanked, so prose may name what code may not use."""
    tree = ast.parse(source)
    lines = source.splitlines(keepends=True)
    doc_spans = []
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr) and isinstance(
            getattr(body[0], "value", None), ast.Constant
        ) and isinstance(body[0].value.value, str):
            doc_spans.append((body[0].lineno, body[0].end_lineno))
    for start, end in doc_spans:
        for i in range(start - 1, end):
            lines[i] = "\n"
    return "".join(re.sub(r"#.*", "", ln) for ln in lines)


def test_no_code_executing_deserialisers_in_the_package():
    hits = []
    for path in sorted(PACKAGE.rglob("*.py")):
        code = _code_only(path.read_text(encoding="utf-8"))
        for what, rx in _FORBIDDEN:
            for m in rx.finditer(code):
                hits.append(f"{path.relative_to(PACKAGE)}: {what}: {m.group(0)!r}")
    # Nothing in the package unpickles, not even with a restricted Unpickler: child processes
    # answer in JSON, Arrow IPC and .npy read without pickle.
    assert hits == []


def test_the_rule_would_catch_a_pickle_load():
    # Proof the scan above can fail: the same check on lines that unpickle, in each way.
    def caught(source: str) -> list[str]:
        code = _code_only(source)
        return [what for what, rx in _FORBIDDEN if rx.search(code)]

    assert caught('"""pickle.load( in prose is fine"""\nx = pickle.load(fh)  # bad\n') == ["pickle.load/loads"]
    assert caught("import pickle\n") == ["import pickle"]
    assert caught("from pickle import loads\n") == ["import pickle"]
    assert caught("class Safe(pickle.Unpickler):\n    pass\n") == ["an Unpickler"]
    assert caught("# a comment may say pickle.loads( and Unpickler\nx = 1\n") == []


class _Canary:
    """Unpickling this creates a file: proof that code from the cache ran."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self):
        return (open, (str(self.path), "w"))


def _inputs(detector):
    return cache_inputs(source_sha256="a" * 64, sheet="Data", header_row=1, detector=detector,
                        train_options={"epochs": None})


def _plant_pickles(entry: Path, canary: Path) -> None:
    evil = pickle.dumps(_Canary(canary))
    # 1) next to the real files, under names a careless loader might try
    for name in ("model.pkl", "detector.joblib", "weights.pickle"):
        (entry / name).write_bytes(evil)
    # 2) inside every npz, as an object-array .npy whose payload is the pickle
    buf = io.BytesIO()
    np.save(buf, np.array([_Canary(canary)], dtype=object), allow_pickle=True)
    for npz in entry.glob("*.npz"):
        with zipfile.ZipFile(npz) as zf:
            members = {n: zf.read(n) for n in zf.namelist()}
        first = next(iter(members))
        members[first] = buf.getvalue()
        with zipfile.ZipFile(npz, "w") as zf:
            for n, data in members.items():
                zf.writestr(n, data)
    # 3) a Keras-style archive with a Lambda layer
    (entry / "model.keras").write_bytes(b"PK\x05\x06" + bytes(18))


def test_planted_pickles_in_the_cache_never_run(tmp_path, fitted):
    store = ModelCache(tmp_path / "models")
    inputs = _inputs(fitted)
    entry = store.put(inputs, fitted)
    canary = tmp_path / "CANARY"
    _plant_pickles(entry, canary)
    assert store.get(inputs) is None  # discarded, so the next run retrains
    assert store.last_miss and store.last_miss.startswith("damaged entry replaced")
    assert not canary.exists()
    assert store.put(inputs, fitted) and store.get(inputs) is not None
    assert not canary.exists()


def test_planted_pickles_in_a_saved_model_never_run(tmp_path, fitted):
    from tui_detector.core.model.detector import ModelFileError

    path = fitted.save(tmp_path / "model")
    canary = tmp_path / "CANARY"
    _plant_pickles(path, canary)
    with pytest.raises(ModelFileError):
        TabularAnomalyDetector.load(path)
    assert not canary.exists()


# ------------------------------------------------------------------------------------------
# S6: a crash between writing the model and installing the entry leaves nothing loadable.


@pytest.mark.parametrize("stage", ["save", "install"])
def test_crash_mid_write_leaves_no_entry_and_no_debris(tmp_path, fitted, monkeypatch, stage):
    store = ModelCache(tmp_path / "models")
    inputs = _inputs(fitted)
    if stage == "save":
        real_save = TabularAnomalyDetector.save

        def crashing_save(self, path, *a, **k):
            real_save(self, path, *a, **k)
            (Path(path) / "manifest.json").write_text('{"half":')  # torn write
            raise OSError(28, "No space left on device")

        monkeypatch.setattr(TabularAnomalyDetector, "save", crashing_save)
    else:
        monkeypatch.setattr(cache_mod.os, "rename", lambda *a, **k: (_ for _ in ()).throw(OSError(5, "I/O error")))
    with pytest.raises(OSError):
        store.put(inputs, fitted)
    monkeypatch.undo()
    assert store.get(inputs) is None
    assert store.entries() == []
    assert [p.name for p in store.root.iterdir()] == []  # staging removed too
    assert oct(store.root.stat().st_mode & 0o777) == oct(0o700)
    store.put(inputs, fitted)
    assert store.get(inputs) is not None


# ------------------------------------------------------------------------------------------
# S8: no silent data loss. Any CSV made of numbers, NA tokens, text, blanks and empty rows:
# every row with a value comes back, in order, and every row in between is counted as dropped.

_TOKENS = st.one_of(
    st.integers(-10**6, 10**6).map(str),
    st.floats(allow_nan=False, allow_infinity=False, width=32).map(lambda f: f"{f:.4g}"),
    st.sampled_from(["", "", "NA", "n/a", "null", "-", "TBD", "#DIV/0!", "TRUE", "false", " ", "x y", "1,5", "0012"]),
)


@pytest.mark.slow
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.lists(_TOKENS, min_size=3, max_size=3), min_size=1, max_size=25))
def test_every_row_is_kept_or_counted(tmp_path, rows):
    path = tmp_path / "s8.csv"
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["alpha", "beta", "gamma"])
    writer.writerows(rows)
    path.write_text(buf.getvalue(), encoding="utf-8")

    t = read_table(path, header_row=1)
    # What reads as missing. An error cell reads as missing too, but it is content: its row is
    # kept (and the cell counted below), as in the spreadsheet it came from.
    blank = {"", " ", "NA", "n/a", "null"}
    has_value = [any(v not in blank for v in r) for r in rows]
    last = max((i for i, h in enumerate(has_value) if h), default=-1)
    kept = [i for i, h in enumerate(has_value) if h]
    assert len(t.frame) == len(kept) == t.report.rows
    # Rows between the header and the last row with a value are either kept or counted;
    # blank rows after the last value are the end of the table, as in every spreadsheet.
    assert t.report.rows + t.report.dropped_empty_rows == last + 1
    assert t.report.header_row == 1 and list(t.frame.columns) == ["alpha", "beta", "gamma"]
    # Error-looking and NA cells are counted in the report, never silently dropped as rows.
    n_err = sum(r.count("#DIV/0!") for i, r in enumerate(rows) if has_value[i])
    if n_err:
        assert sum(int(w.split()[0]) for w in t.report.warnings if "error cell" in w) == n_err


# ------------------------------------------------------------------------------------------
# Cheap cases of section 6 not covered elsewhere.


def test_a4_refused_files_leave_no_open_handle(tmp_path):
    # A4 (pandas GH41778): after a refusal the file is closed, so Windows could delete or
    # replace it; on Linux we check our own open descriptors.
    if not Path("/proc/self/fd").is_dir():
        pytest.skip("needs /proc")
    good = tmp_path / "g.xlsx"
    pd.DataFrame({"a": [1, 2]}).to_excel(good, index=False)
    cut = tmp_path / "cut.xlsx"
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    junk = tmp_path / "junk.csv"
    junk.write_bytes(bytes(range(256)) * 4)
    for path in (cut, junk):
        with pytest.raises(ReadError):
            read_table(path)
        open_now = {os.path.realpath(f"/proc/self/fd/{fd}") for fd in os.listdir("/proc/self/fd")
                    if os.path.exists(f"/proc/self/fd/{fd}")}
        assert str(path.resolve()) not in open_now


def test_a14_file_held_by_another_program_is_one_line(tmp_path, monkeypatch):
    # A14: Windows refuses to open a file Excel holds (PermissionError, WinError 32). Simulated
    # for every open of that one path, so it also runs as root, who could read a chmod 000 file.
    import builtins

    path = tmp_path / "held.xlsx"
    pd.DataFrame({"a": [1]}).to_excel(path, index=False)
    real_open = builtins.open

    def held(file, *a, **k):
        if os.fspath(file) == str(path):
            raise PermissionError(13, "The process cannot access the file because it is being used by another process")
        return real_open(file, *a, **k)

    monkeypatch.setattr(builtins, "open", held)
    with pytest.raises(ReadError) as err:
        read_table(path)
    assert str(err.value) == "cannot read 'held.xlsx': permission denied"


def test_f58_identical_rows_get_identical_scores(planted):
    # F58: duplicates are data (kept, scored), and the same row always gets the same score.
    frame, _ = planted
    frame = pd.concat([frame.iloc[:400], frame.iloc[[7] * 25]], ignore_index=True)
    detector = TabularAnomalyDetector(model="iforest")
    detector.train(frame)
    scores = detector.score_samples(frame)
    assert len(scores) == len(frame)
    assert np.unique(scores[400:]).size == 1 and scores[400] == scores[7]


@pytest.mark.parametrize("as_text", [True, False])
def test_e44_long_integer_codes_are_identifiers_not_features(as_text):
    # E44: account/card numbers beyond 2^53 are identifiers, whichever way they are stored.
    from tui_detector.core.model.roles import Role, infer_role

    values = [9_007_199_254_740_993 + 7 * i for i in range(50)]
    series = pd.Series([str(v) for v in values] if as_text else [float(v) for v in values], name="account")
    role, reason = infer_role(series)
    assert role is Role.IDENTIFIER and "16+ digits" in reason
    # Ordinary large amounts stay numbers.
    assert infer_role(pd.Series([1e6 * (i % 17) + 0.5 for i in range(50)], name="amount"))[0] is Role.NUMERIC
