"""Change indicators: IoD 2019 -> 2025 on 2021 LSOAs, against England, by locality."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from placekit.change import (
    CENSUS_ROLES,
    DOMAINS,
    POPULATION_STATUSES,
    STATUSES,
    census_change,
    census_change_table,
    change_table,
    iod_change,
    unavailable_changes,
)
from placekit.errors import DataError
from placekit.pack import Pack


@pytest.fixture(scope="module")
def lsoa_change(place):
    return iod_change(place)


def test_unchanged_lsoas_keep_their_2019_rank(place, lsoa_change):
    lk = place.lookup11
    same = lk[lk["CHGIND"] == "U"]
    raw = place.pack.read_table("iod2019")
    raw = raw.set_index(raw[place.pack.column("iod2019", "code")].astype(str))
    code11, code21 = same["LSOA11CD"].iloc[0], same["LSOA21CD"].iloc[0]
    assert lsoa_change.loc[code21, "imd_rank_2019"] == raw.loc[code11, "imd_rank"]
    assert lsoa_change.loc[code21, "imd_pct_2019"] == pytest.approx(
        100 * raw.loc[code11, "imd_rank"] / 32844
    )
    # the place's own harmonised IMD 2019 rank agrees
    assert np.allclose(
        lsoa_change["imd_rank_2019"], place.indicators["imd2019_rank"], equal_nan=True
    )
    assert np.allclose(lsoa_change["imd_rank_2025"], place.indicators["imd2025_rank"])


def test_status_follows_the_tolerance(place, lsoa_change):
    assert lsoa_change.index.equals(place.lsoa.index)
    for d in DOMAINS:
        ch, st = lsoa_change[f"{d}_change_pct"], lsoa_change[f"{d}_status"]
        assert set(st) <= set(STATUSES)
        assert (st[ch >= 10] == "improved").all()
        assert (st[ch <= -10] == "worsened").all()
        assert (st[ch.abs() < 10] == "no significant change").all()
    assert "relative to England" in lsoa_change.attrs["method"]


def test_tighter_tolerance_moves_more_areas(place, lsoa_change):
    tight = iod_change(place, tolerance_pct=2.0)
    moved = lambda t: int((t["imd_status"] != "no significant change").sum())  # noqa: E731
    assert moved(tight) > moved(lsoa_change)
    with pytest.raises(DataError, match="tolerance_pct"):
        iod_change(place, tolerance_pct=0)


@pytest.mark.parametrize("level", ["ward", "lad"])
def test_locality_trend_tables(place, lsoa_change, level):
    t = change_table(place, level, domains=["imd", "income"])
    assert t.index.equals(place.areas(level).index)
    assert t["population"].sum() == pytest.approx(place.weights["population"].sum())
    for y in ("2019", "2025"):
        share = t[f"imd_decile1_share_{y}"]
        assert ((share >= 0) & (share <= 1)).all()
    key = place.codes(level)
    n_imp = (lsoa_change["imd_status"] == "improved").groupby(key).sum()
    assert t["imd_n_improved"].equals(n_imp.reindex(t.index).astype(t["imd_n_improved"].dtype))
    # a locality's mean percentile is the population-weighted mean of its LSOAs
    pop = place.weights["population"]
    first = t.index[0]
    m = key == first
    want = (lsoa_change.loc[m, "imd_pct_2025"] * pop[m]).sum() / pop[m].sum()
    assert t.loc[first, "imd_pct_2025"] == pytest.approx(want)
    with pytest.raises(DataError, match="not available"):
        change_table(place, level, domains=["nonsense"])


def test_unavailable_changes_say_why(place):
    why = unavailable_changes(place)
    assert "census_2011_2021" not in why  # the Sheffield manifest names Census 2011
    assert "files 5 and 7" in why["iod_scores"]


def _without_census2011(place):
    """The place as a pack built from the regional sources sees it: no Census 2011 roles."""
    m = dict(place.pack.manifest)
    m["roles"] = {r: v for r, v in m["roles"].items() if r not in CENSUS_ROLES}
    return dataclasses.replace(place, pack=Pack(place.pack.path, m))


@pytest.fixture(scope="module")
def census(place):
    return census_change(place)


def test_census_household_change_without_the_2011_residents(place, census):
    """A built pack with 2011 households but no 2011 residents table: households still change."""
    m = dict(place.pack.manifest)
    m["roles"] = {r: v for r, v in m["roles"].items() if r != "census2011_population"}
    part = dataclasses.replace(place, pack=Pack(place.pack.path, m))
    why = unavailable_changes(part)
    assert "census_2011_2021" not in why
    assert why["census_population"].startswith("the pack's manifest has no census2011_population")
    got = census_change(part)
    hh = [c for c in census.columns if c.startswith(("hh_", "households"))]
    pd.testing.assert_frame_equal(got[hh], census[hh])  # identical to the full pack's
    assert got["population_2011"].isna().all() and (got["population_status"] == "").all()
    assert "census_population" in got.attrs["unavailable"]
    ward = census_change_table(part, "ward")
    assert ward["hh_deprived_1plus_pct_2011"].notna().all()


def test_census_change_unavailable_without_the_roles(place):
    bare = _without_census2011(place)
    why = unavailable_changes(bare)
    assert "census2011_deprivation" in why["census_2011_2021"]
    assert "add those roles" in why["census_2011_2021"]
    with pytest.raises(DataError, match=r"unavailable for Sheffield.*census2011_deprivation"):
        census_change(bare)
    with pytest.raises(DataError, match="unavailable"):
        census_change_table(bare, "ward")
    assert "census_2011_2021" in iod_change(bare).attrs["unavailable"]


def test_census_counts_harmonised_and_read_as_published(place, census):
    pk = place.pack
    raw = pk.read_table("census2011_deprivation")
    assert census["households_2011"].sum() == pytest.approx(raw["count"].sum())
    pop11 = pk.read_table("census2011_population")["All usual residents"]
    assert census["population_2011"].sum() == pytest.approx(pop11.sum())
    # an unchanged LSOA: its own 2011 counts, by hand
    lk = place.lookup11
    code = lk.loc[lk["CHGIND"] == "U", "LSOA21CD"].iloc[5]
    mine = raw[raw["lsoa11_code"] == code]
    n = mine["count"].sum()
    deprived = mine.loc[mine["households_number_deprivation_dimensions"] >= 1, "count"].sum()
    assert census.loc[code, "households_2011"] == n
    assert census.loc[code, "hh_deprived_1plus_pct_2011"] == pytest.approx(100 * deprived / n)
    cen = pk.read_table("census").set_index("LSOA21CD")
    n21 = cen.loc[code, "ts0110001"]
    d21 = cen.loc[code, ["ts0110003", "ts0110004", "ts0110005", "ts0110006"]].sum()
    assert census.loc[code, "hh_deprived_1plus_pct_2021"] == pytest.approx(100 * d21 / n21)
    # the pooled two-proportion z, by hand
    p1, p2, pool = deprived / n, d21 / n21, (deprived + d21) / (n + n21)
    z = (p2 - p1) / np.sqrt(pool * (1 - pool) * (1 / n + 1 / n21))
    assert census.loc[code, "hh_deprived_1plus_z"] == pytest.approx(z)
    # merges: the 2021 LSOA holds the sum of its 2011 parts
    merged = lk.loc[lk["CHGIND"] == "M"]
    to = merged["LSOA21CD"].iloc[0]
    parts = merged.loc[merged["LSOA21CD"] == to, "LSOA11CD"]
    want = raw.loc[raw["lsoa11_code"].isin(parts), "count"].sum()
    assert len(parts) >= 2 and census.loc[to, "households_2011"] == pytest.approx(want)
    assert census.index.equals(place.lsoa.index)
    assert not census.filter(like="_pct_").isna().any().any()


def test_census_status_follows_the_test(census):
    for m in ("hh_deprived_1plus", "hh_deprived_2plus"):
        z, st = census[f"{m}_z"], census[f"{m}_status"]
        assert set(st) <= set(STATUSES)
        assert (st[z <= -1.96] == "improved").all()  # fewer deprived households
        assert (st[z >= 1.96] == "worsened").all()
        assert (st[z.abs() < 1.96] == "no significant change").all()
        assert set(census[f"{m}_status_vs_place"]) <= set(STATUSES)
    zp, sp = census["population_z"], census["population_status"]
    assert set(sp) <= set(POPULATION_STATUSES)
    assert (sp[zp >= 1.96] == "increased").all() and (sp[zp <= -1.96] == "decreased").all()
    # Sheffield's share deprived in 1+ dimensions fell from 60.0 % to 54.6 %
    tot = census.attrs["place_totals"]
    assert tot["hh_deprived_1plus_pct_2011"] == pytest.approx(60.05, abs=0.01)
    assert tot["hh_deprived_1plus_pct_2021"] == pytest.approx(54.62, abs=0.01)
    assert "two-proportion z-test" in census.attrs["method"]
    assert "census_vs_england" in census.attrs["unavailable"]


def test_census_looser_alpha_flags_more(place, census):
    loose = census_change(place, alpha=0.2)
    moved = lambda t: int((t["hh_deprived_1plus_status"] != "no significant change").sum())  # noqa: E731
    assert moved(loose) > moved(census)
    with pytest.raises(DataError, match="alpha"):
        census_change(place, alpha=0.7)


@pytest.mark.parametrize("level", ["lac", "lad"])
def test_census_locality_table_sums_counts(place, census, level):
    t = census_change_table(place, level)
    assert t.index.equals(place.areas(level).index)
    assert t["households_2011"].sum() == pytest.approx(census["households_2011"].sum())
    key = place.codes(level)
    first = t.index[0]
    m = key == first
    n11 = census.loc[m, "households_2011"].sum()
    d11 = (census.loc[m, "households_2011"] * census.loc[m, "hh_deprived_1plus_pct_2011"]).sum()
    assert t.loc[first, "hh_deprived_1plus_pct_2011"] == pytest.approx(d11 / n11)
    n_imp = int((census.loc[m, "hh_deprived_1plus_status"] == "improved").sum())
    assert t.loc[first, "n_lsoa_improved"] == n_imp
    if level == "lad":  # the whole place against itself: no difference by construction
        assert t["hh_deprived_1plus_z_vs_place"].abs().max() < 1e-9
        assert (t["hh_deprived_1plus_status_vs_place"] == "no significant change").all()
