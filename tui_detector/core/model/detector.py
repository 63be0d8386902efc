"""``TabularAnomalyDetector``: the seed's API, with explanations in the user's own columns.

The seed ("Anomaly Detector Integration Guide") fixed the surface kept here: ``train``,
``detect_anomalies``, ``save``/``load`` and the per-anomaly dict (``row_index``,
``anomaly_score``, ``anomalous_features``, ``raw_data``). Behind it: column roles instead of label
encoding everything, a network scored in NumPy, and a data-only model directory.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import math
import os
import shutil
import tempfile
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from ..env import tensorflow_available
from ..presets import check_percentile
from .forest import ForestArrays
from ..jsonsafe import json_rows, json_value
from .network import DenseNetwork
from .preprocess import TabularPreprocessor, TransformReport
from .progress import ProgressCallback, RowsCallback, StopCallback, TrainingCancelled
from .roles import ColumnProfile, Role, profile_columns
from ..errors import AnomalyTuiError

ModelKind = Literal["auto", "autoencoder", "iforest"]

MODEL_FORMAT = "anomaly-tui-model"
MODEL_FORMAT_VERSION = 2
MANIFEST = "manifest.json"
#: Array files a model directory may hold (each listed with its sha256 in the manifest).
MODEL_FILES = ("network.npz", "forest.npz", "ensemble.npz")
#: Quantiles of the training scores kept with a model, so the threshold can move without them.
QUANTILE_GRID = np.linspace(0.0, 100.0, 1001)
#: "auto": scaled inputs are clipped here before the network sees them (see train_autoencoder).
INPUT_CLIP = 5.0
#: "auto": a feature's residual is measured against its usual training residual, floored here so
#: a feature the network reproduces almost exactly does not turn rounding noise into anomalies
#: (low enough that a one-hot slot or an entity feature that is always right counts when wrong).
RESIDUAL_FLOOR = 1e-3
#: "auto": a column's usual error may be measured per kind of row, the kinds being the values of
#: one yes/no or categorical column with at most this many groups (see ModeScales).
MODE_GROUPS = 50
#: "auto": pseudo-rows of the column's overall usual error mixed into each kind's own, so a kind
#: seen on a handful of rows keeps close to the column's yardstick.
MODE_PRIOR = 20.0
#: "auto": the scores averaged into a row's anomaly score, each standardised on the training rows.
ENSEMBLE_PARTS = ("autoencoder", "iforest", "tails", "knn")
#: "auto": share of rows that look most anomalous after the first half of training; the second
#: half trains a fresh network without them.
TRIM_SHARE = 0.2
#: "auto": which of the other parts (0 iforest, 1 tails, 2 knn) pick the rows to trim, besides
#: the autoencoder. Only the neighbours: IsolationForest and the tails also flag rare modes that
#: are normal (an idle machine, a hotel stay), and a network trained without them flags them all.
TRIM_GUIDES = (2,)
#: "auto": neighbours averaged for the distance score, and the most reference rows kept for it.
KNN_K = 10
KNN_REFERENCE = 2048
#: "auto": trees in the IsolationForest part.
FOREST_TREES = 200
#: "auto": share of cells blanked in every training row; the network learns to restore them from
#: the rest of the row, and each column is scored with itself blanked.
MASK_RATE = 0.2
#: "auto": optimiser steps per half of training (epochs follow from the table's size).
AUTO_STEPS = 1000
#: "auto": the most rows the models are fitted on; a larger table is fitted on a random sample
#: of this size and every row is then scored. Training takes a fixed number of optimiser steps
#: and the forest and neighbours use small subsamples anyway, so more rows add time (and memory)
#: without teaching the models more; scoring stays linear in the rows.
FIT_ROWS = 20_000
#: "auto" scores this many rows at a time: the temporaries of a full-size sheet stay small
#: (rows x features each), and no single NumPy call holds the interpreter for long, so the
#: app's screen keeps repainting while a large table is scored.
SCORE_CHUNK = 65_536


class ModelFileError(AnomalyTuiError, ValueError):
    """A saved model directory is missing, damaged, tampered with or from another format."""


class NotFittedError(AnomalyTuiError, RuntimeError):
    """The detector has not been trained or loaded yet."""


def _package_version() -> str:
    try:
        from importlib.metadata import version  # noqa: PLC0415

        return version("anomaly-tui")
    except Exception:  # noqa: BLE001 - running from a source tree without metadata
        return "0+unknown"


def auto_batch_size(rows: int) -> int:
    """The design note's advice, smoothed: small batches for small tables, 256 above 10k rows."""
    if rows < 1_000:
        return 32
    if rows < 10_000:
        return 128
    return 256


def auto_epochs(rows: int, batch_size: int) -> int:
    """Enough optimiser steps to converge (~4,000), 10–100 epochs; early stopping ends sooner."""
    steps = max(1, math.ceil(rows / batch_size))
    return int(min(100, max(10, math.ceil(4_000 / steps))))


def auto_ensemble_epochs(rows: int, batch_size: int) -> int:
    """"auto": ~AUTO_STEPS optimiser steps per half of training, 4–200 epochs in all.

    Epochs are counted over the rows the models are fitted on (at most FIT_ROWS).
    """
    steps = max(1, math.ceil(min(rows, FIT_ROWS) * 0.8 / batch_size))
    return int(min(200, max(4, 2 * math.ceil(AUTO_STEPS / steps))))


class TailModel:
    """How far into its column's tails each value sits (ECOD, Li et al. 2022), from quantiles.

    A feature's tail score is ``-log`` of the smaller of its left and right empirical tail
    probabilities; a row's score is the sum over features. Kept as 1,001 quantiles per feature so
    the model file does not hold the training rows.
    """

    GRID = np.linspace(0.0, 1.0, 1001)

    def __init__(self, quantiles: np.ndarray, rows: int) -> None:
        self.quantiles = np.asarray(quantiles, dtype=np.float64)
        self.rows = int(rows)

    @classmethod
    def fit(cls, matrix: np.ndarray) -> TailModel:
        return cls(np.quantile(matrix, cls.GRID, axis=0), matrix.shape[0])

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
        ref_sq = np.einsum("ij,ij->i", ref, ref)
        out = np.empty(clipped.shape[0], dtype=np.float64)
        for start in range(0, clipped.shape[0], chunk):
            x = np.asarray(clipped[start : start + chunk], dtype=np.float32)
            x_sq = np.einsum("ij,ij->i", x, x)
            d2 = x @ ref.T
            d2 *= -2.0
            d2 += x_sq[:, None]
            d2 += ref_sq[None, :]
            take = min(k + 1, ref.shape[0])
            near = np.sort(np.maximum(np.partition(d2, take - 1, axis=1)[:, :take], 0.0), axis=1)
            # float32 rounding leaves ~1e-7 of |x|^2 where the distance is exactly zero
            self_match = near[:, 0] <= 1e-5 * (1.0 + x_sq)
            picked = np.where(self_match[:, None], near[:, 1 : k + 1], near[:, :k]) if take > k else near[:, :k]
            out[start : start + chunk] = np.sqrt(picked).mean(axis=1)
        return out


