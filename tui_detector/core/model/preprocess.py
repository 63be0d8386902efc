"""Turning a table into the numeric matrix a model learns from, and back again.

Every used column owns a contiguous block of matrix features, so a model's per-feature
reconstruction error folds back into the user's own columns, and a reconstruction maps back to a
value in the column's units (a number, a category, a date). The whole fitted state is plain JSON.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .datetimes import _datetime_features, _expected_stamps, _fit_datetime
from .roles import ColumnProfile, Role, as_datetime, as_numeric

#: A categorical column with more distinct values than this keeps the most frequent ones one-hot
#: and folds the rest into one "rare value" feature, plus a frequency feature.
MAX_ONE_HOT = 30
#: Scaled values are clipped here: a cell of 1e300 must stay a finite, very large error.
CLIP = 1e4
_OTHER = "\x00other"


@dataclass
class TransformReport:
    """What happened to cells while encoding: coerced to missing, or categories never seen."""

    coerced: dict[str, int] = field(default_factory=dict)
    unseen: dict[str, dict[str, int]] = field(default_factory=dict)
    #: Per date column, the period (first and last date, ns) of the table that was encoded.
    periods: dict[str, tuple[float, float]] = field(default_factory=dict)

    def warnings(self) -> list[str]:
        out = [
            f"{n} cell(s) in {name!r} could not be read as its type and were treated as missing"
            for name, n in self.coerced.items()
            if n
        ]
        for name, values in self.unseen.items():
            shown = ", ".join(repr(v) for v in list(values)[:3])
            more = "" if len(values) <= 3 else f" and {len(values) - 3} more"
            out.append(f"values never seen in training in {name!r}: {shown}{more}")
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "coerced": dict(self.coerced),
            "unseen": {k: dict(v) for k, v in self.unseen.items()},
            "periods": {k: [float(lo), float(hi)] for k, (lo, hi) in self.periods.items()},
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TransformReport:
        """Raises ValueError (or TypeError) when ``data`` is not what :meth:`to_json` wrote."""
        coerced = {str(k): int(v) for k, v in dict(data["coerced"]).items()}
        unseen = {str(k): {str(a): int(b) for a, b in dict(v).items()} for k, v in dict(data["unseen"]).items()}
        periods: dict[str, tuple[float, float]] = {}
        for k, v in dict(data["periods"]).items():
            lo, hi = (float(x) for x in v)
            periods[str(k)] = (lo, hi)
        return cls(coerced, unseen, periods)


@dataclass
class ColumnEncoder:
    """The fitted encoding of one column: where its features sit and how to undo them."""

    column: str
    role: Role
    features: list[str]
    state: dict[str, Any]
    start: int = 0

    @property
    def stop(self) -> int:
        return self.start + len(self.features)

    # -- fitting ------------------------------------------------------------------------------

    @classmethod
    def fit(cls, series: pd.Series, role: Role) -> ColumnEncoder:
        name = str(series.name)
        state: dict[str, Any]
        if role is Role.NUMERIC:
            values, _ = as_numeric(series)
            state = _fit_numeric(values)
            features = [name]
        elif role is Role.BOOLEAN:
            values = _as_bool_float(series)[0]
            mean = float(values.mean()) if values.notna().any() else 0.0
            state = {"mean": mean}
            features = [name]
        elif role is Role.DATETIME:
            stamps, _ = as_datetime(series)
            state, features = _fit_datetime(stamps, name)
        elif role is Role.CATEGORICAL:
            state, features = _fit_categorical(series, name)
        else:
            raise ValueError(f"column {name!r} with role {role} is not encoded")
        missing_share = float(series.isna().mean()) if len(series) else 0.0
        state["indicator"] = 0.0 < missing_share < 1.0
        if state["indicator"]:
            features = [*features, f"{name} (missing)"]
        return cls(name, role, features, state)

    # -- encoding -----------------------------------------------------------------------------

    @property
    def entity_column(self) -> str | None:
        """The entity column this column is judged against (its usual value per entity)."""
        link = self.state.get("given") or self.state.get("profile")
        return link["column"] if link else None

    def transform(self, series: pd.Series, report: TransformReport, context: pd.Series | None = None) -> np.ndarray:
        """The column's features; ``context`` is the cells of :attr:`entity_column`."""
        state = self.state
        n = len(series)
        block = np.zeros((n, len(self.features)), dtype=np.float64)
        missing = series.isna().to_numpy()
        if self.role is Role.NUMERIC:
            values, coerced = as_numeric(series)
            raw = values.to_numpy(dtype=np.float64, na_value=np.nan)
            scaled = _forward_numeric(raw, state)
            block[:, 0] = np.where(np.isnan(scaled), 0.0, scaled)
            if state.get("profile"):
                block[:, 1] = _off_entity_usual(scaled, context, state["profile"])
        elif self.role is Role.BOOLEAN:
            values, coerced = _as_bool_float(series)
            raw = values.to_numpy(dtype=np.float64, na_value=np.nan)
            block[:, 0] = np.where(np.isnan(raw), state["mean"], raw)
        elif self.role is Role.DATETIME:
            stamps, coerced = as_datetime(series)
            raw = _datetime_features(stamps, state, report.periods, self.column)
            block[:, : raw.shape[1]] = np.where(np.isnan(raw), 0.0, raw)
        else:
            coerced = 0
            width = self._categorical_width()
            block[:, :width] = self._encode_categories(series, report)
            if state.get("given"):
                given = state["given"]
                block[:, width] = _usual_for_entity(series, context, given["shares"], bool(given.get("relative")))
        if coerced:
            report.coerced[self.column] = report.coerced.get(self.column, 0) + coerced
        if state["indicator"]:
            if self.role is Role.CATEGORICAL:
                block[:, -1] = missing
            else:
                block[:, -1] = np.isnan(raw) if self.role is not Role.DATETIME else np.isnan(raw[:, 0])
        return block

    def _categorical_width(self) -> int:
        return len(self.features) - (1 if self.state["indicator"] else 0) - (1 if self.state.get("given") else 0)

    def _encode_categories(self, series: pd.Series, report: TransformReport) -> np.ndarray:
        state = self.state
        categories: list[str] = state["categories"]
        codes, keys = _category_codes(series)
        width = self._categorical_width()
        out = np.zeros((len(series), width), dtype=np.float64)
        slot_of = {c: i for i, c in enumerate(categories)}
        # Per distinct key, then per row through the codes (-1, no key, takes the last entry).
        slots = np.array([slot_of.get(k, -1) for k in keys] + [-1], dtype=np.int64)[codes]
        present = codes >= 0
        hot = slots >= 0
        out[np.flatnonzero(hot), slots[hot]] = 1.0
        out[present & ~hot, len(categories)] = 1.0
        if state.get("capped"):
            log_freq = state["log_freq"]
            table = np.array([log_freq.get(k, state["log_freq_unseen"]) for k in keys] + [0.0], dtype=np.float64)
            out[:, -1] = np.where(present, (table[codes] - state["freq_mean"]) / state["freq_std"], 0.0)
        known = set(state["known"])
        unseen = np.flatnonzero([k not in known for k in keys])
        if unseen.size:
            counts = np.bincount(codes[present], minlength=len(keys))
            merged = report.unseen.setdefault(self.column, {})
            # Most frequent first, ties in the order the rows show them.
            for i in sorted(unseen.tolist(), key=lambda i: (-counts[i], i)):
                merged[keys[i]] = merged.get(keys[i], 0) + int(counts[i])
        return out

    # -- decoding -----------------------------------------------------------------------------

    def expected(
        self,
        recon: np.ndarray,
        actual: pd.Series | None = None,
        context: pd.Series | None = None,
        period: tuple[float, float] | None = None,
    ) -> list[Any]:
        """The value the model expected in this column, per row, in the column's own units, and
        one the column could hold: a number inside the range seen in training, a category seen
        in training, a date in the table's period (``actual``: the rows' cells; ``context``:
        their entity column's cells, where this column has an entity feature; ``period``: the
        scored table's, from :class:`TransformReport`)."""
        state = self.state
        if self.role is Role.NUMERIC:
            scaled = recon[:, 0].astype(np.float64)
            profile = state.get("profile")
            if profile and context is not None:
                # What the rest of the row suggests, unless that is far from what this entity
                # usually has (an amount that follows an equally wrong fee): then the usual.
                usual, _ = _entity_usual(context, profile)
                far = np.isfinite(usual) & (np.abs(scaled - usual) > 2.0 * profile["spread"])
                scaled = np.where(far, usual, scaled)
            values = _inverse_numeric(scaled, state)
            if "min" in state:
                values = np.clip(values, state["min"], state["max"])
            return [_round_like(v, state) for v in values]
        if self.role is Role.BOOLEAN:
            return [bool(v >= 0.5) for v in recon[:, 0]]
        if self.role is Role.DATETIME:
            return _expected_stamps(recon, state, actual, period)
        # A value never seen is no expectation; "a rare value" is, in a column of many values.
        labels = [*state["categories"], *(["(a rare value)"] if state.get("capped") else [])]
        width = len(labels)
        picks = np.argmax(recon[:, :width], axis=1) if width else np.zeros(len(recon), dtype=np.int64)
        out: list[Any] = [labels[i] if width else None for i in picks]
        given = state.get("given")
        if given and actual is not None and context is not None:
            # Where the entity's rows nearly always carry one value, that value is what the row
            # should hold, whatever the one-hot part (which cannot tell entities apart) says.
            entities = _category_keys(context.reset_index(drop=True))
            keys = _category_keys(actual.reset_index(drop=True))
            for i, (entity, key) in enumerate(zip(entities, keys, strict=True)):
                shares = given["shares"].get(entity) if entity is not None else None
                if not shares:
                    continue
                usual, share = max(shares.items(), key=lambda kv: (kv[1], kv[0]))
                # The entity's usual value, where the row's is not one the entity often has.
                out[i] = usual if shares.get(key, 0.0) < 0.5 * share else key
        return out

    def agrees(self, actual: pd.Series, expected: list[Any]) -> np.ndarray:
        """Per row, whether the cell already holds the expected value (as the column reads it:
        a number to the column's decimals, a category by its key, a date to the second). Such a
        column is no reason for the row to be strange."""
        actual = actual.reset_index(drop=True)
        if self.role is Role.NUMERIC:
            values = as_numeric(actual)[0].to_numpy(dtype=np.float64, na_value=np.nan)
            want = np.array([np.nan if w is None else float(w) for w in expected], dtype=np.float64)
            with np.errstate(invalid="ignore"):
                return np.round(values, _decimals_of(self.state)) == want
        if self.role is Role.BOOLEAN:
            values = _as_bool_float(actual)[0].to_numpy(dtype=np.float64, na_value=np.nan)
            want = np.array([bool(w) for w in expected], dtype=bool)
            return ~np.isnan(values) & ((values >= 0.5) == want)
        if self.role is Role.DATETIME:
            stamps = as_datetime(actual)[0].dt.floor("s")
            want = pd.to_datetime(pd.Series(expected, dtype=object), errors="coerce")
            return (stamps.to_numpy(dtype="datetime64[ns]") == want.to_numpy(dtype="datetime64[ns]")) & stamps.notna().to_numpy()
        keys = _category_keys(actual)
        # In a capped column, a value of the rare tail is what "(a rare value)" expects.
        rare = set(self.state["known"]) - set(self.state["categories"]) if self.state.get("capped") else set()
        return np.array(
            [k is not None and (k == w or (w == "(a rare value)" and k in rare)) for k, w in zip(keys, expected, strict=True)],
            dtype=bool,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "column": self.column,
            "role": str(self.role),
            "features": self.features,
            "state": self.state,
            "start": self.start,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ColumnEncoder:
        return cls(data["column"], Role(data["role"]), list(data["features"]), dict(data["state"]), int(data["start"]))


class TabularPreprocessor:
    """Fits column encoders on a table and maps tables to matrices and matrices back to values.

    Args:
        profiles: The column profiles; only columns whose role the model uses are encoded.
    """

    def __init__(self, profiles: list[ColumnProfile]) -> None:
        self.profiles = list(profiles)
        self.encoders: list[ColumnEncoder] = []

    @property
    def columns(self) -> list[str]:
        return [e.column for e in self.encoders]

    @property
    def feature_names(self) -> list[str]:
        return [f for e in self.encoders for f in e.features]

    @property
    def n_features(self) -> int:
        return sum(len(e.features) for e in self.encoders)

    def fit(self, frame: pd.DataFrame) -> TabularPreprocessor:
        encoders = []
        start = 0
        for profile in self.profiles:
            if not profile.used:
                continue
            encoder = ColumnEncoder.fit(frame[profile.name], profile.role)
            encoder.start = start
            start = encoder.stop
            encoders.append(encoder)
        if not encoders:
            raise ValueError("no column is usable by the model (all are IDs, text, constant or empty)")
        _attach_entities(encoders, frame)
        start = 0
        for encoder in encoders:
            encoder.start = start
            start = encoder.stop
        self.encoders = encoders
        return self

    def transform(self, frame: pd.DataFrame) -> tuple[np.ndarray, TransformReport]:
        needed = [*self.columns, *(e.entity_column for e in self.encoders if e.entity_column)]
        missing = [c for c in dict.fromkeys(needed) if c not in frame.columns]
        if missing:
            raise KeyError(f"the table lacks column(s) the model was trained on: {', '.join(missing)}")
        report = TransformReport()
        # Each block is built apart, then copied into its place: written there column by column,
        # a row-major matrix takes strided writes that measured several times slower. One block
        # at a time, not all then joined: a full-size sheet's blocks weigh as much as the matrix.
        matrix = np.empty((len(frame), self.n_features), dtype=np.float64)
        start = 0
        for e in self.encoders:
            block = e.transform(frame[e.column], report, frame[e.entity_column] if e.entity_column else None)
            np.clip(block, -CLIP, CLIP, out=matrix[:, start : start + block.shape[1]])
            start += block.shape[1]
            del block
        return matrix, report

    def to_json(self) -> dict[str, Any]:
        return {
            "profiles": [p.to_json() for p in self.profiles],
            "encoders": [e.to_json() for e in self.encoders],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TabularPreprocessor:
        self = cls([ColumnProfile.from_json(p) for p in data["profiles"]])
        self.encoders = [ColumnEncoder.from_json(e) for e in data["encoders"]]
        return self


# -- numeric ---------------------------------------------------------------------------------


def _fit_numeric(values: pd.Series) -> dict[str, Any]:
    finite = values.dropna().to_numpy(dtype=np.float64)
    if finite.size == 0:
        return {"mean": 0.0, "std": 1.0, "log": False, "integral": False, "decimals": 0}
    # Money, counts and durations are skewed: a log makes "10x the usual" as visible at 10 as at
    # 10,000, which the model cannot learn from raw values dominated by a few large cells.
    # A few negative or absurd cells (the anomalies a user wants found) must not decide the
    # column's scale: the log is chosen from the non-negative bulk, and the centre and spread
    # come from the values inside the 0.5-99.5th percentiles.
    nonneg = finite[finite >= 0]
    use_log = bool(
        nonneg.size >= 0.99 * finite.size and _skew(nonneg) > 2.0 and np.median(finite) > 0
    )
    scaled_input = np.sign(finite) * np.log1p(np.abs(finite)) if use_log else finite
    low, high = np.percentile(scaled_input, [0.5, 99.5])
    core = scaled_input[(scaled_input >= low) & (scaled_input <= high)]
    mean = float(core.mean()) if core.size else float(scaled_input.mean())
    std = float(core.std()) if core.size else 0.0
    if not math.isfinite(std) or std < 1e-12:
        std = float(scaled_input.std())
    if not math.isfinite(std) or std < 1e-12:
        std = 1.0
    if not math.isfinite(mean):
        mean = 0.0
    integral = bool(np.all(np.mod(finite, 1) == 0))
    return {
        "mean": mean,
        "std": std,
        "log": use_log,
        "integral": integral,
        "decimals": 0 if integral else _decimals(finite),
        "min": float(finite.min()),
        "max": float(finite.max()),
    }


def _skew(values: np.ndarray) -> float:
    std = values.std()
    if std == 0 or not math.isfinite(std):
        return 0.0
    return float(np.mean(((values - values.mean()) / std) ** 3))


def _decimals(values: np.ndarray) -> int:
    sample = values[:1000]
    for d in range(0, 7):
        if np.allclose(sample, np.round(sample, d), rtol=0, atol=1e-9):
            return d
    return 6


def _forward_numeric(raw: np.ndarray, state: dict[str, Any]) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        if state["log"]:
            # Negative cells in a column trained as non-negative are themselves strange: mirror
            # them so they land far below every training value instead of becoming NaN.
            raw = np.sign(raw) * np.log1p(np.abs(raw))
        return np.clip((raw - state["mean"]) / state["std"], -CLIP, CLIP)


def _inverse_numeric(scaled: np.ndarray, state: dict[str, Any]) -> np.ndarray:
    values = scaled * state["std"] + state["mean"]
    if state["log"]:
        values = np.sign(values) * np.expm1(np.minimum(np.abs(values), 700.0))
    return values


def _decimals_of(state: dict[str, Any]) -> int:
    """The decimals an expected value is given to, and a cell compared with it at."""
    return 0 if state.get("integral") else max(int(state.get("decimals", 2)), 2)


def _round_like(value: float, state: dict[str, Any]) -> float | int:
    if not math.isfinite(value):
        return None  # type: ignore[return-value]
    if state.get("integral"):
        return int(round(value))
    return round(float(value), _decimals_of(state))


# -- boolean ---------------------------------------------------------------------------------


def _as_bool_float(series: pd.Series) -> tuple[pd.Series, int]:
    tokens = {"true": 1.0, "yes": 1.0, "y": 1.0, "t": 1.0, "1": 1.0, "on": 1.0,
              "false": 0.0, "no": 0.0, "n": 0.0, "f": 0.0, "0": 0.0, "off": 0.0}

    def convert(v: Any) -> float:
        if v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v)):
            return np.nan
        if isinstance(v, (bool, np.bool_)):
            return float(v)
        if isinstance(v, (int, float, np.number)):
            return float(v) if v in (0, 1) else np.nan
        return tokens.get(str(v).strip().lower(), np.nan)

    # Per distinct value, not per cell: a yes/no column has two or three of them, and a
    # million-row map held the interpreter lock long enough to stall the app's screen.
    if pd.api.types.is_bool_dtype(series.dtype):
        values = pd.Series(series.to_numpy(dtype="float64", na_value=np.nan), index=series.index)
    elif pd.api.types.is_numeric_dtype(series.dtype):
        # 0/1 numbers in NumPy (a wide table of flags has thousands of such columns): anything
        # else is no answer, as in convert.
        numbers = series.to_numpy(dtype="float64", na_value=np.nan)
        answers = np.where((numbers == 0.0) | (numbers == 1.0), numbers, np.nan)
        coerced = int(np.count_nonzero(~np.isnan(numbers)) - np.count_nonzero(~np.isnan(answers)))
        return pd.Series(answers, index=series.index), coerced
    else:
        try:
            codes, uniques = pd.factorize(series, use_na_sentinel=True)
            table = np.array([convert(u) for u in uniques] + [np.nan], dtype="float64")
            values = pd.Series(table[codes], index=series.index)
        except TypeError:  # an unhashable cell
            values = series.map(convert).astype("float64")
    coerced = int(series.notna().sum()) - int(values.notna().sum())
    return values, coerced


