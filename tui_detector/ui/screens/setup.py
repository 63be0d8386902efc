"""Set up: pick the sheet, check the column roles the core guessed, choose the model, train."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Input, Label, OptionList, Select, Static
from textual.widgets.option_list import Option

from tui_detector import core

from ..journey import BackToFiles, StartTraining, TrainingJob
from ..recent import remember

if TYPE_CHECKING:
    from tui_detector.core import ColumnProfile, DetectionSettings, LoadedTable, SheetInfo

PREVIEW_ROWS = 6
MODEL_ROLES = ("numeric", "boolean", "datetime", "categorical")
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


class SetupScreen(Screen[None]):
    SUB_TITLE = "Set up"
    BINDINGS = [
        Binding("t", "train", "Train"),
        Binding("r", "retrain", "Retrain", show=False),
        Binding("space", "toggle_column", "Include/exclude"),
        Binding("escape", "back", "Back"),
    ]

    @dataclass
    class Loaded(Message):
        sheets: list[SheetInfo]
        loaded: LoadedTable
        sha: str
        profiles: list[ColumnProfile]

    @dataclass
    class Failed(Message):
        message: str

    @dataclass
    class Reading(Message):
        """The sheet list is known (sizes included) and the sheet itself is being read."""

        sheets: list[SheetInfo]
        sheet: str | None

    @dataclass
    class Stage(Message):
        """The reader moved on to its next long step ("typing 1,048,576 rows")."""

        text: str

    @dataclass
    class CacheChecked(Message):
        cached: bool

    def __init__(self, path: Path, *, model: str = "auto") -> None:
        super().__init__()
        self.path = path
        self.model = model
        self.sheets: list[SheetInfo] = []
        self.sheet: str | None = None
        self.loaded: LoadedTable | None = None
        self.sha = ""
        self.inferred: dict[str, ColumnProfile] = {}
        self.profiles: list[ColumnProfile] = []
        self.overrides: dict[str, str] = {}
        self.cached = False
        #: Whether the cache notice reflects the current settings (tests wait for it).
        self.cache_checked = False
        self._reading_text = f"Reading {path.name}"
        self._reading_started: float | None = None
        self._reading_timer: Any = None
        self._read_cancel = threading.Event()
        self._reading_stage = ""

    # -- layout -----------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(Text(f"Reading {self.path.name} …"), id="source")
        with Horizontal(id="setup-top"):
            with Vertical(id="sheets-pane"):
                yield Label("Sheets", classes="pane-title")
                yield OptionList(id="sheets")
            with Vertical(id="roles-pane"):
                yield Label("Columns — space includes or excludes", classes="pane-title")
                yield DataTable(id="roles", cursor_type="row", zebra_stripes=True)
        yield Label("Preview", classes="pane-title")
        yield DataTable(id="preview", cursor_type="none", zebra_stripes=True, show_cursor=False)
        with Horizontal(id="settings"):
            yield Label("Model", classes="setting-label")
            yield Select(MODELS, value=self.model, allow_blank=False, id="model")
            yield Label("Epochs", classes="setting-label")
            yield Input("", placeholder="auto", id="epochs", restrict=r"[0-9]*", max_length=5)
        with Horizontal(id="threshold-settings"):
            yield Label("Threshold", classes="setting-label")
            yield Select(PRESET_CHOICES, value="balanced", allow_blank=False, id="preset")
            yield Label("percentile", classes="setting-label")
            yield Input("95", id="threshold", restrict=r"[0-9.]*", max_length=6)
        yield Static("", id="defaults")
        yield Static("", id="cache-note")
        yield Static("", id="message")
        yield Footer()

    def on_mount(self) -> None:
        roles = self.query_one("#roles", DataTable)
        for label in ("column", "role", "used", "why", "distinct", "missing"):
            roles.add_column(Text(label), key=label)
        self._start_reading_clock(f"Reading {self.path.name}")
        self._read(None)

    # -- reading (a worker: files can be big) -----------------------------------------------

    def _read(self, sheet: str | None) -> None:
        """Start reading ``sheet``; a read still running (another sheet) is stopped first."""
        self._read_cancel.set()
        self._read_cancel = threading.Event()
        self.load(sheet, self._read_cancel)

    def cancel_reading(self) -> None:
        """Stop the read in progress: a big file's reader process is killed at once."""
        self._read_cancel.set()

    def on_unmount(self) -> None:
        self.cancel_reading()

    @work(thread=True, exclusive=True, exit_on_error=False, group="setup-read")
    def load(self, sheet: str | None, cancel: threading.Event | None = None) -> None:
        try:
            if self.sheets:
                sheets = self.sheets
                self.post_message(self.Reading(sheets, sheet))
                loaded, sha = core.load_source(self.path, sheet, cancel=cancel, on_stage=self._post_stage)
            else:
                sheets, (loaded, sha) = core.open_source(
                    self.path,
                    sheet,
                    on_sheets=lambda found: self.post_message(self.Reading(found, sheet)),
                    on_stage=self._post_stage,
                    cancel=cancel,
                )
            if cancel is not None and cancel.is_set():
                return
            profiles = core.profile_columns(loaded.frame)
        except core.ReadCancelled:
            return  # the user left this screen; nothing to show
        except core.ReadError as exc:
            self.post_message(self.Failed(str(exc)))
            return
        except MemoryError:
            self.post_message(self.Failed("not enough memory to read this table"))
            return
        except Exception as exc:  # noqa: BLE001 - a bad file leaves a message, never a dead app
            self.post_message(self.Failed(f"{type(exc).__name__}: {exc}"))
            return
        self.post_message(self.Loaded(sheets, loaded, sha, profiles))

    def _post_stage(self, text: str) -> None:
        self.post_message(self.Stage(text))

    @on(Stage)
    def _stage(self, message: Stage) -> None:
        self._reading_stage = message.text
        self._show_reading()

    @on(Reading)
    def _reading(self, message: Reading) -> None:
        info = None
        if message.sheets:
            wanted = message.sheet
            visible = [i for i in message.sheets if i.visible] or message.sheets
            info = next((i for i in message.sheets if i.name == wanted), None) if wanted else visible[0]
        what = f"sheet {info.name} of {self.path.name}" if info else self.path.name
        size = f" ({info.rows:,} rows × {info.columns} columns)" if info else ""
        self._reading_text = f"Reading {what}{size}"
        self._show_reading()

    def _start_reading_clock(self, text: str) -> None:
        """Elapsed seconds on screen from the start: listing a big workbook's sheets alone takes a while."""
        self._reading_text = text
        self._reading_stage = ""
        self._reading_started = time.monotonic()
        if self._reading_timer is None:
            self._reading_timer = self.set_interval(0.5, self._show_reading)
        self._show_reading()

    def _show_reading(self) -> None:
        if self._reading_started is None:
            return
        elapsed = time.monotonic() - self._reading_started
        text = Text(f"{self._reading_text} … {elapsed:.0f} s", style="bold")
        if self._reading_stage:
            text.append(f"   {self._reading_stage}", style="italic")
        text.append("   escape: back to the file picker", style="dim")
        self.query_one("#source", Static).update(text)

    def _stop_reading_clock(self) -> None:
        self._reading_started = None
        if self._reading_timer is not None:
            self._reading_timer.stop()
            self._reading_timer = None

    @on(Failed)
    def _failed(self, message: Failed) -> None:
        self._stop_reading_clock()
        self.query_one("#source", Static).update(Text(f"Cannot open {self.path.name}"))
        self.query_one("#message", Static).update(
            Text(f"Cannot open this file: {message.message}\nescape: back to the file picker", style="bold red")
        )

    @on(Loaded)
    def _loaded(self, message: Loaded) -> None:
        self._stop_reading_clock()
        self.loaded, self.sha = message.loaded, message.sha
        self.inferred = {p.name: p for p in message.profiles}
        self.overrides = {}
        self.profiles = list(message.profiles)
        report = message.loaded.report
        self.sheet = report.sheet
        remember(self.path)
        if not self.sheets:
            self.sheets = message.sheets
            options = self.query_one("#sheets", OptionList)
            for info in self.sheets:
                label = Text(info.name)
                label.append(f"  {info.rows:,} × {info.columns}", style="dim")
                if not info.visible:
                    label.append("  (hidden)", style="italic yellow")
                options.add_option(Option(label, id=f"sheet-{info.index}"))
            if not self.sheets:  # CSV: one table, no sheets
                options.add_option(Option(Text("(one table)", style="dim"), disabled=True))
        self._highlight_sheet()
        source = Text(self.path.name, style="bold")
        if report.sheet:
            source.append(" · sheet ")
            source.append(report.sheet, style="bold")
        header = f"header on row {report.header_row}" if report.header_row else "no header row"
        source.append(f" · {report.rows:,} rows × {len(report.columns)} columns · {header}")
        if report.warnings:
            source.append(f" · {len(report.warnings)} warning(s): ", style="yellow")
            source.append(report.warnings[0], style="yellow")
        self.query_one("#source", Static).update(source)
        self.query_one("#message", Static).update("")
        self._show_roles()
        self._show_preview()
        self._show_defaults()
        self.query_one("#roles", DataTable).focus()
        self.check_cache()

    def _highlight_sheet(self) -> None:
        options = self.query_one("#sheets", OptionList)
        for i, info in enumerate(self.sheets):
            if info.name == self.sheet:
                options.highlighted = i

    @on(OptionList.OptionSelected, "#sheets")
    def _pick_sheet(self, event: OptionList.OptionSelected) -> None:
        index = event.option_index
        if 0 <= index < len(self.sheets) and self.sheets[index].name != self.sheet:
            self._start_reading_clock(f"Reading sheet {self.sheets[index].name} of {self.path.name}")
            self._read(self.sheets[index].name)

    def _show_roles(self) -> None:
        table = self.query_one("#roles", DataTable)
        keep = table.cursor_row
        table.clear()
        for p in self.profiles:
            used = Text("✓ used", style="green") if p.used else Text("✗ excluded", style="dim")
            table.add_row(
                Text(p.name), Text(str(p.role)), used, Text(p.reason), Text(f"{p.distinct:,}"), Text(f"{p.missing:,}")
            )
        if self.profiles:
            table.move_cursor(row=min(keep, len(self.profiles) - 1))

    def _show_preview(self) -> None:
        # The results' cell format loads NumPy: imported with the first table, not at start-up.
        from ..results_model import format_value  # noqa: PLC0415

        assert self.loaded is not None
        frame = self.loaded.frame
        table = self.query_one("#preview", DataTable)
        table.clear(columns=True)
        head = frame.head(PREVIEW_ROWS)
        cells = [[format_value(v)[:30] for v in row] for row in head.itertuples(index=False)]
        # Explicit widths: auto-sized columns settle on a later refresh, so screenshots raced.
        for i, name in enumerate(frame.columns):
            label = format_value(str(name))
            width = max([len(label[:30]), *(len(row[i]) for row in cells), 1])
            table.add_column(Text(label), width=width)
        for row in cells:
            table.add_row(*(Text(cell) for cell in row))

    # -- roles ------------------------------------------------------------------------------

    def action_toggle_column(self) -> None:
        table = self.query_one("#roles", DataTable)
        if not self.profiles or not table.has_focus:
            return
        profile = self.profiles[table.cursor_row]
        new = core.toggle_column(profile, self.inferred[profile.name], numeric=self._numeric(profile.name))
        if new is None:
            self.notify("This column is empty: nothing to learn from it.", severity="warning")
            return
        if new.forced:
            self.overrides[profile.name] = str(new.role)
        else:
            self.overrides.pop(profile.name, None)
        self.profiles[table.cursor_row] = new
        self._show_roles()
        self.check_cache()

    def _numeric(self, name: str) -> bool:
        assert self.loaded is not None
        return self.loaded.frame[name].dtype.kind in "iuf"

    # -- settings and the cache -------------------------------------------------------------

    def settings(self, *, retrain: bool = False) -> DetectionSettings:
        """The user's choices as core ``DetectionSettings``; raises ``ValueError`` in plain words."""
        threshold_text = self.query_one("#threshold", Input).value.strip()
        threshold = core.check_percentile(threshold_text) if threshold_text else core.DEFAULT_PERCENTILE
        epochs_text = self.query_one("#epochs", Input).value.strip()
        epochs = int(epochs_text) if epochs_text else None
        if epochs is not None and epochs < 1:
            raise ValueError("epochs must be at least 1 (or empty for automatic)")
        model = str(self.query_one("#model", Select).value)
        return core.DetectionSettings(
            model=model,
            threshold_percentile=threshold,
            epochs=epochs,
            roles=dict(self.overrides) or None,
            use_cache=not retrain,
        )

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
    def _settings_changed(self) -> None:
        if self.loaded is not None:
            self._show_defaults()
            self.check_cache()

    def _show_defaults(self) -> None:
        """What training will use for this table's size, so the automatic choices are visible."""
        assert self.loaded is not None
        plan = core.size_defaults(len(self.loaded.frame), str(self.query_one("#model", Select).value))
        epochs = self.query_one("#epochs", Input).value.strip()
        text = Text("Defaults for this size: ", style="dim")
        text.append(plan.describe(), style="dim")
        if epochs and plan.batch_size is not None:
            text.append(f" · you chose {epochs} epochs", style="dim italic")
        self.query_one("#defaults", Static).update(text)

    def check_cache(self) -> None:
        self.cache_checked = False
        try:
            settings = self.settings()
        except ValueError as exc:
            self.query_one("#cache-note", Static).update(Text(str(exc), style="yellow"))
            self.cached = False
            return
        self._check_cache(settings)

    @work(thread=True, exclusive=True, exit_on_error=False, group="setup-cache")
    def _check_cache(self, settings: DetectionSettings) -> None:
        assert self.loaded is not None
        try:
            cached = core.ModelCache().contains(core.cache_inputs_for(self.loaded, self.sha, settings))
        except Exception:  # noqa: BLE001 - no cache is no reason to stop
            cached = False
        self.post_message(self.CacheChecked(cached))

    @on(CacheChecked)
    def _cache_checked(self, message: CacheChecked) -> None:
        self.cached = message.cached
        self.cache_checked = True
        note = self.query_one("#cache-note", Static)
        if message.cached:
            note.update(
                Text("A model trained on exactly this data and set-up is cached: t uses it (results at once), r retrains.", style="green")
            )
        else:
            note.update(Text("t trains a model on this sheet.", style="dim"))
            if str(self.query_one("#model", Select).value) == "autoencoder":
                self._prewarm()

    @work(thread=True, exclusive=True, exit_on_error=False, group="setup-prewarm")
    def _prewarm(self) -> None:
        """Load TensorFlow while the user checks the set-up, so that training's first seconds
        do not freeze on its import. Only for the design note's Keras network, when no cached
        model fits ("auto" trains its network in NumPy and never imports TensorFlow)."""
        core.prewarm_tensorflow()

    # -- actions ----------------------------------------------------------------------------

    def action_train(self, retrain: bool = False) -> None:
        if self.loaded is None:
            self.notify("The file is not read yet (or could not be read).", severity="warning")
            return
        try:
            settings = self.settings(retrain=retrain)
        except ValueError as exc:
            self.notify(str(exc), severity="error", markup=False)
            return
        if not any(p.used for p in self.profiles):
            self.notify("Every column is excluded: include at least one (space).", severity="error")
            return
        job = TrainingJob(self.path, self.sheet, self.loaded, self.sha, settings, columns=sum(p.used for p in self.profiles))
        self.post_message(StartTraining(job))

    def action_retrain(self) -> None:
        self.action_train(retrain=True)

    def action_back(self) -> None:
        self.cancel_reading()
        self.post_message(BackToFiles(self.path))
