"""The per-dataset model cache: reopening a file whose model was trained before skips training.

One entry per (file content, sheet, column roles, model parameters, library versions), under
``platformdirs.user_data_dir("anomaly-tui")/models/<key>/``. An entry is what
:meth:`TabularAnomalyDetector.save` writes (a JSON manifest and ``.npz`` arrays, each hashed, no
pickle) plus ``entry.json``, which records the key's inputs and the manifest's own SHA-256.

Rules that keep it safe to share between processes and to survive crashes:

- entries are built in a private temporary directory and renamed into place, so nobody reads
  half an entry;
- anything wrong with an entry (missing file, bad JSON, checksum mismatch, other key, other
  format) makes it a miss; the entry is removed and the caller trains again;
- an entry written by a newer anomaly-tui (a higher format version than this one reads) is a
  miss too, but it is left in place: the newer version sharing this data directory still wants it;
- leftovers of a writer that was killed (``.tmp-*`` staging and ``.trash-*`` folders, nothing
  else) are swept on the first look-up of each process once they are old enough to be nobody's;
- an unusable data directory (read-only, missing and uncreatable, full) is never an error:
  :func:`data_dir_problem` says what is wrong, and the caller goes on without caching;
- the cache never makes a detection fail: a failure to store is reported, not raised;
- the total size is capped (default 1 GB); the least recently used entries go first.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import secrets
import shutil
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from .atomic import staged_directory, write_bytes_atomic
from .tablestore import read_table, write_table
from .datadir import DATA_DIR_ENV, data_dir, data_dir_problem, make_private_dirs  # noqa: F401 - re-exported
from .io.table import LoadedTable
from .model.detector import TabularAnomalyDetector
from .model.persist import MANIFEST, MODEL_FORMAT_VERSION, ModelFileError, _package_version

ENTRY_FILE = "entry.json"
ENTRY_FORMAT = "anomaly-tui-cache-entry"
ENTRY_FORMAT_VERSION = 1
DEFAULT_MAX_BYTES = 1_000_000_000
#: Leftovers of a writer that died (staging or trash directories) older than this are removed.
#: A writer touches its staging folder within seconds of making it; a quarter of an hour is
#: far beyond any live writer, and short enough that a killed one's leftovers go soon.
STALE_SECONDS = 15 * 60
#: entry.json is small; a huge one is not ours.
MAX_ENTRY_JSON_BYTES = 1 << 20

MAX_BYTES_ENV = "ANOMALY_TUI_CACHE_MAX_BYTES"


class NewerEntry(ModelFileError):
    """The entry was written by a newer anomaly-tui: not ours to read, nor to remove."""


class KeyTaken(OSError):
    """A newer version's entry holds this key; the model is not stored over it."""


def default_max_bytes() -> int:
    raw = os.environ.get(MAX_BYTES_ENV, "")
    try:
        value = int(raw)
    except ValueError:
        return DEFAULT_MAX_BYTES
    return value if value >= 0 else DEFAULT_MAX_BYTES


def _dist_version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def library_versions() -> dict[str, Any]:
    """Versions that change what a model file means or how it scores."""

    return {
        "anomaly-tui": _package_version(),
        "model_format": MODEL_FORMAT_VERSION,
        "tensorflow": _dist_version("tensorflow"),
        "scikit-learn": _dist_version("scikit-learn"),
        "numpy": _dist_version("numpy"),
    }


def cache_inputs(
    *,
    source_sha256: str,
    sheet: str | None,
    header_row: int | str | None,
    detector: TabularAnomalyDetector,
    train_options: dict[str, Any],
    left_out: list[int] | None = None,
) -> dict[str, Any]:
    """Everything a cached model depends on, as canonical JSON-ready data (``left_out``: the
    positions of rows left out of the table as totals, which change what it learns from).

    The threshold percentile is left out on purpose: the model keeps the quantiles of its
    training scores, so another percentile is a lookup, not a reason to retrain.
    """
    roles = {str(k): str(v) for k, v in sorted((detector.roles or {}).items(), key=lambda kv: str(kv[0]))}
    extra = {"left_out": [int(r) for r in left_out]} if left_out else {}
    return {
        "source_sha256": source_sha256,
        "sheet": sheet,
        "header_row": header_row,
        **extra,
        "roles": roles,
        "params": {
            "model": detector.model,
            "encoding_dim": int(detector.encoding_dim),
            "hidden_layers": [int(h) for h in detector.hidden_layers],
            "random_state": int(detector.random_state),
            "epochs": train_options.get("epochs"),
            "batch_size": train_options.get("batch_size"),
            "validation_split": float(train_options.get("validation_split", 0.2)),
            "early_stopping": bool(train_options.get("early_stopping", True)),
        },
        "versions": library_versions(),
    }


