"""Cheap facts about the environment, safe to ask at import time."""

from __future__ import annotations

import importlib.util


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
