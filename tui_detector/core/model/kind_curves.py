"""Curves per kind of row, for the relations between two numbers (see relations.py): the split
of the rows into kinds (none, one column, or two), a robust quadratic per kind, and for kinds too
rare for one, a line their few rows keep to or the sum of their two values' lines.

Each curve is fitted in the space given (the model's units, or the cells' own) and judged in the
model's; a kind's range and medians are kept in the model's units (KIND_STATS).
"""

from __future__ import annotations

import numpy as np

from .kinds import mode_candidates, mode_groups
from .preprocess import TabularPreprocessor, _forward_numeric, _inverse_numeric

#: Each kind of row needs this many rows for its own fit; kinds that together cover less than
#: RELATION_COVERAGE of the rows make the split unusable.
RELATION_MIN_ROWS = 20
RELATION_COVERAGE = 0.9
#: The kinds of row come from one or two small categorical (or yes/no) columns, at most this
#: many combinations.
RELATION_KINDS = 256
#: The columns that may split rows into kinds, at most (those of fewest values).
KIND_COLUMNS = 8
#: Rows the ways of splitting into kinds are compared on; the best single columns paired for a
#: split by two.
SCREEN_ROWS = 2000
PAIRED = 3
#: A split into more kinds is taken only when it narrows the residual spread this much.
RELATION_GAIN = 0.5
#: The smallest usual squared error of a relation's cell (model-scale units), far below the
#: network's floor (parts.RESIDUAL_FLOOR): a relation is exact to its cells' rounding, which its
#: measured yardstick already holds; the floor only keeps an exact copy of a column finite.
RELATION_SCALE_FLOOR = 1e-6
#: Per kind: the partner's range the relation speaks for (its 1st to 99th percentile: a
#: quadratic is least supported at its ends, and a curve like a fee's floor bends there, so a
#: row past them is the network's to judge), and the partner's and the target's median and
#: spread (which of the two is off, see Relations.apply).
KIND_STATS = ("partner_min", "partner_max", "partner_median", "partner_spread", "target_median", "target_spread")
#: The share of a kind's partner values left outside its range at either end (see KIND_STATS).
RANGE_TAIL = 0.01
#: Rounds of refitting on the rows within TRIM_SIGMAS of the previous fit.
ROUNDS = 3
TRIM_SIGMAS = 3.0
#: A kind whose rows scatter about its fit this many times as widely as all kinds' rows about
#: theirs is fitted again without its partner's far ends (see fit_kinds).
WIDE_KIND = 3.0
#: A kind with at least this many rows is fitted from its partner range from the start (its
#: RANGE_TAIL ends then hold a row or more each; a smaller kind's would cut into its bulk).
RANGED_FIT_ROWS = int(round(1.0 / RANGE_TAIL))
#: A kind too rare for its own curve (fewer than RELATION_MIN_ROWS rows) is given a straight line
#: where at least this many of its rows, and RARE_SHARE of them, lie on one to their rounding (a
#: yen customer's few app payments, each 2.5% plus 40 yen to the yen): two rows fix a line, and
#: three more that keep to it within the relation's own yardstick do not do so by chance.
RARE_KIND_ROWS = 5
RARE_SHARE = 0.75


def rows_on_curve(
    coef: np.ndarray, x: np.ndarray, y: np.ndarray, codes: np.ndarray, state_x: dict, state_y: dict, own: bool, reach: float
) -> int:
    """How many rows lie within ``reach`` (model units) of a per-kind curve, fitted in the
    model's units or, ``own``, in the cells' own."""
    c = coef[codes]
    at = _inverse_numeric(x, state_x) if own else x
    with np.errstate(invalid="ignore", over="ignore"):
        curve = c[:, 0] + c[:, 1] * at + c[:, 2] * at * at
        if own:
            curve = _forward_numeric(curve, state_y)
        return int(np.count_nonzero(np.abs(y - curve) <= reach))


def kind_candidates(preprocessor: TabularPreprocessor) -> list[tuple[int, int]]:
    """(column position, slot count) of the columns that may split rows into kinds for a
    relation: as for the per-kind error scales, with at most RELATION_KINDS slots."""
    return mode_candidates(preprocessor, RELATION_KINDS)


def _slots(preprocessor: TabularPreprocessor, matrix: np.ndarray, j: int) -> np.ndarray:
    return mode_groups(preprocessor, matrix, j)


