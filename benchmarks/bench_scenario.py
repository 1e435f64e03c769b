"""Applying a scenario on the Sheffield walk network, against a full recompute of the same access.

Run: ``python benchmarks/bench_scenario.py``. Prints the worked example of the
README (a new GP where walks are longest in a deprived neighbourhood).
"""

from __future__ import annotations

import time

import pandas as pd

from placekit.accessibility import (
    access_indicators,
)
from placekit.place import load_place
from placekit.scenarios import ScenarioEngine


def main() -> None:
    place = load_place()
    frame, metas = access_indicators(place)
    place = place.with_indicators(frame, metas)
    eng = ScenarioEngine(place, demand="bad_health_pct")
    eng.baseline("gp")
    eff = eng.effect("gp")
    sites = {
        "GP in Sheffield 069C (Beauchief and Greenhill, IMD decile 1)": {
            "lon": -1.4917,
            "lat": 53.3215,
        },
        "GP in Sheffield 003B (West Ecclesfield, IMD decile 1)": {"lon": -1.4973, "lat": 53.4717},
    }
    for name, loc in sites.items():
        sc = {
            "placekit_scenario": 1,
            "name": name,
            "threshold_min": 15,
            "interventions": [{"type": "add_facility", "facility": "gp", **loc}],
        }
        eng.apply(sc)
        t0 = time.perf_counter()
        res = eng.apply(sc)
        apply_s = time.perf_counter() - t0
        # the access step inside it: exact incremental update against a full re-solve
        x, y = eng.locate(loc)
        base = eng.baseline("gp")
        t0 = time.perf_counter()
        st = eng.model.add_facility(base, x, y, facility_id="new")
        inc_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        eng.model.solve(st.facilities)
        full_s = time.perf_counter() - t0
        a = res.areas
        helped = a[a["gp_min_change"] < -0.5]
        dec = res.by_imd_decile["gp_people_newly_within"]
        print(
            f"\n{name}: whole scenario applied in {apply_s:.2f} s (access, people, "
            "demand change from "
            f"the estimated effect, localities); its access step: incremental "
            f"{inc_s * 1000:.1f} ms vs full re-solve "
            f"{full_s * 1000:.1f} ms (ratio {full_s / inc_s:.1f}x)"
        )
        print(
            f"  neighbourhoods with >0.5 min shorter walks: {len(helped)}; "
            "people newly within 15 min: "
            f"{a['gp_people_newly_within'].sum():,.0f}, of whom in IMD decile 1-2: "
            f"{dec.loc[[1.0, 2.0]].sum():,.0f}"
        )
        cols = [
            "gp_min_base",
            "gp_min_scn",
            "gp_people_newly_within",
            "gp_demand_change",
            "gp_demand_change_lower",
            "gp_demand_change_upper",
        ]
        print(helped.sort_values("gp_min_change")[cols].head(6).round(2).to_string())
        print("  " + res.notes[-1])
    print(
        pd.Series(
            {
                "effect of GP walk time on bad health (per minute)": round(eff.estimate, 4),
                "95 % interval": f"{eff.lower:.4f} to {eff.upper:.4f}",
                "method": eff.method,
            }
        ).to_string()
    )
    print(eff.sentence)


if __name__ == "__main__":
    main()
