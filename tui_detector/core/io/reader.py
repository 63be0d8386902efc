"""Read spreadsheets and delimited text files into a DataFrame plus a load report.

Excel-family files go through python-calamine (Rust, fast); openpyxl is kept for xlsx/xlsm as an
explicit choice and as a fallback when calamine rejects a file. Delimited text goes through the
pandas C parser with every field read as a string, so that this module, not pandas, decides what
a column's type is. Both paths meet in one pipeline (header detection, naming, typing) so that a
table reads the same whichever engine produced the cells.

Everything a parser raises leaves this module as a :class:`ReadError` whose message is one line a
user can act on.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import datetime as _dt
import gc
import hashlib
import io
import os
import re
import threading
import time
import unicodedata
import zipfile
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from pandas.api.types import infer_dtype

from . import guard
from ._worker import PickError, pick_sheet
from .child import ReaderUnavailable, read_in_child, wanted
from .formats import SUPPORTED_EXTENSIONS
from .table import LoadedTable, LoadReport, ReadCancelled, ReadError, SheetInfo

__all__ = [
    "ReadError",
    "ReadCancelled",
    "SUPPORTED_EXTENSIONS",
    "SheetInfo",
    "LoadReport",
    "LoadedTable",
    "detect_format",
    "list_sheets",
    "open_table",
    "read_table",
    "file_sha256",
]


_EXCEL_FORMATS = ("xlsx", "xlsm", "xls", "xlsb", "ods")
_TEXT_FORMATS = ("csv", "tsv")

# Excel's error values. Besides the classic seven, newer Excel versions write the dynamic-array
# and data-type errors; they mean "no value here" just the same.
ERROR_TOKENS = (
    "#DIV/0!",
    "#N/A",
    "#VALUE!",
    "#REF!",
    "#NAME?",
    "#NUM!",
    "#NULL!",
    "#GETTING_DATA",
    "#SPILL!",
    "#CALC!",
    "#FIELD!",
    "#BLOCKED!",
    "#CONNECT!",
    "#BUSY!",
    "#UNKNOWN!",
)
_ERROR_SET = frozenset(ERROR_TOKENS)

# Error codes as BIFF8 (xls) and BIFF12 (xlsb) store them.
_BIFF_ERRORS = {
    0x00: "#NULL!",
    0x07: "#DIV/0!",
    0x0F: "#VALUE!",
    0x17: "#REF!",
    0x1D: "#NAME?",
    0x24: "#NUM!",
    0x2A: "#N/A",
    0x2B: "#GETTING_DATA",
}

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

# Header detection looks at this many non-empty rows, and judges each candidate against at most
# this many rows below it.
_HEADER_SCAN_ROWS = 30
_HEADER_LOOKAHEAD = 30
_HEADER_MIN_COVERAGE = 0.6

_NUM_RE = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")
_DECIMAL_COMMA_RE = re.compile(r"^[+-]?(\d{1,3}(\.\d{3})+|\d+),\d+$")
_DECIMAL_COMMA_FIELD_RE = re.compile(r"^[+-]?(\d{1,3}(\.\d{3})+|\d+)(,\d+)?$")
_DECIMAL_POINT_RE = re.compile(r"^[+-]?\d+\.\d+$")
_DATE_LIKE_RE = re.compile(
    r"^(\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}([ T]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?)?"
    r"|\d{1,2}:\d{2}(:\d{2})?)$"
)
_BOOL_WORDS = frozenset({"true", "false"})


# --------------------------------------------------------------------------------------------
# Paths and format detection


def _display(path: Path) -> str:
    return path.name or str(path)


def _check_path(path: Any, *, allow_empty: bool = False) -> Path:
    try:
        p = Path(os.fspath(path))
    except TypeError:
        raise ReadError(f"not a file path: {path!r}") from None
    try:
        st = p.stat()
    except FileNotFoundError:
        raise ReadError(f"file not found: {p}") from None
    except PermissionError:
        raise ReadError(f"cannot read '{_display(p)}': permission denied") from None
    except OSError as exc:
        raise ReadError(f"cannot read '{_display(p)}': {exc.strerror or exc}") from None
    if p.is_dir():
        raise ReadError(f"not a file: {p} is a folder")
    if st.st_size == 0 and not allow_empty:
        raise ReadError(f"'{_display(p)}' is empty")
    return p


def _read_head(p: Path, n: int) -> bytes:
    try:
        with open(p, "rb") as fh:
            return fh.read(n)
    except PermissionError:
        raise ReadError(f"cannot read '{_display(p)}': permission denied") from None
    except OSError as exc:
        raise ReadError(f"cannot read '{_display(p)}': {exc.strerror or exc}") from None


_ZIP_MAGIC = b"PK\x03\x04"
_CFB_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


def _format_of_zip(p: Path, ext: str) -> str | None:
    try:
        with zipfile.ZipFile(p) as zf:
            names = set(zf.namelist())
            if "xl/workbook.bin" in names:
                return "xlsb"
            if "xl/workbook.xml" in names:
                if ext == ".xlsm":
                    return "xlsm"
                try:
                    ctypes = zf.read("[Content_Types].xml")
                except KeyError:
                    ctypes = b""
                return "xlsm" if b"macroEnabled" in ctypes else "xlsx"
            if "mimetype" in names:
                try:
                    mime = zf.read("mimetype").strip()
                except KeyError:
                    mime = b""
                if mime == b"application/vnd.oasis.opendocument.spreadsheet":
                    return "ods"
            if "content.xml" in names and ext == ".ods":
                return "ods"
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, RuntimeError, NotImplementedError):
        # RuntimeError: encrypted entries; the pre-check says so in words.
        return None
    return None


def _format_by_extension(ext: str) -> str:
    return {
        ".xlsx": "xlsx",
        ".xlsm": "xlsm",
        ".xls": "xls",
        ".xlsb": "xlsb",
        ".ods": "ods",
        ".tsv": "tsv",
        ".tab": "tsv",
    }.get(ext, "csv")


def _looks_like_text(head: bytes, p: Path) -> bool:
    try:
        _decode_text(head, p, partial=True)
    except ReadError:
        return False
    return True


def detect_format(path: Any) -> str:
    """'xlsx', 'xlsm', 'xls', 'xlsb', 'ods', 'csv' or 'tsv', judged by content before extension."""
    p = _check_path(path)
    ext = p.suffix.lower()
    head = _read_head(p, 64 * 1024)
    if head.startswith(_ZIP_MAGIC):
        found = _format_of_zip(p, ext)
        if found:
            return found
        return _format_by_extension(ext)
    if head.startswith(_CFB_MAGIC):
        # An encrypted xlsx is a CFB container too; the read path tells those apart.
        return "xls"
    fmt = _format_by_extension(ext)
    if fmt in _EXCEL_FORMATS:
        # A workbook name on something that is neither zip nor CFB: plain text saved with an
        # Excel extension is common (exports that are really CSV/TSV), so read it as text;
        # HTML/XML "spreadsheets" and binary junk keep the extension and fail as damaged.
        stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
        if stripped[:1] == b"<" or not _looks_like_text(head, p):
            return fmt
        fmt = "csv"
    if fmt == "csv" and ext != ".csv":
        try:
            text, _enc, _nul = _decode_text(head, p, partial=True)
            if _sniff_delimiter(text, "csv") == "\t":
                return "tsv"
        except ReadError:
            pass
    return fmt


# --------------------------------------------------------------------------------------------
# Small helpers


def _col_letter(index0: int) -> str:
    letters = ""
    n = index0 + 1
    while n:
        n, rem = divmod(n - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def _plural(n: int, word: str, plural: str | None = None) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {plural or word + 's'}"


def _one_line(exc: BaseException) -> str:
    msg = " ".join(str(exc).split())
    return msg[:200] if msg else type(exc).__name__


def _is_texty_string(s: str) -> bool:
    """A string that reads as a label rather than as a number, boolean, date or time."""
    t = s.strip()
    if not t:
        return False
    if _NUM_RE.match(t) or _DECIMAL_COMMA_RE.match(t):
        return False
    if t.lower() in _BOOL_WORDS:
        return False
    if _DATE_LIKE_RE.match(t):
        return False
    return True


def _header_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 2**53:
            return str(int(value))
        return repr(value)
    if isinstance(value, _dt.datetime):
        if value.time() == _dt.time(0):
            return value.date().isoformat()
        return value.isoformat(sep=" ")
    if isinstance(value, (_dt.date, _dt.time)):
        return value.isoformat()
    if isinstance(value, _dt.timedelta):
        return _format_duration(value)
    return str(value).strip()


def _format_duration(td: _dt.timedelta) -> str:
    # Matches how Excel shows a [h]:mm:ss duration, e.g. 30:00:00 rather than "1 day, 6:00:00".
    total = td.total_seconds()
    sign = "-" if total < 0 else ""
    total = abs(total)
    hours, rest = divmod(int(total), 3600)
    minutes, seconds = divmod(rest, 60)
    frac = total - int(total)
    text = f"{sign}{hours}:{minutes:02d}:{seconds:02d}"
    if frac > 1e-9:
        text += f"{frac:.6f}"[1:].rstrip("0")
    return text


# Characters that show as nothing at all and have no role in a column name; a header cell that
# holds one (pasted from the web, or a BOM the exporter put in the middle of a file) would make
# a name that looks like another one yet does not match it. Joiners and direction marks are
# left alone in the name (some scripts need them) and only ignored when comparing names.
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u2060\ufeff\u00ad\u180e"), None)


def _clean_name(name: str) -> str:
    return name.translate(_INVISIBLE).strip()


def _name_key(name: str) -> str:
    """What a name looks like: NFKC form (full-width letters, NBSP), invisible format
    characters removed, any run of whitespace as one space."""
    folded = unicodedata.normalize("NFKC", name)
    folded = "".join(ch for ch in folded if unicodedata.category(ch) != "Cf")
    return " ".join(folded.split())


def _dedupe(names: list[str]) -> tuple[list[str], list[str], list[str]]:
    """Unique names: (names, renamed exact duplicates, renamed look-alikes).

    Two names are the same when they look the same (:func:`_name_key`), so 'b' and 'b' with
    a zero-width space, or 'a b' and 'a  b', become 'b' and 'b (2)'. Column maps and the model's
    schema match columns by name, so look-alikes must not survive as two different columns.
    """
    taken = {_name_key(n) for n in names}
    seen: dict[str, str] = {}
    out: list[str] = []
    renamed: list[str] = []
    lookalike: list[str] = []
    for name in names:
        key = _name_key(name)
        if key not in seen:
            seen[key] = name
            out.append(name)
            continue
        k = 2
        while _name_key(f"{name} ({k})") in taken or _name_key(f"{name} ({k})") in seen:
            k += 1
        new = f"{name} ({k})"
        seen[_name_key(new)] = new
        taken.add(_name_key(new))
        out.append(new)
        (renamed if seen[key] == name else lookalike).append(new)
    return out, renamed, lookalike


# --------------------------------------------------------------------------------------------
# Error-cell scans. python-calamine returns Excel error cells as "" (indistinguishable from blank
# cells), so their positions are recovered from the file itself, next to the main parse.

_Err = tuple[int, int, str]  # 0-based sheet row, 0-based sheet column, error text


def _ref_to_rc(ref: bytes) -> tuple[int, int] | None:
    m = re.match(rb"([A-Za-z]{1,3})(\d+)$", ref)
    if not m:
        return None
    col = 0
    for ch in m.group(1).upper():
        col = col * 26 + (ch - 64)
    return int(m.group(2)) - 1, col - 1


def _xlsx_sheet_part(zf: zipfile.ZipFile, sheet_name: str) -> str | None:
    from defusedxml import ElementTree as SafeET

    main_ns = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
    rel_attr = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"
    book = SafeET.fromstring(zf.read("xl/workbook.xml"))
    rid = None
    for el in book.iter():
        if el.tag in (main_ns + "sheet", "sheet") and el.get("name") == sheet_name:
            rid = el.get(rel_attr)
            break
    if rid is None:
        return None
    return _workbook_rel_target(zf, "xl/_rels/workbook.xml.rels", rid)


def _workbook_rel_target(zf: zipfile.ZipFile, rels_path: str, rid: str) -> str | None:
    """The zip member a workbook relationship points at; relative targets start from ``xl/``."""
    from defusedxml import ElementTree as SafeET

    rels = SafeET.fromstring(zf.read(rels_path))
    for el in rels.iter():
        if el.get("Id") == rid:
            target = el.get("Target") or ""
            if target.startswith("/"):
                return target.lstrip("/")
            parts: list[str] = ["xl"]
            for piece in target.split("/"):
                if piece == "..":
                    if parts:
                        parts.pop()
                elif piece and piece != ".":
                    parts.append(piece)
            return "/".join(parts)
    return None


_XLSX_ERR_CELL = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?c\s[^>]*?\bt\s*=\s*[\"']e[\"'][^>]*>")
_XLSX_REF = re.compile(rb"\br\s*=\s*[\"']([A-Za-z]{1,3}\d+)[\"']")
_XLSX_VALUE = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?v>([^<]*)<")
_XLSX_CELL_END = re.compile(rb"</(?:[A-Za-z_][\w.-]*:)?c>")


def _scan_xlsx_errors(path: Path, sheet_name: str) -> list[_Err]:
    with zipfile.ZipFile(path) as zf:
        part = _xlsx_sheet_part(zf, sheet_name)
        if part is None:
            return []
        # First a cheap streaming look: most workbooks have no error cells at all, and this
        # keeps the decompressed sheet (often tens of MB) out of memory in that case.
        found = False
        tail = b""
        with zf.open(part) as fh:
            while True:
                chunk = fh.read(1 << 22)
                if not chunk:
                    break
                window = tail + chunk
                if b't="e"' in window or b"t='e'" in window:
                    found = True
                    break
                tail = chunk[-8:]
        if not found:
            return []
        data = zf.read(part)
    out: list[_Err] = []
    for m in _XLSX_ERR_CELL.finditer(data):
        tag = m.group(0)
        ref = _XLSX_REF.search(tag)
        rc = _ref_to_rc(ref.group(1)) if ref else None
        if rc is None:
            continue
        token = "#N/A"
        if not tag.endswith(b"/>"):
            end = _XLSX_CELL_END.search(data, m.end())
            stop = end.start() if end else m.end() + 4096
            v = _XLSX_VALUE.search(data, m.end(), stop)
            if v:
                token = v.group(1).decode("utf-8", "replace").strip() or token
        out.append((rc[0], rc[1], token))
    return out


# Formula cells saved without a computed value. Programs that write xlsx without a calculation
# engine (openpyxl, many exporters) store the formula and leave <v> out or empty; every engine
# then reads the cell as blank, which would pass for genuinely missing data. In a cell, <f> comes
# first and <v> second, so "formula element, then the cell's end or an empty <v>" finds them
# with one C-speed regex pass, no per-cell Python.
_NO_VALUE = "\0no computed value"  # token in the _Err list; never a real Excel error text
_NS = rb"(?:[A-Za-z_][\w.-]*:)?"
_XLSX_FORMULA_NO_VALUE = re.compile(
    rb"<" + _NS + rb"c(\s[^>]*?)?(?<!/)>\s*"  # the cell's start tag (group 1: its attributes)
    rb"<" + _NS + rb"f\b[^>]*?(?:/>|>[^<]*</" + _NS + rb"f\s*>)\s*"  # the formula (text has no '<')
    rb"(?:</" + _NS + rb"c\s*>|<" + _NS + rb"v\s*/>|<" + _NS + rb"v\s*>\s*</" + _NS + rb"v\s*>)"
)
_SCAN_CHUNK = 1 << 22
_XLSX_TYPE = re.compile(rb"\bt\s*=\s*[\"']([A-Za-z]+)[\"']")
_XLSX_ROW_END = re.compile(rb"</" + _NS + rb"row\s*>")


def _last_row_end(window: bytes) -> int:
    """Offset just past the last ``</row>`` (any prefix) in ``window``, or -1."""
    at = len(window)
    while True:
        at = window.rfind(b"row", 0, at)
        if at < 0:
            return -1
        lt = window.rfind(b"</", 0, at)
        m = _XLSX_ROW_END.match(window, lt) if lt >= 0 else None
        if m and m.end() > at:
            return m.end()


# The same test, found from its end: these start with a literal, which the regex engine finds
# with a fast substring search, so a sheet of 200,000 formulas *with* values costs a few tens of
# ms instead of a regex attempt at every '<'. Unprefixed elements only (what every common
# writer produces); a sheet with prefixed elements takes the full pattern above.
_NO_VALUE_TAIL = rb"\s*(?:</c\s*>|<v\s*/>|<v\s*>\s*</v\s*>)"
_FORMULA_END_NO_VALUE = re.compile(rb"</f\s*>" + _NO_VALUE_TAIL)
_SELF_CLOSED_NO_VALUE = re.compile(rb"/>" + _NO_VALUE_TAIL)
_PREFIXED_F = re.compile(rb"<[A-Za-z_][\w.-]*:f[\s>/]")


def _formula_cells_without_value(body: bytes):
    """Matches of :data:`_XLSX_FORMULA_NO_VALUE` in ``body``, each cell once."""
    if _PREFIXED_F.search(body):
        yield from _XLSX_FORMULA_NO_VALUE.finditer(body)
        return
    seen: set[int] = set()
    for rx in (_FORMULA_END_NO_VALUE, _SELF_CLOSED_NO_VALUE):
        for tail in rx.finditer(body):
            # Back to the start tag of the cell holding it: formula and inline-string text
            # cannot hold a raw '<', so the nearest '<c' before is that cell's.
            at = tail.start()
            while True:
                at = body.rfind(b"<c", 0, at)
                if at < 0 or body[at + 2 : at + 3] in (b" ", b">", b"\t", b"\r", b"\n"):
                    break
            if at < 0 or at in seen:
                continue
            m = _XLSX_FORMULA_NO_VALUE.match(body, at)
            if m is not None and m.end() >= tail.end():
                seen.add(at)
                yield m


def _scan_xlsx_formulas(path: Path, sheet_name: str) -> list[_Err]:
    """Positions of formula cells in one xlsx sheet that hold no computed value."""
    with zipfile.ZipFile(path) as zf:
        part = _xlsx_sheet_part(zf, sheet_name)
        if part is None:
            return []
        out: list[_Err] = []
        carry = b""
        with zf.open(part) as fh:
            while True:
                chunk = fh.read(_SCAN_CHUNK)
                window = carry + chunk
                if chunk:
                    # Cut after the last complete row so no cell straddles two windows; the
                    # sheet stays streamed (a single row is at most 16,384 cells).
                    cut = _last_row_end(window)
                    if cut < 0:
                        carry = window
                        continue
                    body, carry = window[:cut], window[cut:]
                else:
                    body, carry = window, b""
                for m in _formula_cells_without_value(body):
                    attrs = m.group(1) or b""
                    closed_empty = not m.group(0).rstrip().endswith(b"c>")
                    t = _XLSX_TYPE.search(attrs)
                    if closed_empty and t and t.group(1) == b"str":
                        # Excel itself writes <v></v> for a formula whose result is "" (t="str"):
                        # that is a computed empty string, not a missing value.
                        continue
                    ref = _XLSX_REF.search(attrs)
                    rc = _ref_to_rc(ref.group(1)) if ref else None
                    if rc is not None:
                        out.append((rc[0], rc[1], _NO_VALUE))
                if not chunk:
                    break
    return out


_XLS_ERR_HINT = re.compile(
    rb"\x05\x02\x08\x00.{6}[\x00\x07\x0f\x17\x1d\x24\x2a]\x01"  # BOOLERR holding an error
    rb"|\x02.[\x00\x07\x0f\x17\x1d\x24\x2a].{3}\xff\xff",  # FORMULA whose result is an error
    re.DOTALL,
)


def _scan_xls_errors(path: Path, sheet_name: str) -> list[_Err]:
    raw = path.read_bytes()
    if not _XLS_ERR_HINT.search(raw):
        return []
    import xlrd

    book = xlrd.open_workbook(file_contents=raw, on_demand=True, logfile=io.StringIO())
    try:
        sh = book.sheet_by_name(sheet_name)
        out: list[_Err] = []
        for r in range(sh.nrows):
            types = sh.row_types(r)
            for c, t in enumerate(types):
                if t == xlrd.XL_CELL_ERROR:
                    code = sh.cell_value(r, c)
                    out.append((r, c, _BIFF_ERRORS.get(code, "#N/A")))
        return out
    finally:
        book.release_resources()


_XLSB_ERR_HINT = re.compile(
    rb"\x03\x09.[\x00-\x3f]\x00\x00.{4}[\x00\x07\x0f\x17\x1d\x24\x2a\x2b]"  # BrtCellError
    rb"|\x0b[\x80-\xff]?[\x00-\x7f].[\x00-\x3f]\x00\x00.{4}[\x00\x07\x0f\x17\x1d\x24\x2a\x2b]",
    re.DOTALL,
)


def _xlsb_sheet_part(zf: zipfile.ZipFile, sheet_name: str) -> str | None:
    data = zf.read("xl/workbook.bin")
    rid = None
    for typ, rec in _biff12_records(data):
        if typ == 0x9C and len(rec) >= 12:  # BrtBundleSh
            rel_len = int.from_bytes(rec[8:12], "little")
            if rel_len == 0xFFFFFFFF:
                continue
            rel = rec[12 : 12 + 2 * rel_len].decode("utf-16-le", "replace")
            pos = 12 + 2 * rel_len
            name_len = int.from_bytes(rec[pos : pos + 4], "little")
            name = rec[pos + 4 : pos + 4 + 2 * name_len].decode("utf-16-le", "replace")
            if name == sheet_name:
                rid = rel
                break
        elif typ == 0x90:  # BrtEndBundleShs
            break
    if rid is None:
        return None
    return _workbook_rel_target(zf, "xl/_rels/workbook.bin.rels", rid)


def _biff12_records(data: bytes):
    i, n = 0, len(data)
    while i < n:
        b = data[i]
        i += 1
        typ = b & 0x7F
        if b & 0x80:
            if i >= n:
                return
            typ |= (data[i] & 0x7F) << 7
            i += 1
        size = 0
        for shift in (0, 7, 14, 21):
            if i >= n:
                return
            b = data[i]
            i += 1
            size |= (b & 0x7F) << shift
            if not b & 0x80:
                break
        yield typ, data[i : i + size]
        i += size


def _scan_xlsb_errors(path: Path, sheet_name: str) -> list[_Err]:
    with zipfile.ZipFile(path) as zf:
        part = _xlsb_sheet_part(zf, sheet_name)
        if part is None:
            return []
        data = zf.read(part)
    # The record walk is Python-speed, so only files that plausibly hold an error pay for it.
    if not _XLSB_ERR_HINT.search(data):
        return []
    out: list[_Err] = []
    row = 0
    for typ, rec in _biff12_records(data):
        if typ == 0x00 and len(rec) >= 4:  # BrtRowHdr
            row = int.from_bytes(rec[0:4], "little")
        elif typ in (0x03, 0x0B) and len(rec) >= 9:  # BrtCellError, BrtFmlaError
            col = int.from_bytes(rec[0:4], "little")
            out.append((row, col, _BIFF_ERRORS.get(rec[8], "#N/A")))
        elif typ == 0x92:  # BrtEndSheetData
            break
    return out


def _scan_ods_errors(path: Path, sheet_name: str) -> list[_Err]:
    with zipfile.ZipFile(path) as zf:
        data = zf.read("content.xml")
    # LibreOffice marks formula errors with calcext:value-type="error" and an empty string value.
    if b'value-type="error"' not in data:
        return []
    from defusedxml import ElementTree as SafeET

    t_ns = "{urn:oasis:names:tc:opendocument:xmlns:table:1.0}"
    calc_ns = "{urn:org:documentfoundation:names:experimental:calc:xmlns:calcext:1.0}"
    out: list[_Err] = []
    in_table = False
    row = 0
    row_rep = 1
    col = 0
    cell_stack: list[tuple[int, int]] = []
    for event, el in SafeET.iterparse(io.BytesIO(data), events=("start", "end")):
        tag = el.tag
        if event == "start":
            if tag == t_ns + "table":
                in_table = el.get(t_ns + "name") == sheet_name
                row = 0
            elif not in_table:
                continue
            elif tag == t_ns + "table-row":
                col = 0
                row_rep = int(el.get(t_ns + "number-rows-repeated", "1") or 1)
            elif tag in (t_ns + "table-cell", t_ns + "covered-table-cell"):
                rep = int(el.get(t_ns + "number-columns-repeated", "1") or 1)
                cell_stack.append((col, rep))
                col += rep
        else:
            if tag == t_ns + "table":
                if in_table:
                    break
            elif not in_table:
                el.clear()
                continue
            elif tag == t_ns + "table-row":
                row += row_rep
                el.clear()
            elif tag in (t_ns + "table-cell", t_ns + "covered-table-cell"):
                start_col, rep = cell_stack.pop() if cell_stack else (col, 1)
                if el.get(calc_ns + "value-type") == "error":
                    text = "".join(el.itertext()).strip()
                    token = text if text in _ERROR_SET else "#N/A"
                    for k in range(min(rep, 16384)):
                        out.append((row, start_col + k, token))
    return out


_ERROR_SCANNERS = {
    "xlsx": _scan_xlsx_errors,
    "xlsm": _scan_xlsx_errors,
    "xls": _scan_xls_errors,
    "xlsb": _scan_xlsb_errors,
    "ods": _scan_ods_errors,
}


# --------------------------------------------------------------------------------------------
# Workbook engines: each returns the raw cells of one sheet plus where they sit in the sheet.


@dataclass
class _Raw:
    rows: list  # list of row sequences, not necessarily equal length
    row0: int  # 0-based sheet row of rows[0]
    col0: int  # 0-based sheet column of rows[i][0]
    sheet: str
    errors: list[_Err] = field(default_factory=list)


def _is_encrypted_ooxml(p: Path) -> bool:
    """An encrypted xlsx/xlsm: a CFB container whose directory names the encryption streams."""
    return guard.is_encrypted_ooxml(p)


def _damaged(p: Path, fmt: str) -> ReadError:
    head = _read_head(p, 512).lstrip(b"\xef\xbb\xbf \t\r\n")
    if head[:1] == b"<":
        return ReadError(
            f"cannot read '{_display(p)}': it is an HTML or XML file, not a real {fmt} workbook; "
            "open it in Excel and save it as .xlsx"
        )
    return ReadError(
        f"cannot read '{_display(p)}': it is not a valid {fmt} workbook "
        "(file is damaged or not a spreadsheet)"
    )


def _password(p: Path) -> ReadError:
    return ReadError(
        f"cannot read '{_display(p)}': it is password-protected; "
        "open it in Excel, remove the password and save a copy"
    )


def _pick_sheet(p: Path, sheets: list[tuple[str, bool]], sheet: str | int | None) -> int:
    """Index into ``sheets`` (name, visible) for the requested sheet."""
    try:
        return pick_sheet(sheets, sheet, _display(p))
    except PickError as exc:
        raise ReadError(str(exc)) from None


def _calamine_sheets(wb) -> list[tuple[str, bool]]:
    from python_calamine import SheetTypeEnum, SheetVisibleEnum

    out = []
    for meta in wb.sheets_metadata:
        if meta.typ != SheetTypeEnum.WorkSheet:
            continue
        out.append((meta.name, meta.visible == SheetVisibleEnum.Visible))
    return out


#: Called with a few words as a read moves from one long step to the next. Only the reader
#: process (:mod:`._tablechild`) sets it, to tell the app what it is doing; it is global, so a
#: process that may read two files at once leaves it unset.
on_stage: Callable[[str], None] | None = None


def _stage(text: str) -> None:
    if on_stage is not None:
        on_stage(text)


#: The one sheet :func:`open_table` parsed while listing sizes, for the read that follows
#: (parsing a million-row sheet takes seconds); keyed by file identity and sheet name
#: (:data:`_TEXT_KEY` for a text file's parsed fields).
_PARSED: dict[tuple, Any] = {}
_NO_KEEP = object()
_TEXT_KEY = "\0text"


def _identity(p: Path) -> tuple:
    try:
        st = p.stat()
    except OSError:
        return (str(p),)
    return (str(p), st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def _calamine_open(p: Path):
    from python_calamine import CalamineWorkbook

    return CalamineWorkbook.from_path(str(p))


#: Formats whose parse runs in a child process: nothing cheap bounds what calamine allocates
#: for them (binary records, repeat counts). Set ANOMALY_TUI_ISOLATE=all to isolate xlsx too.
_ISOLATED_FORMATS = frozenset({"xls", "xlsb", "ods"})


def _isolated(fmt: str) -> bool:
    return fmt in _ISOLATED_FORMATS or os.environ.get("ANOMALY_TUI_ISOLATE") == "all"


def _fatal(exc: BaseException) -> bool:
    """Exceptions that must keep propagating (everything else from a parser is a bad file).

    pyo3's PanicException (a Rust panic) derives from BaseException, so ``except Exception``
    alone lets it through.
    """
    return isinstance(exc, (KeyboardInterrupt, SystemExit, GeneratorExit))


def _zip_hint(p: Path, fmt: str, hint: str) -> bool:
    """Whether the pre-check's ``hint`` (per sheet) says a cell scan of this workbook may find
    something; without the hint (no pre-check facts), scan to be safe."""
    try:
        facts = guard.check_zip(p, fmt)  # cached from the pre-check
    except guard.Refused:
        return True
    hints = getattr(facts, hint)
    return any(hints.values()) if hints else True


def _error_scan_needed(p: Path, fmt: str) -> bool:
    # Only OOXML has a pre-check to ask; other formats are always scanned for error cells.
    return _zip_hint(p, fmt, "error_hint") if fmt in ("xlsx", "xlsm") else True


def _formula_scan_needed(p: Path, fmt: str) -> bool:
    # Formulas saved without a value only happen in OOXML (xls/xlsb always store results).
    return _zip_hint(p, fmt, "formula_hint") if fmt in ("xlsx", "xlsm") else False


def _cell_scan(p: Path, fmt: str, name: str) -> list[_Err]:
    """Error cells and formula cells without a computed value in sheet ``name``, from the file
    itself: both read as blank in every engine, so only the file can tell them apart."""
    out: list[_Err] = []
    errors = _ERROR_SCANNERS.get(fmt) if _error_scan_needed(p, fmt) else None
    if errors is not None:
        out.extend(errors(p, name))
    if _formula_scan_needed(p, fmt):
        out.extend(_scan_xlsx_formulas(p, name))
    return out


def _calamine_raw(p: Path, fmt: str, sheet: str | int | None) -> _Raw:
    if _isolated(fmt):
        return _calamine_raw_child(p, fmt, sheet)
    wb = _calamine_open(p)
    try:
        sheets = _calamine_sheets(wb)
        name = sheets[_pick_sheet(p, sheets, sheet)][0]
        needed = _error_scan_needed(p, fmt) or _formula_scan_needed(p, fmt)
        scanner = (lambda path, nm: _cell_scan(path, fmt, nm)) if needed else None
        with ThreadPoolExecutor(max_workers=1) as pool:
            # The scan mostly inflates zip data, which releases the GIL, so it overlaps the parse.
            future = pool.submit(scanner, p, name) if scanner else None
            ws = _PARSED.pop((_identity(p), name), None)
            if ws is None:
                ws = wb.get_sheet_by_name(name)
            start = ws.start or (0, 0)
            rows = _sheet_rows(ws, start)
            errors: list[_Err] = []
            if future is not None:
                try:
                    errors = future.result()
                except Exception:  # noqa: BLE001 - the count is a nicety; the data is already read
                    errors = []
    finally:
        try:
            wb.close()
        except Exception:  # noqa: BLE001
            pass
    return _Raw(rows=rows, row0=int(start[0]), col0=int(start[1]), sheet=name, errors=errors)


def _sheet_rows(ws: Any, start: tuple[int, int]) -> list:
    """``ws.to_python()``, a row at a time: that one call builds every cell of a million-row
    sheet while holding the interpreter lock (2.4 s of frozen screen in the app, which reads in
    a thread); a Python loop lets the screen repaint between rows, for ~0.07 s per 100k rows."""
    r0 = int(start[0])
    rows: list = []
    append = rows.append
    # iter_rows starts at row 1 (columns already from the first used one); to_python starts
    # at the first used row.
    for i, row in enumerate(ws.iter_rows()):
        if i >= r0:
            append(row)
    return rows


class _ParserFailed(Exception):
    """The parser in the child rejected the file; ``kind`` is its exception's class name."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


