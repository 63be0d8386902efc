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

from .roles import ColumnProfile, Role, as_datetime, as_numeric

#: A categorical column with more distinct values than this keeps the most frequent ones one-hot
#: and folds the rest into one "rare value" feature, plus a frequency feature.
MAX_ONE_HOT = 30
#: Scaled values are clipped here: a cell of 1e300 must stay a finite, very large error.
CLIP = 1e4
_NS_PER_DAY = 86_400 * 10**9
_OTHER = "\x00other"


@dataclass
class TransformReport:
    """What happened to cells while encoding: coerced to missing, or categories never seen."""

    coerced: dict[str, int] = field(default_factory=dict)
    unseen: dict[str, dict[str, int]] = field(default_factory=dict)

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

    def transform(self, series: pd.Series, report: TransformReport, context: pd.Series | None = None) -> np.ndarray:
        """The column's features; ``context`` is the entity column named in ``state["given"]``."""
        state = self.state
        n = len(series)
        block = np.zeros((n, len(self.features)), dtype=np.float64)
        missing = series.isna().to_numpy()
        if self.role is Role.NUMERIC:
            values, coerced = as_numeric(series)
            raw = values.to_numpy(dtype=np.float64, na_value=np.nan)
            scaled = _forward_numeric(raw, state)
            block[:, 0] = np.where(np.isnan(scaled), 0.0, scaled)
        elif self.role is Role.BOOLEAN:
            values, coerced = _as_bool_float(series)
            raw = values.to_numpy(dtype=np.float64, na_value=np.nan)
            block[:, 0] = np.where(np.isnan(raw), state["mean"], raw)
        elif self.role is Role.DATETIME:
            stamps, coerced = as_datetime(series)
            raw = _datetime_features(stamps, state)
            block[:, : raw.shape[1]] = np.where(np.isnan(raw), 0.0, raw)
        else:
            coerced = 0
            width = self._categorical_width()
            block[:, :width] = self._encode_categories(series, report)
            if state.get("given"):
                block[:, width] = _usual_for_entity(series, context, state["given"]["shares"])
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
        keys = _category_keys(series)
        width = self._categorical_width()
        out = np.zeros((len(series), width), dtype=np.float64)
        slot = keys.map({c: i for i, c in enumerate(categories)})
        present = keys.notna().to_numpy()
        hot = slot.notna().to_numpy()
        out[np.flatnonzero(hot), slot[hot].to_numpy(dtype=np.int64)] = 1.0
        out[present & ~hot, len(categories)] = 1.0
        if state.get("capped"):
            freq = keys.map(state["log_freq"]).to_numpy(dtype=np.float64, na_value=np.nan)
            freq = np.where(np.isnan(freq), state["log_freq_unseen"], freq)
            out[:, -1] = np.where(present, (freq - state["freq_mean"]) / state["freq_std"], 0.0)
        known = set(state["known"])
        unseen_keys = keys[present & ~keys.isin(known).to_numpy()]
        if len(unseen_keys):
            merged = report.unseen.setdefault(self.column, {})
            for key, count in unseen_keys.value_counts().items():
                merged[key] = merged.get(key, 0) + int(count)
        return out

    # -- decoding -----------------------------------------------------------------------------

    def expected(self, recon: np.ndarray) -> list[Any]:
        """The value the model expected in this column, per row, in the column's own units."""
        state = self.state
        if self.role is Role.NUMERIC:
            return [_round_like(v, state) for v in _inverse_numeric(recon[:, 0], state)]
        if self.role is Role.BOOLEAN:
            return [bool(v >= 0.5) for v in recon[:, 0]]
        if self.role is Role.DATETIME:
            ns = recon[:, 0] * state["std"] + state["mean"]
            return [_iso_from_ns(v) for v in ns]
        categories = state["categories"]
        labels = [*categories, "(a rare value)" if state.get("capped") else "(a new value)"]
        width = len(labels)
        picks = np.argmax(recon[:, :width], axis=1)
        return [labels[i] for i in picks]

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
        needed = [*self.columns, *(e.state["given"]["column"] for e in self.encoders if e.state.get("given"))]
        missing = [c for c in dict.fromkeys(needed) if c not in frame.columns]
        if missing:
            raise KeyError(f"the table lacks column(s) the model was trained on: {', '.join(missing)}")
        report = TransformReport()
        blocks = [
            e.transform(frame[e.column], report, frame[e.state["given"]["column"]] if e.state.get("given") else None)
            for e in self.encoders
        ]
        matrix = np.hstack(blocks) if blocks else np.zeros((len(frame), 0))
        np.clip(matrix, -CLIP, CLIP, out=matrix)
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


