"""Every key binding, by screen (``?`` or ``f1``), read from the screens' own ``BINDINGS`` (and
those of the tables and lists they walk), so the help cannot fall behind the keys.

What a key does is its binding's description unless :data:`WORDS` says it better; a few keys
that are not bindings (``tab``, a header click) are added per screen in :data:`EXTRA`.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Header, Static

#: Each section: its title and the classes whose bindings it lists ("module:Class", imported
#: when help opens, so that the app's start-up loads none of the results screens' NumPy).
SECTIONS: list[tuple[str, tuple[str, ...]]] = [
    ("Everywhere", ("tui_detector.ui.app:AnomalyApp",)),
    ("Results", ("tui_detector.ui.screens.results:ResultsScreen", "tui_detector.ui.widgets.score_table:ScoreTable")),
    ("Row details", ("tui_detector.ui.screens.row_detail:RowDetailScreen", "tui_detector.ui.widgets.vim_keys:VimTable")),
    ("Column histogram", ("tui_detector.ui.screens.column_histogram:ColumnHistogramScreen",)),
    ("Note and suppression dialogs", ("tui_detector.ui.screens.dialogs:NoteScreen", "tui_detector.ui.screens.dialogs:SuppressScreen")),
    ("Export", ("tui_detector.ui.screens.export:ExportScreen",)),
    (
        "Open file",
        (
            "tui_detector.ui.screens.open_file:OpenFileScreen",
            "tui_detector.ui.screens.open_file:DataFileTree",
            "tui_detector.ui.widgets.vim_keys:VimOptionList",
        ),
    ),
    ("Set up", ("tui_detector.ui.screens.setup:SetupScreen", "tui_detector.ui.widgets.roles_table:RolesTable")),
    ("Training", ("tui_detector.ui.screens.training:TrainingScreen",)),
    ("Score with this model", ("tui_detector.ui.screens.baseline:BaselineScreen",)),
    ("Verdicts (Results and Row details)", ("tui_detector.ui.verdict_keys:VerdictScreen",)),
    ("History", ("tui_detector.ui.screens.history:HistoryScreen",)),
    ("Questions (yes / no)", ("tui_detector.ui.screens.dialogs:ConfirmScreen",)),
    ("Help", ("tui_detector.ui.screens.help:HelpScreen",)),
]

#: Keys that are not bindings of those classes, per section.
EXTRA: dict[str, list[tuple[str, str]]] = {
    "Everywhere": [("escape", "back (each screen says where)"), ("tab  shift+tab", "next / previous field")],
    "Open file": [("↑ ↓  enter", "move in the tree or the recent files; open"), ("space", "open or close a folder")],
    "Set up": [("↑ ↓", "move in the columns")],
    "Results": [("click a header", "sort by that column")],
    "Row details": [("↑ ↓", "move in the tables")],
    "History": [("↑ ↓  enter", "move in the runs; open the run's file again")],
    "Note and suppression dialogs": [("enter", "keep the note; suppress as dismissed"), ("tab", "to the Dismissed / Expected buttons")],
    "Export": [("enter", "write (in a field or on Export)"), ("space", "tick or untick a box")],
}

#: Better words than a binding's short description, by section and action.
WORDS: dict[tuple[str, str], str] = {
    ("Everywhere", "quit"): "quit (asks while a model trains)",
    ("Everywhere", "help"): "this help",
    ("Open file", "back"): "back (when picking a file to score)",
    ("Open file", "up"): "up a folder (with nothing typed, or from the tree)",
    ("Set up", "train"): "train (or use the cached model)",
    ("Set up", "retrain"): "retrain even if a cached model exists",
    ("Set up", "toggle_column"): "include / exclude the highlighted column",
    ("Set up", "back"): "back to the files",
    ("Training", "cancel"): "cancel training, back to Set up",
    ("Results", "toggle_rows"): "anomalies only / all rows",
    ("Results", "search"): "search every cell (substring); escape clears",
    ("Results", "filter"): "filter by columns: currency = CHF and amount > 1000 (= != < <= > >= ~ contains; and , or)",
    ("Results", "histogram"): "the focused column's distribution, this row's value marked",
    ("Results", "threshold(1)"): "raise the threshold (no retraining)",
    ("Results", "threshold(-1)"): "lower the threshold (no retraining)",
    ("Results", "export"): "export JSON (and a scored copy)",
    ("Results", "score_another"): "score another file with this model (schema check and drift first)",
    ("Results", "back"): "clear the search, then the filter; then back to Set up",
    ("Results", "sort_column"): "sort by the column under the cursor; again reverses (the view starts at the top)",
    ("Results", "choose"): "open the row: why it is strange",
    ("Results", "copy_cell"): "copy the focused cell",
    ("Results", "copy_row"): "copy the row, tab-separated",
    ("Results", "toggle_reviewed"): "show / hide reviewed rows (hidden once verdicts exist)",
    ("Verdicts (Results and Row details)", "verdict('confirmed')"): "confirm: a real anomaly (kept in the review store)",
    ("Verdicts (Results and Row details)", "verdict('dismissed')"): "dismiss: not an anomaly (left out of later lists)",
    ("Verdicts (Results and Row details)", "verdict('expected')"): "expected: odd but known and benign",
    ("Verdicts (Results and Row details)", "note"): "a note on the row's verdict",
    ("Verdicts (Results and Row details)", "suppress"): "suppress every row with the highlighted cell's value (here and in later files), optionally until a day",
    ("Verdicts (Results and Row details)", "undo"): "undo the last verdict",
    ("Verdicts (Results and Row details)", "history"): "past runs (History)",
    ("Verdicts (Results and Row details)", "accept_suggestion"): "accept the language model's suggestion as the verdict (suspicious: confirmed, likely benign: expected)",
    ("Results", "screen.triage"): "ask the language model about the flagged rows (set up: README); again cancels",
    ("Row details", "step_unreviewed(1)"): "next unreviewed row of the table",
    ("Row details", "step_unreviewed(-1)"): "previous unreviewed row of the table",
    ("History", "back"): "back",
    ("Row details", "step(1)"): "next row of the table (its order and filter)",
    ("Row details", "step(-1)"): "previous row of the table",
    ("Row details", "histogram"): "the highlighted column's distribution, actual and expected marked",
    ("Column histogram", "close"): "back",
    ("Export", "cancel"): "cancel",
    ("Score with this model", "results"): "show the new file's rows",
    ("Score with this model", "map_renames"): "read renamed columns as the model's names",
}

#: The widest the keys column grows (a long list of twins wraps inside it).
KEY_WIDTH = 18

#: Key names as the keyboard shows them.
KEY_NAMES = {
    "up": "↑",
    "down": "↓",
    "left": "←",
    "right": "→",
    "pageup": "pgup",
    "pagedown": "pgdn",
    "question_mark": "?",
    "slash": "/",
    "vertical_line": "|",
    "left_square_bracket": "[",
    "right_square_bracket": "]",
    "left_curly_bracket": "{",
    "right_curly_bracket": "}",
    "plus": "+",
    "equals_sign": "=",
    "minus": "-",
}


def key_name(key: str) -> str:
    return KEY_NAMES.get(key, key)


@dataclass
class HelpLine:
    keys: list[str]
    action: str
    what: str


def _class(path: str) -> type:
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


def section_lines(title: str, classes: tuple[str, ...]) -> list[HelpLine]:
    """The section's keys, one line per action, in the order the classes bind them."""
    lines: dict[str, HelpLine] = {}
    for path in classes:
        for binding in Binding.make_bindings(_class(path).__dict__.get("BINDINGS", [])):
            line = lines.get(binding.action)
            if line is None:
                what = WORDS.get((title, binding.action)) or binding.description.lower() or binding.action
                line = lines[binding.action] = HelpLine([], binding.action, what)
            if key_name(binding.key) not in line.keys:
                line.keys.append(key_name(binding.key))
    return list(lines.values())


