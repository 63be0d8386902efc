"""Helpers for the app's tests: a small table written to disk, waiting for the app, a fake run.

Imported by the tests (and by scripts/screenshots.py); the fixtures are in conftest.py.
"""

from __future__ import annotations

import html
import re
import threading
from collections import defaultdict
from pathlib import Path
from typing import Any

from textual.pilot import Pilot
from textual.worker import WorkerCancelled, WorkerFailed

from tests.helpers import mixed_table
from tui_detector.core import TrainingCancelled, TrainingProgress


def write_orders(directory: Path, rows: int = 300, name: str = "orders.csv", seed: int = 1) -> Path:
    frame, _ = mixed_table(rows, seed=seed)
    path = directory / name
    frame.to_csv(path, index=False)
    return path


async def settle(pilot: Pilot, until: Any = None, rounds: int = 200) -> None:
    """Let workers finish and messages land; with ``until``, repeat until it holds."""
    for _ in range(rounds):
        # DirectoryTree keeps a loader worker alive for as long as it is mounted: not ours.
        # (wait_for_complete([]) would wait for every worker, so wait one by one.)
        for worker in [w for w in pilot.app.workers if w.group != "_loader"]:
            try:
                await worker.wait()
            except (WorkerCancelled, WorkerFailed):
                pass
        await pilot.pause()
        if until is None or until():
            return
    raise AssertionError("the app never reached the expected state")


def screen_is(pilot: Pilot, name: str):
    return lambda: pilot.app.screen.sub_title == name


class BlockingRunner:
    """A fake detector run: reports fixed progress, then trains until told to stop."""

    def __init__(self) -> None:
        self.started = threading.Event()
        self.stopped_by_request = False

    def __call__(self, path, settings, *, on_progress=None, should_stop=None, on_stage=None, **_: Any):
        if on_stage:
            on_stage("training")
        for epoch in (1, 2, 3):
            if on_progress:
                on_progress(TrainingProgress(epoch, 10, 8, 8, 1.0 / epoch, 1.2 / epoch, 3.0 * epoch, 27.0, epoch_end=True))
        if on_progress:
            on_progress(TrainingProgress(4, 10, 3, 8, 0.3, 0.35, 10.0, 25.0))
        self.started.set()
        while True:
            if should_stop and should_stop():
                self.stopped_by_request = True
                raise TrainingCancelled()
            threading.Event().wait(0.005)


def screen_text(app: Any) -> str:
    """What the screen shows, as plain lines (read back from the SVG screenshot)."""
    svg = app.export_screenshot()
    lines: dict[float, list[tuple[float, str]]] = defaultdict(list)
    for m in re.finditer(r'<text class="[^"]*" x="([\d.]+)" y="([\d.]+)"[^>]*>(.*?)</text>', svg):
        lines[float(m.group(2))].append((float(m.group(1)), html.unescape(m.group(3))))
    out = []
    for y in sorted(lines):
        row = ""
        for x, text in sorted(lines[y]):
            row = row.ljust(int(round(x / 12.2))) + text
        out.append(row.replace("\xa0", " ").rstrip())
    return "\n".join(out)
