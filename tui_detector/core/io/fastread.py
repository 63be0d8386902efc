"""xlsx/xlsm sheets read to Arrow by fastexcel, for the same table the cell-by-cell path builds.

The ordinary path (:mod:`.engines` then :mod:`.grid`) makes a Python object of every cell,
which is most of the time a big sheet takes to read. fastexcel runs the same parser (calamine)
and hands back typed Arrow columns instead, but it types a column as a whole and must be told
where the data starts, while the reader decides the header, title rows and types from each
cell. So a read here goes:

1. The sheet's first rows are cut out of the file (a copy of the workbook whose sheet stops
   after them, made in memory) and read cell by cell exactly as the ordinary path reads them:
   python-calamine, the cell scans, the grid's blanks and error texts, the header rules.
2. fastexcel loads the sheet from the first data row down, each column typed over all its
   rows, refusing any column that mixes kinds of value.
3. The rows both saw are compared cell by cell, then each column gets the dtype the reader's
   rules give it (:func:`.columns.convert_native`) from its Arrow type.

Wherever this cannot vouch for reading the same table (a mixed column, times of day, dates
pandas cannot hold, a cell the two parsers see differently, anything odd in the head) it
raises :class:`Fallback` and the ordinary path reads the file.
"""

from __future__ import annotations

import datetime as _dt
import io
import logging
import os
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from . import scan
from .columnar import arrow_text
from .grid import (
    _HEADER_LOOKAHEAD,
    _HEADER_SCAN_ROWS,
    Built,
    _Cells,
    _cell_warnings,
    _choose_header,
    _header_texts,
    _names,
    _normalise,
    _trim,
    to_grid,
)
from .probe import FileProbe
from .table import ReadError, is_fatal

__all__ = ["FAST_ENV", "Ahead", "Fallback", "FastSheet", "enabled", "load_ahead", "read_fast"]

#: "0" turns the fast path off (every sheet is read cell by cell); unset or "1": on where
#: it applies.
FAST_ENV = "ANOMALY_TUI_FAST_READ"

#: Rows cut out for the head at first; more (x4 each time) while the head holds fewer
#: non-empty rows than the header rules look at, up to :data:`_MAX_HEAD_ROWS`.
_HEAD_ROWS = 128
_MAX_HEAD_ROWS = 8192
_HEAD_NEEDS = _HEADER_SCAN_ROWS + _HEADER_LOOKAHEAD
#: Excel's last column (XFD).
_MAX_COLUMNS = 16_384

# Excel serials below 1 are times of day (python-calamine hands them over as datetime.time;
# fastexcel as a timestamp on 1899-12-31); pandas' nanosecond dates end in 2262.
_FIRST_DAY = np.datetime64("1900-01-01T00:00:00", "ms")
_LAST_NS = np.datetime64(pd.Timestamp.max.floor("ms").to_datetime64(), "ms")
_FIRST_NS = np.datetime64(pd.Timestamp.min.ceil("ms").to_datetime64(), "ms")


# fastexcel logs a warning for every column it finds no value in (typed as text then, which is
# what the reader makes of it too); without a handler Python would print each to stderr.
logging.getLogger("fastexcel").addHandler(logging.NullHandler())


class Fallback(Exception):
    """This sheet is read by the ordinary path; ``str(exc)`` says why (for tests and logs)."""


@dataclass
class FastSheet:
    built: Built
    sheet: str
    #: (rows, columns) of the sheet's used range, as a listing gives it
    size: tuple[int, int]
    #: every worksheet of the workbook, (name, visible), in order
    sheets: list[tuple[str, bool]]


def enabled(probe: FileProbe, engine: str) -> bool:
    """Whether a read of ``probe`` with ``engine`` tries the fast path first."""
    if os.environ.get(FAST_ENV) == "0" or engine != "auto" or probe.fmt not in ("xlsx", "xlsm"):
        return False
    if os.environ.get("ANOMALY_TUI_ISOLATE") == "all":
        return False  # the parse is asked to run in a sandboxed child; fastexcel cannot
    try:
        import fastexcel  # noqa: F401
        import pyarrow  # noqa: F401
    except ImportError:
        return False
    return True


# --------------------------------------------------------------------------------------------
# The head: the first rows as the ordinary path reads them


