"""Fixtures for the app's tests; the helpers they use are in helpers.py."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Input

# Re-exported: tests and benchmarks outside tests/ui import these from here.
from tests.ui.helpers import BlockingRunner, screen_is, screen_text, settle, write_orders

__all__ = ["BlockingRunner", "screen_is", "screen_text", "settle", "write_orders"]


@pytest.fixture(autouse=True)
def no_cursor_blink(monkeypatch):
    """A blinking cursor makes screenshots differ by the time they are taken."""
    monkeypatch.setattr(Input, "_toggle_cursor", lambda self: None, raising=False)


@pytest.fixture
def orders(tmp_path) -> Path:
    return write_orders(tmp_path)