#: "auto": the autoencoder's row score is the mean of its this-many worst columns, so one broken
#: cell is not averaged away over a wide table (and the score rests on the columns it names).
TOP_COLUMNS = 1


def _one_blas_thread():  # noqa: ANN202 - a context manager
    from threadpoolctl import threadpool_limits  # noqa: PLC0415 - ships with scikit-learn

    return threadpool_limits(1)


def _digest(matrix: np.ndarray) -> str:
    return hashlib.blake2b(np.ascontiguousarray(matrix).view(np.uint8), digest_size=16).hexdigest()


def _blocks(preprocessor: TabularPreprocessor) -> list[tuple[int, int]]:
    return [(e.start, e.stop) for e in preprocessor.encoders]


def _entity_features(preprocessor: TabularPreprocessor) -> list[tuple[int, int]]:
    """(column position, feature index) of each column's "usual for its entity" feature."""
    out = []
    for j, encoder in enumerate(preprocessor.encoders):
        if encoder.role is Role.CATEGORICAL and encoder.state.get("given"):
            out.append((j, encoder.start + encoder._categorical_width()))
    return out


def reconstruct(network: DenseNetwork, clipped: np.ndarray, preprocessor: TabularPreprocessor) -> np.ndarray:
    """Each column as the network restores it from the rest of its row (the column blanked).

    A column's "usual for its entity" feature is the share of the entity's rows that carry the
    row's own value, so with the value blanked the network cannot know it; what is expected
    there is that the value fits its entity (1.0), and the cell's error is how far it does not.
    """
    recon = network.masked_reconstruction(clipped, _blocks(preprocessor))
    for _, feature in _entity_features(preprocessor):
        recon[:, feature] = 1.0
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
    # A value wrong for its entity is evidence on its own, not diluted over the one-hot block.
    for j, feature in _entity_features(preprocessor):
        np.maximum(out[:, j], relative[:, feature], out=out[:, j])
    return out


def _mode_groups(preprocessor: TabularPreprocessor, matrix: np.ndarray, column: int) -> np.ndarray:
    """The kind of each row by one yes/no or categorical column: its value's slot (missing last)."""
    encoder = preprocessor.encoders[column]
    if encoder.role is Role.BOOLEAN:
        return (matrix[:, encoder.start] >= 0.5).astype(np.int64)
    slots = len(encoder.state["categories"]) + 1
    block = matrix[:, encoder.start : encoder.start + slots]
    return np.where(block.max(axis=1) > 0.5, np.argmax(block, axis=1), slots).astype(np.int64)


def _mode_candidates(preprocessor: TabularPreprocessor) -> list[tuple[int, int]]:
    """(column position, number of groups) of the columns that may split a table into kinds."""
    out = []
    for j, encoder in enumerate(preprocessor.encoders):
        if encoder.role is Role.BOOLEAN:
            out.append((j, 2))
        elif encoder.role is Role.CATEGORICAL and not encoder.state.get("capped"):
            groups = len(encoder.state["categories"]) + 2
            if groups <= MODE_GROUPS:
                out.append((j, groups))
    return out


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

    def __init__(self, mode_column: np.ndarray, table: np.ndarray) -> None:
        self.mode_column = np.asarray(mode_column, dtype=np.int64)
        self.table = np.asarray(table, dtype=np.float64)

    @classmethod
    def fit(
        cls, preprocessor: TabularPreprocessor, matrix: np.ndarray, squared: np.ndarray, base: np.ndarray
    ) -> ModeScales:
        """``squared``: training rows' squared errors per feature; ``base``: each feature's usual one."""
        encoders = preprocessor.encoders
        candidates = _mode_candidates(preprocessor)
        width = max([g for _, g in candidates], default=1)
        table = np.tile(base[:, None], (1, width))
        mode_column = np.full(len(encoders), -1, dtype=np.int64)
        groups = {j: _mode_groups(preprocessor, matrix, j) for j, _ in candidates}
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
        return cls(mode_column, table)

    def cell_scales(self, preprocessor: TabularPreprocessor, matrix: np.ndarray, base: np.ndarray) -> np.ndarray:
        """Each cell's usual squared error (rows x features), by the kind of its row."""
        out = np.tile(base, (matrix.shape[0], 1))
        groups: dict[int, np.ndarray] = {}
        for target, encoder in enumerate(preprocessor.encoders):
            j = int(self.mode_column[target])
            if j < 0:
                continue
            if j not in groups:
                groups[j] = np.minimum(_mode_groups(preprocessor, matrix, j), self.table.shape[1] - 1)
            lo, hi = encoder.start, encoder.stop
            out[:, lo:hi] = self.table[lo:hi][:, groups[j]].T
        return out


class ErrorTails:
    """How unusual each column's reconstruction error is, against that column's usual errors.

    ``-log`` of the share of training rows whose error in the column was at least as large, up
    to the column's 99th percentile; past it, ``log(100)`` plus the log of the ratio to that
    percentile, so the few worst cells of a column do not all tie (a cell 100x off outranks one
    10x off, also when both are the table's own anomalies). A yes/no column whose rare answer is always hard to reconstruct, or a
    noisy column, then counts as unusual only when its error is unusual *for it*.
    """

    GRID = np.linspace(0.0, 1.0, 1001)
    TOP = 990  # index of the 99th percentile in GRID

    def __init__(self, quantiles: np.ndarray, rows: int) -> None:
        self.quantiles = np.asarray(quantiles, dtype=np.float64)
        self.rows = int(rows)

    @classmethod
    def fit(cls, per_column: np.ndarray) -> ErrorTails:
        return cls(np.quantile(per_column, cls.GRID, axis=0), per_column.shape[0])

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
            out[beyond, j] = math.log(100.0) + np.log(values[beyond] / top)
        return out


