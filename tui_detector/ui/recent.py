"""Recently opened files, newest first, kept in ``<data dir>/recent.json``."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path

KEEP = 10


def _store() -> Path:
    override = os.environ.get("ANOMALY_TUI_DATA_DIR")
    if override:
        return Path(override).expanduser() / "recent.json"
    import platformdirs  # noqa: PLC0415

    return Path(platformdirs.user_data_dir("anomaly-tui", appauthor=False)) / "recent.json"


def recent_files() -> list[Path]:
    """The files opened lately that still exist; a damaged store reads as empty."""
    try:
        data = json.loads(_store().read_text(encoding="utf-8"))
        paths = [Path(p) for p in data if isinstance(p, str)]
    except (OSError, ValueError, TypeError):
        return []
    return [p for p in paths if p.is_file()][:KEEP]


def remember(path: Path) -> None:
    """Put ``path`` first in the list (best effort: a read-only or full disk is not an error,
    and the app has said once that the data folder cannot be written)."""
    path = path.resolve()
    paths = [path, *(p for p in recent_files() if p != path)][:KEEP]
    store = _store()
    tmp: Path | None = None
    try:
        store.parent.mkdir(parents=True, exist_ok=True)
        # A name of its own: two app instances remembering at once must not interleave their
        # writes in one temporary file and publish that.
        fd, name = tempfile.mkstemp(prefix=".recent.", suffix=".part", dir=store.parent)
        tmp = Path(name)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(json.dumps([str(p) for p in paths], indent=1))
        os.replace(tmp, store)
        tmp = None
    except OSError:
        pass
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                tmp.unlink()  # a full disk leaves no half-written list behind
