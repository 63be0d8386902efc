"""Machine sensor readings: a plant's sensor log with planted anomalies.

The normal rows carry structure a detector can learn -- each machine has one site and type; rpm,
pressure, temperature, vibration and power follow load and each other -- but also the mess of
real logs: idle and maintenance rows, sensors that drop out, operators' free-text notes.
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
    operator = with_missing(operator, rng, 0.03)

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


def _sensor_planters(clean: pd.DataFrame, truth: dict) -> dict[str, list[tuple[float, Planter]]]:
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
        for i in candidates(rng, running & has["vibration_mm_s"], used):
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
        for i in candidates(rng, running & has["power_kw"], used):
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

    wrong_site = wrong_category(
        everywhere, "machine_id", "site", machine_site, sites,
        lambda new, mid, usual: f"site {new} for machine {mid}, which is installed in {usual}")
    wrong_type = wrong_category(
        everywhere, "machine_id", "machine_type", machine_type, types,
        lambda new, mid, usual: f"machine_type {new} for machine {mid}, which is a {usual}")

    def pressure_vs_rpm(f: pd.DataFrame, rng: np.random.Generator, used: set[int]):
        for i in candidates(rng, running & has["pressure_bar"], used):
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
        for i in candidates(rng, mask, used):
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
        for i in candidates(rng, mask, used):
            f.at[i, "status"] = "idle"
            return PlantedAnomaly(i, "status", "broken_relation",
                                  f"status idle while running at {f.at[i, 'rpm']:,.0f} rpm and "
                                  f"{f.at[i, 'load_pct']:.0f}% load")
        return None

    def negative_rpm(f: pd.DataFrame, rng: np.random.Generator, used: set[int]):
        for i in candidates(rng, running, used):
            new = -float(f.at[i, "rpm"])
            f.at[i, "rpm"] = new
            return PlantedAnomaly(i, "rpm", "impossible_value",
                                  f"rpm {new:,.0f} is negative; these machines cannot run "
                                  f"backwards")
        return None

    def load_over_100(f: pd.DataFrame, rng: np.random.Generator, used: set[int]):
        for i in candidates(rng, running, used):
            new = round(float(rng.uniform(130.0, 250.0)), 1)
            f.at[i, "load_pct"] = new
            return PlantedAnomaly(i, "load_pct", "impossible_value",
                                  f"load_pct {new:.1f} is above 100%")
        return None

    def epoch_timestamp(f: pd.DataFrame, rng: np.random.Generator, used: set[int]):
        for i in candidates(rng, everywhere, used):
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
    n_anomalies = check_args(n_rows, anomaly_rate)
    rng = np.random.default_rng(seed)
    clean, truth = _clean_sensor_readings(n_rows, rng)
    frame = clean.copy()
    return plant_all(frame, rng, n_anomalies, _sensor_planters(clean, truth))
