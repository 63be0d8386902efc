"""Realistic mixed-type tables with planted, documented anomalies, and the bundled demo workbook.

Two generators produce tables an analyst would recognise (expense claims, machine sensor
readings). The normal rows carry structure a detector can learn -- attributes that are a function
of an entity, numeric columns that depend on each other, category-dependent scales -- but also
the mess of real exports: skewed amounts, missing cells, noise, free text.

Every planted anomaly changes exactly one cell, and that cell's new value is checked against the
clean table so it cannot land inside the normal range by accident. Whatever makes the row strange
is therefore attributable to one column, which is what the explanation tests rely on.
"""

from __future__ import annotations

import io
import os
import re
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import platformdirs

__all__ = [
    "KINDS",
    "PlantedAnomaly",
    "SyntheticTable",
    "demo_tables",
    "demo_workbook_path",
    "make_expense_claims",
    "make_sensor_readings",
    "write_demo_workbook",
]

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


# --------------------------------------------------------------------------------------------
# Shared machinery
# --------------------------------------------------------------------------------------------

# A planter tries to break one cell of one unused row; it returns None when no eligible row is
# left, so the caller can fall back to another variant of the same kind.
_Planter = Callable[[pd.DataFrame, np.random.Generator, set[int]], "PlantedAnomaly | None"]


def _check_args(n_rows: int, anomaly_rate: float) -> int:
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


def _candidates(rng: np.random.Generator, mask: np.ndarray, used: set[int]) -> Iterator[int]:
    # Lazily, and without sorting ``used``: planters take the first candidate that fits, and a
    # million-row table plants ten thousand anomalies (a list of every row per plant was hours).
    if used:
        mask = mask.copy()
        mask[np.fromiter(used, dtype=np.int64, count=len(used))] = False
    return (int(i) for i in rng.permutation(np.flatnonzero(mask)))


def _plant_all(
    frame: pd.DataFrame,
    rng: np.random.Generator,
    n_anomalies: int,
    planters: dict[str, list[tuple[float, _Planter]]],
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
    variants: list[tuple[float, _Planter]],
) -> PlantedAnomaly | None:
    weights = np.array([w for w, _ in variants], dtype=float)
    order = rng.choice(len(variants), size=len(variants), replace=False, p=weights / weights.sum())
    for v in order:
        anomaly = variants[int(v)][1](frame, rng, used)
        if anomaly is not None:
            return anomaly
    return None


def _weekday_weights(
    start: pd.Timestamp, n_days: int, weekend: float, month_end: float
) -> np.ndarray:
    days = start + pd.to_timedelta(np.arange(n_days), unit="D")
    w = np.where(days.day_of_week >= 5, weekend, 1.0)
    # Expense claims pile up in the last days of a month, before the books close.
    w = w * np.where(days.days_in_month - days.day < 3, month_end, 1.0)
    return w / w.sum()


def _a(noun: str) -> str:
    return f"an {noun}" if noun[:1].lower() in "aeiou" else f"a {noun}"


def _with_missing(values: list, rng: np.random.Generator, rate: float) -> list:
    drop = rng.random(len(values)) < rate
    return [None if d else v for v, d in zip(values, drop)]


# --------------------------------------------------------------------------------------------
# Expense claims
# --------------------------------------------------------------------------------------------

# country, currency, cost-of-living factor, share of staff
_COUNTRIES: tuple[tuple[str, str, float, float], ...] = (
    ("Germany", "EUR", 1.00, 0.22),
    ("United Kingdom", "GBP", 1.15, 0.15),
    ("United States", "USD", 1.20, 0.15),
    ("France", "EUR", 1.05, 0.10),
    ("Netherlands", "EUR", 1.05, 0.08),
    ("Spain", "EUR", 0.90, 0.07),
    ("Italy", "EUR", 0.95, 0.06),
    ("Switzerland", "CHF", 1.40, 0.06),
    ("Canada", "CAD", 1.05, 0.06),
    ("Ireland", "EUR", 1.10, 0.05),
)
# Currencies were chosen with rates near 1 so that amounts stay comparable across countries; a
# JPY-scale currency would dwarf the category effect the extreme-value anomalies are measured by.
_FX_PER_EUR = {"EUR": 1.0, "GBP": 0.85, "USD": 1.08, "CHF": 0.95, "CAD": 1.47}

# category -> (median amount in EUR, log-normal sigma); for hotel the median is per night
_CATEGORIES: dict[str, tuple[float, float]] = {
    "travel": (320.0, 0.65),
    "hotel": (135.0, 0.22),
    "meals": (28.0, 0.55),
    "taxi": (24.0, 0.50),
    "software": (90.0, 0.90),
    "training": (650.0, 0.55),
    "office supplies": (35.0, 0.80),
    "client entertainment": (180.0, 0.60),
    "phone & internet": (45.0, 0.30),
}
_CATEGORY_NAMES = tuple(_CATEGORIES)

# department -> (share of staff, category weights in _CATEGORY_NAMES order)
_DEPARTMENTS: dict[str, tuple[float, tuple[int, ...]]] = {
    "Sales": (0.20, (18, 16, 20, 16, 2, 3, 3, 16, 6)),
    "Engineering": (0.25, (8, 7, 14, 8, 22, 14, 10, 1, 16)),
    "Marketing": (0.10, (12, 10, 18, 10, 14, 8, 8, 12, 8)),
    "Finance": (0.08, (6, 5, 18, 8, 12, 14, 20, 3, 14)),
    "Operations": (0.14, (12, 12, 16, 14, 6, 8, 20, 2, 10)),
    "HR": (0.06, (8, 7, 20, 8, 8, 20, 17, 4, 8)),
    "Legal": (0.05, (12, 11, 16, 12, 10, 14, 10, 7, 8)),
    "Customer Success": (0.12, (16, 14, 18, 14, 4, 6, 4, 14, 10)),
}

