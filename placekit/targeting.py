"""Prevention targeting: tiers with reasons, priorities within localities, matched comparisons.

Tiers (:func:`assign_tiers`) follow explicit, adjustable rules (:class:`TierRules`),
applied in order to percentiles within the city:

1. **tertiary** (delay and de-escalate): demand at or above ``demand_high`` (80th percentile);
2. **secondary** (catch early): otherwise, predicted demand at or above
   ``predicted_high`` (70th) or demand already at or above ``demand_elevated``
   (60th). One snapshot of demand shows its level, not a rise, so the rule and
   its reason say "already elevated" (the rule was called ``demand_rising``
   before; that name is still accepted);
3. **primary** (prevent): otherwise, upstream driver exposure at or above
   ``exposure_high`` (60th);
4. **universal**: none of the above; the universal offer.

Every area gets the reason its rule fired, with the figures.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import InitVar, asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from placekit._validate import require_columns
from placekit.errors import DataError

__all__ = [
    "DEFAULT_ACCESS_COLUMNS",
    "DEFAULT_ASSET_COLUMNS",
    "DEFAULT_CRITERIA",
    "ROAD_DISTANCE_COLUMNS",
    "TierRules",
    "assign_tiers",
    "balance_table",
    "match_comparisons",
    "prevention_table",
    "priority_ranking",
    "weight_sensitivity",
]


@dataclass(frozen=True)
class TierRules:
    """Percentile thresholds (0-100) of the tier rules; see the module notes."""

    demand_high: float = 80.0
    predicted_high: float = 70.0
    demand_elevated: float = 60.0
    exposure_high: float = 60.0
    #: The old name of ``demand_elevated`` (rules saved before it was renamed).
    demand_rising: InitVar[float | None] = None

    def __post_init__(self, demand_rising: float | None) -> None:
        if demand_rising is not None:
            if self.demand_elevated not in (60.0, demand_rising):
                msg = (
                    "TierRules: demand_rising is the old name of demand_elevated; give one of "
                    f"them, not both ({demand_rising} and {self.demand_elevated})."
                )
                raise DataError(msg)
            object.__setattr__(self, "demand_elevated", demand_rising)
        for k, v in asdict(self).items():
            if not 0 <= v <= 100:
                msg = f"TierRules.{k} must be a percentile from 0 to 100; got {v}."
                raise DataError(msg)


def _pct(s: pd.Series) -> pd.Series:
    return 100.0 * s.rank(pct=True, method="max")


def _ordinal(x: float) -> str:
    """A percentile as English says it: 1st, 2nd, 3rd, 11th, 62nd, 100th."""
    n = round(float(x))
    end = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{end}"


def assign_tiers(
    table: pd.DataFrame,
    *,
    demand: str = "demand",
    predicted: str = "predicted",
    exposure: str = "exposure",
    rules: TierRules | None = None,
) -> pd.DataFrame:
    """
    Assign each area a prevention tier with the reason.

    Parameters
    ----------
    table
        One row per area with columns ``demand``, ``predicted`` and ``exposure``.
    rules
        Thresholds; :class:`TierRules` defaults when ``None``.

    Returns
    -------
    pd.DataFrame
        ``tier`` and ``reason``, plus the three percentiles, indexed like ``table``.
    """
    r = rules or TierRules()
    require_columns(table, (demand, predicted, exposure), name="assign_tiers' table")
    d, p, e = _pct(table[demand]), _pct(table[predicted]), _pct(table[exposure])
    th = _ordinal
    tier = pd.Series("universal", index=table.index)
    reason = pd.Series("no rule met: universal offer", index=table.index)
    prim = e >= r.exposure_high
    tier[prim], reason[prim] = (
        "primary",
        [f"driver exposure at the {th(x)} percentile (>= {r.exposure_high:g})" for x in e[prim]],
    )
    sec = (p >= r.predicted_high) | (d >= r.demand_elevated)
    reason_sec = [
        f"predicted demand at the {th(pp)} percentile (>= {r.predicted_high:g})"
        if pp >= r.predicted_high
        else f"demand already elevated: the {th(dd)} percentile (>= {r.demand_elevated:g})"
        for pp, dd in zip(p[sec], d[sec], strict=True)
    ]
    tier[sec], reason[sec] = "secondary", reason_sec
    ter = d >= r.demand_high
    tier[ter], reason[ter] = (
        "tertiary",
        [f"demand at the {th(x)} percentile (>= {r.demand_high:g})" for x in d[ter]],
    )
    out = pd.DataFrame(
        {"tier": tier, "reason": reason, "demand_pct": d, "predicted_pct": p, "exposure_pct": e}
    )
    out.attrs["rules"] = asdict(r)
    return out


#: Criteria and default weights of the priority score. A negative weight marks a
#: strength (community assets lower the priority).
DEFAULT_CRITERIA: dict[str, float] = {
    "demand": 0.35,
    "exposure": 0.25,
    "access_gap": 0.15,
    "deprivation": 0.25,
    "assets": -0.10,
}


def priority_ranking(
    criteria: pd.DataFrame, groups: pd.Series, *, weights: dict[str, float] | None = None
) -> pd.DataFrame:
    """
    Rank areas within each locality by a weighted score of criteria percentiles.

    Parameters
    ----------
    criteria
        One column per criterion, higher meaning more need (assets: more assets).
    groups
        The locality of each area.
    weights
        ``{criterion: weight}``; :data:`DEFAULT_CRITERIA` by default.

    Returns
    -------
    pd.DataFrame
        ``score`` (0-100 scale) and ``rank_in_locality`` (1 = highest priority).
    """
    w = weights or DEFAULT_CRITERIA
    missing = [c for c in w if c not in criteria.columns]
    if missing:
        msg = (
            f"priority criteria {missing} are not in the table; columns: {list(criteria.columns)}."
        )
        raise DataError(msg)
    pct = criteria[list(w)].rank(pct=True) * 100.0
    total = sum(abs(v) for v in w.values()) or 1.0
    score = sum(pct[c].fillna(50.0) * v for c, v in w.items()) / total
    rank = score.groupby(groups).rank(ascending=False, method="first").astype(int)
    return pd.DataFrame({"score": score, "rank_in_locality": rank, "locality": groups})


def weight_sensitivity(
    criteria: pd.DataFrame,
    groups: pd.Series,
    *,
    weights: dict[str, float] | None = None,
    top_n: int = 5,
    spread: float = 0.3,
    n_runs: int = 200,
    random_state: int = 0,
) -> tuple[pd.DataFrame, pd.Series]:
    """
    How much the top of each locality's list changes when the weights move.

    Each run multiplies every weight by a random factor in ``[1 - spread, 1 + spread]``.

    Returns
    -------
    (pd.DataFrame, pd.Series)
        Per locality, the mean overlap (0-1) of the top ``top_n`` with the
        base top ``top_n``; per area, the share of runs in which it is in its
        locality's top ``top_n``.
    """
    w = weights or DEFAULT_CRITERIA
    rng = np.random.default_rng(random_state)
    base = priority_ranking(criteria, groups, weights=w)
    base_top = base["rank_in_locality"] <= top_n
    overlap: dict[object, list[float]] = {g: [] for g in groups.unique()}
    in_top = pd.Series(0.0, index=criteria.index)
    for _ in range(n_runs):
        ww = {k: v * rng.uniform(1 - spread, 1 + spread) for k, v in w.items()}
        r = priority_ranking(criteria, groups, weights=ww)
        top = r["rank_in_locality"] <= top_n
        in_top += top
        for g in overlap:
            m = groups == g
            k = min(top_n, int(m.sum()))
            overlap[g].append(float((top[m] & base_top[m]).sum()) / max(k, 1))
    table = pd.DataFrame(
        {
            "mean_top_overlap": {g: np.mean(v) for g, v in overlap.items()},
            "min_top_overlap": {g: np.min(v) for g, v in overlap.items()},
        }
    )
    return table.sort_index(), (in_top / n_runs).rename("share_of_runs_in_top")


def match_comparisons(
    profile: pd.DataFrame,
    pilots: list[str],
    *,
    cluster: pd.Series,
    locality: pd.Series,
    n_per_pilot: int = 1,
) -> pd.DataFrame:
    """
    Propose matched comparison areas for pilot areas.

    Candidates share the pilot's typology cluster and lie outside every
    pilot's locality; the nearest candidates on the standardised profile are
    taken, without replacement.

    Returns
    -------
    pd.DataFrame
        ``pilot``, ``comparison``, ``distance``.
    """
    bad = [p for p in pilots if p not in profile.index]
    if bad:
        msg = f"Pilot area(s) {bad} are not in the profile table."
        raise DataError(msg)
    z = (profile - profile.mean()) / profile.std().replace(0, 1)
    z = z.fillna(0.0)
    pilot_locs = set(locality[pilots])
    used: set[str] = set(pilots)
    rows = []
    for p in pilots:
        cand = profile.index[(cluster == cluster[p]) & (~locality.isin(pilot_locs))]
        cand = [c for c in cand if c not in used]
        if not cand:  # fall back to any type outside the pilot localities
            cand = [c for c in profile.index[~locality.isin(pilot_locs)] if c not in used]
        d = np.linalg.norm(z.loc[cand].to_numpy() - z.loc[p].to_numpy(), axis=1)
        for i in np.argsort(d, kind="stable")[:n_per_pilot]:
            rows.append({"pilot": p, "comparison": cand[i], "distance": float(d[i])})
            used.add(cand[i])
    return pd.DataFrame(rows)


def balance_table(profile: pd.DataFrame, pilots: list[str], comparisons: list[str]) -> pd.DataFrame:
    """
    Means of pilots and comparisons, with the standardised mean difference per variable.

    SMD = (mean pilots - mean comparisons) / pooled city standard deviation;
    |SMD| under 0.1 to 0.25 is usually read as balanced.
    """
    sd = profile.std().replace(0, 1)
    a, b = profile.loc[pilots].mean(), profile.loc[comparisons].mean()
    return pd.DataFrame(
        {"pilots": a, "comparisons": b, "city": profile.mean(), "smd": (a - b) / sd}
    )


#: Access criteria of the prevention table: walk minutes to these, whatever was computed before.
DEFAULT_ACCESS_COLUMNS = (
    "gp_walk_min",
    "pharmacy_walk_min",
    "greenspace_walk_min",
    "stop_walk_min",
)
#: Used instead only for a pack with no walk network (IoD 2019 road distances, km).
ROAD_DISTANCE_COLUMNS = ("road_distance_gp_2019_km", "road_distance_store_2019_km")
#: Community assets counted per 1,000 residents (those the place has).
DEFAULT_ASSET_COLUMNS = (
    "community_centres_count",
    "libraries_count",
    "warm_spaces_count",
    "places_of_worship_count",
)


def _access_frame(place: Any, columns: list[str]) -> pd.DataFrame:
    """The access columns, computed on the place's walk network when missing (kept on the place)."""
    missing = [c for c in columns if c not in place.indicators.columns]
    if not missing:
        return place.indicators[columns]
    from placekit.accessibility import access_indicators

    key = "access:walk"
    if key not in place.derived:
        place.derived[key] = access_indicators(place)[0]
    walk = place.derived[key]
    unknown = [c for c in missing if c not in walk.columns]
    if unknown:
        msg = (
            f"access columns {unknown} are neither indicators of this place nor walk access "
            f"placekit computes; choose from {sorted(walk.columns)}."
        )
        raise DataError(msg)
    have = [c for c in columns if c not in missing]
    return place.indicators[have].join(walk[missing])[columns]


