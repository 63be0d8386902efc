"""Small pieces every command-line command shares: the error type, the one-line messages, the
checks of input and output paths, writing without a traceback."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from .core.io.formats import BadPath, check_path


class CliError(Exception):
    """Ends the command with ``error: <message>`` and exit status 1."""


def whole_number(text: str, low: int, high: int | None = None, *, high_text: str | None = None) -> int:
    """An option's whole number from ``low`` (to ``high``, shown as ``high_text`` if given), for
    argparse: anything else is its usage error in words."""
    import argparse  # noqa: PLC0415

    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if high is None and value < low:
        raise argparse.ArgumentTypeError(f"must be at least {low}, not {text}")
    if high is not None and not low <= value <= high:
        raise argparse.ArgumentTypeError(f"must be between {low} and {high_text or high}, not {text}")
    return value


def note(message: str) -> None:
    print(f"note: {' '.join(str(message).split())}", file=sys.stderr, flush=True)


def error(message: str) -> None:
    # One line, whatever the message holds: scripts read the last line of stderr.
    print(f"error: {' '.join(str(message).split())}", file=sys.stderr, flush=True)


def resolve_sheet(path: Path, sheet: str | None) -> str | int | None:
    """A sheet's name wins; digits that name no sheet are a 0-based sheet number."""
    if sheet is None or not sheet.strip().isdigit():
        return sheet
    from .core.io.reader import list_sheets  # noqa: PLC0415

    names = [s.name for s in list_sheets(path)]
    return sheet if sheet in names else int(sheet)


def check_input(path: Path) -> None:
    """The reader's path check, in the command line's words. An empty file is left to the
    read, which says so once the output paths have been checked too."""
    try:
        check_path(path, allow_empty=True)
    except BadPath as exc:
        if exc.kind == "missing":
            raise CliError(f"file not found: {path}") from None
        if exc.kind == "folder":
            raise CliError(f"{path} is a folder; give a spreadsheet or CSV file") from None
        raise


def same_file(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def check_output(target: Path, source: Path, what: str) -> None:
    if same_file(target, source):
        raise CliError(f"{what} {target} is the input file; choose another name")
    if target.is_dir():
        raise CliError(f"{what} {target} is a folder; give a file name")
    parent = target.parent if str(target.parent) else Path(".")
    if not parent.is_dir():
        raise CliError(f"cannot write {what} {target}: the folder {parent} does not exist")
    if not os.access(parent, os.W_OK):
        raise CliError(f"cannot write {what} {target}: no permission to write in {parent}")


def write_or_fail(action: Any, target: Path) -> None:
    try:
        action()
    except OSError as exc:
        raise CliError(f"cannot write {target}: {exc.strerror or exc}") from None


def write_stdout(text: str) -> None:
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader went away (`| head`): nothing more to say, and Python must not complain
        # about the unflushable stdout at exit either.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        raise CliError("output pipe closed before the JSON was written") from None


def printable(text: str) -> str:
    # File names can hold control characters; a listing must not move the user's cursor.
    return "".join(c if c.isprintable() else "?" for c in text)
