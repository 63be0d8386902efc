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

import contextlib
import gc
import hashlib
import os
import threading
import time
import zipfile
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from . import guard, scan, text
from ._worker import PickError, pick_sheet
from .formats import SUPPORTED_EXTENSIONS
from .read_child import ReaderUnavailable, read_in_child, wanted
from .grid import Built, build, to_grid
from .table import (
    LoadedTable,
    LoadReport,
    ReadCancelled,
    ReadError,
    SheetInfo,
    display_name,
    is_fatal,
    one_line,
    plural,
)

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




# --------------------------------------------------------------------------------------------
# Paths and format detection


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
        raise ReadError(f"cannot read '{display_name(p)}': permission denied") from None
    except OSError as exc:
        raise ReadError(f"cannot read '{display_name(p)}': {exc.strerror or exc}") from None
    if p.is_dir():
        raise ReadError(f"not a file: {p} is a folder")
    if st.st_size == 0 and not allow_empty:
        raise ReadError(f"'{display_name(p)}' is empty")
    return p


def _read_head(p: Path, n: int) -> bytes:
    try:
        with open(p, "rb") as fh:
            return fh.read(n)
    except PermissionError:
        raise ReadError(f"cannot read '{display_name(p)}': permission denied") from None
    except OSError as exc:
        raise ReadError(f"cannot read '{display_name(p)}': {exc.strerror or exc}") from None


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
        text.decode_text(head, p, partial=True)
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
            decoded, _enc, _nul = text.decode_text(head, p, partial=True)
            if text.sniff_delimiter(decoded, "csv") == "\t":
                return "tsv"
        except ReadError:
            pass
    return fmt


# --------------------------------------------------------------------------------------------
# Workbook engines: each returns the raw cells of one sheet plus where they sit in the sheet.


@dataclass
class _Raw:
    rows: list  # list of row sequences, not necessarily equal length
    row0: int  # 0-based sheet row of rows[0]
    col0: int  # 0-based sheet column of rows[i][0]
    sheet: str
    errors: list[scan.Err] = field(default_factory=list)


def _is_encrypted_ooxml(p: Path) -> bool:
    """An encrypted xlsx/xlsm: a CFB container whose directory names the encryption streams."""
    return guard.is_encrypted_ooxml(p)


def _damaged(p: Path, fmt: str) -> ReadError:
    head = _read_head(p, 512).lstrip(b"\xef\xbb\xbf \t\r\n")
    if head[:1] == b"<":
        return ReadError(
            f"cannot read '{display_name(p)}': it is an HTML or XML file, not a real {fmt} workbook; "
            "open it in Excel and save it as .xlsx"
        )
    return ReadError(
        f"cannot read '{display_name(p)}': it is not a valid {fmt} workbook "
        "(file is damaged or not a spreadsheet)"
    )


def _password(p: Path) -> ReadError:
    return ReadError(
        f"cannot read '{display_name(p)}': it is password-protected; "
        "open it in Excel, remove the password and save a copy"
    )


def _pick_sheet(p: Path, sheets: list[tuple[str, bool]], sheet: str | int | None) -> int:
    """Index into ``sheets`` (name, visible) for the requested sheet."""
    try:
        return pick_sheet(sheets, sheet, display_name(p))
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


def _cell_scan(p: Path, fmt: str, name: str) -> list[scan.Err]:
    """Error cells and formula cells without a computed value in sheet ``name``, from the file
    itself: both read as blank in every engine, so only the file can tell them apart."""
    out: list[scan.Err] = []
    errors = scan.ERROR_SCANNERS.get(fmt) if _error_scan_needed(p, fmt) else None
    if errors is not None:
        out.extend(errors(p, name))
    if _formula_scan_needed(p, fmt):
        out.extend(scan.xlsx_formulas(p, name))
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
            errors: list[scan.Err] = []
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
    request = {"path": str(p), "display": display_name(p), **request}
    try:
        result = guard.run_worker(request)
    except guard.Refused as exc:
        if exc.kind == "parser:PickError":
            raise ReadError(exc.message) from None
        if exc.kind.startswith("parser:"):
            raise _ParserFailed(exc.kind.split(":", 1)[1], exc.message) from None
        raise ReadError(f"cannot read '{display_name(p)}': {exc.message}") from None
    if not isinstance(result, dict):
        raise ReadError(f"cannot read '{display_name(p)}': the parser process returned damaged data")
    return result


