"""Workbook engines: the raw cells of one sheet, and the list of a workbook's sheets.

python-calamine (Rust, fast) reads every workbook format; openpyxl is kept for xlsx/xlsm as an
explicit choice and as the fallback when calamine rejects a file. xls, xlsb and ods are parsed
in a sandboxed child process (:func:`.guard.run_worker`): nothing cheap bounds what calamine
allocates for them. Next to the parse, :mod:`.scan` finds the cells every engine reads as blank
that are not (error cells, formulas saved without a value).
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import guard, scan
from ._worker import PickError, pick_sheet
from .probe import FileProbe, damaged, password_protected
from .table import ReadError, SheetInfo, display_name, is_fatal, one_line

__all__ = ["ParsedSheet", "Raw", "list_workbook", "workbook_raw"]


@dataclass
class Raw:
    """The cells of one sheet as an engine hands them over, and where they sit in the sheet."""

    rows: list  # list of row sequences, not necessarily equal length
    row0: int  # 0-based sheet row of rows[0]
    col0: int  # 0-based sheet column of rows[i][0]
    sheet: str
    errors: list[scan.Err] = field(default_factory=list)
    #: The workbook's listing, where the read learned it on the way (a workbook of one sheet):
    #: what :func:`list_workbook` would say, so that it need not be parsed again for that.
    listing: list[SheetInfo] | None = None


@dataclass(frozen=True)
class ParsedSheet:
    """The sheet a listing parsed to learn its size, handed to the read that follows (parsing
    a million-row sheet takes seconds): the read uses it instead of parsing it again."""

    name: str
    sheet: Any  # python-calamine's CalamineSheet


#: Formats whose parse runs in a child process: nothing cheap bounds what calamine allocates
#: for them (binary records, repeat counts). Set ANOMALY_TUI_ISOLATE=all to isolate xlsx too.
_ISOLATED_FORMATS = frozenset({"xls", "xlsb", "ods"})


def _isolated(fmt: str) -> bool:
    return fmt in _ISOLATED_FORMATS or os.environ.get("ANOMALY_TUI_ISOLATE") == "all"


def _pick_sheet(probe: FileProbe, sheets: list[tuple[str, bool]], sheet: str | int | None) -> int:
    """Index into ``sheets`` (name, visible) for the requested sheet."""
    try:
        return pick_sheet(sheets, sheet, probe.name)
    except PickError as exc:
        raise ReadError(str(exc)) from None


def _refused_as_password(probe: FileProbe, kind: str) -> bool:
    """Whether a parser's failure means the workbook is encrypted."""
    return kind == "PasswordError" or (probe.fmt == "xls" and guard.is_encrypted_ooxml(probe.path))


# --------------------------------------------------------------------------------------------
# The cell scans, asked of the pre-check's facts first


def _zip_hint(probe: FileProbe, hint: str) -> bool:
    """Whether the pre-check's ``hint`` (per sheet) says a cell scan of this workbook may find
    something; without the hint (no pre-check facts), scan to be safe."""
    if probe.zip_facts is None:
        return True
    hints = getattr(probe.zip_facts, hint)
    return any(hints.values()) if hints else True


def _error_scan_needed(probe: FileProbe) -> bool:
    # Only OOXML has a pre-check to ask; other formats are always scanned for error cells.
    return _zip_hint(probe, "error_hint") if probe.fmt in ("xlsx", "xlsm") else True


def _formula_scan_needed(probe: FileProbe) -> bool:
    # Formulas saved without a value only happen in OOXML (xls/xlsb always store results).
    return _zip_hint(probe, "formula_hint") if probe.fmt in ("xlsx", "xlsm") else False


def _cell_scan(probe: FileProbe, name: str) -> list[scan.Err]:
    """Error cells and formula cells without a computed value in sheet ``name``, from the file
    itself: both read as blank in every engine, so only the file can tell them apart."""
    out: list[scan.Err] = []
    errors = scan.ERROR_SCANNERS.get(probe.fmt) if _error_scan_needed(probe) else None
    if errors is not None:
        out.extend(errors(probe.path, name))
    if _formula_scan_needed(probe):
        out.extend(scan.xlsx_formulas(probe.path, name))
    return out


# --------------------------------------------------------------------------------------------
# calamine


def _calamine_open(p):
    """The workbook at path ``p``, or in ``p`` itself when that is the bytes of one."""
    from python_calamine import CalamineWorkbook

    if isinstance(p, bytes):
        import io

        return CalamineWorkbook.from_filelike(io.BytesIO(p))
    return CalamineWorkbook.from_path(str(p))


def _calamine_sheets(wb) -> list[tuple[str, bool]]:
    from python_calamine import SheetTypeEnum, SheetVisibleEnum

    out = []
    for meta in wb.sheets_metadata:
        if meta.typ != SheetTypeEnum.WorkSheet:
            continue
        out.append((meta.name, meta.visible == SheetVisibleEnum.Visible))
    return out


