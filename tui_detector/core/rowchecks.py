"""Rows a model should not learn from, and tables too small to learn from.

Totals and subtotals rows are found and left out of the model with a reason.

A sheet exported by hand often ends with a row that sums the rows above ("TOTAL", "Grand
total", "England" above its counties). Its numbers are the column's sums, so a model sees it
as the strangest row of the sheet, and an analyst learns nothing from that. Such a row is one
whose numbers equal the sums of the rows above it (since the previous totals row, or of the
whole column), with a label such as Total or Sum in a text cell, or with at least two numeric
columns that add up; it is left out before training and scoring, and listed in the export's
``diagnostics`` with its row number and the reason.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from .io.table import LoadedTable

#: Words that label a totals row, at the start of a cell (English, German, French, Spanish,
#: Dutch, Italian, Portuguese).
LABEL = re.compile(
    r"^\s*(grand\s+|sub-?\s*)?(total|totals|sum|summe|gesamt|insgesamt|totaal|totale|somme|suma|soma)\b",
    re.IGNORECASE,
)
#: How close a cell must be to the sum it claims to be (share of the sum, plus rounding).
TOLERANCE = 0.005
#: Only the rows with a label are checked anywhere in the table; without one, only the last.
MIN_SUMMED_COLUMNS = 2


@dataclass(frozen=True)
class TotalsRow:
    position: int
    label: str | None
    columns: tuple[str, ...]

    def reason(self) -> str:
        summed = ", ".join(self.columns[:3]) + (" …" if len(self.columns) > 3 else "")
        named = f"labelled {self.label!r}; " if self.label else ""
        return f"a totals row ({named}its {summed} are the sums of the rows above)"


def _numeric_columns(frame: pd.DataFrame) -> list[str]:
    out = []
    for column in frame.columns:
        series = frame[column]
        if pd.api.types.is_bool_dtype(series.dtype):
            continue
        if pd.api.types.is_numeric_dtype(series.dtype):
            out.append(column)
            continue
        if series.dtype == object:
            values = pd.to_numeric(series, errors="coerce")
            if values.notna().sum() >= 0.9 * series.notna().sum() > 0:
                out.append(column)
    return out


def _labels(frame: pd.DataFrame) -> dict[int, str]:
    """Positions of rows with a totals label in a text cell, and the label."""
    found: dict[int, str] = {}
    for column in frame.columns:
        series = frame[column]
        if pd.api.types.is_numeric_dtype(series.dtype) or pd.api.types.is_datetime64_any_dtype(series.dtype):
            continue
        for position in _label_rows(series).tolist():
            found.setdefault(position, str(series.iloc[position]).strip())
    return found


def _label_rows(series: pd.Series) -> np.ndarray:
    """Positions of the cells of a text column that LABEL matches."""
    arrow = _arrow_strings(series)
    if arrow is not None:
        # An ID column of a million distinct values would be a million regex calls here; Arrow
        # first keeps the cells holding one of the words anywhere, any case (every cell LABEL
        # matches is among them), and LABEL then judges those few.
        import pyarrow.compute as pc  # noqa: PLC0415 - only for Arrow-backed columns

        near = pc.fill_null(pc.match_substring_regex(arrow, _WORDS, ignore_case=True), False)
        near = np.flatnonzero(near.to_numpy(zero_copy_only=False))
        return np.array([p for p in near.tolist() if LABEL.match(series.iloc[p])], dtype=np.int64)
    # Per distinct value, not per row: a million-row column has few.
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    hits = np.array([isinstance(u, str) and bool(LABEL.match(u)) for u in uniques] + [False])
    return np.flatnonzero(hits[codes])


#: The words of LABEL, unanchored, for Arrow's RE2 (a superset of what LABEL matches).
_WORDS = "total|sum|gesamt|totaal|somme|suma|soma"


def _arrow_strings(series: pd.Series):  # noqa: ANN202 - a pyarrow ChunkedArray or None
    """The column as Arrow strings when it is held that way (pandas' ``str`` dtype), else None."""
    try:
        import pyarrow as pa  # noqa: PLC0415

        if not isinstance(series.dtype, pd.StringDtype) or series.dtype.storage != "pyarrow":
            return None
        arrow = pa.array(series.array)  # the Arrow data itself, not copied
    except (ImportError, TypeError, ValueError, AttributeError):
        return None
    return arrow if pa.types.is_string(arrow.type) or pa.types.is_large_string(arrow.type) else None


def find_totals(frame: pd.DataFrame) -> list[TotalsRow]:
    """The rows of ``frame`` that sum the rows above them (see the module's docstring)."""
    n = len(frame)
    if n < 3:
        return []
    numeric = _numeric_columns(frame)
    if not numeric:
        return []
    values = np.column_stack([pd.to_numeric(frame[c], errors="coerce").to_numpy(dtype=np.float64) for c in numeric])
    labels = _labels(frame)
    candidates = sorted(set(labels) | {n - 1})
    totals: list[TotalsRow] = []
    excluded = np.zeros(n, dtype=bool)
    excluded[candidates] = True
    clean = np.where(np.isnan(values) | excluded[:, None], 0.0, values)
    running = np.cumsum(clean, axis=0)
    whole = running[-1]
    segment_start = 0
    for position in candidates:
        if position < 2:
            continue
        row = values[position]
        above = running[position - 1] - (running[segment_start - 1] if segment_start else 0.0)
        matched = []
        for j, column in enumerate(numeric):
            cell = row[j]
            if not np.isfinite(cell) or cell == 0:
                continue
            for target in (above[j], whole[j]):
                if abs(cell - target) <= TOLERANCE * abs(target) + 0.01:
                    matched.append(str(column))
                    break
        label = labels.get(position)
        if matched and (label is not None or len(matched) >= MIN_SUMMED_COLUMNS):
            totals.append(TotalsRow(position, label, tuple(matched)))
            segment_start = position + 1
    return totals


def totals_of(loaded: LoadedTable) -> tuple[TotalsRow, ...]:
    """:func:`find_totals` of the table, looked for once per table (Set up's cache note, the
    cache key and training all ask)."""
    if loaded.totals_found is None:
        loaded.totals_found = tuple(find_totals(loaded.frame))
    return loaded.totals_found


def leave_out_totals(loaded: LoadedTable) -> tuple[LoadedTable, list[TotalsRow]]:
    """``loaded`` without its totals rows (the rows keep their sheet row numbers), and them."""
    found = list(totals_of(loaded))
    if not found:
        return loaded, []
    keep = np.ones(len(loaded.frame), dtype=bool)
    keep[[t.position for t in found]] = False
    frame = loaded.frame.iloc[keep].reset_index(drop=True)
    rows = loaded.excel_rows[keep] if loaded.excel_rows is not None else None
    source_rows = loaded.source_rows[keep] if loaded.source_rows is not None else None
    report = replace(loaded.report, rows=len(frame))
    left_out = tuple(t.position for t in found)
    return replace(
        loaded, frame=frame, report=report, excel_rows=rows, source_rows=source_rows,
        left_out=left_out, totals_found=(),
    ), found


def describe(found: list[TotalsRow], loaded: LoadedTable) -> list[dict[str, object]]:
    """The totals rows as ``diagnostics`` lists them: where, the label, why."""
    out = []
    for t in found:
        excel = int(loaded.excel_rows[t.position]) if loaded.excel_rows is not None else None
        source = int(loaded.source_rows[t.position]) if loaded.source_rows is not None else None
        out.append({
            "row_index": t.position, "excel_row": excel, "source_row": source,
            "label": t.label, "reason": t.reason(),
        })
    return out


#: Fewer rows than this and a percentile threshold, a column's usual range and an entity's
#: usual value rest on too little to mean much.
SMALL_TABLE_ROWS = 50


def small_table_warning(rows: int) -> str | None:
    if rows >= SMALL_TABLE_ROWS:
        return None
    return (
        f"only {rows:,} row{'s' if rows != 1 else ''}: too few for the statistics to mean much "
        f"(at least {SMALL_TABLE_ROWS} are needed); read the scores as an order, not a verdict"
    )