# -- categorical -----------------------------------------------------------------------------


def _category_key(v: Any) -> str | None:
    if v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v)):
        return None
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    if isinstance(v, pd.Timestamp):
        return v.isoformat()
    text = str(v).strip()
    return text if text else None


#: Rows per factorize in :func:`_category_keys`.
KEY_CHUNK = 65_536


def _category_codes(series: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Per row, the position of its category key in ``keys`` (-1: no key), and ``keys``, the
    distinct keys (text, so 3, 3.0 and "3" read from different files agree) in the order the
    rows first show them.

    Keys are computed once per distinct value, not once per row: a million-row column has few;
    and what is done per row after is done on the codes, not on a million Python strings.
    """
    codes = np.empty(len(series), dtype=np.int64)
    position: dict[str, int] = {}
    keys: list[str] = []
    # A chunk at a time: one factorize of a million strings holds the interpreter lock for
    # ~0.3 s, a visible freeze in the app, which trains in a thread beside the screen.
    for start in range(0, len(series), KEY_CHUNK):
        chunk, uniques = pd.factorize(series.iloc[start : start + KEY_CHUNK], use_na_sentinel=True)
        table = np.full(len(uniques) + 1, -1, dtype=np.int64)
        for i, value in enumerate(uniques):
            key = _category_key(value)
            if key is not None:
                at = position.get(key)
                if at is None:
                    at = position[key] = len(keys)
                    keys.append(key)
                table[i] = at
        codes[start : start + KEY_CHUNK] = table[chunk]
    out = np.empty(len(keys), dtype=object)
    out[:] = keys
    return codes, out


def _category_keys(series: pd.Series) -> pd.Series:
    """Each row's category key (see :func:`_category_codes`), None where it has none."""
    codes, keys = _category_codes(series)
    return pd.Series(np.append(keys, None)[codes], index=series.index, dtype=object)


def _fit_categorical(series: pd.Series, name: str) -> tuple[dict[str, Any], list[str]]:
    codes, distinct = _category_codes(series)
    codes = codes[codes >= 0]
    counts = np.bincount(codes, minlength=len(distinct))
    # Ties broken by the value itself so the encoding does not depend on row order.
    ordered = sorted(zip(distinct.tolist(), counts.tolist(), strict=True), key=lambda kv: (-kv[1], kv[0]))
    capped = len(ordered) > MAX_ONE_HOT
    categories = [k for k, _ in ordered[: MAX_ONE_HOT - 1]] if capped else [k for k, _ in ordered]
    # One slot always catches values outside the one-hot list: the rare tail of a capped column,
    # and values never seen in training. Training rows rarely use it, so a new value lands
    # where the network expects nothing, instead of as an all-zero row that looks like "missing".
    state: dict[str, Any] = {
        "categories": categories,
        "other": True,
        "capped": capped,
        "known": [k for k, _ in ordered],
    }
    features = [f"{name}={c}" for c in categories]
    features.append(f"{name}=(rare value)" if capped else f"{name}=(new value)")
    if capped:
        total = float(counts.sum())
        log_freq = {k: math.log(v / total) for k, v in ordered}
        values = np.array([log_freq[k] for k in distinct.tolist()])[codes]
        state["log_freq"] = log_freq
        state["log_freq_unseen"] = math.log(0.5 / total)
        state["freq_mean"] = float(values.mean())
        state["freq_std"] = float(values.std()) or 1.0
        features.append(f"{name} (frequency)")
    return state, features


# -- entities --------------------------------------------------------------------------------

#: A categorical column is "given" by an entity column (an employee, a machine) when, among
#: entities with at least ENTITY_MIN_ROWS rows, this share of rows carries the entity's usual value.
ENTITY_DETERMINATION = 0.9
ENTITY_MIN_ROWS = 3
#: An entity column has at least this many distinct values (customers, warehouses, meters).
ENTITY_MIN_VALUES = 10
#: Entity columns with more distinct values than this are not tracked (the state is plain JSON).
ENTITY_MAX_VALUES = 20_000


def _attach_entities(encoders: list[ColumnEncoder], frame: pd.DataFrame) -> None:
    """Give each small categorical column an "is this value usual for this entity?" feature.

    An employee has one department and one currency; a machine one site. With hundreds of
    employees the one-hot encoding keeps only the most frequent ones, so a network cannot learn
    which department belongs to which employee, and "a department wrong for its employee" is
    invisible. Where a high-cardinality categorical column nearly determines a small one, the
    small column gets one more feature: the share of the entity's training rows that carry the
    row's value (1.0 for an entity never seen, or a missing cell: no evidence either way).
    """
    entities = [
        e for e in encoders
        if e.role is Role.CATEGORICAL and ENTITY_MIN_VALUES <= len(e.state["known"]) <= ENTITY_MAX_VALUES
    ]
    if not entities:
        return
    entity_codes = {e.column: _category_codes(frame[e.column]) for e in entities}
    _attach_profiles(encoders, frame, entity_codes)
    for encoder in encoders:
        if encoder.role is not Role.CATEGORICAL or encoder.state.get("capped"):
            continue
        v_codes, v_keys = _category_codes(frame[encoder.column])
        best: tuple[float, str, dict[str, dict[str, float]]] | None = None
        for entity in entities:
            # The entity is the finer column: many warehouses to a city, not the other way.
            if entity is encoder or len(entity.state["known"]) < 2 * len(encoder.state["known"]):
                continue
            e_codes, e_keys = entity_codes[entity.column]
            both = (e_codes >= 0) & (v_codes >= 0)
            rows = int(both.sum())
            if rows < 2 * ENTITY_MIN_ROWS:
                continue
            # Rows per (entity, value) pair, counted on the codes.
            pairs, counts = np.unique(e_codes[both] * len(v_keys) + v_codes[both], return_counts=True)
            pair_entity, pair_value = np.divmod(pairs, len(v_keys))
            per_entity = np.bincount(pair_entity, weights=counts, minlength=len(e_keys))
            usual = np.zeros(len(e_keys))
            np.maximum.at(usual, pair_entity, counts)
            eligible = per_entity >= ENTITY_MIN_ROWS
            covered = float(per_entity[eligible].sum())
            if covered < 0.5 * rows:
                continue
            determination = float(usual[eligible].sum()) / covered
            baseline = float(np.bincount(v_codes[both]).max()) / rows
            if determination < ENTITY_DETERMINATION or determination < baseline + 0.05:
                continue
            if best is None or determination > best[0]:
                shares: dict[str, dict[str, float]] = {}
                # In the order of the entity's key, then the value's (the state reads the same
                # whatever order the rows came in).
                order = sorted(range(len(pairs)), key=lambda i: (e_keys[pair_entity[i]], v_keys[pair_value[i]]))
                for i in order:
                    e = int(pair_entity[i])
                    shares.setdefault(str(e_keys[e]), {})[str(v_keys[pair_value[i]])] = round(
                        float(counts[i]) / float(per_entity[e]), 6
                    )
                best = (determination, entity.column, shares)
        if best is None:
            continue
        width = encoder._categorical_width()
        # "relative": the feature is a value's share over the entity's most common value's, so
        # one wrong row does not lower the entity's usual value below 1 on all its other rows.
        encoder.state["given"] = {"column": best[1], "shares": best[2], "relative": True}
        encoder.features.insert(width, f"{encoder.column} (usual for {best[1]})")


#: A number is judged against its entity's usual value when the spread within entities is at
#: most this share of the column's overall spread (a customer's amounts, a meter's readings).
PROFILE_SPREAD = 0.5


def _attach_profiles(
    encoders: list[ColumnEncoder], frame: pd.DataFrame, entity_codes: dict[str, tuple[np.ndarray, np.ndarray]]
) -> None:
    """Give each numeric column an "how far from this entity's usual value" feature where an
    entity column explains most of its spread.

    The usual value is the entity's median (on the column's model scale) and the yardstick the
    median absolute deviation within entities, pooled: robust, so the one wrong row of an entity
    moves neither, and its other rows stay ordinary.
    """
    for encoder in encoders:
        if encoder.role is not Role.NUMERIC:
            continue
        values = as_numeric(frame[encoder.column])[0].to_numpy(dtype=np.float64, na_value=np.nan)
        scaled = _forward_numeric(values, encoder.state)
        finite = np.isfinite(scaled)
        if finite.sum() < 4 * ENTITY_MIN_ROWS:
            continue
        overall = _mad(scaled[finite])
        if overall <= 1e-9:
            continue
        best: tuple[float, str, dict[str, float], float] | None = None
        for name, (codes, keys) in entity_codes.items():
            both = finite & (codes >= 0)
            pairs = pd.DataFrame({"e": codes[both], "x": scaled[both]})
            sizes = pairs.groupby("e", sort=True)["x"].transform("size").to_numpy()
            eligible = sizes >= ENTITY_MIN_ROWS
            if eligible.sum() < 0.5 * both.sum():
                continue
            pairs = pairs[eligible]
            grouped = pairs.groupby("e", sort=True)["x"]
            medians, counts = grouped.median(), grouped.size()
            # A row's distance from a median its own value helped to set is smaller than a new
            # row's will be: the pooled spread is measured with that bias taken out, and each
            # entity's yardstick widens with how few rows its median rests on (_median_noise).
            n = counts.reindex(pairs["e"]).to_numpy(dtype=np.float64)
            deviations = (pairs["x"].to_numpy() - medians.reindex(pairs["e"]).to_numpy()) * np.sqrt(n / (n - 1))
            within = _mad(deviations, centred=True)
            ratio = within / overall
            if ratio <= PROFILE_SPREAD and (best is None or ratio < best[0]):
                named = sorted((str(keys[k]), float(v), int(counts[k])) for k, v in medians.items())
                usual = {k: [round(v, 6), n] for k, v, n in named}
                best = (ratio, name, usual, max(within, 1e-3))
        if best is None:
            continue
        encoder.state["profile"] = {"column": best[1], "medians": best[2], "spread": best[3]}
        encoder.features.insert(1, f"{encoder.column} (usual for {best[1]})")


def _mad(values: np.ndarray, centred: bool = False) -> float:
    centre = 0.0 if centred else float(np.median(values))
    return 1.4826 * float(np.median(np.abs(values - centre))) if values.size else 0.0


def _median_noise(rows: int) -> float:
    """How much wider a new value's distance from an entity's median is than the spread within
    entities, the median resting on ``rows`` values (its variance is about pi/2 / rows of a
    value's)."""
    return math.sqrt(1.0 + (math.pi / 2.0) / max(rows, 1))


def _entity_usual(context: pd.Series, profile: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """Per row, its entity's usual value and the yardstick for a distance from it (the pooled
    spread widened by _median_noise); NaN for an entity not seen in training."""
    codes, keys = _category_codes(context.reset_index(drop=True))
    medians = profile["medians"]
    table = np.full((len(keys) + 1, 2), np.nan)
    for i, key in enumerate(keys):
        if key in medians:
            median, rows = medians[key]
            table[i] = (median, profile["spread"] * _median_noise(rows))
    return table[codes, 0], table[codes, 1]


def _off_entity_usual(scaled: np.ndarray, context: pd.Series | None, profile: dict[str, Any]) -> np.ndarray:
    """(value - its entity's usual) / the usual spread within entities; 0 where there is no
    evidence (a missing cell, an entity not seen in training)."""
    if context is None:
        return np.zeros(scaled.shape[0])
    usual, yardstick = _entity_usual(context, profile)
    with np.errstate(invalid="ignore"):
        out = (scaled - usual) / yardstick
    return np.clip(np.where(np.isfinite(out), out, 0.0), -CLIP, CLIP)


def _usual_for_entity(
    series: pd.Series, context: pd.Series | None, shares: dict[str, dict[str, float]], relative: bool = False
) -> np.ndarray:
    out = np.ones(len(series), dtype=np.float64)
    if context is None:
        return out
    # Looked up once per distinct (entity, value) pair, not once per row.
    e_codes, e_keys = _category_codes(context)
    v_codes, v_keys = _category_codes(series)
    valid = (e_codes >= 0) & (v_codes >= 0)
    if not valid.any():
        return out
    pair = e_codes[valid].astype(np.int64) * len(v_keys) + v_codes[valid]
    distinct, inverse = np.unique(pair, return_inverse=True)
    table = np.ones(distinct.size, dtype=np.float64)
    for i, code in enumerate(distinct.tolist()):
        known = shares.get(e_keys[code // len(v_keys)])
        if known:
            share = known.get(v_keys[code % len(v_keys)], 0.0)
            table[i] = share / max(known.values()) if relative else share
    out[valid] = table[inverse.reshape(-1)]
    return out
