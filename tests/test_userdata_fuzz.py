"""Hostile and careless uploads, generated: only placekit's own errors, and the place unchanged.

Over 1,000 generated CSV, XLSX and GeoJSON files (plus raw bytes) go through
``add_table``/``add_points`` on the real Sheffield place. Each call either returns a new
place or raises a :class:`~placekit.errors.PlacekitError` whose message carries no
markup; either way the place it was given is unchanged.
"""

from __future__ import annotations

import csv
import io
import json
import math
import warnings
from datetime import datetime

import hypothesis.strategies as st
import openpyxl
import pytest
from hypothesis import HealthCheck, given, settings

from placekit.errors import PlacekitError
from placekit.userdata import add_points, add_table

SETTINGS = {
    "deadline": None,
    "database": None,
    "derandomize": True,
    "suppress_health_check": [
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.filter_too_much,
    ],
}
HOSTILE = [
    "inf",
    "-inf",
    "+inf",
    "Infinity",
    "1e400",
    "-1e400",
    "1e308",
    "NaN",
    "nan",
    "N/A",
    "NA",
    "null",
    "-",
    "*",
    "<5",
    "c",
    "1,5",
    "1,234",
    "12,345.6",
    "1.2.3",
    "0x10",
    "1_000",
    "١٢",
    "\uff11\uff12",
    "12%",
    "£12",
    " 7 ",
    "3.0",
    "2.5",
    "-0",
    "-3",
    "1e9",
    "3e9",
    "",
    " ",
    "TRUE",
    "=1+1",
    "=cmd|' /C calc'!A0",
    "![x](https://evil.example/a.png)",
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "$x$",
    "\u202eevil",
    "\ufeff",
    "a\nb",
    '"',
    "'",
    "\\",
    "E01",
    "e01007823",
    " E01007823 ",
    "E02001234",
    "E05010000",
    "E01000001",
    "W01000001",
    "x" * 300,
]
HEADINGS = [
    "lsoa_code",
    "LSOA11CD",
    "lsoa21cd",
    "code",
    "referrals",
    "Count A",
    "count-a",
    "count_a",
    "visits per 1000",
    "rate",
    "score",
    "%",
    "",
    " ",
    "referrals",
    "Referrals",
    "\ufefflsoa_code",
    "![h](http://e.vil/x.png)",
    "<b>n</b>",
    "n" * 250,
    "日本",
    "user referrals",
    "a.1",
    "1st",
]


@pytest.fixture(scope="module")
def codes(place):
    """2021 codes, 2011 codes (splits and merges among them), and a mixed list."""
    c21 = [*sorted(map(str, place.lsoa.index))[:30], "E01034843", "E01034845", "E01034846"]
    c11 = [
        *sorted(set(place.lookup11["LSOA11CD"].astype(str)))[:30],
        "E01033278",
        "E01007859",
        "E01007860",
    ]
    return {"2021": c21, "2011": c11, "all": c21 + c11}


@st.composite
def valid_rows(draw, codes, *, xlsx=False):
    """A well-formed table: unique codes of one vintage, whole counts or decimal rates."""
    pool = codes[draw(st.sampled_from(["2021", "2011"]))]
    keys = draw(st.lists(st.sampled_from(pool), min_size=1, max_size=25, unique=True))
    n_cols = draw(st.integers(1, 3))
    head = [
        "lsoa_code",
        *draw(
            st.lists(
                st.sampled_from(
                    ["referrals", "visits", "rate per 1000", "score", "Count A", "falls", "%"]
                ),
                min_size=n_cols,
                max_size=n_cols,
                unique=True,
            )
        ),
    ]
    rows = []
    for k in keys:
        row = [k]
        for h in head[1:]:
            rate = h in ("rate per 1000", "score", "%")
            v = draw(st.floats(0, 500).map(lambda x: round(x, 2)) if rate else st.integers(0, 60))
            row.append(v if xlsx else str(v))
        rows.append(row)
    return head, rows


def _snapshot(place):
    return (
        place.indicators.copy(),
        len(place.catalogue),
        dict(place.suppress),
        sorted(place.layers),
    )


def _unchanged(place, snap):
    ind, ncat, supp, layers = snap
    return (
        place.indicators.equals(ind)
        and len(place.catalogue) == ncat
        and place.suppress == supp
        and sorted(place.layers) == layers
    )


