"""Faults that are not in the file: the data folder, the disk, signals, other processes, memory.

Each test puts the product in a fault a desktop really throws and checks what the user sees
(one line, or a working result) and what is left on disk (the earlier file intact, no partial
or temporary file, no process). How each fault is made:

- a full disk: ENOSPC raised at the write seam (the temporary file's writes, or the sync that
  ``core/atomic.py`` does before the rename), and, where unprivileged user namespaces exist, a
  real 64 KiB tmpfs mounted in one (``unshare -Urm``: no root needed);
- a read-only data folder: a read-only tmpfs in such a namespace (permission bits do not stop
  root, so ``chmod`` would prove nothing where the tests run as root);
- a missing, uncreatable data folder: a path below a regular file;
- a kill: SIGKILL at a moment the test waits for (a child paused at the step, or a pty line);
- processes are found through ``/proc`` and waited on with ``os.kill(pid, 0)``.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import pty
import select
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from tests.helpers import mixed_table
from tui_detector import cli
from tui_detector.core import atomic, cache as cache_mod
from tui_detector.core.cache import ModelCache, data_dir_problem
from tui_detector.core.export import build_export, explained_anomalies, write_export
from tui_detector.core.model.persist import MANIFEST, MODEL_FORMAT_VERSION
from tui_detector.core.pipeline import DetectionSettings, cache_inputs_for, run_detection
from tui_detector.core.scored_copy import write_scored_copy

LINUX = sys.platform.startswith("linux")
needs_proc = pytest.mark.skipif(not LINUX, reason="finds processes through /proc (Linux)")


# -- helpers ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def table_csv(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("table") / "claims.csv"
    mixed_table(400, 0)[0].to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def scored_run(table_csv):
    return run_detection(table_csv, DetectionSettings(model="iforest", use_cache=False))


def cli_run(*args, env=None, timeout=180, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "tui_detector", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
        **kw,
    )


def files_under(root: Path) -> list[str]:
    """Every file (not folder) below ``root``, relative: what a fault left behind."""
    if not root.exists():
        return []
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if not p.is_dir())


def one_line(stderr: str, prefix: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith(prefix), stderr
    assert "Traceback" not in stderr
    return lines[0]


def namespace_works() -> bool:
    if not LINUX or shutil.which("unshare") is None:
        return False
    try:
        probe = subprocess.run(
            ["unshare", "-Urm", "sh", "-c", "d=$(mktemp -d) && mount -t tmpfs -o size=64k tmpfs $d && umount $d && rmdir $d"],
            capture_output=True,
            timeout=20,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return probe.returncode == 0


needs_namespace = pytest.mark.skipif(
    not namespace_works(), reason="needs unprivileged user namespaces (unshare -Urm) to mount a tiny or read-only tmpfs"
)


def in_namespace(script: str, tmp_path: Path) -> subprocess.CompletedProcess:
    """Run a bash ``script`` as root of a private user and mount namespace: its mounts vanish
    with it, so it reports what it saw into files under ``tmp_path``."""
    return subprocess.run(
        ["unshare", "-Urm", "bash", "-euc", script],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=tmp_path,
        env=os.environ.copy(),
    )


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie, dead but not yet reaped by whoever adopted it, does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def descendants(pid: int) -> dict[int, str]:
    """Every live process below ``pid``: its id and command line."""
    parents: dict[int, int] = {}
    commands: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
            commands[int(entry.name)] = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except (OSError, ValueError, IndexError):
            continue
    found: dict[int, str] = {}
    frontier = [pid]
    while frontier:
        parent = frontier.pop()
        for child, its_parent in parents.items():
            if its_parent == parent and child not in found:
                found[child] = commands.get(child, "")
                frontier.append(child)
    return {p: c for p, c in found.items() if alive(p)}


def reading(pid: int) -> bool:
    """Whether a reader process has got as far as loading pandas: past its start-up, where it
    arranges to die with its parent (a child stopped before that would outlive it)."""
    try:
        return "pandas" in Path(f"/proc/{pid}/maps").read_text()
    except OSError:
        return False


def wait_until(predicate, timeout: float = 60, step: float = 0.02):
    """Poll ``predicate`` until it returns something truthy (returned) or ``timeout`` passes
    (None). A limit on waiting for an event, never an assertion about speed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    return None


def gone(pids, timeout: float = 30) -> bool:
    return bool(wait_until(lambda: not any(alive(p) for p in pids), timeout))


