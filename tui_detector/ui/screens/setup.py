"""Set up: pick the sheet, check the column roles the core guessed, choose the model, train.

The screen composes small widgets: the reading status line (whose worker reads the file),
the sheet list, the roles table, the preview, the settings form and the cache note. ``t`` asks
the app to train (:class:`~..journey.StartTraining`); ``escape`` to go back to the files.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Label, OptionList, Static

from tui_detector import core

from ..journey import BackToFiles, StartTraining, TrainingJob
from ..recent import remember
from ..widgets.cache_note import CacheNote
from ..widgets.reading_status import ReadingStatus
from ..widgets.roles_table import RolesTable
from ..widgets.settings_form import SettingsForm
from ..widgets.sheet_list import SheetList
from ..widgets.table_preview import TablePreview

if TYPE_CHECKING:
    from tui_detector.core import DetectionSettings, LoadedTable, SheetInfo


class SetupScreen(Screen[None]):
    SUB_TITLE = "Set up"
    BINDINGS = [
        Binding("t", "train", "Train"),
        Binding("r", "retrain", "Retrain", show=False),
        Binding("space", "toggle_column", "Include/exclude"),
        Binding("o", "keep_totals", "Keep/leave out totals", show=False),
        Binding("escape", "back", "Back"),
    ]

    def __init__(self, path: Path, *, model: str = "auto") -> None:
        super().__init__()
        self.path = path
        self.model = model
        self.sheets: list[SheetInfo] = []
        self.sheet: str | None = None
        self.loaded: LoadedTable | None = None
        self.sha = ""
        #: Rows that look like totals (core.find_totals) and whether the user keeps them.
        self.totals: list = []
        self.keep_totals = False

    def compose(self) -> ComposeResult:
        yield Header()
        # One scrolled body: on a short terminal (80×24) the settings lie below the fold, and a
        # focused field is scrolled into view rather than typed into unseen.
        with VerticalScroll(id="setup-body"):
            yield ReadingStatus(self.path, id="source")
            with Horizontal(id="setup-top"):
                with Vertical(id="sheets-pane"):
                    yield Label("Sheets (rows × columns)", classes="pane-title", id="sheets-title")
                    yield SheetList(id="sheets")
                with Vertical(id="roles-pane"):
                    yield Label("Columns — space includes or excludes", classes="pane-title")
                    yield RolesTable(id="roles")
                    # The highlighted column's reason in full, whatever the terminal's width.
                    yield Static("", id="why")
            yield Label("Preview", classes="pane-title")
            yield TablePreview(id="preview")
            yield Static("", id="totals")
            yield SettingsForm(self.model)
            yield CacheNote(id="cache-note")
            yield Static("", id="message")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(ReadingStatus).read(None, [])

    @property
    def roles(self) -> RolesTable:
        return self.query_one(RolesTable)

    # -- reading (ReadingStatus's worker) --------------------------------------------------

    def cancel_reading(self) -> None:
        """Stop the read in progress: a big file's reader process is killed at once."""
        self.query_one(ReadingStatus).cancel()

    @on(ReadingStatus.Failed)
    def _failed(self, message: ReadingStatus.Failed) -> None:
        self.query_one("#message", Static).update(
            Text(f"Cannot open this file: {message.message}\nescape: back to the file picker", style="bold red")
        )

    @on(ReadingStatus.Loaded)
    def _loaded(self, message: ReadingStatus.Loaded) -> None:
        loaded = message.loaded
        self.loaded, self.sha = loaded, message.sha
        self.sheet = loaded.report.sheet
        remember(self.path)
        sheets = self.query_one(SheetList)
        if loaded.report.file_format == "sqlite":
            # A database lists its tables and views where a workbook lists its sheets.
            self.query_one("#sheets-title", Label).update("Tables and views (rows × columns)")
        if not self.sheets:
            self.sheets = message.sheets
            sheets.show(self.sheets)
        sheets.highlight(self.sheets, self.sheet)
        self.query_one("#message", Static).update("")
        frame = loaded.frame
        self.roles.show(message.profiles, numeric=[str(c) for c, dtype in frame.dtypes.items() if dtype.kind in "iuf"])
        self.query_one(TablePreview).show(frame)
        self.query_one(SettingsForm).show_defaults(len(frame))
        self.roles.focus()
        self.totals = []
        self._show_totals()
        self._find_totals(loaded)
        self.check_cache()

    # -- totals rows ------------------------------------------------------------------------

    @work(thread=True, exclusive=True, exit_on_error=False, group="setup-totals")
    def _find_totals(self, loaded: LoadedTable) -> None:
        # A scan of every text column: off the screen's thread on a big sheet.
        found = list(core.totals_of(loaded))
        self.app.call_from_thread(self._found_totals, loaded, found)

    def _found_totals(self, loaded: LoadedTable, found: list) -> None:
        if loaded is self.loaded:
            self.totals = found
            self._show_totals()
            self.check_cache()

    def _show_totals(self) -> None:
        line = self.query_one("#totals", Static)
        line.display = bool(self.totals)
        if not self.totals or self.loaded is None:
            return
        rows = self.loaded.excel_rows

        def named(t: core.TotalsRow) -> str:
            # The sheet's own row number where the file has one (a CSV has none: its position).
            where = f"sheet row {int(rows[t.position]):,}" if rows is not None else f"row {t.position:,}"
            return where + (f" ({t.label!r})" if t.label else "")

        where = ", ".join(named(t) for t in self.totals[:3]) + (" …" if len(self.totals) > 3 else "")
        count = f"{len(self.totals)} totals row{'s' if len(self.totals) != 1 else ''}"
        text = Text(count, style="bold")
        if self.keep_totals:
            text.append(f" kept in the table: {where} · o: leave out")
        else:
            text.append(f" left out of the model: {where} — {self.totals[0].reason()} · o: keep")
        line.update(text)

    def action_keep_totals(self) -> None:
        if self.totals:
            self.keep_totals = not self.keep_totals
            self._show_totals()
            self.check_cache()

    @on(DataTable.RowHighlighted, "#roles")
    def _why(self, event: DataTable.RowHighlighted) -> None:
        profiles = self.roles.profiles
        if 0 <= event.cursor_row < len(profiles):
            profile = profiles[event.cursor_row]
            text = Text(f"{profile.name}: ", style="bold")
            text.append(f"{profile.role} — {profile.reason}")
            self.query_one("#why", Static).update(text)

    @on(OptionList.OptionSelected, "#sheets")
    def _pick_sheet(self, event: OptionList.OptionSelected) -> None:
        index = event.option_index
        if 0 <= index < len(self.sheets) and self.sheets[index].name != self.sheet:
            self.query_one(ReadingStatus).read(self.sheets[index].name, self.sheets)

    # -- settings and the cache -------------------------------------------------------------

    def action_toggle_column(self) -> None:
        if self.roles.has_focus:
            self.roles.toggle()

    def settings(self, *, retrain: bool = False) -> DetectionSettings:
        """The user's choices as core ``DetectionSettings``; raises ``ValueError`` in plain words."""
        chosen = self.query_one(SettingsForm).choices()
        return core.DetectionSettings(
            model=chosen.model,
            threshold_percentile=chosen.threshold_percentile,
            epochs=chosen.epochs,
            roles=dict(self.roles.overrides) or None,
            use_cache=not retrain,
            keep_totals=self.keep_totals,
        )

    @on(RolesTable.Changed)
    @on(SettingsForm.Changed)
    def _settings_changed(self) -> None:
        if self.loaded is not None:
            self.check_cache()

    def check_cache(self) -> None:
        assert self.loaded is not None
        note = self.query_one(CacheNote)
        try:
            note.check(self.loaded, self.sha, self.settings())
        except ValueError as exc:
            note.invalid(str(exc))

    @property
    def cached(self) -> bool:
        return self.query_one(CacheNote).cached

    @property
    def cache_checked(self) -> bool:
        """Whether the cache note reflects the current settings (tests wait for it)."""
        return self.query_one(CacheNote).checked

    @on(CacheNote.Checked)
    def _cache_checked(self, message: CacheNote.Checked) -> None:
        if not message.cached and self.query_one(SettingsForm).model == "autoencoder":
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
        if not self.roles.used:
            self.notify("Every column is excluded: include at least one (space).", severity="error")
            return
        job = TrainingJob(self.path, self.sheet, self.loaded, self.sha, settings, columns=self.roles.used)
        self.post_message(StartTraining(job))

    def action_retrain(self) -> None:
        self.action_train(retrain=True)

    def action_back(self) -> None:
        self.cancel_reading()
        self.post_message(BackToFiles(self.path))
