"""England overview: every English LSOA on one map, geometry sent once, recoloured by expression.

Reads the England-wide folder (``../shared/region/england`` laid out as its
``PROVENANCE.md`` says; found from a pack's manifest ``england`` entry, or given):
IoD 2025 and Census 2021 values for every English LSOA (through
:class:`placekit.england.EnglandBenchmark`, so every catalogue indicator England's
tables allow, aggregated to MSOA and council exactly as placekit aggregates) and the
super-generalised LSOA, MSOA, local authority and ICB boundaries.

The payload is split so a map can be recoloured without resending geometry:

- :meth:`Overview.geometry_geojson` — the areas of a level (``lsoa``, ``msoa`` or
  ``lad``) as one compact GeoJSON in EPSG:4326 (optionally coverage-simplified, coordinates
  rounded), each feature carrying only ``i`` (its row in the value arrays), ``code`` and
  ``name``. Written once by :func:`write_overview_static` under a name keyed on the
  source files and settings, so a restarted server finds it and does not build it again.
- :meth:`Overview.detail_geojson` — some areas (e.g. one council's LSOAs) at the
  published resolution, for a map zoomed into them.
- :meth:`Overview.values` — one indicator as a float array in the same order.
- :func:`class_codes` and :func:`fill_expression` — the classes of those values as a
  string of digits (one per area) and a deck.gl colour expression that indexes it
  by ``properties.i``; on a recolour only that expression (one byte per area) and its
  ``updateTriggers`` change.
- :meth:`Overview.outlines_geojson` — council (LAD 2024) and ICB (2022) outlines as
  lines, each shared border once, from the published shapes.

Where the time goes in a browser without a GPU (headless Chromium, software WebGL;
``benchmarks/bench_overview.py --browser``): the page's time per drawn frame is
the WebGL rasteriser's, and it grows with the vertices drawn (33,755 LSOAs as
published: 390k vertices, about 1 s a frame on this 2-core machine; 6,856 MSOAs,
106k vertices, about 0.3 s). Evaluating the colour expression is about 30 ms and
the server's part under 0.2 s. So the national map draws the LSOAs
coverage-simplified at :data:`NATIONAL_SIMPLIFY_M` (about one pixel at England's
zoom, shared edges kept shared, no LSOA lost) and the outlines as lines drawn once.
- :meth:`Overview.council_for` / :meth:`Overview.council_at` — the council of a picked
  LSOA, MSOA or LA code, or of a clicked point; :func:`pack_for_council` finds that
  council's pack.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from placekit.config import DISPLAY_CRS, WORKING_CRS
from placekit.errors import DataError

__all__ = [
    "BOUNDARY_PATTERNS",
    "LEVELS",
    "MAX_CLASSES",
    "NATIONAL_SIMPLIFY_M",
    "Overview",
    "class_codes",
    "england_dir_for",
    "fill_expression",
    "load_overview",
    "pack_for_council",
    "write_overview_static",
    "write_static_bytes",
]

#: File-name patterns of the super-generalised boundaries in the England folder, by level.
BOUNDARY_PATTERNS = {
    "lsoa": "*lsoa21*bsc*.parquet",
    "msoa": "*msoa21*bsc*.parquet",
    "lad": "*ltla*bsc*.parquet",
    "icb": "*icb*bsc*.parquet",
}
#: Levels whose areas carry indicator values.
LEVELS = ("lsoa", "msoa", "lad")
#: Most classes :func:`class_codes` encodes (one digit each; the next digit is "no data").
MAX_CLASSES = 9
#: Coverage simplification (metres) of the national map: at England's zoom (5.35 on a
#: 1,100-pixel map) a pixel is about 1.1 km, so this is invisible there and takes the
#: LSOA file from 390k to 253k vertices (the rest are corners shared by three areas).
NATIONAL_SIMPLIFY_M = 1000.0
#: Bumped when the served files' layout changes (their names are keyed on it).
FORMAT_VERSION = 4
_MISSING = (200, 200, 200)


def england_dir_for(pack_dir: str | Path | None = None, england: str | Path | None = None) -> Path:
    """
    The England folder: ``england`` if given, else the pack manifest's ``england`` entry.

    Parameters
    ----------
    pack_dir
        A pack folder whose manifest names the England tables (``PLACEKIT_ENGLAND``
        overrides it, as for benchmarks).
    england
        The folder itself (e.g. a ``--england DIR`` argument).

    Returns
    -------
    Path

    Raises
    ------
    DataError
        If neither gives an existing folder.
    """
    if england is not None:
        p = Path(england).expanduser().resolve()
        if p.is_dir():
            return p
        msg = f"No England folder at {p}; pass the folder holding the England-wide tables."
        raise DataError(msg)
    if pack_dir is not None:
        from placekit.pack import open_pack

        found = open_pack(pack_dir).england_dir()
        if found is not None:
            return found
        msg = (
            f"The pack at {pack_dir} names no England tables (manifest field 'england', "
            "or PLACEKIT_ENGLAND); pass the England folder instead."
        )
        raise DataError(msg)
    msg = "Give a pack folder (its manifest names the England tables) or the England folder."
    raise DataError(msg)


def _find(folder: Path, level: str) -> Path:
    pat = BOUNDARY_PATTERNS[level]
    hits = sorted(p for p in folder.iterdir() if p.is_file() and fnmatch.fnmatch(p.name, pat))
    if len(hits) != 1:
        what = "nothing" if not hits else f"{len(hits)} files ({[h.name for h in hits]})"
        msg = (
            f"The England folder {folder} needs one {level} boundary file matching {pat!r}; "
            f"found {what}. See its PROVENANCE.md."
        )
        raise DataError(msg)
    return hits[0]


def _code_name(gdf: gpd.GeoDataFrame, path: Path) -> tuple[str, str]:
    code = next((c for c in gdf.columns if re.fullmatch(r".*(_code|CD)", str(c))), None)
    name = next((c for c in gdf.columns if re.fullmatch(r".*(_name|NM)", str(c))), None)
    if code is None or name is None:
        msg = (
            f"{path} needs a code column (…_code or …CD) and a name column (…_name or …NM); "
            f"columns present: {sorted(map(str, gdf.columns))}."
        )
        raise DataError(msg)
    return code, name


def _compact(gdf: gpd.GeoDataFrame, simplify_m: float, digits: int) -> np.ndarray:
    """Coverage-simplified (shared edges kept shared) in EPSG:4326, coordinates rounded."""
    geoms = gdf.geometry.to_crs(WORKING_CRS).to_numpy()
    if simplify_m > 0:
        geoms = shapely.coverage_simplify(geoms, simplify_m)
    out = gpd.GeoSeries(geoms, crs=WORKING_CRS).to_crs(DISPLAY_CRS).to_numpy()
    rounded = shapely.set_precision(out, 10.0**-digits)
    # a sliver narrower than the rounding collapses: keep it unrounded, not lost
    rounded = np.where(shapely.is_empty(rounded) & ~shapely.is_empty(out), out, rounded)
    return np.asarray(shapely.make_valid(rounded))


def _feature_collection(geoms: np.ndarray, props: pd.DataFrame) -> bytes:
    """Compact GeoJSON: geometry written by GEOS (vectorised), properties by json."""
    gjson = shapely.to_geojson(np.asarray(geoms, dtype=object))
    rows = props.to_dict("records")
    parts = [
        f'{{"type":"Feature","geometry":{g},"properties":'
        f"{json.dumps(r, separators=(',', ':'), ensure_ascii=False)}}}"
        for g, r in zip(gjson, rows, strict=True)
    ]
    return ('{"type":"FeatureCollection","features":[' + ",".join(parts) + "]}").encode()


def _shared_lines(geoms: np.ndarray) -> shapely.Geometry:
    """The boundaries of a coverage as lines, each shared border once (noded and merged)."""
    lines = shapely.union_all(shapely.boundary(np.asarray(geoms, dtype=object)))
    return shapely.line_merge(lines)


@dataclass
class Overview:
    """
    England's areas and indicator values, ready for a national map.

    Build it with :func:`load_overview`. Areas are in code order; ``values(...)``
    arrays follow that order.

    Attributes
    ----------
    folder
        The England folder read.
    benchmark
        The :class:`placekit.england.EnglandBenchmark` the values come from.
    lookup
        By LSOA code (England only): ``lsoa21_name``, ``msoa21_code``, ``lad24_code``,
        ``lad24_name``, ``region_code``, ``region_name``, ``population``.
    simplify_m, digits
        Coverage simplification tolerance (metres) and decimals kept in coordinates.
    """

    folder: Path
    benchmark: Any
    lookup: pd.DataFrame
    simplify_m: float = 0.0
    digits: int = 5
    _geo: dict[str, gpd.GeoDataFrame] = field(default_factory=dict, repr=False)
    _raw: dict[str, gpd.GeoDataFrame] = field(default_factory=dict, repr=False)
    _json: dict[str, bytes] = field(default_factory=dict, repr=False)

    # ------------------------------------------------------------------ areas
    def areas(self, level: str) -> gpd.GeoDataFrame:
        """
        The areas of ``level`` (``lsoa``, ``msoa``, ``lad`` or ``icb``), England only.

        Returns
        -------
        geopandas.GeoDataFrame
            Indexed by code (sorted), ``name``, ``lad`` (the council; empty for ICBs)
            and the compact display geometry in EPSG:4326.
        """
        if level not in BOUNDARY_PATTERNS:
            msg = f"level must be one of {list(BOUNDARY_PATTERNS)}; got {level!r}."
            raise DataError(msg)
        if level not in self._geo:
            raw = self._published(level)
            geoms = _compact(raw, self.simplify_m, self.digits)
            self._geo[level] = gpd.GeoDataFrame(
                raw.drop(columns=raw.geometry.name), geometry=geoms, crs=DISPLAY_CRS
            )
        return self._geo[level]

    def codes(self, level: str) -> pd.Index:
        """The codes of ``level`` in :meth:`areas` order, without building display geometry."""
        return self._published(level).index

    def names(self, level: str) -> pd.Series:
        """Area names by code, in :meth:`areas` order (no display geometry built)."""
        return self._published(level)["name"]

    def _published(self, level: str) -> gpd.GeoDataFrame:
        """The areas of ``level`` as published (England only, code order, EPSG:4326)."""
        if level not in self._raw:
            path = _find(self.folder, level)
            raw = gpd.read_parquet(path)
            code, name = _code_name(raw, path)
            raw = raw[raw[code].astype(str).str.startswith("E")]
            if level in LEVELS:
                raw = raw[raw[code].astype(str).isin(set(self._codes(level)))]
            raw = raw.sort_values(code).to_crs(DISPLAY_CRS)
            idx = pd.Index(raw[code].astype(str), name="code")
            self._raw[level] = gpd.GeoDataFrame(
                {"name": raw[name].astype(str).to_numpy(), "lad": self._lad_of(level, idx)},
                index=idx,
                geometry=raw.geometry.to_numpy(),
                crs=DISPLAY_CRS,
            )
        return self._raw[level]

    def _codes(self, level: str) -> pd.Index:
        if level == "lsoa":
            return pd.Index(self.lookup.index)
        col = "msoa21_code" if level == "msoa" else "lad24_code"
        return pd.Index(sorted(self.lookup[col].dropna().astype(str).unique()))

    def _lad_of(self, level: str, idx: pd.Index) -> np.ndarray:
        if level == "lsoa":
            return self.lookup["lad24_code"].reindex(idx).fillna("").astype(str).to_numpy()
        if level == "msoa":
            first = self.lookup.groupby("msoa21_code")["lad24_code"].first()
            return first.reindex(idx).fillna("").astype(str).to_numpy()
        if level == "lad":
            return idx.to_numpy(dtype=str)
        return np.full(len(idx), "", dtype=object)

    def geometry_geojson(self, level: str = "lsoa") -> bytes:
        """
        The areas of ``level`` as compact GeoJSON: properties ``i``, ``code`` and ``name``.

        ``i`` is the area's position in :meth:`values` arrays and in :func:`class_codes`.
        Built once per level and kept.
        """
        if level not in self._json:
            a = self.areas(level)
            props = pd.DataFrame(
                {
                    "i": np.arange(len(a)),
                    "code": a.index.astype(str),
                    "name": a["name"].to_numpy(),
                }
            )
            self._json[level] = _feature_collection(a.geometry.to_numpy(), props)
        return self._json[level]

    def detail_geojson(self, codes: list[str] | pd.Index, level: str = "lsoa") -> bytes:
        """
        Some areas of ``level`` at the published resolution (no display simplification).

        For a map zoomed into a few areas, e.g. one council's LSOAs. Features are in
        the order of ``codes``, with ``i`` = position in ``codes``, ``code`` and ``name``.

        Raises
        ------
        DataError
            If a code is not an English area of ``level`` (the first few are named).
        """
        raw = self._published(level)
        want = pd.Index([str(c) for c in codes])
        missing = want.difference(raw.index)
        if len(missing):
            msg = (
                f"{len(missing)} code(s) are not English {level} areas in {self.folder}: "
                f"{list(missing[:5])}."
            )
            raise DataError(msg)
        sub = raw.loc[want]
        geoms = _compact(sub, 0.0, self.digits)
        props = pd.DataFrame(
            {"i": np.arange(len(sub)), "code": want.to_numpy(), "name": sub["name"].to_numpy()}
        )
        return _feature_collection(geoms, props)

    def outlines_geojson(self, level: str) -> bytes:
        """
        Outlines of councils (``"lad"``) or ICBs (``"icb"``) as lines, each border once.

        One feature (``properties.outline`` = ``level``) holding every border as a
        (Multi)LineString, so a shared border is drawn once rather than once per side.
        """
        if level not in ("lad", "icb"):
            msg = f"Outlines are of 'lad' (councils) or 'icb'; got {level!r}."
            raise DataError(msg)
        key = f"outline:{level}"
        if key not in self._json:
            # from the published shapes: cheap (lines, each border once) and they stay true
            # where a map is zoomed into a region
            lines = _shared_lines(_compact(self._published(level), 0.0, self.digits))
            props = pd.DataFrame({"outline": [level]})
            self._json[key] = _feature_collection(np.asarray([lines], dtype=object), props)
        return self._json[key]

    # ------------------------------------------------------------------ values
    @property
    def indicator_ids(self) -> list[str]:
        """Indicators with a value for every English LSOA (catalogue order)."""
        return list(self.benchmark.indicator_ids)

    def values(self, indicator_id: str, level: str = "lsoa") -> np.ndarray:
        """
        One indicator for every area of ``level``, in :meth:`areas` order (float32; NaN = none).

        MSOA and council values are aggregated from LSOAs as placekit aggregates
        (rates from summed counts, scores population-weighted).

        Raises
        ------
        DataError
            For an id without England values or a level other than :data:`LEVELS`.
        """
        if level not in LEVELS:
            msg = f"Values are given at {list(LEVELS)}; got {level!r}."
            raise DataError(msg)
        if indicator_id not in self.benchmark.values.columns:
            msg = (
                f"No England value for {indicator_id!r}; choose one of "
                f"{self.indicator_ids[:8]} ... ({len(self.indicator_ids)} in all)."
            )
            raise DataError(msg)
        idx = self.codes(level)
        if level == "lsoa":
            s = self.benchmark.values[indicator_id]
        else:
            col = "msoa21_code" if level == "msoa" else "lad24_code"
            s = self.benchmark._aggregate(indicator_id, self.benchmark.areas[col])
        return s.reindex(idx).to_numpy(dtype=np.float32)

    def meta(self, indicator_id: str) -> dict[str, str]:
        """Label, unit and direction of an indicator (from the catalogue)."""
        row = self.benchmark.catalogue.row(indicator_id)
        return {k: str(row[k]) for k in ("label", "unit", "direction")}

    # ------------------------------------------------------------------ picking
    def council_for(self, code: str) -> str:
        """
        The council (LAD 2024 code) of an LSOA, MSOA or local authority code.

        An LAD 2022 code that was merged is mapped to its 2024 council.

        Raises
        ------
        DataError
            If the code is not an English LSOA, MSOA or LA in the England tables.
        """
        c = str(code).strip().upper()
        lk = self.lookup
        if c in lk.index:
            return str(lk.at[c, "lad24_code"])
        for col in ("msoa21_code", "lad24_code", "lad22_code"):
            if col in lk.columns:
                hit = lk.loc[lk[col] == c, "lad24_code"]
                if len(hit):
                    return str(hit.iloc[0])
        msg = (
            f"{code!r} is not an English LSOA 2021, MSOA 2021 or local authority code in "
            f"{self.folder}; e.g. {lk.index[0]} (LSOA) or {lk['lad24_code'].iloc[0]} (council)."
        )
        raise DataError(msg)

    def council_at(self, lon: float, lat: float) -> str | None:
        """The council (LAD 2024 code) whose outline holds the point; ``None`` outside England."""
        lad = self.areas("lad")
        hit = lad.sindex.query(shapely.Point(float(lon), float(lat)), predicate="intersects")
        return str(lad.index[hit[0]]) if len(hit) else None


def load_overview(
    england: str | Path | None = None,
    *,
    pack_dir: str | Path | None = None,
    simplify_m: float = 0.0,
    digits: int = 5,
) -> Overview:
    """
    Read the England folder for the overview map.

    Parameters
    ----------
    england
        The England folder (a ``--england DIR`` argument) ...
    pack_dir
        ... or a pack whose manifest names it (see :func:`england_dir_for`).
    simplify_m
        Coverage simplification tolerance in metres for display (0 keeps the
        super-generalised shapes as published; the app's national map uses
        :data:`NATIONAL_SIMPLIFY_M`).
    digits
        Decimals kept in longitudes and latitudes (5 is about 1 m).

    Returns
    -------
    Overview

    Raises
    ------
    DataError
        If the folder or one of its files is missing.
    """
    from placekit.england import EnglandBenchmark

    if not (np.isfinite(simplify_m) and simplify_m >= 0):
        msg = f"simplify_m must be a number of metres >= 0; got {simplify_m!r}."
        raise DataError(msg)
    folder = england_dir_for(pack_dir, england)
    eng = EnglandBenchmark.load(folder)
    lookup = eng.areas.copy()
    lk_path = folder / "england_lsoa21_msoa21_lad_region_lookup.parquet"
    if lk_path.is_file():
        raw = pd.read_parquet(lk_path, columns=None)
        if "LAD22CD" in raw.columns:
            lookup["lad22_code"] = raw.set_index("LSOA21CD")["LAD22CD"].reindex(lookup.index)
    return Overview(
        folder=folder,
        benchmark=eng,
        lookup=lookup,
        simplify_m=float(simplify_m),
        digits=int(digits),
    )


# ----------------------------------------------------------------------------- colouring
def class_codes(
    values: np.ndarray, *, k: int = 5, scheme: str = "quantiles"
) -> tuple[str, list[tuple[int, int, int]], Any]:
    """
    Classes of ``values`` as one digit per area (``str(k)`` = no data), with colours and legend.

    Parameters
    ----------
    values
        From :meth:`Overview.values`.
    k
        Classes, 2 to :data:`MAX_CLASSES`.
    scheme
        ``"quantiles"`` or ``"natural_breaks"`` (:func:`placekit.classes.classify`).

    Returns
    -------
    (str, list, Legend)
        The class string (``len == len(values)``), one colour per class and the legend.
    """
    from placekit.classes import classify

    if not (isinstance(k, int) and 2 <= k <= MAX_CLASSES):
        msg = f"k must be a whole number from 2 to {MAX_CLASSES}; got {k!r}."
        raise DataError(msg)
    _bins, colours, cls, legend = classify(pd.Series(np.asarray(values, float)), k=k, scheme=scheme)
    c = cls.to_numpy()
    c = np.where(c < 0, len(colours), c)
    return "".join(map(str, c.tolist())), list(colours), legend


def fill_expression(codes: str, colours: list[tuple[int, int, int]], *, alpha: int = 200) -> str:
    """
    A deck.gl ``getFillColor`` expression colouring feature ``properties.i`` by ``codes``.

    The geometry (from :meth:`Overview.geometry_geojson`) stays in the browser; the
    expression carries one character per area, so a recolour sends ``len(codes)``
    bytes and no polygons. It reads ``(palette)[('digits')[properties.i]]``: deck.gl's
    expression parser (jsep 0.3.5 in Streamlit 1.67) indexes only identifiers and
    parenthesised expressions, so the literals are in parentheses (checked in headless
    Chromium by ``tests/test_browser_england.py``).
    """
    if not codes or not set(codes) <= set("0123456789"):
        msg = "codes must be the digit string from class_codes()."
        raise DataError(msg)
    palette = [[*map(int, c), alpha] for c in colours] + [[*_MISSING, 120]]
    pal = json.dumps(palette, separators=(",", ":"))
    # deck.gl parses expressions with jsep 0.3, which allows indexing ([...]) only after an
    # identifier or a parenthesised expression: `[...]['0123'[i]]` parses as two statements
    # and colours every area black, so both literals are parenthesised
    return f"({pal})[('{codes}')[properties.i]]"


#: What :func:`write_overview_static` writes: areas for colouring, or outlines as lines.
STATIC_KINDS = ("lsoa", "msoa", "lad", "lad_lines", "icb_lines")


def _source_key(overview: Overview, kind: str) -> str:
    """A key of what a served file is made from: the England files, settings, this format."""
    files = sorted(p for p in overview.folder.iterdir() if p.suffix == ".parquet")
    stats = [(p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in files]
    text = json.dumps([FORMAT_VERSION, kind, overview.simplify_m, overview.digits, stats])
    return hashlib.sha1(text.encode()).hexdigest()[:16]


def write_static_bytes(text: bytes, folder: str | Path, stem: str) -> str:
    """Write ``text`` as ``folder/<stem>_<content hash>.geojson`` (atomically, once); its name."""
    from placekit.export import atomic_path

    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    name = f"{stem}_{hashlib.sha1(text).hexdigest()[:16]}.geojson"
    if not (out / name).exists():
        with atomic_path(out / name) as tmp:
            tmp.write_bytes(text)
    return name


def write_overview_static(
    overview: Overview,
    folder: str | Path,
    *,
    levels: tuple[str, ...] = ("lsoa", "lad_lines", "icb_lines"),
) -> dict[str, str]:
    """
    Write the geometry of ``levels`` once, under names keyed on their sources.

    A name is a hash of the England folder's files (name, size, modification
    time), the overview's simplification and digits and :data:`FORMAT_VERSION`, so
    a file written by an earlier server is found and not built again (building the
    LSOA file takes seconds; finding it, a file listing).

    Parameters
    ----------
    overview
        From :func:`load_overview`.
    folder
        The static folder the app serves (e.g. ``static/``).
    levels
        Of :data:`STATIC_KINDS`: ``lsoa``/``msoa``/``lad`` write the areas with ``i``
        for colouring; ``lad_lines`` and ``icb_lines`` the council and ICB outlines
        as lines (:meth:`Overview.outlines_geojson`). ``icb`` is read as ``icb_lines``.

    Returns
    -------
    dict
        ``{level: file name inside folder}``.
    """
    from placekit.export import atomic_path

    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    names = {}
    for lv in levels:
        kind = "icb_lines" if lv == "icb" else lv
        if kind not in STATIC_KINDS:
            msg = f"levels must be of {list(STATIC_KINDS)}; got {lv!r}."
            raise DataError(msg)
        name = f"england_{kind}_{_source_key(overview, kind)}.geojson"
        target = out / name
        if not target.exists():
            text = (
                overview.outlines_geojson(kind.removesuffix("_lines"))
                if kind.endswith("_lines")
                else overview.geometry_geojson(kind)
            )
            with atomic_path(target) as tmp:
                tmp.write_bytes(text)
        names[lv] = name
    return names


def pack_for_council(code: str, roots: list[str | os.PathLike[str]] | None = None) -> Path | None:
    """
    A pack reporting the council ``code``: a one-council pack first, else any holding it.

    Parameters
    ----------
    code
        LAD code (from :meth:`Overview.council_for`).
    roots
        Folders to search (default :func:`placekit.config.pack_roots`).

    Returns
    -------
    Path or None
        The pack folder, or ``None`` when no pack holds that council.
    """
    from placekit.config import pack_roots
    from placekit.pack import find_packs, open_pack

    found = find_packs(roots if roots is not None else pack_roots())
    best: tuple[int, str, Path] | None = None
    for _name, folder in sorted(found.items()):
        try:
            codes = list(open_pack(folder).la_codes)
        except DataError:
            continue
        if code in codes:
            cand = (len(codes), str(folder), folder)
            best = cand if best is None or cand[:2] < best[:2] else best
    return best[2] if best else None
