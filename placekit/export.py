"""Write tables to CSV, GeoPackage, GeoParquet or GeoJSON, chosen by extension."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd

from placekit.config import DISPLAY_CRS
from placekit.errors import DataError

__all__ = ["FORMATS", "write_table"]

FORMATS = (".csv", ".gpkg", ".parquet", ".geoparquet", ".geojson")


def write_table(table: pd.DataFrame, path: str | Path, *, attributions: list[str] | None = None) -> Path:
    """
    Write ``table`` to ``path``; the format follows the extension.

    CSV drops the geometry; GeoJSON is written in EPSG:4326 as the format
    requires; GeoPackage and GeoParquet keep EPSG:27700. Attributions go in a
    ``<path>.ATTRIBUTION.txt`` file beside the output.

    Raises
    ------
    DataError
        For an unknown extension, or a spatial format asked of a table with no geometry.
    """
    p = Path(path)
    ext = p.suffix.lower()
    if ext not in FORMATS:
        msg = f"Cannot write {p.name}: use one of {list(FORMATS)}."
        raise DataError(msg)
    p.parent.mkdir(parents=True, exist_ok=True)
    is_geo = isinstance(table, gpd.GeoDataFrame) and "geometry" in table.columns
    if ext == ".csv":
        out = pd.DataFrame(table.drop(columns="geometry", errors="ignore"))
        out.to_csv(p, index=True)
    else:
        if not is_geo:
            msg = f"{p.name}: {ext} needs geometry; write .csv for a plain table."
            raise DataError(msg)
        g = table.reset_index()
        if ext == ".gpkg":
            g.to_file(p, driver="GPKG", layer="placekit")
        elif ext == ".geojson":
            g.to_crs(DISPLAY_CRS).to_file(p, driver="GeoJSON")
        else:
            g.to_parquet(p)
    if attributions:
        p.with_name(p.name + ".ATTRIBUTION.txt").write_text("\n".join(attributions) + "\n", encoding="utf-8")
    return p
