"""S9 for the places test_markup.py does not reach: error messages and sheet names.

A damaged file's name ends up in the error message, and sheet names fill the sheet list; both
come from the file, so both must show verbatim and run nothing (case 30 of
../shared/research/reliability-anchors.md).
"""

from __future__ import annotations

import openpyxl

from tests.ui.conftest import screen_text, settle
from tui_detector.ui.app import make_app
from tui_detector.ui.screens.setup import SetupScreen

SIZE = (140, 40)


async def test_markup_in_an_error_message_is_shown_verbatim(tmp_path):
    # '[/]' alone would raise MarkupError if parsed; '[@click=app.quit]' would quit on a click.
    path = tmp_path / "[@click=app.quit]q[/]x.xlsx"
    path.write_bytes(b"PK\x03\x04" + b"\x00" * 60 + b"garbage" * 10)
    app = make_app(path, workdir=tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        message = lambda: str(app.screen.query_one("#message").render())  # noqa: E731
        await settle(pilot, lambda: isinstance(app.screen, SetupScreen) and "Cannot open" in message())
        assert "[@click=app.quit]q[/]x.xlsx" in message()
        await pilot.click("#message")
        await pilot.pause()
        assert app.is_running


async def test_markup_in_sheet_names_is_shown_verbatim(tmp_path):
    path = tmp_path / "sheets.xlsx"
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for title in ("[red]S[/]", "[@click=app.quit]"):
        ws = wb.create_sheet(title)
        ws.append(["[link=http://x]h[/link]", "v"])
        for i in range(40):
            ws.append([f"r{i % 3}", float(i)])
    wb.save(path)
    app = make_app(path, model="iforest", workdir=tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, lambda: isinstance(app.screen, SetupScreen) and app.screen.loaded is not None)
        text = screen_text(app)
        for token in ("[red]S[/]", "[@click=app.quit]", "[link=http://x]h[/link]"):
            assert token in text, token
        await pilot.click("#sheets")
        await pilot.pause()
        assert app.is_running
