"""Render every screen of the app to SVG in screenshots/ (120×40), from the bundled demo workbook.

Usage (from the repository root): ``python scripts/screenshots.py [--only sqlite|triage]``

The demo is scored with IsolationForest (fast, no TensorFlow) in a private, empty cache.
``--only sqlite`` renders just Set up on an SQLite database made from the demo's claims (its
tables and a view listed as the sheets), ``--only triage`` just Results with a language model's
suggestions (a stub server answers), leaving the other screenshots as they are.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
OUT = ROOT / "screenshots"
SIZE = (120, 40)


async def shoot(only: str | None = None) -> None:
    from tests.ui.helpers import BlockingRunner, settle
    from tui_detector.demo import demo_workbook_path
    from tui_detector.ui.app import make_app
    from tui_detector.ui.screens.setup import SetupScreen

    work = Path(tempfile.mkdtemp())
    demo = work / "expense-claims.xlsx"
    shutil.copy(demo_workbook_path(), demo)
    OUT.mkdir(exist_ok=True)

    def save(app, name: str) -> None:
        app.save_screenshot(f"{name}.svg", str(OUT))

    async def ready(pilot) -> None:
        await settle(pilot, lambda: isinstance(pilot.app.screen, SetupScreen) and pilot.app.screen.cache_checked)

    if only == "triage":
        await shoot_triage(demo, work, save, ready)
        shutil.rmtree(work, ignore_errors=True)
        return

    app = make_app(claims_database(demo), workdir=work)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        save(app, "13-set-up-sqlite")
    if only == "sqlite":
        shutil.rmtree(work, ignore_errors=True)
        return

    app = make_app(None, workdir=work)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, lambda: len(app.screen.query_one("#tree").root.children) > 0)
        await pilot.press("down")
        await pilot.pause()
        save(app, "1-open-file")

    runner = BlockingRunner()
    app = make_app(demo, runner=runner, workdir=work)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        save(app, "2-set-up")
        await pilot.press("t")
        runner.started.wait(5)
        await pilot.pause()
        save(app, "3-training")

    app = make_app(demo, model="iforest", workdir=work)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.press("t")
        await settle(pilot, lambda: app.screen.sub_title == "Results")
        save(app, "4-results")
        await pilot.press("enter")
        await pilot.pause()
        save(app, "5-row-details")
        await pilot.press("escape", "e")
        await pilot.pause()
        save(app, "6-export")
        await pilot.press("escape", "question_mark")
        await pilot.pause()
        save(app, "7-help")
        await pilot.press("escape")
        await pilot.pause()
        # Next month's export: a renamed column, dearer claims, a currency never seen before.
        await pilot.press("n")
        await pilot.pause()
        app.screen.query_one("#path").value = next_month(demo).name
        app.screen.query_one("#path").focus()
        await pilot.press("enter")
        await settle(pilot, lambda: getattr(app.screen, "diff", None) is not None)
        save(app, "8-score-with-this-model-columns")
        await pilot.press("m")
        await settle(pilot, lambda: app.screen.scored is not None)
        await pilot.pause()
        save(app, "9-score-with-this-model-drift")

    # Review: two rows confirmed, one dismissed with a note, a merchant's rows suppressed; then
    # the file opened again (reviewed rows hidden, "v" shows them) and History.
    app = make_app(demo, model="iforest", workdir=work)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.press("t")
        await settle(pilot, lambda: app.screen.sub_title == "Results" and app.screen.model.review is not None)
        results = app.screen
        await pilot.press("c", "down", "c", "down", "d", "N")
        await pilot.pause()
        await pilot.press(*"duplicate of a corrected claim", "enter")
        await pilot.pause()
        await pilot.press("down")
        labels = [c.label for c in results.table.all_columns]
        results.table.cursor_column = labels.index("employee_id")
        await pilot.press("S")
        await pilot.pause()
        await pilot.press(*"2027-01-31")
        await pilot.pause()
        save(app, "11-suppress-dialog")
        await pilot.press("tab", "tab", "enter")  # Expected
        await pilot.pause()
        await pilot.press("q")
    app = make_app(demo, model="iforest", workdir=work)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.press("t")
        await settle(pilot, lambda: app.screen.sub_title == "Results" and app.screen.model.review is not None and app.screen.model.review.marks)
        await pilot.press("v")
        await pilot.pause()
        save(app, "10-results-reviewed")
        await pilot.press("R")
        await settle(pilot, lambda: getattr(app.screen, "runs", None))
        save(app, "12-history")
    await shoot_triage(demo, work, save, ready)
    shutil.rmtree(work, ignore_errors=True)


def stub_answer(body):
    """What a security model might say, made up from the row's top feature (no model runs here)."""
    import json

    from tests.triage_server import Reply, by_row

    top = (by_row(body)["top_features"] or [{}])[0]
    column, actual, expected = top.get("column"), top.get("actual"), top.get("expected")
    if isinstance(actual, (int, float)) and isinstance(expected, (int, float)) and actual > 3 * max(expected, 1):
        verdict, why, step = "suspicious", f"{column} {actual:,} is far above the {expected:,.0f} expected for this row.", "Ask for the receipt."
    elif top.get("note"):
        verdict, why, step = "needs_review", f"{column} holds a value never seen before ({actual}).", "Check whether it is a new category."
    else:
        verdict, why, step = "likely_benign", f"{column} is unusual ({actual}, about {expected} expected) but plausible.", None
    return Reply(json.dumps({"verdict": verdict, "rationale": why, "next_step": step}))


