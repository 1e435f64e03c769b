"""Figures for any-council packs: contents, access against IoD, origins and borders.

Usage::

    python benchmarks/measure_packs.py [PACK ...] [--sources DIR]

Each PACK is a pack folder (default: the default pack, plus every pack under
``~/placekit-packs``). For each it prints LSOAs, population, IMD 2025 decile-1
count, active GP practices inside, and the Spearman correlation of LSOA walk
distance to the nearest GP with IoD 2019's road distance to a GP surgery.

For a pack with an address grid (origins ``residential_grid``) it also compares
the grid with the fallback used elsewhere (live postcode centroids: the pack's
own postcode table, and, with ``--sources``, the live postcodes of the regional
sources), on the same network: the Spearman of LSOA walk time to the nearest GP.

For a pack cut with a margin (``placekit pack build``), the border effect: for
LSOAs within 1 km of the boundary, the change in walk time to the nearest GP
when GPs over the border are counted (same network, same origins).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd
import shapely
from scipy.stats import spearmanr

from placekit import config, load_place
from placekit.accessibility import AccessModel, access_table, facilities_from_layer
from placekit.origins import build_origins
from placekit.pack import Pack, find_packs


def _gp_walk(place, origins=None, gps=None) -> pd.Series:
    net = place.network("walk")
    model = AccessModel(net, metric="length")
    fac = facilities_from_layer(net, place.layer("gp") if gps is None else gps, name="gp")
    return access_table(model, model.solve(fac), origins or place.origins("walk"))


def describe(place) -> dict[str, object]:
    inside = place.layer("gp").within(place.lsoa.geometry.union_all())
    walk_m = _gp_walk(place)
    out: dict[str, object] = {
        "pack": place.name,
        "LSOAs": len(place.lsoa),
        "population": int(place.weights["population"].sum()),
        "IMD 2025 decile 1": int((place.indicators["imd2025_decile"] == 1).sum()),
        "active GPs inside": int(inside.sum()),
        "active GPs in the pack (margin)": len(place.layer("gp")),
        "origins": place.pack.origins.get("method"),
        "levels": {lv: len(place.localities[lv]) for lv in place.levels},
    }
    if "road_distance_gp_2019_km" in place.indicators:
        rho = spearmanr(
            walk_m,
            place.indicators["road_distance_gp_2019_km"].reindex(walk_m.index),
            nan_policy="omit",
        ).statistic
        out["Spearman GP walk m vs IoD 2019 road km"] = round(float(rho), 3)
    return out


def grid_vs_postcodes(place, sources: Path | None) -> dict[str, object]:
    """Spearman of LSOA GP walk distance: address grid against postcode centroids, same network."""
    grid = _gp_walk(place)
    out: dict[str, object] = {}
    if place.pack.has("postcodes"):
        pc = build_origins(place.pack, place.network("walk"), place.lsoa, method="postcodes")
        alt = _gp_walk(place, pc)
        out["grid vs pack postcodes (all)"] = round(
            float(spearmanr(grid, alt.reindex(grid.index)).statistic), 3
        )
    if sources is not None:
        found = sorted((sources / "lookups").glob("*postcodes*.csv"))
        if found:
            m = dict(
                place.pack.manifest
            )  # the same pack, with the sources' postcodes (an absolute path)
            m["roles"] = {**m["roles"], "postcodes": {"file": str(found[0].resolve())}}
            m["origins"] = {"method": "postcodes", "where": {"status": ["live_2023-05"]}}
            pk = Pack(place.pack.path, m)
            live = build_origins(pk, place.network("walk"), place.lsoa)
            alt = _gp_walk(place, live)
            out["grid vs live postcodes (sources)"] = round(
                float(spearmanr(grid, alt.reindex(grid.index)).statistic), 3
            )
            out["LSOAs with no live postcode (centroid used)"] = live.fallback
    return out


def border_effect(place) -> dict[str, object] | None:
    """GP walk time change for LSOAs within 1 km of the boundary when GPs over the border count."""
    gps = place.layer("gp")
    # the outline of the reported area: slivers between LSOAs closed, holes ignored
    area = shapely.union_all(
        [
            shapely.Polygon(p.exterior)
            for p in shapely.get_parts(place.lsoa.geometry.union_all().buffer(5.0).buffer(-5.0))
        ]
    )
    inside = gps[gps.within(area)]
    if len(inside) == len(gps):
        return None
    both = _gp_walk(place, gps=gps) / 80.0
    own = _gp_walk(place, gps=inside) / 80.0
    edge = place.lsoa.index[place.lsoa.distance(area.boundary) <= 1000.0]
    d = (own - both).reindex(edge)
    return {
        "LSOAs within 1 km of the boundary": len(edge),
        "GPs over the border in the margin": len(gps) - len(inside),
        "LSOAs whose nearest GP is over the border": int((d > 1e-6).sum()),
        "mean walk-min saved": round(float(d.mean()), 2),
        "median": round(float(d.median()), 2),
        "largest": round(float(d.max()), 1),
        "mean GP walk min counting only own GPs": round(float(own.reindex(edge).mean()), 2),
        "counting GPs over the border": round(float(both.reindex(edge).mean()), 2),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("packs", nargs="*", type=Path)
    ap.add_argument("--sources", type=Path, help="regional sources folder (for live postcodes)")
    args = ap.parse_args(argv)
    folders = args.packs or [
        config.data_dir(),
        *find_packs([Path.home() / "placekit-packs"]).values(),
    ]
    seen = set()
    for folder in folders:
        place = load_place(folder)
        if place.data_dir in seen:
            continue
        seen.add(place.data_dir)
        print(f"\n== {place.name} ({place.data_dir})")
        for k, v in describe(place).items():
            print(f"  {k}: {v}")
        if place.pack.origins.get("method") == "residential_grid":
            for k, v in grid_vs_postcodes(place, args.sources).items():
                print(f"  {k}: {v}")
        be = border_effect(place)
        if be:
            print("  border effect:")
            for k, v in be.items():
                print(f"    {k}: {v}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
