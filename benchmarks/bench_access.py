"""Benchmark the access engine against the networkx baseline on the real Sheffield walk network.

Run: ``python benchmarks/bench_access.py``. Prints each figure and its ratio to
the baseline measured in the same run.
"""

from __future__ import annotations

import os
import tempfile
import time

import networkx as nx
import numpy as np

from placekit.accessibility import (
    DEFAULT_TYPES,
    AccessModel,
    access_table,
    facilities_from_layer,
    residential_origins,
)
from placekit.network import load_network, pack_network_path
from placekit.place import load_place


def _t(fn, repeat: int = 3) -> float:
    best = np.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> None:
    place = load_place()
    osm = pack_network_path(place.data_dir, "walk")
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["PLACEKIT_CACHE"] = tmp
        t0 = time.perf_counter()
        net = load_network(osm, "walk")
        build_s = time.perf_counter() - t0
        cached_s = _t(lambda: load_network(osm, "walk"))
    print(f"network: first build from OSM XML {build_s:.1f} s; cached load {cached_s * 1000:.0f} ms; "
          f"ratio {build_s / cached_s:.0f}x")

    origins = residential_origins(net, place.lsoa, place.data_dir)
    facs = {t: facilities_from_layer(net, place.layer(t), name=t) for t in DEFAULT_TYPES}
    model = AccessModel(net)
    model.reverse_matrix()

    def ours() -> None:
        for fs in facs.values():
            access_table(model, model.solve(fs), origins)

    # baseline: networkx multi-source Dijkstra from each facility set (osmnx's graph type)
    g = nx.Graph()
    g.add_weighted_edges_from(zip(net.edge_u.tolist(), net.edge_v.tolist(), net.length_m.tolist(), strict=True),
                              weight="length")

    def baseline() -> None:
        for fs in facs.values():
            d = nx.multi_source_dijkstra_path_length(g, set(fs.node.tolist()), weight="length")
            arr = np.full(net.n_nodes, np.inf)
            arr[list(d)] = list(d.values())
            _ = arr[origins.node]

    ours_s = _t(ours)
    base_s = _t(baseline, repeat=1)
    print(f"all {len(facs)} default types, {origins.node.size} origins: placekit {ours_s:.2f} s; "
          f"networkx baseline {base_s:.2f} s; speed-up {base_s / ours_s:.1f}x")

    st = model.solve(facs["gp"])
    add_s = _t(lambda: model.add_facility(st, 436500.0, 383500.0, facility_id="NEW"), repeat=5)
    full_s = _t(lambda: model.solve(facs["gp"]), repeat=5)
    base_one = _t(lambda: nx.multi_source_dijkstra_path_length(g, set(facs["gp"].node.tolist()) | {0},
                                                              weight="length"), repeat=1)
    from scipy.stats import spearmanr

    walk_m = access_table(model, model.solve(facs["gp"]), origins)
    iod = place.indicators["road_distance_gp_2019_km"].reindex(walk_m.index)
    rho = spearmanr(walk_m, iod).statistic
    print(f"agreement with IoD 2019 road distance to a GP (LSOA): Spearman {rho:.3f} "
          f"(placekit mean {walk_m.mean():.0f} m walk; IoD mean {iod.mean() * 1000:.0f} m road)")
    print(f"one added GP: incremental {add_s * 1000:.1f} ms; full recompute {full_s * 1000:.1f} ms "
          f"(ratio {full_s / add_s:.1f}x); networkx recompute {base_one * 1000:.0f} ms "
          f"(ratio {base_one / add_s:.0f}x)")


if __name__ == "__main__":
    main()
