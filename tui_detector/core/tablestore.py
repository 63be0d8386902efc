"""A read table kept in the model cache entry trained on it, so reopening the same file reads
nothing but the kept copy.

Reading a workbook is most of what a cached reopen costs (parsing the sheet's XML, the checks
that guard against hostile files, typing the cells). The bytes of the file decide the table
(given the same sheet and reading options), so the table read once is kept beside the model as
an Arrow file (the reader process's own hand-over format, :mod:`.io.tablewire`: data only,
nothing executable) with its SHA-256 and the read's report, and is found again by the file's
SHA-256.
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path
from typing import Any

import numpy as np

from .io.table import LoadedTable, LoadReport, SheetInfo
from .rowchecks import TotalsRow

TABLE_FILE = "table.arrow"
ROWS_FILE = "table-rows.npy"
SOURCE_ROWS_FILE = "table-source-rows.npy"
#: Bigger tables (in Arrow, before compression) are not kept: the copy is made while the
#: scored table is still in memory, and a full-size sheet's would push the run past its memory
#: budget (and crowd the models out of the cache).
MAX_TABLE_BYTES = 64 * 1024 * 1024


def request_of(sheet: str | int | None) -> dict[str, Any]:
    """How a table was asked for: the sheet as given (name, position or first), default options."""
    return {"sheet": sheet if sheet is None or isinstance(sheet, str) else int(sheet)}


def requests_for(loaded: LoadedTable) -> list[dict[str, Any]]:
    """The requests that read ``loaded``: the one made, and the sheet asked for by its name."""
    named = request_of(loaded.report.sheet) if loaded.report.sheet is not None else None
    made = loaded.asked or named or request_of(None)
    return [made] if named in (None, made) else [made, named]


def write_table(directory: Path, loaded: LoadedTable, requests: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Write ``loaded`` into ``directory``; the record for the entry, or None when not kept."""
    import pyarrow as pa  # noqa: PLC0415 - a dependency, needed only when a table is kept
    import pyarrow.ipc  # noqa: PLC0415

    from .io.tablewire import frame_to_table  # noqa: PLC0415

    table = frame_to_table(loaded.frame)
    if table.nbytes > MAX_TABLE_BYTES:
        return None
    path = directory / TABLE_FILE
    # zstd: a quarter of the size (text compresses well) for about no time either way.
    options = pa.ipc.IpcWriteOptions(compression="zstd")
    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, table.schema, options=options) as writer:
        writer.write_table(table)
    for numbers, name in ((loaded.excel_rows, ROWS_FILE), (loaded.source_rows, SOURCE_ROWS_FILE)):
        if numbers is not None:
            np.save(directory / name, np.asarray(numbers, dtype=np.int64), allow_pickle=False)
    if not requests:
        return None
    report = {k: v for k, v in vars(loaded.report).items() if k not in ("path", "seconds")}
    sheets = None
    if loaded.sheets is not None:
        sheets = [[s.name, s.index, s.rows, s.columns, s.visible] for s in loaded.sheets]
    totals = None
    if loaded.totals_found is not None:
        totals = [[t.position, t.label, list(t.columns)] for t in loaded.totals_found]
    profiles = [p.to_json() for p in loaded.profiles] if loaded.profiles is not None else None
    return {
        "requests": requests,
        "sheets": sheets,
        "totals": totals,
        "profiles": profiles,
        "sha256": _sha256(path),
        "rows_sha256": _sha256(directory / ROWS_FILE) if loaded.excel_rows is not None else None,
        "source_rows_sha256": _sha256(directory / SOURCE_ROWS_FILE) if loaded.source_rows is not None else None,
        "report": report,
    }


def read_table(directory: Path, record: dict[str, Any], path: Path) -> LoadedTable:
    """The kept table, as if ``path`` had just been read.

    Raises ValueError (with the reason) when the kept copy is damaged or does not fit its record.
    """
    import pyarrow as pa  # noqa: PLC0415
    import pyarrow.ipc  # noqa: PLC0415

    from .io.tablewire import table_to_frame  # noqa: PLC0415

    started = time.perf_counter()
    file = directory / TABLE_FILE
    if _sha256(file) != record.get("sha256"):
        raise ValueError("the kept table does not match its checksum")
    rows = _row_numbers(directory / ROWS_FILE, record.get("rows_sha256"))
    source_rows = _row_numbers(directory / SOURCE_ROWS_FILE, record.get("source_rows_sha256"))
    try:
        with pa.OSFile(str(file), "rb") as source:
            frame = table_to_frame(pa.ipc.open_file(source).read_all().combine_chunks())
        report = LoadReport(path=str(path), seconds=0.0, **record["report"])
    except (OSError, TypeError, KeyError, pa.ArrowException) as exc:
        raise ValueError(f"the kept table is unreadable ({type(exc).__name__})") from None
    if list(map(str, frame.columns)) != list(report.columns) or len(frame) != report.rows:
        raise ValueError("the kept table does not fit its report")
    if any(numbers is not None and numbers.shape != (len(frame),) for numbers in (rows, source_rows)):
        raise ValueError("the kept table's row numbers do not fit it")
    sheets = record.get("sheets")
    try:
        listed = None
        if sheets is not None:
            listed = tuple(SheetInfo(str(n), int(i), int(r), int(c), bool(v)) for n, i, r, c, v in sheets)
    except (TypeError, ValueError):
        raise ValueError("the kept table's sheet list is damaged") from None
    totals = record.get("totals")
    try:
        found = None
        if totals is not None:
            found = tuple(TotalsRow(int(p), None if label is None else str(label), tuple(map(str, c))) for p, label, c in totals)
    except (TypeError, ValueError):
        raise ValueError("the kept table's totals rows are damaged") from None
    if found is not None and any(not 0 <= t.position < len(frame) for t in found):
        raise ValueError("the kept table's totals rows do not fit it")
    profiles = _profiles(record.get("profiles"), report.columns)
    report.seconds = time.perf_counter() - started
    return LoadedTable(
        frame=frame,
        report=report,
        excel_rows=rows,
        source_rows=source_rows,
        sheets=listed,
        asked=record["requests"][0],
        totals_found=found,
        profiles=profiles,
    )


def _profiles(kept: Any, columns: list[str]) -> tuple | None:
    """The roles guessed for the kept table's columns, where they were kept and fit it (else
    None: guessed again, as for a table just read)."""
    if kept is None:
        return None
    from .model.roles import ColumnProfile  # noqa: PLC0415

    try:
        profiles = tuple(ColumnProfile.from_json(dict(p)) for p in kept)
    except (TypeError, ValueError, KeyError):
        return None
    return profiles if [p.name for p in profiles] == list(columns) else None


def _row_numbers(path: Path, digest: str | None) -> np.ndarray | None:
    if digest is None:
        return None
    if _sha256(path) != digest:
        raise ValueError("the kept table's row numbers do not match their checksum")
    return np.load(path, allow_pickle=False)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
