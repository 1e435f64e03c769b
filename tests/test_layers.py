import json
import re

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import Point, Polygon, box

from placekit import layers as pl


def _grid(values):
    geoms = [box(430000 + i * 100, 380000, 430100 + i * 100, 380100) for i in range(len(values))]
    return gpd.GeoDataFrame(
        {"area_name": [f"a{i}" for i in range(len(values))], "v": values},
        geometry=geoms,
        crs="EPSG:27700",
        index=[f"c{i}" for i in range(len(values))],
    )


def test_quantile_breaks_handworked():
    t = _grid([1.0, 2, 3, 4, 5, 6, 7, 8, 9, 10])
    layer, lg = pl.choropleth(t, "v", title="v")
    assert lg.method == "5 classes, quantiles"
    assert [e[0] for e in lg.entries] == [
        "1.00 – 2.80",
        "2.80 – 4.60",
        "4.60 – 6.40",
        "6.40 – 8.20",
        "8.20 – 10.00",
    ]
    feats = layer.data["features"]
    assert feats[0]["properties"]["rank"] == "10 of 10"  # higher is worse: value 1 is the best
    assert feats[-1]["properties"]["rank"] == "1 of 10"


def test_ties_and_missing():
    t = _grid([0.0, 0, 0, 0, 0, 0, 0, -3, np.nan, -1])
    layer, lg = pl.choropleth(t, "v", title="v")
    labels = [e[0] for e in lg.entries]
    assert labels[-1] == "no data"
    assert len(labels) - 1 == len({*labels[:-1]})  # distinct classes only
    vals = [f["properties"]["value"] for f in layer.data["features"]]
    assert vals[8] == "no data"


def test_suppressed_is_not_no_data():
    t = _grid([1.0, 2, 3, 4, 5, 6, 7, np.nan, np.nan, 10])
    hidden = pd.Series([False] * 7 + [True, False, False], index=t.index)
    layer, lg = pl.choropleth(t, "v", title="v", suppressed=hidden, whole=True)
    labels = [e[0] for e in lg.entries]
    assert labels[-2:] == ["suppressed (< 5)", "no data"]
    vals = [f["properties"]["value"] for f in layer.data["features"]]
    assert vals[7] == "suppressed (< 5)" and vals[8] == "no data"
    assert vals[0] == "1" and "." not in "".join(labels[:-2])  # whole people, no decimals
    fills = [tuple(f["properties"]["fill"][:3]) for f in layer.data["features"]]
    assert fills[7] != fills[8]


def test_label_layer_names_from_place(place):
    layer = pl.label_layer(place, place.locality_level)
    spec = json.loads(pl.deck([layer], pl.view_for(place.lsoa)).to_json())["layers"][0]
    assert spec["@@type"] == "TextLayer"
    names = {d["label"] for d in spec["data"]}
    assert names == set(place.localities[place.locality_level]["area_name"].astype(str))


def test_map_html_has_title_legend_date_and_no_cdn(place):
    layer, lg = pl.choropleth(place.table("lsoa", ["imd2025_score"]), "imd2025_score", title="IMD")
    html = pl.map_html(
        pl.deck([layer], pl.view_for(place.lsoa)),
        title="IMD 2025 by LSOA",
        legend=lg,
        source="MHCLG",
        date="2026-01-02",
    )
    assert "IMD 2025 by LSOA" in html and "2026-01-02" in html and "Source: MHCLG" in html
    assert lg.entries[0][0] in html
    # no tag that makes the browser fetch from the web (the bundled JS names URLs it never loads)
    assert not re.search(r"<(link|script|img)[^>]+(src|href)=[\"']?https?://", html)


def test_bivariate_classes():
    a = pd.Series([1, 2, 3, 4, 5, 6])
    b = pd.Series([6, 5, 4, 3, 2, 1])
    assert pl.bivariate_classes(a, b).tolist() == [2, 2, 4, 4, 6, 6]


def test_tooltip_is_text_and_no_remote_base():
    d = pl.deck([], pl.view_for(_grid([1.0, 2])))
    spec = d.to_json()
    assert "mapbox://" not in spec and "html" not in pl.TOOLTIP