def cache_key(inputs: dict[str, Any]) -> str:
    canonical = json.dumps(inputs, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode("ascii")).hexdigest()


@dataclass(frozen=True)
class CacheEntry:
    """One cached model as ``anomaly-tui cache list`` shows it."""

    key: str
    path: Path
    size_bytes: int
    last_used: float
    created: str | None
    source_name: str | None
    source_sha256: str | None
    sheet: str | None
    model_kind: str | None
    readable: bool
    #: Written by a newer anomaly-tui: unreadable here, and kept.
    newer: bool = False


class ModelCache:
    """The model cache rooted at ``root`` (default: ``data_dir()/models``)."""

    def __init__(self, root: str | os.PathLike[str] | None = None, *, max_bytes: int | None = None) -> None:
        self.root = Path(root) if root is not None else data_dir() / "models"
        self.max_bytes = default_max_bytes() if max_bytes is None else int(max_bytes)
        #: Why the last :meth:`get` missed ("absent", or what was wrong with the entry).
        self.last_miss: str | None = None
        self._swept = False

    # -- layout -----------------------------------------------------------------------------

    def _ensure_root(self) -> None:
        make_private_dirs(self.root)  # the data dir too, on first use
        if self.root.stat().st_mode & 0o077:
            os.chmod(self.root, 0o700)

    def entry_path(self, key: str) -> Path:
        if len(key) != 64 or any(c not in "0123456789abcdef" for c in key):
            raise ValueError(f"not a cache key: {key!r}")
        return self.root / key

    # -- reading ----------------------------------------------------------------------------

    def contains(self, inputs: dict[str, Any]) -> bool:
        """Whether an entry for these inputs is present and its records agree (cheap: the model
        files are only checked by :meth:`get`, which may still miss)."""
        key = cache_key(inputs)
        path = self.entry_path(key)
        try:
            entry = _read_entry(path)
        except (ModelFileError, OSError, ValueError):
            return False
        return entry.get("key") == key and entry.get("inputs") == json.loads(json.dumps(inputs))

    def get(self, inputs: dict[str, Any]) -> TabularAnomalyDetector | None:
        """The cached detector for these inputs, or None (and the reason in ``last_miss``)."""
        key = cache_key(inputs)
        path = self.entry_path(key)
        if not self._swept:
            # A process killed while it wrote an entry left its staging folder behind.
            self._swept = True
            with contextlib.suppress(OSError):
                self._sweep_leftovers()
        if not path.exists() and not path.is_symlink():
            self.last_miss = "absent"
            return None
        try:
            detector = self._load(path, key, inputs)
        except NewerEntry as exc:
            self.last_miss = f"{exc}; left in place"
            return None
        except PermissionError as exc:
            # Not the entry's fault: a data directory this user may not read is left alone.
            self.last_miss = f"cannot read the cache ({exc.strerror or exc})"
            return None
        except (ModelFileError, OSError, ValueError) as exc:
            self.last_miss = f"damaged entry replaced ({exc})"
            self._discard(path)
            return None
        with contextlib.suppress(OSError):
            os.utime(path)  # marks it recently used, for eviction
        self.last_miss = None
        return detector

    def _load(self, path: Path, key: str, inputs: dict[str, Any]) -> TabularAnomalyDetector:
        if path.is_symlink() or not path.is_dir():
            raise ModelFileError("not a directory")
        entry = _read_entry(path)
        _refuse_newer_manifest(path)
        if entry.get("key") != key or entry.get("inputs") != json.loads(json.dumps(inputs)):
            raise ModelFileError("the entry belongs to other data or settings")
        manifest_bytes = (path / MANIFEST).read_bytes()
        if hashlib.sha256(manifest_bytes).hexdigest() != entry.get("manifest_sha256"):
            raise ModelFileError("the manifest does not match its checksum")
        return TabularAnomalyDetector.load(path)

    def find_table(self, sha256: str, request: dict[str, Any], path: Path) -> LoadedTable | None:
        """The table kept by an entry for the file with this content, read as ``request`` asks
        (see :mod:`.tablestore`), as if ``path`` had just been read; None when none is kept.
        A damaged copy is passed over (the model beside it is :meth:`get`'s to judge)."""
        wanted = json.loads(json.dumps(request))
        candidates = []
        try:
            listing = list(self.root.iterdir()) if self.root.is_dir() else []
        except OSError:
            return None  # an unreadable data directory: the file is read as ever
        for entry_dir in listing:
            if entry_dir.name.startswith(".") or entry_dir.is_symlink() or not entry_dir.is_dir():
                continue
            try:
                entry = _read_entry(entry_dir)
            except (ModelFileError, OSError, ValueError):
                continue
            record = entry.get("table")
            source = entry.get("source") or {}
            if isinstance(record, dict) and source.get("sha256") == sha256 and wanted in (record.get("requests") or []):
                with contextlib.suppress(OSError):
                    candidates.append((entry_dir.stat().st_mtime, entry_dir, record))
        for _, entry_dir, record in sorted(candidates, key=lambda c: c[0], reverse=True):
            try:
                return read_table(entry_dir, record, path)
            except (OSError, ValueError):
                continue
        return None

    def keep_table(self, inputs: dict[str, Any], table: LoadedTable, requests: list[dict[str, Any]]) -> bool:
        """Add ``table`` to the existing entry for ``inputs`` when it keeps none, or one without
        the sheet list ``table`` has (a model cached by ``detect``, reopened in the app). Never
        raises: the entry stays as it was on any failure. True when the table was added."""
        path = self.entry_path(cache_key(inputs))
        try:
            entry = _read_entry(path)
            record = entry.get("table")
            if isinstance(record, dict) and (record.get("sheets") is not None or table.sheets is None):
                return False
            with staged_directory(self.root, ".tmp-") as staging:
                kept = write_table(staging, table, requests)
                if kept is None:
                    return False
                for file in staging.iterdir():
                    os.replace(file, path / file.name)
            # The record last: a reader between the two sees a table that fails its checksum
            # and reads the file, as it would have anyway.
            entry["table"] = kept
            write_bytes_atomic(path / ENTRY_FILE, json.dumps(entry, indent=1, allow_nan=False).encode("utf-8"), overwrite=True)
        except (ModelFileError, OSError, ValueError):
            return False
        return True

    # -- writing ----------------------------------------------------------------------------

    def put(
        self,
        inputs: dict[str, Any],
        detector: TabularAnomalyDetector,
        *,
        source_name: str | None = None,
        table: LoadedTable | None = None,
        requests: list[dict[str, Any]] | None = None,
    ) -> Path:
        """Store a trained detector (and ``table``, the table as read, found again by any of
        ``requests``: see :mod:`.tablestore`); returns the entry's path.

        Raises OSError (disk full, permissions) for the caller to report; the caller's results
        stay valid either way.
        """
        key = cache_key(inputs)
        final = self.entry_path(key)
        self._ensure_root()
        # ".tmp-" marks a writer's staging folder for _sweep_leftovers.
        with staged_directory(self.root, ".tmp-") as staging_root:
            staged = detector.save(staging_root / "entry")
            kept = write_table(staged, table, requests or []) if table is not None else None
            manifest_bytes = (staged / MANIFEST).read_bytes()
            manifest = json.loads(manifest_bytes)
            entry = {
                "format": ENTRY_FORMAT,
                "format_version": ENTRY_FORMAT_VERSION,
                "key": key,
                "inputs": inputs,
                "created": dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat(),
                "source": {
                    "name": source_name,
                    "sha256": inputs.get("source_sha256"),
                    "sheet": inputs.get("sheet"),
                },
                "model_kind": manifest.get("model_kind"),
                "manifest_sha256": hashlib.sha256(manifest_bytes).hexdigest(),
                **({"table": kept} if kept is not None else {}),
            }
            (staged / ENTRY_FILE).write_text(json.dumps(entry, indent=1, allow_nan=False), encoding="utf-8")
            self._install(staged, final, key, inputs)
        self.evict(keep=key)
        return final

    def _install(self, staged: Path, final: Path, key: str, inputs: dict[str, Any]) -> None:
        for _ in range(3):
            try:
                os.rename(staged, final)
                return
            except OSError:
                if not final.exists() and not final.is_symlink():
                    raise
            # Another writer got there first (or a damaged entry sits there). A good entry
            # for the same key is as good as ours; a newer version's is kept; anything else
            # is moved away and we retry.
            try:
                self._load(final, key, inputs)
                return
            except NewerEntry as exc:
                raise KeyTaken(f"{exc}; it is kept, this model is not stored over it") from None
            except (ModelFileError, OSError, ValueError):
                self._discard(final)
        raise OSError(f"could not place the cache entry at {final}")

    # -- housekeeping -----------------------------------------------------------------------

    def _discard(self, path: Path) -> None:
        """Remove an entry without ever exposing a half-deleted one under its key."""
        trash = path.with_name(f".trash-{secrets.token_hex(6)}")
        try:
            if path.is_symlink() or path.is_file():
                path.unlink()
                return
            os.rename(path, trash)
        except OSError:
            return
        shutil.rmtree(trash, ignore_errors=True)

    def entries(self) -> list[CacheEntry]:
        """Every entry, most recently used first."""
        if not self.root.is_dir():
            return []
        out = []
        for path in self.root.iterdir():
            if path.name.startswith(".") or path.is_symlink() or not path.is_dir():
                continue
            try:
                stat = path.stat()
                size = _tree_size(path)
            except OSError:
                continue
            try:
                entry = _read_entry(path)
                _refuse_newer_manifest(path)
                source = entry.get("source") or {}
                out.append(
                    CacheEntry(
                        key=path.name,
                        path=path,
                        size_bytes=size,
                        last_used=stat.st_mtime,
                        created=_str_or_none(entry.get("created")),
                        source_name=_str_or_none(source.get("name")),
                        source_sha256=_str_or_none(source.get("sha256")),
                        sheet=_str_or_none(source.get("sheet")),
                        model_kind=_str_or_none(entry.get("model_kind")),
                        readable=True,
                    )
                )
            except NewerEntry:
                out.append(CacheEntry(path.name, path, size, stat.st_mtime, None, None, None, None, None, False, newer=True))
            except (ModelFileError, OSError, ValueError):
                out.append(CacheEntry(path.name, path, size, stat.st_mtime, None, None, None, None, None, False))
        out.sort(key=lambda e: e.last_used, reverse=True)
        return out

    def total_bytes(self) -> int:
        return sum(e.size_bytes for e in self.entries())

    def evict(self, keep: str | None = None) -> list[str]:
        """Drop least recently used entries until the cache fits its cap; returns their keys."""
        self._sweep_leftovers()
        entries = self.entries()
        total = sum(e.size_bytes for e in entries)
        removed = []
        for entry in reversed(entries):  # oldest first
            if total <= self.max_bytes:
                break
            if entry.key == keep:
                continue
            self._discard(entry.path)
            total -= entry.size_bytes
            removed.append(entry.key)
        return removed

    def clear(self) -> tuple[int, int]:
        """Remove every entry; returns (entries removed, bytes freed)."""
        entries = self.entries()
        for entry in entries:
            self._discard(entry.path)
        self._sweep_leftovers(max_age=0)
        return len(entries), sum(e.size_bytes for e in entries)

    def _sweep_leftovers(self, max_age: float = STALE_SECONDS) -> None:
        if not self.root.is_dir():
            return
        now = time.time()
        for path in self.root.iterdir():
            if not (path.name.startswith(".tmp-") or path.name.startswith(".trash-")):
                continue
            try:
                if now - path.lstat().st_mtime < max_age:
                    continue  # possibly a writer at work right now
            except OSError:
                continue
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                with contextlib.suppress(OSError):
                    path.unlink()


