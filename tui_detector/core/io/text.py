"""Delimited text: decoding the bytes, sniffing the delimiter, splitting the fields.

The pandas C parser reads every field as a string, so that the reader, not pandas, decides
what a column's type is (:mod:`.columns`).
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .columns import DECIMAL_COMMA_RE, is_texty_string
from .formats import SUPPORTED_EXTENSIONS
from .table import ReadError, display_name, one_line, plural

__all__ = ["TextCells", "decode_text", "read_text", "sniff_delimiter", "table_problem"]

# pandas' default NA tokens minus "#N/A": that one is an Excel error value and is counted as such.
_CSV_NA_VALUES = [
    "",
    "#N/A N/A",
    "#NA",
    "-1.#IND",
    "-1.#QNAN",
    "-NaN",
    "-nan",
    "1.#IND",
    "1.#QNAN",
    "<NA>",
    "N/A",
    "NA",
    "NULL",
    "NaN",
    "None",
    "n/a",
    "nan",
    "null",
]

_DECIMAL_POINT_RE = re.compile(r"^[+-]?\d+\.\d+$")




def decode_text(raw: bytes, p: Path, *, partial: bool = False) -> tuple[str, str, int]:
    """(text, encoding, number of NUL characters removed)."""
    if raw.startswith(codecs.BOM_UTF8):
        enc, body, codec = "utf-8-sig", raw[3:], "utf-8"
    elif raw.startswith(codecs.BOM_UTF16_LE):
        enc, body, codec = "utf-16-le", raw[2:], "utf-16-le"
    elif raw.startswith(codecs.BOM_UTF16_BE):
        enc, body, codec = "utf-16-be", raw[2:], "utf-16-be"
    else:
        enc, body, codec = "", raw, ""
        sample = raw[:4096]
        # UTF-16 without a BOM: ASCII text leaves a NUL in every other byte.
        if len(sample) >= 4 and sample.count(0) >= len(sample) // 3:
            odd = sample[1::2].count(0)
            even = sample[0::2].count(0)
            if odd > 0.8 * (len(sample) // 2):
                enc = codec = "utf-16-le"
            elif even > 0.8 * (len(sample) // 2):
                enc = codec = "utf-16-be"
    if partial and codec.startswith("utf-16") and len(body) % 2:
        body = body[:-1]
    if codec:
        text = body.decode(codec, errors="replace")
    else:
        try:
            text = body.decode("utf-8")
            enc = "utf-8"
        except UnicodeDecodeError as exc:
            if partial and exc.start >= len(body) - 3:
                text = body[: exc.start].decode("utf-8")
                enc = "utf-8"
            else:
                try:
                    text = body.decode("cp1252")
                    enc = "cp1252"
                except UnicodeDecodeError:
                    # cp1252 leaves five bytes undefined; latin-1 maps every byte.
                    text = body.decode("latin-1")
                    enc = "latin-1"
    nul = text.count("\x00")
    if nul:
        text = text.replace("\x00", "")
    probe = text[:8192]
    if probe:
        controls = sum(1 for ch in probe if ord(ch) < 32 and ch not in "\t\r\n\x0c")
        if controls > max(8, len(probe) // 50):
            raise ReadError(
                f"cannot read '{display_name(p)}': it is neither a spreadsheet nor a text file "
                f"(supported: {', '.join(SUPPORTED_EXTENSIONS)})"
            )
    return text, enc, nul


def _sample_lines(text: str, limit: int = 200) -> list[str]:
    sample = text[: 64 * 1024]
    lines = sample.splitlines()
    if len(text) > len(sample) and lines:
        lines = lines[:-1]  # possibly cut in the middle
    return [ln for ln in lines if ln.strip()][:limit]


def sniff_delimiter(text: str, fmt: str) -> str:
    lines = _sample_lines(text)
    default = "\t" if fmt == "tsv" else ","
    if not lines:
        return default
    if fmt == "tsv" and any("\t" in ln for ln in lines):
        return "\t"
    order = ["\t", ",", ";", "|"] if fmt == "tsv" else [",", ";", "\t", "|"]
    best: tuple | None = None
    best_delim = default
    for rank, delim in enumerate(order):
        if not any(delim in ln for ln in lines):
            continue
        try:
            counts = [len(r) for r in csv.reader(lines, delimiter=delim)]
        except csv.Error:
            continue
        if not counts:
            continue
        modal, freq = Counter(counts).most_common(1)[0]
        if modal < 2:
            continue
        score = (round(freq / len(counts), 2), modal, -rank)
        if best is None or score > best:
            best, best_delim = score, delim
    return best_delim


#: A delimited table: at least this share of its lines have the most common number of fields.
_CONSISTENT_SHARE = 0.6
#: ... or at least this share of its lines have two fields or more (ragged exports).
_MULTI_FIELD_SHARE = 0.9
_SENTENCE_END = (".", "!", "?", ":", ";", ",")


def _sentence_like(line: str) -> bool:
    """A line that reads as prose rather than as one cell of a column."""
    words = line.split()
    return len(line) > 100 or len(words) >= 6 or (len(words) >= 3 and line.rstrip().endswith(_SENTENCE_END))


def _header_like(line: str) -> bool:
    t = line.strip()
    return 0 < len(t) <= 64 and len(t.split()) <= 5 and not t.endswith(_SENTENCE_END)


def table_problem(text: str, delimiter: str) -> str | None:
    """Why the text is not a table, in words for the refusal; None when it is one.

    A table of text has a consistent separator and two columns or more; one column is a table
    when it has a name above values (a short label over short cells), or when its cells are
    numbers, dates or flags. A note, a letter or a log of sentences is none of these."""
    lines = _sample_lines(text)
    if not lines:
        return None
    try:
        counts = [len(r) for r in csv.reader(lines, delimiter=delimiter)]
    except csv.Error:
        counts = []
    if not counts:
        return None
    modal, freq = Counter(counts).most_common(1)[0]
    multi = sum(1 for c in counts if c >= 2)
    stripped = [ln.strip() for ln in lines]
    if modal >= 2 and (freq / len(counts) >= _CONSISTENT_SHARE or multi / len(counts) >= _MULTI_FIELD_SHARE):
        # A letter's commas can fall as evenly as a table's: a first line that is a sentence
        # and sentences on most lines make it prose (a header row is short labels).
        sentences = sum(1 for ln in stripped if _sentence_like(ln) and ln.endswith((".", "!", "?")))
        if not (modal <= 3 and _sentence_like(stripped[0]) and sentences >= 0.5 * len(stripped)):
            return None
        return "its lines read as sentences; their commas are punctuation, not column separators"
    if modal >= 2:
        shown = "tab" if delimiter == "\t" else f"'{delimiter}'"
        return (
            f"its lines have from {min(counts)} to {max(counts)} fields split at {shown}; "
            "a table's rows share one separator"
        )
    values = stripped[1:] if len(stripped) > 1 else stripped
    plain = sum(1 for v in stripped if not is_texty_string(v))
    if plain / len(stripped) >= 0.9:
        return None  # one column of numbers, dates or flags
    prose = sum(1 for v in values if _sentence_like(v))
    if _header_like(stripped[0]) and prose <= 0.2 * len(values):
        return None
    return "no line has a column separator, and its lines read as sentences, not as a named column of values"


def _uses_decimal_comma(text: str, delimiter: str) -> bool:
    if delimiter != ";":
        return False
    comma = point = 0
    for row in csv.reader(_sample_lines(text), delimiter=delimiter):
        for fld in row:
            f = fld.strip()
            if DECIMAL_COMMA_RE.match(f):
                comma += 1
            elif _DECIMAL_POINT_RE.match(f):
                point += 1
    return comma > 0 and comma >= point


def _parse_csv(text: str, delimiter: str, names: list[int] | None) -> pd.DataFrame:
    return pd.read_csv(
        io.StringIO(text),
        sep=delimiter,
        header=None,
        names=names,
        dtype=object,
        keep_default_na=False,
        na_values=_CSV_NA_VALUES,
        skip_blank_lines=False,
        quotechar='"',
        engine="c",
        index_col=False,
    )


@dataclass(frozen=True)
class TextCells:
    """A text file's fields, before the header and types are decided."""

    cells: np.ndarray  # column-major object array, None for missing
    encoding: str
    delimiter: str
    decimal_comma: bool
    warnings: list[str]


