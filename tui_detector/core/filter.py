"""A column filter typed by the user: ``currency = CHF and amount > 1000``, evaluated on whole
columns at once.

The expression is parsed by hand, never evaluated as Python: column names and values come
from the file and from the keyboard. Clauses are ``column operator value``; ``and`` (or ``,``
or ``&``) joins clauses, ``or`` (or ``|``) joins groups of them, ``and`` binding tighter.
Operators: ``=`` ``==`` ``!=`` ``<>`` ``<`` ``<=`` ``>`` ``>=``, and ``~`` / ``!~`` for
"contains" / "does not contain" (text, case-insensitive). A column name or a value with
spaces or operator characters in it can be quoted with ``"`` ``'`` or backticks; an unquoted
column name may hold spaces (``unit price > 5``).

Text equality ignores case; numbers compare as numbers on number columns, dates as dates on
date columns. ``column = ""`` finds the empty cells, ``column != ""`` the filled ones.
Every mistake is a :class:`FilterError` with a one-line message that says what to change.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["Condition", "FilterError", "RowFilter", "filter_mask", "parse_filter"]

#: Operator spellings -> the operator they mean (longest spellings are tried first).
_OPERATORS = {
    "==": "=",
    "!=": "!=",
    "<>": "!=",
    "<=": "<=",
    ">=": ">=",
    "!~": "!~",
    "=": "=",
    "<": "<",
    ">": ">",
    "~": "~",
}
_OP_CHARS = frozenset("=!<>~")
_QUOTES = "\"'`"
_AND_WORDS = ("and", "&&", "&")
_OR_WORDS = ("or", "||", "|")
_EXAMPLE = "e.g. currency = CHF and amount > 1000"


class FilterError(ValueError):
    """The expression cannot be used; the message is one line, meant for the user."""


@dataclass(frozen=True)
class Condition:
    """One clause: the column (its index and name as the file spells it), operator, value."""

    index: int
    column: str
    op: str
    value: str


@dataclass(frozen=True)
class RowFilter:
    """A parsed filter: any of ``groups`` matches when all of its conditions do."""

    text: str
    groups: tuple[tuple[Condition, ...], ...]

    def describe(self) -> str:
        """The filter written back in one canonical form (quotes where needed)."""

        def word(text: str) -> str:
            special = _OP_CHARS | set(_QUOTES) | {",", "&", "|"}
            if text and not any(c in special or c.isspace() for c in text) and not _has_joiner(text):
                return text
            quote = next((q for q in _QUOTES if q not in text), '"')
            return f"{quote}{text}{quote}"

        return " or ".join(
            " and ".join(f"{word(c.column)} {c.op} {word(c.value)}" for c in group) for group in self.groups
        )


# -- parsing ------------------------------------------------------------------------------


@dataclass
class _Piece:
    text: str
    quoted: bool


def _has_joiner(text: str) -> bool:
    return any(w in _AND_WORDS + _OR_WORDS for w in text.lower().split())


def _tokens(text: str) -> list[tuple[str, Any]]:
    """The expression as ("word", _Piece) / ("op", str) / ("and"|"or", None) tokens."""
    out: list[tuple[str, Any]] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch.isspace():
            i += 1
            continue
        if ch in _QUOTES:
            end = text.find(ch, i + 1)
            if end < 0:
                raise FilterError(f"a {ch} quote is not closed: {text[i:]!r}")
            out.append(("word", _Piece(text[i + 1 : end], True)))
            i = end + 1
            continue
        if ch in _OP_CHARS:
            spelling = text[i : i + 2] if text[i : i + 2] in _OPERATORS else ch
            if spelling not in _OPERATORS:
                raise FilterError(f"'{ch}' is not an operator here; use = != < <= > >= ~ or !~")
            out.append(("op", _OPERATORS[spelling]))
            i += len(spelling)
            continue
        if ch == "," and not (0 < i < n - 1 and text[i - 1].isdigit() and text[i + 1].isdigit()):
            out.append(("and", None))  # 1,000 stays one number
            i += 1
            continue
        if ch in "&|":
            j = i + 1 if text[i + 1 : i + 2] == ch else i
            out.append(("and" if ch == "&" else "or", None))
            i = j + 1
            continue
        # A bare word runs to the next space or operator character; a quote inside it is a
        # letter (O'Brien), only one that starts a word opens a quoted name or value.
        j = i
        while j < n and not text[j].isspace() and text[j] not in _OP_CHARS and text[j] not in "&|":
            if text[j] == "," and not (0 < j < n - 1 and text[j - 1].isdigit() and text[j + 1].isdigit()):
                break
            j += 1
        word = text[i:j]
        lower = word.lower()
        if lower in ("and", "or"):
            out.append((lower, None))
        else:
            out.append(("word", _Piece(word, False)))
        i = j
    return out


def _joined(pieces: list[_Piece]) -> _Piece:
    """Bare words side by side are one name or value (``unit price``); a quoted one stands alone."""
    if len(pieces) == 1:
        return pieces[0]
    if any(p.quoted for p in pieces):
        raise FilterError(f"put the whole name or value in quotes: {' '.join(p.text for p in pieces)!r}")
    return _Piece(" ".join(p.text for p in pieces), False)


def _resolve(name: str, columns: Sequence[str]) -> int:
    """The index of column ``name``: its exact spelling first, then ignoring case."""
    if name in columns:
        return list(columns).index(name)
    folded = [i for i, c in enumerate(columns) if c.casefold() == name.casefold()]
    if len(folded) == 1:
        return folded[0]
    if len(folded) > 1:
        raise FilterError(f"several columns are named {name!r} apart from case; type it exactly")
    close = difflib.get_close_matches(name, list(columns), n=1, cutoff=0.6)
    hint = f"; did you mean {close[0]!r}?" if close else f"; the columns are: {_listing(columns)}"
    raise FilterError(f"no column named {name!r}{hint}")


def _listing(columns: Sequence[str], limit: int = 8) -> str:
    shown = ", ".join(columns[:limit])
    return shown + (f", … ({len(columns)} in all)" if len(columns) > limit else "")


def parse_filter(text: str, columns: Sequence[str]) -> RowFilter:
    """``text`` parsed against the table's column names; :class:`FilterError` if it cannot be."""
    if not text.strip():
        raise FilterError(f"type a comparison, {_EXAMPLE}")
    tokens = _tokens(text)
    groups: list[tuple[Condition, ...]] = []
    clause: list[tuple[str, Any]] = []
    group: list[Condition] = []
    for kind, value in [*tokens, ("or", None)]:
        if kind in ("and", "or"):
            group.append(_clause(clause, columns, text))
            clause = []
            if kind == "or":
                groups.append(tuple(group))
                group = []
        else:
            clause.append((kind, value))
    return RowFilter(text.strip(), tuple(groups))


