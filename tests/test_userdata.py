import io
import json
import zipfile

import geopandas as gpd
import numpy as np
import openpyxl
import pandas as pd
import pytest
from shapely.geometry import MultiPoint, Point, Polygon

from placekit.disclosure import place_protection
from placekit.errors import CRSError, DataError, SchemaError, explain
from placekit.userdata import (
    MAX_COLUMNS,
    MAX_ROWS,
    add_points,
    add_table,
    read_points,
    read_table,
    safe_text,
)

SPLIT11 = "E01033278"  # splits into the two 2021 LSOAs below
SPLIT21 = ["E01034845", "E01034846"]
MERGE11 = ["E01007859", "E01007860"]  # merge into E01034843
MERGE21 = "E01034843"


def _csv(rows, header="lsoa_code,referrals"):
    return (header + "\n" + "\n".join(rows) + "\n").encode()


def _xlsx(rows):
    wb = openpyxl.Workbook()
    ws = wb.active
    for r in rows:
        ws.append(r)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _snapshot(place):
    return (
        place.indicators.copy(),
        place.catalogue.table.copy(),
        dict(place.suppress),
        {k: len(v) for k, v in place.layers.items()},
    )


def _assert_unchanged(place, snap):
    ind, cat, supp, layers = snap
    pd.testing.assert_frame_equal(place.indicators, ind)
    pd.testing.assert_frame_equal(place.catalogue.table, cat)
    assert place.suppress == supp
    assert {k: len(v) for k, v in place.layers.items()} == layers


# ----------------------------------------------------------------------------- good files


def test_2021_table_becomes_indicator(place):
    codes = place.lsoa.index[:3]
    new = add_table(
        place, _csv([f"{c},{n}" for c, n in zip(codes, [12, 30, 7], strict=True)]), name="ref.csv"
    )
    assert new.indicators.loc[codes[0], "user_referrals"] == 12
    assert "user_referrals" in new.catalogue
    assert "user_referrals" not in place.indicators  # original untouched
    pop = place.weights["population"][codes[1]]
    assert new.indicators.loc[codes[1], "user_referrals_per_1000"] == pytest.approx(30_000 / pop)
    row = new.catalogue.row("user_referrals")
    assert row["kind"] == "count"
    assert "read as a count (its heading does not name a rate)" in row["derivation"]


def test_2011_codes_converted_in_whole_counts(place):
    body = _csv([f"{MERGE11[0]},10", f"{MERGE11[1]},15", f"{SPLIT11},41", "E01007823,9"])
    _table, vintage = read_table(place, body, name="x.csv")
    assert vintage == "2011"
    ind = add_table(place, body, name="x.csv").indicators["user_referrals"]
    assert ind[MERGE21] == 25
    assert ind["E01007823"] == 9
    parts = ind[SPLIT21]
    assert parts.sum() == 41  # the 2011 total is kept exactly
    assert (parts == np.round(parts)).all()  # in whole numbers
    pop = place.weights["population"][SPLIT21]
    exact = 41 * pop / pop.sum()
    assert (np.abs(parts - exact) < 1).all()  # each part within 1 of its population share


def test_split_count_of_one_is_never_shown_as_a_fraction(place):
    """A count of 1 on a split 2011 LSOA: 1 and 0 on the 2021 parts, and the 1 hidden."""
    codes11 = sorted(set(place.lookup11["LSOA11CD"]))
    body = _csv([f"{c},{1 if c == SPLIT11 else 40}" for c in codes11])
    new = add_table(place, body, name="s.csv")
    parts = new.indicators.loc[SPLIT21, "user_referrals"]
    assert sorted(parts.tolist()) == [0.0, 1.0]
    shown = new.table("lsoa", ["user_referrals", "user_referrals_per_1000"])
    one = parts.index[parts == 1][0]
    assert np.isnan(shown.loc[one, "user_referrals"])
    assert np.isnan(shown.loc[one, "user_referrals_per_1000"])
    assert new.suppress["user_referrals"] == "user_referrals"
    assert "whole numbers" in new.catalogue.row("user_referrals")["derivation"]


