"""`anomaly-tui review …`, `anomaly-tui runs …` and the review store's part in `detect`.

The journey through the CLI runs as a user runs it (subprocesses); the re-ranking wiring is
checked in this process, with the ranking replaced by one that visibly moves scores.
"""

from __future__ import annotations

import csv
import json

import jsonschema
import numpy as np
import pandas as pd
import pytest

from tests.helpers import mixed_table
from tests.test_cli_detect import assert_one_error_line, run
from tui_detector import cli
from tui_detector.core import feedback
from tui_detector.core.export import schema


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("review")
    frame, planted = mixed_table(400)
    frame.to_csv(folder / "orders.csv", index=False)
    frame.sample(frac=1, random_state=4).to_csv(folder / "orders-resorted.csv", index=False)
    return folder, frame, planted


def detect(path, *extra):
    proc = run("detect", path, "--model", "iforest", "--all-rows", *extra)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    jsonschema.validate(doc, schema())
    return doc


def review_json(*args):
    proc = run("review", *args, "--json")
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


@pytest.mark.slow
def test_verdicts_through_the_cli_reach_detect_and_follow_the_rows(files):
    folder, frame, _ = files
    orders = folder / "orders.csv"
    first = detect(orders)
    assert first["review"]["feedback"] == "no verdicts" and first["review"]["run_id"] == 1
    assert first["review"]["id_column"] == "order_id" and first["review"]["new"] == first["anomaly_count"]
    assert all(a["review"] is None for a in first["anomalies"])
    top = [a["row_index"] for a in first["anomalies"][:3]]

    confirmed = review_json("set", orders, str(top[0]), str(top[1]), "--as", "confirmed", "--note", "real")
    assert [r["row_index"] for r in confirmed["rows"]] == top[:2]
    assert confirmed["rows"][0]["verdict"] == "confirmed" and confirmed["rows"][0]["note"] == "real"
    dismissed = run("review", "set", orders, str(top[2]), "--as", "dismissed", "--note", "a refund, fine")
    assert dismissed.returncode == 0 and dismissed.stdout.startswith("dismissed: 1 row of orders.csv (row_index ")

    second = detect(orders)
    review = second["review"]
    assert review["verdicts"] == {"confirmed": 2, "dismissed": 1, "expected": 0}
    assert review["feedback"] == "applied" and review["left_out"] == 1 and review["previous_run"] == 1
    listed = {a["row_index"]: a for a in second["anomalies"]}
    assert top[2] not in listed
    # The model's own ranking: the same rows flagged, the dismissed one left out.
    plain = detect(orders, "--no-feedback")
    assert plain["review"]["feedback"] == "off" and plain["scores"] == first["scores"]
    assert plain["anomaly_count"] == first["anomaly_count"] - 1
    assert listed[top[0]]["review"]["verdict"] == "confirmed" and listed[top[0]]["review"]["suppressed_by"] is None
    everything = {a["row_index"]: a for a in detect(orders, "--include-reviewed")["anomalies"]}
    assert everything[top[2]]["review"]["note"] == "a refund, fine"

    # The same rows in a re-sorted copy carry the same verdicts.
    resorted = folder / "orders-resorted.csv"
    copy = review_json("list", resorted)
    ids = {frame.loc[r, "order_id"] for r in top}
    assert len(copy["reviews"]) == 3 and copy["verdicts_for_other_rows"] == 0
    shuffled = pd.read_csv(resorted)
    assert {shuffled.loc[r["row_index"], "order_id"] for r in copy["reviews"]} == ids

    # Export, then runs.
    out = folder / "reviews.csv"
    exported = run("review", "export", orders, "-o", out)
    assert exported.returncode == 0 and "3 reviewed rows of orders.csv" in exported.stdout
    rows = list(csv.DictReader(out.open()))
    assert sorted(r["verdict"] for r in rows) == ["confirmed", "confirmed", "dismissed"]
    runs = json.loads(run("runs", "list", "--json").stdout)["runs"]
    assert [r["id"] for r in runs] == [4, 3, 2, 1] and runs[-1]["reviewed"] == 3 and runs[-1]["new"] is None
    shown = json.loads(run("runs", "show", "1", "--json").stdout)
    assert shown["run"]["file_name"] == "orders.csv" and len(shown["anomalies"]) == first["anomaly_count"]
    assert {a["row_index"]: a["review"]["verdict"] for a in shown["anomalies"] if a["review"]} == {
        top[0]: "confirmed", top[1]: "confirmed", top[2]: "dismissed"
    }
    text = run("runs", "show", "1")
    assert text.returncode == 0 and text.stdout.startswith("run 1: orders.csv")

    # Undo.
    cleared = review_json("set", orders, str(top[2]), "--clear")
    assert cleared["cleared"] == 1
    assert top[2] in {a["row_index"] for a in detect(orders, "--no-feedback")["anomalies"]}


