"""Threshold presets and percentile validation: the one home used by the CLI, the app and the API.

Importing this module is free (no pandas, no NumPy), so Set up can build its form before the
heavy libraries load.
"""

from __future__ import annotations

#: The design note's advice, by name: fewer false positives on very imbalanced data (strict),
#: the default (balanced), more sensitive for security and fraud work (sensitive).
PRESETS: dict[str, float] = {"strict": 99.0, "balanced": 95.0, "sensitive": 90.0}

DEFAULT_PRESET = "balanced"
DEFAULT_PERCENTILE = PRESETS[DEFAULT_PRESET]


def check_percentile(value: object, name: str = "the threshold percentile") -> float:
    """Return ``value`` as a float strictly between 0 and 100, or raise ``ValueError`` in words.

    ``name`` is how the message calls the value: the API says ``threshold_percentile``.
    """
    if isinstance(value, bool):
        raise ValueError(f"{name} must be a number, not {value!r}")
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, not {value!r}") from None
    if not 0 < number < 100:
        raise ValueError(f"{name} must be between 0 and 100 (exclusive), not {value}")
    return number


def parse_percentile(text: str) -> float:
    """A percentile typed by a person (CLI flag, Set up field)."""
    try:
        number = float(text.strip())
    except ValueError:
        raise ValueError(f"not a number: {text!r}") from None
    return check_percentile(number)


def preset_for(value: float | None) -> str:
    """The preset's name for ``value``, or ``"custom"``."""
    return next((name for name, p in PRESETS.items() if p == value), "custom")
