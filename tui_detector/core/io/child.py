"""Reading a big file in a child process: cancellable, and off the app's interpreter lock.

The reader types every cell of a sheet as a Python object (that is how calamine hands cells
over, and how the header and type rules look at them). For a million-row sheet that is ten
million objects, about a gigabyte, and seconds of holding the interpreter lock, which freezes
the app's screen while it reads in a thread; a thread cannot be stopped either. So files of
:data:`CHILD_READ_BYTES` or more are read by :mod:`._tablechild`, a fresh interpreter running
the same reader, and come back as an Arrow IPC file: numbers, dates and flags as flat arrays,
text as Arrow strings (pandas' ``str`` dtype keeps them that way), so this process never holds
a Python object per cell. Cancelling kills the child; nothing is left behind.

Nothing in the transfer can run code: the IPC file is data, the row numbers are ``.npy`` read
with ``allow_pickle=False``, and the report is JSON.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from . import sandbox
from ..errors import AnomalyTuiError
from .table import LoadedTable, LoadReport, ReadCancelled, ReadError, SheetInfo
from .tablewire import table_to_frame

__all__ = ["BESIDE_ENV", "CHILD_READ_BYTES", "ReadOutOfMemory", "ReaderUnavailable", "reader_memory", "wanted", "read_in_child"]

#: Files at least this large on disk (and Parquet files of many cells, :data:`CHILD_READ_CELLS`)
#: are read in a child process: about 250k rows x 10 columns
#: of xlsx, 4-5 s of reading. Below it the child's start-up and hand-over (~0.3-0.6 s) would
#: add a quarter to a read too short to need cancelling (a 100k x 20 sheet: 1.8 s vs 2.4 s).
CHILD_READ_BYTES = 24 << 20
#: Set by the parent in the child's environment so the child reads in-process.
IN_CHILD_ENV = "ANOMALY_TUI_READ_CHILD_PROCESS"
#: "0" reads everything in-process, "1" reads everything in a child (tests), unset: by size.
MODE_ENV = "ANOMALY_TUI_READ_CHILD"


class ReaderUnavailable(AnomalyTuiError):
    """The reader process could not be started or could not finish for a reason of this machine
    (not of the file); the caller reads the file in-process instead."""


class ReadOutOfMemory(ReadError):
    """The reader process ran out of memory (a MemoryError, or killed the way the kernel kills
    a process over its memory limit)."""


def _arrow_available() -> bool:
    try:
        import pyarrow  # noqa: F401
        import pyarrow.ipc  # noqa: F401
    except ImportError:
        return False
    return True


def wanted(p: Path) -> bool:
    """Whether ``p`` should be read in a child process."""
    if os.environ.get(IN_CHILD_ENV) == "1" or os.name != "posix":
        # (Waiting on the child's pipe with a timeout, and killing its process group, are POSIX.)
        return False
    mode = os.environ.get(MODE_ENV)
    if mode == "0":
        return False
    try:
        big = mode == "1" or p.stat().st_size >= CHILD_READ_BYTES or _many_parquet_cells(p)
    except OSError:
        return False
    return big and _arrow_available()


#: A Parquet file is compressed (5-20 times), so its size says little: one whose footer counts
#: this many cells or more (a 250k x 10 table, as a 24 MiB workbook holds) is read in a child.
CHILD_READ_CELLS = 2_500_000


def _many_parquet_cells(p: Path) -> bool:
    try:
        with open(p, "rb") as fh:
            if fh.read(4) != b"PAR1":
                return False
        import pyarrow.parquet as pq

        meta = pq.read_metadata(str(p))
        return meta.num_rows * max(1, meta.num_columns) >= CHILD_READ_CELLS
    except Exception:  # noqa: BLE001 - a damaged footer: the reader says so, in this process
        return False


_PREFIX = "anomaly-tui-read-"
#: A hand-over folder this old was left by a process that was killed mid-read, even if its
#: owner's process number has been reused since and looks alive.
_LEFTOVER_SECONDS = 24 * 3600


def _owner_gone(folder: Path) -> bool:
    """Whether the process that made ``folder`` (named ``<prefix><pid>-<random>``) has ended."""
    pid_text = folder.name[len(_PREFIX) :].partition("-")[0]
    if not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False  # alive, someone else's
    return _zombie(pid)


def _zombie(pid: int) -> bool:
    """Dead, but not yet reaped by whoever adopted it (Linux; elsewhere: not known)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    fields = stat.rsplit(")", 1)[-1].split()
    return bool(fields) and fields[0] == "Z"


