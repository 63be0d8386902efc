"""The one way this package runs a child process: the guarded parse, the big-file read and the
pre-check that runs beside it.

A child is ``python -P -m tui_detector.core.io._launch MODULE ...``: a fresh interpreter with the
package root first on its path (``-P``: not the working directory), in its own session and
process group (a terminal's ^C is the parent's to handle, and killing the group takes whatever
the child started, children it ran through here included), with an address-space and CPU-time limit applied before MODULE, or the parser
it loads, is imported (:mod:`._launch`). It gets one JSON request on stdin and answers with lines
on stdout; :func:`run` hands each line over as it arrives and returns the exit status and what
the child wrote on stderr.

Cancelling (a :class:`threading.Event`) and the wall-clock timeout both kill the group, within
:data:`TICK` seconds. Every child is killed when this process exits, too, and on Linux a child
dies with this process even when it is killed outright (SIGKILL, SIGHUP), so none is orphaned.
That death signal follows the thread that started the child, and :func:`run` returns only once
its child is gone, so a worker thread ending is never what sets it off.
"""

from __future__ import annotations

import atexit
import json
import os
import selectors
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..errors import AnomalyTuiError

__all__ = [
    "Cancelled",
    "CannotStart",
    "Ended",
    "Limits",
    "TimedOut",
    "kill_group",
    "live_children",
    "package_root",
    "run",
]

LAUNCHER = "tui_detector.core.io._launch"
#: Set in every child's environment. A child's own children (the reader process starts a parse
#: child for an xls file) stay in its process group, so cancelling the read kills them too.
NESTED_ENV = "ANOMALY_TUI_SANDBOXED"
#: How often a waiting parent looks at its cancel flag (and so how late a cancel can be).
TICK = 0.1
#: What is kept of a child's stderr (the start says why it died; the rest is drained unread).
STDERR_KEEP = 1 << 20
_READ = 1 << 20
#: Whether select() works on pipes here (POSIX); elsewhere a child's lines arrive when it ends.
SELECTABLE_PIPES = os.name == "posix"


@dataclass(frozen=True)
class Limits:
    """What a child may use; None leaves that limit as this process has it."""

    memory: int | None = None  # bytes of address space
    cpu: int | None = None  # seconds of CPU time


@dataclass(frozen=True)
class Ended:
    """A child that ran to its end (of any kind: a crash is a negative ``returncode``)."""

    returncode: int
    stderr: bytes


class CannotStart(AnomalyTuiError):
    """No child could be started (no memory, no processes left); the message is the OS's."""


class TimedOut(AnomalyTuiError):
    """The child ran past its wall-clock limit and was killed."""


class Cancelled(AnomalyTuiError):
    """The caller's cancel flag was set; the child was killed."""


_LIVE: set[subprocess.Popen] = set()
_LIVE_LOCK = threading.Lock()


@atexit.register
def _kill_all() -> None:
    # A child runs in its own session, so nothing else would stop it if this process ended
    # while it ran.
    with _LIVE_LOCK:
        children = list(_LIVE)
    for proc in children:
        _end(proc)


def live_children() -> int:
    """How many children are running now (tests check none outlive a cancel)."""
    with _LIVE_LOCK:
        return sum(1 for p in _LIVE if p.poll() is None)


def package_root() -> str:
    """The folder that holds the ``tui_detector`` package (first on a child's path)."""
    return str(Path(__file__).resolve().parents[3])


