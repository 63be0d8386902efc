"""Words more than one screen writes: plain strings, no Textual, no NumPy."""

from __future__ import annotations

from typing import Any


def trained_on_text(trained_on: dict[str, Any]) -> str:
    """``claims-oct.xlsx, sheet Claims, 2,000 rows, trained 2026-11-30`` (what a model was trained on)."""
    parts = [str(trained_on.get("file") or trained_on.get("model_dir") or "another table")]
    if trained_on.get("sheet"):
        parts.append(f"sheet {trained_on['sheet']}")
    if trained_on.get("rows"):
        parts.append(f"{int(trained_on['rows']):,} rows")
    if trained_on.get("trained_at"):
        parts.append(f"trained {str(trained_on['trained_at'])[:10]}")
    return ", ".join(parts)


def clock(seconds: float | None) -> str:
    """``m:ss``, or ``–`` when not known yet (an ETA before the first batch)."""
    if seconds is None:
        return "–"
    seconds = int(round(seconds))
    return f"{seconds // 60}:{seconds % 60:02d}"
