"""Display layers: analysis frames to pydeck layers in EPSG:4326 (plain Python, no Streamlit).

The base map is drawn from the pack itself (city boundary, main roads, green
space, locality outlines), so maps read well with no internet tiles. Tooltips
use deck.gl's ``text`` template, which renders values as text, never HTML.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import pandas as pd
import pydeck as pdk
import shapely
from pydeck.bindings.json_tools import default_serialize

from placekit import pack
from placekit._cartography import simplify_coverage, thin_labels
from placekit._views import (
    centre_lonlat,
    change_view,
    search_view,
    view_for,
    view_for_bounds,
)
from placekit.classes import (
    MISSING,
    SEQUENTIAL,
    SUPPRESSED,
    Legend,
    classify,
    fmt_value,
    suppressed_label,
)
from placekit.config import DISPLAY_CRS
from placekit.export import atomic_path

if TYPE_CHECKING:
    from placekit.place import Place

__all__ = [
    "BASE_LAYERS",
    "BIVARIATE_COLOURS",
    "MAIN_ROADS",
    "SEQUENTIAL",
    "CompactDeck",
    "Legend",
    "base_layers",
    "bivariate_classes",
    "categorical",
    "centre_lonlat",
    "change_choropleth",
    "change_view",
    "choropleth",
    "classify",
    "deck",
    "display_areas",
    "label_layer",
    "label_points",
    "map_html",
    "overlay_layers",
    "point_layer",
    "search_view",
    "static_choropleth",
    "to_static",
    "view_for",
    "view_for_bounds",
    "write_static_areas",
]

#: 3x3 bivariate palette (demand class rows 0..2, driver class cols 0..2).
BIVARIATE_COLOURS = [
    [(232, 232, 232), (172, 228, 228), (90, 200, 200)],
    [(223, 176, 214), (165, 173, 211), (86, 152, 185)],
    [(190, 100, 172), (140, 98, 170), (59, 73, 148)],
]
#: Simplification tolerance of area polygons on screen, metres (a city map is about 25 m per
#: pixel); for areas that tile the place it is the coverage (Visvalingam-Whyatt) tolerance.
DISPLAY_SIMPLIFY_M = 35.0
POINT_COLOURS = {
    "gp": (220, 30, 60),
    "pharmacy": (30, 150, 60),
    "dentist": (150, 60, 200),
    "leisure": (255, 140, 0),
    "library": (120, 80, 40),
    "community_centre": (0, 120, 200),
    "stop": (90, 90, 90),
    "fast_food": (255, 90, 0),
    "pub": (160, 100, 0),
    "betting": (200, 0, 120),
    "warm_space": (230, 60, 0),
    "school": (60, 60, 160),
    "place_of_worship": (110, 110, 160),
    "isochrone": (230, 120, 0),
}
#: OSM highway classes drawn above a choropleth (and kept in a prepared place).
MAIN_ROADS = ("motorway", "trunk", "primary", "secondary")
#: Place layers every offline base map draws (and kept in a prepared place).
BASE_LAYERS = ("greenspace",)
#: Change maps: shorter (better) in blues (green is green space), longer (worse) in reds,
#: no change left uncoloured.
BETTER = [(198, 219, 239), (107, 174, 214), (33, 102, 172)]
WORSE = [(252, 187, 161), (251, 106, 74), (203, 24, 29)]
#: The base map's land colour (an area with no change is left uncoloured on it).
BASE_LAND = (246, 244, 238)


def _to_display(
    gdf: gpd.GeoDataFrame, simplify_m: float, *, coverage: bool = False
) -> gpd.GeoDataFrame:
    """Simplify in metres, reproject to EPSG:4326, round to 5 decimals (about 1 m).

    Keeps the payloads small. With ``coverage`` (areas that tile the place), shared
    edges are simplified once (:func:`placekit._cartography.simplify_coverage`), so
    neighbours still meet on screen; otherwise each geometry is simplified alone.
    """
    g = gdf.copy()
    if simplify_m > 0 and not (g.geom_type == "Point").all():
        g["geometry"] = (
            simplify_coverage(g.geometry.to_numpy(), simplify_m)
            if coverage
            else g.geometry.simplify(simplify_m)
        )
    g = g.to_crs(DISPLAY_CRS)
    g["geometry"] = shapely.transform(g.geometry.to_numpy(), lambda c: np.round(c, 5))
    return g


def _main_roads(place: Place, classes: tuple[str, ...]) -> gpd.GeoDataFrame:
    """Main roads merged into long lines per class (OSM ways are often cut at tile edges)."""
    roads = place.roads(classes)
    if roads.empty:
        return gpd.GeoDataFrame(geometry=[], crs=roads.crs)
    merged = (
        roads[["highway", "geometry"]].dissolve(by="highway").geometry.apply(shapely.line_merge)
    )
    return gpd.GeoDataFrame(geometry=merged.to_numpy(), crs=roads.crs)


def _fmt(v: float) -> str:
    return fmt_value(v)


def choropleth(
    table: gpd.GeoDataFrame,
    column: str,
    *,
    title: str,
    k: int = 5,
    scheme: str = "quantiles",
    locality: pd.Series | None = None,
    higher_is_worse: bool = True,
    layer_id: str = "choropleth",
    suppressed: pd.Series | None = None,
    whole: bool = False,
    min_count: int = 5,
    unit: str = "",
) -> tuple[pdk.Layer, Legend]:
    """
    A filled polygon layer coloured by class of ``column`` (:func:`classify`), data inline.

    ``suppressed`` (True where disclosure control hides the value) is drawn and
    labelled apart from no data; ``whole`` shows values as whole numbers (counts); the
    tooltip gives each value with ``unit``, its rank and its locality.
    Used for exports and small maps; the app's main map uses :func:`static_choropleth`.
    """
    v = table[column].astype(float)
    _bins, colours, cls, lg = classify(
        v, k=k, scheme=scheme, suppressed=suppressed, whole=whole, min_count=min_count
    )
    g = _to_display(
        table[["area_name", "geometry"]].assign(_v=v), DISPLAY_SIMPLIFY_M, coverage=True
    )
    rank = v.rank(ascending=not higher_is_worse, method="min")
    g["fill"] = [
        [*list(colours[int(c)]), 190]
        if c >= 0
        else [*list(SUPPRESSED if c == -2 else MISSING), 150]
        for c in cls
    ]
    g["value"] = [
        suppressed_label(min_count) if c == -2 else fmt_value(x, whole=whole)
        for x, c in zip(v, cls, strict=True)
    ]
    n_ok = int(v.notna().sum())
    g["rank"] = [f"{int(r)} of {n_ok}" if np.isfinite(r) else "-" for r in rank]
    g["locality"] = locality.reindex(g.index).astype(str).to_numpy() if locality is not None else ""
    g["code"] = g.index.astype(str)
    g["name"] = g["area_name"].astype(str)
    g["tip"] = [
        _tip(n, c, _with_unit(val, unit), rank=_rank_words(r), locality=loc)
        for n, c, val, r, loc in zip(
            g["name"], g["code"], g["value"], g["rank"], g["locality"], strict=True
        )
    ]
    data = g[["geometry", "fill", "value", "rank", "locality", "code", "name", "tip"]]
    # no polygon outlines: in software-rendered browsers they cost more than the fills
    # (locality outlines are drawn above by overlay_layers)
    layer = pdk.Layer(
        "GeoJsonLayer",
        data=data.__geo_interface__,
        id=layer_id,
        pickable=True,
        stroked=False,
        filled=True,
        get_fill_color="properties.fill",
    )
    return layer, Legend(title, lg.method, lg.entries)


def _round_sig(x: np.ndarray, digits: int = 6) -> np.ndarray:
    """Round to significant digits, so values and class breaks written to the browser agree."""
    x = np.asarray(x, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        mag = np.where(np.isfinite(x) & (x != 0), np.floor(np.log10(np.abs(x))), 0)
    scale = 10.0 ** (digits - 1 - mag)
    return np.where(np.isfinite(x), np.round(x * scale) / scale, np.nan)


def _tip(
    name: str, code: str, value: str = "", *, rank: str = "", locality: str = ""
) -> str:
    """A feature's tooltip in words, one line each, the empty ones left out."""
    head = f"{name} ({code})" if name and code and name != code else (name or code)
    return "\n".join(x for x in (head, value, rank, locality) if x)


