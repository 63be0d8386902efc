"""Set up names the totals rows it will leave out of the model, `o` keeps them, and Results
says how many were left out, and warns plainly on a tiny table (issue 14)."""

from __future__ import annotations

import pandas as pd

from tests.helpers import mixed_table
from tests.ui.helpers import screen_is, screen_text, settle
from tui_detector.ui.app import make_app
from tui_detector.ui.screens.setup import SetupScreen

SIZE = (120, 40)


def write_with_total(directory):
    frame, _ = mixed_table(300, seed=2)
    numbers = [c for c in frame.columns if pd.api.types.is_float_dtype(frame[c])]
    total = {c: None for c in frame.columns}
    label = "segment"
    total[label] = "Grand total"
    for c in numbers:
        total[c] = round(float(frame[c].sum()), 2)
    path = directory / "with_total.csv"
    pd.concat([frame, pd.DataFrame([total])], ignore_index=True).to_csv(path, index=False)
    return path


async def test_setup_names_the_totals_row_and_o_keeps_it(tmp_path):
    path = write_with_total(tmp_path)
    app = make_app(path, model="iforest", workdir=tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, lambda: isinstance(app.screen, SetupScreen) and bool(app.screen.totals))
        setup = app.screen
        assert "1 totals row left out of the model: row 300 ('Grand total')" in screen_text(app)
        assert not setup.settings().keep_totals
        await pilot.press("o")
        assert setup.settings().keep_totals
        assert "1 totals row kept in the table" in screen_text(app)
        await pilot.press("o")
        await pilot.press("t")
        await settle(pilot, screen_is(pilot, "Results"))
        run = app.screen.run
        assert len(run.frame) == 300 and [t["label"] for t in run.totals] == ["Grand total"]
        assert "1 totals row left out" in str(app.screen._summary())


async def test_results_warn_plainly_on_a_tiny_table(tmp_path):
    path = tmp_path / "tiny.csv"
    pd.DataFrame({"a": [1.0, 2.0, 3.0, 40.0], "b": ["x", "y", "z", "x"]}).to_csv(path, index=False)
    app = make_app(path, model="iforest", workdir=tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, lambda: isinstance(app.screen, SetupScreen) and app.screen.loaded is not None)
        await pilot.press("t")
        await settle(pilot, screen_is(pilot, "Results"))
        assert "only 4 rows: too few for the statistics to mean much" in str(app.screen._summary())
