"""The suite's own markers behave as pyproject.toml says."""

from __future__ import annotations

import importlib.util

import pytest

from tests import conftest


class _Item:
    def __init__(self, *markers: str) -> None:
        self.markers = markers

    def get_closest_marker(self, name: str):
        return getattr(pytest.mark, name).mark if name in self.markers else None


def test_requires_tf_skips_with_a_reason_where_tensorflow_is_missing(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "tensorflow" else real(name, *a))
    with pytest.raises(pytest.skip.Exception, match="needs TensorFlow"):
        conftest.pytest_runtest_setup(_Item("requires_tf"))
    conftest.pytest_runtest_setup(_Item("slow"))  # unmarked tests run


def test_requires_tf_runs_where_tensorflow_is_installed(monkeypatch):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: object())
    conftest.pytest_runtest_setup(_Item("requires_tf"))
