"""SQLite databases: the tables and views take the place of sheets.

The file is opened read-only and immutable (no journal, no locks, nothing written), with
extensions off and the schema untrusted, and an authorizer that lets a statement read and
nothing else: the only statements run are the listing's (the schema table, a column count and
a row count per table) and ``SELECT * FROM "chosen"``. Triggers never fire (nothing is written).
A view can be made arbitrarily expensive (a recursive CTE that never ends), so every statement
runs under a time limit enforced by SQLite's progress handler, and a table's cells are counted
against the reader's limit as they arrive.
"""

from __future__ import annotations

import sqlite3
import time
from typing import Any

import numpy as np

from ._worker import PickError, pick_sheet
from .guard.dimensions import MAX_CELLS
from .probe import FileProbe
from .table import ReadError, SheetInfo, one_line, plural

__all__ = ["READ_SECONDS", "VIEW_COUNT_SECONDS", "list_tables", "read_sqlite"]

#: How long reading one table or view may take before it is stopped.
READ_SECONDS = 120.0
#: How long the listing spends counting a view's rows (it shows 0 when the count takes longer).
VIEW_COUNT_SECONDS = 0.5
#: SQLite calls the progress handler every this many virtual-machine instructions.
_PROGRESS_STEPS = 20_000
_FETCH = 8_192

# Authorizer action codes (sqlite3.h); everything else is denied.
_ALLOWED = {
    getattr(sqlite3, "SQLITE_SELECT", 21),
    getattr(sqlite3, "SQLITE_READ", 20),
    getattr(sqlite3, "SQLITE_FUNCTION", 31),
    getattr(sqlite3, "SQLITE_RECURSIVE", 33),
}
_DENIED_FUNCTIONS = frozenset({"load_extension", "readfile", "writefile", "edit", "fts3_tokenizer"})


def quote_name(name: str) -> str:
    """``name`` as an SQL identifier: in double quotes, each double quote doubled."""
    if "\x00" in name:
        raise ReadError("a table name with a NUL character cannot be read")
    return '"' + name.replace('"', '""') + '"'


def _authorize(action: int, arg1: Any, arg2: Any, _db: Any, _trigger: Any) -> int:
    if action not in _ALLOWED:
        return sqlite3.SQLITE_DENY
    if action == getattr(sqlite3, "SQLITE_FUNCTION", 31) and str(arg2 or "").lower() in _DENIED_FUNCTIONS:
        return sqlite3.SQLITE_DENY
    return sqlite3.SQLITE_OK


class _Database:
    """One read-only connection with a clock for the statement it runs."""

    def __init__(self, probe: FileProbe) -> None:
        self.probe = probe
        self.deadline = float("inf")
        uri = probe.path.resolve().as_uri() + "?mode=ro&immutable=1"
        try:
            self.conn = sqlite3.connect(uri, uri=True, check_same_thread=False, isolation_level=None)
        except sqlite3.Error as exc:
            raise self.damaged(exc) from None
        try:
            self.conn.enable_load_extension(False)
        except (AttributeError, sqlite3.Error):
            pass  # a build without extension loading: nothing to turn off
        try:
            self.conn.execute("PRAGMA trusted_schema = OFF")
            self.conn.execute("PRAGMA query_only = ON")
        except sqlite3.DatabaseError as exc:
            self.close()
            raise self.damaged(exc) from None
        self.conn.set_progress_handler(self._tick, _PROGRESS_STEPS)
        self.conn.set_authorizer(_authorize)

    def damaged(self, exc: BaseException) -> ReadError:
        return ReadError(
            f"cannot read '{self.probe.name}': it is a damaged SQLite database or not one ({one_line(exc)})"
        )

    def _tick(self) -> int:
        return 1 if time.monotonic() > self.deadline else 0

    def run(self, sql: str, seconds: float) -> sqlite3.Cursor:
        self.deadline = time.monotonic() + seconds
        return self.conn.execute(sql)

    def close(self) -> None:
        try:
            self.conn.close()
        except sqlite3.Error:
            pass

    def __enter__(self) -> _Database:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", errors="replace")


def _tables(db: _Database) -> list[tuple[str, str]]:
    """(name, 'table' or 'view'), tables first, each in the order they were made."""
    try:
        rows = db.run(
            "SELECT name, type FROM sqlite_master WHERE type IN ('table', 'view') "
            "AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY type = 'view', rowid",
            READ_SECONDS,
        ).fetchall()
    except sqlite3.DatabaseError as exc:
        raise db.damaged(exc) from None
    return [(str(n), str(t)) for n, t in rows]


def list_tables(probe: FileProbe) -> list[SheetInfo]:
    """The tables and views as sheets: their size is a row count (a view's when it is quick)
    and the number of columns."""
    out: list[SheetInfo] = []
    with _Database(probe) as db:
        for index, (name, kind) in enumerate(_tables(db)):
            quoted = quote_name(name)
            try:
                columns = len(db.run(f"SELECT * FROM {quoted} LIMIT 0", READ_SECONDS).description or ())
            except sqlite3.Error:
                columns = 0  # a broken view: reading it says why
            rows = 0
            if columns:
                try:
                    limit = VIEW_COUNT_SECONDS if kind == "view" else READ_SECONDS
                    rows = int(db.run(f"SELECT count(*) FROM {quoted}", limit).fetchone()[0])
                except sqlite3.Error:
                    rows = 0
            out.append(SheetInfo(name=name, index=index, rows=rows, columns=columns, visible=True))
    return out


