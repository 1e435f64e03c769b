"""The street network: each directed edge once, speeds from maxspeed where tagged."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import networkx as nx
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from placekit import network as pn
from placekit.network import parse_maxspeed_kmh

MPH = 1.609344


@pytest.fixture(scope="module")
def park_hill(pack_dir) -> Path:
    return pack_dir / "osm" / "sheffield_park_hill_osm_highways.osm"


@pytest.fixture(scope="module")
def walk_graph(park_hill):
    return pn._graph_from_xml(park_hill, "walk")


def test_walk_edges_held_once_and_both_ways(walk_graph):
    net = pn.from_graph(walk_graph, "walk")
    triples = Counter(
        zip(
            net.edge_u.tolist(),
            net.edge_v.tolist(),
            np.rint(net.length_m * 1000).tolist(),
            strict=True,
        )
    )
    assert max(triples.values()) == 1  # no directed edge twice
    # every edge has its reverse, of the same length
    for (u, v, mm), _ in triples.items():
        assert (v, u, mm) in triples
    # osmnx's walk graph is already two-way, so nothing beyond its own edges is added,
    # and what the old mirror doubled is now dropped
    keep = max(nx.weakly_connected_components(walk_graph), key=len)
    in_component = sum(1 for u, v in walk_graph.edges() if u in keep and v in keep)
    assert net.edge_u.size <= in_component
    assert net.info["duplicate_edges_dropped"] == 2 * in_component - net.edge_u.size


def test_walk_distances_unchanged_by_dropping_mirrors(walk_graph):
    """Dropping exact duplicates changes no shortest path."""
    from scipy.sparse.csgraph import dijkstra

    from placekit.accessibility import _min_duplicates

    net = pn.from_graph(walk_graph, "walk")
    n = net.n_nodes
    once = _min_duplicates(net.edge_u, net.edge_v, net.length_m, n)
    twice = _min_duplicates(
        np.concatenate([net.edge_u, net.edge_v]),
        np.concatenate([net.edge_v, net.edge_u]),
        np.concatenate([net.length_m, net.length_m]),
        n,
    )
    src = np.arange(0, n, 37)
    np.testing.assert_allclose(
        dijkstra(once, indices=src), dijkstra(twice, indices=src), rtol=0, atol=1e-9
    )


@pytest.mark.parametrize(
    ("tag", "kmh"),
    [
        ("30 mph", 30 * MPH),
        ("20mph", 20 * MPH),
        ("50", 50.0),
        ("50 km/h", 50.0),
        ("GB:nsl_single", 60 * MPH),
        ("GB:nsl_dual", 70 * MPH),
        ("GB:motorway", 70 * MPH),
        (["30 mph", "20 mph"], 20 * MPH),
        ("30 mph;40 mph", 30 * MPH),
    ],
)
def test_maxspeed_parsed(tag, kmh):
    assert parse_maxspeed_kmh(tag) == pytest.approx(kmh)


@pytest.mark.parametrize(
    "tag", [None, "none", "signals", "variable", "0", "-30", "inf", "nan", "1e300", "<b>30</b>", []]
)
def test_unreadable_maxspeed_is_nan(tag):
    assert np.isnan(parse_maxspeed_kmh(tag))


@given(st.one_of(st.text(max_size=60), st.lists(st.text(max_size=10), max_size=5), st.floats()))
def test_maxspeed_never_raises(value):
    got = parse_maxspeed_kmh(value)
    assert np.isnan(got) or 0.0 < got <= 200.0


def test_drive_time_uses_maxspeed_where_tagged():
    """Hand-worked: 1 km at 20 mph is 1.8641 min; untagged residential 1 km at 32 km/h 1.875 min."""
    net = pn.StreetNetwork(
        "drive",
        np.array([0.0, 1000.0, 2000.0]),
        np.zeros(3),
        np.array([0, 1]),
        np.array([1, 2]),
        np.array([1000.0, 1000.0]),
        np.array(["residential", "residential"]),
        {},
        np.array([20 * MPH, np.nan]),
    )
    np.testing.assert_allclose(net.edge_time_min(), [60 / (20 * MPH), 60 / 32.0])
    assert net.drive_speed_source == {"maxspeed": 1, "road_type": 1}


def test_drive_network_reads_maxspeed_from_osm(park_hill):
    graph = pn._graph_from_xml(park_hill, "drive")
    net = pn.from_graph(graph, "drive")
    tagged = np.isfinite(net.maxspeed_kmh)
    assert tagged.any() and (~tagged).any()
    t = net.edge_time_min()
    np.testing.assert_allclose(t[tagged], net.length_m[tagged] / (net.maxspeed_kmh[tagged] / 0.06))
    # an edge never spans two limits: every kept tagged edge has one of the OSM values
    values = {
        round(parse_maxspeed_kmh(d.get("maxspeed")), 6)
        for _, _, d in graph.edges(data=True)
        if d.get("maxspeed") is not None
    }
    assert {round(v, 6) for v in net.maxspeed_kmh[tagged]} <= values


def test_maxspeed_survives_the_cache(tmp_path):
    net = pn.StreetNetwork(
        "drive",
        np.array([0.0, 1.0]),
        np.zeros(2),
        np.array([0]),
        np.array([1]),
        np.array([1.0]),
        np.array(["primary"]),
        {},
        np.array([48.0]),
    )
    net.save(tmp_path / "n.npz")
    back = pn.StreetNetwork.load(tmp_path / "n.npz", mode="drive")
    np.testing.assert_array_equal(back.maxspeed_kmh, [48.0])
