"""Verdicts in the app: confirm, dismiss with a note, suppress a value, undo; after a restart the
verdicts are there, reviewed rows are hidden, and History lists the runs."""

from __future__ import annotations

import json
import sqlite3

import jsonschema
import numpy as np
import pytest
from textual.widgets import DataTable, Input

from tests.ui.helpers import screen_is, screen_text, settle
from tui_detector.core.export import schema
from tui_detector.ui.app import make_app
from tui_detector.ui.screens.history import HistoryScreen
from tui_detector.ui.screens.results import ResultsScreen
from tui_detector.ui.screens.dialogs import NoteScreen, SuppressScreen
from tui_detector.ui.screens.export import ExportRequest
from tui_detector.ui.screens.row_detail import RowDetailScreen
from tui_detector.ui.screens.setup import SetupScreen

SIZE = (140, 40)


async def to_results(pilot) -> ResultsScreen:
    await settle(pilot, lambda: isinstance(pilot.app.screen, SetupScreen) and pilot.app.screen.loaded is not None)
    await pilot.press("t")
    await settle(pilot, lambda: isinstance(pilot.app.screen, ResultsScreen) and pilot.app.screen.model.review is not None)
    return pilot.app.screen


def to_unreviewed(results: ResultsScreen) -> int:
    """Put the cursor on the highest unreviewed row (each verdict re-ranks the rest) and say which."""
    reviewed = results.model.review.reviewed(results.model.rows)
    results.table.cursor_row = next(i for i, r in enumerate(results.model.view) if not reviewed[r])
    return results.table.current_row


def column_of(results: ResultsScreen, label: str) -> int:
    return [c.label for c in results.table.all_columns].index(label)


