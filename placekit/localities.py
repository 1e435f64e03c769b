"""Assign every LSOA to one area of a locality level drawn with its own boundaries.

Two methods, chosen per level by the pack's manifest:

- address-weighted (:func:`assign_by_residential_cells`): a residential
  dwelling-presence grid (e.g. a council's address gazetteer on 25 m cells) is
  overlaid on the LSOA and locality boundaries; each LSOA goes to the locality
  holding most of its residential cells (largest area overlap where it has none);
- by area (:func:`assign_by_area`): the locality with the largest area overlap.

Levels that come with an ONS lookup (ward best-fit, MSOA) use the lookup instead
(:mod:`placekit._assemble`).
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import rasterio
from rasterio import features

from placekit.errors import DataError

__all__ = ["assign_by_area", "assign_by_residential_cells"]


def _burn(gdf: gpd.GeoDataFrame, shape: tuple[int, int], transform: object) -> np.ndarray:
    shapes = ((geom, i + 1) for i, geom in enumerate(gdf.geometry))
    return features.rasterize(shapes, out_shape=shape, transform=transform, fill=0, dtype="int32")


def assign_by_residential_cells(
    areas: gpd.GeoDataFrame,
    localities: gpd.GeoDataFrame,
    *,
    grid_path: Path,
) -> pd.DataFrame:
    """
    Assign each area to the locality holding most of its residential grid cells.

    Parameters
    ----------
    areas, localities
        Polygons in EPSG:27700, each indexed by its code.
    grid_path
        The residential presence GeoTIFF (1 = at least one dwelling).

    Returns
    -------
    pd.DataFrame
        Indexed like ``areas``: ``locality`` (the code of the chosen locality),
        ``share`` (fraction of the area's residential cells inside it) and
        ``method`` (``"residential_cells"`` or ``"area_overlap"``).
    """
    if not grid_path.is_file():
        msg = f"No residential grid at {grid_path}; it is needed to assign LSOAs to localities."
        raise DataError(msg)
    with rasterio.open(grid_path) as src:
        resi = src.read(1) > 0
        transform, shape = src.transform, src.shape
    a = _burn(areas, shape, transform)
    loc = _burn(localities, shape, transform)
    keep = resi & (a > 0) & (loc > 0)
    counts = pd.crosstab(a[keep], loc[keep])
    out = pd.DataFrame(index=areas.index, columns=["locality", "share", "method"])
    for i, code in enumerate(areas.index, start=1):
        if i in counts.index and counts.loc[i].sum() > 0:
            row = counts.loc[i]
            out.loc[code] = (
                localities.index[int(row.idxmax()) - 1],
                row.max() / row.sum(),
                "residential_cells",
            )
    todo = out.index[out["locality"].isna()]
    if len(todo):
        out.loc[todo] = assign_by_area(areas.loc[todo], localities)
    out["share"] = out["share"].astype(float)
    return out


def assign_by_area(areas: gpd.GeoDataFrame, localities: gpd.GeoDataFrame) -> pd.DataFrame:
    """
    Assign each area to the locality it overlaps most.

    Parameters
    ----------
    areas, localities
        Polygons in the same projected CRS, each indexed by its code.

    Returns
    -------
    pd.DataFrame
        Indexed like ``areas``: ``locality``, ``share`` (fraction of the area's
        overlapped surface inside it) and ``method`` (``"area_overlap"``); an
        area touching no locality gets the nearest one with share 0.
    """
    inter = gpd.overlay(
        areas[["geometry"]].reset_index(names="_a"),
        localities[["geometry"]].reset_index(names="_l"),
        how="intersection",
        keep_geom_type=True,
    )
    inter["_m2"] = inter.area
    out = pd.DataFrame(index=areas.index, columns=["locality", "share", "method"], dtype=object)
    for code, grp in inter.groupby("_a"):
        best = grp.loc[grp["_m2"].idxmax()]
        out.loc[code] = (best["_l"], best["_m2"] / grp["_m2"].sum(), "area_overlap")
    left = out.index[out["locality"].isna()]
    if len(left):
        near = gpd.sjoin_nearest(
            areas.loc[left, ["geometry"]], localities[["geometry"]], how="left"
        )
        for code in left:
            out.loc[code] = (near.loc[[code]].iloc[0]["index_right"], 0.0, "nearest")
    out["share"] = out["share"].astype(float)
    return out
