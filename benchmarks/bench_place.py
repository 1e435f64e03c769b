"""Load time and peak memory of the full Sheffield place, against reading the raw files alone.

Run: ``python benchmarks/bench_place.py``.
"""

from __future__ import annotations

import resource
import time
import tracemalloc

import geopandas as gpd
import pandas as pd

from placekit.config import data_dir
from placekit.place import load_place


def raw_read() -> None:
    """Baseline: read the pack files placekit uses, with no joins, checks or derivations."""
    d = data_dir()
    for f in (
        "boundaries/sheffield_lsoa21.parquet",
        "boundaries/sheffield_wards_2020.parquet",
        "boundaries/sheffield_lac_asc_localities_7.parquet",
        "boundaries/sheffield_neighbourhoods_100.parquet",
        "poi/sheffield_osm_pois_2021.parquet",
        "poi/sheffield_osm_greenspace_2021.parquet",
    ):
        gpd.read_parquet(d / f)
    for f in (
        "deprivation/imd2025_sheffield_lsoa21.csv",
        "deprivation/imd2025_sheffield_lsoa21_indicators.csv",
        "census/census2021_usual_residents_age6_sheffield_lsoa21.csv",
    ):
        pd.read_csv(d / f)
    pd.read_parquet(d / "census/census2021_sheffield_lsoa21_selected_tables_sum_of_oa.parquet")
    pd.read_parquet(d / "deprivation/iod2019_sheffield_lsoa11_combined.parquet")


def main() -> None:
    import subprocess
    import sys

    # a cold load in a fresh process (imports excluded), then warm figures here
    cold = subprocess.run(
        [
            sys.executable,
            "-c",
            (
                "import time; import placekit.place as p; t=time.perf_counter(); p.load_place(); "
                "print(time.perf_counter()-t)"
            ),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    cold_s = float(cold.stdout.strip().splitlines()[-1])
    t0 = time.perf_counter()
    raw_read()
    raw_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    place = load_place()
    load_s = time.perf_counter() - t0
    tracemalloc.start()
    load_place()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"full place load in a fresh process: {cold_s:.2f} s")
    print(
        f"full place load, files already read once in this process: {load_s:.2f} s "
        f"(stages {', '.join(f'{k} {v:.2f} s' for k, v in place.timings_s.items())})"
    )
    print(
        f"raw file reads alone (baseline, cold): {raw_s:.2f} s; fresh-process load / raw reads "
        f"{cold_s / raw_s:.1f}x"
    )
    print(
        f"peak Python allocations during load {peak / 1e6:.0f} MB; process max RSS {rss_mb:.0f} MB"
    )
    print(
        f"{len(place.lsoa)} LSOAs, {place.indicators.shape[1]} indicators, population "
        f"{place.weights['population'].sum():,.0f}"
    )


if __name__ == "__main__":
    main()
