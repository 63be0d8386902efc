"""The include/exclude policy of Set up's roles table (``space`` on a column), without the app."""

from __future__ import annotations

import pytest

from tui_detector.core.model.roles import ColumnProfile, Role, toggle_column


def _profile(role: Role, reason: str = "inferred", forced: bool = False) -> ColumnProfile:
    return ColumnProfile("amount", role, reason, distinct=10, missing=0, rows=20, forced=forced)


@pytest.mark.parametrize("role", [Role.NUMERIC, Role.BOOLEAN, Role.DATETIME, Role.CATEGORICAL])
def test_a_used_column_is_excluded_as_text_by_the_user(role):
    current = _profile(role)
    new = toggle_column(current, current, numeric=True)
    assert new == ColumnProfile("amount", Role.TEXT, "excluded by you", 10, 0, 20, forced=True)
    assert not new.used


def test_excluding_then_including_goes_back_to_the_inferred_profile():
    inferred = _profile(Role.DATETIME)
    excluded = toggle_column(inferred, inferred, numeric=False)
    assert excluded is not None and excluded.forced
    assert toggle_column(excluded, inferred, numeric=False) is inferred


@pytest.mark.parametrize(
    ("numeric", "role"), [(True, Role.NUMERIC), (False, Role.CATEGORICAL)], ids=["numbers", "text"]
)
@pytest.mark.parametrize("inferred_role", [Role.IDENTIFIER, Role.TEXT, Role.CONSTANT])
def test_an_excluded_column_is_included_by_how_its_cells_are_stored(inferred_role, numeric, role):
    inferred = _profile(inferred_role)
    new = toggle_column(inferred, inferred, numeric=numeric)
    assert new == ColumnProfile("amount", role, "chosen by you", 10, 0, 20, forced=True)
    assert new.used
    # Toggled again, the user's inclusion is excluded again (not sent back to the inference).
    assert toggle_column(new, inferred, numeric=numeric).role is Role.TEXT


def test_an_empty_column_cannot_be_included():
    inferred = _profile(Role.EMPTY)
    assert toggle_column(inferred, inferred, numeric=True) is None
    assert toggle_column(inferred, inferred, numeric=False) is None

