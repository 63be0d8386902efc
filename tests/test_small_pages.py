"""The command and the app ask NumPy for ordinary pages (see ``core.env.small_pages``): the
first touch of a big array waits on memory compaction otherwise. A user's own setting wins."""

from __future__ import annotations

import os
import subprocess
import sys

from tui_detector.core.env import HUGE_PAGES_ENV

PROBE = (
    "import os, sys; sys.argv = ['anomaly-tui', 'cache', 'path']; "
    "from tui_detector.cli import main; main(); "
    "import numpy; print(os.environ.get('NUMPY_MADVISE_HUGEPAGE'), numpy._core.multiarray._get_madvise_hugepage())"
)


def _probe(env_value: str | None, tmp_path) -> list[str]:
    env = {k: v for k, v in os.environ.items() if k != HUGE_PAGES_ENV}
    env["ANOMALY_TUI_DATA_DIR"] = str(tmp_path)
    if env_value is not None:
        env[HUGE_PAGES_ENV] = env_value
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, env=env, check=True)
    return out.stdout.split()[-2:]


def test_the_command_asks_numpy_for_ordinary_pages(tmp_path):
    assert _probe(None, tmp_path) == ["0", "False"]


def test_the_users_own_setting_wins(tmp_path):
    assert _probe("1", tmp_path) == ["1", "True"]


def test_numpy_imported_first_is_told_too(tmp_path):
    code = (
        "import os; os.environ.pop('NUMPY_MADVISE_HUGEPAGE', None); import numpy; "
        "from tui_detector.ui.app import make_app; make_app(None); "
        "print(numpy._core.multiarray._get_madvise_hugepage())"
    )
    env = {k: v for k, v in os.environ.items() if k != HUGE_PAGES_ENV}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.split()[-1] == "False"