@pytest.mark.slow
def test_a_suppression_hides_every_row_with_the_value(files, tmp_path):
    folder, frame, planted = files
    orders = folder / "orders.csv"
    atlantis = next(r for r, c in planted.items() if c == "segment")
    proc = run("review", "set", orders, str(atlantis), "--as", "expected", "--suppress", "segment", "--until", "2999-12-31")
    assert proc.returncode == 0, proc.stderr
    assert "suppressed until 2999-12-31: every row where segment = atlantis (1 in this file)" in proc.stdout
    north = run("review", "set", orders, str(int(np.flatnonzero(frame["segment"] == "north")[0])), "--as", "dismissed", "--suppress", "segment")
    assert north.returncode == 0
    doc = detect(orders, "--include-reviewed")
    marks = {a["row_index"]: a["review"] for a in doc["anomalies"]}
    hidden = [r for r, rev in marks.items() if rev is not None and rev["suppressed_by"] is not None]
    assert hidden and all(frame.loc[r, "segment"] == "north" for r in hidden)
    assert doc["review"]["suppressed_rows"] == int((frame["segment"] == "north").sum()) - 1
    listed = review_json("list", orders)
    assert {s["value"] for s in listed["suppressions"]} == {"atlantis", "north"}


@pytest.mark.slow
def test_each_anomaly_says_whether_the_previous_run_flagged_it_too(files, tmp_path):
    folder, frame, _ = files
    first = detect(folder / "orders.csv")
    assert first["anomalies"] and all(a["recurring"] is None for a in first["anomalies"])
    flagged_before = {frame.loc[a["row_index"], "order_id"] for a in first["anomalies"]}

    # Next month's file: the same orders, one of them now with an amount no order ever had.
    later = frame.copy()
    quiet = next(r for r in range(len(later)) if later.loc[r, "order_id"] not in flagged_before)
    later.loc[quiet, "amount"] = 9_000_000.0
    later.to_csv(tmp_path / "orders-next.csv", index=False)
    second = detect(tmp_path / "orders-next.csv")
    marks = {later.loc[a["row_index"], "order_id"]: a["recurring"] for a in second["anomalies"]}
    assert marks[later.loc[quiet, "order_id"]] is False
    # Each mark is the previous run's flag on the same order, and the summary counts them.
    assert marks == {order: order in flagged_before for order in marks}
    assert any(marks.values())
    assert second["review"]["recurring"] == sum(marks.values())
    assert second["review"]["new"] == len(marks) - sum(marks.values())


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["set", "{f}", "9999", "--as", "confirmed"], "row 9999 is not in the table (400 rows: row_index 0-399)"),
        (["set", "{f}", "3", "--as", "confirmed", "--suppress", "segment"], "only a dismissed or expected verdict"),
        (["set", "{f}", "3", "--as", "dismissed", "--suppress", "nope"], "no column 'nope' to suppress by"),
        (["set", "{f}", "3", "--as", "dismissed", "--suppress", "segment", "--until", "soon"], "not a date (YYYY-MM-DD): 'soon'"),
        (["set", "{f}", "3", "--as", "dismissed", "--until", "2027-01-01"], "--until applies to a suppression"),
        (["set", "{f}", "3", "--clear", "--note", "x"], "--clear takes no --note"),
        (["list", "{missing}"], "file not found"),
    ],
)
def test_review_errors_are_one_line(files, args, fragment):
    folder, _, _ = files
    filled = [a.format(f=folder / "orders.csv", missing=folder / "missing.csv") for a in args]
    assert_one_error_line(run("review", *filled), fragment)


