"""Service-area isochrones against polygons worked by hand on small networks.

The grid has 100 m blocks. On a grid, the network distance from a node to any
point of a street is its Manhattan (L1) distance, so the network reached within
T of the centre is exactly the streets inside the diamond ``|dx| + |dy| <= T``:
the references below are built from that fact alone, with shapely, not from
placekit's network code.
"""

import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from placekit.accessibility import (
    MAX_HOLE_M2,
    AccessModel,
    isochrone,
    people_within,
    reached_network,
)
from placekit.errors import DataError
from placekit.network import StreetNetwork
from placekit.origins import Origins

N = 7  # nodes per side: 0..600 m
STEP = 100.0
CX = CY = 300.0  # centre node


def _grid(n: int = N, step: float = STEP) -> StreetNetwork:
    """An n x n walk grid, every street listed in both directions (as walk networks are)."""
    xs, ys = np.meshgrid(np.arange(n) * step, np.arange(n) * step)
    idx = np.arange(n * n).reshape(n, n)  # idx[j, i] at (i * step, j * step)
    u = np.r_[idx[:, :-1].ravel(), idx[:-1, :].ravel()]
    v = np.r_[idx[:, 1:].ravel(), idx[1:, :].ravel()]
    length = np.full(u.size, step)
    return StreetNetwork(
        "walk",
        xs.ravel().astype(float),
        ys.ravel().astype(float),
        np.r_[u, v],
        np.r_[v, u],
        np.r_[length, length],
        np.array(["footway"] * (2 * u.size)),
    )


def _diamond_streets(t_m: float, cx: float = CX, cy: float = CY) -> shapely.MultiLineString:
    """The grid streets within L1 distance t_m of (cx, cy), a grid node: worked by hand."""
    lines = []
    for k in range(-N, N + 1):
        half = t_m - abs(k) * STEP  # along street k (offset k blocks), reach t - |k| * 100 each way
        if half < 0:
            continue
        lines.append(shapely.LineString([(cx - half, cy + k * STEP), (cx + half, cy + k * STEP)]))
        lines.append(shapely.LineString([(cx + k * STEP, cy - half), (cx + k * STEP, cy + half)]))
    # only the streets of the grid itself (a start at a corner or edge has fewer)
    grid = shapely.box(0, 0, (N - 1) * STEP, (N - 1) * STEP)
    return shapely.MultiLineString(
        [g for g in (ln.intersection(grid) for ln in lines) if g.length > 0]
    )


def _fill_all(geom: shapely.Geometry) -> shapely.Geometry:
    return shapely.union_all([shapely.Polygon(p.exterior) for p in shapely.get_parts(geom)])


def _reference(t_m: float, buffer_m: float) -> shapely.Geometry:
    """Service area by hand: streets within reach, buffered (fine arcs), enclosed blocks filled."""
    return _fill_all(shapely.buffer(_diamond_streets(t_m), buffer_m, quad_segs=64))


def _iou(a: shapely.Geometry, b: shapely.Geometry) -> float:
    return a.intersection(b).area / a.union(b).area


# -- the hand-made reference -------------------------------------------------------------------


def test_reached_streets_are_the_diamond():
    lines = reached_network(AccessModel(_grid()), CX, CY, max_cost=250.0)
    ref = _diamond_streets(250.0)
    assert lines.length == pytest.approx(ref.length, abs=1e-6)
    # same lines: 5 streets each way of lengths 500, 300, 300, 100, 100 -> 2600 m
    assert ref.length == pytest.approx(2 * (500 + 2 * 300 + 2 * 100))
    assert shapely.buffer(lines, 0.01).symmetric_difference(shapely.buffer(ref, 0.01)).area < 1.0


def test_service_area_matches_hand_reference_and_beats_old():
    m = AccessModel(_grid())
    ref = _reference(250.0, 50.0)
    new = isochrone(m, CX, CY, max_cost=250.0)
    old = isochrone(m, CX, CY, max_cost=250.0, method="edges")
    assert new.area == pytest.approx(ref.area, rel=0.01)
    assert _iou(new, ref) >= 0.99
    # the old polygon drops partial edges and blocks: well under the reference
    assert old.area < 0.5 * ref.area
    assert _iou(old, ref) < 0.5


