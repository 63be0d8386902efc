"""The bundled demo workbook: expense claims and sensor readings in one .xlsx, byte-identical per seed."""

from __future__ import annotations

import io
import os
import re
import zipfile
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import platformdirs

from ..core.atomic import write_bytes_atomic
from .claims import COUNTRIES, FX_PER_EUR, make_expense_claims
from .planting import SyntheticTable
from .sensors import make_sensor_readings

DEMO_TITLE = "Expense claims — Q3 2026 export"
DEMO_CLAIMS_ROWS = 2000
DEMO_SENSOR_ROWS = 1500
DEMO_HEADER_ROW = 3  # 1-based row of the header on the Claims sheet
# Bumped whenever the generator or the layout changes, so a stale cached demo is not reused.
# Fixed document and zip timestamps make the file byte-identical for a given seed.
_FIXED_TIME = datetime(2026, 10, 1, 9, 0, 0)


def demo_tables(seed: int = 0) -> dict[str, SyntheticTable]:
    """The tables behind the demo workbook, keyed by sheet name, with their ground truth.

    Row ``i`` of the Claims frame is on Excel row ``DEMO_HEADER_ROW + 1 + i``; row ``i`` of the
    Sensors frame is on Excel row ``2 + i``.
    """
    return {
        "Claims": make_expense_claims(DEMO_CLAIMS_ROWS, anomaly_rate=0.01, seed=seed),
        "Sensors": make_sensor_readings(DEMO_SENSOR_ROWS, anomaly_rate=0.01, seed=seed),
    }


def _excel_value(v):
    if v is None or v is pd.NaT or v is pd.NA:
        return None
    if isinstance(v, float) and np.isnan(v):
        return None
    if isinstance(v, pd.Timestamp):
        return v.to_pydatetime()
    if isinstance(v, np.bool_):
        return bool(v)
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.floating):
        return None if np.isnan(v) else float(v)
    return v


def _write_frame(ws, frame: pd.DataFrame, header_row: int, formats: dict[str, str]) -> None:
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    bold = Font(bold=True)
    for j, name in enumerate(frame.columns, start=1):
        cell = ws.cell(row=header_row, column=j, value=name)
        cell.font = bold
    columns = [frame[c].astype(object).tolist() for c in frame.columns]
    for i in range(len(frame)):
        r = header_row + 1 + i
        for j, col in enumerate(columns, start=1):
            value = _excel_value(col[i])
            if value is None:
                continue
            cell = ws.cell(row=r, column=j, value=value)
            fmt = formats.get(frame.columns[j - 1])
            if fmt:
                cell.number_format = fmt
    for j, name in enumerate(frame.columns, start=1):
        sample = [len(str(v)) for v in columns[j - 1][:200] if _excel_value(v) is not None]
        width = max([len(str(name)), *sample])
        ws.column_dimensions[get_column_letter(j)].width = min(max(10, width + 2), 45)
    ws.freeze_panes = ws.cell(row=header_row + 1, column=1)


def _normalise_xlsx(data: bytes) -> bytes:
    # openpyxl stamps the save time into docProps/core.xml and into every zip entry; rewriting
    # both with a fixed time is what makes two runs produce the same bytes.
    stamp = _FIXED_TIME.strftime("%Y-%m-%dT%H:%M:%SZ")
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, \
            zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            payload = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                payload = re.sub(rb"(<dcterms:modified[^>]*>)[^<]*(</dcterms:modified>)",
                                 rb"\g<1>" + stamp.encode() + rb"\g<2>", payload)
            entry = zipfile.ZipInfo(info.filename, date_time=_FIXED_TIME.timetuple()[:6])
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = 0o600 << 16
            dst.writestr(entry, payload)
    return out.getvalue()


def write_demo_workbook(path: str | os.PathLike[str], seed: int = 0) -> Path:
    """Write the demo .xlsx: "Claims" (title row, blank row, header on row 3), "Sensors", and a
    hidden "Lookup" sheet. The file is written atomically and is byte-identical for a seed."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tables = demo_tables(seed)

    wb = Workbook()
    claims = wb.active
    claims.title = "Claims"
    claims["A1"] = DEMO_TITLE
    claims["A1"].font = Font(bold=True, size=14)
    _write_frame(claims, tables["Claims"].frame, DEMO_HEADER_ROW,
                 {"amount": "#,##0.00", "submitted_at": "yyyy-mm-dd hh:mm"})

    sensors = wb.create_sheet("Sensors")
    _write_frame(sensors, tables["Sensors"].frame, 1,
                 {"timestamp": "yyyy-mm-dd hh:mm", "power_kw": "0.0", "temperature_c": "0.0"})

    lookup = wb.create_sheet("Lookup")
    lookup.append(["country", "currency", "eur_rate"])
    for country, currency, _, _ in COUNTRIES:
        lookup.append([country, currency, FX_PER_EUR[currency]])
    lookup.sheet_state = "hidden"

    wb.properties.creator = "anomaly-tui"
    wb.properties.title = DEMO_TITLE
    wb.properties.created = _FIXED_TIME
    buf = io.BytesIO()
    wb.save(buf)
    # Same bytes, so overwriting a stale copy from another process is harmless.
    write_bytes_atomic(path, _normalise_xlsx(buf.getvalue()), overwrite=True)
    return path


