"""The one root of every error the core raises on purpose.

A caller that wants "anything this library refused, in words" catches :class:`AnomalyTuiError`;
each subclass keeps the built-in base it had before (``ValueError``, ``FileExistsError``, …) so
code that caught those still does.
"""

from __future__ import annotations


class AnomalyTuiError(Exception):
    """Base of the core's own errors: the message is one plain sentence fit for a user."""


def address_space_limit() -> int | None:
    """This process's address-space limit in bytes (``ulimit -v``), or None when it has none."""
    try:
        import resource  # noqa: PLC0415 - POSIX only
    except ImportError:
        return None
    soft, _hard = resource.getrlimit(resource.RLIMIT_AS)
    return None if soft == resource.RLIM_INFINITY else int(soft)


def is_out_of_memory(exc: BaseException) -> bool:
    """Whether ``exc`` means this process ran out of memory: a failed allocation, the system's
    "cannot allocate memory", or, under an address-space limit, a worker thread that could not
    start (its stack is address space too: the first thing to find none left may be the next
    thread rather than an array). Without a limit that thread error means a process or thread
    limit, not memory."""
    import errno  # noqa: PLC0415

    if isinstance(exc, MemoryError):
        return True
    if isinstance(exc, OSError) and exc.errno == errno.ENOMEM:
        return True
    return isinstance(exc, RuntimeError) and "can't start new thread" in str(exc) and address_space_limit() is not None
