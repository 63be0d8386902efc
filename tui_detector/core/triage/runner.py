"""Triage of many anomalies: answers from the store first, the rest asked a few at a time.

The same for ``detect --triage`` and the app. At most ``config.in_flight`` requests are in
flight; each has the config's timeout. A malformed answer is asked once more (with what was
wrong), then recorded as ``needs_review`` with the reason. An endpoint that cannot be reached
stops the asking at once, and so do :data:`MAX_FAILURES_IN_A_ROW` failures in a row (every
answer timing out): the rest are reported as not asked, with the reason, and nothing fails.

Every outcome is handed to ``on_outcome`` from the calling thread, which is also the only one
that writes to the store; after ``cancel`` is set nothing more is handed on or written.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .answer import MalformedAnswer, Suggestion, clean_text, parse
from .cache import TriageCache
from .client import EndpointError, TriageClient
from .config import TriageConfig
from .prompt import PROMPT_VERSION, TableContext, messages

MAX_FAILURES_IN_A_ROW = 5
#: How often the waiting loop looks at ``cancel`` (seconds).
POLL = 0.05
#: The most of a malformed answer sent back with the retry.
ECHO_LIMIT = 2000


@dataclass(frozen=True)
class TriageItem:
    """One anomaly to triage: where it is, its fingerprint and content hash, what is sent."""

    row: int
    fingerprint: str
    content: str
    messages: list[dict[str, str]]


@dataclass(frozen=True)
class Outcome:
    row: int
    suggestion: Suggestion | None
    #: Why there is no suggestion (None when there is one).
    error: str | None = None
    from_store: bool = False


@dataclass
class TriageReport:
    """What a triage run did, for the JSON output's top-level ``triage`` and the app's status."""

    config: TriageConfig
    total: int = 0
    answered: int = 0
    from_store: int = 0
    failed: int = 0
    not_asked: int = 0
    cancelled: bool = False
    problem: str | None = None
    suggestions: dict[int, Suggestion] = field(default_factory=dict)
    errors: dict[int, str] = field(default_factory=dict)

    @property
    def done(self) -> int:
        return self.answered + self.from_store + self.failed

    def summary(self) -> dict[str, Any]:
        return {
            **self.config.describe(),
            "prompt_version": PROMPT_VERSION,
            "anomalies": self.total,
            "answered": self.answered,
            "from_store": self.from_store,
            "failed": self.failed,
            "not_asked": self.not_asked,
            "problem": self.problem,
        }


def context_of(run: Any) -> tuple[TableContext, list[tuple[str, str]]]:
    """The one line about the table and each column's role, from a detection run."""
    detection = run.detection
    roles = {str(p.name): str(p.role) for p in getattr(run.detector, "profiles_", [])}
    columns = [str(c) for c in run.frame.columns]
    context = TableContext(
        rows=len(detection.scores),
        columns=len(columns),
        flagged=int(detection.flags.sum()),
        threshold_percentile=float(run.threshold_percentile),
        model_kind=str(run.detector.model_kind_),
    )
    return context, [(name, roles.get(name, "unknown")) for name in columns]


def build_items(
    context: TableContext,
    roles: Sequence[tuple[str, str]],
    anomalies: Sequence[dict[str, Any]],
    keys: Sequence[str],
    contents: Sequence[str],
) -> list[TriageItem]:
    """One item per anomaly (export form, rank order): its rank is its place in the list."""
    return [
        TriageItem(int(a["row_index"]), str(key), str(content), messages(context, roles, a, rank))
        for rank, (a, key, content) in enumerate(zip(anomalies, keys, contents, strict=True), start=1)
    ]


