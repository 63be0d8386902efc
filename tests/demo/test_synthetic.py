from __future__ import annotations

import hashlib
import os
from collections import Counter
from datetime import datetime

import numpy as np
import openpyxl
import pandas as pd
import pytest

from tui_detector.demo import (
    KINDS,
    PlantedAnomaly,
    SyntheticTable,
    demo_tables,
    demo_workbook_path,
    make_expense_claims,
    make_sensor_readings,
    write_demo_workbook,
)
from tui_detector.demo import workbook
from tui_detector.demo.claims import FX_PER_EUR

GENERATORS = {"claims": make_expense_claims, "sensors": make_sensor_readings}


@pytest.fixture(scope="module")
def claims() -> SyntheticTable:
    return make_expense_claims()


@pytest.fixture(scope="module")
def sensors() -> SyntheticTable:
    return make_sensor_readings()


def _normal(table: SyntheticTable) -> pd.DataFrame:
    return table.frame[table.labels == 0]


def _changed(clean: pd.DataFrame, dirty: pd.DataFrame) -> set[tuple[int, str]]:
    cells = set()
    for col in clean.columns:
        for i, (x, y) in enumerate(zip(clean[col].tolist(), dirty[col].tolist())):
            if pd.isna(x) and pd.isna(y):
                continue
            if pd.isna(x) or pd.isna(y) or x != y:
                cells.add((i, col))
    return cells


# ---------------------------------------------------------------------------------- generic


@pytest.mark.parametrize("name", GENERATORS)
def test_same_seed_same_table(name):
    make = GENERATORS[name]
    a, b = make(800, 0.02, seed=7), make(800, 0.02, seed=7)
    pd.testing.assert_frame_equal(a.frame, b.frame)
    assert a.planted == b.planted
    np.testing.assert_array_equal(a.labels, b.labels)
    c = make(800, 0.02, seed=8)
    assert not a.frame.equals(c.frame)


@pytest.mark.parametrize("name", GENERATORS)
def test_planted_rows_match_labels(name, request):
    table = request.getfixturevalue(name)
    rows = [p.row_index for p in table.planted]
    assert len(rows) == len(set(rows)) == 30
    assert rows == sorted(rows)
    assert table.labels.shape == (len(table.frame),)
    assert set(np.unique(table.labels)) <= {0, 1}
    assert set(np.flatnonzero(table.labels)) == set(rows)
    assert isinstance(table.frame.index, pd.RangeIndex)
    for p in table.planted:
        assert isinstance(p, PlantedAnomaly)
        assert p.kind in KINDS
        assert p.column in table.frame.columns
        # Descriptions lead with the broken column so an explanation can be matched to them.
        assert p.description.startswith(p.column + " ")
        assert pd.notna(table.frame.at[p.row_index, p.column])


@pytest.mark.parametrize("name", GENERATORS)
def test_kinds_have_roughly_equal_shares(name, request):
    counts = Counter(p.kind for p in request.getfixturevalue(name).planted)
    assert set(counts) == set(KINDS)
    assert max(counts.values()) - min(counts.values()) <= 1


@pytest.mark.parametrize("name", GENERATORS)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_each_anomaly_breaks_exactly_its_one_cell(name, seed):
    make = GENERATORS[name]
    clean = make(1200, 0.0, seed=seed)
    dirty = make(1200, 0.03, seed=seed)
    assert clean.planted == [] and clean.labels.sum() == 0
    expected = {(p.row_index, p.column) for p in dirty.planted}
    assert _changed(clean.frame, dirty.frame) == expected
    assert list(clean.frame.columns) == list(dirty.frame.columns)
    assert (clean.frame.dtypes == dirty.frame.dtypes).all()


def test_bad_arguments_are_rejected():
    with pytest.raises(ValueError):
        make_expense_claims(10)
    with pytest.raises(ValueError):
        make_sensor_readings(500, anomaly_rate=0.5)
    assert len(make_sensor_readings(100, anomaly_rate=0.001).planted) == 1


# --------------------------------------------------------------------------- expense claims


