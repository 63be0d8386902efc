"""What a read hands back, and how it says it could not: the types every step of a read shares.

Kept apart from the reader so that the child-process reader (:mod:`.child`) and the
orchestrator (:mod:`.reader`) both depend on it instead of on each other. Free of heavy
imports: pandas and NumPy appear in annotations only.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import AnomalyTuiError

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

__all__ = ["ReadError", "ReadCancelled", "SheetInfo", "LoadReport", "LoadedTable"]


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
    #: Each row's number in the file where the format has one and it is not a workbook: the
    #: line of a CSV or JSON Lines file, the record of a JSON array, the row of a Parquet file
    #: or of a database table, from 1. None for a workbook (its rows are ``excel_rows``).
    source_rows: np.ndarray | None = None
    #: Positions (in the table as read) of rows left out as totals rows (see core.rowchecks).
    left_out: tuple[int, ...] = ()
    #: The totals rows found in this table (core.rowchecks.totals_of); None: not looked for yet.
    totals_found: tuple | None = None
    #: The file's sheets, where they were listed with this read, and the sheet as asked for
    #: (core.tablestore keeps both, to find the same read again).
    sheets: tuple | None = None
    asked: dict | None = None
    #: The roles guessed for its columns (``core.guessed_profiles``); None: not guessed yet.
    profiles: tuple | None = None


# --------------------------------------------------------------------------------------------
# Wording every step of a read shares, so its messages read alike.


def display_name(path: Path) -> str:
    """How a message names a file: its name, or the whole path when it has none."""
    return path.name or str(path)


def plural(n: int, word: str, plural_form: str | None = None) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {plural_form or word + 's'}"


def one_line(exc: BaseException) -> str:
    msg = " ".join(str(exc).split())
    return msg[:200] if msg else type(exc).__name__


def is_fatal(exc: BaseException) -> bool:
    """Exceptions that must keep propagating (everything else from a parser is a bad file).

    pyo3's PanicException (a Rust panic) derives from BaseException, so ``except Exception``
    alone lets it through.
    """
    return isinstance(exc, (KeyboardInterrupt, SystemExit, GeneratorExit))