def _clause(tokens: list[tuple[str, Any]], columns: Sequence[str], text: str) -> Condition:
    if not tokens:
        raise FilterError(f"a comparison is missing before or after 'and' / 'or' / ','; {_EXAMPLE}")
    ops = [i for i, (kind, _) in enumerate(tokens) if kind == "op"]
    words = " ".join(p.text for k, p in tokens if k == "word")
    if not ops:
        hint = ' (quote a value that contains "and" or "or")' if _has_joiner(text) else ""
        raise FilterError(f"{words!r} is not a comparison{hint}; {_EXAMPLE}")
    if len(ops) > 1:
        raise FilterError(f"one operator per comparison: {words!r}; join comparisons with 'and'")
    at = ops[0]
    left = [p for _, p in tokens[:at]]
    right = [p for _, p in tokens[at + 1 :]]
    op = tokens[at][1]
    if not left:
        raise FilterError(f"a column name is missing before '{op}'")
    if not right:
        raise FilterError(f"a value is missing after '{_joined(left).text} {op}' (\"\" finds empty cells)")
    index = _resolve(_joined(left).text, columns)
    return Condition(index, columns[index], op, _joined(right).text)


# -- evaluation ---------------------------------------------------------------------------


def filter_mask(row_filter: RowFilter, values: Sequence[Any]) -> np.ndarray:
    """Which rows match, as a boolean array; ``values[i]`` holds column ``i``'s cells (a NumPy
    array, or a pandas/Arrow text array). A value that does not fit its column (a word for a
    number column) is a :class:`FilterError`."""
    rows = len(values[0]) if values else 0
    mask = np.zeros(rows, dtype=bool)
    for group in row_filter.groups:
        part = np.ones(rows, dtype=bool)
        for condition in group:
            part &= _condition_mask(condition, values[condition.index])
        mask |= part
    return mask


def _number(condition: Condition) -> float:
    text = condition.value.replace(",", "").replace("_", "").strip()
    try:
        number = float(text)
    except ValueError:
        number = math.nan
    if math.isnan(number):
        raise FilterError(f"{condition.column!r} holds numbers; {condition.value!r} is not a number")
    return number


def _compare(left: Any, op: str, right: Any) -> np.ndarray:
    if op == "=":
        return left == right
    if op == "!=":
        return left != right
    if op == "<":
        return left < right
    if op == "<=":
        return left <= right
    if op == ">":
        return left > right
    return left >= right


