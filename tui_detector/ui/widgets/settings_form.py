"""Set up's settings: the model, the threshold (a preset or a percentile), the epochs, and
the size-aware defaults training will use for what is left empty."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Input, Label, Select, Static

from tui_detector import core

MODELS = [
    ("auto — the best default (recommended)", "auto"),
    ("autoencoder — the design note's network", "autoencoder"),
    ("iforest — IsolationForest, fastest", "iforest"),
]
PRESET_CHOICES = [
    ("strict — 99: very imbalanced data, fewer false alarms", "strict"),
    ("balanced — 95 (default)", "balanced"),
    ("sensitive — 90: security and fraud work", "sensitive"),
    ("custom", "custom"),
]


@dataclass(frozen=True)
class Choices:
    """The form's values, checked."""

    model: str
    threshold_percentile: float
    epochs: int | None  # None: the size-aware default


class SettingsForm(Vertical):
    """Choosing a preset fills in its percentile; typing a percentile selects its preset (or
    ``custom``). Percentiles are checked by :func:`tui_detector.core.check_percentile`, the
    check the CLI and the API use."""

    DEFAULT_CSS = "SettingsForm { height: auto; }"

    @dataclass
    class Changed(Message):
        """A setting changed: what a cached model must match changed with it."""

    def __init__(self, model: str = "auto", *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._model = model
        #: The table's size, once it is read (the defaults shown depend on it).
        self.rows: int | None = None

    def compose(self) -> ComposeResult:
        with Horizontal(id="settings"):
            yield Label("Model", classes="setting-label")
            yield Select(MODELS, value=self._model, allow_blank=False, id="model")
            yield Label("Epochs", classes="setting-label")
            yield Input("", placeholder="auto", id="epochs", restrict=r"[0-9]*", max_length=5)
        with Horizontal(id="threshold-settings"):
            yield Label("Threshold", classes="setting-label")
            yield Select(PRESET_CHOICES, value=core.DEFAULT_PRESET, allow_blank=False, id="preset")
            yield Label("percentile", classes="setting-label")
            yield Input(f"{core.DEFAULT_PERCENTILE:g}", id="threshold", restrict=r"[0-9.]*", max_length=6)
        yield Static("", id="defaults")

    @property
    def model(self) -> str:
        return str(self.query_one("#model", Select).value)

    def choices(self) -> Choices:
        """What the user chose; raises ``ValueError`` in plain words."""
        threshold_text = self.query_one("#threshold", Input).value.strip()
        threshold = core.check_percentile(threshold_text) if threshold_text else core.DEFAULT_PERCENTILE
        epochs_text = self.query_one("#epochs", Input).value.strip()
        epochs = int(epochs_text) if epochs_text else None
        if epochs is not None and epochs < 1:
            raise ValueError("epochs must be at least 1 (or empty for automatic)")
        return Choices(self.model, threshold, epochs)

    def show_defaults(self, rows: int) -> None:
        """What training will use for ``rows`` rows, so the automatic choices are visible."""
        self.rows = rows
        plan = core.size_defaults(rows, self.model)
        epochs = self.query_one("#epochs", Input).value.strip()
        text = Text("Defaults for this size: ", style="dim")
        text.append(plan.describe(), style="dim")
        if epochs and plan.batch_size is not None:
            text.append(f" · you chose {epochs} epochs", style="dim italic")
        self.query_one("#defaults", Static).update(text)

    @on(Select.Changed, "#preset")
    def _preset_chosen(self, event: Select.Changed) -> None:
        value = core.PRESETS.get(str(event.value))
        threshold = self.query_one("#threshold", Input)
        if value is not None and threshold.value.strip() != f"{value:g}":
            threshold.value = f"{value:g}"

    @on(Input.Changed, "#threshold")
    def _threshold_typed(self, event: Input.Changed) -> None:
        try:
            value = float(event.value)
        except ValueError:
            value = None
        name = core.preset_for(value)
        preset = self.query_one("#preset", Select)
        if preset.value != name:
            preset.value = name

    @on(Input.Changed)
    @on(Select.Changed)
    def _changed(self) -> None:
        if self.rows is not None:
            self.show_defaults(self.rows)
        self.post_message(self.Changed())