_ROW_END = re.compile(rb"</" + scan._NS + rb"row\s*>|<" + scan._NS + rb"row\b[^>]*/>")
_SHEET_DATA = re.compile(rb"<(" + scan._NS + rb")sheetData\b")
#: Parts a head copy leaves out: nothing the cells of a sheet depend on.
_SKIPPED_DIRS = ("xl/media/", "xl/drawings/", "xl/charts/", "xl/pivotCache/", "xl/embeddings/")


def _cut_sheet(zf: zipfile.ZipFile, part: str, rows: int) -> tuple[bytes, bool]:
    """The sheet part stopped after its ``rows``-th row, closed again; True when the whole
    sheet fitted (nothing was cut)."""
    data = b""
    found = 0
    at = 0
    with zf.open(part) as fh:
        while True:
            chunk = fh.read(1 << 16)
            if not chunk:
                return data, True
            data += chunk
            # a row end cannot straddle more than its own few bytes; look again from before them
            for m in _ROW_END.finditer(data, max(0, at - 64)):
                if m.end() <= at:
                    continue
                found += 1
                at = m.end()
                if found >= rows:
                    opening = _SHEET_DATA.search(data)
                    if opening is None:
                        raise Fallback("the sheet's rows are not where a worksheet keeps them")
                    p = opening.group(1)
                    return data[: m.end()] + b"</" + p + b"sheetData></" + p + b"worksheet>", False
            at = max(at, len(data) - 64)


def _head_book(probe: FileProbe, name: str, rows: int) -> tuple[bytes, bool]:
    """A copy of the workbook in memory whose sheet ``name`` holds only its first ``rows`` rows
    (other sheets empty); True when the sheet was not cut."""
    from .guard import package

    with zipfile.ZipFile(probe.path) as zf:
        pkg = package.read_package(zf)
        part = package.sheet_part(zf, pkg, name)
        if part is None:
            raise Fallback("the sheet's part was not found")
        extent = probe.zip_facts.extents.get(part) if probe.zip_facts is not None else None
        if extent is None:
            raise Fallback("the pre-check has no extent for the sheet")
        if extent[1] > _MAX_COLUMNS:
            # calamine's own grid is bounded by the pre-check's cell limit; fastexcel's
            # per-column work is not, and a reference far past XFD makes it crawl.
            raise Fallback("the sheet reaches past Excel's last column")
        others = set(pkg.sheets.values()) - {part}
        body, whole = _cut_sheet(zf, part, rows)
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as dst:
            for info in zf.infolist():
                member = info.filename
                if member == part:
                    dst.writestr(member, body)
                elif member in others:
                    dst.writestr(member, _EMPTY_SHEET)
                elif member.lower().endswith((".xml", ".rels")) and not member.startswith(_SKIPPED_DIRS):
                    dst.writestr(member, zf.read(member))
    return out.getvalue(), whole


_EMPTY_SHEET = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData/></worksheet>'
)


@dataclass
class _Head:
    grid: _Cells | None  # None: no cell in the head
    end: int  # first sheet row not in the head (0-based)
    whole: bool  # the head is the whole sheet
    start: tuple[int, int]  # the head's used range starts here (sheet row, column)


def _head(probe: FileProbe, name: str, empty: str) -> tuple[_Head, list[scan.Err]]:
    """The head, and the cell scans' findings for the whole sheet (in sheet coordinates)."""
    from . import engines

    rows = _HEAD_ROWS
    while True:
        book, whole = _head_book(probe, name, rows)
        try:
            raw = engines._calamine_raw(probe, name, None, source=book)
        except BaseException as exc:  # noqa: BLE001 - the ordinary path says what is wrong
            if is_fatal(exc):
                raise
            raise Fallback("python-calamine could not read the head") from None
        errors = raw.errors
        r0, c0 = raw.row0, raw.col0
        end = r0 + len(raw.rows)
        grid = None
        in_rows = [e for e in errors if e[0] < end]
        if raw.rows:
            cells = to_grid(raw.rows)
            inside = [e for e in in_rows if r0 <= e[0] and c0 <= e[1] < c0 + cells.shape[1]]
            if len(inside) != len(in_rows):
                raise Fallback("an error cell lies outside the head's cells")
            try:
                grid = _trim(cells, r0, c0, inside + _normalise(cells, r0, c0), empty)
            except ReadError:
                grid = None
        elif in_rows:
            raise Fallback("an error cell lies outside the head's cells")
        nonempty = int(grid.occupied.any(axis=1).sum()) if grid is not None else 0
        if whole or nonempty >= _HEAD_NEEDS:
            return _Head(grid=grid, end=end, whole=whole, start=(r0, c0)), errors
        if rows >= _MAX_HEAD_ROWS:
            raise Fallback("too few filled rows at the top of the sheet")
        rows *= 4