def test_runs_show_of_an_unknown_run_is_one_line():
    assert_one_error_line(run("runs", "show", "42"), "no run 42 in the review store")


@pytest.mark.parametrize(
    "args",
    [["review"], ["review", "set", "x.csv", "1"], ["review", "set", "x.csv", "1", "--as", "maybe"], ["review", "set", "x.csv", "-1", "--as", "confirmed"],
     ["review", "export", "x.csv", "-o", "r.txt"], ["runs"], ["runs", "show", "zero"]],
)
def test_bad_review_arguments_exit_2(args):
    assert run(*args).returncode == 2


# -- the wiring of the re-ranking, in this process -------------------------------------------


@pytest.fixture
def moved_ranking(monkeypatch):
    """A ranking that visibly moves every score, and a record of its calls."""
    calls = []

    def rerank(parts, scores, labels):
        calls.append((parts.shape, dict(labels)))
        return np.asarray(scores) + 1000.0 if labels else scores

    monkeypatch.setattr(feedback, "rerank", rerank)
    return calls


def detect_here(path, capsys, *extra):
    assert cli.main(["detect", str(path), "--model", "iforest", "--all-rows", *extra]) == 0
    return json.loads(capsys.readouterr().out)


def test_no_verdicts_and_no_feedback_give_the_models_scores_exactly(tmp_path, capsys, moved_ranking):
    frame, _ = mixed_table(300)
    path = tmp_path / "t.csv"
    frame.to_csv(path, index=False)
    plain = detect_here(path, capsys)
    assert moved_ranking == [] and plain["review"]["feedback"] == "no verdicts"
    again = detect_here(path, capsys)
    # The same rows, scores and explanations; only now each was flagged by the run before.
    assert [a.pop("recurring") for a in plain["anomalies"]] == [None] * plain["anomaly_count"]
    assert [a.pop("recurring") for a in again["anomalies"]] == [True] * plain["anomaly_count"]
    assert again["scores"] == plain["scores"] and again["anomalies"] == plain["anomalies"]

    assert cli.main(["review", "set", str(path), "3", "--as", "confirmed"]) == 0
    assert cli.main(["review", "set", str(path), "4", "--as", "expected"]) == 0
    capsys.readouterr()
    off = detect_here(path, capsys, "--no-feedback")
    assert moved_ranking == [] and off["review"]["feedback"] == "off"
    assert off["scores"] == plain["scores"]

    on = detect_here(path, capsys)
    assert on["review"]["feedback"] == "applied"
    assert [labels for _, labels in moved_ranking] == [{3: 1, 4: -1}] and moved_ranking[0][0][0] == 300
    # Unreviewed rows take the new ranking; the reviewed ones keep the model's score.
    moved = np.array(on["scores"]) - np.array(plain["scores"])
    assert moved[3] == moved[4] == 0 and np.all(np.delete(moved, [3, 4]) == 1000.0)


@pytest.mark.slow
def test_detect_on_a_damaged_store_says_so_once_and_starts_a_fresh_one(files, private_data_dir):
    folder, _, _ = files
    (private_data_dir / "reviews.sqlite3").write_bytes(b"not a database at all " * 100)
    proc = run("detect", folder / "orders.csv", "--model", "iforest")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("note: the review store was damaged") and "fresh one started" in lines[0]
    doc = json.loads(proc.stdout)
    assert doc["review"]["run_id"] == 1 and doc["review"]["problem"] is None
    assert [p.name.startswith("reviews.sqlite3.damaged-") for p in private_data_dir.iterdir()].count(True) == 1
    assert run("runs", "list").returncode == 0


def test_runs_list_limit_is_a_count_in_its_own_words(capsys):
    from tui_detector.cli import main  # noqa: PLC0415

    with pytest.raises(SystemExit):
        main(["runs", "list", "--limit", "lots"])
    err = capsys.readouterr().err
    assert "not a whole number: 'lots'" in err and "a run is its number" not in err
