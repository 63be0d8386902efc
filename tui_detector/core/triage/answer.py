"""What comes back: a model's answer, checked, as a :class:`Suggestion`.

A reasoning model's ``<think>…</think>`` is dropped (and ``reasoning_content`` is never read);
the first JSON object left is the answer. It must name a verdict from :data:`VERDICTS`; the
rationale is cut to :data:`RATIONALE_MAX` characters, and control characters are taken out of
every text, so a model's answer cannot move a terminal's cursor or colour it.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass
from typing import Any

VERDICTS = ("likely_benign", "suspicious", "needs_review")
RATIONALE_MAX = 300
NEXT_STEP_MAX = 200
_THINK = re.compile(r"<think>.*?</think>", re.DOTALL | re.IGNORECASE)
_FENCE = re.compile(r"^```(?:json)?\s*(.*?)\s*```$", re.DOTALL | re.IGNORECASE)


class MalformedAnswer(ValueError):
    """The model answered, but not with a usable verdict; the message says what was wrong."""


@dataclass(frozen=True)
class Suggestion:
    """A model's opinion on one row: advice, never a verdict until the analyst accepts it."""

    verdict: str
    rationale: str
    next_step: str | None
    model: str
    prompt_version: int
    #: Why the verdict is needs_review without the model saying so (an answer that could not
    #: be read twice); None for a real answer.
    reason: str | None = None
    when: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict,
            "rationale": self.rationale,
            "next_step": self.next_step,
            "model": self.model,
            "prompt_version": self.prompt_version,
            "reason": self.reason,
        }

    @property
    def label(self) -> str:
        """The verdict in words ("likely benign")."""
        return self.verdict.replace("_", " ")


def clean_text(value: Any, limit: int) -> str:
    """One line of plain text: control characters (ESC, newlines) become spaces, runs of spaces
    one, cut to ``limit`` characters with an ellipsis."""
    text = "".join(" " if unicodedata.category(c).startswith("C") else c for c in str(value))
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def strip_thinking(content: str) -> str:
    """``content`` without its reasoning: closed ``<think>`` blocks go, and so does everything
    before a lone ``</think>`` (a chat template that opened the block itself)."""
    text = _THINK.sub("", content)
    if "</think>" in text.lower():
        text = text[text.lower().rindex("</think>") + len("</think>") :]
    if "<think>" in text.lower():  # opened and never closed: the answer was cut off in it
        text = text[: text.lower().index("<think>")]
    return text.strip()


def _first_object(text: str) -> dict[str, Any] | None:
    fenced = _FENCE.match(text)
    if fenced:
        text = fenced.group(1)
    try:
        value = json.loads(text)
    except ValueError:
        value = None
    if isinstance(value, dict):
        return value
    decoder = json.JSONDecoder()
    for start in (m.start() for m in re.finditer(r"\{", text)):
        try:
            value, _ = decoder.raw_decode(text, start)
        except ValueError:
            continue
        if isinstance(value, dict):
            return value
    return None


def parse(content: Any) -> tuple[str, str, str | None]:
    """``(verdict, rationale, next_step)`` from a message's content; :class:`MalformedAnswer`
    when it holds no usable answer."""
    if not isinstance(content, str) or not content.strip():
        raise MalformedAnswer("the answer was empty")
    text = strip_thinking(content)
    if not text:
        raise MalformedAnswer("the answer held only reasoning, no verdict")
    found = _first_object(text)
    if found is None:
        raise MalformedAnswer("the answer was not a JSON object")
    raw = found.get("verdict")
    verdict = "_".join(str(raw).strip().lower().replace("-", " ").split()) if isinstance(raw, str) else None
    if verdict not in VERDICTS:
        shown = clean_text(raw, 40) if raw is not None else "none"
        raise MalformedAnswer(f"the verdict was {shown!r}, not one of {', '.join(VERDICTS)}")
    rationale = found.get("rationale")
    if not isinstance(rationale, str) or not rationale.strip():
        raise MalformedAnswer("the answer gave no rationale")
    step = found.get("next_step")
    next_step = clean_text(step, NEXT_STEP_MAX) if isinstance(step, str) and step.strip() else None
    if next_step is not None and next_step.lower() in ("null", "none", "n/a"):
        next_step = None
    return verdict, clean_text(rationale, RATIONALE_MAX), next_step
