"""Text from a file (names, headers, cells) is shown verbatim and never runs as markup."""

from __future__ import annotations

import numpy as np
import pandas as pd

from tests.ui.helpers import screen_is, screen_text, settle
from tui_detector.ui.app import make_app
from tui_detector.ui.screens.setup import SetupScreen
from tui_detector.ui.widgets.score_table import ScoreTable

HOSTILE = ["[@click=app.quit]", "[/]", "[bold]x"]


async def test_markup_in_file_names_headers_and_cells_renders_verbatim_and_runs_nothing(tmp_path):
    rng = np.random.default_rng(0)
    n = 120
    frame = pd.DataFrame(
        {
            "[@click=app.quit]": rng.choice(HOSTILE, n),
            "[/]": rng.normal(size=n),
            "[bold]x": rng.choice(["a", "b", "[red]c"], n),
        }
    )
    frame.loc[0, "[/]"] = 40.0
    path = tmp_path / "[b]data.csv"
    frame.to_csv(path, index=False)
    app = make_app(path, model="iforest", workdir=tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, lambda: isinstance(app.screen, SetupScreen) and app.screen.loaded is not None)
        text = screen_text(app)
        assert "[b]data.csv" in text
        for token in HOSTILE:
            assert token in text  # the roles table and the preview
        await pilot.press("t")
        await settle(pilot, screen_is(pilot, "Results"))
        await pilot.press("a")
        await pilot.pause()
        text = screen_text(app)
        assert "[b]data.csv" in text and "[red]c" in text
        for token in HOSTILE:
            assert token in text
        # Click every visible cell of the first column: a [@click=…] cell must not quit.
        table = app.screen.query_one(ScoreTable)
        x = table.fixed_width + 2
        for y in range(1, 6):
            await pilot.click(ScoreTable, offset=(x, y))
        assert app.is_running
        await pilot.press("enter")
        await pilot.pause()
        assert app.screen.sub_title == "Row details"
        text = screen_text(app)
        assert sum(token in text for token in HOSTILE) == 3
        assert app.is_running
