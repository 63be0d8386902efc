"""The review store: migrations, damage, concurrent and killed writers, fingerprints, scopes."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest

from tests.helpers import mixed_table
from tui_detector.core.store import review
from tui_detector.core.store.db import NewerStoreError, ReviewStore, StoreError, store_path
from tui_detector.core.store.fingerprint import Fingerprinter, canonical
from tui_detector.core.store.schema import MIGRATIONS, SCHEMA_VERSION


@pytest.fixture
def table():
    frame, _ = mixed_table(300)
    return frame


def verdict_count(path) -> int:
    with sqlite3.connect(path) as conn:
        return conn.execute("SELECT count(*) FROM verdicts").fetchone()[0]


# -- the database -----------------------------------------------------------------------------


def test_the_store_lives_beside_the_model_cache(private_data_dir, table):
    store = ReviewStore()
    review.set_verdicts(store, table, [1], "confirmed")
    store.close()
    assert store_path() == private_data_dir / "reviews.sqlite3" and store_path().exists()
    assert store_path().stat().st_mode & 0o077 == 0
    with sqlite3.connect(store_path()) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_a_store_from_the_first_schema_migrates_and_keeps_its_verdicts(tmp_path, table):
    path = tmp_path / "old.sqlite3"
    fp = Fingerprinter.for_frame(table)
    key, content = (a[0] for a in fp.rows(table, [7]))
    with sqlite3.connect(path) as conn:
        for statement in MIGRATIONS[0].split(";"):
            if statement.strip():
                conn.execute(statement)
        conn.execute("PRAGMA user_version = 1")
        conn.execute(
            "INSERT INTO verdicts (dataset, fingerprint, content, verdict, note, created) VALUES (?, ?, ?, 'dismissed', 'old note', '2026-01-01T00:00:00+00:00')",
            (fp.dataset, key, content),
        )
    store = ReviewStore(path)
    state = review.review_state(store, table)
    assert state.verdicts[7].verdict == "dismissed" and state.verdicts[7].note == "old note"
    # What the second schema added works on the migrated file.
    review.set_verdicts(store, table, [8], "expected", suppress_column="segment")
    assert review.active_scopes(store, fp.dataset)[0].column == "segment"
    assert store.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_a_store_from_a_newer_version_is_refused_and_left_alone(tmp_path):
    path = tmp_path / "new.sqlite3"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE future (x)")
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 5}")
    before = path.read_bytes()
    with pytest.raises(NewerStoreError, match="written by a newer anomaly-tui"):
        ReviewStore(path).conn
    assert path.read_bytes() == before


def test_a_file_that_is_not_a_database_is_moved_aside_and_a_fresh_store_started(private_data_dir, table):
    models = private_data_dir / "models"
    models.mkdir()
    (models / "keep.json").write_text("a cached model")
    garbage = b"this is not a database, it was half-copied from somewhere " * 200
    store_path().write_bytes(garbage)
    store = ReviewStore()
    review.set_verdicts(store, table, [3], "confirmed")
    assert len(store.notes) == 1 and "damaged" in store.notes[0] and "fresh one started" in store.notes[0]
    aside = [p for p in private_data_dir.iterdir() if p.name.startswith("reviews.sqlite3.damaged-")]
    assert len(aside) == 1 and aside[0].read_bytes() == garbage
    assert (models / "keep.json").read_text() == "a cached model"
    assert review.review_state(store, table).verdicts[3].verdict == "confirmed"


def test_a_damaged_page_found_while_reading_moves_the_store_aside(tmp_path, table):
    path = tmp_path / "s.sqlite3"
    store = ReviewStore(path)
    review.set_verdicts(store, table, list(range(200)), "dismissed", note="x" * 500)
    store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    store.close()
    data = bytearray(path.read_bytes())
    page = 4096
    assert len(data) > 8 * page
    data[2 * page : len(data) - page] = b"\xff" * (len(data) - 3 * page)
    path.write_bytes(bytes(data))
    fresh = ReviewStore(path)
    state = review.review_state(fresh, table)  # must not raise
    assert state.verdicts == {} and any("damaged" in n for n in fresh.notes)
    assert any(p.name.startswith("s.sqlite3.damaged-") for p in tmp_path.iterdir())


def test_an_unwritable_place_is_a_store_error_in_words(tmp_path, table):
    blocker = tmp_path / "blocker"
    blocker.write_text("x")
    with pytest.raises(StoreError, match="cannot open the review store"):
        review.set_verdicts(ReviewStore(blocker / "data" / "reviews.sqlite3"), table, [1], "confirmed")


def test_cell_text_is_never_sql(tmp_path):
    frame = pd.DataFrame({"merchant": ["x'); DROP TABLE verdicts; --", "ok", "fine"], "amount": [1.0, 2.0, 3.0]})
    store = ReviewStore(tmp_path / "s.sqlite3")
    review.set_verdicts(store, frame, [0], "dismissed", note="'; DELETE FROM runs; --", suppress_column="merchant")
    state = review.review_state(store, frame)
    assert state.verdicts[0].note == "'; DELETE FROM runs; --"
    assert review.active_scopes(store, state.fingerprinter.dataset)[0].value == "x'); DROP TABLE verdicts; --"
    assert verdict_count(tmp_path / "s.sqlite3") == 1


# -- writers at the same time, and one killed -------------------------------------------------

WRITER = textwrap.dedent(
    """
    import sys
    import pandas as pd
    from tui_detector.core.store import review
    from tui_detector.core.store.db import ReviewStore
    from tui_detector.core.store.fingerprint import Fingerprinter

    path, tag, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    frame = pd.DataFrame({"ref_id": [f"{tag}-{i}" for i in range(count)], "amount": [float(i) for i in range(count)]})
    store = ReviewStore(path)
    fp = Fingerprinter.for_frame(frame)
    for i in range(count):
        review.set_verdicts(store, frame, [i], "confirmed", note=tag, fingerprinter=fp)
        if i % 10 == 0:
            review.record_run(store, dataset=tag, origin="detect", file_name="f", path="f", sha256="0" * 64, sheet=None,
                              model_key=None, model_kind="iforest", threshold=1.0, threshold_percentile=95.0, rows=count,
                              fingerprint_column="ref_id", tool_version="t", anomalies=[(j, None, f"k{j}", 1.0, ["a"]) for j in range(50)])
        print(i + 1, flush=True)
    """
)


def writer(path, tag, count):
    return subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path), tag, str(count)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=os.environ.copy(),
    )


@pytest.mark.slow
def test_two_processes_writing_at_once_lose_nothing(tmp_path):
    path = tmp_path / "s.sqlite3"
    ReviewStore(path).conn.close()
    procs = [writer(path, tag, 120) for tag in ("app", "detect")]
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        assert out.split()[-1] == "120"
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert dict(conn.execute("SELECT note, count(*) FROM verdicts GROUP BY note").fetchall()) == {"app": 120, "detect": 120}
        assert conn.execute("SELECT count(*) FROM runs").fetchone()[0] == 24
        assert conn.execute("SELECT count(*) FROM run_anomalies").fetchone()[0] == 24 * 50


@pytest.mark.slow
def test_a_writer_killed_mid_write_loses_at_most_the_verdict_being_written(tmp_path):
    path = tmp_path / "s.sqlite3"
    proc = writer(path, "killed", 5_000)
    done = 0
    while done < 40:
        done = int(proc.stdout.readline())
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    store = ReviewStore(path)
    assert store.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    kept = store.conn.execute("SELECT count(*) FROM verdicts").fetchone()[0]
    # Everything reported as written is there; past that, only what was committed before the kill.
    assert kept >= done
    assert store.notes == []


# -- fingerprints -----------------------------------------------------------------------------


def test_with_an_id_column_verdicts_follow_the_ids_through_a_shuffle_and_next_month(tmp_path, table):
    store = ReviewStore(tmp_path / "s.sqlite3")
    fp = Fingerprinter.for_frame(table)
    assert fp.id_column == "order_id"
    reviewed = {5: "confirmed", 17: "dismissed", 33: "expected"}
    for row, verdict in reviewed.items():
        review.set_verdicts(store, table, [row], verdict)
    wanted = {table.loc[r, "order_id"]: v for r, v in reviewed.items()}

    shuffled = table.sample(frac=1, random_state=3).reset_index(drop=True)[list(reversed(table.columns))]
    state = review.review_state(store, shuffled)
    assert {shuffled.loc[r, "order_id"]: v.verdict for r, v in state.verdicts.items()} == wanted

    # Next month: other values in every other column, new rows, some rows gone.
    month, _ = mixed_table(300, seed=9)
    month = pd.concat([month.iloc[250:].assign(order_id=[f"NEW-{i}" for i in range(50)]), month.iloc[:250]], ignore_index=True)
    month = month.drop(index=[0, 1, 2]).reset_index(drop=True)
    state = review.review_state(store, month)
    assert {month.loc[r, "order_id"]: v.verdict for r, v in state.verdicts.items()} == wanted
    assert state.unmatched == 0


def test_without_an_id_column_the_content_names_the_row_in_any_order_and_format(tmp_path):
    frame = pd.DataFrame({
        "segment": ["a", "b", "c", "a"] * 25,
        "amount": [float(i) for i in range(100)],
        "when": pd.date_range("2026-01-01", periods=100, freq="D"),
        "exported": ["2026-02-01"] * 100,  # a constant: not model-relevant, may change per export
    })
    fp = Fingerprinter.for_frame(frame)
    assert fp.id_column is None and "exported" not in fp.content_columns
    store = ReviewStore(tmp_path / "s.sqlite3")
    review.set_verdicts(store, frame, [10, 11], "dismissed")
    # The same rows as a CSV would give them: whole numbers as int, dates as text, shuffled,
    # columns reordered, another export day.
    copy = frame.sample(frac=1, random_state=1).reset_index(drop=True)
    copy = copy.assign(amount=copy["amount"].astype(int), when=copy["when"].dt.strftime("%Y-%m-%d"), exported="2026-03-01")
    copy = copy[["exported", "when", "amount", "segment"]]
    state = review.review_state(store, copy)
    assert sorted(copy.loc[list(state.verdicts), "amount"]) == [10, 11]


def test_a_bare_running_number_does_not_name_rows_but_an_id_named_one_does():
    frame = pd.DataFrame({"line": range(1, 201), "amount": np.linspace(0, 1, 200), "kind": ["x", "y"] * 100})
    assert Fingerprinter.for_frame(frame).id_column is None
    assert Fingerprinter.for_frame(frame.rename(columns={"line": "invoice_no"})).id_column == "invoice_no"


def test_canonical_cells_agree_across_readers():
    assert canonical(5) == canonical(5.0) == canonical(np.int64(5)) == "5"
    assert canonical(pd.Timestamp("2026-01-05")) == canonical("2026-01-05 ") == "2026-01-05"
    assert canonical(None) == canonical(float("nan")) == canonical(pd.NaT) == ""
    assert canonical(True) == "true" and canonical(2.5) == "2.5"


# -- scopes and undo --------------------------------------------------------------------------


def test_a_suppression_covers_every_row_with_the_value_until_its_last_day(tmp_path, table):
    store = ReviewStore(tmp_path / "s.sqlite3")
    north = table.index[table["segment"] == "north"].tolist()
    review.set_verdicts(store, table, [north[0]], "expected", note="known", suppress_column="segment", until="2999-01-31")
    state = review.review_state(store, table)
    assert set(state.suppressed) == set(north[1:]) and list(state.verdicts) == [north[0]]
    other = state.review_of(north[1])
    assert other.verdict == "expected" and other.note == "known" and other.hides
    assert other.scope.to_json() == {"column": "segment", "value": "north", "until": "2999-01-31"}
    assert state.labels() == {north[0]: -1}  # the scope hides rows; only verdicts teach the ranking
    dataset = state.fingerprinter.dataset
    assert review.active_scopes(store, dataset, on="2999-01-31") and not review.active_scopes(store, dataset, on="2999-02-01")


def test_clearing_a_verdict_takes_back_its_suppression(tmp_path, table):
    store = ReviewStore(tmp_path / "s.sqlite3")
    review.set_verdicts(store, table, [33], "dismissed", suppress_column="segment")
    review.set_verdicts(store, table, [5], "confirmed")
    assert review.clear_verdicts(store, table, [33, 40]) == 1
    state = review.review_state(store, table)
    assert list(state.verdicts) == [5] and state.suppressed == {}
    # The history is kept: three events and the clearing.
    assert verdict_count(tmp_path / "s.sqlite3") == 3


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"verdict": "maybe"}, "a verdict is one of"),
        ({"rows": [300]}, "row 300 is not in the table (300 rows: row_index 0-299)"),
        ({"verdict": "confirmed", "suppress_column": "segment"}, "only a dismissed or expected verdict"),
        ({"suppress_column": "nope"}, "no column 'nope'"),
        ({"until": "2027-02-30", "suppress_column": "segment"}, "not a date"),
        ({"until": "2027-02-01"}, "name the column to suppress by"),
    ],
)
def test_bad_verdicts_are_refused_in_words(tmp_path, table, kwargs, message):
    options = {"rows": [1], "verdict": "dismissed", **kwargs}
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        review.set_verdicts(ReviewStore(tmp_path / "s.sqlite3"), table, options.pop("rows"), options.pop("verdict"), **options)
    assert not (tmp_path / "s.sqlite3").exists() or verdict_count(tmp_path / "s.sqlite3") == 0


def test_runs_list_counts_reviewed_and_new(tmp_path):
    store = ReviewStore(tmp_path / "s.sqlite3")
    common = dict(origin="detect", file_name="f.csv", path="/f.csv", sha256="0" * 64, sheet=None, model_key="k", model_kind="auto",
                  threshold=1.0, threshold_percentile=95.0, rows=10, fingerprint_column=None, tool_version="t")
    first = review.record_run(store, dataset="d", anomalies=[(0, 2, "a", 3.0, ["x"]), (1, 3, "b", 2.0, ["y"])], **common)
    second = review.record_run(store, dataset="d", anomalies=[(0, 2, "a", 3.0, ["x"]), (4, 6, "c", 2.5, ["z"])], **common)
    store.conn.execute(
        "INSERT INTO verdicts (dataset, fingerprint, content, verdict, created) VALUES ('d', 'a', 'a', 'confirmed', 'now')"
    )
    runs = review.list_runs(store)
    assert [(r.id, r.anomaly_count, r.reviewed, r.new) for r in runs] == [(second, 2, 1, 1), (first, 2, 1, None)]
    summary, anomalies = review.get_run(store, second)
    assert summary.id == second and [a["fingerprint"] for a in anomalies] == ["a", "c"]
    assert anomalies[0]["review"]["verdict"] == "confirmed" and anomalies[1]["review"] is None
    with pytest.raises(StoreError, match="no run 99"):
        review.get_run(store, 99)


# -- a session: what the app does with one run --------------------------------------------------


def test_a_session_takes_verdicts_in_at_once_and_ranks_from_the_models_scores(tmp_path, monkeypatch):
    from tui_detector.core import feedback
    from tui_detector.core.pipeline import DetectionSettings, run_detection
    from tui_detector.core.store.session import ReviewSession

    frame, _ = mixed_table(300)
    path = tmp_path / "t.csv"
    frame.to_csv(path, index=False)
    run = run_detection(path, DetectionSettings(model="iforest", use_cache=False))
    model_scores = run.detection.scores.copy()
    seen = []
    monkeypatch.setattr(feedback, "rerank", lambda parts, scores, labels: seen.append(dict(labels)) or scores * 2)

    session = ReviewSession(run, store=ReviewStore(tmp_path / "s.sqlite3"))
    assert session.feedback == "no verdicts" and seen == [] and np.array_equal(run.detection.scores, model_scores)
    north = int(np.flatnonzero(frame["segment"] == "north")[0])
    session.set_verdict([3], "confirmed")
    session.set_verdict([north], "dismissed", suppress_column="segment")
    session.apply_ranking(run)
    assert seen[-1] == {3: 1, north: -1} and session.feedback == "applied"
    reviewed = session.state.reviewed(len(model_scores))
    assert reviewed.sum() == 1 + int((frame["segment"] == "north").sum())
    # Started from the model's scores every time, reviewed rows untouched.
    assert np.array_equal(run.detection.scores[reviewed], model_scores[reviewed])
    assert np.array_equal(run.detection.scores[~reviewed], 2 * model_scores[~reviewed])
    session.apply_ranking(run)
    assert np.array_equal(run.detection.scores[~reviewed], 2 * model_scores[~reviewed])

    assert session.clear_verdict([north]) == 1
    assert session.state.suppressed == {} and list(session.state.verdicts) == [3]
    # What the session holds is what the store says.
    again = review.review_state(session.store, frame)
    assert list(again.verdicts) == [3] and again.suppressed == {}


@pytest.mark.parametrize(
    "cells",
    [
        [" C1 ", "C2", "c3\t"],  # text only: the shortcut
        ["a", None, " b", float("nan")],
        pd.array(["x", pd.NA, " y "], dtype="string"),
        [1, 2.0, 2.5, None],
        [pd.Timestamp("2026-11-01"), pd.Timestamp("2026-11-01 09:30"), pd.NaT],
        [],
    ],
)
def test_a_column_in_canonical_form_is_each_cell_in_canonical_form(cells):
    from tui_detector.core.store.fingerprint import canonical, canonical_column  # noqa: PLC0415

    series = pd.Series(cells, dtype=object) if isinstance(cells, list) else pd.Series(cells)
    assert list(canonical_column(series)) == [canonical(v) for v in series.tolist()]
