"""Pilot tests of the keys people reach for: vim-style movement, next/previous row in Row
details, the column filter, copying, the column histogram, the file picker and the help."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import numpy as np
import pytest
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Input

from tests.ui.helpers import screen_is, screen_text, settle, write_orders
from tui_detector.ui import screens as screens_package
from tui_detector.ui.app import make_app
from tui_detector.ui.screens import help as help_module
from tui_detector.ui.screens.column_histogram import ColumnHistogramScreen
from tui_detector.ui.screens.help import HelpScreen, help_sections, key_name
from tui_detector.ui.screens.open_file import DataFileTree, OpenFileScreen
from tui_detector.ui.screens.results import ResultsScreen
from tui_detector.ui.screens.row_detail import RowDetailScreen
from tui_detector.ui.screens.setup import SetupScreen

SIZE = (120, 40)


class Recorder:
    """What the app copied and said (``notify``), for asserting on."""

    def __init__(self, app) -> None:
        self.copied: list[str] = []
        self.said: list[str] = []
        notify = app.notify
        app.copy_to_clipboard = self.copied.append

        def record(message, *args, **kwargs):
            self.said.append(str(message))
            return notify(message, *args, **kwargs)

        app.notify = record


async def to_results(pilot, all_rows: bool = True) -> ResultsScreen:
    await settle(pilot, lambda: isinstance(pilot.app.screen, SetupScreen) and pilot.app.screen.loaded is not None)
    await pilot.press("t")
    await settle(pilot, screen_is(pilot, "Results"))
    if all_rows:
        await pilot.press("a")
    return pilot.app.screen


def column_index(results: ResultsScreen, label: str) -> int:
    return [c.label for c in results.table.all_columns].index(label)


@pytest.mark.slow
async def test_vim_keys_move_like_the_arrows_and_a_sort_starts_at_the_top(orders, tmp_path):
    app = make_app(orders, model="iforest", workdir=tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, lambda: isinstance(app.screen, SetupScreen) and app.screen.loaded is not None)
        await pilot.press("j", "j", "k")  # Set up's roles table
        assert app.screen.roles.cursor_row == 1
        await pilot.press("G")
        assert app.screen.roles.cursor_row == len(app.screen.roles.profiles) - 1
        await pilot.press("g")
        assert app.screen.roles.cursor_row == 0

        results = await to_results(pilot)
        table = results.table
        rows = len(results.model.view)
        await pilot.press("j", "j", "j", "k")
        assert table.cursor_row == 2
        await pilot.press("G")
        assert table.cursor_row == rows - 1
        await pilot.press("g")
        assert table.cursor_row == 0
        await pilot.press("ctrl+f")
        assert table.cursor_row == table.page_rows
        await pilot.press("ctrl+b")
        assert table.cursor_row == 0
        await pilot.press("ctrl+d")
        assert table.cursor_row == table.page_rows // 2
        await pilot.press("ctrl+u")
        assert table.cursor_row == 0
        await pilot.press("l", "l", "h")
        assert table.cursor_column == 1

        # Sorted by row, ascending: the view starts with row 0, even from the bottom.
        await pilot.press("G")
        assert table.scroll_y > 0
        table.cursor_column = column_index(results, "row")
        await pilot.press("s")
        await pilot.pause()
        assert results.model.sort_key == "row" and not results.model.descending
        assert table.cursor_row == 0 and table.scroll_y == 0 and table.current_row == 0
        assert "sorted by row (ascending)" in screen_text(app)
        assert screen_text(app).splitlines()[7].split()[0] == "0"  # the first line under the header


@pytest.mark.slow
async def test_y_copies_the_cell_and_Y_the_row_as_tab_separated_text(orders, tmp_path):
    app = make_app(orders, model="iforest", workdir=tmp_path)
    record = Recorder(app)
    async with app.run_test(size=SIZE) as pilot:
        results = await to_results(pilot)
        table = results.table
        table.cursor_column = column_index(results, "order_id")
        await pilot.press("y")
        row = table.current_row
        assert record.copied == [f"ORD-{row:06d}"]
        assert f"Copied order_id of row {row}: ORD-{row:06d}" in record.said
        await pilot.press("Y")
        cells = record.copied[-1].split("\t")
        frame = results.run.frame
        assert len(cells) == frame.shape[1]
        assert cells[0] == frame["order_id"][row] and cells[1] == frame["segment"][row]
        assert any(s.startswith(f"Copied row {row}: 8 cells, tab-separated") for s in record.said)


@pytest.mark.slow
async def test_the_column_filter_combines_with_the_toggle_and_says_what_is_wrong(orders, tmp_path):
    app = make_app(orders, model="iforest", workdir=tmp_path)
    record = Recorder(app)
    async with app.run_test(size=SIZE) as pilot:
        results = await to_results(pilot)
        model, frame = results.model, results.run.frame
        await pilot.press("f", *"segment = NORTH and amount > 30", "enter")
        await settle(pilot, lambda: model.row_filter is not None)
        expected = np.flatnonzero((frame["segment"] == "north").to_numpy() & (frame["amount"] > 30).to_numpy())
        assert sorted(int(r) for r in model.view) == expected.tolist()
        status = str(results.query_one("#table-status").render())
        assert f"filter: segment = NORTH and amount > 30 ({len(expected)} of 300 rows match)" in status

        await pilot.press("a")  # anomalies only, within the filter
        flagged = results.run.detection.flags
        assert sorted(int(r) for r in model.view) == [int(r) for r in expected if flagged[r]]
        await pilot.press("a")

        # An unknown column: one line, nothing applied, the text left to fix.
        await pilot.press("f", "ctrl+u", *"segmnt = north", "enter")
        await pilot.pause()
        assert record.said[-1] == "Filter not applied: no column named 'segmnt'; did you mean 'segment'?"
        typed = results.query_one("#filter", Input)
        assert typed.display and typed.has_focus and typed.value == "segmnt = north"
        assert model.row_filter.text == "segment = NORTH and amount > 30"

        # A word for a number column, found while filtering.
        await pilot.press("ctrl+u", *"amount > lots", "enter")
        await settle(pilot, lambda: typed.display)
        assert record.said[-1] == "Filter not applied: 'amount' holds numbers; 'lots' is not a number"
        assert typed.value == "amount > lots"

        await pilot.press("escape")  # stop typing: the filter stays
        assert not typed.display and model.row_filter is not None
        await pilot.press("escape")  # then escape clears it
        assert model.row_filter is None and len(model.view) == 300
        assert app.screen is results
        await pilot.press("vertical_line")  # | opens it too, empty now
        assert typed.display and typed.value == ""


@pytest.mark.slow
async def test_row_details_steps_through_the_tables_order_and_filter(orders, tmp_path):
    app = make_app(orders, model="iforest", workdir=tmp_path)
    record = Recorder(app)
    async with app.run_test(size=SIZE) as pilot:
        results = await to_results(pilot)
        await pilot.press("f", *"segment = east", "enter")
        await settle(pilot, lambda: results.model.row_filter is not None)
        view = [int(r) for r in results.model.view]
        await pilot.press("enter")
        await settle(pilot, screen_is(pilot, "Row details"))
        detail = app.screen
        assert isinstance(detail, RowDetailScreen) and detail.row == view[0]
        await pilot.press("right_square_bracket")
        assert detail.row == view[1]
        assert f"row {view[1]} ·" in screen_text(app) and f"2 of {len(view)} in the table" in screen_text(app)
        await pilot.press("n", "n")
        assert detail.row == view[3]
        await pilot.press("p", "left_square_bracket", "left_square_bracket")
        assert detail.row == view[0]
        await pilot.press("left_square_bracket")
        assert detail.row == view[0] and record.said[-1] == "This is the first row of the table."
        # The whole row shown is the new row's.
        full = detail.query_one("#full-row")
        await pilot.press("right_square_bracket")
        values = {str(full.get_row_at(i)[0]): str(full.get_row_at(i)[1]) for i in range(full.row_count)}
        assert values["order_id"] == f"ORD-{view[1]:06d}"
        await pilot.press("right_square_bracket")
        await pilot.press("escape")  # back in the table, on the row looked at last
        assert app.screen is results and results.table.current_row == view[2] and results.table.cursor_row == 2


@pytest.mark.slow
async def test_the_column_histogram_marks_the_actual_and_the_expected_value(orders, tmp_path):
    app = make_app(orders, model="iforest", workdir=tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        results = await to_results(pilot)
        table = results.table
        table.cursor_row = [int(r) for r in results.model.view].index(17)  # amount 250,000
        table.cursor_column = column_index(results, "amount")
        await pilot.press("H")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, ColumnHistogramScreen)
        bars = screen.distribution.bars
        assert sum(b.count for b in bars) == 300
        assert bars[-1].label.endswith("and above") and "actual" in bars[-1].marks
        assert any("expected" in b.marks for b in bars[:-1])
        text = screen_text(app)
        assert "amount · all 300 rows of the sheet, in equal bins" in text
        assert "◀ actual value of row 17: 250,000.00" in text
        assert "◀ expected value" in text and "the actual value is higher than 99.6% of the rows" in text
        await pilot.press("escape")
        assert app.screen is results

        # From Row details, on the top feature: the same column, the expected value given there.
        await pilot.press("enter")
        await settle(pilot, screen_is(pilot, "Row details"))
        await pilot.press("H")
        await pilot.pause()
        assert isinstance(app.screen, ColumnHistogramScreen) and app.screen.distribution.column == "amount"
        assert app.screen.values["actual"] == "250,000.00" and app.screen.values["expected"] is not None

        # A text column shows its most frequent values.
        await pilot.press("escape", "escape")
        table.cursor_column = column_index(results, "segment")
        await pilot.press("H")
        await pilot.pause()
        bars = app.screen.distribution.bars
        assert app.screen.distribution.kind == "values" and {b.label for b in bars} >= {"north", "south", "east", "west"}


async def test_the_picker_lists_only_tables_goes_up_and_keeps_its_header_true(tmp_path):
    data = tmp_path / "data"
    inner = data / "inner"
    inner.mkdir(parents=True)
    write_orders(inner)
    (inner / "notes.txt").write_text("Call Anna about the March claims.\nShe said the totals were off.\n")
    (inner / "export.txt").write_text("a\tb\n1\t2\n3\t4\n")
    (inner / "readme.md").write_text("# hello\n")
    app = make_app(None, workdir=inner)
    async with app.run_test(size=SIZE) as pilot:
        tree = app.screen.query_one(DataFileTree)
        await settle(pilot, lambda: len(tree.root.children) > 0)
        assert sorted(str(n.label) for n in tree.root.children) == ["export.txt", "orders.csv"]

        title = lambda: str(app.screen.query_one("#tree-title").render())  # noqa: E731
        assert title() == "Files in inner/"
        await pilot.press("backspace")  # the tree has the focus
        await settle(pilot, lambda: app.screen.directory == data)
        assert title() == "Files in data/" and tree.path == data
        await settle(pilot, lambda: [str(n.label) for n in tree.root.children] == ["inner"])

        path = app.screen.query_one("#path", Input)
        path.focus()
        await pilot.press(*"inner", "enter")
        await settle(pilot, lambda: app.screen.directory == inner)
        assert title() == "Files in inner/" and path.value == ""
        await pilot.press(*"..", "enter")
        await settle(pilot, lambda: app.screen.directory == data)
        assert title() == "Files in data/"
        await pilot.press("backspace")  # nothing typed: up again
        await settle(pilot, lambda: app.screen.directory == tmp_path)
        assert title() == f"Files in {tmp_path.name}/"
        await pilot.press("x", "backspace")  # something typed: backspace edits it
        assert app.screen.directory == tmp_path and path.value == ""


async def test_a_path_that_failed_to_open_is_forgotten(tmp_path):
    broken = tmp_path / "broken.xlsx"
    broken.write_bytes(b"PK\x03\x04" + b"\x00" * 60 + b"garbage" * 10)
    app = make_app(None, workdir=tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        path = app.screen.query_one("#path", Input)
        path.focus()
        await pilot.press(*"broken.xlsx", "enter")
        message = lambda: str(app.screen.query_one("#message").render())  # noqa: E731
        await settle(pilot, lambda: isinstance(app.screen, SetupScreen) and "Cannot open" in message())
        await pilot.press("escape")
        await settle(pilot, lambda: isinstance(app.screen, OpenFileScreen))
        picker = app.screen
        assert picker.query_one("#path", Input).value == ""
        picker.query_one("#path", Input).focus()
        await pilot.press("enter")  # nothing typed: nothing reopens
        await settle(pilot)
        assert app.screen is picker


async def test_typing_a_path_on_the_tree_goes_to_the_path_field(orders, tmp_path):
    app = make_app(None, workdir=tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert app.screen.query_one("#tree").has_focus
        # "/" can only start a path: it and the rest land in the field, not in the tree's keys.
        await pilot.press(*str(orders), "enter")
        await settle(pilot, lambda: isinstance(app.screen, SetupScreen) and app.screen.loaded is not None)
        assert app.screen.path == orders


async def test_leaving_a_set_up_in_a_hidden_folder_opens_the_picker_where_the_user_is(tmp_path):
    hidden = tmp_path / ".cache" / "anomaly-tui" / "demo"
    hidden.mkdir(parents=True)
    path = write_orders(hidden)
    work = tmp_path / "work"
    work.mkdir()
    app = make_app(path, workdir=work)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, lambda: isinstance(app.screen, SetupScreen) and app.screen.loaded is not None)
        await pilot.press("escape")
        await settle(pilot, lambda: isinstance(app.screen, OpenFileScreen))
        assert app.screen.directory == work
        assert str(app.screen.query_one("#tree-title").render()) == "Files in work/"


def _screen_classes() -> set[type]:
    found = set()
    for info in pkgutil.iter_modules(screens_package.__path__):
        module = importlib.import_module(f"{screens_package.__name__}.{info.name}")
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if issubclass(cls, Screen) and cls.__module__ == module.__name__:
                found.add(cls)
    return found


def test_help_has_a_section_for_every_screen():
    listed = {help_module._class(path) for _, classes in help_module.SECTIONS for path in classes}
    missing = sorted(cls.__name__ for cls in _screen_classes() - listed)
    assert not missing, f"screens with no section in the help: {missing}"


async def test_help_shows_every_binding_of_every_screen(orders, tmp_path):
    app = make_app(orders, model="iforest", workdir=tmp_path)
    async with app.run_test(size=(100, 400)) as pilot:  # tall, one column: the whole help at once
        await settle(pilot)
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        text = screen_text(app)
        sections = dict(help_sections())
        titles = [t for t, _ in help_module.SECTIONS]
        bodies: dict[str, str] = {}
        current = None
        for line in text.splitlines():
            if line.strip() in titles:
                current = line.strip()
            elif current:
                bodies[current] = bodies.get(current, "") + line + "\n"
        assert set(bodies) == set(titles)
        for title, classes in help_module.SECTIONS:
            body = bodies[title]
            # "↑/k": a key and its twin; "/" alone is the search key.
            keys = {part for k, _ in sections[title] for token in k.split() for part in ([token] if token == "/" else token.split("/"))}
            for path in classes:
                for binding in Binding.make_bindings(help_module._class(path).__dict__.get("BINDINGS", [])):
                    name = key_name(binding.key)
                    assert name in keys, (title, binding.key)
                    assert name in body, (title, binding.key)
        for words in ("sort by the column", "filter by columns", "copy the row, tab-separated", "next row of the table"):
            assert words in text
