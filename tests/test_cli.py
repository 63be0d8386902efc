import subprocess
import sys


def run(*args):
    return subprocess.run([sys.executable, "-m", "tui_detector", *args], capture_output=True, text=True, timeout=60)


def test_missing_file_is_one_line_and_exit_1(tmp_path):
    proc = run(str(tmp_path / "nope.xlsx"))
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [f"error: file not found: {tmp_path / 'nope.xlsx'}"]


def test_bad_arguments_exit_2():
    proc = run("--no-such-flag")
    assert proc.returncode == 2


def test_version():
    proc = run("--version")
    assert proc.returncode == 0 and proc.stdout.startswith("anomaly-tui ")


def test_a_thread_that_cannot_start_under_a_memory_limit_is_said_as_not_enough_memory(monkeypatch):
    from tui_detector import cli

    failure = RuntimeError("can't start new thread")
    monkeypatch.setattr(cli, "_address_space_limit", lambda: 900 << 20)
    said = cli._out_of_memory(failure)
    assert said.startswith("not enough memory: a worker thread could not be started; this process may use ")
    assert said.endswith("of address space (ulimit -v)")
    # Without a limit the same error is not taken for a lack of memory (a thread limit, say).
    monkeypatch.setattr(cli, "_address_space_limit", lambda: None)
    assert cli._out_of_memory(failure) is None


def test_only_a_thread_that_cannot_start_under_a_limit_counts_as_out_of_memory(monkeypatch):
    import errno

    from tui_detector.core import errors

    thread = RuntimeError("can't start new thread")
    monkeypatch.setattr(errors, "address_space_limit", lambda: None)
    assert not errors.is_out_of_memory(thread)  # a process or thread limit, not memory
    assert errors.is_out_of_memory(MemoryError()) and errors.is_out_of_memory(OSError(errno.ENOMEM, "no"))
    assert not errors.is_out_of_memory(RuntimeError("other")) and not errors.is_out_of_memory(ValueError("x"))
    monkeypatch.setattr(errors, "address_space_limit", lambda: 1 << 30)
    assert errors.is_out_of_memory(thread)
