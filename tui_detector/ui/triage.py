"""A language model's first opinion on the flagged rows, in Results (``t``) and Row details.

:class:`TriageBook` is plain Python: the suggestions that arrived (row → ``core.Suggestion``),
what failed, the progress, and the cancel switch. :class:`TriageResults` is the Results screen's
part: ``t`` starts asking about the flagged rows (the table's order first) in a thread worker,
``t`` again cancels; the screen draws new answers ten times a second while the table keeps moving.

A suggestion is shown beside the analyst's verdict, never as one: it changes no score and no
rank; ``A`` (see ..verdict_keys) turns it into a verdict. Its text is drawn as plain text.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
from rich.text import Text
from textual import work

from tui_detector import core

#: What accepting a suggestion records (needs_review is no verdict: the analyst decides).
ACCEPTED_AS = {"suspicious": "confirmed", "likely_benign": "expected"}
#: The most flagged rows one ``t`` asks about (a local 8B model answers a few a second at best).
TRIAGE_LIMIT = 1_000
#: How often the screen looks for new answers while triage runs (seconds).
REFRESH_EVERY = 0.1
#: How the table's column says a row's suggestion: the model's, not a verdict.
COLUMN_LABEL = "model suggests"
VERDICT_STYLE = {"suspicious": "bold red", "likely_benign": "green", "needs_review": "yellow"}
NO_ENDPOINT = (
    "No triage model set up: start anomaly-tui with --triage-url http://127.0.0.1:8080/v1 --triage-model NAME, "
    "or set ANOMALY_TUI_TRIAGE_URL and ANOMALY_TUI_TRIAGE_MODEL (README: Triage with a local model)."
)


class TriageBook:
    """The suggestions for one run's rows and the state of the asking."""

    def __init__(self, model_name: str, total: int, *, url: str = "") -> None:
        self.model_name = model_name
        self.url = url
        self.total = total
        self.suggestions: dict[int, Any] = {}
        self.errors: dict[int, str] = {}
        self.cancel = threading.Event()
        self.running = True
        self.problem: str | None = None
        self.from_store = 0
        #: The screen's timer that draws new answers while this book fills.
        self.timer: Any = None

    @property
    def done(self) -> int:
        return len(self.suggestions) + len(self.errors)

    def take(self, outcome: Any) -> None:
        """One outcome of ``core.run_triage`` (from its thread: plain dict writes)."""
        if outcome.suggestion is not None:
            self.suggestions[outcome.row] = outcome.suggestion
            self.from_store += bool(outcome.from_store)
        else:
            self.errors[outcome.row] = outcome.error or "no answer"

    def annotate(self, anomalies: list[dict[str, Any]]) -> dict[str, Any]:
        """Each anomaly's ``triage`` as ``detect --triage`` writes it (an export from the app),
        and the top-level summary."""
        for item in anomalies:
            found = self.suggestions.get(int(item["row_index"]))
            item["triage"] = found.to_json() if found is not None else None
        return {
            "model": self.model_name,
            "url": self.url,
            "prompt_version": core.TRIAGE_PROMPT_VERSION,
            "anomalies": self.total,
            "answered": len(self.suggestions) - self.from_store,
            "from_store": self.from_store,
            "failed": len(self.errors),
            "not_asked": max(self.total - self.done, 0),
            "problem": self.problem,
        }

    def get(self, row: int) -> Any:
        return self.suggestions.get(row)

    def cell(self, row: int) -> str:
        """What the table's suggestion column shows for ``row``."""
        found = self.suggestions.get(row)
        if found is not None:
            return found.label
        return "no answer" if row in self.errors else ""

    def status(self) -> Text:
        text = Text(" · triage by ")
        text.append(self.model_name, style="bold")
        text.append(f": {self.done:,} of {self.total:,}")
        if self.from_store:
            text.append(f" ({self.from_store:,} kept from before)")
        if self.errors:
            text.append(f", {len(self.errors):,} without an answer", style="yellow")
        if self.running:
            text.append(" · t cancels", style="dim")
        elif self.cancel.is_set():
            text.append(" · cancelled", style="yellow")
        return text


def suggestion_text(suggestion: Any, *, accepted: str | None = None) -> Text:
    """One suggestion in words, marked as the model's (Row details)."""
    text = Text("Model's suggestion", style="bold magenta")
    text.append(f" ({suggestion.model}, not a verdict): ", style="magenta")
    text.append(suggestion.label, style=VERDICT_STYLE.get(suggestion.verdict, ""))
    text.append(" — ")
    text.append(suggestion.rationale)
    if suggestion.next_step:
        text.append("  Next step: ", style="bold")
        text.append(suggestion.next_step)
    if suggestion.reason:
        text.append(f"  ({suggestion.reason})", style="dim")
    target = ACCEPTED_AS.get(suggestion.verdict)
    if accepted is None and target is not None:
        text.append(f"  A accepts it as {target}.", style="dim")
    return text


