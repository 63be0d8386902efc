"""Triage answers kept in the review store, by row fingerprint, model and prompt version.

An answer is reused only while the row's content hash is the one it was asked about, so a row
named by its identifier whose cells changed is asked afresh. Errors of the endpoint are never
kept: the next run asks again.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..store.db import ReviewStore, now_iso
from .answer import Suggestion


class TriageCache:
    """The stored answers of one dataset for one model and prompt version."""

    def __init__(self, store: ReviewStore, dataset: str, model: str, prompt_version: int) -> None:
        self.store = store
        self.dataset = dataset
        self.model = model
        self.prompt_version = prompt_version

    def get_many(self, rows: Iterable[tuple[str, str]]) -> dict[str, Suggestion]:
        """``fingerprint -> Suggestion`` for the ``(fingerprint, content)`` pairs answered before."""
        wanted = dict(rows)
        if not wanted:
            return {}

        def read(conn):  # type: ignore[no-untyped-def]
            return conn.execute(
                "SELECT fingerprint, content, verdict, rationale, next_step, reason, created FROM triage_answers "
                "WHERE dataset = ? AND model = ? AND prompt_version = ?",
                (self.dataset, self.model, self.prompt_version),
            ).fetchall()

        found = {}
        for fingerprint, content, verdict, rationale, next_step, reason, created in self.store.read(read):
            if wanted.get(fingerprint) == content:
                found[fingerprint] = Suggestion(verdict, rationale, next_step, self.model, self.prompt_version, reason, created)
        return found

    def put(self, fingerprint: str, content: str, suggestion: Suggestion) -> None:
        when = suggestion.when or now_iso()
        self.store.write(
            lambda conn: conn.execute(
                "INSERT OR REPLACE INTO triage_answers (dataset, fingerprint, model, prompt_version, content, verdict, "
                "rationale, next_step, reason, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    self.dataset, fingerprint, self.model, self.prompt_version, content, suggestion.verdict,
                    suggestion.rationale, suggestion.next_step, suggestion.reason, when,
                ),
            )
        )