def test_merge_with_a_missing_2011_part_has_no_value(place):
    new = add_table(place, _csv([f"{MERGE11[0]},10", "E01007823,9"]), name="m.csv")
    assert np.isnan(new.indicators.loc[MERGE21, "user_referrals"])  # not a partial 10
    assert new.indicators.loc["E01007823", "user_referrals"] == 9


def test_2011_rates_weighted_by_2011_population(place):
    body = f"lsoa_code,rate\n{MERGE11[0]},1.5\n{MERGE11[1]},4.5\n".encode()
    new = add_table(place, body, name="r.csv", kind="rate")
    w = place.population11
    exp = (1.5 * w[MERGE11[0]] + 4.5 * w[MERGE11[1]]) / (w[MERGE11[0]] + w[MERGE11[1]])
    assert new.indicators.loc[MERGE21, "user_rate"] == pytest.approx(exp)
    assert w[MERGE11[0]] != w[MERGE11[1]]  # so equal weights would fail


def test_xlsx_cp1252_semicolons_and_thousands(place, tmp_path):
    df = pd.DataFrame({"LSOA": place.lsoa.index[:2], "rate": [1.5, 2.5]})
    p = tmp_path / "t.xlsx"
    df.to_excel(p, index=False)
    new = add_table(place, p)
    assert new.indicators.loc[place.lsoa.index[1], "user_rate"] == 2.5
    assert new.catalogue.row("user_rate")["kind"] == "rate"
    body = "lsoa_code,caf\xe9\nE01007823,3\n".encode("cp1252")
    new = add_table(place, body, name="w.csv", encoding="cp1252")
    assert new.indicators.loc["E01007823", "user_caf"] == 3
    new = add_table(place, b"lsoa_code;referrals\nE01007823;12\n", name="semi.csv")
    assert new.indicators.loc["E01007823", "user_referrals"] == 12
    new = add_table(place, b'\xef\xbb\xbflsoa_code,referrals\nE01007823,"1,234"\n', name="k.csv")
    assert new.indicators.loc["E01007823", "user_referrals"] == 1234
    utf16 = "lsoa_code\treferrals\nE01007823\t7\n".encode("utf-16")
    assert add_table(place, utf16, name="u.txt").indicators.loc["E01007823", "user_referrals"] == 7


def test_rate_by_heading_or_by_request(place):
    body = _csv(["E01007823,2.5", "E01007824,3"], header="lsoa_code,visits per 1000")
    new = add_table(place, body, name="r.csv")
    assert new.catalogue.row("user_visits_per_1000")["kind"] == "rate"
    assert "its heading names a rate" in new.catalogue.row("user_visits_per_1000")["derivation"]
    new = add_table(place, _csv(["E01007823,2.5"]), name="r.csv", kinds={"referrals": "rate"})
    assert new.catalogue.row("user_referrals")["kind"] == "rate"
    assert "user_referrals" not in new.suppress


def test_suppression_hides_small_counts_everywhere(place):
    codes = place.lsoa.index
    values = np.r_[[3], [40] * (len(codes) - 1)]
    new = add_table(
        place, _csv([f"{c},{v}" for c, v in zip(codes, values, strict=True)]), name="r.csv"
    )
    t = new.table("lsoa", ["user_referrals", "user_referrals_per_1000"])
    assert np.isnan(t.loc[codes[0], "user_referrals"])
    assert np.isnan(t.loc[codes[0], "user_referrals_per_1000"])
    ward = place.lsoa.loc[codes[0], "ward_code"]
    in_ward = place.lsoa.index[place.lsoa["ward_code"] == ward]
    assert t.loc[in_ward, "user_referrals"].isna().sum() >= 2


# ----------------------------------------------------------------------------- points


def test_points_csv_lonlat(place):
    body = b"name,lon,lat\nA,-1.4701,53.3811\nB,-1.4702,53.3812\n"
    new = add_points(place, body, name="sites.csv")
    assert new.indicators["user_sites_count"].sum() == 2
    layer = new.layers["user:sites"]
    assert ("A" not in layer.to_json() and "name" not in layer) or set(layer["name"]) <= {
        f"{n} points" for n in range(1000)
    }


