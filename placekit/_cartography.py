"""Map geometry for display: coverage simplification, Web-Mercator pixels, label collisions.

Plain numpy and shapely (no pydeck, no Streamlit), so each step is testable with
hand-made geometry. :mod:`placekit.layers` builds the pydeck layers on top, and
:mod:`placekit.overview` can use :func:`simplify_coverage` for England's areas.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import shapely

__all__ = [
    "TILE_PX",
    "label_boxes_px",
    "lonlat_to_px",
    "simplify_coverage",
    "thin_labels",
    "zoom_for_lonlat_bounds",
]

#: deck.gl and Mapbox draw the world as 512-pixel tiles: at zoom z it is ``512 * 2**z`` px wide.
TILE_PX = 512
#: Width of one character as a share of the font size (sans-serif, semibold; a fair average).
CHAR_WIDTH_EM = 0.6
#: Area moved by cleaning (as a share of the total area) up to which polygons are taken as one
#: coverage with rounding noise along shared edges, rather than polygons that overlap.
NEAR_COVERAGE_OVERLAP = 1e-6


def _polygonal(geoms: np.ndarray) -> np.ndarray:
    """True where a geometry is a non-empty Polygon or MultiPolygon."""
    ok = ~shapely.is_missing(geoms)
    ok[ok] = ~shapely.is_empty(geoms[ok])
    ok[ok] = np.isin(shapely.get_type_id(geoms[ok]), [3, 6])
    return np.asarray(ok, dtype=bool)


def _as_coverage(polys: np.ndarray) -> np.ndarray | None:
    """
    ``polys`` as a valid coverage: as they are, or cleaned when they only overlap by noise.

    :func:`shapely.coverage_clean` snaps shared edges that differ by rounding (a vertex on
    one side only) and gives each overlap to one polygon; if that moves more than
    :data:`NEAR_COVERAGE_OVERLAP` of the total area, the polygons really overlap.

    Returns
    -------
    numpy.ndarray or None
        The coverage (same length and order), or None when the polygons really overlap
        (for example a user's overlapping zones), which coverage simplification would break.
    """
    if shapely.coverage_is_valid(polys):
        return polys
    cleaned = np.asarray(shapely.coverage_clean(polys))
    if len(cleaned) != len(polys) or not _polygonal(cleaned).all():
        return None
    area_m2 = shapely.area(polys)
    moved_m2 = float(np.abs(shapely.area(cleaned) - area_m2).sum())
    return cleaned if moved_m2 <= NEAR_COVERAGE_OVERLAP * float(area_m2.sum()) else None


def simplify_coverage(geoms: Sequence[object] | np.ndarray, tolerance_m: float) -> np.ndarray:
    """
    Simplify polygons so that an edge two of them share stays shared (no slivers between them).

    Uses :func:`shapely.coverage_simplify` (Visvalingam-Whyatt on the shared edges;
    ``tolerance_m`` is roughly the square root of the largest triangle area removed, in
    the geometries' units). Polygons that overlap by rounding noise only are first
    matched edge to edge with :func:`shapely.coverage_clean`. Inputs that are not a
    coverage (polygons that really overlap) or not all polygons fall back to
    per-geometry :func:`shapely.simplify` with ``tolerance_m`` as a distance.

    Parameters
    ----------
    geoms
        Geometries in a projected CRS with metre units (missing or empty ones are kept as
        they are).
    tolerance_m
        Simplification tolerance in metres; 0 or less returns the geometries unchanged.

    Returns
    -------
    numpy.ndarray
        Geometries in the input order.
    """
    arr = np.asarray(geoms, dtype=object).ravel().copy()
    if tolerance_m <= 0 or len(arr) == 0:
        return arr
    poly = _polygonal(arr)
    present = ~shapely.is_missing(arr)
    present[present] = ~shapely.is_empty(arr[present])
    if poly.any() and (poly == present).all():
        coverage = _as_coverage(arr[poly])
        if coverage is not None:
            arr[poly] = shapely.coverage_simplify(coverage, tolerance_m)
            return arr
    arr[present] = shapely.simplify(arr[present], tolerance_m, preserve_topology=True)
    return arr


def lonlat_to_px(lon: np.ndarray, lat: np.ndarray, zoom: float) -> tuple[np.ndarray, np.ndarray]:
    """
    Web-Mercator pixel coordinates (x east, y south) of lon/lat at ``zoom``.

    At zoom z the world is ``512 * 2**z`` pixels wide, as deck.gl draws it.
    """
    world_px = TILE_PX * 2.0 ** float(zoom)
    lon = np.asarray(lon, dtype=float)
    lat = np.radians(np.clip(np.asarray(lat, dtype=float), -85.0511, 85.0511))
    x_px = (lon + 180.0) / 360.0 * world_px
    y_px = (1.0 - np.log(np.tan(np.pi / 4 + lat / 2)) / np.pi) / 2.0 * world_px
    return x_px, y_px


def label_boxes_px(
    text: Sequence[str], *, size_px: float, padding_px: tuple[float, float] = (3.0, 1.0)
) -> tuple[np.ndarray, np.ndarray]:
    """
    Estimated width and height in pixels of each label with its background box.

    Width is ``len(text) * 0.6 * size_px`` plus the padding on both sides; height is
    one line (``size_px``) plus the padding above and below.
    """
    n_chars = np.array([len(str(t)) for t in text], dtype=float)
    width_px = n_chars * CHAR_WIDTH_EM * size_px + 2 * padding_px[0]
    height_px = np.full(len(n_chars), size_px + 2 * padding_px[1], dtype=float)
    return width_px, height_px


def thin_labels(
    lon: np.ndarray,
    lat: np.ndarray,
    text: Sequence[str],
    priority: np.ndarray,
    *,
    zoom: float,
    size_px: float,
    padding_px: tuple[float, float] = (3.0, 1.0),
) -> np.ndarray:
    """
    Which labels to draw so that none overlaps another at ``zoom``: greedy, by priority.

    Labels are taken in order of ``priority`` (highest first, ties by text), each kept
    unless its box (centred on its point, see :func:`label_boxes_px`) overlaps a box
    already kept.

    Returns
    -------
    numpy.ndarray
        Boolean mask in the input order: True for a label to draw.
    """
    x_px, y_px = lonlat_to_px(lon, lat, zoom)
    w_px, h_px = label_boxes_px(text, size_px=size_px, padding_px=padding_px)
    names = [str(t) for t in text]
    pri = np.asarray(priority, dtype=float)
    order = sorted(range(len(names)), key=lambda i: (-pri[i], names[i]))
    keep = np.zeros(len(names), dtype=bool)
    kept: list[int] = []
    for i in order:
        k = np.asarray(kept, dtype=int)
        clash = (np.abs(x_px[k] - x_px[i]) < (w_px[k] + w_px[i]) / 2) & (
            np.abs(y_px[k] - y_px[i]) < (h_px[k] + h_px[i]) / 2
        )
        if not clash.any():
            keep[i] = True
            kept.append(i)
    return keep


def zoom_for_lonlat_bounds(
    bounds: Sequence[float] | np.ndarray, *, width_px: int, height_px: int, pad: float = 1.0
) -> float:
    """
    The largest zoom at which lon/lat ``bounds``, widened ``pad`` times, fit the map.

    Latitude spans are stretched by ``1 / cos(latitude)`` in Web Mercator; 0.15 of a
    zoom level is kept as a margin. The result is not clipped.
    """
    b = np.asarray(bounds, dtype=float)
    lat_mid = (b[1] + b[3]) / 2
    lon_span = max((b[2] - b[0]) * pad, 1e-4)
    lat_span = max((b[3] - b[1]) * pad / np.cos(np.radians(lat_mid)), 1e-4)
    return float(
        min(
            np.log2(width_px * 360 / (TILE_PX * lon_span)),
            np.log2(height_px * 360 / (TILE_PX * lat_span)),
        )
        - 0.15
    )
