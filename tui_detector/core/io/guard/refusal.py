"""The one error every guard check raises for a bad file."""

from __future__ import annotations

from ...errors import AnomalyTuiError

__all__ = ["Refused"]


class Refused(AnomalyTuiError):
    """The file was not parsed; ``message`` says why, in words meant for the user."""

    def __init__(self, message: str, kind: str = "refused") -> None:
        super().__init__(message)
        self.message = message
        self.kind = kind