def kill_survivors(pids) -> None:
    """A failed test must not leave its paused processes behind."""
    for pid in pids:
        if alive(pid):
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)


def enospc(*_a, **_k):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def fill_disk_after(monkeypatch, limit: int, under: Path | None = None, names: tuple[str, ...] = (".part",)):
    """Writes to temporary files (``.part``, or below ``under``) fail with ENOSPC once
    ``limit`` bytes went in, as on a disk that fills while a file is written."""
    import builtins

    real_open = builtins.open

    class FullDisk:
        def __init__(self, fh):
            self._fh, self._written = fh, 0

        def write(self, data):
            if self._written + len(data) > limit:
                self._fh.write(data[: max(0, limit - self._written)])
                self._fh.flush()
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            self._written += len(data)
            return self._fh.write(data)

        def __getattr__(self, name):
            return getattr(self._fh, name)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self._fh.close()

        def __iter__(self):
            return iter(self._fh)

    def patched(file, mode="r", *args, **kwargs):
        fh = real_open(file, mode, *args, **kwargs)
        text = str(file)
        hit = any(text.endswith(n) for n in names) or (under is not None and text.startswith(str(under)))
        if hit and any(c in mode for c in "wax"):
            return FullDisk(fh)
        return fh

    monkeypatch.setattr(builtins, "open", patched)


# -- the data folder --------------------------------------------------------------------------