def _run(place, fn, body, **kw):
    """Call the loader; only PlacekitError may escape; the place must be unchanged."""
    snap = _snapshot(place)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            new = fn(place, body, **kw)
        except PlacekitError as err:
            text = str(err)
            assert "<" not in text and "](" not in text and "://" not in text, text
            assert _unchanged(place, snap)
            return "refused"
    assert _unchanged(place, snap)
    added = [c for c in new.indicators.columns if c not in place.indicators.columns]
    assert added
    for i in added:
        row = new.catalogue.row(i)
        assert "<" not in row["label"] and "[" not in row["label"] and "<" not in row["source"]
        if row["kind"] == "count":
            v = new.indicators[i].dropna()
            assert (v == v.round()).all() and (v >= 0).all()  # counts are whole, never shares
            assert new.suppress[i] == i
    for k, layer in new.layers.items():
        if k not in place.layers:
            assert set(layer.columns) <= {"name", "count", "geometry"}
    return "loaded"


# ----------------------------------------------------------------------------- CSV


def _cell(codes):
    return st.one_of(
        st.sampled_from(codes),
        st.sampled_from(HOSTILE),
        st.integers(-10, 10**12).map(str),
        st.floats(allow_nan=True, allow_infinity=True).map(repr),
        st.text(max_size=12),
    )


@st.composite
def csv_files(draw, codes):
    mode = draw(st.sampled_from(["valid", "valid", "mutated", "mutated", "wild"]))
    if mode != "wild":
        head, rows = draw(valid_rows(codes))
        if mode == "mutated":  # one careless or hostile change to a good file
            r = draw(st.integers(0, len(rows)))
            c = draw(st.integers(0, len(head) - 1))
            bad = draw(st.sampled_from(HOSTILE) | st.sampled_from(HEADINGS) | _cell(codes["all"]))
            if r == len(rows):
                head[c] = bad
            else:
                rows[r][c] = bad
    else:
        width = draw(st.integers(0, 7))
        head = [draw(st.sampled_from(HEADINGS) | st.text(max_size=10)) for _ in range(width)]
        if draw(st.booleans()) and width:
            head[0] = draw(st.sampled_from(["lsoa_code", "LSOA11CD", "code"]))
        rows = []
        for _ in range(draw(st.integers(0, 25))):
            n = width + draw(st.sampled_from([0, 0, 0, 0, -1, 1, 3]))
            row = [draw(st.sampled_from(codes["all"]))] if draw(st.booleans()) else []
            row += [draw(_cell(codes["all"])) for _ in range(max(n - len(row), 0))]
            rows.append(row)
    sep = draw(st.sampled_from([",", ",", ";", "\t", "|"]))
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=sep, lineterminator=draw(st.sampled_from(["\n", "\r\n"])))
    w.writerow(head)
    w.writerows(rows)
    text = buf.getvalue()
    enc = draw(st.sampled_from(["utf-8"] * 4 + ["utf-8-sig", "utf-16", "cp1252", "latin-1"]))
    body = text.encode(enc, errors="replace")
    if draw(st.integers(0, 9)) == 0:  # truncated, or noise spliced in
        cut = draw(st.integers(0, len(body)))
        body = body[:cut] + draw(st.binary(max_size=8))
    name = draw(
        st.sampled_from(
            ["t.csv"] * 6
            + ["t.txt", "t.tsv", "<b>t</b>.csv", "![t](http://e.vil/x.png).csv", "t.xlsx", "t"]
        )
    )
    encoding = draw(st.sampled_from([None] * 8 + ["cp1252", "utf-16", "no-such-codec"]))
    return body, name, encoding


def test_fuzz_csv_tables(place, codes):
    seen = {"loaded": 0, "refused": 0}

    @settings(max_examples=650, **SETTINGS)
    @given(csv_files(codes), st.sampled_from(["auto", "auto", "count", "rate"]))
    def check(case, kind):
        body, name, encoding = case
        seen[_run(place, add_table, body, name=name, encoding=encoding, kind=kind)] += 1

    check()
    print(seen)
    assert sum(seen.values()) >= 650
    assert seen["loaded"] >= 10 and seen["refused"] >= 100, seen


# ----------------------------------------------------------------------------- XLSX


def _xcell(codes):
    return st.one_of(
        st.sampled_from(codes),
        st.sampled_from(HOSTILE),
        st.integers(-(10**15), 10**15),
        st.floats(allow_nan=True, allow_infinity=True),
        st.booleans(),
        st.none(),
        st.just(datetime(2024, 1, 31)),
    )


