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


# ------------------------------------------------------------------------------------------
# Benign but unusual packages: valid files written by real writers, then rearranged the way
# other producers arrange them.

OFFICE_DOC_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument"


def relocate_xlsx(src: Path, dst: Path, *, book: str = "wb/book.xml", sheets: str = "data") -> Path:
    """``src`` with its workbook part at ``book`` (its relationships beside it, in ``_rels``),
    every worksheet in folder ``sheets`` and the other xl/ parts under the workbook's folder:
    found only through ``_rels/.rels``, as OPC allows."""
    import posixpath
    import re

    book_dir = posixpath.dirname(book)
    with zipfile.ZipFile(src) as zin:
        members = {n: zin.read(n) for n in zin.namelist()}
    moves = {
        "xl/workbook.xml": book,
        "xl/_rels/workbook.xml.rels": posixpath.join(book_dir, "_rels", posixpath.basename(book) + ".rels"),
    }
    for n in members:
        if n in moves or not n.startswith("xl/"):
            continue
        if n.startswith("xl/worksheets/") and n.count("/") == 2:
            moves[n] = f"{sheets}/{n.rsplit('/', 1)[1]}"
        elif n.startswith("xl/worksheets/_rels/"):
            moves[n] = f"{sheets}/_rels/{n.rsplit('/', 1)[1]}"
        else:
            moves[n] = posixpath.join(book_dir, n[3:])
    # Every relationship target, written absolute so each points at its part's new place.
    def retarget(owner: str, data: bytes) -> bytes:
        base = posixpath.dirname(posixpath.dirname(owner))

        def fix(m: re.Match) -> bytes:
            target = m.group(1).decode()
            if m.group(0).find(b'TargetMode="External"') >= 0 or "://" in target:
                return m.group(0)
            old = target.lstrip("/") if target.startswith("/") else posixpath.normpath(posixpath.join(base, target))
            return m.group(0).replace(m.group(1), ("/" + moves.get(old, old)).encode())

        return re.sub(rb'<Relationship\b[^>]*?Target="([^"]*)"[^>]*>', fix, data)

    with zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for n, data in members.items():
            if n.endswith(".rels"):
                data = retarget(n, data)
            elif n == "[Content_Types].xml":
                for old, new in moves.items():
                    data = data.replace(f'"/{old}"'.encode(), f'"/{new}"'.encode())
            zout.writestr(moves.get(n, n), data)
    return dst


