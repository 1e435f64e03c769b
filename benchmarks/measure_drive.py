"""Drive access to a GP against IoD 2019's road distances, by LSOA.

Run: ``python benchmarks/measure_drive.py [PACK]`` (default: the Sheffield pack).

IoD 2019 publishes the mean road distance (km) from an LSOA's postcodes to the
nearest GP surgery; it publishes no times. Like for like, this compares
distances first (placekit's drive network distance against IoD's road
distance), then times: IoD's distance turned into minutes at placekit's own
speed for that LSOA (its drive distance over its drive time), against
placekit's drive time. Speeds come from OSM ``maxspeed`` where a pack has it,
else the road-type speeds of :data:`placekit.network.DRIVE_SPEEDS_KMH`; the
script says which.
"""

from __future__ import annotations

import sys

import numpy as np
from scipy.stats import spearmanr

from placekit.accessibility import access_indicators
from placekit.place import load_place


def main(pack: str | None = None) -> None:
    place = load_place(pack)
    if "road_distance_gp_2019_km" not in place.indicators.columns:
        print(f"{place.pack.name}: no IoD 2019 road distances in this pack; nothing to compare.")
        return
    net = place.network("drive")
    frame, _ = access_indicators(place, modes=("drive",), types=("gp",))
    ours_km = frame["gp_drive_m"] / 1000.0
    ours_min = frame["gp_drive_min"]
    iod_km = place.indicators["road_distance_gp_2019_km"].reindex(frame.index)
    ok = ours_km.notna() & iod_km.notna() & (iod_km > 0)
    ours_km, ours_min, iod_km = ours_km[ok], ours_min[ok], iod_km[ok]
    speed_kmh = ours_km / (ours_min / 60.0)
    iod_min = iod_km / speed_kmh * 60.0
    ratio_km = ours_km / iod_km
    print(
        f"{place.pack.name}: {int(ok.sum())} LSOAs; drive edges {net.edge_u.size:,}, speeds from "
        f"{net.drive_speed_source}"
    )
    print(
        f"distance: placekit median {ours_km.median():.2f} km, IoD 2019 median "
        f"{iod_km.median():.2f} km; ratio placekit/IoD median {ratio_km.median():.2f} "
        f"(IQR {ratio_km.quantile(0.25):.2f}-{ratio_km.quantile(0.75):.2f}); "
        f"Spearman {spearmanr(ours_km, iod_km).statistic:.3f}"
    )
    print(
        f"time: placekit median {ours_min.median():.2f} min; IoD distance at placekit's speed "
        f"median {iod_min.median():.2f} min; ratio median {np.median(ours_min / iod_min):.2f}; "
        f"placekit's implied speed median {speed_kmh.median():.1f} km/h"
    )


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else None)