def _read_entry(path: Path) -> dict[str, Any]:
    file = path / ENTRY_FILE
    if file.stat().st_size > MAX_ENTRY_JSON_BYTES:
        raise ModelFileError("entry.json is too large")
    try:
        entry = json.loads(file.read_bytes())
    except (ValueError, UnicodeDecodeError):
        raise ModelFileError("entry.json is not valid JSON") from None
    if not isinstance(entry, dict) or entry.get("format") != ENTRY_FORMAT:
        raise ModelFileError("entry.json is not an anomaly-tui cache entry")
    version = entry.get("format_version")
    if _is_newer(version, ENTRY_FORMAT_VERSION):
        raise NewerEntry(f"the entry was written by a newer anomaly-tui (entry format {version}; this one reads {ENTRY_FORMAT_VERSION})")
    if version != ENTRY_FORMAT_VERSION:
        raise ModelFileError("entry.json is not an anomaly-tui cache entry of this version")
    return entry


def _refuse_newer_manifest(path: Path) -> None:
    """Raise :class:`NewerEntry` when the model's manifest is of a later format than this
    version reads (anything else wrong with it is the model loader's to say)."""
    try:
        manifest = json.loads((path / MANIFEST).read_bytes()[:MAX_ENTRY_JSON_BYTES])
    except (OSError, ValueError):
        return
    version = manifest.get("format_version") if isinstance(manifest, dict) else None
    if _is_newer(version, MODEL_FORMAT_VERSION):
        raise NewerEntry(
            f"the cached model was written by a newer anomaly-tui (model format {version}; this one reads {MODEL_FORMAT_VERSION})"
        )


def _is_newer(version: Any, ours: int) -> bool:
    return isinstance(version, int) and not isinstance(version, bool) and version > ours


def _tree_size(path: Path) -> int:
    total = 0
    for child in path.rglob("*"):
        with contextlib.suppress(OSError):
            if child.is_file() and not child.is_symlink():
                total += child.stat().st_size
    return total


def _str_or_none(value: Any) -> str | None:
    return None if value is None else str(value)
