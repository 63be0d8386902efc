"""Where the bundled demo workbook lives, without loading what generates it.

``anomaly-tui --demo`` only needs the file's path; the generator (pandas, NumPy, openpyxl) is
imported only on the first run, when the file is written.
"""

from __future__ import annotations

from pathlib import Path

import platformdirs

#: Bumped when the generator changes what the demo workbook holds.
DEMO_VERSION = 1


def demo_workbook_path() -> Path:
    """The bundled demo workbook in the user cache, generated on first use (seed 0)."""
    directory = Path(platformdirs.user_cache_dir("anomaly-tui")) / "demo"
    path = directory / f"expense-claims-demo-v{DEMO_VERSION}.xlsx"
    if not path.is_file():
        from .workbook import write_demo_workbook  # noqa: PLC0415 - the slow import, once

        write_demo_workbook(path, seed=0)
    return path
