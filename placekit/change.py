"""Change over time from the pack: deprivation 2019 -> 2025, and what is unavailable.

The IoD 2019 ranks are on 2011 LSOAs; the place harmonises them to 2021 LSOAs with
the ONS lookup (:mod:`placekit.harmonise`: unchanged copied, merges weighted by the
IoD 2019 population, splits inherited). IoD 2025 is on 2021 LSOAs. Ranks from
different indices are compared as **national percentiles** (rank / number of
LSOAs in England x 100; 0 = most deprived, 100 = least), because England had
32,844 LSOAs in 2019 and 33,755 in 2025 (read from the catalogue's units).

Against England: IoD ranks are relative to every LSOA in England, so a change in
national percentile *is* a change relative to England's (England's own percentile
does not move). The IoD publishes no confidence intervals, so an LSOA is
**improved** (less deprived relative to England) or **worsened** only when its
percentile moved by at least ``tolerance_pct`` points (default 10, one decile's
width); smaller moves are **no significant change**. MHCLG warns that the two
indices differ in some indicators, so read the change as a change of position.

IoD 2019 LSOA *scores* (MHCLG files 5 and 7) are not in the packs, so score change
is unavailable; so is Census 2011 -> 2021 where the pack's manifest has no Census
2011 table. :func:`unavailable_changes` names each with the reason.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from placekit.errors import DataError
from placekit.harmonise import lsoa11_to_lsoa21
from placekit.place import Place

__all__ = [
    "DOMAINS",
    "STATUSES",
    "change_table",
    "iod_change",
    "unavailable_changes",
]

#: ``{domain: (IoD 2019 column, IoD 2025 column)}`` in the MHCLG files' own names.
DOMAINS = {
    "imd": ("imd_rank", "IMD_rank"),
    "income": ("income_rank", "Income_rank"),
    "employment": ("employment_rank", "Employment_rank"),
    "education": ("education_skills_and_training_rank", "Education_rank"),
    "health": ("health_deprivation_and_disability_rank", "Health_rank"),
    "crime": ("crime_rank", "Crime_rank"),
    "barriers": ("barriers_to_housing_and_services_rank", "Housing_and_Services_rank"),
    "living_environment": ("living_environment_rank", "Environment_rank"),
}
STATUSES = ("improved", "no significant change", "worsened")


def _n_ranked(place: Place, indicator_id: str, default: int) -> int:
    unit = str(place.catalogue.row(indicator_id)["unit"]) if indicator_id in place.catalogue else ""
    last = unit.split()[-1] if unit else ""
    return int(last) if last.isdigit() else default


def _status(change: np.ndarray, tolerance_pct: float) -> np.ndarray:
    return np.where(
        np.isnan(change),
        "",
        np.where(
            change >= tolerance_pct,
            "improved",
            np.where(change <= -tolerance_pct, "worsened", "no significant change"),
        ),
    )


def iod_change(place: Place, *, tolerance_pct: float = 10.0) -> pd.DataFrame:
    """
    IoD 2019 -> 2025 change of national position, per 2021 LSOA, for the IMD and domains.

    Parameters
    ----------
    place
        A place whose pack has IoD 2019 (with the 2011-2021 lookup) and IoD 2025.
    tolerance_pct
        Smallest move in national percentile points that counts as a change.

    Returns
    -------
    pd.DataFrame
        Indexed like ``place.lsoa``; for each domain ``d``: ``d_rank_2019``,
        ``d_rank_2025``, ``d_pct_2019``, ``d_pct_2025`` (national percentile, 0 = most
        deprived), ``d_change_pct`` (positive = less deprived relative to England) and
        ``d_status``. ``attrs`` records the method and unavailable domains.

    Raises
    ------
    DataError
        If the pack lacks IoD 2019, its 2011-2021 lookup, or IoD 2025.
    """
    if not 0 < tolerance_pct <= 100:
        msg = f"tolerance_pct must be above 0 and at most 100; got {tolerance_pct!r}."
        raise DataError(msg)
    missing = [r for r in ("iod2019", "imd2025", "lookup11") if not place.pack.has(r)]
    if missing or place.lookup11 is None:
        msg = (
            f"IoD change is unavailable for {place.name}: the pack has no "
            f"{missing or ['lookup11']} (it needs IoD 2019, IoD 2025 and the ONS LSOA "
            "2011-2021 lookup)."
        )
        raise DataError(msg)
    n19 = _n_ranked(place, "imd2019_rank", 32844)
    n25 = _n_ranked(place, "imd2025_rank", 33755)
    t19 = place.pack.read_table("iod2019")
    t19 = t19.set_index(t19[place.pack.column("iod2019", "code")].astype(str))
    t25 = place.pack.read_table("imd2025")
    t25 = t25.set_index(t25[place.pack.column("imd2025", "code")].astype(str))
    cols19 = [c for c, _ in DOMAINS.values() if c in t19.columns]
    t19 = t19.loc[t19.index.isin(place.lookup11["LSOA11CD"]), cols19].astype(float)
    w11 = place.population11 if place.population11 is not None else pd.Series(1.0, t19.index)
    r19 = lsoa11_to_lsoa21(
        t19, place.lookup11, weight11=w11, population21=place.weights["population"]
    ).reindex(place.lsoa.index)
    out: dict[str, pd.Series] = {}
    unavailable: dict[str, str] = {}
    for d, (c19, c25) in DOMAINS.items():
        if c19 not in r19.columns or c25 not in t25.columns:
            unavailable[d] = f"column {c19 if c19 not in r19.columns else c25!r} is not in the pack"
            continue
        a = r19[c19].astype(float)
        b = pd.to_numeric(t25[c25], errors="coerce").reindex(place.lsoa.index).astype(float)
        pa, pb = 100.0 * a / n19, 100.0 * b / n25
        ch = pb - pa
        out[f"{d}_rank_2019"] = a
        out[f"{d}_rank_2025"] = b
        out[f"{d}_pct_2019"] = pa
        out[f"{d}_pct_2025"] = pb
        out[f"{d}_change_pct"] = ch
        out[f"{d}_status"] = pd.Series(_status(ch.to_numpy(), tolerance_pct), index=ch.index)
    res = pd.DataFrame(out, index=place.lsoa.index)
    res.index.name = "area_code"
    res.attrs.update(
        {
            "method": (
                f"national percentile = rank / LSOAs in England x 100 (2019: {n19:,}, 2025: "
                f"{n25:,}); IoD 2019 harmonised to LSOA 2021 (merges population-weighted, splits "
                f"inherited); improved/worsened when the percentile moved {tolerance_pct:g}+ "
                "points (IoD has no confidence intervals); ranks are relative to England, so "
                "the change is against England's"
            ),
            "unavailable": {**unavailable, **unavailable_changes(place)},
            "tolerance_pct": tolerance_pct,
            "n_ranked": {"2019": n19, "2025": n25},
        }
    )
    return res


def unavailable_changes(place: Place) -> dict[str, str]:
    """
    Change indicators this place cannot supply, with the reason.

    Returns
    -------
    dict
        ``{what: reason}``, e.g. IoD 2019 scores and Census 2011 -> 2021.
    """
    out = {
        "iod_scores": "IoD 2019 LSOA scores (MHCLG files 5 and 7) are not in the pack; "
        "only ranks and deciles can be compared",
    }
    if not any(place.pack.has(r) for r in ("census2011", "census2011_deprivation")):
        out["census_2011_2021"] = (
            "the pack's manifest has no Census 2011 table (role census2011), so Census "
            "2011 -> 2021 change (household deprivation, population) cannot be computed"
        )
    return out


def change_table(
    place: Place, level: str, *, domains: list[str] | None = None, tolerance_pct: float = 10.0
) -> pd.DataFrame:
    """
    Locality trend table: IoD 2019 -> 2025 by area of ``level``.

    Parameters
    ----------
    place
        The place.
    level
        ``"lsoa"`` or one of ``place.levels``.
    domains
        Keys of :data:`DOMAINS` (default all available).
    tolerance_pct
        As for :func:`iod_change`; applied to the locality's population-weighted
        mean percentile.

    Returns
    -------
    pd.DataFrame
        One row per area with ``area_name``, ``population`` and, per domain,
        ``d_pct_2019`` and ``d_pct_2025`` (population-weighted mean national
        percentile; not itself a percentile), ``d_change_pct``, ``d_status``,
        ``d_decile1_share_2019`` / ``_2025`` (share of residents in LSOAs among
        England's most deprived 10 %; England's is 10 % both years), and the numbers
        of LSOAs ``d_n_improved`` / ``d_n_worsened``.

    Raises
    ------
    DataError
        For an unknown level or domain, or as :func:`iod_change`.
    """
    lsoa = iod_change(place, tolerance_pct=tolerance_pct)
    have = [d for d in DOMAINS if f"{d}_pct_2019" in lsoa.columns]
    wanted = domains or have
    bad = [d for d in wanted if d not in have]
    if bad:
        msg = f"domains {bad} are not available; choose from {have}."
        raise DataError(msg)
    key = place.codes(level)
    pop = place.weights["population"].astype(float)
    areas = place.areas(level)
    out = pd.DataFrame(index=areas.index)
    out["area_name"] = areas["area_name"]
    out["population"] = pop.groupby(key).sum()
    for d in wanted:
        for y in ("2019", "2025"):
            v = lsoa[f"{d}_pct_{y}"]
            ok = v.notna()
            out[f"{d}_pct_{y}"] = (v * pop).where(ok).groupby(key).sum() / pop.where(ok).groupby(
                key
            ).sum()
            n = lsoa.attrs["n_ranked"][y]
            rank = lsoa[f"{d}_rank_{y}"]
            in_d1 = (rank <= 0.1 * n).where(rank.notna())
            out[f"{d}_decile1_share_{y}"] = (in_d1 * pop).groupby(key).sum() / pop.where(
                rank.notna()
            ).groupby(key).sum()
        out[f"{d}_change_pct"] = out[f"{d}_pct_2025"] - out[f"{d}_pct_2019"]
        out[f"{d}_status"] = _status(out[f"{d}_change_pct"].to_numpy(float), tolerance_pct)
        st = lsoa[f"{d}_status"]
        out[f"{d}_n_improved"] = (st == "improved").groupby(key).sum()
        out[f"{d}_n_worsened"] = (st == "worsened").groupby(key).sum()
    out.index.name = "area_code"
    out.attrs.update(lsoa.attrs)
    out.attrs["aggregation"] = (
        "population-weighted mean of LSOA national percentiles (not itself a percentile)"
    )
    return out