# Subscriptions are billed at list prices, so part of the software column is a few repeated
# values rather than a smooth distribution.
_SOFTWARE_PRICES = np.array([9.99, 14.99, 19.99, 29.0, 49.0, 99.0, 199.0, 499.0])
_HOTEL_NIGHTS_P = np.array([0.35, 0.25, 0.17, 0.10, 0.07, 0.03, 0.03])  # 1..7 nights

_CLAIMS_START = pd.Timestamp("2026-04-01")
_CLAIMS_DAYS = 183

_CLIENTS = (
    "Brennhaus AG", "Northwind Foods", "Kestrel Logistics", "Alder & Finch", "Vantor Energy",
    "Helio Systems", "Marlowe Bank", "Quayside Retail", "Orbis Pharma", "Tamsin Group",
    "Bluefield Labs", "Castell Insurance", "Driftwood Media", "Eastgate Motors", "Fenwick Legal",
    "Granite Telecom", "Harbour Health", "Ironbridge Steel", "Juniper Hotels", "Lumen Analytics",
    "Meridian Rail", "Nordlicht GmbH", "Oakridge Capital", "Pellucid Software", "Rivelle SA",
)
_CITIES = (
    "Berlin", "Munich", "Hamburg", "London", "Manchester", "Paris", "Lyon", "Amsterdam",
    "Rotterdam", "Madrid", "Barcelona", "Milan", "Rome", "Zurich", "Geneva", "Dublin",
    "New York", "Chicago", "Toronto", "Vienna", "Copenhagen", "Brussels",
)
_HOTELS = ("Marriott", "Hilton", "NH Hotel", "Premier Inn", "Novotel", "Ibis", "Motel One",
           "Radisson", "Holiday Inn", "Hyatt")
_SAAS = ("Figma", "GitHub", "JetBrains", "Zoom", "Miro", "Notion", "Adobe CC", "Slack",
         "Grammarly", "1Password", "Tableau", "Postman")
_COURSES = ("AWS certification", "Negotiation skills", "Advanced Excel", "IFRS update",
            "Leadership essentials", "Kubernetes", "Data privacy (GDPR)", "Presentation skills",
            "Project management", "SQL for analysts")
_OFFICE = ("Printer toner", "Notebooks and pens", "USB-C adapter", "Desk lamp", "Headset",
           "Monitor cable", "Whiteboard markers", "Keyboard", "Webcam", "Filing folders")
_MONTHS = ("Apr", "May", "Jun", "Jul", "Aug", "Sep")


def _claim_description(category: str, rng: np.random.Generator, month: str) -> str:
    client = _CLIENTS[rng.integers(len(_CLIENTS))]
    city = _CITIES[rng.integers(len(_CITIES))]
    city2 = _CITIES[rng.integers(len(_CITIES))]
    pick = int(rng.integers(3))
    if category == "travel":
        text = (f"Flight {city}-{city2}", f"Train to {city2} for {client}",
                f"Return flight {city2}, {client} meeting")[pick]
    elif category == "hotel":
        text = (f"{_HOTELS[rng.integers(len(_HOTELS))]} {city2}",
                f"Hotel {city2} - {client} visit",
                f"{_HOTELS[rng.integers(len(_HOTELS))]} {city2}, workshop")[pick]
    elif category == "meals":
        text = (f"Lunch with {client}", f"Team dinner {city}",
                f"Working lunch, {client} workshop")[pick]
    elif category == "taxi":
        text = (f"Taxi airport to {client} office", f"Taxi to {city} station",
                f"Uber {city} client visit")[pick]
    elif category == "software":
        text = (f"{_SAAS[rng.integers(len(_SAAS))]} subscription {month}",
                f"{_SAAS[rng.integers(len(_SAAS))]} licence renewal",
                f"{_SAAS[rng.integers(len(_SAAS))]} seat for project")[pick]
    elif category == "training":
        text = (f"{_COURSES[rng.integers(len(_COURSES))]} course",
                f"Conference ticket {city2}",
                f"{_COURSES[rng.integers(len(_COURSES))]} workshop {city2}")[pick]
    elif category == "office supplies":
        text = _OFFICE[rng.integers(len(_OFFICE))]
    elif category == "client entertainment":
        text = (f"Dinner with {client} team", f"Event tickets for {client}",
                f"Drinks after {client} kickoff")[pick]
    else:
        text = (f"Mobile phone bill {month}", f"Home internet {month}",
                f"Roaming charges {city2}")[pick]
    # Receipt references make most descriptions unique, as they are in real exports.
    if rng.random() < 0.6:
        text += f" (ref {int(rng.integers(1000, 99999))})"
    return text


