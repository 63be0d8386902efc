"""The archive of an xlsx/xlsm/xlsb/ods file, checked before a parser opens it.

A zip of 200 MB of XML fits in 200 KB, so :func:`check_zip` looks at the archive itself: member
count, names (duplicates would let us check one member while the parser reads another), total
and per-member expanded size and compression ratio, encrypted members; then at the start of
every XML part (:mod:`.xmlparts`), and for xlsx/xlsm it bounds every worksheet's grid
(:mod:`.dimensions`).
"""

from __future__ import annotations

import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from . import package
from .dimensions import refuse_oversized, scan_sheet
from .refusal import Refused
from .xmlparts import HEAD_BYTES, check_xml_head

__all__ = [
    "MAX_MEMBERS", "MAX_RATIO", "MAX_UNCOMPRESSED", "RATIO_FLOOR", "ZipFacts", "check_zip",
    "facts_from_wire", "facts_to_wire",
]

#: Sum of the expanded sizes of all archive members.
MAX_UNCOMPRESSED = 4 * 1024**3
MAX_MEMBERS = 10_000
#: Members that expand to more than RATIO_FLOOR bytes may not compress better than this.
MAX_RATIO = 100
RATIO_FLOOR = 16 * 1024**2


@dataclass
class ZipFacts:
    """What the pre-check learnt about an archive, for the reader to use instead of looking again."""

    names: list[str]
    has_macros: bool = False
    external_links: int = 0
    #: worksheet member -> whether it holds cells typed as errors (t="e")
    error_hint: dict[str, bool] = field(default_factory=dict)
    #: worksheet member -> whether it may hold formula cells saved without a computed value
    #: (a formula element ending right before the cell does, or before an empty <v>); only
    #: those sheets get the reader's exact search
    formula_hint: dict[str, bool] = field(default_factory=dict)
    #: worksheet member -> (largest 1-based row, largest 1-based column) referenced
    extents: dict[str, tuple[int, int]] = field(default_factory=dict)
    #: the workbook part of an xlsx/xlsm package, as its relationships name it (None: none)
    workbook_part: str | None = None


def facts_to_wire(facts: ZipFacts) -> dict:
    """The facts as JSON data, for the reader process that did not scan the file itself."""
    return {
        "names": list(facts.names),
        "has_macros": bool(facts.has_macros),
        "external_links": int(facts.external_links),
        "error_hint": {str(k): bool(v) for k, v in facts.error_hint.items()},
        "formula_hint": {str(k): bool(v) for k, v in facts.formula_hint.items()},
        "extents": {str(k): [int(r), int(c)] for k, (r, c) in facts.extents.items()},
        "workbook_part": facts.workbook_part,
    }


def facts_from_wire(data: object) -> ZipFacts:
    """:func:`facts_to_wire`'s data as facts again; ValueError for anything else."""
    if not isinstance(data, dict):
        raise ValueError("facts are not an object")
    try:
        names = data["names"]
        part = data["workbook_part"]
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise ValueError("names")
        if part is not None and not isinstance(part, str):
            raise ValueError("workbook part")
        hints = {}
        for key in ("error_hint", "formula_hint"):
            given = data[key]
            if not isinstance(given, dict) or not all(isinstance(v, bool) for v in given.values()):
                raise ValueError(key)
            hints[key] = {str(k): v for k, v in given.items()}
        extents = {}
        for k, v in data["extents"].items():
            if not (isinstance(v, list) and len(v) == 2 and all(type(x) is int and x >= 0 for x in v)):
                raise ValueError("extents")
            extents[str(k)] = (v[0], v[1])
        macros, links = data["has_macros"], data["external_links"]
        if not isinstance(macros, bool) or type(links) is not int:
            raise ValueError("flags")
    except (KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"damaged facts ({type(exc).__name__})") from None
    return ZipFacts(
        names=list(names), has_macros=macros, external_links=links,
        error_hint=hints["error_hint"], formula_hint=hints["formula_hint"], extents=extents,
        workbook_part=part,
    )


def _gib(n: int) -> str:
    return f"{n / 1024**3:.1f} GB" if n >= 1024**3 else f"{n / 1024**2:.0f} MB"


