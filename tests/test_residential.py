"""Areas clipped to where people live: hand-made LSOAs and origins with known areas, a tiny
built pack (postcode origins, not Sheffield's grid), the Sheffield pack, and the explorer toggle."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shapely.geometry import box

from placekit.errors import DataError
from placekit.origins import Origins
from placekit.residential import (
    DEFAULT_BUFFER_M,
    clip_to_origins,
    clip_words,
    dissolve_level,
    grid_cell_m,
    largest_share,
    residential_areas,
)

CELL = 25.0


def _lsoas(*squares: tuple[str, float, float, float]) -> gpd.GeoDataFrame:
    """LSOAs from ``(code, x0, y0, side_m)`` squares, EPSG:27700."""
    return gpd.GeoDataFrame(
        {"area_name": [f"name {c}" for c, *_ in squares]},
        geometry=[box(x, y, x + s, y + s) for _c, x, y, s in squares],
        index=pd.Index([c for c, *_ in squares], name="area_code"),
        crs="EPSG:27700",
    )


def _origins(xy: list[tuple[float, float, str]], kind: str, fallback: int = 0) -> Origins:
    x = np.array([p[0] for p in xy], float)
    y = np.array([p[1] for p in xy], float)
    codes = np.array([p[2] for p in xy], dtype=object).astype(str)
    return Origins(x, y, codes, np.zeros(x.size, int), np.zeros(x.size), kind, None, fallback)


KM = _lsoas(("A", 0.0, 0.0, 1000.0), ("B", 1000.0, 0.0, 1000.0))


# ----------------------------------------------------------------------------- by hand
def test_two_adjacent_grid_cells_in_a_km_square_clip_to_1250_m2():
    o = _origins([(512.5, 512.5, "A"), (537.5, 512.5, "A")], "residential_grid")
    out = clip_to_origins(KM.iloc[:1], o, cell_m=CELL)
    assert out.loc["A", "home_m2"] == 1250.0
    assert out.geometry["A"].area == 1250.0
    assert shapely.equals(out.geometry["A"], box(500, 500, 550, 525))
    assert not out.loc["A", "whole"] and out.loc["A", "area_m2"] == 1e6


def test_grid_cell_size_is_inferred_and_one_cell_gaps_are_closed():
    # two cells with one empty cell between them (a garden): filled by default, not with 0
    o = _origins([(512.5, 512.5, "A"), (562.5, 512.5, "A")], "residential_grid")
    assert grid_cell_m(o.x_m, o.y_m) == 50.0  # only two centres: the spacing is all it can see
    assert grid_cell_m(np.array([12.5, 37.5, 112.5]), np.array([0.0, 0.0, 0.0])) == 25.0
    closed = clip_to_origins(KM.iloc[:1], o, cell_m=CELL)
    assert closed.loc["A", "home_m2"] == pytest.approx(3 * 625.0)
    open_ = clip_to_origins(KM.iloc[:1], o, cell_m=CELL, close_m=0)
    assert open_.loc["A", "home_m2"] == pytest.approx(2 * 625.0)
    # two cells further apart stay apart
    far = _origins([(512.5, 512.5, "A"), (712.5, 512.5, "A")], "residential_grid")
    assert clip_to_origins(KM.iloc[:1], far, cell_m=CELL).loc["A", "home_m2"] == 1250.0


def test_a_cell_over_the_boundary_is_cut_to_its_own_lsoa():
    # A's cell centred on x = 1000 is half in B: A keeps its half; B's own cell is B's
    o = _origins(
        [(1000.0, 500.0, "A"), (1000.0, 525.0, "A"), (1500.0, 500.0, "B"), (1525.0, 500.0, "B")],
        "residential_grid",
    )
    out = clip_to_origins(KM, o, cell_m=CELL, min_area_m2=0)
    assert out.loc["A", "home_m2"] == pytest.approx(625.0)  # 2 half cells
    assert out.loc["B", "home_m2"] == pytest.approx(1250.0)
    assert not shapely.intersects(out.geometry["A"], box(1000.001, 0, 2000, 1000))


def test_postcodes_are_buffered_and_the_default_distance_comes_from_the_method():
    o = _origins([(300.0, 500.0, "A"), (1300.0, 500.0, "B"), (1310.0, 500.0, "B")], "postcodes")
    out = clip_to_origins(KM, o)
    r = DEFAULT_BUFFER_M["postcodes"]
    disc = shapely.buffer(shapely.Point(0, 0), r, quad_segs=8).area  # a 32-gon: 0.6 % < pi r^2
    assert out.loc["A", "home_m2"] == pytest.approx(disc)
    assert disc < out.loc["B", "home_m2"] < 2 * disc  # two overlapping discs, counted once
    assert out.attrs == {"method": "postcodes", "buffer_m": r}
    wider = clip_to_origins(KM, o, buffer_m=200.0)
    assert wider.loc["A", "home_m2"] == pytest.approx(np.pi * 200.0**2, rel=0.01)
    # a postcode by the edge: its disc is cut at the LSOA boundary
    edge = clip_to_origins(KM.iloc[:1], _origins([(0.0, 500.0, "A")], "postcodes"))
    assert edge.loc["A", "home_m2"] == pytest.approx(disc / 2)


def test_centroids_keep_every_lsoa_unchanged():
    o = _origins([(500.0, 500.0, "A"), (1500.0, 500.0, "B")], "centroids")
    out = clip_to_origins(KM, o)
    assert out.whole.all()
    assert all(shapely.equals(a, b) for a, b in zip(out.geometry, KM.geometry, strict=True))
    assert (out.home_m2 == out.area_m2).all()
    assert "drawn whole" in clip_words(out)


def test_an_empty_or_tiny_clip_and_a_fallback_keep_the_lsoa_whole():
    # B has no origin of its own (only the fallback centroid, appended last): kept whole
    o = _origins(
        [(512.5, 512.5, "A"), (537.5, 512.5, "A"), (1500.0, 500.0, "B")], "residential_grid", 1
    )
    out = clip_to_origins(KM, o, cell_m=CELL)
    assert out.loc["A", "home_m2"] == 1250.0 and not out.loc["A", "whole"]
    assert out.loc["B", "whole"] and shapely.equals(out.geometry["B"], KM.geometry["B"])
    # a clip smaller than min_area_m2 would not show: kept whole
    tiny = clip_to_origins(KM, o, cell_m=CELL, min_area_m2=2000.0)
    assert tiny.whole.all() and (tiny.home_m2 == tiny.area_m2).all()
    assert "2 of 2 areas drawn whole" in clip_words(tiny)
    # no origins at all
    none = clip_to_origins(KM, _origins([], "postcodes"))
    assert none.whole.all()


def test_index_names_and_order_are_kept():
    lsoa = _lsoas(("Z", 0.0, 0.0, 100.0), ("A", 100.0, 0.0, 100.0))
    o = _origins([(150.0, 50.0, "A"), (50.0, 50.0, "Z")], "postcodes")
    out = clip_to_origins(lsoa, o, buffer_m=20.0)
    assert list(out.index) == ["Z", "A"] and out.index.name == "area_code"
    assert list(out.area_name) == ["name Z", "name A"] and out.crs == lsoa.crs


def test_dissolve_by_level_sums_the_clips_and_keeps_areas_without_lsoas():
    o = _origins(
        [(512.5, 512.5, "A"), (1512.5, 512.5, "B"), (1537.5, 512.5, "B")], "residential_grid"
    )
    clipped = clip_to_origins(KM, o, cell_m=CELL, min_area_m2=0)
    wards = gpd.GeoDataFrame(
        {"area_name": ["Both", "Empty"]},
        geometry=[box(0, 0, 2000, 1000), box(0, 1000, 10, 1010)],
        index=pd.Index(["W1", "W2"], name="area_code"),
        crs="EPSG:27700",
    )
    out = dissolve_level(clipped, pd.Series(["W1", "W1"], index=["A", "B"]), wards)
    assert list(out.index) == ["W1", "W2"]
    assert out.geometry["W1"].area == pytest.approx(3 * 625.0)
    assert out.loc["W1", "home_m2"] == pytest.approx(3 * 625.0) and not out.loc["W1", "whole"]
    assert out.loc["W2", "whole"] and out.geometry["W2"].area == pytest.approx(100.0)


def test_bad_inputs_are_refused():
    o = _origins([(500.0, 500.0, "A")], "postcodes")
    with pytest.raises(DataError, match="EPSG:27700"):
        clip_to_origins(KM.to_crs("EPSG:4326"), o)
    with pytest.raises(DataError, match="must be >= 0"):
        clip_to_origins(KM, o, buffer_m=-1.0)


def test_largest_share():
    size = pd.Series([90.0, 5.0, 5.0] + [0.0] * 7)
    assert largest_share(size, size) == pytest.approx(0.9)
    assert largest_share(pd.Series([1.0] * 10), size) == pytest.approx(0.1)


# ----------------------------------------------------------------------------- properties
@st.composite
def _case(draw):
    n = draw(st.integers(1, 4))
    side = draw(st.sampled_from([100.0, 250.0, 1000.0]))
    lsoa = _lsoas(*[(f"L{i}", i * side, 0.0, side) for i in range(n)])
    kind = draw(st.sampled_from(["residential_grid", "postcodes", "buildings"]))
    pts = draw(
        st.lists(
            st.tuples(
                st.integers(0, int(n * side / CELL) - 1), st.integers(0, int(side / CELL) - 1)
            ),
            max_size=40,
        )
    )
    xy = [((i + 0.5) * CELL, (j + 0.5) * CELL, f"L{int((i + 0.5) * CELL // side)}") for i, j in pts]
    buffer_m = draw(st.sampled_from([None, 0.0, 10.0, 80.0]))
    return lsoa, _origins(xy, kind), buffer_m


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_case())
def test_clips_lie_within_their_lsoa_and_are_no_larger(case):
    lsoa, o, buffer_m = case
    out = clip_to_origins(lsoa, o, buffer_m=buffer_m, cell_m=CELL)
    assert list(out.index) == list(lsoa.index)
    polys = lsoa.geometry.to_numpy()
    assert (out.home_m2.to_numpy() <= out.area_m2.to_numpy() + 1e-6).all()
    assert np.allclose(shapely.area(out.geometry.to_numpy()), out.home_m2.to_numpy())
    assert shapely.covers(shapely.buffer(polys, 1e-6), out.geometry.to_numpy()).all()
    assert shapely.is_valid(out.geometry.to_numpy()).all()
    # clips never overlap (each lies within its own LSOA)
    total = float(shapely.union_all(out.geometry.to_numpy()).area)
    assert total == pytest.approx(out.home_m2.sum(), rel=1e-9, abs=1e-6)
    # an LSOA with no origin of its own is drawn whole
    own = set(o.area_code)
    for code in lsoa.index.difference(pd.Index(sorted(own))):
        assert out.loc[code, "whole"]


# ----------------------------------------------------------------------------- real packs
@pytest.fixture(scope="module")
def tiny_place(tmp_path_factory):
    """The tiny two-council sources cut to Easterby: postcode origins, no grid."""
    from tiny_sources import make_tiny_sources

    from placekit.packbuild import build_pack
    from placekit.place import load_place

    mp = pytest.MonkeyPatch()
    mp.setenv("PLACEKIT_CACHE", str(tmp_path_factory.mktemp("cache")))
    src = tmp_path_factory.mktemp("tiny_sources")
    make_tiny_sources(src)
    out = tmp_path_factory.mktemp("easterby") / "pack"
    build_pack(src, ["E09999902"], out, margin_km=1.0, prebuild=())
    yield load_place(out)
    mp.undo()


def test_any_council_reads_the_method_from_its_pack(tiny_place):
    from placekit import workflows as wf

    p = tiny_place
    assert p.pack.origins["method"] == "postcodes"
    out = residential_areas(p)
    disc = shapely.buffer(shapely.Point(0, 0), DEFAULT_BUFFER_M["postcodes"], quad_segs=8).area
    # one live postcode 200 m west of each 1 km LSOA's centre: one whole disc each
    assert list(out.index) == list(p.lsoa.index)
    assert out.home_m2.to_numpy() == pytest.approx([disc] * 4)
    assert not out.whole.any() and out.attrs["method"] == "postcodes"
    wards = residential_areas(p, level="ward")
    assert list(wards.index) == list(p.areas("ward").index)
    assert wards.home_m2.to_numpy() == pytest.approx([2 * disc, 2 * disc])
    first = wf.residential_geometry(p, "ward")
    again = wf.residential_geometry(p, "ward")
    assert not first.from_cache and again.from_cache and first.method == "postcodes"
    assert shapely.equals(first.areas.geometry.to_numpy(), again.areas.geometry.to_numpy()).all()
    with pytest.raises(DataError, match="level"):
        residential_areas(p, level="county")


def test_sheffield_grid_clip_takes_the_map_from_the_largest_lsoas(place, walk_net):
    out = residential_areas(place)
    assert out.attrs["method"] == place.pack.origins["method"] == "residential_grid"
    before = largest_share(out.area_m2, out.area_m2)
    after = largest_share(out.home_m2, out.area_m2)
    assert before > 0.5 and after < before / 3  # measured: 65.8 % -> 13.2 %
    assert 0.2 < (out.home_m2 / out.area_m2).median() < 0.8
    assert (out.home_m2 <= out.area_m2 + 1e-6).all()
    assert list(out.index) == list(place.lsoa.index)


# ----------------------------------------------------------------------------- the app
def test_explorer_toggle_draws_the_same_values_over_homes():
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file("../app.py", default_timeout=240)
    at.run()
    assert not at.exception
    at.radio(key="section").set_value("Map explorer").run()
    toggle = at.checkbox(key="homes_only")
    assert toggle.label == "Colour where people live (residential land only)"
    assert not toggle.value

    def choropleth():
        deck = json.loads(at.get("deck_gl_json_chart")[0].proto.json)
        return next(layer for layer in deck["layers"] if layer["id"] == "choropleth")

    off = choropleth()
    toggle.check().run()
    assert not at.exception, [e.value for e in at.exception]
    on = choropleth()
    assert isinstance(on["data"], str) and on["data"] != off["data"]  # another served file
    assert on["getFillColor"] == off["getFillColor"]  # the same classes and colours
    words = " ".join(c.value.replace("\\", "") for c in at.caption)
    assert "residential address grid" in words and "values are unchanged" in words