def test_points_easting_northing_and_outside(place):
    body = b"easting,northing\n435300,387200\n"
    assert add_points(place, body, name="e.csv").indicators["user_e_count"].sum() == 1
    with pytest.raises(DataError, match=r"the points from row 3 lie outside the city"):
        add_points(place, b"lon,lat\n-1.47,53.38\n-0.1,51.5\n", name="o.csv")
    kept = add_points(place, b"lon,lat\n-1.47,53.38\n-0.1,51.5\n", name="o.csv", drop_outside=True)
    assert kept.indicators["user_o_count"].sum() == 1
    with pytest.raises(CRSError, match="none of the 1 points is inside Sheffield"):
        add_points(place, b"lon,lat\n53.38,-1.47\n", name="swapped.csv")
    with pytest.raises(CRSError, match=r"the lon/lat on row 2 are outside the range of degrees"):
        add_points(place, b"lon,lat\n435300,387200\n", name="bng.csv")
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
    with pytest.warns(UserWarning, match="'crs' was not provided"):
        gpd.GeoDataFrame({"name": ["x"]}, geometry=[Point(-1.47, 53.38)]).to_file(
            tmp_path / "n.gpkg", driver="GPKG"
        )
    with pytest.raises(CRSError, match="has no coordinate system"):
        add_points(place, tmp_path / "n.gpkg")


def test_points_invalid_geometry_and_lines(place, tmp_path):
    bow = Polygon([(435000, 387000), (435100, 387100), (435100, 387000), (435000, 387100)])
    gpd.GeoDataFrame(geometry=[bow], crs="EPSG:27700").to_file(tmp_path / "b.gpkg", driver="GPKG")
    with pytest.raises(DataError, match="invalid geometry in feature 1"):
        add_points(place, tmp_path / "b.gpkg")
    line = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {},
                "geometry": {"type": "LineString", "coordinates": [[-1.47, 53.38], [-1.46, 53.37]]},
            }
        ],
    }
    with pytest.raises(DataError, match="feature 1: LineString geometry, not points"):
        add_points(place, json.dumps(line).encode(), name="l.geojson")


def test_multipoint_counts_every_point(place):
    mp = MultiPoint([(-1.4701, 53.3811), (-1.4702, 53.3812), (-1.4703, 53.3813)])
    gj = gpd.GeoDataFrame({"name": ["clinic"]}, geometry=[mp], crs="EPSG:4326").to_json()
    new = add_points(place, gj.encode(), name="mp.geojson")
    assert new.indicators["user_mp_count"].sum() == 3
    assert len(read_points(place, gj.encode(), name="mp.geojson")) == 3


def test_point_layer_is_aggregated_without_names(place):
    rng = np.random.default_rng(5)
    some = place.lsoa.sample(40, random_state=1)
    pts = some.geometry.representative_point()
    rows = [
        f"Secret person {k},{p.x + rng.uniform(-1, 1):.1f},{p.y:.1f}"
        for k, p in enumerate(pts)
        for _ in range(int(rng.integers(1, 12)))
    ]
    body = ("name,easting,northing\n" + "\n".join(rows)).encode()
    new = add_points(place, body, name="clients.csv")
    layer = new.layers["user:clients"]
    assert "Secret" not in layer.to_json()
    assert set(layer.columns) == {"name", "count", "geometry"}
    published = place_protection(new, "user_clients_count").published["lsoa"]
    assert (layer["count"] == published[layer.index]).all()  # the same numbers as the tables
    assert (layer["count"] >= place.min_count).all()
    assert layer["count"].sum() < len(rows)  # the small counts are not on the map
    raw = add_points(place, body, name="clients.csv", map_layer="points").layers["user:clients"]
    assert list(raw.columns) == ["geometry"] and len(raw) == len(rows)
    assert (
        "user:clients" not in add_points(place, body, name="clients.csv", map_layer="none").layers
    )


# ----------------------------------------------------------------------------- refusals


