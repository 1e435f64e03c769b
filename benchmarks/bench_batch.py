"""Many councils on Dask: batch against serial, memory per worker, and scale by simulation.

Three parts, each printing its figures:

``real``
    The councils of the sources folder that have LSOA rows (South Yorkshire: three of
    four) run once serially in this process (:func:`placekit.batch.run_serial`) and once
    as one batch on a 2-worker local cluster (:func:`placekit.batch.run_batch`), same
    inputs, both building every pack from scratch (fresh output folders and network
    cache). The combined tables are checked identical; the ratio serial / batch is
    printed, with each council's nodes, edges, origins, stage times and peak resident
    memory (pack build and analysis, per worker process).
``scale``
    Synthetic councils, square grid street networks of 10k to 1M nodes (a share of edges
    dropped at random so edges per node varies) with postcode-like origins and eleven
    facility types, run as one batch on a 2-worker local cluster. Each task builds the
    network, snaps origins and facilities and solves nearest-facility access for every
    type (the analysis kernel of a council task); time and peak RSS per task are fitted
    as ``a + b*nodes + c*edges + d*origins`` by least squares.
``england``
    Extrapolates both to England's 309 councils from the measured figures.

Run: ``python benchmarks/bench_batch.py [real] [scale] [--sources DIR]`` (default: both).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

_HERE = Path(__file__).resolve().parent
_SOURCES = _HERE.parent.parent / "shared" / "region" / "south-yorkshire"
#: England's councils (LADs 2024 with LSOAs: lower-tier and unitary), per the issue.
ENGLAND_COUNCILS = 309
#: Census 2021 usual residents: England, and the three South Yorkshire councils run here.
ENGLAND_POP = 56_490_284
_FACILITY_TYPES = 11


def _peak_reset() -> None:
    from placekit.batch import _reset_peak

    _reset_peak()


def synthetic_council(n_side: int, drop: float, origins_per_node: float, seed: int) -> dict:
    """One synthetic council task: grid network, origins, 11 facility types, access solved."""
    import geopandas as gpd
    import shapely

    from placekit.accessibility import AccessModel, access_table, facilities_from_layer
    from placekit.batch import _peak_mb
    from placekit.network import StreetNetwork
    from placekit.origins import Origins
    from placekit.workflows import cap_threads

    cap_threads(1)
    _peak_reset()
    base = _peak_mb()
    t0 = time.perf_counter()
    rng = np.random.default_rng(seed)
    spacing = 80.0
    ix, iy = np.meshgrid(np.arange(n_side), np.arange(n_side), indexing="ij")
    node_x = (400_000 + spacing * ix).ravel().astype(float)
    node_y = (300_000 + spacing * iy).ravel().astype(float)
    k = np.arange(n_side * n_side).reshape(n_side, n_side)
    u = np.concatenate([k[:-1, :].ravel(), k[:, :-1].ravel()])
    v = np.concatenate([k[1:, :].ravel(), k[:, 1:].ravel()])
    keep = rng.random(u.size) >= drop
    u, v = u[keep], v[keep]
    net = StreetNetwork(
        mode="walk",
        node_x=node_x,
        node_y=node_y,
        edge_u=u.astype(np.int64),
        edge_v=v.astype(np.int64),
        length_m=np.full(u.size, spacing),
        highway=np.full(u.size, "residential", dtype=object),
    )
    n_orig = max(1, int(origins_per_node * node_x.size))
    ox = rng.uniform(node_x.min(), node_x.max(), n_orig)
    oy = rng.uniform(node_y.min(), node_y.max(), n_orig)
    onode, ooff = net.snap(ox, oy)
    lsoa = (np.arange(n_orig) // 40).astype(str)
    origins = Origins(x_m=ox, y_m=oy, area_code=lsoa, node=onode, offset_m=ooff, kind="postcodes")
    model = AccessModel(net, metric="length")
    t_build = time.perf_counter() - t0
    n_fac = max(2, node_x.size // 3000)
    for t in range(_FACILITY_TYPES):
        fx = rng.uniform(node_x.min(), node_x.max(), n_fac)
        fy = rng.uniform(node_y.min(), node_y.max(), n_fac)
        layer = gpd.GeoDataFrame(geometry=shapely.points(fx, fy), crs="EPSG:27700")
        fac = facilities_from_layer(net, layer, name=f"type{t}")
        access_table(model, model.solve(fac), origins)
    return {
        "nodes": int(node_x.size),
        "edges": int(u.size),
        "origins": n_orig,
        "seconds": time.perf_counter() - t0,
        "build_s": t_build,
        "peak_mb": _peak_mb(),
        "base_mb": base,
        "pid": os.getpid(),
    }


def _fit(rows: list[dict], key: str) -> tuple[np.ndarray, float]:
    X = np.array([[1.0, r["nodes"], r["edges"], r["origins"]] for r in rows])
    y = np.array([r[key] for r in rows])
    coef, *_ = np.linalg.lstsq(X, y, rcond=None)
    pred = X @ coef
    return coef, float(np.max(np.abs(pred - y) / np.maximum(y, 1e-9)))


def part_scale(workers: int) -> dict:
    from distributed import Client, LocalCluster

    # (grid side, share of edges dropped, origins per node): 10k .. 1M nodes
    plan = [
        (100, 0.0, 0.10),
        (100, 0.3, 0.30),
        (200, 0.1, 0.05),
        (320, 0.2, 0.20),
        (450, 0.0, 0.10),
        (550, 0.3, 0.05),
        (710, 0.1, 0.15),
        (1000, 0.15, 0.10),
    ]
    with (
        LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",
            silence_logs=40,
        ) as cluster,
        Client(cluster) as client,
    ):
        t0 = time.perf_counter()
        futs = [
            client.submit(synthetic_council, *p, seed=i, pure=False) for i, p in enumerate(plan)
        ]
        rows = client.gather(futs)
        wall = time.perf_counter() - t0
    rows.sort(key=lambda r: r["nodes"])
    print(f"\n== scale: {len(rows)} synthetic councils on {workers} workers, wall {wall:.1f} s")
    print(
        f"{'nodes':>9} {'edges':>9} {'origins':>8} {'task s':>7} {'build s':>7} "
        f"{'peak MB':>8} {'base MB':>8}"
    )
    for r in rows:
        print(
            f"{r['nodes']:9,} {r['edges']:9,} {r['origins']:8,} {r['seconds']:7.2f} "
            f"{r['build_s']:7.2f} {r['peak_mb']:8.0f} {r['base_mb']:8.0f}"
        )
    for key, unit in (("peak_mb", "MB"), ("seconds", "s")):
        coef, err = _fit(rows, key)
        print(
            f"fit {key}: {coef[0]:.3g} {unit} + {coef[1] * 1e6:.4g} {unit}/M nodes + "
            f"{coef[2] * 1e6:.4g} {unit}/M edges + {coef[3] * 1e6:.4g} {unit}/M origins "
            f"(largest relative error {err:.1%})"
        )
    return {
        "rows": rows,
        "wall_s": wall,
        "fit_mb": _fit(rows, "peak_mb")[0].tolist(),
        "fit_s": _fit(rows, "seconds")[0].tolist(),
    }


def part_real(sources: Path, workers: int) -> dict:
    import pandas as pd

    from placekit.batch import plan_batch, run_batch, run_serial

    tmp = Path(tempfile.mkdtemp(prefix="bench-batch-"))
    specs, refused = plan_batch(sources, "all", tmp / "plan")
    codes = [s.code for s in specs]
    print(
        f"== real: councils with LSOA rows in {sources}: "
        f"{', '.join(f'{s.code} {s.name}' for s in specs)}"
    )
    for r in refused:
        print(f"   not run: {r.code}: {r.reason}")
    quiet = lambda m: None  # noqa: E731
    os.environ["PLACEKIT_CACHE"] = str(tmp / "cache-serial")
    t0 = time.perf_counter()
    ser = run_serial(sources, codes, tmp / "serial", progress=quiet)
    t_ser = time.perf_counter() - t0
    os.environ["PLACEKIT_CACHE"] = str(tmp / "cache-batch")  # workers inherit it
    t0 = time.perf_counter()
    bat = run_batch(sources, codes, tmp / "batch", workers=workers, progress=print)
    t_bat = time.perf_counter() - t0
    pd.testing.assert_frame_equal(bat.combined, ser.combined, check_exact=True)
    print(f"combined tables identical: {len(bat.combined)} LSOAs x {bat.combined.shape[1]} columns")
    print(
        f"serial {t_ser:.1f} s, batch on {workers} workers {t_bat:.1f} s: "
        f"ratio serial/batch = {t_ser / t_bat:.2f}x  (load average {os.getloadavg()[0]:.2f})"
    )
    print(
        f"{'council':<22} {'nodes':>7} {'edges':>7} {'origins':>7} {'pack s':>7} "
        f"{'access s':>8} {'total s':>7} {'peak MB pack':>12} {'peak MB analysis':>16}"
    )
    rows = []
    for c in ser.councils:
        f = c.facts
        rows.append(
            {
                "code": c.code,
                "name": c.name,
                **{
                    k: f[k]
                    for k in (
                        "nodes",
                        "edges",
                        "origins",
                        "lsoas",
                        "peak_mb_pack",
                        "peak_mb_analysis",
                    )
                },
                "pack_s": f["seconds"]["pack"],
                "access_s": f["seconds"]["access"],
                "total_s": c.seconds,
            }
        )
        print(
            f"{c.code + ' ' + c.name:<22} {f['nodes']:7,} {f['edges']:7,} {f['origins']:7,} "
            f"{f['seconds']['pack']:7.1f} {f['seconds']['access']:8.2f} {c.seconds:7.1f} "
            f"{f['peak_mb_pack']:12.0f} {f['peak_mb_analysis']:16.0f}"
        )
    wpeak = {c.code: (c.facts["peak_mb_pack"], c.facts["peak_mb_analysis"]) for c in bat.councils}
    print(f"peak RSS in the batch's worker processes (pack, analysis) MB: {wpeak}")
    return {
        "serial_s": t_ser,
        "batch_s": t_bat,
        "workers": workers,
        "councils": rows,
        "batch_peaks": wpeak,
        "population": float(bat.combined["population"].sum()),
    }


def part_england(real: dict | None, scale: dict | None, workers: int) -> None:
    print(f"\n== England: {ENGLAND_COUNCILS} councils")
    if real:
        rows = real["councils"]
        pop = real["population"]
        nodes = sum(r["nodes"] for r in rows)
        secs = sum(r["total_s"] for r in rows)
        per_res_nodes = nodes / pop
        eng_nodes = per_res_nodes * ENGLAND_POP
        per_council_s = secs / len(rows) * (eng_nodes / ENGLAND_COUNCILS) / (nodes / len(rows))
        x = np.array([r["edges"] for r in rows], float)
        y = np.array([r["peak_mb_pack"] for r in rows], float)
        b, a = np.polyfit(x, y, 1)
        print(
            f"pack-build peak per worker (3 councils, osmnx parse dominates): "
            f"{a:.0f} MB + {b * 1e6:.0f} MB per million walk edges"
        )
        largest = max(rows, key=lambda r: r["edges"])
        print(
            f"largest council here: {largest['name']} {largest['edges']:,} edges -> measured "
            f"{largest['peak_mb_pack']:.0f} MB (build), {largest['peak_mb_analysis']:.0f} MB "
            "(analysis)"
        )
        print(
            f"walk nodes per resident here {per_res_nodes:.4f} -> England about "
            f"{eng_nodes / 1e6:.2f} M nodes (with margins counted per council, more)"
        )
        total = ENGLAND_COUNCILS * per_council_s
        print(
            f"council task about {per_council_s:.0f} s on average (time scaled by nodes): "
            f"{total / 3600:.1f} h on one worker, {total / 3600 / workers:.1f} h on {workers}, "
            f"{total / 3600 / 16:.2f} h on 16 workers (one per core)"
        )
        big = 1.15e6  # residents of the largest English council (Birmingham)
        big_edges = big * per_res_nodes * (largest["edges"] / largest["nodes"])
        print(
            f"largest English council (~1.15 M residents): about {big_edges / 1e6:.2f} M "
            f"walk edges -> {a + b * big_edges:.0f} MB per worker at build"
        )
    if scale:
        c = scale["fit_mb"]
        print(
            f"analysis kernel (synthetic fit): {c[0]:.0f} MB + {c[1] * 1e6:.0f} MB/M nodes + "
            f"{c[2] * 1e6:.0f} MB/M edges + {c[3] * 1e6:.0f} MB/M origins"
        )


def main(argv: list[str] | None = None) -> int:
    """Run the chosen parts and print their figures."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("parts", nargs="*", default=["real", "scale"], choices=["real", "scale"])
    ap.add_argument("--sources", type=Path, default=_SOURCES)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--json", type=Path, help="also write the figures to this file")
    args = ap.parse_args(argv)
    real = part_real(args.sources, args.workers) if "real" in args.parts else None
    scale = part_scale(args.workers) if "scale" in args.parts else None
    part_england(real, scale, args.workers)
    if args.json:
        args.json.write_text(json.dumps({"real": real, "scale": scale}, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