def _autoencoder_part(per_column_surprise: np.ndarray) -> np.ndarray:
    k = min(TOP_COLUMNS, per_column_surprise.shape[1])
    return np.partition(per_column_surprise, per_column_surprise.shape[1] - k, axis=1)[:, -k:].mean(axis=1)


def compact_projection(preprocessor: TabularPreprocessor, matrix: np.ndarray) -> np.ndarray:
    """A linear map from the encoded features to one feature per value a column holds.

    IsolationForest and the column tails split on single features; on a one-hot block most
    features are a rare category's slot, and splitting there finds rare categories, not strange
    rows. Here a categorical column's one-hot block becomes one feature, the log frequency of the
    row's category in training; every other feature passes through.
    """
    n = max(matrix.shape[0], 1)
    columns: list[np.ndarray] = []
    for encoder in preprocessor.encoders:
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
    return np.column_stack(columns) if columns else np.eye(matrix.shape[1])


def _robust_centre_scale(values: np.ndarray) -> tuple[float, float]:
    low, centre, high = np.percentile(values, [25, 50, 75])
    scale = float(high - low)
    if not math.isfinite(scale) or scale <= 1e-12:
        scale = float(np.std(values)) or 1.0
    return float(centre), scale


@dataclass
class Detection:
    """Scores for every row of a table, the rows over the threshold, and how they were read."""

    scores: np.ndarray
    threshold: float
    flags: np.ndarray
    report: TransformReport
    matrix: np.ndarray = field(repr=False)
    reconstruction: np.ndarray = field(repr=False)

    @property
    def anomaly_rows(self) -> np.ndarray:
        """Positions of flagged rows, highest score first (ties: lower row first)."""
        rows = np.flatnonzero(self.flags)
        return rows[np.lexsort((rows, -self.scores[rows]))]