def _calamine_raw_child(p: Path, fmt: str, sheet: str | int | None) -> _Raw:
    if isinstance(sheet, np.integer):
        sheet = int(sheet)
    scanner = scan.ERROR_SCANNERS.get(fmt)
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
                f"cannot read '{display_name(p)}': the parser process returned damaged data"
            ) from None
        errors: list[scan.Err] = []
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
            f"cannot read '{display_name(p)}': "
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
        formulas: list[scan.Err] = []
        if _formula_scan_needed(p, fmt):
            try:
                formulas = scan.xlsx_formulas(p, name)
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
                f"the openpyxl engine reads only .xlsx/.xlsm files; '{display_name(p)}' is {fmt}"
            )
        try:
            return _openpyxl_raw(p, sheet, fmt), "openpyxl", warnings
        except ReadError:
            raise
        except BaseException as exc:  # noqa: BLE001 - any parser failure means the file is unusable
            if is_fatal(exc):
                raise
            raise _damaged(p, fmt) from None
    try:
        return _calamine_raw(p, fmt, sheet), "calamine", warnings
    except ReadError:
        raise
    except MemoryError:
        raise
    except BaseException as exc:  # noqa: BLE001
        if is_fatal(exc):
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
            if is_fatal(exc):
                raise
            raise _damaged(p, fmt) from None
        warnings.append(
            f"the fast reader could not open this file ({one_line(first)}); "
            "it was read with openpyxl instead"
        )
        return raw, "openpyxl", warnings
    raise _damaged(p, fmt) from None


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
    built: Built,
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
    name = display_name(p)
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
                f"{plural(facts.external_links, 'external link')} to other workbooks "
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
        return read_in_child(p, display_name(p), sheet, **options)
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
        if is_fatal(exc):
            raise
        # Keep the cause chained so a developer still gets the real traceback.
        raise ReadError(f"cannot read '{_name_of(path)}': {one_line(exc)}") from exc


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
        return display_name(Path(os.fspath(path)))
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
    name = display_name(p)

    if fmt in _TEXT_FORMATS:
        stem = p.stem
        if sheet is not None and sheet != 0 and sheet != stem:
            raise ReadError(f"'{name}' has no sheet named '{sheet}'; sheets: {stem}")
        _stage("parsing the text")
        parsed = _PARSED.pop((_identity(p), _TEXT_KEY), None) or text.read_text(p, fmt)
        cells, enc, delimiter = parsed.cells, parsed.encoding, parsed.delimiter
        decimal_comma, warnings = parsed.decimal_comma, parsed.warnings
        warnings = pre_warnings + warnings
        _stage(f"typing {len(cells):,} rows")
        if delimiter == "\t":
            fmt = "tsv"
        built = build(
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
    cells = to_grid(raw.rows)
    raw.rows = []
    built = build(
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
        if is_fatal(exc):
            raise
        raise ReadError(f"cannot read '{_name_of(path)}': {one_line(exc)}") from exc


def _list_sheets(path: Any, keep: Any = _NO_KEEP) -> list[SheetInfo]:
    p = _check_path(path)
    _stage("checking the file")
    fmt, _warnings = _preflight(p)
    _stage("parsing the workbook" if fmt in _EXCEL_FORMATS else "parsing the text")
    if fmt in _TEXT_FORMATS:
        parsed = text.read_text(p, fmt)
        if keep is not _NO_KEEP:
            _PARSED.clear()
            _PARSED[(_identity(p), _TEXT_KEY)] = parsed
        cells = parsed.cells
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
                f"cannot read '{display_name(p)}': the parser process returned damaged data"
            ) from None
    try:
        wb = _calamine_open(p)
    except BaseException as exc:  # noqa: BLE001
        if is_fatal(exc):
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
                kept = sheets[pick_sheet(sheets, keep, display_name(p))][0]
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
                if is_fatal(exc):
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
        if is_fatal(exc):
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
        raise ReadError(f"cannot read '{display_name(p)}': {exc.strerror or exc}") from None
    return digest.hexdigest()
