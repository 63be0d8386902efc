"""JSON and JSON Lines holding records: an array of objects, an object with one such array,
or one object per line. Nested objects become dotted names a few levels down.

A JSON document is parsed whole by the standard library, which holds every value as a Python
object (several times the file's size), so documents over :data:`DOCUMENT_BYTES` are refused
with a word on JSON Lines, which is read a line at a time and never holds more than one line
of :data:`LINE_BYTES` as text. Whatever is not a table of records (this tool's own export, a
settings file) is refused with what it is.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np

from .guard.dimensions import MAX_CELLS
from .parquet import FLATTEN_DEPTH
from .probe import FileProbe
from .table import ReadError, one_line, plural
from .text import decode_text

__all__ = ["DOCUMENT_BYTES", "LINE_BYTES", "Records", "read_records"]

#: The largest JSON document (not JSON Lines) read: parsed whole, it takes 5-10 times this.
DOCUMENT_BYTES = 64 << 20
#: The longest line of a JSON Lines file (one record).
LINE_BYTES = 16 << 20


@dataclass(frozen=True)
class Records:
    """A JSON file's records as columns (Python values), before they are typed."""

    names: list[str]
    columns: list[np.ndarray]
    rows: int
    positions: np.ndarray  # each row's 0-based place: its line (JSON Lines) or array index
    warnings: list[str]
    kind: str = "json"  # 'jsonl' when read a line at a time


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false value"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _keys(obj: dict) -> str:
    keys = list(obj)
    shown = ", ".join(f"'{k}'" for k in keys[:5]) + (" ..." if len(keys) > 5 else "")
    return shown or "none"


def _not_a_table(name: str, what: str) -> ReadError:
    return ReadError(f"'{name}' does not look like a table: {what}")


def _is_records(value: Any) -> bool:
    return (
        isinstance(value, list)
        and any(isinstance(v, dict) for v in value)
        and all(v is None or isinstance(v, dict) for v in value)
    )


def _records_of(doc: Any, name: str, warnings: list[str]) -> list:
    """The list of records a JSON document holds, or a refusal that says what it holds."""
    if isinstance(doc, list):
        if not doc:
            raise _not_a_table(name, "it is an empty JSON array")
        if _is_records(doc):
            return doc
        kinds = {_kind(v) for v in doc if v is not None}
        if len(kinds) == 1 and "object" not in kinds:
            raise _not_a_table(name, f"it is a JSON array of {kinds.pop()}s, not of records (objects with named values)")
        bad = next(i for i, v in enumerate(doc) if v is not None and not isinstance(v, dict))
        raise _not_a_table(name, f"element {bad + 1} of its array is a {_kind(doc[bad])}, not a record")
    if not isinstance(doc, dict):
        raise _not_a_table(name, f"it is a single JSON {_kind(doc)}")
    tool = doc.get("tool")
    if "schema_version" in doc and isinstance(tool, dict) and tool.get("name") == "anomaly-tui":
        source = doc.get("source")
        made_from = source.get("path") if isinstance(source, dict) else None
        of = f" in '{_file_name(made_from)}'" if isinstance(made_from, str) else ""
        raise _not_a_table(
            name, f"it is an anomaly-tui export (the anomalies found{of}); open the table it was made from"
        )
    members = [k for k, v in doc.items() if _is_records(v)]
    if len(members) == 1:
        if len(doc) > 1:
            warnings.append(f"the records were read from the object's '{members[0]}' member")
        return doc[members[0]]
    if members:
        shown = ", ".join(f"'{k}'" for k in members[:5])
        raise _not_a_table(name, f"it is a JSON object with {len(members)} lists of records ({shown}); save the one to use on its own")
    raise _not_a_table(name, f"it is a JSON object with the keys {_keys(doc)} and no list of records (a settings file?)")


def _file_name(path: str) -> str:
    from pathlib import PurePath

    return PurePath(path).name or path


def _flatten(record: dict, out: dict, prefix: str, depth: int, nested: set) -> None:
    for key, value in record.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            if depth < FLATTEN_DEPTH and value:
                _flatten(value, out, name + ".", depth + 1, nested)
                continue
            nested.add(name)
            out[name] = json.dumps(value, ensure_ascii=False) if value else None
        elif isinstance(value, list):
            nested.add(name)
            out[name] = json.dumps(value, ensure_ascii=False)
        else:
            out[name] = value


class _Columns:
    """Records gathered into columns in one pass; a key first seen late is filled back.

    Records of one file usually have the same keys in the same order: such a record's values
    are appended to the previous record's columns without looking a key up."""

    def __init__(self) -> None:
        self.values: dict[str, list] = {}
        self.rows = 0
        self.nested: set[str] = set()
        self._keys: tuple | None = None
        self._columns: list[list] = []

    def add(self, record: dict | None, plain: bool = False) -> None:
        """Add one record; ``plain`` says it holds no object or array (no flattening)."""
        i = self.rows
        self.rows += 1
        if not record:
            self._keys = None
            return
        if plain:
            keys = tuple(record)
            if keys == self._keys:
                for column, value in zip(self._columns, record.values()):
                    column.append(value)
                return
            flat = record
        else:
            flat = {}
            _flatten(record, flat, "", 1, self.nested)
        for key, value in flat.items():
            column = self.values.get(key)
            if column is None:
                column = self.values[key] = []
            if len(column) < i:
                column.extend([None] * (i - len(column)))
            column.append(value)
        if plain:
            self._keys = keys
            self._columns = [self.values[k] for k in keys]
        else:
            self._keys = None

    def arrays(self) -> tuple[list[str], list[np.ndarray]]:
        names, arrays = [], []
        for key, column in self.values.items():
            if len(column) < self.rows:
                column.extend([None] * (self.rows - len(column)))
            arr = np.empty(self.rows, dtype=object)
            arr[:] = column
            names.append(key)
            arrays.append(arr)
        return names, arrays


