"""Each screen pinned as an SVG at 80×24 and 120×40, Results also at 200×60
(``--snapshot-update`` regenerates them).

Fixed data, an isolated cache and a fake runner with fixed progress keep them deterministic:
no clocks, timings or absolute paths appear on these screens.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.ui.helpers import BlockingRunner, screen_is, settle, write_orders
from tui_detector.ui.app import make_app
from tui_detector.ui.screens.setup import SetupScreen

SIZE = (120, 40)
#: The sizes the screens are pinned at: the smallest usable terminal and a common one.
SIZES = pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])


@pytest.fixture
def data_dir(tmp_path) -> Path:
    directory = tmp_path / "data"
    directory.mkdir()
    write_orders(directory)
    return directory


async def _setup_ready(pilot) -> None:
    await settle(pilot, lambda: isinstance(pilot.app.screen, SetupScreen) and pilot.app.screen.cache_checked)
    # The footer and the tables lay out again after focus moves: let them.
    await pilot.wait_for_scheduled_animations()
    await pilot.pause()
    await pilot.pause()


async def _results(pilot) -> None:
    await _setup_ready(pilot)
    await pilot.press("t")
    await settle(pilot, screen_is(pilot, "Results"))


class TestScreens:
    @SIZES
    def test_open_file(self, snap_compare, data_dir, size):
        async def run_before(pilot):
            await settle(pilot, lambda: len(pilot.app.screen.query_one("#tree").root.children) > 0)

        assert snap_compare(make_app(None, workdir=data_dir), terminal_size=size, run_before=run_before)

    @SIZES
    def test_set_up(self, snap_compare, data_dir, size):
        app = make_app(data_dir / "orders.csv", model="iforest", workdir=data_dir)
        assert snap_compare(app, terminal_size=size, run_before=_setup_ready)

    @SIZES
    def test_training(self, snap_compare, data_dir, size):
        runner = BlockingRunner()
        app = make_app(data_dir / "orders.csv", runner=runner, workdir=data_dir)

        async def run_before(pilot):
            await _setup_ready(pilot)
            await pilot.press("t")
            assert runner.started.wait(5)
            await pilot.pause()
            await pilot.pause()

        assert snap_compare(app, terminal_size=size, run_before=run_before)

    @pytest.mark.slow
    @pytest.mark.parametrize("size", [(80, 24), (120, 40), (200, 60)], ids=["80x24", "120x40", "200x60"])
    def test_results(self, snap_compare, data_dir, size):
        app = make_app(data_dir / "orders.csv", model="iforest", workdir=data_dir)
        assert snap_compare(app, terminal_size=size, run_before=_results)

    @pytest.mark.slow
    def test_results_sorted_all_rows(self, snap_compare, data_dir):
        app = make_app(data_dir / "orders.csv", model="iforest", workdir=data_dir)

        async def run_before(pilot):
            await _results(pilot)
            await pilot.press("a", "right", "right", "right", "right", "right", "s", "minus")

        assert snap_compare(app, terminal_size=SIZE, run_before=run_before)

    @pytest.mark.slow
    @SIZES
    def test_row_details(self, snap_compare, data_dir, size):
        app = make_app(data_dir / "orders.csv", model="iforest", workdir=data_dir)

        async def run_before(pilot):
            await _results(pilot)
            await pilot.press("enter")

        assert snap_compare(app, terminal_size=size, run_before=run_before)

    @pytest.mark.slow
    @SIZES
    def test_export_dialog(self, snap_compare, data_dir, size):
        app = make_app(data_dir / "orders.csv", model="iforest", workdir=data_dir)

        async def run_before(pilot):
            await _results(pilot)
            await pilot.press("e")

        assert snap_compare(app, terminal_size=size, run_before=run_before)

    @pytest.mark.slow
    @SIZES
    def test_score_with_this_model(self, snap_compare, data_dir, size):
        next_month = write_orders(data_dir, rows=200, name="orders-next.csv", seed=2)
        app = make_app(data_dir / "orders.csv", model="iforest", workdir=data_dir)

        async def run_before(pilot):
            await _results(pilot)
            # The training date would change the picture every day: pin it.
            pilot.app.screen.run.trained_on["trained_at"] = "2026-01-31T12:00:00+00:00"
            pilot.app.score_with(pilot.app.screen.run, next_month)
            await settle(pilot, lambda: pilot.app.screen.scored is not None)
            await pilot.pause()

        assert snap_compare(app, terminal_size=size, run_before=run_before)

    @SIZES
    def test_help(self, snap_compare, data_dir, size):
        app = make_app(data_dir / "orders.csv", model="iforest", workdir=data_dir)

        async def run_before(pilot):
            await _setup_ready(pilot)
            await pilot.press("question_mark")

        assert snap_compare(app, terminal_size=size, run_before=run_before)


@pytest.mark.slow
class TestFilterAndHistogram:
    """The column filter being typed, and a column's histogram, at 80×24 and 120×40."""

    @pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
    def test_filter_typed(self, snap_compare, data_dir, size):
        app = make_app(data_dir / "orders.csv", model="iforest", workdir=data_dir)

        async def run_before(pilot):
            await _results(pilot)
            await pilot.press("a", "f", *"segment = north and amount > 30")
            await pilot.pause()

        assert snap_compare(app, terminal_size=size, run_before=run_before)

    @pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
    def test_filter_applied(self, snap_compare, data_dir, size):
        app = make_app(data_dir / "orders.csv", model="iforest", workdir=data_dir)

        async def run_before(pilot):
            await _results(pilot)
            await pilot.press("a", "f", *"segment = north and amount > 30", "enter")
            await settle(pilot, lambda: pilot.app.screen.model.row_filter is not None)
            await pilot.pause()

        assert snap_compare(app, terminal_size=size, run_before=run_before)

    @pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
    def test_column_histogram(self, snap_compare, data_dir, size):
        app = make_app(data_dir / "orders.csv", model="iforest", workdir=data_dir)

        async def run_before(pilot):
            await _results(pilot)
            await pilot.press("a")
            screen = pilot.app.screen
            table = screen.table
            table.cursor_row = [int(r) for r in screen.model.view].index(17)
            table.cursor_column = [c.label for c in table.all_columns].index("amount")
            await pilot.press("H")
            await settle(pilot, screen_is(pilot, "Column histogram"))
            await pilot.pause()

        assert snap_compare(app, terminal_size=size, run_before=run_before)

    @pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
    def test_column_histogram_of_text(self, snap_compare, data_dir, size):
        app = make_app(data_dir / "orders.csv", model="iforest", workdir=data_dir)

        async def run_before(pilot):
            await _results(pilot)
            await pilot.press("enter")  # Row details of the top row, then its segment column
            await settle(pilot, screen_is(pilot, "Row details"))
            full = pilot.app.screen.query_one("#full-row")
            full.focus()
            full.move_cursor(row=[str(full.get_row_at(i)[0]) for i in range(full.row_count)].index("segment"))
            await pilot.press("H")
            await settle(pilot, screen_is(pilot, "Column histogram"))
            await pilot.pause()

        assert snap_compare(app, terminal_size=size, run_before=run_before)