def test_fisher_jenks_handworked():
    from placekit.classes import breaks

    v = np.array([1.0, 2, 3, 10, 11, 12, 30, 31])
    assert breaks(v, k=3, scheme="natural_breaks") == [3.0, 12.0, 31.0]
    rng = np.random.default_rng(0)
    x = rng.random(60)
    b = breaks(x, k=4, scheme="natural_breaks")

    def wcss(bounds):
        cls = np.searchsorted(bounds, x)
        return sum(((x[cls == c] - x[cls == c].mean()) ** 2).sum() for c in np.unique(cls))

    # optimal: no worse than quantile breaks
    assert wcss(b) <= wcss(list(np.quantile(x, [0.25, 0.5, 0.75, 1.0]))) + 1e-12


def test_compact_deck_json_is_small():
    import json

    t = _grid([1.0, 2, 3, 4, 5])
    layer, _ = pl.choropleth(t, "v", title="v")
    d = pl.deck([layer], pl.view_for(t))
    compact = d.to_json()
    assert "\n" not in compact
    import pydeck as pdk

    pretty = pdk.Deck(
        layers=[layer], initial_view_state=pl.view_for(t), map_provider=None
    ).to_json()
    assert json.loads(compact)["layers"] == json.loads(pretty)["layers"]
    assert len(compact) < len(pretty) / 2


def test_online_basemap_only_when_configured(monkeypatch):
    import json

    view = pl.view_for(_grid([1.0, 2]))
    assert json.loads(pl.deck([], view).to_json()).get("mapProvider") in (None, "")
    monkeypatch.setenv("PLACEKIT_BASEMAP", "https://example.invalid/style.json")
    spec = json.loads(pl.deck([], view).to_json())
    assert spec["mapStyle"] == "https://example.invalid/style.json"


def test_view_fits_extent():
    g = _grid([1.0] * 10)  # 1 km wide strip
    v = pl.view_for(g, width_px=1000, height_px=500)
    # at the returned zoom the strip's width in pixels is at most the map width,
    # and more than half of it

    b = g.to_crs(4326).total_bounds
    px = (b[2] - b[0]) / 360 * 512 * 2**v.zoom
    assert 500 < px <= 1000


def test_change_map_classes():
    t = _grid([0.0, 0, 0, -1, -2, -3, -4, 2.0])
    layer, lg = pl.change_choropleth(t, "v", title="change")
    labels = [e[0] for e in lg.entries]
    # improvements 1-4 in tertiles of their size (2, 3, 4); the smallest class reads "up to",
    # never "0.00 - ...", which would read as no change
    assert labels == [
        "better: up to 2.00",
        "better: 2.00 – 3.00",
        "better: 3.00 – 4.00",
        "worse: up to 2.00",
        "no change (not coloured)",
    ]
    fills = {f["properties"]["code"]: f["properties"]["fill"][:3] for f in layer.data["features"]}
    # only the five areas that changed are drawn: the others show the base map's land,
    # whose colour the "no change" entry carries
    assert sorted(fills) == ["c3", "c4", "c5", "c6", "c7"]
    assert lg.entries[-1][1] == pl.BASE_LAND
    assert fills["c6"] == list(pl.BETTER[-1]) and fills["c7"] in [list(c) for c in pl.WORSE]


def test_categorical_legend_names_categories():
    t = _grid([1.0, 2, 3])
    t["tier"] = ["tertiary", "primary", "tertiary"]
    layer, lg = pl.categorical(t, "tier", title="Tier", colours=pl.TIER_RGB)
    assert [e[0] for e in lg.entries] == [
        "tertiary (2)",
        "secondary (0)",
        "primary (1)",
        "universal (0)",
    ]
    fills = [f["properties"]["fill"][:3] for f in layer.data["features"]]
    assert fills[0] == list(pl.TIER_RGB["tertiary"]) and fills[1] == list(pl.TIER_RGB["primary"])


def test_static_areas_and_expression_colouring(tmp_path):
    import json
    import re

    t = _grid([1.0, 2, 3, 4, 5, 6, 7, 8, 9, np.nan])
    name = pl.write_static_areas(t, tmp_path)
    assert name == pl.write_static_areas(t, tmp_path)  # content-addressed: same data, same file
    feats = json.loads((tmp_path / name).read_text())["features"]
    assert feats[9]["properties"]["v"] is None and feats[0]["properties"]["v__rank"] == "9 of 9"
    layer, _lg, tip = pl.static_choropleth(f"app/static/{name}", t["v"], "v", title="v")
    assert layer.data == f"app/static/{name}" and "{v__rank}" in tip["text"]
    expr = layer.get_fill_color
    bounds = [float(b) for b in re.findall(r"<= ([-0-9.e]+) \?", expr)]
    colours = [json.loads(c) for c in re.findall(r"\? (\[[0-9, ]+\])", expr)][
        1:
    ]  # first is the null colour
    last = json.loads(expr.rsplit(" : ", 1)[1])
    _bins, cols, cls, _ = pl.classify(t["v"])

    def colour_in_browser(x):
        for b, c in zip(bounds, colours, strict=True):
            if x <= b:
                return c[:3]
        return last[:3]

    for f, c in zip(feats[:9], cls[:9], strict=True):
        assert colour_in_browser(f["properties"]["v"]) == list(cols[int(c)])


