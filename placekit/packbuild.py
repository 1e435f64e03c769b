"""Cut a place pack for one council, or several together, from regional or national sources.

The sources are a folder laid out like ``../shared/region/south-yorkshire`` (folders
``boundaries/``, ``lookups/``, ``deprivation/``, ``census/``, ``demand/``, ``planning/``,
``poi/``, ``network/``, ``transit/``, ``extra/``). Each pack role is found by a file-name
pattern within its folder (:data:`SOURCES`); nothing here knows a region, a council or a
file name. :func:`build_pack`

1. selects the chosen councils' rows of every area table and boundary file by their
   ``lad_code`` column (LSOA 2021, Census, IoD 2025/2019, fuel poverty, lookups, MSOA,
   wards, brownfield ...); the Census 2011 tables (households by deprivation dimension,
   usual residents) keep the LSOA 2011 codes that the ONS LSOA 2011 -> 2021 lookup gives
   the councils' 2021 LSOAs, whatever council code a 2011 table carries, and a build
   whose sources lack them says so in its report (Census 2011 -> 2021 change is then
   unavailable for the pack);
2. keeps facilities (GP, pharmacy, dentist, OSM POIs, green space, NaPTAN stops, rail
   and tram), roads and the street network within the councils' outline buffered by
   ``margin_km`` in EPSG:27700, so access at the edge counts the GP over the border;
3. cuts the OSM XML street networks (walk, drive) to the ways with at least one node in
   that buffer, streaming the XML, and checks that osmnx loads the result (the walk
   network's projected cache is built on the way);
4. chooses residential origins (live postcode centroids, else ONS population-weighted
   centroids), the locality levels (MSOA, ward, local authority), and writes the
   manifest ``placekit-pack.json`` and a ``PROVENANCE.md``.

The pack is written to a temporary folder beside ``out`` and renamed at the end, so a
build that fails or is killed never leaves a half pack at ``out``. The manifest format is
described in ``docs/pack-format.md``.
"""

from __future__ import annotations

import argparse
import bz2
import datetime as _dt
import fnmatch
import json
import math
import multiprocessing
import os
import re
import shutil
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from array import array
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO
from xml.sax.saxutils import quoteattr

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pyproj
import shapely
from shapely.geometry.base import BaseGeometry

from placekit import pack as _pack
from placekit.config import WORKING_CRS
from placekit.errors import CRSError, DataError, PlacekitError, SchemaError, explain

__all__ = [
    "LA_COLUMN",
    "NEEDS",
    "SOURCES",
    "SOURCE_CRS",
    "BuildReport",
    "OsmCut",
    "SourceSpec",
    "add_pack_cli",
    "build_pack",
    "cut_osm_xml",
    "find_sources",
    "run_pack_cli",
]

Progress = Callable[[str, float], None]

#: The column every regional source row carries: the local authority (LAD) code.
LA_COLUMN = "lad_code"
#: The CRS every vector source must be in (as ONS, NHS ODS, NaPTAN and OSM publish them).
SOURCE_CRS = "EPSG:4326"

_ONS = f"{_pack.ATTRIBUTION_OGL}; {_pack.ATTRIBUTION_OS}"
_POSTCODES = (f"ONS NSPL; {_pack.ATTRIBUTION_OGL}; {_pack.ATTRIBUTION_OS}; "
              "Contains Royal Mail data © Royal Mail copyright and database right; "
              "Contains National Statistics data © Crown copyright and database right")
_CENSUS = f"ONS Census 2021; {_pack.ATTRIBUTION_OGL}"
_IOD25 = f"MHCLG English Indices of Deprivation 2025; {_pack.ATTRIBUTION_OGL}"
_IOD19 = f"MHCLG English Indices of Deprivation 2019; {_pack.ATTRIBUTION_OGL}"
_NAPTAN = f"DfT NaPTAN; {_pack.ATTRIBUTION_OGL}"


@dataclass(frozen=True)
class SourceSpec:
    """
    Where a source is found and how it is cut.

    Attributes
    ----------
    key
        The pack role (a key of :data:`placekit.pack.ROLES`), or an auxiliary source used
        for levels and names (``wards``, ``ward_lookup``, ``ward_lad``, ``lad_boundaries``,
        ``msoa21``, ``msoa21_lookup``).
    pattern
        File-name glob relative to the sources folder, matched case-insensitively.
    kind
        ``vector``, ``table`` or ``osm``.
    cut
        ``area`` (rows of the chosen councils), ``near`` (within the buffered outline),
        ``postcodes``, ``network`` or ``aux`` (read for levels and names only).
    columns
        ``{column key: candidate column names}``; the first present is used. A candidate
        ``re:PATTERN`` matches a column by regular expression (e.g. ``re:WD\\d\\dCD``).
    manifest_keys
        The column keys written under the role's ``columns`` in the manifest.
    optional_keys
        Column keys that may be absent.
    geography
        What the ``code`` key identifies (``lsoa21``, ``lsoa11``, ``msoa11``), used to
        select rows when a file has no ``lad_code`` column.
    required
        Whether a pack cannot be built without it.
    exclude
        Globs of file names that the pattern must not pick.
    licence, attribution
        Written to the role's manifest entry and the pack's ``PROVENANCE.md``.
    label
        What the source is, in words (for messages and progress).
    by_codes
        Select rows by the ``geography`` codes of the councils (for ``lsoa11``: the LSOA
        2011 codes of the cut ``lookup11``) even when the file has a ``lad_code`` column,
        which in a 2011 table may be a council as it was in 2011. Without those codes the
        ``lad_code`` column is used; without either the role is left out (a report
        warning, not an error).
    """

    key: str
    pattern: str
    kind: str
    cut: str
    columns: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    manifest_keys: tuple[str, ...] = ()
    optional_keys: tuple[str, ...] = ()
    geography: str = "lsoa21"
    required: bool = False
    exclude: tuple[str, ...] = ()
    licence: str = "OGL v3"
    attribution: str = _pack.ATTRIBUTION_OGL
    label: str = ""
    by_codes: bool = False


def _s(key: str, pattern: str, kind: str, cut: str, label: str, *,
       cols: Mapping[str, tuple[str, ...]] | None = None, keys: tuple[str, ...] = (),
       opt: tuple[str, ...] = (), geo: str = "lsoa21", req: bool = False,
       exclude: tuple[str, ...] = (), lic: str = "OGL v3", att: str = _pack.ATTRIBUTION_OGL,
       by_codes: bool = False) -> SourceSpec:
    return SourceSpec(key, pattern, kind, cut, dict(cols or {}), keys, opt, geo, req, exclude,
                      lic, att, label, by_codes)


_L21 = ("LSOA21CD", "lsoa21cd", "lsoa21_code")
_L11 = ("lsoa11_code", "LSOA11CD", "lsoa11cd", "LSOA Code")
_OSMA = _pack.ATTRIBUTION_OSM
_NHS = _pack.ATTRIBUTION_NHS
_ODS = {"org_code": ("org_code",), "name": ("name",), "status_code": ("status_code",)}

