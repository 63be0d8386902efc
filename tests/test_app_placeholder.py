"""The first screen: the file's column roles, read in a worker, cell text shown verbatim."""

import pandas as pd
from textual.widgets import DataTable, Static

from tui_detector.ui.app import make_app


async def test_shows_column_roles_and_never_interprets_markup(tmp_path):
    path = tmp_path / "claims.csv"
    pd.DataFrame(
        {
            "[@click=app.quit]id": [f"C{i:04d}" for i in range(50)],
            "amount": [float(i % 7) for i in range(50)],
            "kind": ["[b]bold[/b]", "x"] * 25,
        }
    ).to_csv(path, index=False)
    app = make_app(path)
    async with app.run_test(size=(120, 30)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        table = app.query_one(DataTable)
        rows = [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]
        assert rows[0][:2] == ["[@click=app.quit]id", "identifier"]
        assert rows[1][:2] == ["amount", "numeric"]
        assert rows[2][:2] == ["kind", "categorical"]
        status = str(app.query_one("#status", Static).render())
        assert "claims.csv" in status and "50 rows" in status
        assert app.is_running  # the markup-looking header did not run an action


async def test_unreadable_file_shows_a_message_and_the_app_lives(tmp_path):
    path = tmp_path / "broken.xlsx"
    path.write_bytes(b"this is not a workbook")
    app = make_app(path)
    async with app.run_test() as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert "Cannot open this file" in str(app.query_one("#status", Static).render())
        assert app.is_running
