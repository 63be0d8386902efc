"""One section of benchmarks/RESULTS.md that a script owns, between ``<!-- name:start -->`` and
``<!-- name:end -->`` markers (``quality.py`` rewrites the rest and carries these over)."""

from __future__ import annotations

from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


def update_section(name: str, title: str, body: list[str], path: Path = RESULTS) -> None:
    """Replace (or add at the end) section ``name`` with ``title`` and ``body``."""
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    section = "\n".join([start, title, "", *body, end])
    if start in text and end in text:
        head, rest = text.split(start, 1)
        text = head + section + rest.split(end, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    path.write_text(text, encoding="utf-8")
