"""Isochrones before and after: 400 m walks round every secondary school in the pack.

Run: ``python benchmarks/bench_isochrones.py [--max-m 400] [--repeat 5]``.

For each school of the pack's ``school`` layer (Sheffield: the 31 secondary
schools) it draws the walk isochrone by the old method (``method="edges"``:
edges with both ends reached, 25 m buffer) and the new one
(``method="service_area"``: partial edges to the cut-off, 50 m buffer, enclosed
blocks up to 5 ha filled), on the same network, the same snapping and the same
cached shortest-path matrix, and prints side by side: the median area, the
median time per isochrone (median of ``--repeat`` runs of every school, after
one warm-up), the people within (residential origins sharing each LSOA's
population) and each ratio new / old. The straight-line disc of radius
``--max-m`` is printed as a ceiling no network polygon can exceed (by more
than the buffer).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from placekit import load_place
from placekit.accessibility import AccessModel, isochrone, people_within


def _timed(
    model: AccessModel, xs: np.ndarray, ys: np.ndarray, max_m: float, method: str, repeat: int
) -> tuple[list[object], float]:
    """The isochrones, and the median seconds per isochrone over ``repeat`` rounds."""
    polys = [
        isochrone(model, x, y, max_cost=max_m, method=method) for x, y in zip(xs, ys, strict=True)
    ]  # warm
    per: list[float] = []
    for _ in range(repeat):
        for x, y in zip(xs, ys, strict=True):
            t0 = time.perf_counter()
            isochrone(model, x, y, max_cost=max_m, method=method)
            per.append(time.perf_counter() - t0)
    return polys, float(np.median(per))


def main(argv: list[str] | None = None) -> None:
    """Print the comparison table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--max-m", type=float, default=400.0, help="walk distance, metres")
    ap.add_argument("--repeat", type=int, default=5, help="timed rounds over all schools")
    args = ap.parse_args(argv)

    place = load_place()
    net = place.network("walk")
    schools = place.layer("school")
    xs, ys = schools.geometry.x.to_numpy(), schools.geometry.y.to_numpy()
    origins = place.origins("walk")
    pop = place.weights["population"]
    model = AccessModel(net, metric="length")
    model.forward_matrix()  # build once, outside the timings

    rows = {}
    for method in ("edges", "service_area"):
        polys, sec = _timed(model, xs, ys, args.max_m, method, args.repeat)
        areas = np.array([p.area for p in polys])
        people = np.array([people_within(p, origins, pop) for p in polys])
        rows[method] = (areas, sec, people)

    (a0, t0, p0), (a1, t1, p1) = rows["edges"], rows["service_area"]
    disc = np.pi * args.max_m**2
    print(
        f"{len(xs)} schools, {args.max_m:g} m walk, network of {net.n_nodes} nodes / "
        f"{net.edge_u.size} edges, {origins.x_m.size} residential origins"
    )
    print(f"{'':32s}{'old (edges)':>14s}{'new (service area)':>20s}{'new / old':>11s}")
    print(
        f"{'median area, m2':32s}{np.median(a0):14,.0f}{np.median(a1):20,.0f}"
        f"{np.median(a1) / np.median(a0):11.2f}"
    )
    print(f"{'median of per-school ratio':32s}{'':14s}{'':20s}{np.median(a1 / a0):11.2f}")
    print(
        f"{'median area / straight disc':32s}{np.median(a0) / disc:14.2f}"
        f"{np.median(a1) / disc:20.2f}"
    )
    print(
        f"{'median people within':32s}{np.median(p0):14,.0f}{np.median(p1):20,.0f}"
        f"{np.median(p1) / np.median(p0):11.2f}"
    )
    print(f"{'median ms per isochrone':32s}{1e3 * t0:14.1f}{1e3 * t1:20.1f}{t1 / t0:11.2f}")
    print(
        f"(straight-line disc of {args.max_m:g} m: {disc:,.0f} m2; timings: median of "
        f"{args.repeat} rounds x {len(xs)} schools, shortest-path matrix prebuilt)"
    )


if __name__ == "__main__":
    main()
