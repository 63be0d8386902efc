"""The pieces the "auto" ensemble is built from, each fitted on encoded rows and kept as arrays.

The autoencoder's per-column errors (``reconstruct``, ``column_residuals``) and their
yardsticks (``ModeScales``, ``QuantileTails.surprise``); the column tails
(``QuantileTails.score``) and the neighbour distances (``NeighbourModel``) on the same rows.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from .network import DenseNetwork
from .preprocess import ColumnEncoder, TabularPreprocessor
from .kinds import mode_candidates, mode_groups
from .relations import Relations
from .roles import Role

#: Scaled inputs are clipped here before the network sees them (see train_autoencoder).
INPUT_CLIP = 5.0
#: A feature's residual is measured against its usual training residual, floored here so a
#: feature the network reproduces almost exactly does not turn rounding noise into anomalies
#: (low enough that a one-hot slot or an entity feature that is always right counts when wrong).
RESIDUAL_FLOOR = 1e-3
#: A column's usual error may be measured per kind of row, the kinds being the values of one
#: yes/no or categorical column with at most this many groups (see ModeScales).
#: Pseudo-rows of the column's overall usual error mixed into each kind's own, so a kind seen
#: on a handful of rows keeps close to the column's yardstick.
MODE_PRIOR = 20.0
#: Neighbours averaged for the distance score, and the most reference rows kept for it.
KNN_K = 10
KNN_REFERENCE = 2048
#: The autoencoder's row score is the mean of its this-many worst columns, so one broken cell
#: is not averaged away over a wide table (and the score rests on the columns it names).
TOP_COLUMNS = 1


class QuantileTails:
    """Where values sit in each column's training distribution, kept as 1,001 quantiles per
    column so a model file does not hold the training rows.

    Two readings of the same grid:

    - :meth:`score`: how far into its column's tails each value sits (ECOD, Li et al. 2022): a
      feature's tail score is ``-log`` of the smaller of its left and right empirical tail
      probabilities; a row's score is the sum over features.
    - :meth:`surprise`: how unusual a (reconstruction) error is against that column's usual
      errors: ``-log`` of the share of training rows whose error was at least as large, up to the
      column's 99th percentile; past it, ``log(100)`` plus the log of the ratio to that
      percentile times the column's ``steepness`` (1 unless set, see :meth:`tail_steepness`), so
      the few worst cells of a column do not all tie (a cell 100x off outranks one 10x off). A
      yes/no column whose rare answer is always hard to reconstruct, or a noisy column, then
      counts as unusual only when its error is unusual *for it*.
    """

    GRID = np.linspace(0.0, 1.0, 1001)
    TOP = 990  # index of the 99th percentile in GRID
    #: Index of the 90th percentile in GRID: a tail's steepness is read from here to TOP.
    TAIL_START = 900
    #: The steepest tail extrapolated past the 99th percentile: a share of rows falling as
    #: 1/error^1.5. Past the data the rate is a guess: a column whose errors thin out fast
    #: between its 90th and 99th percentiles is not assumed to thin out faster still, and a
    #: number's large error does not outweigh a value never seen in a categorical column (whose
    #: bounded error keeps 1, see tail_steepness).
    STEEPEST = 1.5

    def __init__(self, quantiles: np.ndarray, rows: int, steepness: np.ndarray | None = None) -> None:
        self.quantiles = np.asarray(quantiles, dtype=np.float64)
        self.rows = int(rows)
        #: Per column, the power of the error the share of rows falls with past the 99th
        #: percentile (see surprise); 1 everywhere unless given.
        self.steepness = (
            np.ones(self.quantiles.shape[1] if self.quantiles.ndim == 2 else 0)
            if steepness is None else np.asarray(steepness, dtype=np.float64)
        )

    @classmethod
    def fit(cls, matrix: np.ndarray) -> QuantileTails:
        return cls(_quantile_grid(matrix, cls.GRID), matrix.shape[0])

    def per_feature(self, matrix: np.ndarray) -> np.ndarray:
        out = np.empty(matrix.shape, dtype=np.float64)
        size = self.quantiles.shape[0]
        floor = 1.0 / (self.rows + 1)
        for j in range(matrix.shape[1]):
            q = self.quantiles[:, j]
            below = np.searchsorted(q, matrix[:, j], side="right") / size
            above = (size - np.searchsorted(q, matrix[:, j], side="left")) / size
            out[:, j] = -np.log(np.maximum(np.minimum(below, above), floor))
        return out

    def score(self, matrix: np.ndarray) -> np.ndarray:
        return self.per_feature(matrix).sum(axis=1)

    def tail_steepness(self) -> np.ndarray:
        """Per column, how fast the share of training rows with an error at least this large
        falls between the 90th and 99th percentiles, as a power of the error (log 10 over the
        log of their ratio), between 1 and STEEPEST.

        The errors past the 99th percentile are few, so their surprise is extrapolated. Where a
        column's usual errors are tightly bunched (a nightly rate, a price per kilo), an error 6x
        its 99th percentile is far rarer than one 6x the 99th percentile of a column whose
        errors spread over decades, and its surprise should say so. 1 (the share falling as
        1/error) where the errors are heavy-tailed or mostly zero.
        """
        top = np.maximum(self.quantiles[self.TOP], 1e-12)
        start = self.quantiles[self.TAIL_START]
        with np.errstate(divide="ignore", invalid="ignore"):
            rate = math.log(10.0) / np.maximum(np.log(top / start), 1e-12)
        # Errors bunched at one value from the 90th to the 99th percentile: as steep as allowed.
        return np.where(start > 1e-12, np.clip(np.nan_to_num(rate, nan=1.0), 1.0, self.STEEPEST), 1.0)

    def surprise(self, per_column: np.ndarray) -> np.ndarray:
        out = np.empty(per_column.shape, dtype=np.float64)
        size = self.quantiles.shape[0]
        floor = 1.0 / (self.rows + 1)
        for j in range(per_column.shape[1]):
            q = self.quantiles[:, j]
            values = per_column[:, j]
            above = (size - np.searchsorted(q, values, side="left")) / size
            out[:, j] = -np.log(np.clip(above, floor, 1.0))
            top = max(q[self.TOP], 1e-12)
            beyond = values > top
            out[beyond, j] = math.log(100.0) + self.steepness[j] * np.log(values[beyond] / top)
        return out


def tail_steepness(preprocessor: TabularPreprocessor, error_tails: QuantileTails) -> np.ndarray:
    """Each column's steepness past its 99th percentile (see QuantileTails.tail_steepness) where
    its error can grow without bound: a number's or a date's distance from what was expected.
    A category or a yes/no answer is right or wrong, its error bounded by its width: the cells
    past its 99th percentile are its wrong ones, alike, and stay at 1."""
    unbounded = np.array([e.role in (Role.NUMERIC, Role.DATETIME) for e in preprocessor.encoders], dtype=bool)
    return np.where(unbounded, error_tails.tail_steepness(), 1.0)


class NeighbourModel:
    """Mean distance to the ``k`` nearest of a fixed sample of (clipped) training rows.

    The same row as a reference row is skipped once, so a training row scores the same whether
    it is scored while training or later from a saved model.
    """

    def __init__(self, reference: np.ndarray, k: int) -> None:
        self.reference = np.ascontiguousarray(reference, dtype=np.float32)
        self.k = int(k)

    @classmethod
    def fit(cls, clipped: np.ndarray, seed: int, k: int | None = None, size: int | None = None) -> NeighbourModel:
        k = KNN_K if k is None else k
        size = KNN_REFERENCE if size is None else size
        rows = clipped.shape[0]
        pick = np.sort(np.random.default_rng(seed).permutation(rows)[:size]) if rows > size else np.arange(rows)
        return cls(clipped[pick].astype(np.float32), k)

    def score(self, clipped: np.ndarray, chunk: int = 256) -> np.ndarray:
        # Small chunks keep the distance block (chunk x reference rows) in the CPU cache;
        # each row's distances are computed alike whatever the chunk.
        ref = self.reference
        k = max(1, min(self.k, ref.shape[0] - 1))
        # |r|^2 - 2 x.r comes out of one matrix product (x with a 1 appended, against -2r with
        # |r|^2 appended): the three passes over every distance that built it took as long as
        # the product. |x|^2 orders nothing within a row, so it is added to the nearest only.
        against = np.ascontiguousarray(np.hstack([-2.0 * ref, np.einsum("ij,ij->i", ref, ref)[:, None]]).T)
        take = min(k + 1, ref.shape[0])
        out = np.empty(clipped.shape[0], dtype=np.float64)
        x = np.empty((min(chunk, clipped.shape[0]), ref.shape[1] + 1), dtype=np.float32)
        for start in range(0, clipped.shape[0], chunk):
            rows = min(chunk, clipped.shape[0] - start)
            x[:rows, :-1] = clipped[start : start + rows]
            x[:rows, -1] = 1.0
            part = x[:rows, :-1]
            x_sq = np.einsum("ij,ij->i", part, part)
            near = _smallest(x[:rows] @ against, take)
            near += x_sq[:, None]
            near = np.sort(np.maximum(near, 0.0), axis=1)
            # float32 rounding leaves ~1e-7 of |x|^2 where the distance is exactly zero
            self_match = near[:, 0] <= 1e-5 * (1.0 + x_sq)
            picked = np.where(self_match[:, None], near[:, 1 : k + 1], near[:, :k]) if take > k else near[:, :k]
            out[start : start + chunk] = np.sqrt(picked).mean(axis=1)
        return out


#: Reference columns are split into this many interleaved blocks for :func:`_smallest`.
_SELECT_BLOCKS = 128


def _smallest(d2: np.ndarray, take: int) -> np.ndarray:
    """The ``take`` smallest values of each row of ``d2`` (in no order), the same values
    ``np.partition(d2, take - 1, axis=1)[:, :take]`` holds.

    A row's ``take`` smallest values all lie in the ``take`` blocks whose minimum is smallest:
    a value in any other block has ``take`` block minima, one per block, at or below it. So
    only those blocks (here 11 of 128, 16 columns each) are partitioned, and the block minima
    are taken column-interleaved, an elementwise minimum of contiguous runs that vectorises.
    Partitioning all 2,048 distances of every row cost ~4x as much on a million rows.
    Ties change which copies are picked, never the values, so the scores are the same bits.
    """
    n, width = d2.shape
    blocks = _SELECT_BLOCKS
    if width % blocks or width // blocks < 2 or blocks < 4 * take:
        return np.partition(d2, take - 1, axis=1)[:, :take]
    grid = d2.reshape(n, width // blocks, blocks)
    best = np.argpartition(grid.min(axis=1), take - 1, axis=1)[:, :take]
    candidates = np.take_along_axis(grid, best[:, None, :], axis=2).reshape(n, -1)
    return np.partition(candidates, take - 1, axis=1)[:, :take]


def blocks(preprocessor: TabularPreprocessor) -> list[tuple[int, int]]:
    return [(e.start, e.stop) for e in preprocessor.encoders]


def _entity_features(preprocessor: TabularPreprocessor) -> list[tuple[int, int, float]]:
    """(column position, feature index, expected value) of each column's "usual for its entity"
    feature: a category's share of its entity (expected 1), a number's distance from its
    entity's usual value (expected 0)."""
    out = []
    for j, encoder in enumerate(preprocessor.encoders):
        if encoder.role is Role.CATEGORICAL and encoder.state.get("given"):
            out.append((j, encoder.start + encoder._categorical_width(), 1.0))
        elif encoder.role is Role.NUMERIC and encoder.state.get("profile"):
            out.append((j, encoder.start + 1, 0.0))
    return out