def check_zip(p: Path, fmt: str) -> ZipFacts:
    """Refuse archives a parser should not open; for xlsx/xlsm also bound every sheet's grid.

    Each read probes its file once and carries these facts down (``FileProbe.zip_facts``), so
    nothing here is remembered between calls.
    """
    try:
        zf = zipfile.ZipFile(p)
    except (zipfile.BadZipFile, EOFError, ValueError, OSError, NotImplementedError) as exc:
        raise Refused(
            "the file is damaged or incomplete (not a readable ZIP archive)", "damaged"
        ) from exc
    with zf:
        infos = zf.infolist()
        if len(infos) > MAX_MEMBERS:
            raise Refused(
                f"the archive has {len(infos):,} entries (the limit is {MAX_MEMBERS:,}); "
                "refused for safety",
                "bomb",
            )
        seen: set[str] = set()
        total = 0
        for info in infos:
            norm = info.filename.replace("\\", "/").lstrip("/").casefold()
            if norm in seen:
                raise Refused(
                    f"the archive holds two entries named '{info.filename}'; refused for safety",
                    "zip",
                )
            seen.add(norm)
            if info.flag_bits & 0x1:
                raise Refused(
                    "it is password-protected (its ZIP entries are encrypted); "
                    "open it in Excel, remove the password and save a copy",
                    "password",
                )
            total += info.file_size
            if info.file_size > RATIO_FLOOR and info.file_size > MAX_RATIO * max(
                info.compress_size, 1
            ):
                ratio = info.file_size / max(info.compress_size, 1)
                raise Refused(
                    f"'{info.filename}' expands {ratio:,.0f}-fold to {_gib(info.file_size)} "
                    f"(a ZIP bomb?); refused for safety",
                    "bomb",
                )
        if total > MAX_UNCOMPRESSED:
            raise Refused(
                f"the file expands to {_gib(total)}, over the {_gib(MAX_UNCOMPRESSED)} limit",
                "bomb",
            )
        names = [i.filename for i in infos]
        facts = ZipFacts(names=names)
        lowered = [n.replace("\\", "/").casefold() for n in names]
        facts.has_macros = any(n.endswith("vbaproject.bin") for n in lowered)
        facts.external_links = sum(1 for n in lowered if "externallink" in n and n.endswith(".xml"))
        sheets: set[str] = set()
        try:
            if fmt == "ods":
                _refuse_encrypted_odf(zf)
            if fmt in ("xlsx", "xlsm"):
                pkg = package.read_package(zf)
                facts.workbook_part = pkg.workbook
                sheets = set(pkg.sheets.values())
        except (zipfile.BadZipFile, EOFError, OSError, zlib.error, NotImplementedError,
                RuntimeError) as exc:
            raise Refused(
                "the file is damaged or incomplete (its package index cannot be unpacked)",
                "damaged",
            ) from exc
        for info in infos:
            if info.is_dir():
                continue
            name = info.filename.replace("\\", "/")
            parts = name.lstrip("/").split("/")
            # The relationships name the sheets; the default folders are scanned as well, so a
            # sheet no relationship points at is still bounded before a parser guesses at it.
            is_sheet = fmt in ("xlsx", "xlsm") and (
                info.filename in sheets
                or (
                    len(parts) >= 3
                    and parts[0].casefold() == "xl"
                    and parts[1].casefold() in ("worksheets", "chartsheets", "dialogsheets")
                )
            )
            try:
                if is_sheet:
                    rows, cols, err, formula = scan_sheet(zf, info)
                    facts.extents[info.filename] = (rows, cols)
                    facts.error_hint[info.filename] = err
                    facts.formula_hint[info.filename] = formula
                    refuse_oversized(rows, cols)
                else:
                    with zf.open(info) as fh:
                        head = fh.read(HEAD_BYTES)
                    check_xml_head(head, name, parsed=not _unparsed(parts))
            except Refused:
                raise
            except (zipfile.BadZipFile, EOFError, OSError, ValueError, zlib.error,
                    NotImplementedError, RuntimeError) as exc:
                raise Refused(
                    f"the file is damaged or incomplete (entry '{info.filename}' cannot be "
                    "unpacked)",
                    "damaged",
                ) from exc
        return facts


def _unparsed(parts: list[str]) -> bool:
    """Whether no reader parses this member: custom XML data (Power Query, SharePoint
    properties) is carried along by every writer and read by none of our parsers."""
    return len(parts) >= 2 and parts[0].casefold() == "customxml"


_MAX_MANIFEST = 4 << 20


def _refuse_encrypted_odf(zf: zipfile.ZipFile) -> None:
    """An ODF package encrypted with a password lists ``encryption-data`` for its parts in
    ``META-INF/manifest.xml``; the parts themselves are then ciphertext, which the XML checks
    would otherwise report as an odd encoding."""
    for info in zf.infolist():
        if info.filename.replace("\\", "/").lstrip("/").casefold() != "meta-inf/manifest.xml":
            continue
        with zf.open(info) as fh:
            data = fh.read(_MAX_MANIFEST)
        if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
            data = data.decode("utf-16", "replace").encode("utf-8")
        if b"encryption-data" in data:
            raise Refused(
                "it is password-protected (its parts are encrypted)",
                "password",
            )
        return
