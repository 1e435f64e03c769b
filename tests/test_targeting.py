from dataclasses import asdict

import numpy as np
import pandas as pd
import pytest

from placekit.errors import DataError, SchemaError
from placekit.targeting import (
    TierRules,
    assign_tiers,
    balance_table,
    match_comparisons,
    priority_ranking,
    weight_sensitivity,
)


def test_tiers_follow_rules_on_handmade_table():
    # percentiles of 10 rows: value k -> (k)*10th percentile
    t = pd.DataFrame(
        {
            "demand": [10, 9, 1, 2, 6, 3, 4, 5, 7, 8],
            "predicted": [1, 2, 10, 3, 4, 5, 6, 7, 8, 9],
            "exposure": [1, 2, 3, 4, 5, 10, 9, 8, 7, 6],
        },
        index=list("abcdefghij"),
    )
    out = assign_tiers(t)
    # a: demand 100th -> tertiary; b: 90th -> tertiary
    assert out.loc["a", "tier"] == out.loc["b", "tier"] == "tertiary"
    # c: demand low, predicted 100th -> secondary (predicted)
    assert out.loc["c", "tier"] == "secondary" and "predicted demand" in out.loc["c", "reason"]
    # e: demand 60th -> secondary: demand already elevated (one snapshot shows no rise)
    assert out.loc["e", "tier"] == "secondary"
    assert out.loc["e", "reason"] == "demand already elevated: the 60th percentile (>= 60)"
    assert not out["reason"].str.contains("rising").any()
    assert out.loc["a", "reason"] == "demand at the 100th percentile (>= 80)"
    assert out.loc["c", "reason"] == "predicted demand at the 100th percentile (>= 70)"
    assert out.attrs["rules"] == {
        "demand_high": 80.0,
        "predicted_high": 70.0,
        "demand_elevated": 60.0,
        "exposure_high": 60.0,
    }
    # f: demand 30th, predicted 50th, exposure 100th -> primary
    assert out.loc["f", "tier"] == "primary"
    # d: demand 20, predicted 30, exposure 40 -> universal
    assert out.loc["d", "tier"] == "universal"
    strict = assign_tiers(t, rules=TierRules(demand_high=95))
    assert strict.loc["b", "tier"] != "tertiary"


def test_old_rule_name_still_loads():
    # rules saved as a dict before the rename (e.g. TierRules(**saved)) keep their meaning
    old = TierRules(**{"demand_high": 80.0, "demand_rising": 52.0})
    assert old == TierRules(demand_elevated=52.0)
    assert "demand_rising" not in asdict(old)
    with pytest.raises(DataError, match="old name of demand_elevated"):
        TierRules(demand_elevated=55.0, demand_rising=52.0)
    with pytest.raises(DataError, match="demand_elevated must be a percentile"):
        TierRules(demand_rising=120.0)


def test_percentiles_read_as_english():
    t = pd.DataFrame(
        {"demand": np.arange(1, 101), "predicted": np.arange(100), "exposure": np.zeros(100)}
    )
    rules = TierRules(demand_high=100, predicted_high=100, demand_elevated=1)
    reasons = assign_tiers(t, rules=rules)["reason"]
    said = {r.split("the ")[1].split(" percentile")[0] for r in reasons}
    assert {"1st", "2nd", "3rd", "11th", "12th", "13th", "21st", "62nd", "99th"} <= said


def test_bad_rules_and_columns():
    with pytest.raises(DataError, match="demand_high must be a percentile"):
        TierRules(demand_high=120)
    with pytest.raises(
        SchemaError, match=r"assign_tiers' table is missing column\(s\) \['exposure'\]"
    ):
        assign_tiers(pd.DataFrame({"demand": [1], "predicted": [1]}))


def test_priority_within_locality_and_assets_as_strength():
    c = pd.DataFrame({"demand": [1, 2, 3, 4], "assets": [0, 0, 0, 10]}, index=list("abcd"))
    g = pd.Series(["x", "x", "y", "y"], index=c.index)
    r = priority_ranking(c, g, weights={"demand": 1.0})
    assert r.loc["b", "rank_in_locality"] == 1 and r.loc["d", "rank_in_locality"] == 1
    r2 = priority_ranking(c, g, weights={"demand": 1.0, "assets": -3.0})
    assert r2.loc["c", "rank_in_locality"] == 1  # d's assets now outweigh its demand