BAD_TABLES = [
    (b"", DataError, "'bad.csv' is empty. Upload a file with a heading row and one row per area."),
    (b"lsoa_code,referrals\n", DataError, "'bad.csv' has a heading row but no rows of data."),
    (
        _csv(["E01007823,1", "E0100782,2"]),
        DataError,
        "'bad.csv', column A 'lsoa_code': the cells on row 3 are not LSOA codes (e.g. 'E0100782'); "
        "LSOA codes look like E01007823.",
    ),
    (
        _csv(["E01007823,1", "E01007823,2"]),
        DataError,
        "'bad.csv', column A 'lsoa_code': codes repeat on rows 2 and 3 (e.g. E01007823). Give one "
        "row per LSOA (add up or average the repeats first).",
    ),
    (
        _csv(["E01007823,1", "E01000001,2"]),
        DataError,
        "'bad.csv', column A 'lsoa_code': the codes on row 3 are from outside this city "
        "(Sheffield, local authority E08000019), e.g. E01000001. Remove those rows, or load them "
        "into the place they belong to.",
    ),
    (
        _csv(["E01007823,1", "E01007824,lots"]),
        DataError,
        "'bad.csv', column B 'referrals': the cells on row 3 are not numbers (e.g. 'lots'). Use "
        "plain numbers such as 12 or 4.5 for the values; leave a cell empty if unknown.",
    ),
    (
        _csv(["E01007823,1", "E01007824,-3"]),
        DataError,
        "'bad.csv', column B 'referrals': the values on row 3 are negative (e.g. -3). Counts and "
        "rates must be 0 or more.",
    ),
    (
        _csv([f"{MERGE11[0]},1", f"{MERGE21},2"]),
        DataError,
        "'bad.csv' mixes 2011-only LSOA codes (row 2) and 2021-only codes (row 3). Use one set of "
        "codes (2011 or 2021) throughout.",
    ),
    (
        b"area,value\nfoo,1\n",
        SchemaError,
        "'bad.csv' has no column of LSOA codes (codes like E01007823). Columns present: 'area', "
        "'value'. Add a column of 2011 or 2021 LSOA codes.",
    ),
    (
        "lsoa_code,r\xe9f\nE01007823,1\n".encode("latin-1"),
        DataError,
        "'bad.csv' is not UTF-8 text (byte 0xe9 at position 11). Save it as 'CSV UTF-8' (in Excel: "
        "File > Save As > CSV UTF-8 (Comma delimited)) and upload it again.",
    ),
    # values
    (
        _csv(["E01007823,1", "E01007824,inf"]),
        DataError,
        "'bad.csv', column B 'referrals': the cells on row 3 are infinite, not numbers "
        "(e.g. 'inf'). Use ordinary finite numbers.",
    ),
    (
        _csv(["E01007823,-inf", "E01007824,2"]),
        DataError,
        "'bad.csv', column B 'referrals': the cells on row 2 are infinite, not numbers (e.g. "
        "'-inf'). Use ordinary finite numbers.",
    ),
    (
        _csv(["E01007823,1", "E01007824,1e400", "E01007825,1e999"]),
        DataError,
        "'bad.csv', column B 'referrals': the cells on rows 3 and 4 are too large for a number "
        "(e.g. '1e400'). Check those cells.",
    ),
    (
        _csv(["E01007823,NaN", "E01007824,N/A"]),
        DataError,
        "'bad.csv', column B 'referrals': the cells on rows 2 and 3 hold a placeholder, not a "
        "number (e.g. 'NaN'). Leave a cell empty where the number is unknown.",
    ),
    (
        _csv(["E01007823,*", "E01007824,<5"]),
        DataError,
        "'bad.csv', column B 'referrals': the cells on rows 2 and 3 hold values that were already "
        "hidden (e.g. '\u2217'). Upload the real numbers (placekit hides 1 to 4 itself), or "
        "leave a cell empty if the number is unknown.",
    ),
    (
        _csv(["E01007823,1", 'E01007824,"1,5"']),
        DataError,
        "'bad.csv', column B 'referrals': the cells on row 3 have a comma in the number (e.g. "
        "'1,5'). Write numbers with a decimal point and no other separators, e.g. 1.5 not 1,5.",
    ),
    (
        b"lsoa_code;referrals\nE01007823;1,234\n",
        DataError,
        "'bad.csv', column B 'referrals': the cells on row 2 have a comma in the number (e.g. "
        "'1,234'). Write numbers with a decimal point and no other separators, e.g. 1.5 not 1,5 "
        "(in a file separated by semicolons or tabs a comma in a number is ambiguous).",
    ),
    (
        _csv(["E01007823,3", "E01007824,12", "E01007825,2.5"]),
        DataError,
        "'bad.csv', column B 'referrals' was read as a count (its heading does not name a rate), "
        "and counts must be whole numbers, but the values on row 4 are not (e.g. 2.5). Correct "
        "those values; or, if the column is a rate, score or average, put 'rate', 'per 1000', '%' "
        "or 'score' in its heading.",
    ),
    (
        _csv(["E01007823,3000000000"]),
        DataError,
        "'bad.csv', column B 'referrals': the values on row 2 are above 1e9 (e.g. 3e+09), too "
        "large to be a count of people or events in one LSOA.",
    ),
    # headings and shape
    (
        b"lsoa_code,Count A,count-a\nE01007823,1,2\n",
        SchemaError,
        "'bad.csv': column B 'Count A' and column C 'count-a' would both become the indicator "
        "'user_count_a'. Give the columns headings that differ in more than case, spaces or "
        "punctuation.",
    ),
    (
        b"lsoa_code,n,N\nE01007823,1,2\n",
        SchemaError,
        "'bad.csv': columns B and C have the same heading 'N'. Give each column its own heading.",
    ),
    (
        b"lsoa_code,n\nE01007823,1,2\n",
        DataError,
        "'bad.csv': there are more cells than headings (2) on row 2. Give every column a heading, "
        "or remove the extra cells.",
    ),
    (
        b"lsoa_code,,n\nE01007823,4,2\n",
        SchemaError,
        "'bad.csv': column B has values but no heading in row 1. Give it a heading, or delete the "
        "column.",
    ),
    (
        b"lsoa_code,n\nE01007823,\n",
        DataError,
        "'bad.csv', column B 'n' has no values (every cell is empty). Fill it in, or delete the "
        "column. (Formulas need to be saved by Excel so their values are kept.)",
    ),
    (
        b"lsoa_code,n\x00\nE01007823,1\n",
        DataError,
        "'bad.csv' contains NUL characters, so it is not a text (CSV) file. If it is an Excel "
        "workbook, upload it as .xlsx; otherwise save it as 'CSV UTF-8'.",
    ),
    (
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1rest",
        DataError,
        "'bad.csv' is an old-style Excel file (.xls) or another Office format. Save it as .xlsx "
        "(Excel Workbook) or as CSV UTF-8.",
    ),
]


