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
is unavailable. :func:`unavailable_changes` names each missing change with the reason.

**Census 2011 -> 2021** (:func:`census_change`, :func:`census_change_table`), where
the manifest names the roles ``census2011_deprivation`` (QS119: households by number
of deprivation dimensions) and ``census2011_population`` (usual residents): the 2011
counts are harmonised to 2021 LSOAs as counts (merges summed, the split LSOA's
counts shared out by 2021 population) and compared with Census 2021 TS011 and TS001
from the ``census`` role. For the share of households deprived in at least one (and
in two or more) dimensions, the test is a **two-proportion z-test** with the pooled
proportion, two-sided at 5 % (``|z| >= 1.96``): improved (share fell) or worsened
(rose), else no significant change. A second status compares each area's change
with the place's own change (difference of the two changes over their standard
error). Population change is tested as two Poisson counts (``z = (n21 - n11) /
sqrt(n21 + n11)``). A census counts everyone, so the tests treat each count as one
draw of the underlying rate, as Fingertips does for census indicators; they guard
against reading noise (ONS's record swapping in 2011, cell perturbation in 2021) as
change. ONS changed some dimension definitions between the censuses, so read the
change as indicative. Against England it is unavailable: the packs carry no
England-wide Census 2011 table.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from placekit.errors import DataError
from placekit.harmonise import lsoa11_to_lsoa21
from placekit.place import Place

__all__ = [
    "CENSUS_ROLES",
    "DOMAINS",
    "DOMAIN_WORDS",
    "POPULATION_STATUSES",
    "STATUSES",
    "census_change",
    "census_change_table",
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
#: The IoD domains in words, for tables, charts and reports.
DOMAIN_WORDS = {
    "imd": "Index of Multiple Deprivation",
    "income": "Income",
    "employment": "Employment",
    "education": "Education, skills and training",
    "health": "Health deprivation and disability",
    "crime": "Crime",
    "barriers": "Barriers to housing and services",
    "living_environment": "Living environment",
}
STATUSES = ("improved", "no significant change", "worsened")
POPULATION_STATUSES = ("increased", "no significant change", "decreased")
#: The manifest roles Census 2011 -> 2021 change needs (besides ``census`` and ``lookup11``).
CENSUS_ROLES = ("census2011_deprivation", "census2011_population")
#: ``{measure: (fewest dimensions, label)}`` for the household deprivation shares.
_HH_MEASURES = {
    "hh_deprived_1plus": (1, "households deprived in at least one dimension"),
    "hh_deprived_2plus": (2, "households deprived in two or more dimensions"),
}
#: Census 2021 TS011 columns: all households, then 0, 1, 2, 3, 4 dimensions.
_TS011 = ("ts0110001", "ts0110002", "ts0110003", "ts0110004", "ts0110005", "ts0110006")
_TS001 = "ts0010001"


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
    reason = _census_unavailable(place)
    if reason:
        out["census_2011_2021"] = reason
    elif why := _census_population_unavailable(place):
        out["census_population"] = why
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


# ----------------------------------------------------------------------------- Census


def _census_unavailable(place: Place) -> str:
    """Why Census 2011 -> 2021 change cannot be computed for ``place`` ('' if it can)."""
    missing = [r for r in ("census2011_deprivation", "lookup11") if not place.pack.has(r)]
    if missing or place.lookup11 is None:
        return (
            f"the pack's manifest has no {missing or ['lookup11']} (Census 2011 households by "
            "deprivation dimension by LSOA 2011, and the ONS LSOA 2011-2021 lookup), so "
            "Census 2011 -> 2021 change (household deprivation, population) cannot be "
            "computed; add those roles to the manifest"
        )
    return ""


def _census_population_unavailable(place: Place) -> str:
    """Why the 2011 -> 2021 population change is missing ('' if the pack has it)."""
    if place.pack.has("census2011_population"):
        return ""
    return (
        "the pack's manifest has no census2011_population (Census 2011 usual residents by "
        "LSOA 2011), so the population change is not given; household deprivation change is"
    )


def _z_status(z: np.ndarray, alpha_z: float, up: str, down: str) -> np.ndarray:
    return np.where(
        np.isnan(z),
        "",
        np.where(z >= alpha_z, up, np.where(z <= -alpha_z, down, "no significant change")),
    )


def _census_counts(place: Place) -> pd.DataFrame:
    """2011 and 2021 counts per 2021 LSOA: households, deprived 1+ and 2+, residents."""
    reason = _census_unavailable(place)
    if reason:
        msg = f"Census 2011 -> 2021 change is unavailable for {place.name}: {reason}."
        raise DataError(msg)
    assert place.lookup11 is not None
    pk = place.pack
    dep = pk.read_table("census2011_deprivation")
    code, grp, val = (pk.column("census2011_deprivation", k) for k in ("code", "group", "value"))
    dims = pd.to_numeric(dep[grp], errors="coerce")
    bad = sorted(set(dep.loc[~dims.isin([0, 1, 2, 3, 4]), grp].astype(str)))
    if bad:
        msg = (
            f"{pk.file('census2011_deprivation').name}: column {grp!r} must hold the number "
            f"of deprivation dimensions 0 to 4; found {bad[:5]}."
        )
        raise DataError(msg)
    counts = pd.to_numeric(dep[val], errors="coerce")
    wide = (
        pd.DataFrame({"code": dep[code].astype(str), "dims": dims.astype(int), "n": counts})
        .pivot_table(index="code", columns="dims", values="n", aggfunc="sum")
        .reindex(columns=range(5))
    )
    t11 = pd.DataFrame(
        {
            "households": wide.sum(axis=1, min_count=5),
            "hh_deprived_1plus": wide[[1, 2, 3, 4]].sum(axis=1, min_count=4),
            "hh_deprived_2plus": wide[[2, 3, 4]].sum(axis=1, min_count=3),
        }
    )
    has_pop = not _census_population_unavailable(place)
    if has_pop:
        pop = pk.read_table("census2011_population")
        pop = pop.set_index(pop[pk.column("census2011_population", "code")].astype(str))
        t11["population"] = pd.to_numeric(
            pop[pk.column("census2011_population", "value")], errors="coerce"
        ).reindex(t11.index)
    t11 = t11.loc[t11.index.isin(place.lookup11["LSOA11CD"])]
    pop21 = place.weights["population"].astype(float)
    w11 = place.population11 if place.population11 is not None else pd.Series(1.0, t11.index)
    c11 = lsoa11_to_lsoa21(
        t11, place.lookup11, weight11=w11, population21=pop21, count_columns=list(t11.columns)
    ).reindex(place.lsoa.index)
    if not has_pop:  # the household measures stand on their own; residents are not known
        c11["population"] = np.nan
    cen = pk.read_table("census")
    cen = cen.set_index(cen[pk.column("census", "code")].astype(str)).reindex(place.lsoa.index)
    lacking = [c for c in (*_TS011, _TS001) if c not in cen.columns]
    if lacking:
        msg = (
            f"Census 2011 -> 2021 change is unavailable for {place.name}: its census role has "
            f"no Census 2021 column(s) {lacking} (TS011 household deprivation, TS001 residents)."
        )
        raise DataError(msg)
    v = cen[list(_TS011)].apply(pd.to_numeric, errors="coerce").astype(float)
    c21 = pd.DataFrame(
        {
            "households": v[_TS011[0]],
            "hh_deprived_1plus": v[list(_TS011[2:])].sum(axis=1, min_count=4),
            "hh_deprived_2plus": v[list(_TS011[3:])].sum(axis=1, min_count=3),
            "population": pd.to_numeric(cen[_TS001], errors="coerce").astype(float),
        }
    )
    return pd.concat({"2011": c11, "2021": c21}, axis=1)


def _census_frame(c: pd.DataFrame, place_totals: pd.Series, alpha_z: float) -> pd.DataFrame:
    """Shares, changes, z and statuses from 2011/2021 counts (rows: areas)."""
    out: dict[str, pd.Series] = {}
    n11, n21 = c[("2011", "households")], c[("2021", "households")]
    out["households_2011"], out["households_2021"] = n11, n21
    big11, big21 = place_totals[("2011", "households")], place_totals[("2021", "households")]
    for m in _HH_MEASURES:
        p11 = c[("2011", m)] / n11.where(n11 > 0)
        p21 = c[("2021", m)] / n21.where(n21 > 0)
        pooled = (c[("2011", m)] + c[("2021", m)]) / (n11 + n21).where(n11 + n21 > 0)
        se = np.sqrt(pooled * (1 - pooled) * (1 / n11 + 1 / n21))
        z = (p21 - p11) / se.where(se > 0)
        # against the place: the area's change less the place's, over both standard errors
        q11, q21 = place_totals[("2011", m)] / big11, place_totals[("2021", m)] / big21
        d = (p21 - p11) - (q21 - q11)
        se_d = np.sqrt(
            p11 * (1 - p11) / n11
            + p21 * (1 - p21) / n21
            + q11 * (1 - q11) / big11
            + q21 * (1 - q21) / big21
        )
        z_d = d / se_d.where(se_d > 0)
        out[f"{m}_pct_2011"], out[f"{m}_pct_2021"] = 100 * p11, 100 * p21
        out[f"{m}_change_pts"] = 100 * (p21 - p11)
        out[f"{m}_z"] = z
        # more deprived households is worse: a significant rise is "worsened"
        out[f"{m}_status"] = pd.Series(
            _z_status(z.to_numpy(float), alpha_z, "worsened", "improved"), index=c.index
        )
        out[f"{m}_z_vs_place"] = z_d
        out[f"{m}_status_vs_place"] = pd.Series(
            _z_status(z_d.to_numpy(float), alpha_z, "worsened", "improved"), index=c.index
        )
    r11, r21 = c[("2011", "population")], c[("2021", "population")]
    zp = (r21 - r11) / np.sqrt((r21 + r11).where(r21 + r11 > 0))
    out["population_2011"], out["population_2021"] = r11, r21
    out["population_change"] = r21 - r11
    out["population_change_pct"] = 100 * (r21 - r11) / r11.where(r11 > 0)
    out["population_z"] = zp
    out["population_status"] = pd.Series(
        _z_status(zp.to_numpy(float), alpha_z, "increased", "decreased"), index=c.index
    )
    return pd.DataFrame(out, index=c.index)


def _census_attrs(place: Place, alpha: float, alpha_z: float, totals: pd.Series) -> dict[str, Any]:
    share = {
        f"{m}_pct_{y}": float(100 * totals[(y, m)] / totals[(y, "households")])
        for m in _HH_MEASURES
        for y in ("2011", "2021")
    }
    return {
        "method": (
            "Census 2011 QS119 and usual residents harmonised to LSOA 2021 as counts (merges "
            "summed, splits shared by 2021 population), against Census 2021 TS011 and TS001; "
            "household deprivation shares: two-proportion z-test with pooled proportion, "
            f"two-sided at {alpha:.0%} (|z| >= {alpha_z:.2f}); against {place.name}: the area's "
            f"change less {place.name}'s over their combined standard error; population: two "
            "Poisson counts, z = (n2021 - n2011) / sqrt(n2021 + n2011). ONS changed some "
            "dimension definitions between the censuses: read as indicative"
        ),
        "alpha": alpha,
        "place_totals": share
        | {
            "population_2011": float(totals[("2011", "population")]),
            "population_2021": float(totals[("2021", "population")]),
        },
        "unavailable": {
            **unavailable_changes(place),
            "census_vs_england": "the packs carry no England-wide Census 2011 table, so the "
            "2011 -> 2021 change cannot be set against England's; the 'against "
            f"{place.name}' column compares with {place.name}'s own change instead",
        },
    }


def _alpha_z(alpha: float) -> float:
    if not (isinstance(alpha, float | int) and 0 < alpha < 0.5):
        msg = f"alpha must be above 0 and below 0.5 (e.g. 0.05); got {alpha!r}."
        raise DataError(msg)
    from placekit.england import normal_quantile

    return normal_quantile(1 - alpha / 2)


def census_change(place: Place, *, alpha: float = 0.05) -> pd.DataFrame:
    """
    Census 2011 -> 2021 change per 2021 LSOA: household deprivation and population.

    Parameters
    ----------
    place
        A place whose manifest names ``census2011_deprivation`` and ``lookup11``
        (and ``census2011_population`` for the population change: without it the
        population columns are NaN and ``attrs["unavailable"]`` says why).
    alpha
        Two-sided significance level of the tests (default 0.05: ``|z| >= 1.96``).

    Returns
    -------
    pd.DataFrame
        Indexed like ``place.lsoa``: ``households_2011``/``_2021``; for
        ``hh_deprived_1plus`` and ``hh_deprived_2plus``: ``_pct_2011``, ``_pct_2021``
        (% of households), ``_change_pts`` (percentage points), ``_z`` and ``_status``
        (improved / no significant change / worsened; two-proportion z-test),
        ``_z_vs_place`` and ``_status_vs_place`` (the change against the place's);
        ``population_2011``/``_2021``, ``population_change``, ``population_change_pct``,
        ``population_z`` and ``population_status`` (increased / no significant change
        / decreased). ``attrs`` records the method, the place's shares and what is
        unavailable.

    Raises
    ------
    DataError
        If the pack lacks the Census 2011 roles or the lookup (the message says which),
        or ``alpha`` is outside (0, 0.5).
    """
    alpha_z = _alpha_z(alpha)
    c = _census_counts(place)
    totals = c.sum(min_count=1)
    res = _census_frame(c, totals, alpha_z)
    res.index.name = "area_code"
    res.attrs.update(_census_attrs(place, alpha, alpha_z, totals))
    return res


def census_change_table(place: Place, level: str, *, alpha: float = 0.05) -> pd.DataFrame:
    """
    Census 2011 -> 2021 change by area of ``level``, tested as for :func:`census_change`.

    Counts are summed over each area's LSOAs (both censuses on 2021 LSOAs), then the
    same tests are applied to the area's totals.

    Returns
    -------
    pd.DataFrame
        One row per area, ``area_name`` then the columns of :func:`census_change`, plus
        ``n_lsoa_improved`` and ``n_lsoa_worsened`` (LSOAs whose share of households
        deprived in at least one dimension changed significantly).

    Raises
    ------
    DataError
        As for :func:`census_change`, or for an unknown level.
    """
    alpha_z = _alpha_z(alpha)
    key = place.codes(level)
    c = _census_counts(place)
    totals = c.sum(min_count=1)
    per = _census_frame(c, totals, alpha_z)
    areas = place.areas(level)
    grouped = c.groupby(key).sum(min_count=1).reindex(areas.index)
    res = _census_frame(grouped, totals, alpha_z)
    res.insert(0, "area_name", areas["area_name"])
    st = per["hh_deprived_1plus_status"]
    res["n_lsoa_improved"] = (st == "improved").groupby(key).sum().reindex(res.index)
    res["n_lsoa_worsened"] = (st == "worsened").groupby(key).sum().reindex(res.index)
    res.index.name = "area_code"
    res.attrs.update(_census_attrs(place, alpha, alpha_z, totals))
    res.attrs["aggregation"] = "counts summed over the area's LSOAs, then tested"
    return res
