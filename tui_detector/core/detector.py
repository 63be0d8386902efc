"""``TabularAnomalyDetector``: the seed's API, with explanations in the user's own columns.

The seed ("Anomaly Detector Integration Guide") fixed the surface kept here: ``train``,
``detect_anomalies``, ``save``/``load`` and the per-anomaly dict (``row_index``,
``anomaly_score``, ``anomalous_features``, ``raw_data``). Behind it: column roles instead of label
encoding everything, a network scored in NumPy, and a data-only model directory.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import os
import shutil
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from .env import tensorflow_available
from .forest import ForestArrays
from .jsonsafe import json_row, json_value
from .network import DenseNetwork
from .preprocess import TabularPreprocessor, TransformReport
from .progress import ProgressCallback, StopCallback, TrainingCancelled
from .roles import ColumnProfile, Role, profile_columns

ModelKind = Literal["auto", "autoencoder", "iforest"]

MODEL_FORMAT = "anomaly-tui-model"
MODEL_FORMAT_VERSION = 1
MANIFEST = "manifest.json"
#: Quantiles of the training scores kept with a model, so the threshold can move without them.
QUANTILE_GRID = np.linspace(0.0, 100.0, 1001)
#: "auto": scaled inputs are clipped here before the network sees them (see train_autoencoder).
INPUT_CLIP = 5.0
#: "auto": a feature's residual is measured against its usual training residual, floored here so
#: a feature the network reproduces almost exactly does not turn rounding noise into anomalies.
RESIDUAL_FLOOR = 1e-2


class ModelFileError(ValueError):
    """A saved model directory is missing, damaged, tampered with or from another format."""


class NotFittedError(RuntimeError):
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
        model: ``"auto"`` (default: the seed's network with winsorised inputs and per-feature
            residual scaling, which finds isolated extreme values and is not dominated by
            columns that are noisy in every row), ``"autoencoder"`` (the seed's recipe: score =
            reconstruction MSE), or ``"iforest"`` (IsolationForest). Without TensorFlow every
            choice falls back to IsolationForest, with a warning.
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
    ) -> dict[str, list[float]]:
        """Fit on ``df`` (every row is assumed mostly normal) and set the threshold.

        ``epochs`` and ``batch_size`` default to values suited to the table's size; the seed's
        ``epochs=50, batch_size=32`` still work when given. Returns the loss history per epoch.

        Raises:
            TrainingCancelled: ``should_stop`` returned true (checked after every batch).
            ValueError: The table has no rows or no usable column.
        """
        self._check_params(validation_split)
        if not isinstance(df, pd.DataFrame):
            raise TypeError("train() expects a pandas DataFrame")
        if len(df) < 2:
            raise ValueError(f"at least 2 rows are needed to learn what is normal; the table has {len(df)}")
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
        n_epochs = int(epochs) if epochs else auto_epochs(len(frame), batch)
        input_clip = INPUT_CLIP if kind == "auto" else None
        if kind in ("autoencoder", "auto"):
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
                input_clip=input_clip,
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
        self.input_clip_ = input_clip
        self.feature_means_ = matrix.mean(axis=0)
        self.residual_scale_ = np.ones(matrix.shape[1])
        if kind == "auto":
            # Measured on the winsorised rows the network learned from, so the extreme cells
            # it should flag do not inflate their own column's yardstick.
            clipped = np.clip(matrix, -INPUT_CLIP, INPUT_CLIP)
            recon = network.forward(clipped)
            self.residual_scale_ = np.maximum(np.mean((clipped - recon) ** 2, axis=0), RESIDUAL_FLOOR)
        self.history_ = history
        trained_network = network is not None
        self.training_params_ = {
            "epochs": n_epochs if trained_network else None,
            "epochs_run": len(history.get("loss", [])) if trained_network else None,
            "batch_size": batch if trained_network else None,
            "validation_split": validation_split,
            "rows": len(frame),
        }
        self.warnings_ = fit_warnings
        scores = self._scores(matrix)[0]
        self.score_quantiles_ = np.percentile(scores, QUANTILE_GRID)
        self.threshold_ = float(np.percentile(scores, self.threshold_percentile))
        self.trained_at_ = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
        return history

    def fit(self, df: pd.DataFrame, y: None = None, **kwargs: Any) -> TabularAnomalyDetector:
        """scikit-learn spelling of :meth:`train`; returns the detector."""
        self.train(df, **kwargs)
        return self

    def _check_params(self, validation_split: float) -> None:
        if self.model not in ("auto", "autoencoder", "iforest"):
            raise ValueError(f"model must be 'auto', 'autoencoder' or 'iforest', not {self.model!r}")
        if not 0 < float(self.threshold_percentile) < 100:
            raise ValueError("threshold_percentile must be between 0 and 100 (exclusive)")
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

    def _scores(self, matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Anomaly score per row (higher = stranger) and the per-feature reconstruction."""
        if self.network_ is not None:
            clip = self.input_clip_
            recon = self.network_.forward(np.clip(matrix, -clip, clip) if clip else matrix)
            return np.mean((matrix - recon) ** 2 / self.residual_scale_, axis=1), recon
        assert self.forest_ is not None
        # The forest reconstructs nothing; a column's "expected" value is its typical one, so
        # explanations rank columns by how far the row sits from the usual row.
        recon = np.broadcast_to(self.feature_means_, matrix.shape)
        return self.forest_.score(matrix), recon

    def threshold_at(self, percentile: float) -> float:
        """The score threshold for another percentile of the training scores (no retraining)."""
        self._require_fitted()
        return float(np.interp(percentile, QUANTILE_GRID, self.score_quantiles_))

    def score_samples(self, df: pd.DataFrame) -> np.ndarray:
        """Anomaly score per row of ``df``, higher = more anomalous."""
        return self.detect(df).scores

    def detect(self, df: pd.DataFrame, threshold: float | None = None) -> Detection:
        """Score every row of ``df``; rows above ``threshold`` (default: the fitted one) are flagged."""
        self._require_fitted()
        frame = _string_columns(df)
        matrix, report = self.preprocessor_.transform(frame)
        scores, recon = self._scores(matrix)
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
        residual = (detection.matrix[rows] - recon) ** 2 / self.residual_scale_
        per_column = np.column_stack([residual[:, e.start : e.stop].sum(axis=1) for e in encoders])
        expected = {e.column: e.expected(recon[:, e.start : e.stop]) for e in encoders}
        k = max(0, int(self.top_features))
        for i, row in enumerate(rows):
            order = np.lexsort((np.arange(len(encoders)), -per_column[i]))[:k]
            raw_data = json_row(frame, int(row))
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
            if name not in ("network.npz", "forest.npz"):
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
        network = forest = None
        if kind in ("autoencoder", "auto"):
            info = manifest["network"]
            network = DenseNetwork.from_npz(path / "network.npz", list(info["activations"]))
            if network.n_inputs != n_features or network.shape[-1] != n_features:
                raise ModelFileError(f"{path}: the network does not fit the table's {n_features} features")
        elif kind == "iforest":
            forest = ForestArrays.from_npz(path / "forest.npz")
            if forest.feature.size and forest.feature.max() >= n_features:
                raise ModelFileError(f"{path}: the forest does not fit the table's {n_features} features")
        else:
            raise ModelFileError(f"{path}: unknown model kind {kind!r}")
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


def _string_columns(df: pd.DataFrame) -> pd.DataFrame:
    """The table with str column names (spreadsheets give ints or None for blank headers)."""
    if all(isinstance(c, str) for c in df.columns):
        return df
    out = df.copy(deep=False)
    out.columns = [str(c) for c in df.columns]
    return out

