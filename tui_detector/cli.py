"""Command line: ``anomaly-tui [PATH] [--demo]`` opens the app."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from . import __version__


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="anomaly-tui",
        description="Find the strange rows in a spreadsheet and explain why they are strange.",
    )
    parser.add_argument("path", nargs="?", type=Path, help="an .xlsx/.xlsm/.xls/.xlsb/.ods/.csv/.tsv file")
    parser.add_argument("--demo", action="store_true", help="open the bundled sample workbook")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    path: Path | None = args.path
    if args.demo:
        from .core.synthetic import demo_workbook_path

        path = demo_workbook_path()
    if path is not None and not path.exists():
        print(f"error: file not found: {path}", file=sys.stderr)
        return 1
    from .ui.app import make_app

    make_app(path).run()
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
