"""From a grid of cells to a typed table: blanks and error texts, the header, the names, the types.

Workbook cells and text-file fields both meet here, so a table reads the same whichever engine
produced the cells. :func:`build` is the pipeline; each step below it is one decision a user
can see in the load report.
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from pandas.api.types import infer_dtype

from . import scan
from .columns import convert_native, convert_text, header_text, is_texty_string
from .table import ReadError, plural

__all__ = ["GRID_CHUNK", "Built", "build", "to_grid"]

GRID_CHUNK = 65_536


def to_grid(rows: list) -> np.ndarray:
    """Column-major object array (columns are what later steps walk), None for blank cells."""
    if not rows:
        return np.empty((0, 0), dtype=object)
    # Filled a block of rows at a time, and blanks cleared a column at a time: on a
    # million-row sheet each whole-grid call held the interpreter lock for ~0.4 s.
    width = len(rows[0])
    grid = np.empty((len(rows), width), dtype=object, order="F")
    try:
        if any(len(r) != width for r in rows):
            raise ValueError("ragged")
        for start in range(0, len(rows), GRID_CHUNK):
            grid[start : start + GRID_CHUNK] = rows[start : start + GRID_CHUNK]
    except ValueError:
        # Ragged rows (openpyxl stops each row at its last cell): pad them.
        width = max(len(r) for r in rows)
        grid = np.full((len(rows), width), None, dtype=object, order="F")
        for i, r in enumerate(rows):
            if r:
                grid[i, : len(r)] = r
    for j in range(grid.shape[1]):
        column = grid[:, j]
        column[column == ""] = None
    return grid


_STRINGY_KINDS = frozenset({"string", "mixed", "mixed-integer", "unknown-array", "bytes"})

# Rows at the top are checked cell by cell; below them a column is only searched for blanks
# and error texts when it holds strings at all, which keeps numeric columns free of Python work.
_HEAD_ROWS = 200


def _odd_strings(values) -> tuple[list[str], list[str]]:
    blank_vals: list[str] = []
    error_vals: list[str] = []
    for u in values:
        if type(u) is str and (u[:1].isspace() or u[-1:].isspace() or u[:1] == "#"):
            s = u.strip()
            if not s:
                blank_vals.append(u)
            elif s in scan.ERROR_SET:
                error_vals.append(u)
    return blank_vals, error_vals


def _normalise(cells: np.ndarray, row0: int, col0: int) -> list[scan.Err]:
    """Whitespace-only cells become None; error texts become None and are returned."""
    errors: list[scan.Err] = []
    for j in range(cells.shape[1]):
        col = cells[:, j]
        for part_start, part in ((0, col[:_HEAD_ROWS]), (_HEAD_ROWS, col[_HEAD_ROWS:])):
            if not len(part):
                continue
            if part_start and infer_dtype(part, skipna=True) not in _STRINGY_KINDS:
                continue
            # Judge each distinct value once: columns repeat their categories many times over.
            blank_vals, error_vals = _odd_strings(pd.unique(part) if part_start else part)
            if blank_vals:
                part[pd.Series(part, dtype=object).isin(blank_vals).to_numpy()] = None
            if error_vals:
                hits = np.flatnonzero(pd.Series(part, dtype=object).isin(error_vals).to_numpy())
                for i in hits:
                    errors.append((row0 + part_start + int(i), col0 + j, part[i].strip()))
                part[hits] = None
    return errors


def _row_info(values: np.ndarray, present: np.ndarray) -> tuple[np.ndarray, float]:
    cols = np.flatnonzero(present)
    if len(cols) == 0:
        return cols, 0.0
    texty = sum(1 for v in values[cols] if isinstance(v, str) and is_texty_string(v))
    return cols, texty / len(cols)


def _find_header(cells: np.ndarray, occupied: np.ndarray) -> tuple[int | None, int]:
    """(grid row of the header or None, grid row where data starts)."""
    nonempty = np.flatnonzero(occupied.any(axis=1))
    if len(nonempty) == 0:
        return None, 0
    rows = nonempty[: _HEADER_SCAN_ROWS + _HEADER_LOOKAHEAD]
    info = [_row_info(cells[r], occupied[r]) for r in rows]

    def title_like(k: int, coverage: float) -> bool:
        return coverage < _HEADER_MIN_COVERAGE and info[k][1] == 1.0

    coverages: list[float] = []
    for i in range(min(_HEADER_SCAN_ROWS, len(rows))):
        cols, share = info[i]
        below = info[i + 1 : i + 1 + _HEADER_LOOKAHEAD]
        used = set(cols.tolist())
        if below:
            used = set()
            for bcols, _ in below:
                used.update(bcols.tolist())
        width = len(used)
        covered = len(used.intersection(cols.tolist()))
        coverage = covered / width if width else 0.0
        coverages.append(coverage)
        wide = coverage >= _HEADER_MIN_COVERAGE and (len(cols) >= 2 or width == 1)
        if wide and below:
            next_cols, next_share = below[0]
            # A wider, mostly-text row right below means this one is preamble
            # ("Prepared by: Bob" or "as of: <date>" above the real header).
            if next_share > 0.5 and len(next_cols) > len(cols):
                continue
        if wide and share > 0.5:
            return int(rows[i]), int(rows[i]) + 1
        if wide:
            # Data reached before any header. Narrow text rows above it are titles.
            for k in range(i + 1):
                if not title_like(k, coverages[k]):
                    return None, int(rows[k])
            return None, int(rows[i])
    return None, int(rows[0])


# Header detection looks at this many non-empty rows, and judges each candidate against at most
# this many rows below it.
_HEADER_SCAN_ROWS = 30
_HEADER_LOOKAHEAD = 30
_HEADER_MIN_COVERAGE = 0.6


def _col_letter(index0: int) -> str:
    letters = ""
    n = index0 + 1
    while n:
        n, rem = divmod(n - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


# Characters that show as nothing at all and have no role in a column name; a header cell that
# holds one (pasted from the web, or a BOM the exporter put in the middle of a file) would make
# a name that looks like another one yet does not match it. Joiners and direction marks are
# left alone in the name (some scripts need them) and only ignored when comparing names.
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u2060\ufeff\u00ad\u180e"), None)


def _clean_name(name: str) -> str:
    return name.translate(_INVISIBLE).strip()


def _name_key(name: str) -> str:
    """What a name looks like: NFKC form (full-width letters, NBSP), invisible format
    characters removed, any run of whitespace as one space."""
    folded = unicodedata.normalize("NFKC", name)
    folded = "".join(ch for ch in folded if unicodedata.category(ch) != "Cf")
    return " ".join(folded.split())


def _dedupe(names: list[str]) -> tuple[list[str], list[str], list[str]]:
    """Unique names: (names, renamed exact duplicates, renamed look-alikes).

    Two names are the same when they look the same (:func:`_name_key`), so 'b' and 'b' with
    a zero-width space, or 'a b' and 'a  b', become 'b' and 'b (2)'. Column maps and the model's
    schema match columns by name, so look-alikes must not survive as two different columns.
    """
    taken = {_name_key(n) for n in names}
    seen: dict[str, str] = {}
    out: list[str] = []
    renamed: list[str] = []
    lookalike: list[str] = []
    for name in names:
        key = _name_key(name)
        if key not in seen:
            seen[key] = name
            out.append(name)
            continue
        k = 2
        while _name_key(f"{name} ({k})") in taken or _name_key(f"{name} ({k})") in seen:
            k += 1
        new = f"{name} ({k})"
        seen[_name_key(new)] = new
        taken.add(_name_key(new))
        out.append(new)
        (renamed if seen[key] == name else lookalike).append(new)
    return out, renamed, lookalike




# --------------------------------------------------------------------------------------------
# The pipeline, one step per decision.


@dataclass
class Built:
    frame: pd.DataFrame
    grid_rows: np.ndarray
    header_row: int | None
    dropped_rows: int
    dropped_cols: int
    warnings: list[str]
    formulas_without_value: int = 0


@dataclass
class _Cells:
    """The grid trimmed to what is really there, with where it sits in the sheet."""

    cells: np.ndarray
    has_value: np.ndarray
    occupied: np.ndarray  # a value or an error cell
    placed: list[tuple[int, int, str]]  # error and no-value cells, in grid coordinates
    row0: int
    col0: int


def build(
    cells: np.ndarray,
    row0: int,
    col0: int,
    errors: list[scan.Err],
    *,
    header_row: int | None | str,
    text_mode: bool,
    decimal_comma: bool,
    where: str,
    empty_message: str,
) -> Built:
    """The typed table in ``cells`` (a column-major grid whose top-left cell is sheet row
    ``row0``, column ``col0``); ``errors`` are cells the scanners found, in sheet coordinates.
    The warnings come out in the order a user reads the table: rows, names, types, cells."""
    warnings: list[str] = []
    grid = _trim(cells, row0, col0, errors + _normalise(cells, row0, col0), empty_message)
    h, start = _choose_header(grid, header_row, where, warnings)
    n_rows, n_cols = grid.cells.shape
    data_idx = np.flatnonzero(grid.occupied.any(axis=1)[start:]) + start
    dropped_rows = (n_rows - start) - len(data_idx) if start < n_rows else 0
    col_has_data = (
        grid.occupied[data_idx].any(axis=0) if len(data_idx) else np.zeros(n_cols, bool)
    )
    header_texts = _header_texts(grid, h, warnings)
    keep = [j for j in range(n_cols) if header_texts[j] or col_has_data[j]]
    names = _names(grid, h, header_texts, keep, header_row, text_mode, warnings)
    frame = _typed_frame(grid, data_idx, names, keep, text_mode, decimal_comma, warnings)
    formulas_without_value = _cell_warnings(grid.placed, data_idx, names, keep, warnings)
    if h is not None and len(data_idx) == 0:
        warnings.append("the table has a header but no data rows")
    return Built(
        frame=frame,
        grid_rows=data_idx.astype(np.int64) + grid.row0,
        header_row=(grid.row0 + h + 1) if h is not None else None,
        dropped_rows=int(dropped_rows),
        dropped_cols=int(n_cols - len(keep)),
        warnings=warnings,
        formulas_without_value=int(formulas_without_value),
    )


def _trim(
    cells: np.ndarray, row0: int, col0: int, errors: list[scan.Err], empty_message: str
) -> _Cells:
    """Blank the error cells, then cut the grid to the bounding box of what is really there,
    so that every engine (and the used range a writer happened to record) leads to the same
    table and counts."""
    n_rows, n_cols = cells.shape
    err_mask = np.zeros(cells.shape, dtype=bool)
    placed: list[tuple[int, int, str]] = []
    for r, c, token in errors:
        gr, gc = r - row0, c - col0
        if 0 <= gr < n_rows and 0 <= gc < n_cols:
            err_mask[gr, gc] = True
            cells[gr, gc] = None
            placed.append((gr, gc, token))
    has_value = np.zeros(cells.shape, dtype=bool)
    for j in range(cells.shape[1]):  # a column at a time: no one long hold of the interpreter lock
        has_value[:, j] = ~pd.isna(cells[:, j])
    occupied = has_value | err_mask

    row_any = occupied.any(axis=1) if cells.size else np.zeros(n_rows, dtype=bool)
    col_any = occupied.any(axis=0) if cells.size else np.zeros(n_cols, dtype=bool)
    if not row_any.any():
        raise ReadError(empty_message)
    r_lo, r_hi = np.flatnonzero(row_any)[[0, -1]]
    c_lo, c_hi = np.flatnonzero(col_any)[[0, -1]]
    box = (slice(r_lo, r_hi + 1), slice(c_lo, c_hi + 1))
    return _Cells(
        cells=cells[box],
        has_value=has_value[box],
        occupied=occupied[box],
        placed=[
            (r - r_lo, c - c_lo, t)
            for r, c, t in placed
            if r_lo <= r <= r_hi and c_lo <= c <= c_hi
        ],
        row0=row0 + int(r_lo),
        col0=col0 + int(c_lo),
    )


def _were(n: int) -> str:
    return "was" if n == 1 else "were"


def _choose_header(
    grid: _Cells, header_row: int | None | str, where: str, warnings: list[str]
) -> tuple[int | None, int]:
    """(grid row of the header or None, grid row where the data starts)."""
    occupied = grid.occupied
    if header_row == "auto":
        h, start = _find_header(grid.cells, occupied)
        if h is None:
            skipped = int(occupied[:start].any(axis=1).sum())
            if skipped:
                warnings.append(
                    f"{plural(skipped, 'title row')} above the data {_were(skipped)} skipped"
                )
    elif header_row is None:
        h, start = None, 0
    else:
        n_rows = grid.cells.shape[0]
        h = int(header_row) - 1 - grid.row0
        if not 0 <= h < n_rows:
            raise ReadError(
                f"header row {header_row} is outside the table in {where} "
                f"(it has data on rows {grid.row0 + 1}-{grid.row0 + n_rows})"
            )
        start = h + 1
    if h is not None:
        skipped = int(occupied[:h].any(axis=1).sum())
        if skipped:
            warnings.append(
                f"{plural(skipped, 'title row')} above the header {_were(skipped)} skipped"
            )
    return h, start


def _shown(items: list[str]) -> str:
    """The first five, quoted, for a warning."""
    return ", ".join(f"'{i}'" for i in items[:5]) + (" ..." if len(items) > 5 else "")


def _header_texts(grid: _Cells, h: int | None, warnings: list[str]) -> list[str]:
    """The header row's cells as names ('' for a blank one); all blank without a header."""
    if h is None:
        return [""] * grid.cells.shape[1]
    raw_texts = [header_text(v) for v in grid.cells[h]]
    header_texts = [_clean_name(t) for t in raw_texts]
    cleaned = [c for t, c in zip(raw_texts, header_texts) if t != c and c]
    if cleaned:
        warnings.append(
            "invisible characters (zero-width spaces, soft hyphens or byte-order marks) "
            f"were removed from {plural(len(cleaned), 'column name')}: {_shown(cleaned)}"
        )
    return header_texts


