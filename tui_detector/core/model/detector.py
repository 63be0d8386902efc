"""``TabularAnomalyDetector``: the seed's API, with explanations in the user's own columns.

The seed ("Anomaly Detector Integration Guide") fixed the surface kept here: ``train``,
``detect_anomalies``, ``save``/``load`` and the per-anomaly dict (``row_index``,
``anomaly_score``, ``anomalous_features``, ``raw_data``). Behind it: column roles instead of label
encoding everything, a network scored in NumPy, and a data-only model directory.

The detector encodes the table and picks the model kind; one scorer per kind does the rest
(``ensemble``, ``seed``, ``forest``), and ``persist`` reads and writes the model directory.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import time
import warnings
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from ..env import tensorflow_available
from ..errors import AnomalyTuiError
from ..feedback import feedback_parts
from ..jsonsafe import json_rows, json_value
from ..presets import check_percentile
from .ensemble import EnsembleScorer
from .kept import DeferredMatrix, KeptReconstruction, KeptScores
from .estimator import EstimatorParams
from .forest import ForestScorer
from .persist import (
    MANIFEST,
    MODEL_FORMAT,
    MODEL_FORMAT_VERSION,
    MODEL_KINDS,
    ModelFileError,
    _package_version,
    check_common,
    read_manifest,
    read_network,
    write_model,
)
from .preprocess import TabularPreprocessor, TransformReport
from .progress import PREPARE_STEPS, ProgressCallback, RowsCallback, StopCallback, preparation
from .roles import ColumnProfile, Role, apply_roles, profile_columns
from .scorer import FitHooks, FitPlan, Scorer
from .seed import SeedAutoencoderScorer
from .sizing import auto_batch_size, auto_ensemble_epochs, auto_epochs
from .threshold import QUANTILE_GRID, Threshold

__all__ = [
    "Detection",
    "ModelFileError",
    "NotFittedError",
    "TabularAnomalyDetector",
    "Threshold",
    "detect_anomalies_in_excel",
]

ModelKind = Literal["auto", "autoencoder", "iforest"]

#: The scorer class for each model kind.
SCORERS: dict[str, Any] = {"auto": EnsembleScorer, "autoencoder": SeedAutoencoderScorer, "iforest": ForestScorer}


class NotFittedError(AnomalyTuiError, RuntimeError):
    """The detector has not been trained or loaded yet."""


def _one_blas_thread():  # noqa: ANN202 - a context manager
    from threadpoolctl import threadpool_limits  # noqa: PLC0415 - ships with scikit-learn

    return threadpool_limits(1)


@dataclass(frozen=True)
class Detection:
    """Scores for every row of a table, the threshold they were cut at, and how they were read."""

    scores: np.ndarray
    cut: Threshold
    report: TransformReport
    matrix: np.ndarray = field(repr=False)
    #: rows x features; for a table whose results were kept with the model, an object read the
    #: same way (``[rows]``, ``.shape``) that restores the rows it does not hold when asked.
    reconstruction: np.ndarray = field(repr=False)
    #: The ensemble's raw parts (parts x rows), where the model has them.
    raw_parts: np.ndarray | None = field(default=None, repr=False)
    #: Per row, what verdicts re-rank by (``feedback.feedback_parts``: the model's standardised
    #: part scores and a projection of the encoded row); None where a caller built it without.
    parts: np.ndarray | None = field(default=None, repr=False)
    #: Rows above the threshold.
    flags: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "flags", self.scores > self.cut.value)

    @property
    def threshold(self) -> float:
        return self.cut.value

    def with_threshold(self, cut: Threshold) -> Detection:
        """The same scores cut at another threshold."""
        return dataclasses.replace(self, cut=cut)

    @property
    def anomaly_rows(self) -> np.ndarray:
        """Positions of flagged rows, highest score first (ties: lower row first)."""
        rows = np.flatnonzero(self.flags)
        return rows[np.lexsort((rows, -self.scores[rows]))]


#: Per detector, the encoding of the frame it was last trained on, until its first detect.
_TRAINED_ENCODING: weakref.WeakKeyDictionary[Any, tuple[weakref.ref, np.ndarray, TransformReport]] = weakref.WeakKeyDictionary()


class TabularAnomalyDetector(EstimatorParams):
    """Finds unusual rows in a table and says which columns make them unusual.

    Args:
        encoding_dim: Width of the autoencoder's bottleneck (the seed's 8).
        threshold_percentile: Rows scoring above this percentile of the training scores are
            flagged (the seed's 95).
        model: ``"auto"`` (default: an ensemble around the seed's network. The network is
            trained in NumPy to restore blanked cells from the rest of their row, in two halves,
            the second without the rows that look most anomalous; each column's error is judged
            against that column's usual error on rows of the same kind (see ``parts.ModeScales``). Its verdict is combined with the distance to
            the nearest rows and, where both agree, IsolationForest and ECOD-style column tails;
            see ``EnsembleScorer.combine``. Explanations come from the network's per-column
            errors. Needs no TensorFlow), ``"autoencoder"`` (the seed's recipe: Keras, score =
            reconstruction MSE; without TensorFlow it falls back to IsolationForest, with a
            warning, the seed's contract), or ``"iforest"`` (IsolationForest).
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
        n_features_in_: Columns of the table it was fitted on (used or not).
        scorer_: The fitted model of that kind (see ``scorer.Scorer``).
        score_quantiles_: The training scores at every 0.1 percentile, so a threshold at any
            percentile needs no retraining (see :meth:`threshold_for`).

    Parameters are kept as given and never changed by training or scoring (scikit-learn's
    contract: ``get_params``, ``set_params`` and ``sklearn.base.clone`` work); everything learned
    lives in the attributes ending in ``_``.
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
        guessed: Sequence[ColumnProfile] | None = None,
    ) -> dict[str, list[float]]:
        """Fit on ``df`` (every row is assumed mostly normal) and set the threshold.

        ``epochs`` and ``batch_size`` default to values suited to the table's size; the seed's
        ``epochs=50, batch_size=32`` still work when given. Returns the loss history per epoch.
        A table fitted on a sample then has every row scored; ``on_scored(done, total)`` hears
        how far that has got. ``guessed``: ``profile_columns(df)`` where the caller has it
        already (Set up showed it), so a million-row table is not profiled twice; used only when
        it names the table's columns and rows.

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
                FitHooks(on_progress=on_progress, should_stop=should_stop, on_scored=on_scored),
                early_stopping,
                guessed,
            )

    def _train(
        self,
        df: pd.DataFrame,
        epochs: int | None,
        batch_size: int | None,
        validation_split: float,
        hooks: FitHooks,
        early_stopping: bool,
        guessed: Sequence[ColumnProfile] | None = None,
    ) -> dict[str, list[float]]:
        self._check_params(validation_split)
        if not isinstance(df, pd.DataFrame):
            raise TypeError("train() expects a pandas DataFrame")
        if len(df) < 2:
            raise ValueError(f"at least 2 rows are needed to learn what is normal; the table has {len(df)}")
        frame = _string_columns(df)
        started = time.monotonic()

        def preparing(step: str, done: int) -> None:
            # Profiling and encoding a big table takes seconds before the first epoch: say so.
            if hooks.on_progress is not None:
                hooks.on_progress(preparation(step, done, PREPARE_STEPS, time.monotonic() - started))

        preparing("profiling the columns", 0)
        if guessed is not None and [p.name for p in guessed] == [str(c) for c in frame.columns] and all(
            p.rows == len(frame) for p in guessed
        ):
            profiles = apply_roles(list(guessed), self.roles)
        else:
            profiles = profile_columns(frame, self.roles)
        preparing("encoding the columns", 1)
        preprocessor = TabularPreprocessor(profiles).fit(frame)
        matrix, report = preprocessor.transform(frame)
        matrix.flags.writeable = False  # shared with the detection of this table (see detect)
        preparing("fitting the model's first parts", 2)

        fit_warnings: list[str] = report.warnings()
        kind = self._resolve_kind(fit_warnings)
        batch = int(batch_size) if batch_size else auto_batch_size(len(frame))
        if epochs:
            n_epochs = int(epochs)
        elif kind == "auto":
            n_epochs = auto_ensemble_epochs(len(frame), batch)
        else:
            n_epochs = auto_epochs(len(frame), batch)
        plan = FitPlan(
            hidden=tuple(self.hidden_layers),
            encoding_dim=int(self.encoding_dim),
            epochs=n_epochs,
            batch_size=batch,
            validation_split=validation_split,
            early_stopping=early_stopping,
            seed=self.random_state,
        )
        scorer, fitted = SCORERS[kind].fit(preprocessor, matrix, plan, hooks)

        self.profiles_: list[ColumnProfile] = profiles
        self.n_features_in_ = len(profiles)
        self.preprocessor_ = preprocessor
        self.model_kind_ = kind
        self.scorer_: Scorer = scorer
        self.feature_means_ = matrix.mean(axis=0)
        self.history_ = fitted.history
        trained_network = scorer.network is not None
        self.training_params_ = {
            "epochs": n_epochs if trained_network else None,
            "epochs_run": len(fitted.history.get("loss", [])) if trained_network else None,
            "batch_size": batch if trained_network else None,
            "validation_split": validation_split,
            "rows": len(frame),
            "fit_rows": fitted.fit_rows,
        }
        self.warnings_ = fit_warnings
        # The encoding of the table just trained on, for the detection of that table that
        # usually follows (``detect(..., as_trained=True)``): a full-size sheet takes seconds
        # to encode. Handed over once, then let go; kept beside the detector, not in it, so
        # that scoring leaves the fitted state alone and a copy of the detector carries none.
        _TRAINED_ENCODING[self] = (weakref.ref(df), matrix, report)
        self.score_quantiles_ = np.percentile(fitted.scores, QUANTILE_GRID)
        self.threshold_ = float(np.percentile(fitted.scores, self.threshold_percentile))
        self.trained_at_ = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
        return fitted.history

    def fit(self, df: pd.DataFrame, y: None = None, **kwargs: Any) -> TabularAnomalyDetector:
        """scikit-learn spelling of :meth:`train`; returns the detector."""
        self.train(df, **kwargs)
        return self

    def _check_params(self, validation_split: float) -> None:
        if self.model not in MODEL_KINDS:
            raise ValueError(f"model must be 'auto', 'autoencoder' or 'iforest', not {self.model!r}")
        check_percentile(self.threshold_percentile, "threshold_percentile")
        if int(self.encoding_dim) < 1:
            raise ValueError("encoding_dim must be at least 1")
        if not 0 <= validation_split < 1:
            raise ValueError("validation_split must be in [0, 1)")

    def _resolve_kind(self, notes: list[str]) -> str:
        """The kind to fit: the one asked for, but the seed's Keras recipe needs TensorFlow and
        falls back to IsolationForest without it, with a warning (the seed's contract). "auto"
        trains its network in NumPy and never needs TensorFlow."""
        if self.model != "autoencoder" or tensorflow_available():
            return str(self.model)
        notes.append("TensorFlow is not installed: using IsolationForest instead of the autoencoder")
        warnings.warn(notes[-1], RuntimeWarning, stacklevel=3)
        return "iforest"

    # -- scoring ----------------------------------------------------------------------------

    def _require_fitted(self) -> None:
        if not hasattr(self, "threshold_"):
            raise NotFittedError("the detector is not trained: call train(df) or load(dir) first")

    def threshold_at(self, percentile: float) -> float:
        """The score threshold for another percentile of the training scores (no retraining)."""
        self._require_fitted()
        return Threshold.from_quantiles(self.score_quantiles_, percentile).value

    def threshold_for(self, percentile: float | None = None) -> Threshold:
        """The threshold at ``percentile`` of the training scores (default: the detector's
        ``threshold_percentile``, whose value ``threshold_`` was computed from every score)."""
        self._require_fitted()
        if percentile is None or float(percentile) == float(self.threshold_percentile):
            return Threshold(float(self.threshold_percentile), self.threshold_)
        return Threshold.from_quantiles(self.score_quantiles_, check_percentile(percentile))

    def score_samples(self, df: pd.DataFrame) -> np.ndarray:
        """Anomaly score per row of ``df``, higher = more anomalous."""
        return self.detect(df).scores

    def detect(
        self,
        df: pd.DataFrame,
        threshold: Threshold | float | None = None,
        *,
        should_stop: StopCallback | None = None,
        on_scored: RowsCallback | None = None,
        known_as: str | None = None,
        as_trained: bool = False,
    ) -> Detection:
        """Score every row of ``df``; rows above ``threshold`` (a :class:`Threshold`, e.g. from
        :meth:`threshold_for`, or a score; default: the fitted one) are flagged.

        ``known_as`` names the table (see ``pipeline.table_key``): when it is the one whose
        results were kept with this model (:meth:`keep_results`), they are used as they are.
        ``as_trained``: the caller vouches that ``df`` is the very frame :meth:`train` was just
        given, unchanged since; its encoding from training is used instead of encoding it again.

        ``should_stop`` is asked between chunks of rows; when it returns true,
        :class:`~.progress.TrainingCancelled` is raised. ``on_scored(done, total)`` hears how
        far scoring has got.
        """
        self._require_fitted()
        if threshold is None:
            cut = self.threshold_for()
        elif isinstance(threshold, Threshold):
            cut = threshold
        else:
            cut = Threshold(None, float(threshold))
        frame = _string_columns(df)
        known = self._kept_for(known_as, frame)
        if known is not None:
            # The very table whose results were kept with this model: nothing is encoded or
            # scored again (the matrix is built only if a row not kept is asked for).
            scorer, kept, report = known
            matrix = DeferredMatrix(lambda: self.preprocessor_.transform(frame)[0], (len(frame), self.preprocessor_.n_features))
            scores, recon, parts = scorer.kept_results(self.preprocessor_, matrix)
            if on_scored is not None:
                on_scored(len(frame), len(frame))
            return Detection(scores, cut, report, matrix, recon, parts, kept.features)
        trained = _TRAINED_ENCODING.pop(self, None)
        if as_trained and trained is not None and trained[0]() is df:
            matrix, report = trained[1], trained[2]
        else:
            matrix, report = self.preprocessor_.transform(frame)
        parts = None
        with _one_blas_thread():
            if isinstance(self.scorer_, EnsembleScorer):
                scores, recon, parts = self.scorer_.score_parts(
                    self.preprocessor_, matrix, should_stop=should_stop, on_scored=on_scored
                )
            else:
                scores, recon = self.scorer_.score(self.preprocessor_, matrix, should_stop=should_stop, on_scored=on_scored)
                part_scores = scores  # the kinds of one part: the score is that part
            if parts is not None:
                part_scores = np.column_stack(self.scorer_.standardised(list(parts)))
            features = feedback_parts(part_scores, matrix)
        return Detection(scores, cut, report, matrix, recon, parts, features)

    def _kept_for(self, table: str | None, frame: pd.DataFrame) -> tuple[EnsembleScorer, KeptScores, TransformReport] | None:
        scorer = getattr(self, "scorer_", None)
        if table is None or not isinstance(scorer, EnsembleScorer) or scorer.kept is None:
            return None
        kept = scorer.kept
        if not kept.known_as(table, len(frame)) or kept.report is None:
            return None  # (known_as checks the report too; said again for the type checker)
        try:
            report = TransformReport.from_json(kept.report)
        except (KeyError, TypeError, ValueError):
            return None  # not what this version writes: encode the table instead
        return scorer, kept, report

    def keep_results(self, detection: Detection, known_as: str | None = None) -> Detection | None:
        """Keep ``detection`` (of the table this model is about to be cached for) with the model,
        so that the same table scored and explained again later costs neither. Returns the
        detection reading its flagged rows' explanations from what is kept (the same numbers
        a later run gives); None where the model cannot keep results (only "auto" does).
        ``known_as`` names the table, so that :meth:`detect` can find it again unencoded."""
        self._require_fitted()
        if not isinstance(self.scorer_, EnsembleScorer) or detection.raw_parts is None:
            return None
        full = detection.reconstruction
        named = known_as is not None and detection.parts is not None and detection.report is not None
        kept = self.scorer_.keep(
            self.preprocessor_, detection.matrix, detection.raw_parts, detection.anomaly_rows, full,
            table=known_as if named else None,
            report=detection.report.to_json() if named else None,
            features=detection.parts if named else None,
        )
        recon = KeptReconstruction(kept, detection.matrix.shape[1], lambda rows: np.asarray(full[rows]))
        return dataclasses.replace(detection, reconstruction=recon)

    def explain(self, df: pd.DataFrame, detection: Detection, rows: np.ndarray | list[int]) -> list[dict[str, Any]]:
        """Seed-format dicts for the given row positions, with the top columns that explain each."""
        self._require_fitted()
        frame = _string_columns(df)
        out = []
        encoders = self.preprocessor_.encoders
        rows = np.asarray(rows, dtype=np.int64)
        if rows.size == 0:
            return []
        recon = np.asarray(detection.reconstruction[rows])
        kept = getattr(detection.reconstruction, "column_errors", None)
        explained = kept(rows) if kept is not None else None
        if explained is None:
            explained = self.scorer_.column_errors(self.preprocessor_, detection.matrix[rows], recon)
        per_column, ranking, contribution = explained
        subset = frame.iloc[rows]
        periods = detection.report.periods if detection.report is not None else {}
        expected: dict[str, list[Any]] = {}
        agrees = np.zeros((rows.size, len(encoders)), dtype=bool)
        for j, e in enumerate(encoders):
            context = subset[e.entity_column] if e.entity_column in subset.columns else None
            expected[e.column] = e.expected(recon[:, e.start : e.stop], subset[e.column], context, periods.get(e.column))
            agrees[:, j] = e.agrees(subset[e.column], expected[e.column])
        k = max(0, int(self.top_features))
        raw_rows = json_rows(frame, rows)
        # Columns by ranking, ties in table order, for every row at once.
        ranked = np.argsort(-ranking, axis=1, kind="stable").tolist()
        for i, row in enumerate(rows):
            # A column that already holds what the model expected is no reason, nor one whose
            # repair would take nothing away (unless nothing else is left to name).
            order = [j for j in ranked[i] if not agrees[i, j]][:k]
            order = [j for n, j in enumerate(order) if n == 0 or contribution[i, j] > 0]
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
                        "contribution": float(contribution[i, j]),
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
        network = self.scorer_.network
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
            "residual_scale": [float(v) for v in self.scorer_.residual_scale],
            "input_clip": self.scorer_.input_clip,
            "ensemble": self.scorer_.ensemble_manifest(),
            "history": self.history_,
            "warnings": self.warnings_,
            "preprocessor": self.preprocessor_.to_json(),
            "network": None if network is None else {"shape": network.shape, "activations": network.activations},
        }

    def save(self, directory: str | os.PathLike[str]) -> Path:
        """Write the model as data only: ``manifest.json`` plus ``.npz`` arrays, each hashed.

        The directory is written beside its final place and renamed into it, so a reader never
        sees half a model.
        """
        return write_model(directory, self.manifest(), self.scorer_.to_arrays())

    @classmethod
    def load(cls, directory: str | os.PathLike[str]) -> TabularAnomalyDetector:
        """Read a model written by :meth:`save`; refuse anything damaged or foreign.

        Raises:
            ModelFileError: with a one-line reason.
        """
        path = Path(directory)
        manifest = read_manifest(path)
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
        if kind not in MODEL_KINDS:
            raise ModelFileError(f"{path}: unknown model kind {kind!r}")
        network = read_network(path, manifest, preprocessor.n_features) if kind != "iforest" else None
        scorer = SCORERS[kind].from_arrays(path, manifest, preprocessor, network)
        check_common(path, manifest, preprocessor)
        detector.profiles_ = preprocessor.profiles
        detector.n_features_in_ = len(preprocessor.profiles)
        detector.preprocessor_ = preprocessor
        detector.model_kind_ = kind
        detector.scorer_ = scorer
        detector.feature_means_ = np.asarray(manifest["feature_means"], dtype=np.float64)
        detector.history_ = {k: list(v) for k, v in manifest["history"].items()}
        detector.training_params_ = dict(manifest["training"])
        detector.warnings_ = list(manifest["warnings"])
        detector.score_quantiles_ = np.asarray(manifest["score_quantiles"], dtype=np.float64)
        detector.threshold_ = float(manifest["threshold"])
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
