"""Every speed target of issue 17 in one run, each beside its peer from the same run.

Usage (from the repository root, on an otherwise idle machine):

    python benchmarks/speed.py [--runs 3]

Runs, one after the other: the first screens (``app_latency.first_screens``), the cached
reopen (``cli_cache.py``), the wide tables (``wide.py``), the cold end to end on 100k x 10
(``e2e.py``, the recipe once) and the full-size sheet (``full_size.py``, the recipe on 10,000
rows). Each writes its own figures as when run alone (``APP_LATENCY.md``'s first-screen
section, ``CACHE.md``, ``WIDE.md``, RESULTS.md's ``e2e`` section, ``FULL_SIZE.md``); this script
then writes the targets side by side into RESULTS.md's ``speed-one-run`` section, with the
recipe's time on 10,000 rows as the gauge of how fast the machine ran that hour (the absolute
targets move with it; the ratios much less).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks._results import update_section  # noqa: E402

WIDE_COLUMNS = [200, 400, 800, 1600]
#: The 2,000 x 1,555 table the issue names (InternetAds-shaped: see wide.py).
ADS_COLUMNS = 1555


def _yes(ok: bool) -> str:
    return "yes" if ok else "**no**"


def targets(screens: dict, cache: dict, wide: list[dict], e2e: dict, full: dict) -> list[tuple[str, str, str, str, bool]]:
    """(figure, measured, peer in the same run, target, met) for each row of issue 17's table."""
    by = {r["columns"]: r for r in wide}
    ads = by[ADS_COLUMNS]
    growth = [by[c] for c in WIDE_COLUMNS]
    linear = (growth[-1]["product"] / growth[0]["product"]) / (growth[-1]["columns"] / growth[0]["columns"])
    rows = [
        (
            "2,000 × 1,555 table, `detect --all-rows --no-cache`",
            f"{ads['product']:.1f} s, ROC-AUC {ads['auc']:.3f}",
            f"IsolationForest {ads['iforest']:.2f} s, ROC-AUC {ads['auc_if']:.3f}",
            "≤ 20 s, quality not lower",
            ads["product"] <= 20 and ads["auc"] >= ads["auc_if"],
        ),
        (
            "cost as columns grow: " + " / ".join(f"{c:,}" for c in WIDE_COLUMNS) + " columns at 2,000 rows",
            " / ".join(f"{r['product']:.1f}" for r in growth) + f" s ({linear:.2f} of linear)",
            "IF " + " / ".join(f"{r['iforest']:.2f}" for r in growth) + " s",
            "no faster than linear",
            linear <= 1.0,
        ),
        (
            "cached reopen, 100k × 20 xlsx: `detect` / the app to Results on screen",
            f"{cache['cached']:.2f} / {cache['app_results']:.2f} s",
            f"cold `detect` {cache['cold']:.2f} s",
            "≤ 2.5 s both",
            cache["cached"] <= 2.5 and cache["app_results"] <= 2.5,
        ),
        (
            "`anomaly-tui --demo` to first screen, warm / first run",
            f"{screens['demo']:.2f} / {screens['demo_first_run']:.2f} s",
            f"the file picker {screens['picker']:.2f} s",
            "< 0.6 s / < 1.5 s",
            screens["demo"] < 0.6 and screens["demo_first_run"] < 1.5,
        ),
        (
            "cold end to end, 100k × 10 mixed xlsx, `detect --no-cache`",
            f"{e2e['cli']:.1f} s: **{e2e['recipe'] / e2e['cli']:.1f}×**",
            f"the recipe {e2e['recipe']:.1f} s",
            "≥ 30×",
            e2e["recipe"] / e2e["cli"] >= 30,
        ),
        (
            "full-size sheet: `detect --all-rows` / the app to a ready Set up / `t` to Results; peak",
            f"{full['detect']:.1f} / {full['setup']:.1f} / {full['to_results']:.1f} s; {full['peak_gib']:.2f} GiB",
            f"the recipe extrapolated {full['recipe_full']:,.0f} s ({full['recipe_full'] / full['detect']:.0f}×)",
            "≤ 35 / 8 / 25 s, < 2 GiB",
            full["detect"] <= 35 and full["setup"] <= 8 and full["to_results"] <= 25 and full["peak_gib"] < 2,
        ),
    ]
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    runs = str(args.runs)
    began = time.gmtime()
    t0 = time.perf_counter()

    from benchmarks import app_latency, cli_cache, e2e, full_size, wide

    screens = app_latency.first_screens(5)
    app_latency.write_first_screens(screens, 5)
    print(f"first screens: {screens}", flush=True)
    cache = cli_cache.main(["--runs", runs])
    wide_rows = wide.main(["--runs", runs, "--columns", *map(str, WIDE_COLUMNS), str(ADS_COLUMNS)])
    cold = e2e.main(["--rows", "100000", "--runs", runs, "--seed-runs", "1"])
    full = full_size.main(["--runs", runs])

    rows = targets(screens, cache, wide_rows, cold, full)
    ended = time.gmtime()
    body = [
        f"`python benchmarks/speed.py --runs {args.runs}`, {time.strftime('%Y-%m-%d %H:%M', began)}–"
        f"{time.strftime('%H:%M UTC', ended)} ({(time.perf_counter() - t0) / 60:.0f} min; {platform.machine()}, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}). Every figure below comes from this one run, "
        f"medians of {args.runs} (first screens: of 5). The recipe took {full['recipe_seconds']:.1f} s on its "
        f"{full['recipe_rows']:,} rows in this run: the gauge of the hour's machine speed.",
        "",
        "| figure | measured | peer, same run | target | met |",
        "|:--|:--|:--|:--|:--|",
        *[f"| {a} | {b} | {c} | {d} | {_yes(ok)} |" for a, b, c, d, ok in rows],
        "",
        f"Every target met in this run: {_yes(all(r[-1] for r in rows))}. Details: `APP_LATENCY.md` (first screen), "
        "`CACHE.md`, `WIDE.md`, the `e2e` section below, `FULL_SIZE.md`.",
    ]
    update_section("speed-one-run", "## Issue 17's targets in one run", body)
    print("\n".join(body))


if __name__ == "__main__":
    main()
