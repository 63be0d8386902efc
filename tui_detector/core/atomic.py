"""Write files so that a reader sees the old file or the whole new one, never half of either."""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from .errors import AnomalyTuiError


class OutputExistsError(AnomalyTuiError, FileExistsError):
    """The target exists with other contents and the caller did not ask to replace it."""


def _umask() -> int:
    # mkstemp creates files 0600; a finished export should get the permissions any other new
    # file of this user gets. Reading the umask means setting it, so do it once.
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _umask()


PART_SUFFIX = ".part"
#: A temporary file of ours this old belongs to a writer that was killed (a live one finishes
#: an export in seconds); younger ones are left alone, they may be another writer's at work.
STALE_PART_SECONDS = 15 * 60


def sweep_stale_parts(target: Path) -> list[Path]:
    """Remove what killed writers of ``target`` left beside it: only files named as
    :func:`atomic_path` names its temporary files (``.<name>.<random>.part``), only this
    user's, only stale ones. Returns what was removed."""
    removed = []
    now = time.time()
    prefix = f".{target.name}."
    try:
        candidates = [p for p in target.parent.iterdir() if p.name.startswith(prefix) and p.name.endswith(PART_SUFFIX)]
    except OSError:
        return removed
    for path in candidates:
        middle = path.name[len(prefix) : -len(PART_SUFFIX)]
        if not 6 <= len(middle) <= 16 or not middle.replace("_", "a").isalnum():
            continue  # not a name mkstemp makes
        try:
            st = path.lstat()
            if not stat.S_ISREG(st.st_mode) or st.st_uid != os.getuid() or now - st.st_mtime < STALE_PART_SECONDS:
                continue
            path.unlink()
            removed.append(path)
        except OSError:
            continue
    return removed


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike[str], *, overwrite: bool) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; when the block ends cleanly it becomes ``target``.

    With ``overwrite=False`` an existing ``target`` is kept and :class:`OutputExistsError` raised,
    unless its bytes equal the new ones (writing the same export twice is not a conflict). If the
    block raises, the temporary file is removed and ``target`` is untouched.
    """
    target = Path(target)
    if target.is_dir():
        raise IsADirectoryError(f"{target} is a folder, not a file")
    sweep_stale_parts(target)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=PART_SUFFIX, dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        _fsync_file(tmp)
        os.chmod(tmp, 0o666 & ~_UMASK)
        if overwrite:
            os.replace(tmp, target)
        else:
            _place_without_clobbering(tmp, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def _fsync_file(path: Path) -> None:
    """Force the finished temporary file to the disk before its rename publishes it.

    Writers that do not sync (xlsxwriter, the CSV writer) would otherwise leave a crash right
    after the rename with an empty file under the target's name; and a full disk often shows
    only here (delayed allocation, network filesystems), while the old file is still intact.
    """
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _place_without_clobbering(tmp: Path, target: Path) -> None:
    try:
        # link() fails if the name exists, so two writers cannot both think they created it.
        os.link(tmp, target)
    except FileExistsError:
        if _same_bytes(tmp, target):
            return
        raise OutputExistsError(f"{target} already exists") from None
    except OSError:
        # Filesystems without hard links (some network and FAT mounts): check, then rename.
        if target.exists():
            if _same_bytes(tmp, target):
                return
            raise OutputExistsError(f"{target} already exists") from None
        os.replace(tmp, target)


def _same_bytes(a: Path, b: Path) -> bool:
    try:
        if a.stat().st_size != b.stat().st_size:
            return False
        with open(a, "rb") as fa, open(b, "rb") as fb:
            while True:
                chunk = fa.read(1 << 20)
                if chunk != fb.read(1 << 20):
                    return False
                if not chunk:
                    return True
    except OSError:
        return False


def write_bytes_atomic(target: str | os.PathLike[str], data: bytes, *, overwrite: bool) -> Path:
    """Write ``data`` to ``target`` atomically (see :func:`atomic_path`)."""
    with atomic_path(target, overwrite=overwrite) as tmp:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
    return Path(target)


def write_with(target: str | os.PathLike[str], writer: Callable[[Path], None], *, overwrite: bool) -> Path:
    """Let ``writer`` fill a temporary file, then move it onto ``target`` atomically."""
    with atomic_path(target, overwrite=overwrite) as tmp:
        writer(tmp)
    return Path(target)


@contextlib.contextmanager
def staged_directory(parent: str | os.PathLike[str], prefix: str) -> Iterator[Path]:
    """Yield a new private folder in ``parent`` to fill; whatever is left of it afterwards (all
    of it when the block raises, nothing once it was placed) is removed."""
    parent = Path(parent)
    parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
    try:
        yield staging
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def replace_directory(staging: Path, target: Path) -> Path:
    """Move a filled staging folder onto ``target`` (on the same filesystem), replacing any
    folder there, so a reader finds the old folder or the whole new one under that name."""
    if target.exists():
        old = target.with_name(f".{target.name}.old-{os.getpid()}")
        target.rename(old)
        staging.rename(target)
        shutil.rmtree(old, ignore_errors=True)
    else:
        staging.rename(target)
    return target


def write_directory(target: str | os.PathLike[str], files: dict[str, bytes | memoryview]) -> Path:
    """Write ``files`` (name -> bytes) as the folder ``target``, atomically (see
    :func:`replace_directory`)."""
    target = Path(target)
    with staged_directory(target.parent, f".{target.name}.") as staging:
        for name, data in files.items():
            (staging / name).write_bytes(data)
        return replace_directory(staging, target)