def reconstruct(
    network: DenseNetwork,
    clipped: np.ndarray,
    preprocessor: TabularPreprocessor,
    wanted: np.ndarray | None = None,
    relations: Relations | None = None,
    matrix: np.ndarray | None = None,
) -> np.ndarray:
    """Each column as the network restores it from the rest of its row (the column blanked).

    A column's "usual for its entity" feature is the share of the entity's rows that carry the
    row's own value, so with the value blanked the network cannot know it; what is expected
    there is that the value fits its entity (1.0), and the cell's error is how far it does not.
    ``wanted`` (rows x columns): restore only those cells (see masked_reconstruction).
    ``relations``: a number nearly fixed by another gets that relation's value where it is the
    one of the two that is off (see relations.Relations.apply), from the rows as they are
    (``matrix``, not clipped: a large payment's fee follows it past the clip).
    """
    recon = network.masked_reconstruction(clipped, blocks(preprocessor), wanted=wanted)
    for _, feature, usual in _entity_features(preprocessor):
        recon[:, feature] = usual
    if relations is not None:
        relations.apply(preprocessor, clipped if matrix is None else matrix, recon, wanted)
        relations.restore_kinds(preprocessor, clipped if matrix is None else matrix, recon, wanted)
    return recon


def column_residuals(
    matrix: np.ndarray, recon: np.ndarray, scale: np.ndarray, preprocessor: TabularPreprocessor
) -> np.ndarray:
    """Each of the user's columns' squared reconstruction error, relative to its usual one.

    Each feature's squared error is divided by its usual (training) one (``scale``: per feature,
    or per cell when it depends on the row's kind, see ModeScales) and the column's
    features are averaged, so every column averages about 1 on normal rows whatever its width (a
    one-hot block of 30 features does not outweigh a single numeric column), and a feature the
    rest of the row usually predicts exactly (an entity's usual department, nights on a taxi
    claim) counts fully when it is off.
    """
    starts = np.array([e.start for e in preprocessor.encoders], dtype=np.int64)
    widths = np.diff(np.append(starts, matrix.shape[1]))
    relative = (matrix - recon) ** 2 / scale
    out = np.add.reduceat(relative, starts, axis=1) / widths
    # A value wrong for its entity is evidence on its own, not diluted over the one-hot block;
    # a category that is its entity's usual one is right, whatever the rest of the row suggests.
    for j, feature, usual in _entity_features(preprocessor):
        np.maximum(out[:, j], relative[:, feature], out=out[:, j])
        if usual == 1.0:
            fits = matrix[:, feature] >= 1.0 - 1e-9
            out[fits, j] = relative[fits, feature]
    # Which customer (employee, warehouse) a row belongs to cannot be told from the rest of the
    # row, and is no claim to check: an entity is judged through the columns that depend on it.
    # Only a value never seen counts, and only in a column of few values (a new warehouse); in a
    # column of many (customers) new values arrive every month, and their rows are judged
    # through the columns that depend on them.
    for j, other in _entity_columns(preprocessor):
        encoder = preprocessor.encoders[j]
        if encoder.state.get("capped"):
            out[:, j] = 0.0
        else:
            out[:, j] = np.where(_unseen(encoder, matrix), relative[:, other], 0.0)
    return out