async def shoot_triage(demo: Path, work: Path, save, ready) -> None:
    """Results with a language model's suggestions: a stub OpenAI-compatible server on 127.0.0.1
    answers for the model (the screenshot shows the screen, not a model's judgement)."""
    from tests.triage_server import StubServer
    from tests.ui.helpers import settle
    from tui_detector.ui.app import make_app

    with StubServer(stub_answer) as server:
        app = make_app(demo, model="iforest", workdir=work, triage={"url": server.url, "model": "foundation-sec-8b-instruct"})
        async with app.run_test(size=SIZE) as pilot:
            await ready(pilot)
            await pilot.press("t")
            await settle(pilot, lambda: app.screen.sub_title == "Results" and app.screen.model.review is not None)
            await pilot.press("t")
            await settle(pilot, lambda: not app.screen.model.triage.running)
            app.clear_notifications()
            await pilot.pause()
            save(app, "14-results-triage")
            await pilot.press("enter")
            await pilot.pause()
            save(app, "15-row-details-triage")


def next_month(demo: Path) -> Path:
    """A copy of the demo's claims as next month might send them (see the docstring above)."""
    from tui_detector.core.io.reader import read_table

    frame = read_table(demo, "Claims").frame.copy()
    frame["amount"] = frame["amount"] * 1.4
    frame.loc[10:14, "currency"] = "BTC"
    frame = frame.rename(columns={"amount": "Amount (EUR)"})
    target = demo.with_name("expense-claims-next-month.xlsx")
    frame.to_excel(target, sheet_name="Claims", index=False)
    return target


def claims_database(demo: Path) -> Path:
    """The demo's claims as an SQLite database: the claims, a small lookup table and a view."""
    import sqlite3

    from tui_detector.core.io.reader import read_table

    frame = read_table(demo, "Claims").frame
    target = demo.with_name("expense-claims.sqlite")
    con = sqlite3.connect(target)
    try:
        frame.to_sql("claims", con, index=False)
        con.executescript(
            """
            CREATE TABLE cost_centres (code TEXT, name TEXT, owner TEXT);
            INSERT INTO cost_centres VALUES ('CC-100', 'Sales', 'M. Jensen'), ('CC-200', 'Field service', 'A. Okafor'),
                ('CC-300', 'Head office', 'L. Moreau');
            CREATE VIEW large_claims AS SELECT * FROM claims WHERE amount > 1000;
            """
        )
        con.commit()
    finally:
        con.close()
    return target


def main() -> None:
    os.environ["ANOMALY_TUI_DATA_DIR"] = tempfile.mkdtemp()
    only = sys.argv[sys.argv.index("--only") + 1] if "--only" in sys.argv else None
    asyncio.run(shoot(only))
    print("\n".join(sorted(str(p.relative_to(ROOT)) for p in OUT.glob("*.svg"))))


if __name__ == "__main__":
    main()
