"""A copy of the input rows with their scores, for people who want to stay in Excel.

Columns: every input column, then ``anomaly_score``, ``is_anomaly``, ``top_feature_1..3`` and
``explanation`` (filled for flagged rows). Rows keep the input's order.

Cell text is data, never a formula: in .xlsx every string is written as a string cell (Excel
does not evaluate those), and in .csv a string that a spreadsheet would read as a formula
(``= + - @``, tab, carriage return) gets a leading apostrophe, as OWASP advises for CSV
injection.
"""

from __future__ import annotations

import csv
import datetime as dt
import math
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .atomic import write_with
from .jsonsafe import MAX_SAFE_INTEGER
from .pipeline import DetectionRun
from .errors import AnomalyTuiError

EXCEL_MAX_ROWS = 1_048_576
EXCEL_MAX_COLUMNS = 16_384
EXCEL_MAX_TEXT = 32_767
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
TOP = 3


class ScoredCopyError(AnomalyTuiError, ValueError):
    """The scored copy cannot be written in the requested form; the message says what to do."""


def neutralise(text: str) -> str:
    """Text a spreadsheet would run as a formula, made inert for CSV."""
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def _unique_name(name: str, taken: set[str]) -> str:
    candidate = name
    n = 1
    while candidate in taken:
        n += 1
        candidate = f"{name} ({n})" if n > 2 else f"{name} (anomaly-tui)"
    taken.add(candidate)
    return candidate


def scored_frame(run: DetectionRun, anomalies: list[dict[str, Any]]) -> pd.DataFrame:
    """The input table plus the score columns."""
    frame = run.frame
    n = len(frame)
    taken = {str(c) for c in frame.columns}
    names = {
        key: _unique_name(key, taken)
        for key in ("anomaly_score", "is_anomaly", *(f"top_feature_{i + 1}" for i in range(TOP)), "explanation")
    }
    tops: list[list[Any]] = [[None] * n for _ in range(TOP)]
    explanation: list[Any] = [None] * n
    for item in anomalies:
        row = item["row_index"]
        parts = []
        for i, feature in enumerate(item["anomalous_features"][:TOP]):
            tops[i][row] = feature["feature_name"]
            parts.append(
                f"{feature['feature_name']}: {_show(feature['actual_value'])} "
                f"(expected {_show(feature['expected_value'])})"
            )
        explanation[row] = "; ".join(parts)
    out = frame.copy(deep=False)
    out.columns = [str(c) for c in frame.columns]
    out[names["anomaly_score"]] = run.detection.scores.astype(np.float64)
    out[names["is_anomaly"]] = run.detection.flags.astype(bool)
    for i in range(TOP):
        out[names[f"top_feature_{i + 1}"]] = pd.Series(tops[i], index=frame.index, dtype=object)
    out[names["explanation"]] = pd.Series(explanation, index=frame.index, dtype=object)
    return out


def _show(value: Any) -> str:
    if value is None:
        return "blank"
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def write_scored_copy(
    run: DetectionRun,
    anomalies: list[dict[str, Any]],
    target: str | os.PathLike[str],
    *,
    overwrite: bool,
) -> Path:
    """Write the scored copy as .xlsx or .csv (by ``target``'s extension), atomically."""
    target = Path(target)
    suffix = target.suffix.lower()
    if suffix not in (".xlsx", ".csv"):
        raise ScoredCopyError(f"the scored copy must be a .xlsx or .csv file, not {target.name!r}")
    frame = scored_frame(run, anomalies)
    if suffix == ".xlsx":
        if len(frame) + 1 > EXCEL_MAX_ROWS or frame.shape[1] > EXCEL_MAX_COLUMNS:
            raise ScoredCopyError(
                f"{len(frame):,} rows × {frame.shape[1]} columns do not fit in an Excel sheet; write a .csv instead"
            )
        sheet = run.loaded.report.sheet or "Scored"
        return write_with(target, lambda tmp: _write_xlsx(frame, tmp, sheet), overwrite=overwrite)
    return write_with(target, lambda tmp: _write_csv(frame, tmp), overwrite=overwrite)


