"""Fixtures shared by the core tests."""

from __future__ import annotations

import pytest

from tui_detector.core.model.detector import TabularAnomalyDetector


@pytest.fixture(scope="session")
def fitted(planted):
    """An IsolationForest detector on the planted table: quick to train, enough for cache and file tests."""
    frame, _ = planted
    detector = TabularAnomalyDetector(model="iforest")
    detector.train(frame)
    return detector


#: Reader test modules run twice: through the Arrow fast path for xlsx sheets (the default)
#: and with it off, so both ways of reading a sheet meet every one of their checks.
_BOTH_WAYS = frozenset({"test_reader", "test_read_listing", "test_hostile", "test_false_refusals"})


def pytest_generate_tests(metafunc):
    if metafunc.module.__name__.rsplit(".", 1)[-1] in _BOTH_WAYS:
        metafunc.fixturenames.append("sheet_reader")
        metafunc.parametrize("sheet_reader", ["arrow", "cells"], indirect=True)


@pytest.fixture
def sheet_reader(request, monkeypatch):
    from tui_detector.core.io import fastread

    if request.param == "cells":
        monkeypatch.setenv(fastread.FAST_ENV, "0")
    else:
        monkeypatch.delenv(fastread.FAST_ENV, raising=False)
    return request.param