def _round_like(value: float, state: dict[str, Any]) -> float | int:
    if not math.isfinite(value):
        return None  # type: ignore[return-value]
    if state.get("integral"):
        return int(round(value))
    return round(float(value), max(int(state.get("decimals", 2)), 2))


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
    else:
        try:
            codes, uniques = pd.factorize(series, use_na_sentinel=True)
            table = np.array([convert(u) for u in uniques] + [np.nan], dtype="float64")
            values = pd.Series(table[codes], index=series.index)
        except TypeError:  # an unhashable cell
            values = series.map(convert).astype("float64")
    coerced = int(series.notna().sum()) - int(values.notna().sum())
    return values, coerced


# -- datetime --------------------------------------------------------------------------------


def _fit_datetime(stamps: pd.Series, name: str) -> tuple[dict[str, Any], list[str]]:
    ns = stamps.dropna().astype("int64").to_numpy(dtype=np.float64)
    if ns.size == 0:
        ns = np.zeros(1)
    std = float(ns.std()) or float(_NS_PER_DAY)
    state: dict[str, Any] = {"mean": float(ns.mean()), "std": std}
    features = [name]
    present = stamps.dropna()
    # Time of day and day of week only where they vary: a date-only column has no hour to learn.
    has_time = bool(len(present) and (present.dt.normalize() != present).mean() > 0.5)
    span_days = (ns.max() - ns.min()) / _NS_PER_DAY if ns.size else 0.0
    state["hour"] = has_time
    state["weekday"] = bool(span_days >= 14)
    if has_time:
        features += [f"{name} (hour, sin)", f"{name} (hour, cos)"]
    if state["weekday"]:
        features += [f"{name} (weekday, sin)", f"{name} (weekday, cos)"]
    return state, features


def _datetime_features(stamps: pd.Series, state: dict[str, Any]) -> np.ndarray:
    present = stamps.notna().to_numpy()
    ns = np.full(len(stamps), np.nan)
    ns[present] = stamps[present].astype("int64").to_numpy(dtype=np.float64)
    cols = [(ns - state["mean"]) / state["std"]]
    if state["hour"]:
        hours = (stamps.dt.hour + stamps.dt.minute / 60.0).to_numpy(dtype=np.float64, na_value=np.nan)
        angle = 2 * np.pi * hours / 24.0
        cols += [np.sin(angle), np.cos(angle)]
    if state["weekday"]:
        days = stamps.dt.day_of_week.to_numpy(dtype=np.float64, na_value=np.nan)
        angle = 2 * np.pi * days / 7.0
        cols += [np.sin(angle), np.cos(angle)]
    return np.column_stack(cols)


def _iso_from_ns(value: float) -> str | None:
    if not math.isfinite(value):
        return None
    try:
        stamp = pd.Timestamp(int(value), unit="ns")
    except (OverflowError, ValueError, pd.errors.OutOfBoundsDatetime):
        return None
    if stamp == stamp.normalize():
        return stamp.date().isoformat()
    return stamp.floor("s").isoformat()


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


