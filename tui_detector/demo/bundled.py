"""Where the bundled demo workbook lives, without loading what generates it.

``anomaly-tui --demo`` only needs the file's path. The workbook ships with the package
(``data/``, what ``write_demo_workbook(path, seed=0)`` writes; a test keeps the two alike) and is
copied to the user cache on first use; only without the shipped copy is it generated then
(pandas, NumPy and openpyxl, seconds). After changing the generator, bump DEMO_VERSION and write
the new file into ``data/``::

    python -c "from tui_detector.demo.bundled import write_shipped; write_shipped()"
"""

from __future__ import annotations

from pathlib import Path

import platformdirs

#: Bumped when the generator changes what the demo workbook holds.
DEMO_VERSION = 1
#: The workbook as shipped in the package.
SHIPPED = Path(__file__).resolve().parent / "data" / f"expense-claims-demo-v{DEMO_VERSION}.xlsx"


def demo_workbook_path() -> Path:
    """The bundled demo workbook in the user cache, generated on first use (seed 0)."""
    directory = Path(platformdirs.user_cache_dir("anomaly-tui")) / "demo"
    path = directory / f"expense-claims-demo-v{DEMO_VERSION}.xlsx"
    if not path.is_file():
        if SHIPPED.is_file():
            from ..core.atomic import write_bytes_atomic  # noqa: PLC0415

            path.parent.mkdir(parents=True, exist_ok=True)
            write_bytes_atomic(path, SHIPPED.read_bytes(), overwrite=True)
        else:
            from .workbook import write_demo_workbook  # noqa: PLC0415 - the slow import, once

            write_demo_workbook(path, seed=0)
    return path


def write_shipped() -> Path:
    """Write the shipped copy afresh from the generator (after a change to it)."""
    from .workbook import write_demo_workbook  # noqa: PLC0415

    write_demo_workbook(SHIPPED, seed=0)
    return SHIPPED