def _names(
    grid: _Cells,
    h: int | None,
    header_texts: list[str],
    keep: list[int],
    header_row: int | None | str,
    text_mode: bool,
    warnings: list[str],
) -> list[str]:
    """One unique name per kept column: the header's text, else a name by position."""
    names: list[str] = []
    unnamed: list[str] = []
    for pos, j in enumerate(keep):
        if h is None:
            names.append(f"column {pos + 1}")
        elif header_texts[j]:
            names.append(header_texts[j])
        else:
            at = grid.col0 + j
            label = f"column {at + 1}" if text_mode else f"column {_col_letter(at)}"
            names.append(label)
            unnamed.append(label)
    if h is None:
        if header_row == "auto":
            warnings.append(
                f"no header row found; columns were named 'column 1' to 'column {len(keep)}'"
                if len(keep) > 1
                else "no header row found; the column was named 'column 1'"
            )
    elif unnamed:
        warnings.append(
            f"{plural(len(unnamed), 'column')} without a header "
            f"{_were(len(unnamed))} named by position: {_shown(unnamed)}"
        )
    return unique_names(names, warnings)


def unique_names(names: list[str], warnings: list[str]) -> list[str]:
    """``names`` made unique (see :func:`_dedupe`), saying so in ``warnings``."""
    names, renamed, lookalike = _dedupe(names)
    if renamed:
        warnings.append(f"duplicate column names were made unique: {_shown(renamed)}")
    if lookalike:
        warnings.append(
            "duplicate column names (they differ only in spaces, invisible characters or "
            f"character width) were made unique: {_shown(lookalike)}"
        )
    return names