def test_data_dir_problem_names_the_folder_and_the_reason(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    problem = data_dir_problem(blocker / "data")
    assert problem is not None and str(blocker / "data") in problem and "Not a directory" in problem
    fresh = tmp_path / "new" / "data"
    assert data_dir_problem(fresh) is None
    assert fresh.is_dir() and files_under(fresh) == []  # the probe file is gone
    assert (fresh.stat().st_mode & 0o777) == 0o700


@pytest.mark.slow
def test_detect_with_an_uncreatable_data_dir_works_and_says_so_once(table_csv, tmp_path):
    blocker = tmp_path / "blocker"
    blocker.write_text("x")
    out = tmp_path / "out.json"
    proc = cli_run("detect", table_csv, "--model", "iforest", "-o", out, env={"ANOMALY_TUI_DATA_DIR": str(blocker / "data")})
    assert proc.returncode == 0, proc.stderr
    line = one_line(proc.stderr, "note: the model was not cached (")
    assert "Not a directory" in line and "results are unaffected" in line
    doc = json.loads(out.read_text())
    assert doc["model"]["from_cache"] is False and doc["source"]["rows"] == 400
    assert blocker.read_text() == "x"


def test_a_full_data_disk_during_a_cache_write_leaves_nothing(table_csv, private_data_dir, monkeypatch, capsys):
    # The model files are written, the disk fills half-way through one of them.
    fill_disk_after(monkeypatch, 64, under=private_data_dir, names=())
    real_write_bytes = Path.write_bytes

    def write_bytes(self, data):
        if str(self).startswith(str(private_data_dir)):
            real_write_bytes(self, data[: len(data) // 2])
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_write_bytes(self, data)

    monkeypatch.setattr(Path, "write_bytes", write_bytes)
    out = private_data_dir.parent / f"{private_data_dir.name}-out.json"
    assert cli.main(["detect", str(table_csv), "--model", "iforest", "-o", str(out)]) == 0
    line = one_line(capsys.readouterr().err, "note: the model was not cached (No space left on device)")
    assert "results are unaffected" in line
    assert json.loads(out.read_text())["source"]["rows"] == 400
    # The run's record in the review store (SQLite writes past Python's open); of the cache:
    # no staging folder, no half entry.
    assert files_under(private_data_dir) == ["reviews.sqlite3"]


@needs_namespace
@pytest.mark.slow
@pytest.mark.parametrize("fault", ["read-only", "full"])
def test_detect_on_a_real_read_only_or_full_data_disk(table_csv, tmp_path, fault):
    options = "ro" if fault == "read-only" else "size=4k"
    script = f"""
        mkdir -p data
        mount -t tmpfs -o {options} tmpfs data
        set +e
        ANOMALY_TUI_DATA_DIR=$PWD/data {sys.executable} -m tui_detector detect {table_csv} --model iforest -o out.json 2> err.txt
        echo $? > rc.txt
        set -e
        find data -type f > left.txt
    """
    proc = in_namespace(textwrap.dedent(script), tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "rc.txt").read_text().strip() == "0", (tmp_path / "err.txt").read_text()
    reason = "Read-only file system" if fault == "read-only" else "No space left on device"
    line = one_line((tmp_path / "err.txt").read_text(), "note: the model was not cached (")
    assert reason in line
    assert json.loads((tmp_path / "out.json").read_text())["anomaly_count"] > 0
    assert (tmp_path / "left.txt").read_text() == ""  # nothing half-written on the full disk


# -- the disk fills during an export or a scored copy -----------------------------------------


@pytest.mark.parametrize(
    ("name", "when"),
    [("out.json", "mid-write"), ("out.json", "at sync"), ("copy.csv", "mid-write"), ("copy.csv", "at sync"), ("copy.xlsx", "at sync")],
)
def test_a_full_disk_during_an_export_keeps_the_earlier_file(scored_run, tmp_path, monkeypatch, name, when):
    folder = tmp_path / "exports"
    folder.mkdir()
    target = folder / name
    target.write_bytes(b"the earlier export, still wanted")
    if when == "mid-write":
        fill_disk_after(monkeypatch, 300)
    else:
        monkeypatch.setattr(atomic, "_fsync_file", enospc)
    anomalies = explained_anomalies(scored_run)
    with pytest.raises(OSError) as caught:
        if name.endswith(".json"):
            write_export(build_export(scored_run, all_rows=True, anomalies=anomalies), target, overwrite=True)
        else:
            write_scored_copy(scored_run, anomalies, target, overwrite=True)
    assert caught.value.errno == errno.ENOSPC
    assert target.read_bytes() == b"the earlier export, still wanted"
    assert files_under(folder) == [name]  # no partial, no temporary file


@pytest.mark.parametrize("option", ["-o", "--scored-copy"])
def test_detect_on_a_full_disk_says_so_in_one_line(table_csv, tmp_path, monkeypatch, capsys, option):
    folder = tmp_path / "exports"
    folder.mkdir()
    target = folder / ("out.json" if option == "-o" else "copy.xlsx")
    target.write_bytes(b"earlier")
    monkeypatch.setattr(atomic, "_fsync_file", enospc)
    extra = ["-o", str(folder / "unused.json")] if option == "--scored-copy" else []
    assert cli.main(["detect", str(table_csv), "--model", "iforest", option, str(target), *extra]) == 1
    captured = capsys.readouterr()
    one_line(captured.err, f"error: cannot write {target}: No space left on device")
    assert target.read_bytes() == b"earlier"
    assert files_under(folder) == [target.name]


@needs_namespace
@pytest.mark.slow
def test_detect_on_a_really_full_disk(table_csv, tmp_path):
    script = f"""
        mkdir -p small
        mount -t tmpfs -o size=64k tmpfs small
        head -c 56000 /dev/zero > small/out.json
        sha256sum small/out.json > before.txt
        set +e
        {sys.executable} -m tui_detector detect {table_csv} --model iforest --all-rows -o small/out.json 2> err.txt
        echo $? > rc.txt
        {sys.executable} -m tui_detector detect {table_csv} --model iforest --scored-copy small/copy.csv -o small/x.json 2> err2.txt
        echo $? >> rc.txt
        set -e
        sha256sum small/out.json > after.txt
        ls -A small > left.txt
    """
    proc = in_namespace(textwrap.dedent(script), tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "rc.txt").read_text().split() == ["1", "1"]
    one_line((tmp_path / "err.txt").read_text(), "error: cannot write small/out.json: No space left on device")
    one_line((tmp_path / "err2.txt").read_text(), "error: cannot write small/copy.csv: No space left on device")
    assert (tmp_path / "before.txt").read_text() == (tmp_path / "after.txt").read_text()
    assert (tmp_path / "left.txt").read_text().split() == ["out.json"]


# -- SIGKILL mid-way --------------------------------------------------------------------------

PAUSE_AT = """
import os, sys, time
from pathlib import Path
ready = Path(sys.argv[1])

def pause(*_a, **_k):
    ready.write_text(str(os.getpid()))
    time.sleep(600)
"""


def start_paused(tmp_path: Path, body: str) -> tuple[subprocess.Popen, Path]:
    """Start a Python child running ``PAUSE_AT + body``; ``body`` installs ``pause`` at the step
    to be killed at. Returns it once it sits there."""
    ready = tmp_path / "ready"
    script = tmp_path / "child.py"
    script.write_text(PAUSE_AT + textwrap.dedent(body))
    proc = subprocess.Popen([sys.executable, str(script), str(ready)], env=os.environ.copy(), stderr=subprocess.PIPE)
    if not wait_until(ready.exists, timeout=120):
        proc.kill()
        pytest.fail(f"the child never reached the step: {proc.communicate()[1].decode()[-2000:]}")
    return proc, ready


def kill_hard(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)


@pytest.mark.slow
def test_killed_during_a_cache_write_next_run_is_a_clean_miss(table_csv, tmp_path, private_data_dir):
    proc, _ = start_paused(
        tmp_path,
        f"""
        from tui_detector.core import cache
        real = cache.ModelCache._install
        cache.ModelCache._install = lambda *a, **k: pause()  # the entry is staged, not placed
        from tui_detector.core.pipeline import DetectionSettings, run_detection
        run_detection({str(table_csv)!r}, DetectionSettings(model="iforest"))
        """,
    )
    kill_hard(proc)
    models = private_data_dir / "models"
    staged = [p for p in models.iterdir() if p.name.startswith(".tmp-")]
    assert len(staged) == 1 and not [p for p in models.iterdir() if not p.name.startswith(".")]

    settings = DetectionSettings(model="iforest")
    run = run_detection(table_csv, settings)
    assert run.from_cache is False and run.cache_note == "stored"
    assert staged[0].exists()  # young: it could be a live writer's, so it is left for now
    old = time.time() - cache_mod.STALE_SECONDS - 60
    os.utime(staged[0], (old, old))
    again = run_detection(table_csv, settings)
    assert again.from_cache is True
    assert not staged[0].exists()  # swept on the first look-up of a new process's cache
    assert [p.name for p in models.iterdir()] == [run.cache_key]


@pytest.mark.slow
def test_killed_during_an_export_the_earlier_file_stays_and_the_leftover_is_swept(table_csv, tmp_path, scored_run):
    folder = tmp_path / "exports"
    folder.mkdir()
    target = folder / "out.json"
    target.write_bytes(b"earlier")
    proc, _ = start_paused(
        tmp_path,
        f"""
        from tui_detector.core import atomic
        atomic._fsync_file = pause  # written in full, not yet renamed onto the target
        from tui_detector.core.pipeline import DetectionSettings, run_detection
        from tui_detector.core.export import build_export, explained_anomalies, write_export
        run = run_detection({str(table_csv)!r}, DetectionSettings(model="iforest", use_cache=False))
        write_export(build_export(run, anomalies=explained_anomalies(run)), {str(target)!r}, overwrite=True)
        """,
    )
    kill_hard(proc)
    assert target.read_bytes() == b"earlier"
    (leftover,) = [p for p in folder.iterdir() if p.name.endswith(".part")]
    assert leftover.name.startswith(".out.json.")
    # Someone else's temporary file beside it, and one of ours still being written, are kept.
    foreign = folder / ".out.json.notours.tmp"
    foreign.write_text("x")
    old = time.time() - atomic.STALE_PART_SECONDS - 60
    os.utime(leftover, (old, old))
    os.utime(foreign, (old, old))
    live = folder / ".out.json.live1234.part"
    live.write_text("in progress")

    write_export(build_export(scored_run, anomalies=explained_anomalies(scored_run)), target, overwrite=True)
    assert json.loads(target.read_text())["anomaly_count"] == int(scored_run.detection.flags.sum())
    assert sorted(p.name for p in folder.iterdir()) == sorted([".out.json.live1234.part", ".out.json.notours.tmp", "out.json"])


def _run_on_pty(args: list[str], env: dict[str, str] | None = None) -> tuple[subprocess.Popen, int]:
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "tui_detector", *args],
        stdin=slave,
        stdout=subprocess.DEVNULL,
        stderr=slave,
        env={**os.environ, **(env or {})},
        start_new_session=True,
    )
    os.close(slave)
    return proc, master


def _read_until(master: int, needle: bytes, timeout: float = 120) -> bytes:
    seen = b""
    deadline = time.monotonic() + timeout
    while needle not in seen and time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 1)
        if ready:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
    return seen