#: Every source the builder looks for, in build order.
SOURCES: tuple[SourceSpec, ...] = (
    _s("lsoa", "boundaries/*lsoa21*.parquet", "vector", "area", "LSOA 2021 boundaries",
       cols={"code": _L21, "name": ("LSOA21NM", "lsoa21nm", "lsoa21_name"), "la": (LA_COLUMN,)},
       keys=("code", "name"), req=True, att=_ONS),
    _s("census", "census/*lsoa21*selected_tables*.parquet", "table", "area",
       "Census 2021 tables by LSOA 2021",
       cols={"code": _L21, "population": ("ts0010001",)}, keys=("code",), req=True, att=_CENSUS),
    _s("age6", "census/*age6*.csv", "table", "area", "Census 2021 residents in six age groups",
       cols={"code": ("lsoa21_code", *_L21), "group": ("age_group",),
             "value": ("usual_residents",)},
       keys=("code", "group", "value"), att=_CENSUS),
    _s("imd2025", "deprivation/*imd2025*lsoa21.csv", "table", "area", "IoD 2025 by LSOA 2021",
       cols={"code": ("lsoa21_code", *_L21)}, keys=("code",), att=_IOD25),
    _s("imd2025_ind", "deprivation/*imd2025*indicators*.csv", "table", "area",
       "IoD 2025 underlying indicators", cols={"code": ("lsoa21_code", *_L21)}, keys=("code",),
       att=_IOD25),
    _s("imd2025_sub", "deprivation/*imd2025*subdomains*.csv", "table", "area",
       "IoD 2025 sub-domains", cols={"code": ("lsoa21_code", *_L21)}, keys=("code",), att=_IOD25),
    _s("fuel", "demand/*fuel_poverty*.csv", "table", "area", "Fuel poverty 2021",
       cols={"code": _L21}, keys=("code",),
       att=f"DESNZ sub-regional fuel poverty 2021; {_pack.ATTRIBUTION_OGL}"),
    _s("iod2019", "deprivation/*iod2019*combined*.parquet", "table", "area",
       "IoD 2019 by LSOA 2011 (combined)",
       cols={"code": ("lsoa11cd", "LSOA11CD", "lsoa11_code"), "population": ("pop_total_mid2015",)},
       keys=("code", "population"), geo="lsoa11", att=_IOD19),
    _s("lookup11", "lookups/*lsoa11*lsoa21*.csv", "table", "area", "ONS LSOA 2011 -> 2021 lookup",
       cols={"lsoa11": ("LSOA11CD", "lsoa11cd"), "code": _L21, "change": ("CHGIND", "chgind")},
       keys=("lsoa11", "change"), att=f"ONS LSOA 2011 to 2021 lookup; {_pack.ATTRIBUTION_OGL}"),
    _s("census2011_deprivation", "census/*census2011*deprivation*lsoa11*.csv", "table", "area",
       "Census 2011 households by number of deprivation dimensions (QS119) by LSOA 2011",
       cols={"code": _L11, "group": ("households_number_deprivation_dimensions",),
             "value": ("count",)},
       keys=("code", "group", "value"), geo="lsoa11", by_codes=True,
       att=f"ONS Census 2011 QS119 household deprivation; {_pack.ATTRIBUTION_OGL}"),
    _s("census2011_population", "census/*census2011*population*lsoa11*.csv", "table", "area",
       "Census 2011 usual residents by LSOA 2011",
       cols={"code": _L11, "value": ("All usual residents", "usual_residents")},
       keys=("code", "value"), geo="lsoa11", by_codes=True,
       att=f"ONS Census 2011 usual residents; {_pack.ATTRIBUTION_OGL}"),
    _s("msoa11", "boundaries/*msoa11*.parquet", "vector", "area", "MSOA 2011 boundaries",
       cols={"code": ("MSOA11CD", "msoa11cd")}, keys=("code",), geo="msoa11", att=_ONS),
    _s("brownfield", "planning/*brownfield*.csv", "table", "area", "Brownfield land by MSOA 2011",
       cols={"code": ("MSOA11CD", "msoa11cd"), "value": ("brownfield_ha",)}, keys=("code", "value"),
       geo="msoa11", att=f"DLUHC brownfield land registers; {_pack.ATTRIBUTION_OGL}"),
    _s("centroids", "lookups/*population_weighted_centroids*.parquet", "vector", "area",
       "ONS LSOA 2021 population-weighted centroids", cols={"code": _L21}, keys=("code",),
       att=f"ONS LSOA 2021 population-weighted centroids; {_ONS}"),
    _s("postcodes", "lookups/*postcodes*.csv", "table", "postcodes", "Postcode centroids",
       cols={"postcode": ("postcode", "pcds"), "lat": ("lat",), "lon": ("lon", "long"),
             "lsoa": ("lsoa21", "lsoa21cd", "LSOA21CD"), "status": ("status", "doterm")},
       keys=("postcode", "lat", "lon", "lsoa", "status"), att=_POSTCODES),
    _s("gp", "poi/*gp_practices*.parquet", "vector", "near", "GP practices",
       cols={**_ODS, "prescribing_setting": ("prescribing_setting",)}, att=_NHS),
    _s("pharmacy", "poi/*pharmac*.parquet", "vector", "near", "Pharmacies", cols=_ODS, att=_NHS),
    _s("dentist", "poi/*dental*.parquet", "vector", "near", "Dental practices", cols=_ODS,
       att=_NHS),
    _s("pois", "poi/*osm_pois*.parquet", "vector", "near", "OSM points of interest",
       cols={"name": ("name",), "subclass": ("subclass",)}, lic="ODbL", att=_OSMA),
    _s("greenspace", "poi/*greenspace*.parquet", "vector", "near", "OSM green space",
       cols={"type": ("greenspace_type", "type")}, keys=("type",), lic="ODbL", att=_OSMA),
    _s("stops", "transit/*naptan*.parquet", "vector", "near", "NaPTAN stops",
       cols={"id": ("id", "atco_code", "ATCOCode"), "stop_type": ("stop_type",),
             "status": ("status",)}, att=_NAPTAN),
    _s("rail_tram", "transit/*rail*tram*.parquet", "vector", "near", "OSM rail and tram lines",
       cols={"railway": ("railway",)}, lic="ODbL", att=_OSMA),
    _s("schools", "poi/*schools*.parquet", "vector", "near", "Schools",
       cols={"name": ("estab_name", "name")}, keys=("name",)),
    _s("warm_spaces", "poi/*warm_spaces*.parquet", "vector", "near", "Warm spaces",
       cols={"name": ("title", "name")}, keys=("name",), lic="as the source states",
       att="Warm spaces directory (licence as the source states)"),
    _s("conservation_areas", "planning/*conservation*.parquet", "vector", "near",
       "Conservation areas", att=f"Local planning authorities; {_pack.ATTRIBUTION_OS}"),
    _s("roads", "network/*highways*.parquet", "vector", "near", "OSM highways",
       cols={"highway": ("highway",)}, lic="ODbL", att=_OSMA),
    _s("buildings", "extra/*buildings*.parquet", "vector", "near", "OSM building footprints",
       lic="ODbL", att=_OSMA),
    _s("network_walk", "network/*walk*.osm.bz2", "osm", "network", "OSM walk network",
       lic="ODbL", att=_OSMA),
    _s("network_drive", "network/*drive*.osm.bz2", "osm", "network", "OSM drive network",
       lic="ODbL", att=_OSMA),
    _s("lad_boundaries", "boundaries/*lad*.parquet", "vector", "aux", "Local authority outlines",
       cols={"la": (LA_COLUMN,), "name": ("name", "re:LAD\\d\\dNM")}, exclude=("*ward*",),
       att=_ONS),
    _s("ward_lookup", "lookups/*lsoa21*ward*.csv", "table", "aux", "ONS best-fit LSOA 2021 -> ward",
       cols={"code": _L21, "ward": ("re:WD\\d\\dCD",), "ward_name": ("re:WD\\d\\dNM",)},
       opt=("ward_name",), att=f"ONS best-fit LSOA 2021 to ward lookup; {_pack.ATTRIBUTION_OGL}"),
    _s("ward_lad", "lookups/*ward*lad*.csv", "table", "aux", "Ward -> local authority lookup",
       cols={"ward": ("re:WD\\d\\dCD",), "ward_name": ("re:WD\\d\\dNM",),
             "la": ("re:LAD\\d\\dCD", LA_COLUMN), "la_name": ("re:LAD\\d\\dNM",)},
       opt=("ward", "ward_name"), exclude=("*lsoa*",)),
    _s("wards", "boundaries/*ward*.parquet", "vector", "aux", "Ward boundaries",
       cols={"ward": ("re:WD\\d\\dCD",), "ward_name": ("re:WD\\d\\dNM",)}, att=_ONS),
    _s("msoa21_lookup", "lookups/*oa21*msoa21*.csv", "table", "aux", "OA/LSOA 2021 -> MSOA 2021",
       cols={"code": _L21, "msoa": ("MSOA21CD", "msoa21cd"), "msoa_name": ("MSOA21NM", "msoa21nm")},
       opt=("msoa_name",)),
    _s("msoa21", "boundaries/*msoa21*.parquet", "vector", "aux", "MSOA 2021 boundaries",
       cols={"msoa": ("MSOA21CD", "msoa21cd"), "msoa_name": ("MSOA21NM", "msoa21nm")}, att=_ONS),
)
_SPECS = {s.key: s for s in SOURCES}
#: Share of live postcodes with a building within 50 m below which footprints count as incomplete.
_COMPLETE_BUILDINGS = 0.9
_GEO_WORDS = {"lsoa21": "LSOA 2021", "lsoa11": "LSOA 2011", "msoa11": "MSOA 2011"}
#: What a pack can do only with all these roles: ``{what: roles}``; a build whose sources lack one
#: names it in :attr:`BuildReport.unavailable` (the roles :mod:`placekit.change` reads).
NEEDS: dict[str, tuple[str, ...]] = {
    "Census 2011 -> 2021 change (household deprivation, population)": (
        "lookup11", "census2011_deprivation", "census2011_population"),
}
_DERIVED = {"boundary": _s("boundary", "", "vector", "derived", "The councils' outline", att=_ONS)}


