"""A big file is read in a child process: the app shows it, and escape or q stop it (how fast:
benchmarks/child_timing.py)."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest

from tests.ui.helpers import screen_text, settle
from tui_detector.core.io import child, sandbox
from tui_detector.ui.app import make_app
from tui_detector.ui.screens.open_file import OpenFileScreen
from tui_detector.ui.screens.setup import SetupScreen

SIZE = (120, 40)
# Each test starts a reader process, the last two on a 400,000-row file.
pytestmark = pytest.mark.slow


@pytest.fixture
def big_csv(tmp_path):
    rng = np.random.default_rng(0)
    n = 400_000
    path = tmp_path / "big.csv"
    pd.DataFrame(
        {"amount": rng.normal(size=n), "team": rng.integers(0, 9, n).astype(str), "x": rng.normal(size=n)}
    ).to_csv(path, index=False)
    return path


async def _until(pilot, condition, seconds: float = 10.0) -> None:
    # Not settle(): that waits for the reading worker to finish.
    deadline = time.perf_counter() + seconds
    while not condition():
        assert time.perf_counter() < deadline, "the app never reached the expected state"
        await pilot.pause(0.02)


async def _reading(pilot, screen: SetupScreen) -> None:
    await _until(pilot, lambda: sandbox.live_children() == 1)
    await pilot.pause(0.2)  # the child is past its start-up and reading
    assert screen.loaded is None and sandbox.live_children() == 1


async def test_a_file_read_in_the_child_reaches_set_up(orders, monkeypatch):
    monkeypatch.setenv(child.MODE_ENV, "1")
    app = make_app(orders, model="iforest")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, lambda: isinstance(app.screen, SetupScreen) and app.screen.loaded is not None)
        loaded = app.screen.loaded
        assert len(loaded.frame) == 300 and app.screen.sheets[0].rows == 301
        assert isinstance(loaded.frame["segment"].array, pd.arrays.ArrowStringArray)
        assert app.screen.query_one("#roles").row_count == len(loaded.frame.columns)


async def test_escape_while_reading_kills_the_reader(big_csv, monkeypatch):
    monkeypatch.setenv(child.MODE_ENV, "1")
    app = make_app(big_csv, model="iforest")
    async with app.run_test(size=SIZE) as pilot:
        setup = app.screen
        assert isinstance(setup, SetupScreen)
        await _reading(pilot, setup)
        # The screen says what the reader is doing, with the sheet's size.
        await _until(pilot, lambda: "typing 400,001 rows" in screen_text(app))
        assert "big.csv" in screen_text(app) and "400,001 rows × 3 columns" in screen_text(app)
        await pilot.press("escape")
        await _until(pilot, lambda: sandbox.live_children() == 0)
        await settle(pilot)
        assert isinstance(app.screen, OpenFileScreen)
        assert setup.loaded is None  # nothing arrived after leaving


async def test_quit_while_reading_does_not_wait_for_the_file(big_csv, monkeypatch):
    monkeypatch.setenv(child.MODE_ENV, "1")
    app = make_app(big_csv, model="iforest")
    async with app.run_test(size=SIZE) as pilot:
        setup = app.screen
        await _reading(pilot, setup)
        await pilot.press("q")
    assert setup.loaded is None  # the app ended mid-read: it did not wait for the table
    deadline = time.perf_counter() + 10.0  # the reading thread notices within 0.1 s
    while sandbox.live_children() and time.perf_counter() < deadline:
        time.sleep(0.02)
    assert sandbox.live_children() == 0
