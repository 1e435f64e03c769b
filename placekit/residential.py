"""Where people live inside each area: LSOA polygons clipped to their residential land.

A choropleth colours hectares: a rural LSOA of a few hundred homes and a large
area of moor or farmland takes more of the map than twenty city LSOAs. This
module clips each LSOA to the land its residential origins (:mod:`placekit.origins`,
the method the pack's manifest names) say its people live on, so people, not
hectares, carry the colour. The values are not changed: each LSOA keeps its own
value, drawn only over its homes.

What the clip is made of, by origins method:

``residential_grid``
    The union of the dwelling-presence cells (squares of the grid's cell size,
    inferred from the cell centres), closed by ``close_m`` (default half a cell,
    so a gap of one empty cell between homes, a garden or a street, is filled)
    and optionally grown by ``buffer_m``.
``postcodes``
    Live postcode centroids buffered by ``buffer_m`` (default
    ``DEFAULT_BUFFER_M["postcodes"]``, 125 m: a postcode is some 15 homes).
``buildings``
    Building points buffered by ``buffer_m`` (default 50 m).
``centroids``
    No clip: one point per LSOA says nothing of where in it people live, so every
    LSOA is kept whole.

Each clip is intersected with its own LSOA (so clips never overlap and each lies
within its LSOA); an LSOA whose clip would be empty or smaller than
``min_area_m2`` (or that has no origin of its own, only the fallback centroid)
is kept whole. Everything is in EPSG:27700, metres.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from placekit.config import WORKING_CRS
from placekit.errors import DataError
from placekit.origins import Origins
from placekit.place import Place

__all__ = [
    "DEFAULT_BUFFER_M",
    "DEFAULT_MIN_AREA_M2",
    "VERSION",
    "clip_to_origins",
    "clip_words",
    "dissolve_level",
    "grid_cell_m",
    "largest_share",
    "residential_areas",
]

#: Bump when what :func:`residential_areas` returns for the same pack changes (disk caches).
VERSION = 1
#: Buffer around each origin by method, metres (grid cells are drawn as squares, no buffer).
DEFAULT_BUFFER_M = {"residential_grid": 0.0, "postcodes": 125.0, "buildings": 50.0}
#: An LSOA whose clip is smaller than this (m²) is kept whole: the clip would not show.
DEFAULT_MIN_AREA_M2 = 1_000.0
_POLYGON_TYPES = (3, 6)  # shapely type ids of Polygon and MultiPolygon


def grid_cell_m(x_m: np.ndarray, y_m: np.ndarray, *, default_m: float = 25.0) -> float:
    """
    A regular grid's cell size from its cell centres: the smallest spacing between them.

    Parameters
    ----------
    x_m, y_m
        Cell centres, metres.
    default_m
        Returned when no two centres are neighbours along either axis.

    Returns
    -------
    float
        The cell size, metres.
    """
    steps = []
    for v in (np.asarray(x_m, float), np.asarray(y_m, float)):
        u = np.unique(np.round(v, 3))
        d = np.diff(u)
        d = d[d > 1e-3]
        if d.size:
            steps.append(float(d.min()))
    return min(steps) if steps else float(default_m)


def _polygonal(geoms: np.ndarray) -> np.ndarray:
    """The polygonal part of each geometry (lines and points an intersection leaves dropped)."""
    out = np.asarray(geoms, dtype=object).copy()
    mixed = np.flatnonzero(~np.isin(shapely.get_type_id(out), _POLYGON_TYPES))
    for i in mixed:
        g = out[i]
        if g is None or g.is_empty:
            out[i] = shapely.Polygon()
            continue
        parts = shapely.get_parts(g)
        polys = parts[np.isin(shapely.get_type_id(parts), _POLYGON_TYPES)]
        out[i] = shapely.union_all(polys) if polys.size else shapely.Polygon()
    return out


def _union(shapes: np.ndarray, *, coverage: bool) -> shapely.Geometry:
    """The union of ``shapes``: a fast coverage union where they only touch, else a full one."""
    if coverage:
        try:
            u = shapely.coverage_union_all(shapes)
        except shapely.errors.GEOSException:
            u = None
        total_m2 = float(shapely.area(shapes).sum())
        if u is not None and u.is_valid and abs(u.area - total_m2) <= 1e-9 * max(total_m2, 1.0):
            return u
    return shapely.union_all(shapes)


def _union_by(
    shapes: np.ndarray, codes: np.ndarray, order: pd.Index, *, coverage: bool
) -> np.ndarray:
    """The union of ``shapes`` per code, in ``order`` (empty polygons for codes with none)."""
    out = np.array([shapely.Polygon()] * len(order), dtype=object)
    pos = order.get_indexer(pd.Index(np.asarray(codes).astype(str)))
    for p, idx in pd.Series(np.arange(pos.size)).groupby(pos).indices.items():
        if p >= 0:
            out[p] = _union(shapes[idx], coverage=coverage)
    return out


def _grid_cells(x: np.ndarray, y: np.ndarray, cell_m: float) -> np.ndarray:
    """
    Squares of side ``cell_m`` centred on the cells, sharing their edges exactly.

    Corners are computed from whole cell numbers, so two neighbours' common edge has the
    same coordinates in both (a coverage, which :func:`shapely.coverage_union_all` joins fast).
    """
    x0, y0 = float(x.min()) - cell_m / 2.0, float(y.min()) - cell_m / 2.0
    i, j = np.round((x - x0) / cell_m - 0.5), np.round((y - y0) / cell_m - 0.5)
    return shapely.box(
        x0 + i * cell_m, y0 + j * cell_m, x0 + (i + 1) * cell_m, y0 + (j + 1) * cell_m
    )


def clip_to_origins(
    lsoa: gpd.GeoDataFrame,
    origins: Origins,
    *,
    buffer_m: float | None = None,
    cell_m: float | None = None,
    close_m: float | None = None,
    min_area_m2: float = DEFAULT_MIN_AREA_M2,
) -> gpd.GeoDataFrame:
    """
    Each LSOA's polygon clipped to the land around its residential origins.

    Parameters
    ----------
    lsoa
        LSOA polygons in EPSG:27700, indexed by code, with ``area_name``.
    origins
        Their residential origins (``place.origins(mode)``); ``origins.kind`` says how
        the clip is made (see the module docstring). The last ``origins.fallback``
        origins are centroids of LSOAs the method missed: those LSOAs are kept whole.
    buffer_m
        Distance around each origin (or grid cell), metres; default by method
        (:data:`DEFAULT_BUFFER_M`).
    cell_m
        Cell size of a ``residential_grid``, metres (default: inferred from the centres).
    close_m
        A ``residential_grid``'s cells are closed (grown then shrunk) by this distance,
        metres, which fills gaps narrower than twice it; default half a cell, 0 for none.
    min_area_m2
        An LSOA whose clip is smaller than this is kept whole.

    Returns
    -------
    geopandas.GeoDataFrame
        Indexed exactly like ``lsoa``: ``area_name``, ``geometry`` (the clip, or the
        LSOA), ``area_m2`` (the LSOA's area), ``home_m2`` (the drawn area) and
        ``whole`` (True where the LSOA is kept whole), EPSG:27700.

    Raises
    ------
    DataError
        If ``lsoa`` is not in EPSG:27700 or a distance is negative.
    """
    if lsoa.crs is None or lsoa.crs != gpd.GeoSeries(crs=WORKING_CRS).crs:
        msg = f"LSOAs must be in {WORKING_CRS} to be clipped; got {lsoa.crs}."
        raise DataError(msg)
    kind = origins.kind
    buf = float(DEFAULT_BUFFER_M.get(kind, 0.0) if buffer_m is None else buffer_m)
    bad = [v for v in (buffer_m, close_m, min_area_m2) if v is not None and v < 0]
    if bad or (cell_m is not None and cell_m <= 0):
        msg = "buffer_m, close_m and min_area_m2 must be >= 0 and cell_m > 0."
        raise DataError(msg)
    order = pd.Index(lsoa.index.astype(str))
    polys = lsoa.geometry.to_numpy()
    area_m2 = shapely.area(polys)
    n_own = origins.x_m.size - int(origins.fallback)
    x, y = origins.x_m[:n_own], origins.y_m[:n_own]
    codes = np.asarray(origins.area_code[:n_own]).astype(str)
    if kind == "centroids" or not n_own:
        clip = np.array([shapely.Polygon()] * len(order), dtype=object)
    elif kind == "residential_grid":
        size_m = cell_m or grid_cell_m(x, y)
        clip = _union_by(_grid_cells(x, y, size_m), codes, order, coverage=True)
        close = size_m / 2.0 if close_m is None else float(close_m)
        if close > 0:
            grown = shapely.buffer(clip, close, join_style="mitre")
            clip = shapely.buffer(grown, -close, join_style="mitre")
        if buf > 0:
            clip = shapely.buffer(clip, buf, join_style="mitre")
    else:
        discs = shapely.buffer(shapely.points(x, y), buf, quad_segs=8) if buf > 0 else None
        if discs is None:
            clip = np.array([shapely.Polygon()] * len(order), dtype=object)
        else:
            clip = _union_by(discs, codes, order, coverage=False)
    clip = _polygonal(shapely.intersection(clip, polys))
    home_m2 = shapely.area(clip)
    whole = (home_m2 < min_area_m2) | shapely.is_empty(clip)
    geoms = np.where(whole, polys, clip)
    out = gpd.GeoDataFrame(
        {
            "area_name": lsoa["area_name"].to_numpy(),
            "area_m2": area_m2,
            "home_m2": np.where(whole, area_m2, home_m2),
            "whole": whole,
        },
        geometry=geoms,
        index=lsoa.index.copy(),
        crs=lsoa.crs,
    )
    out.attrs["method"] = kind
    out.attrs["buffer_m"] = buf
    return out


def dissolve_level(
    clipped: gpd.GeoDataFrame, codes: pd.Series, areas: gpd.GeoDataFrame
) -> gpd.GeoDataFrame:
    """
    Clipped LSOAs dissolved to a coarser level (ward, locality...).

    Parameters
    ----------
    clipped
        :func:`clip_to_origins` output, indexed by LSOA code.
    codes
        The code at the level of every LSOA (``place.codes(level)``).
    areas
        The level's areas (``place.areas(level)``): the output is indexed like it.

    Returns
    -------
    geopandas.GeoDataFrame
        Indexed like ``areas``: ``area_name``, ``geometry`` (the union of its LSOAs'
        clips; its own polygon where it has no LSOA), ``area_m2``, ``home_m2``, ``whole``
        (True only if every LSOA in it is kept whole), EPSG:27700.
    """
    key = codes.reindex(clipped.index).astype(str).to_numpy()
    order = pd.Index(areas.index.astype(str))
    geoms = _union_by(clipped.geometry.to_numpy(), key, order, coverage=True)
    empty = shapely.is_empty(geoms)
    geoms = np.where(empty, areas.geometry.to_numpy(), geoms)
    sums = pd.DataFrame(
        {"k": key, "h": clipped["home_m2"].to_numpy(), "w": clipped["whole"].to_numpy()}
    ).groupby("k")
    out = gpd.GeoDataFrame(
        {
            "area_name": areas["area_name"].to_numpy(),
            "area_m2": shapely.area(areas.geometry.to_numpy()),
            "home_m2": sums["h"].sum().reindex(order).fillna(0.0).to_numpy(),
            "whole": sums["w"].all().reindex(order).fillna(True).to_numpy(bool),
        },
        geometry=geoms,
        index=areas.index.copy(),
        crs=areas.crs,
    )
    out.loc[empty, "home_m2"] = out.loc[empty, "area_m2"]
    out.attrs.update(clipped.attrs)
    return out


def residential_areas(
    place: Place,
    *,
    level: str = "lsoa",
    buffer_m: float | None = None,
    min_area_m2: float = DEFAULT_MIN_AREA_M2,
    mode: str = "walk",
) -> gpd.GeoDataFrame:
    """
    The place's areas at ``level`` clipped to where their people live.

    The clip is made from the place's residential origins by the method the pack's
    manifest names (see the module docstring); with ``centroids`` every area is kept
    whole.

    Parameters
    ----------
    place
        The place.
    level
        ``"lsoa"`` or any of ``place.levels``: clipped LSOAs are dissolved by it.
    buffer_m
        Distance around each origin, metres (default by method: :data:`DEFAULT_BUFFER_M`).
    min_area_m2
        An LSOA whose clip is smaller than this is kept whole.
    mode
        The network the origins are snapped to (``place.origins(mode)``); the other
        mode is used if the pack lacks this one.

    Returns
    -------
    geopandas.GeoDataFrame
        Indexed like ``place.areas(level)``: ``area_name``, ``geometry``, ``area_m2``,
        ``home_m2``, ``whole``; ``attrs`` ``method`` and ``buffer_m``. EPSG:27700.

    Raises
    ------
    DataError
        If the level is unknown, or the pack has no street network to place its origins on.
    """
    place.codes(level)  # checks the level
    method = str(place.pack.origins.get("method", "centroids"))
    if method == "centroids":
        none = np.empty(0)
        origins = Origins(none, none, none, none, none, kind="centroids")
    else:
        modes = [mode, *(m for m in ("walk", "drive") if m != mode)]
        usable = [m for m in modes if place.pack.has(f"network_{m}")]
        if not usable:
            msg = (
                f"Pack {place.name!r} has no street network, so its residential origins "
                "cannot be placed; areas are drawn whole."
            )
            raise DataError(msg)
        origins = place.origins(usable[0])
    clipped = clip_to_origins(place.lsoa, origins, buffer_m=buffer_m, min_area_m2=min_area_m2)
    if level == "lsoa":
        return clipped
    return dissolve_level(clipped, place.codes(level), place.areas(level))


def largest_share(area_m2: pd.Series, by_m2: pd.Series, *, top_fraction: float = 0.1) -> float:
    """
    Share of the drawn area held by the largest areas.

    Parameters
    ----------
    area_m2
        The drawn area of each area, m² (e.g. ``home_m2``).
    by_m2
        The size that ranks the areas (e.g. the whole LSOA's ``area_m2``).
    top_fraction
        The fraction of areas counted as largest (rounded up to whole areas).

    Returns
    -------
    float
        Between 0 and 1.
    """
    n = max(1, int(np.ceil(top_fraction * len(by_m2))))
    top = by_m2.sort_values(ascending=False).index[:n]
    total = float(area_m2.sum())
    return float(area_m2.loc[top].sum()) / total if total > 0 else float("nan")


def clip_words(areas: gpd.GeoDataFrame) -> str:
    """
    What the clip of :func:`residential_areas` is made from, in words for a caption.

    Parameters
    ----------
    areas
        Its output (``attrs`` ``method`` and ``buffer_m``, column ``whole``).

    Returns
    -------
    str
        E.g. ``"the residential address grid's cells (gaps of one cell between homes
        filled); 2 of 343 areas drawn whole (no homes of their own to clip to)"``.
    """
    method = str(areas.attrs.get("method", ""))
    buf = float(areas.attrs.get("buffer_m", 0.0))
    what = {
        "residential_grid": "the residential address grid's cells (gaps of one cell between "
        "homes filled)",
        "postcodes": f"live postcode centroids, {buf:g} m around each",
        "buildings": f"building footprints, {buf:g} m around each",
    }.get(method, "")
    if not what:
        return (
            "nothing: this pack's residential origins are one point per area "
            "(population-weighted centroids), so every area is drawn whole"
        )
    if method == "residential_grid" and buf > 0:
        what += f", {buf:g} m around them"
    n_whole = int(areas["whole"].sum()) if "whole" in areas else 0
    if n_whole:
        what += f"; {n_whole} of {len(areas)} areas drawn whole (no homes of their own to clip to)"
    return what