# ----------------------------------------------------------------------------- report
@dataclass
class BuildReport:
    """
    What a build did, with the figures to check it by.

    Attributes
    ----------
    out
        The pack folder written.
    name, la_codes, la_names
        The pack's name and councils.
    margin_km
        The buffer around the councils within which facilities and streets are kept.
    n_lsoa, n_lsoa_by_la
        LSOAs reported (only the chosen councils').
    population, population_by_la
        Census 2021 usual residents (sum of ``ts0010001``).
    roles
        ``{role: file in the pack}``.
    missing
        ``{role: pattern that found nothing}`` for the optional roles left out.
    unavailable
        ``{what: why}`` for each feature of :data:`NEEDS` the pack cannot offer, naming
        each role it lacks and why (no source matched its pattern, or the source has no
        rows for the councils).
    facilities
        ``{layer: {"inside": n, "margin": n}}`` per place layer (``data/layers.json``,
        filters applied): inside the councils, and in the margin around them.
    rows
        ``{role: rows written}``.
    network
        ``{mode: {"ways_in", "ways_kept", "nodes_in", "nodes_kept", "nodes", "edges"}}``;
        ``nodes``/``edges`` are those of the checked network (largest component; walk
        edges counted in both directions), absent if the check was skipped.
    origins_method, n_origins
        The residential origins method and the number of origins in the councils.
    building_coverage
        ``{la_code: share of live postcodes with an OSM building within 50 m}``.
    levels
        ``{level id: number of units}``.
    warnings
        Things to look at that did not stop the build.
    timings_s
        Seconds per step and ``total``.
    """

    out: Path
    name: str
    la_codes: list[str]
    la_names: dict[str, str]
    margin_km: float
    n_lsoa: int = 0
    n_lsoa_by_la: dict[str, int] = field(default_factory=dict)
    population: int = 0
    population_by_la: dict[str, int] = field(default_factory=dict)
    roles: dict[str, str] = field(default_factory=dict)
    missing: dict[str, str] = field(default_factory=dict)
    unavailable: dict[str, str] = field(default_factory=dict)
    facilities: dict[str, dict[str, int]] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)
    network: dict[str, dict[str, int]] = field(default_factory=dict)
    origins_method: str = ""
    n_origins: int = 0
    building_coverage: dict[str, float] = field(default_factory=dict)
    levels: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    timings_s: dict[str, float] = field(default_factory=dict)

    def summary(self) -> str:
        """The figures as lines of text."""
        councils = ", ".join(f"{c} {self.la_names.get(c, c)}" for c in self.la_codes)
        lines = [f"Pack {self.name!r} at {self.out}",
                 f"  councils: {councils}",
                 f"  LSOAs: {self.n_lsoa:,} ({_per_la(self.n_lsoa_by_la)})",
                 f"  population (Census 2021): {self.population:,} "
                 f"({_per_la(self.population_by_la)})",
                 f"  origins: {self.n_origins:,} ({self.origins_method})"]
        if self.building_coverage:
            cov = ", ".join(f"{c} {v:.1%}" for c, v in self.building_coverage.items())
            lines.append(f"  live postcodes with an OSM building within 50 m: {cov}")
        lines.append("  levels: " + ", ".join(f"{k} {v}" for k, v in self.levels.items()))
        for layer, d in self.facilities.items():
            lines.append(f"  {layer}: {d['inside']} inside, {d['margin']} within "
                         f"{self.margin_km:g} km outside")
        for mode, d in self.network.items():
            lines.append(f"  network {mode}: {d['ways_kept']:,} of {d['ways_in']:,} ways, "
                         f"{d['nodes_kept']:,} XML nodes"
                         + (f"; graph {d['nodes']:,} nodes, {d['edges']:,} edges" if "nodes" in d
                            else ""))
        if self.missing:
            lines.append("  left out (no source): "
                         + ", ".join(f"{r} ({p})" for r, p in self.missing.items()))
        lines += [f"  unavailable: {k}: {v}" for k, v in self.unavailable.items()]
        lines += [f"  warning: {w}" for w in self.warnings]
        lines.append("  time: " + ", ".join(f"{k} {v:.1f} s" for k, v in self.timings_s.items()))
        return "\n".join(lines)


def _per_la(d: Mapping[str, int]) -> str:
    return ", ".join(f"{k} {v:,}" for k, v in d.items())


# ----------------------------------------------------------------------------- finding
def find_sources(sources: Path) -> tuple[dict[str, Path], dict[str, str]]:
    """
    Find each source of :data:`SOURCES` by its pattern.

    Parameters
    ----------
    sources
        The sources folder.

    Returns
    -------
    (dict, dict)
        ``{key: file}`` for the sources found and ``{key: pattern}`` for those missing.

    Raises
    ------
    DataError
        If the folder is missing, a pattern matches more than one file, or a required
        source is missing (naming the role and the pattern).
    """
    sources = Path(sources)
    if not sources.is_dir():
        msg = (f"No sources folder at {sources}. Pass --sources DIR: a folder with boundaries/, "
               "census/, lookups/, network/ ... (like ../shared/region/south-yorkshire).")
        raise DataError(msg)
    found: dict[str, Path] = {}
    missing: dict[str, str] = {}
    for spec in SOURCES:
        folder, pat = spec.pattern.split("/", 1)
        d = sources / folder
        names = sorted(p.name for p in d.iterdir() if p.is_file()) if d.is_dir() else []
        hits = [n for n in names if fnmatch.fnmatch(n.lower(), pat.lower())
                and not any(fnmatch.fnmatch(n.lower(), x.lower()) for x in spec.exclude)]
        if len(hits) > 1:
            msg = (f"{len(hits)} files in {d} match {spec.pattern!r} for {spec.label} "
                   f"(role {spec.key!r}): {hits}. Keep one, or move the others out of the folder.")
            raise DataError(msg)
        if hits:
            found[spec.key] = d / hits[0]
        elif spec.required:
            msg = (f"No source for the required role {spec.key!r} ({spec.label}): the pattern "
                   f"{spec.pattern!r} found nothing in {sources}. Add the file (its name must "
                   "match the pattern).")
            raise DataError(msg)
        else:
            missing[spec.key] = spec.pattern
    return found, missing


# ----------------------------------------------------------------------------- reading
def _match(present: Sequence[str], cands: tuple[str, ...]) -> str | None:
    for c in cands:
        if c.startswith("re:"):
            rx = re.compile(c[3:] + r"\Z")
            hit = sorted(p for p in present if rx.match(p))
            if hit:
                return hit[-1]
        elif c in present:
            return c
    return None


def _resolve(spec: SourceSpec, path: Path, present: Sequence[str]) -> dict[str, str]:
    out = {}
    for key, cands in spec.columns.items():
        col = _match(present, cands)
        if col is None:
            if key in spec.optional_keys:
                continue
            shown = " or ".join(f"a column matching {c[3:]!r}" if c.startswith("re:") else repr(c)
                                for c in cands)
            msg = (f"{path} ({spec.label}, role {spec.key!r}) has no column {shown}. "
                   f"Columns present: {sorted(present)}. Rename the column or use a file that "
                   "has it.")
            raise SchemaError(msg)
        out[key] = col
    return out


def _columns_of(path: Path) -> list[str]:
    if path.suffix == ".parquet":
        return [str(n) for n in pq.read_schema(path).names]
    return [str(c) for c in pd.read_csv(path, nrows=0).columns]


def _read(spec: SourceSpec, path: Path) -> tuple[pd.DataFrame, dict[str, str]]:
    """Read a source after checking its columns (and CRS); CSV values are kept as text."""
    cols = _resolve(spec, path, _columns_of(path))
    try:
        if spec.kind == "vector":
            df: pd.DataFrame = (gpd.read_parquet(path) if path.suffix == ".parquet"
                                else gpd.read_file(path))
        elif path.suffix == ".parquet":
            df = pd.read_parquet(path)
        else:
            df = pd.read_csv(path, dtype=str, keep_default_na=False)
    except Exception as exc:
        msg = f"Could not read {path} ({type(exc).__name__}: {exc}). Is the file complete?"
        raise DataError(msg) from exc
    if isinstance(df, gpd.GeoDataFrame):
        if df.crs is None:
            msg = (f"{path} ({spec.label}) has no CRS. Sources must be in {SOURCE_CRS} (lon/lat): "
                   f"if its coordinates are lon/lat, set it with .set_crs({SOURCE_CRS!r}) and save "
                   "the file again.")
            raise CRSError(msg)
        if not df.crs.equals(SOURCE_CRS, ignore_axis_order=True):
            msg = (f"{path} ({spec.label}) is in {df.crs.to_string()}, but sources must be in "
                   f"{SOURCE_CRS} (lon/lat). Reproject it with .to_crs({SOURCE_CRS!r}) and save "
                   "the file again.")
            raise CRSError(msg)
    return df, cols