def prevention_table(
    place: object,
    drivers_result: dict[str, object],
    *,
    rules: TierRules | None = None,
    weights: dict[str, float] | None = None,
    level: str | None = None,
    access_columns: Sequence[str] | None = None,
    asset_columns: Sequence[str] | None = None,
) -> pd.DataFrame:
    """
    Tiers and priorities for every LSOA of a place, from a demand explanation.

    Parameters
    ----------
    place
        The place.
    drivers_result
        The result of :func:`placekit.drivers.explain_demand` (observed, held-out
        predicted demand and driver exposure per area).
    rules, weights
        Tier thresholds and priority weights.
    level
        Locality level within which areas are ranked (the place's locality level by default).
    access_columns
        Indicators whose mean percentile rank is the access gap. Default
        :data:`DEFAULT_ACCESS_COLUMNS` (walk minutes), computed on the place's walk
        network when the place does not hold them yet, so the table is the same
        whatever ran before; a pack without a walk network uses
        :data:`ROAD_DISTANCE_COLUMNS`.
    asset_columns
        Counts of community assets (default: those of :data:`DEFAULT_ASSET_COLUMNS`
        the place has).

    Returns
    -------
    pd.DataFrame
        Per LSOA: the criteria, ``tier``, ``reason``, ``score``, ``rank_in_locality``.
        ``attrs["columns"]`` records the indicators behind each criterion.
    """
    from placekit.place import Place

    assert isinstance(place, Place)
    areas = drivers_result["areas"]
    assert isinstance(areas, pd.DataFrame)
    ind = place.indicators.reindex(areas.index)
    if access_columns is not None:
        access_cols = list(access_columns)
    elif place.pack.has("network_walk"):
        access_cols = list(DEFAULT_ACCESS_COLUMNS)
    else:
        access_cols = list(ROAD_DISTANCE_COLUMNS)
    if not access_cols:
        msg = "access_columns is empty; give at least one access indicator."
        raise DataError(msg)
    access = _access_frame(place, access_cols).reindex(areas.index)
    asset_cols = (
        list(asset_columns)
        if asset_columns is not None
        else [c for c in DEFAULT_ASSET_COLUMNS if c in ind.columns]
    )
    absent = [c for c in asset_cols if c not in ind.columns]
    if absent:
        msg = f"asset columns {absent} are not indicators of this place."
        raise DataError(msg)
    pop = place.weights["population"].reindex(areas.index)
    crit = pd.DataFrame(
        {
            "demand": areas["observed"],
            "predicted": areas["predicted"],
            "exposure": areas["exposure"],
            "access_gap": access.rank(pct=True).mean(axis=1),
            "deprivation": ind["imd2025_score"],
            "assets": 1000.0 * ind[asset_cols].sum(axis=1) / pop,
        },
        index=areas.index,
    )
    tiers = assign_tiers(crit, rules=rules)
    pr = priority_ranking(
        crit, place.codes(level or place.locality_level).reindex(areas.index), weights=weights
    )
    out = crit.join(tiers[["tier", "reason"]]).join(pr)
    out.insert(0, "area_name", place.lsoa["area_name"].reindex(out.index))
    out.attrs["rules"] = tiers.attrs["rules"]
    out.attrs["columns"] = {
        "demand": str(drivers_result.get("demand", "")),
        "access_gap": access_cols,
        "deprivation": ["imd2025_score"],
        "assets": asset_cols,
    }
    out.attrs["caveat"] = "Area-level associations, not individual risk and not proof of cause."
    return out
