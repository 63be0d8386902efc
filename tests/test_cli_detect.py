"""`anomaly-tui detect` and `anomaly-tui cache`, run as a user runs them: a subprocess.

Runs that read a file or train are marked slow (one to twenty seconds each); the argument and
path checks that stop before reading stay in the quick loop.
"""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys

import jsonschema
import pytest

from tests.fixtures_tables import N_ROWS, write_tricky_csv, write_tricky_xlsx
from tests.helpers import mixed_table
from tui_detector.core.export import schema


def run(*args, cwd=None, timeout=180):
    return subprocess.run(
        [sys.executable, "-m", "tui_detector", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
        env=os.environ.copy(),
    )


def assert_one_error_line(proc, fragment):
    assert proc.returncode == 1, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error: ") and fragment in lines[0], lines[0]
    assert "Traceback" not in proc.stderr
    assert proc.stdout == ""


@pytest.fixture(scope="module")
def workbook(tmp_path_factory):
    return write_tricky_xlsx(tmp_path_factory.mktemp("wb") / "tricky.xlsx")


@pytest.mark.slow
def test_detect_to_stdout_is_valid_and_quiet(workbook):
    proc = run("detect", workbook, "--model", "iforest")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""  # not a terminal: no progress line
    doc = json.loads(proc.stdout)
    jsonschema.validate(doc, schema())
    assert doc["source"]["sheet"] == "Data" and doc["source"]["rows"] == N_ROWS
    assert doc["model"]["kind"] == "iforest" and doc["model"]["from_cache"] is False
    assert "scores" not in doc


@pytest.mark.slow
def test_output_all_rows_and_cache_hit_on_second_run(workbook, tmp_path):
    out1, out2 = tmp_path / "a.json", tmp_path / "b.json"
    first = run("detect", workbook, "--model", "iforest", "--all-rows", "--output", out1, "--seed", 3)
    second = run("detect", workbook, "--model", "iforest", "--all-rows", "-o", out2, "--seed", 3)
    assert first.returncode == second.returncode == 0, first.stderr + second.stderr
    assert first.stdout == second.stdout == ""
    a, b = json.loads(out1.read_text()), json.loads(out2.read_text())
    for doc in (a, b):
        jsonschema.validate(doc, schema())
        assert len(doc["scores"]) == N_ROWS
    assert (a["model"]["from_cache"], b["model"]["from_cache"]) == (False, True)
    # The second run is the first's again, each anomaly now flagged by the run before.
    assert {x.pop("recurring") for x in a["anomalies"]} == {None}
    assert {x.pop("recurring") for x in b["anomalies"]} == {True}
    assert a["scores"] == b["scores"] and a["anomalies"] == b["anomalies"]
    assert a["model"]["params"]["random_state"] == 3
    # --output replaces by intent.
    third = run("detect", workbook, "--model", "iforest", "-o", out1, "--seed", 3)
    assert third.returncode == 0 and "scores" not in json.loads(out1.read_text())


@pytest.mark.slow
def test_no_cache_trains_and_stores_nothing(workbook, private_data_dir):
    proc = run("detect", workbook, "--model", "iforest", "--no-cache", "--seed", 11)
    assert proc.returncode == 0
    listing = run("cache", "list", "--json")
    keys_before = {e["key"] for e in json.loads(listing.stdout)["entries"]}
    again = run("detect", workbook, "--model", "iforest", "--no-cache", "--seed", 11)
    assert json.loads(again.stdout)["model"]["from_cache"] is False
    assert {e["key"] for e in json.loads(run("cache", "list", "--json").stdout)["entries"]} == keys_before


@pytest.mark.slow
def test_default_model_trains_a_small_network(tmp_path):
    path = write_tricky_csv(tmp_path / "t.csv")
    proc = run("detect", path, "--epochs", "10", "--threshold-percentile", "99")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""  # TensorFlow's start-up chatter never reaches the terminal
    doc = json.loads(proc.stdout)
    assert doc["model"]["kind"] == "auto" and doc["model"]["threshold_percentile"] == 99
    assert doc["anomalies"][0]["row_index"] == 42
    assert doc["anomalies"][0]["anomalous_features"][0]["feature_name"] == "amount"


@pytest.mark.slow
def test_sheet_by_name_and_number(workbook):
    by_name = json.loads(run("detect", workbook, "--sheet", "Other", "--model", "iforest").stdout)
    by_number = json.loads(run("detect", workbook, "--sheet", "1", "--model", "iforest").stdout)
    assert by_name["source"]["sheet"] == by_number["source"]["sheet"] == "Other"
    assert by_name["source"]["rows"] == 60
    assert_one_error_line(run("detect", workbook, "--sheet", "Nope"), "no sheet named 'Nope'")
    assert_one_error_line(run("detect", workbook, "--sheet", "7"), "no sheet number 7")


@pytest.mark.slow
def test_scored_copy(workbook, tmp_path):
    import openpyxl

    target = tmp_path / "scored.xlsx"
    proc = run("detect", workbook, "--model", "iforest", "--scored-copy", target, "-o", tmp_path / "x.json")
    assert proc.returncode == 0, proc.stderr
    ws = openpyxl.load_workbook(target).active
    assert ws.max_row == N_ROWS + 1
    assert ws.cell(1, 6).value == "anomaly_score"
    doc = json.loads((tmp_path / "x.json").read_text())
    assert sum(bool(c.value) for c in ws["G"][1:]) == doc["anomaly_count"]


def test_missing_file(tmp_path):
    assert_one_error_line(run("detect", tmp_path / "nope.xlsx"), "file not found")


def test_folder_is_not_a_file(tmp_path):
    assert_one_error_line(run("detect", tmp_path), "is a folder")


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "content", "fragment"),
    [
        ("broken.xlsx", b"PK\x03\x04 this is not really a zip", "broken.xlsx"),
        ("empty.csv", b"", "empty.csv"),
        ("header_only.csv", b"a,b,c\n", "no data"),
        ("binary.csv", bytes(range(256)) * 40, "binary.csv"),
        ("one_row.csv", b"a,b\n1,2\n", "at least 2 rows"),
        ("ids_only.csv", b"id\n" + b"".join(f"{i}\n".encode() for i in range(50)), "no column"),
    ],
)
def test_unusable_input_is_one_line(tmp_path, name, content, fragment):
    path = tmp_path / name
    path.write_bytes(content)
    proc = run("detect", path, "--model", "iforest")
    assert_one_error_line(proc, "")
    assert fragment.lower() in proc.stderr.lower(), proc.stderr


