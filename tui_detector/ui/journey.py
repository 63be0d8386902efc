"""What the screens ask of the app, and what they hand over: the journey's messages.

A screen never constructs the next one. It posts one of these (they bubble from the screen to
the app), and :class:`~tui_detector.ui.app.AnomalyApp` decides which screen follows. A screen
that only asks a question (a file to score, yes or no, where to export) pushes its dialog and
takes the answer back through ``dismiss``.

Light on purpose: no NumPy, no pandas, so every screen and the app can import it at start-up.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from textual.message import Message

if TYPE_CHECKING:
    from tui_detector.core import DetectionRun, DetectionSettings, LoadedTable

    from .results_model import ResultsModel


@dataclass
class TrainingJob:
    """What Set up hands to training: the table already read, and the settings."""

    path: Path
    sheet: str | None
    loaded: LoadedTable
    sha: str
    settings: DetectionSettings
    columns: int


@dataclass
class OpenFile(Message):
    """The file picker chose a file to set up."""

    path: Path


@dataclass
class BackToFiles(Message):
    """Set up was left: back to the file picker, near ``path``."""

    path: Path


@dataclass
class StartTraining(Message):
    """Set up is done: train (or take the cached model) and score."""

    job: TrainingJob


@dataclass
class ShowResults(Message):
    """A run is scored (trained now, from the cache, or with another file's model): show it."""

    run: DetectionRun


@dataclass
class OpenRow(Message):
    """One row of the results, opened to see why it is strange."""

    model: ResultsModel
    row: int


@dataclass
class OpenHistogram(Message):
    """A column's distribution over the sheet, with ``row`` marked (``key``: a table column
    key; ``expected``: the model's expected value, when the asking screen has it)."""

    model: ResultsModel
    row: int | None
    key: str
    expected: object = None


class OpenHistory(Message):
    """Show the past runs the review store remembers."""


@dataclass
class ScoreAnother(Message):
    """Score another file with the model of ``run``."""

    run: DetectionRun
