"""A stand-in OpenAI-compatible chat-completions server on 127.0.0.1 (a free port), in a thread.

Used by the triage tests, the screenshots script and benchmarks/triage_stub.py. ``answer`` is
called with each request's JSON body and returns what to send back (:class:`Reply`); every body
received is kept in ``bodies``, so a test can check exactly what left the process.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    content: str | None = None
    status: int = 200
    delay: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)
    #: A raw body instead of a chat completion (an error page, a broken JSON).
    raw: str | None = None
    reasoning: str | None = None


def verdict_json(verdict: str = "suspicious", rationale: str = "Amount far above this customer's usual.", next_step: str | None = "Check the invoice.") -> str:
    return json.dumps({"verdict": verdict, "rationale": rationale, "next_step": next_step})


def by_row(body: dict[str, Any]) -> dict[str, Any]:
    """The data block of a request's first user message, parsed back."""
    user = next(m["content"] for m in body["messages"] if m["role"] == "user")
    block = re.search(r"<<<ROW_DATA\n(.*)\nROW_DATA>>>", user, re.DOTALL)
    assert block is not None, user
    return json.loads(block.group(1))


def good(body: dict[str, Any]) -> Reply:
    """Suspicious for odd row indexes, likely benign for even ones (any fixed rule will do)."""
    cells = by_row(body)["cells"]
    first = next(iter(cells.values()), None)
    verdict = "suspicious" if len(str(first)) % 2 else "likely_benign"
    return Reply(verdict_json(verdict, f"{verdict} by the stub's rule", None))


class StubServer:
    def __init__(self, answer: Callable[[dict[str, Any]], Reply] = good) -> None:
        self.answer = answer
        self.bodies: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        self.in_flight = 0
        self.most_in_flight = 0
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                with stub.lock:
                    stub.bodies.append(body)
                    stub.in_flight += 1
                    stub.most_in_flight = max(stub.most_in_flight, stub.in_flight)
                try:
                    reply = stub.answer(body)
                    if reply.delay:
                        time.sleep(reply.delay)
                finally:
                    # Counted until the answer is ready: once it is sent, the client may send
                    # its next request before this thread gets here again.
                    with stub.lock:
                        stub.in_flight -= 1
                try:
                    if reply.raw is not None:
                        data = reply.raw.encode()
                    else:
                        message: dict[str, Any] = {"role": "assistant", "content": reply.content}
                        if reply.reasoning is not None:
                            message["reasoning_content"] = reply.reasoning
                        data = json.dumps({"id": "stub", "object": "chat.completion", "choices": [{"index": 0, "message": message}]}).encode()
                    self.send_response(reply.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    for key, value in reply.headers.items():
                        self.send_header(key, value)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def __enter__(self) -> StubServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def free_port_url() -> str:
    """A loopback URL on which nothing listens (a port bound, then let go)."""
    import socket  # noqa: PLC0415

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


def delayed(low: float = 0.05, high: float = 0.2, seed: int = 0) -> Callable[[dict[str, Any]], Reply]:
    """:func:`good` answers, each after a delay drawn uniformly from ``low``-``high`` seconds."""
    import random  # noqa: PLC0415

    rng = random.Random(seed)
    lock = threading.Lock()

    def answer(body: dict[str, Any]) -> Reply:
        with lock:
            delay = rng.uniform(low, high)
        return Reply(good(body).content, delay=delay)

    return answer


if __name__ == "__main__":  # a stub in its own process, as a model server is: prints its URL
    import sys

    low, high, seed = (float(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])) if len(sys.argv) > 3 else (0.05, 0.2, 0)
    with StubServer(delayed(low, high, seed)) as served:
        print(served.url, flush=True)
        sys.stdin.read()  # until the parent closes it
