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
on instead, and the cell keeps the network's yardstick. Where such a relation is a price per
kind of row and its usual error is far below the network's on the target (a carrier's price per
kilo give or take 5%, against a network off by a fifth), it judges inside the range too.

The curves themselves, per kind of row, are fitted in kind_curves.py.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .kind_curves import (
    KIND_STATS, RELATION_MIN_ROWS, RELATION_SCALE_FLOOR, TRIM_SIGMAS, choose_kinds, fit_kinds, kind_candidates,
    kind_codes, kind_options, mad, rows_on_curve,
)
from .preprocess import CLIP, ColumnEncoder, TabularPreprocessor, _forward_numeric, _inverse_numeric
from .roles import Role

#: A relation is used when its residual spread is at most this share of the column's spread
#: (R^2 of about 0.997 on the bulk of the rows): a price list or a formula, not two
#: measurements that go together (a steel plate's left and right edge, 0.99, are not).
RELATION_SPREAD = 0.05
#: Pairs tried: those whose (model-scale) correlation is at least this, the best few per column.
RELATION_CORRELATION = 0.8
PARTNERS_TRIED = 2
#: Training rows a relation is fitted on, at most (a random sample beyond).
RELATION_ROWS = 5000
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
    #: yardstick, its usual error being far below the network's on its target (judge_inside).
    inside: np.ndarray | None = None
    #: Per relation: an exact line in the cells' own units, continued past its kind's range for
    #: a row that fits another kind's price instead (see restore_kinds).
    continues: np.ndarray | None = None

    def __post_init__(self) -> None:
        for name in ("beyond", "own_units", "inside", "continues"):
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
        singles = kind_options(preprocessor, matrix)
        found: list[tuple[int, int, tuple[int, int], tuple[int, int], np.ndarray, np.ndarray, float, bool, bool]] = []
        for t in range(len(numeric)):
            partners = [p for p in np.argsort(-corr[t], kind="stable")[:PARTNERS_TRIED] if corr[t, p] >= RELATION_CORRELATION]
            best = None
            for p in partners:
                both = present[:, t] & present[:, p]
                if both.sum() < 4 * RELATION_MIN_ROWS:
                    continue
                y, x = values[both, t], values[both, p]
                scale = mad(y)
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
                        option = choose_kinds(fx, fy, kinds, bar * scale, model_units)
                        if option is None:
                            continue
                        fit = fit_kinds(
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
                        fitting = [rows_on_curve(c[2][0], x, y, c[1][2], state_p, state_t, c[3], reach) for c in tried]
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
            continues=np.array([f[8] and not f[7] for f in found], bool),
        )

    # -- use --------------------------------------------------------------------------------

    def predict(
        self,
        preprocessor: TabularPreprocessor,
        matrix: np.ndarray,
        i: int,
        partner: np.ndarray | None = None,
        codes: np.ndarray | None = None,
        continued: bool = False,
    ) -> np.ndarray:
        """Relation ``i``'s value for its target column (NaN where it has nothing to say); at
        the ``partner`` values given (model units), else at the rows' own. ``codes``: the rows'
        kinds, where the caller has them (finding them is the costly part). ``continued``: an
        exact curve speaks past its kind's range too (see restore_kinds)."""
        encoders = preprocessor.encoders
        codes = self._codes(preprocessor, matrix, i) if codes is None else codes
        c = self.coef[i][codes]
        lo, hi, mid = self.bounds[i][codes, 0], self.bounds[i][codes, 1], self.bounds[i][codes, 2]
        x = matrix[:, encoders[int(self.partner[i])].start] if partner is None else partner
        inside = ((x >= lo) & (x <= hi)) | (continued & np.isfinite(lo))
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
        if not len(self):
            self.inside = np.zeros(0, dtype=bool)
            return
        feature = np.array([preprocessor.encoders[int(t)].start for t in self.target], dtype=np.int64)
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

        A row whose own value has a line in the cells' own units, past whose range it lies and
        which it misses, while exactly one other value's price fits it to the cent, has a number
        wrong for its kind: a bill labelled Green for 1,803 kWh at the Business price. Its target
        is expected as its own line continued (Green's price for 1,803 kWh), and measured
        against the relation's yardstick (see given); the kind column keeps the network's guess.
        Past the range alone a curve stays silent (a row may be the kind's largest), and a price
        that fits no other value either says nothing of which cell is off.
        """
        encoders = preprocessor.encoders
        for i in range(len(self)):
            if self.beyond[i]:
                continue
            t, p = int(self.target[i]), int(self.partner[i])
            actual = matrix[:, encoders[t].start]
            # Only a row whose own kind has no curve: a kind the rows fitted is the row's own
            # (a store payment charged the phone rate has a wrong fee, not a wrong channel);
            # or one past its kind's range that misses its own line continued (see above).
            codes = self._codes(preprocessor, matrix, i)
            unfitted = ~np.isfinite(self.coef[i][codes, 0])
            both = _present(preprocessor, matrix, t) & _present(preprocessor, matrix, p)
            wrong, continued = self._missed_past_range(preprocessor, matrix, i, codes, both & ~unfitted)
            rows = np.flatnonzero((unfitted | wrong) & both)
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
                known = one & wrong[picked]
                if known.any():
                    hit = picked[known] if wanted is None else picked[known][wanted[picked[known], t]]
                    recon[hit, encoders[t].start] = continued[hit]
                one &= ~wrong[picked]
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

    def _missed_past_range(
        self, preprocessor: TabularPreprocessor, matrix: np.ndarray, i: int, codes: np.ndarray, candidates: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """(rows past their kind's range that miss its curve continued, that curve's value), for
        an exact relation in the cells' own units (a price list: a line, safe to continue);
        ``candidates`` the rows to look at (their kind has a curve, both cells present)."""
        wrong = np.zeros(matrix.shape[0], dtype=bool)
        continued = np.full(matrix.shape[0], np.nan)
        if not self.continues[i]:
            return wrong, continued
        lo, hi = self.bounds[i][codes, 0], self.bounds[i][codes, 1]
        x = matrix[:, preprocessor.encoders[int(self.partner[i])].start]
        past = np.flatnonzero(candidates & np.isfinite(lo) & ((x < lo) | (x > hi)))
        if past.size == 0:
            return wrong, continued
        continued[past] = self.predict(preprocessor, matrix[past], i, codes=codes[past], continued=True)
        actual = matrix[past, preprocessor.encoders[int(self.target[i])].start]
        with np.errstate(invalid="ignore"):
            fits = np.abs(actual - continued[past]) <= self._tolerance(preprocessor, matrix[past], i, codes[past])
        wrong[past] = np.isfinite(continued[past]) & ~fits
        return wrong, continued

    def _tolerance(self, preprocessor: TabularPreprocessor, matrix: np.ndarray, i: int, codes: np.ndarray | None = None) -> np.ndarray:
        """How far a row may sit from relation ``i`` and still fit it: a few of its yardsticks,
        the cells' rounding included (see rounding)."""
        return TRIM_SIGMAS * np.sqrt(max(float(self.spread[i]) ** 2, RELATION_SCALE_FLOOR) + self.rounding(preprocessor, matrix, i, codes) ** 2)

    def _codes(self, preprocessor: TabularPreprocessor, matrix: np.ndarray, i: int) -> np.ndarray:
        codes = kind_codes(preprocessor, matrix, tuple(int(g) for g in self.groups[i]), tuple(int(s) for s in self.sizes[i]))
        return np.minimum(codes, self.coef.shape[1] - 1)

    def given(self, preprocessor: TabularPreprocessor, matrix: np.ndarray, recon: np.ndarray) -> list[tuple[int, np.ndarray, np.ndarray]]:
        """(feature, rows, the rows' kinds) of the cells that hold a relation's value (see apply)."""
        out = []
        for i in range(len(self)):
            feature = preprocessor.encoders[int(self.target[i])].start
            codes = self._codes(preprocessor, matrix, i)
            # A price list's line continued past its range, where restore_kinds gave it.
            value = self.predict(preprocessor, matrix, i, codes=codes, continued=bool(self.continues[i]))
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
            "relation_own_units": self.own_units, "relation_inside": self.inside, "relation_continues": self.continues,
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
        out.continues = np.array(data["relation_continues"], dtype=bool) if "relation_continues" in data else np.zeros(n, dtype=bool)
        kinds = dict(kind_candidates(preprocessor))
        numeric = {j for j, e in enumerate(preprocessor.encoders) if e.role is Role.NUMERIC}
        shapes = (
            out.partner.shape == (n,) and out.groups.shape == (n, 2) and out.sizes.shape == (n, 2)
            and out.coef.ndim == 3 and out.coef.shape[0] == n and out.coef.shape[2] == 3
            and out.bounds.shape == (*out.coef.shape[:2], len(KIND_STATS)) and out.spread.shape == (n,)
            and out.beyond.shape == (n,) and out.own_units.shape == (n,) and out.inside.shape == (n,)
            and out.continues.shape == (n,)
        )
        if not shapes:
            raise ValueError("the relation arrays do not fit each other")
        # Speaking inside qualifies a loose relation only; continuing, an exact one in own units.
        out.inside &= out.beyond
        out.continues &= out.own_units & ~out.beyond
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


def _present(preprocessor: TabularPreprocessor, matrix: np.ndarray, j: int) -> np.ndarray:
    encoder = preprocessor.encoders[j]
    if encoder.state.get("indicator"):
        return matrix[:, encoder.stop - 1] < 0.5
    return np.ones(matrix.shape[0], dtype=bool)