@st.composite
def xlsx_files(draw, codes):
    wb = openpyxl.Workbook()
    ws = wb.active
    if draw(st.booleans()):
        head, body_rows = draw(valid_rows(codes, xlsx=True))
        if draw(st.booleans()):
            r, c = draw(st.integers(0, len(body_rows) - 1)), draw(st.integers(0, len(head) - 1))
            body_rows[r][c] = draw(_xcell(codes["all"]))
        rows = [head, *body_rows]
    else:
        width = draw(st.integers(1, 6))
        head = [draw(st.sampled_from(HEADINGS)) for _ in range(width)]
        if draw(st.booleans()):
            head[0] = "lsoa_code"
        rows = [head]
        for _ in range(draw(st.integers(0, 20))):
            rows.append(
                [draw(st.sampled_from(codes["all"]))]
                + [draw(_xcell(codes["all"])) for _ in range(width - 1)]
            )
    for r, row in enumerate(rows, start=1):
        for c, v in enumerate(row, start=1):
            try:
                ws.cell(row=r, column=c, value=v)
            except (ValueError, TypeError):  # openpyxl refuses control characters
                ws.cell(row=r, column=c, value="?")
    if draw(st.integers(0, 9)) == 0:  # a far-away cell: padding rows and columns
        ws.cell(row=draw(st.integers(30, 5000)), column=draw(st.integers(1, 300)), value=1)
    wb.properties.created = wb.properties.modified = datetime(2024, 1, 1)
    buf = io.BytesIO()
    wb.save(buf)
    body = buf.getvalue()
    if draw(st.integers(0, 9)) == 0:  # damaged: truncated or a byte flipped
        k = draw(st.integers(0, 10**6)) * (len(body) - 1) // 10**6  # zip bytes vary by clock
        body = (
            body[:k] if draw(st.booleans()) else body[:k] + bytes([body[k] ^ 0xFF]) + body[k + 1 :]
        )
    return body, draw(st.sampled_from(["t.xlsx", "t.xlsx", "t.csv", "t"]))


def test_fuzz_xlsx_tables(place, codes):
    seen = {"loaded": 0, "refused": 0}

    @settings(max_examples=250, **SETTINGS)
    @given(xlsx_files(codes))
    def check(case):
        body, name = case
        seen[_run(place, add_table, body, name=name)] += 1

    check()
    print(seen)
    assert sum(seen.values()) >= 250
    assert seen["loaded"] >= 5 and seen["refused"] >= 50, seen


# ----------------------------------------------------------------------------- GeoJSON

# inside Sheffield, WGS84
LON, LAT = (-1.55, -1.40), (53.34, 53.42)
BAD_FLOATS = [math.nan, math.inf, -math.inf, 1e308, -1e308, 1e30, 0.0, 181.0, 91.0]


def _coord():
    good = st.tuples(st.floats(*LON), st.floats(*LAT)).map(list)
    bad = st.lists(st.sampled_from(BAD_FLOATS) | st.floats(*LON), min_size=0, max_size=4)
    return st.one_of(good, good, good, bad, st.sampled_from(["x", None, {}, [[1, 2]]]))


def _geometry():
    c = _coord()
    return st.one_of(
        st.builds(lambda p: {"type": "Point", "coordinates": p}, c),
        st.builds(lambda p: {"type": "MultiPoint", "coordinates": p}, st.lists(c, max_size=5)),
        st.builds(lambda p: {"type": "LineString", "coordinates": p}, st.lists(c, max_size=4)),
        st.builds(
            lambda p: {"type": "Polygon", "coordinates": [p + p[:1]]},
            st.lists(c, min_size=3, max_size=5),
        ),
        st.builds(
            lambda g: {"type": "GeometryCollection", "geometries": g},
            st.lists(st.builds(lambda p: {"type": "Point", "coordinates": p}, c), max_size=3),
        ),
        st.none(),
        st.sampled_from(
            [{"type": "Point"}, {"type": "Circle", "coordinates": [1, 2]}, "Point", [], 7]
        ),
    )


_JSON = st.recursive(
    st.none() | st.booleans() | st.floats(allow_nan=True) | st.sampled_from(HOSTILE),
    lambda kids: (
        st.lists(kids, max_size=3) | st.dictionaries(st.sampled_from(HEADINGS), kids, max_size=3)
    ),
    max_leaves=12,
)