def _close(wb: Any) -> None:
    try:
        wb.close()
    except Exception:  # noqa: BLE001
        pass


def _calamine_raw(
    probe: FileProbe, sheet: str | int | None, parsed: ParsedSheet | None, source: bytes | None = None
) -> Raw:
    """The cells of one sheet; ``source`` is a copy of the workbook to parse instead of the file
    (:mod:`.fastread` parses the first rows of a sheet that way), the cell scans still read
    the file."""
    if _isolated(probe.fmt):
        return _calamine_raw_child(probe, sheet)
    if parsed is not None:
        return _scanned_rows(probe, parsed.name, lambda: parsed.sheet)
    wb = _calamine_open(probe.path if source is None else source)
    try:
        sheets = _calamine_sheets(wb)
        name = sheets[_pick_sheet(probe, sheets, sheet)][0]
        size: list[tuple[int, int]] = []

        def load() -> Any:
            ws = wb.get_sheet_by_name(name)
            size.append(_used_size(ws))
            return ws

        raw = _scanned_rows(probe, name, load)
        if len(sheets) == 1 and size:
            raw.listing = [SheetInfo(name=name, index=0, rows=size[0][0], columns=size[0][1], visible=sheets[0][1])]
        return raw
    finally:
        _close(wb)


def _used_size(ws: Any) -> tuple[int, int]:
    """(rows, columns) of a calamine sheet's used range, as a listing gives them."""
    return (int(ws.height), int(ws.width)) if ws.start is not None else (0, 0)


def _scanned_rows(probe: FileProbe, name: str, load: Any) -> Raw:
    """The rows of sheet ``name`` (``load()`` gives the calamine sheet), with the cell scan
    running alongside."""
    needed = _error_scan_needed(probe) or _formula_scan_needed(probe)
    with ThreadPoolExecutor(max_workers=1) as pool:
        # The scan mostly inflates zip data, which releases the GIL, so it overlaps the parse.
        future = pool.submit(_cell_scan, probe, name) if needed else None
        ws = load()
        start = ws.start or (0, 0)
        rows = _sheet_rows(ws, start)
        errors: list[scan.Err] = []
        if future is not None:
            try:
                errors = future.result()
            except Exception:  # noqa: BLE001 - the count is a nicety; the data is already read
                errors = []
    return Raw(rows=rows, row0=int(start[0]), col0=int(start[1]), sheet=name, errors=errors)


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


def _child(probe: FileProbe, request: dict) -> dict:
    request = {"path": str(probe.path), "display": probe.name, **request}
    try:
        result = guard.run_worker(request)
    except guard.Refused as exc:
        if exc.kind == "parser:PickError":
            raise ReadError(exc.message) from None
        if exc.kind.startswith("parser:"):
            raise _ParserFailed(exc.kind.split(":", 1)[1], exc.message) from None
        raise ReadError(f"cannot read '{probe.name}': {exc.message}") from None
    if not isinstance(result, dict):
        raise ReadError(f"cannot read '{probe.name}': the parser process returned damaged data")
    return result