def _entity_columns(preprocessor: TabularPreprocessor) -> list[tuple[int, int]]:
    """(position, index of its "new or rare value" feature) of each column other columns are
    judged against (see _entity_features) and that is not judged against another itself."""
    used = {e.entity_column for e in preprocessor.encoders if e.entity_column}
    return [
        (j, e.start + len(e.state["categories"]))
        for j, e in enumerate(preprocessor.encoders)
        if e.column in used and e.role is Role.CATEGORICAL and not e.entity_column
    ]


#: A kind of row whose number is the same on at least this many training rows and every one
#: of them has that value as its only one (see ModeScales.cell_scales).
MODE_CONSTANT_ROWS = 20
#: The usual squared error of a cell holding its kind's only value: so large that its error
#: reads as none.
CONSTANT_SCALE = 1e12
#: Cells of the group-indicator matrix built at once when ModeScales measures its candidates.
INDICATOR_CELLS = 4_000_000


def _candidate_batches(candidates: list[tuple[int, int]], rows: int):  # noqa: ANN202 - a generator
    """The candidates in consecutive runs whose indicator matrices stay near INDICATOR_CELLS."""
    batch: list[tuple[int, int]] = []
    width = 0
    for candidate in candidates:
        if batch and (width + candidate[1]) * rows > INDICATOR_CELLS:
            yield batch
            batch, width = [], 0
        batch.append(candidate)
        width += candidate[1]
    if batch:
        yield batch


