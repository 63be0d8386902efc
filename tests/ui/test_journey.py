"""Pilot tests of the whole journey: open, set up, train, results, inspect, threshold, export."""

from __future__ import annotations

import json

import jsonschema
import numpy as np
import pytest
from textual.widgets import Input

from tests.ui.helpers import BlockingRunner, screen_is, screen_text, settle
from tui_detector.core.export import schema
from tui_detector.ui.app import make_app
from tui_detector.ui.screens.dialogs import ConfirmScreen
from tui_detector.ui.screens.export import ExportScreen
from tui_detector.ui.screens.help import HelpScreen
from tui_detector.ui.screens.open_file import OpenFileScreen
from tui_detector.ui.screens.results import ResultsScreen
from tui_detector.ui.screens.row_detail import RowDetailScreen
from tui_detector.ui.screens.setup import SetupScreen
from tui_detector.ui.screens.training import TrainingScreen
from tui_detector.ui.widgets.histogram import ScoreHistogram
from tui_detector.ui.widgets.score_table import ScoreTable

SIZE = (120, 40)


async def to_results(pilot) -> ResultsScreen:
    await settle(pilot, lambda: isinstance(pilot.app.screen, SetupScreen) and pilot.app.screen.loaded is not None)
    await pilot.press("t")
    await settle(pilot, screen_is(pilot, "Results"))
    return pilot.app.screen


