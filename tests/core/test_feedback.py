"""Verdicts re-rank the rows: confirmed patterns rise, dismissed ones leave the top, nothing
moves without a verdict, and the same verdicts always give the same order."""

from __future__ import annotations

import numpy as np
import pytest

from tui_detector.core.feedback import EMBEDDING_WIDTH, NEAREST_MIN, NEAREST_SHARE, feedback_parts, rerank

ROWS = 1000
#: A pattern as many rows as one verdict reaches (see feedback.NEAREST_SHARE).
COPIES = max(NEAREST_MIN, int(NEAREST_SHARE * ROWS))
TOP = 50  # the top 5% of the list: what an analyst reads


class Table:
    """A synthetic scored table: a normal bulk; pattern A (tight copies, scored just below the
    top); pattern B (tight copies, scored at the very top); C, lone anomalies far apart, also at
    the top. parts = the score and the row's features, as a detection gives them."""

    def __init__(self) -> None:
        rng = np.random.default_rng(3)
        bulk = ROWS - 3 * COPIES
        a = np.array([4.0, 4, 0, 0, 0, 0]) + rng.normal(scale=0.1, size=(COPIES, 6))
        b = np.array([-4.0, 0, 4, 0, 0, 0]) + rng.normal(scale=0.1, size=(COPIES, 6))
        c = rng.normal(size=(COPIES, 6))
        c *= 7 / np.linalg.norm(c, axis=1, keepdims=True)
        self.features = np.vstack([rng.normal(size=(bulk, 6)), a, b, c])
        self.scores = np.concatenate(
            [
                rng.gamma(2.0, 0.3, bulk),
                rng.uniform(1.2, 1.5, COPIES),
                rng.uniform(3.0, 3.5, COPIES),
                rng.uniform(2.5, 3.2, COPIES),
            ]
        )
        self.parts = np.column_stack([self.scores, self.features])
        self.bulk = np.arange(bulk)
        self.a = np.arange(bulk, bulk + COPIES)
        self.b = np.arange(bulk + COPIES, bulk + 2 * COPIES)
        self.c = np.arange(bulk + 2 * COPIES, ROWS)


def top_rows(scores: np.ndarray, k: int = TOP) -> set[int]:
    return set(np.lexsort((np.arange(scores.size), -scores))[:k].tolist())


@pytest.fixture(scope="module")
def table() -> Table:
    return Table()


def test_the_synthetic_table_starts_with_b_and_c_on_top_and_a_below(table):
    top = top_rows(table.scores)
    assert set(table.b) | set(table.c) <= top
    assert not set(table.a) & top


# -- no verdicts, same verdicts ------------------------------------------------------------------


def test_no_verdicts_give_exactly_the_detector_scores(table):
    out = rerank(table.parts, table.scores, {})
    assert np.array_equal(out, table.scores)
    out[0] = -1.0  # a new array: the caller's scores are not touched through it
    assert table.scores[0] != -1.0


def test_the_same_verdicts_give_the_same_scores_whatever_their_order(table):
    labels = {int(table.a[0]): 1, int(table.b[0]): -1, 5: -1, int(table.c[2]): 1}
    first = rerank(table.parts, table.scores, labels)
    again = rerank(table.parts.copy(), table.scores.copy(), dict(reversed(list(labels.items()))))
    assert np.array_equal(first, again)


def test_rerank_leaves_its_inputs_alone(table):
    parts, scores = table.parts.copy(), table.scores.copy()
    rerank(parts, scores, {int(table.a[0]): 1, int(table.b[0]): -1})
    assert np.array_equal(parts, table.parts) and np.array_equal(scores, table.scores)


# -- what a verdict does -------------------------------------------------------------------------


def test_confirming_one_row_of_a_pattern_lifts_its_copies_into_the_top(table):
    confirmed = int(table.a[0])
    out = rerank(table.parts, table.scores, {confirmed: 1})
    copies = table.a[1:]
    assert np.all(out[copies] > table.scores[copies])
    assert set(copies) <= top_rows(out)
    # They now outrank every row of the normal bulk.
    assert out[copies].min() > out[table.bulk].max()


def test_dismissing_one_row_of_a_pattern_takes_its_copies_off_the_top(table):
    dismissed = int(table.b[0])
    out = rerank(table.parts, table.scores, {dismissed: -1})
    copies = table.b[1:]
    assert np.all(out[copies] < table.scores[copies])
    assert not set(copies) & top_rows(out)
    # The other anomalies at the top stay there: the dismissal was about B only.
    assert set(table.c) <= top_rows(out)
    assert out[table.c].min() > out[copies].max()


@pytest.mark.parametrize("verdict", [1, -1])
def test_a_verdict_on_a_lone_anomaly_leaves_the_other_anomalies_on_top(table, verdict):
    judged = int(table.c[0])
    out = rerank(table.parts, table.scores, {judged: verdict})
    others = (set(table.b) | set(table.c)) - {judged}
    assert others <= top_rows(out)


def test_confirmed_and_dismissed_patterns_together(table):
    out = rerank(table.parts, table.scores, {int(table.a[0]): 1, int(table.b[0]): -1})
    top = top_rows(out)
    assert set(table.a[1:]) <= top
    assert not set(table.b[1:]) & top


# -- shapes and edge cases -----------------------------------------------------------------------


@pytest.mark.parametrize("verdict", [1, -1])
def test_verdicts_all_of_one_kind(table, verdict):
    labels = {int(r): verdict for r in (*table.a[:2], *table.b[:2], *table.c[:2], 7, 8)}
    out = rerank(table.parts, table.scores, labels)
    assert out.shape == table.scores.shape and out.dtype == np.float64
    assert np.all(np.isfinite(out))