@needs_proc
@pytest.mark.slow
def test_killed_during_training_leaves_no_process_and_the_next_run_starts_clean(tmp_path, private_data_dir):
    data = tmp_path / "big.csv"
    mixed_table(3000, 0)[0].to_csv(data, index=False)
    proc, master = _run_on_pty(["detect", str(data), "--epochs", "400"])
    workers: dict[int, str] = {}
    try:
        seen = _read_until(master, b"training  epoch")
        assert b"training  epoch" in seen, seen[-500:]
        workers = descendants(proc.pid)
        assert workers, "the detection runs in a watched child"
        for pid in workers:  # paused: without a death signal they would outlive their parent
            os.kill(pid, signal.SIGSTOP)
        kill_hard(proc)
        assert gone(workers), descendants(1)
    finally:
        os.close(master)
        kill_survivors(workers)
    assert files_under(private_data_dir / "models") == []
    again = cli_run("detect", data, "--epochs", "2")
    assert again.returncode == 0 and again.stderr == "", again.stderr  # a plain miss: no note
    assert json.loads(again.stdout)["model"]["from_cache"] is False
    assert len(ModelCache().entries()) == 1


@needs_proc
@pytest.mark.slow
def test_killed_during_a_big_read_no_reader_outlives_it_and_its_folder_is_swept(tmp_path):
    data = tmp_path / "big.csv"
    mixed_table(150_000, 0)[0].to_csv(data, index=False)
    private_tmp = tmp_path / "tmp"
    private_tmp.mkdir()
    env = {"ANOMALY_TUI_READ_CHILD": "1", "TMPDIR": str(private_tmp)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "tui_detector", "detect", str(data), "--model", "iforest"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, **env},
    )
    tree: dict[int, str] = {}
    try:
        reader = wait_until(lambda: [p for p, c in descendants(proc.pid).items() if "_tablechild" in c and reading(p)], timeout=120, step=0.005)
        assert reader, "the read never reached a reader process"
        tree = descendants(proc.pid)
        for pid in tree:
            os.kill(pid, signal.SIGSTOP)  # mid-read, for as long as it takes
        kill_hard(proc)
        assert gone(tree), descendants(1)
    finally:
        if proc.poll() is None:
            proc.kill()
        kill_survivors(tree)
    assert [p.name.startswith("anomaly-tui-read-") for p in private_tmp.iterdir()] == [True]
    again = cli_run("detect", data, "--model", "iforest", "--no-cache", env=env)
    assert again.returncode == 0, again.stderr
    assert list(private_tmp.iterdir()) == []  # the dead reader's hand-over folder is swept


