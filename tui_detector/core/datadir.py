"""The user data directory: the model cache, the app's log and its recent files live there.

Light on purpose (standard library, platformdirs on first use): the app asks at start-up
whether the folder can be written, long before it needs the model code.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

DATA_DIR_ENV = "ANOMALY_TUI_DATA_DIR"


def data_dir() -> Path:
    """The user data directory (``$ANOMALY_TUI_DATA_DIR`` overrides it, e.g. for tests)."""
    override = os.environ.get(DATA_DIR_ENV)
    if override:
        return Path(override).expanduser()
    import platformdirs  # noqa: PLC0415 - only where no override is set

    return Path(platformdirs.user_data_dir("anomaly-tui", appauthor=False))


def data_dir_problem(root: str | os.PathLike[str] | None = None) -> str | None:
    """Why the data directory (or ``root``) cannot hold the cache, recent files and logs, in
    words ("/x: Read-only file system"), or None when a file can be made and removed there.

    Creates the directory (0700) when it is missing, as the cache would, and writes one byte
    to a dot-file named for this process, removed at once: a full disk or a read-only mount
    shows there, not only a missing permission bit.
    """
    where = Path(root) if root is not None else data_dir()
    try:
        make_private_dirs(where)
        probe = where / f".tmp-probe-{os.getpid()}-{secrets.token_hex(4)}"
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, b"0")
        finally:
            os.close(fd)
            with contextlib.suppress(OSError):
                probe.unlink()
    except OSError as exc:
        return f"{where}: {exc.strerror or exc}"
    return None


def make_private_dirs(path: Path) -> None:
    # Trained models embed category values and row statistics from the user's data: folders
    # this creates are 0700 at birth.
    missing = [p for p in (path, *path.parents) if not p.exists()]
    for directory in reversed(missing):
        directory.mkdir(mode=0o700, exist_ok=True)