def kill_group(proc: subprocess.Popen) -> None:
    """SIGKILL a child started in its own session and whatever it started (a nested child,
    which leads no group, alone)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (OSError, AttributeError):
        try:
            proc.kill()
        except OSError:
            pass


def _end(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        kill_group(proc)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass


def _command(module: str, limits: Limits) -> list[str]:
    return [sys.executable, "-P", "-m", LAUNCHER, module, str(limits.memory or 0), str(limits.cpu or 0), str(os.getpid())]


def _environment(extra: dict[str, str] | None) -> dict[str, str]:
    env = dict(os.environ)
    root = package_root()
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.setdefault("RUST_BACKTRACE", "0")
    env[NESTED_ENV] = "1"
    env.update(extra or {})
    return env


class _Lines:
    """Splits a byte stream into lines without copying a long line once per chunk (a parse
    child's answer is one line of megabytes)."""

    def __init__(self, on_line: Callable[[bytes], None]) -> None:
        self._on_line = on_line
        self._parts: list[bytes] = []

    def feed(self, chunk: bytes) -> None:
        while True:
            cut = chunk.find(b"\n")
            if cut < 0:
                break
            self._parts.append(chunk[:cut])
            line, self._parts = b"".join(self._parts), []
            self._on_line(line)
            chunk = chunk[cut + 1 :]
        if chunk:
            self._parts.append(chunk)

    def close(self) -> None:
        if self._parts:
            line, self._parts = b"".join(self._parts), []
            self._on_line(line)


def run(
    module: str,
    request: dict,
    *,
    on_line: Callable[[bytes], None],
    limits: Limits = Limits(),
    env: dict[str, str] | None = None,
    timeout: float | None = None,
    cancel: threading.Event | None = None,
) -> Ended:
    """Run ``module``'s ``main()`` in a child, send it ``request``, hand each line it writes to
    ``on_line``, and return how it ended.

    Raises :class:`CannotStart`, :class:`TimedOut` after ``timeout`` seconds of wall clock, and
    :class:`Cancelled` within :data:`TICK` of ``cancel`` being set. The child is gone when this
    returns or raises, whatever ``on_line`` raised.
    """
    deadline = None if timeout is None else time.monotonic() + timeout
    try:
        proc = subprocess.Popen(
            _command(module, limits),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=_environment(env),
            start_new_session=os.environ.get(NESTED_ENV) != "1",
        )
    except OSError as exc:
        raise CannotStart(str(exc)) from None
    with _LIVE_LOCK:
        _LIVE.add(proc)
    try:
        assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
        data = json.dumps(request).encode("utf-8")
        lines = _Lines(on_line)
        if not SELECTABLE_PIPES:
            return _communicate(proc, data, lines, deadline)
        try:
            proc.stdin.write(data)
            proc.stdin.close()
        except OSError:
            pass  # it died at once; its exit status says why
        err = bytearray()
        with selectors.DefaultSelector() as sel:
            sel.register(proc.stdout.fileno(), selectors.EVENT_READ, lines)
            sel.register(proc.stderr.fileno(), selectors.EVENT_READ, err)
            while sel.get_map():
                for key, _ in sel.select(_wait(deadline, cancel)):
                    chunk = os.read(key.fd, _READ)
                    if not chunk:
                        sel.unregister(key.fd)
                    elif key.data is lines:
                        lines.feed(chunk)
                    elif len(err) < STDERR_KEEP:
                        err += chunk[: STDERR_KEEP - len(err)]
        lines.close()
        while True:
            try:
                returncode = proc.wait(_wait(deadline, cancel))
                break
            except subprocess.TimeoutExpired:
                pass
        if cancel is not None and cancel.is_set():
            raise Cancelled  # it finished, but the caller no longer wants the result
        return Ended(returncode=returncode, stderr=bytes(err))
    finally:
        _end(proc)
        with _LIVE_LOCK:
            _LIVE.discard(proc)
        for stream in (proc.stdin, proc.stdout, proc.stderr):
            try:
                if stream is not None:
                    stream.close()
            except OSError:
                pass


def _communicate(proc: subprocess.Popen, data: bytes, lines: _Lines, deadline: float | None) -> Ended:
    """Where pipes cannot be waited on (Windows), the whole answer at the end; no cancel."""
    left = None if deadline is None else max(0.0, deadline - time.monotonic())
    try:
        out, err = proc.communicate(data, timeout=left)
    except subprocess.TimeoutExpired:
        raise TimedOut from None
    lines.feed(out)
    lines.close()
    return Ended(returncode=proc.returncode, stderr=err[:STDERR_KEEP])


def _check(deadline: float | None, cancel: threading.Event | None) -> None:
    if cancel is not None and cancel.is_set():
        raise Cancelled
    if deadline is not None and time.monotonic() >= deadline:
        raise TimedOut


def _wait(deadline: float | None, cancel: threading.Event | None) -> float | None:
    """How long to block before looking at the cancel flag and the clock again (raising when
    either says stop)."""
    _check(deadline, cancel)
    wait = TICK if cancel is not None else None
    if deadline is not None:
        left = max(0.0, deadline - time.monotonic())
        wait = left if wait is None else min(wait, left)
    return wait
