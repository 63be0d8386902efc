"""Child-process side of the pre-check that runs beside a big xlsx read (:mod:`.child`).

The parent sends ``{"path": ...}``; this process runs the reader's own pre-check on the file
(:func:`.reader._scanned`: the same checks, in the same order, with the same messages as a
read in one process) and answers with one JSON line: ``{"facts": {...}}`` (the archive's facts,
:func:`.guard.facts_to_wire`, or null for a file that is no archive) when the file passes,
``{"error": "one line for the user"}`` when it is refused, or ``{"error": ..., "kind": ...}``
when this process could not do its job (the parent then reads the file the slower way, one
step after the other).
"""

from __future__ import annotations


def main() -> int:
    from tui_detector.core.io._tablechild import _emit, request

    req = request("pre-check", kind="crash")
    if req is None:
        return 0
    from tui_detector.core.io import guard, reader
    from tui_detector.core.io.table import ReadError

    path = str(req.get("path"))
    try:
        probe = reader._scanned(path)
        facts = None if probe.zip_facts is None else guard.facts_to_wire(probe.zip_facts)
        _emit({"facts": facts})
    except ReadError as exc:
        _emit({"error": str(exc)})
    except BaseException as exc:  # noqa: BLE001 - a Rust panic derives from BaseException
        _emit({"error": f"{type(exc).__name__}", "kind": "crash"})
    return 0
