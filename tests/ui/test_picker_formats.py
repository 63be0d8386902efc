"""The file picker lists the new formats (and not this tool's own export); a database opens
in Set up with its tables and views as the sheets, and another table is read when picked."""

from __future__ import annotations

import json
import sqlite3

import pandas as pd

from tests.helpers import mixed_table
from tests.ui.helpers import screen_text, settle
from tui_detector.ui.app import make_app
from tui_detector.ui.screens.open_file import DataFileTree
from tui_detector.ui.screens.setup import SetupScreen
from tui_detector.ui.widgets.sheet_list import SheetList

SIZE = (120, 40)


def _shop(folder):
    frame, _ = mixed_table(120)
    path = folder / "shop.sqlite"
    with sqlite3.connect(path) as con:
        frame.to_sql("orders", con, index=False)
        con.execute("CREATE TABLE regions (code TEXT, name TEXT)")
        con.executemany("INSERT INTO regions VALUES (?, ?)", [("N", "north"), ("S", "south"), ("E", "east")])
        con.execute("CREATE VIEW big_orders AS SELECT * FROM orders WHERE amount > 20")
    con.close()
    return path


async def test_the_picker_lists_every_format_the_reader_opens_and_not_our_export(tmp_path):
    frame = pd.DataFrame({"a": [1, 2, 3], "b": ["x", "y", "z"]})
    frame.to_parquet(tmp_path / "table.parquet")
    (tmp_path / "records.json").write_text(json.dumps(frame.to_dict("records")))
    (tmp_path / "lines.jsonl").write_text("\n".join(json.dumps(r) for r in frame.to_dict("records")))
    _shop(tmp_path)
    (tmp_path / "shop.anomalies.json").write_text(json.dumps({"schema_version": 1, "tool": {"name": "anomaly-tui", "version": "0.1.0"}, "anomalies": []}))
    (tmp_path / "notes.txt").write_text("Call Anna about the March claims.\nShe said the totals were off.\n")
    (tmp_path / "photo.png").write_bytes(b"\x89PNG\r\n")
    app = make_app(None, workdir=tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        tree = app.screen.query_one(DataFileTree)
        await settle(pilot, lambda: len(tree.root.children) > 0)
        assert sorted(str(n.label) for n in tree.root.children) == [
            "lines.jsonl", "records.json", "shop.sqlite", "table.parquet",
        ]


async def test_a_database_opens_with_its_tables_as_sheets_and_reads_the_one_picked(tmp_path):
    path = _shop(tmp_path)
    app = make_app(path, model="iforest", workdir=tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, lambda: isinstance(app.screen, SetupScreen) and app.screen.loaded is not None)
        text = screen_text(app)
        assert "table orders" in text and "column names from the file" in text
        assert "Tables and views (rows × columns)" in text and "Sheets (rows" not in text
        listed = [info.name for info in app.screen.sheets]
        assert listed == ["orders", "regions", "big_orders"]
        for shown in ("orders  120 × 8", "regions  3 × 2", "big_orders"):
            assert shown in text, shown
        sheets = app.screen.query_one(SheetList)
        sheets.focus()
        sheets.highlighted = 1
        await pilot.press("enter")
        await settle(pilot, lambda: app.screen.loaded is not None and app.screen.loaded.report.sheet == "regions")
        assert list(app.screen.loaded.frame.columns) == ["code", "name"]
        assert "table regions" in screen_text(app)