def _child(p: Path, request: dict) -> dict:
    request = {"path": str(p), "display": _display(p), **request}
    try:
        result = guard.run_worker(request)
    except guard.Refused as exc:
        if exc.kind == "parser:PickError":
            raise ReadError(exc.message) from None
        if exc.kind.startswith("parser:"):
            raise _ParserFailed(exc.kind.split(":", 1)[1], exc.message) from None
        raise ReadError(f"cannot read '{_display(p)}': {exc.message}") from None
    if not isinstance(result, dict):
        raise ReadError(f"cannot read '{_display(p)}': the parser process returned damaged data")
    return result


def _calamine_raw_child(p: Path, fmt: str, sheet: str | int | None) -> _Raw:
    if isinstance(sheet, np.integer):
        sheet = int(sheet)
    scanner = _ERROR_SCANNERS.get(fmt)
    with ThreadPoolExecutor(max_workers=1) as pool:
        # The error scan needs the sheet name, which only the child knows for sure when the
        # request is by index or None; a name request lets the scan run alongside the parse.
        early = pool.submit(scanner, p, sheet) if scanner and isinstance(sheet, str) else None
        result = _child(p, {"op": "read", "sheet": sheet})
        try:
            rows = result["rows"]
            name = str(result["sheet"])
            row0, col0 = int(result["row0"]), int(result["col0"])
            if not isinstance(rows, list):
                raise TypeError("rows")
        except (KeyError, TypeError, ValueError):
            raise ReadError(
                f"cannot read '{_display(p)}': the parser process returned damaged data"
            ) from None
        errors: list[_Err] = []
        if scanner is not None:
            try:
                if early is not None and name == sheet:
                    errors = early.result()
                else:
                    errors = scanner(p, name)
            except Exception:  # noqa: BLE001 - the count is a nicety; the data is already read
                errors = []
    return _Raw(rows=rows, row0=row0, col0=col0, sheet=name, errors=errors)