# --------------------------------------------------------------------------------------------
# The body: fastexcel from the first data row down


def _load(
    path: str, name: str, skip: int
) -> tuple[list[int], list[Any], int, int, set[tuple[int, int]]]:
    """(sheet column of each column, the Arrow columns, first sheet column, used width, the
    (sheet row, sheet column) of every cell fastexcel could not give its column's type).

    The type is guessed from a sample even when asked for all rows, and a cell of another kind
    further down comes back as missing, reported only in this list."""
    import fastexcel

    try:
        sheet = fastexcel.read_excel(path).load_sheet(
            name,
            header_row=None,
            skip_rows=skip,
            schema_sample_rows=None,
            dtype_coercion="strict",
        )
        infos = sheet.available_columns()
        batch, problems = sheet.to_arrow_with_errors()
    except fastexcel.UnsupportedColumnTypeCombinationError:
        raise Fallback("a column mixes kinds of value") from None
    except fastexcel.FastExcelError as exc:
        raise Fallback(f"fastexcel: {type(exc).__name__}") from None
    cols = [int(info.absolute_index) for info in infos]
    if batch.num_columns != len(cols):
        raise Fallback("fastexcel's columns do not match its own list")
    odd = set()
    for err in problems.errors if problems is not None else ():
        r, c = err.offset_position
        if not 0 <= c < len(cols):
            raise Fallback("fastexcel reported a cell outside its columns")
        odd.add((skip + int(r), cols[c]))
    arrays = [batch.column(i) for i in range(batch.num_columns)]
    return cols, arrays, (min(cols) if cols else 0), len(cols), odd


_SPACE = r"[\s\x0b\x1c-\x1f\x85\p{Z}]"
_ODD = rf"^({_SPACE}|#)|{_SPACE}$"


def _clean_text(arr: Any, column: int, skip: int, placed: list[scan.Err]) -> Any:
    """A text column with blank cells missing and error texts ("#N/A" typed as text) missing
    and added to ``placed``, judged as :func:`.grid._normalise` judges them."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from .grid import _odd_strings

    empty = pc.fill_null(pc.equal(arr, ""), False)
    odd = pc.fill_null(pc.match_substring_regex(arr, _ODD), False)
    blank_vals: list[str] = []
    error_vals: list[str] = []
    if pc.any(odd).as_py():
        blank_vals, error_vals = _odd_strings(pc.unique(arr.filter(odd)).to_pylist())
    drop = empty
    if blank_vals:
        drop = pc.or_(drop, pc.fill_null(pc.is_in(arr, value_set=pa.array(blank_vals, arr.type)), False))
    if error_vals:
        hit = pc.fill_null(pc.is_in(arr, value_set=pa.array(error_vals, arr.type)), False)
        rows = np.flatnonzero(hit.to_numpy(zero_copy_only=False))
        values = arr.take(pa.array(rows)).to_pylist()
        placed.extend((skip + int(i), column, v.strip()) for i, v in zip(rows, values))
        drop = pc.or_(drop, hit)
    if not pc.any(drop).as_py():
        return arr
    return pc.if_else(drop, pa.scalar(None, arr.type), arr)


def _as_python(arr: Any, rows: int) -> list:
    return arr.slice(0, rows).to_pylist()


def _same(head: Any, body: Any) -> bool:
    """One cell as the ordinary path read it (``head``) and as fastexcel did (``body``)."""
    if head is None or body is None:
        return head is None and body is None
    if isinstance(head, bool) or isinstance(body, bool):
        return type(head) is type(body) and head == body
    if isinstance(head, (int, float)):
        return isinstance(body, (int, float)) and float(head) == float(body)
    if isinstance(head, str):
        return isinstance(body, str) and head == body
    if isinstance(head, _dt.timedelta):
        return isinstance(body, _dt.timedelta) and head == body
    if isinstance(head, _dt.datetime):
        return isinstance(body, _dt.datetime) and head == body
    if isinstance(head, _dt.date):
        return isinstance(body, _dt.datetime) and _dt.datetime(head.year, head.month, head.day) == body
    return False


# --------------------------------------------------------------------------------------------
# Each column typed by the reader's rules, from its Arrow type


def _typed(arr: Any) -> Any:
    """The dtype :func:`.columns.convert_native` gives these cells, from their Arrow type."""
    import pyarrow as pa
    import pyarrow.compute as pc

    n = len(arr)
    valid = arr.is_valid().to_numpy(zero_copy_only=False) if arr.null_count else np.ones(n, bool)
    if not valid.any():
        return np.full(n, None, dtype=object)
    t = arr.type
    if pa.types.is_floating(t) or pa.types.is_integer(t):
        values = arr.to_numpy(zero_copy_only=False).astype(np.float64)
        got = values[valid]
        if np.isfinite(got).all() and (np.abs(got) <= 2**53).all() and (got == np.trunc(got)).all():
            ints = np.zeros(n, dtype=np.int64)
            ints[valid] = got.astype(np.int64)
            return ints if valid.all() else pd.arrays.IntegerArray(ints, ~valid)
        values[~valid] = np.nan
        return values
    if pa.types.is_boolean(t):
        values = pc.fill_null(arr, False).to_numpy(zero_copy_only=False).astype(bool)
        return pd.arrays.BooleanArray(values, ~valid)
    if pa.types.is_timestamp(t) or pa.types.is_date(t):
        ms = arr.cast(pa.timestamp("ms")) if not pa.types.is_timestamp(t) or t.unit != "ms" else arr
        if t.tz is not None if pa.types.is_timestamp(t) else False:
            raise Fallback("a column of dates with a time zone")
        lo, hi = (v.as_py() for v in pc.min_max(ms).values())
        lo64, hi64 = np.datetime64(lo, "ms"), np.datetime64(hi, "ms")
        if lo64 < _FIRST_DAY:
            raise Fallback("a column holds times of day")
        if lo64 < _FIRST_NS or hi64 > _LAST_NS:
            raise Fallback("a column holds dates outside 1677-2262")
        return ms.cast(pa.timestamp("ns")).to_numpy(zero_copy_only=False).astype("datetime64[ns]")
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return arrow_text(arr)
    raise Fallback(f"a column of {t}")


# --------------------------------------------------------------------------------------------
# The read


def _used_rows(head: _Head, skip: int, n_body: int) -> int:
    """Rows of the sheet's used range (as python-calamine's height counts them)."""
    return int(max(skip + n_body, head.end) - head.start[0])


@dataclass
class _Plan:
    """Where a sheet's data starts, from its head: what fastexcel is asked to load."""

    name: str
    sheets: list[tuple[str, bool]]
    head: _Head
    errors: list[scan.Err]
    h: int | None  # the header's row in the head's grid (None: no header)
    skip: int  # the first data row (0-based sheet row): fastexcel skips the rows above
    warnings: list[str]