#: Movement actions, a line per kind in each section (a line per key would fill the screen).
MOVES = {
    "move": ("cursor", "cursor_up", "cursor_down", "cursor_left", "cursor_right"),
    "page": ("page", "half_page", "page_up", "page_down"),
    "ends": ("jump", "scroll_top", "scroll_bottom", "first", "last", "first_line", "last_line"),
}


def _kind(action: str) -> str:
    name = action.partition("(")[0]
    return next((kind for kind, names in MOVES.items() if name in names), "")


def help_sections() -> list[tuple[str, list[tuple[str, str]]]]:
    """Every section as (title, [(keys, what it does)]); each movement key's twins share a slot
    (``↑/k``), and movement takes a line for the cursor and one for pages."""
    out = []
    for title, classes in SECTIONS:
        rows: list[tuple[str, str]] = []
        grouped: dict[str, list[HelpLine]] = {kind: [] for kind in MOVES}
        for line in section_lines(title, classes):
            kind = _kind(line.action)
            if kind:
                if not grouped[kind]:
                    rows.append((kind, ""))  # its place among the section's keys
                grouped[kind].append(line)
            else:
                rows.append(("  ".join(line.keys), line.what))
        rows = [row for row in rows if row[0] not in MOVES]
        for lines in grouped.values():  # movement last: what is special to the screen first
            if lines:
                rows.append(("  ".join("/".join(line.keys) for line in lines), ", ".join(line.what for line in lines)))
        out.append((title, rows + EXTRA.get(title, [])))
    return out