def _with_unit(value: str, unit: str) -> str:
    """``value`` and its unit, unless the value is a word (no data, suppressed)."""
    numeric = bool(value) and (value[0].isdigit() or value[0] in "-−")
    return f"{value} {unit}" if unit and numeric else value


def _rank_words(rank: str) -> str:
    return f"rank {rank} (1 = worst)" if rank and rank != "-" else ""


def write_static_areas(
    table: gpd.GeoDataFrame,
    folder: Path,
    *,
    locality: pd.Series | None = None,
    higher_is_worse: dict[str, bool] | None = None,
    units: dict[str, str] | None = None,
) -> str:
    """
    Write area geometry with every numeric column (and its rank) as one GeoJSON file, once.

    Each column ``c`` also gets ``c__text``, its value as a person reads it (with its unit
    from ``units``, or "no data"), for the tooltip of :func:`static_choropleth`.

    The browser then loads the geometry a single time; a map is recoloured by
    an expression (:func:`static_choropleth`) instead of re-sending polygons.
    The file name is a hash of its content, so new data get a new file.

    Returns
    -------
    str
        The file name inside ``folder``.
    """
    g = _to_display(table[["area_name", "geometry"]], DISPLAY_SIMPLIFY_M, coverage=True)
    props = pd.DataFrame(
        {"name": table["area_name"].astype(str), "code": table.index.astype(str)}, index=table.index
    )
    props["locality"] = locality.reindex(table.index).astype(str) if locality is not None else ""
    worse = higher_is_worse or {}
    for c in table.columns:
        if c in ("area_name", "geometry") or not pd.api.types.is_numeric_dtype(table[c]):
            continue
        v = table[c].astype(float)
        props[c] = _round_sig(v.to_numpy())
        r = v.rank(ascending=not worse.get(c, True), method="min").to_numpy()
        n = int(v.notna().sum())  # once per column (it copies the frame's attrs)
        props[f"{c}__rank"] = [f"{int(x)} of {n}" if np.isfinite(x) else "-" for x in r]
        unit = (units or {}).get(c, "")
        props[f"{c}__text"] = [_with_unit(fmt_value(x), unit) for x in v.to_numpy()]
    # one pass over columns, not rows: NaN -> null, geometry as GeoJSON text from shapely
    records = props.astype(object).where(props.notna(), None).to_dict("records")
    geoms = shapely.to_geojson(g.geometry.to_numpy())
    parts = [
        f'{{"type":"Feature","geometry":{gj},"properties":'
        f"{json.dumps(rec, separators=(',', ':'))}}}"
        for gj, rec in zip(geoms, records, strict=True)
    ]
    text = '{"type":"FeatureCollection","features":[' + ",".join(parts) + "]}"
    import hashlib

    name = f"areas_{hashlib.sha1(text.encode()).hexdigest()[:16]}.geojson"
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / name
    if not target.exists():
        with atomic_path(target) as tmp:  # unique temp name: two sessions never share one
            tmp.write_text(text, encoding="utf-8")
    return name