def _clean_expense_claims(n_rows: int, rng: np.random.Generator) -> pd.DataFrame:
    n_emp = int(np.clip(n_rows // 12, 150, 300))
    # Small tables still need several claims per employee, or the employee's currency and
    # department could not be learned from the other rows.
    n_emp = min(n_emp, max(5, n_rows // 8))

    countries = np.array([c[0] for c in _COUNTRIES])
    country_p = np.array([c[3] for c in _COUNTRIES])
    depts = np.array(list(_DEPARTMENTS))
    dept_p = np.array([d[0] for d in _DEPARTMENTS.values()])
    emp_ids = np.array([f"E{i}" for i in rng.choice(np.arange(10000, 60000), n_emp, replace=False)])
    emp_country = rng.choice(len(countries), n_emp, p=country_p / country_p.sum())
    emp_dept = rng.choice(len(depts), n_emp, p=dept_p / dept_p.sum())
    # A few frequent travellers file most claims; a long tail files a handful.
    activity = rng.lognormal(0.0, 0.7, n_emp)

    emp = rng.choice(n_emp, n_rows, p=activity / activity.sum())
    c_idx = emp_country[emp]
    d_idx = emp_dept[emp]
    country = countries[c_idx]
    currency = np.array([_COUNTRIES[i][1] for i in c_idx])
    cost = np.array([_COUNTRIES[i][2] for i in c_idx])
    fx = np.array([_FX_PER_EUR[c] for c in currency])

    cat_w = np.array([_DEPARTMENTS[d][1] for d in depts], dtype=float)
    cat_w /= cat_w.sum(axis=1, keepdims=True)
    cum = cat_w[d_idx].cumsum(axis=1)
    cat_idx = np.minimum((rng.random(n_rows)[:, None] > cum).sum(axis=1), len(_CATEGORY_NAMES) - 1)
    category = np.array(_CATEGORY_NAMES)[cat_idx]

    med = np.array([_CATEGORIES[c][0] for c in category])
    sig = np.array([_CATEGORIES[c][1] for c in category])
    amount = med * cost * fx * rng.lognormal(0.0, sig)
    is_hotel = category == "hotel"
    nights = np.zeros(n_rows, dtype=np.int64)
    nights[is_hotel] = rng.choice(np.arange(1, 8), is_hotel.sum(), p=_HOTEL_NIGHTS_P)
    # City tax and minibar make the total only approximately nights x rate.
    amount[is_hotel] *= nights[is_hotel] * rng.lognormal(0.0, 0.04, is_hotel.sum())
    listed = (category == "software") & (rng.random(n_rows) < 0.4)
    amount[listed] = rng.choice(_SOFTWARE_PRICES, listed.sum())
    amount = np.round(amount, 2)

    day_p = _weekday_weights(_CLAIMS_START, _CLAIMS_DAYS, weekend=0.06, month_end=1.6)
    day = rng.choice(_CLAIMS_DAYS, n_rows, p=day_p)
    mix = rng.random(n_rows)
    hour = np.where(mix < 0.53, rng.normal(10.8, 1.4, n_rows), rng.normal(15.2, 1.6, n_rows))
    hour = np.where(mix > 0.95, rng.uniform(18.0, 23.0, n_rows), hour)
    seconds = np.round(np.clip(hour, 6.5, 23.5) * 3600).astype(np.int64)
    submitted = (_CLAIMS_START + pd.to_timedelta(day, unit="D")
                 + pd.to_timedelta(seconds, unit="s")).as_unit("ns")

    receipt_p = np.select([category == "taxi", category == "meals", category == "phone & internet"],
                          [0.80, 0.88, 0.99], 0.97)
    receipt = rng.random(n_rows) < receipt_p
    approve_p = np.where(receipt, 0.965, 0.75)
    approved = rng.random(n_rows) < approve_p

    order = np.argsort(submitted.values, kind="stable")
    months = [_MONTHS[m - 4] for m in submitted.month]
    descriptions = [_claim_description(category[i], rng, months[i]) for i in range(n_rows)]
    first_id = int(rng.integers(1000, 20000))

    frame = pd.DataFrame({
        "employee_id": emp_ids[emp],
        "department": depts[d_idx],
        "country": country,
        "currency": currency,
        "category": category,
        "amount": amount,
        "nights": nights,
        "submitted_at": submitted,
        "approved": approved,
        "receipt_attached": receipt,
        "description": descriptions,
    }).iloc[order].reset_index(drop=True)
    # IDs are issued in submission order, as a ticketing system would.
    frame.insert(0, "claim_id", [f"CLM-{first_id + i:06d}" for i in range(n_rows)])

    # Missing cells go only into columns no anomaly ever breaks, so "the broken cell" is never
    # an empty one.
    frame["department"] = pd.array(_with_missing(frame["department"].tolist(), rng, 0.02),
                                   dtype="str")
    frame["receipt_attached"] = pd.array(
        _with_missing(frame["receipt_attached"].tolist(), rng, 0.02), dtype="boolean")
    frame["description"] = pd.array(_with_missing(frame["description"].tolist(), rng, 0.025),
                                    dtype="str")
    return frame


def _expense_planters(clean: pd.DataFrame) -> dict[str, list[tuple[float, _Planter]]]:
    # Reference statistics come from the table before planting; the normal rows afterwards are a
    # subset of it, so anything outside these ranges stays outside the normal range.
    grp = clean.groupby(["category", "currency"])["amount"]
    amount_median = grp.median().to_dict()
    amount_max = grp.max().to_dict()
    amount_count = grp.size().to_dict()
    emp_counts = clean["employee_id"].value_counts().to_dict()
    emp_first = clean.drop_duplicates("employee_id").set_index("employee_id")
    emp_currency = emp_first["currency"].to_dict()
    emp_country = emp_first["country"].to_dict()
    emp_dept = clean.dropna(subset=["department"]).drop_duplicates("employee_id") \
        .set_index("employee_id")["department"].to_dict()
    hotel = clean[clean["category"] == "hotel"]
    per_night = hotel["amount"] / hotel["nights"]
    pn_min = per_night.groupby(hotel["country"]).min().to_dict()
    pn_max = per_night.groupby(hotel["country"]).max().to_dict()
    pn_lo = per_night.groupby(hotel["country"]).quantile(0.05).to_dict()
    pn_hi = per_night.groupby(hotel["country"]).quantile(0.95).to_dict()
    currencies = sorted(clean["currency"].unique())
    departments = sorted(clean["department"].dropna().unique())
    well_known = clean["employee_id"].map(emp_counts).to_numpy() >= 6
    is_hotel = (clean["category"] == "hotel").to_numpy()
    last_day = (_CLAIMS_START + pd.Timedelta(days=_CLAIMS_DAYS - 1)).strftime("%b %Y")
    first_day = _CLAIMS_START.strftime("%b")

    # "Usual" needs enough peers in the same category and currency to be learnable; small
    # tables get a lower bar so they still receive extreme values.
    min_peers = min(20, max(3, len(clean) // 100))
    group_size = clean.set_index(["category", "currency"]).index.map(amount_count).to_numpy()
    common_group = group_size >= min_peers

    def extreme_amount(f: pd.DataFrame, rng: np.random.Generator, used: set[int]):
        for i in _candidates(rng, common_group, used):
            cat, cur, amt = f.at[i, "category"], f.at[i, "currency"], float(f.at[i, "amount"])
            new = round(amt * rng.uniform(30.0, 100.0), 2)
            if new <= 2.0 * amount_max[(cat, cur)]:
                continue
            usual = amount_median[(cat, cur)]
            f.at[i, "amount"] = new
            return PlantedAnomaly(i, "amount", "extreme_value",
                                  f"amount {new:,.2f} {cur} is ~{new / usual:.0f}x the usual "
                                  f"{cat} claim in {cur} (median {usual:,.2f})")
        return None

    def wrong_currency(f: pd.DataFrame, rng: np.random.Generator, used: set[int]):
        for i in _candidates(rng, well_known, used):
            emp = f.at[i, "employee_id"]
            usual = emp_currency[emp]
            new = str(rng.choice([c for c in currencies if c != usual]))
            f.at[i, "currency"] = new
            return PlantedAnomaly(i, "currency", "wrong_category_for_entity",
                                  f"currency {new} does not belong to employee {emp}, who is "
                                  f"based in {emp_country[emp]} and always claims in {usual}")
        return None

    def wrong_department(f: pd.DataFrame, rng: np.random.Generator, used: set[int]):
        mask = well_known & clean["department"].notna().to_numpy()
        for i in _candidates(rng, mask, used):
            emp = f.at[i, "employee_id"]
            usual = emp_dept[emp]
            new = str(rng.choice([d for d in departments if d != usual]))
            f.at[i, "department"] = new
            return PlantedAnomaly(i, "department", "wrong_category_for_entity",
                                  f"department {new} does not match employee {emp}, who always "
                                  f"files claims under {usual}")
        return None

    def hotel_nights_mismatch(f: pd.DataFrame, rng: np.random.Generator, used: set[int]):
        for i in _candidates(rng, is_hotel, used):
            amt, n, ctry = float(f.at[i, "amount"]), int(f.at[i, "nights"]), f.at[i, "country"]
            # The margin keeps the implied nightly rate clearly outside what any normal stay in
            # this country cost, not just outside the middle of the range.
            options = [m for m in range(1, 8) if m != n and
                       (amt / m < 0.6 * pn_min[ctry] or amt / m > 1.6 * pn_max[ctry])]
            if not options:
                continue
            m = int(rng.choice(options))
            f.at[i, "nights"] = m
            cur = f.at[i, "currency"]
            return PlantedAnomaly(i, "nights", "broken_relation",
                                  f"nights {m} with a hotel amount of {amt:,.2f} {cur} implies "
                                  f"{amt / m:,.2f} per night; hotel nights in {ctry} usually cost "
                                  f"{pn_lo[ctry]:,.0f}-{pn_hi[ctry]:,.0f} {cur}")
        return None

    def nights_on_non_hotel(f: pd.DataFrame, rng: np.random.Generator, used: set[int]):
        for i in _candidates(rng, ~is_hotel, used):
            m = int(rng.integers(1, 5))
            f.at[i, "nights"] = m
            return PlantedAnomaly(i, "nights", "broken_relation",
                                  f"nights {m} on {_a(f.at[i, 'category'])} claim; only hotel "
                                  f"claims have nights")
        return None

    def negative_amount(f: pd.DataFrame, rng: np.random.Generator, used: set[int]):
        for i in _candidates(rng, np.ones(len(clean), dtype=bool), used):
            new = -abs(float(f.at[i, "amount"]))
            f.at[i, "amount"] = new
            return PlantedAnomaly(i, "amount", "impossible_value",
                                  f"amount {new:,.2f} {f.at[i, 'currency']} is negative; "
                                  f"a claim cannot be for less than nothing")
        return None

    def absurd_nights(f: pd.DataFrame, rng: np.random.Generator, used: set[int]):
        for i in _candidates(rng, is_hotel, used):
            new = int(rng.choice([45, 60, 90, 120, 365]))
            f.at[i, "nights"] = new
            return PlantedAnomaly(i, "nights", "impossible_value",
                                  f"nights {new} on a single hotel claim is impossible; "
                                  f"stays are 1-7 nights")
        return None

    def future_date(f: pd.DataFrame, rng: np.random.Generator, used: set[int]):
        for i in _candidates(rng, np.ones(len(clean), dtype=bool), used):
            ts = f.at[i, "submitted_at"]
            new = ts.replace(year=2099)
            f.at[i, "submitted_at"] = new
            return PlantedAnomaly(i, "submitted_at", "impossible_value",
                                  f"submitted_at {new:%Y-%m-%d %H:%M} is in the future; the "
                                  f"export covers {first_day}-{last_day}")
        return None

    return {
        "extreme_value": [(1.0, extreme_amount)],
        "wrong_category_for_entity": [(2.0, wrong_currency), (1.0, wrong_department)],
        "broken_relation": [(1.0, hotel_nights_mismatch), (1.0, nights_on_non_hotel)],
        "impossible_value": [(1.0, negative_amount), (1.0, absurd_nights), (1.0, future_date)],
    }


def make_expense_claims(
    n_rows: int = 3000, anomaly_rate: float = 0.01, seed: int = 0
) -> SyntheticTable:
    """Employee expense claims with planted anomalies.

    Structure a detector can learn: each employee has one department, country and currency
    (currency follows country); amounts are log-normal with a category- and country-dependent
    scale; hotel amount is roughly nights x a country-dependent nightly rate, and nights is 0 for
    every other category.
    """
    n_anomalies = _check_args(n_rows, anomaly_rate)
    rng = np.random.default_rng(seed)
    clean = _clean_expense_claims(n_rows, rng)
    frame = clean.copy()
    return _plant_all(frame, rng, n_anomalies, _expense_planters(clean))


# --------------------------------------------------------------------------------------------
# Sensor readings
# --------------------------------------------------------------------------------------------

# site -> (mean ambient temperature °C, half the day/night swing)
_SITES: dict[str, tuple[float, float]] = {
    "Rotterdam": (13.0, 4.0),
    "Leeds": (10.0, 3.5),
    "Lyon": (16.0, 6.0),
    "Gdansk": (9.0, 4.5),
}
_MACHINE_TYPES: dict[str, dict] = {
    # Pressure follows the affinity laws (~ rpm squared); heat and vibration grow with load.
    "centrifugal pump": {"rpm_max": 2950.0, "p_max": 6.0, "heat": 22.0, "vib": 2.2,
                         "kw": (15.0, 22.0, 30.0, 37.0), "share": 0.45},
    "screw compressor": {"rpm_max": 3600.0, "p_max": 9.0, "heat": 42.0, "vib": 3.0,
                         "kw": (37.0, 55.0, 75.0, 90.0), "share": 0.30},
    "blower": {"rpm_max": 1800.0, "p_max": 0.9, "heat": 12.0, "vib": 1.6,
               "kw": (7.5, 11.0, 15.0, 22.0), "share": 0.25},
}
_OPERATORS: dict[str, tuple[str, ...]] = {
    "Rotterdam": ("J. de Vries", "S. Bakker", "M. Jansen", "L. Visser", "R. Smit"),
    "Leeds": ("T. Walker", "A. Hughes", "K. Patel", "D. Wright", "C. Evans"),
    "Lyon": ("C. Martin", "J. Bernard", "N. Petit", "E. Moreau", "L. Girard"),
    "Gdansk": ("P. Nowak", "A. Kowalska", "M. Wojcik", "K. Lewandowski", "Z. Kaminska"),
}
_SENSOR_START = pd.Timestamp("2026-09-01")
_SENSOR_DAYS = 14
_NOTES = ("filter replaced", "bearing noise reported", "pressure sensor recalibrated",
          "oil level topped up", "belt tension adjusted", "restart after power dip",
          "inspection OK", "leak checked, none found", "shift handover", "alarm acknowledged")
_PRESSURE_NOISE = 0.02  # share of p_max
_TEMP_NOISE = 1.2


def _clean_sensor_readings(n_rows: int, rng: np.random.Generator) -> tuple[pd.DataFrame, dict]:
    n_machines = int(np.clip(n_rows // 75, 8, 48))
    sites = np.array(list(_SITES))
    types = np.array(list(_MACHINE_TYPES))
    type_p = np.array([t["share"] for t in _MACHINE_TYPES.values()])
    m_ids = np.array([f"M-{i}" for i in np.sort(rng.choice(np.arange(100, 999), n_machines,
                                                             replace=False))])
    m_site = rng.choice(len(sites), n_machines, p=[0.32, 0.24, 0.26, 0.18])
    m_type = rng.choice(len(types), n_machines, p=type_p / type_p.sum())
    m_kw = np.array([rng.choice(_MACHINE_TYPES[types[t]]["kw"]) for t in m_type])
    m_load = rng.uniform(45.0, 85.0, n_machines)
    m_pfac = rng.uniform(0.9, 1.1, n_machines)
    # Worn machines vibrate more; this is a per-machine level the detector has to learn.
    m_wear = rng.lognormal(0.0, 0.3, n_machines)
    roster = {s: rng.permutation(len(_OPERATORS[s])) for s in sites}

    mac = rng.choice(n_machines, n_rows, p=rng.dirichlet(np.full(n_machines, 30.0)))
    site = sites[m_site[mac]]
    mtype = types[m_type[mac]]
    spec = [_MACHINE_TYPES[t] for t in mtype]
    rpm_max = np.array([s["rpm_max"] for s in spec])
    p_max = np.array([s["p_max"] for s in spec])
    heat = np.array([s["heat"] for s in spec])
    vib = np.array([s["vib"] for s in spec])
    kw = m_kw[mac]

    offsets = np.sort(rng.integers(0, _SENSOR_DAYS * 24 * 60, n_rows))
    ts = (_SENSOR_START + pd.to_timedelta(offsets, unit="min")).as_unit("ns")
    hour = ts.hour.to_numpy() + ts.minute.to_numpy() / 60.0
    day = ((ts - _SENSOR_START).days).to_numpy()
    weather = rng.normal(0.0, 1.5, (len(sites), _SENSOR_DAYS))
    site_i = m_site[mac]
    amb_mean = np.array([_SITES[s][0] for s in site])
    amb_swing = np.array([_SITES[s][1] for s in site])
    ambient = amb_mean + amb_swing * np.sin(2 * np.pi * (hour - 9.0) / 24.0) + weather[site_i, day]

    night = (hour < 6) | (hour >= 22)
    u = rng.random(n_rows)
    status = np.where(u < 0.012, "maintenance", np.where(u < 0.012 + np.where(night, 0.12, 0.04),
                                                         "idle", "running"))
    running = status == "running"
    idle = status == "idle"
    maint = status == "maintenance"

    load = np.clip(m_load[mac] + rng.normal(0.0, 12.0, n_rows) + np.where(night, -8.0, 4.0),
                   20.0, 100.0)
    rpm = rpm_max * (0.35 + 0.65 * load / 100.0) * rng.normal(1.0, 0.008, n_rows)
    expected_p = p_max * m_pfac[mac] * (rpm / rpm_max) ** 2
    pressure = expected_p + rng.normal(0.0, _PRESSURE_NOISE, n_rows) * p_max
    expected_t = ambient + heat * (load / 100.0) ** 1.1
    temperature = expected_t + rng.normal(0.0, _TEMP_NOISE, n_rows)
    vibration = vib * m_wear[mac] * (0.4 + 0.6 * rpm / rpm_max) * rng.lognormal(0.0, 0.22, n_rows)
    power = kw * (0.12 + 0.88 * (load / 100.0) ** 1.3) * rng.normal(1.0, 0.03, n_rows)

    # Idle machines sit at ambient with only standby draw; maintenance rows have sensors off.
    load[idle] = 0.0
    rpm[idle] = 0.0
    pressure[idle] = np.abs(rng.normal(0.01, 0.005, idle.sum())) * p_max[idle]
    temperature[idle] = ambient[idle] + rng.normal(1.5, 1.0, idle.sum())
    vibration[idle] = rng.lognormal(np.log(0.15), 0.3, idle.sum())
    power[idle] = kw[idle] * rng.uniform(0.01, 0.03, idle.sum())
    temperature[maint] = ambient[maint] + rng.normal(0.0, 1.0, maint.sum())
    for arr in (load, rpm, pressure, vibration, power):
        arr[maint] = np.nan
    expected_p[~running] = np.nan
    expected_t[~running] = np.nan
    # Vibration sensors drop out now and then.
    vibration[(rng.random(n_rows) < 0.02) & ~maint] = np.nan

    shift = np.where(hour < 6, 2, np.where(hour < 14, 0, np.where(hour < 22, 1, 2)))
    cover = rng.random(n_rows) < 0.2
    operator = []
    for s, sh, c in zip(site, shift, cover):
        names = _OPERATORS[s]
        operator.append(names[rng.integers(len(names))] if c else names[roster[s][sh]])
    operator = _with_missing(operator, rng, 0.03)

    auto_mode = np.where(maint, False, rng.random(n_rows) < 0.94)
    note: list[str | None] = [None] * n_rows
    for i in range(n_rows):
        if maint[i]:
            note[i] = f"scheduled maintenance WO-{int(rng.integers(10000, 99999))}"
        elif rng.random() < 0.04:
            text = _NOTES[rng.integers(len(_NOTES))]
            if rng.random() < 0.5:
                text += f" (WO-{int(rng.integers(10000, 99999))})"
            note[i] = text

    p_round = np.where(p_max < 2.0, 3, 2)
    frame = pd.DataFrame({
        "timestamp": ts,
        "site": site,
        "machine_id": m_ids[mac],
        "machine_type": mtype,
        "operator": pd.array(operator, dtype="str"),
        "status": status,
        "auto_mode": auto_mode,
        "load_pct": np.round(load, 1),
        "rpm": np.round(rpm, 0),
        "pressure_bar": np.array([round(p, int(r)) if np.isfinite(p) else np.nan
                                  for p, r in zip(pressure, p_round)]),
        "temperature_c": np.round(temperature, 1),
        "vibration_mm_s": np.round(vibration, 2),
        "power_kw": np.round(power, 1),
        "note": pd.array(note, dtype="str"),
    })
    truth = {"expected_pressure": expected_p, "expected_temperature": expected_t,
             "ambient": ambient, "p_max": p_max}
    return frame, truth


def _sensor_planters(clean: pd.DataFrame, truth: dict) -> dict[str, list[tuple[float, _Planter]]]:
    running = (clean["status"] == "running").to_numpy()
    run = clean[running]
    vib_max = run.groupby("machine_type")["vibration_mm_s"].max().to_dict()
    vib_med = run.groupby("machine_id")["vibration_mm_s"].median().to_dict()
    pow_max = run.groupby("machine_type")["power_kw"].max().to_dict()
    pow_global = float(run["power_kw"].max())
    pow_med = run.groupby("machine_id")["power_kw"].median().to_dict()
    p_lo = run.groupby("machine_type")["pressure_bar"].quantile(0.05).to_dict()
    p_hi = run.groupby("machine_type")["pressure_bar"].quantile(0.95).to_dict()
    t_lo = clean.groupby("site")["temperature_c"].min().to_dict()
    per_machine = clean.drop_duplicates("machine_id").set_index("machine_id")
    machine_site = per_machine["site"].to_dict()
    machine_type = per_machine["machine_type"].to_dict()
    sites = sorted(clean["site"].unique())
    types = sorted(clean["machine_type"].unique())
    exp_p = truth["expected_pressure"]
    exp_t = truth["expected_temperature"]
    ambient = truth["ambient"]
    p_max = truth["p_max"]
    has = {c: clean[c].notna().to_numpy() for c in ("vibration_mm_s", "power_kw", "pressure_bar")}
    everywhere = np.ones(len(clean), dtype=bool)

    def extreme_vibration(f: pd.DataFrame, rng: np.random.Generator, used: set[int]):
        for i in _candidates(rng, running & has["vibration_mm_s"], used):
            mt, mid = f.at[i, "machine_type"], f.at[i, "machine_id"]
            new = round(float(f.at[i, "vibration_mm_s"]) * rng.uniform(12.0, 40.0), 2)
            if new <= 2.0 * vib_max[mt]:
                continue
            f.at[i, "vibration_mm_s"] = new
            return PlantedAnomaly(i, "vibration_mm_s", "extreme_value",
                                  f"vibration_mm_s {new:,.2f} is ~{new / vib_med[mid]:.0f}x the "
                                  f"usual level of {mid} (median {vib_med[mid]:.2f})")
        return None

    def extreme_power(f: pd.DataFrame, rng: np.random.Generator, used: set[int]):
        for i in _candidates(rng, running & has["power_kw"], used):
            mt, mid = f.at[i, "machine_type"], f.at[i, "machine_id"]
            new = round(float(f.at[i, "power_kw"]) * rng.uniform(8.0, 20.0), 1)
            # Twice the type's maximum alone could still be an ordinary draw for a bigger machine
            # type, which would make the value extreme only conditionally.
            if new <= 2.0 * pow_max[mt] or new <= 1.2 * pow_global:
                continue
            f.at[i, "power_kw"] = new
            return PlantedAnomaly(i, "power_kw", "extreme_value",
                                  f"power_kw {new:,.1f} is ~{new / pow_med[mid]:.0f}x the usual "
                                  f"draw of {mid} (median {pow_med[mid]:.1f} kW)")
        return None

    def wrong_site(f: pd.DataFrame, rng: np.random.Generator, used: set[int]):
        for i in _candidates(rng, everywhere, used):
            mid = f.at[i, "machine_id"]
            new = str(rng.choice([s for s in sites if s != machine_site[mid]]))
            f.at[i, "site"] = new
            return PlantedAnomaly(i, "site", "wrong_category_for_entity",
                                  f"site {new} for machine {mid}, which is installed in "
                                  f"{machine_site[mid]}")
        return None

    def wrong_type(f: pd.DataFrame, rng: np.random.Generator, used: set[int]):
        for i in _candidates(rng, everywhere, used):
            mid = f.at[i, "machine_id"]
            new = str(rng.choice([t for t in types if t != machine_type[mid]]))
            f.at[i, "machine_type"] = new
            return PlantedAnomaly(i, "machine_type", "wrong_category_for_entity",
                                  f"machine_type {new} for machine {mid}, which is a "
                                  f"{machine_type[mid]}")
        return None

    def pressure_vs_rpm(f: pd.DataFrame, rng: np.random.Generator, used: set[int]):
        for i in _candidates(rng, running & has["pressure_bar"], used):
            mt, expected = f.at[i, "machine_type"], exp_p[i]
            # A high-speed machine losing pressure looks like a leak or a dry run; a slow one
            # holding high pressure looks like a blocked outlet.
            factor = rng.uniform(0.3, 0.5) if expected > 0.5 * p_max[i] else rng.uniform(1.8, 2.5)
            new = round(expected * factor, 3 if p_max[i] < 2 else 2)
            # Keeping the value inside the type's usual range means only the relation to rpm
            # gives it away, not the value on its own.
            clear_gap = abs(new - expected) >= 10 * _PRESSURE_NOISE * p_max[i]
            if not clear_gap or not p_lo[mt] <= new <= p_hi[mt]:
                continue
            f.at[i, "pressure_bar"] = new
            return PlantedAnomaly(i, "pressure_bar", "broken_relation",
                                  f"pressure_bar {new:g} at {f.at[i, 'rpm']:,.0f} rpm; a {mt} at "
                                  f"that speed delivers about {expected:.2f} bar")
        return None

    def temperature_vs_load(f: pd.DataFrame, rng: np.random.Generator, used: set[int]):
        # Ambient itself varies with weather and time of day, which a row-wise model sees only
        # roughly; a machine that should be at least 20 °C above ambient leaves a clear gap.
        mask = running & (exp_t - ambient >= 20.0)
        for i in _candidates(rng, mask, used):
            new = round(ambient[i] + rng.uniform(0.0, 2.5), 1)
            if exp_t[i] - new < 16.0 or new < t_lo[f.at[i, "site"]]:
                continue
            f.at[i, "temperature_c"] = new
            return PlantedAnomaly(i, "temperature_c", "broken_relation",
                                  f"temperature_c {new:.1f} is ambient level although the machine "
                                  f"runs at {f.at[i, 'load_pct']:.0f}% load (expected about "
                                  f"{exp_t[i]:.0f} °C)")
        return None

    def idle_while_running(f: pd.DataFrame, rng: np.random.Generator, used: set[int]):
        mask = running & (clean["load_pct"].to_numpy() >= 50)
        for i in _candidates(rng, mask, used):
            f.at[i, "status"] = "idle"
            return PlantedAnomaly(i, "status", "broken_relation",
                                  f"status idle while running at {f.at[i, 'rpm']:,.0f} rpm and "
                                  f"{f.at[i, 'load_pct']:.0f}% load")
        return None

    def negative_rpm(f: pd.DataFrame, rng: np.random.Generator, used: set[int]):
        for i in _candidates(rng, running, used):
            new = -float(f.at[i, "rpm"])
            f.at[i, "rpm"] = new
            return PlantedAnomaly(i, "rpm", "impossible_value",
                                  f"rpm {new:,.0f} is negative; these machines cannot run "
                                  f"backwards")
        return None

    def load_over_100(f: pd.DataFrame, rng: np.random.Generator, used: set[int]):
        for i in _candidates(rng, running, used):
            new = round(float(rng.uniform(130.0, 250.0)), 1)
            f.at[i, "load_pct"] = new
            return PlantedAnomaly(i, "load_pct", "impossible_value",
                                  f"load_pct {new:.1f} is above 100%")
        return None

    def epoch_timestamp(f: pd.DataFrame, rng: np.random.Generator, used: set[int]):
        for i in _candidates(rng, everywhere, used):
            ts = f.at[i, "timestamp"]
            # A controller whose clock lost power reports time since the Unix epoch.
            new = pd.Timestamp("1970-01-01") + (ts - ts.normalize()) \
                + pd.Timedelta(days=int(rng.integers(0, 3)))
            f.at[i, "timestamp"] = new
            return PlantedAnomaly(i, "timestamp", "impossible_value",
                                  f"timestamp {new:%Y-%m-%d %H:%M} is a clock reset to the Unix "
                                  f"epoch; the log covers {_SENSOR_START:%d %b %Y} onwards")
        return None

    return {
        "extreme_value": [(1.0, extreme_vibration), (1.0, extreme_power)],
        "wrong_category_for_entity": [(1.0, wrong_site), (1.0, wrong_type)],
        "broken_relation": [(1.0, pressure_vs_rpm), (1.0, temperature_vs_load),
                            (1.0, idle_while_running)],
        "impossible_value": [(1.0, negative_rpm), (1.0, load_over_100), (1.0, epoch_timestamp)],
    }


def make_sensor_readings(
    n_rows: int = 3000, anomaly_rate: float = 0.01, seed: int = 0
) -> SyntheticTable:
    """Machine sensor log with planted anomalies.

    Structure a detector can learn: each machine has one site and one machine type; rpm rises
    with load, pressure goes with rpm squared, temperature is ambient (site, time of day) plus a
    load-driven rise, vibration scales with rpm and the machine's wear, power with load. Idle rows
    have zero load and rpm; maintenance rows have their sensors off (missing readings).
    """
    n_anomalies = _check_args(n_rows, anomaly_rate)
    rng = np.random.default_rng(seed)
    clean, truth = _clean_sensor_readings(n_rows, rng)
    frame = clean.copy()
    return _plant_all(frame, rng, n_anomalies, _sensor_planters(clean, truth))


# --------------------------------------------------------------------------------------------
# Demo workbook
# --------------------------------------------------------------------------------------------

DEMO_TITLE = "Expense claims — Q3 2026 export"
DEMO_CLAIMS_ROWS = 2000
DEMO_SENSOR_ROWS = 1500
DEMO_HEADER_ROW = 3  # 1-based row of the header on the Claims sheet
# Bumped whenever the generator or the layout changes, so a stale cached demo is not reused.
_DEMO_VERSION = 1
# Fixed document and zip timestamps make the file byte-identical for a given seed.
_FIXED_TIME = datetime(2026, 10, 1, 9, 0, 0)


def demo_tables(seed: int = 0) -> dict[str, SyntheticTable]:
    """The tables behind the demo workbook, keyed by sheet name, with their ground truth.

    Row ``i`` of the Claims frame is on Excel row ``DEMO_HEADER_ROW + 1 + i``; row ``i`` of the
    Sensors frame is on Excel row ``2 + i``.
    """
    return {
        "Claims": make_expense_claims(DEMO_CLAIMS_ROWS, anomaly_rate=0.01, seed=seed),
        "Sensors": make_sensor_readings(DEMO_SENSOR_ROWS, anomaly_rate=0.01, seed=seed),
    }


def _excel_value(v):
    if v is None or v is pd.NaT or v is pd.NA:
        return None
    if isinstance(v, float) and np.isnan(v):
        return None
    if isinstance(v, pd.Timestamp):
        return v.to_pydatetime()
    if isinstance(v, np.bool_):
        return bool(v)
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.floating):
        return None if np.isnan(v) else float(v)
    return v


def _write_frame(ws, frame: pd.DataFrame, header_row: int, formats: dict[str, str]) -> None:
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    bold = Font(bold=True)
    for j, name in enumerate(frame.columns, start=1):
        cell = ws.cell(row=header_row, column=j, value=name)
        cell.font = bold
    columns = [frame[c].astype(object).tolist() for c in frame.columns]
    for i in range(len(frame)):
        r = header_row + 1 + i
        for j, col in enumerate(columns, start=1):
            value = _excel_value(col[i])
            if value is None:
                continue
            cell = ws.cell(row=r, column=j, value=value)
            fmt = formats.get(frame.columns[j - 1])
            if fmt:
                cell.number_format = fmt
    for j, name in enumerate(frame.columns, start=1):
        sample = [len(str(v)) for v in columns[j - 1][:200] if _excel_value(v) is not None]
        width = max([len(str(name)), *sample])
        ws.column_dimensions[get_column_letter(j)].width = min(max(10, width + 2), 45)
    ws.freeze_panes = ws.cell(row=header_row + 1, column=1)


def _normalise_xlsx(data: bytes) -> bytes:
    # openpyxl stamps the save time into docProps/core.xml and into every zip entry; rewriting
    # both with a fixed time is what makes two runs produce the same bytes.
    stamp = _FIXED_TIME.strftime("%Y-%m-%dT%H:%M:%SZ")
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, \
            zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            payload = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                payload = re.sub(rb"(<dcterms:modified[^>]*>)[^<]*(</dcterms:modified>)",
                                 rb"\g<1>" + stamp.encode() + rb"\g<2>", payload)
            entry = zipfile.ZipInfo(info.filename, date_time=_FIXED_TIME.timetuple()[:6])
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = 0o600 << 16
            dst.writestr(entry, payload)
    return out.getvalue()


def _atomic_write(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        # mkstemp creates the file private (0600); a workbook the user asked for should get the
        # usual permissions of a file they saved themselves.
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def write_demo_workbook(path: str | os.PathLike[str], seed: int = 0) -> Path:
    """Write the demo .xlsx: "Claims" (title row, blank row, header on row 3), "Sensors", and a
    hidden "Lookup" sheet. The file is written atomically and is byte-identical for a seed."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tables = demo_tables(seed)

    wb = Workbook()
    claims = wb.active
    claims.title = "Claims"
    claims["A1"] = DEMO_TITLE
    claims["A1"].font = Font(bold=True, size=14)
    _write_frame(claims, tables["Claims"].frame, DEMO_HEADER_ROW,
                 {"amount": "#,##0.00", "submitted_at": "yyyy-mm-dd hh:mm"})

    sensors = wb.create_sheet("Sensors")
    _write_frame(sensors, tables["Sensors"].frame, 1,
                 {"timestamp": "yyyy-mm-dd hh:mm", "power_kw": "0.0", "temperature_c": "0.0"})

    lookup = wb.create_sheet("Lookup")
    lookup.append(["country", "currency", "eur_rate"])
    for country, currency, _, _ in _COUNTRIES:
        lookup.append([country, currency, _FX_PER_EUR[currency]])
    lookup.sheet_state = "hidden"

    wb.properties.creator = "anomaly-tui"
    wb.properties.title = DEMO_TITLE
    wb.properties.created = _FIXED_TIME
    buf = io.BytesIO()
    wb.save(buf)
    _atomic_write(path, _normalise_xlsx(buf.getvalue()))
    return path


def demo_workbook_path() -> Path:
    """The bundled demo workbook in the user cache, generated on first use (seed 0)."""
    directory = Path(platformdirs.user_cache_dir("anomaly-tui")) / "demo"
    path = directory / f"expense-claims-demo-v{_DEMO_VERSION}.xlsx"
    if not path.is_file():
        write_demo_workbook(path, seed=0)
    return path
