"""Demo data: realistic tables with planted, documented anomalies, and the bundled demo workbook.

Not detection: the core never imports this package. Two generators (expense claims, machine
sensor readings) build tables an analyst would recognise, on the planting framework in
:mod:`.planting`; :mod:`.workbook` puts both into the .xlsx that ``anomaly-tui --demo`` opens.
"""

from __future__ import annotations

from .claims import make_expense_claims
from .planting import KINDS, PlantedAnomaly, SyntheticTable
from .sensors import make_sensor_readings
from .workbook import demo_tables, demo_workbook_path, write_demo_workbook

__all__ = [
    "KINDS",
    "PlantedAnomaly",
    "SyntheticTable",
    "demo_tables",
    "demo_workbook_path",
    "make_expense_claims",
    "make_sensor_readings",
    "write_demo_workbook",
]