@pytest.mark.slow
async def test_full_journey_open_setup_train_results_sort_inspect_threshold_export(orders, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    app = make_app(None, model="iforest", workdir=tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, OpenFileScreen) and app.screen.sub_title == "Open file"
        app.screen.query_one("#path", Input).value = "orders.csv"
        app.screen.query_one("#path", Input).focus()
        await pilot.press("enter")
        results = await to_results(pilot)
        model = results.model
        scores = app.screen.run.detection.scores
        flagged = int(results.run.detection.flags.sum())
        assert len(model.view) == flagged > 0

        # Sort by score: ascending, then again for descending.
        table = results.query_one(ScoreTable)
        table.cursor_column = [c.key for c in table.all_columns].index("score")
        await pilot.press("s")
        await pilot.pause()
        assert model.sort_key == "score" and model.descending  # score starts highest first
        assert np.all(np.diff(scores[model.view]) <= 0)
        await pilot.press("s")
        await pilot.pause()
        assert not model.descending and np.all(np.diff(scores[model.view]) >= 0)

        # Open the row under the cursor: three explained columns, the whole row.
        await pilot.press("home", "enter")
        await pilot.pause()
        assert isinstance(app.screen, RowDetailScreen)
        detail = app.screen
        row = detail.row
        assert row == int(model.view[0])
        # Every column that is a reason (holding something other than what was expected), and
        # only those; the whole row below has every column.
        reasons = detail.model.top.explain_all_columns(row)["anomalous_features"]
        assert 1 <= detail.query_one("#features").row_count == len(reasons) <= len(results.run.detector.columns_used)
        assert all(f["actual_value"] != f["expected_value"] for f in reasons)
        assert detail.query_one("#full-row").row_count == len(results.run.frame.columns)
        await pilot.press("escape")
        assert app.screen is results

        # Move the threshold up: fewer rows flagged at once, the histogram follows.
        before = results.run.detection.threshold
        await pilot.press("plus")
        await pilot.pause()
        assert results.run.threshold_percentile == 95.5
        assert results.run.detection.threshold > before
        assert len(model.view) == int(results.run.detection.flags.sum()) <= flagged
        assert results.query_one(ScoreHistogram).threshold == results.run.detection.threshold
        await pilot.press("minus", "minus")
        await pilot.pause()
        assert results.run.threshold_percentile == 94.5
        assert len(model.view) >= flagged

        # Export: the dialog is prefilled with <stem>.anomalies.json; enter writes it.
        await pilot.press("e")
        await pilot.pause()
        assert isinstance(app.screen, ExportScreen)
        assert app.screen.query_one("#json-path", Input).value == "orders.anomalies.json"
        await pilot.press("enter")
        await settle(pilot, lambda: (tmp_path / "orders.anomalies.json").exists())
        document = json.loads((tmp_path / "orders.anomalies.json").read_text())
        jsonschema.validate(document, schema())
        assert document["anomaly_count"] == len(model.view)
        assert document["model"]["threshold_percentile"] == 94.5


@pytest.mark.slow
async def test_export_asks_before_overwriting_and_writes_a_scored_copy(orders, tmp_path):
    target = tmp_path / "orders.anomalies.json"
    target.write_text("keep me")
    app = make_app(orders, model="iforest", workdir=tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await to_results(pilot)
        await pilot.press("e")
        await pilot.pause()
        await pilot.press("enter")
        await settle(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("n")  # keep it
        await settle(pilot)
        assert target.read_text() == "keep me"

        await pilot.press("e")
        await pilot.pause()
        app.screen.query_one("#scored").value = True
        await pilot.pause()
        app.screen.query_one("#json-path", Input).focus()
        await pilot.press("enter")
        await settle(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await settle(pilot, lambda: (tmp_path / "orders.scored.xlsx").exists())
        jsonschema.validate(json.loads(target.read_text()), schema())


@pytest.mark.slow
async def test_header_click_sorts_both_ways_and_all_rows_toggle(orders, tmp_path):
    app = make_app(orders, model="iforest", workdir=tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        results = await to_results(pilot)
        table = results.query_one(ScoreTable)
        column = next(c for c in table.all_columns if c.label == "amount")
        index = table.all_columns.index(column)
        table.cursor_column = index  # scrolls it into view
        await pilot.pause()
        x = table.fixed_width + table.offsets[index - len(table.fixed)] - int(table.scroll_x) + 2
        await pilot.click(ScoreTable, offset=(x, 0))
        values = results.run.frame["amount"].to_numpy()
        assert results.model.sort_key == column.key and not results.model.descending
        assert np.all(np.diff(values[results.model.view]) >= 0)
        await pilot.click(ScoreTable, offset=(x, 0))
        assert results.model.descending and np.all(np.diff(values[results.model.view]) <= 0)

        await pilot.press("a")
        assert len(results.model.view) == len(results.run.frame)
        assert np.all(np.diff(values[results.model.view]) <= 0)  # the sort holds
        await pilot.press("a")
        assert len(results.model.view) == int(results.run.detection.flags.sum())


@pytest.mark.slow
async def test_search_filters_rows_and_escape_clears(orders, tmp_path):
    app = make_app(orders, model="iforest", workdir=tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        results = await to_results(pilot)
        await pilot.press("a", "slash")
        await pilot.press(*"ORD-000017")
        await pilot.press("enter")
        await settle(pilot, lambda: results.model.query == "ORD-000017")
        assert [int(r) for r in results.model.view] == [17]
        await pilot.press("escape")
        assert results.model.query == "" and len(results.model.view) == 300
        assert app.screen is results


async def test_cancel_training_returns_to_setup_within_a_batch(orders, tmp_path):
    runner = BlockingRunner()
    app = make_app(orders, runner=runner, workdir=tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, lambda: isinstance(app.screen, SetupScreen) and app.screen.loaded is not None)
        await pilot.press("t")
        await pilot.pause()
        assert isinstance(app.screen, TrainingScreen) and app.screen.sub_title == "Training"
        assert runner.started.wait(5)
        await pilot.pause()
        assert len(app.screen.query_one("#loss").loss) == 3
        await pilot.press("escape")
        await settle(pilot, lambda: isinstance(app.screen, SetupScreen))
        assert runner.stopped_by_request


async def test_quit_asks_only_while_training(orders, tmp_path):
    runner = BlockingRunner()
    app = make_app(orders, runner=runner, workdir=tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, lambda: isinstance(app.screen, SetupScreen) and app.screen.loaded is not None)
        await pilot.press("t")
        assert runner.started.wait(5)
        await pilot.press("q")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")
        await pilot.pause()
        assert isinstance(app.screen, TrainingScreen) and app.is_running
        await pilot.press("q")
        await pilot.pause()
        await pilot.press("y")
        await settle(pilot, lambda: not app.is_running, rounds=50)
    assert runner.stopped_by_request


async def test_quit_without_training_does_not_ask(orders, tmp_path):
    app = make_app(orders, model="iforest", workdir=tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, lambda: isinstance(app.screen, SetupScreen) and app.screen.loaded is not None)
        await pilot.press("q")
        await pilot.pause()
        assert not app.is_running


def _no_data_rows():
    raise ValueError("the sheet has a header but no data rows [bold]")


def _no_memory():
    raise MemoryError


def _no_thread():
    raise RuntimeError("can't start new thread")


# Under ``ulimit -v`` the first thing to find no address space left may be a worker thread's
# stack rather than an array: either way the screen says what it means.
TRAINING_FAILURES = [
    ("error", _no_data_rows, "no data rows [bold]"),
    ("allocation", _no_memory, "not enough memory to train on this table"),
    ("thread", _no_thread, "not enough memory to train on this table"),
]


@pytest.mark.parametrize("case, fail, said", TRAINING_FAILURES, ids=[c for c, _, _ in TRAINING_FAILURES])
async def test_training_error_is_shown_in_plain_words(orders, tmp_path, monkeypatch, case, fail, said):
    from tui_detector.core import errors

    monkeypatch.setattr(errors, "address_space_limit", lambda: 2 << 30)
    app = make_app(orders, runner=lambda *_a, **_k: fail(), workdir=tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, lambda: isinstance(app.screen, SetupScreen) and app.screen.loaded is not None)
        await pilot.press("t")
        await settle(pilot, lambda: isinstance(app.screen, TrainingScreen) and app.screen.failed)
        error = str(app.screen.query_one("#train-error").render())
        assert said in error, case
        assert "can't start new thread" not in error
        await pilot.press("escape")
        assert isinstance(app.screen, SetupScreen)


async def test_bad_file_shows_a_message_and_the_app_lives(tmp_path):
    path = tmp_path / "broken.xlsx"
    path.write_bytes(b"PK\x03\x04" + b"\x00" * 60 + b"garbage" * 10)  # a damaged zip
    app = make_app(path, workdir=tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        message = lambda: str(app.screen.query_one("#message").render())  # noqa: E731
        await settle(pilot, lambda: isinstance(app.screen, SetupScreen) and "Cannot open" in message())
        assert "Cannot open this file" in message() and "broken.xlsx" in message()
        await pilot.press("t")  # nothing to train on: a notice, not a crash
        await pilot.pause()
        assert app.is_running and isinstance(app.screen, SetupScreen)
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, OpenFileScreen)


@pytest.mark.slow
async def test_column_can_be_excluded_and_included_with_space(orders, tmp_path):
    app = make_app(orders, model="iforest", workdir=tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, lambda: isinstance(app.screen, SetupScreen) and app.screen.loaded is not None)
        setup = app.screen
        roles = setup.roles
        names = [p.name for p in roles.profiles]
        roles.move_cursor(row=names.index("amount"))
        await pilot.press("space")
        assert roles.overrides == {"amount": "text"}
        assert not roles.profiles[names.index("amount")].used
        roles.move_cursor(row=names.index("order_id"))
        await pilot.press("space")  # an identifier, included on request
        assert roles.overrides["order_id"] == "categorical"
        assert setup.settings().roles == {"amount": "text", "order_id": "categorical"}
        await pilot.press("t")
        await settle(pilot, screen_is(pilot, "Results"))
        assert "amount" not in app.screen.run.detector.columns_used


@pytest.mark.slow
async def test_cached_model_is_offered_and_used(orders, tmp_path):
    app = make_app(orders, model="iforest", workdir=tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await to_results(pilot)
        assert not app.screen.run.from_cache
    app = make_app(orders, model="iforest", workdir=tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, lambda: isinstance(app.screen, SetupScreen) and app.screen.cached)
        assert "is cached" in str(app.screen.query_one("#cache-note").render())
        await pilot.press("t")
        await settle(pilot, screen_is(pilot, "Results"))
        assert app.screen.run.from_cache


@pytest.mark.parametrize("key", ["question_mark", "f1"])
async def test_help_lists_the_keys_and_escape_goes_back(orders, tmp_path, key):
    app = make_app(orders, model="iforest", workdir=tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        before = app.screen
        await pilot.press(key)
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen) and app.screen.sub_title == "Help"
        text = screen_text(app)
        assert "anomaly-tui — Help" in text
        for words in ("sort by the column", "export JSON", "cancel training", "include / exclude"):
            assert words in text
        await pilot.press("escape")
        assert app.screen is before