def read_text(p: Path, fmt: str) -> TextCells:
    """Decode ``p``, find its delimiter and split it into fields (every one a string)."""
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise ReadError(f"cannot read '{display_name(p)}': {exc.strerror or exc}") from None
    text, enc, nul = decode_text(raw, p)
    warnings: list[str] = []
    if enc in ("cp1252", "latin-1"):
        warnings.append(f"the file is not valid UTF-8; it was read as {enc}")
    if nul:
        warnings.append(f"{plural(nul, 'NUL character')} removed from the file")
    if not text.strip():
        raise ReadError(f"'{display_name(p)}' is empty")
    delimiter = sniff_delimiter(text, fmt)
    problem = table_problem(text, delimiter)
    if problem:
        raise ReadError(f"'{display_name(p)}' does not look like a table ({problem})")
    decimal_comma = _uses_decimal_comma(text, delimiter)
    try:
        try:
            df = _parse_csv(text, delimiter, None)
        except pd.errors.ParserError as exc:
            if "Expected" not in str(exc):
                raise
            # Some row has more fields than the first one: size the table by the longest row.
            widths = [len(r) for r in csv.reader(io.StringIO(text), delimiter=delimiter)]
            width = max(widths) if widths else 1
            df = _parse_csv(text, delimiter, list(range(width)))
            first = next((w for w in widths if w > 1), widths[0] if widths else 1)
            longer = sum(1 for w in widths if w > first)
            warnings.append(
                f"{plural(longer, 'row')} had more fields than the first row; "
                "the extra values were kept in unnamed columns"
            )
    except pd.errors.EmptyDataError:
        raise ReadError(f"'{display_name(p)}' is empty") from None
    except (pd.errors.ParserError, csv.Error, ValueError) as exc:
        raise ReadError(f"cannot read '{display_name(p)}' as {fmt.upper()}: {one_line(exc)}") from None
    # A copy on purpose: for a one-column frame to_numpy() is a read-only view under pandas'
    # copy-on-write, and the next line writes into it.
    cells = np.array(df.to_numpy(dtype=object), dtype=object, order="F")
    cells[pd.isna(cells)] = None
    return TextCells(
        cells=cells, encoding=enc, delimiter=delimiter, decimal_comma=decimal_comma, warnings=warnings
    )
