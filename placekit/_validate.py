"""Shared input checks used at the public boundary of placekit."""

from __future__ import annotations

from collections.abc import Iterable

import geopandas as gpd
import pandas as pd

from placekit.errors import CRSError, SchemaError

__all__ = ["require_columns", "require_crs", "require_projected"]


def require_columns(df: pd.DataFrame, columns: Iterable[str], *, name: str) -> None:
    """Raise :class:`SchemaError` naming the columns of ``df`` that are missing."""
    missing = [c for c in columns if c not in df.columns]
    if missing:
        msg = (
            f"{name} is missing column(s) {missing}. "
            f"Columns present: {sorted(map(str, df.columns))}."
        )
        raise SchemaError(msg)


def require_crs(gdf: gpd.GeoDataFrame, *, name: str) -> None:
    """Raise :class:`CRSError` when ``gdf`` has no CRS."""
    if gdf.crs is None:
        msg = (
            f"{name} has no CRS. Set it with .set_crs('EPSG:4326') for lon/lat or "
            ".set_crs('EPSG:27700') for British National Grid metres."
        )
        raise CRSError(msg)


def require_projected(gdf: gpd.GeoDataFrame, *, name: str) -> None:
    """Raise :class:`CRSError` unless ``gdf`` is in a projected CRS in metres."""
    require_crs(gdf, name=name)
    if not gdf.crs.is_projected:
        msg = (
            f"{name} is in {gdf.crs.to_string()} (degrees). Distances need metres: "
            'call .to_crs("EPSG:27700") or load it with placekit.'
        )
        raise CRSError(msg)
