"""The HTTP side: one chat-completions request per anomaly, through ``httpx`` (an optional extra).

Every failure becomes an :class:`EndpointError` in plain words. ``fatal`` ones (nothing
listening, a wrong model name, a refused key) would fail the same way for every other row, so
the runner stops asking; the others (a busy server, one slow answer, a 500) cost only that row.
"""

from __future__ import annotations

import json
import threading
from typing import Any

from ..errors import AnomalyTuiError
from .answer import clean_text
from .config import TriageConfig

#: Answers are short JSON; a reasoning model's thinking comes first and needs the room.
MAX_TOKENS = 2048
#: A 429 is retried once after the server's Retry-After, waiting at most this long.
MAX_RETRY_WAIT = 5.0
INSTALL_HINT = "triage needs the httpx package: pip install 'anomaly-tui[triage]'"


class TriageUnavailable(AnomalyTuiError):
    """httpx is not installed."""


class EndpointError(Exception):
    """A request that got no usable answer; the message says why in one line."""

    def __init__(self, message: str, *, fatal: bool = False) -> None:
        super().__init__(message)
        self.fatal = fatal


def import_httpx() -> Any:
    try:
        import httpx  # noqa: PLC0415 - optional: only triage needs it
    except ImportError:
        raise TriageUnavailable(INSTALL_HINT) from None
    return httpx


def request_body(model: str, messages: list[dict[str, str]]) -> dict[str, Any]:
    return {"model": model, "messages": messages, "temperature": 0, "max_tokens": MAX_TOKENS, "stream": False}


class TriageClient:
    """Sends chat-completions requests to one endpoint; safe to share between threads."""

    def __init__(self, config: TriageConfig, *, cancel: threading.Event | None = None) -> None:
        httpx = import_httpx()
        self.config = config
        self.cancel = cancel or threading.Event()
        headers = {"Accept": "application/json"}
        if config.api_key:
            headers["Authorization"] = f"Bearer {config.api_key}"
        # trust_env off: an HTTP(S)_PROXY in the environment would carry the rows to a proxy,
        # past the loopback check.
        self._client = httpx.Client(
            timeout=httpx.Timeout(config.timeout, connect=min(config.timeout, 10.0)),
            headers=headers,
            trust_env=False,
            follow_redirects=False,
            limits=httpx.Limits(max_connections=config.in_flight, max_keepalive_connections=config.in_flight),
        )
        self._httpx = httpx

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> TriageClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def complete(self, messages: list[dict[str, str]]) -> str | None:
        """The answer's text (``choices[0].message.content``; reasoning fields are ignored)."""
        body = request_body(self.config.model, messages)
        for attempt in (0, 1):
            response = self._post(body)
            if response.status_code == 429 and attempt == 0:
                wait = _retry_after(response.headers.get("retry-after"))
                if self.cancel.wait(wait):
                    raise EndpointError("cancelled")
                continue
            break
        return self._content(response)

    def _post(self, body: dict[str, Any]) -> Any:
        httpx = self._httpx
        where = self.config.url
        try:
            return self._client.post(self.config.endpoint, json=body)
        except httpx.TimeoutException:
            raise EndpointError(f"no answer from {where} within {self.config.timeout:g} s") from None
        except httpx.ConnectError as exc:
            reason = "connection refused" if "refused" in str(exc).lower() else clean_text(exc, 120) or "cannot connect"
            raise EndpointError(f"cannot reach the triage endpoint {where} ({reason}); is the model server running?", fatal=True) from None
        except httpx.HTTPError as exc:
            raise EndpointError(f"the triage endpoint {where} failed: {clean_text(exc, 120) or type(exc).__name__}") from None

    def _content(self, response: Any) -> str | None:
        status = response.status_code
        where = self.config.url
        if status == 429:
            raise EndpointError(f"the triage endpoint {where} is busy (429 Too Many Requests, also after a retry)")
        if status >= 500:
            raise EndpointError(f"the triage endpoint {where} failed ({status} {response.reason_phrase}){_said(response)}")
        if status in (401, 403):
            raise EndpointError(f"the triage endpoint {where} refused the request ({status}): check the key in ANOMALY_TUI_TRIAGE_API_KEY", fatal=True)
        if status >= 400:
            raise EndpointError(
                f"the triage endpoint {where} refused the request ({status} {response.reason_phrase}){_said(response)}; "
                f"is the model name {self.config.model!r} right?",
                fatal=True,
            )
        if status != 200:
            raise EndpointError(f"the triage endpoint {where} answered {status} {response.reason_phrase}", fatal=True)
        try:
            data = response.json()
            message = data["choices"][0]["message"]
        except (ValueError, KeyError, IndexError, TypeError):
            raise EndpointError(f"the triage endpoint {where} did not answer as an OpenAI-compatible chat API", fatal=True) from None
        content = message.get("content") if isinstance(message, dict) else None
        return content if isinstance(content, str) else None


def _said(response: Any) -> str:
    """The server's own words about an error, cut short and made plain (it is network text)."""
    try:
        data = json.loads(response.text)
        error = data.get("error") if isinstance(data, dict) else None
        text = error.get("message") if isinstance(error, dict) else error
    except ValueError:
        text = response.text
    text = clean_text(text or "", 160)
    return f": {text}" if text else ""


def _retry_after(value: str | None) -> float:
    try:
        seconds = float(value) if value is not None else 1.0
    except ValueError:
        seconds = 1.0
    return min(max(seconds, 0.0), MAX_RETRY_WAIT)