def _openpyxl_open(p: Path):
    import warnings as _warnings

    import openpyxl
    import openpyxl.xml

    if not openpyxl.xml.DEFUSEDXML:
        # Decided when openpyxl was imported; our own pre-check refuses DTDs regardless, but
        # openpyxl must not be the one parser that runs unprotected.
        raise ReadError(
            f"cannot read '{_display(p)}': "
            + (guard.xml_hardening_problem() or "XML hardening is off in openpyxl")
        )
    with _warnings.catch_warnings():
        # openpyxl warns about unsupported extensions (data validation, conditional formats)
        # that do not matter for reading values.
        _warnings.simplefilter("ignore")
        return openpyxl.load_workbook(p, read_only=True, data_only=True, keep_links=False)


def _openpyxl_raw(p: Path, sheet: str | int | None, fmt: str = "xlsx") -> _Raw:
    wb = _openpyxl_open(p)
    try:
        sheets = [(ws.title, ws.sheet_state == "visible") for ws in wb.worksheets]
        idx = _pick_sheet(p, sheets, sheet)
        ws = wb.worksheets[idx]
        # The stored <dimension> is often stale or missing; iterate what is really there.
        ws.reset_dimensions()
        rows = [row for row in ws.iter_rows(values_only=True)]
        name = sheets[idx][0]
        # openpyxl shows error cells as their text (the shared pipeline counts those); what it
        # cannot show is a formula saved without a value, so only that scan runs here.
        formulas: list[_Err] = []
        if _formula_scan_needed(p, fmt):
            try:
                formulas = _scan_xlsx_formulas(p, name)
            except Exception:  # noqa: BLE001 - the count is a nicety; the data is already read
                formulas = []
        return _Raw(rows=rows, row0=0, col0=0, sheet=name, errors=formulas)
    finally:
        wb.close()


