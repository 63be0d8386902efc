"""Child-process side of a big read, started through :mod:`.sandbox` by :mod:`.child`.

The parent sends one JSON request on stdin. This process runs the ordinary in-process reader
on it, so a table reads exactly the same either way, and answers with JSON lines on stdout:

* ``{"sheets": [[name, index, rows, columns, visible], ...]}`` as soon as the sheet list is
  known (the app shows the sheet and its size while the sheet itself is read);
* then ``{"done": {...report...}, "listed": [...] or null}`` (``listed``: the sheet list the read
  learned on the way, for a file of one sheet) with the table written as an Arrow IPC file (data only:
  no pickle, nothing that can run) and the Excel row numbers as a ``.npy`` file in the private
  directory the parent named (and any other file's row numbers likewise), or ``{"error": "one line for the user"}``.

Every cell of a million-row sheet becomes a Python object while it is typed; here those
objects die with this process, and the parent, which runs the app's event loop, never holds
them nor the interpreter lock while they are made. Killing this process is how a read is
cancelled.
"""

from __future__ import annotations

import json
import sys


def _emit(obj: dict) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def _run(req: dict) -> dict:
    from pathlib import Path

    import numpy as np
    import pyarrow as pa
    import pyarrow.ipc

    from tui_detector.core.io import reader
    from tui_detector.core.io.tablewire import frame_to_table

    path = req["path"]
    sheet = req.get("sheet")
    told: set[str] = set()

    def stage(text: str) -> None:
        if text not in told:  # listing and reading both start by checking the file
            told.add(text)
            _emit({"stage": text})

    def tell(sheets: list) -> None:
        _emit({"sheets": [[s.name, s.index, s.rows, s.columns, s.visible] for s in sheets]})

    options = {"header_row": req.get("header_row", "auto"), "engine": req.get("engine", "auto")}
    out = Path(req["out"])
    if req.get("facts"):
        # Another process runs the pre-check meanwhile: load the body ahead, then wait for
        # the facts its scan found (or to be killed, if it refused the file).
        ahead = reader._read_ahead(path, sheet, on_stage=stage, listing=bool(req.get("list")), **options)
        options.update(known=_await_facts(out), ahead=ahead)
    if req.get("list"):
        _sheets, loaded = reader._open_here(path, sheet, on_sheets=tell, on_stage=stage, **options)
    else:
        loaded = reader._read_here(path, sheet, on_stage=stage, **options)
    stage("handing the table over")
    table = frame_to_table(loaded.frame)
    with pa.OSFile(str(out / "table.arrow"), "wb") as sink:
        with pa.ipc.new_file(sink, table.schema) as writer:
            writer.write_table(table)
    del table
    if loaded.excel_rows is not None:
        np.save(out / "rows.npy", np.asarray(loaded.excel_rows, dtype=np.int64), allow_pickle=False)
    if loaded.source_rows is not None:
        np.save(out / "source_rows.npy", np.asarray(loaded.source_rows, dtype=np.int64), allow_pickle=False)
    report = dict(vars(loaded.report))
    listed = None if loaded.sheets is None else [[s.name, s.index, s.rows, s.columns, s.visible] for s in loaded.sheets]
    return {
        "done": report,
        "excel_rows": loaded.excel_rows is not None,
        "source_rows": loaded.source_rows is not None,
        "listed": listed,
    }


#: The file the parent writes the pre-check's facts to (whole, by a rename) once the file passed.
FACTS_FILE = "facts.json"


def _await_facts(out):
    import time

    from tui_detector.core.io import guard

    ready = out / FACTS_FILE
    while not ready.exists():
        time.sleep(0.005)
    try:
        data = json.loads(ready.read_text(encoding="utf-8"))
        return None if data is None else guard.facts_from_wire(data)
    except ValueError as exc:  # the parent's own file: this process cannot do its job
        raise OSError(f"damaged pre-check facts ({exc})") from None


def request(who: str, **damaged: str) -> dict | None:
    """The parent's one JSON request on stdin, with the table module's ReadError importable;
    None (and the answer already sent) when the request is damaged or this process cannot read."""
    try:
        req = json.loads(sys.stdin.buffer.read().decode("utf-8"))
        if not isinstance(req, dict):
            raise ValueError("not an object")
    except Exception:  # noqa: BLE001
        _emit({"error": f"the {who} process got a damaged request", **damaged})
        return None
    try:
        from tui_detector.core.io.table import ReadError  # noqa: F401
    except Exception as exc:  # noqa: BLE001
        _emit({"error": f"{type(exc).__name__}: {exc}", "kind": "unavailable"})
        return None
    return req


def main() -> int:
    req = request("reader")
    if req is None:
        return 0
    from tui_detector.core.io.table import ReadError
    try:
        _emit(_run(req))
    except ReadError as exc:
        _emit({"error": str(exc)})
    except (ImportError, OSError) as exc:
        # This process could not do its job (a missing module, a full temporary disk): the
        # parent reads the file itself instead.
        _emit({"error": f"{type(exc).__name__}: {exc}", "kind": "unavailable"})
    except MemoryError:
        _emit({"error": "it is too large for the available memory", "kind": "memory"})
    except BaseException as exc:  # noqa: BLE001 - a Rust panic derives from BaseException
        msg = " ".join(str(exc).split())[:300] or type(exc).__name__
        _emit({"error": f"{type(exc).__name__}: {msg}", "kind": "crash"})
    return 0

