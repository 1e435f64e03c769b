import json
import re

import geopandas as gpd
import numpy as np
import pandas as pd
from shapely.geometry import box

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
    assert labels[-1] == "no change" and any(x.startswith("better") for x in labels)
    assert any(x.startswith("worse") for x in labels)
    fills = {f["properties"]["code"]: f["properties"]["fill"][:3] for f in layer.data["features"]}
    assert fills["c0"] == list(pl.NO_CHANGE)
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