@pytest.mark.parametrize(("body", "err", "message"), BAD_TABLES)
def test_bad_tables_exact_messages(place, body, err, message):
    snap = _snapshot(place)
    with pytest.raises(err) as info:
        add_table(place, body, name="bad.csv")
    assert explain(info.value, "app") == message  # what the app shows
    assert str(info.value).startswith(message)  # Python may get a fix of its own after it
    _assert_unchanged(place, snap)


def test_missing_value_column_and_size(place):
    with pytest.raises(SchemaError, match=r"'bad.csv' has no column\(s\) 'count'"):
        add_table(place, _csv(["E01007823,1"]), name="bad.csv", value_columns=["count"])
    with pytest.raises(DataError) as info:
        add_table(place, _csv(["E01007823,1"]), name="big.csv", max_bytes=10)
    assert str(info.value) == (
        "'big.csv' is 32 bytes, over the 10 bytes limit. Keep only the "
        "columns you need, or add up the rows to one per LSOA, before "
        "uploading."
    )


def test_wide_csv_refused_on_its_heading(place):
    head = "lsoa_code," + ",".join(f"c{i}" for i in range(10_000))
    body = (
        head + "\n" + "\n".join(f"{c}," + ",".join(["1"] * 10_000) for c in place.lsoa.index[:3])
    ).encode()
    with pytest.raises(DataError) as info:
        add_table(place, body, name="wide.csv")
    assert str(info.value) == (
        f"'wide.csv' has 10,001 columns, over the limit of {MAX_COLUMNS}. Keep the LSOA code "
        "column and the columns you need, and upload again."
    )


