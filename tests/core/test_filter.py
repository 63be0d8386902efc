"""The column filter: parsed by hand (never eval), evaluated on whole columns, with one-line errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tui_detector import core

FRAME = pd.DataFrame(
    {
        "currency": pd.array(["CHF", "chf", "EUR", None, "USD", ""], dtype="string[pyarrow]"),
        "amount": [19_999.99, 500.0, 1_000.0, np.nan, 4_500_000.0, 1_000.5],
        "country": pd.array(["Spain", "Bosnia and Herzegovina", "spain", "France", "Italy", "Spain"], dtype="string[pyarrow]"),
        "booked": pd.to_datetime(["2026-01-01", "2026-02-01", "2026-03-01", None, "2026-01-15", "2026-02-28"]),
        "express": [True, False, True, False, False, True],
        "unit price": [1, 2, 3, 4, 5, 6],
        "mixed": np.array(["a", 7, None, "A", 7.5, ""], dtype=object),
    }
)
NAMES = list(FRAME.columns)


def values() -> list:
    out = []
    for name in NAMES:
        series = FRAME[name]
        out.append(series.array if isinstance(series.dtype, pd.StringDtype) else series.to_numpy())
    return out


def rows(expression: str) -> list[int]:
    return np.flatnonzero(core.filter_mask(core.parse_filter(expression, NAMES), values())).tolist()


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("currency = CHF", [0, 1]),  # text equality ignores case
        ("currency == chf", [0, 1]),
        ("country != Spain", [1, 3, 4]),
        ("amount > 1000", [0, 4, 5]),
        ("amount >= 1,000", [0, 2, 4, 5]),  # a thousands separator is part of the number
        ("amount = 19999.99", [0]),
        ("amount < 1000 or amount > 1e6", [1, 4]),
        ("currency = chf and amount > 1000", [0]),
        ("currency = chf, amount > 1000", [0]),
        ("currency = chf & amount > 1000", [0]),
        ('country = "Bosnia and Herzegovina"', [1]),  # a quoted value with spaces and "and"
        ("country ~ herz", [1]),
        ("country !~ spain", [1, 3, 4]),
        ("booked >= 2026-02-01", [1, 2, 5]),
        ("booked < 2026-02-01", [0, 4]),
        ("express = true", [0, 2, 5]),
        ("express != yes", [1, 3, 4]),
        ("unit price > 4", [4, 5]),  # an unquoted column name with a space
        ("`unit price` <= 2", [0, 1]),
        ("Amount > 4000000", [4]),  # column names ignore case when unambiguous
        ('currency = ""', [3, 5]),  # missing and empty cells
        ('currency != ""', [0, 1, 2, 4]),
        ('amount = ""', [3]),
        ("country != Bosnia's", [0, 1, 2, 3, 4, 5]),  # a quote inside a word is a letter
        ("mixed = a", [0, 3]),
        ("mixed = 7", [1]),
        ("mixed > 7", [4]),
        ('mixed = ""', [2, 5]),
    ],
)
def test_expressions_select_the_rows_a_user_means(expression, expected):
    assert rows(expression) == expected


@pytest.mark.parametrize(
    ("expression", "words"),
    [
        ("curency = CHF", "no column named 'curency'; did you mean 'currency'?"),
        ("nothing = 1", "no column named 'nothing'; the columns are: currency, amount"),
        ("amount >", "a value is missing after 'amount >'"),
        ("amount", "'amount' is not a comparison"),
        ("country = Bosnia and Herzegovina", 'quote a value that contains "and"'),
        ('country = "Spain', "quote is not closed"),
        ("= 3", "a column name is missing before '='"),
        ("amount > 1 and", "a comparison is missing"),
        ("amount > lots", "'amount' holds numbers; 'lots' is not a number"),
        ("amount ~ 3", "'amount' holds numbers: compare it with"),
        ("currency > CHF", "'currency' holds text: use = != ~"),
        ("booked > soon", "'booked' holds dates; 'soon' is not a date"),
        ("express = maybe", "'express' holds true/false"),
        ("", "type a comparison"),
        ("amount > 3 > 4", "one operator per comparison"),
    ],
)
def test_a_bad_expression_is_one_line_that_says_what_to_change(expression, words):
    with pytest.raises(core.FilterError) as caught:
        rows(expression)
    message = str(caught.value)
    assert words in message and "\n" not in message


def test_column_names_from_the_file_are_data_not_code():
    names = ["__import__('os').system('x')", "a = b", "price"]
    parsed = core.parse_filter("\"a = b\" = 1 and price > 2", names)
    assert [(c.column, c.op, c.value) for c in parsed.groups[0]] == [("a = b", "=", "1"), ("price", ">", "2")]
    cells = [np.array(["x", "y"], dtype=object), np.array([1, 2]), np.array([3.0, 1.0])]
    assert core.filter_mask(parsed, cells).tolist() == [True, False]
    assert core.filter_mask(core.parse_filter("'a = b' = 2, price > 0", names), cells).tolist() == [False, True]


def test_describe_writes_the_filter_back_so_it_parses_the_same():
    parsed = core.parse_filter('country = "Bosnia and Herzegovina" or amount>1000 and currency=chf', NAMES)
    again = core.parse_filter(parsed.describe(), NAMES)
    assert again.groups == parsed.groups
    assert parsed.describe() == 'country = "Bosnia and Herzegovina" or amount > 1000 and currency = chf'
