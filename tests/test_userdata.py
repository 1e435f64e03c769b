import io
import json
import zipfile

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import Point

from placekit.disclosure import secondary_suppress
from placekit.errors import CRSError, DataError, SchemaError
from placekit.userdata import add_points, add_table, read_table


def _csv(rows, header="lsoa_code,referrals"):
    return (header + "\n" + "\n".join(rows) + "\n").encode()


def test_2021_table_becomes_indicator(place):
    codes = place.lsoa.index[:3]
    new = add_table(place, _csv([f"{c},{n}" for c, n in zip(codes, [12, 30, 7], strict=True)]),
                    name="ref.csv")
    assert new.indicators.loc[codes[0], "user_referrals"] == 12
    assert "user_referrals" in new.catalogue
    assert "user_referrals" not in place.indicators  # original untouched
    pop = place.weights["population"][codes[1]]
    assert new.indicators.loc[codes[1], "user_referrals_per_1000"] == pytest.approx(30_000 / pop)


def test_2011_codes_converted(place):
    # E01007859 and E01007860 merge into E01034843; E01033278 splits into two
    body = _csv(["E01007859,10", "E01007860,15", "E01033278,40", "E01007823,9"])
    _table, vintage = read_table(place, body, name="x.csv")
    assert vintage == "2011"
    new = add_table(place, body, name="x.csv")
    ind = new.indicators["user_referrals"]
    assert ind["E01034843"] == 25
    assert ind["E01007823"] == 9
    assert ind["E01034845"] + ind["E01034846"] == pytest.approx(40)
    pop = place.weights["population"]
    share = pop["E01034845"] / (pop["E01034845"] + pop["E01034846"])
    assert ind["E01034845"] == pytest.approx(40 * share)


@pytest.mark.parametrize(
    ("body", "err", "match"),
    [
        (b"", DataError, "is empty"),
        (b"lsoa_code,referrals\n", DataError, "header but no rows"),
        (_csv(["E01007823,1", "E0100782,2"]), DataError, r"rows \[3\] are not LSOA codes"),
        (_csv(["E01007823,1", "E01007823,2"]), DataError, r"codes repeat on rows \[2, 3\]"),
        (_csv(["E01007823,1", "E01000001,2"]), DataError, r"rows \[3\] hold LSOA codes from outside"),
        (_csv(["E01007823,1", "E01007824,lots"]), DataError, r"column 'referrals': rows \[3\] are not numbers"),
        (_csv(["E01007823,1", "E01007824,-3"]), DataError, r"rows \[3\] are negative"),
        (_csv(["E01007859,1", "E01034843,2"]), DataError, "mixes 2011-only codes"),
        (b"area,value\nfoo,1\n", SchemaError, "no column of LSOA codes"),
        ("lsoa_code,r\xe9f\nE01007823,1\n".encode("latin-1"), DataError, "is not utf-8 text"),
    ],
)
def test_bad_tables(place, body, err, match):
    before = place.indicators.copy()
    with pytest.raises(err, match=match):
        add_table(place, body, name="bad.csv")
    pd.testing.assert_frame_equal(place.indicators, before)


def test_missing_value_column(place):
    with pytest.raises(SchemaError, match=r"bad.csv has no column\(s\) \['count'\]"):
        add_table(place, _csv(["E01007823,1"]), name="bad.csv", value_columns=["count"])


def test_size_limit(place):
    with pytest.raises(DataError, match="over the 0 MB limit"):
        add_table(place, _csv(["E01007823,1"] * 1), name="big.csv", max_bytes=10)


def test_xlsx_and_cp1252(place, tmp_path):
    df = pd.DataFrame({"LSOA": place.lsoa.index[:2], "rate": [1.5, 2.5]})
    p = tmp_path / "t.xlsx"
    df.to_excel(p, index=False)
    new = add_table(place, p)
    assert new.indicators.loc[place.lsoa.index[1], "user_rate"] == 2.5
    body = "lsoa_code,caf\xe9\nE01007823,3\n".encode("cp1252")
    new = add_table(place, body, name="w.csv", encoding="cp1252")
    assert new.indicators.loc["E01007823", "user_caf"] == 3