def read_sqlite(
    probe: FileProbe, sheet: str | int | None, stage: Any
) -> tuple[str, list[str], list[np.ndarray], int, list[str]]:
    """(table name, column names, columns of Python values, rows, warnings) of one table."""
    name = probe.name
    with _Database(probe) as db:
        tables = _tables(db)
        if not tables:
            sidecars = _sidecar_warnings(probe)
            if sidecars:
                raise ReadError(f"'{name}' has no tables or views in the file itself; {sidecars[0]}")
            raise ReadError(f"'{name}' has no tables or views")
        try:
            index = pick_sheet([(t, True) for t, _ in tables], sheet, name)
        except PickError as exc:
            raise ReadError(str(exc).replace("has no sheet", "has no table")) from None
        table, kind = tables[index]
        stage(f"reading {kind} {table}")
        started = time.monotonic()
        try:
            try:
                chunks, names, rows = _fetch(db, table, kind, name, stage)
            except sqlite3.OperationalError as exc:
                if "decode" not in str(exc):
                    raise
                # Text that is not UTF-8 (SQLite does not check what it stores): read again,
                # each such string with its bad bytes replaced.
                db.conn.text_factory = _text
                chunks, names, rows = _fetch(db, table, kind, name, stage)
        except sqlite3.OperationalError as exc:
            if "interrupted" in str(exc) and time.monotonic() - started >= READ_SECONDS * 0.99:
                raise ReadError(
                    f"cannot read {kind} '{table}' of '{name}': it took longer than "
                    f"{READ_SECONDS:g} s and was stopped (a view can compute without end)"
                ) from None
            if "not authorized" in str(exc) or "prohibited" in str(exc):
                raise ReadError(
                    f"cannot read {kind} '{table}' of '{name}': it asks for more than reading "
                    f"({one_line(exc)}), which is not allowed"
                ) from None
            raise ReadError(f"cannot read {kind} '{table}' of '{name}': {one_line(exc)}") from None
        except sqlite3.DatabaseError as exc:
            raise db.damaged(exc) from None
    stage(f"typing {rows:,} rows")
    columns, warnings = _columns(chunks, len(names), rows, names)
    return table, names, columns, rows, _sidecar_warnings(probe) + warnings


def _sidecar_warnings(probe: FileProbe) -> list[str]:
    """Opened immutable, SQLite ignores a write-ahead log or an unfinished journal beside the
    file; say so when one is there, since rows written since its last checkpoint are in it."""
    out = []
    for suffix, what in (("-wal", "write-ahead log"), ("-journal", "rollback journal")):
        side = probe.path.with_name(probe.path.name + suffix)
        try:
            size = side.stat().st_size
        except OSError:
            continue
        if size:
            out.append(
                f"'{side.name}' (a {what}) beside the database was not read: changes made since "
                "its last checkpoint are not in the table; close the program that writes it and open it again"
            )
    return out


def _fetch(db: _Database, table: str, kind: str, name: str, stage: Any) -> tuple[list[list[tuple]], list[str], int]:
    """Every row of ``table``, in chunks, under the time limit and the cell limit."""
    cursor = db.run(f"SELECT * FROM {quote_name(table)}", READ_SECONDS)
    names = [d[0] for d in cursor.description or ()]
    width = max(1, len(names))
    chunks: list[list[tuple]] = []
    rows = 0
    while True:
        chunk = cursor.fetchmany(_FETCH)
        if not chunk:
            break
        chunks.append(chunk)
        rows += len(chunk)
        if rows * width > MAX_CELLS:
            raise ReadError(
                f"cannot read {kind} '{table}' of '{name}': it has more than "
                f"{MAX_CELLS:,} cells; refused so it cannot exhaust memory"
            )
        if rows % (_FETCH * 16) == 0:
            stage(f"reading {kind} {table}: {rows:,} rows")
    return chunks, names, rows


def _columns(chunks: list[list[tuple]], width: int, rows: int, names: list[str]) -> tuple[list[np.ndarray], list[str]]:
    columns = [np.empty(rows, dtype=object) for _ in range(width)]
    at = 0
    for chunk in chunks:
        block = np.empty((len(chunk), width), dtype=object)
        block[:] = chunk if width else []
        for j in range(width):
            columns[j][at : at + len(chunk)] = block[:, j]
        at += len(chunk)
    chunks.clear()
    warnings = []
    for j, column in enumerate(columns):
        blobs = [i for i, v in enumerate(column) if type(v) is bytes] if _has_bytes(column) else []
        if blobs:
            column[blobs] = None
            warnings.append(f"{plural(len(blobs), 'binary (BLOB) value')} read as missing in '{names[j]}'")
    return columns, warnings


def _has_bytes(column: np.ndarray) -> bool:
    from pandas.api.types import infer_dtype

    return infer_dtype(column, skipna=True) in ("bytes", "mixed", "mixed-integer")