# -- at the same time -------------------------------------------------------------------------


@pytest.mark.slow
def test_two_detects_and_one_in_process_at_once_make_one_good_entry(table_csv, private_data_dir):
    settings = DetectionSettings(model="auto", epochs=3)
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "tui_detector", "detect", str(table_csv), "--epochs", "3"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=os.environ.copy(),
        )
        for _ in range(2)
    ]
    inside: dict = {}
    thread = threading.Thread(target=lambda: inside.setdefault("run", run_detection(table_csv, settings)))
    thread.start()
    outputs = [p.communicate(timeout=300) for p in procs]
    thread.join(timeout=300)
    for proc, (out, err) in zip(procs, outputs):
        assert proc.returncode == 0 and err == "", err
    flagged = {tuple(sorted(a["row_index"] for a in json.loads(out)["anomalies"])) for out, _ in outputs}
    flagged.add(tuple(int(i) for i in inside["run"].detection.flags.nonzero()[0]))
    assert len(flagged) == 1  # the same rows, whoever trained and whoever read the entry
    models = private_data_dir / "models"
    assert [p.name for p in models.iterdir()] == [inside["run"].cache_key]  # no staging, no trash
    store = ModelCache()
    assert store.get(cache_inputs_for(inside["run"].loaded, inside["run"].sha256, settings)) is not None


# -- memory -----------------------------------------------------------------------------------


def _limited(limit: int):
    def apply() -> None:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    return apply


PEAK = """
import sys
from tui_detector.cli import main
main(sys.argv[1:])
status = open("/proc/self/status").read()
print(next(l for l in status.splitlines() if l.startswith("VmPeak")).split()[1])
"""