def _sweep_leftovers() -> None:
    """Remove hand-over folders that a killed process left behind (each can hold a whole
    table): only this user's, and only those whose process has ended or that are a day old,
    never one in use."""
    now = time.time()
    try:
        candidates = list(Path(tempfile.gettempdir()).glob(_PREFIX + "*"))
    except OSError:
        return
    for folder in candidates:
        try:
            st = folder.lstat()
            if folder.is_symlink() or st.st_uid != os.getuid():
                continue
            if now - st.st_mtime < _LEFTOVER_SECONDS and not _owner_gone(folder):
                continue
        except OSError:
            continue
        shutil.rmtree(folder, ignore_errors=True)


def _sheets(rows: Any) -> list[SheetInfo]:
    return [
        SheetInfo(name=str(n), index=int(i), rows=int(r), columns=int(c), visible=bool(v))
        for n, i, r, c, v in rows
    ]


def read_in_child(
    p: Path,
    display: str,
    sheet: str | int | None,
    *,
    header_row: Any = "auto",
    engine: str = "auto",
    list_sheets: bool = False,
    on_sheets: Callable[[list[SheetInfo]], None] | None = None,
    on_stage: Callable[[str], None] | None = None,
    cancel: threading.Event | None = None,
) -> tuple[list[SheetInfo] | None, LoadedTable]:
    """Read one sheet of ``p`` in a child process; with ``list_sheets``, list the workbook's
    sheets first (handed to ``on_sheets`` as soon as known, and returned). ``on_stage`` hears
    what the reader is doing ("typing 1,048,576 rows") as it moves on.

    Raises :class:`ReadCancelled` within about 0.1 s of ``cancel`` being set,
    :class:`ReaderUnavailable` when the reader process cannot do its job on this machine, and
    :class:`ReadError` for everything wrong with the file, with the same message an in-process
    read gives.
    """
    started = time.perf_counter()
    if isinstance(sheet, np.integer):
        sheet = int(sheet)
    options = dict(
        header_row=header_row, engine=engine, list_sheets=list_sheets, on_sheets=on_sheets,
        on_stage=on_stage, cancel=cancel,
    )
    if _side_by_side(p, engine):
        got = _read_beside_scan(p, display, sheet, started, options)
        if got is not None:
            return got
    return _read_one(p, display, sheet, started, options, beside=None)


