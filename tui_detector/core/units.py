"""Numbers in words for people: one spelling of sizes for the CLI and the app.

Standard library only, so the app's first screen can use it without loading pandas.
"""

from __future__ import annotations


def human_size(n: int) -> str:
    """``1234567`` → ``1.2 MB`` (decimal units, as file managers show them)."""
    value = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{n} B"