@needs_proc
@pytest.mark.slow
def test_detect_under_a_memory_limit_says_not_enough_memory(tmp_path, table_csv):
    # The limit: what a detection of a small table takes here, and a little more; the table
    # to read needs far more than that little (it is read in a child, which inherits the limit).
    peak = subprocess.run(
        [sys.executable, "-c", PEAK, "detect", str(table_csv), "--no-cache", "--epochs", "2", "-o", str(tmp_path / "small.json")],
        capture_output=True,
        text=True,
        timeout=180,
        env=os.environ.copy(),
    )
    assert peak.returncode == 0, peak.stderr
    limit = int(peak.stdout.split()[-1]) * 1024 + (48 << 20)
    big = tmp_path / "big.csv"
    mixed_table(200_000, 0)[0].to_csv(big, index=False)
    proc = subprocess.run(
        [sys.executable, "-m", "tui_detector", "detect", str(big), "--no-cache", "--epochs", "2", "-o", str(tmp_path / "o.json")],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
        env=os.environ.copy(),
        preexec_fn=_limited(limit),
    )
    assert proc.returncode == 1, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    # A native library may have said its own words first; ours is the one error line, last.
    assert len(errors) == 1 and proc.stderr.strip().splitlines()[-1] == errors[0], proc.stderr
    assert errors[0].startswith("error: not enough memory: ") and "(ulimit -v)" in errors[0]
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "o.json").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith("core")]


@needs_proc
@pytest.mark.slow
def test_the_issues_1_5_gib_limit_is_one_line_too(tmp_path, table_csv):
    proc = subprocess.run(
        [sys.executable, "-m", "tui_detector", "detect", str(table_csv), "--no-cache", "-o", str(tmp_path / "o.json")],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
        env=os.environ.copy(),
        preexec_fn=_limited(3 << 29),
    )
    if proc.returncode == 0:
        assert proc.stderr == ""  # this machine's libraries fit: nothing to report
        return
    assert proc.returncode == 1
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and errors[0].startswith("error: not enough memory: "), proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_memory_error_in_process_is_the_one_line(table_csv, monkeypatch, capsys):
    from tui_detector.core.model import detector

    monkeypatch.setattr(detector.TabularAnomalyDetector, "train", lambda *a, **k: (_ for _ in ()).throw(MemoryError()))
    assert cli.main(["detect", str(table_csv), "--no-cache"]) == 1
    one_line(capsys.readouterr().err, "error: not enough memory: the table does not fit in the memory this process may use")


def test_a_reader_child_killed_for_memory_is_the_one_line(table_csv, monkeypatch, capsys):
    from tui_detector.core.io import child, sandbox

    monkeypatch.setenv("ANOMALY_TUI_READ_CHILD", "1")
    monkeypatch.setattr(sandbox, "run", lambda *a, **k: sandbox.Ended(returncode=-signal.SIGKILL, stderr=b""))
    assert child.wanted(table_csv)
    assert cli.main(["detect", str(table_csv), "--no-cache"]) == 1
    line = one_line(capsys.readouterr().err, "error: not enough memory: reading 'claims.csv' needs more memory")
    assert "killed" in line


# -- an entry of a newer version --------------------------------------------------------------


def _make_newer(entry: Path) -> bytes:
    manifest = json.loads((entry / MANIFEST).read_bytes())
    manifest["format_version"] = MODEL_FORMAT_VERSION + 1
    data = json.dumps(manifest).encode()
    (entry / MANIFEST).write_bytes(data)
    record = json.loads((entry / "entry.json").read_text())
    import hashlib

    record["manifest_sha256"] = hashlib.sha256(data).hexdigest()
    (entry / "entry.json").write_text(json.dumps(record))
    return data


def test_a_newer_versions_entry_is_a_miss_with_a_note_and_is_kept(table_csv, private_data_dir, capsys):
    settings = DetectionSettings(model="iforest")
    first = run_detection(table_csv, settings)
    entry = private_data_dir / "models" / first.cache_key
    data = _make_newer(entry)

    again = run_detection(table_csv, settings)
    assert again.from_cache is False
    assert "newer anomaly-tui" in again.cache_note and f"model format {MODEL_FORMAT_VERSION + 1}" in again.cache_note
    assert (entry / MANIFEST).read_bytes() == data  # neither deleted nor stored over

    assert cli.main(["detect", str(table_csv), "--model", "iforest", "-o", str(private_data_dir.parent / "n.json")]) == 0
    line = one_line(capsys.readouterr().err, "note: the model was not cached (")
    assert "newer anomaly-tui" in line and "kept" in line
    assert (entry / MANIFEST).read_bytes() == data
    assert cli.main(["cache", "list"]) == 0
    assert "(written by a newer anomaly-tui: kept)" in capsys.readouterr().out
