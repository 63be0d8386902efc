"""Hand-built spreadsheet files for the hostile-input tests: each part can be made hostile.

Every file is generated, nothing binary is committed. Shared by tests/core/test_hostile.py,
tests/ui/test_hostile_text.py and benchmarks/odd_files.py.
"""

from __future__ import annotations

import struct
import zipfile
from pathlib import Path

# The compound-file (OLE2) signature: the first eight bytes of every .xls and encrypted .xlsx.
CFB_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


CT = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    "</Types>"
)
RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/>'
    "</Relationships>"
)
WB = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
    'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
    '<sheets><sheet name="S" sheetId="1" r:id="rId1"/></sheets></workbook>'
)
WB_RELS_HEAD = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/>'
)
BASE_ROWS = (
    '<row r="1"><c r="A1" t="inlineStr"><is><t>a</t></is></c>'
    '<c r="B1" t="inlineStr"><is><t>b</t></is></c></row>'
    '<row r="2"><c r="A2"><v>1</v></c><c r="B2"><v>2</v></c></row>'
    '<row r="3"><c r="A3"><v>3</v></c><c r="B3"><v>4</v></c></row>'
)


def sheet_xml(rows: str = BASE_ROWS, *, dim: str | None = None, extra: str = "", prolog: str = "") -> bytes:
    d = f'<dimension ref="{dim}"/>' if dim else ""
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        + prolog
        + '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        + d
        + "<sheetData>"
        + rows
        + "</sheetData>"
        + extra
        + "</worksheet>"
    ).encode("utf-8")


def raw_xlsx(
    path: Path,
    sheet: bytes | None = None,
    *,
    members: dict[str, bytes | str] | None = None,
    rels_extra: str = "",
    compression: int = zipfile.ZIP_DEFLATED,
) -> Path:
    """A minimal workbook written member by member, so each part can be made hostile."""
    parts: dict[str, bytes | str] = {
        "[Content_Types].xml": CT,
        "_rels/.rels": RELS,
        "xl/workbook.xml": WB,
        "xl/_rels/workbook.xml.rels": WB_RELS_HEAD + rels_extra + "</Relationships>",
        "xl/worksheets/sheet1.xml": sheet if sheet is not None else sheet_xml(),
    }
    parts.update(members or {})
    with zipfile.ZipFile(path, "w", compression) as zf:
        for name, data in parts.items():
            zf.writestr(name, data)
    return path


def write_xlsx(path: Path, sheets: dict[str, list[list]], **kw) -> Path:
    import openpyxl

    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for name, rows in sheets.items():
        ws = wb.create_sheet(name)
        for r, row in enumerate(rows, start=1):
            for c, value in enumerate(row, start=1):
                if value is not None:
                    ws.cell(row=r, column=c, value=value)
        if name in kw.get("hidden", ()):
            ws.sheet_state = "hidden"
        if kw.get("protect"):
            ws.protection.sheet = True
            ws.protection.password = "secret"
        for rng in kw.get("merge", ()):
            ws.merge_cells(rng)
    if kw.get("epoch1904"):
        from openpyxl.utils.datetime import CALENDAR_MAC_1904

        wb.epoch = CALENDAR_MAC_1904
    if kw.get("chartsheet"):
        wb.create_chartsheet("Chart")
    wb.save(path)
    return path


def write_xls(path: Path, rows: list[list]) -> Path:
    import xlwt

    wb = xlwt.Workbook()
    ws = wb.add_sheet("S")
    for r, row in enumerate(rows):
        for c, v in enumerate(row):
            if v is not None:
                ws.write(r, c, v)
    wb.save(str(path))
    return path


def cfb(streams: dict[str, bytes]) -> bytes:
    """A minimal, valid compound file (OLE2) holding small streams (in regular sectors)."""
    ssize = 512
    names = list(streams)
    data_sectors: list[bytes] = []
    starts = []
    chains: list[int] = []
    for name in names:
        blob = streams[name]
        n = max(1, -(-len(blob) // ssize))
        starts.append(len(data_sectors) + 2)  # sector 0: FAT, sector 1: directory
        for k in range(n):
            data_sectors.append(blob[k * ssize : (k + 1) * ssize].ljust(ssize, b"\0"))
            chains.append(len(data_sectors) + 2 if k < n - 1 else 0xFFFFFFFE)
    fat = [0xFFFFFFFD, 0xFFFFFFFE] + chains
    fat += [0xFFFFFFFF] * (128 - len(fat))

    def entry(name: str, typ: int, start: int, size: int, child: int = 0xFFFFFFFF, right: int = 0xFFFFFFFF) -> bytes:
        raw = name.encode("utf-16-le") + b"\0\0"
        e = raw.ljust(64, b"\0") + struct.pack("<HBB", len(raw), typ, 1)
        e += struct.pack("<III", 0xFFFFFFFF, right, child) + bytes(16) + bytes(4) + bytes(16)
        e += struct.pack("<IQ", start, size)
        return e.ljust(128, b"\0")

    entries = [entry("Root Entry", 5, 0xFFFFFFFE, 0, child=1)]
    for i, name in enumerate(names):
        # Oversized streams keep this simple: every stream lives in regular sectors
        # (real files put small ones in the mini stream; readers accept either for >= 4096).
        entries.append(
            entry(name, 2, starts[i], max(len(streams[name]), 4096),
                  right=(i + 2) if i + 1 < len(names) else 0xFFFFFFFF)
        )
    directory = b"".join(entries).ljust(ssize, b"\0")
    header = bytearray(512)
    header[0:8] = CFB_MAGIC
    struct.pack_into("<HHHH", header, 0x18, 0x3E, 3, 0xFFFE, 9)
    struct.pack_into("<H", header, 0x20, 6)
    struct.pack_into("<IIIIIIII", header, 0x28, 0, 1, 1, 0, 4096, 0xFFFFFFFE, 0, 0xFFFFFFFE)
    struct.pack_into("<I", header, 0x48, 0)
    struct.pack_into("<I", header, 0x4C, 0)
    for i in range(1, 109):
        struct.pack_into("<I", header, 0x4C + 4 * i, 0xFFFFFFFF)
    return bytes(header) + struct.pack("<128I", *fat) + directory + b"".join(data_sectors)


FAR_ROWS = BASE_ROWS + '<row r="900000"><c r="XFD900000"><v>1</v></c></row>'
