"""Fixtures for the app's tests: no cursor blink, a small orders table with planted anomalies."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Input

from tests.ui.helpers import write_orders


@pytest.fixture(autouse=True)
def no_cursor_blink(monkeypatch):
    """A blinking cursor makes screenshots differ by the time they are taken."""
    monkeypatch.setattr(Input, "_toggle_cursor", lambda self: None, raising=False)


@pytest.fixture
def orders(tmp_path) -> Path:
    return write_orders(tmp_path)