def _plan(probe: FileProbe, sheet: str | int | None, header_row: int | None | str) -> _Plan:
    from .engines import _calamine_open, _calamine_sheets, _close, _pick_sheet

    if not isinstance(header_row, (str, type(None))) and header_row < 1:
        raise Fallback("header row out of range")
    try:
        wb = _calamine_open(probe.path)
    except BaseException as exc:  # noqa: BLE001 - the ordinary path says what is wrong
        if is_fatal(exc):
            raise
        raise Fallback("python-calamine could not open the workbook") from None
    try:
        sheets = _calamine_sheets(wb)
    finally:
        _close(wb)
    name = sheets[_pick_sheet(probe, sheets, sheet)][0]
    where = f"sheet '{name}' of '{probe.name}'"
    empty = f"sheet '{name}' in '{probe.name}' is empty"

    head, errors = _head(probe, name, empty)
    grid = head.grid
    if grid is None:
        raise Fallback("the head of the sheet is empty")
    warnings: list[str] = []
    if isinstance(header_row, (int, np.integer)) and not (
        grid.row0 <= int(header_row) - 1 < grid.row0 + grid.cells.shape[0]
    ):
        raise Fallback("the header row asked for is not in the head")
    h, start = _choose_header(grid, header_row, where, warnings)
    return _Plan(name=name, sheets=sheets, head=head, errors=errors, h=h, skip=grid.row0 + start, warnings=warnings)


@dataclass(frozen=True)
class Ahead:
    """A sheet's body loaded by :func:`load_ahead` before the pre-check had finished: used by
    :func:`read_fast` only where the checked plan asks for the very same load."""

    path: str
    name: str
    skip: int
    body: tuple


