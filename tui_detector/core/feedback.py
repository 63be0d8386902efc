"""The analyst's verdicts re-rank the remaining rows, without retraining anything.

A verdict says more than "this row": a confirmed anomaly makes rows like it more interesting, a
dismissed or expected row makes rows like it less so. :func:`rerank` turns the verdicts into new
scores in three steps, each starting from the detector's own scores so that a handful of labels
moves the ranking only where they have something to say:

1. **Weights over the detector's parts** (as Active Anomaly Discovery re-weights the members of
   an ensemble): a logistic model over the row's part scores and similarity features, with the
   detector's score as a fixed offset, fitted on the labelled rows plus a thin, evenly spread
   sample of unlabelled rows counted as mostly normal (nearly every row of a table is). The
   weights are held towards zero, so with few labels the ranking stays the detector's.
2. **Similar rows follow their labelled neighbour**: each labelled row gets a kernel whose width
   is the distance to its few nearest rows; rows inside it rise (confirmed) or drop below the
   top of the list (dismissed: as far as the dismissed row stood above it, and a margin), so a
   dismissed pattern stops dominating the top. The strongest pull each way counts, not the sum,
   so ten dismissed copies of one pattern do not bury a different anomaly that sits between them.
3. **A gentle vote of the wider neighbourhood**: labels within a tenth of the table nudge the
   rows there by at most a third of a spread: it reorders the long middle of the list, where
   most unreviewed anomalies wait, more than its top, which step 2 decides.

Everything is arithmetic on arrays: the same inputs give the same scores, and there is no random
choice anywhere. The parts come from :func:`feedback_parts` at detection time: the detector's
standardised part scores and a fixed-width projection of the row's encoded features (the
similarity the kernels measure).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

__all__ = ["EMBEDDING_WIDTH", "feedback_parts", "rerank"]

#: Width of the projection of the encoded features kept with a detection for the similarity
#: terms: wide enough to keep the distances that matter (16 found as many anomalies as the full
#: encoding on the tables tried), narrow enough that a million rows keep it in 80 MB (float32).
EMBEDDING_WIDTH = 16
#: Encoded cells are clipped here before projecting, as the ensemble clips them before its
#: network and neighbours, so one extreme cell does not decide every distance.
FEATURE_CLIP = 5.0
#: Rows the projection's directions are computed from at most (evenly spaced through the table).
PROJECTION_SAMPLE = 20_000

#: Share of rows above which a row counts as "at the top of the list" (the 95th percentile: the
#: detector's default threshold). A dismissed pattern is pushed below it.
TOP_SHARE = 0.05
#: Rows the features' medians and spreads are taken from at most (evenly spaced).
STATS_SAMPLE = 20_000
#: A standardised feature further out than this is clipped: distances stay meaningful when one
#: column has a few wild values.
STANDARD_CLIP = 5.0
#: The kernel of a labelled row reaches its nearest rows: this share of the table, at least
#: NEAREST_MIN rows.
NEAREST_SHARE = 0.006
NEAREST_MIN = 3
#: How far (in spreads of the scores, 99th percentile minus median) a confirmed anomaly lifts,
#: and a dismissed row pushes below the top, its near copies.
PULL = 1.0
#: The smallest kernel width (a squared distance in standardised features): float32 rounding
#: of a distance is far below it, so a label's exact copies all count as copies.
WIDTH_FLOOR = 1e-3
#: Labels whose distances to the sampled rows are computed together (for the kernel widths).
LABEL_BLOCK = 64
#: Labels x rows held at once while every row is scored against every label: about 2 MB of
#: float32, which stays in the CPU cache through the block's passes.
CACHE_FLOATS = 1 << 19
#: The wider neighbourhood (share of rows) and the most its vote moves a row (in spreads).
WIDE_SHARE = 0.1
WIDE_PULL = 0.3
#: Step 1: how strongly the weights are held towards zero; the unlabelled rows sampled as the
#: table's normal bulk, and their total weight (in labelled rows).
RIDGE = 30.0
BULK_ROWS = 1000
BULK_WEIGHT = 5.0
#: The detector's score enters the logistic model as log-odds: this many per spread above the
#: top of the list.
OFFSET_SLOPE = 3.0


def feedback_parts(part_scores: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """What :func:`rerank` needs from a detection: per row, the detector's part scores
    (``part_scores``, rows x parts) and a projection of the encoded features (``matrix``) onto
    their EMBEDDING_WIDTH main directions (all features when there are no more than that).

    float32, rows x (parts + width). The directions come from an evenly spaced sample of rows,
    the projection is computed in chunks, so a full-size sheet needs no copy of its matrix.
    """
    part_scores = np.asarray(part_scores)
    if part_scores.ndim == 1:
        part_scores = part_scores[:, None]
    n, width = matrix.shape
    kept = part_scores.shape[1]
    out = np.empty((n, kept + min(width, EMBEDDING_WIDTH)), dtype=np.float32)
    out[:, :kept] = part_scores
    if width <= EMBEDDING_WIDTH:
        np.clip(matrix, -FEATURE_CLIP, FEATURE_CLIP, out=out[:, kept:], casting="unsafe")
    else:
        directions, centre = _directions(matrix)
        shift = centre @ directions
        # Blocks small enough to stay in the CPU cache between the clip and the product
        # (measured: 100,000 x 81 in 34 ms, against 85 ms in one piece).
        chunk = 8192
        for start in range(0, n, chunk):
            block = np.clip(np.asarray(matrix[start : start + chunk], dtype=np.float64), -FEATURE_CLIP, FEATURE_CLIP)
            out[start : start + chunk, kept:] = block @ directions - shift
    if not np.isfinite(out).all():
        # A part that could not score a row (never expected) must not poison every distance.
        out = np.nan_to_num(out, nan=0.0, posinf=0.0, neginf=0.0)
    return out


def _directions(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The EMBEDDING_WIDTH main directions of the clipped features and their centre, each
    direction's sign fixed (largest entry positive) so the projection does not depend on the
    eigen-solver's choice."""
    step = max(1, matrix.shape[0] // PROJECTION_SAMPLE)
    sample = np.clip(np.asarray(matrix[::step], dtype=np.float64), -FEATURE_CLIP, FEATURE_CLIP)
    centre = sample.mean(axis=0)
    centred = sample - centre
    _, vectors = np.linalg.eigh(centred.T @ centred / max(len(sample), 1))
    directions = vectors[:, ::-1][:, :EMBEDDING_WIDTH]
    signs = np.sign(directions[np.abs(directions).argmax(axis=0), np.arange(directions.shape[1])])
    return directions * np.where(signs == 0, 1.0, signs), centre


def rerank(parts: np.ndarray, scores: np.ndarray, labels: Mapping[int, int]) -> np.ndarray:
    """New scores for every row after the verdicts in ``labels``.

    Args:
        parts: rows x k features of each row (see :func:`feedback_parts`).
        scores: the detector's score per row.
        labels: row position -> +1 (confirmed anomaly) or -1 (dismissed, or expected: normal).

    Returns:
        A new array of scores, higher = more anomalous; exactly ``scores`` when ``labels`` is
        empty.

    Raises:
        ValueError: the shapes disagree, a position is outside the table, or a label is not +1/-1.
    """
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim != 1:
        raise ValueError(f"scores must be one score per row, not an array of shape {scores.shape}")
    n = scores.shape[0]
    parts = np.asarray(parts)
    if parts.ndim != 2 or parts.shape[0] != n:
        raise ValueError(f"parts must have one row per score ({n}), not shape {parts.shape}")
    if not labels:
        return scores.copy()
    rows, verdicts = _labels(labels, n)
    from threadpoolctl import threadpool_limits  # noqa: PLC0415 - ships with scikit-learn

    # One BLAS thread: these products are thin (labels x rows), and a second thread waiting for
    # a busy core made them several times slower (measured: 100,000 rows, 0.34 s vs 0.12 s).
    with threadpool_limits(1):
        return _rerank(parts, scores, rows, verdicts)


def _rerank(parts: np.ndarray, scores: np.ndarray, rows: np.ndarray, verdicts: np.ndarray) -> np.ndarray:
    features = _standardised(parts if parts.shape[1] else scores[:, None])

    top, spread = _top_and_spread(scores)
    adjusted = scores + _weights_term(features, scores, rows, verdicts, top, spread)
    top, spread = _top_and_spread(adjusted)

    # A confirmed row lifts its near copies by PULL spreads; a dismissed one takes them from
    # where it stood to PULL spreads below the top of the list.
    pulls = np.where(verdicts > 0, PULL * spread, -(np.maximum(adjusted[rows] - top, 0.0) + PULL * spread))
    near, vote = _neighbourhoods(features, rows, verdicts, pulls)
    return adjusted + near + WIDE_PULL * spread * vote


def _neighbourhoods(
    features: np.ndarray, rows: np.ndarray, verdicts: np.ndarray, pulls: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Steps 2 and 3: every row against every labelled row.

    Each label's kernel is exp(-d / h), d the squared distance of a row to it and h that of its
    k-th nearest row: a label reaches about as many rows whatever the table's density. h is
    read off an evenly spaced sample of the rows (the same share of them). The rows are then
    taken a cache-sized block at a time, every pass over a block's labels x rows done while it
    is in the cache: that, and float32 (the kernels only need to say near or far), keep a
    re-rank of 100,000 rows well under a fifth of a second.

    Returns per row: the strongest lift plus the strongest drop of the near kernels, each
    weighted by its label's ``pulls`` (positive for a confirmed row, negative for a dismissed
    one), and the wide neighbourhood's vote (in (-1, 1)).
    """
    n, width = features.shape
    step = max(1, n // STATS_SAMPLE)
    sampled = (n + step - 1) // step
    k_near = min(sampled - 1, max(NEAREST_MIN, int(NEAREST_SHARE * sampled)))
    k_wide = min(sampled - 1, max(NEAREST_MIN, int(WIDE_SHARE * sampled)))
    # |x - l|^2 = |x|^2 - 2 x.l + |l|^2 as one product: each row carries [x, |x|^2, 1], each
    # label [-2 l, 1, |l|^2].
    norms = np.einsum("ij,ij->i", features, features)
    points = np.empty((n, width + 2), dtype=np.float32)
    points[:, :width] = features
    points[:, width] = norms
    points[:, width + 1] = 1.0
    labels = np.empty((rows.size, width + 2), dtype=np.float32)
    labels[:, :width] = -2.0 * features[rows]
    labels[:, width] = 1.0
    labels[:, width + 1] = norms[rows]
    widths = np.empty((rows.size, 2), dtype=np.float32)
    sample = np.ascontiguousarray(points[::step])
    for start in range(0, rows.size, LABEL_BLOCK):
        block = np.maximum(labels[start : start + LABEL_BLOCK] @ sample.T, 0.0)
        widths[start : start + LABEL_BLOCK] = np.partition(block, [k_near, k_wide], axis=1)[:, [k_near, k_wide]]
    # Below this the distances are float32 rounding: rows that close are copies of the label.
    np.maximum(widths, WIDTH_FLOOR, out=widths)
    near_scale = (-1.0 / widths[:, :1]).astype(np.float32)
    wide_scale = (-1.0 / widths[:, 1:]).astype(np.float32)
    signs = verdicts.astype(np.float32)
    weights = pulls.astype(np.float32)[:, None]
    near = np.empty(n)
    vote = np.empty(n)
    chunk = int(np.clip(CACHE_FLOATS // max(rows.size, 1), 256, 16_384))
    for start in range(0, n, chunk):
        distance = labels @ points[start : start + chunk].T  # labels x rows
        np.maximum(distance, 0.0, out=distance)
        wide = np.multiply(distance, wide_scale)
        np.exp(wide, out=wide)
        # The 1 keeps a row far from every label where it was.
        vote[start : start + chunk] = (signs @ wide) / (wide.sum(axis=0) + 1.0)
        distance *= near_scale
        effect = np.exp(distance, out=distance)
        effect *= weights
        near[start : start + chunk] = np.maximum(effect.max(axis=0), 0.0) + np.minimum(effect.min(axis=0), 0.0)
    return near, vote


def _labels(labels: Mapping[int, int], n: int) -> tuple[np.ndarray, np.ndarray]:
    """Positions and verdicts in position order (so the result never depends on the mapping's)."""
    pairs = sorted((int(row), int(verdict)) for row, verdict in labels.items())
    for row, verdict in pairs:
        if not 0 <= row < n:
            raise ValueError(f"row {row} is outside the table's {n} rows")
        if verdict not in (1, -1):
            raise ValueError(f"the label of row {row} must be +1 or -1, not {verdict}")
    rows = np.array([row for row, _ in pairs], dtype=np.int64)
    return rows, np.array([verdict for _, verdict in pairs], dtype=np.float64)


def _standardised(parts: np.ndarray) -> np.ndarray:
    """Each column centred on its median and divided by its IQR (its standard deviation where
    the IQR is 0, as on a yes/no feature; 1 where the column is constant), then clipped."""
    values = np.asarray(parts, dtype=np.float32)
    if not np.isfinite(values).all():
        values = np.nan_to_num(values, nan=0.0, posinf=0.0, neginf=0.0)
    # The statistics from an evenly spaced sample: on a big table they hardly move, and the
    # percentiles of every row would be most of the time a re-rank takes.
    sample = values[:: max(1, values.shape[0] // STATS_SAMPLE)]
    low, centre, high = np.percentile(sample, [25, 50, 75], axis=0)
    spread = high - low
    deviation = sample.std(axis=0)
    spread = np.where(spread > 1e-9, spread, np.where(deviation > 1e-9, deviation, 1.0))
    out = values - centre.astype(np.float32)
    out /= spread.astype(np.float32)
    return np.clip(out, -STANDARD_CLIP, STANDARD_CLIP, out=out)


def _top_and_spread(scores: np.ndarray) -> tuple[float, float]:
    """The score at the top of the list (TOP_SHARE) and the scores' spread (99th percentile
    minus median), the unit every step moves rows in."""
    median, top, high = np.percentile(scores, [50, 100 * (1 - TOP_SHARE), 99])
    spread = float(high - median)
    if not spread > 1e-9:
        spread = float(np.std(scores)) or 1.0
    return float(top), spread


def _weights_term(
    features: np.ndarray, scores: np.ndarray, rows: np.ndarray, verdicts: np.ndarray, top: float, spread: float
) -> np.ndarray:
    """Step 1: the change of every row's score from weights over its features, learned from the
    verdicts and the table's bulk (see the module's docstring)."""
    n = scores.shape[0]
    # Evenly spaced through the table: a sample of its rows, nearly all of them normal.
    bulk = np.setdiff1d(np.linspace(0, n - 1, min(BULK_ROWS, n)).astype(np.int64), rows)
    fit_rows = np.concatenate([rows, bulk])
    x = np.column_stack([np.ones(fit_rows.size), features[fit_rows]])
    y = np.concatenate([verdicts, -np.ones(bulk.size)])
    weight = np.concatenate([np.ones(rows.size), np.full(bulk.size, BULK_WEIGHT / max(bulk.size, 1))])
    offset = np.clip(OFFSET_SLOPE * (scores[fit_rows] - top) / spread, -10.0, 10.0)
    coefficients = _logistic(x, y, weight, offset)
    # Back from log-odds to score units.
    return spread * (features @ coefficients[1:]) / OFFSET_SLOPE


def _logistic(x: np.ndarray, y: np.ndarray, weight: np.ndarray, offset: np.ndarray, iterations: int = 25) -> np.ndarray:
    """Weighted L2-penalised logistic regression (labels +1/-1, a fixed offset per row) by
    damped Newton steps; the intercept (column 0) is barely penalised."""
    penalty = np.full(x.shape[1], RIDGE)
    penalty[0] = 1e-2
    beta = np.zeros(x.shape[1])
    for _ in range(iterations):
        margin = np.clip(x @ beta + offset, -30.0, 30.0)
        p = 1.0 / (1.0 + np.exp(-y * margin))
        gradient = -(x * (weight * y * (1.0 - p))[:, None]).sum(axis=0) + penalty * beta
        hessian = (x * (weight * p * (1.0 - p))[:, None]).T @ x + np.diag(penalty)
        step = np.linalg.solve(hessian, gradient)
        # Separable labels (every confirmed row above every dismissed one) would send a full
        # Newton step far away; a bounded step keeps every iteration sane.
        largest = float(np.abs(step).max())
        if largest > 2.0:
            step *= 2.0 / largest
        beta -= step
        if largest < 1e-8:
            break
    return beta
