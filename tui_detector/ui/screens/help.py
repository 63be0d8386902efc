"""Every key binding, by screen (``?`` or ``f1``)."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Header, Static

KEYS: list[tuple[str, list[tuple[str, str]]]] = [
    ("Everywhere", [("?  f1", "this help"), ("escape", "back"), ("q", "quit (asks while a model trains)"), ("tab", "next field")]),
    ("Open file", [("enter", "open the highlighted file / the typed path"), ("↑ ↓", "move in the tree or the recent files")]),
    (
        "Set up",
        [
            ("space", "include / exclude the highlighted column"),
            ("t", "train (or use the cached model)"),
            ("r", "retrain even if a cached model exists"),
            ("tab", "to the model, epochs, threshold preset and percentile"),
        ],
    ),
    ("Training", [("escape", "cancel training, back to Set up")]),
    (
        "Results",
        [
            ("↑ ↓ ← →  pgup pgdn  home end", "move"),
            ("s  (click a header)", "sort by the column; again reverses"),
            ("a", "anomalies only / all rows"),
            ("/", "search every cell; escape clears"),
            ("+  -", "raise / lower the threshold (no retraining)"),
            ("enter", "open the row: why it is strange"),
            ("e", "export JSON (and a scored copy)"),
            ("n", "score another file with this model (schema check and drift first)"),
        ],
    ),
    (
        "Score with this model",
        [("enter", "show the new file's rows"), ("m", "read renamed columns as the model's names"), ("escape", "back")],
    ),
]


class HelpScreen(Screen[None]):
    """The key reference; any of ``escape``, ``q``, ``?`` closes it."""

    SUB_TITLE = "Help"
    BINDINGS = [
        Binding("escape", "dismiss", "Close"),
        Binding("q", "dismiss", "Close", show=False),
        Binding("question_mark", "dismiss", "Close", show=False),
        Binding("f1", "dismiss", "Close", show=False),
    ]

    def compose(self) -> ComposeResult:
        table = Table.grid(padding=(0, 2))
        table.add_column(style="bold")
        table.add_column()
        for title, keys in KEYS:
            table.add_row(Text(title, style="bold underline"), "")
            for key, what in keys:
                table.add_row(Text(key, style="bold cyan"), Text(what))
            table.add_row("", "")
        yield Header()
        with VerticalScroll(id="help"):
            yield Static(table)
        yield Footer()

    async def action_dismiss(self, result: None = None) -> None:
        self.dismiss(None)