def test_enclosed_blocks_are_filled():
    # with a 25 m buffer each of the four blocks round the centre leaves a 50 x 50 m hole,
    # enclosed on every side by reached streets; the next ring of blocks is open at a corner
    m = AccessModel(_grid())
    ref = _reference(250.0, 25.0)
    filled = isochrone(m, CX, CY, max_cost=250.0, buffer_m=25.0)
    open_ = isochrone(m, CX, CY, max_cost=250.0, buffer_m=25.0, max_hole_m2=0.0)
    assert filled.area == pytest.approx(ref.area, rel=0.01)
    assert _iou(filled, ref) >= 0.99
    assert filled.area - open_.area == pytest.approx(4 * 50 * 50, abs=1.0)
    assert filled.contains(shapely.Point(CX + 50, CY + 50))
    assert not open_.contains(shapely.Point(CX + 50, CY + 50))
    # a block larger than the limit stays open
    capped = isochrone(m, CX, CY, max_cost=250.0, buffer_m=25.0, max_hole_m2=2499.0)
    assert capped.area == pytest.approx(open_.area, abs=1e-6)
    assert MAX_HOLE_M2 > 2500


def test_corner_start():
    m = AccessModel(_grid())
    ref = shapely.buffer(_diamond_streets(250.0, 0.0, 0.0), 50.0, quad_segs=64)
    new = isochrone(m, 0.0, 0.0, max_cost=250.0)
    assert _iou(new, _fill_all(ref)) >= 0.99


# -- partial edges and the cut-off -------------------------------------------------------------


def _line(n: int = 6, step: float = 100.0) -> StreetNetwork:
    u, v = np.arange(n - 1), np.arange(1, n)
    x = np.arange(n) * step
    return StreetNetwork(
        "walk",
        x.astype(float),
        np.zeros(n),
        np.r_[u, v],
        np.r_[v, u],
        np.full(2 * u.size, step),
        np.array(["footway"] * (2 * u.size)),
    )


@pytest.mark.parametrize("t_m", [30.0, 150.0, 230.0, 399.9])
def test_cut_off_mid_edge(t_m):
    m = AccessModel(_line())
    lines = reached_network(m, 0.0, 0.0, max_cost=t_m)
    assert lines.bounds[2] == pytest.approx(t_m, abs=1.0)
    poly = isochrone(m, 0.0, 0.0, max_cost=t_m, buffer_m=20.0)
    assert poly.bounds[2] == pytest.approx(t_m + 20.0, abs=1.0)
    assert poly.contains(shapely.Point(t_m + 19.0, 0.0))
    assert not poly.contains(shapely.Point(t_m + 21.0, 0.0))


def test_snap_distance_is_the_starting_cost():
    m = AccessModel(_line())
    # 40 m off the line above node 1: 60 m left to walk each way along the street
    lines = reached_network(m, 100.0, 40.0, max_cost=100.0)
    on_street = lines.intersection(shapely.LineString([(-1, 0), (1000, 0)]))
    assert on_street.bounds[0] == pytest.approx(40.0, abs=1.0)
    assert on_street.bounds[2] == pytest.approx(160.0, abs=1.0)
    poly = isochrone(m, 100.0, 40.0, max_cost=100.0)
    assert poly.contains(shapely.Point(100.0, 40.0))  # the snap line is part of the walk


def test_off_network_point_gives_empty_polygon():
    m = AccessModel(_grid())
    # 1000 m west of the grid: the snap alone costs more than the budget
    poly = isochrone(m, -1000.0, CY, max_cost=250.0)
    assert poly.is_empty and poly.geom_type == "Polygon" and poly.area == 0
    assert reached_network(m, -1000.0, CY, max_cost=250.0).is_empty
    # with just enough budget to reach the node: a disc round it and the snap line
    just = isochrone(m, -100.0, CY, max_cost=100.0)
    assert just.contains(shapely.Point(-100.0, CY)) and just.contains(shapely.Point(0.0, CY))
    assert not just.contains(shapely.Point(0.0, CY + 60))
    # the old method kept its disc round the start point
    assert isochrone(m, -1000.0, CY, max_cost=250.0, method="edges").area > 0


def test_one_way_drive_edges_respected_in_time():
    # 0 -> 1 one way (primary, 48 km/h = 800 m/min); back from 1 only via 2 (residential 32 km/h)
    side = float(np.hypot(500, 500))
    net = StreetNetwork(
        "drive",
        np.array([0.0, 1000.0, 500.0]),
        np.array([0.0, 0.0, 500.0]),
        np.array([0, 1, 2]),
        np.array([1, 2, 0]),
        np.array([1000.0, side, side]),
        np.array(["primary", "residential", "residential"]),
    )
    m = AccessModel(net, metric="time")
    fwd = isochrone(m, 0.0, 0.0, max_cost=0.5, buffer_m=50.0)  # 400 m along 0 -> 1
    assert fwd.bounds[2] == pytest.approx(450.0, abs=1.0)
    assert not fwd.intersects(shapely.Point(300, 300))  # 2 -> 0 leads into 0, not out
    back = reached_network(m, 1000.0, 0.0, max_cost=0.5)
    # from 1 only 1 -> 2 can be driven: 0.5 min at 32 km/h = 266.7 m towards node 2
    assert back.length == pytest.approx(0.5 * 32_000 / 60, abs=1.0)
    poly = isochrone(m, 1000.0, 0.0, max_cost=0.5)
    assert not poly.contains(shapely.Point(900.0, 0.0))
    assert poly.contains(shapely.Point(1000 - 150, 150))