def test_to_static_moves_inline_geojson_to_a_file(tmp_path):
    import json

    layer, _ = pl.choropleth(_grid([1.0, 2]), "v", title="v")
    inline = layer.data
    (moved,) = pl.to_static([layer], tmp_path)
    assert isinstance(moved.data, str) and moved.data.startswith("app/static/layer_")
    assert json.loads((tmp_path / moved.data.rsplit("/", 1)[1]).read_text()) == json.loads(
        json.dumps(inline)
    )
    assert layer.data is inline  # the original layer is untouched


def test_bivariate_classes_with_one_or_two_areas():
    import pandas as pd

    from placekit.layers import bivariate_classes

    one = bivariate_classes(pd.Series([5.0], index=["a"]), pd.Series([1.0], index=["a"]))
    assert one.tolist() == [0]
    two = bivariate_classes(pd.Series([1.0, 2.0]), pd.Series([9.0, 3.0]))
    assert two.tolist() == [3 * 0 + 1, 3 * 1 + 0]
    six = bivariate_classes(pd.Series(range(6), dtype=float), pd.Series(range(6), dtype=float))
    assert six.tolist() == [0, 0, 4, 4, 8, 8]


def test_html_export_keeps_hostile_names_inside_the_data(place):
    import json as _json

    from placekit import layers as pl

    t = place.table("ward", ["imd2025_score"]).copy()
    evil = "</script><script>window.pwned=1</script>"
    t.iloc[0, t.columns.get_loc("area_name")] = evil
    layer, _ = pl.choropleth(t, "imd2025_score", title="IMD")
    d = pl.deck([layer], pl.view_for(t))
    spec = _json.loads(d.to_json())
    names = [f["properties"]["name"] for f in spec["layers"][0]["data"]["features"]]
    assert evil in names  # the data is intact once parsed
    html_text = pl.map_html(d, attributions=place.attributions)
    assert "<script>window.pwned" not in html_text
    assert "\\u003c/script\\u003e" in html_text


# ----------------------------------------------------------------- labels that do not collide
class _Areas:
    """A stand-in place whose ``areas(level)`` is a hand-made frame."""

    def __init__(self, frame):
        self.frame = frame

    def areas(self, level):
        return self.frame


def _two_named_squares():
    # "Zeta" (800 m square) and "Beta" (400 m square) side by side; their label points
    # (the squares' centres) are 600 m apart east-west at about 53.38 N
    big = box(435000, 387000, 435800, 387800)
    small = box(435800, 387200, 436200, 387600)
    return gpd.GeoDataFrame(
        {"area_name": ["Beta", "Zeta"]},
        geometry=[small, big],
        crs="EPSG:27700",
        index=["b", "z"],
    )


def test_mercator_pixels_and_label_boxes_handworked():
    from placekit._cartography import label_boxes_px, lonlat_to_px

    x, y = lonlat_to_px(np.array([0.0, 180.0, -90.0]), np.array([0.0, 0.0, 0.0]), 0)
    assert x.tolist() == [256.0, 512.0, 128.0] and y.tolist() == [256.0, 256.0, 256.0]
    x1, _ = lonlat_to_px(np.array([1.0]), np.array([0.0]), 11)
    assert x1[0] - 256 * 2**11 == pytest.approx(
        512 * 2**11 / 360
    )  # one degree of longitude at zoom 11
    w, h = label_boxes_px(["Zeta", "Mosborough"], size_px=13)
    assert w.tolist() == [4 * 0.6 * 13 + 6, 10 * 0.6 * 13 + 6] and h.tolist() == [15.0, 15.0]