def test_claims_columns_and_types(claims):
    f = claims.frame
    assert list(f.columns) == [
        "claim_id", "employee_id", "department", "country", "currency", "category", "amount",
        "nights", "submitted_at", "approved", "receipt_attached", "description",
    ]
    assert f["claim_id"].is_unique and f["claim_id"].str.fullmatch(r"CLM-\d{6}").all()
    assert 150 <= f["employee_id"].nunique() <= 300
    assert f["department"].nunique() == 8
    assert f["country"].nunique() == 10
    assert f["category"].nunique() >= 7
    assert pd.api.types.is_float_dtype(f["amount"])
    assert pd.api.types.is_integer_dtype(f["nights"])
    assert pd.api.types.is_datetime64_any_dtype(f["submitted_at"])
    assert f["approved"].dtype == bool
    assert 0.9 <= f["approved"].mean() <= 0.98
    # Some messiness: a couple of columns with ~2% missing, free text mostly unique.
    missing = f.isna().mean()
    assert (missing.between(0.01, 0.04)).sum() >= 2
    assert missing.max() < 0.05
    assert f["description"].nunique() > 0.6 * f["description"].notna().sum()


def test_claims_structure_is_learnable(claims):
    n = _normal(claims)
    by_emp = n.groupby("employee_id")
    assert (by_emp["currency"].nunique() == 1).all()
    assert (by_emp["country"].nunique() == 1).all()
    assert (by_emp["department"].nunique() <= 1).all()
    assert (n.groupby("country")["currency"].nunique() == 1).all()
    hotel = n["category"] == "hotel"
    assert (n.loc[~hotel, "nights"] == 0).all()
    assert n.loc[hotel, "nights"].between(1, 7).all()
    assert (n["amount"] > 0).all()
    assert n["submitted_at"].between("2026-04-01", "2026-10-01").all()
    assert (n["submitted_at"].dt.day_of_week < 5).mean() > 0.9
    assert n["submitted_at"].dt.hour.between(6, 23).all()
    # Amounts are skewed, and their scale depends on the category.
    assert n["amount"].skew() > 2
    med = n.groupby("category")["amount"].median()
    assert med["training"] > 10 * med["taxi"]
    # Hotel totals track nights x a nightly rate.
    h = n[hotel]
    in_eur = h["amount"] / h["currency"].map(FX_PER_EUR)
    assert np.corrcoef(h["nights"], in_eur)[0, 1] > 0.8


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_claims_planted_values_violate_the_structure(seed):
    table = make_expense_claims(seed=seed)
    f, n = table.frame, _normal(table)
    emp = n.groupby("employee_id")
    hotel = n[n["category"] == "hotel"]
    per_night = (hotel["amount"] / hotel["nights"]).groupby(hotel["country"])
    lo, hi = per_night.min(), per_night.max()
    amount_max = n.groupby(["category", "currency"])["amount"].max()
    for p in table.planted:
        row = f.loc[p.row_index]
        value = row[p.column]
        if p.column == "currency":
            assert p.kind == "wrong_category_for_entity"
            assert value not in set(emp.get_group(row["employee_id"])["currency"])
            assert len(emp.get_group(row["employee_id"])) >= 5
        elif p.column == "department":
            assert p.kind == "wrong_category_for_entity"
            assert value not in set(emp.get_group(row["employee_id"])["department"].dropna())
        elif p.kind == "extreme_value":
            assert p.column == "amount"
            assert value > 2 * amount_max[(row["category"], row["currency"])]
        elif p.kind == "broken_relation":
            assert p.column == "nights"
            if row["category"] == "hotel":
                rate = row["amount"] / value
                assert 1 <= value <= 7  # plausible on its own; only the relation is off
                assert rate < 0.6 * lo[row["country"]] or rate > 1.6 * hi[row["country"]]
            else:
                assert value > 0
        else:
            assert p.kind == "impossible_value"
            if p.column == "amount":
                assert value < 0
            elif p.column == "nights":
                assert value > 7 * 4
            else:
                assert p.column == "submitted_at" and value.year == 2099


# -------------------------------------------------------------------------- sensor readings


def test_sensor_columns_and_types(sensors):
    f = sensors.frame
    assert list(f.columns) == [
        "timestamp", "site", "machine_id", "machine_type", "operator", "status", "auto_mode",
        "load_pct", "rpm", "pressure_bar", "temperature_c", "vibration_mm_s", "power_kw", "note",
    ]
    assert pd.api.types.is_datetime64_any_dtype(f["timestamp"])
    assert f["auto_mode"].dtype == bool
    for col in ("load_pct", "rpm", "pressure_bar", "temperature_c", "vibration_mm_s", "power_kw"):
        assert pd.api.types.is_float_dtype(f[col])
    assert set(f["status"]) == {"running", "idle", "maintenance"}
    assert f["operator"].isna().mean() > 0.01
    assert f["vibration_mm_s"].isna().mean() > 0.01


