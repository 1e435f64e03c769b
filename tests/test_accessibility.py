import geopandas as gpd
import networkx as nx
import numpy as np
import pytest
from scipy.stats import spearmanr
from shapely.geometry import Point, box

from placekit.accessibility import (
    DEFAULT_TYPES,
    AccessModel,
    FacilitySet,
    access_table,
    count_within,
    facilities_from_layer,
    isochrone,
)
from placekit.network import StreetNetwork, from_graph, load_network


def _grid_net():
    """A 3x3 grid with 100 m spacing; undirected walk."""
    xs, ys, u, v, length = [], [], [], [], []
    for j in range(3):
        for i in range(3):
            xs.append(i * 100.0)
            ys.append(j * 100.0)
    idx = lambda i, j: j * 3 + i  # noqa: E731
    for j in range(3):
        for i in range(3):
            for di, dj in ((1, 0), (0, 1)):
                if i + di < 3 and j + dj < 3:
                    u.append(idx(i, j))
                    v.append(idx(i + di, j + dj))
                    length.append(100.0)
    u, v, ln = np.array(u), np.array(v), np.array(length)
    return StreetNetwork(
        "walk",
        np.array(xs),
        np.array(ys),
        np.r_[u, v],
        np.r_[v, u],
        np.r_[ln, ln],
        np.array(["footway"] * (2 * u.size)),
    )


def _fac(net, pts):
    node, off = net.snap(np.array([p[0] for p in pts]), np.array([p[1] for p in pts]))
    return FacilitySet(
        "t", np.array([f"f{i}" for i in range(len(pts))]), np.arange(len(pts)), node, off
    )


def test_handworked_grid():
    net = _grid_net()
    m = AccessModel(net)
    st = m.solve(_fac(net, [(0, 0)]))
    # corner to opposite corner: 400 m on the grid (straight line 283 m)
    assert st.cost[8] == pytest.approx(400.0)
    assert st.cost[4] == pytest.approx(200.0)
    # snap offset counted: a facility 30 m off node 0
    st2 = m.solve(_fac(net, [(-30, 0)]))
    assert st2.cost[8] == pytest.approx(430.0)


def test_one_way_respected():
    # 0 -> 1 one way (100 m), 1 -> 0 only via 2 (300 m)
    net = StreetNetwork(
        "drive",
        np.array([0.0, 100, 50]),
        np.array([0.0, 0, 100]),
        np.array([0, 1, 2]),
        np.array([1, 2, 0]),
        np.array([100.0, 150, 150]),
        np.array(["residential"] * 3),
    )
    m = AccessModel(net)
    to1 = m.solve(_fac(net, [(100, 0)]))
    assert to1.cost[0] == pytest.approx(100.0)
    to0 = m.solve(_fac(net, [(0, 0)]))
    assert to0.cost[1] == pytest.approx(300.0)


def test_drive_time_by_road_type():
    net = StreetNetwork(
        "drive",
        np.array([0.0, 1000]),
        np.array([0.0, 0]),
        np.array([0]),
        np.array([1]),
        np.array([1000.0]),
        np.array(["primary"]),
    )
    m = AccessModel(net, metric="time")
    st = m.solve(_fac(net, [(1000, 0)]))
    assert st.cost[0] == pytest.approx(1000 / (48 * 1000 / 60))  # 1.25 min at 48 km/h


def test_polygon_reached_at_edge():
    net = _grid_net()
    park = gpd.GeoDataFrame(geometry=[box(150, 150, 250, 250)], crs="EPSG:27700")
    fs = facilities_from_layer(net, park, name="park")
    st = AccessModel(net).solve(fs)
    # (200,200) is inside the park: reached at cost 0; node 0 is 200 m from (100,100),
    # whose nearest boundary sample (150,150) snaps to it at 70.7 m
    assert st.cost[8] == pytest.approx(0.0, abs=1e-6)
    assert st.cost[4] == pytest.approx(np.hypot(50, 50))
    assert st.cost[0] == pytest.approx(200 + np.hypot(50, 50))