def test_long_csv_and_long_heading_refused(place):
    body = b"lsoa_code,n\n" + b"E01007823,1\n" * (MAX_ROWS + 2)
    with pytest.raises(DataError, match=f"has more than {MAX_ROWS:,} rows, the limit"):
        add_table(place, body, name="long.csv")
    with pytest.raises(SchemaError, match="the heading of column B is 5,000 characters long"):
        add_table(place, b"lsoa_code," + b"n" * 5000 + b"\nE01007823,1\n", name="h.csv")


def _bomb(member="xl/worksheets/sheet1.xml", size=45_000_000):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        zf.writestr(member, b" " * size)
    return buf.getvalue()


def test_xlsx_zip_bomb_refused_from_its_directory(place):
    bomb = _bomb()
    assert len(bomb) < 60_000  # a 46 kB-class file that unpacks to 45 MB
    snap = _snapshot(place)
    with pytest.raises(DataError) as info:
        add_table(place, bomb, name="bomb.xlsx")
    assert "unpacks to 45.0 MB from" in str(info.value)
    assert "that is how a zip bomb looks" in str(info.value)
    with pytest.raises(DataError, match=r"unpacks to 60\.0 MB, over the 52\.4 MB limit"):
        add_table(place, _bomb(size=60_000_000), name="big.xlsx")
    _assert_unchanged(place, snap)