def _write(df: pd.DataFrame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    df = df.reset_index(drop=True)
    if path.suffix == ".parquet":
        df.to_parquet(path, index=False)
    else:
        df.to_csv(path, index=False)


# ----------------------------------------------------------------------------- OSM cut
@dataclass(frozen=True)
class OsmCut:
    """
    Counts from :func:`cut_osm_xml`.

    Attributes
    ----------
    ways_in, ways_kept
        Ways read and ways written.
    nodes_in, nodes_kept
        Nodes read and nodes written (every node of a kept way).
    """

    ways_in: int
    ways_kept: int
    nodes_in: int
    nodes_kept: int


_DROP_ATTRS = ("user", "uid", "timestamp", "changeset", "visible")


_SPECIAL = re.compile(r'[&<>"\n\r\t]')


def _q(v: str) -> str:
    """An XML attribute value, quoted (the common case without special characters is fast)."""
    return quoteattr(v) if _SPECIAL.search(v) else f'"{v}"'


def _attrs(el: ET.Element) -> str:
    return "".join(f" {k}={_q(v)}" for k, v in el.attrib.items() if k not in _DROP_ATTRS)


def _tags(el: ET.Element) -> str:
    return "".join(f'\n    <tag k={_q(t.get("k", ""))} v={_q(t.get("v", ""))}/>'
                   for t in el if t.tag == "tag")


def cut_osm_xml(src: Path, dst: Path, area: BaseGeometry, *, crs: str = WORKING_CRS) -> OsmCut:
    """
    Keep the ways of an OSM XML file with at least one node inside ``area``.

    The file is streamed (``xml.etree.ElementTree.iterparse``, each element cleared once
    read): nodes are held as compact arrays, the kept ways are spooled to a temporary
    file, then the nodes the kept ways use and the kept ways are written. Kept ways are
    whole, with all their nodes, even those outside ``area``. Tags are kept; relations,
    ``bounds`` and editing metadata (user, uid, timestamp, changeset) are dropped.

    Parameters
    ----------
    src
        ``.osm`` or ``.osm.bz2`` XML with nodes before ways (the usual order).
    dst
        Output file; bz2-compressed when its name ends in ``.bz2``.
    area
        The area, in ``crs``.
    crs
        The CRS of ``area``; node lon/lat are projected to it for the test.

    Returns
    -------
    OsmCut

    Raises
    ------
    DataError
        If the file cannot be parsed or lists a node after a way.
    """
    src, dst = Path(src), Path(dst)
    prepared = shapely.make_valid(area)
    shapely.prepare(prepared)
    tr = pyproj.Transformer.from_crs("EPSG:4326", crs, always_xy=True)
    ids, lats, lons, vers = array("q"), array("d"), array("d"), array("l")
    node_tags: dict[int, str] = {}
    inside_ids: set[int] = set()
    needed: set[int] = set()
    ways_in = ways_kept = 0
    nodes_done = False
    root_attrib: dict[str, str] = {}
    dst.parent.mkdir(parents=True, exist_ok=True)
    opener = bz2.open if src.name.endswith(".bz2") else open

    def close_nodes() -> None:
        nonlocal nodes_done
        nodes_done = True
        if len(ids):
            x, y = tr.transform(np.frombuffer(lons), np.frombuffer(lats))
            inside = shapely.contains_xy(prepared, x, y)
            inside_ids.update(np.frombuffer(ids, dtype=np.int64)[inside].tolist())

    with tempfile.TemporaryFile("w+", encoding="utf-8", dir=dst.parent) as spool:
        try:
            with opener(src, "rb") as fh:
                ctx = ET.iterparse(fh, events=("start", "end"))
                _, root = next(ctx)
                root_attrib = dict(root.attrib)
                for ev, el in ctx:
                    if ev != "end":
                        continue
                    if el.tag == "node":
                        if nodes_done:
                            msg = (f"{src} lists node {el.get('id')} after a way. Sort it with "
                                   "`osmium sort` (nodes, then ways) and build again.")
                            raise DataError(msg)
                        nid = int(el.attrib["id"])
                        ids.append(nid)
                        lats.append(float(el.attrib["lat"]))
                        lons.append(float(el.attrib["lon"]))
                        vers.append(int(el.get("version", -1)))
                        if len(el):
                            node_tags[nid] = _tags(el)
                        root.clear()
                    elif el.tag == "way":
                        if not nodes_done:
                            close_nodes()
                        ways_in += 1
                        refs = [int(c.attrib["ref"]) for c in el if c.tag == "nd"]
                        if any(r in inside_ids for r in refs):
                            ways_kept += 1
                            needed.update(refs)
                            nds = "".join(f'\n    <nd ref="{r}"/>' for r in refs)
                            spool.write(f"  <way{_attrs(el)}>{nds}{_tags(el)}\n  </way>\n")
                        root.clear()
                    elif el.tag in ("relation", "bounds"):
                        root.clear()
        except ET.ParseError as exc:
            msg = f"{src} is not readable OSM XML ({exc}). Is the file complete?"
            raise DataError(msg) from exc
        if not nodes_done:
            close_nodes()
        id_arr = np.frombuffer(ids, dtype=np.int64)
        keep = np.isin(id_arr, np.fromiter(needed, dtype=np.int64, count=len(needed)))
        head = {**root_attrib, "generator": "placekit pack build (cut of " + src.name + ")"}
        out: TextIO
        with (bz2.open(dst, "wt", encoding="utf-8") if dst.name.endswith(".bz2")
              else open(dst, "w", encoding="utf-8")) as out:
            out.write("<?xml version='1.0' encoding='UTF-8'?>\n<osm")
            out.write("".join(f" {k}={quoteattr(v)}" for k, v in head.items()) + ">\n")
            lat_a, lon_a, ver_a = np.frombuffer(lats), np.frombuffer(lons), np.asarray(vers)
            for i in np.flatnonzero(keep).tolist():
                nid = int(id_arr[i])
                ver = f' version="{ver_a[i]}"' if ver_a[i] >= 0 else ""
                tags = node_tags.get(nid)
                start = f'  <node id="{nid}"{ver} lat="{lat_a[i]:.7f}" lon="{lon_a[i]:.7f}"'
                out.write(f"{start}>{tags}\n  </node>\n" if tags else f"{start}/>\n")
            spool.seek(0)
            shutil.copyfileobj(spool, out)
            out.write("</osm>\n")
    return OsmCut(ways_in, ways_kept, len(ids), int(keep.sum()))


# ----------------------------------------------------------------------------- build
@dataclass
class _Ctx:
    """State shared by the build steps."""

    sources: Path
    tmp: Path
    slug: str
    la_codes: list[str]
    found: dict[str, Path]
    report: BuildReport
    lsoa: gpd.GeoDataFrame            # chosen LSOAs, EPSG:27700, indexed by code
    area: BaseGeometry                # the councils' union, EPSG:27700
    buffer: BaseGeometry              # area buffered by the margin
    codes: dict[str, set[str]] = field(default_factory=dict)
    roles: dict[str, dict[str, Any]] = field(default_factory=dict)
    left_out: dict[str, str] = field(default_factory=dict)   # found source -> why not in pack
    notes: list[str] = field(default_factory=list)   # PROVENANCE lines

    def rel(self, p: Path) -> str:
        return p.relative_to(self.tmp).as_posix()

    def src_rel(self, key: str) -> str:
        return self.found[key].relative_to(self.sources).as_posix()

    def add_role(self, key: str, path: Path, cols: Mapping[str, str], n: int, rule: str) -> None:
        spec = _SPECS.get(key) or _DERIVED[key]
        entry: dict[str, Any] = {"file": self.rel(path)}
        mcols = {k: cols[k] for k in spec.manifest_keys if k in cols}
        if key == "lookup11":
            mcols["lsoa21"] = cols["code"]
        if mcols:
            entry["columns"] = mcols
        if spec.kind == "vector":
            entry["crs"] = SOURCE_CRS
        entry.update(licence=spec.licence, attribution=spec.attribution,
                     source=self.src_rel(key) if key in self.found else "derived")
        self.roles[key] = entry
        self.report.roles[key] = entry["file"]
        self.report.rows[key] = n
        src = f"`{self.src_rel(key)}`" if key in self.found else "derived"
        self.notes.append(f"| `{key}` | `{entry['file']}` | {src} | {n:,} | {rule} | "
                          f"{spec.licence} |")

    def out_path(self, key: str, folder: str, ext: str) -> Path:
        return self.tmp / folder / f"{self.slug}_{key}{ext}"


def _select_area(ctx: _Ctx, spec: SourceSpec, df: pd.DataFrame, cols: Mapping[str, str],
                 path: Path) -> tuple[pd.DataFrame | None, str]:
    """
    The councils' rows of an area table, and the rule that picked them.

    Returns ``(None, why)`` for a :attr:`SourceSpec.by_codes` source with neither the
    councils' codes nor a ``lad_code`` column to select by.

    Raises
    ------
    SchemaError
        For any other source with neither.
    """
    known = ctx.codes.get(spec.geography)
    words = _GEO_WORDS.get(spec.geography, spec.geography)

    def by_code(codes: set[str]) -> tuple[pd.DataFrame, str]:
        src = " (from `lookup11`)" if spec.geography == "lsoa11" else ""
        return (df[df[cols["code"]].astype(str).isin(codes)],
                f"rows whose `{cols['code']}` is one of the councils' {len(codes):,} {words} "
                f"codes{src}")

    if spec.by_codes and known is not None and "code" in cols:
        return by_code(known)
    if LA_COLUMN in df.columns:
        return (df[df[LA_COLUMN].astype(str).isin(ctx.la_codes)],
                f"rows with {LA_COLUMN} in the councils")
    if spec.by_codes:
        return None, (f"{path.name} has no {LA_COLUMN!r} column and there is no {words} "
                      "lookup (`lookup11`) to select the councils' rows by")
    if "code" not in cols or known is None:
        msg = (f"{path} ({spec.label}) has no {LA_COLUMN!r} column to select the councils' rows "
               "by, and no area code placekit can match. Add a lad_code column.")
        raise SchemaError(msg)
    return by_code(known)


def _cut_area_role(ctx: _Ctx, key: str) -> None:
    spec = _SPECS[key]
    path = ctx.found[key]
    df, cols = _read(spec, path)
    sub, rule = _select_area(ctx, spec, df, cols, path)
    if sub is None:
        ctx.left_out[key] = rule
        ctx.report.warnings.append(f"{key}: left out: {rule}")
        return
    if spec.geography == "lsoa21" and "code" in cols:
        have = set(sub[cols["code"]].astype(str))
        lost = len(set(ctx.lsoa.index) - have)
        if lost:
            ctx.report.warnings.append(f"{key}: {lost} of {len(ctx.lsoa)} LSOAs have no row in "
                                       f"{path.name}")
    elif spec.by_codes and spec.geography in ctx.codes:
        known = ctx.codes[spec.geography]
        lost = len(known - set(sub[cols["code"]].astype(str)))
        if lost:
            ctx.report.warnings.append(
                f"{key}: {lost} of the councils' {len(known):,} "
                f"{_GEO_WORDS.get(spec.geography, spec.geography)} codes have no row in "
                f"{path.name}")
    if sub.empty:
        ctx.left_out[key] = f"{path.name} has no rows for {', '.join(ctx.la_codes)}"
        ctx.report.warnings.append(f"{key}: {path.name} has no rows for {ctx.la_codes}; left out")
        return
    _check_values(ctx, key, sub, cols, path)
    ext = ".parquet" if spec.kind == "vector" else path.suffix
    out = ctx.out_path(key, spec.pattern.split("/")[0], ext)
    _write(sub, out)
    ctx.add_role(key, out, cols, len(sub), rule)


def _check_values(ctx: _Ctx, key: str, sub: pd.DataFrame, cols: Mapping[str, str],
                  path: Path) -> None:
    """Warn about values a role's reader will refuse (the Census 2011 tables' counts and groups)."""
    if key not in ("census2011_deprivation", "census2011_population"):
        return
    value = pd.to_numeric(sub[cols["value"]], errors="coerce")
    bad = int((value.isna() | (value < 0)).sum())
    if bad:
        ctx.report.warnings.append(f"{key}: {bad} rows of {path.name} have no count >= 0 in "
                                   f"{cols['value']!r}")
    if key == "census2011_deprivation":
        dims = pd.to_numeric(sub[cols["group"]], errors="coerce")
        odd = sorted(set(sub.loc[~dims.isin([0, 1, 2, 3, 4]), cols["group"]].astype(str)))
        if odd:
            ctx.report.warnings.append(
                f"{key}: {cols['group']!r} in {path.name} must hold the number of deprivation "
                f"dimensions 0 to 4; found {odd[:5]}: Census 2011 -> 2021 change will refuse it")
    if key == "census2011_population":
        dup = int(sub[cols["code"]].astype(str).duplicated().sum())
        if dup:
            ctx.report.warnings.append(f"{key}: {dup} LSOA 2011 codes are listed more than once "
                                       f"in {path.name}: Census 2011 -> 2021 change will refuse it")


def _unavailable(ctx: _Ctx) -> dict[str, str]:
    """``{what: why}`` for each feature of :data:`NEEDS` whose roles the pack lacks."""
    out = {}
    for what, roles in NEEDS.items():
        why = [f"no {r} ({ctx.left_out[r]})" if r in ctx.left_out
               else f"no {r} (nothing matched `{_SPECS[r].pattern}` in the sources)"
               for r in roles if r not in ctx.roles]
        if why:
            out[what] = "; ".join(why)
    return out


def _where(frame: pd.DataFrame, where: Mapping[str, tuple[str, ...]],
           cols: Mapping[str, str]) -> pd.Series | None:
    keep = pd.Series(True, index=frame.index)
    for k, vals in where.items():
        col = cols.get(k, k)
        if col not in frame.columns:
            return None
        keep &= frame[col].astype(str).isin(vals)
    return keep


def _cut_near_role(ctx: _Ctx, key: str) -> gpd.GeoDataFrame | None:
    spec = _SPECS[key]
    path = ctx.found[key]
    gdf, cols = _read(spec, path)
    assert isinstance(gdf, gpd.GeoDataFrame)
    proj = gdf.geometry.to_crs(WORKING_CRS)
    hit = np.zeros(len(gdf), dtype=bool)
    hit[proj.sindex.query(ctx.buffer, predicate="intersects")] = True
    sub = gdf[hit].copy()
    inside = np.zeros(len(gdf), dtype=bool)
    inside[proj.sindex.query(ctx.area, predicate="intersects")] = True
    sub["in_city"] = inside[hit]     # inside the pack's councils (recomputed)
    out = ctx.out_path(key, spec.pattern.split("/")[0], ".parquet")
    _write(sub, out)
    margin = ctx.report.margin_km
    ctx.add_role(key, out, cols, len(sub),
                 f"features intersecting the councils + {margin:g} km (`in_city` = inside)")
    for layer in _pack.default_layers().values():
        if layer.role != key:
            continue
        keep = _where(sub, layer.where, cols)
        if keep is not None:
            ins = sub["in_city"].to_numpy()
            k = keep.to_numpy()
            ctx.report.facilities[layer.name] = {"inside": int((k & ins).sum()),
                                                 "margin": int((k & ~ins).sum())}
    return sub


def _live(df: pd.DataFrame, col: str) -> pd.Series:
    if col.lower() == "doterm":     # NSPL/ONSPD: a live postcode has no termination date
        return df[col].astype(str).str.strip().isin(["", "nan", "<NA>", "None"])
    return df[col].astype(str).str.match(r"(?i)\s*live")


def _origins(ctx: _Ctx, buildings: gpd.GeoDataFrame | None) -> dict[str, Any]:
    rep = ctx.report
    names = _joined([rep.la_names[c] for c in ctx.la_codes])
    if "postcodes" not in ctx.found:
        if "centroids" in ctx.roles:
            rep.origins_method, rep.n_origins = "centroids", rep.rows["centroids"]
            return {"method": "centroids",
                    "why": (f"No postcode centroids were found in the sources "
                            f"({_SPECS['postcodes'].pattern}), so origins fall back to the ONS "
                            f"population-weighted centroids: one per LSOA ({rep.n_origins:,}).")}
        rep.origins_method = "centroids"
        rep.warnings.append("no postcodes and no population-weighted centroids: origins are LSOA "
                            "centroids computed by the place")
        return {"method": "centroids", "why": "No postcode centroids and no population-weighted "
                "centroids were found in the sources; origins are one point per LSOA."}
    spec, path = _SPECS["postcodes"], ctx.found["postcodes"]
    df, cols = _read(spec, path)
    lat = pd.to_numeric(df[cols["lat"]], errors="coerce")
    lon = pd.to_numeric(df[cols["lon"]], errors="coerce")
    ok = (lat.notna() & lon.notna()).to_numpy()
    tr = pyproj.Transformer.from_crs(SOURCE_CRS, WORKING_CRS, always_xy=True)
    x, y = tr.transform(lon.to_numpy(float, na_value=np.nan), lat.to_numpy(float, na_value=np.nan))
    near = ok & shapely.contains_xy(ctx.buffer, x, y)
    pts = shapely.points(x[near], y[near])
    sub = df[near].copy()
    inside = shapely.contains_xy(ctx.area, x[near], y[near])
    sub["in_city"] = np.where(inside, "True", "False")     # inside the pack's councils
    live = _live(sub, cols["status"]).to_numpy()
    # the LSOA (and so the council) of each live postcode, by point in polygon as the place does
    lsoa_i, pt_i = ctx.lsoa.sindex.query(pts, predicate="within")[::-1]
    la_of = np.full(len(sub), None, dtype=object)
    la_of[pt_i] = ctx.lsoa[LA_COLUMN].to_numpy()[lsoa_i]
    origin = live & pd.notna(la_of)
    rep.origins_method, rep.n_origins = "postcodes", int(origin.sum())
    per_la = {c: int((la_of[origin] == c).sum()) for c in ctx.la_codes}
    status_vals = sorted(set(sub[cols["status"]].astype(str)[live]))
    cov_text = ""
    if buildings is not None and len(buildings):
        b = buildings.geometry.to_crs(WORKING_CRS)
        tree = shapely.STRtree(b.to_numpy())
        oi = np.flatnonzero(origin)
        near_b = np.zeros(len(sub), dtype=bool)
        near_b[oi[np.unique(tree.query(pts[oi], predicate="dwithin", distance=50.0)[0])]] = True
        for c in ctx.la_codes:
            n = per_la[c]
            rep.building_coverage[c] = float(near_b[la_of == c].sum() / n) if n else 0.0
        shares = ", ".join(f"{rep.la_names[c]} {v:.1%}" for c, v in rep.building_coverage.items())
        if min(rep.building_coverage.values()) < _COMPLETE_BUILDINGS:
            cov_text = (f" OSM building footprints are incomplete here (live postcodes with a "
                        f"building within 50 m: {shares}), so they are not used as origins; see "
                        "the sources' PROVENANCE.")
        else:
            cov_text = (f" OSM building footprints look complete (live postcodes with a building "
                        f"within 50 m: {shares}); origins stay postcodes, as in AHAH.")
    else:
        cov_text = " No building footprints were found, so their coverage was not checked."
    counts = ", ".join(f"{rep.la_names[c]} {per_la[c]:,}" for c in ctx.la_codes)
    crit = ("no termination date" if cols["status"].lower() == "doterm"
            else f"{cols['status']} = {', '.join(status_vals) or 'live'}")
    why = (f"Live postcode centroids ({crit}) "
           f"inside the LSOAs of {names}: {rep.n_origins:,} origins ({counts}), the method of the "
           f"national Access to Healthy Assets and Hazards index (AHAH).{cov_text}")
    o: dict[str, Any] = {"method": "postcodes", "why": why, "count": rep.n_origins,
                         "where": {"status": status_vals}}
    if cols["status"].lower() == "doterm":     # no status text: flag the live rows
        sub["live"] = np.where(live, "True", "False")
        o["where"] = {"live": ["True"]}
    out = ctx.out_path("postcodes", "lookups", ".csv")
    _write(sub, out)
    ctx.add_role("postcodes", out, cols, len(sub),
                 f"postcodes within the councils + {rep.margin_km:g} km (`in_city` = inside)")
    if rep.building_coverage:
        o["building_coverage_50m"] = {c: round(v, 4) for c, v in rep.building_coverage.items()}
    return o


def _assign_by_point(lsoa: gpd.GeoDataFrame, polys: gpd.GeoDataFrame, code: str,
                     name: str) -> pd.DataFrame:
    """Each LSOA's unit: the polygon holding its representative point."""
    pts = gpd.GeoDataFrame(geometry=lsoa.geometry.representative_point(), crs=lsoa.crs)
    j = gpd.sjoin(pts, polys[[code, name, "geometry"]].to_crs(lsoa.crs), predicate="within")
    j = j[~j.index.duplicated()]
    return pd.DataFrame({"LSOA21CD": j.index.astype(str), code: j[code].astype(str),
                         name: j[name].astype(str)})


def _level(ctx: _Ctx, lid: str, label: str, lookup_key: str, poly_key: str,
           code_k: str, name_k: str) -> dict[str, Any] | None:
    """A level from a best-fit lookup, else by point in its boundaries; with boundaries."""
    polys = pcols = None
    if poly_key in ctx.found:
        polys, pcols = _read(_SPECS[poly_key], ctx.found[poly_key])
    if lookup_key in ctx.found:
        tab, cols = _read(_SPECS[lookup_key], ctx.found[lookup_key])
        code, name = cols[code_k], cols.get(name_k)
        lk = tab[tab[cols["code"]].astype(str).isin(ctx.lsoa.index)]
        lk = lk.drop_duplicates(cols["code"])[[cols["code"], code] + ([name] if name else [])]
        lk = lk.rename(columns={cols["code"]: "LSOA21CD"})
        how = f"ONS lookup `{ctx.src_rel(lookup_key)}`"
    elif polys is not None and pcols is not None:
        code, name = pcols[code_k], pcols[name_k]
        lk = _assign_by_point(ctx.lsoa, polys, code, name)
        how = f"LSOA representative point in `{ctx.src_rel(poly_key)}`"
    else:
        ctx.report.warnings.append(f"level {lid!r} left out: no {lookup_key} "
                                   f"({_SPECS[lookup_key].pattern}) or {poly_key} "
                                   f"({_SPECS[poly_key].pattern})")
        return None
    if name is None and polys is not None and pcols is not None:
        names = polys.drop_duplicates(pcols[code_k]).set_index(pcols[code_k])[pcols[name_k]]
        name = "name"
        lk[name] = lk[code].map(names).fillna(lk[code])
    elif name is None:
        name = code
    lost = sorted(set(ctx.lsoa.index) - set(lk["LSOA21CD"].astype(str)))
    if lost:    # the place needs every LSOA assigned: the level is left out rather than broken
        ctx.report.warnings.append(f"level {lid!r} left out: {len(lost)} LSOAs (e.g. {lost[:3]}) "
                                   f"have no {lid} in {how}")
        return None
    f = ctx.tmp / "lookups" / f"{ctx.slug}_lsoa21_{lid}.csv"
    _write(lk, f)
    lv: dict[str, Any] = {"id": lid, "label": label,
                          "assign": {"method": "lookup", "file": ctx.rel(f),
                                     "lsoa_column": "LSOA21CD", "code_column": code,
                                     "name_column": name},
                          "note": f"Assigned by {how}."}
    units = set(lk[code].astype(str))
    if polys is not None and pcols is not None:
        pcode = pcols[code_k]
        psub = polys[polys[pcode].astype(str).isin(units)]
        absent = sorted(units - set(psub[pcode].astype(str)))
        if absent:
            ctx.report.warnings.append(f"level {lid!r}: {len(absent)} units (e.g. {absent[:3]}) "
                                       f"are not in {ctx.found[poly_key].name}; boundaries left "
                                       "out, the place dissolves LSOAs instead")
            polys = None
    if polys is not None and pcols is not None:
        pf = ctx.tmp / "boundaries" / f"{ctx.slug}_{lid}.parquet"
        _write(psub, pf)
        lv["boundaries"] = {"file": ctx.rel(pf), "code": pcode, "name": pcols[name_k],
                            "crs": SOURCE_CRS}
        ctx.notes.append(f"| level `{lid}` boundaries | `{ctx.rel(pf)}` | "
                         f"`{ctx.src_rel(poly_key)}` | {len(psub):,} | units of the lookup | "
                         "OGL v3 |")
    ctx.notes.append(f"| level `{lid}` | `{ctx.rel(f)}` | {how} | {len(lk):,} | "
                     "the councils' LSOAs | OGL v3 |")
    ctx.report.levels[lid] = len(units)
    return lv


def _la_names(found: Mapping[str, Path], codes: Iterable[str]) -> dict[str, str]:
    names: dict[str, str] = {}
    for key in ("ward_lad", "lad_boundaries"):
        if key not in found:
            continue
        df, cols = _read(_SPECS[key], found[key])
        if "la_name" in cols or "name" in cols:
            nm = cols.get("la_name", cols.get("name"))
            for c, n in zip(df[cols["la"]].astype(str), df[nm].astype(str), strict=True):
                names.setdefault(c, n)
    return {c: names.get(c, c) for c in codes}


def _joined(names: Sequence[str]) -> str:
    """``"A"``, ``"A and B"``, ``"A, B and C"``."""
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _default_name(names: Sequence[str]) -> str:
    return _joined(sorted(names))


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_") or "pack"


def _check_out(out: Path, sources: Path, force: bool) -> None:
    o, s = out.resolve(), sources.resolve()
    if o == s or s.is_relative_to(o):
        msg = f"--out {out} would hold the sources {sources}; choose a folder outside them."
        raise DataError(msg)
    if not out.exists():
        return
    if not force:
        msg = f"{out} already exists. Choose another folder to build the pack in."
        raise DataError(msg, fixes={"cli": "Or add --force to replace it.",
                                    "library": "Or pass force=True to replace it."})
    if not out.is_dir() or (any(out.iterdir()) and not (out / _pack.MANIFEST_NAME).is_file()):
        msg = (f"{out} exists and is not a place pack (no {_pack.MANIFEST_NAME}); placekit will "
               "not replace it even with --force. Remove it yourself or choose another --out.")
        raise DataError(msg)


def _stage(say: Progress, timings: dict[str, float], key: str, label: str,
           frac: float) -> Callable[[], None]:
    """Announce a step; the returned function records its time under ``key``."""
    say(label, frac)
    t0 = time.perf_counter()

    def done() -> None:
        timings[key] = timings.get(key, 0.0) + time.perf_counter() - t0
    return done


def build_pack(sources: Path, la_codes: Sequence[str], out: Path, *, margin_km: float = 3.0,
               force: bool = False, england: Path | None = None,
               progress: Progress | None = None, name: str | None = None,
               prebuild: Sequence[str] = ("walk", "drive")) -> BuildReport:
    """
    Cut a place pack for one council, or several together, from regional or national sources.

    Parameters
    ----------
    sources
        The sources folder (see the module docstring and ``docs/pack-format.md``).
    la_codes
        Local authority (LAD) codes, e.g. ``["E08000018"]``; text with commas is split.
    out
        The pack folder to write. It must not exist unless ``force``.
    margin_km
        Facilities, roads and streets are kept within the councils' outline buffered by
        this many kilometres (EPSG:27700), so access near a border counts what lies over it.
    force
        Replace an existing pack at ``out``.
    england
        The England-wide tables folder the manifest points to (default
        ``<sources>/../england`` if it exists).
    progress
        Called as ``progress(message, fraction)`` as the build goes.
    name
        The pack's display name (default: the council names joined).
    prebuild
        Network modes checked in osmnx during the build; the walk network's projected
        cache is then saved for the pack (see :func:`placekit.network.load_network`).

    Returns
    -------
    BuildReport

    Raises
    ------
    DataError
        For an unknown LA code (listing the codes present), a missing required source
        (naming the role and pattern), several files matching one pattern, or an existing
        ``out`` without ``force``.
    SchemaError
        If a source lacks a column (naming the file, the column and the columns present).
    CRSError
        If a vector source has no CRS or is not in EPSG:4326.
    """
    t_start = time.perf_counter()
    say = progress or (lambda _m, _f: None)
    sources, out = Path(sources).expanduser(), Path(out).expanduser()
    codes = list(dict.fromkeys(c.strip().upper() for s in la_codes for c in str(s).split(",")
                               if c.strip()))
    if not codes:
        msg = "Give at least one local authority code, e.g. --la E08000018."
        raise DataError(msg)
    if not (math.isfinite(margin_km) and margin_km >= 0):
        msg = f"margin_km must be a finite number of kilometres >= 0; got {margin_km!r}."
        raise DataError(msg)
    bad_modes = [m for m in prebuild if m not in ("walk", "drive")]
    if bad_modes:
        msg = f"prebuild modes must be 'walk' or 'drive'; got {bad_modes}."
        raise DataError(msg)
    timings: dict[str, float] = {}
    done = _stage(say, timings, "find", "Finding sources", 0.01)
    found, missing = find_sources(sources)
    _check_out(out, sources, force)
    done()

    done = _stage(say, timings, "lsoa", "Reading LSOA boundaries", 0.03)
    lsoa_src, lcols = _read(_SPECS["lsoa"], found["lsoa"])
    present = sorted(set(lsoa_src[lcols["la"]].dropna().astype(str)))
    unknown = [c for c in codes if c not in present]
    if unknown:
        named = _la_names(found, present)
        listed = ", ".join(f"{c} ({named[c]})" if named[c] != c else c for c in present)
        msg = (f"Local authority code(s) {unknown} are not in the sources "
               f"({found['lsoa'].name}). Codes present: {listed}.")
        raise DataError(msg)
    la_names = _la_names(found, codes)
    pack_name = (name.strip() if name and name.strip()
                 else _default_name([la_names[c] for c in codes]))
    report = BuildReport(out=out, name=pack_name, la_codes=codes, la_names=la_names,
                         margin_km=float(margin_km))
    report.missing = {k: v for k, v in missing.items() if k in _pack.ROLES}
    chosen = lsoa_src[lsoa_src[lcols["la"]].astype(str).isin(codes)]
    lsoa = chosen.to_crs(WORKING_CRS).set_index(chosen[lcols["code"]].astype(str))
    if lsoa.index.duplicated().any():
        dup = sorted(set(lsoa.index[lsoa.index.duplicated()]))[:5]
        msg = f"{found['lsoa']} lists LSOA code(s) {dup} more than once; each LSOA needs one row."
        raise DataError(msg)
    if "lad_boundaries" in found:
        lad, lad_cols = _read(_SPECS["lad_boundaries"], found["lad_boundaries"])
        lad = lad[lad[lad_cols["la"]].astype(str).isin(codes)].to_crs(WORKING_CRS)
        outline = gpd.GeoDataFrame({LA_COLUMN: lad[lad_cols["la"]].astype(str).to_numpy()},
                                   geometry=lad.geometry.to_numpy(), crs=WORKING_CRS)
    else:
        outline = lsoa[[LA_COLUMN, "geometry"]].dissolve(LA_COLUMN).reset_index()
    if set(outline[LA_COLUMN]) != set(codes):
        outline = lsoa[[LA_COLUMN, "geometry"]].dissolve(LA_COLUMN).reset_index()
    outline["name"] = outline[LA_COLUMN].map(la_names)
    area = shapely.union_all(outline.geometry.to_numpy())
    buffer = area.buffer(margin_km * 1000.0) if margin_km > 0 else area
    done()

    parent = out.parent
    parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.building-", dir=parent))
    ctx = _Ctx(sources=sources, tmp=tmp, slug=_slug(pack_name), la_codes=codes, found=found,
               report=report, lsoa=lsoa, area=area, buffer=buffer)
    nets: dict[str, Any] = {}
    try:
        _build_into(ctx, lsoa_src, lcols, chosen, outline, say, timings, prebuild, nets, england)
        done = _stage(say, timings, "rename", "Renaming into place", 0.97)
        old = None
        if out.exists():
            old = parent / f".{out.name}.old-{os.getpid()}"
            os.replace(out, old)
        try:
            os.replace(tmp, out)
        except OSError:
            if old is not None:
                os.replace(old, out)
            raise
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        done()
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    for mode, net in nets.items():
        _save_network_cache(net, out / ctx.roles[f"network_{mode}"]["file"], mode, report)
    report.timings_s = {**timings, "total": time.perf_counter() - t_start}
    say("Pack ready", 1.0)
    return report


def _save_network_cache(net: Any, osm: Path, mode: str, report: BuildReport) -> None:
    """Save the checked network as the cache :func:`placekit.network.load_network` will read."""
    from placekit import network as _net

    cache_path = getattr(_net, "_cache_path", None)
    try:
        if cache_path is None:
            _net.load_network(osm, mode)
        else:
            net.save(cache_path(osm, mode))
    except OSError as exc:
        report.warnings.append(f"could not save the {mode} network cache ({exc})")


def _build_into(ctx: _Ctx, lsoa_src: gpd.GeoDataFrame, lcols: dict[str, str],
                chosen: gpd.GeoDataFrame, outline: gpd.GeoDataFrame, say: Progress,
                timings: dict[str, float], prebuild: Sequence[str], nets: dict[str, Any],
                england: Path | None) -> None:
    rep, found = ctx.report, ctx.found
    done = _stage(say, timings, "areas", "Area tables and boundaries", 0.05)
    f = ctx.out_path("lsoa", "boundaries", ".parquet")
    _write(chosen, f)
    ctx.add_role("lsoa", f, lcols, len(chosen), f"rows with {LA_COLUMN} in the councils")
    ctx.codes["lsoa21"] = set(ctx.lsoa.index)
    f = ctx.out_path("boundary", "boundaries", ".parquet")
    _write(outline.to_crs(SOURCE_CRS)[[LA_COLUMN, "name", "geometry"]], f)
    ctx.add_role("boundary", f, {}, len(outline),
                 "the councils' outlines" + (" (LA boundaries file)" if "lad_boundaries" in found
                                             else " (dissolved LSOAs)"))
    for key in ("lookup11", "msoa11"):     # code sets first, for files without lad_code
        if key in found:
            _cut_area_role(ctx, key)
    if "lookup11" in ctx.roles:
        lk = pd.read_csv(ctx.tmp / ctx.roles["lookup11"]["file"], dtype=str, keep_default_na=False)
        ctx.codes["lsoa11"] = set(lk[ctx.roles["lookup11"]["columns"]["lsoa11"]])
    if "msoa11" in ctx.roles:
        m = gpd.read_parquet(ctx.tmp / ctx.roles["msoa11"]["file"])
        ctx.codes["msoa11"] = set(m[ctx.roles["msoa11"]["columns"]["code"]].astype(str))
    area_keys = [s.key for s in SOURCES if s.cut == "area" and s.key not in
                 ("lsoa", "lookup11", "msoa11") and s.key in found]
    for i, key in enumerate(area_keys):
        say(f"Cutting {_SPECS[key].label}", 0.05 + 0.2 * i / max(len(area_keys), 1))
        _cut_area_role(ctx, key)
    cen = pd.read_parquet(ctx.tmp / ctx.roles["census"]["file"])
    pop_col = _resolve(_SPECS["census"], found["census"], list(cen.columns))["population"]
    cen_code = ctx.roles["census"]["columns"]["code"]
    pop = pd.to_numeric(cen[pop_col], errors="coerce").fillna(0)
    by_code = pop.groupby(cen[cen_code].astype(str)).sum()
    la_of = ctx.lsoa[LA_COLUMN].astype(str)
    rep.n_lsoa = len(ctx.lsoa)
    rep.n_lsoa_by_la = {c: int((la_of == c).sum()) for c in ctx.la_codes}
    rep.population = int(by_code.reindex(ctx.lsoa.index).fillna(0).sum())
    rep.population_by_la = {c: int(by_code.reindex(ctx.lsoa.index[la_of == c]).fillna(0).sum())
                            for c in ctx.la_codes}
    rep.unavailable = _unavailable(ctx)
    done()

    done = _stage(say, timings, "facilities", "Facilities within the margin", 0.25)
    near_keys = [s.key for s in SOURCES if s.cut == "near" and s.key in found]
    buildings = None
    for i, key in enumerate(near_keys):
        say(f"Cutting {_SPECS[key].label} within {rep.margin_km:g} km",
            0.25 + 0.2 * i / max(len(near_keys), 1))
        sub = _cut_near_role(ctx, key)
        if key == "buildings":
            buildings = sub
    done()

    done = _stage(say, timings, "origins", "Origins (postcodes)", 0.45)
    origins = _origins(ctx, buildings)
    done()

    done = _stage(say, timings, "levels", "Levels", 0.5)
    levels = [lv for lv in (
        _level(ctx, "msoa", "MSOA 2021", "msoa21_lookup", "msoa21", "msoa", "msoa_name"),
        _level(ctx, "ward", "Ward", "ward_lookup", "wards", "ward", "ward_name")) if lv]
    levels.append({"id": "lad", "label": "Local authority",
                   "assign": {"method": "lsoa_column", "column": LA_COLUMN,
                              "names": {c: rep.la_names[c] for c in ctx.la_codes}}})
    rep.levels["lad"] = len(ctx.la_codes)
    done()

    modes = [m for m in ("walk", "drive") if f"network_{m}" in found]
    paths = {m: ctx.tmp / "network" / f"{ctx.slug}_osm_{m}.osm.bz2" for m in modes}
    side: Future[tuple[OsmCut, Any, float, float]] | None = None
    pool = None
    if modes == ["walk", "drive"] and "drive" in prebuild and (os.cpu_count() or 1) > 1:
        # the drive network is cut and checked in a second process while this one does walk
        pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))
        side = pool.submit(_network_job, found["network_drive"], paths["drive"],
                           shapely.to_wkb(ctx.buffer), "drive", True)
    try:
        for mode in modes:
            key = f"network_{mode}"
            if mode == "drive" and side is not None:
                say("Network drive: cut and checked in a second process", 0.9)
                try:
                    cut, net, t_cut, t_net = side.result()
                    timings["cut_drive (parallel)"] = t_cut
                    timings["osmnx_drive (parallel)"] = t_net
                except BrokenProcessPool:   # no second process here: do it in this one
                    side = None
            if mode != "drive" or side is None:
                check = mode in prebuild
                say(f"Network {mode}: cutting {found[key].name}"
                    + (" and checking it loads in osmnx" if check else ""), 0.55)
                cut, net, t_cut, t_net = _network_job(found[key], paths[mode], ctx.buffer, mode,
                                                      check)
                timings[f"cut_{mode}"] = t_cut
                if check:
                    timings[f"osmnx_{mode}"] = t_net
            rep.network[mode] = {"ways_in": cut.ways_in, "ways_kept": cut.ways_kept,
                                 "nodes_in": cut.nodes_in, "nodes_kept": cut.nodes_kept}
            ctx.add_role(key, paths[mode], {}, cut.ways_kept,
                         f"ways with a node within the councils + {rep.margin_km:g} km, kept whole")
            if net is not None:
                rep.network[mode].update(nodes=net.n_nodes, edges=int(net.edge_u.size))
                nets[mode] = net
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)

    done = _stage(say, timings, "manifest", "Manifest and provenance", 0.95)
    manifest = _manifest(ctx, origins, levels, england)
    _pack.validate_manifest(manifest, where=f"the manifest built for {rep.out}")
    (ctx.tmp / _pack.MANIFEST_NAME).write_text(json.dumps(manifest, indent=1, ensure_ascii=False)
                                               + "\n", encoding="utf-8")
    (ctx.tmp / "PROVENANCE.md").write_text(_provenance(ctx, origins), encoding="utf-8")
    missing_files = [r for r, s in ctx.roles.items() if not (ctx.tmp / s["file"]).is_file()]
    if missing_files:  # pragma: no cover - a bug guard
        msg = f"Roles {missing_files} name files that were not written."
        raise DataError(msg)
    done()


