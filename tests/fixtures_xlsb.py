"""A minimal .xlsb (BIFF12) writer for tests.

No Python library writes xlsb, and committing binary fixtures is not wanted, so the tests build
the few records a reader needs: a workbook part listing the sheets and one worksheet part per
sheet with rows of number, string, boolean and error cells. Styles and shared strings are left
out; readers treat their absence as "no number formats" and inline strings.
"""

from __future__ import annotations

import struct
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Record types (MS-XLSB 2.3), as the decoded numbers rather than the varint bytes.
BRT_ROW_HDR = 0x00
BRT_CELL_ERROR = 0x03
BRT_CELL_BOOL = 0x04
BRT_CELL_REAL = 0x05
BRT_CELL_ST = 0x06
BRT_BEGIN_SHEET = 0x81
BRT_END_SHEET = 0x82
BRT_BEGIN_BOOK = 0x83
BRT_END_BOOK = 0x84
BRT_BEGIN_BUNDLE_SHS = 0x8F
BRT_END_BUNDLE_SHS = 0x90
BRT_BEGIN_SHEET_DATA = 0x91
BRT_END_SHEET_DATA = 0x92
BRT_WS_DIM = 0x94
BRT_WB_PROP = 0x99
BRT_BUNDLE_SH = 0x9C

ERROR_CODES = {
    "#NULL!": 0x00,
    "#DIV/0!": 0x07,
    "#VALUE!": 0x0F,
    "#REF!": 0x17,
    "#NAME?": 0x1D,
    "#NUM!": 0x24,
    "#N/A": 0x2A,
}


@dataclass(frozen=True)
class ErrorCell:
    """An Excel error value such as '#DIV/0!' (a string would be written as text)."""

    code: str


def _varint(value: int, max_bytes: int) -> bytes:
    out = bytearray()
    for _ in range(max_bytes):
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)
    raise ValueError("value too large for a BIFF12 varint")


def record(typ: int, payload: bytes = b"") -> bytes:
    # Type takes at most 2 varint bytes, size at most 4 (MS-XLSB 2.1.4).
    return _varint(typ, 2) + _varint(len(payload), 4) + payload


def wide_string(text: str) -> bytes:
    data = text.encode("utf-16-le")
    return struct.pack("<I", len(data) // 2) + data


def _cell_prefix(col: int) -> bytes:
    # Cell structure: column, then iStyleRef (24 bits) plus a flags byte.
    return struct.pack("<I", col) + b"\x00\x00\x00\x00"


def _cell(col: int, value: Any) -> bytes:
    if isinstance(value, ErrorCell):
        return record(BRT_CELL_ERROR, _cell_prefix(col) + bytes([ERROR_CODES[value.code]]))
    if isinstance(value, bool):
        return record(BRT_CELL_BOOL, _cell_prefix(col) + bytes([1 if value else 0]))
    if isinstance(value, (int, float)):
        return record(BRT_CELL_REAL, _cell_prefix(col) + struct.pack("<d", float(value)))
    if isinstance(value, str):
        return record(BRT_CELL_ST, _cell_prefix(col) + wide_string(value))
    raise TypeError(f"cannot write {type(value).__name__} to xlsb")


def _row_header(row: int, first_col: int, last_col: int) -> bytes:
    # rw, ixfe, miyRw (height in twips), three flag bytes, then one column span.
    payload = struct.pack("<IIH", row, 0, 300) + b"\x00\x00\x00"
    payload += struct.pack("<III", 1, first_col, last_col)
    return record(BRT_ROW_HDR, payload)


def sheet_part(rows: list[list[Any] | None]) -> bytes:
    filled = [
        (r, [(c, v) for c, v in enumerate(cells) if v is not None])
        for r, cells in enumerate(rows)
        if cells
    ]
    filled = [(r, cells) for r, cells in filled if cells]
    if filled:
        first_row, last_row = filled[0][0], filled[-1][0]
        first_col = min(c for _, cells in filled for c, _ in cells)
        last_col = max(c for _, cells in filled for c, _ in cells)
    else:
        first_row = last_row = first_col = last_col = 0
    out = bytearray()
    out += record(BRT_BEGIN_SHEET)
    out += record(BRT_WS_DIM, struct.pack("<IIII", first_row, last_row, first_col, last_col))
    out += record(BRT_BEGIN_SHEET_DATA)
    for r, cells in filled:
        out += _row_header(r, cells[0][0], cells[-1][0])
        for c, v in cells:
            out += _cell(c, v)
    out += record(BRT_END_SHEET_DATA)
    out += record(BRT_END_SHEET)
    return bytes(out)


def workbook_part(sheets: list[tuple[str, bool]]) -> bytes:
    out = bytearray()
    out += record(BRT_BEGIN_BOOK)
    # BrtWbProp: flags (date1904 off), brtcolor... readers only look at the first flag bit.
    out += record(BRT_WB_PROP, struct.pack("<II", 0, 0) + wide_string(""))
    out += record(BRT_BEGIN_BUNDLE_SHS)
    for i, (name, hidden) in enumerate(sheets, start=1):
        payload = struct.pack("<II", 1 if hidden else 0, i)
        payload += wide_string(f"rId{i}") + wide_string(name)
        out += record(BRT_BUNDLE_SH, payload)
    out += record(BRT_END_BUNDLE_SHS)
    out += record(BRT_END_BOOK)
    return bytes(out)


_BOOK_TYPE = "application/vnd.ms-excel.sheet.binary.macroEnabled.main"
_REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"

_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">\n'
    f'<Default Extension="bin" ContentType="{_BOOK_TYPE}"/>\n'
    '<Default Extension="rels" '
    'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>\n'
    '<Default Extension="xml" ContentType="application/xml"/>\n'
    f'<Override PartName="/xl/workbook.bin" ContentType="{_BOOK_TYPE}"/>\n'
    "{overrides}\n"
    "</Types>"
)

_ROOT_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">\n'
    f'<Relationship Id="rId1" Type="{_REL_NS}/officeDocument" Target="xl/workbook.bin"/>\n'
    "</Relationships>"
)

_WORKSHEET_REL = (
    '<Relationship Id="rId{i}" Type="' + _REL_NS + '/worksheet" Target="worksheets/sheet{i}.bin"/>'
)


def write_xlsb(path: Path | str, sheets: list[tuple[str, list[list[Any] | None], bool]]) -> Path:
    """Write ``sheets`` as (name, rows, hidden); rows are lists of cells, None for blanks."""
    path = Path(path)
    overrides = "\n".join(
        f'<Override PartName="/xl/worksheets/sheet{i}.bin" '
        'ContentType="application/vnd.ms-excel.worksheet"/>'
        for i in range(1, len(sheets) + 1)
    )
    rels = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">\n'
        + "\n".join(_WORKSHEET_REL.format(i=i) for i in range(1, len(sheets) + 1))
        + "\n</Relationships>"
    )
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml", _CONTENT_TYPES.format(overrides=overrides))
        zf.writestr("_rels/.rels", _ROOT_RELS)
        zf.writestr("xl/workbook.bin", workbook_part([(n, h) for n, _, h in sheets]))
        zf.writestr("xl/_rels/workbook.bin.rels", rels)
        for i, (_, rows, _) in enumerate(sheets, start=1):
            zf.writestr(f"xl/worksheets/sheet{i}.bin", sheet_part(rows))
    return path
