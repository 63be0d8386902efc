"""Cheap facts about the environment, safe to ask at import time."""

from __future__ import annotations

import importlib.util


def tensorflow_available() -> bool:
    """Whether TensorFlow can be imported, without importing it (that takes seconds)."""
    try:
        return importlib.util.find_spec("tensorflow") is not None
    except (ImportError, ValueError):
        return False
