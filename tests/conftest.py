from __future__ import annotations

import importlib.util
import os

import pandas as pd
import pytest
from hypothesis import settings

from tests.helpers import mixed_table

# CI replays the same examples every run (a red build must be reproducible); locally Hypothesis
# keeps exploring new ones.
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")


def pytest_runtest_setup(item: pytest.Item) -> None:
    """``@pytest.mark.requires_tf``: skip, saying why, where TensorFlow is not installed.

    Only ``model="autoencoder"`` (the seed recipe in Keras) needs TensorFlow; everything else
    must pass without it, so a missing TensorFlow is a skip with a reason, never a failure.
    """
    if item.get_closest_marker("requires_tf") and importlib.util.find_spec("tensorflow") is None:
        pytest.skip("needs TensorFlow (the Keras autoencoder), which is not installed here")


@pytest.fixture(scope="session")
def planted() -> tuple[pd.DataFrame, dict[int, str]]:
    return mixed_table()


@pytest.fixture(scope="session")
def trained_auto(planted):
    """One default detector trained once for the session (the NumPy network, a few seconds)."""
    from tui_detector import TabularAnomalyDetector

    frame, _ = planted
    detector = TabularAnomalyDetector(random_state=0)
    detector.train(frame)
    return detector


@pytest.fixture(autouse=True)
def private_data_dir(tmp_path_factory, monkeypatch):
    """Every test gets its own model cache, never the user's (subprocesses inherit it)."""
    path = tmp_path_factory.mktemp("data")
    monkeypatch.setenv("ANOMALY_TUI_DATA_DIR", str(path))
    return path
