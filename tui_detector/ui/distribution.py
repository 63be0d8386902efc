"""One column's distribution over the whole sheet, as bars a screen can draw: equal bins for
numbers and dates, the most frequent values for text, each bar marked where the focused row's
actual value (and the model's expected value) falls.

Plain NumPy and pandas, no Textual, vectorised: a million rows take tens of milliseconds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .results_model import format_value

#: Bins for a column of numbers or dates; values with at most this many distinct values get
#: one bar each instead.
BINS = 16
#: Bars for a text column: its most frequent values (the actual and expected value are added).
TOP_VALUES = 15
#: Above this many rows the bins span the middle 99% and the tails get a bar each, so that one
#: extreme value (the anomaly, often) does not squash the rest into one bar.
TAIL_ROWS = 200


@dataclass
class Bar:
    label: str
    count: int
    #: What falls in this bar: "actual", "expected" (both when they share it).
    marks: list[str] = field(default_factory=list)


@dataclass
class Distribution:
    column: str
    #: "numbers" (equal bins), "numbers, long tail" (bins growing ×2–×2.5), "dates" or
    #: "values" (the most frequent values of a text column).
    kind: str
    rows: int
    missing: int
    bars: list[Bar]
    #: A line under the bars ("12 other values: 40 rows"), or "".
    note: str = ""
    #: Where the actual value stands among the others ("higher than 99.7% of rows"), or "".
    standing: str = ""


def column_distribution(
    name: str, cells: Any, *, actual: Any = None, expected: Any = None, marks: dict[str, Any] | None = None
) -> Distribution:
    """The distribution of ``cells`` (a NumPy array or a pandas/Arrow text array); ``actual``
    and ``expected`` are marked, and any other named ``marks`` (a threshold) too."""
    wanted = {"actual": actual, "expected": expected, **(marks or {})}
    wanted = {k: v for k, v in wanted.items() if not _missing(v)}
    kind = getattr(getattr(cells, "dtype", None), "kind", "O")
    if kind in "iuf":
        return _numbers(name, np.asarray(cells, dtype=np.float64), wanted)
    if kind == "M":
        return _dates(name, np.asarray(cells), wanted)
    return _values(name, cells, wanted)


def _missing(value: Any) -> bool:
    if value is None:
        return True
    try:
        return bool(value != value)  # NaN, NaT
    except (TypeError, ValueError):
        return False


def _nice_step(span: float, bins: int) -> float:
    """A round bin width (1, 2 or 5 times a power of ten) giving at most ``bins`` bins."""
    raw = span / bins
    power = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 2.5, 5, 10):
        if factor * power >= raw:
            return factor * power
    return 10 * power


def _number_text(value: float, step: float) -> str:
    decimals = max(0, -math.floor(math.log10(step))) if step < 1 else 0
    if step < 1 and round(step * 10**decimals) % 10 == 5:
        decimals += 1
    return f"{value:,.{decimals}f}"


def _numbers(name: str, cells: np.ndarray, wanted: dict[str, Any]) -> Distribution:
    finite = cells[np.isfinite(cells)]
    missing = len(cells) - len(finite)
    marks = {k: float(v) for k, v in wanted.items() if isinstance(v, int | float | np.number)}
    if not finite.size:
        return Distribution(name, "numbers", len(cells), missing, [])
    sample = finite[:: max(1, finite.size // 5000)]
    if len(np.unique(sample)) <= BINS:
        distinct, counts = np.unique(finite, return_counts=True)
        if len(distinct) <= BINS:  # a few values (a rating, a count): one bar each
            bars = [Bar(format_value(v), int(c)) for v, c in zip(distinct, counts, strict=True)]
            for mark, value in marks.items():
                hits = np.flatnonzero(distinct == value)
                if hits.size:
                    bars[int(hits[0])].marks.append(mark)
            return Distribution(name, "numbers", len(cells), missing, bars, standing=_standing(finite, marks))
    lo, hi = float(finite.min()), float(finite.max())
    if finite.size > TAIL_ROWS:
        lo, hi = (float(q) for q in np.quantile(finite, [0.005, 0.995]))
    if hi <= lo:
        lo, hi = float(finite.min()), float(finite.max())
    edges, texts = _log_edges(finite, lo, hi)
    scale = "log"
    if edges is None:
        scale = "equal"
        step = _nice_step(hi - lo, BINS) if hi > lo else 1.0
        start = math.floor(lo / step) * step
        count = max(1, math.ceil((hi - start) / step - 1e-9)) if hi > lo else 1
        if start + count * step <= hi:
            count += 1
        edges = start + step * np.arange(count + 1)
        texts = [_number_text(e, step) for e in edges]
    count = len(edges) - 1
    index = np.searchsorted(edges, finite, side="right") - 1  # -1: below, count: above
    counts = np.bincount(index[(index >= 0) & (index < count)], minlength=count)
    core = [Bar(f"{texts[i]} – {texts[i + 1]}", int(counts[i])) for i in range(count)]
    below = int(np.count_nonzero(index < 0))
    above = int(np.count_nonzero(index >= count))
    low = Bar(f"below {texts[0]}", below) if below else None
    high = Bar(f"{texts[-1]} and above", above) if above else None
    for mark, value in marks.items():
        at = int(np.searchsorted(edges, value, side="right") - 1)
        if at < 0:
            low = low or Bar(f"below {texts[0]}", 0)
            low.marks.append(mark)
        elif at >= count:
            high = high or Bar(f"{texts[-1]} and above", 0)
            high.marks.append(mark)
        else:
            core[at].marks.append(mark)
    bars = [*([low] if low else []), *core, *([high] if high else [])]
    kind = "numbers, long tail" if scale == "log" else "numbers"
    return Distribution(name, kind, len(cells), missing, bars, standing=_standing(finite, marks))


#: Bin edges for a long tail: 1, 2, 5, 10, 20, 50 … times a power of ten.
_STEPS = (1.0, 2.0, 5.0)
#: A column is a long tail when its 99.5th percentile is this many times its 5th (amounts,
#: prices, durations): equal bins would put almost every row in the first one.
TAIL_RATIO = 100


def _log_edges(finite: np.ndarray, lo: float, hi: float) -> tuple[np.ndarray | None, list[str]]:
    """Edges growing by ×2 or ×2.5 from ``lo`` to ``hi``, or ``None`` when the column has no
    long tail (or values at or below zero in its bulk)."""
    q05 = float(np.quantile(finite, 0.05))
    if q05 <= 0 or hi / q05 < TAIL_RATIO:
        return None, []
    low = max(lo, q05 / 10)
    power = math.floor(math.log10(low))
    edges: list[float] = []
    while not edges or edges[-1] <= hi:
        for factor in _STEPS:
            edge = factor * 10.0**power
            if edge * 2.5 > low and (not edges or edges[-1] <= hi):
                edges.append(edge)
        power += 1
    texts = [f"{e:,.{max(0, -math.floor(math.log10(e)))}f}" for e in edges]
    return np.asarray(edges), texts


def _standing(finite: np.ndarray, marks: dict[str, float]) -> str:
    actual = marks.get("actual")
    if actual is None or not finite.size:
        return ""
    lower = np.count_nonzero(finite < actual) / finite.size
    higher = np.count_nonzero(finite > actual) / finite.size
    share = max(lower, higher)
    # Rounded down: "higher than 100.0%" would claim more than is true.
    text = f"{math.floor(share * 1000) / 10:.1f}%"
    return f"the actual value is {'higher' if lower >= higher else 'lower'} than {text} of the rows"


def _dates(name: str, cells: np.ndarray, wanted: dict[str, Any]) -> Distribution:
    import pandas as pd  # noqa: PLC0415 - loaded with the table

    present = cells[~np.isnat(cells)]
    missing = len(cells) - len(present)
    if not present.size:
        return Distribution(name, "dates", len(cells), missing, [])
    ns = present.astype("datetime64[ns]").astype(np.int64)
    lo, hi = int(ns.min()), int(ns.max())
    count = BINS if hi > lo else 1
    edges = np.linspace(lo, hi, count + 1)
    index = np.clip(np.searchsorted(edges, ns, side="right") - 1, 0, count - 1)
    counts = np.bincount(index, minlength=count)
    day = 86_400 * 10**9
    whole_days = bool(np.all(ns % day == 0)) and (hi - lo) >= count * day

    def text(x: float) -> str:
        stamp = pd.Timestamp(int(x))
        return stamp.strftime("%Y-%m-%d" if whole_days else "%Y-%m-%d %H:%M")

    bars = [Bar(f"{text(edges[i])} – {text(edges[i + 1])}", int(counts[i])) for i in range(count)]
    for mark, value in wanted.items():
        try:
            point = pd.Timestamp(value).value
        except (TypeError, ValueError):
            continue
        bars[int(np.clip(np.searchsorted(edges, point, side="right") - 1, 0, count - 1))].marks.append(mark)
    return Distribution(name, "dates", len(cells), missing, bars)


def _values(name: str, cells: Any, wanted: dict[str, Any]) -> Distribution:
    """The most frequent values; text is compared as the table shows it."""
    import pandas as pd  # noqa: PLC0415

    counts = pd.Series(cells, copy=False).value_counts(dropna=True, sort=True)
    missing = int(len(cells) - counts.sum())
    labels = [format_value(v) for v in counts.index[:TOP_VALUES]]
    bars = [Bar(label or '""', int(c)) for label, c in zip(labels, counts.to_numpy()[:TOP_VALUES], strict=True)]
    for mark, value in wanted.items():
        label = format_value(value) or '""'
        bar = next((b for b in bars if b.label == label), None)
        if bar is None:  # a rare value: its own bar after the most frequent ones
            try:
                found = int(counts.get(value, 0))
            except (TypeError, ValueError):
                found = 0
            bar = Bar(label, found)
            bars.append(bar)
        bar.marks.append(mark)
    rest = len(counts) - sum(1 for b in bars if b.count)
    others = int(counts.sum()) - sum(b.count for b in bars)
    note = f"{rest:,} other values: {others:,} rows" if rest > 0 else ""
    if len(counts) and int(counts.iloc[0]) == 1 and len(counts) > 1:
        note = f"every value is different ({len(counts):,} values): an identifier has no distribution to show"
    return Distribution(name, "values", len(cells), missing, bars, note=note)