def _workbook_raw(
    p: Path, fmt: str, sheet: str | int | None, engine: str
) -> tuple[_Raw, str, list[str]]:
    warnings: list[str] = []
    if engine == "openpyxl":
        if fmt not in ("xlsx", "xlsm"):
            raise ReadError(
                f"the openpyxl engine reads only .xlsx/.xlsm files; '{_display(p)}' is {fmt}"
            )
        try:
            return _openpyxl_raw(p, sheet, fmt), "openpyxl", warnings
        except ReadError:
            raise
        except BaseException as exc:  # noqa: BLE001 - any parser failure means the file is unusable
            if _fatal(exc):
                raise
            raise _damaged(p, fmt) from None
    try:
        return _calamine_raw(p, fmt, sheet), "calamine", warnings
    except ReadError:
        raise
    except MemoryError:
        raise
    except BaseException as exc:  # noqa: BLE001
        if _fatal(exc):
            raise
        first = exc
    kind = first.kind if isinstance(first, _ParserFailed) else type(first).__name__
    if kind == "PasswordError" or (fmt == "xls" and _is_encrypted_ooxml(p)):
        raise _password(p)
    if fmt in ("xlsx", "xlsm") and engine == "auto":
        try:
            raw = _openpyxl_raw(p, sheet, fmt)
        except ReadError:
            raise
        except BaseException as exc:  # noqa: BLE001
            if _fatal(exc):
                raise
            raise _damaged(p, fmt) from None
        warnings.append(
            f"the fast reader could not open this file ({_one_line(first)}); "
            "it was read with openpyxl instead"
        )
        return raw, "openpyxl", warnings
    raise _damaged(p, fmt) from None


