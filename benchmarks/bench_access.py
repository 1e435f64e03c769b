"""The access engine against networkx, like for like, on the real Sheffield walk network.

Run: ``python benchmarks/bench_access.py [--repeat 3]``.

Like for like: both sides route on the same directed graph (the shortest of
parallel edges, as placekit keeps), start from the same facility access nodes
with the same snap offsets (a virtual source joined to each access node at its
snap cost) and add the same origin snap offsets; both are timed as the median
of the same number of runs, and their answers are checked equal before any
time is printed. The "add one GP" baseline is networkx recomputing from every
GP plus the new one at its real snapped node.

"Before" rows time the engine on the network as placekit held it until cache
version 4: every walk edge twice (osmnx's two-way graph mirrored again).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import networkx as nx
import numpy as np

from placekit.accessibility import (
    DEFAULT_TYPES,
    AccessModel,
    FacilitySet,
    access_table,
    facilities_from_layer,
)
from placekit.network import StreetNetwork
from placekit.place import load_place

#: A new GP where GP walks are longest in Sheffield 069C (E01007919), IMD decile 1.
NEW_GP_XY_M = (433_956.5, 380_628.7)  # lon -1.4917, lat 53.3215 (the README example)


def median_s(fn: Callable[[], object], repeat: int) -> float:
    """Median wall time of ``repeat`` calls, in seconds."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def doubled(net: StreetNetwork) -> StreetNetwork:
    """The network with every edge listed twice, as cache version 4 held walk networks."""
    return StreetNetwork(
        net.mode,
        net.node_x,
        net.node_y,
        np.concatenate([net.edge_u, net.edge_v]),
        np.concatenate([net.edge_v, net.edge_u]),
        np.concatenate([net.length_m, net.length_m]),
        np.concatenate([net.highway, net.highway]),
        dict(net.info),
    )


def nx_graph(model: AccessModel) -> nx.DiGraph:
    """The reversed graph placekit routes on (shortest parallel edge kept), as networkx."""
    rev = model.reverse_matrix().tocoo()
    g = nx.DiGraph()
    g.add_nodes_from(range(model.net.n_nodes))
    g.add_weighted_edges_from(
        zip(rev.row.tolist(), rev.col.tolist(), rev.data.tolist(), strict=True)
    )
    return g


def nx_nearest(g: nx.DiGraph, fs: FacilitySet, model: AccessModel) -> np.ndarray:
    """Cost from every node to its nearest facility with networkx, same snapping as placekit."""
    n = model.net.n_nodes
    src = n  # virtual source joined to each access node at its snap cost
    off = model.offset_cost(fs.offset_m)
    g.add_node(src)
    for node, cost in zip(fs.node.tolist(), off.tolist(), strict=True):
        w = max(cost, 1e-9)
        if not g.has_edge(src, node) or g[src][node]["weight"] > w:
            g.add_edge(src, node, weight=w)
    try:
        d = nx.single_source_dijkstra_path_length(g, src, weight="weight")
    finally:
        g.remove_node(src)
    arr = np.full(n, np.inf)
    keys = [k for k in d if k != src]
    arr[keys] = [d[k] for k in keys]
    return arr


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3, help="runs per timing (median)")
    repeat = ap.parse_args().repeat
    place = load_place()
    net = place.network("walk")
    origins = place.origins("walk")
    types = [t for t in DEFAULT_TYPES if t in place.available_layers]
    facs = {t: facilities_from_layer(net, place.layer(t), name=t) for t in types}
    old = doubled(net)
    print(
        f"Sheffield walk network: {net.n_nodes:,} nodes; {net.edge_u.size:,} directed edges now "
        f"(each once); {old.edge_u.size:,} as held before (every edge twice)"
    )
    model, model_old = AccessModel(net), AccessModel(old)
    model.reverse_matrix()
    model_old.reverse_matrix()
    g = nx_graph(model)

    def ours(m: AccessModel) -> dict[str, np.ndarray]:
        return {t: access_table(m, m.solve(fs), origins).to_numpy() for t, fs in facs.items()}

    def theirs() -> dict[str, np.ndarray]:
        out = {}
        for t, fs in facs.items():
            cost = nx_nearest(g, fs, model)
            per_origin = cost[origins.node] + origins.offset_m
            w = np.ones(per_origin.size) if origins.weight is None else origins.weight
            codes, inv = np.unique(origins.area_code, return_inverse=True)
            out[t] = np.bincount(inv, per_origin * w) / np.bincount(inv, w)
            del codes
        return out

    a, b, c = ours(model), theirs(), ours(model_old)
    for t in types:
        np.testing.assert_allclose(a[t], b[t], rtol=1e-9, atol=1e-6)
        np.testing.assert_allclose(a[t], c[t], rtol=1e-9, atol=1e-6)
    print(
        f"answers equal on all {len(types)} types (placekit, networkx, before) for "
        f"{origins.node.size:,} origins"
    )
    # cold matrix build counted once per side: build the CSR inside the timing
    ours_s = median_s(lambda: ours(AccessModel(net)), repeat)
    old_s = median_s(lambda: ours(AccessModel(old)), repeat)
    base_s = median_s(theirs, repeat)
    print(
        f"access for {len(types)} types, median of {repeat}: placekit {ours_s:.2f} s; networkx "
        f"{base_s:.2f} s; ratio {base_s / ours_s:.1f}x | before (edges twice) {old_s:.2f} s; "
        f"now/before {ours_s / old_s:.2f}"
    )

    gp = facs["gp"]
    state = model.solve(gp)
    state_old = model_old.solve(gp)
    x, y = NEW_GP_XY_M
    node, off_m = net.snap(np.array([x]), np.array([y]))
    with_new = FacilitySet(
        "gp",
        np.append(gp.ids, "NEW"),
        np.append(gp.fac, gp.ids.size),
        np.append(gp.node, node),
        np.append(gp.offset_m, off_m),
    )
    inc = model.add_facility(state, x, y, facility_id="NEW")
    np.testing.assert_allclose(inc.cost, nx_nearest(g, with_new, model), rtol=1e-9, atol=1e-6)
    add_s = median_s(lambda: model.add_facility(state, x, y, facility_id="NEW"), max(repeat, 5))
    add_old_s = median_s(
        lambda: model_old.add_facility(state_old, x, y, facility_id="NEW"), max(repeat, 5)
    )
    full_s = median_s(lambda: model.solve(with_new), max(repeat, 5))
    base_one = median_s(lambda: nx_nearest(g, with_new, model), max(repeat, 5))
    print(
        f"one added GP at node {int(node[0])} (snap {float(off_m[0]):.1f} m), median of "
        f"{max(repeat, 5)}: incremental {add_s * 1000:.1f} ms; full placekit re-solve "
        f"{full_s * 1000:.1f} ms (ratio {full_s / add_s:.1f}x); networkx re-solve "
        f"{base_one * 1000:.0f} ms (ratio {base_one / add_s:.0f}x) | before (edges twice) "
        f"{add_old_s * 1000:.1f} ms; now/before {add_s / add_old_s:.2f}"
    )


if __name__ == "__main__":
    main()
