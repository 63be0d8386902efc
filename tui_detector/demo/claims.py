"""Employee expense claims: a table an analyst would recognise, with planted anomalies.

The normal rows carry structure a detector can learn -- each employee has one department,
country and currency; amounts depend on category and country; hotel amounts follow nights -- but
also the mess of real exports: skewed amounts, missing cells, noise, free text.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .planting import (
    PlantedAnomaly,
    Planter,
    SyntheticTable,
    candidates,
    check_args,
    plant_all,
    with_missing,
    wrong_category,
)

# country, currency, cost-of-living factor, share of staff
COUNTRIES: tuple[tuple[str, str, float, float], ...] = (
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
FX_PER_EUR = {"EUR": 1.0, "GBP": 0.85, "USD": 1.08, "CHF": 0.95, "CAD": 1.47}

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

    countries = np.array([c[0] for c in COUNTRIES])
    country_p = np.array([c[3] for c in COUNTRIES])
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
    currency = np.array([COUNTRIES[i][1] for i in c_idx])
    cost = np.array([COUNTRIES[i][2] for i in c_idx])
    fx = np.array([FX_PER_EUR[c] for c in currency])

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
    frame["department"] = pd.array(with_missing(frame["department"].tolist(), rng, 0.02),
                                   dtype="str")
    frame["receipt_attached"] = pd.array(
        with_missing(frame["receipt_attached"].tolist(), rng, 0.02), dtype="boolean")
    frame["description"] = pd.array(with_missing(frame["description"].tolist(), rng, 0.025),
                                    dtype="str")
    return frame


def _expense_planters(clean: pd.DataFrame) -> dict[str, list[tuple[float, Planter]]]:
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
        for i in candidates(rng, common_group, used):
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

    wrong_currency = wrong_category(
        well_known, "employee_id", "currency", emp_currency, currencies,
        lambda new, emp, usual: f"currency {new} does not belong to employee {emp}, who is "
                                f"based in {emp_country[emp]} and always claims in {usual}")
    wrong_department = wrong_category(
        well_known & clean["department"].notna().to_numpy(), "employee_id", "department", emp_dept,
        departments,
        lambda new, emp, usual: f"department {new} does not match employee {emp}, who always "
                                f"files claims under {usual}")

    def hotel_nights_mismatch(f: pd.DataFrame, rng: np.random.Generator, used: set[int]):
        for i in candidates(rng, is_hotel, used):
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
        for i in candidates(rng, ~is_hotel, used):
            m = int(rng.integers(1, 5))
            f.at[i, "nights"] = m
            return PlantedAnomaly(i, "nights", "broken_relation",
                                  f"nights {m} on {_a(f.at[i, 'category'])} claim; only hotel "
                                  f"claims have nights")
        return None

    def negative_amount(f: pd.DataFrame, rng: np.random.Generator, used: set[int]):
        for i in candidates(rng, np.ones(len(clean), dtype=bool), used):
            new = -abs(float(f.at[i, "amount"]))
            f.at[i, "amount"] = new
            return PlantedAnomaly(i, "amount", "impossible_value",
                                  f"amount {new:,.2f} {f.at[i, 'currency']} is negative; "
                                  f"a claim cannot be for less than nothing")
        return None

    def absurd_nights(f: pd.DataFrame, rng: np.random.Generator, used: set[int]):
        for i in candidates(rng, is_hotel, used):
            new = int(rng.choice([45, 60, 90, 120, 365]))
            f.at[i, "nights"] = new
            return PlantedAnomaly(i, "nights", "impossible_value",
                                  f"nights {new} on a single hotel claim is impossible; "
                                  f"stays are 1-7 nights")
        return None

    def future_date(f: pd.DataFrame, rng: np.random.Generator, used: set[int]):
        for i in candidates(rng, np.ones(len(clean), dtype=bool), used):
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
    n_anomalies = check_args(n_rows, anomaly_rate)
    rng = np.random.default_rng(seed)
    clean = _clean_expense_claims(n_rows, rng)
    frame = clean.copy()
    return plant_all(frame, rng, n_anomalies, _expense_planters(clean))
