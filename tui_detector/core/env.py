"""Cheap facts about the environment, safe to ask at import time."""

from __future__ import annotations

import importlib.util
import os
import sys

#: NumPy's own switch, read when NumPy is imported.
HUGE_PAGES_ENV = "NUMPY_MADVISE_HUGEPAGE"


def small_pages() -> None:
    """Ask NumPy not to request transparent huge pages for big arrays, unless the user said.

    Where the kernel compacts memory to find a huge page when one is asked for (THP "defrag" set
    to "madvise", a common default), a fragmented machine makes the first touch of a big array
    wait for it. Measured here: the first 632 MB (a million-row table's encoding) took 1.6-6.4 s
    with huge pages against 0.24-0.38 s without; a cold ``detect`` of 100k rows 11.2-12.8 s
    against 7.6-8.4 s, a full-size sheet 97 s against 63 s. Called by the command and the app
    before their work; child processes inherit the variable."""
    os.environ.setdefault(HUGE_PAGES_ENV, "0")
    numpy = sys.modules.get("numpy")
    if numpy is not None and os.environ[HUGE_PAGES_ENV] == "0":
        # Imported already (the app, a caller of main() in-process): too late for the variable.
        setter = getattr(getattr(getattr(numpy, "_core", None), "multiarray", None), "_set_madvise_hugepage", None)
        if setter is not None:
            setter(False)


def tensorflow_available() -> bool:
    """Whether TensorFlow can be imported, without importing it (that takes seconds)."""
    try:
        return importlib.util.find_spec("tensorflow") is not None
    except (ImportError, ValueError):
        return False


def prewarm_tensorflow() -> bool:
    """Import TensorFlow and Keras now, in the calling thread; whether they loaded.

    For a caller that will soon train the Keras network and has time to spare (Set up while
    the user reads it): the import takes seconds and holds the interpreter lock in stretches,
    which would otherwise stall the first seconds of training. A missing or broken TensorFlow
    is not reported here; training says so in words.
    """
    from .model._keras import import_keras  # noqa: PLC0415 - seconds of import, only when asked

    try:
        import_keras()
    except Exception:  # noqa: BLE001 - see the docstring
        return False
    return True