def test_sensor_structure_is_learnable(sensors):
    n = _normal(sensors)
    by_machine = n.groupby("machine_id")
    assert (by_machine["site"].nunique() == 1).all()
    assert (by_machine["machine_type"].nunique() == 1).all()
    assert by_machine.size().min() >= 20
    run = n[n["status"] == "running"].dropna(subset=["rpm", "pressure_bar"])
    for _, g in run.groupby("machine_id"):
        assert np.corrcoef(g["rpm"] ** 2, g["pressure_bar"])[0, 1] > 0.95
        assert np.corrcoef(g["load_pct"], g["rpm"])[0, 1] > 0.95
    idle = n[n["status"] == "idle"]
    assert (idle["rpm"] == 0).all() and (idle["load_pct"] == 0).all()
    maint = n[n["status"] == "maintenance"]
    assert maint["rpm"].isna().all()
    assert n["load_pct"].dropna().between(0, 100).all()
    assert (n["rpm"].dropna() >= 0).all()
    assert n["timestamp"].between("2026-09-01", "2026-09-16").all()


def _temperature_fit(g: pd.DataFrame):
    def design(d: pd.DataFrame) -> np.ndarray:
        h = d["timestamp"].dt.hour + d["timestamp"].dt.minute / 60
        return np.column_stack([np.ones(len(d)), d["load_pct"],
                                np.sin(2 * np.pi * h / 24), np.cos(2 * np.pi * h / 24)])
    beta, *_ = np.linalg.lstsq(design(g), g["temperature_c"], rcond=None)
    sd = float(np.std(g["temperature_c"] - design(g) @ beta))
    return (lambda d: d["temperature_c"].to_numpy() - design(d) @ beta), sd


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_sensor_planted_values_violate_the_structure(seed):
    table = make_sensor_readings(seed=seed)
    f, n = table.frame, _normal(table)
    run = n[n["status"] == "running"]
    machines = n.groupby("machine_id")
    for p in table.planted:
        row = f.loc[p.row_index]
        value = row[p.column]
        mid = row["machine_id"]
        if p.kind == "wrong_category_for_entity":
            assert p.column in ("site", "machine_type")
            assert value not in set(machines.get_group(mid)[p.column])
        elif p.kind == "extreme_value":
            assert p.column in ("vibration_mm_s", "power_kw")
            assert value > 2 * run.loc[run["machine_type"] == row["machine_type"], p.column].max()
        elif p.column == "pressure_bar":
            g = run[run["machine_id"] == mid].dropna(subset=["rpm", "pressure_bar"])
            slope, intercept = np.polyfit(g["rpm"] ** 2, g["pressure_bar"], 1)
            sd = np.std(g["pressure_bar"] - (slope * g["rpm"] ** 2 + intercept))
            assert abs(value - (slope * row["rpm"] ** 2 + intercept)) > 8 * sd
            typical = run.loc[run["machine_type"] == row["machine_type"], "pressure_bar"]
            assert typical.min() <= value <= typical.max()
        elif p.column == "temperature_c":
            g = run[(run["site"] == row["site"]) & (run["machine_type"] == row["machine_type"])]
            residual, sd = _temperature_fit(g)
            assert residual(f.loc[[p.row_index]])[0] < -5 * sd
        elif p.column == "status":
            assert value == "idle" and row["rpm"] > 0 and row["load_pct"] >= 50
        elif p.column == "rpm":
            assert value < 0
        elif p.column == "load_pct":
            assert value > 100
        else:
            assert p.column == "timestamp" and value < n["timestamp"].min() - pd.Timedelta(days=365)


# ---------------------------------------------------------------------------- demo workbook


@pytest.fixture(scope="module")
def demo_file(tmp_path_factory):
    return write_demo_workbook(tmp_path_factory.mktemp("demo") / "demo.xlsx", seed=0)