def _check_cells(name: str, rows: int, cols: int) -> None:
    if rows * max(1, cols) > MAX_CELLS:
        raise ReadError(
            f"cannot read '{name}': it holds more than {MAX_CELLS:,} values; refused so it "
            "cannot exhaust memory"
        )


_decode = json.JSONDecoder().decode


def _parse(text: str, name: str, where: str = "") -> Any:
    try:
        return _decode(text)
    except RecursionError:
        raise ReadError(f"cannot read '{name}': {where}its JSON is nested too deeply to read") from None
    except ValueError as exc:
        raise ReadError(f"cannot read '{name}': {where}it is not valid JSON ({one_line(exc)})") from None


def read_records(probe: FileProbe, stage: Any) -> Records:
    """The records of a JSON or JSON Lines file (``probe.fmt``), as columns."""
    return _read_lines(probe, stage) if probe.fmt == "jsonl" else _read_document(probe, stage)


def _read_document(probe: FileProbe, stage: Any) -> Records:
    name = probe.name
    if probe.size > DOCUMENT_BYTES:
        raise ReadError(
            f"cannot read '{name}': it is {probe.size / 2**20:,.0f} MiB of JSON in one document; "
            f"documents over {DOCUMENT_BYTES >> 20} MiB are refused (they are read whole); "
            "save it as JSON Lines (one record per line), which is read a line at a time"
        )
    try:
        raw = probe.path.read_bytes()
    except OSError as exc:
        raise ReadError(f"cannot read '{name}': {exc.strerror or exc}") from None
    text, _enc, _nul = decode_text(raw, probe.path)
    del raw
    stage("parsing the JSON")
    warnings: list[str] = []
    try:
        doc = _decode(text)
    except ValueError as exc:
        if "Extra data" in str(exc) and text.lstrip("\ufeff \t\r\n")[:1] == "{":
            # One object after another: JSON Lines whose first line was too long to tell.
            del text
            return _read_lines(probe, stage)
        doc = _parse(text, name)  # says why, in words
    except RecursionError:
        doc = _parse(text, name)
    records = _records_of(doc, name, warnings)
    del text
    gathered = _Columns()
    for record in records:
        gathered.add(record)
        if gathered.rows % 65_536 == 0:
            _check_cells(name, gathered.rows, len(gathered.values))
    return _finish(gathered, name, np.arange(gathered.rows, dtype=np.int64), warnings)


def _read_lines(probe: FileProbe, stage: Any) -> Records:
    name = probe.name
    gathered = _Columns()
    positions: list[int] = []
    warnings: list[str] = []
    stage("parsing the JSON lines")
    line_no = 0
    try:
        with open(probe.path, "rb") as fh:
            while True:
                line = fh.readline(LINE_BYTES + 1)
                if not line:
                    break
                line_no += 1
                if len(line) > LINE_BYTES:
                    raise ReadError(
                        f"cannot read '{name}': line {line_no:,} is longer than "
                        f"{LINE_BYTES >> 20} MiB; a record that long is refused"
                    )
                if line_no == 1 and line.startswith(b"\xef\xbb\xbf"):
                    line = line[3:]
                if not line.strip():
                    continue  # a blank line between records holds no row
                try:
                    text = line.decode("utf-8")
                except UnicodeDecodeError:
                    raise ReadError(f"cannot read '{name}': line {line_no:,} is not UTF-8 text, as JSON Lines must be") from None
                record = _parse(text, name, f"line {line_no:,}: ")
                if record is not None and not isinstance(record, dict):
                    raise _not_a_table(name, f"line {line_no:,} is a JSON {_kind(record)}, not a record (an object with named values)")
                # No bracket after the record's own: nothing in it to flatten.
                gathered.add(record, plain="[" not in text and text.find("{", text.find("{") + 1) < 0)
                positions.append(line_no - 1)
                if gathered.rows % 65_536 == 0:
                    _check_cells(name, gathered.rows, len(gathered.values))
                    if gathered.rows % (65_536 * 4) == 0:
                        stage(f"parsing the JSON lines: {gathered.rows:,} records")
    except OSError as exc:
        raise ReadError(f"cannot read '{name}': {exc.strerror or exc}") from None
    if not gathered.rows:
        raise ReadError(f"'{name}' has no data")
    return _finish(gathered, name, np.asarray(positions, dtype=np.int64), warnings, "jsonl")


def _finish(gathered: _Columns, name: str, positions: np.ndarray, warnings: list[str], kind: str = "json") -> Records:
    _check_cells(name, gathered.rows, len(gathered.values))
    names, arrays = gathered.arrays()
    if not names:
        raise ReadError(f"'{name}' has no data: its records have no values")
    if gathered.nested:
        nested = [n for n in names if n in gathered.nested]
        shown = ", ".join(f"'{n}'" for n in nested[:5]) + (" ..." if len(nested) > 5 else "")
        warnings.append(
            f"{plural(len(nested), 'column')} of lists or deeper records "
            f"{'was' if len(nested) == 1 else 'were'} kept as JSON text: {shown}"
        )
    return Records(names=names, columns=arrays, rows=gathered.rows, positions=positions, warnings=warnings, kind=kind)
