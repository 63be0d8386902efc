"""The neighbour distance score: its fast selection of the nearest reference rows gives the
very values a full sort would, duplicates and ties included."""

from __future__ import annotations

import numpy as np
import pytest

from tui_detector.core.model.parts import NeighbourModel, _smallest


def _plain_score(model: NeighbourModel, rows: np.ndarray) -> np.ndarray:
    """The score with every distance of a row sorted, from the same matrix product."""
    ref = model.reference
    k = max(1, min(model.k, ref.shape[0] - 1))
    x = rows.astype(np.float32)
    x_sq = np.einsum("ij,ij->i", x, x)
    against = np.hstack([-2.0 * ref, np.einsum("ij,ij->i", ref, ref)[:, None]]).T
    d2 = np.hstack([x, np.ones((len(x), 1), np.float32)]) @ against + x_sq[:, None]
    near = np.sort(np.maximum(d2, 0.0), axis=1)[:, : k + 1]
    self_match = near[:, 0] <= 1e-5 * (1.0 + x_sq)
    picked = np.where(self_match[:, None], near[:, 1 : k + 1], near[:, :k])
    return np.sqrt(picked).mean(axis=1)


def _exact_score(model: NeighbourModel, rows: np.ndarray) -> np.ndarray:
    """The mean distance to the k nearest reference rows, in float64, skipping one exact copy."""
    ref = model.reference.astype(np.float64)
    d = np.sqrt(((rows[:, None, :].astype(np.float32).astype(np.float64) - ref[None]) ** 2).sum(axis=2))
    d.sort(axis=1)
    k = model.k
    return np.where(d[:, 0] == 0.0, d[:, 1 : k + 1].mean(axis=1), d[:, :k].mean(axis=1))


@pytest.mark.parametrize("width", [2048, 1024, 300, 12])
def test_smallest_holds_the_same_values_as_a_full_partition(width):
    rng = np.random.default_rng(width)
    # Few distinct values, so most rows have many ties at their smallest distances.
    d2 = rng.integers(0, 40, size=(600, width)).astype(np.float32)
    d2[::7] = rng.normal(size=(len(d2[::7]), width)).astype(np.float32)
    take = min(11, width)
    got = np.sort(_smallest(d2, take), axis=1)
    want = np.sort(d2, axis=1)[:, :take]
    assert np.array_equal(got, want)


def test_a_table_full_of_duplicate_rows_scores_as_with_every_distance_sorted():
    rng = np.random.default_rng(3)
    # An export with many identical rows: the nearest neighbours are exact ties at distance 0.
    base = rng.normal(size=(40, 6))
    rows = base[rng.integers(0, 40, size=5000)]
    rows[::50] += rng.normal(scale=3.0, size=(len(rows[::50]), 6))
    model = NeighbourModel.fit(rows, seed=0)
    assert model.reference.shape[0] == 2048
    assert np.array_equal(model.score(rows), _plain_score(model, rows))
    # A training row matches itself once and is skipped; an exact copy of a reference row
    # outside the table is skipped the same way.
    assert np.array_equal(model.score(model.reference[:5]), _plain_score(model, model.reference[:5]))


def test_the_score_is_the_mean_distance_to_the_nearest_reference_rows():
    rng = np.random.default_rng(6)
    rows = np.clip(rng.normal(size=(3000, 12)) * 2, -5, 5)
    model = NeighbourModel.fit(rows, seed=1)
    some = np.vstack([rows[:300], rng.normal(size=(100, 12)) * 4])
    # float32 distances: about 1e-6 of a row's squared length off at worst
    assert np.allclose(model.score(some), _exact_score(model, some), rtol=1e-4, atol=1e-3)


def test_a_small_table_scores_the_same_through_the_plain_partition():
    rng = np.random.default_rng(4)
    rows = rng.normal(size=(700, 5))
    model = NeighbourModel.fit(rows, seed=0)
    assert model.reference.shape[0] == 700
    assert np.array_equal(model.score(rows), _plain_score(model, rows))