def _network_job(src: Path, dst: Path, buffer: BaseGeometry | bytes, mode: str,
                 check: bool) -> tuple[OsmCut, Any, float, float]:
    """Cut one network and (if ``check``) load it with osmnx; also run in a second process."""
    t0 = time.perf_counter()
    area = shapely.from_wkb(buffer) if isinstance(buffer, bytes) else buffer
    cut = cut_osm_xml(src, dst, area)
    t_cut = time.perf_counter() - t0
    if cut.ways_kept == 0:
        msg = (f"No way of {src} has a node within the councils' buffer: the network file "
               "does not cover these councils.")
        raise DataError(msg)
    if not check:
        return cut, None, t_cut, 0.0
    from placekit.network import load_network

    t0 = time.perf_counter()
    try:
        net = load_network(dst, mode, use_cache=False)
    except PlacekitError:
        raise
    except Exception as exc:
        msg = (f"The cut {mode} network {dst.name} did not load in osmnx "
               f"({type(exc).__name__}: {exc}).")
        raise DataError(msg) from exc
    return cut, net, t_cut, time.perf_counter() - t0


def _manifest(ctx: _Ctx, origins: dict[str, Any], levels: list[dict[str, Any]],
              england: Path | None) -> dict[str, Any]:
    rep = ctx.report
    eng = Path(england) if england is not None else ctx.sources / ".." / "england"
    m: dict[str, Any] = {
        "placekit_pack": _pack.FORMAT_VERSION,
        "name": rep.name,
        "about": (f"Cut by `placekit pack build` for {', '.join(ctx.la_codes)} with a "
                  f"{rep.margin_km:g} km margin. Paths are relative to the pack folder; see "
                  "PROVENANCE.md."),
        "la_codes": ctx.la_codes,
        "la_names": {c: rep.la_names[c] for c in ctx.la_codes},
        "origins": origins,
    }
    if eng.is_dir():
        m["england"] = Path(os.path.relpath(eng.resolve(), rep.out.resolve())).as_posix()
    m["roles"] = ctx.roles
    m["levels"] = levels
    m["built"] = {"by": "placekit pack build", "sources": str(ctx.sources.resolve()),
                  "margin_km": rep.margin_km,
                  "date": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}
    return m