def _read_one(
    p: Path, display: str, sheet: str | int | None, started: float, options: dict[str, Any],
    beside: _Scan | None,
) -> tuple[list[SheetInfo] | None, LoadedTable]:
    """One reader process; ``beside``: the pre-check running alongside (started by the caller,
    which also reads its verdict), whose refusal kills this reader."""
    header_row, engine, list_sheets = options["header_row"], options["engine"], options["list_sheets"]
    on_sheets, on_stage, cancel = options["on_sheets"], options["on_stage"], options["cancel"]
    _sweep_leftovers()
    # private: mode 0700; the process number lets a later sweep see that its owner is gone
    work = Path(tempfile.mkdtemp(prefix=f"{_PREFIX}{os.getpid()}-"))
    request = {
        "path": str(p),
        "sheet": sheet,
        "header_row": header_row if header_row in ("auto", None) else int(header_row),
        "engine": engine,
        "list": bool(list_sheets),
        "out": str(work),
        "facts": beside is not None,
    }
    if beside is not None:
        beside.start(work)
    sheets: list[SheetInfo] | None = None
    result: dict | None = None

    def heard(line: bytes) -> None:
        nonlocal sheets, result
        try:
            message = json.loads(line)
        except ValueError:
            return
        if not isinstance(message, dict):
            return
        if "sheets" in message:
            sheets = _sheets(message["sheets"])
            if on_sheets is not None:
                on_sheets(sheets)
        elif "stage" in message:
            if on_stage is not None:
                on_stage(str(message["stage"]))
        elif "done" in message or "error" in message:
            result = message

    try:
        try:
            ended = sandbox.run(
                "tui_detector.core.io._tablechild",
                request,
                on_line=heard,
                limits=sandbox.Limits(memory=reader_memory()),
                env={IN_CHILD_ENV: "1", **_arrow_pool_env()},
                cancel=cancel if beside is None else _Either(cancel, beside.refused),
            )
        except sandbox.CannotStart as exc:
            raise ReaderUnavailable(str(exc)) from None
        except sandbox.Cancelled:
            if beside is None or (cancel is not None and cancel.is_set()):
                raise ReadCancelled(f"reading '{display}' was cancelled") from None
            ended = None  # the pre-check refused the file (or could not judge it)
        if beside is not None:
            # Nothing the reader said counts before the pre-check has judged the file: its
            # refusal is the message, whatever the reader met first (a far cell it ran out of
            # memory on, a damaged part it stopped at).
            beside.wait()
            if cancel is not None and cancel.is_set():
                raise ReadCancelled(f"reading '{display}' was cancelled")
            if beside.error is not None:
                raise ReadError(beside.error)
            if beside.failed:
                raise _Again
        assert ended is not None
        if result is None:
            # SIGKILL: the kernel's answer to a process over its memory (cgroup, OOM killer);
            # a Rust allocation that fails under an address-space limit aborts with this line.
            if ended.returncode == -signal.SIGKILL or b"memory allocation of" in ended.stderr:
                raise ReadOutOfMemory(f"reading '{display}' needs more memory than the reader process could have (it was killed)")
            raise ReadError(f"cannot read '{display}': the reader process stopped ({_why(ended.returncode)})")
        if "error" in result:
            message = str(result["error"])
            if result.get("kind") == "unavailable":
                raise ReaderUnavailable(message)
            if result.get("kind") == "memory":
                raise ReadOutOfMemory(f"reading '{display}' needs more memory than the reader process could have")
            if result.get("kind") == "crash":
                message = f"cannot read '{display}': {message}"
            raise ReadError(message)
        loaded = _load(work, result)
        loaded.report.seconds = time.perf_counter() - started
        return sheets, loaded
    finally:
        if beside is not None:
            beside.abandon()
        shutil.rmtree(work, ignore_errors=True)


# --------------------------------------------------------------------------------------------
# The pre-check beside the read

#: "0" runs a big xlsx read's pre-check first and the read after it, in one process.
BESIDE_ENV = "ANOMALY_TUI_CHECK_BESIDE"


def _side_by_side(p: Path, engine: str) -> bool:
    """Whether ``p`` is read while another process runs its pre-check: an xlsx/xlsm sheet
    that fastexcel loads (its parse holds the interpreter lock, so only a second process can
    scan the file meanwhile), and on a machine with a core to spare for the scan."""
    if os.environ.get(BESIDE_ENV) == "0" or (os.cpu_count() or 1) < 2:
        return False
    from .fastread import enabled
    from .formats import checked_size
    from .probe import probe_file

    try:
        probe = probe_file(*checked_size(p))
    except Exception:  # noqa: BLE001 - the read says what is wrong with the file
        return False
    return probe.fmt in ("xlsx", "xlsm") and enabled(probe, engine)