def _condition_mask(condition: Condition, cells: Any) -> np.ndarray:
    op, value = condition.op, condition.value
    arrow = _arrow(cells)
    if arrow is not None:
        return _text_mask(condition, arrow)
    kind = getattr(cells, "dtype", np.dtype(object)).kind
    if value == "" and op in ("=", "!="):
        import pandas as pd  # noqa: PLC0415 - the table is in pandas already

        if kind == "O":
            return _object_mask(condition, cells)
        missing = np.asarray(pd.isna(cells), dtype=bool)
        return missing if op == "=" else ~missing
    if kind in "iuf":
        if op in ("~", "!~"):
            raise FilterError(f"{condition.column!r} holds numbers: compare it with = != < <= > >=")
        return np.asarray(_compare(cells, op, _number(condition)), dtype=bool)
    if kind == "b":
        truth = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}.get(value.lower())
        if truth is None or op not in ("=", "!="):
            raise FilterError(f"{condition.column!r} holds true/false: use = true or = false")
        return np.asarray(_compare(cells, op, truth), dtype=bool)
    if kind in "mM":
        return _time_mask(condition, cells, kind)
    return _object_mask(condition, cells)


def _time_mask(condition: Condition, cells: np.ndarray, kind: str) -> np.ndarray:
    import pandas as pd  # noqa: PLC0415

    if condition.op in ("~", "!~"):
        raise FilterError(f"{condition.column!r} holds {'dates' if kind == 'M' else 'durations'}: compare it with = != < <= > >=")
    try:
        point = pd.Timestamp(condition.value) if kind == "M" else pd.Timedelta(condition.value)
    except (ValueError, TypeError):
        point = None
    if point is None or pd.isna(point):
        what = "a date such as 2026-03-01" if kind == "M" else "a duration such as 2h"
        raise FilterError(f"{condition.column!r} holds {'dates' if kind == 'M' else 'durations'}; {condition.value!r} is not {what}")
    target = point.to_datetime64() if kind == "M" else point.to_timedelta64()
    if kind == "M" and point.tz is not None:
        raise FilterError(f"{condition.column!r} holds dates without a time zone; leave the zone out of {condition.value!r}")
    result = _compare(cells, condition.op, target)
    if condition.op == "!=":
        return np.asarray(result, dtype=bool)
    return np.asarray(result, dtype=bool) & ~np.isnat(cells)


def _arrow(cells: Any) -> Any:
    """The Arrow array behind a text column (no copy), or ``None``."""
    if not hasattr(cells, "__arrow_array__"):
        return None
    import pyarrow as pa  # noqa: PLC0415 - present when pandas keeps text in Arrow

    array = pa.array(cells)
    return array if pa.types.is_string(array.type) or pa.types.is_large_string(array.type) else None


def _text_mask(condition: Condition, arrow: Any) -> np.ndarray:
    import pyarrow.compute as pc  # noqa: PLC0415

    op, value = condition.op, condition.value
    if op in ("<", "<=", ">", ">="):
        raise FilterError(f"{condition.column!r} holds text: use = != ~ (contains) or !~")
    if value == "":
        empty = pc.or_kleene(pc.is_null(arrow), pc.equal(arrow, ""))
        found = empty if op in ("=", "~") else pc.invert(empty)
        return np.asarray(found.to_numpy(zero_copy_only=False), dtype=bool)
    if op in ("~", "!~"):
        found = pc.match_substring(arrow, value, ignore_case=True)
    else:
        found = pc.equal(pc.utf8_lower(arrow), value.lower())
    found = found.fill_null(False).to_numpy(zero_copy_only=False).astype(bool)
    return ~found if op in ("!=", "!~") else found


def _object_mask(condition: Condition, cells: np.ndarray) -> np.ndarray:
    """Cells of mixed kinds (text and numbers in one column): text compares as text; a value
    that reads as a number also matches the numbers equal to it (or compares with them). Each
    distinct cell is compared once (a million cells hold far fewer distinct values)."""
    import pandas as pd  # noqa: PLC0415

    codes, uniques = pd.factorize(pd.Series(cells, copy=False))
    distinct = pd.Series(np.asarray(uniques, dtype=object), copy=False)
    op, value = condition.op, condition.value
    try:
        number: float | None = _number(condition)
    except FilterError:
        number = None
    if value == "":  # the empty cells: missing ones and empty text
        found = np.append((distinct == "").to_numpy(dtype=bool), True)[codes]
        return found if op == "=" else ~found

    def numbers() -> np.ndarray:
        return pd.to_numeric(distinct, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)

    if op in ("<", "<=", ">", ">="):
        if number is None:
            raise FilterError(f"{condition.column!r} holds text: use = != ~ (contains) or !~ (or compare with a number)")
        hit = np.asarray(_compare(numbers(), op, number), dtype=bool)
        return np.append(hit, False)[codes]
    text = distinct.astype(str).str.lower()
    if op in ("~", "!~"):
        found = text.str.contains(value.lower(), regex=False).to_numpy(dtype=bool)
    else:
        found = (text == value.lower()).to_numpy(dtype=bool)
        if number is not None:
            found = found | (numbers() == number)
    found = np.append(found, False)  # code -1: a missing cell matches no value
    return ~found[codes] if op in ("!=", "!~") else found[codes]
