"""Kinds of row: the yes/no and few-valued categorical columns that sort a table's rows into
groups, shared by the per-kind error scales (``parts.ModeScales``) and the relations."""

from __future__ import annotations

import numpy as np

from .preprocess import TabularPreprocessor
from .roles import Role

#: The most groups (values, a new value, missing) a column may have to sort rows into kinds.
MODE_GROUPS = 50


def mode_groups(preprocessor: TabularPreprocessor, matrix: np.ndarray, column: int) -> np.ndarray:
    """The kind of each row by one yes/no or categorical column: its value's slot (missing last)."""
    encoder = preprocessor.encoders[column]
    if encoder.role is Role.BOOLEAN:
        return (matrix[:, encoder.start] >= 0.5).astype(np.int64)
    slots = len(encoder.state["categories"]) + 1
    block = matrix[:, encoder.start : encoder.start + slots]
    return np.where(block.max(axis=1) > 0.5, np.argmax(block, axis=1), slots).astype(np.int64)


def mode_candidates(preprocessor: TabularPreprocessor, most: int = MODE_GROUPS) -> list[tuple[int, int]]:
    """(column position, number of groups) of the columns that may split a table into kinds:
    yes/no columns, and categorical ones of at most ``most`` groups (a group per value, one for
    a new value, one for missing)."""
    out = []
    for j, encoder in enumerate(preprocessor.encoders):
        if encoder.role is Role.BOOLEAN:
            out.append((j, 2))
        elif encoder.role is Role.CATEGORICAL and not encoder.state.get("capped"):
            groups = len(encoder.state["categories"]) + 2
            if groups <= most:
                out.append((j, groups))
    return out
