"""Demo data: realistic tables with planted, documented anomalies, and the bundled demo workbook.

Not detection: the core never imports this package. Two generators (expense claims, machine
sensor readings) build tables an analyst would recognise, on the planting framework in
:mod:`.planting`; :mod:`.workbook` puts both into the .xlsx that ``anomaly-tui --demo`` opens.
"""

from __future__ import annotations

import importlib
from typing import Any

#: Public name -> the module that defines it, imported on first use (PEP 562): ``--demo`` needs
#: only the workbook's path, not the generators and pandas behind them.
_EXPORTS = {
    "KINDS": "tui_detector.demo.planting",
    "PlantedAnomaly": "tui_detector.demo.planting",
    "SyntheticTable": "tui_detector.demo.planting",
    "demo_tables": "tui_detector.demo.workbook",
    "demo_workbook_path": "tui_detector.demo.bundled",
    "make_expense_claims": "tui_detector.demo.claims",
    "make_sensor_readings": "tui_detector.demo.sensors",
    "write_demo_workbook": "tui_detector.demo.workbook",
}

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


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value