def load_ahead(probe: FileProbe, sheet: str | int | None, header_row: int | None | str) -> Ahead | None:
    """fastexcel's load of the sheet's body, planned from the file alone while another process
    runs the pre-check on it (the reader process does this under a memory limit: nothing here is
    trusted yet). Whatever goes wrong is left for the checked read to find and say: None."""
    try:
        guessed = replace(probe, zip_facts=_guessed_facts(probe))
        plan = _plan(guessed, sheet, header_row)
        body = _load(str(probe.path), plan.name, plan.skip)
    except BaseException as exc:  # noqa: BLE001 - the checked read says what is wrong
        if is_fatal(exc):
            raise
        return None
    return Ahead(path=str(probe.path), name=plan.name, skip=plan.skip, body=body)


def _guessed_facts(probe: FileProbe) -> Any:
    """Pre-check facts as they are for most workbooks (no error cells, no formula without a
    value, every sheet within Excel's columns), for planning a load before the scan is done.
    A head read under them can miss an error cell the checked head sees: then its plan may
    differ, and the load ahead is not used."""
    from .guard import ZipFacts, package

    with zipfile.ZipFile(probe.path) as zf:
        pkg = package.read_package(zf)
        names = zf.namelist()
    parts = set(pkg.sheets.values())
    return ZipFacts(
        names=names,
        error_hint={p: False for p in parts},
        formula_hint={p: False for p in parts},
        extents={p: (0, 0) for p in parts},
        workbook_part=pkg.workbook,
    )


