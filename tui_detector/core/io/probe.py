"""What a file is, found once per read: its format by content, and whether a parser may open it.

:func:`probe_file` stats nothing (the path check did), reads the file's head once and opens a
zip once to tell xlsx from xlsm, xlsb and ods. :func:`check_file` runs the guards on that
(:mod:`.guard`: lock files, encrypted workbooks, archives that are not workbooks, ZIP bombs,
DTDs, far cell references) and keeps what the zip pre-check learnt, so the steps after it ask
the probe instead of the file.
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from . import guard, text
from .formats import (
    CFB_MAGIC,
    EXCEL_FORMATS,
    PARQUET_MAGIC,
    SQLITE_MAGIC,
    TEXT_FORMATS,
    ZIP_MAGIC,
    checked_size,
    format_by_extension,
)
from .table import ReadError, display_name, plural

__all__ = ["FileProbe", "check_file", "damaged", "detect_format", "password_protected", "probe_file"]

#: How much of the file's start the probe keeps: enough to sniff a text file's delimiter.
HEAD_BYTES = 64 * 1024


@dataclass(frozen=True)
class FileProbe:
    """One file as the read found it; made once and handed down to every step of the read."""

    path: Path
    size: int  # bytes
    head: bytes  # the first HEAD_BYTES of the file (all of it when shorter)
    fmt: str  # 'xlsx', 'xlsm', 'xls', 'xlsb', 'ods', 'csv', 'tsv', 'parquet', 'json', 'jsonl', 'sqlite'
    #: what the zip pre-check found in a zip workbook (None before :func:`check_file`, and for
    #: every other kind of file)
    zip_facts: guard.ZipFacts | None = None
    #: what the checks have to say in the load report (macros ignored, text named .xlsx)
    warnings: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return display_name(self.path)


def detect_format(path: Any) -> str:
    """The format (see :class:`FileProbe`), judged by content before extension."""
    return probe_file(*checked_size(path)).fmt


def probe_file(p: Path, size: int) -> FileProbe:
    """The probe of a checked path (:func:`~.formats.checked_size`)."""
    head = _read_head(p, HEAD_BYTES)
    return FileProbe(path=p, size=size, head=head, fmt=_format(p, head))


def _read_head(p: Path, n: int) -> bytes:
    try:
        with open(p, "rb") as fh:
            return fh.read(n)
    except PermissionError:
        raise ReadError(f"cannot read '{display_name(p)}': permission denied") from None
    except OSError as exc:
        raise ReadError(f"cannot read '{display_name(p)}': {exc.strerror or exc}") from None


def _format(p: Path, head: bytes) -> str:
    ext = p.suffix.lower()
    if head.startswith(ZIP_MAGIC):
        return _format_of_zip(p, ext) or format_by_extension(ext)
    if head.startswith(CFB_MAGIC):
        # An encrypted xlsx is a CFB container too; the read path tells those apart.
        return "xls"
    if head.startswith(PARQUET_MAGIC):
        return "parquet"
    if head.startswith(SQLITE_MAGIC):
        return "sqlite"
    fmt = format_by_extension(ext)
    if fmt in ("parquet", "sqlite"):
        return fmt  # the name promises what the content lacks: check_file refuses it as damaged
    if fmt in EXCEL_FORMATS:
        # A workbook name on something that is neither zip nor CFB: plain text saved with an
        # Excel extension is common (exports that are really CSV/TSV), so read it as text;
        # HTML/XML "spreadsheets" and binary junk keep the extension and fail as damaged.
        stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
        if stripped[:1] == b"<" or not _looks_like_text(head, p):
            return fmt
        fmt = "csv"
    else:
        json_kind = _json_kind(head, p, ext)
        if json_kind is not None:
            return json_kind
        if fmt in ("json", "jsonl"):
            return fmt  # the JSON reader says what is wrong with it
    if fmt == "csv" and ext != ".csv":
        try:
            decoded, _enc, _nul = text.decode_text(head, p, partial=True)
            if text.sniff_delimiter(decoded, "csv") == "\t":
                return "tsv"
        except ReadError:
            pass
    return fmt


#: What may follow a document's opening bracket in JSON (and rarely in a delimited header).
_AFTER_BRACKET = frozenset('{["-0123456789tfn]')


def _json_kind(head: bytes, p: Path, ext: str) -> str | None:
    """'json' or 'jsonl' when the file's text starts the way a JSON document does, else None.

    A record per line is JSON Lines when the extension says so, or when the first line is a
    whole object and the next line starts another one."""
    try:
        decoded, _enc, _nul = text.decode_text(head, p, partial=True)
    except ReadError:
        return None
    body = decoded.lstrip("\ufeff \t\r\n")
    first, rest = body[:1], body[1:].lstrip(" \t\r\n")
    if first == "[" and rest[:1] in _AFTER_BRACKET:
        return "jsonl" if ext in (".jsonl", ".ndjson") else "json"
    if first != "{" or rest[:1] not in ('"', "}"):
        return None
    if ext in (".jsonl", ".ndjson"):
        return "jsonl"
    line, newline, after = body.partition("\n")
    if newline and after.lstrip(" \t\r\n")[:1] == "{":
        try:
            json.loads(line)
        except ValueError:
            return "json"
        return "jsonl"
    return "json"


def _looks_like_text(head: bytes, p: Path) -> bool:
    try:
        text.decode_text(head, p, partial=True)
    except ReadError:
        return False
    return True


def _format_of_zip(p: Path, ext: str) -> str | None:
    try:
        with zipfile.ZipFile(p) as zf:
            names = set(zf.namelist())
            if "xl/workbook.bin" in names:
                return "xlsb"
            # The workbook part is wherever the package relationships say (OPC), not only at
            # the default path; a DTD in them is left for the pre-check to refuse in words.
            try:
                workbook = guard.read_package(zf).workbook
            except guard.Refused:
                workbook = None
            if workbook is not None and workbook.casefold().endswith(".bin"):
                return "xlsb"
            if workbook is not None or "xl/workbook.xml" in names:
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


# --------------------------------------------------------------------------------------------
# The guards, before any parser sees the file


def check_file(probe: FileProbe, known: guard.ZipFacts | None = None) -> FileProbe:
    """The probe, with the zip pre-check's facts and the checks' warnings, or ReadError.

    Runs before any parser: lock files, encrypted workbooks, archives that are not workbooks,
    ZIP bombs, DTDs/entities and cell references far enough out to exhaust memory are refused
    here (see :mod:`tui_detector.core.io.guard`). ``known``: the facts of a scan of this very
    file that another process ran (and passed), taken instead of scanning it again.
    """
    p, name, head, fmt = probe.path, probe.name, probe.head, probe.fmt
    owner = guard.lock_file_owner(p, head[:8])
    if owner:
        raise ReadError(
            f"'{name}' is the lock file Excel or LibreOffice keeps while '{owner}' is open, "
            f"not a spreadsheet; open '{owner}' itself"
        )
    warnings: list[str] = []
    facts = None
    if head.startswith(CFB_MAGIC) and guard.is_encrypted_ooxml(p):
        raise password_protected(probe)
    if head.startswith(ZIP_MAGIC) and fmt in EXCEL_FORMATS:
        facts = _check_zip(probe, known)
        if facts.has_macros:
            warnings.append("the workbook contains macros; they were ignored (never run)")
        if facts.external_links:
            warnings.append(
                f"{plural(facts.external_links, 'external link')} to other workbooks "
                f"{'was' if facts.external_links == 1 else 'were'} not followed; "
                "the values saved in this file were used"
            )
    elif fmt in EXCEL_FORMATS and not head.startswith((ZIP_MAGIC, CFB_MAGIC)):
        raise damaged(probe)
    elif fmt == "parquet" and not head.startswith(PARQUET_MAGIC):
        raise ReadError(f"cannot read '{name}': it is not a Parquet file (it does not start with PAR1)")
    elif fmt == "sqlite" and not head.startswith(SQLITE_MAGIC):
        raise ReadError(f"cannot read '{name}': it is not an SQLite database (it has no SQLite header)")
    ext = p.suffix.lower()
    if fmt in TEXT_FORMATS and ext in (".xlsx", ".xlsm", ".xls", ".xlsb", ".ods"):
        warnings.append(
            f"'{name}' is a text file, not a {ext[1:]} workbook; it was read as "
            f"{'tab-separated' if fmt == 'tsv' else 'comma/semicolon-separated'} text"
        )
    if fmt in ("json", "jsonl") and ext in (".csv", ".tsv", ".tab", ".txt"):
        warnings.append(f"'{name}' holds JSON, not delimited text; it was read as JSON")
    return replace(probe, zip_facts=facts, warnings=tuple(warnings))


def _check_zip(probe: FileProbe, known: guard.ZipFacts | None = None) -> guard.ZipFacts:
    name, fmt = probe.name, probe.fmt
    problem = guard.xml_hardening_problem()
    if problem:
        raise ReadError(f"cannot read '{name}': {problem}")
    try:
        facts = known if known is not None else guard.check_zip(probe.path, fmt)
    except guard.Refused as exc:
        if exc.kind == "password":
            raise password_protected(probe) from None
        if exc.kind == "damaged":
            raise damaged(probe) from None
        raise ReadError(f"cannot read '{name}': {exc.message}") from None
    lowered = {n.replace("\\", "/").casefold() for n in facts.names}
    if fmt in ("xlsx", "xlsm") and facts.workbook_part is None:
        what = "a Word document" if "word/document.xml" in lowered else (
            "a PowerPoint file" if "ppt/presentation.xml" in lowered else "a ZIP archive"
        )
        raise ReadError(
            f"cannot read '{name}': it is {what}, not an Excel workbook (it has no workbook part)"
        )
    if fmt == "ods" and "content.xml" not in lowered:
        raise damaged(probe)
    return facts


def damaged(probe: FileProbe) -> ReadError:
    """The error for a file a parser rejected (or that cannot be the workbook it claims)."""
    fmt = probe.fmt
    part = probe.zip_facts.workbook_part if probe.zip_facts is not None else None
    if part is not None and part.replace("\\", "/").lstrip("/").casefold() != "xl/workbook.xml":
        # A valid package may keep its workbook anywhere; say that the parsers, not the
        # arrangement, are what failed.
        return ReadError(
            f"cannot read '{probe.name}': its workbook part is '{part}' (named by the package "
            "relationships, not at xl/workbook.xml), and neither calamine nor openpyxl could read it"
        )
    if probe.head[:512].lstrip(b"\xef\xbb\xbf \t\r\n")[:1] == b"<":
        return ReadError(
            f"cannot read '{probe.name}': it is an HTML or XML file, not a real {fmt} workbook; "
            "open it in Excel and save it as .xlsx"
        )
    return ReadError(
        f"cannot read '{probe.name}': it is not a valid {fmt} workbook "
        "(file is damaged or not a spreadsheet)"
    )


def password_protected(probe: FileProbe) -> ReadError:
    app = "LibreOffice" if probe.fmt == "ods" else "Excel"
    return ReadError(
        f"cannot read '{probe.name}': it is password-protected; "
        f"open it in {app}, remove the password and save a copy"
    )
