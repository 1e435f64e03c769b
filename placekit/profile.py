"""A locality's profile: indicators against the place and England; best and least served areas.

England comparisons follow Fingertips: the England value, the area's England
rank and decile (LSOAs among England's 33,755; local authorities among England's
LAs) and, for proportions, whether the area's 95 % Wilson score interval lies
wholly above or below England's value (see :mod:`placekit.england`).
"""

from __future__ import annotations

import pandas as pd

from placekit.place import Place, aggregate, city_value

__all__ = ["PROFILE_INDICATORS", "england_comparison", "locality_profile", "with_england"]

PROFILE_INDICATORS = [
    "imd2025_score",
    "bad_health_pct",
    "disability_pct",
    "acute_morbidity_2025",
    "unpaid_care_pct",
    "overcrowded_bedrooms_pct",
    "fuel_poverty_pct",
    "no_car_pct",
    "greenspace_pct",
    "fast_food_per_1000",
    "road_distance_gp_2019_km",
]


def england_comparison(
    place: Place, level: str, indicators: list[str] | None = None
) -> pd.DataFrame | None:
    """
    Every area of ``level`` against England, one row per area and indicator.

    Parameters
    ----------
    place
        The place.
    level
        ``"lsoa"`` or one of ``place.levels`` (ranks are given at LSOA and local-authority level).
    indicators
        Indicator ids (default: every indicator England's tables can benchmark).

    Returns
    -------
    pd.DataFrame or None
        The long table of :meth:`placekit.england.EnglandBenchmark.compare`
        (``value``, ``england_value``, ``england_rank``, ``england_decile``,
        ``ci_lower``, ``ci_upper``, ``vs_england``), or ``None`` when the pack has
        no England tables.
    """
    from placekit.england import rate_counts

    eng = place.england()
    if eng is None:
        return None
    ids = [
        i
        for i in (indicators or eng.indicator_ids)
        if i in eng.indicator_ids and i in place.indicators
    ]
    if not ids:
        return None
    vals = aggregate(place, ids, level)
    weights = place.weights if level == "lsoa" else place.weights.groupby(place.codes(level)).sum()
    num, den = rate_counts(vals, weights.reindex(vals.index), catalogue=place.catalogue)
    out: pd.DataFrame = eng.compare(
        vals,
        numerators=num,
        denominators=den,
        level="lad" if level == "lad" else level,
        catalogue=place.catalogue,
    )
    return out


def with_england(place: Place, table: pd.DataFrame, level: str) -> pd.DataFrame:
    """
    ``table`` (areas of ``level`` as rows) with England columns beside its indicators.

    Adds ``<id>_england`` (England's value), ``<id>_england_rank`` and
    ``<id>_england_decile`` (1 = worst; LSOA and local-authority levels) and
    ``<id>_vs_england``; the table is returned unchanged when the pack has no
    England tables (``attrs["england"]`` says so).
    """
    ids = [c for c in table.columns if c in place.indicators.columns and c != "population"]
    eng = england_comparison(place, level, ids)
    out = table.copy()
    if eng is None:
        out.attrs["england"] = "unavailable: the pack has no England tables"
        return out
    for i, grp in eng.groupby("indicator", sort=False):
        g = grp.set_index("area_code")
        out[f"{i}_england"] = g["england_value"].reindex(out.index)
        out[f"{i}_england_rank"] = g["england_rank"].reindex(out.index)
        out[f"{i}_england_decile"] = g["england_decile"].reindex(out.index)
        out[f"{i}_vs_england"] = g["vs_england"].reindex(out.index)
    out.attrs["england"] = str(eng.attrs.get("method", "compared with England"))
    return out


def locality_profile(
    place: Place, level: str, code: str, *, indicators: list[str] | None = None
) -> dict[str, pd.DataFrame]:
    """
    Indicators of one locality against the place and England; its areas ranked by access.

    Returns
    -------
    dict
        ``indicators``: unit, value, the place's value, rank among localities (1 = worst)
        and, where the pack has England tables, England's value and whether the
        locality is better, similar or worse (95 % Wilson intervals for
        proportions); ``served``: the locality's LSOAs, best and least served by
        walk time to a GP in minutes (:func:`placekit.workflows.least_served`).
    """
    ids = [i for i in (indicators or PROFILE_INDICATORS) if i in place.indicators.columns]
    t = place.table(level, ids)
    eng = england_comparison(place, level, ids)
    mine_eng = eng[eng["area_code"] == code].set_index("indicator") if eng is not None else None
    rows = []
    for i in ids:
        meta = place.catalogue.row(i)
        worse_high = meta["direction"] != "higher_better"
        rank = t[i].rank(ascending=not worse_high, method="min")
        row = {
            "indicator": meta["label"],
            "unit": meta["unit"],
            "value": t.loc[code, i],
            place.name: city_value(place, i),
            "rank among localities (1 = worst)": f"{int(rank[code])} of {len(t)}",
        }
        if mine_eng is not None and i in mine_eng.index:
            row["England"] = mine_eng.loc[i, "england_value"]
            vs = mine_eng.loc[i, "vs_england"]
            row["vs England"] = vs if isinstance(vs, str) and vs else "not compared"
        rows.append(row)
    from placekit.workflows import least_served

    served = least_served(place, level, code)
    table = pd.DataFrame(rows).set_index("indicator")
    if "vs England" in table.columns:  # indicators England's tables lack
        table["vs England"] = table["vs England"].fillna("not compared")
    return {"indicators": table, "served": served}
