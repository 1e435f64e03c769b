"""Read the files of a place data pack, in place, into the working CRS.

Every reader reprojects to :data:`placekit.config.WORKING_CRS` once. Point and
polygon layers carry their licence attribution in ``GeoDataFrame.attrs``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import pandas as pd

from placekit.config import WORKING_CRS
from placekit.errors import DataError

__all__ = [
    "ATTRIBUTION_NHS",
    "ATTRIBUTION_OGL",
    "ATTRIBUTION_OS",
    "ATTRIBUTION_OSM",
    "LAYERS",
    "LayerSpec",
    "read_layer",
    "read_table",
    "read_vector",
]

ATTRIBUTION_OGL = (
    "Contains public sector information licensed under the Open Government Licence v3.0"
)
ATTRIBUTION_OS = "Contains OS data © Crown copyright and database right"
ATTRIBUTION_OSM = "© OpenStreetMap contributors (ODbL)"
ATTRIBUTION_NHS = "NHS England ODS; " + ATTRIBUTION_OGL


def _path(data: Path, rel: str) -> Path:
    p = data / rel
    if not p.is_file():
        msg = f"The data pack at {data} has no {rel}; see its PROVENANCE.md for the expected files."
        raise DataError(msg)
    return p


def read_vector(data: Path, rel: str) -> gpd.GeoDataFrame:
    """Read one GeoParquet/GeoJSON file of the pack and project it to EPSG:27700 (a fresh copy each call)."""
    p = _path(data, rel)
    st = p.stat()
    return _read_vector_cached(str(p), st.st_size, st.st_mtime_ns).copy()


@functools.lru_cache(maxsize=32)
def _read_vector_cached(path: str, size: int, mtime_ns: int) -> gpd.GeoDataFrame:
    """Read and project once per file version (size and mtime are part of the key)."""
    p = Path(path)
    gdf = gpd.read_parquet(p) if p.suffix == ".parquet" else gpd.read_file(p)
    if gdf.crs is None:
        gdf = gdf.set_crs("EPSG:4326")
    return gdf.to_crs(WORKING_CRS)


def read_table(data: Path, rel: str, **kwargs: object) -> pd.DataFrame:
    """Read one CSV or Parquet table of the pack."""
    p = _path(data, rel)
    if p.suffix == ".parquet":
        return pd.read_parquet(p)
    return pd.read_csv(p, **kwargs)  # type: ignore[arg-type]


@dataclass(frozen=True)
class LayerSpec:
    """How to read one place layer from the pack."""

    name: str
    label: str
    theme: str
    file: str
    attribution: str
    select: Callable[[gpd.GeoDataFrame], pd.Series] | None = None
    name_column: str = "name"


def _poi(*subclasses: str) -> Callable[[gpd.GeoDataFrame], pd.Series]:
    def select(g: gpd.GeoDataFrame) -> pd.Series:
        return g["subclass"].isin(subclasses)

    return select


def _active_ods(g: gpd.GeoDataFrame) -> pd.Series:
    return g["status_code"].eq("A")


def _active_gp(g: gpd.GeoDataFrame) -> pd.Series:
    return g["status_code"].eq("A") & g["prescribing_setting"].astype(str).eq("4")


#: Green-space types counted as publicly usable. Woodland, golf courses,
#: cemeteries, allotments and pitches are left out: the tiles carry no access
#: information and those are often private or restricted.
PUBLIC_GREENSPACE = (
    "park", "recreation_ground", "nature_reserve", "garden", "playground", "village_green",
)

_POI = "poi/sheffield_osm_pois_2021.parquet"
LAYERS: dict[str, LayerSpec] = {
    s.name: s
    for s in (
        LayerSpec("gp", "GP practices (active)", "health and care demand",
                  "poi/sheffield_gp_practices_ods_epraccur_2024-01.parquet", ATTRIBUTION_NHS, _active_gp),
        LayerSpec("pharmacy", "Pharmacies (active)", "health and care demand",
                  "poi/sheffield_pharmacies_ods_edispensary_2025-04.parquet", ATTRIBUTION_NHS, _active_ods),
        LayerSpec("dentist", "Dental practices (active)", "health and care demand",
                  "poi/sheffield_dental_practices_ods_egdpprac_2024-08.parquet", ATTRIBUTION_NHS, _active_ods),
        LayerSpec("greenspace", "Public green space", "leisure and green space",
                  "poi/sheffield_osm_greenspace_2021.parquet", ATTRIBUTION_OSM,
                  lambda g: g["greenspace_type"].isin(PUBLIC_GREENSPACE)),
        LayerSpec("leisure", "Sports and leisure centres, pools", "leisure and green space",
                  _POI, ATTRIBUTION_OSM, _poi("sports_centre", "swimming_pool", "fitness_centre")),
        LayerSpec("library", "Libraries", "community assets", _POI, ATTRIBUTION_OSM, _poi("library")),
        LayerSpec("community_centre", "Community centres", "community assets", _POI,
                  ATTRIBUTION_OSM, _poi("community_centre")),
        LayerSpec("place_of_worship", "Places of worship", "community assets", _POI,
                  ATTRIBUTION_OSM, _poi("place_of_worship")),
        LayerSpec("warm_space", "Warm spaces and community support", "community assets",
                  "poi/sheffield_warm_spaces_directory.parquet",
                  "Open Innovations warm-spaces finder (no licence stated)", None, "title"),
        LayerSpec("stop", "Bus and tram stops (active)", "transport",
                  "transport_poi/naptan_stops_sheffield.parquet", "DfT NaPTAN; " + ATTRIBUTION_OGL,
                  lambda g: g["status"].eq("active") & g["stop_type"].isin(["BCT", "BCS", "TMU"])),
        LayerSpec("tram_line", "Supertram lines", "transport",
                  "transit/sheffield_osm_rail_tram_2021.parquet", ATTRIBUTION_OSM,
                  lambda g: g["railway"].eq("tram")),
        LayerSpec("fast_food", "Fast-food outlets", "leisure and green space", _POI,
                  ATTRIBUTION_OSM, _poi("fast_food")),
        LayerSpec("pub", "Pubs and bars", "community assets", _POI, ATTRIBUTION_OSM, _poi("pub", "bar")),
        LayerSpec("betting", "Betting shops", "community assets", _POI, ATTRIBUTION_OSM, _poi("bookmaker")),
        LayerSpec("school", "Secondary schools", "community assets",
                  "transport_poi/sheffield_secondary_schools_scc.parquet",
                  "Sheffield City Council; " + ATTRIBUTION_OGL, None, "estab_name"),
        LayerSpec("conservation_area", "Conservation areas", "planning",
                  "planning/sheffield_conservation_areas_2024.parquet",
                  "Sheffield City Council via planning.data.gov.uk; " + ATTRIBUTION_OS),
    )
}


def read_layer(data: Path, name: str) -> gpd.GeoDataFrame:
    """
    Read one named place layer (see :data:`LAYERS`) in EPSG:27700.

    The result has a ``name`` column and carries ``attrs["attribution"]``,
    ``attrs["label"]`` and ``attrs["theme"]``.

    Raises
    ------
    DataError
        If the layer name is unknown or its file is missing.
    """
    if name not in LAYERS:
        msg = f"Unknown layer {name!r}; layers are {sorted(LAYERS)}."
        raise DataError(msg)
    spec = LAYERS[name]
    gdf = read_vector(data, spec.file)
    if spec.select is not None:
        gdf = gdf.loc[spec.select(gdf)]
    gdf = gdf.rename(columns={spec.name_column: "name"}) if spec.name_column != "name" else gdf
    if "name" not in gdf.columns:
        gdf["name"] = spec.label
    gdf = gdf.reset_index(drop=True)
    gdf.attrs.update(attribution=spec.attribution, label=spec.label, theme=spec.theme)
    return gdf
