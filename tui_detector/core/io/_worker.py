"""Child-process side of guarded parsing: ``python -P -m tui_detector.core.io._worker``.

Reads one JSON request on stdin, limits its own address space and CPU time, parses with
python-calamine (or openpyxl), and writes ``OK`` + a pickle of plain data (lists, str, numbers,
datetime values) or ``ER`` + a JSON error record to stdout. It imports nothing but the standard
library and the parser, so it starts in well under 0.1 s. A crash here (a Rust abort, a
segfault, the memory limit) ends only this process; the parent turns it into a message.

Sheet choice lives here too (:func:`pick_sheet`), so the reader and the child agree on it.
"""

from __future__ import annotations

import json
import os
import pickle
import sys


class PickError(Exception):
    """The requested sheet does not exist; the message is for the user."""


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def pick_sheet(sheets: list[tuple[str, bool]], sheet, display: str) -> int:
    """Index into ``sheets`` (name, visible) for the requested sheet (name, 0-based int, None)."""
    names = [n for n, _ in sheets]
    listing = ", ".join(names)
    if not sheets:
        raise PickError(f"'{display}' has no worksheets")
    if sheet is None:
        for i, (_, visible) in enumerate(sheets):
            if visible:
                return i
        return 0
    if hasattr(sheet, "__index__") and not isinstance(sheet, (bool, str)):
        sheet = int(sheet.__index__())
    if isinstance(sheet, bool) or not isinstance(sheet, (int, str)):
        raise PickError(f"sheet must be a name or a 0-based number, not {sheet!r}")
    if isinstance(sheet, int):
        if 0 <= sheet < len(sheets):
            return sheet
        raise PickError(
            f"'{display}' has no sheet number {sheet} (numbers start at 0); "
            f"it has {_plural(len(sheets), 'sheet')}: {listing}"
        )
    if sheet in names:
        return names.index(sheet)
    # Tolerate case and stray spaces from a typed name, but only when that is unambiguous.
    folded = [i for i, n in enumerate(names) if n.strip().casefold() == sheet.strip().casefold()]
    if len(folded) == 1:
        return folded[0]
    raise PickError(f"'{display}' has no sheet named '{sheet}'; sheets: {listing}")


def _limit(memory: int | None, cpu: int | None) -> None:
    try:
        import resource
    except ImportError:  # not POSIX: the parent's timeout is the only limit
        return
    for which, value in ((resource.RLIMIT_AS, memory), (resource.RLIMIT_CPU, cpu)):
        if not value:
            continue
        try:
            soft, hard = resource.getrlimit(which)
            if hard != resource.RLIM_INFINITY:
                value = min(value, hard)
            resource.setrlimit(which, (value, hard))
        except (ValueError, OSError):
            pass
    try:  # never leave a core file of a hostile input behind
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    except (ValueError, OSError):
        pass


def _calamine_sheets(wb) -> list[tuple[str, bool]]:
    from python_calamine import SheetTypeEnum, SheetVisibleEnum

    return [
        (m.name, m.visible == SheetVisibleEnum.Visible)
        for m in wb.sheets_metadata
        if m.typ == SheetTypeEnum.WorkSheet
    ]


def _read(req: dict) -> dict:
    from python_calamine import CalamineWorkbook

    wb = CalamineWorkbook.from_path(req["path"])
    try:
        sheets = _calamine_sheets(wb)
        if req["op"] == "list":
            out = []
            for name, visible in sheets:
                ws = wb.get_sheet_by_name(name)
                size = (ws.height, ws.width) if ws.start is not None else (0, 0)
                out.append((name, visible, int(size[0]), int(size[1])))
            return {"sheets": out}
        idx = pick_sheet(sheets, req.get("sheet"), req.get("display", "file"))
        name = sheets[idx][0]
        ws = wb.get_sheet_by_name(name)
        rows = ws.to_python()
        start = ws.start or (0, 0)
        return {"rows": rows, "row0": int(start[0]), "col0": int(start[1]), "sheet": name}
    finally:
        try:
            wb.close()
        except Exception:  # noqa: BLE001
            pass


def main() -> int:
    out = sys.stdout.buffer
    try:
        req = json.loads(sys.stdin.buffer.read().decode("utf-8"))
        _limit(req.get("memory"), req.get("cpu"))
        result = _read(req)
        payload = pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL)
    except PickError as exc:
        out.write(b"ER" + json.dumps({"type": "PickError", "message": str(exc)}).encode())
        return 0
    except MemoryError:
        out.write(b"ER" + json.dumps({"type": "MemoryError", "message": "out of memory"}).encode())
        return 0
    except BaseException as exc:  # noqa: BLE001 - PanicException derives from BaseException
        msg = " ".join(str(exc).split())[:300] or type(exc).__name__
        out.write(b"ER" + json.dumps({"type": type(exc).__name__, "message": msg}).encode())
        return 0
    out.write(b"OK")
    out.write(payload)
    out.flush()
    return 0


if __name__ == "__main__":
    sys.stdout.flush()
    code = main()
    sys.stdout.flush()
    os._exit(code)  # skip interpreter teardown: nothing left to clean up