class ModeScales:
    """Each feature's usual squared error per kind of row, where a kind of row explains it.

    A table often mixes kinds of rows (hotel and taxi claims, idle and running machines) on
    which a column is predicted very differently: nights are noisy on hotel claims and exactly
    0 on taxi claims. Measured against the column's usual error over all rows, "3 nights on a
    taxi claim" looks ordinary. Here each used column may be given one yes/no or categorical
    column (``mode_column``, -1 for none) whose values split the rows into kinds, and each of its
    features gets a usual error per kind (``table``: feature x group), shrunk toward the
    column's overall one (MODE_PRIOR pseudo-rows). The splitting column is the one under which
    the errors are most likely (Gaussian log-likelihood of the training residuals), when any
    improves on the column's single yardstick. A table of numeric columns only keeps the single
    yardstick per column.
    """

    def __init__(self, mode_column: np.ndarray, table: np.ndarray, constant: np.ndarray | None = None) -> None:
        self.mode_column = np.asarray(mode_column, dtype=np.int64)
        self.table = np.asarray(table, dtype=np.float64)
        #: feature x group: the one value a number takes on every training row of a kind (no
        #: nights on a taxi claim), NaN where it varies (see cell_scales).
        self.constant = (
            np.full(self.table.shape, np.nan) if constant is None else np.asarray(constant, dtype=np.float64)
        )

    @classmethod
    def fit(
        cls, preprocessor: TabularPreprocessor, matrix: np.ndarray, squared: np.ndarray, base: np.ndarray
    ) -> ModeScales:
        """``squared``: training rows' squared errors per feature; ``base``: each feature's usual one."""
        encoders = preprocessor.encoders
        candidates = mode_candidates(preprocessor)
        width = max([g for _, g in candidates], default=1)
        table = np.tile(base[:, None], (1, width))
        constant = np.full(table.shape, np.nan)
        mode_column = np.full(len(encoders), -1, dtype=np.int64)
        if not candidates:
            return cls(mode_column, table, np.full(table.shape, np.nan))
        n = max(squared.shape[0], 1)
        starts = np.array([e.start for e in encoders])
        log_base = np.log(base)
        # Each column's cost under its single yardstick: the mean over rows of the Gaussian
        # negative log-likelihood, summed over its features.
        single = np.add.reduceat(np.mean(log_base + squared / base, axis=0), starts)
        # The same cost under a split depends on the rows only through each group's count and
        # its sum of squared errors (mean of log k_g + e / k_g = sum_g (count_g log k_g +
        # sum_g / k_g) / n), so every candidate's group sums come from one product of group
        # indicators with the errors, taken a batch of candidates at a time: a wide table
        # then costs matrix products, not a Python loop over column pairs.
        gains = np.full((len(candidates), len(encoders)), -np.inf)
        row = 0
        for batch in _candidate_batches(candidates, squared.shape[0]):
            groups = [mode_groups(preprocessor, matrix, j) for j, _ in batch]
            offsets = np.cumsum([0] + [g for _, g in batch])
            indicator = np.zeros((squared.shape[0], int(offsets[-1])))
            for (_, _), g, offset in zip(batch, groups, offsets[:-1], strict=False):
                indicator[np.arange(g.size), offset + g] = 1.0
            sums_all = indicator.T @ squared
            counts_all = indicator.sum(axis=0)
            for (j, _), lo, hi in zip(batch, offsets[:-1], offsets[1:], strict=False):
                counts, sums = counts_all[lo:hi], sums_all[lo:hi]
                kinds = np.maximum((sums + MODE_PRIOR * base) / (counts[:, None] + MODE_PRIOR), RESIDUAL_FLOOR)
                cost = (counts @ np.log(kinds) + np.sum(sums / kinds, axis=0)) / n
                gains[row] = single - np.add.reduceat(cost, starts)
                gains[row, j] = -np.inf  # a column does not explain itself
                row += 1
        # The first best candidate wins a tie, as candidates are listed in column order.
        best = np.argmax(gains, axis=0)
        for target, encoder in enumerate(encoders):
            c = int(best[target])
            if not gains[c, target] > 0.0:
                continue
            j, n_groups = candidates[c]
            lo, hi = encoder.start, encoder.stop
            g = mode_groups(preprocessor, matrix, j)
            counts = np.bincount(g, minlength=n_groups).astype(np.float64)
            sums = np.stack([np.bincount(g, weights=squared[:, f], minlength=n_groups) for f in range(lo, hi)], axis=1)
            mode_column[target] = j
            table[lo:hi, :n_groups] = np.maximum(
                (sums + MODE_PRIOR * base[lo:hi]) / (counts[:, None] + MODE_PRIOR), RESIDUAL_FLOOR
            ).T
            if encoder.role is Role.NUMERIC:
                values = matrix[:, lo]
                low = np.full(n_groups, np.inf)
                high = np.full(n_groups, -np.inf)
                np.minimum.at(low, g, values)
                np.maximum.at(high, g, values)
                fixed = (counts >= MODE_CONSTANT_ROWS) & (high - low <= 1e-9)
                constant[lo, :n_groups] = np.where(fixed, low, np.nan)
        return cls(mode_column, table, constant)

    def cell_scales(self, preprocessor: TabularPreprocessor, matrix: np.ndarray, base: np.ndarray) -> np.ndarray:
        """Each cell's usual squared error (rows x features), by the kind of its row."""
        out = np.tile(base, (matrix.shape[0], 1))
        groups: dict[int, np.ndarray] = {}
        for target, encoder in enumerate(preprocessor.encoders):
            j = int(self.mode_column[target])
            if j < 0:
                continue
            if j not in groups:
                groups[j] = np.minimum(mode_groups(preprocessor, matrix, j), self.table.shape[1] - 1)
            lo, hi = encoder.start, encoder.stop
            out[:, lo:hi] = self.table[lo:hi][:, groups[j]].T
            # A number holding the one value its kind always has is right, whatever the rest of
            # the row suggests (a large supply order is no reason to expect nights on it): its
            # error counts for nothing.
            fixed = self.constant[lo][groups[j]]
            holds = np.abs(matrix[:, lo] - fixed) <= 1e-9
            out[holds, lo] = CONSTANT_SCALE
        return out


