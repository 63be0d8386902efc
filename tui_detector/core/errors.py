"""The one root of every error the core raises on purpose.

A caller that wants "anything this library refused, in words" catches :class:`AnomalyTuiError`;
each subclass keeps the built-in base it had before (``ValueError``, ``FileExistsError``, …) so
code that caught those still does.
"""

from __future__ import annotations


class AnomalyTuiError(Exception):
    """Base of the core's own errors: the message is one plain sentence fit for a user."""
