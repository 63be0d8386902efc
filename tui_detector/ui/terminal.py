"""Keep stray writes to file descriptor 2 off the screen while the app is running.

TensorFlow's C++ logging writes straight to fd 2, and the core silences fd 2 (``dup2`` of
``/dev/null``) while it imports TensorFlow. Textual draws on ``sys.__stderr__``, which is
fd 2 too, so either would corrupt or blank the screen mid-session. Before Textual starts we
therefore give it its own duplicate of the terminal and point fd 2 at a log file; everything
is put back on exit. Tests (``run_test``) never call this: they have no terminal.
"""

from __future__ import annotations

import io
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

LOG_NAME = "app.log"
#: A log bigger than this is started afresh rather than appended to.
MAX_LOG_BYTES = 1 << 20


def log_path() -> Path | None:
    """Where fd 2 goes while the app runs: ``<data dir>/logs/app.log``, or ``None`` if unwritable."""
    override = os.environ.get("ANOMALY_TUI_DATA_DIR")
    if override:
        root = Path(override).expanduser()
    else:
        import platformdirs  # noqa: PLC0415

        root = Path(platformdirs.user_data_dir("anomaly-tui", appauthor=False))
    directory = root / "logs"
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    return directory / LOG_NAME


@contextmanager
def terminal_for_textual() -> Iterator[Path | None]:
    """Run the body with Textual on a private copy of the terminal and fd 2 on a log file."""
    try:
        sys.__stderr__.fileno()  # type: ignore[union-attr]
    except (AttributeError, OSError, ValueError):
        yield None  # no real stderr (embedded, tests): nothing to protect
        return
    sys.__stderr__.flush()  # type: ignore[union-attr]
    terminal_fd = os.dup(2)
    path = log_path()
    target = os.devnull
    if path is not None:
        try:
            mode = "w" if path.exists() and path.stat().st_size > MAX_LOG_BYTES else "a"
            with open(path, mode, encoding="utf-8"):
                pass
            target = str(path)
        except OSError:
            path = None
    log_fd = os.open(target, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    original = (sys.__stderr__, sys.stderr)
    terminal = io.TextIOWrapper(
        io.FileIO(terminal_fd, "w", closefd=False),
        encoding=getattr(sys.__stderr__, "encoding", None) or "utf-8",
        errors="replace",
        line_buffering=False,
        write_through=True,
    )
    os.dup2(log_fd, 2)
    os.close(log_fd)
    # Textual's Linux driver writes to sys.__stderr__ (read when the driver is made, inside
    # App.run), and App keeps it for print redirection (read in App.__init__): swap both first.
    sys.__stderr__ = sys.stderr = terminal  # type: ignore[misc]
    try:
        yield path
    finally:
        try:
            terminal.flush()
        except (OSError, ValueError):
            pass
        sys.__stderr__, sys.stderr = original  # type: ignore[misc]
        os.dup2(terminal_fd, 2)
        os.close(terminal_fd)
