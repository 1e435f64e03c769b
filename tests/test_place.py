import numpy as np
import pandas as pd
import pytest

from placekit.catalogue import THEMES, load_catalogue
from placekit.errors import DataError
from placekit.harmonise import lsoa11_to_lsoa21


def test_lsoas_and_population(place):
    assert len(place.lsoa) == 343
    assert place.lsoa.crs.to_epsg() == 27700
    assert place.lsoa.index.is_unique and place.lsoa.index.str.match(r"^E01\d{6}$").all()
    assert place.weights["population"].sum() == pytest.approx(556_512, abs=5)


def test_imd2025_decile_one_share(place):
    assert int((place.indicators["imd2025_decile"] == 1).sum()) == 75


def test_every_lsoa_has_one_of_each_locality(place):
    for level, n in (("ward", 28), ("lac", 7)):
        codes = place.lsoa[f"{level}_code"]
        assert codes.notna().all()
        assert codes.isin(place.localities[level].index).all()
        assert codes.nunique() == n
    assert place.lsoa["neighbourhood_code"].isin(place.localities["neighbourhood"].index).all()
    # wards nest in LACs: every ward's LSOAs share one LAC
    assert (place.lsoa.groupby("ward_code")["lac_code"].nunique() == 1).all()


def test_lac_population_sums_to_city(place):
    t = place.table("lac", ["population"])
    assert t["population"].sum() == pytest.approx(place.weights["population"].sum())
    assert len(t) == 7


def test_census_rate_uses_its_own_denominator(place, pack_dir):
    raw = pd.read_parquet(
        pack_dir / "census/census2021_sheffield_lsoa21_selected_tables_sum_of_oa.parquet"
    )
    row = raw.set_index("LSOA21CD").loc["E01007823"]
    expected = 100 * (row["ts0370005"] + row["ts0370006"]) / row["ts0370001"]
    assert place.indicators.loc["E01007823", "bad_health_pct"] == pytest.approx(expected)
    # no-car is per household, not per person
    expected_car = 100 * row["ts0450002"] / row["ts0450001"]
    assert place.indicators.loc["E01007823", "no_car_pct"] == pytest.approx(expected_car)


def test_locality_rate_is_ratio_of_sums(place, pack_dir):
    raw = pd.read_parquet(
        pack_dir / "census/census2021_sheffield_lsoa21_selected_tables_sum_of_oa.parquet"
    )
    raw = raw.set_index("LSOA21CD")
    lac = place.lsoa["lac_code"]
    num = (raw["ts0370005"] + raw["ts0370006"]).groupby(lac).sum()
    den = raw["ts0370001"].groupby(lac).sum()
    t = place.table("lac", ["bad_health_pct"])
    np.testing.assert_allclose(t["bad_health_pct"], (100 * num / den).reindex(t.index))


def test_rank_aggregation_is_labelled(place):
    t = place.table("ward", ["imd2025_rank"])
    assert "not itself a rank" in t.attrs["notes"]["imd2025_rank"]


def test_catalogue_shape():
    cat = load_catalogue()
    assert len(cat) >= 50
    for i in ("population", "imd2025_score", "imd2025_rank", "imd2025_decile", "imd2019_rank"):
        assert i in cat
    assert set(cat.table["theme"]) <= set(THEMES)
    assert set(THEMES) <= set(cat.table["theme"])


def test_unknown_indicator_message(place):
    with pytest.raises(DataError, match="Unknown indicator id 'imd_scor'"):
        place.table("lsoa", ["imd_scor"])


def test_unknown_level_message(place):
    with pytest.raises(DataError, match="level must be one of"):
        place.table("county")


def test_iod2019_harmonisation(place, pack_dir):
    iod = pd.read_parquet(
        pack_dir / "deprivation/iod2019_sheffield_lsoa11_combined.parquet"
    ).set_index("lsoa11cd")
    # unchanged code copied
    assert place.indicators.loc["E01007823", "imd2019_rank"] == iod.loc["E01007823", "imd_rank"]
    # merge E01007859 + E01007860 -> E01034843: population-weighted
    a, b = iod.loc["E01007859"], iod.loc["E01007860"]
    w = a["pop_total_mid2015"], b["pop_total_mid2015"]
    exp = (a["acute_morbidity_indicator"] * w[0] + b["acute_morbidity_indicator"] * w[1]) / (
        w[0] + w[1]
    )
    assert place.indicators.loc["E01034843", "acute_morbidity_2019"] == pytest.approx(exp)
    # split E01033278 -> E01034845 and E01034846: inherited
    parent = iod.loc["E01033278", "imd_rank"]
    assert place.indicators.loc["E01034845", "imd2019_rank"] == parent
    assert place.indicators.loc["E01034846", "imd2019_rank"] == parent


def test_harmonise_counts_split_by_population():
    lookup = pd.DataFrame(
        {
            "LSOA11CD": ["A", "B", "C", "D"],
            "LSOA21CD": ["X", "X", "Y", "Z"],
            "CHGIND": ["M", "M", "S", "S"],
        }
    )
    lookup.loc[3, "LSOA11CD"] = "C"
    t = pd.DataFrame({"n": [10.0, 20.0, 30.0], "r": [1.0, 3.0, 5.0]}, index=["A", "B", "C"])
    out = lsoa11_to_lsoa21(
        t,
        lookup,
        weight11=pd.Series({"A": 100, "B": 300, "C": 50}),
        population21=pd.Series({"X": 1, "Y": 200, "Z": 100}),
        count_columns=["n"],
    )
    assert out.loc["X", "n"] == 30
    assert out.loc["X", "r"] == pytest.approx((1 * 100 + 3 * 300) / 400)
    assert out.loc["Y", "n"] == pytest.approx(20) and out.loc["Z", "n"] == pytest.approx(10)
    assert out.loc["Y", "r"] == out.loc["Z", "r"] == 5


def test_layers_carry_attribution(place):
    gp = place.layer("gp")
    assert gp.crs.to_epsg() == 27700
    assert "Open Government Licence" in gp.attrs["attribution"]
    assert "© OpenStreetMap contributors" in place.layer("pub").attrs["attribution"]
    assert any("OpenStreetMap" in a for a in place.attributions)
    # active GP practices in the city per PROVENANCE: 74
    inside = gp.within(place.boundary().geometry.union_all())
    assert int(inside.sum()) == 74


def test_city_value_is_ratio_of_sums(place, pack_dir):
    from placekit.place import city_value

    raw = pd.read_parquet(
        pack_dir / "census/census2021_sheffield_lsoa21_selected_tables_sum_of_oa.parquet"
    )
    assert city_value(place, "no_car_pct") == pytest.approx(
        100 * raw["ts0450002"].sum() / raw["ts0450001"].sum()
    )
    assert city_value(place, "population") == pytest.approx(556_512)
