"""Error cells and formula cells without a computed value, found in the file itself.

python-calamine returns Excel error cells as "" (indistinguishable from blank cells), and every
engine reads a formula saved without its value as blank; only the file's own bytes tell those
apart from missing data. Each scanner takes the path and a sheet name and returns positions;
the reader runs it next to the main parse.
"""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

from .guard import package

__all__ = [
    "ERROR_TOKENS",
    "ERROR_SET",
    "ERROR_SCANNERS",
    "Err",
    "NO_VALUE",
    "ods_errors",
    "xls_errors",
    "xlsb_errors",
    "xlsx_errors",
    "xlsx_formulas",
]

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
ERROR_SET = frozenset(ERROR_TOKENS)

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

Err = tuple[int, int, str]  # 0-based sheet row, 0-based sheet column, error text


def _ref_to_rc(ref: bytes) -> tuple[int, int] | None:
    m = re.match(rb"([A-Za-z]{1,3})(\d+)$", ref)
    if not m:
        return None
    col = 0
    for ch in m.group(1).upper():
        col = col * 26 + (ch - 64)
    return int(m.group(2)) - 1, col - 1


def _xlsx_sheet_part(zf: zipfile.ZipFile, sheet_name: str) -> str | None:
    # Found through the package's relationships: the workbook need not be xl/workbook.xml.
    return package.sheet_part(zf, package.read_package(zf), sheet_name)


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


def xlsx_errors(path: Path, sheet_name: str) -> list[Err]:
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
    out: list[Err] = []
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
NO_VALUE = "\0no computed value"  # token in the Err list; never a real Excel error text
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


def xlsx_formulas(path: Path, sheet_name: str) -> list[Err]:
    """Positions of formula cells in one xlsx sheet that hold no computed value."""
    with zipfile.ZipFile(path) as zf:
        part = _xlsx_sheet_part(zf, sheet_name)
        if part is None:
            return []
        out: list[Err] = []
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
                        out.append((rc[0], rc[1], NO_VALUE))
                if not chunk:
                    break
    return out


_XLS_ERR_HINT = re.compile(
    rb"\x05\x02\x08\x00.{6}[\x00\x07\x0f\x17\x1d\x24\x2a]\x01"  # BOOLERR holding an error
    rb"|\x02.[\x00\x07\x0f\x17\x1d\x24\x2a].{3}\xff\xff",  # FORMULA whose result is an error
    re.DOTALL,
)


def xls_errors(path: Path, sheet_name: str) -> list[Err]:
    raw = path.read_bytes()
    if not _XLS_ERR_HINT.search(raw):
        return []
    import xlrd

    book = xlrd.open_workbook(file_contents=raw, on_demand=True, logfile=io.StringIO())
    try:
        sh = book.sheet_by_name(sheet_name)
        out: list[Err] = []
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


def xlsb_errors(path: Path, sheet_name: str) -> list[Err]:
    with zipfile.ZipFile(path) as zf:
        part = _xlsb_sheet_part(zf, sheet_name)
        if part is None:
            return []
        data = zf.read(part)
    # The record walk is Python-speed, so only files that plausibly hold an error pay for it.
    if not _XLSB_ERR_HINT.search(data):
        return []
    out: list[Err] = []
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


def ods_errors(path: Path, sheet_name: str) -> list[Err]:
    with zipfile.ZipFile(path) as zf:
        data = zf.read("content.xml")
    # LibreOffice marks formula errors with calcext:value-type="error" and an empty string value.
    if b'value-type="error"' not in data:
        return []
    from defusedxml import ElementTree as SafeET

    t_ns = "{urn:oasis:names:tc:opendocument:xmlns:table:1.0}"
    calc_ns = "{urn:org:documentfoundation:names:experimental:calc:xmlns:calcext:1.0}"
    out: list[Err] = []
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
                    token = text if text in ERROR_SET else "#N/A"
                    for k in range(min(rep, 16384)):
                        out.append((row, start_col + k, token))
    return out


ERROR_SCANNERS = {
    "xlsx": xlsx_errors,
    "xlsm": xlsx_errors,
    "xls": xls_errors,
    "xlsb": xlsb_errors,
    "ods": ods_errors,
}