def test_suppression_hides_small_counts_everywhere(place):
    codes = place.lsoa.index
    values = np.r_[[3], [40] * (len(codes) - 1)]
    new = add_table(place, _csv([f"{c},{v}" for c, v in zip(codes, values, strict=True)]), name="r.csv")
    t = new.table("lsoa", ["user_referrals", "user_referrals_per_1000"])
    assert np.isnan(t.loc[codes[0], "user_referrals"])
    assert np.isnan(t.loc[codes[0], "user_referrals_per_1000"])
    # secondary suppression: the ward total cannot reveal the hidden 3
    ward = place.lsoa.loc[codes[0], "ward_code"]
    in_ward = place.lsoa.index[place.lsoa["ward_code"] == ward]
    assert t.loc[in_ward, "user_referrals"].isna().sum() >= 2
    wt = new.table("ward", ["user_referrals"])
    hidden_sum = wt.loc[ward, "user_referrals"] - t.loc[in_ward, "user_referrals"].sum()
    assert hidden_sum > 4  # what can be backed out is a sum of at least two cells


def test_secondary_suppress_handworked():
    counts = pd.Series([2, 10, 7, 0], index=list("abcd"))
    groups = [pd.Series(["g"] * 4, index=list("abcd"))]
    hidden = secondary_suppress(counts, (counts > 0) & (counts < 5), groups)
    assert hidden.tolist() == [True, False, True, False]  # 7 is the smallest non-zero other


def test_points_csv_lonlat(place):
    body = b"name,lon,lat\nA,-1.4701,53.3811\nB,-1.4702,53.3812\n"
    new = add_points(place, body, name="sites.csv")
    assert new.indicators["user_sites_count"].sum() == 2
    assert "user:sites" in new.layers


def test_points_easting_northing_and_outside(place):
    body = b"easting,northing\n435300,387200\n"
    assert add_points(place, body, name="e.csv").indicators["user_e_count"].sum() == 1
    with pytest.raises(DataError, match=r"rows \[3\] lie outside the city"):
        add_points(place, b"lon,lat\n-1.47,53.38\n-0.1,51.5\n", name="o.csv")
    with pytest.raises(CRSError, match="none of the 1 points is inside the city"):
        add_points(place, b"lon,lat\n435300,387200\n", name="swapped.csv")
    with pytest.raises(SchemaError, match="needs coordinate columns"):
        add_points(place, b"a,b\n1,2\n", name="nocoords.csv")


def test_points_geojson_gpkg_zip(place, tmp_path):
    gdf = gpd.GeoDataFrame({"name": ["x"]}, geometry=[Point(-1.47, 53.38)], crs="EPSG:4326")
    gj = gdf.to_json().encode()
    assert add_points(place, gj, name="p.geojson").indicators["user_p_count"].sum() == 1
    gdf.to_file(tmp_path / "p.gpkg", driver="GPKG")
    assert add_points(place, tmp_path / "p.gpkg").indicators["user_p_count"].sum() == 1
    gdf.to_file(tmp_path / "s.shp")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for ext in ("shp", "shx", "dbf", "prj"):
            zf.write(tmp_path / f"s.{ext}", f"s.{ext}")
    assert add_points(place, buf.getvalue(), name="s.zip").indicators["user_s_count"].sum() == 1
    nocrs = json.loads(gj)
    with pytest.warns(UserWarning, match="'crs' was not provided"):
        gpd.GeoDataFrame({"name": ["x"]}, geometry=[Point(-1.47, 53.38)]).to_file(
            tmp_path / "n.gpkg", driver="GPKG")
    with pytest.raises(CRSError, match="has no CRS"):
        add_points(place, tmp_path / "n.gpkg")
    assert nocrs["type"] == "FeatureCollection"


def test_points_invalid_geometry(place, tmp_path):
    from shapely.geometry import Polygon

    bow = Polygon([(435000, 387000), (435100, 387100), (435100, 387000), (435000, 387100)])
    gpd.GeoDataFrame(geometry=[bow], crs="EPSG:27700").to_file(tmp_path / "b.gpkg", driver="GPKG")
    with pytest.raises(DataError, match="invalid geometry"):
        add_points(place, tmp_path / "b.gpkg")


def test_2011_rates_weighted_by_2011_population(place):
    body = b"lsoa_code,rate\nE01007859,1.5\nE01007860,4.5\n"
    new = add_table(place, body, name="r.csv", kind="rate")
    w = place.population11
    exp = (1.5 * w["E01007859"] + 4.5 * w["E01007860"]) / (w["E01007859"] + w["E01007860"])
    assert new.indicators.loc["E01034843", "user_rate"] == pytest.approx(exp)
    assert w["E01007859"] != w["E01007860"]  # so equal weights would fail
