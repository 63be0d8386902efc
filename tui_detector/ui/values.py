"""How every value reads on screen: one place, so the table, Row details and the status line agree.

The rule is that no value loses a digit for display. A float is written with the shortest
digits that read back as the same number (``repr``), in positional notation (never
``5.032e+04``), with thousands separators; a column pads its cells to the decimals most of
its cells have (a sheet of amounts reads ``20,000.00`` beside ``19,999.99``, as its ``#,##0.00``
format shows them) but never cuts one that has more. Dates read ``2026-04-01 08:42:31``:
a column whose cells all fall on midnight drops the time, one without seconds drops those;
a cell that has the part the column drops still shows it. Dates a CSV holds as text are
shown as written, and the model's expected dates in the precision that text has. Scores and errors, which are the
model's numbers and not the sheet's, read in one fixed format: three decimals.

Plain Python, NumPy and pandas; no Textual.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np

#: Decimals of every score, threshold and error on screen.
SCORE_DECIMALS = 3
#: How many cells of a column decide its decimals and its date precision.
FORMAT_SAMPLE = 1_000
#: A column never pads its cells to more decimals than this (its cells may still have more).
MAX_PADDED_DECIMALS = 6
#: Date precisions, coarsest first.
DAY, MINUTE, SECOND, MICRO = 0, 1, 2, 3


def score_text(value: float | None) -> str:
    """A score, threshold or error: ``6.962``, ``-0.033``, ``50,320.118`` (never ``e+04``)."""
    if value is None or not math.isfinite(float(value)):
        return ""
    text = f"{float(value):,.{SCORE_DECIMALS}f}"
    return "0.000" if text == "-0.000" else text


def number_text(value: float | int, decimals: int = 0, grouping: bool = True) -> str:
    """``value`` with thousands separators (unless not ``grouping``: an ID or a code) and at
    least ``decimals`` decimals, every digit of its shortest round-trip form kept."""
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    if isinstance(value, int | np.integer):
        number = int(value)
        text = f"{number:,}" if grouping else f"{number}"
        return text if not decimals else f"{text}.{'0' * decimals}"
    number = float(value)
    if math.isnan(number):
        return ""
    if math.isinf(number):
        return "∞" if number > 0 else "-∞"
    text = repr(number + 0.0)  # + 0.0: no "-0"
    if "e" in text:  # 1e+20, 1.5e-07: written out in full
        places = max(decimals, own_decimals(number))
        return f"{Decimal(text):{',' if grouping else ''}.{places}f}"
    # The table draws hundreds of these per repaint: string work on repr, no Decimal.
    whole, _, fraction = text.partition(".")
    if fraction == "0":
        fraction = ""
    fraction = fraction.ljust(decimals, "0")
    sign = "-" if whole.startswith("-") else ""
    grouped = f"{abs(int(whole)):,}" if grouping else f"{abs(int(whole))}"
    return f"{sign}{grouped}.{fraction}" if fraction else f"{sign}{grouped}"


def own_decimals(number: float) -> int:
    """The decimals ``number``'s shortest round-trip form needs (0 for a whole number)."""
    if not math.isfinite(number) or number.is_integer():
        return 0
    exponent = Decimal(repr(number)).as_tuple().exponent
    return max(0, -int(exponent))


def date_text(stamp: Any, precision: int = DAY) -> str:
    """``2026-04-01 08:42:31``: at least ``precision``, and whatever more the stamp has."""
    if isinstance(stamp, np.datetime64):
        if np.isnat(stamp):
            return ""
        nanos = int(stamp.astype("datetime64[ns]").astype(np.int64)) % 1000
        stamp = stamp.astype("datetime64[us]").item()  # a datetime: far quicker than Timestamp
    elif not isinstance(stamp, dt.date):
        import pandas as pd  # noqa: PLC0415 - loaded with the table

        stamp = pd.Timestamp(stamp)
        if stamp is pd.NaT:
            return ""
    else:
        nanos = int(getattr(stamp, "nanosecond", 0))
    if not isinstance(stamp, dt.datetime):  # a date: midnight
        stamp = dt.datetime(stamp.year, stamp.month, stamp.day)
    text = f"{stamp.year:04d}-{stamp.month:02d}-{stamp.day:02d}"
    need = max(precision, MICRO if nanos else _date_precision(stamp))
    if need >= MINUTE:
        text += f" {stamp.hour:02d}:{stamp.minute:02d}"
    if need >= SECOND:
        text += f":{stamp.second:02d}"
    if need >= MICRO:
        text += f".{stamp.microsecond:06d}{nanos:03d}".rstrip("0").rstrip(".")
    return text


def _date_precision(stamp: Any) -> int:
    if stamp.microsecond or getattr(stamp, "nanosecond", 0):
        return MICRO
    if stamp.second:
        return SECOND
    if stamp.hour or stamp.minute:
        return MINUTE
    return DAY


