import numpy as np
import pandas as pd
import pytest

from tui_detector.core.model.roles import MODEL_ROLES, Role, infer_role, looks_like_id_name, profile_columns

N = 200
rng = np.random.default_rng(1)


@pytest.mark.parametrize(
    ("values", "name", "role"),
    [
        (rng.normal(size=N), "amount", Role.NUMERIC),
        ([str(v) for v in np.round(rng.normal(size=N), 3)], "price", Role.NUMERIC),  # numbers as text
        (rng.random(N) < 0.4, "paid", Role.BOOLEAN),
        (rng.choice(["yes", "no"], N), "approved", Role.BOOLEAN),
        (rng.integers(0, 2, N), "is_member", Role.BOOLEAN),
        (pd.date_range("2026-01-01", periods=N, freq="h"), "created", Role.DATETIME),
        ([f"2026-03-{1 + i % 28:02d} 10:{i % 60:02d}" for i in range(N)], "when", Role.DATETIME),
        (rng.choice(["red", "green", "blue"], N), "colour", Role.CATEGORICAL),
        ([f"INV-{i:05d}" for i in range(N)], "invoice", Role.IDENTIFIER),
        (np.arange(1, N + 1), "row", Role.IDENTIFIER),  # running number
        (rng.permutation(N) * 7 + 1000, "customer_id", Role.IDENTIFIER),
        ([f"the parcel {i} arrived late and damaged" for i in range(N)], "notes", Role.TEXT),
        (["same"] * N, "source", Role.CONSTANT),
        ([None] * N, "blank", Role.EMPTY),
        ([np.nan] * N, "blank2", Role.EMPTY),
    ],
)
def test_each_role_is_inferred_with_a_reason(values, name, role):
    series = pd.Series(values, name=name)
    inferred, reason = infer_role(series)
    assert inferred is role, reason
    assert reason and isinstance(reason, str)


def test_a_yes_no_column_is_decided_by_every_cell_not_its_first():
    flags = pd.Series(pd.array(["yes", "no"] * 2000 + ["maybe"], dtype="str"), name="paid")
    assert infer_role(flags)[0] is not Role.BOOLEAN
    assert infer_role(flags.iloc[:-1])[0] is Role.BOOLEAN
    ones = pd.Series([0.0, 1.0] * 2000 + [2.0], name="flag")
    assert infer_role(ones)[0] is not Role.BOOLEAN
    assert infer_role(ones.iloc[:-1])[0] is Role.BOOLEAN


def test_unique_floats_are_numbers_not_ids():
    # Amounts are unique per row too; only integer codes or ID-like names make identifiers.
    role, _ = infer_role(pd.Series(rng.normal(size=N) * 100, name="amount"))
    assert role is Role.NUMERIC


def test_id_names():
    for name in ("claim_id", "Order No", "customerId", "ID", "uuid", "SKU code", "ref"):
        assert looks_like_id_name(name), name
    for name in ("amount", "valid", "idle_time", "country", "video"):
        assert not looks_like_id_name(name), name


def test_profiles_mark_excluded_columns_and_honour_overrides():
    frame = pd.DataFrame(
        {
            "id": [f"A{i}" for i in range(N)],
            "x": rng.normal(size=N),
            "kind": rng.choice(["a", "b"], N),
        }
    )
    profiles = {p.name: p for p in profile_columns(frame)}
    assert not profiles["id"].used and profiles["x"].used and profiles["kind"].used
    forced = {p.name: p for p in profile_columns(frame, {"x": "empty", "id": "categorical"})}
    assert forced["x"].role is Role.EMPTY and not forced["x"].used and forced["x"].forced
    assert forced["id"].role is Role.CATEGORICAL and forced["id"].role in MODEL_ROLES
    with pytest.raises(KeyError):
        profile_columns(frame, {"nope": "numeric"})


@pytest.mark.parametrize(
    "values",
    [
        ["yes", "No", " YES", None, "no"] * 40,  # yes/no words in any case and spacing
        ["true", "false", "maybe"] * 40,  # a third word: not yes/no
        [f"ID-{i:05d}" for i in range(300)],
        ["north", "south", "east", None] * 75,
        [f"{i * 1.5:.2f}" for i in range(300)],  # numbers stored as text
        [f"2024-03-{1 + i % 28:02d}" for i in range(300)],  # dates stored as text
        [f"the claim number {i} was filed late by the office" for i in range(300)],
        ["only"] * 50,
        ["Yes", " no"] * 1500 + ["maybe"],  # a third word only far down the column
        ["Yes", " no"] * 1500 + [" YES ", "No"],  # yes/no all the way down
    ],
)
def test_text_columns_get_the_same_role_in_arrow_as_in_python_strings(values):
    """Big files arrive with Arrow-backed text (pandas' str dtype); roles are decided in Arrow
    there, and must match what the same cells get as Python strings."""
    arrow = pd.Series(pd.array(values, dtype="str"), name="col")
    python = pd.Series(np.array(values, dtype=object), name="col")
    assert infer_role(arrow) == infer_role(python)
    profiles = profile_columns(pd.DataFrame({"col": arrow}))
    assert (profiles[0].role, profiles[0].reason) == infer_role(python)