def _table(sections: list[tuple[str, list[tuple[str, str]]]]) -> Group:
    """The sections, each its title over a grid of keys (all grids share the key width)."""
    parts: list[Text | Table] = []
    for title, keys in sections:
        parts.append(Text(title, style="bold underline"))
        grid = Table.grid(padding=(0, 2))
        grid.add_column(style="bold", min_width=KEY_WIDTH, max_width=KEY_WIDTH)
        grid.add_column()
        for key, what in keys:
            grid.add_row(Text(key, style="bold cyan"), Text(what))
        parts.extend([grid, Text("")])
    return Group(*parts)


def _split(sections: list[tuple[str, list[tuple[str, str]]]], room: int) -> int:
    """Where the second column starts, so that the two are about as long (lines, wrapped in
    ``room`` cells); a column never ends inside a section."""
    sizes = [2 + sum(max(1, -(-len(what) // max(room, 10))) for _, what in keys) for _, keys in sections]
    return min(range(1, len(sections) + 1), key=lambda i: max(sum(sizes[:i]), sum(sizes[i:])))


#: From this width the sections are laid out in two columns.
TWO_COLUMNS = 110


class HelpScreen(Screen[None]):
    """The key reference; any of ``escape``, ``q``, ``?`` closes it. The section of the screen
    it was opened from comes first; on a wide terminal the sections fill two columns."""

    DEFAULT_CSS = """
    HelpScreen #help-columns { height: auto; }
    HelpScreen .help-column { width: 1fr; height: auto; padding-right: 2; }
    """

    SUB_TITLE = "Help"
    BINDINGS = [
        Binding("escape", "dismiss", "Close"),
        Binding("q", "dismiss", "Close", show=False),
        Binding("question_mark", "dismiss", "Close", show=False),
        Binding("f1", "dismiss", "Close", show=False),
    ]

    def __init__(self, current: str | None = None) -> None:
        super().__init__()
        #: The title of the section to show first (the screen help was opened from).
        self.current = current

    def compose(self) -> ComposeResult:
        sections = help_sections()
        # The screen help was opened from first, then the keys of every screen, then the rest.
        sections.sort(key=lambda section: (section[0] != self.current, section[0] != "Everywhere"))
        width = self.app.size.width
        self._two = width >= TWO_COLUMNS
        yield Header()
        with VerticalScroll(id="help"), Horizontal(id="help-columns"):
            if self._two:
                split = _split(sections, width // 2 - KEY_WIDTH - 8)
                yield Static(_table(sections[:split]), classes="help-column")
                yield Static(_table(sections[split:]), classes="help-column")
            else:
                yield Static(_table(sections), classes="help-column")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#help-columns").styles.layout = "horizontal" if self._two else "vertical"

    def on_resize(self) -> None:
        if (self.app.size.width >= TWO_COLUMNS) != self._two:
            self.refresh(recompose=True)
            self.call_after_refresh(self.on_mount)

    async def action_dismiss(self, result: None = None) -> None:
        self.dismiss(None)
