"""Near-exact relations between two numbers: a fee on an amount, a cost on a weight, a bill on
a reading, each possibly per kind of row (a channel's fee rate, a carrier's price per kilo).

The network restores a column from the rest of its row, but only as well as it learned to: its
usual error on an amount is tens of per cent, so an amount 6x its fee is "a bit off". Where the
training rows show that one number is almost a function of another (a robust fit of the one on
the other, per kind, leaves at most RELATION_SPREAD of its spread), the expected value of the
column is that function of its partner, which is exact to the rounding of the cells.

Only one column of a pair is given the relation's value on a row: the one further from what
its kind of row usually holds (see :meth:`Relations.apply`). A broken relation is then blamed on
the column whose value is off (an extreme cost beside an ordinary weight), not on the partner,
which would need an equally strange value to fit; the other column keeps the network's
restoration. A table whose numbers are not tied this closely (most measurement tables) keeps the
network's restoration everywhere.

A pair tied less closely (a cost that follows its weight give or take 5%: a robust fit leaves at
most LOOSE_SPREAD of the target's spread) has a loose relation, which speaks only where the
partner lies past the values its kind of row holds (a 45 kg parcel on a carrier whose parcels
weigh a few kilos). There the network, which never saw such a partner for that kind, restores
the target as if the partner were usual (the cost of a 3 kg parcel), and a cost that fits its
real weight would read as wrong as a cost that fits no weight; the relation carries the curve
on instead, and the cell keeps the network's yardstick.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .kinds import mode_candidates, mode_groups
from .preprocess import CLIP, ColumnEncoder, TabularPreprocessor, _forward_numeric, _inverse_numeric
from .roles import Role

#: A relation is used when its residual spread is at most this share of the column's spread
#: (R^2 of about 0.997 on the bulk of the rows): a price list or a formula, not two
#: measurements that go together (a steel plate's left and right edge, 0.99, are not).
RELATION_SPREAD = 0.05
#: Pairs tried: those whose (model-scale) correlation is at least this, the best few per column.
RELATION_CORRELATION = 0.8
PARTNERS_TRIED = 2
#: Each kind of row needs this many rows for its own fit; kinds that together cover less than
#: RELATION_COVERAGE of the rows make the split unusable.
RELATION_MIN_ROWS = 20
RELATION_COVERAGE = 0.9
#: The kinds of row come from one or two small categorical (or yes/no) columns, at most this
#: many combinations.
RELATION_KINDS = 256
#: The columns that may split rows into kinds, at most (those of fewest values).
KIND_COLUMNS = 8
#: Training rows a relation is fitted on, at most (a random sample beyond); rows the ways of
#: splitting into kinds are compared on; the best single columns paired for a split by two.
RELATION_ROWS = 5000
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
#: theirs is fitted again without its partner's far ends (see _fit_kinds).
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
#: A split by two columns whose rows, nearly all (RELATION_COVERAGE), keep to a sum of one line
#: per column value (a fee of a rate per channel plus a fixed part per currency) gives that sum
#: to the pairs still without a curve: yen by phone, seen once, or next month's first.
#: Each of the two values needs RELATION_MIN_ROWS rows of its own.
#: A looser relation (a cost that goes with a weight, give or take its noise) speaks only past
#: its kind's partner range, continued along its tangent: there the network, which never saw a
#: partner that far out for that kind, restores the target as if the partner were usual.
LOOSE_SPREAD = 0.35
#: A loose relation per kind speaks inside its kind's range as well where its usual squared
#: error is at most this share of the network's on the same column (half its error, or less).
INSIDE_SHARE = 0.25


@dataclass(eq=False)
class Relations:
    """Per relation: the column it predicts (``target``), from which (``partner``), the column
    positions that split rows into kinds (``groups``, -1 unused) and their slot counts
    (``sizes``), the quadratic per kind (``coef``: relation x kind x 3, NaN where a kind has no
    fit), per kind the partner's range and both columns' median and spread (``bounds``:
    relation x kind x 6, see KIND_STATS), and the residual yardstick."""

    target: np.ndarray
    partner: np.ndarray
    groups: np.ndarray
    sizes: np.ndarray
    coef: np.ndarray
    bounds: np.ndarray
    spread: np.ndarray
    #: Per relation: it speaks only past its kind's partner range (a loose one, LOOSE_SPREAD).
    beyond: np.ndarray | None = None
    #: Per relation: its curve is in the cells' own units (``coef``; the bounds stay in model
    #: units, an order statistic or a median being the same row either way).
    own_units: np.ndarray | None = None
    #: Per relation: a loose one that also speaks inside its kind's partner range, with its own
    #: yardstick, its usual error being below the network's on its target (see judge_inside).
    inside: np.ndarray | None = None

    def __post_init__(self) -> None:
        for name in ("beyond", "own_units", "inside"):
            if getattr(self, name) is None:
                setattr(self, name, np.zeros(self.target.size, dtype=bool))

    @classmethod
    def empty(cls) -> Relations:
        return cls(
            np.zeros(0, np.int64), np.zeros(0, np.int64), np.full((0, 2), -1, np.int64), np.ones((0, 2), np.int64),
            np.zeros((0, 1, 3)), np.zeros((0, 1, len(KIND_STATS))), np.zeros(0),
        )

    def __len__(self) -> int:
        return int(self.target.size)

    # -- fitting ----------------------------------------------------------------------------

    @classmethod
    def fit(cls, preprocessor: TabularPreprocessor, matrix: np.ndarray) -> Relations:
        """The relations the encoded training rows show (not clipped); none on most tables."""
        encoders = preprocessor.encoders
        numeric = [j for j, e in enumerate(encoders) if e.role is Role.NUMERIC]
        if len(numeric) < 2 or matrix.shape[0] < 4 * RELATION_MIN_ROWS:
            return cls.empty()
        if matrix.shape[0] > RELATION_ROWS:
            pick = np.sort(np.random.default_rng(0).choice(matrix.shape[0], RELATION_ROWS, replace=False))
            matrix = matrix[pick]
        values = np.column_stack([matrix[:, encoders[j].start] for j in numeric])
        present = np.column_stack([_present(preprocessor, matrix, j) for j in numeric])
        with np.errstate(invalid="ignore", divide="ignore"):
            corr = np.corrcoef(np.where(present, values, np.nanmean(np.where(present, values, np.nan), axis=0)), rowvar=False)
        corr = np.nan_to_num(np.abs(np.atleast_2d(corr)), nan=0.0)
        np.fill_diagonal(corr, 0.0)
        singles = _kind_options(preprocessor, matrix)
        found: list[tuple[int, int, tuple[int, int], tuple[int, int], np.ndarray, np.ndarray, float, bool, bool]] = []
        for t in range(len(numeric)):
            partners = [p for p in np.argsort(-corr[t], kind="stable")[:PARTNERS_TRIED] if corr[t, p] >= RELATION_CORRELATION]
            best = None
            for p in partners:
                both = present[:, t] & present[:, p]
                if both.sum() < 4 * RELATION_MIN_ROWS:
                    continue
                y, x = values[both, t], values[both, p]
                scale = _mad(y)
                if scale <= 1e-9:
                    continue
                kinds = [(g, z, codes[both]) for g, z, codes in singles]
                state_t, state_p = encoders[numeric[t]].state, encoders[numeric[p]].state
                spaces: list[tuple[np.ndarray, np.ndarray, tuple | None]] = [(x, y, None)]
                if state_t.get("log") or state_p.get("log"):
                    # A price list is a line in the cells' own units (a rate on the amount plus a
                    # fixed part), no parabola in logs: it is tried there too, and kept where it
                    # fits more rows, or as many more tightly (measured in model units either way).
                    spaces.append((_inverse_numeric(x, state_p), _inverse_numeric(y, state_t), (x, y, state_t)))
                # An exact relation first, its kinds chosen against its own bar; a loose one only
                # where there is none (a looser bar would settle for a coarser split).
                for bar, loose in ((RELATION_SPREAD, False), (LOOSE_SPREAD, True)):
                    tried = []
                    # Each space chooses its own kinds: in yen and euros a fee's fixed part
                    # differs by currency, which in logs is lost beside the rate.
                    for fx, fy, model_units in spaces:
                        option = _choose_kinds(fx, fy, kinds, bar * scale, model_units)
                        if option is None:
                            continue
                        fit = _fit_kinds(
                            fx, fy, option[2], int(np.prod(option[1])), model_units=model_units,
                            slack=None if loose else _half_unit(state_t, y) + _half_unit(state_p, x),
                            split=tuple(int(v) for v in option[1]),
                        )
                        if fit is not None and fit[2] <= bar * scale:
                            tried.append((fit[2], option, fit, model_units is not None))
                    if tried:
                        # The tighter space wins only if it leaves no more rows off its curve:
                        # a robust spread measures the bulk, and a line in euros that misses
                        # every yen payment's fixed part is tight on the bulk too.
                        reach = TRIM_SIGMAS * max(c[0] for c in tried)
                        fitting = [_fitting(c[2][0], x, y, c[1][2], state_p, state_t, c[3], reach) for c in tried]
                        _, _, option, fit, own = min(
                            ((-f, c[0], c[1], c[2], c[3]) for f, c in zip(fitting, tried, strict=True)), key=lambda c: c[:2]
                        )
                        break
                else:
                    continue
                columns, sizes, _ = option
                coef, bounds, spread, yardstick = fit
                if best is None or (loose, spread) < (best[1][7], best[0]):
                    best = (spread, (numeric[t], numeric[p], columns, sizes, coef, bounds, max(yardstick, 1e-6), loose, own))
            if best is not None:
                found.append(best[1])
        # A pair an exact relation already speaks for (either way round) takes no loose one:
        # the exact one says which of the two is off.
        exact = {frozenset((f[0], f[1])) for f in found if not f[7]}
        found = [f for f in found if not f[7] or frozenset((f[0], f[1])) not in exact]
        if not found:
            return cls.empty()
        width = max(f[4].shape[0] for f in found)
        coef = np.full((len(found), width, 3), np.nan)
        bounds = np.full((len(found), width, len(KIND_STATS)), np.nan)
        for i, f in enumerate(found):
            coef[i, : f[4].shape[0]] = f[4]
            bounds[i, : f[5].shape[0]] = f[5]
        return cls(
            np.array([f[0] for f in found], np.int64),
            np.array([f[1] for f in found], np.int64),
            np.array([f[2] for f in found], np.int64).reshape(-1, 2),
            np.array([f[3] for f in found], np.int64).reshape(-1, 2),
            coef,
            bounds,
            np.array([f[6] for f in found], np.float64),
            np.array([f[7] for f in found], bool),
            np.array([f[8] for f in found], bool),
        )

    # -- use --------------------------------------------------------------------------------

    def predict(
        self,
        preprocessor: TabularPreprocessor,
        matrix: np.ndarray,
        i: int,
        partner: np.ndarray | None = None,
        codes: np.ndarray | None = None,
    ) -> np.ndarray:
        """Relation ``i``'s value for its target column (NaN where it has nothing to say); at
        the ``partner`` values given (model units), else at the rows' own. ``codes``: the rows'
        kinds, where the caller has them (finding them is the costly part)."""
        encoders = preprocessor.encoders
        codes = self._codes(preprocessor, matrix, i) if codes is None else codes
        c = self.coef[i][codes]
        lo, hi, mid = self.bounds[i][codes, 0], self.bounds[i][codes, 1], self.bounds[i][codes, 2]
        x = matrix[:, encoders[int(self.partner[i])].start] if partner is None else partner
        inside = (x >= lo) & (x <= hi)
        own = bool(self.own_units[i])
        if own:
            state = encoders[int(self.partner[i])].state
            x, lo, hi, mid = (_inverse_numeric(v, state) for v in (x, lo, hi, mid))
        with np.errstate(invalid="ignore", over="ignore"):
            if self.beyond[i]:
                # Continued along the curve's tangent at the range's end (a price per kilo goes
                # on as it ends), but no steeper than twice the chord from the kind's median
                # partner to that end, nor against it: where a quadratic turns sharply at its
                # end, the turn is its least supported part.
                end = np.clip(x, lo, hi)
                at_end = c[:, 0] + c[:, 1] * end + c[:, 2] * end * end
                chord = (at_end - (c[:, 0] + c[:, 1] * mid + c[:, 2] * mid * mid)) / (end - mid)
                tangent = c[:, 1] + 2.0 * c[:, 2] * end
                slope = np.where(tangent * chord > 0, np.sign(chord) * np.minimum(np.abs(tangent), 2.0 * np.abs(chord)), chord)
                out = at_end + slope * (x - end)
                if self.inside[i]:
                    out = np.where(inside, c[:, 0] + c[:, 1] * x + c[:, 2] * x * x, out)
                    inside = np.isfinite(lo)
                else:
                    inside = ~inside & np.isfinite(lo)
            else:
                out = c[:, 0] + c[:, 1] * x + c[:, 2] * x * x
            if own:
                out = _forward_numeric(out, encoders[int(self.target[i])].state)
        ok = _present(preprocessor, matrix, int(self.partner[i])) & inside & np.isfinite(out)
        return np.where(ok, out, np.nan)

    def apply(self, preprocessor: TabularPreprocessor, matrix: np.ndarray, recon: np.ndarray, wanted: np.ndarray | None = None) -> None:
        """Give each target column its relation's value (in ``recon``, in place) on the rows
        where the target is the one of the pair that is off, and wherever an exact relation's
        two agree.

        When two numbers disagree, the one far from what its kind of row usually holds is off:
        an amount six times a usual bill beside a usual reading is the amount's fault, and the
        reading that would fit it would be as unusual. Measured against the kind's median and
        spread (a robust z), so one rare row does not move them.

        ``wanted`` (rows x columns) marks the cells restored at all; a column not restored on a
        row was set to its expected value (see parts.attribute) and counts as not off.
        """
        for i in range(len(self)):
            t, p = int(self.target[i]), int(self.partner[i])
            codes = self._codes(preprocessor, matrix, i)
            stats = self.bounds[i][codes]
            with np.errstate(invalid="ignore"):
                off_t = np.abs(matrix[:, preprocessor.encoders[t].start] - stats[:, 4]) / stats[:, 5]
                off_p = np.abs(matrix[:, preprocessor.encoders[p].start] - stats[:, 2]) / stats[:, 3]
            restored = np.ones(matrix.shape[0], dtype=bool)
            if wanted is not None:
                restored = wanted[:, t]
                off_p = np.where(wanted[:, p], off_p, 0.0)
            value = self.predict(preprocessor, matrix, i, codes=codes)
            start = preprocessor.encoders[t].start
            # Where the two agree exactly, the target is expected as the relation gives it, the
            # nearer its kind's usual or not: a fee right to the cent for its amount is never
            # "expected" as something the price list contradicts.
            farther = ~(off_t < off_p)
            known = restored & np.isfinite(value) & _present(preprocessor, matrix, t)
            agree = np.zeros(matrix.shape[0], dtype=bool)
            nearer = np.flatnonzero(known & ~farther)
            if not self.beyond[i] and nearer.size:
                with np.errstate(invalid="ignore"):
                    agree[nearer] = np.abs(matrix[nearer, start] - value[nearer]) <= self._tolerance(preprocessor, matrix[nearer], i, codes[nearer])
            use = known & (agree | farther)
            recon[use, start] = value[use]
            profile = preprocessor.encoders[t].state.get("profile")
            if profile:
                # The target's distance from its entity's usual value is the partner's doing
                # too (a large fee on a large payment): it is restored along with the value, so
                # that distance counts once, at the partner, and not again at the target. Where
                # the two agree, it counts at the one farther from its kind's usual.
                moved = use & ~(agree & farther)
                shift = (value[moved] - matrix[moved, start]) / max(float(profile["spread"]), 1e-9)
                recon[moved, start + 1] = np.clip(matrix[moved, start + 1] + shift, -CLIP, CLIP)

    def judge_inside(self, preprocessor: TabularPreprocessor, network_scale: np.ndarray) -> None:
        """Let each loose relation per kind of row whose usual squared error is at most
        INSIDE_SHARE of the network's on its target (``network_scale``, per feature, model units)
        speak inside its kind's range too.

        A cost that follows its carrier's price per kilo give or take 5% is judged better by that
        price than by a network whose usual error on it is 20%: a cost four times its price is
        then as plain as it is to the analyst. A price per kind is what the network learns worst
        (a slope that changes with a category); one curve for all rows it can learn itself, and
        there (a steel plate's two edges) the network, which sees the whole row, keeps judging.
        """
        feature = np.array([preprocessor.encoders[int(t)].start for t in self.target], dtype=np.int64)
        if not len(self):
            self.inside = np.zeros(0, dtype=bool)
            return
        kinds = self.groups[:, 0] >= 0
        self.inside = self.beyond & kinds & (self.spread**2 <= INSIDE_SHARE * network_scale[feature])

    def restore_kinds(
        self, preprocessor: TabularPreprocessor, matrix: np.ndarray, recon: np.ndarray, wanted: np.ndarray | None = None
    ) -> None:
        """Give a kind column the value under which the row's numbers fit their relation (in
        ``recon``, in place), and the number the relation's value under it.

        A payment whose fee is its amount at the phone rate to the cent was a phone payment,
        whatever its channel cell says ("hpone", seen once): the network, which sees the amount
        and the fee only as sizes, cannot tell, but the price list can. Only an exact relation
        speaks, only on rows whose own value has no curve of its own (too rare to have been
        fitted), and only where exactly one value of the column makes the row fit it; a row
        whose numbers fit no value keeps what the network expected. ``wanted`` as in apply.
        """
        encoders = preprocessor.encoders
        for i in range(len(self)):
            if self.beyond[i]:
                continue
            t, p = int(self.target[i]), int(self.partner[i])
            actual = matrix[:, encoders[t].start]
            # Only a row whose own kind has no curve: a kind the rows fitted is the row's own
            # (a store payment charged the phone rate has a wrong fee, not a wrong channel).
            unfitted = ~np.isfinite(self.coef[i][self._codes(preprocessor, matrix, i), 0])
            rows = np.flatnonzero(unfitted & _present(preprocessor, matrix, t) & _present(preprocessor, matrix, p))
            for g in (int(g) for g in self.groups[i] if g >= 0):
                encoder = encoders[g]
                picked = rows if wanted is None else rows[wanted[rows, g]]
                if picked.size == 0:
                    continue
                values = 2 if encoder.role is Role.BOOLEAN else len(encoder.state["categories"])
                fits = np.zeros((picked.size, values), dtype=bool)
                said = np.full((picked.size, values), np.nan)
                for v in range(values):
                    trial = matrix[picked].copy()
                    _set_value(encoder, trial, v)
                    said[:, v] = self.predict(preprocessor, trial, i)
                    with np.errstate(invalid="ignore"):
                        fits[:, v] = np.abs(actual[picked] - said[:, v]) <= self._tolerance(preprocessor, trial, i)
                one = fits.sum(axis=1) == 1
                if one.any():
                    block = recon[picked[one]]
                    # Under that value the number fits its relation: it is expected as the
                    # relation gives it, not as the network guessed beside a value it never saw.
                    given = said[one][fits[one]]
                    keep = np.ones(given.size, dtype=bool) if wanted is None else wanted[picked[one], t]
                    start = encoders[t].start
                    block[keep, start] = given[keep]
                    for v in range(values):
                        chosen = np.flatnonzero(fits[one, v])
                        if chosen.size:
                            sub = block[chosen]
                            _set_value(encoder, sub, v)
                            block[chosen] = sub
                    recon[picked[one]] = block

    def _tolerance(self, preprocessor: TabularPreprocessor, matrix: np.ndarray, i: int, codes: np.ndarray | None = None) -> np.ndarray:
        """How far a row may sit from relation ``i`` and still fit it: a few of its yardsticks,
        the cells' rounding included (see rounding)."""
        return TRIM_SIGMAS * np.sqrt(max(float(self.spread[i]) ** 2, RELATION_SCALE_FLOOR) + self.rounding(preprocessor, matrix, i, codes) ** 2)

    def _codes(self, preprocessor: TabularPreprocessor, matrix: np.ndarray, i: int) -> np.ndarray:
        codes = _kind_codes(preprocessor, matrix, tuple(int(g) for g in self.groups[i]), tuple(int(s) for s in self.sizes[i]))
        return np.minimum(codes, self.coef.shape[1] - 1)

    def given(self, preprocessor: TabularPreprocessor, matrix: np.ndarray, recon: np.ndarray) -> list[tuple[int, np.ndarray, np.ndarray]]:
        """(feature, rows, the rows' kinds) of the cells that hold a relation's value (see apply)."""
        out = []
        for i in range(len(self)):
            feature = preprocessor.encoders[int(self.target[i])].start
            codes = self._codes(preprocessor, matrix, i)
            value = self.predict(preprocessor, matrix, i, codes=codes)
            # recon may be kept in float32
            close = np.abs(np.asarray(recon[:, feature], dtype=np.float64) - value) <= 1e-5 * (1.0 + np.abs(value))
            out.append((feature, np.isfinite(value) & close, codes))
        return out

    def scale_cells(self, preprocessor: TabularPreprocessor, matrix: np.ndarray, recon: np.ndarray, scales: np.ndarray) -> None:
        """A cell that holds a relation's value is measured against the relation's own usual
        error, not the network's (in ``scales``, rows x features, in place)."""
        for i, (feature, rows, codes) in enumerate(self.given(preprocessor, matrix, recon)):
            if self.inside[i]:
                # Past its kind's range a loose relation only carries its curve on; the
                # network's yardstick stays there (see the module's notes).
                x = matrix[:, preprocessor.encoders[int(self.partner[i])].start]
                b = self.bounds[i][codes]
                rows = rows & (x >= b[:, 0]) & (x <= b[:, 1])
            elif self.beyond[i]:
                continue
            if not rows.any():
                continue
            slack = self.rounding(preprocessor, matrix[rows], i, codes[rows])
            scales[rows, feature] = max(float(self.spread[i]) ** 2, RELATION_SCALE_FLOOR) + slack**2

    def rounding(self, preprocessor: TabularPreprocessor, matrix: np.ndarray, i: int, codes: np.ndarray | None = None) -> np.ndarray:
        """How far, in model units, relation ``i`` can miss a row only because both cells are
        written to their column's decimals (half a unit of the last one each): a fee of 0.35 on
        an amount of 12.00 fits its rate to a cent, not better, however exact the price list.
        A relation fitted on many larger values would otherwise count that cent as a miss."""
        encoders = preprocessor.encoders
        t, p = int(self.target[i]), int(self.partner[i])
        slack = _half_unit(encoders[t].state, matrix[:, encoders[t].start]) ** 2
        start, state = encoders[p].start, encoders[p].state
        values = _inverse_numeric(matrix[:, start], state)
        codes = self._codes(preprocessor, matrix, i) if codes is None else codes
        half = _half_step(state)
        with np.errstate(invalid="ignore", over="ignore"):
            shifted = [self.predict(preprocessor, matrix, i, _forward_numeric(values + sign * half, state), codes) for sign in (1.0, -1.0)]
        partner = np.abs(shifted[0] - shifted[1]) / 2.0
        slack = slack + np.where(np.isfinite(partner), partner, 0.0) ** 2
        return np.sqrt(slack)

    # -- persistence ------------------------------------------------------------------------

    def to_arrays(self) -> dict[str, np.ndarray]:
        return {
            "relation_target": self.target, "relation_partner": self.partner, "relation_groups": self.groups,
            "relation_sizes": self.sizes, "relation_coef": self.coef, "relation_bounds": self.bounds,
            "relation_spread": self.spread, "relation_beyond": self.beyond,
            "relation_own_units": self.own_units, "relation_inside": self.inside,
        }

    @classmethod
    def from_arrays(cls, data, preprocessor: TabularPreprocessor) -> Relations:  # noqa: ANN001 - an npz
        """The relations kept in a model file; none in a file written before they existed.

        Raises:
            ValueError: the arrays do not fit the table or each other.
        """
        if "relation_target" not in data:
            return cls.empty()
        out = cls(*(np.array(data[k]) for k in (
            "relation_target", "relation_partner", "relation_groups", "relation_sizes", "relation_coef",
            "relation_bounds", "relation_spread",
        )))
        out.target, out.partner, out.groups, out.sizes = (a.astype(np.int64) for a in (out.target, out.partner, out.groups, out.sizes))
        n = len(out)
        out.beyond = np.array(data["relation_beyond"], dtype=bool) if "relation_beyond" in data else np.zeros(n, dtype=bool)
        out.own_units = np.array(data["relation_own_units"], dtype=bool) if "relation_own_units" in data else np.zeros(n, dtype=bool)
        out.inside = np.array(data["relation_inside"], dtype=bool) if "relation_inside" in data else np.zeros(n, dtype=bool)
        kinds = dict(_kind_candidates(preprocessor))
        numeric = {j for j, e in enumerate(preprocessor.encoders) if e.role is Role.NUMERIC}
        shapes = (
            out.partner.shape == (n,) and out.groups.shape == (n, 2) and out.sizes.shape == (n, 2)
            and out.coef.ndim == 3 and out.coef.shape[0] == n and out.coef.shape[2] == 3
            and out.bounds.shape == (*out.coef.shape[:2], len(KIND_STATS)) and out.spread.shape == (n,)
            and out.beyond.shape == (n,) and out.own_units.shape == (n,) and out.inside.shape == (n,)
        )
        if not shapes:
            raise ValueError("the relation arrays do not fit each other")
        # Speaking inside qualifies a loose relation only.
        out.inside &= out.beyond
        for i in range(n):
            if int(out.target[i]) not in numeric or int(out.partner[i]) not in numeric:
                raise ValueError("a relation names a column that is not a number")
            for g, s in zip(out.groups[i].tolist(), out.sizes[i].tolist(), strict=True):
                if g >= 0 and kinds.get(g) != s:
                    raise ValueError("a relation's kinds do not fit the table")
            if int(np.prod(out.sizes[i])) > out.coef.shape[1]:
                raise ValueError("a relation's kinds do not fit its table")
        return out