def kind_codes(preprocessor: TabularPreprocessor, matrix: np.ndarray, groups: tuple[int, int], sizes: tuple[int, int]) -> np.ndarray:
    codes = np.zeros(matrix.shape[0], dtype=np.int64)
    for g, s in zip(groups, sizes, strict=True):
        if g >= 0:
            codes = codes * s + np.minimum(_slots(preprocessor, matrix, g), s - 1)
    return codes


def kind_options(preprocessor: TabularPreprocessor, matrix: np.ndarray) -> list[tuple[tuple[int, int], tuple[int, int], np.ndarray]]:
    """Ways to split the rows into kinds by at most one column: none, then each of the
    KIND_COLUMNS columns of fewest values (so a wide table's cost stays bounded)."""
    candidates = sorted(kind_candidates(preprocessor), key=lambda c: (c[1], c[0]))[:KIND_COLUMNS]
    options = [((-1, -1), (1, 1))] + [((j, -1), (s, 1)) for j, s in candidates]
    return [(g, s, kind_codes(preprocessor, matrix, g, s)) for g, s in options]


def choose_kinds(
    x: np.ndarray,
    y: np.ndarray,
    singles: list[tuple[tuple[int, int], tuple[int, int], np.ndarray]],
    limit: float,
    model_units: tuple[np.ndarray, np.ndarray, dict] | None = None,
) -> tuple[tuple[int, int], tuple[int, int], np.ndarray] | None:
    """The split of the rows into kinds under which y follows x most closely (within ``limit``),
    coarse first: none, one column, or two of the PAIRED best single columns, each judged on a
    sample of SCREEN_ROWS rows. A finer split must narrow the spread by RELATION_GAIN.
    ``model_units`` as in fit_kinds: the curves are fitted on x and y, judged in the model's
    units."""
    judged = y if model_units is None else model_units[1]
    sample = np.arange(0, x.size, max(1, x.size // SCREEN_ROWS))
    fit_on, judge_on = sample[0::2], sample[1::2]
    least = max(5, int(round(RELATION_MIN_ROWS * fit_on.size / x.size)))

    def spread_of(codes: np.ndarray, kinds: int) -> float:
        # Fitted on half the sample and judged on the other half: a split into many kinds
        # fits its own rows closely, not new ones.
        fit = fit_kinds(x[fit_on], y[fit_on], codes[fit_on], kinds, least=least, ranged=False)
        if fit is None:
            return np.inf
        c = fit[0][codes[judge_on]]
        xs = x[judge_on]
        with np.errstate(invalid="ignore", over="ignore"):
            curve = c[:, 0] + c[:, 1] * xs + c[:, 2] * xs * xs
            if model_units is not None:
                curve = _forward_numeric(curve, model_units[2])
            residual = judged[judge_on] - curve
        known = np.isfinite(residual)
        return mad(residual[known], centred=True) if known.mean() >= RELATION_COVERAGE else np.inf

    tried = [(spread_of(codes, int(np.prod(sizes))), groups, sizes, codes) for groups, sizes, codes in singles]
    ranked = sorted(tried[1:], key=lambda t: t[0])[:PAIRED]
    for n, (_, (a, _), (sa, _), ca) in enumerate(ranked):
        for _, (b, _), (sb, _), cb in ranked[n + 1 :]:
            if sa * sb <= RELATION_KINDS:
                codes = ca * sb + cb
                tried.append((spread_of(codes, sa * sb), (a, b), (sa, sb), codes))
    best = None
    for spread, groups, sizes, codes in tried:
        if spread <= limit and (best is None or spread < RELATION_GAIN * best[0]):
            best = (spread, groups, sizes, codes)
    return None if best is None else best[1:]


def fit_kinds(
    x: np.ndarray,
    y: np.ndarray,
    codes: np.ndarray,
    kinds: int,
    rounds: int = ROUNDS,
    least: int = RELATION_MIN_ROWS,
    model_units: tuple[np.ndarray, np.ndarray, dict] | None = None,
    ranged: bool = True,
    slack: np.ndarray | None = None,
    split: tuple[int, int] | None = None,
) -> tuple[np.ndarray, np.ndarray, float, float] | None:
    """A robust quadratic y ~ x per kind: (coefficients per kind, x's range per kind, the
    pooled robust residual spread, the yardstick), or None where the kinds it holds for cover
    too few rows.

    A kind whose target is constant (no nights on a taxi ride) has no fit: there the target
    depends on nothing, and the network judges it.

    ``slack`` (per row, model units: what the cells' rounding can move the target) asks for
    kinds too rare for a curve to be given a line where their rows keep to one (see
    RARE_KIND_ROWS and _rare_lines), and, with ``split`` (the slot counts of a split by two
    columns), the rest the sum of their two values' lines where the rows keep to such sums
    (see _additive).
    """
    counts = np.bincount(codes, minlength=kinds)
    fitted = counts >= least
    covered = fitted[codes]
    if covered.mean() < RELATION_COVERAGE:
        return None
    basis = np.column_stack([np.ones_like(x), x, x * x])

    def trimmed(weight: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        coef = np.full((kinds, 3), np.nan)
        for _ in range(rounds):
            gram = np.zeros((kinds, 3, 3))
            rhs = np.zeros((kinds, 3))
            for a in range(3):
                rhs[:, a] = np.bincount(codes, weights=weight * basis[:, a] * y, minlength=kinds)
                for b in range(a, 3):
                    gram[:, a, b] = gram[:, b, a] = np.bincount(codes, weights=weight * basis[:, a] * basis[:, b], minlength=kinds)
            # A small ridge keeps a kind whose partner takes one value (a flat fit) solvable.
            gram += 1e-6 * np.eye(3)
            coef[:] = np.nan
            coef[fitted] = np.linalg.solve(gram[fitted], rhs[fitted][..., None])[..., 0]
            residual = y - np.einsum("ij,ij->i", basis, np.nan_to_num(coef[codes]))
            own = np.where(fitted, _group_mad(residual, codes, kinds, centred=True), 0.0)
            weight = (covered & (np.abs(residual) <= TRIM_SIGMAS * np.maximum(own[codes], 1e-12))).astype(np.float64)
        return coef, residual, own

    # A curve speaks for its kind's partner range only (KIND_STATS), and a large kind's is
    # fitted from it: one row far past the rest of its kind's partner values (an 11,184.00
    # payment among 560 store payments of 12 to 870) pulls a least-squares quadratic through
    # itself by leverage alone, and trimming on that curve's residuals would keep it. Rows past
    # the range come back in the later rounds where they fit.
    lo, hi = _group_quantile(x, codes, kinds, RANGE_TAIL)[codes], _group_quantile(x, codes, kinds, 1.0 - RANGE_TAIL)[codes]
    outside = ranged & (counts >= RANGED_FIT_ROWS)[codes] & ((x < lo) | (x > hi))
    coef, residual, own = trimmed((covered & ~outside).astype(np.float64))
    # A small kind's ends hold its bulk too, and are dropped only where the kind's rows scatter
    # about its curve far more widely than the other kinds' rows about theirs (a 450.00 payment
    # with a 2.88 fee among 24 that keep their channel's rate).
    pooled = mad(residual[covered], centred=True)
    wide = fitted & (own > WIDE_KIND * max(pooled, 1e-12))
    if wide.any():
        coef, residual, own = trimmed((covered & ~outside & ~(wide[codes] & ((x < lo) | (x > hi)))).astype(np.float64))
    fx, fy = x, y
    if model_units is not None:
        # Fitted in the cells' own units; judged, and its range and kinds' medians kept, in the
        # model's (x and y the model-unit values, the target's encoding to get there).
        x, y, state = model_units
        curve = np.einsum("ij,ij->i", basis, np.nan_to_num(coef[codes]))
        with np.errstate(invalid="ignore", over="ignore"):
            residual = y - _forward_numeric(curve, state)
        residual = np.where(np.isfinite(residual), residual, np.inf)
    within = np.where(fitted, _group_mad(y, codes, kinds), 0.0)
    good = fitted & (within > 1e-9)
    coef[~good] = np.nan
    rows = good[codes]
    if rows.mean() < RELATION_COVERAGE:
        return None
    spread = mad(residual[rows], centred=True)
    # The relation's yardstick is its mean squared residual, as the network's is (see
    # EnsembleScorer.fit), over the rows its fit rests on: a cell's error relative to either
    # then reads alike, and a column whose cells are judged by both keeps one usual error.
    bulk = rows & (np.abs(residual) <= 2 * TRIM_SIGMAS * max(spread, 1e-12))
    yardstick = float(np.sqrt(np.mean(residual[bulk] ** 2))) if bulk.any() else spread
    bounds = np.full((kinds, len(KIND_STATS)), np.nan)
    stats = np.column_stack([
        _group_quantile(x, codes, kinds, RANGE_TAIL), _group_quantile(x, codes, kinds, 1.0 - RANGE_TAIL), _group_median(x, codes, kinds), np.maximum(_group_mad(x, codes, kinds), 1e-6),
        _group_median(y, codes, kinds), np.maximum(within, 1e-6),
    ])
    bounds[good] = stats[good]
    if slack is not None:
        reach = TRIM_SIGMAS * max(spread, RELATION_SCALE_FLOOR**0.5) + slack
        kept = rows & (np.abs(residual) <= reach)
        encoding = None if model_units is None else model_units[2]
        for kind, line, on in _rare_lines(fx, fy, y, codes, counts, least, reach, encoding):
            coef[kind] = line
            # The rows on the line are all the kind has: its range is theirs, ends included.
            bounds[kind] = _stats_of(x[on], y[on])
            kept[on] = True
        if split is not None and split[1] > 1:
            for kind, line, on in _additive(fx, fy, y, codes, split, least, reach, encoding, coef, kept):
                coef[kind] = line
                bounds[kind] = _stats_of(x[on], y[on])
    return coef, bounds, float(spread), yardstick


def _stats_of(x: np.ndarray, y: np.ndarray) -> list[float]:
    """KIND_STATS of a kind from the rows it rests on, their range ends included."""
    return [x.min(), x.max(), np.median(x), max(mad(x), 1e-6), np.median(y), max(mad(y), 1e-6)]


def _additive(
    x: np.ndarray,
    y: np.ndarray,
    judged: np.ndarray,
    codes: np.ndarray,
    sizes: tuple[int, int],
    least: int,
    reach: np.ndarray,
    state: dict | None,
    coef: np.ndarray,
    kept: np.ndarray,
) -> list[tuple[int, np.ndarray, np.ndarray]]:
    """(kind, line, the rows its range and medians come from) for each pair of values too rare
    for a curve and still without one in ``coef``, where the kinds' own curves are all sums of
    one line per value: y ~ (a[first] + a[second]) + (b[first] + b[second]) x.

    Fitted by least squares on ``kept``, the rows that keep to their own kind's curve (so a
    broken row cannot tilt it), refitted on those within ``reach`` of ``judged`` (as in
    _rare_lines); taken only where every kind keeps to it (RELATION_COVERAGE of its kept rows),
    and given only to the pairs it pins down: a pair is estimable when its two values are linked
    through pairs seen (yen only by web, phone only in euros: yen by web, euros by web and euros
    by phone), and a sum of lines says nothing of the rest.

    A pair's range and medians are those of the kept rows holding either of its values, and of
    its own rows that keep to the sum: its own are too few for them, or none."""
    kinds = sizes[0] * sizes[1]
    first, second = codes // sizes[1], codes % sizes[1]
    own = np.bincount(codes, minlength=kinds)
    # A kind with rows enough for a curve and none kept (its target constant) stays without.
    missing = [k for k in range(kinds) if own[k] < least and not np.isfinite(coef[k, 0])]
    width = sizes[0] + sizes[1]
    if not missing or kept.sum() < 2 * width:
        return []

    def design_of(a: np.ndarray, b: np.ndarray, at: np.ndarray) -> np.ndarray:
        out = np.zeros((a.size, 2 * width))
        rows = np.arange(a.size)
        out[rows, a] = out[rows, sizes[0] + b] = 1.0
        out[rows, width + a] = out[rows, width + sizes[0] + b] = at
        return out

    design = design_of(first, second, x)
    weight = kept.copy()
    for _ in range(ROUNDS):
        if weight.sum() < 2 * width:
            return []
        parts, *_ = np.linalg.lstsq(design[weight], y[weight], rcond=None)
        with np.errstate(invalid="ignore", over="ignore"):
            said = design @ parts
            if state is not None:
                said = _forward_numeric(said, state)
            weight = kept & (np.abs(judged - said) <= reach)
    held = np.bincount(codes, weights=weight.astype(np.float64), minlength=kinds)
    tried = np.bincount(codes, weights=kept.astype(np.float64), minlength=kinds)
    if np.any(held[tried > 0] < RELATION_COVERAGE * tried[tried > 0]):
        return []
    # Estimable: the pair's row of the design lies in the span of the rows fitted.
    _, singular, basis = np.linalg.svd(design[weight], full_matrices=False)
    basis = basis[singular > 1e-9 * singular[0]]
    # The pair's own rows that keep to the sum count too (yen's largest, by phone).
    near = np.abs(judged - said) <= reach
    out = []
    for k in missing:
        a, b = k // sizes[1], k % sizes[1]
        # The pair's design rows at partner 0 and 1: its intercept, and intercept plus slope.
        probes = design_of(np.array([a, a]), np.array([b, b]), np.array([0.0, 1.0]))
        if np.any(np.linalg.norm(probes - (probes @ basis.T) @ basis, axis=1) > 1e-6):
            continue
        line, at_one = probes @ parts
        out.append((k, np.array([line, at_one - line, 0.0]), np.flatnonzero((kept & ((first == a) | (second == b))) | (near & (codes == k)))))
    return out


def _rare_lines(
    x: np.ndarray, y: np.ndarray, judged: np.ndarray, codes: np.ndarray, counts: np.ndarray, least: int, reach: np.ndarray, state: dict | None
) -> list[tuple[int, np.ndarray, np.ndarray]]:
    """(kind, line as quadratic coefficients, the rows on it) for each kind of fewer than
    ``least`` rows whose rows keep to a line: y ~ x fitted in the space given, within ``reach``
    (per row) of ``judged``, the model-unit target (``state`` its encoding from y's units, None
    when y is already in them).

    The line is the one through two of the kind's rows that the most rows keep to (so a broken
    row among them cannot tilt it, as it would a least-squares line), then refitted on those."""
    out = []
    for kind in np.flatnonzero((counts >= RARE_KIND_ROWS) & (counts < least)):
        rows = np.flatnonzero(codes == kind)
        xs, ys = x[rows], y[rows]
        if mad(judged[rows]) <= 1e-9:
            continue
        a, b = np.triu_indices(rows.size, 1)
        apart = np.abs(xs[a] - xs[b]) > 1e-9 * (1.0 + np.abs(xs[a]))
        if not apart.any():
            continue
        a, b = a[apart], b[apart]
        slope = (ys[b] - ys[a]) / (xs[b] - xs[a])
        lines = np.column_stack([ys[a] - slope * xs[a], slope])
        on = _on_line(lines, xs, judged[rows], reach[rows], state)
        best = int(np.argmax(on.sum(axis=1)))
        keep = on[best]
        if keep.sum() < max(RARE_KIND_ROWS, RARE_SHARE * rows.size):
            continue
        refit = np.polyfit(xs[keep], ys[keep], 1)[::-1]
        again = _on_line(refit[None, :], xs, judged[rows], reach[rows], state)[0]
        if again.sum() >= keep.sum():
            lines, keep = refit[None, :], again
        else:
            lines = lines[best : best + 1]
        out.append((int(kind), np.array([lines[0, 0], lines[0, 1], 0.0]), rows[keep]))
    return out


def _on_line(lines: np.ndarray, x: np.ndarray, judged: np.ndarray, reach: np.ndarray, state: dict | None) -> np.ndarray:
    """Per line (intercept, slope) and row: the row's model-unit target within ``reach`` of it."""
    with np.errstate(invalid="ignore", over="ignore"):
        said = lines[:, :1] + lines[:, 1:] * x[None, :]
        if state is not None:
            said = _forward_numeric(said, state)
        return np.abs(judged[None, :] - said) <= reach[None, :]


def _group_median(values: np.ndarray, codes: np.ndarray, kinds: int) -> np.ndarray:
    """The median of ``values`` per code (NaN for a code without rows), from one sort."""
    order = np.lexsort((values, codes))
    ordered, keys = values[order], codes[order]
    counts = np.bincount(keys, minlength=kinds)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    out = np.full(kinds, np.nan)
    some = counts > 0
    lo = starts[some] + (counts[some] - 1) // 2
    hi = starts[some] + counts[some] // 2
    out[some] = (ordered[lo] + ordered[hi]) / 2.0
    return out


def _group_quantile(values: np.ndarray, codes: np.ndarray, kinds: int, share: float) -> np.ndarray:
    """The ``share`` quantile of ``values`` per code (the nearest rank below; NaN for a code
    without rows), from one sort."""
    order = np.lexsort((values, codes))
    ordered = values[order]
    counts = np.bincount(codes, minlength=kinds)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    out = np.full(kinds, np.nan)
    some = counts > 0
    out[some] = ordered[starts[some] + np.floor(share * (counts[some] - 1)).astype(np.int64)]
    return out


def _group_mad(values: np.ndarray, codes: np.ndarray, kinds: int, centred: bool = False) -> np.ndarray:
    """1.4826 x the median absolute deviation per code (about 0, when ``centred``)."""
    centre = 0.0 if centred else np.nan_to_num(_group_median(values, codes, kinds))[codes]
    return 1.4826 * np.nan_to_num(_group_median(np.abs(values - centre), codes, kinds))


def mad(values: np.ndarray, centred: bool = False) -> float:
    if values.size == 0:
        return 0.0
    centre = 0.0 if centred else float(np.median(values))
    return 1.4826 * float(np.median(np.abs(values - centre)))