def add_members(src: Path, dst: Path, members: dict[str, bytes | str]) -> Path:
    """A copy of the package ``src`` with ``members`` added (or replaced)."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            if info.filename not in members:
                zout.writestr(info, zin.read(info))
        for name, data in members.items():
            zout.writestr(name, data)
    return dst


def custom_xml_item(encoding: str = "utf-8") -> bytes:
    """A Power Query style ``customXml/item1.xml``, in UTF-8 or UTF-16 (with its BOM and a
    matching declaration, as Excel writes it)."""
    text = (
        f'<?xml version="1.0" encoding="{encoding.upper()}"?>'
        '<DataMashup xmlns="http://schemas.microsoft.com/DataMashup">AAAAAEQCAABQSwME</DataMashup>'
    )
    return text.encode("utf-16") if encoding.lower() == "utf-16" else text.encode("utf-8")


def encrypt_ods(src: Path, dst: Path, seed: int = 0) -> Path:
    """``src`` as LibreOffice saves it with a password: the manifest lists ``encryption-data``
    for each XML part, and those parts are ciphertext (random bytes here)."""
    import random

    rng = random.Random(seed)
    secret = ("content.xml", "styles.xml", "meta.xml", "settings.xml")
    entries = []
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            name = info.filename
            if name == "META-INF/manifest.xml":
                continue
            data = zin.read(info)
            if name in secret:
                data = bytes(rng.getrandbits(8) for _ in range(len(data)))
                entries.append(
                    f'<manifest:file-entry manifest:full-path="{name}" manifest:media-type="text/xml" '
                    f'manifest:size="{len(data)}"><manifest:encryption-data '
                    'manifest:checksum-type="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0#sha256-1k" '
                    'manifest:checksum="AAAA"><manifest:algorithm '
                    'manifest:algorithm-name="http://www.w3.org/2001/04/xmlenc#aes256-cbc" '
                    'manifest:initialisation-vector="AAAA"/><manifest:key-derivation '
                    'manifest:key-derivation-name="PBKDF2" manifest:key-size="32" '
                    'manifest:iteration-count="100000" manifest:salt="AAAA"/>'
                    "</manifest:encryption-data></manifest:file-entry>"
                )
            compress = zipfile.ZIP_STORED if name == "mimetype" else zipfile.ZIP_DEFLATED
            zout.writestr(name, data, compress_type=compress)
        zout.writestr(
            "META-INF/manifest.xml",
            '<?xml version="1.0" encoding="UTF-8"?>'
            '<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" '
            'manifest:version="1.2"><manifest:file-entry manifest:full-path="/" '
            'manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/>'
            + "".join(entries)
            + "</manifest:manifest>",
        )
    return dst


_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
#: Parts real workbooks carry that no table reader parses: (part name, content type, the
#: workbook relationship's type, the bytes). The VBA project is an opaque compound file.
PACKAGE_PARTS = {
    "pivot_cache": [
        (
            "xl/pivotCache/pivotCacheDefinition1.xml",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.pivotCacheDefinition+xml",
            f"{_REL}/pivotCacheDefinition",
            f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<pivotCacheDefinition xmlns="{_MAIN}" '
            f'xmlns:r="{_REL}" r:id="rId1" refreshOnLoad="1" recordCount="2"><cacheSource type="worksheet">'
            '<worksheetSource ref="A1:C3" sheet="Data"/></cacheSource><cacheFields count="1">'
            '<cacheField name="id" numFmtId="0"><sharedItems containsNumber="1" minValue="1" maxValue="2"/>'
            "</cacheField></cacheFields></pivotCacheDefinition>",
        ),
        (
            "xl/pivotCache/pivotCacheRecords1.xml",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.pivotCacheRecords+xml",
            None,
            f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<pivotCacheRecords xmlns="{_MAIN}" count="2">'
            '<r><n v="1"/></r><r><n v="2"/></r></pivotCacheRecords>',
        ),
    ],
    "vba": [
        (
            "xl/vbaProject.bin",
            "application/vnd.ms-office.vbaProject",
            "http://schemas.microsoft.com/office/2006/relationships/vbaProject",
            None,  # built by vba_project()
        ),
    ],
    "external_link": [
        (
            "xl/externalLinks/externalLink1.xml",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.externalLink+xml",
            f"{_REL}/externalLink",
            f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<externalLink xmlns="{_MAIN}" xmlns:r="{_REL}">'
            '<externalBook r:id="rId1"><sheetNames><sheetName val="Rates"/></sheetNames></externalBook></externalLink>',
        ),
        (
            "xl/externalLinks/_rels/externalLink1.xml.rels",
            None,
            None,
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            f'<Relationship Id="rId1" Type="{_REL}/externalLinkPath" Target="file:///C:/finance/rates.xlsx" '
            'TargetMode="External"/></Relationships>',
        ),
    ],
}


def vba_project(seed: int = 0) -> bytes:
    """What a macro workbook's ``vbaProject.bin`` is to a table reader: a compound file of
    opaque streams (random bytes here; never run, never parsed)."""
    import random

    rng = random.Random(seed)
    blob = lambda n: bytes(rng.getrandbits(8) for _ in range(n))  # noqa: E731
    return cfb({"PROJECT": b'ID="{00000000-0000-0000-0000-000000000000}"\r\nModule=Module1\r\n', "dir": blob(900), "Module1": blob(3000)})


def with_package_parts(src: Path, dst: Path, kinds) -> Path:
    """A copy of the xlsx package ``src`` carrying the ``kinds`` of :data:`PACKAGE_PARTS`, each
    declared in ``[Content_Types].xml`` and related from the workbook as Excel relates them.
    With ``vba`` the workbook's own content type becomes the macro-enabled one (an .xlsm)."""
    import re

    with zipfile.ZipFile(src) as zin:
        members = {n: zin.read(n) for n in zin.namelist()}
    types = members["[Content_Types].xml"].decode("utf-8")
    rels_name = "xl/_rels/workbook.xml.rels"
    rels = members[rels_name].decode("utf-8")
    for n, kind in enumerate(sorted(kinds)):
        for i, (name, content_type, rel_type, data) in enumerate(PACKAGE_PARTS[kind]):
            members[name] = vba_project() if data is None else data.encode("utf-8")
            if content_type:
                types = types.replace("</Types>", f'<Override PartName="/{name}" ContentType="{content_type}"/></Types>')
            if rel_type:
                target = name.removeprefix("xl/")
                rels = rels.replace(
                    "</Relationships>",
                    f'<Relationship Id="rIdExtra{n}{i}" Type="{rel_type}" Target="{target}"/></Relationships>',
                )
    if "vba" in kinds:
        types = re.sub(
            r'(PartName="/xl/workbook.xml" ContentType=")[^"]*"',
            r'\1application/vnd.ms-excel.sheet.macroEnabled.main+xml"',
            types,
        )
    members["[Content_Types].xml"] = types.encode("utf-8")
    members[rels_name] = rels.encode("utf-8")
    with zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for name, data in members.items():
            zout.writestr(name, data)
    return dst