def test_labels_dropped_at_city_zoom_and_kept_zoomed_in():
    areas = _two_named_squares()
    # at zoom 11 a metre is 1 / 22.8 px here: 600 m is 26 px, less than the half-widths
    # of "Zeta" and "Beta" (18.6 + 18.6 = 37.2 px), so the boxes overlap; at zoom 15, 421 px
    at11 = pl.label_points(areas, zoom=11)
    assert at11["label"].tolist() == ["Zeta"]  # the larger area wins, though "Beta" sorts first
    assert at11.attrs["dropped"] == 1
    at15 = pl.label_points(areas, zoom=15)
    assert at15["label"].tolist() == ["Beta", "Zeta"] and at15.attrs["dropped"] == 0
    assert len(pl.label_points(areas, zoom=None)) == 2  # None keeps every name
    spec = pl.label_layer(_Areas(areas), "ward", zoom=11)
    assert spec.id == "labels-ward" and [d["label"] for d in spec.data] == ["Zeta"]
    assert spec.background_padding == [3, 1]


def test_label_ties_go_by_name():
    from placekit._cartography import thin_labels

    keep = thin_labels(
        np.array([-1.47, -1.4701]),
        np.array([53.38, 53.38]),
        ["Walkley", "Crookes"],
        np.array([1.0, 1.0]),
        zoom=11,
        size_px=13,
    )
    assert keep.tolist() == [False, True]


def test_ward_labels_kept_do_not_overlap(place):
    from placekit._cartography import label_boxes_px, lonlat_to_px

    view = pl.view_for(place.lsoa)
    areas = place.areas("ward")
    kept = pl.label_points(areas, zoom=view.zoom)
    assert 0 < len(kept) < len(areas) and kept.attrs["dropped"] == len(areas) - len(kept)
    x, y = lonlat_to_px(kept["lon"].to_numpy(), kept["lat"].to_numpy(), view.zoom)
    w, h = label_boxes_px(kept["label"].tolist(), size_px=13)
    for i in range(len(kept)):
        for j in range(i):
            assert abs(x[i] - x[j]) >= (w[i] + w[j]) / 2 or abs(y[i] - y[j]) >= (h[i] + h[j]) / 2
    # the largest ward is always named; zoomed in three levels, every ward is
    assert areas.geometry.area.idxmax() in kept.index
    assert pl.label_points(areas, zoom=view.zoom + 3).attrs["dropped"] == 0


# -------------------------------------------------------------- shared edges stay shared
def _squares_with_wiggly_shared_edge():
    # two 100 m squares meeting along a wiggly edge x = 100 + 6 sin(y / 7); the left ring
    # starts half way up that edge, so simplifying each ring alone treats it differently
    x0, y0 = 435000.0, 387000.0
    ys = np.arange(0, 101, 5.0)
    edge = [(x0 + 100 + 6 * np.sin(yy / 7.0), y0 + yy) for yy in ys]
    left = Polygon([*edge[9:], (x0, y0 + 100), (x0, y0), *edge[:9]])
    right = Polygon([*edge, (x0 + 200, y0 + 100), (x0 + 200, y0)])
    return gpd.GeoDataFrame(
        {"area_name": ["left", "right"]}, geometry=[left, right], crs="EPSG:27700", index=["l", "r"]
    )


def _holes_m2(geom):
    return sum(Polygon(r).area for p in getattr(geom, "geoms", [geom]) for r in p.interiors)


def test_coverage_simplify_leaves_no_slivers():
    import shapely

    from placekit._cartography import simplify_coverage

    g = _squares_with_wiggly_shared_edge()
    assert g.area.sum() == pytest.approx(20_000.0)
    alone = g.geometry.simplify(10.0).to_numpy()  # what the app served before
    u = shapely.union_all(alone)
    assert shapely.area(alone).sum() - u.area > 100  # the two disagree: overlap ...
    assert _holes_m2(u) > 10  # ... and a gap between them
    shared = simplify_coverage(g.geometry.to_numpy(), 10.0)
    u = shapely.union_all(shared)
    assert shapely.area(shared).sum() == pytest.approx(u.area, abs=1e-6)
    assert u.area == pytest.approx(20_000.0, abs=1e-6) and _holes_m2(u) == 0
    assert shapely.area(shapely.intersection(shared[0], shared[1])) == pytest.approx(0, abs=1e-9)
    assert shapely.get_num_coordinates(shared).tolist() == [9, 9]  # and it did simplify