def _calamine_raw_child(probe: FileProbe, sheet: str | int | None) -> Raw:
    if isinstance(sheet, np.integer):
        sheet = int(sheet)
    p = probe.path
    scanner = scan.ERROR_SCANNERS.get(probe.fmt)
    with ThreadPoolExecutor(max_workers=1) as pool:
        # The error scan needs the sheet name, which only the child knows for sure when the
        # request is by index or None; a name request lets the scan run alongside the parse.
        early = pool.submit(scanner, p, sheet) if scanner and isinstance(sheet, str) else None
        result = _child(probe, {"op": "read", "sheet": sheet})
        try:
            rows = result["rows"]
            name = str(result["sheet"])
            row0, col0 = int(result["row0"]), int(result["col0"])
            if not isinstance(rows, list):
                raise TypeError("rows")
        except (KeyError, TypeError, ValueError):
            raise ReadError(
                f"cannot read '{probe.name}': the parser process returned damaged data"
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
    return Raw(rows=rows, row0=row0, col0=col0, sheet=name, errors=errors)


# --------------------------------------------------------------------------------------------
# openpyxl


def _openpyxl_open(p):
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


def _openpyxl_raw(probe: FileProbe, sheet: str | int | None) -> Raw:
    wb = _openpyxl_open(probe.path)
    try:
        sheets = [(ws.title, ws.sheet_state == "visible") for ws in wb.worksheets]
        idx = _pick_sheet(probe, sheets, sheet)
        ws = wb.worksheets[idx]
        # The stored <dimension> is often stale or missing; iterate what is really there.
        ws.reset_dimensions()
        rows = [row for row in ws.iter_rows(values_only=True)]
        name = sheets[idx][0]
        # openpyxl shows error cells as their text (the shared pipeline counts those); what it
        # cannot show is a formula saved without a value, so only that scan runs here.
        formulas: list[scan.Err] = []
        if _formula_scan_needed(probe):
            try:
                formulas = scan.xlsx_formulas(probe.path, name)
            except Exception:  # noqa: BLE001 - the count is a nicety; the data is already read
                formulas = []
        return Raw(rows=rows, row0=0, col0=0, sheet=name, errors=formulas)
    finally:
        wb.close()


def _openpyxl_or_damaged(probe: FileProbe, sheet: str | int | None) -> Raw:
    try:
        return _openpyxl_raw(probe, sheet)
    except ReadError:
        raise
    except BaseException as exc:  # noqa: BLE001 - any parser failure means the file is unusable
        if is_fatal(exc):
            raise
        raise damaged(probe) from None


# --------------------------------------------------------------------------------------------
# What the reader calls


def workbook_raw(
    probe: FileProbe, sheet: str | int | None, engine: str, parsed: ParsedSheet | None = None
) -> tuple[Raw, str, list[str]]:
    """(cells of the sheet, the engine that read them, warnings). ``parsed`` is the sheet a
    listing already parsed (:func:`list_workbook`), if any."""
    fmt = probe.fmt
    warnings: list[str] = []
    if engine == "openpyxl":
        if fmt not in ("xlsx", "xlsm"):
            raise ReadError(
                f"the openpyxl engine reads only .xlsx/.xlsm files; '{probe.name}' is {fmt}"
            )
        return _openpyxl_or_damaged(probe, sheet), "openpyxl", warnings
    try:
        return _calamine_raw(probe, sheet, parsed), "calamine", warnings
    except ReadError:
        raise
    except MemoryError:
        raise
    except BaseException as exc:  # noqa: BLE001
        if is_fatal(exc):
            raise
        first = exc
    kind = first.kind if isinstance(first, _ParserFailed) else type(first).__name__
    if _refused_as_password(probe, kind):
        raise password_protected(probe)
    if fmt in ("xlsx", "xlsm") and engine == "auto":
        raw = _openpyxl_or_damaged(probe, sheet)
        warnings.append(
            f"the fast reader could not open this file ({one_line(first)}); "
            "it was read with openpyxl instead"
        )
        return raw, "openpyxl", warnings
    raise damaged(probe) from None


def list_workbook(
    probe: FileProbe,
    sheet: str | int | None = None,
    *,
    keep: bool = False,
    sized: dict[str, tuple[int, int]] | None = None,
) -> tuple[list[SheetInfo], ParsedSheet | None]:
    """The workbook's sheets in order with their used size; with ``keep``, also the parsed
    sheet that reading ``sheet`` will want (None when the listing cannot keep it). Sheets
    named in ``sized`` are not parsed: that is their (rows, columns)."""
    sized = sized or {}
    fmt = probe.fmt
    if _isolated(fmt):
        return _list_in_child(probe), None
    try:
        wb = _calamine_open(probe.path)
    except BaseException as exc:  # noqa: BLE001
        if is_fatal(exc):
            raise
        if _refused_as_password(probe, type(exc).__name__):
            raise password_protected(probe) from None
        if fmt in ("xlsx", "xlsm"):
            return _list_openpyxl(probe), None
        raise damaged(probe) from None
    try:
        out = []
        sheets = _calamine_sheets(wb)
        wanted = None
        if keep and sheets and fmt in ("xlsx", "xlsm"):
            try:
                wanted = sheets[pick_sheet(sheets, sheet, probe.name)][0]
            except PickError:
                wanted = None  # the read that follows says so
        parsed = None
        for i, (name, visible) in enumerate(sheets):
            if name in sized and name != wanted:
                rows, cols = sized[name]
                out.append(SheetInfo(name=name, index=i, rows=int(rows), columns=int(cols), visible=visible))
                continue
            try:
                ws = wb.get_sheet_by_name(name)
                rows, cols = _used_size(ws)
                if name == wanted:
                    parsed = ParsedSheet(name=name, sheet=ws)
            except BaseException as exc:  # noqa: BLE001
                if is_fatal(exc):
                    raise
                raise damaged(probe) from None
            out.append(
                SheetInfo(name=name, index=i, rows=int(rows), columns=int(cols), visible=visible)
            )
        return out, parsed
    finally:
        _close(wb)


def _list_in_child(probe: FileProbe) -> list[SheetInfo]:
    try:
        result = _child(probe, {"op": "list"})
    except _ParserFailed as exc:
        if _refused_as_password(probe, exc.kind):
            raise password_protected(probe) from None
        raise damaged(probe) from None
    try:
        return [
            SheetInfo(name=str(n), index=i, rows=int(r), columns=int(c), visible=bool(v))
            for i, (n, v, r, c) in enumerate(result["sheets"])
        ]
    except (KeyError, TypeError, ValueError):
        raise ReadError(
            f"cannot read '{probe.name}': the parser process returned damaged data"
        ) from None


def _list_openpyxl(probe: FileProbe) -> list[SheetInfo]:
    try:
        wb = _openpyxl_open(probe.path)
    except ReadError:
        raise
    except BaseException as exc:  # noqa: BLE001
        if is_fatal(exc):
            raise
        raise damaged(probe) from None
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
