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

import json
import sys


def _emit(obj: dict) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def main() -> int:
    try:
        req = json.loads(sys.stdin.buffer.read().decode("utf-8"))
        path = str(req["path"])
    except Exception:  # noqa: BLE001
        _emit({"error": "the pre-check process got a damaged request", "kind": "crash"})
        return 0
    try:
        from tui_detector.core.io import guard, reader
        from tui_detector.core.io.table import ReadError
    except Exception as exc:  # noqa: BLE001
        _emit({"error": f"{type(exc).__name__}: {exc}", "kind": "unavailable"})
        return 0
    try:
        probe = reader._scanned(path)
        facts = None if probe.zip_facts is None else guard.facts_to_wire(probe.zip_facts)
        _emit({"facts": facts})
    except ReadError as exc:
        _emit({"error": str(exc)})
    except BaseException as exc:  # noqa: BLE001 - a Rust panic derives from BaseException
        _emit({"error": f"{type(exc).__name__}", "kind": "crash"})
    return 0
