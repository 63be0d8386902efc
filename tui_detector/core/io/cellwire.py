"""Spreadsheet cells as JSON: how the parse child (:mod:`._worker`) hands its rows back.

The answer is data only, so a child that a hostile file took over can send wrong values but
nothing that runs: no pickle, nothing is unpickled. JSON carries calamine's str, int (any size),
float (NaN and the infinities as Python's ``json`` writes them), bool and None as they are; the
date and time values travel as one-key objects, ``{"$datetime": "2024-01-31T12:00:00"}``, and
come back as the same ``datetime`` types. Rows are lists, so an object in a reply is either one
of these tags or part of the reply's own envelope.

Standard library only: the child imports this before anything else.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

__all__ = ["dumps", "loads"]


def _tag(value: Any) -> dict:
    kind = type(value)
    if kind is dt.datetime:
        return {"$datetime": value.isoformat()}
    if kind is dt.date:
        return {"$date": value.isoformat()}
    if kind is dt.time:
        return {"$time": value.isoformat()}
    if kind is dt.timedelta:
        return {"$timedelta": [value.days, value.seconds, value.microseconds]}
    raise TypeError(f"a {kind.__name__} cell cannot be handed over")


def _timedelta(parts: Any) -> dt.timedelta:
    days, seconds, micro = parts
    if not all(type(x) is int for x in parts):
        raise ValueError("timedelta parts must be integers")
    return dt.timedelta(days=days, seconds=seconds, microseconds=micro)


def _text(parse):
    def decode(value: Any):
        if type(value) is not str:
            raise ValueError("a date or time must be written as text")
        return parse(value)

    return decode


_UNTAG = {
    "$datetime": _text(dt.datetime.fromisoformat),
    "$date": _text(dt.date.fromisoformat),
    "$time": _text(dt.time.fromisoformat),
    "$timedelta": _timedelta,
}


def _untag(obj: dict) -> Any:
    if len(obj) == 1:
        ((key, value),) = obj.items()
        if key.startswith("$"):
            decode = _UNTAG.get(key)
            if decode is None:
                raise ValueError(f"unknown tag {key!r}")
            return decode(value)
    return obj


def dumps(obj: Any) -> bytes:
    """One line of JSON (``\\n``-free: strings escape it) for ``obj``; raises TypeError for a
    value that has no encoding here."""
    return json.dumps(obj, default=_tag, separators=(",", ":")).encode("ascii")


def loads(data: bytes) -> Any:
    """The inverse of :func:`dumps`; raises ValueError (or RecursionError) for anything else."""
    return json.loads(data, object_hook=_untag)
