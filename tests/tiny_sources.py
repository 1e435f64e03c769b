"""A tiny, hand-checkable sources folder in the region layout, for the pack builder tests.

Two made-up councils side by side on the British National Grid, each of four 1 km square
LSOAs (x in metres, y from 380,000 to 382,000)::

    y 382000 +------+------+------+------+
             | 903  | 904  | 907  | 908  |     Westerby E09999901: LSOAs E01999901-904
    y 381000 +------+------+------+------+     Easterby E09999902: LSOAs E01999905-908
             | 901  | 902  | 905  | 906  |
    y 380000 +------+------+------+------+
           430000  431000  432000  433000  434000

- Census ``ts0010001`` is 1000, 1100, 1200, 1300 in Westerby (4,600) and 1500 ... 1800 in
  Easterby (6,600).
- Census 2011 (LSOA 2011 codes equal the 2021 ones; the lookup marks every LSOA unchanged):
  households by number of deprivation dimensions 0 ... 4 (:data:`DEPRIVATION11`, 500 per
  Westerby LSOA) in the regional long layout with ``lad_code``, and usual residents
  (:data:`POPULATION11`: 950, 1000, 1150, 1250 in Westerby, 4,350) in the ONS layout with a
  2011 ``Local authority code`` and no ``lad_code``. Both also hold E01999990, an LSOA of a
  third council (E09999903) in no lookup, which no pack keeps.
- Wards: a south and a north ward in each council (two LSOAs each); one MSOA per council.
- Postcodes: in every LSOA a live one 200 m west of its centre and a terminated one 200 m
  east; one live postcode outside both councils at (429500, 381000).
- Buildings: a 20 m square on the live postcodes of E01999901 and E01999902, so 2 of
  Westerby's 4 live postcodes (50 %) and none of Easterby's have a building within 50 m.
- GP practices: one at the centre of each Westerby LSOA, one in Easterby 300 m over the
  border (432300, 381500), one far east outside both councils (436500, 381000).
- Streets (walk and drive): a grid of nodes every 1 km at x = 424500 ... 439500 and
  y = 378500 ... 383500, each segment between neighbours one way. With a 3 km margin around
  Westerby 48 nodes lie inside (x 427500 ... 434500) and 94 ways touch them (60 nodes);
  with no margin 4 nodes lie inside, 12 ways touch them (12 nodes).
"""

from __future__ import annotations

import bz2
from collections.abc import Sequence
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
from shapely.geometry import Point, box

__all__ = [
    "COUNCILS",
    "DEPRIVATION11",
    "GRID_X",
    "GRID_Y",
    "LSOAS",
    "OUTSIDE11",
    "POPULATION",
    "POPULATION11",
    "make_tiny_sources",
    "write_grid_osm",
]

COUNCILS = {"E09999901": "Westerby", "E09999902": "Easterby"}
#: LSOA code -> (council, x0, y0) of its 1 km square.
LSOAS = {
    "E01999901": ("E09999901", 430000, 380000),
    "E01999902": ("E09999901", 431000, 380000),
    "E01999903": ("E09999901", 430000, 381000),
    "E01999904": ("E09999901", 431000, 381000),
    "E01999905": ("E09999902", 432000, 380000),
    "E01999906": ("E09999902", 433000, 380000),
    "E01999907": ("E09999902", 432000, 381000),
    "E01999908": ("E09999902", 433000, 381000),
}
POPULATION = dict(zip(LSOAS, [1000, 1100, 1200, 1300, 1500, 1600, 1700, 1800], strict=True))
#: An LSOA 2011 of a third council, in the national Census 2011 tables but in no lookup.
OUTSIDE11 = "E01999990"
#: Census 2011 households by number of deprivation dimensions (0, 1, 2, 3, 4) per LSOA 2011.
DEPRIVATION11 = {
    "E01999901": (200, 150, 100, 40, 10),
    "E01999902": (250, 150, 70, 25, 5),
    "E01999903": (300, 120, 60, 15, 5),
    "E01999904": (350, 100, 40, 8, 2),
    "E01999905": (400, 200, 80, 15, 5),
    "E01999906": (420, 190, 70, 15, 5),
    "E01999907": (440, 180, 60, 15, 5),
    "E01999908": (460, 170, 50, 15, 5),
    OUTSIDE11: (100, 100, 100, 100, 100),
}
#: Census 2011 usual residents per LSOA 2011.
POPULATION11 = {
    **dict(zip(LSOAS, [950, 1000, 1150, 1250, 1400, 1550, 1650, 1700], strict=True)),
    OUTSIDE11: 2000,
}
GRID_X = [424500 + 1000 * i for i in range(16)]
GRID_Y = [378500 + 1000 * j for j in range(6)]
_TO_LL = pyproj.Transformer.from_crs("EPSG:27700", "EPSG:4326", always_xy=True)