def run_triage(
    config: TriageConfig,
    items: Sequence[TriageItem],
    *,
    cache: TriageCache | None = None,
    on_outcome: Callable[[Outcome], None] | None = None,
    cancel: threading.Event | None = None,
    client: TriageClient | None = None,
) -> TriageReport:
    """Triage ``items`` (see the module's description)."""
    cancel = cancel or threading.Event()
    report = TriageReport(config, total=len(items))
    tell = on_outcome or (lambda _outcome: None)

    def settle(outcome: Outcome, item: TriageItem | None = None) -> None:
        if outcome.suggestion is not None:
            report.suggestions[outcome.row] = outcome.suggestion
            if outcome.from_store:
                report.from_store += 1
            else:
                report.answered += 1
                if cache is not None and item is not None:
                    cache.put(item.fingerprint, item.content, outcome.suggestion)
        else:
            report.failed += 1
            report.errors[outcome.row] = outcome.error or "no answer"
        tell(outcome)

    stored = cache.get_many((i.fingerprint, i.content) for i in items) if cache is not None else {}
    to_ask = []
    for item in items:
        hit = stored.get(item.fingerprint)
        if hit is not None:
            settle(Outcome(item.row, hit, from_store=True))
        else:
            to_ask.append(item)
    if not to_ask or cancel.is_set():
        report.cancelled = cancel.is_set()
        report.not_asked = len(to_ask) if cancel.is_set() else 0
        return report

    own = client is None
    client = client or TriageClient(config, cancel=cancel)
    stop = threading.Event()
    tasks: queue.SimpleQueue[TriageItem] = queue.SimpleQueue()
    for item in to_ask:
        tasks.put(item)
    done: queue.SimpleQueue[tuple[TriageItem, Suggestion | None, BaseException | None]] = queue.SimpleQueue()

    def work() -> None:
        while not (stop.is_set() or cancel.is_set()):
            try:
                item = tasks.get_nowait()
            except queue.Empty:
                return
            try:
                done.put((item, _ask(client, config, item, stop, cancel), None))
            except BaseException as exc:  # noqa: BLE001 - handed to the loop below, which says it
                done.put((item, None, exc))

    # Daemon threads, not a pool: quitting the app while a request is out must not wait for it.
    threads = [threading.Thread(target=work, name=f"triage-{i}", daemon=True) for i in range(min(config.in_flight, len(to_ask)))]
    for thread in threads:
        thread.start()
    in_a_row = 0
    while True:
        if cancel.is_set():
            report.cancelled = True
            break
        try:
            item, suggestion, error = done.get(timeout=POLL)
        except queue.Empty:
            if not any(t.is_alive() for t in threads) and done.empty():
                break
            continue
        if isinstance(error, EndpointError) and str(error) == "not asked":
            continue
        if isinstance(error, EndpointError):
            in_a_row += 1
            settle(Outcome(item.row, None, str(error)), item)
            if report.problem is None and (error.fatal or in_a_row >= MAX_FAILURES_IN_A_ROW):
                report.problem = str(error) if error.fatal else f"stopped after {in_a_row} failures in a row: {error}"
                stop.set()
            continue
        if error is not None:  # one row's surprise is that row's failure
            in_a_row += 1
            settle(Outcome(item.row, None, f"unexpected {type(error).__name__}: {clean_text(error, 120)}"), item)
            continue
        in_a_row = 0
        settle(Outcome(item.row, suggestion), item)
    if own and not cancel.is_set():
        client.close()
    report.not_asked = report.total - report.done
    if report.problem is None and report.failed:
        first = next(iter(report.errors.values()))
        report.problem = f"{report.failed:,} of {report.total:,} anomalies got no answer ({first})"
    return report


def _ask(client: TriageClient, config: TriageConfig, item: TriageItem, stop: threading.Event, cancel: threading.Event) -> Suggestion:
    if stop.is_set() or cancel.is_set():
        raise EndpointError("not asked")
    try:
        return _ask_once_or_twice(client, config, item, stop, cancel)
    except EndpointError as exc:
        if exc.fatal:  # at once, not when the loop gets to it: the other threads ask no more
            stop.set()
        raise


def _ask_once_or_twice(client: TriageClient, config: TriageConfig, item: TriageItem, stop: threading.Event, cancel: threading.Event) -> Suggestion:
    sent = list(item.messages)
    content = client.complete(sent)
    try:
        verdict, rationale, next_step = parse(content)
    except MalformedAnswer as first:
        if stop.is_set() or cancel.is_set():
            raise EndpointError("not asked") from None
        sent += [
            {"role": "assistant", "content": (content or "")[:ECHO_LIMIT]},
            {"role": "user", "content": f"That answer could not be used ({first}). Answer with the JSON object only, as the system message says."},
        ]
        again = client.complete(sent)
        try:
            verdict, rationale, next_step = parse(again)
        except MalformedAnswer as second:
            return Suggestion(
                "needs_review",
                "The model's answer could not be read; look at this row yourself.",
                None,
                config.model,
                PROMPT_VERSION,
                reason=f"malformed answer, also when asked again: {second}",
            )
    return Suggestion(verdict, rationale, next_step, config.model, PROMPT_VERSION)