def odfpy_sheet(path: Path, header: list[str], rows: list[list], *, repeated_blank: bool = False) -> Path:
    """An .ods written cell by cell with odfpy, as LibreOffice-style writers do: typed cells
    (``office:value-type``), text in ``text:p``; with ``repeated_blank``, a trailing run of
    empty cells and rows given as ``number-columns/rows-repeated``, as LibreOffice saves them."""
    from odf.opendocument import OpenDocumentSpreadsheet
    from odf.table import Table, TableCell, TableRow
    from odf.text import P

    doc = OpenDocumentSpreadsheet()
    table = Table(name="Data")

    def cell(value):
        if isinstance(value, bool) or value is None:
            return TableCell()
        if isinstance(value, (int, float)):
            c = TableCell(valuetype="float", value=value)
            c.addElement(P(text=str(value)))
            return c
        c = TableCell(valuetype="string")
        c.addElement(P(text=str(value)))
        return c

    for values in [header, *rows]:
        tr = TableRow()
        for v in values:
            tr.addElement(cell(v))
        if repeated_blank:
            tr.addElement(TableCell(numbercolumnsrepeated=1000))
        table.addElement(tr)
    if repeated_blank:
        tail = TableRow(numberrowsrepeated=100000)
        tail.addElement(TableCell(numbercolumnsrepeated=1024))
        table.addElement(tail)
    doc.spreadsheet.addElement(table)
    doc.save(str(path))
    return path


# --------------------------------------------------------------------------------------------
# Parquet, JSON and SQLite files for the format tests (tests/core/test_reader_formats*.py)


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        low, value = value & 0x7F, value >> 7
        if value:
            out.append(low | 0x80)
        else:
            out.append(low)
            return bytes(out)


def parquet_claiming_rows(path: Path, claimed: int, real_rows: int = 300) -> Path:
    """A valid Parquet file of ``real_rows`` rows whose footer claims ``claimed`` rows (the
    file's, its row group's and its column chunks' counts all rewritten).

    The footer is Thrift compact: an i64 field right after the one before it is the byte 0x16
    and a zigzag varint. ``real_rows`` is chosen so that its varint appears only as a count."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"a": list(range(real_rows)), "b": [f"x{i}" for i in range(real_rows)]}), str(path))
    raw = path.read_bytes()
    length = struct.unpack("<i", raw[-8:-4])[0]
    footer = raw[-8 - length : -8]
    old, new = b"\x16" + _varint(2 * real_rows), b"\x16" + _varint(2 * claimed)
    assert footer.count(old) >= 2, "the row count was not found in the footer"
    footer = footer.replace(old, new)
    path.write_bytes(raw[: -8 - length] + footer + struct.pack("<i", len(footer)) + b"PAR1")
    return path


def sqlite_file(path: Path, script: str) -> Path:
    """A database made by running ``script`` (several statements) on a new file."""
    import sqlite3

    con = sqlite3.connect(str(path))
    try:
        con.executescript(script)
        con.commit()
    finally:
        con.close()
    return path


def sqlite_many_tables(path: Path, n: int) -> Path:
    """``n`` small tables t0000, t0001, ... of three rows each."""
    parts = ["BEGIN;"]
    for i in range(n):
        parts.append(f"CREATE TABLE t{i:04d} (a INTEGER, b TEXT); INSERT INTO t{i:04d} VALUES (1, 'x'), (2, 'y'), ({i}, 'z');")
    parts.append("COMMIT;")
    return sqlite_file(path, "\n".join(parts))


def big_json_line(path: Path, megabytes: int, *, lines: bool) -> Path:
    """One record whose text value makes the line ``megabytes`` MiB long, written a MiB at a time."""
    chunk = b"x" * (1 << 20)
    with open(path, "wb") as fh:
        fh.write(b'[{"id": 1, "note": "' if not lines else b'{"id": 1, "note": "')
        for _ in range(megabytes):
            fh.write(chunk)
        fh.write(b'"}]' if not lines else b'"}\n')
    return path
