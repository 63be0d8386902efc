"""The planting framework behind the demo tables: one broken cell per planted anomaly.

Every planted anomaly changes exactly one cell, and that cell's new value is checked against the
clean table so it cannot land inside the normal range by accident. Whatever makes the row strange
is therefore attributable to one column, which is what the explanation tests rely on.

A generator (``claims``, ``sensors``) builds a clean table, then hands :func:`plant_all` its
planters: for each kind of anomaly, weighted variants that each try to break one unused row.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

KINDS: tuple[str, ...] = (
    "extreme_value",
    "wrong_category_for_entity",
    "broken_relation",
    "impossible_value",
)


@dataclass(frozen=True)
class PlantedAnomaly:
    """One broken cell: ``frame.at[row_index, column]`` is the only value that was changed."""

    row_index: int
    column: str
    kind: str
    description: str


@dataclass
class SyntheticTable:
    """A generated table, its planted anomalies (sorted by row) and 0/1 labels per row."""

    frame: pd.DataFrame
    planted: list[PlantedAnomaly]
    labels: np.ndarray


# A planter tries to break one cell of one unused row; it returns None when no eligible row is
# left, so the caller can fall back to another variant of the same kind.
Planter = Callable[[pd.DataFrame, np.random.Generator, set[int]], "PlantedAnomaly | None"]


def check_args(n_rows: int, anomaly_rate: float) -> int:
    if n_rows < 50:
        raise ValueError(f"n_rows must be at least 50, got {n_rows}")
    # Beyond a few percent the "normal structure" is no longer the majority in small groups, so
    # the anomalies would stop being detectable in principle.
    if not 0.0 <= anomaly_rate <= 0.1:
        raise ValueError(f"anomaly_rate must be within [0, 0.1], got {anomaly_rate}")
    n_anomalies = int(round(n_rows * anomaly_rate))
    if anomaly_rate > 0 and n_anomalies == 0:
        n_anomalies = 1
    return n_anomalies


def candidates(rng: np.random.Generator, mask: np.ndarray, used: set[int]) -> Iterator[int]:
    # Lazily, and without sorting ``used``: planters take the first candidate that fits, and a
    # million-row table plants ten thousand anomalies (a list of every row per plant was hours).
    if used:
        mask = mask.copy()
        mask[np.fromiter(used, dtype=np.int64, count=len(used))] = False
    return (int(i) for i in rng.permutation(np.flatnonzero(mask)))


def wrong_category(
    mask: np.ndarray,
    entity: str,
    column: str,
    usual: dict[Any, Any],
    values: list[Any],
    describe: Callable[[str, Any, Any], str],
) -> Planter:
    """A planter giving a row's ``column`` one of ``values`` that its ``entity`` (e.g. the
    employee) never has: anything but ``usual[entity]``. ``describe(new, entity, usual)`` says
    why it is wrong."""

    def plant(f: pd.DataFrame, rng: np.random.Generator, used: set[int]) -> PlantedAnomaly | None:
        for i in candidates(rng, mask, used):
            who = f.at[i, entity]
            own = usual[who]
            new = str(rng.choice([v for v in values if v != own]))
            f.at[i, column] = new
            return PlantedAnomaly(i, column, "wrong_category_for_entity", describe(new, who, own))
        return None

    return plant


def plant_all(
    frame: pd.DataFrame,
    rng: np.random.Generator,
    n_anomalies: int,
    planters: dict[str, list[tuple[float, Planter]]],
) -> SyntheticTable:
    # Cycling through the kinds before shuffling gives shares that differ by at most one.
    kinds = list(np.resize(np.array(KINDS), n_anomalies))
    rng.shuffle(kinds)
    used: set[int] = set()
    planted: list[PlantedAnomaly] = []
    for kind in kinds:
        # Falling back to another kind only happens in tiny tables where a kind has no eligible
        # row; it keeps the requested anomaly count at the cost of slightly uneven shares.
        for k in [str(kind)] + [k for k in KINDS if k != kind]:
            anomaly = _plant_one(frame, rng, used, planters[k])
            if anomaly is not None:
                used.add(anomaly.row_index)
                planted.append(anomaly)
                break
    planted.sort(key=lambda a: a.row_index)
    labels = np.zeros(len(frame), dtype=np.int64)
    labels[[a.row_index for a in planted]] = 1
    return SyntheticTable(frame=frame, planted=planted, labels=labels)


def _plant_one(
    frame: pd.DataFrame,
    rng: np.random.Generator,
    used: set[int],
    variants: list[tuple[float, Planter]],
) -> PlantedAnomaly | None:
    weights = np.array([w for w, _ in variants], dtype=float)
    order = rng.choice(len(variants), size=len(variants), replace=False, p=weights / weights.sum())
    for v in order:
        anomaly = variants[int(v)][1](frame, rng, used)
        if anomaly is not None:
            return anomaly
    return None


def with_missing(values: list, rng: np.random.Generator, rate: float) -> list:
    drop = rng.random(len(values)) < rate
    return [None if d else v for v, d in zip(values, drop)]
