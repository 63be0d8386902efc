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