def test_never_writes_over_its_input(workbook, tmp_path):
    copy = tmp_path / "in.xlsx"
    copy.write_bytes(workbook.read_bytes())
    before = copy.read_bytes()
    assert_one_error_line(run("detect", copy, "-o", copy), "is the input file")
    assert_one_error_line(run("detect", copy, "--scored-copy", copy), "is the input file")
    assert copy.read_bytes() == before


def test_output_into_missing_folder(workbook, tmp_path):
    assert_one_error_line(run("detect", workbook, "-o", tmp_path / "no" / "such" / "x.json"), "does not exist")


@pytest.mark.parametrize(
    "args",
    [
        ["--threshold-percentile", "150"],
        ["--threshold-percentile", "abc"],
        ["--epochs", "0"],
        ["--seed", "-1"],
        ["--model", "forest"],
        ["--scored-copy", "out.txt"],
        ["--no-such-flag"],
    ],
)
def test_bad_arguments_exit_2(workbook, args):
    proc = run("detect", workbook, *args)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith("anomaly-tui detect: error:")


def test_detect_without_a_path_is_a_usage_error():
    assert run("detect").returncode == 2


@pytest.mark.slow
def test_cache_commands(workbook, private_data_dir):
    path = run("cache", "path")
    assert path.returncode == 0 and path.stdout.strip() == str(private_data_dir / "models")
    assert run("cache", "clear").returncode == 0
    assert "no cached models" in run("cache", "list").stdout
    assert run("detect", workbook, "--model", "iforest").returncode == 0
    listing = run("cache", "list")
    assert listing.returncode == 0
    assert "tricky.xlsx [Data]" in listing.stdout and "iforest" in listing.stdout
    entries = json.loads(run("cache", "list", "--json").stdout)["entries"]
    assert len(entries) == 1 and entries[0]["source_name"] == "tricky.xlsx" and entries[0]["size_bytes"] > 0
    cleared = run("cache", "clear")
    assert cleared.returncode == 0 and cleared.stdout.startswith("removed 1 cached model ")
    assert json.loads(run("cache", "list", "--json").stdout)["entries"] == []
    assert run("cache").returncode == 2
    assert run("cache", "shred").returncode == 2


