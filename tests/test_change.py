"""Change indicators: IoD 2019 -> 2025 on 2021 LSOAs, against England, by locality."""

from __future__ import annotations

import numpy as np
import pytest

from placekit.change import DOMAINS, STATUSES, change_table, iod_change, unavailable_changes
from placekit.errors import DataError


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
    assert "census_2011_2021" in why and "Census 2011" in why["census_2011_2021"]
    assert "files 5 and 7" in why["iod_scores"]
