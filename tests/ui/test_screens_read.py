"""The screens as an analyst reads them: values exactly as the sheet has them, a cursor that
stays readable in every colour mode, dialogs that do what they say, and 80×24 that works."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from rich.color import ColorSystem
from textual.widgets import Input, Select

from tests.helpers import mixed_table
from tests.ui.helpers import screen_is, settle, screen_text
from tui_detector.core import TrainingProgress
from tui_detector.ui.app import make_app
from tui_detector.ui.screens.dialogs import ConfirmScreen
from tui_detector.ui.screens.export import ExportScreen
from tui_detector.ui.screens.results import ResultsScreen
from tui_detector.ui.screens.row_detail import RowDetailScreen
from tui_detector.ui.screens.setup import SetupScreen
from tui_detector.ui.screens.training import TrainingScreen
from tui_detector.ui.values import ColumnFormat, format_value, score_text
from tui_detector.ui.widgets.palette import COLOUR
from tui_detector.ui.widgets.score_table import ScoreTable

#: The rows whose cells the tests look for, and what the sheet shows in them.
EXACT = {7: "19,999.99", 8: "22,385.61", 9: "4,500,000.00", 10: "77,777.77"}


@pytest.fixture
def claims(tmp_path):
    """A table whose amounts an analyst would check against the sheet, with a date column."""
    frame, _ = mixed_table(300, seed=4)
    frame["amount"] = frame["amount"].astype(float)
    for row, value in zip(EXACT, (19_999.99, 22_385.61, 4_500_000.0, 77_777.77), strict=True):
        frame.loc[row, "amount"] = value
    frame.loc[7, "ordered_at"] = pd.Timestamp("2026-03-01 14:05:09")
    frame["invoice_no"] = np.arange(100_000, 100_300)  # a number that names a row: no separators
    path = tmp_path / "claims.csv"
    frame.to_csv(path, index=False)
    return path


async def _results(pilot) -> ResultsScreen:
    await settle(pilot, lambda: isinstance(pilot.app.screen, SetupScreen) and pilot.app.screen.cache_checked)
    await pilot.press("t")
    await settle(pilot, screen_is(pilot, "Results"))
    return pilot.app.screen


def _to_row(pilot, screen: ResultsScreen, row: int) -> None:
    table = screen.table
    table.cursor_row = int(np.flatnonzero(screen.model.view == row)[0])


# -- exact values -----------------------------------------------------------------------------


def test_numbers_keep_every_digit_with_separators_and_no_e_notation():
    money = ColumnFormat.of(np.array([19_999.99, 20_000.0, 123.5, 45.25]))
    assert [money(v) for v in (19_999.99, 20_000.0, 22_385.61, 4_500_000.0)] == [
        "19,999.99", "20,000.00", "22,385.61", "4,500,000.00"
    ]
    assert money(3.14159) == "3.14159"  # more decimals than its column: none cut
    assert format_value(1.5e-7) == "0.00000015" and format_value(1e20) == "100,000,000,000,000,000,000"
    assert format_value(4_500_000) == "4,500,000" and format_value(-0.0) == "0"
    assert score_text(50_320.1234) == "50,320.123" and score_text(-0.03252) == "-0.033" and score_text(6.962) == "6.962"


def test_one_date_format_for_cells_and_the_models_iso_text():
    stamps = np.array(["2026-04-01T08:42:00", "2026-04-02T09:00:00"], dtype="datetime64[ns]")
    column = ColumnFormat.of(stamps)
    assert column(stamps[0]) == "2026-04-01 08:42"
    assert column("2026-07-14T09:50:24") == "2026-07-14 09:50:24"  # an expected value: seconds kept
    days = ColumnFormat.of(np.array(["2026-04-01", "2026-04-02"], dtype="datetime64[ns]"))
    assert days("2026-04-03") == "2026-04-03" and days(np.datetime64("2026-04-03T10:30")) == "2026-04-03 10:30"


async def test_the_table_and_row_details_show_the_sheets_values(claims):
    app = make_app(claims, model="iforest")
    async with app.run_test(size=(200, 60)) as pilot:
        screen = await _results(pilot)
        await pilot.press("a")
        amount = next(c for c in screen.model.columns if c.label == "amount")
        for row, shown in EXACT.items():
            assert screen.model.cell(row, amount) == shown
        assert amount.width >= len("4,500,000.00")  # beyond the sample of rows sized: not cut
        ordered = next(c for c in screen.model.columns if c.label == "ordered_at")
        assert screen.model.cell(7, ordered) == "2026-03-01 14:05:09"
        invoice = next(c for c in screen.model.columns if c.label == "invoice_no")
        assert screen.model.cell(7, invoice) == "100007"
        _to_row(pilot, screen, 9)
        await pilot.pause()
        assert "4,500,000.00" in screen_text(app)

        _to_row(pilot, screen, 7)
        await pilot.press("enter")
        await settle(pilot, lambda: isinstance(app.screen, RowDetailScreen))
        text = screen_text(app)
        assert "19,999.99" in text and "2026-03-01 14:05:09" in text
        assert not re.search(r"\d{4}-\d\d-\d\dT", text)  # actual and expected dates read alike
        assert not re.search(r"\de[+-]\d", text) and "expected value: what the model predicts" in text
        errors = [str(row[4]) for row in (app.screen.query_one("#features").get_row_at(i) for i in range(3))]
        assert all(e.split(".")[-1].isdigit() and len(e.split(".")[-1]) == 3 for e in errors)


async def test_a_cut_cell_is_shown_whole_on_the_status_line(claims):
    app = make_app(claims, model="iforest")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await _results(pilot)
        table = screen.table
        while table.current_column.label != "comment":
            await pilot.press("right")
        await pilot.pause()
        row = table.current_row
        whole = f"customer asked about parcel {row} twice"
        status = str(screen.query_one("#table-status").render())
        assert f"comment: {whole}" in status
        assert whole not in table.render_line(table.cursor_row - int(table.scroll_y) + 1).text  # cut there
        await pilot.press("left")
        await pilot.pause()
        assert "customer asked" not in str(screen.query_one("#table-status").render())


async def test_a_wide_terminal_gives_its_spare_width_to_the_cut_columns(claims):
    app = make_app(claims, model="iforest")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await _results(pilot)
        table = screen.table
        why = screen.model.column("why")
        comment = next(c for c in screen.model.columns if c.label == "comment")
        assert why.width < why.natural and comment.width < comment.natural  # both cut at 80
        await pilot.resize_terminal(200, 60)
        await pilot.pause()
        assert why.width > why.base_width and comment.width > comment.base_width
        room = table.scrollable_content_region.width
        spare = room - table.fixed_width - table.scrolled_width
        cut = [c for c in table.scrolled if c.width < c.natural]
        assert spare >= 0 and (not cut or spare < len(cut))  # the spare width all went to them
        line = table.render_line(1).text
        # (The CSV's line column takes its share of the 200 columns too.)
        assert "customer asked about parc" in line and len(line) <= 200
        await pilot.resize_terminal(80, 24)
        await pilot.pause()
        assert why.width == why.base_width and comment.width == comment.base_width


# -- colours ----------------------------------------------------------------------------------


def _luminance(color) -> float:
    def channel(c: int) -> float:
        c = c / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = color.get_truecolor()
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def contrast(fg, bg) -> float:
    high, low = sorted((_luminance(fg), _luminance(bg)), reverse=True)
    return (high + 0.05) / (low + 0.05)


@pytest.mark.parametrize("system", [ColorSystem.TRUECOLOR, ColorSystem.EIGHT_BIT])
async def test_the_cursor_is_readable_and_unlike_every_highlight(claims, system):
    app = make_app(claims, model="iforest")
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await _results(pilot)
        table = screen.query_one(ScoreTable)
        await pilot.press("right", "right", "right")
        await pilot.pause()
        strip = table.render_line(table.cursor_row - int(table.scroll_y) + 1)
        styles = [s.style for s in strip if s.text.strip()]
        assert styles
        for style in styles:
            fg, bg = style.color.downgrade(system), style.bgcolor.downgrade(system)
            assert contrast(fg, bg) >= 4.5, (style, contrast(fg, bg))
        backgrounds = {s.bgcolor.downgrade(system).get_truecolor() for s in styles}
        cell = COLOUR.cursor_cell.bgcolor.downgrade(system).get_truecolor()
        row = COLOUR.cursor_row.bgcolor.downgrade(system).get_truecolor()
        assert cell in backgrounds and row in backgrounds
        tops = [t.bgcolor.downgrade(system).get_truecolor() for t in COLOUR.top]
        assert len({cell, row, *tops}) == 5  # the cursor, the row and the 1st/2nd/3rd all differ
        for top in COLOUR.top:
            assert contrast(top.color.downgrade(system), top.bgcolor.downgrade(system)) >= 4.5
        # The legend is drawn with the table's own styles.
        legend = screen._status()
        assert {span.style for span in legend.spans} >= {*COLOUR.top, COLOUR.cursor_cell}


async def test_without_colour_the_cursor_and_highlights_show_by_attributes(claims, monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    app = make_app(claims, model="iforest")
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await _results(pilot)
        table = screen.query_one(ScoreTable)
        await pilot.press("right")
        await pilot.pause()
        strip = table.render_line(table.cursor_row - int(table.scroll_y) + 1)
        cells = [s for s in strip if s.text.strip()]
        assert all(s.style.bold for s in cells)
        reversed_cells = [s for s in cells if s.style.reverse]
        normal = [s for s in cells if not s.style.reverse]
        assert reversed_cells and len(normal) == 1 and normal[0].style.underline  # the cursor cell
        other = table.render_line(table.cursor_row - int(table.scroll_y) + 2)
        assert not any(s.style.reverse for s in other)


async def test_frozen_columns_never_touch_the_scrolled_text(claims):
    app = make_app(claims, model="iforest")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await _results(pilot)
        table = screen.query_one(ScoreTable)
        for x in range(0, 40, 3):
            table.scroll_to(x=x, animate=False, immediate=True)
            await pilot.pause()
            for y in (0, 1, 2):  # the header and two rows
                line = table.render_line(y).text
                assert line[table.fixed_width - 2 : table.fixed_width + 1] == " │ ", (x, line)


# -- dialogs and small terminals ------------------------------------------------------------


async def test_export_enter_writes_with_the_scored_copy_box_ticked(claims):
    app = make_app(claims, model="iforest", workdir=claims.parent)
    async with app.run_test(size=(80, 24)) as pilot:
        await _results(pilot)
        await pilot.press("e")
        await settle(pilot, lambda: isinstance(app.screen, ExportScreen))
        scored = app.screen.query_one("#scored")
        assert "[ ]" in screen_text(app)
        scored.focus()
        await pilot.press("space")
        assert scored.value and "[x] also write a scored copy" in screen_text(app)
        await pilot.press("enter")  # on the ticked box: writes, as the dialog says
        await settle(pilot, lambda: (claims.parent / "claims.scored.xlsx").exists())
        assert (claims.parent / "claims.anomalies.json").exists()
        assert scored.value


async def test_set_up_at_80x24_scrolls_the_focused_field_into_view(claims):
    app = make_app(claims, model="iforest")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, lambda: isinstance(app.screen, SetupScreen) and app.screen.cache_checked)
        await pilot.pause()
        # The highlighted column's reason, whole, although the table's "why" is off to the right.
        reason = app.screen.roles.profiles[0].reason
        assert str(app.screen.query_one("#why").render()) == f"order_id: identifier — {reason}"
        assert "order_id: identifier — a different value" in screen_text(app)
        percentile = app.screen.query_one("#threshold", Input)
        for _ in range(12):
            if percentile.has_focus:
                break
            await pilot.press("tab")
        assert percentile.has_focus
        await pilot.pause()
        region = percentile.region
        assert region.y >= 1 and region.bottom <= 23 and region.right <= 80
        await pilot.press("end", "backspace", "backspace", "9", "9")
        await pilot.pause()
        assert app.screen.query_one("#preset", Select).value == "strict"
        assert "99" in screen_text(app)  # what was typed is on screen


async def test_results_footer_at_80_columns_keeps_export_quit_and_another_file(claims):
    app = make_app(claims, model="iforest")
    async with app.run_test(size=(80, 24)) as pilot:
        await _results(pilot)
        await pilot.pause()
        footer = screen_text(app).splitlines()[-1]
        for key in ("e Export", "q Quit", "n Another file", "? More keys"):
            assert key in footer, footer


async def test_quit_after_moving_the_threshold_asks_first(claims):
    app = make_app(claims, model="iforest")
    async with app.run_test(size=(120, 40)) as pilot:
        await _results(pilot)
        await pilot.press("plus", "q")
        await settle(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert "p95 to p95.5" in screen_text(app)
        await pilot.press("n")
        await settle(pilot, screen_is(pilot, "Results"))
        assert app.is_running
        await pilot.press("minus", "q")  # back where it started: nothing to lose
        await pilot.pause()
        assert not app.is_running


async def test_row_details_note_wraps_at_80_columns(claims):
    app = make_app(claims, model="iforest")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await _results(pilot)
        explained = screen.model.top.explain_all_columns
        note = "'kiosk' never seen in channel during training, so the model cannot judge it well"

        def with_note(row: int) -> dict:
            item = explained(row)
            item["anomalous_features"][0]["note"] = note
            return item

        screen.model.top.explain_all_columns = with_note
        await pilot.press("enter")
        await settle(pilot, lambda: isinstance(app.screen, RowDetailScreen))
        await pilot.pause()
        text = " ".join(line.strip() for line in screen_text(app).splitlines())
        for word in note.split():
            assert word.strip(",'") in text


# -- training ---------------------------------------------------------------------------------


async def _until(pilot, condition) -> None:
    """Pause until ``condition`` holds (the training worker never finishes: no settle)."""
    for _ in range(500):
        if condition():
            return
        await pilot.pause(0.02)
    raise AssertionError("the screen never showed it")


class PreparingRunner:
    """A run that reports the preparation steps, then one batch, and waits to be stopped."""

    def __init__(self) -> None:
        import threading

        self.go_on = threading.Event()

    def __call__(self, path, settings, *, on_progress=None, should_stop=None, on_stage=None, **_):
        from tui_detector.core import TrainingCancelled
        from tui_detector.core.model.progress import preparation

        on_stage("training")
        on_progress(preparation("profiling the columns", 0, 3, 0.0))
        on_progress(preparation("encoding the columns", 1, 3, 1.5))
        self.go_on.wait(10)
        on_progress(TrainingProgress(1, 10, 2, 8, 0.5, None, 2.0, 30.0))
        while not (should_stop and should_stop()):
            self.go_on.wait(0.01)
        raise TrainingCancelled()


async def test_training_names_its_preparation_before_the_first_epoch(claims):
    runner = PreparingRunner()
    app = make_app(claims, model="iforest", runner=runner)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, lambda: isinstance(app.screen, SetupScreen) and app.screen.cache_checked)
        await pilot.press("t")
        await _until(pilot, lambda: isinstance(app.screen, TrainingScreen) and "encoding" in screen_text(app))
        text = screen_text(app)
        assert "Preparing 300 rows: encoding the columns" in text and "step 2 of 3" in text
        runner.go_on.set()
        await _until(pilot, lambda: "epoch 1/10" in screen_text(app))
        assert "ETA 0:30" in screen_text(app)
        await pilot.press("escape")
        await _until(pilot, lambda: isinstance(app.screen, SetupScreen))


async def test_a_long_recent_path_keeps_its_end_on_one_line(tmp_path, monkeypatch):
    folder = tmp_path / "quarterly-expense-claims-exported-from-finance" / "october-final-reviewed"
    folder.mkdir(parents=True)
    sheet = folder / "claims-october.csv"
    sheet.write_text("a,b\n1,2\n", encoding="utf-8")
    monkeypatch.setenv("ANOMALY_TUI_DATA_DIR", str(tmp_path / "data"))
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "recent.json").write_text(f'["{sheet}"]', encoding="utf-8")
    app = make_app(None, workdir=tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        lines = [line for line in screen_text(app).splitlines() if "claims-october.csv" in line]
        assert len(lines) == 1 and "…" in lines[0] and "reviewed/claims-october.csv" in lines[0]
        assert "quarterly" not in screen_text(app).split("Recently opened")[1]  # its start gave way