def _provenance(ctx: _Ctx, origins: Mapping[str, Any]) -> str:
    rep = ctx.report
    lic = sorted({f"- {s['licence']}: {s['attribution']}" for s in ctx.roles.values()})
    miss = "".join(f"- `{r}`: nothing matched `{p}`\n" for r, p in rep.missing.items())
    miss += "".join(f"- `{r}`: {why}\n" for r, why in ctx.left_out.items())
    miss += "".join(f"- {what}: unavailable, {why}\n" for what, why in rep.unavailable.items())
    councils = ", ".join(f"{c} ({rep.la_names[c]})" for c in ctx.la_codes)
    return (f"# {rep.name}: place pack provenance\n\n"
            f"Cut by `placekit pack build` on {_dt.date.today().isoformat()} from the sources "
            f"folder `{ctx.sources.resolve()}` for {councils}.\n\n"
            f"- Area tables and boundaries: the rows whose `{LA_COLUMN}` is one of the councils "
            f"({rep.n_lsoa:,} LSOAs, Census 2021 population {rep.population:,}).\n"
            f"- Facilities, roads, buildings and the street network: everything within the "
            f"councils' outline buffered by {rep.margin_km:g} km (EPSG:27700), so access near a "
            "border counts what lies over it; `in_city` is true inside the councils. Street "
            "networks keep every way with a node in the buffer, whole.\n"
            f"- Residential origins: {origins.get('why', origins['method'])}\n\n"
            "| role | pack file | source (in the sources folder) | rows | rule | licence |\n"
            "|---|---|---|---|---|---|\n" + "\n".join(ctx.notes) + "\n\n"
            "## Not in this pack\n\n" + (miss or "- nothing\n") + "\n"
            "## Licences and attribution\n\n" + "\n".join(lic) + "\n\n"
            "The source files' own PROVENANCE describes where each was published.\n")