def _gdf(data: dict[str, list[object]], geoms: list[object]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(data, geometry=geoms, crs="EPSG:27700").to_crs("EPSG:4326")


def _ward(code: str) -> tuple[str, str]:
    la, _x, y = LSOAS[code]
    n = 1 if la == "E09999901" else 3
    north = y == 381000
    return f"E0599990{n + north}", f"{COUNCILS[la]} {'North' if north else 'South'}"


def write_grid_osm(
    path: Path, xs: Sequence[float], ys: Sequence[float], *, highway: str = "residential"
) -> tuple[dict[int, tuple[float, float]], dict[int, tuple[int, int]]]:
    """
    Write a grid street network as OSM XML: a node at every (x, y), a way per segment.

    Parameters
    ----------
    path
        Output ``.osm`` or ``.osm.bz2`` file.
    xs, ys
        Grid lines in EPSG:27700 metres.
    highway
        The ``highway`` tag of every way.

    Returns
    -------
    (dict, dict)
        ``{node id: (x, y)}`` and ``{way id: (node id, node id)}``.
    """
    nodes: dict[int, tuple[float, float]] = {}
    nid = {}
    for i, x in enumerate(xs):
        for j, y in enumerate(ys):
            k = 1 + i * len(ys) + j
            nodes[k], nid[i, j] = (float(x), float(y)), k
    ways: dict[int, tuple[int, int]] = {}
    for i in range(len(xs)):
        for j in range(len(ys)):
            if i + 1 < len(xs):
                ways[len(ways) + 1] = (nid[i, j], nid[i + 1, j])
            if j + 1 < len(ys):
                ways[len(ways) + 1] = (nid[i, j], nid[i, j + 1])
    lines = ["<?xml version='1.0' encoding='UTF-8'?>", '<osm version="0.6" generator="tiny">']
    for k, (x, y) in nodes.items():
        lon, lat = _TO_LL.transform(x, y)
        lines.append(f'  <node id="{k}" version="1" lat="{lat:.7f}" lon="{lon:.7f}"/>')
    for w, (a, b) in ways.items():
        lines += [
            f'  <way id="{w}" version="1">',
            f'    <nd ref="{a}"/>',
            f'    <nd ref="{b}"/>',
            f'    <tag k="highway" v="{highway}"/>',
            f'    <tag k="name" v="Street {w}"/>',
            "  </way>",
        ]
    lines.append("</osm>\n")
    text = "\n".join(lines)
    if str(path).endswith(".bz2"):
        with bz2.open(path, "wt", encoding="utf-8") as f:
            f.write(text)
    else:
        Path(path).write_text(text, encoding="utf-8")
    return nodes, ways


def make_tiny_sources(folder: Path) -> None:
    """
    Write the tiny sources folder described in this module's docstring.

    Parameters
    ----------
    folder
        Where to write it (created if missing).
    """
    folder = Path(folder)
    for sub in ("boundaries", "lookups", "deprivation", "census", "poi", "network", "extra"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    codes = list(LSOAS)
    la = [LSOAS[c][0] for c in codes]
    squares = [box(x, y, x + 1000, y + 1000) for _la, x, y in LSOAS.values()]
    centres = [(x + 500, y + 500) for _la, x, y in LSOAS.values()]
    names = [f"{COUNCILS[a]} 001{'ABCD'[i % 4]}" for i, a in enumerate(la)]
    wards = [_ward(c) for c in codes]

    _gdf(
        {"LSOA21CD": codes, "LSOA21NM": names, "CHGIND": ["U"] * 8, "lad_code": la}, squares
    ).to_parquet(folder / "boundaries" / "tinyshire_lsoa21.parquet")
    lsoa = gpd.GeoDataFrame(
        {"lad_code": la, "ward": [w[0] for w in wards], "ward_name": [w[1] for w in wards]},
        geometry=squares,
        crs="EPSG:27700",
    )
    lad = lsoa.dissolve("lad_code").reset_index()
    _gdf(
        {"name": [COUNCILS[c] for c in lad.lad_code], "lad_code": list(lad.lad_code)},
        list(lad.geometry),
    ).to_parquet(folder / "boundaries" / "tinyshire_lad_boundaries.parquet")
    wd = lsoa.dissolve("ward").reset_index()
    _gdf(
        {"WD24CD": list(wd.ward), "WD24NM": list(wd.ward_name), "lad_code": list(wd.lad_code)},
        list(wd.geometry),
    ).to_parquet(folder / "boundaries" / "tinyshire_wards_2024.parquet")
    _gdf({"LSOA21CD": codes, "lad_code": la}, [Point(c) for c in centres]).to_parquet(
        folder / "lookups" / "lsoa21_population_weighted_centroids_tinyshire.parquet"
    )

    pop = [POPULATION[c] for c in codes]
    pd.DataFrame(
        {
            "LSOA21CD": codes,
            "ts0010001": pop,
            "ts0010002": [p - 10 for p in pop],
            "ts0010003": [10] * 8,
            "lad_code": la,
        }
    ).to_parquet(
        folder / "census" / "census2021_tinyshire_lsoa21_selected_tables_sum_of_oa.parquet"
    )
    pd.DataFrame(
        {
            "lsoa21_code": codes,
            "IMD_decile": [1, 2, 3, 4, 5, 6, 7, 8],
            "IMD_score": [50.0, 40.0, 30.0, 25.0, 20.0, 15.0, 10.0, 5.0],
            "lad_code": la,
        }
    ).to_csv(folder / "deprivation" / "imd2025_tinyshire_lsoa21.csv", index=False)
    pd.DataFrame(
        {
            "lsoa11cd": codes,
            "imd_decile": [1, 2, 3, 4, 5, 6, 7, 8],
            "pop_total_mid2015": [p - 50 for p in pop],
            "lad_code": la,
        }
    ).to_parquet(folder / "deprivation" / "iod2019_tinyshire_lsoa11_combined.parquet")
    pd.DataFrame(
        {"LSOA11CD": codes, "LSOA21CD": codes, "CHGIND": ["U"] * 8, "lad_code": la}
    ).to_csv(folder / "lookups" / "tinyshire_lsoa11_lsoa21_lad22.csv", index=False)
    la11 = {**dict(zip(codes, la, strict=True)), OUTSIDE11: "E09999903"}
    dep = [
        (c, float(d), n, n / sum(counts), la11[c])
        for c, counts in DEPRIVATION11.items()
        for d, n in enumerate(counts)
    ]
    pd.DataFrame(
        dep,
        columns=[
            "lsoa11_code",
            "households_number_deprivation_dimensions",
            "count",
            "proportion",
            "lad_code",
        ],
    ).to_csv(
        folder / "census" / "census2011_household_deprivation_tinyshire_lsoa11.csv", index=False
    )
    pd.DataFrame(
        {
            "Local authority code": [la11[c] for c in POPULATION11],
            "LSOA Code": list(POPULATION11),
            "All usual residents": list(POPULATION11.values()),
            "Households": [sum(DEPRIVATION11[c]) for c in POPULATION11],
        }
    ).to_csv(
        folder / "census" / "census2011_population_households_density_tinyshire_lsoa11.csv",
        index=False,
    )
    pd.DataFrame(
        {
            "LSOA21CD": codes,
            "WD24CD": [w[0] for w in wards],
            "WD24NM": [w[1] for w in wards],
            "LAD24CD": la,
            "LAD24NM": [COUNCILS[a] for a in la],
            "lad_code": la,
        }
    ).to_csv(folder / "lookups" / "tinyshire_lsoa21_ward24_lad24_bestfit.csv", index=False)
    wl = pd.DataFrame(
        {
            "WD24CD": [w[0] for w in wards],
            "WD24NM": [w[1] for w in wards],
            "LAD24CD": la,
            "LAD24NM": [COUNCILS[a] for a in la],
        }
    ).drop_duplicates()
    wl.assign(lad_code=wl.LAD24CD).to_csv(
        folder / "lookups" / "tinyshire_ward24_lad24.csv", index=False
    )
    msoa = ["E02999901" if a == "E09999901" else "E02999902" for a in la]
    pd.DataFrame(
        {
            "OA21CD": [c.replace("E01", "E00") for c in codes],
            "LSOA21CD": codes,
            "MSOA21CD": msoa,
            "MSOA21NM": [f"{COUNCILS[a]} 001" for a in la],
            "lad_code": la,
        }
    ).to_csv(folder / "lookups" / "tinyshire_oa21_lsoa21_msoa21_lad22.csv", index=False)

    rows = []
    for i, (c, (cx, cy)) in enumerate(zip(codes, centres, strict=True)):
        rows.append((f"TS{i + 1} 1AA", cx - 200, cy, la[i], c, "live_2023-05"))
        rows.append((f"TS{i + 1} 9ZZ", cx + 200, cy, la[i], c, "unknown"))
    rows.append(("TS99 1AA", 429500, 381000, "", "", "live_2023-05"))
    x = np.array([r[1] for r in rows], float)
    y = np.array([r[2] for r in rows], float)
    lon, lat = _TO_LL.transform(x, y)
    pd.DataFrame(
        {
            "postcode": [r[0] for r in rows],
            "lat": np.round(lat, 6),
            "lon": np.round(lon, 6),
            "lad_code": [r[3] for r in rows],
            "lsoa21": [r[4] for r in rows],
            "status": [r[5] for r in rows],
        }
    ).to_csv(folder / "lookups" / "tinyshire_postcodes_2025-05_latlon.csv", index=False)
    blds = [box(cx - 210, cy - 10, cx - 190, cy + 10) for cx, cy in centres[:2]]
    _gdf({"building_id": [1, 2]}, blds).to_parquet(
        folder / "extra" / "tinyshire_osm_buildings_2021.parquet"
    )

    gp_xy = [*centres[:4], (432300, 381500), (436500, 381000)]
    n = len(gp_xy)
    _gdf(
        {
            "org_code": [f"G{i:05d}" for i in range(n)],
            "name": [f"Practice {i}" for i in range(n)],
            "status_code": ["A"] * n,
            "prescribing_setting": ["4"] * n,
        },
        [Point(p) for p in gp_xy],
    ).to_parquet(folder / "poi" / "tinyshire_gp_practices_ods_epraccur_2024-01.parquet")

    write_grid_osm(
        folder / "network" / "tinyshire_osm_walk_2021.osm.bz2",
        GRID_X,
        GRID_Y,
        highway="residential",
    )
    write_grid_osm(
        folder / "network" / "tinyshire_osm_drive_2021.osm.bz2", GRID_X, GRID_Y, highway="tertiary"
    )
