"""The review store's database: one SQLite file under the user data directory.

Why it holds up:

- WAL mode, so the app reading and a ``detect`` writing at the same time do not block each
  other; writers queue on the file's lock for up to ``busy_timeout`` instead of failing.
- Every write is one ``BEGIN IMMEDIATE`` transaction: a process killed in the middle loses that
  one transaction (a verdict, a run) and nothing written before it.
- ``synchronous=FULL``: a committed verdict is on the disk before the call returns.
- Values go in as parameters only; nothing from a cell ever becomes SQL text.
- A file that is not a database or is damaged is moved aside (``…damaged-<when>``), said in
  :attr:`ReviewStore.notes`, and a fresh store started; the model cache beside it is not touched.
- A database written by a newer anomaly-tui (a higher schema version) is left as it is and
  refused with :class:`NewerStoreError`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

from ..datadir import data_dir, make_private_dirs
from ..errors import AnomalyTuiError
from .schema import MIGRATIONS, SCHEMA_VERSION

STORE_FILE = "reviews.sqlite3"
#: How long a writer waits for another one to finish before giving up (milliseconds).
BUSY_TIMEOUT_MS = 30_000
#: SQLite's primary result codes for a file that is damaged or not a database at all.
_DAMAGED = {11, 26}  # SQLITE_CORRUPT, SQLITE_NOTADB

T = TypeVar("T")


class StoreError(AnomalyTuiError):
    """The review store cannot be used; the message says why in words."""


class NewerStoreError(StoreError):
    """The database was written by a newer anomaly-tui; it is kept untouched."""


def store_path() -> Path:
    """Where the review store lives: beside the model cache in the user data directory."""
    return data_dir() / STORE_FILE


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()


def _damaged(exc: sqlite3.DatabaseError) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return (code & 0xFF) in _DAMAGED
    text = str(exc).lower()
    return "malformed" in text or "not a database" in text


class ReviewStore:
    """A connection to the review store, opened on first use. Not shared between threads."""

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(path) if path is not None else store_path()
        #: Things the user should be told (a damaged store moved aside), one sentence each.
        self.notes: list[str] = []
        self._conn: sqlite3.Connection | None = None
        self._created = False
        #: Held around every use of the connection: the app's worker and event loop share it.
        self.lock = threading.RLock()

    # -- connection ------------------------------------------------------------------------

    @property
    def conn(self) -> sqlite3.Connection:
        if self._conn is None:
            self._conn = self._open()
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def __enter__(self) -> ReviewStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _open(self) -> sqlite3.Connection:
        try:
            make_private_dirs(self.path.parent)
            if not self.path.exists():
                # The store holds values from the user's cells: private from birth (SQLite
                # gives its -wal and -shm files the same permissions).
                fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                os.close(fd)
                self._created = True
        except FileExistsError:
            pass
        except OSError as exc:
            raise StoreError(f"cannot open the review store {self.path}: {exc.strerror or exc}") from None
        conn = None
        try:
            conn = self._connect()
            self._migrate(conn)
            return conn
        except sqlite3.DatabaseError as exc:
            if conn is not None:
                conn.close()
            if not _damaged(exc):
                raise StoreError(f"cannot open the review store {self.path}: {exc}") from None
            self._move_aside(str(exc))
            conn = self._connect()
            self._migrate(conn)
            return conn

    def _connect(self) -> sqlite3.Connection:
        # Autocommit mode: every write opens its own BEGIN IMMEDIATE (see _write).
        # check_same_thread off: the app opens the store in a worker and writes verdicts from
        # its event loop; one connection is never used by two threads at once (callers hold
        # the store's lock).
        conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False)
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_MS)}")
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
            # Before anything is changed: a newer version's file is left exactly as it is.
            version = self._version(conn)
            if version > SCHEMA_VERSION:
                raise NewerStoreError(
                    f"the review store {self.path} was written by a newer anomaly-tui (schema {version}, "
                    f"this one knows {SCHEMA_VERSION}); it is left as it is"
                )
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise StoreError(f"the review store {self.path} cannot use write-ahead logging (journal mode {mode})")
            conn.execute("PRAGMA synchronous = FULL")
            conn.execute("PRAGMA foreign_keys = ON")
        except BaseException:
            conn.close()
            raise
        return conn

    def _migrate(self, conn: sqlite3.Connection) -> None:
        version = self._version(conn)
        while version < SCHEMA_VERSION:
            with self._transaction(conn):
                # Read again under the write lock: another process may have migrated meanwhile.
                version = self._version(conn)
                if version >= SCHEMA_VERSION:
                    break
                for statement in _statements(MIGRATIONS[version]):
                    conn.execute(statement)
                version += 1
                conn.execute(f"PRAGMA user_version = {version}")
                if version == 1:
                    conn.execute("INSERT INTO meta (key, value) VALUES ('created', ?)", (now_iso(),))

    @staticmethod
    def _version(conn: sqlite3.Connection) -> int:
        return int(conn.execute("PRAGMA user_version").fetchone()[0])

    def _move_aside(self, reason: str) -> None:
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S")
        target = self.path.with_name(f"{self.path.name}.damaged-{stamp}")
        counter = 1
        while target.exists():
            counter += 1
            target = self.path.with_name(f"{self.path.name}.damaged-{stamp}-{counter}")
        try:
            os.replace(self.path, target)
            for suffix in ("-wal", "-journal"):
                side = Path(f"{self.path}{suffix}")
                if side.exists():
                    os.replace(side, Path(f"{target}{suffix}"))
            with contextlib.suppress(FileNotFoundError):
                os.unlink(f"{self.path}-shm")
        except OSError as exc:
            raise StoreError(f"the review store {self.path} is damaged ({reason}) and cannot be moved aside: {exc.strerror or exc}") from None
        self.notes.append(f"the review store was damaged ({reason}); it was moved to {target.name} and a fresh one started")

    # -- running statements ----------------------------------------------------------------

    @contextlib.contextmanager
    def _transaction(self, conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def write(self, action: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``action`` in one write transaction (all of it or none of it)."""

        def transact(conn: sqlite3.Connection) -> T:
            with self._transaction(conn):
                return action(conn)

        result = self._guarded(transact)
        self._created = False  # something is in it now: never discarded
        return result

    def read(self, action: Callable[[sqlite3.Connection], T]) -> T:
        return self._guarded(action)

    def _guarded(self, action: Callable[[sqlite3.Connection], T]) -> T:
        with self.lock:
            return self._guarded_locked(action)

    def _guarded_locked(self, action: Callable[[sqlite3.Connection], T]) -> T:
        try:
            return action(self.conn)
        except sqlite3.DatabaseError as exc:
            if not _damaged(exc):
                raise StoreError(f"review store {self.path}: {exc}") from None
            self.close()
            self._move_aside(str(exc))
            return action(self.conn)

    def discard_if_new(self) -> None:
        """Remove the database file this object created, when nothing could be written to it
        (a full or read-only disk): no half-made store is left behind."""
        if not self._created:
            return
        self.close()
        for suffix in ("", "-wal", "-shm", "-journal"):
            with contextlib.suppress(OSError):
                os.unlink(f"{self.path}{suffix}")
        self._created = False


def _statements(script: str) -> list[str]:
    # The migrations hold no semicolons inside statements, so a split is exact.
    return [s.strip() for s in script.split(";") if s.strip()]

