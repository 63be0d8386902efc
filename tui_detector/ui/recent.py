"""Recently opened files, newest first, kept in ``<data dir>/recent.json``."""

from __future__ import annotations

import json
import os
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
    """Put ``path`` first in the list (best effort: a read-only disk is not an error)."""
    path = path.resolve()
    paths = [path, *(p for p in recent_files() if p != path)][:KEEP]
    store = _store()
    try:
        store.parent.mkdir(parents=True, exist_ok=True)
        tmp = store.with_suffix(".tmp")
        tmp.write_text(json.dumps([str(p) for p in paths], indent=1), encoding="utf-8")
        os.replace(tmp, store)
    except OSError:
        pass