def _read_beside_scan(
    p: Path, display: str, sheet: str | int | None, started: float, options: dict[str, Any]
) -> tuple[list[SheetInfo] | None, LoadedTable] | None:
    """The read with its pre-check in a second process, or None where that pre-check could
    not judge the file (it crashed, or found a sheet wider than fastexcel may load): the
    caller then reads it one step after the other, the pre-check first."""
    try:
        return _read_one(p, display, sheet, started, options, beside=_Scan(p, options["cancel"]))
    except _Again:
        return None


class _Again(Exception):
    """The pre-check beside the read could not judge the file: read it the plain way."""


class _Either:
    """Set when either flag is (what :func:`.sandbox.run` looks at to stop a child)."""

    def __init__(self, *flags: threading.Event | None) -> None:
        self._flags = [f for f in flags if f is not None]

    def is_set(self) -> bool:
        return any(f.is_set() for f in self._flags)


class _Scan:
    """The pre-check of one file in its own process (:mod:`._checkchild`), beside the reader
    process. A file it passes gets its facts written to the reader's folder, which the reader
    waits for; one it refuses sets :attr:`refused` (the reader is killed) with the message in
    :attr:`error`; :attr:`failed`: it could not judge the file."""

    def __init__(self, p: Path, cancel: threading.Event | None) -> None:
        self.path = p
        self.refused = threading.Event()
        self.error: str | None = None
        self.failed = False
        self._cancel = cancel
        self._gone = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, work: Path) -> None:
        self._thread = threading.Thread(target=self._run, args=(work,), name="pre-check", daemon=True)
        self._thread.start()

    def wait(self) -> None:
        if self._thread is not None:
            self._thread.join()

    def abandon(self) -> None:
        """Stop the pre-check process (if it still runs) and wait for it to be gone."""
        self._gone.set()
        self.wait()

    def _run(self, work: Path) -> None:
        passed = False
        try:
            answer = self._verdict()
            if not isinstance(answer, dict) or answer.get("kind") or not ("facts" in answer or "error" in answer):
                self.failed = True
            elif "error" in answer:
                self.error = str(answer["error"])
            elif _too_wide(answer["facts"]):
                self.failed = True
            else:
                ready = work / "facts.json"
                part = work / "facts.json.part"
                part.write_text(json.dumps(answer["facts"]), encoding="utf-8")
                os.replace(part, ready)
                passed = True
        except BaseException:  # noqa: BLE001 - whatever stops this thread, the reader must not wait on
            self.failed = True
        finally:
            # The reader process waits for the facts: without them it is stopped, never left
            # waiting (the caller then says the refusal, or reads the plain way).
            if not passed:
                self.failed = self.failed or self.error is None
                self.refused.set()

    def _verdict(self) -> Any:
        from .guard.isolated import WORKER_CPU_SECONDS, WORKER_TIMEOUT, _worker_memory

        answers: list[bytes] = []
        try:
            sandbox.run(
                "tui_detector.core.io._checkchild",
                {"path": str(self.path)},
                on_line=answers.append,
                limits=sandbox.Limits(memory=_worker_memory(), cpu=WORKER_CPU_SECONDS),
                timeout=WORKER_TIMEOUT,
                cancel=_Either(self._cancel, self._gone),
            )
            return json.loads(answers[0]) if len(answers) == 1 else None
        except (sandbox.CannotStart, sandbox.TimedOut, sandbox.Cancelled, ValueError):
            return None


def _too_wide(facts: Any) -> bool:
    """A sheet past Excel's last column: fastexcel's per-column work crawls on it, so the
    reader's load ahead is stopped and the plain read (which never gives it to fastexcel)
    reads it instead."""
    from .fastread import _MAX_COLUMNS

    try:
        return any(int(c) > _MAX_COLUMNS for _r, c in (facts or {}).get("extents", {}).values())
    except (TypeError, ValueError, AttributeError):
        return True