def test_weight_sensitivity_bounds():
    rng = np.random.default_rng(0)
    c = pd.DataFrame(
        rng.random((40, 5)), columns=["demand", "exposure", "access_gap", "deprivation", "assets"]
    )
    g = pd.Series(np.repeat(["a", "b"], 20), index=c.index)
    tab, share = weight_sensitivity(c, g, n_runs=30, spread=0.0)
    assert (tab["mean_top_overlap"] == 1.0).all()  # no movement, no change
    tab2, _ = weight_sensitivity(c, g, n_runs=30, spread=0.9)
    assert (tab2["mean_top_overlap"] <= 1.0).all() and share.between(0, 1).all()


def test_matched_comparisons_beat_random(place):
    from placekit.clustering import cluster_place

    cl = cluster_place(place, k=6, n_init=50)
    cols = ["imd2025_score", "bad_health_pct", "no_car_pct", "age_65plus_pct", "greenspace_pct"]
    prof = place.indicators[cols]
    lac = place.codes("lac")
    pilots = list(place.lsoa.index[lac == "East"][:8])
    m = match_comparisons(prof, pilots, cluster=cl["labels"], locality=lac)
    assert len(m) == 8 and not lac[m["comparison"]].eq("East").any()
    assert m["comparison"].is_unique
    smd_matched = balance_table(prof, pilots, list(m["comparison"]))["smd"].abs().mean()
    rng = np.random.default_rng(0)
    outside = place.lsoa.index[lac != "East"]
    smd_random = np.mean(
        [
            balance_table(prof, pilots, list(rng.choice(outside, 8, replace=False)))["smd"]
            .abs()
            .mean()
            for _ in range(50)
        ]
    )
    assert smd_matched < smd_random


def test_prevention_table_and_report(place, tmp_path):
    from placekit.drivers import explain_demand
    from placekit.report import locality_report
    from placekit.targeting import prevention_table

    r = explain_demand(place, "bad_health_pct", n_repeats=1)
    t = prevention_table(place, r)
    assert set(t["tier"]) <= {"tertiary", "secondary", "primary", "universal"}
    d = t["demand"].rank(pct=True) * 100
    assert (t.loc[d >= 80, "tier"] == "tertiary").all()
    html_text = locality_report(place, "lac", "north east", prevention=t, drivers=r)
    assert html_text.startswith("<!doctype html>") and "North East" in html_text
    # self-contained: no scripts, no external resources (the SVG namespace is not a request)
    assert "<script" not in html_text and "src=" not in html_text and "<link" not in html_text
    assert "<svg" in html_text
    assert "© OpenStreetMap contributors" in html_text and "not proof of cause" in html_text
    assert "or demand already ≥ 60.0;" in html_text and "None" not in html_text  # renamed rule
    # the drivers in words, as the locality team reads them, not as column ids
    drivers_part = html_text.split("<h2>Top drivers of ")[1].split("<h2>")[0]
    assert drivers_part.startswith("Bad or very bad general health</h2>")
    assert "drivers in the group" in drivers_part and "_pct" not in drivers_part
    with pytest.raises(DataError, match="No lac called 'Narnia'"):
        locality_report(place, "lac", "Narnia")


def test_prevention_table_is_one_answer_whatever_ran_before(place):
    """Walk access is used whether or not an earlier step computed it; the columns are recorded."""
    from placekit.accessibility import add_access_indicators
    from placekit.drivers import explain_demand
    from placekit.targeting import DEFAULT_ACCESS_COLUMNS, prevention_table

    r = explain_demand(place, "bad_health_pct", n_repeats=1)
    assert "gp_walk_min" not in place.indicators.columns
    cold = prevention_table(place, r)
    warm_place = add_access_indicators(place)
    warm = prevention_table(warm_place, r)
    pd.testing.assert_frame_equal(cold, warm)
    assert cold.attrs["columns"]["access_gap"] == list(DEFAULT_ACCESS_COLUMNS)
    assert cold.attrs["columns"]["demand"] == "bad_health_pct"
    # the access gap is the mean percentile rank of the walk minutes, by hand
    walk = warm_place.indicators.loc[cold.index, list(DEFAULT_ACCESS_COLUMNS)]
    np.testing.assert_allclose(cold["access_gap"], walk.rank(pct=True).mean(axis=1))
    road = prevention_table(place, r, access_columns=["road_distance_gp_2019_km"])
    assert road.attrs["columns"]["access_gap"] == ["road_distance_gp_2019_km"]
    assert not road["access_gap"].equals(cold["access_gap"])
    with pytest.raises(DataError, match=r"access columns \['nonsense'\] are neither"):
        prevention_table(place, r, access_columns=["nonsense"])
