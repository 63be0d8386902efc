"""The app under faults that are not in the file: an unusable data folder, a full disk during an
export, the terminal going away (SIGHUP). How each is made: see tests/core/test_faults.py."""

from __future__ import annotations

import errno
import fcntl
import os
import re
import struct
import termios
import pty
import signal
import subprocess
import sys

import pytest

from tests.core.test_faults import descendants, gone, kill_survivors, reading, wait_until
from tests.helpers import mixed_table
from tests.ui.helpers import settle, screen_is
from tui_detector.core import atomic
from tui_detector.ui.app import make_app
from tui_detector.ui.screens.dialogs import ConfirmScreen
from tui_detector.ui.screens.setup import SetupScreen

SIZE = (120, 40)
LINUX = sys.platform.startswith("linux")


def notices(app) -> list[str]:
    return [str(n.message) for n in app._notifications]


async def to_results(pilot) -> None:
    await settle(pilot, lambda: isinstance(pilot.app.screen, SetupScreen) and pilot.app.screen.loaded is not None)
    await pilot.press("t")
    await settle(pilot, screen_is(pilot, "Results"))


@pytest.mark.slow
async def test_an_uncreatable_data_folder_is_said_once_and_the_journey_works(orders, tmp_path, monkeypatch):
    blocker = tmp_path / "blocker"
    blocker.write_text("x")
    monkeypatch.setenv("ANOMALY_TUI_DATA_DIR", str(blocker / "data"))
    app = make_app(orders, model="iforest", workdir=tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await to_results(pilot)  # reading, training, scoring: all without a cache
        said = [n for n in notices(app) if "not cached" in n]
        assert len(said) == 1, notices(app)
        assert "data folder cannot be written" in said[0] and "Not a directory" in said[0]
        assert app.screen.run.from_cache is False
    assert blocker.read_text() == "x"


@pytest.mark.slow
async def test_a_cache_that_fills_the_disk_is_said_once_at_the_results(orders, tmp_path, monkeypatch, private_data_dir):
    from tui_detector.core import cache

    def full(*_a, **_k):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(cache.ModelCache, "put", full)
    app = make_app(orders, model="iforest", workdir=tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await to_results(pilot)
        said = [n for n in notices(app) if "could not be cached" in n or "not cached" in n]
        assert said == ["The model could not be cached (No space left on device); the results are unaffected."]


@pytest.mark.slow
async def test_a_full_disk_during_an_export_is_an_on_screen_message_and_keeps_the_file(orders, tmp_path, monkeypatch):
    target = tmp_path / "orders.anomalies.json"
    target.write_text("the earlier export")
    app = make_app(orders, model="iforest", workdir=tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await to_results(pilot)
        monkeypatch.setattr(atomic, "_fsync_file", lambda *_: (_ for _ in ()).throw(OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))))
        await pilot.press("e")
        await pilot.pause()
        await pilot.press("enter")
        await settle(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")  # replace it
        await settle(pilot, lambda: any("cannot write" in n for n in notices(app)))
        assert "cannot write: No space left on device" in notices(app)
    assert target.read_text() == "the earlier export"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".orders")) == []


@pytest.mark.slow
@pytest.mark.skipif(not LINUX, reason="finds processes through /proc (Linux)")
def test_sighup_while_reading_exits_cleanly_and_leaves_no_reader(tmp_path):
    data = tmp_path / "big.csv"
    mixed_table(150_000, 0)[0].to_csv(data, index=False)
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "tui_detector", str(data)],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env={**os.environ, "ANOMALY_TUI_READ_CHILD": "1", "TERM": "xterm-256color"},
        start_new_session=True,
    )
    os.close(slave)
    reader: list[int] = []
    try:
        # Keep the pty drained so the app never blocks on a full terminal.
        reader = wait_until(
            lambda: _drain(master) or [p for p, c in descendants(proc.pid).items() if "_tablechild" in c and reading(p)],
            timeout=120,
            step=0.01,
        ) or []
        assert reader, "the app never started reading in a child"
        os.kill(reader[0], signal.SIGSTOP)  # mid-read for as long as it takes
        proc.send_signal(signal.SIGHUP)
        assert wait_until(lambda: _drain(master) or proc.poll() is not None, timeout=60)
        assert proc.returncode == 129  # its own clean exit, not a death by the signal
        assert gone(reader)
        assert not descendants(proc.pid)
    finally:
        if proc.poll() is None:
            proc.kill()
        kill_survivors([*reader, *descendants(proc.pid)])
        os.close(master)


def _drain(fd: int) -> bool:
    import select

    while select.select([fd], [], [], 0)[0]:
        try:
            if not os.read(fd, 65536):
                break
        except OSError:
            break
    return False


@pytest.mark.slow
@pytest.mark.skipif(not LINUX, reason="finds processes through /proc (Linux)")
def test_sighup_while_training_exits_cleanly(tmp_path):
    data = tmp_path / "orders.csv"
    mixed_table(20_000, 0)[0].to_csv(data, index=False)
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    proc = subprocess.Popen(
        [sys.executable, "-m", "tui_detector", str(data)],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env={**os.environ, "TERM": "xterm-256color"},
        start_new_session=True,
    )
    os.close(slave)
    seen = bytearray()
    try:
        # Press t until the training screen is up (its stage line, or an epoch's progress): a
        # t pressed while the file is still being read is answered "not read yet".
        on_screen = re.compile(r"Starting …|Training …|epoch \d+/\d+ · batch")

        def training() -> bool:
            os.write(master, b"t")
            return bool(wait_until(lambda: _collect(master, seen) and on_screen.search(_plain(seen)), timeout=1))

        assert wait_until(training, timeout=180, step=0), _plain(seen)[-2000:]
        proc.send_signal(signal.SIGHUP)
        assert wait_until(lambda: _collect(master, seen) and proc.poll() is not None, timeout=60)
        assert proc.returncode == 129
        assert not descendants(proc.pid)
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)


def _plain(raw: bytearray) -> str:
    """The text the app drew, its escape sequences taken out."""
    return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][A-Z0-9]|\x1b[=>]", "", raw.decode("utf-8", "replace"))


def _collect(fd: int, into: bytearray) -> bool:
    import select

    while select.select([fd], [], [], 0)[0]:
        try:
            chunk = os.read(fd, 65536)
        except OSError:
            break
        if not chunk:
            break
        into += chunk
    return True
