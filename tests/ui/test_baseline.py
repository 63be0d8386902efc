"""Train once, score many, in the app: score another file with this model, presets, defaults."""

from __future__ import annotations

import json

import jsonschema
from textual.widgets import Input, Select

from tests.helpers import mixed_table
from tests.ui.helpers import screen_is, screen_text, settle
from tui_detector.core.export import schema
from tui_detector.ui.app import make_app
from tui_detector.ui.screens.baseline import BaselineScreen
from tui_detector.ui.screens.export import ExportScreen
from tui_detector.ui.screens.open_file import OpenFileScreen
from tui_detector.ui.screens.results import ResultsScreen
from tui_detector.ui.screens.row_detail import RowDetailScreen
from tui_detector.ui.screens.setup import SetupScreen

SIZE = (120, 40)


def _month_files(tmp_path):
    base, _ = mixed_table(1200, 0)
    new, planted = mixed_table(500, 1)
    new.loc[40, "segment"] = "mars"  # a value the baseline never had
    new = new.rename(columns={"units": "Units"})  # renamed since last month
    base_path, new_path = tmp_path / "october.csv", tmp_path / "november.csv"
    base.to_csv(base_path, index=False)
    new.to_csv(new_path, index=False)
    return base_path, new_path, planted


async def _ready(pilot):
    await settle(pilot, lambda: isinstance(pilot.app.screen, SetupScreen) and pilot.app.screen.cache_checked)


async def test_score_another_file_with_this_model(tmp_path):
    base_path, new_path, planted = _month_files(tmp_path)
    app = make_app(base_path, model="auto", workdir=tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await _ready(pilot)
        app.screen.query_one("#epochs", Input).value = "4"  # a tiny real model
        await pilot.pause()
        await pilot.press("t")
        await settle(pilot, screen_is(pilot, "Results"))
        baseline = app.screen
        base_detector = baseline.run.detector

        # n: a file picker that names the model it will score with.
        await pilot.press("n")
        await settle(pilot, lambda: isinstance(app.screen, OpenFileScreen))
        assert "october.csv" in screen_text(app)
        app.screen.query_one("#path", Input).value = "november.csv"
        app.screen.query_one("#path", Input).focus()
        await pilot.press("enter")

        # The renamed column stops the run, with the difference spelled out and a way on.
        await settle(pilot, lambda: isinstance(app.screen, BaselineScreen) and app.screen.diff is not None)
        screen = app.screen
        assert screen.scored is None
        text = screen_text(app)
        assert "missing column 'units' (renamed to 'Units'?)" in text
        assert "m: use 'Units' → 'units' and score" in text
        await pilot.press("enter")  # nothing to show yet
        assert app.screen is screen
        await pilot.press("m")
        await settle(pilot, lambda: screen.scored is not None)

        # Schema diff and drift summary come first.
        text = screen_text(app)
        assert "ignored (not in the model): 'order_id', 'comment'" in text
        assert "Drift:" in text and "in training" in text
        drift = screen.query_one("#drift")
        assert drift.row_count == len(base_detector.columns_used)
        await pilot.press("enter")
        await settle(pilot, lambda: isinstance(app.screen, ResultsScreen) and app.screen is not baseline)

        results = app.screen
        run = results.run
        assert run.baseline and run.detector is base_detector  # no retraining
        assert run.path == new_path and len(run.detection.scores) == 500
        assert "scored with the model of october.csv" in results._summary().plain
        flagged = set(map(int, run.detection.flags.nonzero()[0]))
        assert set(planted) <= flagged

        # The unseen category is part of the row's explanation.
        app.push_screen(RowDetailScreen(results.model, 40))
        await pilot.pause()
        features = app.screen.query_one("#features")
        cells = [str(cell) for i in range(features.row_count) for cell in features.get_row_at(i)]
        # In the table when the screen leaves it room, else in full under it.
        notes = str(app.screen.query_one("#notes").render())
        assert any("'mars' never seen in segment during training" in text for text in [*cells, notes])
        await pilot.press("escape")

        # Its export records which model scored it, the schema check and the drift.
        await pilot.press("e")
        await settle(pilot, lambda: isinstance(app.screen, ExportScreen))
        assert app.screen.query_one("#json-path", Input).value == "november.anomalies.json"
        await pilot.press("enter")
        target = tmp_path / "november.anomalies.json"
        await settle(pilot, target.exists)
        document = json.loads(target.read_text())
        jsonschema.validate(document, schema())
        assert document["model"]["trained_on"]["file"] == "october.csv"
        assert document["schema_check"]["mapped"] == [{"model": "units", "table": "Units"}]
        assert document["drift"]["verdict"]

        # escape from the new results goes back to the baseline's.
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is baseline


async def test_a_file_that_cannot_supply_the_model_columns_is_refused_in_words(tmp_path):
    base_path, _, _ = _month_files(tmp_path)
    other = tmp_path / "other.csv"
    other.write_text("a,b\n1,2\n3,4\n")
    app = make_app(base_path, model="iforest", workdir=tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await _ready(pilot)
        await pilot.press("t")
        await settle(pilot, screen_is(pilot, "Results"))
        results = app.screen
        await pilot.press("n")
        await settle(pilot, lambda: isinstance(app.screen, OpenFileScreen))
        await pilot.press("escape")  # a picker goes back to its caller
        assert app.screen is results
        app.push_screen(BaselineScreen(results.run, other))
        await settle(pilot, lambda: app.screen.diff is not None)
        text = screen_text(app)
        assert "so the file was not scored" in text and "missing column 'segment'" in text
        assert "train a new model" in text
        await pilot.press("m")  # no rename to suggest: nothing happens
        await pilot.press("escape")
        assert app.screen is results


async def test_presets_set_the_threshold_and_the_size_aware_defaults_are_shown(orders, tmp_path):
    app = make_app(orders, model="autoencoder", workdir=tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await _ready(pilot)
        setup = app.screen
        preset = setup.query_one("#preset", Select)
        threshold = setup.query_one("#threshold", Input)
        assert preset.value == "balanced" and threshold.value == "95"
        for name, value in (("strict", 99.0), ("sensitive", 90.0), ("balanced", 95.0)):
            preset.value = name
            await pilot.pause()
            assert threshold.value == f"{value:g}"
            assert setup.settings().threshold_percentile == value
        threshold.value = "97.5"
        await pilot.pause()
        assert preset.value == "custom" and setup.settings().threshold_percentile == 97.5
        threshold.value = "99"
        await pilot.pause()
        assert preset.value == "strict"

        # 300 rows and the design note's network: its small-table advice, shown.
        text = screen_text(app)
        assert "300 rows: batch 32, 30 epochs, bottleneck 4" in text
        setup.query_one("#model", Select).value = "iforest"
        await pilot.pause()
        assert "IsolationForest needs no epochs" in screen_text(app)
