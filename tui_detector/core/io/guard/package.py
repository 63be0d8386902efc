"""Where an OOXML package keeps its workbook and worksheets, found the way OPC says.

Excel writes ``xl/workbook.xml`` and ``xl/worksheets/``, but the package format only promises
the officeDocument relationship in ``_rels/.rels``; other writers put the workbook elsewhere
(``wb/book.xml``, sheets in another folder). Every step that looks for a part asks here, so
the format check, the grid bound and the cell scans agree on which members are the workbook's.

Relationship parts are parsed with defusedxml and read bounded: they are small in every real
file, and a DTD in one is refused like anywhere else.
"""

from __future__ import annotations

import posixpath
import zipfile
from dataclasses import dataclass

from defusedxml import ElementTree as SafeET
from defusedxml.common import DefusedXmlException

from .xmlparts import refuse_dtd

__all__ = ["DEFAULT_WORKBOOK", "Package", "read_package", "rels_part", "resolve_target", "sheet_part"]

DEFAULT_WORKBOOK = "xl/workbook.xml"
#: A relationship part larger than this is not something a writer produces; it is ignored
#: (the defaults are used) rather than parsed.
_MAX_RELS = 4 << 20
_OFFICE_DOC = "/officeDocument"  # the tail of the transitional and strict type URIs
_SHEET_TYPES = ("/worksheet", "/chartsheet", "/dialogsheet", "/xlMacrosheet")
_MAIN_NS = (
    "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}",
    "{http://purl.oclc.org/ooxml/spreadsheetml/main}",
)
_REL_ID = (
    "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id",
    "{http://purl.oclc.org/ooxml/officeDocument/relationships}id",
)


@dataclass(frozen=True)
class Package:
    """The members of an OOXML package that hold its workbook, as the relationships name them."""

    #: the workbook part's member name (None when the package names none that exists)
    workbook: str | None
    #: relationship id -> member, for the workbook's sheet-like parts (worksheets, chartsheets)
    sheets: dict[str, str]


def rels_part(part: str) -> str:
    """The relationship part of ``part``: ``a/b.xml`` -> ``a/_rels/b.xml.rels``."""
    folder, base = posixpath.split(part)
    return posixpath.join(folder, "_rels", base + ".rels")


def resolve_target(source: str, target: str) -> str:
    """The member a relationship of ``source`` points at (absolute, or relative to its folder)."""
    target = target.replace("\\", "/").split("#", 1)[0]
    if target.startswith("/"):
        joined = target
    else:
        joined = posixpath.join("/", posixpath.dirname(source), target)
    return posixpath.normpath(joined).lstrip("/")


def _members(zf: zipfile.ZipFile) -> dict[str, str]:
    # Part names are case-insensitive in OPC; zip member names are not.
    return {i.filename.replace("\\", "/").lstrip("/").casefold(): i.filename for i in zf.infolist()}


def _relationships(zf: zipfile.ZipFile, members: dict[str, str], rels: str) -> list[tuple[str, str, str]]:
    """(id, type, target) of each relationship in member ``rels``; empty when it is missing."""
    real = members.get(rels.casefold())
    if real is None:
        return []
    info = zf.getinfo(real)
    if info.file_size > _MAX_RELS:
        return []
    try:
        root = SafeET.fromstring(zf.read(info))
    except DefusedXmlException:
        refuse_dtd()
    except (SafeET.ParseError, ValueError):
        return []  # the parser will say the package is damaged
    out = []
    for el in root.iter():
        if el.tag.endswith("Relationship") and el.get("TargetMode", "Internal") != "External":
            out.append((el.get("Id") or "", el.get("Type") or "", el.get("Target") or ""))
    return out


def read_package(zf: zipfile.ZipFile) -> Package:
    """Find the workbook through ``_rels/.rels`` (falling back to ``xl/workbook.xml``) and its
    sheets through the workbook's own relationships."""
    members = _members(zf)
    workbook = None
    for _id, typ, target in _relationships(zf, members, "_rels/.rels"):
        if typ.endswith(_OFFICE_DOC):
            found = members.get(resolve_target("", target).casefold())
            if found is not None:
                workbook = found
                break
    if workbook is None:
        workbook = members.get(DEFAULT_WORKBOOK)
    sheets: dict[str, str] = {}
    if workbook is not None:
        for rid, typ, target in _relationships(zf, members, rels_part(workbook)):
            if typ.endswith(_SHEET_TYPES):
                found = members.get(resolve_target(workbook, target).casefold())
                if found is not None:
                    sheets[rid] = found
    return Package(workbook=workbook, sheets=sheets)


def sheet_part(zf: zipfile.ZipFile, package: Package, sheet_name: str) -> str | None:
    """The member holding the sheet called ``sheet_name`` in an xlsx/xlsm workbook."""
    if package.workbook is None or not package.workbook.casefold().endswith(".xml"):
        return None
    book = SafeET.fromstring(zf.read(package.workbook))
    for el in book.iter():
        if el.tag in tuple(ns + "sheet" for ns in _MAIN_NS) + ("sheet",) and el.get("name") == sheet_name:
            for attr in _REL_ID:
                rid = el.get(attr)
                if rid is not None:
                    return package.sheets.get(rid)
            return None
    return None
