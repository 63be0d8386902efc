"""The line at the top of Set up, and the worker behind it: the file read and profiled, with
what is being read and for how long, then what was read."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from rich.text import Text
from textual import on, work
from textual.message import Message
from textual.timer import Timer
from textual.widgets import Static

from tui_detector import core

if TYPE_CHECKING:
    from tui_detector.core import ColumnProfile, LoadedTable, LoadReport, SheetInfo


#: Formats whose columns are named by the file itself, not by a header row.
_NAMED_BY_FILE = ("parquet", "json", "jsonl", "sqlite")


class ReadingStatus(Static):
    """Reads a sheet of ``path`` in a worker (files can be big) and posts :class:`Loaded`
    (with the columns profiled) or :class:`Failed`. Meanwhile it shows ``Reading sheet S of
    f.xlsx (rows × columns) … 12 s`` and the reader's stage, ticking every half second (listing
    a big workbook's sheets alone takes a while, and a silent screen looks hung); then the
    source line, or that the file cannot be read.

    File and sheet names are drawn as plain text, never markup.
    """

    @dataclass
    class Loaded(Message):
        sheets: list[SheetInfo]
        loaded: LoadedTable
        sha: str
        profiles: list[ColumnProfile]

    @dataclass
    class Failed(Message):
        message: str

    @dataclass
    class _Listed(Message):
        """The sheet list is known (sizes included) and the sheet itself is being read."""

        sheets: list[SheetInfo]
        sheet: str | None

    @dataclass
    class _Stage(Message):
        """The reader moved on to its next long step ("typing 1,048,576 rows")."""

        text: str

    def __init__(self, path: Path, *, id: str | None = None) -> None:
        super().__init__(Text(f"Reading {path.name} …"), id=id)
        self.path = path
        self.file_name = path.name
        self._cancel = threading.Event()
        self._text = f"Reading {path.name}"
        self._stage = ""
        self._started: float | None = None
        self._timer: Timer | None = None

    def read(self, sheet: str | None, sheets: list[SheetInfo]) -> None:
        """Read ``sheet`` (``None``: the first visible one), from the ``sheets`` already
        listed (none: list them first); a read still running is stopped first."""
        what = f"sheet {sheet} of {self.file_name}" if sheet is not None else self.file_name
        self._start(f"Reading {what}")
        self._cancel.set()
        self._cancel = threading.Event()
        self._read(sheet, list(sheets), self._cancel)

    def cancel(self) -> None:
        """Stop the read in progress: a big file's reader process is killed at once."""
        self._cancel.set()

    def on_unmount(self) -> None:
        self.cancel()

    @work(thread=True, exclusive=True, exit_on_error=False, group="setup-read")
    def _read(self, sheet: str | None, sheets: list[SheetInfo], cancel: threading.Event) -> None:
        stage = lambda text: self.post_message(self._Stage(text))  # noqa: E731
        try:
            if sheets:
                self.post_message(self._Listed(sheets, sheet))
                loaded, sha = core.load_source(self.path, sheet, cancel=cancel, on_stage=stage, cache=core.ModelCache())
            else:
                # A file opened before comes back from the copy kept with its cached model.
                sheets, (loaded, sha) = core.open_source(
                    self.path,
                    sheet,
                    on_sheets=lambda found: self.post_message(self._Listed(found, sheet)),
                    on_stage=stage,
                    cancel=cancel,
                    cache=core.ModelCache(),
                )
            if cancel.is_set():
                return
            # the totals rows too: Set up's note on them is then ready with the roles
            profiles, _totals = core.first_look(loaded)
        except core.ReadCancelled:
            return  # the user left this screen; nothing to show
        except core.ReadError as exc:
            self.post_message(self.Failed(str(exc)))
            return
        except MemoryError:
            self.post_message(self.Failed("not enough memory to read this table"))
            return
        except Exception as exc:  # noqa: BLE001 - a bad file leaves a message, never a dead app
            self.post_message(self.Failed(f"{type(exc).__name__}: {exc}"))
            return
        self.post_message(self.Loaded(sheets, loaded, sha, profiles))

    def _start(self, text: str) -> None:
        """A read starts (the file, or another sheet): the clock starts from zero."""
        self._text = text
        self._stage = ""
        self._started = time.monotonic()
        if self._timer is None:
            self._timer = self.set_interval(0.5, self._show)
        self._show()

    @on(_Listed)
    def _listed(self, message: _Listed) -> None:
        """Say which sheet is read, and how big it is."""
        sheets, wanted = message.sheets, message.sheet
        info = None
        if sheets:
            visible = [i for i in sheets if i.visible] or sheets
            info = next((i for i in sheets if i.name == wanted), None) if wanted else visible[0]
        what = f"sheet {info.name} of {self.file_name}" if info else self.file_name
        size = f" ({info.rows:,} rows × {info.columns} columns in the sheet)" if info else ""
        self._text = f"Reading {what}{size}"
        self._show()

    @on(_Stage)
    def _stage_reached(self, message: _Stage) -> None:
        self._stage = message.text
        self._show()

    @on(Loaded)
    def _loaded(self, message: Loaded) -> None:
        """The source line (sheet, size, header row, the first warning)."""
        report: LoadReport = message.loaded.report
        self._stop()
        source = Text(self.file_name, style="bold")
        if report.sheet:
            source.append(" · table " if report.file_format == "sqlite" else " · sheet ")
            source.append(report.sheet, style="bold")
        if report.header_row:
            header = f"header on row {report.header_row}"
        else:
            # Parquet, JSON and database tables name their columns themselves: no row to find.
            header = "column names from the file" if report.file_format in _NAMED_BY_FILE else "no header row"
        source.append(f" · {report.rows:,} {'row' if report.rows == 1 else 'rows'} of data × {len(report.columns)} columns · {header}")
        info = next((i for i in message.sheets if i.name == report.sheet), None)
        if info is not None and info.rows != report.rows:
            # The sheet list counts every row of the sheet (title, header, blank rows too).
            source.append(f" (the sheet has {info.rows:,} rows in all)", style="dim")
        if report.warnings:
            source.append(f" · {len(report.warnings)} warning(s): ", style="yellow")
            source.append(report.warnings[0], style="yellow")
        self.update(source)

    @on(Failed)
    def _failed(self) -> None:
        self._stop()
        self.update(Text(f"Cannot open {self.file_name}"))

    def _show(self) -> None:
        if self._started is None:
            return
        elapsed = time.monotonic() - self._started
        text = Text(f"{self._text} … {elapsed:.0f} s", style="bold")
        if self._stage:
            text.append(f"   {self._stage}", style="italic")
        text.append("   escape: back to the file picker", style="dim")
        self.update(text)

    def _stop(self) -> None:
        self._started = None
        if self._timer is not None:
            self._timer.stop()
            self._timer = None