class TabularAnomalyDetector:
    """Finds unusual rows in a table and says which columns make them unusual.

    Args:
        encoding_dim: Width of the autoencoder's bottleneck (the seed's 8).
        threshold_percentile: Rows scoring above this percentile of the training scores are
            flagged (the seed's 95).
        model: ``"auto"`` (default: an ensemble around the seed's network. The network is
            trained in NumPy to restore blanked cells from the rest of their row, in two halves,
            the second without the rows that look most anomalous; each column's error is judged
            against that column's usual error on rows of the same kind (see ``ModeScales``). Its verdict is combined with the distance to the
            nearest rows and, where both agree, IsolationForest and ECOD-style column tails; see
            ``_combine``. Explanations come from the network's per-column errors), ``"autoencoder"``
            (the seed's recipe: Keras, score = reconstruction MSE), or ``"iforest"``
            (IsolationForest). Without TensorFlow every choice falls back to IsolationForest, with
            a warning (the seed's contract, kept although "auto" no longer needs TensorFlow).
        hidden_layers: Widths of the encoder's hidden layers; the decoder mirrors them.
        random_state: Seed for every random choice; the same data and seed give the same scores.
        roles: Column → role overrides (e.g. ``{"notes": "text"}`` to exclude a column).
        top_features: How many columns explain each flagged row.

    Attributes:
        profiles_: Every column's role and the reason for it.
        preprocessor_: The fitted encoding of the used columns.
        threshold_: The score above which a row is flagged.
        history_: Training loss per epoch (autoencoder only).
        model_kind_: The model actually fitted.
        warnings_: Things the user should know about the fit (fallbacks, coerced cells).
    """

    def __init__(
        self,
        encoding_dim: int = 8,
        threshold_percentile: float = 95,
        *,
        model: ModelKind = "auto",
        hidden_layers: tuple[int, ...] = (64, 32),
        random_state: int = 0,
        roles: dict[str, Role | str] | None = None,
        top_features: int = 3,
    ) -> None:
        self.encoding_dim = encoding_dim
        self.threshold_percentile = threshold_percentile
        self.model = model
        self.hidden_layers = hidden_layers
        self.random_state = random_state
        self.roles = roles
        self.top_features = top_features

    # -- training ---------------------------------------------------------------------------

    def train(
        self,
        df: pd.DataFrame,
        epochs: int | None = None,
        batch_size: int | None = None,
        validation_split: float = 0.2,
        *,
        on_progress: ProgressCallback | None = None,
        should_stop: StopCallback | None = None,
        early_stopping: bool = True,
        on_scored: RowsCallback | None = None,
    ) -> dict[str, list[float]]:
        """Fit on ``df`` (every row is assumed mostly normal) and set the threshold.

        ``epochs`` and ``batch_size`` default to values suited to the table's size; the seed's
        ``epochs=50, batch_size=32`` still work when given. Returns the loss history per epoch.
        A table fitted on a sample then has every row scored; ``on_scored(done, total)`` hears
        how far that has got.

        Raises:
            TrainingCancelled: ``should_stop`` returned true (checked after every batch).
            ValueError: The table has no rows or no usable column.
        """
        # One BLAS thread: the matrices here are small enough that threads cost more in handoffs
        # than they save, and on a busy machine a second BLAS thread waiting for a core slows
        # every product several-fold (measured: masked reconstruction of 100k rows 0.6 s vs 2.5 s).
        with _one_blas_thread():
            return self._train(
                df, epochs, batch_size, validation_split,
                on_progress=on_progress, should_stop=should_stop, early_stopping=early_stopping,
                on_scored=on_scored,
            )

    def _train(
        self,
        df: pd.DataFrame,
        epochs: int | None,
        batch_size: int | None,
        validation_split: float,
        *,
        on_progress: ProgressCallback | None,
        should_stop: StopCallback | None,
        early_stopping: bool,
        on_scored: RowsCallback | None = None,
    ) -> dict[str, list[float]]:
        self._check_params(validation_split)
        if not isinstance(df, pd.DataFrame):
            raise TypeError("train() expects a pandas DataFrame")
        if len(df) < 2:
            raise ValueError(f"at least 2 rows are needed to learn what is normal; the table has {len(df)}")
        self._training_parts = None
        self._training_recon = None
        frame = _string_columns(df)
        profiles = profile_columns(frame, self.roles)
        preprocessor = TabularPreprocessor(profiles).fit(frame)
        matrix, report = preprocessor.transform(frame)

        fit_warnings: list[str] = report.warnings()
        kind = self._resolve_kind(fit_warnings)
        history: dict[str, list[float]] = {}
        network: DenseNetwork | None = None
        forest: ForestArrays | None = None
        batch = int(batch_size) if batch_size else auto_batch_size(len(frame))
        if epochs:
            n_epochs = int(epochs)
        elif kind == "auto":
            n_epochs = auto_ensemble_epochs(len(frame), batch)
        else:
            n_epochs = auto_epochs(len(frame), batch)
        input_clip = INPUT_CLIP if kind == "auto" else None
        tails: TailModel | None = None
        neighbours: NeighbourModel | None = None
        ensemble: dict[str, Any] | None = None
        kept: np.ndarray | None = None
        # Rows the "auto" models are fitted on: all of them up to FIT_ROWS, else a random sample
        # (sorted, so the sample keeps the table's order). Every row is scored either way.
        fit_rows = np.arange(len(frame))
        if kind == "auto" and len(frame) > FIT_ROWS:
            fit_rows = np.sort(np.random.default_rng(self.random_state).choice(len(frame), FIT_ROWS, replace=False))
        sampled = fit_rows.size < len(frame)
        if kind == "auto":
            network, history, forest, tails, neighbours, ensemble, kept = self._train_ensemble(
                preprocessor,
                matrix[fit_rows] if sampled else matrix,
                n_epochs,
                batch,
                validation_split,
                early_stopping,
                on_progress,
                should_stop,
            )
        elif kind == "autoencoder":
            from ._keras import train_autoencoder  # noqa: PLC0415 - TensorFlow loads only here

            network, history = train_autoencoder(
                matrix,
                hidden=tuple(self.hidden_layers),
                encoding_dim=self.encoding_dim,
                epochs=n_epochs,
                batch_size=batch,
                validation_split=validation_split,
                seed=self.random_state,
                patience=5 if early_stopping else None,
                on_progress=on_progress,
                should_stop=should_stop,
            )
        else:
            if should_stop is not None and should_stop():
                raise TrainingCancelled("training was cancelled")
            forest = ForestArrays.fit(matrix, seed=self.random_state)

        self.profiles_: list[ColumnProfile] = profiles
        self.preprocessor_ = preprocessor
        self.model_kind_ = kind
        self.network_ = network
        self.forest_ = forest
        self.tails_ = tails
        self.neighbours_ = neighbours
        self.projection_ = ensemble.pop("_projection") if ensemble is not None else None
        self.error_tails_: ErrorTails | None = None
        self.mode_scales_: ModeScales | None = None
        self.ensemble_ = ensemble
        self.input_clip_ = input_clip
        self.feature_means_ = matrix.mean(axis=0)
        self.residual_scale_ = np.ones(matrix.shape[1])
        if kind == "auto":
            assert network is not None and kept is not None and ensemble is not None
            # The yardsticks (each column's usual errors, each part's spread) come from the rows
            # the models were fitted on, so they cost the same whatever the table's size.
            fit_matrix = matrix[fit_rows] if sampled else matrix
            fit_clipped = np.clip(fit_matrix, -INPUT_CLIP, INPUT_CLIP)
            fit_recon = reconstruct(network, fit_clipped, preprocessor)
            # Measured on the winsorised rows the network learned from (the trimmed ones), so
            # the extreme cells it should flag do not inflate their own column's yardstick.
            self.residual_scale_ = np.maximum(
                np.mean((fit_clipped[kept] - fit_recon[kept]) ** 2, axis=0), RESIDUAL_FLOOR
            )
            # Then per kind of row, where a yes/no or categorical column sorts the rows into kinds
            # on which a column is predicted differently (see ModeScales).
            self.mode_scales_ = ModeScales.fit(
                preprocessor, fit_matrix[kept], (fit_clipped[kept] - fit_recon[kept]) ** 2, self.residual_scale_
            )
            per_column = column_residuals(fit_matrix, fit_recon, self._cell_scales(fit_matrix), preprocessor)
            self.error_tails_ = ErrorTails.fit(per_column)
            # The other parts were scored on the fitted rows while training.
            others = ensemble.pop("_others")
            fit_parts = [_autoencoder_part(self.error_tails_.surprise(per_column)), *others]
            stats = [_robust_centre_scale(p) for p in fit_parts]
            self.ensemble_ = {
                **ensemble,
                "parts": list(ENSEMBLE_PARTS),
                "centre": [c for c, _ in stats],
                "scale": [q for _, q in stats],
            }
            del fit_clipped, per_column
            if sampled:
                # Now every row, a chunk at a time (see _auto_parts).
                del fit_matrix, fit_recon, fit_parts
                recon = np.empty(matrix.shape, dtype=np.float32)
                parts = self._auto_parts(matrix, recon, None, should_stop, on_scored)
                others = parts[1:]
            else:
                recon, parts = fit_recon.astype(np.float32), fit_parts
            training_scores = self._combine(parts)
            # Scoring the training table again (the usual next call) reuses the parts that do not
            # depend on the network; they come from the same functions on the same matrix, so the
            # scores are identical to a fresh computation, and to a loaded model's.
            # The reconstruction is large (rows x features), so it is handed to the first
            # detect() of this same table and then dropped, not kept with the model.
            # With every row scored chunk-wise above, its autoencoder part is exactly what
            # detect() would compute from the same float32 reconstruction: kept too. (Fitted on
            # every row, that part came from a float64 reconstruction: detect() recomputes it.)
            self._training_parts = (_digest(matrix), others, parts[0] if sampled else None)
            self._training_recon = recon
        self.history_ = history
        trained_network = network is not None
        self.training_params_ = {
            "epochs": n_epochs if trained_network else None,
            "epochs_run": len(history.get("loss", [])) if trained_network else None,
            "batch_size": batch if trained_network else None,
            "validation_split": validation_split,
            "rows": len(frame),
            "fit_rows": int(fit_rows.size),
        }
        self.warnings_ = fit_warnings
        scores = training_scores if kind == "auto" else self._scores(matrix)[0]
        self.score_quantiles_ = np.percentile(scores, QUANTILE_GRID)
        self.threshold_ = float(np.percentile(scores, self.threshold_percentile))
        self.trained_at_ = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
        return history

    def _train_ensemble(
        self,
        preprocessor: TabularPreprocessor,
        matrix: np.ndarray,
        n_epochs: int,
        batch: int,
        validation_split: float,
        early_stopping: bool,
        on_progress: ProgressCallback | None,
        should_stop: StopCallback | None,
    ) -> tuple[DenseNetwork, dict[str, list[float]], ForestArrays, TailModel, NeighbourModel, dict[str, Any], np.ndarray]:
        """"auto": IsolationForest, column tails and neighbour distances on the encoded rows, and
        an autoencoder trained in two halves, the second without the rows all four find strangest."""
        from .network import train_numpy_autoencoder  # noqa: PLC0415

        if should_stop is not None and should_stop():
            raise TrainingCancelled("training was cancelled")
        clipped = np.clip(matrix, -INPUT_CLIP, INPUT_CLIP)
        projection = compact_projection(preprocessor, matrix)
        compact = matrix @ projection
        forest = ForestArrays.fit(compact, n_estimators=FOREST_TREES, seed=self.random_state)
        tails = TailModel.fit(compact)
        neighbours = NeighbourModel.fit(clipped, seed=self.random_state)
        others = [forest.score(compact), tails.score(compact), np.log(neighbours.score(clipped) + 1e-12)]
        kept = np.ones(matrix.shape[0], dtype=bool)
        blocks = _blocks(preprocessor)

        def refine(network: DenseNetwork) -> np.ndarray:
            recon = reconstruct(network, clipped, preprocessor)
            scale = np.maximum(np.mean((clipped - recon) ** 2, axis=0), RESIDUAL_FLOOR)
            per_column = column_residuals(matrix, recon, scale, preprocessor)
            ae = _autoencoder_part(ErrorTails.fit(per_column).surprise(per_column))
            combined = np.zeros(matrix.shape[0])
            for part in (ae, *[others[i] for i in TRIM_GUIDES]):
                centre, spread = _robust_centre_scale(part)
                combined += (part - centre) / spread
            kept[:] = combined <= np.quantile(combined, 1.0 - TRIM_SHARE)
            return kept

        network, history = train_numpy_autoencoder(
            clipped,
            hidden=tuple(self.hidden_layers),
            encoding_dim=self.encoding_dim,
            epochs=n_epochs,
            batch_size=batch,
            validation_split=validation_split,
            seed=self.random_state,
            patience=5 if early_stopping else None,
            on_progress=on_progress,
            should_stop=should_stop,
            refine=refine,
            mask_blocks=blocks,
            mask_rate=MASK_RATE,
        )
        ensemble = {"trim_share": TRIM_SHARE, "knn_k": neighbours.k, "_others": others, "_projection": projection}
        return network, history, forest, tails, neighbours, ensemble, kept.copy()

    def _combine(self, parts: list[np.ndarray]) -> np.ndarray:
        """"auto": the row's score from the four parts, each standardised by its training median
        and IQR.

        The autoencoder (is each cell what the rest of its row predicts?) and the neighbours
        (are there rows like this one?) judge a row in context; IsolationForest and the column
        tails judge its values against the whole table and count only as far as both agree
        (their minimum), since either alone also fires on rare modes that are normal. A row is as
        strange as the strongest of the three verdicts: each finds anomalies the others miss.
        """
        assert self.ensemble_ is not None
        z = [
            (part - centre) / spread
            for part, centre, spread in zip(parts, self.ensemble_["centre"], self.ensemble_["scale"], strict=True)
        ]
        autoencoder, forest, tails, neighbours = z
        return np.maximum(np.maximum(autoencoder, neighbours), np.minimum(forest, tails))

    def _auto_parts(
        self,
        matrix: np.ndarray,
        recon: np.ndarray,
        have_recon: bool | None,
        should_stop: StopCallback | None = None,
        on_scored: RowsCallback | None = None,
    ) -> list[np.ndarray]:
        """"auto": the four raw scores per row (log for the two that are distances), computed
        SCORE_CHUNK rows at a time so that the temporaries stay small on a full-size sheet.

        ``recon`` (rows x features, float32: the network computes in float32) is filled in
        unless ``have_recon``; the parts that do not depend on the network are reused when
        ``matrix`` is the table this detector was just trained on.
        """
        assert self.forest_ is not None and self.tails_ is not None and self.neighbours_ is not None
        n = matrix.shape[0]
        cached = getattr(self, "_training_parts", None)
        others = None
        if cached is not None and cached[1][0].shape[0] == n and cached[0] == _digest(matrix):
            if have_recon and cached[2] is not None:
                # The training table, with its reconstruction: every part is already known.
                return [cached[2], *cached[1]]
            others = list(cached[1])
        parts = [np.empty(n) for _ in range(1 if others is not None else len(ENSEMBLE_PARTS))]
        for start in range(0, n, SCORE_CHUNK):
            if should_stop is not None and should_stop():
                # A million rows take a while to score; a cancel is heard between chunks.
                raise TrainingCancelled("scoring was cancelled")
            rows = slice(start, start + SCORE_CHUNK)
            block = matrix[rows]
            clipped = np.clip(block, -INPUT_CLIP, INPUT_CLIP)
            if not have_recon:
                recon[rows] = reconstruct(self.network_, clipped, self.preprocessor_)
            per_column = column_residuals(block, recon[rows], self._cell_scales(block), self.preprocessor_)
            parts[0][rows] = _autoencoder_part(self.error_tails_.surprise(per_column))
            if others is None:
                compact = block @ self.projection_
                parts[1][rows] = self.forest_.score(compact)
                parts[2][rows] = self.tails_.score(compact)
                parts[3][rows] = np.log(self.neighbours_.score(clipped) + 1e-12)
            if on_scored is not None:
                on_scored(min(start + SCORE_CHUNK, n), n)
        return parts if others is None else [parts[0], *others]

    def _cell_scales(self, matrix: np.ndarray) -> np.ndarray:
        """"auto": each cell's usual squared error, by its column and, where fitted, its row's kind."""
        scales = getattr(self, "mode_scales_", None)
        if scales is None:
            return self.residual_scale_
        return scales.cell_scales(self.preprocessor_, matrix, self.residual_scale_)

    def fit(self, df: pd.DataFrame, y: None = None, **kwargs: Any) -> TabularAnomalyDetector:
        """scikit-learn spelling of :meth:`train`; returns the detector."""
        self.train(df, **kwargs)
        return self

    def _check_params(self, validation_split: float) -> None:
        if self.model not in ("auto", "autoencoder", "iforest"):
            raise ValueError(f"model must be 'auto', 'autoencoder' or 'iforest', not {self.model!r}")
        check_percentile(self.threshold_percentile, "threshold_percentile")
        if int(self.encoding_dim) < 1:
            raise ValueError("encoding_dim must be at least 1")
        if not 0 <= validation_split < 1:
            raise ValueError("validation_split must be in [0, 1)")

    def _resolve_kind(self, notes: list[str]) -> str:
        if self.model == "iforest":
            return "iforest"
        if tensorflow_available():
            return str(self.model)
        notes.append("TensorFlow is not installed: using IsolationForest instead of the autoencoder")
        warnings.warn(notes[-1], RuntimeWarning, stacklevel=3)
        return "iforest"

    # -- scoring ----------------------------------------------------------------------------

    def _require_fitted(self) -> None:
        if not hasattr(self, "threshold_"):
            raise NotFittedError("the detector is not trained: call train(df) or load(dir) first")

    def _scores(
        self, matrix: np.ndarray, should_stop: StopCallback | None = None, on_scored: RowsCallback | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Anomaly score per row (higher = stranger) and the per-feature reconstruction."""
        if self.network_ is not None and self.model_kind_ == "auto":
            recon = self._take_training_recon(matrix)
            have = recon is not None
            if recon is None:
                recon = np.empty(matrix.shape, dtype=np.float32)
            assert self.ensemble_ is not None
            return self._combine(self._auto_parts(matrix, recon, have, should_stop, on_scored)), recon
        if self.network_ is not None:
            clip = self.input_clip_
            recon = self.network_.forward(np.clip(matrix, -clip, clip) if clip else matrix)
            return np.mean((matrix - recon) ** 2 / self.residual_scale_, axis=1), recon
        assert self.forest_ is not None
        # The forest reconstructs nothing; a column's "expected" value is its typical one, so
        # explanations rank columns by how far the row sits from the usual row.
        recon = np.broadcast_to(self.feature_means_, matrix.shape)
        return self.forest_.score(matrix), recon

    def _take_training_recon(self, matrix: np.ndarray) -> np.ndarray | None:
        """The training table's reconstruction, once, when ``matrix`` is that table."""
        recon = getattr(self, "_training_recon", None)
        cached = getattr(self, "_training_parts", None)
        if recon is None or cached is None or recon.shape != matrix.shape or cached[0] != _digest(matrix):
            return None
        self._training_recon = None
        return recon

    def threshold_at(self, percentile: float) -> float:
        """The score threshold for another percentile of the training scores (no retraining)."""
        self._require_fitted()
        return float(np.interp(percentile, QUANTILE_GRID, self.score_quantiles_))

    def score_samples(self, df: pd.DataFrame) -> np.ndarray:
        """Anomaly score per row of ``df``, higher = more anomalous."""
        return self.detect(df).scores

    def detect(
        self,
        df: pd.DataFrame,
        threshold: float | None = None,
        *,
        should_stop: StopCallback | None = None,
        on_scored: RowsCallback | None = None,
    ) -> Detection:
        """Score every row of ``df``; rows above ``threshold`` (default: the fitted one) are flagged.

        ``should_stop`` is asked between chunks of rows; when it returns true,
        :class:`~.progress.TrainingCancelled` is raised. ``on_scored(done, total)`` hears how
        far scoring has got.
        """
        self._require_fitted()
        frame = _string_columns(df)
        matrix, report = self.preprocessor_.transform(frame)
        with _one_blas_thread():
            scores, recon = self._scores(matrix, should_stop, on_scored)
        cut = self.threshold_ if threshold is None else float(threshold)
        return Detection(scores, cut, scores > cut, report, matrix, recon)

    def explain(self, df: pd.DataFrame, detection: Detection, rows: np.ndarray | list[int]) -> list[dict[str, Any]]:
        """Seed-format dicts for the given row positions, with the top columns that explain each."""
        frame = _string_columns(df)
        out = []
        encoders = self.preprocessor_.encoders
        rows = np.asarray(rows, dtype=np.int64)
        if rows.size == 0:
            return []
        recon = np.asarray(detection.reconstruction[rows])
        if self.model_kind_ == "auto" and self.error_tails_ is not None:
            # Ranked by how unusual each column's error is for that column, the same measure
            # the row's score rests on; reported as the column's error relative to its usual.
            errors = column_residuals(
                detection.matrix[rows], recon, self._cell_scales(detection.matrix[rows]), self.preprocessor_
            )
            per_column = errors
            ranking = self.error_tails_.surprise(errors) + 1e-6 * np.minimum(errors, 1e6)
        else:
            residual = (detection.matrix[rows] - recon) ** 2 / self.residual_scale_
            per_column = np.column_stack([residual[:, e.start : e.stop].sum(axis=1) for e in encoders])
            ranking = per_column
        expected = {e.column: e.expected(recon[:, e.start : e.stop]) for e in encoders}
        k = max(0, int(self.top_features))
        raw_rows = json_rows(frame, rows)
        for i, row in enumerate(rows):
            order = np.lexsort((np.arange(len(encoders)), -ranking[i]))[:k]
            raw_data = raw_rows[i]
            features = []
            for j in order:
                column = encoders[j].column
                features.append(
                    {
                        "feature_name": column,
                        "actual_value": raw_data[column],
                        "expected_value": json_value(expected[column][i]),
                        "reconstruction_error": float(per_column[i, j]),
                    }
                )
            out.append(
                {
                    "row_index": int(row),
                    "anomaly_score": float(detection.scores[row]),
                    "anomalous_features": features,
                    "raw_data": raw_data,
                }
            )
        return out

    def detect_anomalies(self, df: pd.DataFrame) -> list[dict[str, Any]]:
        """The seed's call: one dict per flagged row, highest ``anomaly_score`` first."""
        detection = self.detect(df)
        return self.explain(df, detection, detection.anomaly_rows)

    # -- persistence ------------------------------------------------------------------------

    def manifest(self) -> dict[str, Any]:
        """Everything about the fitted model except its arrays, as JSON-ready data."""
        self._require_fitted()
        return {
            "format": MODEL_FORMAT,
            "format_version": MODEL_FORMAT_VERSION,
            "created_with": {"anomaly-tui": _package_version()},
            "trained_at": self.trained_at_,
            "model_kind": self.model_kind_,
            "params": {
                "encoding_dim": int(self.encoding_dim),
                "threshold_percentile": float(self.threshold_percentile),
                "model": self.model,
                "hidden_layers": [int(h) for h in self.hidden_layers],
                "random_state": int(self.random_state),
                "roles": {k: str(v) for k, v in (self.roles or {}).items()},
                "top_features": int(self.top_features),
            },
            "training": self.training_params_,
            "threshold": self.threshold_,
            "score_quantiles": [float(q) for q in self.score_quantiles_],
            "feature_means": [float(m) for m in self.feature_means_],
            "residual_scale": [float(v) for v in self.residual_scale_],
            "input_clip": self.input_clip_,
            "ensemble": self.ensemble_,
            "history": self.history_,
            "warnings": self.warnings_,
            "preprocessor": self.preprocessor_.to_json(),
            "network": None
            if self.network_ is None
            else {"shape": self.network_.shape, "activations": self.network_.activations},
        }

    def save(self, directory: str | os.PathLike[str]) -> Path:
        """Write the model as data only: ``manifest.json`` plus ``.npz`` arrays, each hashed.

        The directory is written beside its final place and renamed into it, so a reader never
        sees half a model.
        """
        manifest = self.manifest()
        target = Path(directory)
        blobs: dict[str, bytes] = {}
        if self.network_ is not None:
            blobs["network.npz"] = self.network_.to_npz_bytes()
        if self.forest_ is not None:
            blobs["forest.npz"] = self.forest_.to_npz_bytes()
        if self.tails_ is not None and self.neighbours_ is not None:
            buffer = io.BytesIO()
            np.savez(
                buffer,
                tail_quantiles=self.tails_.quantiles,
                tail_rows=np.array([self.tails_.rows], dtype=np.int64),
                knn_reference=self.neighbours_.reference.astype(np.float32),
                projection=self.projection_,
                error_quantiles=self.error_tails_.quantiles,
                error_rows=np.array([self.error_tails_.rows], dtype=np.int64),
                mode_column=self.mode_scales_.mode_column,
                mode_table=self.mode_scales_.table,
            )
            blobs["ensemble.npz"] = buffer.getvalue()
        manifest["files"] = {name: hashlib.sha256(data).hexdigest() for name, data in blobs.items()}
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
        try:
            for name, data in blobs.items():
                (staging / name).write_bytes(data)
            (staging / MANIFEST).write_text(
                json.dumps(manifest, indent=1, allow_nan=False, ensure_ascii=False), encoding="utf-8"
            )
            if target.exists():
                old = target.with_name(f".{target.name}.old-{os.getpid()}")
                target.rename(old)
                staging.rename(target)
                shutil.rmtree(old, ignore_errors=True)
            else:
                staging.rename(target)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return target

    @classmethod
    def load(cls, directory: str | os.PathLike[str]) -> TabularAnomalyDetector:
        """Read a model written by :meth:`save`; refuse anything damaged or foreign.

        Raises:
            ModelFileError: with a one-line reason.
        """
        path = Path(directory)
        try:
            raw = (path / MANIFEST).read_bytes()
        except FileNotFoundError:
            raise ModelFileError(f"{path} is not a saved model (no {MANIFEST})") from None
        except OSError as exc:
            raise ModelFileError(f"cannot read {path / MANIFEST}: {exc.strerror or exc}") from None
        try:
            manifest = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            raise ModelFileError(f"{path / MANIFEST} is damaged (not valid JSON)") from None
        if not isinstance(manifest, dict) or manifest.get("format") != MODEL_FORMAT:
            raise ModelFileError(f"{path} does not hold an anomaly-tui model")
        if manifest.get("format_version") != MODEL_FORMAT_VERSION:
            raise ModelFileError(
                f"{path} holds a model in format version {manifest.get('format_version')!r}; "
                f"this version of anomaly-tui reads version {MODEL_FORMAT_VERSION}"
            )
        files = manifest.get("files")
        if not isinstance(files, dict):
            raise ModelFileError(f"{path / MANIFEST} lists no model files")
        for name, digest in files.items():
            if name not in MODEL_FILES:
                raise ModelFileError(f"{path / MANIFEST} names an unexpected file {name!r}")
            try:
                actual = hashlib.sha256((path / name).read_bytes()).hexdigest()
            except OSError:
                raise ModelFileError(f"{path / name} is missing") from None
            if actual != digest:
                raise ModelFileError(f"{path / name} does not match its checksum (damaged or modified)")
        try:
            return cls._from_manifest(path, manifest)
        except ModelFileError:
            raise
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise ModelFileError(f"{path} holds an inconsistent model ({exc})") from None

    @classmethod
    def _from_manifest(cls, path: Path, manifest: dict[str, Any]) -> TabularAnomalyDetector:
        params = manifest["params"]
        detector = cls(
            encoding_dim=int(params["encoding_dim"]),
            threshold_percentile=float(params["threshold_percentile"]),
            model=params["model"],
            hidden_layers=tuple(int(h) for h in params["hidden_layers"]),
            random_state=int(params["random_state"]),
            roles=dict(params["roles"]) or None,
            top_features=int(params["top_features"]),
        )
        kind = manifest["model_kind"]
        preprocessor = TabularPreprocessor.from_json(manifest["preprocessor"])
        n_features = preprocessor.n_features
        network = forest = tails = neighbours = projection = error_tails = mode_scales = None
        ensemble = manifest.get("ensemble")
        if kind not in ("autoencoder", "auto", "iforest"):
            raise ModelFileError(f"{path}: unknown model kind {kind!r}")
        if kind in ("autoencoder", "auto"):
            info = manifest["network"]
            network = DenseNetwork.from_npz(path / "network.npz", list(info["activations"]))
            if network.n_inputs != n_features or network.shape[-1] != n_features:
                raise ModelFileError(f"{path}: the network does not fit the table's {n_features} features")
        if kind == "auto":
            tails, neighbours, projection, error_tails, mode_scales = _load_ensemble_arrays(
                path / "ensemble.npz", n_features, len(preprocessor.encoders), int(ensemble["knn_k"])
            )
            eligible = dict(_mode_candidates(preprocessor))
            for target, j in enumerate(mode_scales.mode_column.tolist()):
                if j >= 0 and (j == target or j not in eligible or eligible[j] > mode_scales.table.shape[1]):
                    raise ModelFileError(f"{path}: the ensemble's per-kind error scales do not fit the table")
            forest = ForestArrays.from_npz(path / "forest.npz")
            if forest.feature.size and (forest.feature.max() >= projection.shape[1] or forest.feature.min() < 0):
                raise ModelFileError(f"{path}: the forest does not fit the table's {n_features} features")
            parts = len(ENSEMBLE_PARTS)
            if list(ensemble["parts"]) != list(ENSEMBLE_PARTS) or len(ensemble["centre"]) != parts:
                raise ModelFileError(f"{path}: the manifest's ensemble does not match this version")
            spreads = np.asarray(ensemble["scale"], dtype=np.float64)
            centres = np.asarray(ensemble["centre"], dtype=np.float64)
            if spreads.shape != (parts,) or not np.all(spreads > 0) or not np.all(np.isfinite(centres)):
                raise ModelFileError(f"{path}: the manifest's ensemble statistics are invalid")
        elif kind == "iforest":
            forest = ForestArrays.from_npz(path / "forest.npz")
            if forest.feature.size and forest.feature.max() >= n_features:
                raise ModelFileError(f"{path}: the forest does not fit the table's {n_features} features")
        means = np.asarray(manifest["feature_means"], dtype=np.float64)
        residual_scale = np.asarray(manifest["residual_scale"], dtype=np.float64)
        clip = manifest["input_clip"]
        if residual_scale.shape != (n_features,) or not np.all(residual_scale > 0):
            raise ModelFileError(f"{path}: the manifest's residual scales are invalid")
        quantiles = np.asarray(manifest["score_quantiles"], dtype=np.float64)
        if means.shape != (n_features,) or quantiles.shape != QUANTILE_GRID.shape:
            raise ModelFileError(f"{path}: the manifest's arrays have the wrong size")
        threshold = float(manifest["threshold"])
        if not math.isfinite(threshold) or not np.all(np.isfinite(quantiles)):
            raise ModelFileError(f"{path}: the threshold is not a finite number")
        detector.profiles_ = preprocessor.profiles
        detector.preprocessor_ = preprocessor
        detector.model_kind_ = kind
        detector.network_ = network
        detector.forest_ = forest
        detector.tails_ = tails
        detector.neighbours_ = neighbours
        detector.projection_ = projection
        detector.error_tails_ = error_tails
        detector.mode_scales_ = mode_scales
        detector.ensemble_ = ensemble if kind == "auto" else None
        detector.feature_means_ = means
        detector.residual_scale_ = residual_scale
        detector.input_clip_ = None if clip is None else float(clip)
        detector.history_ = {k: list(v) for k, v in manifest["history"].items()}
        detector.training_params_ = dict(manifest["training"])
        detector.warnings_ = list(manifest["warnings"])
        detector.score_quantiles_ = quantiles
        detector.threshold_ = threshold
        detector.trained_at_ = str(manifest["trained_at"])
        return detector

    # -- reporting --------------------------------------------------------------------------

    @property
    def columns_used(self) -> list[str]:
        self._require_fitted()
        return self.preprocessor_.columns

    @property
    def columns_dropped(self) -> list[dict[str, str]]:
        """Columns the model does not see, each with the reason a user will read."""
        self._require_fitted()
        return [{"name": p.name, "reason": f"{p.role}: {p.reason}"} for p in self.profiles_ if not p.used]


def detect_anomalies_in_excel(
    df: pd.DataFrame,
    model_path: str | os.PathLike[str] | None = None,
    train_if_needed: bool = True,
) -> tuple[list[dict[str, Any]], TabularAnomalyDetector]:
    """The seed's one-call helper: load the model at ``model_path`` or train one, then detect.

    A model is trained on ``df`` itself when ``model_path`` is None or holds no model, and saved
    there when a path was given.

    Raises:
        ModelFileError: ``model_path`` holds a damaged model, or none and ``train_if_needed`` is false.
    """
    detector: TabularAnomalyDetector | None = None
    if model_path is not None and (Path(model_path) / MANIFEST).exists():
        detector = TabularAnomalyDetector.load(model_path)
    if detector is None:
        if not train_if_needed:
            raise ModelFileError(f"no saved model at {model_path} and train_if_needed is False")
        detector = TabularAnomalyDetector()
        detector.train(df)
        if model_path is not None:
            detector.save(model_path)
    return detector.detect_anomalies(df), detector


def _load_ensemble_arrays(
    path: Path, n_features: int, n_columns: int, k: int
) -> tuple[TailModel, NeighbourModel, np.ndarray, ErrorTails, ModeScales]:
    try:
        with np.load(path, allow_pickle=False) as data:
            quantiles = np.array(data["tail_quantiles"], dtype=np.float64)
            rows = int(np.array(data["tail_rows"]).reshape(-1)[0])
            reference = np.array(data["knn_reference"], dtype=np.float64)
            projection = np.array(data["projection"], dtype=np.float64)
            errors = ErrorTails(np.array(data["error_quantiles"], dtype=np.float64), int(np.array(data["error_rows"]).reshape(-1)[0]))
            modes = ModeScales(np.array(data["mode_column"]), np.array(data["mode_table"], dtype=np.float64))
    except (KeyError, ValueError, IndexError, OSError, zipfile.BadZipFile, EOFError) as exc:
        raise ModelFileError(f"{path} is unreadable ({exc})") from None
    if (
        projection.ndim != 2
        or projection.shape[0] != n_features
        or quantiles.shape != (TailModel.GRID.size, projection.shape[1])
        or reference.ndim != 2
        or reference.shape[1] != n_features
    ):
        raise ModelFileError(f"{path}: the ensemble arrays do not fit the table's {n_features} features")
    if errors.quantiles.shape != (ErrorTails.GRID.size, n_columns):
        raise ModelFileError(f"{path}: the ensemble arrays do not fit the table's {n_columns} columns")
    if (
        modes.mode_column.shape != (n_columns,)
        or modes.table.ndim != 2
        or modes.table.shape[0] != n_features
        or modes.table.shape[1] < 1
        or np.any(modes.mode_column < -1)
        or np.any(modes.mode_column >= n_columns)
        or not np.all(modes.table > 0)
    ):
        raise ModelFileError(f"{path}: the ensemble's per-kind error scales do not fit the table")
    finite = all(np.all(np.isfinite(a)) for a in (quantiles, reference, projection, errors.quantiles, modes.table))
    if rows < 1 or errors.rows < 1 or reference.shape[0] < 1 or not finite:
        raise ModelFileError(f"{path}: the ensemble arrays are invalid")
    return TailModel(quantiles, rows), NeighbourModel(reference, k), projection, errors, modes


def _string_columns(df: pd.DataFrame) -> pd.DataFrame:
    """The table with str column names (spreadsheets give ints or None for blank headers)."""
    if all(isinstance(c, str) for c in df.columns):
        return df
    out = df.copy(deep=False)
    out.columns = [str(c) for c in df.columns]
    return out

