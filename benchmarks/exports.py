"""Realistic monthly exports with planted oddities, and the clean month after.

Written for the trust benchmark (``benchmarks/trust.py``), apart from the demo generators the
detector was tuned on (``tui_detector.demo``). Each domain has entities whose attributes stay the
same from month to month (a customer's country and currency, a warehouse's city, an employee's
department, a meter's tariff), values that depend on each other (a fee on an amount, a cost on a
weight, a bill on a reading), and times with a daily and weekly rhythm.

``month(domain, seed, index)`` is one month's export: index 0 with oddities planted (each kind
of the issue: extreme values, a value wrong for its entity, a broken relation, a category value
seen once, an impossible or out-of-span date) and, where ``totals`` is set, a totals row at the
bottom as spreadsheets exported by hand have; index 1 the next month from the same process,
nothing planted (dates a month later, values drifted a little).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

DOMAINS = ("payments", "shipments", "expenses", "utilities")


@dataclass(frozen=True)
class Planted:
    row: int
    kind: str
    #: The column that was broken, and the columns a right explanation may name first (a broken
    #: relation between two columns is rightly explained by either).
    column: str
    accepted: tuple[str, ...]


@dataclass
class Export:
    domain: str
    frame: pd.DataFrame
    planted: list[Planted] = field(default_factory=list)
    #: Positions of totals rows appended at the bottom.
    totals: list[int] = field(default_factory=list)
    #: The entity column, for "innocent rows of a planted row's entity".
    entity: str = ""


def _month_start(index: int) -> pd.Timestamp:
    return pd.Timestamp("2026-10-01") + pd.DateOffset(months=index)


def _times(rng: np.random.Generator, n: int, index: int, *, hours: bool = True) -> pd.Series:
    start = _month_start(index)
    days = (start + pd.DateOffset(months=1) - start).days
    # Working days are busier than weekends; office hours than the night.
    day = rng.integers(0, days, size=n * 2)
    weekday = (start.dayofweek + day) % 7
    keep = rng.random(day.size) < np.where(weekday >= 5, 0.35, 1.0)
    day = day[keep][:n]
    while day.size < n:
        day = np.concatenate([day, rng.integers(0, days, size=n - day.size)])
    stamps = start + pd.to_timedelta(day, unit="D")
    if hours:
        hour = np.clip(rng.normal(13.0, 2.6, size=n), 6, 22)
        stamps = stamps + pd.to_timedelta(np.round(hour * 60), unit="min")
    return pd.Series(np.sort(stamps.to_numpy()))


def _choose(rng: np.random.Generator, values: list[str], n: int, p: list[float] | None = None) -> np.ndarray:
    return np.asarray(values, dtype=object)[rng.choice(len(values), size=n, p=p)]


# -- the domains ------------------------------------------------------------------------------

COUNTRIES = {
    "Germany": "EUR", "France": "EUR", "Spain": "EUR", "Italy": "EUR", "Netherlands": "EUR",
    "United Kingdom": "GBP", "Switzerland": "CHF", "United States": "USD", "Canada": "CAD",
    "Sweden": "SEK", "Poland": "PLN", "Japan": "JPY",
}
#: Rough units per euro, so an amount in yen looks like one.
RATES = {"EUR": 1.0, "GBP": 0.86, "CHF": 0.95, "USD": 1.08, "CAD": 1.47, "SEK": 11.4, "PLN": 4.3, "JPY": 160.0}


def _payments(rng: np.random.Generator, ent: np.random.Generator, n: int, index: int) -> tuple[pd.DataFrame, str]:
    customers = 320
    country = _choose(ent, list(COUNTRIES), customers, p=[.2, .12, .1, .08, .06, .14, .05, .12, .04, .03, .03, .03])
    usual = np.exp(ent.normal(4.6, 0.7, size=customers))  # euros
    channel_mix = ent.dirichlet([4, 2, 1, 1], size=customers)
    who = rng.choice(customers, size=n, p=ent.dirichlet(np.ones(customers) * 2))
    drift = 1.0 + 0.01 * index
    currency = np.array([COUNTRIES[c] for c in country[who]], dtype=object)
    rate = np.array([RATES[c] for c in currency])
    amount = np.round(usual[who] * np.exp(rng.normal(0, 0.35, size=n)) * rate * drift, 2)
    channels = np.array(["web", "store", "phone", "app"], dtype=object)
    channel = np.array([channels[rng.choice(4, p=channel_mix[w])] for w in who], dtype=object)
    fee_rate = {"web": 0.029, "store": 0.015, "phone": 0.035, "app": 0.025}
    fee = np.round(amount * np.array([fee_rate[c] for c in channel]) + 0.25 * rate, 2)
    frame = pd.DataFrame({
        "payment_id": [f"P{index}{i:06d}" for i in range(n)],
        "paid_at": _times(rng, n, index),
        "customer": [f"C{w:04d}" for w in who],
        "country": country[who],
        "currency": currency,
        "channel": channel,
        "amount": amount,
        "fee": fee,
        "status": _choose(rng, ["paid", "refunded", "disputed"], n, [0.955, 0.04, 0.005]),
    })
    return frame, "customer"


def _shipments(rng: np.random.Generator, ent: np.random.Generator, n: int, index: int) -> tuple[pd.DataFrame, str]:
    cities = ["Hamburg", "Rotterdam", "Lyon", "Milan", "Madrid", "Leeds", "Poznan", "Gothenburg"]
    warehouses = 24
    city = _choose(ent, cities, warehouses)
    carriers = {"DHL": (4.0, 0.9, 2), "UPS": (4.5, 1.0, 2), "DPD": (3.2, 0.7, 3), "GLS": (3.0, 0.65, 4),
                "FedEx": (6.0, 1.3, 1), "Freight": (45.0, 0.25, 6)}
    names = list(carriers)
    which = rng.choice(warehouses, size=n)
    carrier = _choose(rng, names, n, [0.25, 0.2, 0.2, 0.15, 0.1, 0.1])
    heavy = carrier == "Freight"
    weight = np.round(np.where(heavy, np.exp(rng.normal(5.5, 0.5, n)), np.exp(rng.normal(1.2, 0.8, n))), 1)
    base = np.array([carriers[c][0] for c in carrier])
    per_kg = np.array([carriers[c][1] for c in carrier])
    cost = np.round((base + per_kg * weight) * (1 + 0.01 * index) * np.exp(rng.normal(0, 0.05, n)), 2)
    shipped = _times(rng, n, index)
    transit = np.array([carriers[c][2] for c in carrier]) + rng.integers(0, 3, size=n)
    frame = pd.DataFrame({
        "shipment": [f"S-{index}-{i:05d}" for i in range(n)],
        "shipped": shipped,
        "delivered": (shipped + pd.to_timedelta(transit, unit="D")).dt.normalize(),
        "warehouse": [f"WH{w:02d}" for w in which],
        "city": city[which],
        "carrier": carrier,
        "service": _choose(rng, ["standard", "express"], n, [0.8, 0.2]),
        "weight_kg": weight,
        "cost_eur": cost,
    })
    return frame, "warehouse"


def _expenses(rng: np.random.Generator, ent: np.random.Generator, n: int, index: int) -> tuple[pd.DataFrame, str]:
    departments = {"Sales": "CC-100", "Engineering": "CC-200", "Finance": "CC-300", "Support": "CC-400",
                   "Marketing": "CC-500", "Operations": "CC-600"}
    employees = 180
    dept = _choose(ent, list(departments), employees, [0.3, 0.25, 0.08, 0.15, 0.1, 0.12])
    who = rng.choice(employees, size=n)
    category = _choose(rng, ["hotel", "meals", "train", "taxi", "supplies"], n, [0.2, 0.35, 0.15, 0.2, 0.1])
    nights = np.where(category == "hotel", rng.integers(1, 5, size=n), 0)
    per = {"meals": (3.3, 0.4), "train": (4.3, 0.5), "taxi": (3.0, 0.4), "supplies": (3.6, 0.7)}
    amount = np.empty(n)
    for c, (mu, sd) in per.items():
        pick = category == c
        amount[pick] = np.exp(rng.normal(mu, sd, size=pick.sum()))
    hotel = category == "hotel"
    amount[hotel] = nights[hotel] * np.exp(rng.normal(4.8, 0.25, size=hotel.sum()))
    amount = np.round(amount * (1 + 0.01 * index), 2)
    frame = pd.DataFrame({
        "claim": np.arange(n) + 10_000 * (index + 1),
        "submitted": _times(rng, n, index, hours=False),
        "employee": [f"E{w:03d}" for w in who],
        "department": dept[who],
        "cost_centre": [departments[d] for d in dept[who]],
        "category": category,
        "nights": nights,
        "amount": amount,
        "approved": rng.random(n) < 0.93,
    })
    return frame, "employee"


def _utilities(rng: np.random.Generator, ent: np.random.Generator, n: int, index: int) -> tuple[pd.DataFrame, str]:
    tariffs = {"Basic": (0.31, 9.5), "Green": (0.34, 11.0), "Night saver": (0.27, 12.5), "Business": (0.24, 35.0)}
    accounts = n  # one bill per account and month
    tariff = _choose(ent, list(tariffs), accounts, [0.4, 0.25, 0.15, 0.2])
    region = _choose(ent, ["North", "South", "East", "West", "Central"], accounts)
    usual = np.where(tariff == "Business", np.exp(ent.normal(7.5, 0.5, accounts)), np.exp(ent.normal(5.6, 0.4, accounts)))
    bill_day = ent.integers(1, 28, size=accounts)
    kwh = np.round(usual * np.exp(rng.normal(0, 0.12, accounts)) * (1 + 0.02 * index))
    rate = np.array([tariffs[t][0] for t in tariff])
    standing = np.array([tariffs[t][1] for t in tariff])
    start = _month_start(index)
    frame = pd.DataFrame({
        "account": [f"A{a:05d}" for a in range(accounts)],
        "billed": start + pd.to_timedelta(bill_day - 1, unit="D"),
        "region": region,
        "tariff": tariff,
        "kwh": kwh,
        "amount": np.round(kwh * rate + standing, 2),
        "paid_by_debit": ent.random(accounts) < 0.7,
    })
    return frame.sort_values("billed", kind="stable").reset_index(drop=True), "account"


MAKERS = {"payments": _payments, "shipments": _shipments, "expenses": _expenses, "utilities": _utilities}
#: Per domain: the money column, its relation partner, the entity-given column, a category
#: column for a typo, the date column.
SHAPES = {
    "payments": ("amount", "fee", "currency", "channel", "paid_at"),
    "shipments": ("cost_eur", "weight_kg", "city", "carrier", "shipped"),
    "expenses": ("amount", "nights", "department", "category", "submitted"),
    "utilities": ("amount", "kwh", "tariff", "region", "billed"),
}


def _typo(value: str, rng: np.random.Generator) -> str:
    """Two neighbouring letters swapped ("wbe" for "web"), or a letter doubled where every swap
    would give the same word back ("app")."""
    swaps = [i for i in range(len(value) - 1) if value[i] != value[i + 1]]
    if not swaps:
        return value + value[-1:]
    i = swaps[int(rng.integers(0, len(swaps)))]
    return value[:i] + value[i + 1] + value[i] + value[i + 2 :]


#: Rows where the domain's relation between its money and its partner holds (elsewhere a
#: "broken relation" would only be a rescaled value, often an ordinary one): an expense's amount
#: follows its nights only on hotel claims.
RELATION_ROWS = {"expenses": lambda frame: frame["category"] == "hotel"}


#: Domains whose entities have one row a month (a meter's bill): a value there cannot be wrong
#: for its entity's history, only for the columns it fixes (a tariff sets the price of the
#: reading), so naming the bill or the reading that does not fit it is a right first name too.
SINGLE_ROW_ENTITY = {"utilities": ("amount", "kwh")}


def _plant(export: Export, rng: np.random.Generator, count: int) -> None:
    frame = export.frame
    money, partner, given, category, date = SHAPES[export.domain]
    kinds = ["extreme", "entity", "relation", "once", "date"]
    rows = rng.choice(len(frame), size=count, replace=False)
    holds = RELATION_ROWS.get(export.domain)
    if holds is not None:
        eligible = np.flatnonzero(holds(frame).to_numpy() & ~np.isin(np.arange(len(frame)), rows))
        for i in range(count):
            if kinds[i % len(kinds)] == "relation" and not holds(frame.iloc[[rows[i]]]).iloc[0]:
                rows[i] = eligible[int(rng.integers(0, eligible.size))]
                eligible = eligible[eligible != rows[i]]
    used_entities: set[str] = set()
    for i, row in enumerate(rows.tolist()):
        kind = kinds[i % len(kinds)]
        entity = frame.at[row, export.entity]
        if kind == "entity":
            if entity in used_entities:
                kind = "extreme"
            else:
                used_entities.add(entity)
        if kind == "extreme":
            frame.at[row, money] = round(float(frame.at[row, money]) * float(rng.choice([40, 100, 400])), 2)
            # The dependent column follows, so only the magnitude is strange; the plant then
            # wrote both cells, and either is a right first name.
            accepted: tuple[str, ...] = (money,)
            if export.domain == "payments":
                frame.at[row, partner] = round(float(frame.at[row, money]) * 0.029 + 0.3, 2)
                accepted = (money, partner)
            export.planted.append(Planted(row, kind, money, accepted))
        elif kind == "entity":
            values = sorted(set(frame[given].astype(str)) - {str(frame.at[row, given])})
            frame.at[row, given] = values[int(rng.integers(0, len(values)))]
            export.planted.append(Planted(row, kind, given, (given, *SINGLE_ROW_ENTITY.get(export.domain, ()))))
        elif kind == "relation":
            # The money no longer fits its partner: 6x the fee, cost or bill it should be.
            frame.at[row, money] = round(float(frame.at[row, money]) * float(rng.choice([0.12, 6.0])), 2)
            export.planted.append(Planted(row, kind, money, (money, partner)))
        elif kind == "once":
            frame.at[row, category] = _typo(str(frame.at[row, category]), rng)
            export.planted.append(Planted(row, kind, category, (category,)))
        else:
            stamp = pd.Timestamp(frame.at[row, date])
            frame.at[row, date] = stamp.replace(year=int(rng.choice([1999, 2036])))
            accepted = (date, "delivered") if export.domain == "shipments" else (date,)
            export.planted.append(Planted(row, kind, date, accepted))


def _totals_row(frame: pd.DataFrame, label_column: str) -> dict:
    row: dict = {c: None for c in frame.columns}
    for column in frame.columns:
        if pd.api.types.is_numeric_dtype(frame[column]) and not pd.api.types.is_bool_dtype(frame[column]):
            row[column] = round(float(frame[column].sum()), 2)
    row[label_column] = "TOTAL"
    return row


def month(domain: str, seed: int, index: int, *, rows: int = 4000, plants: int = 20, totals: bool = True) -> Export:
    """One month of ``domain``; ``seed`` fixes the entities (the same every month) and the rows."""
    ent = np.random.default_rng([seed, 7])
    rng = np.random.default_rng([seed, index, 11])
    frame, entity = MAKERS[domain](rng, ent, rows, index)
    export = Export(domain, frame, entity=entity)
    if index == 0 and plants:
        _plant(export, np.random.default_rng([seed, 99]), plants)
    if totals and index == 0:
        label = frame.columns[0]
        if pd.api.types.is_numeric_dtype(frame[label]):
            frame[label] = frame[label].astype(object)
        total = _totals_row(frame, label)
        export.frame = pd.concat([frame, pd.DataFrame([total])], ignore_index=True)
        export.totals.append(len(export.frame) - 1)
    return export
