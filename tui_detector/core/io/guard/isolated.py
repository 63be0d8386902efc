"""xls, xlsb and ods files are parsed in a child process (:mod:`.._worker`) with an address-space
and CPU-time limit and a wall-clock timeout; a crash, abort or blow-up there becomes a
:class:`Refused` message and this process lives on. xlsx takes the in-process path because
handing 2 million cells back from a child costs more than the whole guarded read; its
pre-checks (:mod:`.zipcheck`, :mod:`.dimensions`) bound what calamine allocates."""

from __future__ import annotations

import os
import signal
from typing import NoReturn

from .. import cellwire, sandbox
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


def run_worker(request: dict, *, timeout: float | None = None) -> object:
    """Run one parse in a fresh child process under resource limits; return its result.

    Raises :class:`Refused` for every way the child can fail: a parser error (with the
    parser's own one-line message in ``kind="parser:<ExceptionName>"``), a crash or abort, the
    memory or CPU limit, the timeout, or an answer that is not the data it should be.
    """
    limit = WORKER_TIMEOUT if timeout is None else timeout
    answers: list[bytes] = []
    try:
        ended = sandbox.run(
            "tui_detector.core.io._worker",
            request,
            on_line=answers.append,
            limits=sandbox.Limits(memory=_worker_memory(), cpu=WORKER_CPU_SECONDS),
            timeout=limit,
        )
    except sandbox.CannotStart as exc:
        raise Refused(f"could not start the parser process ({exc})", "worker") from None
    except sandbox.TimedOut:
        raise Refused(
            f"reading it took longer than {limit:.0f} s and was stopped", "timeout"
        ) from None
    rc = ended.returncode
    if rc == 0 and answers:
        return _answer(answers)
    _refuse_ending(rc, ended.stderr.decode("utf-8", "replace"))


def _answer(lines: list[bytes]) -> object:
    try:
        if len(lines) != 1:
            raise ValueError("one answer expected")
        answer = cellwire.loads(lines[0])
        if not isinstance(answer, dict) or len(answer) != 1:
            raise ValueError("not an answer")
    except Exception as exc:  # noqa: BLE001 - whatever the child sent, it is damaged
        raise Refused("the parser process returned damaged data", "worker") from exc
    if "ok" in answer:
        return answer["ok"]
    info = answer.get("error")
    try:
        kind, message = str(info["type"]), str(info["message"])
    except Exception:  # noqa: BLE001
        kind, message = "Error", "unknown error"
    raise Refused(message, "parser:" + kind)


def _refuse_ending(rc: int, stderr: str) -> NoReturn:
    """The message for a child that ended without an answer."""
    if rc == -signal.SIGKILL or "memory allocation" in stderr or "MemoryError" in stderr:
        raise Refused(
            "it needs more memory than allowed while being parsed "
            "(the sheet is too large or the file is hostile)",
            "memory",
        )
    if rc == -getattr(signal, "SIGXCPU", 24):
        raise Refused("parsing it used too much CPU time and was stopped", "timeout")
    if rc < 0:
        try:
            signame = signal.Signals(-rc).name
        except ValueError:
            signame = f"signal {-rc}"
        raise Refused(
            f"the spreadsheet parser crashed on it ({signame}); the file is damaged or hostile",
            "crash",
        )
    raise Refused(f"the spreadsheet parser failed on it (exit status {rc})", "crash")