def test_matches_networkx_on_real_network(walk_net, place):
    m = AccessModel(walk_net)
    fs = facilities_from_layer(walk_net, place.layer("gp"), name="gp")
    st = m.solve(fs)
    g = nx.Graph()
    for a, b, w in zip(walk_net.edge_u, walk_net.edge_v, walk_net.length_m, strict=True):
        if not g.has_edge(a, b) or g[a][b]["w"] > w:
            g.add_edge(int(a), int(b), w=float(w))
    # networkx oracle with facility offsets as a virtual source
    src = -1
    for n, o in zip(fs.node, fs.offset_m, strict=True):
        if not g.has_edge(src, int(n)) or g[src][int(n)]["w"] > o:
            g.add_edge(src, int(n), w=max(float(o), 1e-9))
    ref = nx.single_source_dijkstra_path_length(g, src, weight="w")
    sample = np.random.default_rng(0).choice(walk_net.n_nodes, 500, replace=False)
    np.testing.assert_allclose(st.cost[sample], [ref[int(i)] for i in sample], rtol=1e-9, atol=1e-6)


def test_never_shorter_than_straight_line(walk_net, place):
    fs = facilities_from_layer(walk_net, place.layer("pharmacy"), name="pharmacy")
    st = AccessModel(walk_net).solve(fs)
    fx = place.layer("pharmacy").geometry.x.to_numpy()[st.facilities.fac]
    near = st.nearest
    ok = near >= 0
    # straight line from each node to its nearest facility's point
    px = place.layer("pharmacy").geometry.x.to_numpy()[near[ok]]
    py = place.layer("pharmacy").geometry.y.to_numpy()[near[ok]]
    crow = np.hypot(walk_net.node_x[ok] - px, walk_net.node_y[ok] - py)
    assert (st.cost[ok] >= crow - 1e-6).all()
    assert fx.size


def test_incremental_add_close_move_link_equal_full(walk_net, place):
    m = AccessModel(walk_net)
    st = m.solve(facilities_from_layer(walk_net, place.layer("gp"), name="gp"))
    added = m.add_facility(st, 436500.0, 383500.0, facility_id="NEW")
    assert (added.cost <= st.cost + 1e-9).all()  # adding never makes anyone further away
    assert (added.cost < st.cost - 1e-6).any()
    full = m.solve(added.facilities)
    np.testing.assert_allclose(added.cost, full.cost)
    np.testing.assert_array_equal(added.nearest, full.nearest)
    closed = m.close_facility(st, st.facilities.ids[3])
    full = m.solve(closed.facilities)
    np.testing.assert_allclose(closed.cost, full.cost)
    np.testing.assert_array_equal(closed.nearest, full.nearest)
    moved = m.move_facility(st, st.facilities.ids[3], 436500.0, 383500.0)
    full = m.solve(moved.facilities)
    np.testing.assert_allclose(moved.cost, full.cost)
    m2, new = m.add_link(433000, 386000, 433800, 386400, {"gp": st})
    full = m2.solve(st.facilities)
    np.testing.assert_allclose(new["gp"].cost, full.cost)
    np.testing.assert_array_equal(new["gp"].nearest, full.nearest)


def test_agrees_with_iod_road_distance_to_gp(place):
    from placekit.accessibility import add_access_indicators

    p = add_access_indicators(place, modes=("walk",), types=("gp",))
    rho = spearmanr(p.indicators["gp_walk_m"], p.indicators["road_distance_gp_2019_km"]).statistic
    assert rho > 0.6
    assert p.indicators["gp_walk_min"].iloc[0] == pytest.approx(
        p.indicators["gp_walk_m"].iloc[0] / 80.0
    )


