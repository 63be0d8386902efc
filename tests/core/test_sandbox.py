"""The one child-process runner (io/sandbox.py, io/_launch.py) and the parse child's data-only
answer (io/cellwire.py)."""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import subprocess
import sys
import threading
import time
import types
from pathlib import Path

import pytest

import tui_detector
from tui_detector.core.io import _launch, cellwire, sandbox


def test_the_package_root_is_the_folder_above_the_package():
    # A child's path starts here; naming tui_detector/ itself would make a child import an
    # installed copy of the package instead of this one.
    root = Path(sandbox.package_root())
    assert root == Path(tui_detector.__file__).resolve().parents[1]
    assert (root / "tui_detector" / "core" / "io" / "_launch.py").is_file()


def _fake(monkeypatch, script: str) -> list[list[str]]:
    """Children run ``script`` instead of the launcher; returns the commands they were given."""
    real = subprocess.Popen
    commands: list[list[str]] = []

    def popen(args, **kw):
        commands.append(list(args))
        return real([sys.executable, "-c", script], **kw)

    monkeypatch.setattr(subprocess, "Popen", popen)
    return commands


def test_a_child_gets_the_request_and_its_lines_arrive_whole(monkeypatch):
    # A line longer than any read from the pipe, a last line without its newline, and stderr.
    script = (
        "import json, sys\n"
        "req = json.loads(sys.stdin.read())\n"
        "sys.stdout.write(json.dumps({'echo': req}) + '\\n' + 'x' * 3_000_000 + '\\n' + 'tail')\n"
        "sys.stderr.write('said on stderr')\n"
    )
    commands = _fake(monkeypatch, script)
    lines: list[bytes] = []
    ended = sandbox.run("tui_detector.core.io._worker", {"a": [1, "b"]}, on_line=lines.append,
                        limits=sandbox.Limits(memory=2**31, cpu=7))
    assert ended.returncode == 0 and ended.stderr == b"said on stderr"
    assert json.loads(lines[0]) == {"echo": {"a": [1, "b"]}}
    assert lines[1] == b"x" * 3_000_000 and lines[2] == b"tail" and len(lines) == 3
    assert commands == [[sys.executable, "-P", "-m", sandbox.LAUNCHER, "tui_detector.core.io._worker", str(2**31), "7", str(os.getpid())]]
    assert sandbox.live_children() == 0


def test_where_pipes_cannot_be_selected_the_lines_arrive_at_the_end(monkeypatch):
    monkeypatch.setattr(sandbox, "SELECTABLE_PIPES", False)
    _fake(monkeypatch, "import json, sys, time\n"
                       "if json.load(sys.stdin): time.sleep(30)\n"
                       "print('one'); sys.stdout.write('two'); sys.stderr.write('e')")
    lines: list[bytes] = []
    ended = sandbox.run("tui_detector.core.io._worker", {}, on_line=lines.append, timeout=60)
    assert lines == [b"one", b"two"] and ended == sandbox.Ended(returncode=0, stderr=b"e")
    with pytest.raises(sandbox.TimedOut):
        sandbox.run("tui_detector.core.io._worker", {"hang": 1}, on_line=lines.append, timeout=0.5)
    assert sandbox.live_children() == 0


def _gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] == "Z"  # a zombie no one reaped yet
    except FileNotFoundError:
        return True


# A child that starts a grandchild, says its pid, and then hangs.
_HANGS = (
    "import subprocess, sys, time\n"
    "g = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
    "print(g.pid, flush=True)\n"
    "time.sleep(60)\n"
)