# --------------------------------------------------------------------------------------------
# Text files


def _decode_text(raw: bytes, p: Path, *, partial: bool = False) -> tuple[str, str, int]:
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
                f"cannot read '{_display(p)}': it is neither a spreadsheet nor a text file "
                f"(supported: {', '.join(SUPPORTED_EXTENSIONS)})"
            )
    return text, enc, nul


def _sample_lines(text: str, limit: int = 200) -> list[str]:
    sample = text[: 64 * 1024]
    lines = sample.splitlines()
    if len(text) > len(sample) and lines:
        lines = lines[:-1]  # possibly cut in the middle
    return [ln for ln in lines if ln.strip()][:limit]


def _sniff_delimiter(text: str, fmt: str) -> str:
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


def _uses_decimal_comma(text: str, delimiter: str) -> bool:
    if delimiter != ";":
        return False
    comma = point = 0
    for row in csv.reader(_sample_lines(text), delimiter=delimiter):
        for fld in row:
            f = fld.strip()
            if _DECIMAL_COMMA_RE.match(f):
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


def _text_raw(p: Path, fmt: str) -> tuple[np.ndarray, str, str, bool, list[str]]:
    """Cells (object array, None for missing), encoding, delimiter, decimal comma, warnings."""
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise ReadError(f"cannot read '{_display(p)}': {exc.strerror or exc}") from None
    text, enc, nul = _decode_text(raw, p)
    warnings: list[str] = []
    if enc in ("cp1252", "latin-1"):
        warnings.append(f"the file is not valid UTF-8; it was read as {enc}")
    if nul:
        warnings.append(f"{_plural(nul, 'NUL character')} removed from the file")
    if not text.strip():
        raise ReadError(f"'{_display(p)}' is empty")
    delimiter = _sniff_delimiter(text, fmt)
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
                f"{_plural(longer, 'row')} had more fields than the first row; "
                "the extra values were kept in unnamed columns"
            )
    except pd.errors.EmptyDataError:
        raise ReadError(f"'{_display(p)}' is empty") from None
    except (pd.errors.ParserError, csv.Error, ValueError) as exc:
        raise ReadError(f"cannot read '{_display(p)}' as {fmt.upper()}: {_one_line(exc)}") from None
    # A copy on purpose: for a one-column frame to_numpy() is a read-only view under pandas'
    # copy-on-write, and the next line writes into it.
    cells = np.array(df.to_numpy(dtype=object), dtype=object, order="F")
    cells[pd.isna(cells)] = None
    return cells, enc, delimiter, decimal_comma, warnings


# --------------------------------------------------------------------------------------------
# Shared pipeline: normalise cells, find the header, name and type the columns.


GRID_CHUNK = 65_536


def _to_grid(rows: list) -> np.ndarray:
    """Column-major object array (columns are what later steps walk), None for blank cells."""
    if not rows:
        return np.empty((0, 0), dtype=object)
    # Filled a block of rows at a time, and blanks cleared a column at a time: on a
    # million-row sheet each whole-grid call held the interpreter lock for ~0.4 s.
    width = len(rows[0])
    grid = np.empty((len(rows), width), dtype=object, order="F")
    try:
        if any(len(r) != width for r in rows):
            raise ValueError("ragged")
        for start in range(0, len(rows), GRID_CHUNK):
            grid[start : start + GRID_CHUNK] = rows[start : start + GRID_CHUNK]
    except ValueError:
        # Ragged rows (openpyxl stops each row at its last cell): pad them.
        width = max(len(r) for r in rows)
        grid = np.full((len(rows), width), None, dtype=object, order="F")
        for i, r in enumerate(rows):
            if r:
                grid[i, : len(r)] = r
    for j in range(grid.shape[1]):
        column = grid[:, j]
        column[column == ""] = None
    return grid


_STRINGY_KINDS = frozenset({"string", "mixed", "mixed-integer", "unknown-array", "bytes"})

# Rows at the top are checked cell by cell; below them a column is only searched for blanks
# and error texts when it holds strings at all, which keeps numeric columns free of Python work.
_HEAD_ROWS = 200


def _odd_strings(values) -> tuple[list[str], list[str]]:
    blank_vals: list[str] = []
    error_vals: list[str] = []
    for u in values:
        if type(u) is str and (u[:1].isspace() or u[-1:].isspace() or u[:1] == "#"):
            s = u.strip()
            if not s:
                blank_vals.append(u)
            elif s in _ERROR_SET:
                error_vals.append(u)
    return blank_vals, error_vals


def _normalise(cells: np.ndarray, row0: int, col0: int) -> list[_Err]:
    """Whitespace-only cells become None; error texts become None and are returned."""
    errors: list[_Err] = []
    for j in range(cells.shape[1]):
        col = cells[:, j]
        for part_start, part in ((0, col[:_HEAD_ROWS]), (_HEAD_ROWS, col[_HEAD_ROWS:])):
            if not len(part):
                continue
            if part_start and infer_dtype(part, skipna=True) not in _STRINGY_KINDS:
                continue
            # Judge each distinct value once: columns repeat their categories many times over.
            blank_vals, error_vals = _odd_strings(pd.unique(part) if part_start else part)
            if blank_vals:
                part[pd.Series(part, dtype=object).isin(blank_vals).to_numpy()] = None
            if error_vals:
                hits = np.flatnonzero(pd.Series(part, dtype=object).isin(error_vals).to_numpy())
                for i in hits:
                    errors.append((row0 + part_start + int(i), col0 + j, part[i].strip()))
                part[hits] = None
    return errors


def _row_info(values: np.ndarray, present: np.ndarray) -> tuple[np.ndarray, float]:
    cols = np.flatnonzero(present)
    if len(cols) == 0:
        return cols, 0.0
    texty = sum(1 for v in values[cols] if isinstance(v, str) and _is_texty_string(v))
    return cols, texty / len(cols)


def _find_header(cells: np.ndarray, occupied: np.ndarray) -> tuple[int | None, int]:
    """(grid row of the header or None, grid row where data starts)."""
    nonempty = np.flatnonzero(occupied.any(axis=1))
    if len(nonempty) == 0:
        return None, 0
    rows = nonempty[: _HEADER_SCAN_ROWS + _HEADER_LOOKAHEAD]
    info = [_row_info(cells[r], occupied[r]) for r in rows]

    def title_like(k: int, coverage: float) -> bool:
        return coverage < _HEADER_MIN_COVERAGE and info[k][1] == 1.0

    coverages: list[float] = []
    for i in range(min(_HEADER_SCAN_ROWS, len(rows))):
        cols, share = info[i]
        below = info[i + 1 : i + 1 + _HEADER_LOOKAHEAD]
        used = set(cols.tolist())
        if below:
            used = set()
            for bcols, _ in below:
                used.update(bcols.tolist())
        width = len(used)
        covered = len(used.intersection(cols.tolist()))
        coverage = covered / width if width else 0.0
        coverages.append(coverage)
        wide = coverage >= _HEADER_MIN_COVERAGE and (len(cols) >= 2 or width == 1)
        if wide and below:
            next_cols, next_share = below[0]
            # A wider, mostly-text row right below means this one is preamble
            # ("Prepared by: Bob" or "as of: <date>" above the real header).
            if next_share > 0.5 and len(next_cols) > len(cols):
                continue
        if wide and share > 0.5:
            return int(rows[i]), int(rows[i]) + 1
        if wide:
            # Data reached before any header. Narrow text rows above it are titles.
            for k in range(i + 1):
                if not title_like(k, coverages[k]):
                    return None, int(rows[k])
            return None, int(rows[i])
    return None, int(rows[0])


def _convert_native(col: np.ndarray, present: np.ndarray | None = None) -> tuple[Any, str | None]:
    """Typed column for cell values from a workbook; second item is a note for the report."""
    n = len(col)
    if present is None:
        present = ~pd.isna(col)
    if not present.any():
        return np.full(n, None, dtype=object), None
    vals = col[present]
    kind = infer_dtype(vals, skipna=False)
    if kind == "boolean":
        return pd.array(col, dtype="boolean"), None
    if kind in ("floating", "integer", "mixed-integer-float"):
        return _numeric_column(present, vals, kind, n)
    if kind in ("datetime", "date", "datetime64"):
        try:
            conv = pd.to_datetime(pd.Series(col, dtype=object)).astype("datetime64[ns]")
            return conv.to_numpy(), None
        except (pd.errors.OutOfBoundsDatetime, OverflowError, ValueError, TypeError):
            return _mixed_column(col), "dates outside 1677-2262 were kept as plain values"
    if kind in ("time", "timedelta"):
        out = np.full(n, None, dtype=object)
        if kind == "time":
            out[present] = [v.isoformat() for v in vals]
        else:
            out[present] = [_format_duration(v) for v in vals]
        return pd.array(out, dtype="str"), None
    if kind == "string":
        return pd.array(col, dtype="str"), None
    mixed = _mixed_column(col)
    if infer_dtype(mixed, skipna=True) == "string":
        return pd.array(mixed, dtype="str"), None
    return mixed, None


