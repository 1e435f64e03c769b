import geopandas as gpd
import numpy as np
import pandas as pd
from shapely.geometry import box

from placekit import layers as pl


def _grid(values):
    geoms = [box(430000 + i * 100, 380000, 430100 + i * 100, 380100) for i in range(len(values))]
    return gpd.GeoDataFrame({"area_name": [f"a{i}" for i in range(len(values))], "v": values},
                            geometry=geoms, crs="EPSG:27700", index=[f"c{i}" for i in range(len(values))])


def test_quantile_breaks_handworked():
    t = _grid([1.0, 2, 3, 4, 5, 6, 7, 8, 9, 10])
    layer, lg = pl.choropleth(t, "v", title="v")
    assert lg.method == "5 classes, quantiles"
    assert [e[0] for e in lg.entries] == ["1.00 – 2.80", "2.80 – 4.60", "4.60 – 6.40", "6.40 – 8.20", "8.20 – 10.00"]
    feats = layer.data["features"]
    assert feats[0]["properties"]["rank"] == "10 of 10"  # higher is worse: value 1 is the best
    assert feats[-1]["properties"]["rank"] == "1 of 10"


def test_ties_and_missing():
    t = _grid([0.0, 0, 0, 0, 0, 0, 0, -3, np.nan, -1])
    layer, lg = pl.choropleth(t, "v", title="v")
    labels = [e[0] for e in lg.entries]
    assert labels[-1] == "hidden or missing"
    assert len(labels) - 1 == len({*labels[:-1]})  # distinct classes only
    vals = [f["properties"]["value"] for f in layer.data["features"]]
    assert vals[8] == "hidden or missing"


def test_bivariate_classes():
    a = pd.Series([1, 2, 3, 4, 5, 6])
    b = pd.Series([6, 5, 4, 3, 2, 1])
    assert pl.bivariate_classes(a, b).tolist() == [2, 2, 4, 4, 6, 6]


def test_tooltip_is_text_and_no_remote_base():
    d = pl.deck([], pl.view_for(_grid([1.0, 2])))
    spec = d.to_json()
    assert "mapbox://" not in spec and "html" not in pl.TOOLTIP