@pytest.mark.slow
def test_timeout_and_cancel_kill_the_whole_group(monkeypatch):
    if not sys.platform.startswith("linux"):
        pytest.skip("reads /proc")
    _fake(monkeypatch, _HANGS)
    pids: list[int] = []
    with pytest.raises(sandbox.TimedOut):
        sandbox.run("tui_detector.core.io._worker", {}, on_line=lambda b: pids.append(int(b)), timeout=1.5)
    cancel = threading.Event()

    def heard(line: bytes) -> None:
        pids.append(int(line))
        cancel.set()

    with pytest.raises(sandbox.Cancelled):
        sandbox.run("tui_detector.core.io._worker", {}, on_line=heard, cancel=cancel)
    assert len(pids) == 2 and sandbox.live_children() == 0
    deadline = time.monotonic() + 10
    while not all(_gone(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert all(_gone(p) for p in pids)  # the grandchildren went with their group


def test_a_childs_own_children_stay_in_its_group(monkeypatch):
    # The reader process runs a parse child for an xls file: cancelling the read (killing the
    # reader's group) must stop that parse too.
    seen: list[bool] = []
    real = subprocess.Popen

    def popen(args, **kw):
        seen.append(kw["start_new_session"])
        assert kw["env"][sandbox.NESTED_ENV] == "1"
        return real([sys.executable, "-c", "pass"], **kw)

    monkeypatch.setattr(subprocess, "Popen", popen)
    monkeypatch.delenv(sandbox.NESTED_ENV, raising=False)
    sandbox.run("tui_detector.core.io._worker", {}, on_line=lambda b: None)
    monkeypatch.setenv(sandbox.NESTED_ENV, "1")  # as inside a child
    sandbox.run("tui_detector.core.io._worker", {}, on_line=lambda b: None)
    assert seen == [True, False]


def test_a_child_that_cannot_start_is_cannot_start(monkeypatch):
    def no(*a, **k):
        raise OSError(11, "Resource temporarily unavailable")

    monkeypatch.setattr(subprocess, "Popen", no)
    with pytest.raises(sandbox.CannotStart, match="Resource temporarily unavailable"):
        sandbox.run("tui_detector.core.io._worker", {}, on_line=lambda b: None)


def test_the_launcher_runs_only_the_packages_children_and_sets_limits_first(monkeypatch):
    events: list = []
    fake = types.ModuleType("tui_detector.core.io._worker")
    fake.main = lambda: events.append("main") or 3
    monkeypatch.setitem(sys.modules, "tui_detector.core.io._worker", fake)
    monkeypatch.setattr(_launch, "_limit", lambda memory, cpu: events.append((memory, cpu)))
    assert _launch.main(["os", "0", "0"]) == 2 and events == []
    assert _launch.main(["tui_detector.core.io._worker", "123", "4"]) == 3
    assert events == [(123, 4), "main"]


@pytest.mark.slow
def test_the_launcher_limits_the_child_it_starts(tmp_path):
    # What _limit leaves a fresh interpreter with; then a real child under limits (the worker,
    # asked for a file that does not exist, still answers).
    code = (
        "import resource, sys\n"
        "from tui_detector.core.io import _launch\n"
        "_launch._limit(1 << 31, 17)\n"
        "print(resource.getrlimit(resource.RLIMIT_AS)[0], resource.getrlimit(resource.RLIMIT_CPU)[0],"
        " resource.getrlimit(resource.RLIMIT_CORE)[0])\n"
    )
    env = dict(os.environ, PYTHONPATH=sandbox.package_root())
    out = subprocess.run([sys.executable, "-P", "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert out.stdout.split() == [str(1 << 31), "17", "0"], out.stderr
    lines: list[bytes] = []
    ended = sandbox.run("tui_detector.core.io._worker", {"op": "list", "path": str(tmp_path / "gone.xls")},
                        on_line=lines.append, limits=sandbox.Limits(memory=1 << 31, cpu=30), timeout=60)
    assert ended.returncode == 0, ended.stderr
    assert list(cellwire.loads(lines[0])) == ["error"]


# ------------------------------------------------------------------------------------------
# The parse child's answer: data-only JSON


def test_every_cell_type_calamine_returns_comes_back_the_same():
    rows = [
        ["text", "", "\u00fc\u2028\n\"quoted\"", "\ud800"],
        [0, -(2**63), 2**80, True, False, None],
        [1.5, -0.0, 1e308, float("inf"), float("-inf")],
        [dt.datetime(2024, 1, 31, 12, 0, 0, 7), dt.date(1900, 1, 1), dt.time(23, 59, 59, 1), dt.timedelta(days=-2, seconds=5, microseconds=9)],
        [dt.datetime(2024, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=2)))],
    ]
    answer = {"ok": {"rows": rows, "row0": 3, "col0": 0, "sheet": "S"}}
    line = cellwire.dumps(answer)
    assert b"\n" not in line
    back = cellwire.loads(line)
    assert back == answer
    assert [[type(v) for v in row] for row in back["ok"]["rows"]] == [[type(v) for v in row] for row in rows]
    nan = cellwire.loads(cellwire.dumps([float("nan")]))[0]
    assert isinstance(nan, float) and math.isnan(nan)


def test_a_cell_with_no_encoding_is_refused_not_mangled():
    for value in (b"bytes", object(), {1, 2}, dt.datetime):
        with pytest.raises(TypeError):
            cellwire.dumps([value])


@pytest.mark.parametrize("line", [
    b'[{"$pickle": "gASV"}]',  # an unknown tag
    b'[{"$datetime": 5}]',  # a tag with the wrong kind of value
    b'[{"$timedelta": [1, 2.5, 0]}]',
    b'[{"$date": "not a date"}]',
    b"OK\x80\x04\x95",  # the old protocol's pickle
])
def test_anything_but_the_encoding_is_refused(line):
    with pytest.raises((ValueError, TypeError)):
        cellwire.loads(line)