def _typed_frame(
    grid: _Cells,
    data_idx: np.ndarray,
    names: list[str],
    keep: list[int],
    text_mode: bool,
    decimal_comma: bool,
    warnings: list[str],
) -> pd.DataFrame:
    columns: dict[str, Any] = {}
    for name, j in zip(names, keep):
        col = grid.cells[:, j][data_idx]
        present = grid.has_value[:, j][data_idx]
        if text_mode:
            arr, note = convert_text(col, present, decimal_comma)
        else:
            arr, note = convert_native(col, present)
        if note:
            warnings.append(f"'{name}': {note}")
        columns[name] = arr
    if not columns:
        return pd.DataFrame(index=pd.RangeIndex(len(data_idx)))
    return pd.DataFrame(columns, index=pd.RangeIndex(len(data_idx)))


def _cell_warnings(
    placed: list[tuple[int, int, str]],
    data_idx: np.ndarray,
    names: list[str],
    keep: list[int],
    warnings: list[str],
) -> int:
    """Warn about the error cells (per column) and the formula cells without a value inside
    the table; returns how many of the latter. They are reported apart, since re-saving the
    file is what fixes those."""
    if not placed:
        return 0
    pos_of_row = {int(g): k for k, g in enumerate(data_idx)}
    name_of_col = dict(zip(keep, names))
    per_col: dict[str, Counter] = {}
    no_value: dict[str, int] = {}
    for gr, gc, token in placed:
        if gr in pos_of_row and gc in name_of_col:
            if token == scan.NO_VALUE:
                no_value[name_of_col[gc]] = no_value.get(name_of_col[gc], 0) + 1
            else:
                per_col.setdefault(name_of_col[gc], Counter())[token] += 1
    formulas_without_value = 0
    if no_value:
        formulas_without_value = n = sum(no_value.values())
        cols = [c for c in names if c in no_value]
        warnings.append(
            f"{plural(n, 'formula cell')} {'has' if n == 1 else 'have'} no computed value "
            f"(the file was saved by a program that does not calculate formulas) and "
            f"{_were(n)} read as missing in {_shown(cols)}; "
            "open the file in Excel and save it to store the values"
        )
    for name in names:
        if name in per_col:
            counts = per_col[name]
            total = sum(counts.values())
            kinds = ", ".join(t for t, _ in counts.most_common())
            warnings.append(f"{plural(total, 'error cell')} ({kinds}) read as missing in '{name}'")
    return formulas_without_value
