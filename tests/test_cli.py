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