def _ints_to_array(present: np.ndarray, ints: np.ndarray, n: int) -> Any:
    if present.all():
        return ints.astype(np.int64, copy=False)
    full = np.zeros(n, dtype=np.int64)
    full[present] = ints
    return pd.arrays.IntegerArray(full, ~present)


def _numeric_column(present: np.ndarray, vals: np.ndarray, kind: str, n: int) -> tuple[Any, None]:
    if kind == "integer":
        try:
            return _ints_to_array(present, vals.astype(np.int64), n), None
        except OverflowError:
            # Beyond int64: keep the exact Python ints rather than rounding them through float.
            out = np.full(n, None, dtype=object)
            out[present] = vals
            return out, None
    floats = vals.astype(np.float64)
    if (
        np.isfinite(floats).all()
        and (np.abs(floats) <= 2**53).all()
        and (floats == np.trunc(floats)).all()
    ):
        if kind == "mixed-integer-float":
            ints = np.array([int(v) for v in vals], dtype=np.int64)
        else:
            ints = floats.astype(np.int64)
        return _ints_to_array(present, ints, n), None
    full = np.full(n, np.nan)
    full[present] = floats
    return full, None


def _mixed_column(col: np.ndarray) -> np.ndarray:
    # Workbooks store every number as a double and calamine hands dates back as date objects,
    # while openpyxl gives ints and datetimes. Normalising here makes both engines agree and
    # shows whole numbers the way the spreadsheet does. Times of day and durations become text
    # because no pandas dtype holds them the way a spreadsheet shows them.
    out = np.empty(len(col), dtype=object)
    for i, v in enumerate(col):
        t = type(v)
        if t is float and v.is_integer() and abs(v) <= 2**53:
            out[i] = int(v)
        elif t is _dt.date:
            out[i] = _dt.datetime(v.year, v.month, v.day)
        elif t is _dt.time:
            out[i] = v.isoformat()
        elif t is _dt.timedelta:
            out[i] = _format_duration(v)
        else:
            out[i] = v
    return out


def _convert_text(
    col: np.ndarray, present: np.ndarray, decimal_comma: bool
) -> tuple[Any, str | None]:
    """Typed column for string fields from a text file."""
    n = len(col)
    if not present.any():
        return np.full(n, None, dtype=object), None
    # Every decision is taken on the distinct values, then mapped back through the codes: text
    # columns repeat themselves, and the number parser runs in C either way.
    codes, uniq = pd.factorize(col[present])
    uniq = np.asarray(uniq, dtype=object)
    stripped = [u.strip() for u in uniq]
    candidates = stripped
    if decimal_comma and all(_DECIMAL_COMMA_FIELD_RE.match(u) for u in stripped):
        candidates = [u.replace(".", "").replace(",", ".") for u in stripped]
    try:
        parsed = pd.to_numeric(np.asarray(candidates, dtype=object))
    except (ValueError, TypeError):
        parsed = None
    if parsed is not None:
        kind = parsed.dtype.kind
        if kind == "i" and not any(_has_leading_zero(u) for u in candidates):
            return _ints_to_array(present, parsed[codes].astype(np.int64), n), None
        if kind == "f":
            full = np.full(n, np.nan)
            full[present] = parsed[codes]
            return full, None
        # Leading zeros (ZIP codes, account numbers) or integers beyond int64: the text is
        # the value.
        return pd.array(col, dtype="str"), None
    lowered = [u.lower() for u in stripped]
    if all(u in _BOOL_WORDS for u in lowered):
        truth = np.array([u == "true" for u in lowered], dtype=bool)
        out = np.full(n, None, dtype=object)
        out[present] = truth[codes]
        return pd.array(out, dtype="boolean"), None
    return pd.array(col, dtype="str"), None


def _has_leading_zero(text: str) -> bool:
    digits = text.lstrip("+-")
    return len(digits) > 1 and digits[0] == "0" and digits[1].isdigit()


@dataclass
class _Built:
    frame: pd.DataFrame
    grid_rows: np.ndarray
    header_row: int | None
    dropped_rows: int
    dropped_cols: int
    warnings: list[str]
    formulas_without_value: int = 0


def _build(
    cells: np.ndarray,
    row0: int,
    col0: int,
    errors: list[_Err],
    *,
    header_row: int | None | str,
    text_mode: bool,
    decimal_comma: bool,
    where: str,
    empty_message: str,
) -> _Built:
    warnings: list[str] = []
    errors = errors + _normalise(cells, row0, col0)
    n_rows, n_cols = cells.shape
    err_mask = np.zeros(cells.shape, dtype=bool)
    placed: list[tuple[int, int, str]] = []
    for r, c, token in errors:
        gr, gc = r - row0, c - col0
        if 0 <= gr < n_rows and 0 <= gc < n_cols:
            err_mask[gr, gc] = True
            cells[gr, gc] = None
            placed.append((gr, gc, token))
    has_value = np.zeros(cells.shape, dtype=bool)
    for j in range(cells.shape[1]):  # a column at a time: no one long hold of the interpreter lock
        has_value[:, j] = ~pd.isna(cells[:, j])
    occupied = has_value | err_mask

    # Trim to the bounding box of what is really there, so that every engine (and the used
    # range a writer happened to record) leads to the same table and counts.
    row_any = occupied.any(axis=1) if cells.size else np.zeros(n_rows, dtype=bool)
    col_any = occupied.any(axis=0) if cells.size else np.zeros(n_cols, dtype=bool)
    if not row_any.any():
        raise ReadError(empty_message)
    r_lo, r_hi = np.flatnonzero(row_any)[[0, -1]]
    c_lo, c_hi = np.flatnonzero(col_any)[[0, -1]]
    cells = cells[r_lo : r_hi + 1, c_lo : c_hi + 1]
    occupied = occupied[r_lo : r_hi + 1, c_lo : c_hi + 1]
    has_value = has_value[r_lo : r_hi + 1, c_lo : c_hi + 1]
    err_mask = err_mask[r_lo : r_hi + 1, c_lo : c_hi + 1]
    placed = [
        (r - r_lo, c - c_lo, t)
        for r, c, t in placed
        if r_lo <= r <= r_hi and c_lo <= c <= c_hi
    ]
    row0 += int(r_lo)
    col0 += int(c_lo)
    n_rows, n_cols = cells.shape

    if header_row == "auto":
        h, start = _find_header(cells, occupied)
        if h is None:
            skipped = int(occupied[:start].any(axis=1).sum())
            if skipped:
                warnings.append(
                    f"{_plural(skipped, 'title row')} above the data "
                    f"{'was' if skipped == 1 else 'were'} skipped"
                )
    elif header_row is None:
        h, start = None, 0
    else:
        h = int(header_row) - 1 - row0
        if not 0 <= h < n_rows:
            raise ReadError(
                f"header row {header_row} is outside the table in {where} "
                f"(it has data on rows {row0 + 1}-{row0 + n_rows})"
            )
        start = h + 1
    if h is not None:
        skipped = int(occupied[:h].any(axis=1).sum())
        if skipped:
            warnings.append(
                f"{_plural(skipped, 'title row')} above the header "
                f"{'was' if skipped == 1 else 'were'} skipped"
            )

    row_has = occupied.any(axis=1)
    data_idx = np.flatnonzero(row_has[start:]) + start
    dropped_rows = (n_rows - start) - len(data_idx) if start < n_rows else 0
    col_has_data = occupied[data_idx].any(axis=0) if len(data_idx) else np.zeros(n_cols, bool)

    if h is not None:
        raw_texts = [_header_text(v) for v in cells[h]]
        header_texts = [_clean_name(t) for t in raw_texts]
        cleaned = [c for t, c in zip(raw_texts, header_texts) if t != c and c]
        if cleaned:
            shown = ", ".join(f"'{c}'" for c in cleaned[:5]) + (" ..." if len(cleaned) > 5 else "")
            warnings.append(
                "invisible characters (zero-width spaces, soft hyphens or byte-order marks) "
                f"were removed from {_plural(len(cleaned), 'column name')}: {shown}"
            )
    else:
        header_texts = [""] * n_cols
    keep = [j for j in range(n_cols) if header_texts[j] or col_has_data[j]]
    dropped_cols = n_cols - len(keep)

    names: list[str] = []
    unnamed: list[str] = []
    for pos, j in enumerate(keep):
        if h is None:
            names.append(f"column {pos + 1}")
        elif header_texts[j]:
            names.append(header_texts[j])
        else:
            label = f"column {col0 + j + 1}" if text_mode else f"column {_col_letter(col0 + j)}"
            names.append(label)
            unnamed.append(label)
    if h is None:
        if header_row == "auto":
            warnings.append(
                f"no header row found; columns were named 'column 1' to 'column {len(keep)}'"
                if len(keep) > 1
                else "no header row found; the column was named 'column 1'"
            )
    elif unnamed:
        shown = ", ".join(f"'{u}'" for u in unnamed[:5]) + (" ..." if len(unnamed) > 5 else "")
        warnings.append(
            f"{_plural(len(unnamed), 'column')} without a header "
            f"{'was' if len(unnamed) == 1 else 'were'} named by position: {shown}"
        )
    names, renamed, lookalike = _dedupe(names)
    if renamed:
        shown = ", ".join(f"'{r}'" for r in renamed[:5]) + (" ..." if len(renamed) > 5 else "")
        warnings.append(f"duplicate column names were made unique: {shown}")
    if lookalike:
        shown = ", ".join(f"'{r}'" for r in lookalike[:5]) + (" ..." if len(lookalike) > 5 else "")
        warnings.append(
            "duplicate column names (they differ only in spaces, invisible characters or "
            f"character width) were made unique: {shown}"
        )

    columns: dict[str, Any] = {}
    for name, j in zip(names, keep):
        col = cells[:, j][data_idx]
        present = has_value[:, j][data_idx]
        if text_mode:
            arr, note = _convert_text(col, present, decimal_comma)
        else:
            arr, note = _convert_native(col, present)
        if note:
            warnings.append(f"'{name}': {note}")
        columns[name] = arr
    frame = pd.DataFrame(columns, index=pd.RangeIndex(len(data_idx)))
    if not columns:
        frame = pd.DataFrame(index=pd.RangeIndex(len(data_idx)))

    # Error cells are reported per column, counting only the ones inside the table; formula
    # cells without a value are reported apart, since re-saving the file is what fixes them.
    formulas_without_value = 0
    if placed:
        pos_of_row = {int(g): k for k, g in enumerate(data_idx)}
        name_of_col = dict(zip(keep, names))
        per_col: dict[str, Counter] = {}
        no_value: dict[str, int] = {}
        for gr, gc, token in placed:
            if gr in pos_of_row and gc in name_of_col:
                if token == _NO_VALUE:
                    no_value[name_of_col[gc]] = no_value.get(name_of_col[gc], 0) + 1
                else:
                    per_col.setdefault(name_of_col[gc], Counter())[token] += 1
        if no_value:
            formulas_without_value = sum(no_value.values())
            cols = [n for n in names if n in no_value]
            shown = ", ".join(f"'{c}'" for c in cols[:5]) + (" ..." if len(cols) > 5 else "")
            warnings.append(
                f"{_plural(formulas_without_value, 'formula cell')} "
                f"{'has' if formulas_without_value == 1 else 'have'} no computed value "
                f"(the file was saved by a program that does not calculate formulas) and "
                f"{'was' if formulas_without_value == 1 else 'were'} read as missing in {shown}; "
                "open the file in Excel and save it to store the values"
            )
        for name in names:
            if name in per_col:
                counts = per_col[name]
                total = sum(counts.values())
                kinds = ", ".join(t for t, _ in counts.most_common())
                warnings.append(
                    f"{_plural(total, 'error cell')} ({kinds}) read as missing in '{name}'"
                )

    if h is not None and len(data_idx) == 0:
        warnings.append("the table has a header but no data rows")
    return _Built(
        frame=frame,
        grid_rows=data_idx.astype(np.int64) + row0,
        header_row=(row0 + h + 1) if h is not None else None,
        dropped_rows=int(dropped_rows),
        dropped_cols=int(dropped_cols),
        warnings=warnings,
        formulas_without_value=int(formulas_without_value),
    )