def test_a_verdict_on_every_row(table):
    labels = {i: (1 if i in set(table.c) else -1) for i in range(ROWS)}
    out = rerank(table.parts, table.scores, labels)
    assert out.shape == (ROWS,) and np.all(np.isfinite(out))
    # Every row was judged: the confirmed ones end above the dismissed ones.
    assert out[table.c].min() > np.delete(out, table.c).max()


@pytest.mark.parametrize("n", [1, 2, 3, 7])
def test_tiny_tables(n):
    rng = np.random.default_rng(n)
    scores = rng.random(n)
    parts = rng.normal(size=(n, 3))
    for labels in ({0: 1}, {0: -1}, {i: (1 if i % 2 else -1) for i in range(n)}):
        out = rerank(parts, scores, labels)
        assert out.shape == (n,) and np.all(np.isfinite(out))


def test_constant_and_duplicate_features_and_no_features():
    scores = np.linspace(0.0, 1.0, 200)
    same = np.zeros((200, 4))
    out = rerank(same, scores, {199: -1})
    assert np.all(np.isfinite(out))
    # Every row is a copy of the dismissed one: all of them move together, the order stays.
    assert np.array_equal(np.argsort(out, kind="stable"), np.arange(200))
    assert np.all(np.isfinite(rerank(np.empty((200, 0)), scores, {199: 1, 3: -1})))


def test_parts_with_holes_do_not_break_the_scores(table):
    parts = table.parts.copy()
    parts[::7, 2] = np.nan
    parts[3, 1] = np.inf
    out = rerank(parts, table.scores, {int(table.a[0]): 1, int(table.b[0]): -1})
    assert np.all(np.isfinite(out))


@pytest.mark.parametrize(
    ("parts_shape", "scores_shape", "labels", "message"),
    [
        ((10, 3), (10,), {10: 1}, "outside the table"),
        ((10, 3), (10,), {-1: 1}, "outside the table"),
        ((10, 3), (10,), {2: 0}, r"must be \+1 or -1"),
        ((10, 3), (10,), {2: 2}, r"must be \+1 or -1"),
        ((9, 3), (10,), {2: 1}, "one row per score"),
        ((10,), (10,), {2: 1}, "one row per score"),
        ((10, 3), (10, 1), {2: 1}, "one score per row"),
    ],
)
def test_bad_input_is_refused_with_a_reason(parts_shape, scores_shape, labels, message):
    with pytest.raises(ValueError, match=message):
        rerank(np.zeros(parts_shape), np.zeros(scores_shape), labels)


# -- what a detection carries --------------------------------------------------------------------


def test_feedback_parts_shape_and_projection_width():
    rng = np.random.default_rng(0)
    narrow = feedback_parts(rng.normal(size=(50, 4)), rng.normal(size=(50, 6)))
    assert narrow.shape == (50, 4 + 6) and narrow.dtype == np.float32
    scores, matrix = rng.normal(size=50), rng.normal(size=(50, 40))
    wide = feedback_parts(scores, matrix)
    assert wide.shape == (50, 1 + EMBEDDING_WIDTH)
    assert np.array_equal(wide, feedback_parts(scores.copy(), matrix.copy()))


def test_the_projection_keeps_the_rows_apart_that_were_apart():
    # Two groups far apart in 40 features stay far apart in the 16 kept.
    rng = np.random.default_rng(1)
    matrix = rng.normal(scale=0.2, size=(400, 40))
    matrix[:200, :20] += 2.0
    projected = feedback_parts(np.zeros(400), matrix)[:, 1:]
    within = np.linalg.norm(projected[:200] - projected[:200].mean(axis=0), axis=1).mean()
    between = np.linalg.norm(projected[:200].mean(axis=0) - projected[200:].mean(axis=0))
    assert between > 5 * within


def test_a_detection_carries_the_ensembles_standardised_parts(trained_auto, planted):
    frame, _ = planted
    detection = trained_auto.detect(frame)
    parts = detection.parts
    width = min(EMBEDDING_WIDTH, detection.matrix.shape[1])
    assert parts is not None and parts.shape == (len(frame), 4 + width)
    assert np.all(np.isfinite(parts))
    # The first four columns are what the score is made of (see EnsembleScorer.combine).
    autoencoder, forest, tails, neighbours = (parts[:, j].astype(np.float64) for j in range(4))
    combined = np.maximum(np.maximum(autoencoder, neighbours), np.minimum(forest, tails))
    np.testing.assert_allclose(combined, detection.scores, rtol=1e-5, atol=1e-5)
    # And the verdicts' entry point takes them as they come.
    assert np.array_equal(rerank(parts, detection.scores, {}), detection.scores)
    flagged = detection.anomaly_rows
    out = rerank(parts, detection.scores, {int(flagged[0]): -1, int(flagged[1]): 1})
    assert out.shape == detection.scores.shape and np.all(np.isfinite(out))


def test_a_forest_detection_carries_its_score_as_its_one_part(fitted, planted):
    frame, _ = planted
    detection = fitted.detect(frame)
    assert detection.parts is not None
    assert detection.parts.shape == (len(frame), 1 + min(EMBEDDING_WIDTH, detection.matrix.shape[1]))
    np.testing.assert_allclose(detection.parts[:, 0], detection.scores, rtol=1e-6)
    # A threshold change keeps them.
    assert detection.with_threshold(detection.cut).parts is detection.parts
