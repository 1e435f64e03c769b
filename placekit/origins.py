"""Residential origins: the points access is measured from, where people live.

The pack's manifest says which method it uses (``origins.method``) and why:

``residential_grid``
    Centres of a residential dwelling-presence grid (a council's address
    gazetteer on e.g. 25 m cells): the best source where one exists.
``postcodes``
    Live postcode centroids inside each LSOA, the method of the national Access
    to Healthy Assets and Hazards index (AHAH). Available for every council.
``buildings``
    Building footprint centroids weighted by footprint area, for councils whose
    OpenStreetMap building coverage is complete (check coverage first).
``centroids``
    ONS population-weighted LSOA centroids: one point per LSOA (coarse).

Every LSOA gets at least one origin: an LSOA the source misses falls back to
its population-weighted centroid (or a point inside it), and the fallback is
counted in ``Origins.fallback``.
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj

from placekit.config import WORKING_CRS
from placekit.errors import DataError
from placekit.network import StreetNetwork
from placekit.pack import Pack

__all__ = ["METHODS", "Origins", "build_origins"]

METHODS = ("residential_grid", "postcodes", "buildings", "centroids")


@dataclass(frozen=True)
class Origins:
    """
    Where people live: points, their LSOA, network node, snap distance and weight.

    Attributes
    ----------
    x_m, y_m
        Coordinates in EPSG:27700.
    area_code
        The LSOA of each origin.
    node, offset_m
        Nearest network node and the straight-line distance to it, metres.
    kind
        The method (one of :data:`METHODS`).
    weight
        Relative weight of each origin within its LSOA (ones unless the method
        weights, e.g. footprint area).
    fallback
        Number of LSOAs that had no origin from the method and use a centroid.
    """

    x_m: np.ndarray
    y_m: np.ndarray
    area_code: np.ndarray
    node: np.ndarray
    offset_m: np.ndarray
    kind: str
    weight: np.ndarray | None = None
    fallback: int = 0


def _grid_points(pack: Pack, lsoa: gpd.GeoDataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    import rasterio

    from placekit.localities import _burn

    with rasterio.open(pack.file("residential_grid")) as src:
        resi = src.read(1) > 0
        transform, shape = src.transform, src.shape
    lab = _burn(lsoa, shape, transform)
    rr, cc = np.nonzero(resi & (lab > 0))
    xs, ys = rasterio.transform.xy(transform, rr, cc)
    return np.asarray(xs, float), np.asarray(ys, float), lsoa.index.to_numpy()[lab[rr, cc] - 1]


def _within(lsoa: gpd.GeoDataFrame, pts: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    j = gpd.sjoin(pts, lsoa[["geometry"]], how="inner", predicate="within")
    return (
        j.rename(columns={"area_code": "_lsoa"})
        if "area_code" in j
        else j.rename(columns={"index_right": "_lsoa"})
    )


def _postcode_points(
    pack: Pack, lsoa: gpd.GeoDataFrame, where: dict[str, list[str]]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    pc = pack.read_table("postcodes")
    lat, lon = pack.column("postcodes", "lat"), pack.column("postcodes", "lon")
    keep = pd.Series(True, index=pc.index)
    for key, allowed in where.items():
        col = pack.column("postcodes", key)
        if col not in pc.columns:
            msg = (
                f"The postcode table of pack {pack.name!r} has no column {col!r} "
                "to select live postcodes."
            )
            raise DataError(msg)
        keep &= pc[col].astype(str).isin([str(a) for a in allowed])
    pc = pc.loc[keep]
    y, x = pd.to_numeric(pc[lat], errors="coerce"), pd.to_numeric(pc[lon], errors="coerce")
    ok = x.notna() & y.notna()
    tr = pyproj.Transformer.from_crs("EPSG:4326", WORKING_CRS, always_xy=True)
    bx, by = tr.transform(x[ok].to_numpy(), y[ok].to_numpy())
    pts = gpd.GeoDataFrame(geometry=gpd.points_from_xy(bx, by), crs=WORKING_CRS)
    j = _within(lsoa, pts)
    return j.geometry.x.to_numpy(), j.geometry.y.to_numpy(), j["_lsoa"].astype(str).to_numpy()


def _building_points(
    pack: Pack, lsoa: gpd.GeoDataFrame
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    b = pack.read_vector("buildings")
    b = b[b.geometry.notna() & ~b.geometry.is_empty]
    pts = gpd.GeoDataFrame(
        {"_w": b.geometry.area.to_numpy()},
        geometry=b.geometry.representative_point().to_numpy(),
        crs=b.crs,
    )
    j = _within(lsoa, pts)
    return (
        j.geometry.x.to_numpy(),
        j.geometry.y.to_numpy(),
        j["_lsoa"].astype(str).to_numpy(),
        j["_w"].to_numpy(float),
    )


def _centroid_points(
    pack: Pack, lsoa: gpd.GeoDataFrame, codes: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Population-weighted centroids of ``codes`` (else a point inside the LSOA)."""
    sub = lsoa.loc[codes]
    pts = sub.geometry.representative_point()
    x, y = pts.x.to_numpy().copy(), pts.y.to_numpy().copy()
    if pack.has("centroids"):
        c = pack.read_vector("centroids")
        c = c.set_index(c[pack.column("centroids", "code")].astype(str))
        c = c[~c.index.duplicated()].reindex(codes)
        have = c.geometry.notna().to_numpy()
        x[have], y[have] = c.geometry.x.to_numpy()[have], c.geometry.y.to_numpy()[have]
    return x, y, np.asarray(codes, dtype=object)


def build_origins(
    pack: Pack, net: StreetNetwork, lsoa: gpd.GeoDataFrame, *, method: str | None = None
) -> Origins:
    """
    Residential origins for ``lsoa`` snapped to ``net`` by the pack's method (or ``method``).

    Parameters
    ----------
    pack
        The pack (its manifest's ``origins`` says the method).
    net
        The network to snap to.
    lsoa
        LSOA polygons in EPSG:27700 indexed by code.
    method
        Overrides the pack's method; one of :data:`METHODS`.

    Returns
    -------
    Origins

    Raises
    ------
    DataError
        If the method is unknown or its role is missing from the pack.
    """
    spec = pack.origins
    kind = method or str(spec.get("method", "centroids"))
    if kind not in METHODS:
        msg = f"origins must be one of {list(METHODS)}; got {kind!r}."
        raise DataError(msg)
    weight: np.ndarray | None = None
    if kind == "residential_grid":
        x, y, codes = _grid_points(pack, lsoa)
    elif kind == "postcodes":
        x, y, codes = _postcode_points(
            pack, lsoa, dict(spec.get("where", {})) if method is None else {}
        )
    elif kind == "buildings":
        x, y, codes, weight = _building_points(pack, lsoa)
    else:
        x, y, codes = _centroid_points(pack, lsoa, lsoa.index.to_numpy())
    missing = np.setdiff1d(lsoa.index.to_numpy().astype(str), codes.astype(str))
    if missing.size:
        mx, my, mc = _centroid_points(pack, lsoa, missing)
        x, y, codes = np.append(x, mx), np.append(y, my), np.append(codes, mc)
        if weight is not None:
            weight = np.append(weight, np.ones(missing.size))
    node, off = net.snap(x, y)
    return Origins(x, y, codes.astype(str), node, off, kind, weight, int(missing.size))