def reader_memory() -> int:
    """The reader process's address-space limit: three quarters of this machine's memory (at
    least 2 GiB). Its pre-check bounds a sheet's grid only as it reads (and an xlsx's runs in
    a second process beside it), so this is what stops a hostile file from taking the whole
    machine meanwhile: an allocation past it fails, and the parent says so in one line. Measured:
    the full-size sheet (1,048,575 x 10) peaks at 1.5 GiB of address space in the reader process;
    a sheet at the pre-check's cell limit (four times as many cells) fits under the limit on a
    machine of 8 GB."""
    try:
        phys = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        phys = 8 * 1024**3
    return int(max(phys * 3 // 4, 2 * 1024**3))


#: pyarrow's own switch for its allocator, read when pyarrow is imported.
ARROW_POOL_ENV = "ARROW_DEFAULT_MEMORY_POOL"


def _arrow_pool_env() -> dict[str, str]:
    """The reader process allocates Arrow memory from the C library's allocator, unless the
    user chose one: pyarrow's default (mimalloc) asks for memory in a way that waits on the
    kernel's compaction on a fragmented machine (the same wait as NumPy's huge pages). Measured
    here on a 109 MB table: IPC read 0.34-1.58 s with mimalloc, 0.07-0.11 s with the system's."""
    return {} if os.environ.get(ARROW_POOL_ENV) else {ARROW_POOL_ENV: "system"}


def _why(rc: int) -> str:
    """Why a reader process ended without an answer, in words."""
    if rc >= 0:
        return f"exit status {rc}"
    try:
        why = signal.Signals(-rc).name
    except ValueError:
        why = f"signal {-rc}"
    if -rc == signal.SIGKILL:
        why += ", most likely out of memory"
    return why


def _load(work: Path, result: dict) -> LoadedTable:
    import pyarrow as pa
    import pyarrow.ipc

    try:
        report = LoadReport(**result["done"])
        # The file read whole into one Python buffer that the table's columns then point into
        # (no copy): pyarrow's own reads allocate from its default pool, which waits on the
        # kernel here (see _arrow_pool_env; this is the app's process, whose allocator is not
        # ours to set). Measured: 1.2 s for a million-row table's 123 MB against ~0.1 s.
        data = pa.py_buffer((work / "table.arrow").read_bytes())
        pool = pa.system_memory_pool()
        # One chunk per column: picking rows out of a chunked text column (the table's
        # visible rows, an explanation's rows) concatenates its chunks each time.
        table = pa.ipc.open_file(pa.BufferReader(data), memory_pool=pool).read_all().combine_chunks(memory_pool=pool)
        del data
        frame = table_to_frame(table)
        del table
        rows = (
            np.load(work / "rows.npy", allow_pickle=False) if result.get("excel_rows") else None
        )
        source_rows = (
            np.load(work / "source_rows.npy", allow_pickle=False)
            if result.get("source_rows")
            else None
        )
    except (OSError, TypeError, KeyError, ValueError, pa.ArrowException) as exc:
        raise ReadError(
            f"cannot read '{Path(result.get('done', {}).get('path', '?')).name}': "
            f"the reader process returned damaged data ({type(exc).__name__})"
        ) from None
    if list(map(str, frame.columns)) != list(report.columns) or len(frame) != report.rows:
        raise ReadError(
            f"cannot read '{Path(report.path).name}': the reader process returned damaged data"
        )
    return LoadedTable(
        frame=frame, report=report, excel_rows=rows, source_rows=source_rows, sheets=_listing(result.get("listed"))
    )


def _listing(listed: Any) -> tuple[SheetInfo, ...] | None:
    """The sheet list a read learned on the way (see ``engines.Raw.listing``); one the reader
    process sent damaged is dropped (the app lists the file itself then)."""
    if listed is None:
        return None
    try:
        return tuple(_sheets(listed))
    except (TypeError, ValueError):
        return None
