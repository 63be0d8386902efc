"""The core's public surface, the names the app works through."""

from __future__ import annotations

import subprocess
import sys

import pytest

import tui_detector.core as core


@pytest.mark.parametrize("name", core.__all__)
def test_every_name_of_the_core_surface_resolves(name):
    assert getattr(core, name) is not None


def test_an_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no_such_name"):
        core.no_such_name  # noqa: B018


def test_importing_the_core_surface_loads_nothing_heavy():
    code = (
        "import sys, tui_detector.core; "
        "print(','.join(m for m in ('numpy', 'pandas', 'sklearn', 'tensorflow', 'textual') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_prewarming_tensorflow_says_whether_it_loaded_and_never_raises(monkeypatch):
    from tui_detector.core.model import _keras

    def missing():
        raise ImportError("No module named 'tensorflow'")

    monkeypatch.setattr(_keras, "import_keras", missing)
    assert core.prewarm_tensorflow() is False
