"""The JSON export (schema_version 1, the contract in DESIGN.md) and writing it safely.

The document is strict RFC 8259 JSON: missing cells are ``null``, datetimes ISO 8601 strings,
integers beyond 2^53 strings. ``anomalies`` are sorted by score, highest first. The schema that
every export satisfies ships with the package (:func:`schema`).
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from .atomic import write_with
from .baseline import annotate_unseen
from .pipeline import DetectionRun
from .rowchecks import small_table_warning

SCHEMA_VERSION = 1
SCHEMA_RESOURCE = "anomalies-v1.schema.json"


def _tool_version() -> str:
    from .. import __version__  # noqa: PLC0415 - the package imports core lazily

    return __version__


@cache
def schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of an export."""
    text = resources.files("tui_detector").joinpath("schemas", SCHEMA_RESOURCE).read_text(encoding="utf-8")
    return json.loads(text)


def explained_anomalies(run: DetectionRun) -> list[dict[str, Any]]:
    """The flagged rows in export form: the seed's keys plus ``excel_row`` (a workbook's row)
    and ``source_row`` (a text, JSON, Parquet or database file's line or row), highest score
    first."""
    detection = run.detection
    explained = run.detector.explain(run.frame, detection, detection.anomaly_rows)
    if run.baseline:
        annotate_unseen(run.detector, explained)
    excel_rows = run.loaded.excel_rows
    source_rows = run.loaded.source_rows
    out = []
    for item in explained:
        row = item["row_index"]
        out.append(
            {
                "row_index": row,
                "excel_row": None if excel_rows is None else int(excel_rows[row]),
                "source_row": None if source_rows is None else int(source_rows[row]),
                "anomaly_score": item["anomaly_score"],
                "anomalous_features": item["anomalous_features"],
                "raw_data": item["raw_data"],
            }
        )
    return out


def _unique(items: list[str]) -> list[str]:
    seen: set[str] = set()
    return [x for x in items if not (x in seen or seen.add(x))]


def diagnostics(run: DetectionRun) -> dict[str, Any]:
    """Every row and column that was dropped or changed on the way in, and why."""
    report = run.loaded.report
    detector = run.detector
    transform = run.detection.report
    rows_dropped = []
    if report.dropped_empty_rows:
        rows_dropped.append({"reason": "empty row (no value in any column)", "count": int(report.dropped_empty_rows)})
    if run.totals:
        rows_dropped.append({
            "reason": "totals row (its numbers are the sums of the rows above; left out of the model)",
            "count": len(run.totals),
            "rows": [dict(t) for t in run.totals],
        })
    return {
        "rows_in": int(report.rows + report.dropped_empty_rows + len(run.totals)),
        "small_table": small_table_warning(len(run.detection.scores)),
        "rows_scored": int(len(run.detection.scores)),
        "rows_dropped": rows_dropped,
        "columns_used": list(detector.columns_used),
        "columns_dropped": list(detector.columns_dropped),
        "empty_columns_dropped": int(report.dropped_empty_columns),
        # Formula cells saved without a value read as missing; counted apart from real gaps.
        "formula_cells_without_value": int(report.formulas_without_value),
        "cells_coerced_to_missing": {k: int(v) for k, v in transform.coerced.items() if v},
        "values_unseen_in_training": {k: int(sum(v.values())) for k, v in transform.unseen.items() if v},
        "warnings": _unique([*report.warnings, *detector.warnings_, *transform.warnings(), *run.warnings]),
    }


def model_section(run: DetectionRun) -> dict[str, Any]:
    detector = run.detector
    training = dict(detector.training_params_)
    history = detector.history_ or {}
    return {
        "kind": detector.model_kind_,
        "threshold": float(run.detection.threshold),
        "threshold_percentile": float(run.threshold_percentile),
        "from_cache": bool(run.from_cache),
        "trained_on": dict(run.trained_on) or None,
        "params": {
            "model": detector.model,
            "encoding_dim": int(detector.encoding_dim),
            "hidden_layers": [int(h) for h in detector.hidden_layers],
            "random_state": int(detector.random_state),
            "roles": {str(k): str(v) for k, v in (detector.roles or {}).items()},
            "epochs": training.get("epochs"),
            "epochs_run": training.get("epochs_run"),
            "batch_size": training.get("batch_size"),
            "validation_split": training.get("validation_split"),
            "training_rows": training.get("rows"),
            "final_loss": _last(history.get("loss")),
            "final_val_loss": _last(history.get("val_loss")),
            "trained_at": detector.trained_at_,
        },
    }


def _last(values: list[float] | None) -> float | None:
    if not values:
        return None
    value = float(values[-1])
    return value if value == value and abs(value) != float("inf") else None