def _rezip(xlsx, old, new, member="xl/worksheets/sheet1.xml"):
    buf = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(xlsx)) as src, zipfile.ZipFile(buf, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            dst.writestr(info, data.replace(old, new, 1) if info.filename == member else data)
    return buf.getvalue()


def test_xlsx_entity_bomb_and_corrupt_workbooks(place):
    good = _xlsx([["lsoa_code", "n"], ["E01007823", 7]])
    assert add_table(place, good, name="g.xlsx").indicators.loc["E01007823", "user_n"] == 7
    ent = _rezip(good, b"<worksheet", b'<!DOCTYPE x [<!ENTITY a "aaaa">]><worksheet')
    with pytest.raises(DataError, match="contains an XML declaration"):
        add_table(place, ent, name="ent.xlsx")
    with pytest.raises(DataError, match=r"'cut.xlsx' is damaged: it cannot be opened as an Excel"):
        add_table(place, good[: len(good) // 2], name="cut.xlsx")
    with pytest.raises(DataError, match="is named like an Excel workbook but is not one"):
        add_table(place, b"lsoa_code,n\nE01007823,1\n", name="fake.xlsx")
    with pytest.raises(
        DataError, match=r"'inf.xlsx', column B 'n': the cells on row 2 are infinite"
    ):
        add_table(place, _rezip(good, b"<v>7</v>", b"<v>1e400</v>"), name="inf.xlsx")


def test_spatial_files_that_are_not(place):
    with pytest.raises(DataError) as info:
        add_points(place, b"this is not sqlite", name="p.gpkg")
    assert str(info.value) == (
        "'p.gpkg' is not a GeoPackage (a GeoPackage is an SQLite "
        "database). Save it again from QGIS (Export > Save Features As "
        "> GeoPackage)."
    )
    with pytest.raises(DataError, match="could not be read as a map file"):
        add_points(place, b"SQLite format 3\x00" + b"\x00" * 200, name="p.gpkg")
    with pytest.raises(DataError, match="is damaged: it cannot be opened as a zipped Shapefile"):
        add_points(place, b"PK\x03\x04broken", name="s.zip")
    with pytest.raises(DataError, match="is not valid GeoJSON"):
        add_points(place, b'{"type": "FeatureCollection", "features": [', name="p.geojson")
    deep = (
        b'{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"a":'
        + (b"[" * 200)
        + b"1"
        + b"]" * 200
        + b'},"geometry":null}]}'
    )
    with pytest.raises(DataError, match="is nested more than 32 levels deep"):
        add_points(place, deep, name="deep.geojson")
    nan = b'{"type":"Feature","properties":{},"geometry":{"type":"Point","coordinates":[NaN,53]}}'
    with pytest.raises(DataError, match="coordinates in feature 1 are not finite numbers"):
        add_points(place, nan, name="nan.geojson")


def test_collisions_refused_and_nothing_replaced(place):
    first = add_table(place, _csv(["E01007823,12"]), name="first.csv")
    snap = _snapshot(first)
    with pytest.raises(SchemaError) as info:
        add_table(first, _csv(["E01007823,99"]), name="second.csv")
    assert str(info.value) == (
        "'second.csv': column B 'referrals' would become the indicator 'user_referrals', which "
        "the place already has (from uploaded: first.csv). Nothing was replaced: rename the "
        "column (or the file) and upload it again."
    )
    _assert_unchanged(first, snap)
    assert first.indicators.loc["E01007823", "user_referrals"] == 12
    table = add_table(place, _csv(["E01007823,12"], header="lsoa_code,sites count"), name="t.csv")
    with pytest.raises(SchemaError, match="would become the indicator 'user_sites_count'"):
        add_points(table, b"lon,lat\n-1.47,53.38\n", name="sites.csv")
    pts = add_points(place, b"lon,lat\n-1.47,53.38\n", name="sites.csv")
    with pytest.raises(SchemaError, match="which the place already has"):
        add_points(pts, b"lon,lat\n-1.47,53.38\n", name="sites.csv")
    with pytest.raises(SchemaError, match="'bad_health_pct', which the place already has"):
        add_table(
            place, _csv(["E01007823,3"], header="lsoa_code,health pct"), name="x.csv", prefix="bad"
        )


def test_markup_is_neutralised_in_messages_and_labels(place):
    body = b"lsoa_code,![x](https://evil.example/a.png)\nE01007823,<script>alert(1)</script>\n"
    with pytest.raises(DataError) as info:
        add_table(place, body, name="<img src=x onerror=alert(1)>.csv")
    text = str(info.value)
    for bad in ("<", ">", "[", "]", "://"):
        assert bad not in text
    assert text.startswith("'\u2039img src=x onerror=alert(1)\u203a.csv', column B '!\u27e6x\u27e7")
    new = add_table(place, b"lsoa_code,<b>n</b>\nE01007823,3\n", name="[a](b).csv")
    row = new.catalogue.row("user_b_n_b")
    assert "<" not in row["label"] and "[" not in row["source"]
    assert safe_text("a\nb\u202e") == "a\\nb\\u202e"


def test_place_unchanged_after_every_kind_of_error(place):
    snap = _snapshot(place)
    for body, fn, name in [
        (b"lsoa_code,n\nE01007823,1.5\n", add_table, "a.csv"),
        (_bomb(), add_table, "b.xlsx"),
        (b"lon,lat\n-1.47,53.38\n0,0\n", add_points, "c.csv"),
        (b"PK\x03\x04", add_points, "d.zip"),
    ]:
        with pytest.raises((DataError, SchemaError, CRSError)):
            fn(place, body, name=name)
        _assert_unchanged(place, snap)


def _deflate_damaged_xlsx(place) -> bytes:
    """A workbook with one byte flipped inside the deflated sheet, where zlib (not zip) fails."""
    import zlib

    buf = io.BytesIO()
    rows = [{"lsoa_code": c, "referrals": i} for i, c in enumerate(place.lsoa.index[:300])]
    pd.DataFrame(rows).to_excel(buf, index=False)
    raw = buf.getvalue()
    info = zipfile.ZipFile(io.BytesIO(raw)).getinfo("xl/worksheets/sheet1.xml")
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    for k in range(start + 5, start + info.compress_size - 5):
        bad = raw[:k] + bytes([raw[k] ^ 0xFF]) + raw[k + 1 :]
        try:
            zipfile.ZipFile(io.BytesIO(bad)).read("xl/worksheets/sheet1.xml")
        except zlib.error:
            return bad
        except zipfile.BadZipFile:  # a CRC mismatch: not the case wanted
            continue
    raise AssertionError("no byte gives a zlib error")  # pragma: no cover


def test_xlsx_damaged_inside_a_deflated_part_is_refused_in_words(place):
    bad = _deflate_damaged_xlsx(place)
    with pytest.raises(DataError, match=r"is damaged: part 'xl/worksheets/sheet1\.xml' cannot"):
        add_table(place, bad, name="t.xlsx")