def read_fast(
    probe: FileProbe,
    sheet: str | int | None,
    header_row: int | None | str,
    stage: Callable[[str], None] | None = None,
    ahead: Ahead | None = None,
) -> FastSheet:
    """The sheet as :func:`.grid.build` would type it from the ordinary path's cells; raises
    :class:`Fallback` where that cannot be vouched for, :class:`ReadError` for what the
    ordinary path would refuse too (no such sheet). ``ahead``: the body loaded while the
    pre-check ran, taken where this plan loads the same."""
    import pyarrow as pa
    import pyarrow.compute as pc

    plan = _plan(probe, sheet, header_row)
    name, sheets, head, errors, h, skip = plan.name, plan.sheets, plan.head, plan.errors, plan.h, plan.skip
    grid = head.grid
    assert grid is not None
    warnings = plan.warnings
    h_abs = None if h is None else grid.row0 + h
    if ahead is not None and (ahead.path, ahead.name, ahead.skip) == (str(probe.path), name, skip):
        cols, arrays, _first, width, odd = ahead.body
        arrays = list(arrays)
    else:
        cols, arrays, _first, width, odd = _load(str(probe.path), name, skip)
    n_body = len(arrays[0]) if arrays else 0
    if stage is not None:
        stage(f"typing {_used_rows(head, skip, n_body):,} rows")

    # Error cells and formulas without a value, anywhere in the sheet: blanked, and counted.
    placed: list[scan.Err] = []
    col_pos = {c: i for i, c in enumerate(cols)}
    body_err: dict[int, list[int]] = {}
    for r, c, token in errors:
        if r >= skip:
            if r - skip >= n_body or c not in col_pos:
                raise Fallback("an error cell lies outside fastexcel's cells")
            body_err.setdefault(c, []).append(r - skip)
        elif not (grid.row0 <= r < grid.row0 + grid.cells.shape[0] and grid.col0 <= c < grid.col0 + grid.cells.shape[1]):
            raise Fallback("an error cell lies outside the head's cells")
        placed.append((r, c, token))
    # Cells fastexcel could not type are error cells (found by the scans above) or cells of
    # another kind than their column: a mixed column, which only the cell-by-cell path types.
    if odd - {(r, c) for r, c, _t in errors}:
        raise Fallback("a column mixes kinds of value")

    for i, c in enumerate(cols):
        arr = arrays[i]
        if pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type):
            arr = _clean_text(arr, c, skip, placed)
        if c in body_err:
            mask = np.zeros(len(arr), bool)
            mask[body_err[c]] = True
            arr = pc.if_else(pa.array(mask), pa.scalar(None, arr.type), arr)
        arrays[i] = arr

    # The rows both read must hold the same cells, and fastexcel must have every head cell.
    below = grid.occupied[max(0, skip - grid.row0):]
    if below.size:
        filled_rows = grid.row0 + max(0, skip - grid.row0) + np.flatnonzero(below.any(axis=1))
        filled_cols = grid.col0 + np.flatnonzero(below.any(axis=0))
        if len(filled_rows) and int(filled_rows[-1]) >= skip + n_body:
            raise Fallback("the cell-by-cell reader found rows fastexcel did not")
        if any(int(c) not in col_pos for c in filled_cols):
            raise Fallback("the cell-by-cell reader found a column fastexcel did not")
    overlap = max(0, min(head.end, skip + n_body) - skip)
    for i, c in enumerate(cols):
        got = _as_python(arrays[i], overlap)
        for k in range(overlap):
            gr, gc = skip + k - grid.row0, c - grid.col0
            inside = 0 <= gr < grid.cells.shape[0] and 0 <= gc < grid.cells.shape[1]
            want = grid.cells[gr, gc] if inside else None
            if not _same(want, got[k]):
                raise Fallback("fastexcel and the cell-by-cell reader disagree on a cell")
    if head.whole and skip + n_body > head.end:
        tails = [a.slice(head.end - skip) for a in arrays]
        if any(t.null_count != len(t) for t in tails):
            raise Fallback("fastexcel found rows the cell-by-cell reader did not")

    # Which rows and columns hold anything: values, error cells, formulas without a value.
    valid = [
        a.is_valid().to_numpy(zero_copy_only=False) if a.null_count else np.ones(len(a), bool)
        for a in arrays
    ]
    row_any = np.logical_or.reduce(valid) if valid else np.zeros(0, bool)
    row_any = row_any.copy()
    for r, _c, _t in placed:
        if r >= skip:
            row_any[r - skip] = True
    data_abs = np.flatnonzero(row_any).astype(np.int64) + skip
    head_rows = grid.row0 + np.flatnonzero(grid.occupied.any(axis=1))
    r_hi = int(max(head_rows[-1], data_abs[-1] if len(data_abs) else -1))
    occupied_cols = [c for c, v in zip(cols, valid) if v.any()]
    occupied_cols += [c for _r, c, _t in placed]
    head_cols = grid.col0 + np.flatnonzero(grid.occupied.any(axis=0))
    c_lo = int(min([head_cols[0]] + occupied_cols))
    c_hi = int(max([head_cols[-1]] + occupied_cols))
    n_cols = c_hi - c_lo + 1

    # The header's names, by the grid's own rules on a one-row grid of the header's cells.
    row_cells = np.full((1, n_cols), None, dtype=object)
    if h is not None:
        for j in range(n_cols):
            gc = c_lo + j - grid.col0
            if 0 <= gc < grid.cells.shape[1]:
                row_cells[0, j] = grid.cells[h, gc]
    one_row = _Cells(cells=row_cells, has_value=None, occupied=None, placed=[], row0=0, col0=c_lo)  # type: ignore[arg-type]
    texts = _header_texts(one_row, 0 if h is not None else None, warnings)
    has_data = {c for c, v in zip(cols, valid) if v.any()}
    has_data.update(c for r, c, _t in placed if r >= skip)
    keep = [j for j in range(n_cols) if texts[j] or (c_lo + j) in has_data]
    names = _names(one_row, 0 if h is not None else None, texts, keep, header_row, False, warnings)

    offsets = data_abs - skip
    n = len(data_abs)
    # Most tables have no blank row inside: their rows are a slice (no copy), not a gather.
    contiguous = n == 0 or int(offsets[-1]) - int(offsets[0]) == n - 1
    positions = None if contiguous else pa.array(offsets)
    first = int(offsets[0]) if n else 0
    columns: dict[str, Any] = {}
    for col_name, j in zip(names, keep):
        c = c_lo + j
        if c in col_pos:
            arr = arrays[col_pos[c]]
            rows = arr.slice(first, n) if positions is None else arr.take(positions)
            columns[col_name] = _typed(rows)
        else:
            columns[col_name] = np.full(n, None, dtype=object)
    frame = (
        pd.DataFrame(columns, index=pd.RangeIndex(n))
        if columns
        else pd.DataFrame(index=pd.RangeIndex(n))
    )
    local = [(r, c - c_lo, t) for r, c, t in placed if c_lo <= c <= c_hi]
    no_value = _cell_warnings(local, data_abs, names, keep, warnings)
    if h is not None and n == 0:
        warnings.append("the table has a header but no data rows")
    dropped_rows = (r_hi + 1 - skip) - n if skip <= r_hi else 0
    built = Built(
        frame=frame,
        grid_rows=data_abs,
        header_row=None if h_abs is None else h_abs + 1,
        dropped_rows=int(dropped_rows),
        dropped_cols=int(n_cols - len(keep)),
        warnings=warnings,
        formulas_without_value=int(no_value),
    )
    size = (_used_rows(head, skip, n_body), int(width))
    return FastSheet(built=built, sheet=name, size=size, sheets=sheets)
