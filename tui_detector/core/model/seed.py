""""autoencoder": the seed's recipe, trained in Keras; score = reconstruction MSE.

Only training needs TensorFlow (imported when :meth:`SeedAutoencoderScorer.fit` runs, so
importing this module stays cheap); scoring is the network's forward pass in NumPy.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .network import DenseNetwork
from .preprocess import TabularPreprocessor
from .progress import RowsCallback, StopCallback
from .scorer import BlockScorer, FitHooks, FitPlan, Fitted


@dataclass(eq=False)  # holds arrays: compared by identity
class SeedAutoencoderScorer(BlockScorer):
    network: DenseNetwork
    residual_scale: np.ndarray

    kind = "autoencoder"

    @classmethod
    def fit(
        cls, preprocessor: TabularPreprocessor, matrix: np.ndarray, plan: FitPlan, hooks: FitHooks
    ) -> tuple[SeedAutoencoderScorer, Fitted]:
        from ._keras import train_autoencoder  # noqa: PLC0415 - TensorFlow loads only here

        network, history = train_autoencoder(
            matrix, plan.train_settings(), on_progress=hooks.on_progress, should_stop=hooks.should_stop
        )
        scorer = cls(network, np.ones(matrix.shape[1]))
        return scorer, Fitted(history, scorer.score(preprocessor, matrix)[0], int(matrix.shape[0]))

    def score(
        self,
        preprocessor: TabularPreprocessor,
        matrix: np.ndarray,
        *,
        should_stop: StopCallback | None = None,
        on_scored: RowsCallback | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        recon = self.network.forward(matrix)
        return np.mean((matrix - recon) ** 2 / self.residual_scale, axis=1), recon

    def to_arrays(self) -> dict[str, bytes]:
        return {"network.npz": self.network.to_npz_bytes()}

    @classmethod
    def from_arrays(
        cls, path: Path, manifest: dict[str, Any], preprocessor: TabularPreprocessor, network: DenseNetwork | None
    ) -> SeedAutoencoderScorer:
        assert network is not None
        return cls(network, np.asarray(manifest["residual_scale"], dtype=np.float64))
