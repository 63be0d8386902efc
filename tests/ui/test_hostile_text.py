"""S9 for the places test_markup.py does not reach: error messages and sheet names.

A damaged file's name and an empty sheet's name end up in the error message, and sheet names
fill the sheet list; all come from the file, so all must show verbatim and run nothing (case 30
of ../shared/research/reliability-anchors.md). '[/]' alone raises MarkupError if parsed, and
'[@click=app.quit]' quits the app when clicked.
"""

from __future__ import annotations

from tests.raw_files import WB, raw_xlsx, sheet_xml
from tests.ui.helpers import screen_text, settle
from tui_detector.ui.app import make_app
from tui_detector.ui.screens.setup import SetupScreen

SIZE = (160, 40)


def _message(app) -> str:
    return str(app.screen.query_one("#message").render())


async def _shows_error(tmp_path, path, expected: str) -> None:
    app = make_app(path, workdir=tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, lambda: isinstance(app.screen, SetupScreen) and "Cannot open" in _message(app))
        assert expected in _message(app), _message(app)
        await pilot.click("#message")
        await pilot.pause()
        assert app.is_running


async def test_markup_in_a_file_name_inside_an_error_is_verbatim(tmp_path):
    path = tmp_path / "[@click=app.quit]q[bold]x.xlsx"
    path.write_bytes(b"PK\x03\x04" + b"\x00" * 60 + b"garbage" * 10)
    await _shows_error(tmp_path, path, "[@click=app.quit]q[bold]x.xlsx")


async def test_markup_in_a_sheet_name_inside_an_error_is_verbatim(tmp_path):
    path = raw_xlsx(tmp_path / "e.xlsx", sheet_xml(""), members={"xl/workbook.xml": WB.replace('name="S"', 'name="[/][@click=app.quit]"')})
    await _shows_error(tmp_path, path, "[/][@click=app.quit]")


async def test_markup_in_sheet_names_and_headers_is_verbatim(tmp_path):
    rows = '<row r="1"><c r="A1" t="inlineStr"><is><t>[link=http://x]h[/link]</t></is></c><c r="B1" t="inlineStr"><is><t>v</t></is></c></row>'
    rows += "".join(f'<row r="{r}"><c r="A{r}" t="inlineStr"><is><t>r{r % 3}</t></is></c><c r="B{r}"><v>{r}</v></c></row>' for r in range(2, 42))
    path = raw_xlsx(tmp_path / "s.xlsx", sheet_xml(rows), members={"xl/workbook.xml": WB.replace('name="S"', 'name="[red]S[/]"')})
    app = make_app(path, model="iforest", workdir=tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, lambda: isinstance(app.screen, SetupScreen) and app.screen.loaded is not None)
        text = screen_text(app)
        for token in ("[red]S[/]", "[link=http://x]h[/link]"):
            assert token in text, token
        await pilot.click("#sheets")
        await pilot.pause()
        assert app.is_running
