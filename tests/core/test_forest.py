"""The forest's trees, walked by scikit-learn's compiled code or by NumPy, as loaded from a
model file: the same leaves either way, and a file whose arrays are not trees refused."""

from __future__ import annotations

import io

import numpy as np
import pytest

from tui_detector.core.model.forest import ForestArrays


@pytest.fixture(scope="module")
def forest_and_rows():
    rng = np.random.default_rng(5)
    fit = rng.normal(size=(3000, 6))
    forest = ForestArrays.fit(fit, n_estimators=40, seed=2)
    rows = rng.normal(size=(4000, 6))
    # Rows that sit exactly on split thresholds: the comparison's side must agree too.
    inner = forest.left[0] != -1
    rows[:50, forest.feature[0][inner][0]] = forest.threshold[0][inner][0]
    return forest, rows


def _walked_in_numpy(forest: ForestArrays, rows: np.ndarray) -> np.ndarray:
    plain = ForestArrays(forest.left, forest.right, forest.feature, forest.threshold,
                         forest.leaf_length, forest.max_samples, forest.max_depth)
    plain._trees = []  # no compiled trees: the NumPy walk
    return plain.score(rows)


def test_compiled_trees_and_the_numpy_walk_give_the_same_scores(forest_and_rows):
    forest, rows = forest_and_rows
    assert forest._compiled() is not None
    assert np.array_equal(forest.score(rows), _walked_in_numpy(forest, rows))


def test_a_saved_forest_scores_the_same_bits_once_loaded(forest_and_rows):
    forest, rows = forest_and_rows
    loaded = ForestArrays.from_npz(io.BytesIO(forest.to_npz_bytes()))
    assert np.array_equal(loaded.score(rows), forest.score(rows))


def _saved_with(forest: ForestArrays, **arrays) -> io.BytesIO:
    buffer = io.BytesIO()
    base = dict(left=forest.left, right=forest.right, feature=forest.feature,
                threshold=forest.threshold, leaf_length=forest.leaf_length,
                meta=np.array([forest.max_samples, forest.max_depth]))
    base.update(arrays)
    np.savez(buffer, **base)
    buffer.seek(0)
    return buffer


def test_a_model_file_whose_tree_loops_back_is_refused(forest_and_rows):
    forest, _ = forest_and_rows
    left = forest.left.copy()
    node = int(np.flatnonzero(left[0] > 0)[1])
    left[0, node] = 0  # points back at the root: a walk would never end
    with pytest.raises(ValueError, match="not trees"):
        ForestArrays.from_npz(_saved_with(forest, left=left))


def test_a_model_file_with_a_half_leaf_is_refused(forest_and_rows):
    forest, _ = forest_and_rows
    right = forest.right.copy()
    right[0, 0] = -1  # the root with a left child and no right one
    with pytest.raises(ValueError, match="not trees"):
        ForestArrays.from_npz(_saved_with(forest, right=right))


def test_rows_narrower_than_the_forest_are_an_error_not_a_read_past_them(forest_and_rows):
    forest, rows = forest_and_rows
    with pytest.raises(ValueError, match="outside the 3"):
        forest.score(rows[:, :3])