# -- helpers ---------------------------------------------------------------------------------


def _set_value(encoder: ColumnEncoder, matrix: np.ndarray, value: int) -> None:
    """Write value ``value`` (a category's slot, or 0/1) into the column's block of ``matrix``."""
    if encoder.role is Role.BOOLEAN:
        matrix[:, encoder.start] = float(value)
        return
    categories = len(encoder.state["categories"])
    matrix[:, encoder.start : encoder.start + categories + 1] = 0.0
    matrix[:, encoder.start + value] = 1.0


def _half_step(state: dict) -> float:
    """Half a unit of the last decimal a numeric column's cells are written to."""
    decimals = 0 if state.get("integral") else min(int(state.get("decimals", 2)), 9)
    return 0.5 * 10.0 ** -decimals


def _half_unit(state: dict, scaled: np.ndarray) -> np.ndarray:
    """Half a unit of the column's last decimal, in model units, at each cell's value."""
    values = _inverse_numeric(scaled, state)
    half = _half_step(state)
    with np.errstate(invalid="ignore", over="ignore"):
        out = np.abs(_forward_numeric(values + half, state) - _forward_numeric(values - half, state)) / 2.0
    return np.where(np.isfinite(out), out, 0.0)


def _fitting(
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


def _present(preprocessor: TabularPreprocessor, matrix: np.ndarray, j: int) -> np.ndarray:
    encoder = preprocessor.encoders[j]
    if encoder.state.get("indicator"):
        return matrix[:, encoder.stop - 1] < 0.5
    return np.ones(matrix.shape[0], dtype=bool)


def _kind_candidates(preprocessor: TabularPreprocessor) -> list[tuple[int, int]]:
    """(column position, slot count) of the columns that may split rows into kinds for a
    relation: as for the per-kind error scales, with at most RELATION_KINDS slots."""
    return mode_candidates(preprocessor, RELATION_KINDS)


def _slots(preprocessor: TabularPreprocessor, matrix: np.ndarray, j: int) -> np.ndarray:
    return mode_groups(preprocessor, matrix, j)


def _kind_codes(preprocessor: TabularPreprocessor, matrix: np.ndarray, groups: tuple[int, int], sizes: tuple[int, int]) -> np.ndarray:
    codes = np.zeros(matrix.shape[0], dtype=np.int64)
    for g, s in zip(groups, sizes, strict=True):
        if g >= 0:
            codes = codes * s + np.minimum(_slots(preprocessor, matrix, g), s - 1)
    return codes


def _kind_options(preprocessor: TabularPreprocessor, matrix: np.ndarray) -> list[tuple[tuple[int, int], tuple[int, int], np.ndarray]]:
    """Ways to split the rows into kinds by at most one column: none, then each of the
    KIND_COLUMNS columns of fewest values (so a wide table's cost stays bounded)."""
    candidates = sorted(_kind_candidates(preprocessor), key=lambda c: (c[1], c[0]))[:KIND_COLUMNS]
    options = [((-1, -1), (1, 1))] + [((j, -1), (s, 1)) for j, s in candidates]
    return [(g, s, _kind_codes(preprocessor, matrix, g, s)) for g, s in options]


def _choose_kinds(
    x: np.ndarray,
    y: np.ndarray,
    singles: list[tuple[tuple[int, int], tuple[int, int], np.ndarray]],
    limit: float,
    model_units: tuple[np.ndarray, np.ndarray, dict] | None = None,
) -> tuple[tuple[int, int], tuple[int, int], np.ndarray] | None:
    """The split of the rows into kinds under which y follows x most closely (within ``limit``),
    coarse first: none, one column, or two of the PAIRED best single columns, each judged on a
    sample of SCREEN_ROWS rows. A finer split must narrow the spread by RELATION_GAIN.
    ``model_units`` as in _fit_kinds: the curves are fitted on x and y, judged in the model's
    units."""
    judged = y if model_units is None else model_units[1]
    sample = np.arange(0, x.size, max(1, x.size // SCREEN_ROWS))
    fit_on, judge_on = sample[0::2], sample[1::2]
    least = max(5, int(round(RELATION_MIN_ROWS * fit_on.size / x.size)))

    def spread_of(codes: np.ndarray, kinds: int) -> float:
        # Fitted on half the sample and judged on the other half: a split into many kinds
        # fits its own rows closely, not new ones.
        fit = _fit_kinds(x[fit_on], y[fit_on], codes[fit_on], kinds, least=least, ranged=False)
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
        return _mad(residual[known], centred=True) if known.mean() >= RELATION_COVERAGE else np.inf

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


def _fit_kinds(
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
    pooled = _mad(residual[covered], centred=True)
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
    spread = _mad(residual[rows], centred=True)
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
    return [x.min(), x.max(), np.median(x), max(_mad(x), 1e-6), np.median(y), max(_mad(y), 1e-6)]


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
    if not missing or kept.sum() < 2 * (sizes[0] + sizes[1]):
        return []
    width = sizes[0] + sizes[1]

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
    out = []
    for k in missing:
        a, b = k // sizes[1], k % sizes[1]
        for probe in (design_of(np.array([a]), np.array([b]), np.array([0.0]))[0], design_of(np.array([a]), np.array([b]), np.array([1.0]))[0]):
            if np.linalg.norm(probe - basis.T @ (basis @ probe)) > 1e-6:
                break
        else:
            line = design_of(np.array([a]), np.array([b]), np.array([0.0]))[0] @ parts
            slope = design_of(np.array([a]), np.array([b]), np.array([1.0]))[0] @ parts - line
            # The pair's own rows that keep to the sum count too (yen's largest, by phone).
            near = np.abs(judged - said) <= reach
            out.append((k, np.array([line, slope, 0.0]), np.flatnonzero((kept & ((first == a) | (second == b))) | (near & (codes == k)))))
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
        if _mad(judged[rows]) <= 1e-9:
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


def _mad(values: np.ndarray, centred: bool = False) -> float:
    if values.size == 0:
        return 0.0
    centre = 0.0 if centred else float(np.median(values))
    return 1.4826 * float(np.median(np.abs(values - centre)))