def _category_keys(series: pd.Series) -> pd.Series:
    """Category keys as text, so 3, 3.0 and "3" read from different files agree.

    Keys are computed once per distinct value, not once per row: a million-row column has few.
    """
    out = np.empty(len(series), dtype=object)
    # A chunk at a time: one factorize of a million strings holds the interpreter lock for
    # ~0.3 s, a visible freeze in the app, which trains in a thread beside the screen.
    for start in range(0, len(series), KEY_CHUNK):
        codes, uniques = pd.factorize(series.iloc[start : start + KEY_CHUNK], use_na_sentinel=True)
        table = np.array([_category_key(u) for u in uniques] + [None], dtype=object)
        out[start : start + KEY_CHUNK] = table[codes]
    return pd.Series(out, index=series.index, dtype=object)


def _fit_categorical(series: pd.Series, name: str) -> tuple[dict[str, Any], list[str]]:
    keys = _category_keys(series).dropna()
    counts = keys.value_counts(sort=False)
    # Ties broken by the value itself so the encoding does not depend on row order.
    ordered = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
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
        values = np.array([log_freq[k] for k in keys])
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
        if e.role is Role.CATEGORICAL and e.state.get("capped") and len(e.state["known"]) <= ENTITY_MAX_VALUES
    ]
    if not entities:
        return
    entity_keys = {e.column: _category_keys(frame[e.column]) for e in entities}
    for encoder in encoders:
        if encoder.role is not Role.CATEGORICAL or encoder.state.get("capped"):
            continue
        values = _category_keys(frame[encoder.column])
        best: tuple[float, str, dict[str, dict[str, float]]] | None = None
        for entity in entities:
            keys = entity_keys[entity.column]
            both = (keys.notna() & values.notna()).to_numpy()
            if both.sum() < 2 * ENTITY_MIN_ROWS:
                continue
            pairs = pd.DataFrame({"e": keys[both].to_numpy(), "v": values[both].to_numpy()})
            counts = pairs.groupby(["e", "v"], sort=True).size()
            per_entity = counts.groupby(level=0).sum()
            usual = counts.groupby(level=0).max()
            eligible = per_entity[per_entity >= ENTITY_MIN_ROWS].index
            covered = float(per_entity[eligible].sum())
            if covered < 0.5 * both.sum():
                continue
            determination = float(usual[eligible].sum()) / covered
            baseline = float(pairs["v"].value_counts().iloc[0]) / len(pairs)
            if determination < ENTITY_DETERMINATION or determination < baseline + 0.05:
                continue
            if best is None or determination > best[0]:
                shares: dict[str, dict[str, float]] = {}
                for (e_key, v_key), n in counts.items():
                    shares.setdefault(str(e_key), {})[str(v_key)] = round(float(n) / float(per_entity[e_key]), 6)
                best = (determination, entity.column, shares)
        if best is None:
            continue
        width = encoder._categorical_width()
        encoder.state["given"] = {"column": best[1], "shares": best[2]}
        encoder.features.insert(width, f"{encoder.column} (usual for {best[1]})")


def _usual_for_entity(series: pd.Series, context: pd.Series | None, shares: dict[str, dict[str, float]]) -> np.ndarray:
    out = np.ones(len(series), dtype=np.float64)
    if context is None:
        return out
    # Looked up once per distinct (entity, value) pair, not once per row.
    e_codes, e_keys = pd.factorize(_category_keys(context), use_na_sentinel=True)
    v_codes, v_keys = pd.factorize(_category_keys(series), use_na_sentinel=True)
    valid = (e_codes >= 0) & (v_codes >= 0)
    if not valid.any():
        return out
    pair = e_codes[valid].astype(np.int64) * len(v_keys) + v_codes[valid]
    distinct, inverse = np.unique(pair, return_inverse=True)
    table = np.ones(distinct.size, dtype=np.float64)
    for i, code in enumerate(distinct.tolist()):
        known = shares.get(e_keys[code // len(v_keys)])
        if known is not None:
            table[i] = known.get(v_keys[code % len(v_keys)], 0.0)
    out[valid] = table[inverse.reshape(-1)]
    return out