# --------------------------------------------------------------------------------------------
# Public entry points


def _check_header_arg(header_row: Any) -> None:
    if header_row == "auto" or header_row is None:
        return
    if isinstance(header_row, bool) or not isinstance(header_row, (int, np.integer)):
        raise ReadError(f"header row must be a row number, None or 'auto', not {header_row!r}")
    if header_row < 1:
        raise ReadError(
            f"header row must be 1 or more (rows are numbered from 1), not {header_row}"
        )


def _report(
    p: Path,
    fmt: str,
    engine: str,
    sheet: str | None,
    built: _Built,
    warnings: list[str],
    started: float,
    **text_options: Any,
) -> LoadReport:
    return LoadReport(
        path=str(p),
        file_format=fmt,
        engine=engine,
        sheet=sheet,
        header_row=built.header_row,
        rows=len(built.frame),
        columns=[str(c) for c in built.frame.columns],
        dropped_empty_rows=built.dropped_rows,
        dropped_empty_columns=built.dropped_cols,
        warnings=warnings + built.warnings,
        seconds=time.perf_counter() - started,
        formulas_without_value=built.formulas_without_value,
        **text_options,
    )


def _preflight(p: Path) -> tuple[str, list[str]]:
    """Identify the file by its bytes and run the guards; (format, warnings) or ReadError.

    Runs before any parser: lock files, encrypted workbooks, archives that are not workbooks,
    ZIP bombs, DTDs/entities and cell references far enough out to exhaust memory are refused
    here (see :mod:`tui_detector.core.io.guard`).
    """
    name = _display(p)
    head = _read_head(p, 8)
    owner = guard.lock_file_owner(p, head)
    if owner:
        raise ReadError(
            f"'{name}' is the lock file Excel or LibreOffice keeps while '{owner}' is open, "
            f"not a spreadsheet; open '{owner}' itself"
        )
    fmt = detect_format(p)
    warnings: list[str] = []
    if head.startswith(_CFB_MAGIC) and _is_encrypted_ooxml(p):
        raise _password(p)
    if head.startswith(_ZIP_MAGIC) and fmt in _EXCEL_FORMATS:
        problem = guard.xml_hardening_problem()
        if problem:
            raise ReadError(f"cannot read '{name}': {problem}")
        try:
            facts = guard.check_zip(p, fmt)
        except guard.Refused as exc:
            if exc.kind == "password":
                raise _password(p) from None
            if exc.kind == "damaged":
                raise _damaged(p, fmt) from None
            raise ReadError(f"cannot read '{name}': {exc.message}") from None
        lowered = {n.replace("\\", "/").casefold() for n in facts.names}
        if fmt in ("xlsx", "xlsm") and "xl/workbook.xml" not in lowered:
            what = "a Word document" if "word/document.xml" in lowered else (
                "a PowerPoint file" if "ppt/presentation.xml" in lowered else "a ZIP archive"
            )
            raise ReadError(
                f"cannot read '{name}': it is {what}, not an Excel workbook (no xl/workbook.xml)"
            )
        if fmt == "ods" and "content.xml" not in lowered:
            raise _damaged(p, fmt)
        if facts.has_macros:
            warnings.append("the workbook contains macros; they were ignored (never run)")
        if facts.external_links:
            warnings.append(
                f"{_plural(facts.external_links, 'external link')} to other workbooks "
                f"{'was' if facts.external_links == 1 else 'were'} not followed; "
                "the values saved in this file were used"
            )
    elif fmt in _EXCEL_FORMATS and not head.startswith((_ZIP_MAGIC, _CFB_MAGIC)):
        raise _damaged(p, fmt)
    ext = p.suffix.lower()
    if fmt in _TEXT_FORMATS and ext in (".xlsx", ".xlsm", ".xls", ".xlsb", ".ods"):
        warnings.append(
            f"'{name}' is a text file, not a {ext[1:]} workbook; it was read as "
            f"{'tab-separated' if fmt == 'tsv' else 'comma/semicolon-separated'} text"
        )
    return fmt, warnings


def read_table(
    path: Any,
    sheet: str | int | None = None,
    *,
    header_row: int | None | Literal["auto"] = "auto",
    engine: Literal["auto", "calamine", "openpyxl"] = "auto",
    cancel: threading.Event | None = None,
    on_stage: Callable[[str], None] | None = None,
) -> LoadedTable:
    """Read one sheet (or a text file) into a typed DataFrame with a report of what was done.

    Big files are read in a child process (:mod:`.read_child`); setting ``cancel`` stops such
    a read with :class:`ReadCancelled`, and ``on_stage`` hears what it is doing.
    """
    _check_header_arg(header_row)
    done = _read_in_child(path, sheet, header_row=header_row, engine=engine, on_stage=on_stage, cancel=cancel)
    if done is not None:
        return done[1]
    return _read_table_here(path, sheet, header_row=header_row, engine=engine)


def open_table(
    path: Any,
    sheet: str | int | None = None,
    *,
    on_sheets: Callable[[list[SheetInfo]], None] | None = None,
    on_stage: Callable[[str], None] | None = None,
    cancel: threading.Event | None = None,
) -> tuple[list[SheetInfo], LoadedTable]:
    """List the sheets (handed to ``on_sheets`` as soon as known) and read one, as the app does
    when a file is opened. The sheet parsed to learn its size is the one read, not parsed
    twice; big files go to a child process that ``cancel`` stops and whose steps ``on_stage``
    hears."""
    done = _read_in_child(path, sheet, list_sheets=True, on_sheets=on_sheets, on_stage=on_stage, cancel=cancel)
    if done is not None:
        return done[0] or [], done[1]
    try:
        sheets = _list_sheets_keeping(path, sheet)
        if on_sheets is not None:
            on_sheets(sheets)
        if cancel is not None and cancel.is_set():
            raise ReadCancelled(f"reading '{_name_of(path)}' was cancelled")
        return sheets, _read_table_here(path, sheet)
    finally:
        _PARSED.clear()


