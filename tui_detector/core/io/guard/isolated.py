"""xls, xlsb and ods files are parsed in a child process (:mod:`.._worker`) with an address-space
and CPU-time limit and a wall-clock timeout; a crash, abort or blow-up there becomes a
:class:`Refused` message and this process lives on. xlsx takes the in-process path because
handing 2 million cells back from a child costs more than the whole guarded read; its
pre-checks (:mod:`.zipcheck`, :mod:`.dimensions`) bound what calamine allocates."""

from __future__ import annotations

import io
import json
import os
import pickle
import signal
import subprocess
import sys
from pathlib import Path

from .refusal import Refused

__all__ = ["WORKER_CPU_SECONDS", "WORKER_MEMORY", "WORKER_TIMEOUT", "run_worker"]

#: Child process limits.
WORKER_TIMEOUT = 180.0
WORKER_CPU_SECONDS = 300
WORKER_MEMORY = None  # bytes; None = half the physical memory, between 1 and 6 GiB


def _worker_memory() -> int:
    if WORKER_MEMORY:
        return int(WORKER_MEMORY)
    try:
        phys = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        phys = 8 * 1024**3
    return int(min(max(phys // 2, 1024**3), 6 * 1024**3))


class _SafeUnpickler(pickle.Unpickler):
    """Only plain data and datetime values come back from the child."""

    _ALLOWED = {
        ("datetime", "datetime"),
        ("datetime", "date"),
        ("datetime", "time"),
        ("datetime", "timedelta"),
        ("datetime", "timezone"),
    }

    def find_class(self, module: str, name: str):
        if (module, name) in self._ALLOWED:
            import datetime

            return getattr(datetime, name)
        raise pickle.UnpicklingError(f"refused global {module}.{name}")


def package_root() -> str:
    """The folder that holds the ``tui_detector`` package (a child's ``PYTHONPATH``)."""
    return str(Path(__file__).resolve().parents[4])


def run_worker(request: dict, *, timeout: float | None = None) -> object:
    """Run one parse in a fresh child process under resource limits; return its result.

    Raises :class:`Refused` for every way the child can fail: a parser error (with the
    parser's own one-line message in ``kind="parser:<ExceptionName>"``), a crash or abort, the
    memory or CPU limit, or the timeout.
    """
    req = dict(request)
    req["memory"] = _worker_memory()
    req["cpu"] = WORKER_CPU_SECONDS
    env = dict(os.environ)
    root = package_root()
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.setdefault("RUST_BACKTRACE", "0")
    limit = WORKER_TIMEOUT if timeout is None else timeout
    try:
        proc = subprocess.Popen(
            [sys.executable, "-P", "-m", "tui_detector.core.io._worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            start_new_session=True,
        )
    except OSError as exc:
        raise Refused(f"could not start the parser process ({exc})", "worker") from exc
    try:
        out, err = proc.communicate(json.dumps(req).encode("utf-8"), timeout=limit)
    except subprocess.TimeoutExpired:
        _kill(proc)
        raise Refused(
            f"reading it took longer than {limit:.0f} s and was stopped", "timeout"
        ) from None
    except BaseException:
        _kill(proc)
        raise
    rc = proc.returncode
    if rc == 0 and out.startswith(b"OK"):
        try:
            return _SafeUnpickler(io.BytesIO(out[2:])).load()
        except Exception as exc:  # noqa: BLE001
            raise Refused("the parser process returned damaged data", "worker") from exc
    if rc == 0 and out.startswith(b"ER"):
        try:
            info = json.loads(out[2:].decode("utf-8"))
            kind, message = str(info["type"]), str(info["message"])
        except Exception:  # noqa: BLE001
            kind, message = "Error", "unknown error"
        raise Refused(message, "parser:" + kind)
    text = err.decode("utf-8", "replace")
    if "memory allocation" in text or "MemoryError" in text or rc in (-signal.SIGKILL,):
        if rc == -signal.SIGKILL or "memory allocation" in text or "MemoryError" in text:
            raise Refused(
                "it needs more memory than allowed while being parsed "
                "(the sheet is too large or the file is hostile)",
                "memory",
            )
    if rc == -getattr(signal, "SIGXCPU", 24):
        raise Refused("parsing it used too much CPU time and was stopped", "timeout")
    if rc is not None and rc < 0:
        try:
            signame = signal.Signals(-rc).name
        except ValueError:
            signame = f"signal {-rc}"
        raise Refused(
            f"the spreadsheet parser crashed on it ({signame}); the file is damaged or hostile",
            "crash",
        )
    raise Refused(
        f"the spreadsheet parser failed on it (exit status {rc})", "crash"
    )


def kill_group(proc: subprocess.Popen) -> None:
    """SIGKILL a child started with ``start_new_session=True`` and whatever it started."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (OSError, AttributeError):
        try:
            proc.kill()
        except OSError:
            pass


def _kill(proc: subprocess.Popen) -> None:
    kill_group(proc)
    try:
        proc.communicate(timeout=5)
    except Exception:  # noqa: BLE001
        pass
