import json

import numpy as np
import pandas as pd
import pytest

from tui_detector.core.model.preprocess import MAX_ONE_HOT, TabularPreprocessor
from tui_detector.core.model.roles import profile_columns

rng = np.random.default_rng(2)
N = 400


def fitted(frame):
    return TabularPreprocessor(profile_columns(frame)).fit(frame)


def test_state_round_trips_through_json_and_encodes_identically():
    frame = pd.DataFrame(
        {
            "x": rng.normal(size=N),
            "amount": np.exp(rng.normal(3, 1, N)),
            "kind": rng.choice(list("abcde"), N),
            "many": rng.choice([f"c{i}" for i in range(80)], N),
            "at": pd.Timestamp("2026-01-01") + pd.to_timedelta(rng.integers(0, 2000, N), unit="h"),
            "ok": rng.random(N) < 0.5,
        }
    )
    frame.loc[::10, "x"] = np.nan
    pre = fitted(frame)
    clone = TabularPreprocessor.from_json(json.loads(json.dumps(pre.to_json(), allow_nan=False)))
    a, _ = pre.transform(frame)
    b, _ = clone.transform(frame)
    assert np.array_equal(a, b)
    assert clone.feature_names == pre.feature_names
    assert "x (missing)" in pre.feature_names  # indicator where values were missing
    # The 80-value column is capped: most frequent one-hot, a shared rare slot, a frequency.
    many = [f for f in pre.feature_names if f.startswith("many")]
    assert len(many) == MAX_ONE_HOT + 1 and "many=(rare value)" in many and "many (frequency)" in many
    # The datetime became numbers, not a label code: how far outside the table's period it
    # lies (never its place in time, which would make next month's file strange), and cycles.
    assert [f for f in pre.feature_names if f.startswith("at")] == [
        "at (outside the period)", "at (hour, sin)", "at (hour, cos)", "at (weekday, sin)", "at (weekday, cos)"
    ]


def test_unseen_categories_are_reported_not_fatal():
    train = pd.DataFrame({"currency": rng.choice(["EUR", "USD", "GBP"], N), "x": rng.normal(size=N)})
    pre = fitted(train)
    new = pd.DataFrame({"currency": ["EUR", "BTC", "BTC", None], "x": [0.0, 1.0, 2.0, 3.0]})
    matrix, report = pre.transform(new)
    assert np.all(np.isfinite(matrix))
    assert report.unseen == {"currency": {"BTC": 2}}
    assert any("BTC" in w for w in report.warnings())
    names = pre.feature_names
    # Not silently mapped onto a known category: it lands in the column's slot for new values.
    assert matrix[1, names.index("currency=(new value)")] == 1
    assert matrix[1, [i for i, f in enumerate(names) if f.startswith("currency=") and "new" not in f]].sum() == 0


def test_zero_variance_infinite_and_huge_values_stay_finite():
    train = pd.DataFrame({"x": [5.0] * 50 + [5.0, 6.0], "y": rng.normal(size=52)})
    pre = fitted(train)
    new = pd.DataFrame({"x": [np.inf, -np.inf, 1e300, "oops"], "y": [0.0, 1e308, -1e308, 0.0]})
    matrix, report = pre.transform(new)
    assert np.all(np.isfinite(matrix))
    assert report.coerced["x"] == 3  # two infinities and one word; 1e300 is a (huge) number
    assert matrix[2, 0] > 100  # the huge value stays huge after scaling


def test_expected_values_come_back_in_the_columns_units():
    frame = pd.DataFrame(
        {
            "count": rng.integers(1, 10, N),
            "colour": rng.choice(["red", "blue"], N),
            "day": pd.date_range("2026-01-01", periods=N, freq="D"),
            "flag": rng.random(N) < 0.5,
        }
    )
    pre = fitted(frame)
    matrix, _ = pre.transform(frame)
    for enc in pre.encoders:
        values = enc.expected(matrix[:5, enc.start : enc.stop], frame[enc.column].iloc[:5])
        original = frame[enc.column].iloc[:5].tolist()
        if enc.column == "count":
            assert values == [int(v) for v in original]
        elif enc.column == "colour":
            assert values == original
        elif enc.column == "day":
            assert values == [d.date().isoformat() for d in original]
        else:
            assert values == [bool(v) for v in original]


def test_a_category_fixed_per_entity_gets_a_usual_for_entity_feature():
    # 120 employees (more than MAX_ONE_HOT, so not one-hot each), each always in one department.
    emp = np.repeat([f"E{i}" for i in range(120)], 6)
    dept = np.repeat(rng.choice(["Sales", "HR", "Legal", "Ops"], 120), 6)
    frame = pd.DataFrame({"employee": emp, "department": dept, "x": rng.normal(size=emp.size)})
    frame.loc[7, "department"] = "Legal" if frame.loc[7, "department"] != "Legal" else "HR"
    pre = fitted(frame)
    names = pre.feature_names
    assert "department (usual for employee)" in names
    enc = next(e for e in pre.encoders if e.column == "department")
    # Names line up with the block: the one-hot slots, then the new-value slot, then the share.
    assert enc.features[-1] == "department (usual for employee)"
    assert enc.features[-2] == "department=(new value)"
    matrix, _ = pre.transform(frame)
    share = matrix[:, names.index("department (usual for employee)")]
    # The share of the entity's usual value: the wrong row holds 1/6 of E1's rows against the
    # usual value's 5/6; E1's ordinary rows stay at 1.0, so the one wrong row does not make
    # them look strange too.
    assert share[7] == pytest.approx(1 / 5, abs=1e-5) and share[6] == 1.0
    assert share[100] == 1.0
    # The state is plain JSON and encodes identically after a round trip.
    clone = TabularPreprocessor.from_json(json.loads(json.dumps(pre.to_json(), allow_nan=False)))
    assert np.array_equal(clone.transform(frame)[0], matrix)
    # An entity never seen in training is no evidence either way.
    new = pd.DataFrame({"employee": ["E999"], "department": ["HR"], "x": [0.0]})
    assert clone.transform(new)[0][0, names.index("department (usual for employee)")] == 1.0


def test_a_few_negative_or_absurd_cells_do_not_decide_a_columns_scale():
    amounts = np.exp(rng.normal(4, 1, 2000))
    amounts[:3] = [-50.0, 1e7, 5e6]  # the anomalies a user wants found
    pre = fitted(pd.DataFrame({"amount": amounts}))
    state = pre.encoders[0].state
    assert state["log"]  # still read on a log scale despite one negative cell
    matrix, _ = pre.transform(pd.DataFrame({"amount": amounts}))
    assert abs(np.median(matrix[3:, 0])) < 0.2 and 0.8 < np.std(matrix[3:, 0]) < 1.2
    assert matrix[0, 0] < -5 and matrix[1, 0] > 5
