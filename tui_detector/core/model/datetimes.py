"""Dates and times as model features, and a reconstruction back to a date in the table's period.

A row's place in time is not strange in itself: a model that learned it would flag every row of
next month's export. A date column becomes how far the date lies outside the period of the
table being scored (0 inside it), plus its hour and weekday as angles where they vary.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from .roles import as_datetime

#: Nanoseconds in a day (datetime64[ns] arithmetic).
_NS_PER_DAY = 86_400 * 10**9


def _fit_datetime(stamps: pd.Series, name: str) -> tuple[dict[str, Any], list[str]]:
    ns = stamps.dropna().astype("int64").to_numpy(dtype=np.float64)
    if ns.size == 0:
        ns = np.zeros(1)
    std = float(ns.std()) or float(_NS_PER_DAY)
    # The training period is kept for the drift summary and for expected values; it is not a
    # feature: a row's place in time is not strange in itself, and a model that learned it
    # flags every row of next month's export (see _datetime_features).
    lo, hi = _period(ns)
    state: dict[str, Any] = {"mean": float(ns.mean()), "std": std, "relative": True, "period": [lo, hi]}
    features = [f"{name} (outside the period)"]
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


#: A table's period is the middle 98% of its dates, so a few impossible ones cannot stretch it;
#: dates further than PERIOD_MARGIN of its length (and a day) past either end are out of it.
PERIOD_SHARE = 0.01
PERIOD_MARGIN = 0.25


def _period(ns: np.ndarray) -> tuple[float, float]:
    if ns.size == 0:
        return 0.0, 0.0
    lo, hi = np.quantile(ns, [PERIOD_SHARE, 1.0 - PERIOD_SHARE])
    return float(lo), float(hi)


def _outside_period(ns: np.ndarray) -> tuple[np.ndarray, tuple[float, float]]:
    """How far each date lies outside the period of the dates beside it, in lengths of that
    period (log scale; 0 inside), and the period.

    Measured against the table being scored, not the training table: next month's export has
    its own period, and a date of 1999 in it is as strange as in the training month.
    """
    present = ns[np.isfinite(ns)]
    lo, hi = _period(present)
    length = max(hi - lo, float(_NS_PER_DAY))
    margin = PERIOD_MARGIN * length + _NS_PER_DAY
    with np.errstate(invalid="ignore"):
        beyond = np.maximum(np.maximum(lo - margin - ns, ns - hi - margin), 0.0)
    return np.log1p(beyond / length), (lo, hi)


def _datetime_features(stamps: pd.Series, state: dict[str, Any], periods: dict[str, Any] | None = None,
                       column: str = "") -> np.ndarray:
    """The column's features; ``periods`` (a TransformReport's) gets the scored table's period."""
    present = stamps.notna().to_numpy()
    ns = np.full(len(stamps), np.nan)
    ns[present] = stamps[present].astype("int64").to_numpy(dtype=np.float64)
    if state.get("relative"):
        outside, period = _outside_period(ns)
        if periods is not None:
            periods[column] = period
        cols = [outside]
    else:
        # Models saved before the period feature learned the absolute position.
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


def _expected_stamps(recon: np.ndarray, state: dict[str, Any], actual: pd.Series | None,
                     period: tuple[float, float] | None) -> list[str | None]:
    """The date the model expected: the actual one moved into the table's period if it lies
    outside it (same day and time in the period's year, else the nearest end), then to the
    hour and weekday the model expected where it learned them."""
    if not state.get("relative") or actual is None:
        ns = recon[:, 0] * state["std"] + state["mean"]
        return [_iso_from_ns(v) for v in ns]
    stamps = as_datetime(actual.reset_index(drop=True))[0]
    lo, hi = period if period is not None else state["period"]
    length = max(hi - lo, float(_NS_PER_DAY))
    margin = PERIOD_MARGIN * length + _NS_PER_DAY
    present = stamps.notna().to_numpy()
    ns = np.where(present, stamps.to_numpy(dtype="datetime64[ns]").astype(np.int64), 0).astype(np.float64)
    outside = present & ((ns < lo - margin) | (ns > hi + margin))
    if outside.any():
        year = pd.Timestamp(int((lo + hi) / 2)).year
        moved = stamps[outside].map(lambda t: _in_year(t, year)).astype("int64").to_numpy(dtype=np.float64)
        inside = (moved >= lo - margin) & (moved <= hi + margin)
        ns[outside] = np.where(inside, moved, np.clip(ns[outside], lo, hi))
    day_ns = float(_NS_PER_DAY)
    col = 1
    if state["hour"]:
        hour = (np.degrees(np.arctan2(recon[:, col], recon[:, col + 1])) % 360.0) / 15.0
        col += 2
    if state["weekday"]:
        weekday = np.rint((np.degrees(np.arctan2(recon[:, col], recon[:, col + 1])) % 360.0) / (360.0 / 7)) % 7
        # 1970-01-01 was a Thursday (weekday 3).
        current = (np.floor(ns / day_ns) + 3) % 7
        ns = ns + ((weekday - current + 3) % 7 - 3) * day_ns
    if state["hour"]:
        minutes = (np.rint(hour * 4) * 15) % (24 * 60)
        ns = np.floor(ns / day_ns) * day_ns + minutes * 60e9
    return _iso_many(np.where(present, ns, np.nan))


def _iso_many(ns: np.ndarray) -> list[str | None]:
    """:func:`_iso_from_ns` for a whole array at once (to the second; a date alone at midnight)."""
    out: list[str | None] = [None] * ns.size
    ok = np.flatnonzero(np.isfinite(ns) & (np.abs(ns) < 9.2e18))
    if ok.size:
        # Rounded, not floored: sums of float nanoseconds land a hair under the whole second.
        seconds = np.rint(ns[ok] / 1e9).astype(np.int64)
        text = np.datetime_as_string(seconds.astype("datetime64[s]"), unit="s")
        midnight = seconds % 86_400 == 0
        for i, t, m in zip(ok.tolist(), text.tolist(), midnight.tolist(), strict=True):
            out[i] = t[:10] if m else t
    return out


def _in_year(stamp: pd.Timestamp, year: int) -> pd.Timestamp:
    try:
        return stamp.replace(year=year)
    except ValueError:  # 29 February
        return stamp.replace(year=year, day=28)


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
