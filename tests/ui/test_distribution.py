"""A column's distribution for the histogram screen: bins, the most frequent values, the marks."""

from __future__ import annotations

import numpy as np
import pandas as pd

from tui_detector.ui.distribution import BINS, TOP_VALUES, column_distribution
from tui_detector.ui.screens.column_histogram import bar_text


def marked(distribution, mark):
    return [b.label for b in distribution.bars if mark in b.marks]


def test_numbers_fall_in_round_bins_with_the_outlier_in_its_own_tail_bar():
    rng = np.random.default_rng(0)
    amounts = np.round(rng.normal(500, 100, 5000), 2)
    amounts[7] = 250_000.0
    d = column_distribution("amount", amounts, actual=250_000.0, expected=512.0)
    assert d.kind == "numbers" and sum(b.count for b in d.bars) == 5000
    assert d.bars[-1].label.endswith("and above") and marked(d, "actual") == [d.bars[-1].label]
    (bar,) = marked(d, "expected")
    low, high = (float(x.replace(",", "")) for x in bar.split(" – "))
    assert low <= 512.0 < high and high - low in (10.0, 20.0, 25.0, 50.0, 100.0)
    assert d.standing == "the actual value is higher than 99.9% of the rows"


def test_a_long_tail_gets_bins_that_grow_so_the_bulk_is_not_one_bar():
    rng = np.random.default_rng(1)
    amounts = np.round(np.exp(rng.normal(4.5, 1.2, 2000)), 2)
    d = column_distribution("amount", amounts, actual=12.55, expected=54.71)
    assert d.kind == "numbers, long tail"
    assert marked(d, "actual") == ["10 – 20"] and marked(d, "expected") == ["50 – 100"]
    assert max(b.count for b in d.bars) < 0.5 * 2000


def test_few_distinct_numbers_get_a_bar_each():
    d = column_distribution("nights", np.array([0, 0, 1, 2, 2, 2, 14] * 10), actual=14, expected=2)
    assert [(b.label, b.count) for b in d.bars] == [("0", 20), ("1", 10), ("2", 30), ("14", 10)]
    assert marked(d, "actual") == ["14"] and marked(d, "expected") == ["2"]


def test_text_shows_its_most_frequent_values_and_a_rare_actual_value_too():
    values = ["EUR"] * 50 + ["USD"] * 30 + [f"X{i}" for i in range(40)] + [None] * 5
    cells = pd.array(values, dtype="string[pyarrow]")
    d = column_distribution("currency", cells, actual="X39", expected="EUR")
    assert d.kind == "values" and d.missing == 5
    assert [b.label for b in d.bars[:2]] == ["EUR", "USD"] and len(d.bars) == TOP_VALUES + 1
    assert d.bars[-1].label == "X39" and d.bars[-1].marks == ["actual"] and d.bars[-1].count == 1
    assert marked(d, "expected") == ["EUR"]
    assert d.note == f"{40 - (TOP_VALUES - 2) - 1:,} other values: {40 - (TOP_VALUES - 2) - 1:,} rows"


def test_dates_fall_in_equal_spans_and_empty_cells_are_counted():
    cells = pd.to_datetime(["2026-01-01", "2026-01-02", None, "2026-03-01", "2026-06-30"]).to_numpy()
    d = column_distribution("booked", cells, actual=pd.Timestamp("2026-06-30"))
    assert d.kind == "dates" and d.missing == 1 and len(d.bars) == BINS
    assert sum(b.count for b in d.bars) == 4 and marked(d, "actual") == [d.bars[-1].label]


def test_a_bar_is_drawn_in_eighths_and_a_count_above_zero_always_shows():
    assert bar_text(10, 10, 4) == "████"
    assert bar_text(5, 10, 4) == "██"
    assert bar_text(1, 1000, 4) == "▏"
    assert bar_text(0, 1000, 4) == ""
