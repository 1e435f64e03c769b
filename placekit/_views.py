"""Map views: where a pydeck map opens (the place, a search hit, a scenario's change).

Re-exported by :mod:`placekit.layers`; the zoom arithmetic is in :mod:`placekit._cartography`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import pandas as pd
import pydeck as pdk

from placekit._cartography import zoom_for_lonlat_bounds
from placekit.config import DISPLAY_CRS

if TYPE_CHECKING:
    from placekit.place import Place
    from placekit.workflows import SearchHit

__all__ = [
    "SEARCH_MAX_ZOOM",
    "SEARCH_PAD",
    "centre_lonlat",
    "change_view",
    "search_view",
    "view_for",
    "view_for_bounds",
]


def view_for(
    gdf: gpd.GeoDataFrame | gpd.GeoSeries,
    *,
    width_px: int = 900,
    height_px: int = 560,
    pad: float = 1.0,
    max_zoom: float = 17.0,
) -> pdk.ViewState:
    """
    A view centred on ``gdf`` at the largest zoom at which it fits a map of the given size.

    At zoom z the world is ``512 * 2**z`` pixels wide (deck.gl and Mapbox use 512-pixel
    tiles); latitude spans are stretched by ``1 / cos(latitude)`` in Web Mercator.

    Parameters
    ----------
    gdf
        Geometries in any CRS (an empty frame raises ``ValueError``).
    width_px, height_px
        Size of the map in pixels.
    pad
        How many times the extent's width and height the view spans (1 fits it tightly;
        3 shows as much again on every side, e.g. an area and its neighbours).
    max_zoom
        The closest zoom allowed (the view never zooms further in than this).
    """
    return view_for_bounds(
        gdf.to_crs(DISPLAY_CRS).total_bounds,
        width_px=width_px,
        height_px=height_px,
        pad=pad,
        max_zoom=max_zoom,
    )


def view_for_bounds(
    bounds: tuple[float, float, float, float] | np.ndarray,
    *,
    width_px: int = 900,
    height_px: int = 560,
    pad: float = 1.0,
    max_zoom: float = 17.0,
    centre: tuple[float, float] | None = None,
) -> pdk.ViewState:
    """
    A view of lon/lat ``bounds`` (EPSG:4326: min lon, min lat, max lon, max lat).

    The zoom fits the bounds, widened ``pad`` times, into the map; it is clipped to
    6 .. ``max_zoom``. The view is centred on the bounds, or on ``centre`` (lon, lat).

    Raises
    ------
    ValueError
        If the bounds are not finite (an empty selection).
    """
    b = np.asarray(bounds, dtype=float)
    if b.shape != (4,) or not np.isfinite(b).all():
        msg = f"A map view needs finite lon/lat bounds; got {b.tolist()} (nothing to show?)."
        raise ValueError(msg)
    z = zoom_for_lonlat_bounds(b, width_px=width_px, height_px=height_px, pad=pad)
    lon, lat = centre if centre is not None else ((b[0] + b[2]) / 2, (b[1] + b[3]) / 2)
    return pdk.ViewState(
        longitude=float(lon), latitude=float(lat), zoom=float(np.clip(z, 6, max(max_zoom, 6)))
    )


#: Search: the found area spans a third of the map (its neighbours show), never closer than this.
SEARCH_PAD = 3.0
SEARCH_MAX_ZOOM = 13.5


def search_view(
    place: Place,
    hit: SearchHit,
    *,
    width_px: int = 900,
    height_px: int = 560,
    pad: float = SEARCH_PAD,
    max_zoom: float = SEARCH_MAX_ZOOM,
) -> pdk.ViewState:
    """
    The view after a search (:func:`placekit.workflows.search_place`): the hit and its neighbours.

    Centred on the hit's point, zoomed so the found area (for a postcode, its LSOA)
    spans ``1 / pad`` of the map, and no closer than ``max_zoom``. A point in no
    area of the place is shown at ``max_zoom``.
    """
    areas = place.areas(hit.level)
    if hit.code in areas.index:
        bounds = areas.loc[[hit.code]].to_crs(DISPLAY_CRS).total_bounds
    else:
        bounds = np.array([hit.lon, hit.lat, hit.lon, hit.lat])
    return view_for_bounds(
        bounds,
        width_px=width_px,
        height_px=height_px,
        pad=pad,
        max_zoom=max_zoom,
        centre=(hit.lon, hit.lat),
    )


def change_view(
    areas: gpd.GeoDataFrame,
    change: pd.Series,
    *,
    points: gpd.GeoSeries | None = None,
    tolerance: float = 1e-9,
    width_px: int = 900,
    height_px: int = 560,
    pad: float = 1.2,
    max_zoom: float = 14.0,
) -> pdk.ViewState | None:
    """
    A view of where a scenario changed something: areas whose ``change`` is not 0, and ``points``.

    Parameters
    ----------
    areas
        The areas (any CRS), indexed like ``change``.
    change
        The change per area (NaN counts as no change).
    points
        Sites added or moved (any CRS), included in the view.
    tolerance
        A change of at most this size (in the change's unit) counts as none.
    width_px, height_px, pad, max_zoom
        As for :func:`view_for`.

    Returns
    -------
    pdk.ViewState or None
        None when nothing changed and there are no points (show the whole place).
    """
    moved = change.reindex(areas.index).abs() > tolerance
    parts = [areas.loc[moved.to_numpy(), "geometry"].to_crs(DISPLAY_CRS)]
    if points is not None and len(points):
        parts.append(points.to_crs(DISPLAY_CRS))
    geoms = pd.concat(parts)
    if geoms.empty:
        return None
    return view_for(
        gpd.GeoSeries(geoms.to_numpy(), crs=DISPLAY_CRS),
        width_px=width_px,
        height_px=height_px,
        pad=pad,
        max_zoom=max_zoom,
    )


def centre_lonlat(gdf: gpd.GeoDataFrame) -> tuple[float, float]:
    """Longitude and latitude of a point inside the union of ``gdf`` (rounded to 5 decimals)."""
    pt = (
        gpd.GeoSeries([gdf.geometry.union_all().representative_point()], crs=gdf.crs)
        .to_crs(DISPLAY_CRS)
        .iloc[0]
    )
    return round(float(pt.x), 5), round(float(pt.y), 5)