@st.composite
def valid_features(draw):
    """Points and MultiPoints well inside Sheffield, with names (which must stay off the map)."""
    pt = st.tuples(st.floats(-1.50, -1.44), st.floats(53.36, 53.40)).map(list)
    geom = st.one_of(
        st.builds(lambda p: {"type": "Point", "coordinates": p}, pt),
        st.builds(
            lambda p: {"type": "MultiPoint", "coordinates": p}, st.lists(pt, min_size=1, max_size=4)
        ),
    )
    return [
        {
            "type": "Feature",
            "properties": {"name": draw(st.sampled_from(HOSTILE))},
            "geometry": draw(geom),
        }
        for _ in range(draw(st.integers(1, 15)))
    ]


@st.composite
def geojson_files(draw):
    if draw(st.integers(0, 2)) == 0:
        feats = draw(valid_features())
        if draw(st.booleans()):  # one careless or hostile feature
            feats[draw(st.integers(0, len(feats) - 1))]["geometry"] = draw(_geometry())
        text = json.dumps({"type": "FeatureCollection", "features": feats}, allow_nan=True)
        return text.encode(), draw(st.sampled_from(["v.geojson", "v.json", "v"]))
    feats = []
    for _ in range(draw(st.integers(0, 12))):
        props = draw(
            st.dictionaries(
                st.sampled_from(["name", "id", "<b>", "n" * 40]),
                st.sampled_from(HOSTILE) | _JSON,
                max_size=3,
            )
        )
        f = {
            "type": draw(st.sampled_from(["Feature"] * 8 + ["feature", "Point"])),
            "properties": props,
            "geometry": draw(_geometry()),
        }
        feats.append(f)
    doc = draw(st.sampled_from(["fc"] * 8 + ["feature", "list", "deep", "deep", "junk"]))
    if doc == "fc":
        obj = {"type": "FeatureCollection", "features": feats}
        if draw(st.booleans()):
            obj["crs"] = {
                "type": "name",
                "properties": {
                    "name": draw(
                        st.sampled_from(
                            [
                                "EPSG:4326",
                                "EPSG:27700",
                                "urn:ogc:def:crs:OGC:1.3:CRS84",
                                "EPSG:99999",
                            ]
                        )
                    )
                },
            }
    elif doc == "feature":
        obj = feats[0] if feats else {"type": "Feature", "geometry": None, "properties": {}}
    elif doc == "list":
        obj = feats
    else:
        obj = draw(_JSON)
    try:
        text = json.dumps(obj, allow_nan=True)
    except (ValueError, RecursionError):
        text = "[" * 5000
    if doc == "deep":  # nesting far past what any parser should accept
        depth = draw(st.integers(30, 100_000))
        text = (
            '{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"a":'
            + "[" * depth
            + "]" * depth
            + '},"geometry":{"type":"Point","coordinates":[-1.47,53.38]}}]}'
        )
    body = text.encode("utf-8")
    if draw(st.integers(0, 9)) == 0:
        body = body[: draw(st.integers(0, len(body)))]
    return body, draw(st.sampled_from(["p.geojson", "p.geojson", "p.json", "p.gpkg", "p"]))


def test_fuzz_geojson_points(place):
    seen = {"loaded": 0, "refused": 0}

    @settings(max_examples=1000, **SETTINGS)
    @given(geojson_files(), st.sampled_from(["areas", "areas", "points", "none"]))
    def check(case, map_layer):
        body, name = case
        seen[_run(place, add_points, body, name=name, map_layer=map_layer)] += 1

    check()
    print(seen)
    assert sum(seen.values()) >= 1000
    assert seen["loaded"] >= 10 and seen["refused"] >= 50, seen


# ----------------------------------------------------------------------------- raw bytes


def test_fuzz_raw_bytes_both_loaders(place):
    seen = {"loaded": 0, "refused": 0}

    @settings(max_examples=100, **SETTINGS)
    @given(
        st.binary(max_size=300)
        | st.sampled_from(
            [
                b"PK\x03\x04",
                b"PK\x05\x06" + b"\0" * 18,
                b"SQLite format 3\x00",
                b"\xd0\xcf\x11\xe0",
                b"\xff\xfe",
                b"\xef\xbb\xbf",
            ]
        ),
        st.sampled_from(["x.csv", "x.xlsx", "x.geojson", "x.gpkg", "x.zip", "x"]),
        st.booleans(),
    )
    def check(body, name, points):
        seen[_run(place, add_points if points else add_table, body, name=name)] += 1

    check()
    print(seen)
    assert sum(seen.values()) >= 100
