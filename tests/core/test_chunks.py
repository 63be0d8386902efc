"""Scoring every row on several threads: the same scores as one, cancel and progress as before."""

from __future__ import annotations

import math
import threading

import numpy as np
import pytest

from tui_detector.core.model import chunks, sizing
from tui_detector.core.model.progress import TrainingCancelled


def test_every_row_is_scored_once_and_progress_counts_rows_in_order(monkeypatch):
    monkeypatch.setattr(sizing, "SCORE_CHUNK", 20)
    seen = np.zeros(1_005, dtype=int)
    callers: set[int] = set()

    def score(span: slice) -> None:
        callers.add(threading.get_ident())
        seen[span] += 1

    heard: list[tuple[int, int]] = []
    chunks.in_chunks(1_005, score, on_scored=lambda done, total: heard.append((done, total)), workers=2)
    assert (seen == 1).all()
    # The same spans as one worker's; "n rows scored" always means the first n.
    assert heard == [(min(k, 1_005), 1_005) for k in range(20, 1_025, 20)]
    assert threading.get_ident() not in callers


def test_a_cancel_starts_no_further_chunk_and_finishes_none_it_did_not_start(monkeypatch):
    monkeypatch.setattr(sizing, "SCORE_CHUNK", 20)
    started: list[int] = []
    gate = threading.Event()

    def score(span: slice) -> None:
        started.append(span.start)
        gate.wait(5)

    asked = []

    def should_stop() -> bool:
        asked.append(1)
        if len(asked) > 3:
            gate.set()
            return True
        return False

    with pytest.raises(TrainingCancelled):
        chunks.in_chunks(10_000, score, should_stop=should_stop, workers=2)
    # The two chunks running when the cancel came were let finish; the other 498 never began.
    assert len(started) <= 4
    # The cancel check ran on the caller's thread only.
    assert asked


def test_a_failure_in_a_chunk_reaches_the_caller(monkeypatch):
    monkeypatch.setattr(sizing, "SCORE_CHUNK", 20)

    def score(span: slice) -> None:
        if span.start == 40:
            raise MemoryError("no room for the distances")

    with pytest.raises(MemoryError, match="no room"):
        chunks.in_chunks(200, score, workers=2)


def test_small_tables_are_scored_on_the_caller_thread():
    assert chunks.score_workers(chunks.PARALLEL_ROWS - 1) == 1
    assert chunks.score_workers(10**9) >= 1
    callers: set[int] = set()
    chunks.in_chunks(100, lambda span: callers.add(threading.get_ident()))
    assert callers == {threading.get_ident()}


@pytest.mark.slow
def test_scores_on_two_threads_are_the_scores_on_one(planted, monkeypatch):
    """The whole ensemble, fitted on a sample and then scoring every row: the scores and the
    explanations do not depend on how many threads scored them."""
    from tui_detector import TabularAnomalyDetector

    frame, _ = planted
    monkeypatch.setattr(sizing, "FIT_ROWS", 100)
    monkeypatch.setattr(sizing, "SCORE_CHUNK", 64)
    results = []
    for workers in (1, 2):
        monkeypatch.setattr(chunks, "score_workers", lambda rows, w=workers: w)
        detector = TabularAnomalyDetector(random_state=3)
        detector.train(frame, epochs=2)
        shuffled = frame.sample(frac=1.0, random_state=1).reset_index(drop=True)
        detection = detector.detect(shuffled)
        top = np.argsort(-detection.scores)[:200]  # explained in spans of 32 rows too
        results.append((detection.scores, detector.explain(shuffled, detection, top)))
    (one, explained_one), (two, explained_two) = results
    np.testing.assert_array_equal(one, two)
    # The same columns named in the same order with the same values; a contribution may differ
    # in its ninth digit (float32 products over batches of another size round alike only so far).
    assert _alike(explained_one, explained_two)


def _alike(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-9)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_alike(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_alike(x, y) for x, y in zip(a, b, strict=True))
    return a == b


def test_a_head_start_scores_spans_from_the_end_and_hands_over_the_rest():
    head = chunks.HeadStart(100, chunk=10)
    scored: list[int] = []
    # The caller claims the first spans before the thread ahead starts: it stops at them.
    assert head.claim(slice(0, 10)) is False
    assert head.claim(slice(10, 20)) is False
    assert head.run(lambda span: scored.append(span.start)) == 8
    assert scored == [90, 80, 70, 60, 50, 40, 30, 20]
    assert all(head.claim(slice(s, s + 10)) for s in scored)


def test_a_stopped_head_start_leaves_every_span_to_the_caller():
    head = chunks.HeadStart(50, chunk=10)
    head.stop()
    assert head.run(lambda span: None) == 0
    assert not any(head.claim(slice(s, s + 10)) for s in range(0, 50, 10))


def test_a_span_that_failed_ahead_is_the_callers_again():
    head = chunks.HeadStart(30, chunk=10)

    def fail(span):
        raise MemoryError

    with pytest.raises(MemoryError):
        head.run(fail)
    assert head.claim(slice(20, 30)) is False


@pytest.mark.slow
def test_the_training_tables_scores_do_not_depend_on_what_was_scored_ahead(planted, monkeypatch):
    """Training on a sample, the forest, tails and neighbour parts of every row are scored from
    the table's end while the network trains; scoring every row takes over where that got to.
    Nothing scored ahead, everything, or whatever the race left: the same scores."""
    from tui_detector import TabularAnomalyDetector
    from tui_detector.core.model import ensemble

    frame, _ = planted
    monkeypatch.setattr(sizing, "FIT_ROWS", 100)
    monkeypatch.setattr(sizing, "SCORE_CHUNK", 64)
    real_score, real_parts_of = ensemble._Ahead.score, ensemble.EnsembleScorer.parts_of
    counted: dict[str, int] = {}

    def nothing_ahead(self, *args):
        counted["nothing"] = 0

    def everything_ahead(self, *args):
        self.head.stop = lambda: None  # not stopped when training ends: it scores every span
        real_score(self, *args)
        counted["everything"] = sum(self.head.claim(span) for span in self.head.spans)

    def parts_after_ahead(self, *args, ahead=None, **kwargs):
        if ahead is not None and ahead.future is not None:
            ahead.future.result()  # let the thread ahead finish first
        return real_parts_of(self, *args, ahead=ahead, **kwargs)

    scores = []
    for how in ("race", "nothing", "everything"):
        with monkeypatch.context() as m:
            if how == "nothing":
                m.setattr(ensemble._Ahead, "score", nothing_ahead)
            elif how == "everything":
                m.setattr(ensemble._Ahead, "score", everything_ahead)
                m.setattr(ensemble.EnsembleScorer, "parts_of", parts_after_ahead)
            detector = TabularAnomalyDetector(random_state=3)
            detector.train(frame, epochs=2)
            scores.append(detector.score_samples(frame))
    assert counted == {"nothing": 0, "everything": -(-len(frame) // 64)}
    np.testing.assert_array_equal(scores[0], scores[1])
    np.testing.assert_array_equal(scores[0], scores[2])