@pytest.mark.slow
def test_progress_line_on_a_terminal(workbook):
    """With stderr on a terminal a status line is drawn and erased; stdout stays pure JSON."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "tui_detector", "detect", str(workbook), "--model", "iforest", "--no-cache"],
        stdout=subprocess.PIPE,
        stderr=slave,
        env=os.environ.copy(),
    )
    os.close(slave)
    seen = b""
    while True:
        ready, _, _ = select.select([master], [], [], 60)
        if not ready:
            break
        try:
            chunk = os.read(master, 4096)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
    out, _ = proc.communicate(timeout=60)
    os.close(master)
    assert proc.returncode == 0
    assert b"reading tricky.xlsx" in seen and b"anomalous rows of 300" in seen
    assert b"Traceback" not in seen
    json.loads(out)


# -- train once, score many -------------------------------------------------------------------


@pytest.fixture(scope="module")
def months(tmp_path_factory):
    folder = tmp_path_factory.mktemp("months")
    base, _ = mixed_table(1500, 0)
    new, planted = mixed_table(600, 1)
    new.loc[40, "segment"] = "mars"
    base.to_csv(folder / "october.csv", index=False)
    new.rename(columns={"revenue": "Revenue"}).to_csv(folder / "november.csv", index=False)
    return folder, planted


@pytest.mark.slow
def test_train_then_score_a_new_month(months, tmp_path):
    folder, planted = months
    # The default model, briefly trained: IsolationForest alone misses the unseen category.
    trained = run("train", folder / "october.csv", "--epochs", "8", "--save", tmp_path / "model")
    assert trained.returncode == 0, trained.stderr
    assert trained.stdout.startswith("auto model for october.csv (1,500 rows") and "trained and cached" in trained.stdout
    assert trained.stderr == ""
    refused = run("detect", folder / "november.csv", "--model-from", folder / "october.csv", "--epochs", "8")
    assert_one_error_line(refused, "lacks model column 'revenue' (renamed to 'Revenue'?)")
    assert "--column-map 'Revenue=revenue'" in refused.stderr
    for how in (["--model-from", folder / "october.csv", "--epochs", "8"], ["--model-dir", tmp_path / "model"]):
        proc = run("detect", folder / "november.csv", *how, "--column-map", "Revenue=revenue", "--preset", "sensitive")
        assert proc.returncode == 0, proc.stderr
        doc = json.loads(proc.stdout)
        jsonschema.validate(doc, schema())
        assert doc["model"]["trained_on"]["file"] == "october.csv"
        # --model-from finds the model `train` cached; --model-dir loads the saved one.
        assert doc["model"]["from_cache"] is (how[0] == "--model-from")
        assert doc["model"]["threshold_percentile"] == 90
        assert doc["schema_check"]["ok"] and doc["drift"]["columns"]
        flagged = {a["row_index"]: a for a in doc["anomalies"]}
        assert set(planted) | {40} <= set(flagged)
        assert any(f.get("note") == "'mars' never seen in segment during training" for f in flagged[40]["anomalous_features"])


@pytest.mark.slow
@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--model-dir", "/nonexistent/model"], "--model-dir: not found"),
        (["--column-map", "a=b"], "--column-map applies only with"),
    ],
)
def test_baseline_option_errors(workbook, args, fragment):
    assert_one_error_line(run("detect", workbook, *args), fragment)


def test_baseline_usage_errors(workbook, tmp_path):
    both = run("detect", workbook, "--model-from", workbook, "--model-dir", tmp_path)
    assert both.returncode == 2
    assert run("detect", workbook, "--preset", "strict", "--threshold-percentile", "90").returncode == 2
    assert run("detect", workbook, "--model-dir", workbook, "--column-map", "nonsense").returncode == 2


@pytest.mark.slow
def test_model_dir_that_is_not_a_model(workbook, tmp_path):
    assert_one_error_line(run("detect", workbook, "--model-dir", tmp_path), "is not a saved model")


@pytest.mark.slow
def test_a_totals_row_is_left_out_and_listed_unless_kept(tmp_path):
    import pandas as pd  # noqa: PLC0415

    frame, _ = mixed_table(300, seed=4)
    total = {c: None for c in frame.columns}
    total["segment"] = "TOTAL"
    for column in ("units", "revenue", "amount"):
        total[column] = round(float(frame[column].sum()), 2)
    path = tmp_path / "with_total.csv"
    pd.concat([frame, pd.DataFrame([total])], ignore_index=True).to_csv(path, index=False)

    proc = run("detect", path, "--model", "iforest", "--no-cache")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    jsonschema.validate(doc, schema())
    diagnostics = doc["diagnostics"]
    assert diagnostics["rows_in"] == 301 and diagnostics["rows_scored"] == 300
    (dropped,) = [d for d in diagnostics["rows_dropped"] if d["reason"].startswith("totals row")]
    assert dropped["count"] == 1 and dropped["rows"][0]["row_index"] == 300 and dropped["rows"][0]["label"] == "TOTAL"
    assert all(a["raw_data"]["segment"] != "TOTAL" for a in doc["anomalies"])
    assert diagnostics["small_table"] is None
    # Each listed reason holds something other than what was expected, ranked by its contribution.
    for anomaly in doc["anomalies"]:
        features = anomaly["anomalous_features"]
        assert all(f["actual_value"] != f["expected_value"] for f in features)
        assert [f["contribution"] for f in features] == sorted((f["contribution"] for f in features), reverse=True)

    kept = json.loads(run("detect", path, "--model", "iforest", "--no-cache", "--keep-totals").stdout)
    assert kept["diagnostics"]["rows_scored"] == 301
    assert not [d for d in kept["diagnostics"]["rows_dropped"] if d["reason"].startswith("totals row")]