class TriageResults:
    """The Results screen's triage (mixed into ``ResultsScreen``; see the module's description)."""

    model: Any
    run: Any
    app: Any

    def action_triage(self) -> None:
        current = self.model.triage
        if current is not None and current.running:
            current.cancel.set()
            current.running = False
            self.notify("Triage cancelled; the answers so far stay.")  # type: ignore[attr-defined]
            self._triage_redraw()
            return
        if getattr(self, "_triage_starting", False):
            return  # the set-up is being checked already
        review = self.model.review
        if review is None:
            self.notify("The verdicts are still being read; try again in a moment.", severity="warning")  # type: ignore[attr-defined]
            return
        rows = self._triage_rows()
        if not rows:
            self.notify("No flagged rows to triage.", severity="warning")  # type: ignore[attr-defined]
            return
        if len(rows) > TRIAGE_LIMIT:
            self.notify(f"Asking about the first {TRIAGE_LIMIT:,} of {len(rows):,} flagged rows (the table's order).", markup=False)  # type: ignore[attr-defined]
            rows = rows[:TRIAGE_LIMIT]
        self._triage_starting = True
        self.triage_worker(dict(getattr(self.app, "triage_options", {})), rows, review)

    def _triage_refused(self, message: str, severity: str) -> None:
        self._triage_starting = False
        self.notify(message, severity=severity, markup=False, timeout=10)  # type: ignore[attr-defined]

    def _triage_started(self, book: TriageBook) -> None:
        # Asked before: the answers kept in the store come back at once.
        self._triage_starting = False
        self.model.triage = book
        self._triage_redraw()
        # The screen looks for new answers on a timer, not on each answer: a burst from the
        # store costs one repaint, and the last answer before a pause is drawn too.
        drawn = [book.done]

        def tick() -> None:
            if book.done != drawn[0]:
                drawn[0] = book.done
                self._triage_redraw()

        book.timer = self.set_interval(REFRESH_EVERY, tick)  # type: ignore[attr-defined]

    def _triage_rows(self) -> list[int]:
        """The flagged rows, in the table's order first, then the rest by score."""
        flags = self.model.flags
        view = [int(r) for r in self.model.view if flags[r]]
        seen = set(view)
        scores = self.run.detection.scores
        others = np.flatnonzero(flags)
        others = others[np.argsort(-scores[others], kind="stable")]
        return view + [int(r) for r in others if int(r) not in seen]

    @work(thread=True, exclusive=True, exit_on_error=False, group="triage")
    def triage_worker(self, options: dict[str, Any], rows: list[int], review: Any) -> None:
        # In the worker: importing httpx and resolving the endpoint's host name can take a while.
        try:
            core.import_httpx()
            config = core.resolve_triage(**options)
        except (core.TriageUnavailable, core.TriageConfigError) as exc:
            self.app.call_from_thread(self._triage_refused, str(exc), "error")
            return
        if config is None:
            self.app.call_from_thread(self._triage_refused, NO_ENDPOINT, "warning")
            return
        book = TriageBook(config.model, len(rows), url=config.url)
        self.app.call_from_thread(self._triage_started, book)
        run = self.run
        report = None
        try:
            explained = run.detector.explain(run.frame, run.detection, rows)
            session = review.session
            keys = session.keys_of(run.frame, rows)
            contents = [str(c) for c in session.fingerprinter.contents(run.frame, rows).tolist()]
            context, roles = core.triage_context(run)
            items = core.triage_items(context, roles, explained, keys, contents)
            cache = None
            if review.problem is None:
                cache = core.TriageCache(session.store, session.fingerprinter.dataset, config.model, core.TRIAGE_PROMPT_VERSION)
            report = core.run_triage(config, items, cache=cache, on_outcome=book.take, cancel=book.cancel)
        except Exception as exc:  # noqa: BLE001 - the results stand without suggestions; say why
            book.problem = f"triage stopped ({type(exc).__name__}: {exc})"
        finally:
            book.running = False
        if report is not None and report.problem and not report.cancelled:
            book.problem = report.problem
        self.app.call_from_thread(self._triage_finished, book)

    def _triage_finished(self, book: TriageBook) -> None:
        if book.timer is not None:
            book.timer.stop()
        self._triage_redraw()
        if book.cancel.is_set() or not self.is_mounted:  # type: ignore[attr-defined]
            return
        if book.problem:
            self.notify(f"Triage: {book.problem}. The results are unaffected.", severity="warning", markup=False, timeout=10)  # type: ignore[attr-defined]
        else:
            self.notify(f"Triage done: {len(book.suggestions):,} suggestions from {book.model_name}.", markup=False)  # type: ignore[attr-defined]

    def on_unmount(self) -> None:
        # Results gone (back to Set up, or the app quits): no more asking for a screen no one sees.
        book = self.model.triage
        if book is not None and book.running:
            book.cancel.set()
            book.running = False

    def _triage_redraw(self) -> None:
        """New answers on screen: the column appears with the first, the visible rows repaint."""
        if not self.is_mounted:  # type: ignore[attr-defined]
            return
        if self.model.update_triage_column():
            self.table.columns_changed()  # type: ignore[attr-defined]
        self.table.refresh()  # type: ignore[attr-defined]
        # The status line only: the summary above the table says nothing about triage.
        self.query_one("#table-status").update(self._status())  # type: ignore[attr-defined]

    def triage_status(self) -> Text:
        """The status line's part on triage (empty before it was started)."""
        book = self.model.triage
        return Text() if book is None else book.status()
