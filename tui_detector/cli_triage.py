"""``detect --triage``: a language model's first opinion on each listed anomaly (optional).

Off unless ``--triage`` is given; without it the output is exactly what it was before. With it,
each anomaly gets an additive ``triage`` (the model's suggestion, or null when it got none) and
the document a top-level ``triage`` summary. The endpoint is checked before the file is read,
so a refused or missing set-up costs no training.
"""

from __future__ import annotations

import argparse
from typing import Any

from .cli_common import CliError, note, whole_number


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not 0 < value < 86_400:
        raise argparse.ArgumentTypeError(f"must be more than 0 and less than a day, not {text}")
    return value


def _in_flight(text: str) -> int:
    from .core.triage.config import MAX_IN_FLIGHT  # noqa: PLC0415

    return whole_number(text, 1, MAX_IN_FLIGHT)


def _top(text: str) -> int:
    return whole_number(text, 1)


def add_endpoint_options(parser: argparse.ArgumentParser, *, with_switch: bool) -> None:
    """The endpoint's options (``detect`` also gets the ``--triage`` switch that turns it on)."""
    group = parser.add_argument_group(
        "language-model triage (optional; needs pip install 'anomaly-tui[triage]')",
        "An OpenAI-compatible chat endpoint (llama.cpp's llama-server, Ollama, vLLM) reads each anomaly and "
        "suggests likely_benign / suspicious / needs_review. Only an endpoint on this machine is used unless "
        "--triage-allow-remote. Also set by ANOMALY_TUI_TRIAGE_URL, ANOMALY_TUI_TRIAGE_MODEL and triage.toml "
        "in the user config folder; an API key only by ANOMALY_TUI_TRIAGE_API_KEY.",
    )
    if with_switch:
        group.add_argument("--triage", action="store_true", help="ask the model about every listed anomaly (adds 'triage' to each)")
    group.add_argument("--triage-url", metavar="URL", help="the API's base, e.g. http://127.0.0.1:8080/v1")
    group.add_argument("--triage-model", metavar="NAME", help="the model's name as the server knows it")
    group.add_argument("--triage-allow-remote", action="store_true", help="allow an endpoint that is not on this machine (the rows are sent there)")
    group.add_argument("--triage-timeout", type=_seconds, metavar="SECONDS", help="the longest one answer may take (default 120)")
    group.add_argument("--triage-in-flight", type=_in_flight, metavar="N", help="requests sent at once (default 2)")
    if with_switch:
        group.add_argument("--triage-top", type=_top, metavar="N", help="ask only about the N highest-ranked anomalies (default: every listed one)")


def add_detect_options(parser: argparse.ArgumentParser) -> None:
    add_endpoint_options(parser, with_switch=True)


def overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The endpoint's command-line options as keyword arguments of ``config.resolve``."""
    return {
        "url": args.triage_url,
        "model": args.triage_model,
        "allow_remote": args.triage_allow_remote,
        "timeout": args.triage_timeout,
        "in_flight": args.triage_in_flight,
    }


def prepare(args: argparse.Namespace) -> Any:
    """The checked endpoint when ``--triage`` is on, else None; a set-up that cannot work is a
    :class:`CliError` now, before any reading or training."""
    names = ("url", "model", "allow_remote", "timeout", "in_flight", "top")
    given = [f"--triage-{name.replace('_', '-')}" for name in names if getattr(args, f"triage_{name}") not in (None, False)]
    if not args.triage:
        if given:
            raise CliError(f"{given[0]} applies with --triage")
        return None
    from .core.triage.client import TriageUnavailable, import_httpx  # noqa: PLC0415
    from .core.triage.config import TriageConfigError, resolve  # noqa: PLC0415

    try:
        import_httpx()
        config = resolve(**overrides(args))
    except (TriageUnavailable, TriageConfigError) as exc:
        raise CliError(str(exc)) from None
    if config is None:
        raise CliError("--triage needs an endpoint: --triage-url URL (or ANOMALY_TUI_TRIAGE_URL, or url in triage.toml)")
    return config


def triage_listed(config: Any, run: Any, session: Any, listed: list[dict[str, Any]], progress: Any, top: int | None = None) -> dict[str, Any]:
    """Ask about ``listed`` (the first ``top`` of them; in place: each gets its ``triage``,
    null for those not asked); returns the summary."""
    from .core.store.db import StoreError  # noqa: PLC0415
    from .core.triage.cache import TriageCache  # noqa: PLC0415
    from .core.triage.prompt import PROMPT_VERSION  # noqa: PLC0415
    from .core.triage.runner import build_items, context_of, run_triage  # noqa: PLC0415

    asked = listed if top is None else listed[:top]
    rows = [int(a["row_index"]) for a in asked]
    keys = session.keys_of(run.frame, rows)
    contents = session.fingerprinter.contents(run.frame, rows).tolist() if rows else []
    context, roles = context_of(run)
    items = build_items(context, roles, asked, [str(k) for k in keys], [str(c) for c in contents])
    cache = None if session.problem is not None else TriageCache(session.store, session.fingerprinter.dataset, config.model, PROMPT_VERSION)
    total = len(items)
    progress.stage(f"triage 0 of {total:,}")
    seen = [0]

    def counted(_outcome: Any) -> None:
        seen[0] += 1
        progress.stage(f"triage {seen[0]:,} of {total:,}")

    try:
        report = run_triage(config, items, cache=cache, on_outcome=counted)
    except StoreError as exc:
        # The store failing mid-way costs the keeping of answers, not the answers: ask again.
        note(f"triage answers are not kept ({exc})")
        report = run_triage(config, items, on_outcome=counted)
    finally:
        session.store.close()
    for item in listed:
        suggestion = report.suggestions.get(int(item["row_index"]))
        item["triage"] = suggestion.to_json() if suggestion is not None else None
    if report.problem is not None:
        note(f"triage: {report.problem}")
    summary = report.summary()
    # Left out by --triage-top: listed, never asked.
    summary["anomalies"] = len(listed)
    summary["not_asked"] += len(listed) - len(asked)
    return summary