@pytest.mark.slow
async def test_verdicts_survive_a_restart_and_hide_the_reviewed_rows(orders, tmp_path, private_data_dir):
    app = make_app(orders, model="iforest", workdir=tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        results = await to_results(pilot)
        model = results.model
        assert not model.hide_reviewed  # nothing reviewed yet: every anomaly shown
        # Every row in view, whatever each verdict's re-ranking does to the flags.
        await pilot.press("a")
        first = results.table.current_row
        await pilot.press("c")  # the top row: confirmed, stays in view
        second = to_unreviewed(results)
        await pilot.press("c")
        assert model.status(first) == model.status(second) == "confirmed"
        assert "confirmed" in screen_text(app)

        third = to_unreviewed(results)
        await pilot.press("d")
        assert model.status(third) == "dismissed"
        await pilot.press("N")  # a note on the dismissed row
        await settle(pilot, lambda: isinstance(app.screen, NoteScreen))
        await pilot.press(*"refund, fine", "enter")
        await settle(pilot, lambda: isinstance(app.screen, ResultsScreen))
        assert model.review.verdict(third).note == "refund, fine"

        # Suppress by the segment of a fourth row, as expected, until a day.
        fourth = to_unreviewed(results)
        results.table.cursor_column = column_of(results, "segment")
        segment = results.run.frame.loc[fourth, "segment"]
        await pilot.press("S")
        await settle(pilot, lambda: isinstance(app.screen, SuppressScreen))
        assert f"segment = {segment}" in screen_text(app)
        await pilot.press(*"2999-12-31")
        await pilot.click("#expected")
        await settle(pilot, lambda: isinstance(app.screen, ResultsScreen))
        same = np.flatnonzero(results.run.frame["segment"].to_numpy() == segment)
        assert model.status(fourth) == "expected"
        # Every other row with that segment is covered, except those with a verdict of their own.
        assert {model.status(int(r)) for r in same if int(r) not in {first, second, third, fourth}} == {"suppressed"}

        # Undo takes the suppression back; redo it with the date field's enter (dismissed).
        await pilot.press("u")
        assert model.status(fourth) != "expected" and model.review.state.suppressed == {}
        results.table.cursor_row = list(model.view).index(fourth)
        await pilot.press("S")
        await settle(pilot, lambda: isinstance(app.screen, SuppressScreen))
        await pilot.press("enter")
        await settle(pilot, lambda: isinstance(app.screen, ResultsScreen))
        assert model.status(fourth) == "dismissed" and model.review.state.suppressed

        # Row details: a verdict there, and stepping to the next unreviewed row.
        results.table.cursor_row = list(results.model.view).index(first)
        await pilot.press("enter")
        await settle(pilot, lambda: isinstance(app.screen, RowDetailScreen))
        detail = app.screen
        assert detail.row == first and "confirmed" in screen_text(app)
        await pilot.press("right_curly_bracket")
        assert not model.review.reviewed(model.rows)[detail.row]
        stepped = detail.row
        await pilot.press("x")
        assert model.status(stepped) == "expected"
        await pilot.press("u")
        assert model.status(stepped) in ("", "new", "recurring")
        await pilot.press("escape")
        await settle(pilot, lambda: isinstance(app.screen, ResultsScreen))
        await pilot.press("q")

    with sqlite3.connect(private_data_dir / "reviews.sqlite3") as conn:
        assert conn.execute("SELECT count(*) FROM runs WHERE origin = 'app'").fetchone()[0] == 1

    # Reopened: the verdicts are there, reviewed rows hidden, History lists both runs.
    again = make_app(orders, model="iforest", workdir=tmp_path)
    async with again.run_test(size=SIZE) as pilot:
        results = await to_results(pilot)
        model = results.model
        assert model.hide_reviewed
        await pilot.press("a")
        shown = set(model.view.tolist())
        assert not shown & {first, second, third, fourth}
        assert "unreviewed only" in screen_text(again)
        await pilot.press("v")
        shown = set(model.view.tolist())
        assert {first, second} <= shown and model.status(first) == "confirmed"
        assert model.review.verdict(third).note == "refund, fine"
        await settle(pilot, lambda: bool(model.review.marks))
        assert model.review.marks.get(first) == "recurring"  # flagged by both runs

        # The export says of each anomaly what the status column says.
        out = tmp_path / "export.json"
        results.export(ExportRequest(out, False, None), overwrite=False)
        await settle(pilot, lambda: out.exists())
        document = json.loads(out.read_text())
        jsonschema.validate(document, schema())
        exported = {a["row_index"]: a["recurring"] for a in document["anomalies"]}
        assert exported and exported[first] is True
        assert exported == {r: model.review.marks[r] == "recurring" for r in exported}

        await pilot.press("R")
        await settle(pilot, lambda: isinstance(again.screen, HistoryScreen) and again.screen.runs)
        history = again.screen
        assert [r.origin for r in history.runs] == ["app", "app"]
        assert history.query_one("#runs", DataTable).row_count == 2
        text = screen_text(again)
        assert "orders.csv" in text and "reviewed" in text
        await pilot.press("enter")  # reopens the file
        await settle(pilot, lambda: isinstance(again.screen, SetupScreen))
        await pilot.press("escape")
        await settle(pilot, lambda: isinstance(again.screen, HistoryScreen))


@pytest.mark.slow
async def test_a_note_needs_a_verdict_and_a_bad_day_is_said_in_the_dialog(orders, tmp_path):
    app = make_app(orders, model="iforest", workdir=tmp_path)
    notes: list[str] = []
    notify = app.notify
    app.notify = lambda message, *a, **k: notes.append(str(message)) or notify(message, *a, **k)
    async with app.run_test(size=SIZE) as pilot:
        results = await to_results(pilot)
        await pilot.press("N")
        assert isinstance(app.screen, ResultsScreen) and "Set a verdict on this row first" in notes[-1]
        await pilot.press("u")
        assert notes[-1] == "Nothing to undo."
        results.table.cursor_column = column_of(results, "score")
        await pilot.press("S")
        assert isinstance(app.screen, ResultsScreen) and "column of the sheet" in notes[-1]
        results.table.cursor_column = column_of(results, "segment")
        await pilot.press("S")
        await settle(pilot, lambda: isinstance(app.screen, SuppressScreen))
        await pilot.press(*"next week", "enter")
        assert isinstance(app.screen, SuppressScreen) and "not a date (YYYY-MM-DD)" in screen_text(app)
        await pilot.press("escape")
        await settle(pilot, lambda: isinstance(app.screen, ResultsScreen))
        assert results.model.review.state.verdicts == {}
        assert app.screen.query_one("#search", Input).display is False


@pytest.mark.slow
async def test_the_table_is_drawn_before_the_verdicts_are_read(orders, tmp_path, private_data_dir, monkeypatch):
    """The store is opened (every row fingerprinted, the run recorded) only once Results has
    been painted, so a big sheet's table is not kept off the screen by it; a verdict key
    pressed meanwhile says the verdicts are still being read, and works once they are."""
    import threading

    from tui_detector.ui import review
    from tui_detector.ui.widgets.score_table import ScoreTable

    drawn: list[bool] = []
    draw = ScoreTable.render_line

    def render_line(self, y):  # noqa: ANN001, ANN202 - the widget's own signature
        drawn.append(True)
        return draw(self, y)

    monkeypatch.setattr(ScoreTable, "render_line", render_line)
    release = threading.Event()
    opened_after_drawing: list[bool] = []
    open_book = review.ReviewBook.open.__func__

    def slow_open(cls, run):  # noqa: ANN001, ANN202
        opened_after_drawing.append(bool(drawn))
        release.wait(30)
        return open_book(cls, run)

    monkeypatch.setattr(review.ReviewBook, "open", classmethod(slow_open))
    app = make_app(orders, model="iforest", workdir=tmp_path)
    said: list[str] = []
    notify = app.notify
    app.notify = lambda message, *a, **k: (said.append(str(message)), notify(message, *a, **k))[1]
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, lambda: isinstance(app.screen, SetupScreen) and app.screen.loaded is not None)
        await pilot.press("t")
        for _ in range(2000):
            await pilot.pause(0.01)
            if isinstance(app.screen, ResultsScreen) and opened_after_drawing:
                break
        assert opened_after_drawing == [True]
        results = app.screen
        assert results.model.review is None
        await pilot.press("c")
        assert any("still being read" in s for s in said)
        release.set()
        await settle(pilot, lambda: results.model.review is not None)
        top = results.table.current_row
        await pilot.press("c")
        assert results.model.status(top) == "confirmed"