def _read_in_child(path: Any, sheet: str | int | None, **options: Any) -> tuple[list[SheetInfo] | None, LoadedTable] | None:
    """(sheets, table) read by a child process (:mod:`.read_child`) when the file is big enough
    to want one and one can run here; None means: read it in this process."""
    try:
        p = _check_path(path)
    except ReadError:
        return None  # the in-process read says what is wrong, with the same message
    if not wanted(p):
        return None
    try:
        return read_in_child(p, _display(p), sheet, **options)
    except ReaderUnavailable:
        return None


def _read_table_here(
    path: Any,
    sheet: str | int | None = None,
    *,
    header_row: int | None | Literal["auto"] = "auto",
    engine: Literal["auto", "calamine", "openpyxl"] = "auto",
) -> LoadedTable:
    try:
        with _collector_paused():
            return _read_table(path, sheet, header_row, engine)
    except ReadError:
        raise
    except MemoryError:
        raise ReadError(
            f"cannot read '{_name_of(path)}': it is too large for the available memory"
        ) from None
    except BaseException as exc:  # noqa: BLE001 - the caller shows str(error) in a one-line status
        if _fatal(exc):
            raise
        # Keep the cause chained so a developer still gets the real traceback.
        raise ReadError(f"cannot read '{_name_of(path)}': {_one_line(exc)}") from exc


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """No cyclic garbage collection while a sheet becomes millions of Python objects: each full
    collection walks all of them (0.1-0.4 s apiece on a million-row sheet, several per read),
    holding the interpreter lock, so the app's screen froze while it read. A table holds no
    reference cycles; the collector resumes when the read ends."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _name_of(path: Any) -> str:
    try:
        return _display(Path(os.fspath(path)))
    except TypeError:
        return repr(path)


def _read_table(
    path: Any, sheet: str | int | None, header_row: Any, engine: str
) -> LoadedTable:
    started = time.perf_counter()
    if engine not in ("auto", "calamine", "openpyxl"):
        raise ReadError(f"unknown engine {engine!r}; use 'auto', 'calamine' or 'openpyxl'")
    _check_header_arg(header_row)
    p = _check_path(path)
    _stage("checking the file")
    fmt, pre_warnings = _preflight(p)
    name = _display(p)

    if fmt in _TEXT_FORMATS:
        stem = p.stem
        if sheet is not None and sheet != 0 and sheet != stem:
            raise ReadError(f"'{name}' has no sheet named '{sheet}'; sheets: {stem}")
        _stage("parsing the text")
        parsed = _PARSED.pop((_identity(p), _TEXT_KEY), None) or _text_raw(p, fmt)
        cells, enc, delimiter, decimal_comma, warnings = parsed
        warnings = pre_warnings + warnings
        _stage(f"typing {len(cells):,} rows")
        if delimiter == "\t":
            fmt = "tsv"
        built = _build(
            cells,
            0,
            0,
            [],
            header_row=header_row,
            text_mode=True,
            decimal_comma=decimal_comma,
            where=f"'{name}'",
            empty_message=f"'{name}' has no data",
        )
        report = _report(p, fmt, "csv", None, built, warnings, started, encoding=enc, delimiter=delimiter)
        return LoadedTable(frame=built.frame, report=report, excel_rows=None)

    _stage("reading the cells")
    raw, used_engine, warnings = _workbook_raw(p, fmt, sheet, engine)
    warnings = pre_warnings + warnings
    _stage(f"typing {len(raw.rows):,} rows")
    cells = _to_grid(raw.rows)
    raw.rows = []
    built = _build(
        cells,
        raw.row0,
        raw.col0,
        raw.errors,
        header_row=header_row,
        text_mode=False,
        decimal_comma=False,
        where=f"sheet '{raw.sheet}' of '{name}'",
        empty_message=f"sheet '{raw.sheet}' in '{name}' is empty",
    )
    report = _report(p, fmt, used_engine, raw.sheet, built, warnings, started)
    return LoadedTable(frame=built.frame, report=report, excel_rows=built.grid_rows + 1)


def list_sheets(path: Any) -> list[SheetInfo]:
    """Worksheets in workbook order; a text file is one sheet named after the file."""
    return _list_sheets_guarded(path, _NO_KEEP)


def _list_sheets_keeping(path: Any, sheet: str | int | None) -> list[SheetInfo]:
    """:func:`list_sheets`, keeping the parsed sheet that reading ``sheet`` will want."""
    return _list_sheets_guarded(path, sheet)


def _list_sheets_guarded(path: Any, keep: Any) -> list[SheetInfo]:
    try:
        with _collector_paused():
            return _list_sheets(path, keep)
    except ReadError:
        raise
    except MemoryError:
        raise ReadError(
            f"cannot read '{_name_of(path)}': it is too large for the available memory"
        ) from None
    except BaseException as exc:  # noqa: BLE001 - Rust panics derive from BaseException
        if _fatal(exc):
            raise
        raise ReadError(f"cannot read '{_name_of(path)}': {_one_line(exc)}") from exc


def _list_sheets(path: Any, keep: Any = _NO_KEEP) -> list[SheetInfo]:
    p = _check_path(path)
    _stage("checking the file")
    fmt, _warnings = _preflight(p)
    _stage("parsing the workbook" if fmt in _EXCEL_FORMATS else "parsing the text")
    if fmt in _TEXT_FORMATS:
        parsed = _text_raw(p, fmt)
        if keep is not _NO_KEEP:
            _PARSED.clear()
            _PARSED[(_identity(p), _TEXT_KEY)] = parsed
        cells = parsed[0]
        occupied = ~pd.isna(cells)
        rows = np.flatnonzero(occupied.any(axis=1)) if cells.size else np.empty(0, int)
        cols = np.flatnonzero(occupied.any(axis=0)) if cells.size else np.empty(0, int)
        n_rows = int(rows[-1] - rows[0] + 1) if len(rows) else 0
        n_cols = int(cols[-1] - cols[0] + 1) if len(cols) else 0
        return [SheetInfo(name=p.stem, index=0, rows=n_rows, columns=n_cols, visible=True)]
    if _isolated(fmt):
        try:
            result = _child(p, {"op": "list"})
        except _ParserFailed as exc:
            if exc.kind == "PasswordError" or (fmt == "xls" and _is_encrypted_ooxml(p)):
                raise _password(p) from None
            raise _damaged(p, fmt) from None
        try:
            return [
                SheetInfo(name=str(n), index=i, rows=int(r), columns=int(c), visible=bool(v))
                for i, (n, v, r, c) in enumerate(result["sheets"])
            ]
        except (KeyError, TypeError, ValueError):
            raise ReadError(
                f"cannot read '{_display(p)}': the parser process returned damaged data"
            ) from None
    try:
        wb = _calamine_open(p)
    except BaseException as exc:  # noqa: BLE001
        if _fatal(exc):
            raise
        if type(exc).__name__ == "PasswordError" or (fmt == "xls" and _is_encrypted_ooxml(p)):
            raise _password(p) from None
        if fmt in ("xlsx", "xlsm"):
            return _list_sheets_openpyxl(p, fmt)
        raise _damaged(p, fmt) from None
    try:
        out = []
        sheets = _calamine_sheets(wb)
        kept = None
        if keep is not _NO_KEEP and sheets:
            try:
                kept = sheets[pick_sheet(sheets, keep, _display(p))][0]
            except PickError:
                kept = None  # the read that follows says so
        for i, (name, visible) in enumerate(sheets):
            try:
                ws = wb.get_sheet_by_name(name)
                rows, cols = (ws.height, ws.width) if ws.start is not None else (0, 0)
                if name == kept and fmt in ("xlsx", "xlsm"):
                    _PARSED.clear()
                    _PARSED[(_identity(p), name)] = ws
            except BaseException as exc:  # noqa: BLE001
                if _fatal(exc):
                    raise
                raise _damaged(p, fmt) from None
            out.append(
                SheetInfo(name=name, index=i, rows=int(rows), columns=int(cols), visible=visible)
            )
        return out
    finally:
        try:
            wb.close()
        except Exception:  # noqa: BLE001
            pass


def _list_sheets_openpyxl(p: Path, fmt: str) -> list[SheetInfo]:
    try:
        wb = _openpyxl_open(p)
    except ReadError:
        raise
    except BaseException as exc:  # noqa: BLE001
        if _fatal(exc):
            raise
        raise _damaged(p, fmt) from None
    try:
        out = []
        for i, ws in enumerate(wb.worksheets):
            ws.reset_dimensions()
            rows = [r for r in ws.iter_rows(values_only=True)]
            present = [
                (ri, ci)
                for ri, r in enumerate(rows)
                for ci, v in enumerate(r)
                if v is not None and not (isinstance(v, str) and not v)
            ]
            if present:
                rs = [ri for ri, _ in present]
                cs = [ci for _, ci in present]
                n_rows, n_cols = max(rs) - min(rs) + 1, max(cs) - min(cs) + 1
            else:
                n_rows = n_cols = 0
            out.append(
                SheetInfo(
                    name=ws.title,
                    index=i,
                    rows=n_rows,
                    columns=n_cols,
                    visible=ws.sheet_state == "visible",
                )
            )
        return out
    finally:
        wb.close()


def file_sha256(path: Any) -> str:
    """Hex SHA-256 of the file, read in chunks so large files stay out of memory."""
    p = _check_path(path, allow_empty=True)
    digest = hashlib.sha256()
    try:
        with open(p, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
    except OSError as exc:
        raise ReadError(f"cannot read '{_display(p)}': {exc.strerror or exc}") from None
    return digest.hexdigest()