def test_demo_workbook_layout(demo_file):
    tables = demo_tables(seed=0)
    wb = openpyxl.load_workbook(demo_file)
    assert wb.sheetnames == ["Claims", "Sensors", "Lookup"]
    assert wb["Lookup"].sheet_state == "hidden"
    assert wb["Claims"].sheet_state == wb["Sensors"].sheet_state == "visible"

    ws = wb["Claims"]
    assert ws["A1"].value == "Expense claims — Q3 2026 export"
    assert all(c.value is None for c in ws[2])
    header = [c.value for c in ws[3]]
    assert header == list(tables["Claims"].frame.columns)
    assert ws.max_row == 3 + 2000
    first = [c.value for c in ws[4]]
    assert isinstance(first[header.index("submitted_at")], datetime)
    assert ws.cell(row=4, column=header.index("submitted_at") + 1).is_date
    assert isinstance(first[header.index("approved")], bool)

    ws = wb["Sensors"]
    header = [c.value for c in ws[1]]
    assert header == list(tables["Sensors"].frame.columns)
    assert ws.max_row == 1 + 1500
    assert ws.cell(row=2, column=1).is_date


def test_demo_workbook_round_trips_the_frames(demo_file):
    tables = demo_tables(seed=0)
    claims = pd.read_excel(demo_file, sheet_name="Claims", header=2, engine="openpyxl")
    expected = tables["Claims"].frame
    assert len(claims) == len(expected)
    np.testing.assert_allclose(claims["amount"], expected["amount"])
    assert (claims["currency"] == expected["currency"]).all()
    assert (claims["submitted_at"] == expected["submitted_at"]).all()
    for p in tables["Claims"].planted:
        assert claims.at[p.row_index, p.column] == expected.at[p.row_index, p.column]
    assert claims["department"].isna().sum() == expected["department"].isna().sum()


def test_the_shipped_demo_workbook_is_what_the_generator_writes(demo_file):
    """``--demo`` copies the workbook shipped in the package instead of generating it (seconds
    on the first run); after a change to the generator, bump DEMO_VERSION and run
    ``tui_detector.demo.bundled.write_shipped()``."""
    from tui_detector.demo.bundled import SHIPPED  # noqa: PLC0415

    assert SHIPPED.read_bytes() == demo_file.read_bytes()


@pytest.mark.slow  # writes the workbook twice
def test_demo_workbook_path_is_cached_and_deterministic(demo_file, tmp_path, monkeypatch):
    monkeypatch.setattr(workbook.platformdirs, "user_cache_dir", lambda *a, **k: str(tmp_path))
    path = demo_workbook_path()
    assert path.parent == tmp_path / "demo" and path.suffix == ".xlsx"
    # Same seed, same bytes: the cached demo equals a fresh write.
    assert path.read_bytes() == demo_file.read_bytes()
    assert os.listdir(path.parent) == [path.name]  # no temp files left behind

    stamp = path.stat().st_mtime_ns
    assert demo_workbook_path() == path
    assert path.stat().st_mtime_ns == stamp  # reused, not regenerated

    path.unlink()
    assert demo_workbook_path().is_file()
    # Without the shipped copy it is generated, to the same bytes.
    from tui_detector.demo import bundled  # noqa: PLC0415

    path.unlink()
    monkeypatch.setattr(bundled, "SHIPPED", tmp_path / "missing.xlsx")
    assert demo_workbook_path().read_bytes() == demo_file.read_bytes()


# ---------------------------------------------------------------------------- pinned content


def _content_hash(table: SyntheticTable) -> str:
    digest = hashlib.sha256()
    digest.update(repr(list(table.frame.dtypes.astype(str))).encode())
    digest.update(table.frame.to_csv(index=False).encode())
    digest.update(pd.util.hash_pandas_object(table.frame, index=True).to_numpy().tobytes())
    digest.update(repr(table.planted).encode())
    digest.update(table.labels.tobytes())
    return digest.hexdigest()[:16]


# The quality figures in benchmarks/RESULTS.md were measured on exactly these tables; a change
# here (a refactor, or a NumPy/pandas upgrade that changes a random stream) means re-running
# benchmarks/quality.py and bumping the demo workbook's version.
@pytest.mark.parametrize(
    ("name", "n_rows", "rate", "seed", "expected"),
    [
        ("claims", 3000, 0.01, 0, "98d40c05b92930f9"),
        ("sensors", 3000, 0.01, 0, "ad8c904712bca67f"),
        ("claims", 400, 0.05, 7, "478167b63c12bf45"),
        ("sensors", 400, 0.05, 7, "19de2d4ccd3839ad"),
    ],
)
def test_generated_tables_are_pinned(name, n_rows, rate, seed, expected):
    assert _content_hash(GENERATORS[name](n_rows, rate, seed)) == expected