# -- invariants --------------------------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(
    t1=st.floats(0.0, 700.0),
    dt=st.floats(0.0, 300.0),
    x=st.floats(-50.0, 650.0),
    y=st.floats(-50.0, 650.0),
    buffer_m=st.sampled_from([15.0, 25.0, 50.0]),
)
def test_larger_budget_never_smaller(t1, dt, x, y, buffer_m):
    m = AccessModel(_grid())
    a = isochrone(m, x, y, max_cost=t1, buffer_m=buffer_m)
    b = isochrone(m, x, y, max_cost=t1 + dt, buffer_m=buffer_m)
    assert b.area >= a.area - 1e-6
    assert a.difference(b).area < 1e-3


def test_contains_old_polygon_on_real_network(walk_net, place):
    m = AccessModel(walk_net)
    schools = place.layer("school").geometry.iloc[:5]
    for pt in schools:
        new = isochrone(m, pt.x, pt.y, max_cost=400.0)
        old = isochrone(m, pt.x, pt.y, max_cost=400.0, method="edges")
        assert new.area > 1.2 * old.area
        assert old.difference(new).area < 1.0


def test_bad_arguments():
    m = AccessModel(_grid())
    with pytest.raises(DataError, match="method must be one of"):
        isochrone(m, CX, CY, max_cost=100.0, method="hull")
    with pytest.raises(DataError, match="max_cost must be a finite number"):
        isochrone(m, CX, CY, max_cost=-1.0)
    with pytest.raises(DataError, match="buffer_m must be a positive"):
        isochrone(m, CX, CY, max_cost=100.0, buffer_m=0.0)
    with pytest.raises(DataError, match="max_hole_m2 must be"):
        isochrone(m, CX, CY, max_cost=100.0, max_hole_m2=float("nan"))


# -- people within -----------------------------------------------------------------------------


def _origins(xy: list[tuple[float, float]], codes: list[str], weight=None) -> Origins:
    n = len(xy)
    return Origins(
        np.array([p[0] for p in xy]),
        np.array([p[1] for p in xy]),
        np.array(codes),
        np.zeros(n, dtype=np.int64),
        np.zeros(n),
        "residential_grid",
        weight,
    )


def test_people_within_by_hand():
    # LSOA A: 4 homes, 300 people (75 each); LSOA B: 3 homes, 100 people (33.3 each)
    o = _origins(
        [(10, 10), (20, 10), (500, 500), (600, 600), (30, 10), (40, 10), (900, 900)],
        ["A", "A", "A", "A", "B", "B", "B"],
    )
    pop = pd.Series({"A": 300, "B": 100})
    box = shapely.box(0, 0, 50, 50)
    assert people_within(box, o, pop) == 217  # 2 * 75 + 2 * 33.33 = 216.67
    assert people_within(shapely.box(0, 0, 1000, 1000), o, pop) == 400
    assert people_within(shapely.Polygon(), o, pop) == 0
    w = _origins([(10, 10), (500, 500)], ["A", "A"], weight=np.array([3.0, 1.0]))
    assert people_within(box, w, pd.Series({"A": 100})) == 75


def test_people_within_blocks_counts_the_homes_inside_blocks():
    # homes at the centres of the four blocks round the centre: only the filled polygon has them
    m = AccessModel(_grid())
    homes = [(CX + dx, CY + dy) for dx in (-50, 50) for dy in (-50, 50)]
    o = _origins(homes, ["A"] * 4)
    pop = pd.Series({"A": 400})
    filled = isochrone(m, CX, CY, max_cost=250.0, buffer_m=25.0)
    old = isochrone(m, CX, CY, max_cost=250.0, method="edges")
    assert people_within(filled, o, pop) == 400
    assert people_within(old, o, pop) == 0


def test_people_within_checks_population():
    o = _origins([(0, 0), (1, 1)], ["A", "B"])
    with pytest.raises(DataError, match=r"no value for 1 LSOA.*\['B'\]"):
        people_within(shapely.box(-1, -1, 2, 2), o, pd.Series({"A": 10}))
    with pytest.warns(UserWarning, match="have no origin"):
        n = people_within(shapely.box(-1, -1, 2, 2), o, pd.Series({"A": 10, "B": 5, "C": 7}))
    assert n == 15
