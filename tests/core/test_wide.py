"""The computations that made a wide table slow, rewritten: the same numbers as the plain way."""

from __future__ import annotations

import numpy as np
import pandas as pd

from tui_detector.core.model.network import DenseNetwork
from tui_detector.core.model.parts import (
    MODE_PRIOR,
    RESIDUAL_FLOOR,
    ModeScales,
    QuantileTails,
    mode_groups,
    mode_candidates,
)
from tui_detector.core.model.preprocess import TabularPreprocessor
from tui_detector.core.model.roles import _bool_series, profile_columns


def _table(rows: int = 400, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    kind = rng.integers(0, 3, rows)
    frame = pd.DataFrame({f"flag_{i}": (rng.random(rows) < 0.1 + 0.3 * (kind == i % 3)).astype(int) for i in range(12)})
    frame["shop"] = np.array(["north", "south", "east"])[kind]
    frame["amount"] = rng.normal(50 + 20 * kind, 5)
    frame["weight"] = rng.normal(3, 1, rows)
    return frame


def _reference_modes(preprocessor, matrix, squared, base):
    """ModeScales.fit as it was written first: every (column, candidate) pair in turn."""
    encoders = preprocessor.encoders
    candidates = mode_candidates(preprocessor)
    width = max([g for _, g in candidates], default=1)
    table = np.tile(base[:, None], (1, width))
    mode_column = np.full(len(encoders), -1, dtype=np.int64)
    groups = {j: mode_groups(preprocessor, matrix, j) for j, _ in candidates}
    log_base = np.log(base)
    for target, encoder in enumerate(encoders):
        lo, hi = encoder.start, encoder.stop
        errors = squared[:, lo:hi]
        single = np.mean(log_base[lo:hi] + errors / base[lo:hi], axis=0).sum()
        best = 0.0
        for j, n_groups in candidates:
            if j == target:
                continue
            g = groups[j]
            counts = np.bincount(g, minlength=n_groups).astype(np.float64)
            sums = np.stack([np.bincount(g, weights=errors[:, f], minlength=n_groups) for f in range(hi - lo)], axis=1)
            kinds = np.maximum((sums + MODE_PRIOR * base[lo:hi]) / (counts[:, None] + MODE_PRIOR), RESIDUAL_FLOOR)
            per_row = kinds[g]
            gain = single - np.mean(np.log(per_row) + errors / per_row, axis=0).sum()
            if gain > best:
                best = gain
                mode_column[target] = j
                table[lo:hi] = base[lo:hi, None]
                table[lo:hi, :n_groups] = kinds.T
    return mode_column, table


def test_mode_scales_from_group_sums_match_the_pairwise_search():
    frame = _table()
    preprocessor = TabularPreprocessor(profile_columns(frame)).fit(frame)
    matrix, _ = preprocessor.transform(frame)
    rng = np.random.default_rng(1)
    # Errors that depend on the kind of row, so that some splits win.
    kind = frame["shop"].map({"north": 0, "south": 1, "east": 2}).to_numpy()
    squared = rng.chisquare(1, matrix.shape) * (1 + 3 * (kind[:, None] == 1))
    base = np.maximum(squared.mean(axis=0), RESIDUAL_FLOOR)
    fitted = ModeScales.fit(preprocessor, matrix, squared, base)
    mode_column, table = _reference_modes(preprocessor, matrix, squared, base)
    assert (fitted.mode_column >= 0).sum() > 3  # the case exercises splits, not only "none"
    np.testing.assert_array_equal(fitted.mode_column, mode_column)
    np.testing.assert_allclose(fitted.table, table, rtol=1e-12, atol=0)


def test_quantile_grid_is_numpys_to_the_bit():
    rng = np.random.default_rng(2)
    for shape in [(2000, 40), (7, 3), (1, 4), (3001, 2)]:
        values = rng.normal(size=shape) ** 3
        values[:, 0] = np.round(values[:, 0])  # ties
        np.testing.assert_array_equal(
            QuantileTails.fit(values).quantiles, np.quantile(values, QuantileTails.GRID, axis=0)
        )


def test_masked_reconstruction_skips_only_blocks_already_blank():
    rng = np.random.default_rng(3)
    shapes = [(30, 16), (16, 8), (8, 4), (4, 8), (8, 16), (16, 30)]
    weights = [rng.normal(scale=0.3, size=s).astype(np.float32) for s in shapes]
    biases = [rng.normal(scale=0.1, size=s[1]).astype(np.float32) for s in shapes]
    network = DenseNetwork(weights, biases, ["relu"] * 5 + ["linear"])
    x = rng.normal(size=(500, 30)).astype(np.float32)
    x[:, :20] = (rng.random((500, 20)) < 0.2).astype(np.float32)  # yes/no flags, mostly no
    x[::7, 25:30] = 0.0  # a block blank on some rows
    blocks = [(i, i + 1) for i in range(25)] + [(25, 30)]
    got = network.masked_reconstruction(x, blocks)
    for lo, hi in blocks:
        blanked = x.copy()
        blanked[:, lo:hi] = 0.0
        np.testing.assert_allclose(got[:, lo:hi], network.forward(blanked)[:, lo:hi], rtol=1e-5, atol=1e-5)


def test_a_column_of_zeros_and_ones_is_yes_no_with_its_blanks_kept():
    series = pd.Series([0, 1, 1, None, 0], dtype="float64", name="flag")
    flags = _bool_series(series)
    assert flags.dtype == "boolean" and flags.name == "flag"
    assert flags.tolist() == [False, True, True, pd.NA, False]