def build_export(
    run: DetectionRun, *, all_rows: bool = False, anomalies: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """The export document for ``run`` (pass ``anomalies`` to reuse an earlier explanation)."""
    report = run.loaded.report
    anomalies = explained_anomalies(run) if anomalies is None else anomalies
    document: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "tool": {"name": "anomaly-tui", "version": _tool_version()},
        "source": {
            "path": str(run.path),
            "sha256": run.sha256,
            "sheet": report.sheet,
            "rows": int(report.rows),
            "columns": [str(c) for c in run.frame.columns],
            "format": report.file_format,
            "header_row": report.header_row,
        },
        "model": model_section(run),
        "diagnostics": diagnostics(run),
        "anomaly_count": len(anomalies),
        "anomalies": anomalies,
    }
    if run.baseline:
        document["schema_check"] = run.schema.to_json() if run.schema is not None else None
        document["drift"] = run.drift
    if all_rows:
        # Kept as an array: written straight from it (see :func:`iter_json`), never as a
        # million Python floats.
        document["scores"] = np.asarray(run.detection.scores, dtype=np.float64)
    return document


#: Scores per piece of text when the export is streamed.
_SCORE_CHUNK = 65_536


def iter_json(document: dict[str, Any], *, ensure_ascii: bool = False) -> Iterator[str]:
    """The document as strict JSON text, in pieces. NaN/Infinity raise ``ValueError``.

    The layout is ``json.dumps(indent=2)``'s, except that each anomaly is one line: the
    indenting encoder is pure Python, and on 52,000 anomalies it took 11 s where the C encoder
    takes about one (a line per record also suits grep and diff). The per-row ``scores`` are
    formatted a chunk at a time from their array, so neither they nor the whole text ever exist
    as one Python object.
    """
    scores = document.get("scores")
    if isinstance(scores, np.ndarray) and not np.isfinite(scores).all():
        raise ValueError("Out of range float values are not JSON compliant")
    writers = {}
    if isinstance(document.get("anomalies"), list):
        writers["anomalies"] = lambda: _record_lines(document["anomalies"], ensure_ascii)
    if isinstance(scores, np.ndarray):
        writers["scores"] = lambda: _score_lines(scores)
    # Markers no file can contain (fresh per call) stand where those lists go.
    markers = {key: f"\x00{key}-{uuid.uuid4().hex}\x00" for key in writers}
    head = {**document, **markers}
    pending = {json.dumps(m, ensure_ascii=ensure_ascii): writers[k] for k, m in markers.items()}
    encoder = json.JSONEncoder(indent=2, ensure_ascii=ensure_ascii, allow_nan=False)
    for piece in encoder.iterencode(head):
        if not pending:
            yield piece
            continue
        found = next((m for m in pending if m in piece), None)
        if found is None:
            yield piece
            continue
        before, _, after = piece.partition(found)
        yield before
        yield from pending.pop(found)()
        yield after


def _record_lines(records: list, ensure_ascii: bool) -> Iterator[str]:
    if not records:
        yield "[]"
        return
    encode = json.JSONEncoder(ensure_ascii=ensure_ascii, allow_nan=False).encode  # the C encoder
    yield "[\n    "
    for start in range(0, len(records), 1024):
        lines = ",\n    ".join(encode(r) for r in records[start : start + 1024])
        yield (",\n    " if start else "") + lines
    yield "\n  ]"


def _score_lines(scores: np.ndarray) -> Iterator[str]:
    # The layout json.dumps(indent=2) gives a list that is a value of the top-level object.
    if len(scores) == 0:
        yield "[]"
        return
    yield "[\n    "
    for start in range(0, len(scores), _SCORE_CHUNK):
        chunk = scores[start : start + _SCORE_CHUNK].tolist()
        yield (",\n    " if start else "") + ",\n    ".join(map(repr, chunk))
    yield "\n  ]"


def dumps(document: dict[str, Any]) -> str:
    """Strict JSON text; refuses NaN/Infinity rather than writing something parsers reject."""
    try:
        text = "".join(iter_json(document))
        text.encode("utf-8")
    except UnicodeEncodeError:
        # A lone surrogate from a badly encoded file cannot be UTF-8; \u escapes are still JSON.
        text = "".join(iter_json(document, ensure_ascii=True))
    return text + "\n"


def write_export(document: dict[str, Any], target: str | os.PathLike[str], *, overwrite: bool) -> Path:
    """Write the document atomically, streamed (a million-row export is never one string); without
    ``overwrite`` an existing different file is kept and
    :class:`~tui_detector.core.atomic.OutputExistsError` raised."""

    def write(tmp: Path) -> None:
        try:
            _stream(document, tmp, ensure_ascii=False)
        except UnicodeEncodeError:
            _stream(document, tmp, ensure_ascii=True)

    return write_with(target, write, overwrite=overwrite)


def _stream(document: dict[str, Any], tmp: Path, *, ensure_ascii: bool) -> None:
    with open(tmp, "wb") as fh:
        pending: list[str] = []
        size = 0
        for piece in iter_json(document, ensure_ascii=ensure_ascii):
            pending.append(piece)
            size += len(piece)
            if size >= 1 << 20:
                fh.write("".join(pending).encode("utf-8"))
                pending, size = [], 0
        pending.append("\n")
        fh.write("".join(pending).encode("utf-8"))
        fh.flush()
        os.fsync(fh.fileno())


def default_export_name(source: str | os.PathLike[str]) -> str:
    """``claims.xlsx`` → ``claims.anomalies.json``."""
    return f"{Path(source).stem}.anomalies.json"