def _quantile_grid(matrix: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """``np.quantile(matrix, grid, axis=0)`` (linear method, the same numbers to the bit) from one
    sort per column: numpy selects each of the 1,001 quantiles with its own partition pass, which
    on a wide table cost seconds."""
    n = matrix.shape[0]
    if n == 0 or np.isnan(matrix).any():
        return np.quantile(matrix, grid, axis=0)
    ordered = np.sort(matrix, axis=0)
    virtual = grid * (n - 1)
    below = np.floor(virtual).astype(np.intp)
    above = np.minimum(below + 1, n - 1)
    gamma = (virtual - below)[:, None]
    low, high = ordered[below], ordered[above]
    step = high - low
    out = low + step * gamma
    # numpy interpolates from the nearer end, which rounds differently past the midpoint.
    upper = np.broadcast_to(gamma >= 0.5, out.shape)
    out[upper] = (high - step * (1.0 - gamma))[upper]
    return out


def autoencoder_part(per_column_surprise: np.ndarray) -> np.ndarray:
    k = min(TOP_COLUMNS, per_column_surprise.shape[1])
    return np.partition(per_column_surprise, per_column_surprise.shape[1] - k, axis=1)[:, -k:].mean(axis=1)


def compact_projection(preprocessor: TabularPreprocessor, matrix: np.ndarray) -> np.ndarray:
    """A linear map from the encoded features to one feature per value a column holds.

    IsolationForest and the column tails split on single features; on a one-hot block most
    features are a rare category's slot, and splitting there finds rare categories, not strange
    rows. Here a categorical column's one-hot block becomes one feature, the log frequency of the
    row's category in training; every other feature passes through.

    Left out: a categorical column nearly fixed by an entity column (a warehouse's city, a
    customer's country, an employee's department; see preprocess._attach_entities). Its value
    says nothing about the row that the entity does not: how rare it is counts the rows of the
    entities that hold it, which the entity's own frequency already counts. Both kept, the
    column tails would add the same fact twice or three times over (the rows of the one
    warehouse in a rare city sit in the tails of the warehouse and of the city, whatever they
    hold), and IsolationForest would isolate that group of rows along each of them. Whether a
    row's value fits its entity is judged where its context is seen (column_residuals). Kept
    where nothing else is left.
    """
    fixed = {j for j, e in enumerate(preprocessor.encoders) if e.role is Role.CATEGORICAL and e.state.get("given")}
    columns = _compact_columns(preprocessor, matrix, fixed)
    if not columns and fixed:
        columns = _compact_columns(preprocessor, matrix, set())
    return np.column_stack(columns) if columns else np.eye(matrix.shape[1])


def _compact_columns(preprocessor: TabularPreprocessor, matrix: np.ndarray, left_out: set[int]) -> list[np.ndarray]:
    n = max(matrix.shape[0], 1)
    columns: list[np.ndarray] = []
    for position, encoder in enumerate(preprocessor.encoders):
        if position in left_out:
            continue
        start, stop = encoder.start, encoder.stop
        first = start
        # Yes/no answers and "this cell is empty" flags mark modes of a table (an idle machine,
        # a claim without receipt), which are rare without being wrong; the models that see a
        # row's context (autoencoder, neighbours) judge those.
        if encoder.role is Role.BOOLEAN:
            continue
        if encoder.state.get("indicator"):
            stop -= 1
        if encoder.role is Role.CATEGORICAL:
            slots = len(encoder.state["categories"]) + 1
            if not encoder.state.get("capped"):
                weights = np.zeros(matrix.shape[1])
                share = matrix[:, start : start + slots].mean(axis=0)
                weights[start : start + slots] = np.log(np.maximum(share, 0.5 / n))
                columns.append(weights)
            first = start + slots
            if encoder.state.get("given"):
                # "Usual for its entity" is judged in the autoencoder's part (column_residuals)
                first += 1
        for j in range(first, stop):
            unit = np.zeros(matrix.shape[1])
            unit[j] = 1.0
            columns.append(unit)
    return columns


def robust_centre_scale(values: np.ndarray) -> tuple[float, float]:
    low, centre, high = np.percentile(values, [25, 50, 75])
    scale = float(high - low)
    if not math.isfinite(scale) or scale <= 1e-12:
        scale = float(np.std(values)) or 1.0
    return float(centre), scale


#: Columns tried as the cause of a row's strangeness (see attribute).
CANDIDATES = 3


def attribute(
    network: DenseNetwork,
    preprocessor: TabularPreprocessor,
    matrix: np.ndarray,
    recon: np.ndarray,
    scales: Callable[[np.ndarray, np.ndarray], np.ndarray],
    tails: QuantileTails,
    relations: Relations | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """How much of each row's strangeness each column accounts for: the drop in the row's
    summed surprise (over the CANDIDATES most surprising columns) when that column alone is
    given the value the model expected, everything else as it is.

    A column's own error is not enough to blame it: a cell far outside its range also makes its
    neighbours look wrong (the network restores a currency from an amount, and an amount 400x
    the usual one points to another currency). Repairing the amount repairs the currency too;
    repairing the currency leaves the amount as strange as it was. So the column whose repair
    takes away most is named first.

    Returns the columns' errors (relative to their usual), their surprise, and the contribution
    (0 outside the candidates).
    """
    errors = column_residuals(matrix, recon, scales(matrix, recon), preprocessor)
    surprise = tails.surprise(errors)
    n, columns = surprise.shape
    contribution = np.zeros((n, columns))
    m = min(CANDIDATES, columns)
    if n == 0 or m == 0:
        return errors, surprise, contribution
    candidates = np.argsort(-surprise, axis=1, kind="stable")[:, :m]
    before = np.take_along_axis(surprise, candidates, axis=1).sum(axis=1)
    # One repaired copy of each row per candidate column.
    repaired = np.repeat(matrix, m, axis=0)
    tried = candidates.reshape(-1)
    owner = np.repeat(np.arange(n), m)
    # (copies, their owners, the column's features) for every column tried on some row.
    repairs = [
        (rows, owner[rows], slice(e.start, e.stop))
        for j, e in enumerate(preprocessor.encoders)
        if (rows := np.flatnonzero(tried == j)).size
    ]
    for rows, owners, block in repairs:
        repaired[rows, block] = recon[owners, block]
    # The other candidates are restored again; the repaired column's own restoration does not
    # depend on its value (it is blanked for it), so it stays what it was: no error left.
    wanted = np.zeros((n * m, columns), dtype=bool)
    wanted[np.arange(n * m)[:, None], np.repeat(candidates, m, axis=0)] = True
    wanted[np.arange(n * m), tried] = False
    clipped = np.clip(repaired, -INPUT_CLIP, INPUT_CLIP)
    again = reconstruct(network, clipped, preprocessor, wanted, relations, repaired)
    for rows, owners, block in repairs:
        again[rows, block] = recon[owners, block]
    after_errors = column_residuals(repaired, again, scales(repaired, again), preprocessor)
    after = np.take_along_axis(tails.surprise(after_errors), np.repeat(candidates, m, axis=0), axis=1).sum(axis=1)
    drop = np.maximum(before[owner] - after, 0.0)
    contribution[owner, tried] = drop
    # Which entity a row belongs to is a reason only when the entity was never seen.
    for j, _ in _entity_columns(preprocessor):
        contribution[~_unseen(preprocessor.encoders[j], matrix), j] = 0.0
    return errors, surprise, contribution


def _unseen(encoder: ColumnEncoder, matrix: np.ndarray) -> np.ndarray:
    """Rows whose value of this categorical column was never seen in training."""
    state = encoder.state
    if state.get("capped"):
        unseen = (state["log_freq_unseen"] - state["freq_mean"]) / state["freq_std"]
        frequency = encoder.start + len(state["categories"]) + 1
        return np.isclose(matrix[:, frequency], unseen)
    return matrix[:, encoder.start + len(state["categories"])] > 0.5
