"""What every model kind provides to the detector: fit, score, explain, and its arrays to keep.

``TabularAnomalyDetector`` encodes the table and picks the kind; a ``Scorer`` does the rest for
that kind (``ensemble.EnsembleScorer`` for "auto", ``seed.SeedAutoencoderScorer`` for
"autoencoder", ``forest.ForestScorer`` for "iforest"). Persistence (``persist``) keeps the
manifest keys and array files each kind has always written.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

import numpy as np

from .network import DenseNetwork
from .preprocess import TabularPreprocessor
from .progress import ProgressCallback, RowsCallback, StopCallback
from .training import TrainSettings


@dataclass(frozen=True)
class FitPlan:
    """How to train, as the detector resolved it from its parameters and the table's size."""

    hidden: tuple[int, ...]
    encoding_dim: int
    epochs: int
    batch_size: int
    validation_split: float
    early_stopping: bool
    seed: int

    @property
    def patience(self) -> int | None:
        return 5 if self.early_stopping else None

    def train_settings(self) -> TrainSettings:
        return TrainSettings(
            hidden=self.hidden,
            encoding_dim=self.encoding_dim,
            epochs=self.epochs,
            batch_size=self.batch_size,
            validation_split=self.validation_split,
            seed=self.seed,
            patience=self.patience,
        )


@dataclass(frozen=True)
class FitHooks:
    """Who hears about training: progress per batch, a cancel question, rows scored."""

    on_progress: ProgressCallback | None = None
    should_stop: StopCallback | None = None
    on_scored: RowsCallback | None = None


@dataclass(frozen=True)
class Fitted:
    """What fitting a scorer gives back besides the scorer."""

    history: dict[str, list[float]]
    #: Every row's score (the training table's), for the threshold quantiles.
    scores: np.ndarray
    #: Rows the models were fitted on (all, or a sample of a big table).
    fit_rows: int


class Scorer(Protocol):
    kind: str
    #: What the manifest records under ``residual_scale`` and ``input_clip``.
    residual_scale: np.ndarray
    input_clip: float | None

    @property
    def network(self) -> DenseNetwork | None: ...

    def score(
        self,
        preprocessor: TabularPreprocessor,
        matrix: np.ndarray,
        *,
        should_stop: StopCallback | None = None,
        on_scored: RowsCallback | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Anomaly score per row (higher = stranger) and each feature's expected value."""
        ...

    def column_errors(
        self, preprocessor: TabularPreprocessor, matrix: np.ndarray, recon: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per row and column: the error reported to the user, the ranking of columns, and each
        column's contribution to the row's strangeness (the measure shown as its share)."""
        ...

    def ensemble_manifest(self) -> dict[str, Any] | None: ...

    def to_arrays(self) -> dict[str, bytes]:
        """The model's array files (name -> npz bytes), as ``persist`` writes them."""
        ...


class BlockScorer:
    """The defaults of the kinds that judge a row as a whole ("autoencoder", "iforest"): inputs
    not clipped, a column's error summed over its features, no ``ensemble`` in the manifest."""

    input_clip: ClassVar[float | None] = None
    residual_scale: np.ndarray

    def column_errors(
        self, preprocessor: TabularPreprocessor, matrix: np.ndarray, recon: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        errors, ranking = block_errors(preprocessor, matrix, recon, self.residual_scale)
        return errors, ranking, errors

    def ensemble_manifest(self) -> dict[str, Any] | None:
        return None


def block_errors(
    preprocessor: TabularPreprocessor, matrix: np.ndarray, recon: np.ndarray, residual_scale: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Each column's summed squared error over its features; ranked by that same error."""
    residual = (matrix - recon) ** 2 / residual_scale
    per_column = np.column_stack([residual[:, e.start : e.stop].sum(axis=1) for e in preprocessor.encoders])
    return per_column, per_column
