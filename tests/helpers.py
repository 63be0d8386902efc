"""Helpers shared by tests in several folders: import them from here, never from a test module."""

from __future__ import annotations

import numpy as np
import pandas as pd


def mixed_table(n: int = 1500, seed: int = 0) -> tuple[pd.DataFrame, dict[int, str]]:
    """A mixed table with structure, plus three planted anomalies: {row: broken column}."""
    rng = np.random.default_rng(seed)
    segment = rng.choice(["north", "south", "east", "west"], n)
    x = rng.normal(size=n)
    frame = pd.DataFrame(
        {
            "order_id": [f"ORD-{i:06d}" for i in range(n)],
            "segment": segment,
            "units": x,
            "revenue": 2 * x + rng.normal(scale=0.1, size=n) + (segment == "north") * 3,
            "amount": np.round(np.exp(rng.normal(3, 0.6, n)), 2),
            "ordered_at": pd.Timestamp("2026-01-05 09:00")
            + pd.to_timedelta(rng.integers(0, 150 * 24, n), unit="h"),
            "express": rng.random(n) < 0.3,
            "comment": [f"customer asked about parcel {i} twice" for i in range(n)],
        }
    )
    frame.loc[5, "revenue"] = -12.0  # broken relation with units/segment
    frame.loc[17, "amount"] = 250_000.0  # extreme value
    frame.loc[33, "segment"] = "atlantis"  # a category nobody else has
    return frame, {5: "revenue", 17: "amount", 33: "segment"}