def test_cumulative_and_isochrone(walk_net, place):
    m = AccessModel(walk_net)
    o = place.origins("walk")
    fs = facilities_from_layer(walk_net, place.layer("library"), name="library")
    c10 = count_within(m, fs, o, max_cost=800.0)
    c20 = count_within(m, fs, o, max_cost=1600.0)
    assert (c20 >= c10).all() and c20.sum() > c10.sum()
    near = access_table(m, m.solve(fs), o)
    # an LSOA whose every home is within 800 m of a library must count at least one
    assert (c10[near < 300] >= 1).all()
    poly = isochrone(m, 435300, 387200, max_cost=800.0)
    assert poly.contains(Point(435300, 387200))
    assert 0.3e6 < poly.area < 4 * np.pi * 800**2


def test_osm_xml_build_and_cache(pack_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("PLACEKIT_CACHE", str(tmp_path))
    osm = pack_dir / "osm" / "sheffield_park_hill_osm_highways.osm"
    steps = []
    net = load_network(osm, "walk", progress=lambda msg, f: steps.append(msg))
    assert steps and net.n_nodes > 400
    again = load_network(osm, "walk")
    assert again.info.get("cache") and again.n_nodes == net.n_nodes
    np.testing.assert_array_equal(again.length_m, net.length_m)


def test_from_graph_keeps_largest_component():
    g = nx.MultiDiGraph(crs="EPSG:4326")
    for n, (x, y) in enumerate([(-1.47, 53.38), (-1.469, 53.38), (-1.468, 53.38), (-1.40, 53.40)]):
        g.add_node(n, x=x, y=y)
    g.add_edge(0, 1, length=66.0, highway="footway")
    g.add_edge(1, 2, length=66.0, highway="footway")
    net = from_graph(g, "walk")
    assert net.n_nodes == 3 and net.info["nodes_dropped"] == 1


def test_default_types_cover_issue():
    assert {
        "gp",
        "pharmacy",
        "dentist",
        "greenspace",
        "leisure",
        "library",
        "community_centre",
        "stop",
        "fast_food",
        "pub",
        "betting",
    } == set(DEFAULT_TYPES)


def test_cli_access_with_cumulative(tmp_path):
    import pandas as pd

    from placekit.cli import main

    out = tmp_path / "a.csv"
    assert (
        main(
            [
                "access",
                "--facility",
                "library,gp",
                "--mode",
                "walk",
                "--within",
                "15",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    t = pd.read_csv(out)
    assert {"area_code", "library_walk_m", "library_walk_min", "gp_walk_within_15min"} <= set(
        t.columns
    )
    # anyone whose nearest GP is under 15 min on average reaches at least one GP... mostly
    near = t["gp_walk_min"] < 5
    assert (t.loc[near, "gp_walk_within_15min"] >= 1).all()
    assert len(t) == 343


def test_incremental_add_exact_on_directed_time_graph():
    rng = np.random.default_rng(0)
    n = 60
    x, y = rng.random(n) * 3000, rng.random(n) * 3000
    u = rng.integers(0, n, 400)
    v = rng.integers(0, n, 400)
    keep = u != v
    u, v = u[keep], v[keep]
    length = np.hypot(x[u] - x[v], y[u] - y[v]) * rng.uniform(1.0, 1.5, u.size)
    hw = rng.choice(["primary", "residential", "service"], u.size)
    net = StreetNetwork("drive", x, y, u, v, length, hw)
    m = AccessModel(net, metric="time")
    st = m.solve(_fac(net, [(100, 100), (2900, 2900)]))
    for px, py in ((1500, 1500), (200, 2800), (2999, 10)):
        added = m.add_facility(st, px, py, facility_id=f"n{px}")
        full = m.solve(added.facilities)
        np.testing.assert_allclose(added.cost, full.cost)
        np.testing.assert_array_equal(added.nearest, full.nearest)


def test_facility_layer_in_degrees_is_refused(walk_net):
    from placekit.errors import CRSError

    pts = gpd.GeoDataFrame(geometry=[Point(-1.47, 53.38)], crs="EPSG:4326")
    with pytest.raises(CRSError, match=r"Facility layer 'x' is in EPSG:4326 \(degrees\)"):
        facilities_from_layer(walk_net, pts, name="x")
