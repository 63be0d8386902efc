"""Score another file with this model: the schema check and the drift summary come first.

"Train once, score many": last month's reviewed export is the baseline, this month's is
checked against it. Columns are matched by name, never by position; a model column the new
table lacks stops the run with the difference in words, and ``m`` accepts the renames the
check suggests. Then the whole file's drift is shown before its strange rows, so "this file
is different" is not mistaken for "these rows are strange".
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static

from tui_detector import core

from ..journey import ShowResults
from ..text import trained_on_text

if TYPE_CHECKING:
    from tui_detector.core import DetectionRun, TrainedModel

LEVEL_STYLES = {"none": "dim", "small": "", "moderate": "yellow", "large": "bold red"}


def model_of(run: DetectionRun) -> TrainedModel:
    """The model that scored ``run``, as a core ``TrainedModel`` to score another table with."""
    return core.TrainedModel(
        detector=run.detector,
        from_cache=run.from_cache,
        cache_key=run.cache_key,
        cache_note=run.cache_note,
        trained_on=dict(run.trained_on),
    )


class BaselineScreen(Screen[None]):
    """Scores ``path`` with the model of ``baseline``; ``enter`` asks the app for its results."""

    SUB_TITLE = "Score with this model"
    BINDINGS = [
        # Priority: the focused drift table would otherwise take enter for itself.
        Binding("enter", "results", "Show results", priority=True),
        Binding("m", "map_renames", "Use suggested names", show=False),
        Binding("escape", "back", "Back"),
    ]

    @dataclass
    class Scored(Message):
        run: DetectionRun

    @dataclass
    class Mismatch(Message):
        diff: Any  # core SchemaDiff

    @dataclass
    class Failed(Message):
        message: str

    def __init__(self, baseline: DetectionRun, path: Path) -> None:
        super().__init__()
        self.baseline = baseline
        self.path = path
        self.model = model_of(baseline)
        self.column_map: dict[str, str] = {}
        self.scored: DetectionRun | None = None
        self.diff: Any = None
        self.failed = False
        self._read_cancel = threading.Event()

    def compose(self) -> ComposeResult:
        info = Text("Scoring ")
        info.append(self.path.name, style="bold")
        info.append(" with the model of ")
        info.append(trained_on_text(self.model.trained_on), style="bold")
        yield Header()
        yield Static(info, id="baseline-info")
        yield Static(Text(f"Reading {self.path.name} …"), id="baseline-stage")
        yield Static(Text(""), id="schema")
        yield Static(Text(""), id="verdict")
        yield DataTable(id="drift", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one("#drift", DataTable)
        for label in ("column", "role", "how far it moved", "measure", "blank cells"):
            table.add_column(Text(label), key=label)
        table.display = False
        self.score()

    # -- the work (a worker: reading and scoring can take a while) -------------------------

    @work(thread=True, exclusive=True, exit_on_error=False, group="baseline")
    def score(self) -> None:
        try:
            # The baseline's sheet if the new workbook has one of that name, else its first.
            names = [s.name for s in core.list_sheets(self.path)]
            wanted = self.model.trained_on.get("sheet")
            source = core.load_source(self.path, wanted if wanted in names else None, cancel=self._read_cancel)
            run = core.score_with_baseline(
                self.path,
                source,
                self.model,
                self.baseline.threshold_percentile,
                column_map=dict(self.column_map),
            )
        except core.SchemaMismatch as exc:
            self.post_message(self.Mismatch(exc.diff))
            return
        except core.ReadCancelled:
            return
        except core.ReadError as exc:
            self.post_message(self.Failed(f"cannot open this file: {exc}"))
            return
        except Exception as exc:  # noqa: BLE001 - a bad file leaves a message, never a dead app
            if core.is_out_of_memory(exc):
                # A MemoryError, or a worker thread that could not start under ``ulimit -v``.
                self.post_message(self.Failed("not enough memory to read this table"))
                return
            self.post_message(self.Failed(str(exc) or type(exc).__name__))
            return
        self.post_message(self.Scored(run))

    # -- what came back --------------------------------------------------------------------

    def _show_diff(self, diff: Any, *, refused: bool) -> None:
        text = Text()
        lines = diff.lines()
        if refused:
            text.append("These columns do not match the model, so the file was not scored:\n", style="bold red")
        elif lines:
            text.append("Columns compared with the model (by name):\n", style="bold")
        else:
            text.append("Every model column is present, with the same kind of values.\n", style="green")
        for line in lines:
            text.append(f"  • {line}\n")
        if refused and diff.renamed:
            pairs = ", ".join(f"{r['table']!r} → {r['model']!r}" for r in diff.renamed)
            text.append(f"m: use {pairs} and score · escape: back", style="bold")
        elif refused:
            text.append("Rename the columns in the file to the model's names, or train a new model. escape: back")
        self.query_one("#schema", Static).update(text)

    @on(Mismatch)
    def _mismatch(self, message: Mismatch) -> None:
        self.diff = message.diff
        self.query_one("#baseline-stage", Static).update(Text("Not scored: the columns differ.", style="bold red"))
        self._show_diff(message.diff, refused=True)

    @on(Failed)
    def _failed(self, message: Failed) -> None:
        self.failed = True
        self.query_one("#baseline-stage", Static).update(Text(message.message, style="bold red"))
        self.query_one("#schema", Static).update(Text("escape: back to the results"))

    @on(Scored)
    def _scored(self, message: Scored) -> None:
        run = message.run
        self.scored = run
        self.diff = run.schema
        detection = run.detection
        flagged = int(detection.flags.sum())
        stage = Text(f"{len(detection.scores):,} rows scored · {flagged:,} above the model's threshold. ")
        stage.append("enter: show the rows", style="bold")
        self.query_one("#baseline-stage", Static).update(stage)
        if self.column_map:
            mapped = ", ".join(f"{new!r} as {old!r}" for new, old in self.column_map.items())
            self.notify(f"Read {mapped}.", markup=False)
        self._show_diff(run.schema, refused=False)
        drift = run.drift or {}
        verdict = Text("Drift: ", style="bold")
        verdict.append(str(drift.get("verdict", "")), style="bold yellow" if "differs" in str(drift.get("verdict")) else "green")
        verdict.append(
            f" · {drift.get('flagged_share', 0):.1%} of rows above the threshold here, "
            f"{drift.get('training_flagged_share', 0):.1%} in training"
        )
        self.query_one("#verdict", Static).update(verdict)
        table = self.query_one("#drift", DataTable)
        table.clear()
        for entry in drift.get("columns", []):
            blank = entry.get("blank_share_change")
            table.add_row(
                Text(str(entry["column"])),
                Text(str(entry["role"])),
                Text(f"{entry['level']} ({entry['value']:g})", style=LEVEL_STYLES.get(entry["level"], "")),
                Text(str(entry["measure"]), style="dim"),
                Text("" if blank is None else f"{blank:+.1%}"),
            )
        table.display = True
        table.focus()

    # -- actions ---------------------------------------------------------------------------

    def action_results(self) -> None:
        if self.scored is not None:
            self.post_message(ShowResults(self.scored))

    def action_map_renames(self) -> None:
        if self.scored is not None or self.diff is None or not self.diff.renamed:
            return
        self.column_map.update({r["table"]: r["model"] for r in self.diff.renamed})
        self.query_one("#baseline-stage", Static).update(Text("Scoring with the suggested names …"))
        self.query_one("#schema", Static).update(Text(""))
        self.score()

    def cancel_reading(self) -> None:
        self._read_cancel.set()

    def on_unmount(self) -> None:
        self.cancel_reading()

    def action_back(self) -> None:
        self.cancel_reading()
        self.app.pop_screen()
