"""Scoring a new table with a model trained on another one ("train once, score many").

Before scoring: :func:`compare_schema` lines the new table's columns up with the model's, by
name only (never by position), and reports what is missing, extra, renamed-looking or retyped.
After scoring: :func:`drift_summary` says how far the whole file moved from the training data,
per column, so "this file is different" is not mistaken for "these rows are strange".
"""

from __future__ import annotations

import difflib
import re
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .model.detector import Detection, TabularAnomalyDetector
from .model.datetimes import _NS_PER_DAY
from .model.preprocess import _category_keys
from .model.threshold import QUANTILE_GRID
from .model.roles import Role, as_datetime, as_numeric, infer_role
from .errors import AnomalyTuiError

#: Similarity (difflib ratio of normalised names) above which a new column looks like a rename.
RENAME_SIMILARITY = 0.75


class SchemaMismatch(AnomalyTuiError, ValueError):
    """The new table cannot supply every column the model needs; ``diff`` says which."""

    def __init__(self, diff: SchemaDiff) -> None:
        self.diff = diff
        super().__init__(diff.refusal())


@dataclass
class SchemaDiff:
    """How a new table's columns differ from the ones a model was trained on."""

    missing: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)
    renamed: list[dict[str, str]] = field(default_factory=list)  # {"model": old, "table": new}
    #: {"column", "model_role", "table_role", "unreadable_cells"}: most cells no longer parse.
    retyped: list[dict[str, Any]] = field(default_factory=list)
    #: Columns read under the model's name by the user's choice: {"table": new, "model": old}.
    mapped: list[dict[str, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether every model column is present (extra columns are ignored)."""
        return not self.missing

    def to_json(self) -> dict[str, Any]:
        return {"ok": self.ok, **asdict(self)}

    def lines(self) -> list[str]:
        """The diff in words, one line per finding."""
        out = [f"{m['table']!r} read as model column {m['model']!r} (your mapping)" for m in self.mapped]
        hints = {r["model"]: r["table"] for r in self.renamed}
        for name in self.missing:
            hint = f" (renamed to {hints[name]!r}?)" if name in hints else ""
            out.append(f"missing column {name!r}{hint}")
        for r in self.retyped:
            out.append(
                f"{r['column']!r} was {r['model_role']} in training and reads as {r['table_role']} here "
                f"({r['unreadable_cells']} cells cannot be read as {r['model_role']} and count as blank)"
            )
        if self.extra:
            out.append("ignored (not in the model): " + ", ".join(repr(c) for c in self.extra))
        return out

    def refusal(self) -> str:
        parts = []
        hints = {r["model"]: r["table"] for r in self.renamed}
        for name in self.missing:
            parts.append(f"{name!r} (renamed to {hints[name]!r}?)" if name in hints else repr(name))
        text = "the table lacks model column" + ("s " if len(parts) > 1 else " ") + ", ".join(parts)
        if hints:
            example = next(iter(self.renamed))
            text += f"; map a renamed column with --column-map '{example['table']}={example['model']}'"
        return text


def _normalise(name: str) -> str:
    return re.sub(r"[^0-9a-z]+", "", name.casefold())


def compare_schema(detector: TabularAnomalyDetector, frame: pd.DataFrame) -> SchemaDiff:
    """Line the table up with the model's columns by name and report every difference."""
    model_roles = {p.name: p.role for p in detector.profiles_ if p.used}
    columns = [str(c) for c in frame.columns]
    present = set(columns)
    diff = SchemaDiff()
    diff.missing = [name for name in model_roles if name not in present]
    diff.extra = [c for c in columns if c not in model_roles]
    unclaimed = list(diff.extra)
    for name in diff.missing:
        target = _normalise(name)
        best, best_score = None, 0.0
        for candidate in unclaimed:
            score = 1.0 if _normalise(candidate) == target else difflib.SequenceMatcher(None, target, _normalise(candidate)).ratio()
            if score > best_score:
                best, best_score = candidate, score
        if best is not None and best_score >= RENAME_SIMILARITY:
            diff.renamed.append({"model": name, "table": best})
            unclaimed.remove(best)
    for name in (n for n in model_roles if n in present):
        expected = model_roles[name]
        if expected not in (Role.NUMERIC, Role.DATETIME):
            continue  # any value encodes as a category or flag; new values are reported per row
        series = frame[name]
        filled = int(series.notna().sum())
        if not filled:
            continue
        coerced = (as_numeric(series) if expected is Role.NUMERIC else as_datetime(series))[1]
        # Most cells no longer read as the model's type: a changed export format, not dirt.
        if coerced / filled > 0.5:
            table_role = infer_role(series, name)[0]
            diff.retyped.append(
                {
                    "column": name,
                    "model_role": str(expected),
                    "table_role": str(table_role),
                    "unreadable_cells": coerced,
                }
            )
    return diff


def apply_column_map(frame: pd.DataFrame, mapping: dict[str, str]) -> pd.DataFrame:
    """Rename table columns to model names (``{table_name: model_name}``), checked, never by position."""
    columns = [str(c) for c in frame.columns]
    for source, target in mapping.items():
        if source not in columns:
            raise ValueError(f"--column-map names {source!r}, which is not a column of the table")
        if target in columns and target != source:
            raise ValueError(f"--column-map would rename {source!r} to {target!r}, which already exists")
    out = frame.copy(deep=False)
    out.columns = [mapping.get(c, c) for c in columns]
    return out


# -- drift ------------------------------------------------------------------------------------


def _level(value: float, cuts: tuple[float, float, float]) -> str:
    small, moderate, large = cuts
    if value < small:
        return "none"
    if value < moderate:
        return "small"
    if value < large:
        return "moderate"
    return "large"


def drift_summary(detector: TabularAnomalyDetector, detection: Detection) -> dict[str, Any]:
    """How the new table as a whole differs from the training table.

    - ``flagged_share`` vs ``training_flagged_share``: the share of rows above the threshold
      here and in training. Much more here means the file is different, not just some rows.
    - per column, one number a user can read: for numbers and dates the shift of the mean in
      training standard deviations; for categories and booleans the share of values that
      would have to change to match the training mix (total variation distance); and the
      change in the share of blank cells.
    """
    matrix = np.asarray(detection.matrix)
    train_means = detector.feature_means_
    new_means = matrix.mean(axis=0) if len(matrix) else np.zeros_like(train_means)
    training_share = 1.0 - float(np.interp(detection.threshold, detector.score_quantiles_, QUANTILE_GRID)) / 100.0
    columns = []
    for encoder in detector.preprocessor_.encoders:
        block = slice(encoder.start, encoder.stop)
        train, new = train_means[block], new_means[block]
        has_indicator = bool(encoder.state.get("indicator"))
        entry: dict[str, Any] = {"column": encoder.column, "role": str(encoder.role)}
        period = detection.report.periods.get(encoder.column) if detection.report is not None else None
        if encoder.role is Role.DATETIME and encoder.state.get("relative") and period is not None:
            # Dates are judged within their own file, so another period is drift to report
            # here, once, not a reason to flag rows (see datetimes._outside_period).
            entry.update(_period_shift(encoder.state["period"], period))
        elif encoder.role in (Role.NUMERIC, Role.DATETIME):
            # Features are standardised on the training data: their training SD is 1.
            shift = float(abs(new[0] - train[0]))
            entry.update(measure="mean shift (training SDs)", value=round(shift, 4), level=_level(shift, (0.1, 0.5, 1.0)))
        else:
            width = 1 if encoder.role is Role.BOOLEAN else len(encoder.state["categories"]) + 1
            if encoder.role is Role.BOOLEAN:
                tvd = float(abs(new[0] - train[0]))
            else:
                tvd = float(0.5 * np.abs(new[:width] - train[:width]).sum())
            entry.update(measure="share of values changed (TVD)", value=round(tvd, 4), level=_level(tvd, (0.05, 0.15, 0.3)))
        if has_indicator:
            entry["blank_share_change"] = round(float(new[-1] - train[-1]), 4)
        columns.append(entry)
    columns.sort(key=lambda e: ("none", "small", "moderate", "large").index(e["level"]), reverse=True)
    flagged = float(detection.flags.mean()) if len(detection.flags) else 0.0
    moved = [c["column"] for c in columns if c["level"] in ("moderate", "large") and "period" not in c]
    later = [c for c in columns if c.get("period") and c["level"] != "none"]
    if flagged > 2 * max(training_share, 0.01) or moved:
        verdict = "this file differs from the training data" + (f" (most in {', '.join(moved[:3])})" if moved else "")
    else:
        verdict = "this file looks like the training data"
    if later:
        verdict += "; it covers another period (" + "; ".join(f"{c['column']}: {c['period']}" for c in later[:2]) + ")"
    return {
        "flagged_share": round(flagged, 4),
        "training_flagged_share": round(training_share, 4),
        "verdict": verdict,
        "columns": columns,
    }


def _day(ns: float) -> str:
    return pd.Timestamp(int(ns)).date().isoformat()


def _period_shift(trained: list[float], scored: tuple[float, float]) -> dict[str, Any]:
    """How far a date column's period moved, in lengths of the training period."""
    lo, hi = trained
    new_lo, new_hi = scored
    length = max(hi - lo, float(_NS_PER_DAY))
    shift = abs((new_lo + new_hi) / 2 - (lo + hi) / 2) / length
    entry: dict[str, Any] = {
        "measure": "period shift (training periods)",
        "value": round(float(shift), 4),
        "level": _level(shift, (0.1, 0.5, 1.0)),
    }
    if entry["level"] != "none":
        entry["period"] = f"{_day(new_lo)} to {_day(new_hi)}, trained on {_day(lo)} to {_day(hi)}"
        entry["note"] = "rows are not flagged for the period itself, only dates far outside their own file's"
    return entry


# -- explanations -----------------------------------------------------------------------------


def annotate_unseen(detector: TabularAnomalyDetector, anomalies: list[dict[str, Any]]) -> None:
    """Add ``note`` to features whose value the model never saw ("'BTC' never seen in currency")."""
    known = {
        e.column: set(e.state.get("known", []))
        for e in detector.preprocessor_.encoders
        if e.role is Role.CATEGORICAL
    }
    if not known:
        return
    for anomaly in anomalies:
        for feature in anomaly["anomalous_features"]:
            name = feature["feature_name"]
            value = feature["actual_value"]
            if name not in known or value is None:
                continue
            key = _category_keys(pd.Series([value], dtype=object)).iloc[0]
            if key is not None and key not in known[name]:
                feature["note"] = f"{value!r} never seen in {name} during training"
