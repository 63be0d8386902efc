"""Small modal questions: yes/no (quit while training, overwrite a file), a verdict's note,
and a suppression (every row with this value)."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Static

from tui_detector import core


class ConfirmScreen(ModalScreen[bool]):
    """Dismisses with ``True`` (``y``/the yes button) or ``False`` (``n``/``escape``)."""

    BINDINGS = [
        Binding("y", "answer(True)", "Yes"),
        Binding("n", "answer(False)", "No"),
        Binding("escape", "answer(False)", "No", show=False),
    ]

    def __init__(self, question: str, *, yes: str = "Yes", no: str = "No") -> None:
        super().__init__()
        self.question = question
        self.yes = yes
        self.no = no

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="dialog"):
            # The question may hold a file name: plain text.
            yield Static(Text(self.question), id="question")
            with Horizontal(classes="buttons"):
                yield Button(Text(f"{self.yes} (y)"), id="yes", variant="error")
                yield Button(Text(f"{self.no} (n)"), id="no", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)

    @on(Button.Pressed, "#yes")
    def _yes(self) -> None:
        self.dismiss(True)

    @on(Button.Pressed, "#no")
    def _no(self) -> None:
        self.dismiss(False)


class NoteScreen(ModalScreen["str | None"]):
    """Dismisses with the note typed (``enter``), or ``None`` (``escape``)."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, question: str, note: str = "") -> None:
        super().__init__()
        self.question = question
        self.note = note

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="dialog"):
            yield Static(Text(self.question), id="question")
            yield Input(value=self.note, placeholder="a note kept with the verdict (enter: keep, escape: cancel)", id="note")

    def on_mount(self) -> None:
        self.query_one("#note", Input).focus()

    @on(Input.Submitted, "#note")
    def _submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value.strip())

    def action_cancel(self) -> None:
        self.dismiss(None)


class SuppressScreen(ModalScreen["tuple[str, str | None] | None"]):
    """Dismisses with ``(verdict, last day or None)`` or ``None`` (``escape``).

    ``enter`` in the date field dismisses the rows; the buttons choose dismissed or expected.
    """

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, column: str, value: str, matching: int) -> None:
        super().__init__()
        self.column = column
        self.value = value
        self.matching = matching

    def compose(self) -> ComposeResult:
        question = Text("Suppress every row where ")
        question.append(self.column, style="bold")
        question.append(" = ")
        question.append(self.value, style="bold")
        question.append(f" ({self.matching:,} in this table, and in later files with these columns)?")
        with Vertical(id="dialog", classes="dialog"):
            yield Static(question, id="question")
            yield Input(placeholder="until YYYY-MM-DD (empty: for good)", id="until")
            yield Static(id="until-problem", classes="hint")
            with Horizontal(classes="buttons"):
                yield Button("Dismissed", id="dismissed", variant="error")
                yield Button("Expected", id="expected", variant="warning")
                yield Button("Cancel", id="cancel", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#until", Input).focus()

    def _answer(self, verdict: str) -> None:
        text = self.query_one("#until", Input).value.strip()
        until = None
        if text:
            try:
                until = core.parse_until(text)
            except ValueError as exc:
                self.query_one("#until-problem", Static).update(Text(str(exc), style="red"))
                return
        self.dismiss((verdict, until))

    @on(Input.Submitted, "#until")
    def _submitted(self) -> None:
        self._answer("dismissed")

    @on(Button.Pressed, "#dismissed")
    def _dismissed(self) -> None:
        self._answer("dismissed")

    @on(Button.Pressed, "#expected")
    def _expected(self) -> None:
        self._answer("expected")

    @on(Button.Pressed, "#cancel")
    def _cancel(self) -> None:
        self.dismiss(None)

    def action_cancel(self) -> None:
        self.dismiss(None)
