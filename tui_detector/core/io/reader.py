"""Read spreadsheets and delimited text files into a DataFrame plus a load report.

This module is the reader's public face and runs one read from path to table; each step has
its own module:

* :mod:`.formats` checks the path; :mod:`.probe` finds what the file is, once, and runs the
  guards (:mod:`.guard`) before any parser sees it. The resulting :class:`~.probe.FileProbe`
  is handed down to every later step.
* :mod:`.engines` turns a workbook sheet into raw cells (python-calamine, or openpyxl as an
  explicit choice and as the fallback), with :mod:`.scan` finding error cells and formulas
  saved without a value; :mod:`.text` splits a delimited text file into string fields.
* :mod:`.grid` turns either into the typed table (header, names, types: :mod:`.columns`), so
  a table reads the same whichever engine produced the cells.
* :mod:`.fastread` reads an xlsx/xlsm sheet to Arrow instead (the head cell by cell, the rest
  typed by column), for the same table; wherever it cannot vouch for that, the steps above run.
  ``ANOMALY_TUI_FAST_READ=0`` turns it off.
* Big files are read by a child process (:mod:`.child`) that runs this same reader.

Everything a parser raises leaves this module as a :class:`ReadError` whose message is one line a
user can act on.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from . import engines, fastread, jsonrec, parquet, sqlitedb, text
from .columnar import build_columns
from .formats import (
    EXCEL_FORMATS,
    RECORD_FORMATS,
    SUPPORTED_EXTENSIONS,
    TEXT_FORMATS,
    check_path,
    checked_size,
)
from .grid import Built, build, to_grid
from .probe import FileProbe, check_file, detect_format, probe_file
from .child import ReaderUnavailable, read_in_child, wanted
from .table import (
    LoadedTable,
    LoadReport,
    ReadCancelled,
    ReadError,
    SheetInfo,
    display_name,
    is_fatal,
    one_line,
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

_log = logging.getLogger(__name__)

#: Told a few words as a read moves from one long step to the next ("typing 1,048,576 rows").
Stage = Callable[[str], None]


def _quiet(_text: str) -> None:
    pass


# --------------------------------------------------------------------------------------------
# Public entry points


def read_table(
    path: Any,
    sheet: str | int | None = None,
    *,
    header_row: int | None | Literal["auto"] = "auto",
    engine: Literal["auto", "calamine", "openpyxl"] = "auto",
    cancel: threading.Event | None = None,
    on_stage: Stage | None = None,
) -> LoadedTable:
    """Read one sheet (or a text file) into a typed DataFrame with a report of what was done.

    Big files are read in a child process (:mod:`.child`); setting ``cancel`` stops such
    a read with :class:`ReadCancelled`, and ``on_stage`` hears what it is doing.
    """
    _check_header_arg(header_row)
    done = _read_in_child(
        path, sheet, header_row=header_row, engine=engine, on_stage=on_stage, cancel=cancel
    )
    if done is not None:
        return done[1]
    return _read_here(path, sheet, header_row=header_row, engine=engine)


def open_table(
    path: Any,
    sheet: str | int | None = None,
    *,
    on_sheets: Callable[[list[SheetInfo]], None] | None = None,
    on_stage: Stage | None = None,
    cancel: threading.Event | None = None,
) -> tuple[list[SheetInfo], LoadedTable]:
    """List the sheets (handed to ``on_sheets`` as soon as known) and read one, as the app does
    when a file is opened. The sheet parsed to learn its size is the one read, not parsed
    twice; big files go to a child process that ``cancel`` stops and whose steps ``on_stage``
    hears."""
    done = _read_in_child(
        path, sheet, list_sheets=True, on_sheets=on_sheets, on_stage=on_stage, cancel=cancel
    )
    if done is not None:
        return done[0] or [], done[1]
    return _open_here(path, sheet, on_sheets=on_sheets, cancel=cancel)


def list_sheets(path: Any) -> list[SheetInfo]:
    """Worksheets in workbook order, or a database's tables then views; a text, JSON or
    Parquet file is one sheet named after the file."""
    with _as_read_error(path):
        return _list(path, None, keep=False, stage=_quiet).sheets


def file_sha256(path: Any) -> str:
    """Hex SHA-256 of the file, read in chunks so large files stay out of memory."""
    p = check_path(path, allow_empty=True)
    digest = hashlib.sha256()
    try:
        with open(p, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
    except OSError as exc:
        raise ReadError(f"cannot read '{display_name(p)}': {exc.strerror or exc}") from None
    return digest.hexdigest()


# --------------------------------------------------------------------------------------------
# In this process or in a child


def _read_in_child(
    path: Any, sheet: str | int | None, **options: Any
) -> tuple[list[SheetInfo] | None, LoadedTable] | None:
    """(sheets, table) read by a child process (:mod:`.child`) when the file is big enough
    to want one and one can run here; None means: read it in this process."""
    try:
        p = check_path(path)
    except ReadError:
        return None  # the in-process read says what is wrong, with the same message
    if not wanted(p):
        return None
    try:
        return read_in_child(p, display_name(p), sheet, **options)
    except ReaderUnavailable:
        return None


def _read_here(
    path: Any,
    sheet: str | int | None = None,
    *,
    header_row: int | None | Literal["auto"] = "auto",
    engine: Literal["auto", "calamine", "openpyxl"] = "auto",
    on_stage: Stage | None = None,
    known: Any = None,
    ahead: fastread.Ahead | None = None,
) -> LoadedTable:
    """:func:`read_table` in this process (the child process's reader runs this too, with the
    pre-check's facts ``known`` from the process that scanned the file, and the body it
    loaded ``ahead`` meanwhile)."""
    stage = on_stage or _quiet
    with _as_read_error(path):
        started = time.perf_counter()
        _check_engine(engine)
        _check_header_arg(header_row)
        probe = _checked_probe(path, stage, known)
        return _read_probed(probe, sheet, header_row, engine, stage, None, started, ahead)


def _open_here(
    path: Any,
    sheet: str | int | None = None,
    *,
    header_row: int | None | Literal["auto"] = "auto",
    engine: Literal["auto", "calamine", "openpyxl"] = "auto",
    on_sheets: Callable[[list[SheetInfo]], None] | None = None,
    on_stage: Stage | None = None,
    cancel: threading.Event | None = None,
    known: Any = None,
    ahead: fastread.Ahead | None = None,
) -> tuple[list[SheetInfo], LoadedTable]:
    """:func:`open_table` in this process: one probe of the file, and the sheet (or text) the
    listing parsed is the one the read types (``known``, ``ahead``: as for :func:`_read_here`)."""
    stage = on_stage or _quiet
    with _as_read_error(path):
        started = time.perf_counter()
        _check_engine(engine)
        _check_header_arg(header_row)
        probe = _checked_probe(path, stage, known)
        fast = None
        if probe.fmt in EXCEL_FORMATS and fastread.enabled(probe, engine):
            stage("parsing the workbook")
            stage("reading the cells")
            fast = _read_fast(probe, sheet, header_row, started, stage, ahead)
        if fast is not None:
            fast, size = fast
            sheets = list(fast.sheets or ())
            if not sheets:
                # Every sheet's size, for the listing; the sheet just read is not parsed again.
                sheets, _ = engines.list_workbook(
                    probe, sheet, keep=False, sized={fast.report.sheet: size}
                )
    if fast is not None:
        if on_sheets is not None:
            on_sheets(sheets)
        if cancel is not None and cancel.is_set():
            raise ReadCancelled(f"reading '{_name_of(path)}' was cancelled")
        return sheets, fast
    with _as_read_error(path):
        listing = _list(path, sheet, keep=True, stage=stage, probe=probe)
    if on_sheets is not None:
        on_sheets(listing.sheets)
    if cancel is not None and cancel.is_set():
        raise ReadCancelled(f"reading '{_name_of(path)}' was cancelled")
    with _as_read_error(path):
        started = time.perf_counter()
        _check_engine(engine)
        _check_header_arg(header_row)
        loaded = _read_probed(listing.probe, sheet, header_row, engine, stage, listing.kept, started)
    return listing.sheets, loaded


def _scanned(path: Any) -> FileProbe:
    """The file's checked probe, as a read starts with it: the pre-check process runs this
    beside the reader process (:mod:`.child`), with the same messages for what it refuses."""
    with _as_read_error(path):
        return _checked_probe(path, _quiet)


def _read_ahead(
    path: Any, sheet: str | int | None, *, header_row: Any = "auto", engine: str = "auto",
    on_stage: Stage | None = None, listing: bool = False,
) -> fastread.Ahead | None:
    """The body of an xlsx/xlsm sheet loaded before the pre-check has passed the file (the
    reader process does this under a memory limit while another process scans it); None
    where there is nothing to load ahead or it failed: the checked read then loads it."""
    try:
        _check_engine(engine)
        _check_header_arg(header_row)
        p, size = checked_size(path)
        probe = probe_file(p, size)
    except (ReadError, OSError):
        return None
    if probe.fmt not in ("xlsx", "xlsm") or not fastread.enabled(probe, engine):
        return None
    stage = on_stage or _quiet
    stage("checking the file")
    if listing:
        stage("parsing the workbook")
    stage("reading the cells")
    with _collector_paused():
        return fastread.load_ahead(probe, sheet, header_row)


@contextlib.contextmanager
def _as_read_error(path: Any) -> Iterator[None]:
    """Everything a read raises leaves as a one-line :class:`ReadError` (the caller shows it in
    a status line); the cause stays chained so a developer still gets the real traceback."""
    try:
        with _collector_paused():
            yield
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


# --------------------------------------------------------------------------------------------
# One read: check, (list,) read the cells, build the table


def _check_engine(engine: str) -> None:
    if engine not in ("auto", "calamine", "openpyxl"):
        raise ReadError(f"unknown engine {engine!r}; use 'auto', 'calamine' or 'openpyxl'")


def _check_header_arg(header_row: Any) -> None:
    if header_row == "auto" or header_row is None:
        return
    if isinstance(header_row, bool) or not isinstance(header_row, (int, np.integer)):
        raise ReadError(f"header row must be a row number, None or 'auto', not {header_row!r}")
    if header_row < 1:
        raise ReadError(
            f"header row must be 1 or more (rows are numbered from 1), not {header_row}"
        )


def _checked_probe(path: Any, stage: Stage, known: Any = None) -> FileProbe:
    p, size = checked_size(path)
    stage("checking the file")
    return check_file(probe_file(p, size), known)


@dataclass(frozen=True)
class _Listing:
    sheets: list[SheetInfo]
    probe: FileProbe
    #: what the listing parsed that the read will want: a text file's fields, a JSON file's
    #: records, or the sheet to be read (None: nothing kept, the read parses it)
    kept: text.TextCells | engines.ParsedSheet | jsonrec.Records | None


#: What each format that is not a workbook or text is read with (the load report's engine).
_RECORD_ENGINES = {"parquet": "pyarrow", "json": "json", "jsonl": "json", "sqlite": "sqlite3"}


def _list(
    path: Any, sheet: str | int | None, *, keep: bool, stage: Stage, probe: FileProbe | None = None
) -> _Listing:
    probe = probe if probe is not None else _checked_probe(path, stage)
    fmt = probe.fmt
    if fmt in RECORD_FORMATS:
        return _list_records(probe, keep, stage)
    stage("parsing the workbook" if fmt in EXCEL_FORMATS else "parsing the text")
    if fmt not in TEXT_FORMATS:
        sheets, parsed = engines.list_workbook(probe, sheet, keep=keep)
        return _Listing(sheets=sheets, probe=probe, kept=parsed)
    fields = text.read_text(probe.path, fmt)
    return _Listing(sheets=[_text_listing(fields, probe.path.stem)], probe=probe, kept=fields if keep else None)


def _text_listing(fields: text.TextCells, stem: str) -> SheetInfo:
    """A text file as the one sheet a listing shows: named after the file, its used range."""
    cells = fields.cells
    occupied = ~pd.isna(cells)
    rows = np.flatnonzero(occupied.any(axis=1)) if cells.size else np.empty(0, int)
    cols = np.flatnonzero(occupied.any(axis=0)) if cells.size else np.empty(0, int)
    n_rows = int(rows[-1] - rows[0] + 1) if len(rows) else 0
    n_cols = int(cols[-1] - cols[0] + 1) if len(cols) else 0
    return SheetInfo(name=stem, index=0, rows=n_rows, columns=n_cols, visible=True)


def _list_records(probe: FileProbe, keep: bool, stage: Stage) -> _Listing:
    fmt = probe.fmt
    if fmt == "sqlite":
        stage("listing the tables")
        return _Listing(sheets=sqlitedb.list_tables(probe), probe=probe, kept=None)
    if fmt == "parquet":
        return _Listing(sheets=parquet.list_parquet(probe), probe=probe, kept=None)
    records = jsonrec.read_records(probe, stage)
    return _Listing(sheets=[_records_listing(records, probe.path.stem)], probe=probe, kept=records if keep else None)


def _records_listing(records: jsonrec.Records, stem: str) -> SheetInfo:
    return SheetInfo(name=stem, index=0, rows=records.rows, columns=len(records.names), visible=True)


def _read_records(
    probe: FileProbe,
    sheet: str | int | None,
    header_row: Any,
    stage: Stage,
    kept: Any,
    started: float,
) -> LoadedTable:
    """A Parquet, JSON or SQLite file: the file names and orders the columns itself."""
    name, fmt, stem = probe.name, probe.fmt, probe.path.stem
    if header_row not in ("auto", None):
        raise ReadError(f"'{name}' names its own columns; a header row applies only to sheets and text files")
    table_name = None
    positions = None
    listing = None  # a database's is not learned on the way (each table's rows are counted)
    if fmt == "sqlite":
        table_name, names, columns, rows, warnings = sqlitedb.read_sqlite(probe, sheet, stage)
    else:
        if sheet is not None and sheet != 0 and sheet != stem:
            raise ReadError(f"'{name}' has no sheet named '{sheet}'; sheets: {stem}")
        if fmt == "parquet":
            names, columns, rows, warnings = parquet.read_parquet(probe, stage)
            listing = parquet.list_parquet(probe)  # the file's footer, already read once
        else:
            records = kept if isinstance(kept, jsonrec.Records) else jsonrec.read_records(probe, stage)
            names, columns, rows = records.names, records.columns, records.rows
            positions, warnings = records.positions, list(records.warnings)
            fmt = records.kind
            listing = [_records_listing(records, stem)]
    stage(f"typing {rows:,} rows")
    built = build_columns(
        names, columns, rows, empty_message=f"'{name}' has no columns", positions=positions
    )
    del columns
    report = _report(
        probe, fmt, _RECORD_ENGINES[fmt], table_name, built, list(probe.warnings) + warnings, started
    )
    return LoadedTable(
        frame=built.frame, report=report, excel_rows=None, source_rows=built.grid_rows + 1,
        sheets=tuple(listing) if listing else None,
    )


def _read_probed(
    probe: FileProbe,
    sheet: str | int | None,
    header_row: Any,
    engine: str,
    stage: Stage,
    kept: Any,
    started: float,
    ahead: fastread.Ahead | None = None,
) -> LoadedTable:
    name = probe.name
    if probe.fmt in TEXT_FORMATS:
        return _read_text(probe, sheet, header_row, stage, kept, started)
    if probe.fmt in RECORD_FORMATS:
        return _read_records(probe, sheet, header_row, stage, kept, started)

    stage("reading the cells")
    parsed = kept if isinstance(kept, engines.ParsedSheet) else None
    if parsed is None and fastread.enabled(probe, engine):
        fast = _read_fast(probe, sheet, header_row, started, stage, ahead)
        if fast is not None:
            return fast[0]
    raw, used_engine, warnings = engines.workbook_raw(probe, sheet, engine, parsed)
    warnings = list(probe.warnings) + warnings
    stage(f"typing {len(raw.rows):,} rows")
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
    report = _report(probe, probe.fmt, used_engine, raw.sheet, built, warnings, started)
    return LoadedTable(
        frame=built.frame, report=report, excel_rows=built.grid_rows + 1,
        sheets=tuple(raw.listing) if raw.listing else None,
    )


def _read_fast(
    probe: FileProbe, sheet: Any, header_row: Any, started: float, stage: Stage,
    ahead: fastread.Ahead | None = None,
) -> tuple[LoadedTable, tuple[int, int]] | None:
    """The sheet read to Arrow (:mod:`.fastread`) and its used size, or None where the
    cell-by-cell path must read it. The load report names calamine, the parser under
    fastexcel too."""
    try:
        fast = fastread.read_fast(probe, sheet, header_row, stage, ahead)
    except fastread.Fallback as exc:
        _log.debug("'%s' read cell by cell: %s", probe.name, exc)
        return None
    except BaseException as exc:  # noqa: BLE001 - Rust panics derive from BaseException
        if is_fatal(exc):
            raise
        # Whatever else went wrong (no such sheet, a parser's surprise), the cell-by-cell path
        # reads the file or says what is wrong in its own words.
        _log.debug("'%s' read cell by cell after %s: %s", probe.name, type(exc).__name__, exc)
        return None
    built = fast.built
    report = _report(probe, probe.fmt, "calamine", fast.sheet, built, list(probe.warnings), started)
    listing = None
    if len(fast.sheets) == 1:
        rows, cols = fast.size
        listing = (SheetInfo(name=fast.sheet, index=0, rows=rows, columns=cols, visible=fast.sheets[0][1]),)
    loaded = LoadedTable(
        frame=built.frame, report=report, excel_rows=built.grid_rows + 1, sheets=listing
    )
    return loaded, fast.size


def _read_text(
    probe: FileProbe,
    sheet: str | int | None,
    header_row: Any,
    stage: Stage,
    kept: text.TextCells | engines.ParsedSheet | None,
    started: float,
) -> LoadedTable:
    name, stem = probe.name, probe.path.stem
    if sheet is not None and sheet != 0 and sheet != stem:
        raise ReadError(f"'{name}' has no sheet named '{sheet}'; sheets: {stem}")
    stage("parsing the text")
    fields = kept if isinstance(kept, text.TextCells) else text.read_text(probe.path, probe.fmt)
    warnings = list(probe.warnings) + fields.warnings
    stage(f"typing {len(fields.cells):,} rows")
    fmt = "tsv" if fields.delimiter == "\t" else probe.fmt
    listing = _text_listing(fields, stem)  # before the cells are typed (and let go)
    built = build(
        fields.cells,
        0,
        0,
        [],
        header_row=header_row,
        text_mode=True,
        decimal_comma=fields.decimal_comma,
        where=f"'{name}'",
        empty_message=f"'{name}' has no data",
    )
    report = _report(
        probe, fmt, "csv", None, built, warnings, started,
        encoding=fields.encoding, delimiter=fields.delimiter,
    )
    return LoadedTable(
        frame=built.frame, report=report, excel_rows=None, source_rows=built.grid_rows + 1,
        sheets=(listing,),
    )


def _report(
    probe: FileProbe,
    fmt: str,
    engine: str,
    sheet: str | None,
    built: Built,
    warnings: list[str],
    started: float,
    **text_options: Any,
) -> LoadReport:
    return LoadReport(
        path=str(probe.path),
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