def test_display_geometry_keeps_shared_edges_after_reprojection():
    import shapely

    g = pl._to_display(_squares_with_wiggly_shared_edge(), 10.0, coverage=True)
    a, b = g.geometry.to_numpy()
    # the coordinates of the shared edge are identical in EPSG:4326 (rounded the same way)
    common = set(a.exterior.coords) & set(b.exterior.coords)
    assert len(common) == 6  # the 6 vertices kept on the shared edge, 2 of them its ends
    assert shapely.area(shapely.intersection(a, b)) == 0


def test_overlapping_polygons_fall_back_to_simplifying_each():
    import shapely

    from placekit._cartography import simplify_coverage

    zig = [(x, 5 * (x % 20 == 10)) for x in range(0, 201, 10)]
    a = Polygon([*zig, (200, 100), (0, 100)])
    b = shapely.affinity.translate(a, 50, 30)  # overlaps a by a large area: not a coverage
    out = simplify_coverage([a, b, None], 8.0)
    assert out[2] is None
    expect = shapely.simplify(np.array([a, b]), 8.0, preserve_topology=True)
    assert [g.equals(e) for g, e in zip(out[:2], expect, strict=True)] == [True, True]


def test_near_coverage_is_cleaned_before_simplifying():
    import shapely

    from placekit._cartography import simplify_coverage

    # the right square has a vertex on the shared edge the left one lacks (edge not matched)
    left = Polygon([(0, 0), (100, 0), (100, 100), (0, 100)])
    right = Polygon([(100, 0), (200, 0), (200, 100), (100, 100), (100, 40)])
    assert not shapely.coverage_is_valid([left, right])
    out = simplify_coverage([left, right], 5.0)
    u = shapely.union_all(out)
    assert u.area == pytest.approx(20_000.0) and shapely.area(out).sum() == pytest.approx(u.area)


def test_sheffield_lsoas_served_without_slivers(place):
    import shapely

    raw = place.lsoa[["area_name", "geometry"]]
    raw_holes_m2 = _holes_m2(shapely.union_all(raw.geometry.to_numpy()))

    def gaps_and_overlaps_m2(coverage):
        served = pl._to_display(raw, pl.DISPLAY_SIMPLIFY_M, coverage=coverage)
        assert served.index.equals(raw.index)
        # back in metres; rounding to 5 decimals can leave a ring touching itself
        geoms = shapely.make_valid(served.to_crs(raw.crs).geometry.to_numpy())
        u = shapely.union_all(geoms)
        return _holes_m2(u) - raw_holes_m2, shapely.area(geoms).sum() - u.area

    gaps_m2, overlaps_m2 = gaps_and_overlaps_m2(True)
    assert gaps_m2 < 1.0 and overlaps_m2 < 100.0  # only the 1 m rounding of coordinates
    before_gaps_m2, before_overlaps_m2 = gaps_and_overlaps_m2(False)
    assert before_gaps_m2 > 100_000 and before_overlaps_m2 > 100_000  # over 1 km2 each


# ------------------------------------------------------------------------------- views
def _zoom_fits(bounds_ll, zoom, width_px, height_px):
    from placekit._cartography import lonlat_to_px

    x, y = lonlat_to_px(np.array(bounds_ll[::2]), np.array(bounds_ll[1::2]), zoom)
    return abs(x[1] - x[0]), abs(y[1] - y[0])


def test_search_view_shows_the_area_and_its_neighbours():
    from types import SimpleNamespace

    ward = gpd.GeoDataFrame(
        {"area_name": ["W"]}, geometry=[box(430000, 385000, 435000, 390000)], crs=27700, index=["w"]
    )
    hit = SimpleNamespace(level="ward", code="w", lon=-1.53, lat=53.37)
    v = pl.search_view(_Areas(ward), hit, width_px=900, height_px=560)
    assert (v.longitude, v.latitude) == (-1.53, 53.37)  # centred on the hit's point
    # a 5 km square padded x3 is 15 km: at 53.4 N that fits 560 px high at zoom about 10.6
    assert 10.5 < v.zoom < 10.75
    w_px, h_px = _zoom_fits(ward.to_crs(4326).total_bounds, v.zoom, 900, 560)
    assert 0.3 * 560 < h_px <= 560 / 3 and w_px < 900 / 3
    lsoa = gpd.GeoDataFrame(
        {"area_name": ["L"]}, geometry=[box(435000, 387000, 435500, 387500)], crs=27700, index=["l"]
    )
    near = pl.search_view(
        _Areas(lsoa), SimpleNamespace(level="lsoa", code="l", lon=-1.47, lat=53.38)
    )
    assert near.zoom == 13.5  # a 500 m LSOA padded x3 would be 14.5
    nowhere = SimpleNamespace(level="lsoa", code="", lon=-1.4, lat=53.3)
    assert pl.search_view(_Areas(lsoa), nowhere).zoom == 13.5


