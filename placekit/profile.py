"""A locality's profile: its indicators against the city and its most and least served places."""

from __future__ import annotations

import pandas as pd

from placekit.place import Place, city_value

__all__ = ["PROFILE_INDICATORS", "locality_profile"]

PROFILE_INDICATORS = [
    "imd2025_score", "bad_health_pct", "disability_pct", "acute_morbidity_2025", "unpaid_care_pct",
    "overcrowded_bedrooms_pct", "fuel_poverty_pct", "no_car_pct", "greenspace_pct", "fast_food_per_1000",
    "road_distance_gp_2019_km",
]


def locality_profile(place: Place, level: str, code: str, *, indicators: list[str] | None = None) -> dict[str, pd.DataFrame]:
    """
    Indicators of one locality against the city, and its neighbourhoods ranked by access.

    Returns
    -------
    dict
        ``indicators``: value, city value and rank among localities (1 = worst)
        per indicator; ``served``: the locality's LSOAs, best and worst served.
    """
    ids = [i for i in (indicators or PROFILE_INDICATORS) if i in place.indicators.columns]
    t = place.table(level, ids)
    rows = []
    for i in ids:
        meta = place.catalogue.row(i)
        worse_high = meta["direction"] != "higher_better"
        rank = t[i].rank(ascending=not worse_high, method="min")
        rows.append({"indicator": meta["label"], "value": t.loc[code, i], "city": city_value(place, i),
                     "rank among localities (1 = worst)": f"{int(rank[code])} of {len(t)}"})
    access = "gp_walk_min" if "gp_walk_min" in place.indicators else "road_distance_gp_2019_km"
    mine = place.lsoa.index[place.codes(level) == code]
    s = place.indicators.loc[mine, access].sort_values()
    served = pd.concat([s.head(3).to_frame("value").assign(which="best served"),
                        s.tail(3).to_frame("value").assign(which="least served")])
    served["name"] = place.lsoa.loc[served.index, "area_name"]
    served["measure"] = place.catalogue.row(access)["label"]
    return {"indicators": pd.DataFrame(rows).set_index("indicator"), "served": served}