def to_static(
    layers: list[pdk.Layer], folder: Path, *, url_prefix: str = "app/static"
) -> list[pdk.Layer]:
    """
    Move the inline GeoJSON of each layer into a content-named file under ``folder``.

    The layers then load it by URL.

    deck.gl keeps a layer's polygons while its ``data`` URL is unchanged, so
    static base layers are sent and tessellated once, not on every rerun.
    """
    import copy
    import hashlib

    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for layer in layers:
        data = getattr(layer, "data", None)
        if isinstance(data, dict) and data.get("type") == "FeatureCollection":
            text = json.dumps(data, separators=(",", ":"), default=float)
            name = f"layer_{hashlib.sha1(text.encode()).hexdigest()[:16]}.geojson"
            target = folder / name
            if not target.exists():
                with atomic_path(target) as tmp:
                    tmp.write_text(text, encoding="utf-8")
            layer = copy.copy(layer)
            layer.data = f"{url_prefix}/{name}"
        out.append(layer)
    return out


def static_choropleth(
    url: str,
    values: pd.Series,
    column: str,
    *,
    title: str,
    k: int = 5,
    scheme: str = "quantiles",
    layer_id: str = "choropleth",
    with_locality: bool = True,
) -> tuple[pdk.Layer, Legend, dict[str, str]]:
    """
    A choropleth over geometry already in the browser (a URL from :func:`write_static_areas`).

    Its tooltip names the area, its value with its unit and its rank, and (``with_locality``,
    for LSOAs) the locality it is in.

    Only the class breaks travel on a rerun: ``getFillColor`` is an expression
    on the feature's ``column`` property, and ``updateTriggers`` tells deck.gl to
    recolour without reloading the polygons.

    Returns
    -------
    (pdk.Layer, Legend, dict)
        The layer, its legend and the deck tooltip for ``column``.
    """
    if not column.isidentifier():
        msg = f"Column {column!r} cannot be used in a colour expression."
        raise ValueError(msg)
    bins, colours, _cls, lg = classify(values, k=k, scheme=scheme)
    rounded = _round_sig(np.asarray(bins))
    prop = f"properties.{column}"
    expr = f"{prop} == null ? {[*list(MISSING), 120]} : "
    for b, c in zip(rounded[:-1], colours[:-1], strict=False):
        expr += f"{prop} <= {float(b)!r} ? {[*list(c), 190]} : "
    expr += str([*list(colours[-1]), 190]) if colours else str([*list(MISSING), 120])
    layer = pdk.Layer(
        "GeoJsonLayer",
        data=url,
        id=layer_id,
        pickable=True,
        stroked=False,
        filled=True,
        get_fill_color=expr,
        update_triggers={"getFillColor": [column, *map(float, rounded)]},
    )
    tooltip = {
        "text": f"{{name}} ({{code}})\n{{{column}__text}}\nrank {{{column}__rank}} (1 = worst)"
        + ("\n{locality}" if with_locality else "")
    }
    return layer, Legend(title, lg.method, lg.entries), tooltip