def test_search_view_from_a_real_postcode(place):
    from placekit import workflows as wf

    pc = str(place.postcodes().index[0])
    hit = wf.search_place(place, pc)
    v = pl.search_view(place, hit)
    assert v.zoom <= 13.5 and v.zoom > pl.view_for(place.lsoa).zoom
    assert (v.longitude, v.latitude) == (hit.lon, hit.lat)


def test_change_view_fits_the_changed_areas_and_sites():
    t = _grid([0.0] * 10)  # ten 100 m squares in a row
    change = pd.Series([0, 0, -2.0, 0, 0, 0, 0, 0, 1.5, np.nan], index=t.index)
    v = pl.change_view(t, change, width_px=560, height_px=420, max_zoom=20)
    b = t.loc[["c2", "c8"]].to_crs(4326).total_bounds
    assert v.longitude == pytest.approx((b[0] + b[2]) / 2)
    w_px, _ = _zoom_fits(b, v.zoom, 560, 420)
    assert 560 / 1.2 * 0.85 < w_px <= 560 / 1.2  # 700 m padded 1.2 times fills the width
    assert pl.change_view(t, change).zoom == 14.0  # capped
    assert pl.change_view(t, change * 0) is None  # nothing changed: the whole place
    site = gpd.GeoSeries([Point(431500, 380050)], crs=27700)  # a new site east of the row
    with_site = pl.change_view(t, change * 0, points=site, max_zoom=20)
    assert with_site.longitude == pytest.approx(site.to_crs(4326).x.iloc[0])
    wide = pl.change_view(t, change, points=site, max_zoom=20)
    assert wide.zoom < v.zoom


def test_tooltips_in_words():
    t = _grid([6.2, 3.0, np.nan])
    loc = pd.Series(["Central", "North", "North"], index=t.index)
    layer, _lg = pl.choropleth(t, "v", title="v", unit="% of residents", locality=loc)
    tips = [f["properties"]["tip"] for f in layer.data["features"]]
    # the worst (highest) first in rank; no data has no unit and no rank
    assert tips == [
        "a0 (c0)\n6.20 % of residents\nrank 1 of 2 (1 = worst)\nCentral",
        "a1 (c1)\n3.00 % of residents\nrank 2 of 2 (1 = worst)\nNorth",
        "a2 (c2)\nno data\nNorth",
    ]
    assert pl.TOOLTIP == {"text": "{tip}"}
    kinds, _ = pl.categorical(t.assign(k=["x", "y", None]), "k", title="Type")
    assert [f["properties"]["tip"] for f in kinds.data["features"]][:2] == [
        "a0 (c0)\nType: x",
        "a1 (c1)\nType: y",
    ]
    # a point with no name is named by its layer, not "nan" or a type code
    pts = gpd.GeoDataFrame(
        {"name": ["Endcliffe Park", None]},
        geometry=[Point(430000, 380000), Point(430100, 380100)],
        crs="EPSG:27700",
    )
    pts.attrs["label"] = "Public green space"
    assert [d["tip"] for d in pl.point_layer(pts, "greenspace").data] == [
        "Public green space: Endcliffe Park",
        "Public green space (unnamed)",
    ]


def test_static_tooltip_text_and_locality_line(tmp_path):
    t = _grid([6.2, np.nan])
    name = pl.write_static_areas(t, tmp_path, units={"v": "% of residents"})
    props = [f["properties"] for f in json.loads((tmp_path / name).read_text())["features"]]
    assert [p["v__text"] for p in props] == ["6.20 % of residents", "no data"]
    _layer, _lg, tip = pl.static_choropleth(f"app/static/{name}", t["v"], "v", title="v")
    assert tip["text"] == "{name} ({code})\n{v__text}\nrank {v__rank} (1 = worst)\n{locality}"
    _layer, _lg, tip = pl.static_choropleth(
        f"app/static/{name}", t["v"], "v", title="v", with_locality=False
    )
    assert "{locality}" not in tip["text"]