# -- xlsx ------------------------------------------------------------------------------------


def _sheet_title(name: str) -> str:
    cleaned = "".join("_" if c in "[]:*?/\\" else c for c in name).strip("'")[:31]
    return cleaned or "Scored"


def _write_xlsx(frame: pd.DataFrame, path: Path, sheet: str) -> None:
    import xlsxwriter  # noqa: PLC0415 - only this export needs it

    options = {
        # Every conversion off: cell text is stored as typed, never turned into a formula,
        # a hyperlink or a number.
        "strings_to_formulas": False,
        "strings_to_urls": False,
        "strings_to_numbers": False,
        "constant_memory": True,
        "nan_inf_to_errors": False,
    }
    workbook = xlsxwriter.Workbook(str(path), options)
    try:
        ws = workbook.add_worksheet(_sheet_title(sheet))
        date_fmt = workbook.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})
        header_fmt = workbook.add_format({"bold": True})
        for j, name in enumerate(frame.columns):
            ws.write_string(0, j, str(name)[:EXCEL_MAX_TEXT], header_fmt)
        writers = [_column_writer(frame[c], ws, date_fmt) for c in frame.columns]
        columns = [frame[c].tolist() for c in frame.columns]
        # constant_memory needs rows written in order, so fill row by row.
        for i in range(len(frame)):
            r = i + 1
            for j, write in enumerate(writers):
                write(r, j, columns[j][i])
        ws.freeze_panes(1, 0)
        ws.autofilter(0, 0, max(len(frame), 1), len(frame.columns) - 1)
    finally:
        workbook.close()


def _column_writer(series: pd.Series, ws: Any, date_fmt: Any):  # noqa: ANN202
    def write_any(r: int, c: int, value: Any) -> None:
        if value is None or value is pd.NA or value is pd.NaT:
            return
        if isinstance(value, (bool, np.bool_)):
            ws.write_boolean(r, c, bool(value))
        elif isinstance(value, (int, np.integer)):
            number = int(value)
            if abs(number) > MAX_SAFE_INTEGER:
                ws.write_string(r, c, str(number))  # a double would change the digits
            else:
                ws.write_number(r, c, number)
        elif isinstance(value, (float, np.floating)):
            if math.isfinite(value):
                ws.write_number(r, c, float(value))
        elif isinstance(value, (pd.Timestamp, dt.datetime)):
            if value.tzinfo is not None:
                ws.write_string(r, c, value.isoformat())
            else:
                ws.write_datetime(r, c, pd.Timestamp(value).to_pydatetime(), date_fmt)
        elif isinstance(value, dt.date):
            ws.write_datetime(r, c, dt.datetime(value.year, value.month, value.day), date_fmt)
        else:
            ws.write_string(r, c, str(value)[:EXCEL_MAX_TEXT])

    return write_any


# -- csv -------------------------------------------------------------------------------------


def _csv_cell(value: Any) -> Any:
    if value is None or value is pd.NA or value is pd.NaT:
        return ""
    if isinstance(value, float) and not math.isfinite(value):
        return ""
    if isinstance(value, (pd.Timestamp, dt.datetime, dt.date)):
        return value.isoformat()
    if isinstance(value, str):
        return neutralise(value)
    return value


def _write_csv(frame: pd.DataFrame, path: Path) -> None:
    # utf-8-sig: Excel reads a BOM-less UTF-8 CSV as the local code page and garbles accents.
    with open(path, "w", encoding="utf-8-sig", newline="", errors="replace") as fh:
        writer = csv.writer(fh)
        writer.writerow([neutralise(str(c)) for c in frame.columns])
        columns = [frame[c].tolist() for c in frame.columns]
        for i in range(len(frame)):
            writer.writerow([_csv_cell(col[i]) for col in columns])
