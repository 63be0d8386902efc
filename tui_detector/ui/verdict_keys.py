"""The verdict keys, the same in Results and Row details: confirm, dismiss, expected, a note, a
suppression (with its dialog), undo, History, and accepting a language model's suggestion.

A screen that has them derives from :class:`VerdictScreen` and says which row and column the
keys act on and how it redraws after a change. Every change re-ranks the unreviewed rows from
the model's own scores (the run is shared, so the other screen sees the new order too).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import numpy as np
from textual.binding import Binding
from textual.screen import Screen

from tui_detector import core

from .journey import OpenHistory
from .review import ReviewBook
from .screens.dialogs import NoteScreen, SuppressScreen
from .triage import ACCEPTED_AS

#: What a row needs before a note can be kept with it.
NO_VERDICT = "Set a verdict on this row first: c confirms, d dismisses, x marks it expected."


class VerdictScreen(Screen[Any]):
    """A screen with the verdict keys (see the module's description)."""

    # Not in the footers: they would push out keys the screens had there (Filter at 120
    # columns); "?" lists them in their own section.
    BINDINGS = [
        Binding("c", "verdict('confirmed')", "Confirm", show=False),
        Binding("d", "verdict('dismissed')", "Dismiss", show=False),
        Binding("x", "verdict('expected')", "Expected", show=False),
        Binding("N", "note", "Note", show=False),
        Binding("S", "suppress", "Suppress", show=False),
        Binding("u", "undo", "Undo", show=False),
        Binding("R", "history", "History", show=False),
        Binding("A", "accept_suggestion", "Accept suggestion", show=False),
    ]

    # -- what each screen says -------------------------------------------------------------

    @property
    def verdict_model(self) -> Any:
        """The results model (``ResultsModel``) whose rows the keys act on."""
        raise NotImplementedError

    def verdict_row(self) -> int | None:
        """The row the keys act on (None: there is none)."""
        raise NotImplementedError

    def verdict_column(self) -> str | None:
        """The sheet column a suppression would use (None: the cursor is on none)."""
        raise NotImplementedError

    def verdict_changed(self, what: str, row: int) -> None:
        """Redraw after a change on ``row``; ``what`` says it in words."""
        raise NotImplementedError

    # -- the keys --------------------------------------------------------------------------

    def _book(self) -> ReviewBook | None:
        book = self.verdict_model.review
        if book is None:
            self.notify("The verdicts are still being read; try again in a moment.", severity="warning")
            return None
        if book.problem is not None:
            self.notify(f"Verdicts cannot be kept: {book.problem}", severity="error", markup=False)
            return None
        return book

    def _row(self) -> int | None:
        row = self.verdict_row()
        if row is None:
            self.notify("No row here.", severity="warning")
        return row

    def _change(self, change: Callable[[], str | None], row: int) -> None:
        try:
            what = change()
        except (core.StoreError, ValueError) as exc:
            self.notify(str(exc), severity="error", markup=False, timeout=8)
            return
        if what is None:
            return
        model = self.verdict_model
        run = model.run
        scores = model.review.session.ranked_scores()
        if not np.array_equal(run.detection.scores, scores):
            run.detection = dataclasses.replace(run.detection, scores=scores)
        model.rebuild()
        self.verdict_changed(what, row)
        self.notify(what, markup=False)

    def action_verdict(self, verdict: str) -> None:
        book, row = self._book(), self._row()
        if book is not None and row is not None:
            self._change(lambda: book.set([row], verdict), row)

    def action_note(self) -> None:
        book, row = self._book(), self._row()
        if book is None or row is None:
            return
        current = book.state.verdicts.get(row)
        if current is None:
            self.notify(NO_VERDICT, severity="warning")
            return

        def noted(note: str | None) -> None:
            if note is not None:
                self._change(lambda: book.add_note(row, note), row)

        self.app.push_screen(NoteScreen(f"A note on row {row} ({current.verdict})", current.note or ""), noted)

    def action_suppress(self) -> None:
        book, row = self._book(), self._row()
        if book is None or row is None:
            return
        name = self.verdict_column()
        if name is None:
            self.notify("Put the cursor on a column of the sheet: its value is what is suppressed.", severity="warning")
            return
        cells = book.session.fingerprinter.cells(self.verdict_model.run.frame, name)
        if not cells[row]:
            self.notify("This cell is empty: there is no value to suppress by.", severity="warning")
            return
        matching = int(np.count_nonzero(cells == cells[row]))

        def chosen(answer: tuple[str, str | None] | None) -> None:
            if answer is not None:
                verdict, until = answer
                self._change(lambda: book.set([row], verdict, suppress_column=name, until=until), row)

        shown = self.verdict_model.value_text(row, name)
        self.app.push_screen(SuppressScreen(name, shown, matching), chosen)

    def action_undo(self) -> None:
        book = self._book()
        if book is None:
            return
        if not book.can_undo:
            self.notify("Nothing to undo.", severity="warning")
            return
        row = self.verdict_row()
        self._change(book.undo, row if row is not None else -1)

    def action_accept_suggestion(self) -> None:
        """The model's suggestion on the row becomes the analyst's verdict (only by this key)."""
        book, row = self._book(), self._row()
        if book is None or row is None:
            return
        triage = self.verdict_model.triage
        suggestion = None if triage is None else triage.get(row)
        if suggestion is None:
            self.notify("No model suggestion for this row (t in Results asks the model).", severity="warning")
            return
        verdict = ACCEPTED_AS.get(suggestion.verdict)
        if verdict is None:
            self.notify("The model suggests a human review, which is no verdict: c, d or x decide.", severity="warning")
            return
        note = f"accepted the suggestion of {suggestion.model}: {suggestion.rationale}"
        self._change(lambda: book.set([row], verdict, note=note) + f" (the suggestion of {suggestion.model}, accepted)", row)

    def action_history(self) -> None:
        self.post_message(OpenHistory())