def display_areas(table: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """
    Areas that tile the place as a change map draws them: their ``area_name`` and geometry,
    coverage-simplified at 20 m and in EPSG:4326 (see :func:`change_choropleth`).
    """
    return _to_display(table[["area_name", "geometry"]], 20.0, coverage=True)


def change_choropleth(
    table: gpd.GeoDataFrame,
    column: str,
    *,
    title: str,
    lower_is_better: bool = True,
    layer_id: str = "change",
    tolerance: float = 1e-9,
    display: gpd.GeoDataFrame | None = None,
) -> tuple[pdk.Layer, Legend]:
    """
    A map of a change: improvements and worsenings each in up to three quantile classes of
    their own (of the size of the change), blue for better and red for worse (green is green
    space's colour); the smallest class of each reads "up to".

    Only the areas that changed are drawn; the others show the base map's land colour, which
    the legend's "no change" entry carries. Drawing every area, outlined, cost about 180,000
    vertices per frame more, at a few µs each in software rendering, so the change map took
    a second longer to appear than the map under it.

    ``display`` is ``display_areas(table)`` computed once (an app redrawing the same areas
    keeps it), to skip simplifying the whole coverage again on every change.
    """
    v = table[column].astype(float)
    better = v < -tolerance if lower_is_better else v > tolerance
    worse = v > tolerance if lower_is_better else v < -tolerance
    fill = pd.Series(None, index=v.index, dtype=object)  # set for the areas that changed
    entries: list[tuple[str, tuple[int, int, int]]] = []
    for mask, ramp, word in ((better, BETTER, "better"), (worse, WORSE, "worse")):
        if not mask.any():
            continue
        mag = v[mask].abs()
        q = np.unique(np.quantile(mag, [1 / 3, 2 / 3, 1.0]))
        cls = np.searchsorted(q, mag.to_numpy(), side="left").clip(0, len(q) - 1)
        shades = ramp[-len(q) :] if len(q) < 3 else ramp
        for idx, c in zip(mag.index, cls, strict=True):
            fill[idx] = [*list(shades[c]), 210]
        # the smallest class reads "up to": its lowest change may round to 0.00, which would
        # read as "no change" (that has its own entry)
        entries += [
            (
                f"{word}: up to {_fmt(hi)}" if i == 0 else f"{word}: {_fmt(q[i - 1])} – {_fmt(hi)}",
                shades[i],
            )
            for i, hi in enumerate(q)
        ]
    entries.append(("no change (not coloured)", BASE_LAND))
    g = (display_areas(table) if display is None else display).reindex(table.index)
    g = g.loc[(better | worse).to_numpy()].copy()
    g["fill"] = fill.reindex(g.index).tolist()
    g["value"] = [_fmt(x) for x in v.reindex(g.index)]
    g["rank"], g["locality"] = "", ""
    g["code"] = g.index.astype(str)
    g["name"] = g["area_name"].astype(str)
    g["tip"] = [
        _tip(n, c, f"{title}: {val}")
        for n, c, val in zip(g["name"], g["code"], g["value"], strict=True)
    ]
    data = g[["geometry", "fill", "value", "rank", "locality", "code", "name", "tip"]]
    layer = pdk.Layer(
        "GeoJsonLayer",
        data=data.__geo_interface__,
        id=layer_id,
        pickable=True,
        filled=True,
        stroked=True,
        get_fill_color="properties.fill",
        get_line_color=[255, 255, 255, 160],
        line_width_min_pixels=0.5,
    )
    return layer, Legend(
        title, "change; each direction in up to 3 quantile classes of its size", entries
    )


#: A qualitative palette (ColorBrewer Set2 + Dark2) for categories such as neighbourhood types.
QUALITATIVE = [
    (102, 194, 165),
    (252, 141, 98),
    (141, 160, 203),
    (231, 138, 195),
    (166, 216, 84),
    (255, 217, 47),
    (229, 196, 148),
    (27, 158, 119),
    (217, 95, 2),
    (117, 112, 179),
    (231, 41, 138),
    (102, 166, 30),
]
#: Prevention tiers, from most to least targeted (the HTML report uses the same colours).
TIER_RGB = {
    "tertiary": (178, 24, 43),
    "secondary": (239, 138, 98),
    "primary": (253, 219, 199),
    "universal": (224, 224, 224),
}


def categorical(
    table: gpd.GeoDataFrame,
    column: str,
    *,
    title: str,
    colours: dict[str, tuple[int, int, int]] | None = None,
    layer_id: str = "categories",
) -> tuple[pdk.Layer, Legend]:
    """
    A filled polygon layer with one colour per category of ``column`` (strings), and its legend.

    Categories keep the order of ``colours`` when given, else sorted order with :data:`QUALITATIVE`.
    """
    cats = table[column].astype("string")
    names = list(colours) if colours else sorted(c for c in cats.dropna().unique())
    pal = colours or {c: QUALITATIVE[i % len(QUALITATIVE)] for i, c in enumerate(names)}
    g = _to_display(table[["area_name", "geometry"]], DISPLAY_SIMPLIFY_M, coverage=True)
    g["fill"] = [
        [*list(pal.get(str(c), MISSING)), 200] if pd.notna(c) else [*list(MISSING), 120]
        for c in cats
    ]
    g["value"] = cats.fillna("missing").astype(str).to_numpy()
    g["rank"], g["locality"] = "", ""
    g["code"] = g.index.astype(str)
    g["name"] = g["area_name"].astype(str)
    g["tip"] = [
        _tip(n, c, f"{title}: {val}")
        for n, c, val in zip(g["name"], g["code"], g["value"], strict=True)
    ]
    data = g[["geometry", "fill", "value", "rank", "locality", "code", "name", "tip"]]
    layer = pdk.Layer(
        "GeoJsonLayer",
        data=data.__geo_interface__,
        id=layer_id,
        pickable=True,
        filled=True,
        stroked=False,
        get_fill_color="properties.fill",
    )
    counts = cats.value_counts()
    entries = [(f"{c} ({int(counts.get(c, 0))})", pal[c]) for c in names]
    return layer, Legend(title, "categories (number of areas)", entries)


def _tertile(v: pd.Series) -> pd.Series:
    """Tertile (0, 1, 2) of each value by rank; with under three values, ranks spread over 0..2."""
    r = v.rank(method="first")
    n = int(r.notna().sum())
    if n >= 3:
        return pd.qcut(r, 3, labels=False)
    return np.floor(3 * (r - 1) / max(n, 1))


def bivariate_classes(a: pd.Series, b: pd.Series) -> pd.Series:
    """Tertile class pairs (0..2, 0..2) of two indicators, as ``3 * class_a + class_b``."""
    return (3 * _tertile(a) + _tertile(b)).astype("Int64")


def bivariate(
    table: gpd.GeoDataFrame, demand: str, driver: str, *, title: str
) -> tuple[pdk.Layer, Legend]:
    """A 3x3 bivariate choropleth: demand tertile against driver tertile."""
    cls = bivariate_classes(table[demand].astype(float), table[driver].astype(float))
    g = _to_display(table[["area_name", "geometry"]], 20.0, coverage=True)
    g["fill"] = [
        [*list(BIVARIATE_COLOURS[int(c) // 3][int(c) % 3]), 200]
        if pd.notna(c)
        else [*list(MISSING), 120]
        for c in cls
    ]
    g["value"] = [
        f"{_fmt(x)} / {_fmt(y)}" for x, y in zip(table[demand], table[driver], strict=True)
    ]
    g["rank"] = [
        f"demand tertile {int(c) // 3 + 1}, driver tertile {int(c) % 3 + 1}" if pd.notna(c) else "-"
        for c in cls
    ]
    g["locality"] = ""
    g["code"] = g.index.astype(str)
    g["name"] = g["area_name"].astype(str)
    g["tip"] = [
        _tip(n, c, f"demand / driver: {val}", rank=r)
        for n, c, val, r in zip(g["name"], g["code"], g["value"], g["rank"], strict=True)
    ]
    data = g[["geometry", "fill", "value", "rank", "locality", "code", "name", "tip"]]
    layer = pdk.Layer(
        "GeoJsonLayer",
        data=data.__geo_interface__,
        id="bivariate",
        pickable=True,
        filled=True,
        stroked=True,
        get_fill_color="properties.fill",
        get_line_color=[255, 255, 255, 160],
        line_width_min_pixels=0.5,
    )
    entries = [
        (
            f"demand {['low', 'mid', 'high'][i]}, driver {['low', 'mid', 'high'][j]}",
            BIVARIATE_COLOURS[i][j],
        )
        for i in range(3)
        for j in range(3)
    ]
    return layer, Legend(title, "3 x 3 tertiles (equal counts)", entries)


def base_layers(place: Place, localities: gpd.GeoDataFrame | None = None) -> list[pdk.Layer]:
    """The offline base under a choropleth: the place's outline, green space, locality outlines."""
    city = _to_display(place.boundary(), 30.0)
    layers = [
        pdk.Layer(
            "GeoJsonLayer",
            data=city.__geo_interface__,
            id="base-city",
            filled=True,
            get_fill_color=[*BASE_LAND, 255],
            get_line_color=[80, 80, 80, 255],
            line_width_min_pixels=2,
        ),
    ]
    (green_name,) = BASE_LAYERS
    if green_name in place.available_layers:
        green = place.layer(green_name)
        green = _to_display(green.loc[green.area > 20_000, ["geometry"]], 20.0)
        layers.append(
            pdk.Layer(
                "GeoJsonLayer",
                data=green.__geo_interface__,
                id="base-green",
                filled=True,
                stroked=False,
                get_fill_color=[170, 215, 160, 255],
            )
        )
    if localities is not None:
        loc = _to_display(localities[["geometry"]], 20.0, coverage=True)
        layers.append(
            pdk.Layer(
                "GeoJsonLayer",
                data=loc.__geo_interface__,
                id="base-localities",
                filled=False,
                get_line_color=[40, 40, 40, 220],
                line_width_min_pixels=1.5,
            )
        )
    return layers


def overlay_layers(
    place: Place, localities: gpd.GeoDataFrame | None, roads_on_top: bool = True
) -> list[pdk.Layer]:
    """Roads and locality outlines drawn above a choropleth so places stay recognisable."""
    roads = _to_display(_main_roads(place, MAIN_ROADS), 15.0)
    out = []
    if roads_on_top and not roads.empty:
        out.append(
            pdk.Layer(
                "GeoJsonLayer",
                data=roads.__geo_interface__,
                id="top-roads",
                get_line_color=[90, 90, 90, 200],
                line_width_min_pixels=1,
            )
        )
    if localities is not None:
        loc = _to_display(localities[["geometry"]], 20.0, coverage=True)
        out.append(
            pdk.Layer(
                "GeoJsonLayer",
                data=loc.__geo_interface__,
                id="top-localities",
                filled=False,
                get_line_color=[20, 20, 20, 230],
                line_width_min_pixels=2,
            )
        )
    return out


def point_layer(gdf: gpd.GeoDataFrame, name: str, *, filled: bool = True) -> pdk.Layer:
    """
    A point (or polygon, for green space and conservation areas) overlay with a text tooltip.

    ``filled=False`` draws polygons as outlines only (2 px), for an area drawn over a
    choropleth whose colours must stay readable under it (an isochrone over a change map).
    """
    g = gdf[["geometry"]].copy()
    label = str(gdf.attrs.get("label", name))
    g["name"] = gdf["name"].fillna("").astype(str) if "name" in gdf else ""
    g["value"] = label
    g["rank"], g["locality"], g["code"] = "", "", name
    g["tip"] = [f"{label}: {n}" if n.strip() else f"{label} (unnamed)" for n in g["name"]]
    g = _to_display(g, 10.0)
    colour = list(POINT_COLOURS.get(name, (0, 0, 0)))
    if (g.geom_type == "Point").all():
        df = pd.DataFrame(
            {
                "lon": g.geometry.x,
                "lat": g.geometry.y,
                "name": g["name"],
                "value": g["value"],
                "rank": "",
                "locality": "",
                "code": name,
                "tip": g["tip"],
            }
        )
        return pdk.Layer(
            "ScatterplotLayer",
            data=df,
            id=f"pts-{name}",
            get_position=["lon", "lat"],
            get_fill_color=[*colour, 230],
            get_line_color=[255, 255, 255],
            stroked=True,
            radius_min_pixels=3,
            radius_max_pixels=8,
            get_radius=40,
            pickable=True,
        )
    return pdk.Layer(
        "GeoJsonLayer",
        data=g.__geo_interface__,
        id=f"poly-{name}",
        pickable=True,
        filled=filled,
        get_fill_color=[*colour, 90],
        get_line_color=[*colour, 255],
        line_width_min_pixels=1 if filled else 2,
    )


#: Every pickable layer's features carry their tooltip in words (``tip``, see :func:`_tip`).
TOOLTIP = {"text": "{tip}"}


class CompactDeck(pdk.Deck):
    """A Deck whose JSON has no indentation (pydeck pretty-prints: a city map 5x larger)."""

    def to_json(self) -> str:
        """
        The deck as compact JSON (same content as :meth:`pydeck.Deck.to_json`).

        ``<``, ``>`` and ``&`` are written as JSON unicode escapes, so a name such as
        ``</script><script>…`` cannot end the ``<script>`` block an HTML export embeds it in.
        """
        text = json.dumps(self, sort_keys=True, default=default_serialize, separators=(",", ":"))
        return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def hidden(layers: list[pdk.Layer]) -> list[pdk.Layer]:
    """
    Copies of ``layers`` that deck.gl keeps (data loaded, geometry tessellated) but does not draw.

    deck.gl matches layers by id from one frame to the next, so a map that hides its
    layers instead of dropping them draws them again at no cost when they are shown.
    """
    import copy

    out = []
    for layer in layers:
        layer = copy.copy(layer)
        layer.visible = False
        out.append(layer)
    return out


def deck(
    layers: list[pdk.Layer], view: pdk.ViewState, *, tooltip: dict[str, str] | None = None
) -> pdk.Deck:
    """
    A pydeck map with a text-only tooltip and, by default, no outside base map.

    The pack's own layers are the base. Set ``PLACEKIT_BASEMAP`` to a map style
    URL (e.g. a CARTO or self-hosted style) to draw an online base map under them.
    """
    style = os.environ.get("PLACEKIT_BASEMAP")
    if style:
        return CompactDeck(
            layers=layers,
            initial_view_state=view,
            map_provider="carto",
            map_style=style,
            tooltip=tooltip or TOOLTIP,
        )
    return CompactDeck(
        layers=layers, initial_view_state=view, map_provider=None, tooltip=tooltip or TOOLTIP
    )


def map_html(
    deck_obj: pdk.Deck,
    *,
    attributions: list[str] | None = None,
    title: str = "placekit map",
    legend: Legend | None = None,
    source: str = "",
    date: str | None = None,
) -> str:
    """
    A self-contained HTML file of a map: title, legend, source, date and attributions.

    deck.gl is bundled (``offline=True``) and no other file is fetched: the
    template's links to web fonts and style sheets are removed.

    Returns
    -------
    str
        The HTML document.
    """
    import datetime as _dt
    import html as _html
    import re

    text = deck_obj.to_html(as_string=True, offline=True, notebook_display=False)
    text = re.sub(r"<link[^>]+href=[\"']?https?://[^>]*>", "", str(text))
    text = re.sub(r"<script[^>]+src=[\"']?https?://[^>]*>\s*</script>", "", text)
    lines = attributions or [pack.ATTRIBUTION_OGL, pack.ATTRIBUTION_OS, pack.ATTRIBUTION_OSM]
    day = date or _dt.date.today().isoformat()
    rows = ""
    if legend is not None:
        rows = "".join(
            f"<div><span style='display:inline-block;width:12px;height:12px;"
            f"background:rgb{tuple(c)};border:1px solid #999;margin-right:5px'></span>"
            f"{_html.escape(lbl)}</div>"
            for lbl, c in legend.entries
        )
        rows = (
            f"<div style='margin-top:4px'><b>{_html.escape(legend.title)}</b><br>"
            f"<i>{_html.escape(legend.method)}</i>{rows}</div>"
        )
    head = (
        "<div id='pk-title' style='position:fixed;top:8px;left:8px;z-index:10;"
        "font:13px sans-serif;background:#fffe;padding:6px 8px;border:1px solid #ccc;"
        "max-width:340px'>"
        f"<div style='font-size:16px;font-weight:bold'>{_html.escape(title)}</div>{rows}"
        f"<div style='margin-top:4px'>Source: {_html.escape(source)}</div>"
        f"<div>Made {_html.escape(day)} with placekit</div></div>"
    )
    foot = (
        "<div style='position:fixed;bottom:4px;left:4px;font:11px sans-serif;"
        "background:#fffc;padding:2px'>" + " · ".join(_html.escape(x) for x in lines) + "</div>"
    )
    text = text.replace("<title>pydeck</title>", f"<title>{_html.escape(title)}</title>")
    return (
        text.replace("</body>", head + foot + "</body>")
        if "</body>" in text
        else text + head + foot
    )


#: Label text size and the padding of its pale background box, pixels.
LABEL_SIZE_PX = 13
LABEL_PADDING_PX = (3, 1)


def label_points(
    areas: gpd.GeoDataFrame, *, zoom: float | None = None, size_px: int = LABEL_SIZE_PX
) -> pd.DataFrame:
    """
    One label per area at a point inside it, without labels that would overlap at ``zoom``.

    Each label's box is estimated in pixels (``0.6 * size_px`` per character, one line
    high, plus the background padding) at its point projected to Web Mercator at
    ``zoom``; labels are kept greedily, largest area first (ties by name), and a label
    whose box overlaps one kept is dropped. Zoomed in, points spread and more names fit.

    Parameters
    ----------
    areas
        Polygons in a projected CRS (metres), with ``area_name``.
    zoom
        The map's zoom; None keeps every label.
    size_px
        Text size in pixels.

    Returns
    -------
    pd.DataFrame
        ``lon``, ``lat`` (EPSG:4326, 5 decimals) and ``label``, indexed by area code, in
        the input order; ``attrs["dropped"]`` counts the labels left out.
    """
    pts = gpd.GeoSeries(areas.geometry.representative_point(), crs=areas.crs).to_crs(DISPLAY_CRS)
    df = pd.DataFrame(
        {
            "lon": pts.x.round(5).to_numpy(),
            "lat": pts.y.round(5).to_numpy(),
            "label": areas["area_name"].astype(str).to_numpy(),
        },
        index=areas.index,
    )
    if zoom is None or df.empty:
        df.attrs["dropped"] = 0
        return df
    keep = thin_labels(
        df["lon"].to_numpy(),
        df["lat"].to_numpy(),
        df["label"].tolist(),
        areas.geometry.area.to_numpy(),
        zoom=zoom,
        size_px=size_px,
        padding_px=LABEL_PADDING_PX,
    )
    out = df.loc[keep]
    out.attrs["dropped"] = int((~keep).sum())
    return out


def label_layer(
    place: Place,
    level: str,
    *,
    size_px: int = LABEL_SIZE_PX,
    layer_id: str | None = None,
    zoom: float | None = None,
) -> pdk.Layer:
    """
    The names of a level's areas at a point inside each (a pydeck TextLayer), for the offline base.

    Parameters
    ----------
    place
        The place; names and polygons come from ``place.areas(level)``.
    level
        The level whose areas are named.
    size_px
        Text size in pixels.
    layer_id
        The layer's id; ``labels-<level>`` by default.
    zoom
        The zoom the map opens at: labels that would overlap there are left out
        (:func:`label_points`, larger areas kept first). None draws every name.

    Returns
    -------
    pdk.Layer
        A ``TextLayer`` with id ``labels-<level>``.
    """
    df = label_points(place.areas(level), zoom=zoom, size_px=size_px).reset_index(drop=True)
    return pdk.Layer(
        "TextLayer",
        data=df,
        id=layer_id or f"labels-{level}",
        get_position=["lon", "lat"],
        get_text="label",
        get_size=size_px,
        size_units="'pixels'",  # quoted: pydeck passes a literal, not an expression
        font_family="'Helvetica, Arial, sans-serif'",
        font_weight=600,
        character_set="'auto'",  # every character the names use, not only ASCII
        get_color=[20, 20, 20, 255],
        get_text_anchor="'middle'",
        get_alignment_baseline="'center'",
        # a pale box behind each name keeps it legible on any fill (an outline would need
        # SDF fonts, which software WebGL draws as a black map)
        background=True,
        get_background_color=[255, 255, 255, 200],
        background_padding=list(LABEL_PADDING_PX),
        pickable=False,
    )
