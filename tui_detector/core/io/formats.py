"""The file formats the reader opens, and the check every path passes before anything reads it.

Kept free of heavy imports: the file picker filters its tree with this before pandas loads, and
the command line checks its input path with :func:`check_path` before it loads the reader.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path
from typing import Any, Literal

from .table import ReadError, display_name

__all__ = [
    "EXCEL_FORMATS",
    "RECORD_FORMATS",
    "SUPPORTED_EXTENSIONS",
    "TEXT_FORMATS",
    "BadPath",
    "check_path",
    "checked_size",
    "format_by_extension",
]

SUPPORTED_EXTENSIONS = (
    ".xlsx", ".xlsm", ".xls", ".xlsb", ".ods",
    ".csv", ".tsv", ".txt",
    ".parquet", ".pq",
    ".json", ".jsonl", ".ndjson",
    ".sqlite", ".sqlite3", ".db",
)

EXCEL_FORMATS = ("xlsx", "xlsm", "xls", "xlsb", "ods")
TEXT_FORMATS = ("csv", "tsv")
#: Formats whose columns are named and typed by the file itself (no header row to find).
RECORD_FORMATS = ("parquet", "json", "jsonl", "sqlite")

ZIP_MAGIC = b"PK\x03\x04"
CFB_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
PARQUET_MAGIC = b"PAR1"
SQLITE_MAGIC = b"SQLite format 3\x00"

PathKind = Literal["not a path", "missing", "unreadable", "folder", "empty"]
_NOT_THERE = frozenset({errno.ENOENT, errno.ENOTDIR, errno.ELOOP, errno.EBADF})


class BadPath(ReadError):
    """The path names nothing the reader can open; ``kind`` says why, for a caller that words
    it its own way (the command line names a folder differently)."""

    def __init__(self, message: str, kind: PathKind) -> None:
        super().__init__(message)
        self.kind = kind


def check_path(path: Any, *, allow_empty: bool = False) -> Path:
    """``path`` as a :class:`Path` to an existing, non-empty file, or :class:`BadPath`."""
    return checked_size(path, allow_empty=allow_empty)[0]


def checked_size(path: Any, *, allow_empty: bool = False) -> tuple[Path, int]:
    """:func:`check_path` and the file's size, from the one ``stat`` it makes."""
    try:
        p = Path(os.fspath(path))
    except TypeError:
        raise BadPath(f"not a file path: {path!r}", "not a path") from None
    try:
        st = p.stat()
    except FileNotFoundError:
        raise BadPath(f"file not found: {p}", "missing") from None
    except PermissionError:
        raise BadPath(f"cannot read '{display_name(p)}': permission denied", "unreadable") from None
    except OSError as exc:
        # A path through a file, or a loop of symlinks, names nothing, as a missing file does.
        kind: PathKind = "missing" if exc.errno in _NOT_THERE else "unreadable"
        raise BadPath(f"cannot read '{display_name(p)}': {exc.strerror or exc}", kind) from None
    if stat.S_ISDIR(st.st_mode):
        raise BadPath(f"not a file: {p} is a folder", "folder")
    if st.st_size == 0 and not allow_empty:
        raise BadPath(f"'{display_name(p)}' is empty", "empty")
    return p, st.st_size


def format_by_extension(ext: str) -> str:
    """The format a lower-case extension (with its dot) promises; anything else is read as CSV."""
    return {
        ".xlsx": "xlsx",
        ".xlsm": "xlsm",
        ".xls": "xls",
        ".xlsb": "xlsb",
        ".ods": "ods",
        ".tsv": "tsv",
        ".tab": "tsv",
        ".parquet": "parquet",
        ".pq": "parquet",
        ".json": "json",
        ".jsonl": "jsonl",
        ".ndjson": "jsonl",
        ".sqlite": "sqlite",
        ".sqlite3": "sqlite",
        ".db": "sqlite",
    }.get(ext, "csv")
