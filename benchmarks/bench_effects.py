"""Planted effects, null coverage and the real Sheffield estimate of GP access on bad health.

Run: ``python benchmarks/bench_effects.py [--null-seeds 40]``. Prints, for the
default double machine learning estimator (:mod:`placekit.effects`):

1. planted effects (three seeds, two sizes): estimate, interval and the naive
   slope of demand on access alone, against the truth;
2. the share of null draws whose interval covers zero (nominal 95 %);
3. the effect of ``gp_walk_min`` on ``bad_health_pct`` in the place, DML and the
   linear cross-check, and what it implies for a new GP in Sheffield 069C.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from placekit.accessibility import add_access_indicators
from placekit.effects import (
    assumed_effect,
    compare_effects,
    estimate_access_effect,
    planted_effect_data,
    predicted_change,
)
from placekit.place import load_place
from placekit.scenarios import ScenarioEngine


def planted(place, seeds=(0, 1, 2), sizes=(0.05, 0.2), **kw) -> pd.DataFrame:
    rows = []
    for tau in sizes:
        for seed in seeds:
            d = planted_effect_data(place, tau, random_state=seed)
            t0 = time.perf_counter()
            r = estimate_access_effect(place, d["demand"], d["access"], random_state=seed, **kw)
            rows.append(
                {
                    "tau": tau,
                    "seed": seed,
                    "r(T,D)": d.attrs["realised_r"],
                    "estimate": r.estimate,
                    "lower": r.lower,
                    "upper": r.upper,
                    "covers": r.lower <= tau <= r.upper,
                    "detected": r.point_prediction_allowed,
                    "naive": r.naive_estimate,
                    "naive_covers": r.naive_lower <= tau <= r.naive_upper,
                    "s": time.perf_counter() - t0,
                }
            )
    return pd.DataFrame(rows)


def null_coverage(place, seeds, **kw) -> pd.DataFrame:
    rows = []
    for seed in seeds:
        d = planted_effect_data(place, 0.0, random_state=1000 + seed)
        r = estimate_access_effect(place, d["demand"], d["access"], random_state=seed, **kw)
        rows.append(
            {
                "seed": seed,
                "estimate": r.estimate,
                "lower": r.lower,
                "upper": r.upper,
                "covers0": r.lower <= 0 <= r.upper,
                "says_none": not r.point_prediction_allowed,
                "naive_covers0": r.naive_lower <= 0 <= r.naive_upper,
            }
        )
    return pd.DataFrame(rows)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--null-seeds", type=int, default=40)
    ap.add_argument("--skip-synthetic", action="store_true")
    args = ap.parse_args()
    pd.set_option("display.width", 160)
    place = load_place()
    if not args.skip_synthetic:
        t0 = time.perf_counter()
        tab = planted(place)
        print("Planted effects (default DML: random forest, folds and clusters = localities):")
        print(tab.round(3).to_string(index=False))
        print(f"  ({time.perf_counter() - t0:.1f} s)")
        t0 = time.perf_counter()
        nul = null_coverage(place, range(args.null_seeds))
        print(
            f"\nNull (tau = 0), {len(nul)} draws: interval covers 0 in {nul.covers0.mean():.0%}; "
            f"'no detectable effect' in {nul.says_none.mean():.0%}; the naive slope's interval "
            f"covers 0 in {nul.naive_covers0.mean():.0%}; mean estimate {nul.estimate.mean():+.4f} "
            f"({time.perf_counter() - t0:.1f} s)"
        )
    # -- real data
    t0 = time.perf_counter()
    pa = add_access_indicators(place, types=("gp",))
    print(f"\ngp_walk_min computed in {time.perf_counter() - t0:.1f} s")
    res = {}
    for name, kw in {
        "dml": {},
        "dml n_rep=5": {"n_rep": 5},
        "ols": {"method": "ols"},
        "dml ward": {"spatial": "ward"},
    }.items():
        t0 = time.perf_counter()
        r = estimate_access_effect(pa, "bad_health_pct", "gp_walk_min", **kw)
        res[name] = r
        print(
            f"{name:>12}: {r.estimate:+.4f} per minute (se {r.se:.4f}, 95 % {r.lower:+.4f} to "
            f"{r.upper:+.4f}, p {r.p:.3f}, n {r.n}, {r.n_groups} localities, "
            f"R² Y {r.r2_demand:.2f} "
            f"T {r.r2_access:.2f}); naive {r.naive_estimate:+.4f} ({r.naive_lower:+.4f} to "
            f"{r.naive_upper:+.4f}) [{time.perf_counter() - t0:.1f} s]"
        )
        print(f"{'':>14}{r.sentence}")
    eff = res["dml"]
    code = str(pa.lsoa.index[pa.lsoa["area_name"] == "Sheffield 069C"][0])
    pt = pa.lsoa.geometry.loc[code].representative_point()
    eng = ScenarioEngine(pa)
    sc = {
        "placekit_scenario": 1,
        "name": "New GP in Sheffield 069C",
        "threshold_min": 15,
        "interventions": [
            {"type": "add_facility", "facility": "gp", "x": pt.x, "y": pt.y, "name": "New GP"}
        ],
    }
    t0 = time.perf_counter()
    out = eng.apply(sc)
    dt = out.areas["gp_min_change"].fillna(0.0)
    pop = pa.weights["population"]
    pc = predicted_change(eff, dt, pop)
    print(
        f"\nNew GP at the representative point of {code} (Sheffield 069C), applied in "
        f"{time.perf_counter() - t0:.1f} s: {int((dt < -0.01).sum())} LSOAs with shorter walks; "
        f"069C {dt.loc[code]:+.2f} min, population-weighted over the changed LSOAs "
        f"{np.average(dt[dt < 0], weights=pop.reindex(dt.index)[dt < 0]):+.2f} min"
    )
    lo, hi = sorted((dt.loc[code] * eff.lower, dt.loc[code] * eff.upper))
    print(
        f"  069C: {dt.loc[code]:+.2f} min x effect interval -> change in bad health "
        f"{lo:+.3f} to {hi:+.3f} percentage points ({lo * pop[code] / 100:+.1f} to "
        f"{hi * pop[code] / 100:+.1f} people of {pop[code]:,.0f}); point shown: "
        f"{pc.loc[code, 'demand_change']}"
    )
    print("  " + pc.attrs["message"])
    lit = assumed_effect(
        0.02,
        "illustrative value, not from a study",
        demand="bad_health_pct",
        access="gp_walk_min",
        demand_label="bad or very bad general health",
        access_label="walk time to nearest GP practice",
        demand_unit="% of residents",
    )
    pl = predicted_change(lit, dt, pa.weights["population"])
    print(pl.attrs["message"])
    print(compare_effects(eff, res["ols"], lit).drop(columns="sentence").round(4).to_string())


if __name__ == "__main__":
    main()
