"""The values a read hands back, and the errors it raises: shared by the reader, the child-process
reader and everything downstream, so none of them has to import the reader to name them."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..errors import AnomalyTuiError

__all__ = ["LoadReport", "LoadedTable", "ReadCancelled", "ReadError", "SheetInfo"]


class ReadError(AnomalyTuiError):
    """A file could not be read; ``str(error)`` is one line meant for the user."""

    def __init__(self, message: str) -> None:
        # Parser messages can span lines; the UI shows this in a one-line status bar.
        super().__init__(" ".join(str(message).split()))


class ReadCancelled(ReadError):
    """The caller stopped the read (the user left the screen); nothing was kept."""


@dataclass(frozen=True)
class SheetInfo:
    """One worksheet; ``rows``/``columns`` are the size of its used range."""

    name: str
    index: int
    rows: int
    columns: int
    visible: bool


@dataclass
class LoadReport:
    path: str
    file_format: str
    engine: str
    sheet: str | None
    header_row: int | None
    rows: int
    columns: list[str]
    dropped_empty_rows: int
    dropped_empty_columns: int
    warnings: list[str]
    seconds: float
    encoding: str | None = None
    delimiter: str | None = None
    #: formula cells inside the table saved without a computed value (read as missing)
    formulas_without_value: int = 0


@dataclass
class LoadedTable:
    frame: pd.DataFrame
    report: LoadReport
    excel_rows: np.ndarray | None
