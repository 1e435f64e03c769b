"""Typology and drivers on the Sheffield pack: k choice, stability, held-out R², run times.

Run: ``python benchmarks/bench_analysis.py``. The baseline for the k scan is a
plain scikit-learn KMeans scan with the same restarts on raw (unscaled) data.
"""

from __future__ import annotations

import time

import numpy as np
from sklearn.cluster import KMeans

from placekit.clustering import DEFAULT_VARIABLES, choose_k, cluster_place, stability
from placekit.drivers import explain_demand
from placekit.place import load_place


def main() -> None:
    place = load_place()
    X = place.indicators[DEFAULT_VARIABLES]
    X = X.fillna(X.median())
    t0 = time.perf_counter()
    diag = choose_k(X, n_init=100)
    aris, per_area = stability(X, 6, n_runs=30)
    scan_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    for k in range(2, 13):
        KMeans(k, n_init=100, random_state=0).fit(X.to_numpy())
    base_s = time.perf_counter() - t0
    print(diag.round(3).to_string())
    best_sil = int(diag["silhouette"].idxmax())
    print(
        f"k scan 2..12 (n_init=100) + stability (30 subsamples at k=6): {scan_s:.1f} s; "
        f"plain KMeans scan {base_s:.1f} s (ratio {scan_s / base_s:.1f}x)"
    )
    print(
        f"best silhouette at k={best_sil}; at k=6: ARI mean {aris.mean():.2f} "
        f"(min {aris.min():.2f}), "
        f"per-area agreement median {per_area.median():.2f}"
    )
    t0 = time.perf_counter()
    res = cluster_place(place, k=6, n_init=300)
    print(f"final typology k=6, n_init=300: {time.perf_counter() - t0:.2f} s")
    print(res["portraits"][["name", "n_areas", "population", "main_locality"]].to_string())
    for demand in (
        "bad_health_pct",
        "acute_morbidity_2025",
        "disability_pct",
        "mental_health_2025",
    ):
        t0 = time.perf_counter()
        r = explain_demand(place, demand)
        top = ", ".join(f"{g} ({v:.2f})" for g, v in r.importance["importance"].head(3).items())
        print(
            f"{demand}: held-out R² ridge {r.scores['ridge']:.2f}, gbm {r.scores['gbm']:.2f}; "
            f"Moran's I of residuals {r.morans_i['I']:.2f} (p {r.morans_i['p_sim']:.3f}); "
            f"top groups: {top}; {time.perf_counter() - t0:.1f} s"
        )
    g = r.groups
    print("driver groups:", {k: v for k, v in g.items() if len(v) > 1})
    np.testing.assert_equal(len(res["labels"]), 343)


if __name__ == "__main__":
    main()
