"""Child-process side of guarded parsing (started by :func:`..guard.isolated.run_worker`).

Reads one JSON request on stdin, parses with python-calamine under the limits :mod:`._launch`
set, and writes one line to stdout: the rows as data-only JSON (:mod:`.cellwire`) or an error
record. It imports nothing but the standard library and the parser, so it starts in well under
0.1 s. A crash here (a Rust abort, a segfault, the memory limit) ends only this process; the
parent turns it into a message.

Sheet choice lives here too (:func:`pick_sheet`), so the reader and the child agree on it.
"""

from __future__ import annotations

import json
import sys

from .cellwire import dumps


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


def _failure(kind: str, message: str) -> bytes:
    return dumps({"error": {"type": kind, "message": message}})


def main() -> int:
    """Answer the request on stdin with one line: ``{"ok": result}`` or ``{"error": ...}``."""
    try:
        req = json.loads(sys.stdin.buffer.read().decode("utf-8"))
        line = dumps({"ok": _read(req)})
    except PickError as exc:
        line = _failure("PickError", str(exc))
    except MemoryError:
        line = _failure("MemoryError", "out of memory")
    except BaseException as exc:  # noqa: BLE001 - PanicException derives from BaseException
        line = _failure(type(exc).__name__, " ".join(str(exc).split())[:300] or type(exc).__name__)
    out = sys.stdout.buffer
    out.write(line + b"\n")
    out.flush()
    return 0