# ----------------------------------------------------------------------------- CLI
def add_pack_cli(subparsers: Any) -> argparse.ArgumentParser:
    """
    Add ``pack build`` to an argparse subparsers object.

    Parameters
    ----------
    subparsers
        What ``ArgumentParser.add_subparsers()`` returned.

    Returns
    -------
    argparse.ArgumentParser
        The ``pack`` parser.
    """
    p = subparsers.add_parser("pack", help="build place packs for any council")
    sub = p.add_subparsers(dest="pack_command", required=True)
    b = sub.add_parser("build", help="cut a pack for one or several councils from regional sources",
                       description="Cut a place pack from regional or national source files. "
                       "See docs/pack-format.md.")
    b.add_argument("--sources", required=True, type=Path, metavar="DIR",
                   help="folder with boundaries/, census/, lookups/, network/ ...")
    b.add_argument("--la", required=True, metavar="CODE[,CODE...]",
                   help="local authority (LAD) code(s), comma-separated")
    b.add_argument("--out", required=True, type=Path, metavar="DIR",
                   help="the pack folder to write")
    b.add_argument("--margin-km", type=float, default=3.0, metavar="KM",
                   help="keep facilities and streets this far beyond the boundary (default 3)")
    b.add_argument("--force", action="store_true", help="replace an existing pack at --out")
    b.add_argument("--name", metavar="NAME", help="the pack's name (default: the council names)")
    b.add_argument("--england", type=Path, metavar="DIR",
                   help="England-wide tables folder (default <sources>/../england if present)")
    b.set_defaults(func=run_pack_cli)
    return p


def run_pack_cli(args: argparse.Namespace) -> int:
    """
    Run ``placekit pack build``: print progress and the figures.

    Returns
    -------
    int
        0 on success; 2 after printing ``placekit: error: <message>`` on a placekit error.
    """
    def show(msg: str, frac: float) -> None:
        print(f"[{frac:4.0%}] {msg}", file=sys.stderr, flush=True)

    try:
        rep = build_pack(args.sources, [args.la], args.out, margin_km=args.margin_km,
                         force=args.force, england=getattr(args, "england", None),
                         progress=show, name=getattr(args, "name", None))
    except PlacekitError as err:
        print(f"placekit: error: {explain(err, 'cli')}", file=sys.stderr)
        return 2
    print(rep.summary())
    return 0
