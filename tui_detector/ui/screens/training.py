"""Training: progress, live loss curve, elapsed and ETA; ``escape`` cancels within one batch."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Header, ProgressBar, Static
from textual.worker import get_current_worker

from tui_detector import core

from ..journey import ShowResults, TrainingJob
from ..text import clock
from ..widgets.loss_chart import LossChart

if TYPE_CHECKING:
    from tui_detector.core import DetectionRun, TrainingProgress

#: The share of the bar the preparation steps fill before the first epoch's ETA is known.
PREPARE_SHARE = 0.05
#: Runs the job: ``run_detection``'s signature (the app's, so tests can inject a fake).
RunDetection = Callable[..., "DetectionRun"]


class TrainingScreen(Screen[None]):
    """Trains ``job`` in a worker; when done it asks the app to show the results."""

    SUB_TITLE = "Training"
    BINDINGS = [Binding("escape", "cancel", "Cancel training")]

    @dataclass
    class Stage(Message):
        text: str

    @dataclass
    class Progress(Message):
        """Per-batch progress; a newer one replaces one still queued (never an epoch's end)."""

        progress: TrainingProgress

        def can_replace(self, message: Message) -> bool:
            return (
                isinstance(message, TrainingScreen.Progress)
                and not self.progress.epoch_end
                and message.progress.preparing is None  # each step of the preparation is seen
            )

    @dataclass
    class Done(Message):
        run: DetectionRun

    @dataclass
    class Cancelled(Message):
        pass

    @dataclass
    class Failed(Message):
        message: str

    def __init__(self, job: TrainingJob, run_detection: RunDetection) -> None:
        super().__init__()
        self.job = job
        self.run_detection = run_detection
        self._stop = threading.Event()
        self.failed = False
        self._epochs_seen = False
        #: Seconds the preparation took (the trainer's clock excludes it), and when it began.
        self._prepared_for = 0.0
        self._prep_started: float | None = None
        #: What the bar shows; it never goes back.
        self._fraction = 0.0

    def compose(self) -> ComposeResult:
        job = self.job
        info = Text(job.path.name, style="bold")
        if job.sheet:
            info.append(" · sheet ")
            info.append(job.sheet, style="bold")
        model = job.settings.model
        info.append(f" · {job.loaded.report.rows:,} rows · {job.columns} columns used · model {model}")
        yield Header()
        yield Static(info, id="train-info")
        yield Static(Text("Starting …"), id="stage")
        yield ProgressBar(total=1.0, show_eta=False, id="progress")
        yield Static(Text(""), id="epoch-line")
        yield LossChart(id="loss")
        yield Static(Text("", style="bold red"), id="train-error")
        yield Footer()

    def on_mount(self) -> None:
        self.train()

    def cancel(self) -> None:
        """Ask training to stop; it does so after the batch in progress."""
        self._stop.set()

    @work(thread=True, exclusive=True, exit_on_error=False, group="training")
    def train(self) -> None:
        worker = get_current_worker()
        job = self.job
        try:
            run = self.run_detection(
                job.path,
                job.settings,
                sheet=job.sheet,
                source=(job.loaded, job.sha),
                on_stage=lambda text: self.post_message(self.Stage(text)),
                on_progress=lambda p: self.post_message(self.Progress(p)),
                should_stop=lambda: self._stop.is_set() or worker.is_cancelled,
            )
        except core.TrainingCancelled:
            self.post_message(self.Cancelled())
            return
        except Exception as exc:  # noqa: BLE001 - shown on the screen in plain words
            if core.is_out_of_memory(exc):
                # A MemoryError, or a worker thread that could not start under ``ulimit -v``.
                self.post_message(self.Failed("not enough memory to train on this table"))
                return
            self.post_message(self.Failed(str(exc) or type(exc).__name__))
            return
        self.post_message(self.Done(run))

    @on(Stage)
    def _stage(self, message: Stage) -> None:
        if self._stop.is_set():
            return  # the stage line says it is cancelling
        text = message.text
        if text == "training":
            # The epochs start only after the whole table is profiled and encoded, which on a
            # large sheet takes a while: say so rather than sit at 0% in silence.
            text = f"preparing {self.job.loaded.report.rows:,} rows, then training"
        self.query_one("#stage", Static).update(Text(text[:1].upper() + text[1:] + " …"))

    @on(Progress)
    def _progress(self, message: Progress) -> None:
        p = message.progress
        if p.preparing is not None:
            self._preparing(p)
            return
        # The trainer's clock starts at its first epoch; the user's started with the preparation.
        if self._prep_started is not None:
            self._prepared_for = max(0.0, time.monotonic() - self._prep_started - p.elapsed)
            self._prep_started = None
        elapsed = self._prepared_for + p.elapsed
        fraction = p.fraction
        if p.eta is not None and elapsed + p.eta > 0:
            # Time done over time in all, preparation included, so the bar and the ETA agree.
            fraction = elapsed / (elapsed + p.eta)
        self._fraction = max(self._fraction, min(fraction, 1.0))
        self.query_one("#progress", ProgressBar).update(progress=self._fraction)
        line = Text(f"epoch {p.epoch}/{p.epochs} · batch {p.batch}/{p.batches}")
        if p.loss is not None:
            line.append(f" · loss {p.loss:.4g}", style="cyan")
        if p.val_loss is not None:
            line.append(f" · validation {p.val_loss:.4g}", style="magenta")
        line.append(f" · elapsed {clock(elapsed)}")
        if self._prepared_for >= 0.5:
            line.append(f" ({clock(self._prepared_for)} preparing)", style="dim")
        line.append(f" · ETA {clock(p.eta)}")
        self.query_one("#epoch-line", Static).update(line)
        if p.epoch_end:
            self.query_one(LossChart).add(p.loss, p.val_loss)
        if self._stop.is_set():
            return  # the stage line says it is cancelling
        if not self._epochs_seen:
            self._epochs_seen = True
            self.query_one("#stage", Static).update(Text("Training …"))
        if p.epoch_end and p.fraction >= 0.999:
            self.query_one("#stage", Static).update(Text("Trained; scoring every row …"))

    def _preparing(self, p: TrainingProgress) -> None:
        """A preparation step began: name it, move the bar a little, count its time."""
        if self._prep_started is None:
            self._prep_started = time.monotonic() - p.elapsed
        steps = max(p.prepare_steps, 1)
        self._fraction = max(self._fraction, PREPARE_SHARE * p.prepared / steps)
        self.query_one("#progress", ProgressBar).update(progress=self._fraction)
        self.query_one("#epoch-line", Static).update(
            Text(f"preparing: step {p.prepared + 1} of {steps} · elapsed {clock(p.elapsed)} · ETA once the first epoch runs")
        )
        if not self._stop.is_set():
            rows = self.job.loaded.report.rows
            self.query_one("#stage", Static).update(Text(f"Preparing {rows:,} rows: {p.preparing} …"))

    @on(Done)
    def _done(self, message: Done) -> None:
        if self._stop.is_set():  # finished before it saw the cancel: the user still said stop
            self._cancelled()
            return
        self.post_message(ShowResults(message.run))

    @on(Cancelled)
    def _cancelled(self) -> None:
        self.app.pop_screen()
        self.app.notify("Training cancelled.")

    @on(Failed)
    def _failed(self, message: Failed) -> None:
        self.failed = True
        self.query_one("#stage", Static).update(Text("Training failed."))
        self.query_one("#train-error", Static).update(
            Text(f"{message.message}\nescape: back to Set up", style="bold red")
        )

    def action_cancel(self) -> None:
        if self.failed:
            self.app.pop_screen()
            return
        self.cancel()
        self.query_one("#stage", Static).update(Text("Cancelling (after this batch or chunk of rows) …"))
