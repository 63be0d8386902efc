""""auto": the seed's network trained in NumPy to restore blanked cells, judged column by
column, combined with IsolationForest, column tails and neighbour distances.

The network is trained in two halves, the second without the rows that look most anomalous;
each column's error is judged against that column's usual error on rows of the same kind (see
``parts.ModeScales``). See :meth:`EnsembleScorer.combine` for how the four verdicts meet.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import chunks, sizing
from .forest import ForestArrays
from .kept import KEPT_FILE, KeptReconstruction, KeptScores, matrix_digest
from .network import DenseNetwork, train_numpy_autoencoder
from .persist import ModelFileError
from .parts import (
    INPUT_CLIP,
    RESIDUAL_FLOOR,
    ModeScales,
    NeighbourModel,
    QuantileTails,
    attribute,
    autoencoder_part,
    blocks,
    column_residuals,
    compact_projection,
    mode_candidates,
    reconstruct,
    robust_centre_scale,
    tail_steepness,
)
from .preprocess import TabularPreprocessor
from .relations import Relations
from .progress import RowsCallback, StopCallback
from .scorer import FitHooks, FitPlan, Fitted
from .training import check_cancel

#: The scores averaged into a row's anomaly score, each standardised on the training rows.
ENSEMBLE_PARTS = ("autoencoder", "iforest", "tails", "knn")
#: Share of rows that look most anomalous after the first half of training; the second half
#: trains a fresh network without them.
TRIM_SHARE = 0.2
#: Which of the other parts (0 iforest, 1 tails, 2 knn) pick the rows to trim, besides the
#: autoencoder. Only the neighbours: IsolationForest and the tails also flag rare modes that are
#: normal (an idle machine, a hotel stay), and a network trained without them flags them all.
TRIM_GUIDES = (2,)
#: Trees in the IsolationForest part.
FOREST_TREES = 200
#: Share of cells blanked in every training row; the network learns to restore them from the
#: rest of the row, and each column is scored with itself blanked.
MASK_RATE = 0.2




@dataclass(frozen=True)
class TrainingScores:
    """The training table's parts, kept by the detector that was fitted on it.

    Scoring the training table again (the usual next call) reuses the parts that do not depend
    on the network, and its reconstruction; they come from the same functions on the same
    matrix, so the scores are identical to a fresh computation, and to a loaded model's. When
    every row was scored chunk-wise after fitting on a sample, the autoencoder's part is exactly
    what scoring computes from the same float32 reconstruction: kept too. (Fitted on every row,
    that part came from a float64 reconstruction: scoring recomputes it.)
    """

    digest: str
    others: tuple[np.ndarray, ...]
    autoencoder: np.ndarray | None
    reconstruction: np.ndarray  # float32, read-only

    def matches(self, matrix: np.ndarray) -> bool:
        return self.reconstruction.shape == matrix.shape and self.digest == matrix_digest(matrix)


@dataclass(eq=False)  # holds arrays: compared by identity
class EnsembleScorer:
    """The fitted "auto" model: its four parts, their yardsticks and spreads, all arrays (saved
    in ``network.npz``, ``forest.npz`` and ``ensemble.npz``, the statistics in the manifest)."""

    network: DenseNetwork
    forest: ForestArrays
    tails: QuantileTails
    neighbours: NeighbourModel
    #: Encoded features -> one feature per value a column holds (see compact_projection).
    projection: np.ndarray
    error_tails: QuantileTails
    mode_scales: ModeScales
    residual_scale: np.ndarray
    #: Each part's training median and IQR, in ENSEMBLE_PARTS order.
    centre: list[float]
    scale: list[float]
    trim_share: float = TRIM_SHARE
    #: Numbers nearly fixed by another (see relations.py); none on most tables.
    relations: Relations = field(default_factory=Relations.empty)
    training: TrainingScores | None = None
    #: The results of the table this model was cached for (see :mod:`.kept`).
    kept: KeptScores | None = None

    kind = "auto"
    input_clip: float | None = INPUT_CLIP

    @property
    def knn_k(self) -> int:
        return self.neighbours.k

    # -- fitting ----------------------------------------------------------------------------

    @classmethod
    def fit(
        cls, preprocessor: TabularPreprocessor, matrix: np.ndarray, plan: FitPlan, hooks: FitHooks
    ) -> tuple[EnsembleScorer, Fitted]:
        """IsolationForest, column tails and neighbour distances on the encoded rows, and an
        autoencoder trained in two halves, the second without the rows all four find strangest.

        Rows the models are fitted on: all of them up to FIT_ROWS, else a random sample (sorted,
        so the sample keeps the table's order). Every row is scored either way.
        """
        n = matrix.shape[0]
        fit_rows = np.arange(n)
        if n > sizing.FIT_ROWS:
            fit_rows = np.sort(np.random.default_rng(plan.seed).choice(n, sizing.FIT_ROWS, replace=False))
        sampled = fit_rows.size < n
        fit_matrix = matrix[fit_rows] if sampled else matrix
        relations = Relations.fit(preprocessor, fit_matrix)
        # Every row's forest, tails and neighbour scores are needed once training ends; the
        # thread that fits those parts starts on them (from the table's end) while the network
        # still trains, and scoring every row takes over from there (see chunks.HeadStart).
        ahead = _Ahead(chunks.HeadStart(n), matrix) if sampled else None
        try:
            fitted = cls._fit_parts(preprocessor, matrix, plan, hooks, fit_rows, fit_matrix, relations, ahead)
        except BaseException:
            # A cancelled or failed training starts nothing more ahead and does not wait for the
            # span being scored (it ends on its own, unused).
            if ahead is not None:
                ahead.head.stop()
            raise
        if ahead is not None:
            ahead.finish()
        return fitted

    @classmethod
    def _fit_parts(
        cls,
        preprocessor: TabularPreprocessor,
        matrix: np.ndarray,
        plan: FitPlan,
        hooks: FitHooks,
        fit_rows: np.ndarray,
        fit_matrix: np.ndarray,
        relations: Relations,
        ahead: _Ahead | None,
    ) -> tuple[EnsembleScorer, Fitted]:
        sampled = ahead is not None
        network, history, forest, tails, neighbours, projection, others, kept = _train_parts(
            preprocessor, fit_matrix, plan, hooks, relations, ahead
        )
        # The yardsticks (each column's usual errors, each part's spread) come from the rows the
        # models were fitted on, so they cost the same whatever the table's size.
        fit_clipped = np.clip(fit_matrix, -INPUT_CLIP, INPUT_CLIP)
        fit_recon = reconstruct(network, fit_clipped, preprocessor)
        # Measured on the winsorised rows the network learned from (the trimmed ones), so the
        # extreme cells it should flag do not inflate their own column's yardstick; and on the
        # network's own restoration of every cell, before any is given a relation's value
        # (those cells have the relation's yardstick, see relations.scale_cells).
        squared = (fit_clipped[kept] - fit_recon[kept]) ** 2
        residual_scale = np.maximum(np.mean(squared, axis=0), RESIDUAL_FLOOR)
        # Then per kind of row, where a yes/no or categorical column sorts the rows into kinds on
        # which a column is predicted differently (see ModeScales).
        mode_scales = ModeScales.fit(preprocessor, fit_matrix[kept], squared, residual_scale)
        del squared
        relations.judge_inside(preprocessor, residual_scale)
        relations.apply(preprocessor, fit_matrix, fit_recon)
        relations.restore_kinds(preprocessor, fit_matrix, fit_recon)
        cell_scales = mode_scales.cell_scales(preprocessor, fit_matrix, residual_scale)
        relations.scale_cells(preprocessor, fit_matrix, fit_recon, cell_scales)
        per_column = column_residuals(fit_matrix, fit_recon, cell_scales, preprocessor)
        error_tails = QuantileTails.fit(per_column)
        error_tails.steepness = tail_steepness(preprocessor, error_tails)
        # The other parts were scored on the fitted rows while training.
        fit_parts = [autoencoder_part(error_tails.surprise(per_column)), *others]
        stats = [robust_centre_scale(p) for p in fit_parts]
        scorer = cls(
            network=network,
            forest=forest,
            tails=tails,
            neighbours=neighbours,
            projection=projection,
            error_tails=error_tails,
            mode_scales=mode_scales,
            residual_scale=residual_scale,
            centre=[c for c, _ in stats],
            scale=[q for _, q in stats],
            relations=relations,
        )
        del fit_clipped, per_column, cell_scales
        if sampled:
            # Now every row, a chunk at a time (see parts_of).
            del fit_matrix, fit_recon, fit_parts
            recon = np.empty(matrix.shape, dtype=np.float32)
            ahead.head.stop()
            parts = scorer.parts_of(preprocessor, matrix, recon, None, hooks.should_stop, hooks.on_scored, ahead=ahead)
            others = parts[1:]
        else:
            recon, parts = fit_recon.astype(np.float32), fit_parts
        recon.flags.writeable = False
        # The reconstruction is large (rows x features); it is shared with the detections of
        # this table, never copied, and never saved with the model.
        scorer.training = TrainingScores(matrix_digest(matrix), tuple(others), parts[0] if sampled else None, recon)
        return scorer, Fitted(history, scorer.combine(parts), int(fit_rows.size))

    # -- scoring ----------------------------------------------------------------------------

    def combine(self, parts: list[np.ndarray]) -> np.ndarray:
        """The row's score from the four parts, each standardised by its training median and IQR.

        The autoencoder (is each cell what the rest of its row predicts?) and the neighbours
        (are there rows like this one?) judge a row in context; IsolationForest and the column
        tails judge its values against the whole table and count only as far as both agree
        (their minimum), since either alone also fires on rare modes that are normal. A row is as
        strange as the strongest of the three verdicts: each finds anomalies the others miss.
        """
        autoencoder, forest, tails, neighbours = self.standardised(parts)
        return np.maximum(np.maximum(autoencoder, neighbours), np.minimum(forest, tails))

    def standardised(self, parts: list[np.ndarray]) -> list[np.ndarray]:
        """Each part less its training median, over its training IQR: what combine weighs."""
        return [(part - centre) / spread for part, centre, spread in zip(parts, self.centre, self.scale, strict=True)]

    def cell_scales(self, preprocessor: TabularPreprocessor, matrix: np.ndarray, recon: np.ndarray) -> np.ndarray:
        """Each cell's usual squared error, by its column and, where fitted, its row's kind (a
        cell restored by a relation: that relation's, see relations.scale_cells)."""
        out = self.mode_scales.cell_scales(preprocessor, matrix, self.residual_scale)
        if len(self.relations):
            self.relations.scale_cells(preprocessor, matrix, recon, out)
        return out

    def parts_of(
        self,
        preprocessor: TabularPreprocessor,
        matrix: np.ndarray,
        recon: np.ndarray,
        training: TrainingScores | None,
        should_stop: StopCallback | None = None,
        on_scored: RowsCallback | None = None,
        ahead: _Ahead | None = None,
    ) -> list[np.ndarray]:
        """The four raw scores per row (log for the two that are distances), computed a chunk of
        rows at a time (see :mod:`.chunks`) so that the temporaries stay small on a full-size
        sheet, by as many threads as there are cores. ``ahead``: the spans whose other three
        parts were scored while training (the rest are scored here).

        ``recon`` (rows x features, float32: the network computes in float32) is filled in
        unless ``training`` (the training table's own parts) is given: then it is that table's
        reconstruction, and the parts that do not depend on the network are reused.
        """
        n = matrix.shape[0]
        others = None
        if training is not None:
            if training.autoencoder is not None:
                # The training table, with its reconstruction: every part is already known.
                return [training.autoencoder, *training.others]
            others = list(training.others)
        parts = [np.empty(n) for _ in range(1 if others is not None else len(ENSEMBLE_PARTS))]
        if ahead is not None and others is None:
            parts[1:] = ahead.parts

        def score_rows(rows: slice) -> None:
            block = matrix[rows]
            clipped = np.clip(block, -INPUT_CLIP, INPUT_CLIP)
            if training is None:
                recon[rows] = reconstruct(self.network, clipped, preprocessor, relations=self.relations, matrix=block)
            per_column = column_residuals(block, recon[rows], self.cell_scales(preprocessor, block, recon[rows]), preprocessor)
            parts[0][rows] = autoencoder_part(self.error_tails.surprise(per_column))
            if others is None and (ahead is None or not ahead.head.claim(rows)):
                _other_parts(self.forest, self.tails, self.neighbours, self.projection, block, clipped, parts[1:], rows)

        chunks.in_chunks(n, score_rows, should_stop, on_scored)
        return parts if others is None else [parts[0], *others]

    def score(
        self,
        preprocessor: TabularPreprocessor,
        matrix: np.ndarray,
        *,
        should_stop: StopCallback | None = None,
        on_scored: RowsCallback | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        scores, recon, _ = self.score_parts(preprocessor, matrix, should_stop=should_stop, on_scored=on_scored)
        return scores, recon

    def score_parts(
        self,
        preprocessor: TabularPreprocessor,
        matrix: np.ndarray,
        *,
        should_stop: StopCallback | None = None,
        on_scored: RowsCallback | None = None,
    ) -> tuple[np.ndarray, np.ndarray | KeptReconstruction, np.ndarray]:
        """Scores, reconstruction and the raw parts (parts x rows) of every row."""
        training = self.training if self.training is not None and self.training.matches(matrix) else None
        if training is None and self.kept is not None and self.kept.matches(matrix):
            if on_scored is not None:
                on_scored(matrix.shape[0], matrix.shape[0])
            return self.kept_results(preprocessor, matrix)
        if training is not None:
            recon = training.reconstruction
        else:
            recon = np.empty(matrix.shape, dtype=np.float32)
        parts = np.stack(self.parts_of(preprocessor, matrix, recon, training, should_stop, on_scored))
        return self.combine(list(parts)), recon, parts

    def keep(
        self,
        preprocessor: TabularPreprocessor,
        matrix: np.ndarray,
        parts: np.ndarray,
        rows: np.ndarray,
        recon: Any,
        *,
        table: str | None = None,
        report: dict[str, Any] | None = None,
        features: np.ndarray | None = None,
    ) -> KeptScores:
        """Keep a scored table's results with the model (saved as ``scores.npz``): every row's
        parts, and the reconstruction and column errors of ``rows`` (those a user explains);
        with ``table`` (its name), ``report`` and ``features``, enough to score it again without
        encoding it (see :mod:`.kept`)."""
        rows = np.unique(np.asarray(rows, dtype=np.int64))
        kept_recon = np.asarray(recon[rows], dtype=np.float32)
        errors = self.column_errors(preprocessor, matrix[rows], kept_recon)
        named = table is not None and report is not None and features is not None
        self.kept = KeptScores(
            matrix_digest(matrix), np.asarray(parts, dtype=np.float64), rows, kept_recon, *errors,
            table=table if named else None,
            report=report if named else None,
            features=np.asarray(features, dtype=np.float32) if named else None,
        )
        return self.kept

    def kept_results(
        self, preprocessor: TabularPreprocessor, matrix: Any
    ) -> tuple[np.ndarray, KeptReconstruction, np.ndarray]:
        """Scores, reconstruction and raw parts of the table whose results are kept (the caller
        checked :meth:`KeptScores.known_as` or :meth:`KeptScores.matches`); ``matrix`` (an
        array or a :class:`~.kept.DeferredMatrix`) restores the rows not kept."""
        assert self.kept is not None
        parts = self.kept.parts

        def restore(rows: np.ndarray) -> np.ndarray:
            block = matrix[rows]
            clipped = np.clip(block, -INPUT_CLIP, INPUT_CLIP)
            return reconstruct(
                self.network, clipped, preprocessor, relations=self.relations, matrix=block
            ).astype(np.float32)

        return self.combine(list(parts)), KeptReconstruction(self.kept, matrix.shape[1], restore), parts

    def column_errors(
        self, preprocessor: TabularPreprocessor, matrix: np.ndarray, recon: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        # Ranked by how much of the row's strangeness each column accounts for (see
        # parts.attribute), ties by how unusual its error is for it; the error is reported
        # relative to the column's usual one.
        n, columns = matrix.shape[0], len(preprocessor.encoders)
        errors, ranking, contribution = (np.zeros((n, columns)) for _ in range(3))

        def explain_rows(rows: slice) -> None:
            # Each row's attribution is its own (its repaired copies are restored alone), so the
            # rows of a full-size sheet's anomalies are split between the cores like scoring.
            e, surprise, c = attribute(
                self.network,
                preprocessor,
                matrix[rows],
                recon[rows],
                lambda m, r: self.cell_scales(preprocessor, m, r),
                self.error_tails,
                self.relations,
            )
            errors[rows], contribution[rows] = e, c
            ranking[rows] = c + 1e-6 * np.minimum(surprise, 1e6)

        # A row's attribution holds CANDIDATES repaired copies of it and their restorations:
        # several times a scored row's temporaries, so half the rows at a time.
        chunks.in_chunks(n, explain_rows, chunk=max(1, sizing.SCORE_CHUNK // 2))
        return errors, ranking, contribution

    # -- persistence ------------------------------------------------------------------------

    def ensemble_manifest(self) -> dict[str, Any]:
        return {
            "trim_share": self.trim_share,
            "knn_k": self.knn_k,
            "parts": list(ENSEMBLE_PARTS),
            "centre": list(self.centre),
            "scale": list(self.scale),
            **(self.kept.manifest() if self.kept is not None else {}),
        }

    def to_arrays(self) -> dict[str, bytes | memoryview]:
        buffer = io.BytesIO()
        np.savez(
            buffer,
            tail_quantiles=self.tails.quantiles,
            tail_rows=np.array([self.tails.rows], dtype=np.int64),
            knn_reference=self.neighbours.reference.astype(np.float32),
            projection=self.projection,
            error_quantiles=self.error_tails.quantiles,
            error_rows=np.array([self.error_tails.rows], dtype=np.int64),
            error_steepness=self.error_tails.steepness,
            mode_column=self.mode_scales.mode_column,
            mode_table=self.mode_scales.table,
            mode_constant=self.mode_scales.constant,
            **self.relations.to_arrays(),
        )
        return {
            "network.npz": self.network.to_npz_bytes(),
            "forest.npz": self.forest.to_npz_bytes(),
            "ensemble.npz": buffer.getvalue(),
            **({KEPT_FILE: self.kept.to_bytes()} if self.kept is not None else {}),
        }

    @classmethod
    def from_arrays(
        cls, path: Path, manifest: dict[str, Any], preprocessor: TabularPreprocessor, network: DenseNetwork | None
    ) -> EnsembleScorer:
        """The scorer from a model directory whose checksums were verified.

        Raises:
            ModelFileError: the arrays do not fit the table or each other.
        """
        assert network is not None
        ensemble = manifest["ensemble"]
        n_features = preprocessor.n_features
        tails, neighbours, projection, error_tails, mode_scales, relations = _load_arrays(
            path / "ensemble.npz", n_features, len(preprocessor.encoders), int(ensemble["knn_k"]), preprocessor
        )
        eligible = dict(mode_candidates(preprocessor))
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
        return cls(
            network=network,
            forest=forest,
            tails=tails,
            neighbours=neighbours,
            projection=projection,
            error_tails=error_tails,
            mode_scales=mode_scales,
            residual_scale=np.asarray(manifest["residual_scale"], dtype=np.float64),
            centre=list(ensemble["centre"]),
            scale=list(ensemble["scale"]),
            trim_share=ensemble["trim_share"],
            relations=relations,
            kept=(
                KeptScores.from_npz(
                    path / KEPT_FILE, ensemble, parts, n_features, len(preprocessor.encoders)
                )
                if KEPT_FILE in manifest.get("files", {})
                else None
            ),
        )


def _other_parts(
    forest: ForestArrays,
    tails: QuantileTails,
    neighbours: NeighbourModel,
    projection: np.ndarray,
    block: np.ndarray,
    clipped: np.ndarray,
    out: list[np.ndarray],
    rows: slice,
) -> None:
    """The forest, tails and neighbour parts of ``block`` (rows ``rows`` of the table) into
    ``out``: one function for every caller, so a span scores the same bits whoever scores it."""
    compact = block @ projection
    out[0][rows] = forest.score(compact)
    out[1][rows] = tails.score(compact)
    out[2][rows] = np.log(neighbours.score(clipped) + 1e-12)


class _Ahead:
    """The whole table's other three parts, scored ahead where the thread that fitted them
    has time left while the network trains (see chunks.HeadStart)."""

    def __init__(self, head: chunks.HeadStart, matrix: np.ndarray) -> None:
        self.head = head
        self.matrix = matrix
        self.parts = [np.empty(matrix.shape[0]) for _ in range(len(ENSEMBLE_PARTS) - 1)]
        self.future: Any = None

    def score(self, forest: ForestArrays, tails: QuantileTails, neighbours: NeighbourModel, projection: np.ndarray, hooks: FitHooks) -> None:
        def score_rows(rows: slice) -> None:
            block = self.matrix[rows]
            _other_parts(forest, tails, neighbours, projection, block, np.clip(block, -INPUT_CLIP, INPUT_CLIP), self.parts, rows)

        self.head.run(score_rows, hooks.should_stop)

    def finish(self) -> None:
        """Stop scoring ahead and wait for the span being scored. What went wrong ahead is
        not this training's failure: the spans not scored ahead were scored by the caller."""
        self.head.stop()
        if self.future is not None:
            try:
                self.future.result()
            except BaseException:  # noqa: BLE001 - see the docstring
                pass


def _train_parts(
    preprocessor: TabularPreprocessor,
    matrix: np.ndarray,
    plan: FitPlan,
    hooks: FitHooks,
    relations: Relations,
    ahead: _Ahead | None = None,
) -> tuple[
    DenseNetwork, dict[str, list[float]], ForestArrays, QuantileTails, NeighbourModel, np.ndarray, list[np.ndarray], np.ndarray
]:
    """The four parts fitted on ``matrix``; the other parts' scores on it and the rows kept for
    the network's second half."""
    check_cancel(hooks.should_stop)
    clipped = np.clip(matrix, -INPUT_CLIP, INPUT_CLIP)
    projection = compact_projection(preprocessor, matrix)
    compact = matrix @ projection

    def fit_others() -> tuple[ForestArrays, QuantileTails, NeighbourModel, list[np.ndarray]]:
        forest = ForestArrays.fit(compact, n_estimators=FOREST_TREES, seed=plan.seed)
        tails = QuantileTails.fit(compact)
        neighbours = NeighbourModel.fit(clipped, seed=plan.seed)
        return forest, tails, neighbours, [forest.score(compact), tails.score(compact), np.log(neighbours.score(clipped) + 1e-12)]

    # The forest, the tails and the neighbours do not depend on the network: they are fitted on
    # the other core while its first half trains (the forest grows its trees with the
    # interpreter lock released), and are first needed when that half ends (refine).
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="anomaly-tui-fit")
    try:
        side = pool.submit(fit_others)
        if ahead is not None:
            ahead.future = pool.submit(lambda: ahead.score(*side.result()[:3], projection, hooks))
        network, history, kept = _train_network(preprocessor, matrix, clipped, plan, hooks, relations, lambda: side.result()[3])
        forest, tails, neighbours, others = side.result()
    finally:
        # A cancelled training does not wait for the side fit (it ends on its own, unused).
        pool.shutdown(wait=False)
    return network, history, forest, tails, neighbours, projection, others, kept


def _train_network(
    preprocessor: TabularPreprocessor,
    matrix: np.ndarray,
    clipped: np.ndarray,
    plan: FitPlan,
    hooks: FitHooks,
    relations: Relations,
    others_of: Callable[[], list[np.ndarray]],
) -> tuple[DenseNetwork, dict[str, list[float]], np.ndarray]:
    """The autoencoder in two halves, the second without the rows the first half's network and
    the other parts (``others_of()``) find strangest; those rows' mask is returned too."""
    kept = np.ones(matrix.shape[0], dtype=bool)

    def refine(network: DenseNetwork) -> np.ndarray:
        others = others_of()
        recon = reconstruct(network, clipped, preprocessor, relations=relations, matrix=matrix)
        scale = np.maximum(np.mean((clipped - recon) ** 2, axis=0), RESIDUAL_FLOOR)
        per_column = column_residuals(matrix, recon, scale, preprocessor)
        ae = autoencoder_part(QuantileTails.fit(per_column).surprise(per_column))
        combined = np.zeros(matrix.shape[0])
        for part in (ae, *[others[i] for i in TRIM_GUIDES]):
            centre, spread = robust_centre_scale(part)
            combined += (part - centre) / spread
        kept[:] = combined <= np.quantile(combined, 1.0 - TRIM_SHARE)
        return kept

    network, history = train_numpy_autoencoder(
        clipped,
        plan.train_settings(),
        on_progress=hooks.on_progress,
        should_stop=hooks.should_stop,
        refine=refine,
        mask_blocks=blocks(preprocessor),
        mask_rate=MASK_RATE,
    )
    return network, history, kept.copy()


def _load_arrays(
    path: Path, n_features: int, n_columns: int, k: int, preprocessor: TabularPreprocessor
) -> tuple[QuantileTails, NeighbourModel, np.ndarray, QuantileTails, ModeScales, Relations]:
    try:
        with np.load(path, allow_pickle=False) as data:
            quantiles = np.array(data["tail_quantiles"], dtype=np.float64)
            rows = int(np.array(data["tail_rows"]).reshape(-1)[0])
            reference = np.array(data["knn_reference"], dtype=np.float64)
            projection = np.array(data["projection"], dtype=np.float64)
            errors = QuantileTails(
                np.array(data["error_quantiles"], dtype=np.float64), int(np.array(data["error_rows"]).reshape(-1)[0]),
                # Written since format 6; an earlier model extrapolates every tail as 1/error, as
                # its threshold was set.
                np.array(data["error_steepness"], dtype=np.float64) if "error_steepness" in data else None,
            )
            modes = ModeScales(
                np.array(data["mode_column"]),
                np.array(data["mode_table"], dtype=np.float64),
                # Written since format 5; an earlier model has no constant kinds.
                np.array(data["mode_constant"], dtype=np.float64) if "mode_constant" in data else None,
            )
            relations = Relations.from_arrays(data, preprocessor)
    except (KeyError, ValueError, IndexError, OSError, zipfile.BadZipFile, EOFError) as exc:
        raise ModelFileError(f"{path} is unreadable ({exc})") from None
    if (
        projection.ndim != 2
        or projection.shape[0] != n_features
        or quantiles.shape != (QuantileTails.GRID.size, projection.shape[1])
        or reference.ndim != 2
        or reference.shape[1] != n_features
    ):
        raise ModelFileError(f"{path}: the ensemble arrays do not fit the table's {n_features} features")
    if errors.quantiles.shape != (QuantileTails.GRID.size, n_columns) or errors.steepness.shape != (n_columns,):
        raise ModelFileError(f"{path}: the ensemble arrays do not fit the table's {n_columns} columns")
    if (
        modes.mode_column.shape != (n_columns,)
        or modes.table.ndim != 2
        or modes.table.shape[0] != n_features
        or modes.table.shape[1] < 1
        or np.any(modes.mode_column < -1)
        or np.any(modes.mode_column >= n_columns)
        or not np.all(modes.table > 0)
        or modes.constant.shape != modes.table.shape
    ):
        raise ModelFileError(f"{path}: the ensemble's per-kind error scales do not fit the table")
    finite = all(np.all(np.isfinite(a)) for a in (quantiles, reference, projection, errors.quantiles, modes.table)) and bool(
        np.all((errors.steepness >= 1.0) & (errors.steepness <= QuantileTails.STEEPEST))
    )
    if rows < 1 or errors.rows < 1 or reference.shape[0] < 1 or not finite:
        raise ModelFileError(f"{path}: the ensemble arrays are invalid")
    if not (np.all(np.isfinite(relations.spread)) and np.all(relations.spread > 0)):
        raise ModelFileError(f"{path}: the ensemble's relations are invalid")
    return QuantileTails(quantiles, rows), NeighbourModel(reference, k), projection, errors, modes, relations