def plain_text(text: str) -> str:
    """``text`` on one line: control characters become visible stand-ins, never escapes."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else ("↵" if c in "\r\n" else " ") for c in text)


def _missing(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, float | np.floating):
        return math.isnan(value)
    import pandas as pd  # noqa: PLC0415

    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def format_value(value: Any, decimals: int = 0, precision: int = DAY, grouping: bool = True) -> str:
    """One cell as one line of plain text (never markup: the widgets draw it verbatim)."""
    if isinstance(value, str):
        return plain_text(value)
    if _missing(value):
        return ""
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    if isinstance(value, int | np.integer | float | np.floating):
        return number_text(value, decimals, grouping)
    if isinstance(value, dt.datetime | np.datetime64 | dt.date):
        return date_text(value, precision)
    import pandas as pd  # noqa: PLC0415

    if isinstance(value, pd.Timestamp):
        return date_text(value, precision)
    return plain_text(str(value))


@dataclass(frozen=True)
class ColumnFormat:
    """How one column's cells read: the decimals its numbers pad to, its dates' precision,
    and whether its cells are dates (so that the model's ISO text for an expected date reads
    like the column's own)."""

    decimals: int = 0
    precision: int = DAY
    dates: bool = False
    #: the column's dates are text (a CSV's): its own cells are shown as written
    text_dates: bool = False
    #: thousands separators: not in a column of IDs or codes (order 100234, zip 8001)
    grouping: bool = True

    def __call__(self, value: Any, *, from_model: bool = False) -> str:
        """``value`` as the column shows it; ``from_model``: a value the model gave (its
        dates are ISO text), not one of the column's own cells."""
        if self.dates and isinstance(value, str) and (from_model or not self.text_dates):
            value = _parse_date(value)
        return format_value(value, self.decimals, self.precision, self.grouping)

    @classmethod
    def of(cls, values: Any) -> ColumnFormat:
        """The format of a column (a NumPy array or pandas array), from a sample of its cells."""
        kind = getattr(getattr(values, "dtype", None), "kind", "O")
        sample = values[: FORMAT_SAMPLE]
        if kind == "M":
            ns = np.asarray(sample).astype("datetime64[ns]")
            ns = ns[~np.isnat(ns)].view(np.int64)
            return cls(precision=_stamps_precision(ns), dates=True)
        if kind == "f":
            floats = np.asarray(sample, dtype=np.float64)
            floats = floats[np.isfinite(floats)]
            return cls(decimals=_usual_decimals(floats.tolist()))
        if kind == "O":
            cells = [v for v in np.asarray(sample, dtype=object).tolist() if not _missing(v)]
            floats = [float(v) for v in cells if isinstance(v, float)]
            stamps = [v for v in cells if isinstance(v, dt.datetime)]
            precision = max((_date_precision(v) for v in stamps), default=DAY)
            return cls(decimals=_usual_decimals(floats), precision=precision, dates=bool(stamps))
        return cls()

    @classmethod
    def of_date_text(cls, values: Any) -> ColumnFormat:
        """A column of dates written as text (a CSV's): its cells stay as written; a date
        from the model reads in the precision the column's text has."""
        return cls(precision=_text_dates_precision(values), dates=True, text_dates=True)


#: The time of day in a date written as text: ``2026-04-01 08:42``, ``…T08:42:31.5``.
_TEXT_TIME = re.compile(r"\d[ T]\d{1,2}:\d\d(:\d\d(\.\d+)?)?")


def _text_dates_precision(values: Any) -> int:
    """The precision a column of dates written as text is written in."""
    found = DAY
    for cell in np.asarray(values[:FORMAT_SAMPLE], dtype=object).tolist():
        match = _TEXT_TIME.search(cell) if isinstance(cell, str) else None
        if match is not None:
            found = max(found, MICRO if match.group(2) else SECOND if match.group(1) else MINUTE)
    return found


def _stamps_precision(ns: np.ndarray) -> int:
    """The finest precision any of these nanosecond stamps needs."""
    if not ns.size:
        return DAY
    if np.any(ns % 1_000_000_000):
        return MICRO
    if np.any(ns % 60_000_000_000):
        return SECOND
    if np.any(ns % 86_400_000_000_000):
        return MINUTE
    return DAY


def _usual_decimals(floats: list[float]) -> int:
    """The decimals most of ``floats`` have (ties: the larger); 0 beyond MAX_PADDED_DECIMALS."""
    if not floats:
        return 0
    counts = Counter(own_decimals(f) for f in floats)
    best = max(counts.items(), key=lambda item: (item[1], item[0]))[0]
    # Measurements with every digit a double holds are not padded: -12 stays -12.
    return best if best <= MAX_PADDED_DECIMALS else 0


def _parse_date(text: str) -> Any:
    """The model writes an expected date as ISO text (``2026-04-01T08:42:31``); anything else
    stays text."""
    try:
        return dt.datetime.fromisoformat(text)
    except ValueError:
        return text
