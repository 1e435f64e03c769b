"""A place pack: a folder of open data files and the manifest that says what they are.

A pack is data, not code. Its manifest (``placekit-pack.json`` at the top of the
folder) names, for each *role* (LSOA boundaries, Census tables, deprivation,
facilities by type, street network by mode, residential origins, locality
levels, place layers), the file that plays it, its key columns, its CRS, its
licence and attribution. Nothing else in placekit knows a file name: analyses
ask the :class:`Pack` for a role, and a role the pack lacks makes the features
that need it unavailable while the rest works.

A folder without a manifest is matched against the manifests shipped with
placekit (``placekit/data/packs/*.json``, e.g. the Sheffield pack of
``../shared/data``), each of which lists the files that identify it
(``detect``). ``placekit pack build`` writes a manifest for every pack it cuts
(:mod:`placekit.packbuild`). The format is described in ``docs/pack-format.md``.

Every vector read is projected once to :data:`placekit.config.WORKING_CRS`.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd

from placekit.config import WORKING_CRS
from placekit.errors import CRSError, DataError, SchemaError

__all__ = [
    "ATTRIBUTION_NHS",
    "ATTRIBUTION_OGL",
    "ATTRIBUTION_OS",
    "ATTRIBUTION_OSM",
    "FORMAT_VERSION",
    "MANIFEST_NAME",
    "ORIGIN_WORDS",
    "ROLES",
    "LayerSpec",
    "Pack",
    "default_layers",
    "find_packs",
    "open_pack",
    "shipped_manifests",
]

ATTRIBUTION_OGL = (
    "Contains public sector information licensed under the Open Government Licence v3.0"
)
ATTRIBUTION_OS = "Contains OS data © Crown copyright and database right"
ATTRIBUTION_OSM = "© OpenStreetMap contributors (ODbL)"
ATTRIBUTION_NHS = "NHS England ODS; " + ATTRIBUTION_OGL

#: The manifest's file name at the top of a pack.
MANIFEST_NAME = "placekit-pack.json"
#: The manifest format this placekit reads and writes.
FORMAT_VERSION = 1

#: Every role a manifest may name:
#: ``{role: (kind, column keys the manifest must map, what it is)}``.
#: Other column keys (``name``, ``highway``, ``postcode``, ``lat``, ``lon`` ...) default to a column
#: of the same name.
#: ``kind`` is ``vector`` (GeoParquet/GeoJSON/GeoPackage), ``table`` (CSV/Parquet),
#: ``raster`` (GeoTIFF) or ``osm`` (OSM XML, readable by ``osmnx.graph_from_xml``).
ROLES: dict[str, tuple[str, tuple[str, ...], str]] = {
    "lsoa": ("vector", ("code", "name"), "LSOA 2021 boundaries"),
    "census": ("table", ("code",), "Census 2021 tables summed to LSOA 2021 (ts* columns)"),
    "age6": ("table", ("code", "group", "value"), "Census 2021 usual residents by six age groups"),
    "imd2025": ("table", ("code",), "IoD 2025 scores, ranks and deciles by LSOA 2021"),
    "imd2025_ind": ("table", ("code",), "IoD 2025 underlying indicators by LSOA 2021"),
    "imd2025_sub": ("table", ("code",), "IoD 2025 sub-domains by LSOA 2021"),
    "fuel": ("table", ("code",), "Fuel poverty 2021 by LSOA 2021"),
    "iod2019": ("table", ("code", "population"), "IoD 2019 by LSOA 2011 with mid-2015 population"),
    "lookup11": ("table", ("lsoa11", "lsoa21", "change"), "ONS LSOA 2011 -> 2021 lookup"),
    "census2011_deprivation": (
        "table",
        ("code", "group", "value"),
        "Census 2011 households by number of deprivation dimensions (QS119, 0 to 4), long, "
        "by LSOA 2011",
    ),
    "census2011_population": (
        "table",
        ("code", "value"),
        "Census 2011 usual residents by LSOA 2011",
    ),
    "msoa11": ("vector", ("code",), "MSOA 2011 boundaries (for MSOA-published data)"),
    "brownfield": ("table", ("code", "value"), "Brownfield land, hectares by MSOA 2011"),
    "network_walk": ("osm", (), "OSM street network for walking"),
    "network_drive": ("osm", (), "OSM street network for driving"),
    "roads": ("vector", (), "OSM highways, for the base map"),
    "boundary": ("vector", (), "Outline of the pack's area, for the base map"),
    "postcodes": ("table", (), "Postcode centroids (lon/lat)"),
    "residential_grid": ("raster", (), "Residential dwelling-presence grid (1 = homes)"),
    "centroids": ("vector", ("code",), "ONS LSOA 2021 population-weighted centroids"),
    "buildings": ("vector", (), "Building footprints"),
    "gp": ("vector", (), "GP practices (NHS ODS epraccur)"),
    "pharmacy": ("vector", (), "Pharmacies (NHS ODS edispensary)"),
    "dentist": ("vector", (), "Dental practices (NHS ODS egdpprac)"),
    "pois": ("vector", (), "OSM points of interest"),
    "greenspace": ("vector", (), "OSM green space polygons"),
    "stops": ("vector", (), "NaPTAN stops"),
    "rail_tram": ("vector", (), "OSM rail and tram lines"),
    "schools": ("vector", (), "Secondary schools"),
    "warm_spaces": ("vector", (), "Warm spaces and community support"),
    "conservation_areas": ("vector", (), "Conservation areas"),
}
_KINDS = ("vector", "table", "raster", "osm")
_ORIGIN_METHODS = ("residential_grid", "postcodes", "buildings", "centroids")
#: Where people are taken to live, for access measures, by origins method, in words.
ORIGIN_WORDS = {
    "residential_grid": "homes on the council's residential address grid",
    "postcodes": "live postcode centroids",
    "buildings": "building footprints",
    "centroids": "population-weighted centroids",
}
_ASSIGN_METHODS = (
    "lookup",
    "residential_cells",
    "parent",
    "lsoa_column",
    "constant",
    "name_prefix",
    "overlay",
)


@dataclass(frozen=True)
class LayerSpec:
    """
    How one place layer is taken from a role of the pack.

    Attributes
    ----------
    name
        Layer id, e.g. ``"gp"``.
    label, theme
        What the app shows and the theme it is grouped under.
    role
        The pack role holding the features.
    where
        ``{column key or column: [allowed values]}``, all of which must hold
        (values compared as text).
    name_column
        Column key (of the role's ``columns``) or column giving each feature's name.
    id_column
        Column key or column giving a stable feature id, if any.
    """

    name: str
    label: str
    theme: str
    role: str
    where: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    name_column: str = "name"
    id_column: str | None = None


def _package_file(*parts: str) -> Any:
    return resources.files("placekit.data").joinpath(*parts)


@functools.cache
def default_layers() -> dict[str, LayerSpec]:
    """The place layers placekit knows (``placekit/data/layers.json``), by name."""
    raw = json.loads(_package_file("layers.json").read_text(encoding="utf-8"))
    out = {}
    for name, d in raw["layers"].items():
        out[name] = LayerSpec(
            name=name,
            label=d["label"],
            theme=d["theme"],
            role=d["role"],
            where={k: tuple(map(str, v)) for k, v in d.get("where", {}).items()},
            name_column=d.get("name_column", "name"),
            id_column=d.get("id_column"),
        )
    return out


@functools.cache
def shipped_manifests() -> tuple[dict[str, Any], ...]:
    """Manifests shipped with placekit for packs that carry none of their own."""
    folder = _package_file("packs")
    out = []
    for f in sorted(folder.iterdir(), key=lambda p: p.name):
        if f.name.endswith(".json"):
            out.append(json.loads(f.read_text(encoding="utf-8")))
    return tuple(out)


def _fail(where: str, msg: str) -> DataError:
    return DataError(f"{where}: {msg}")


def validate_manifest(m: object, *, where: str) -> dict[str, Any]:
    """
    Check a manifest's structure and return it.

    Parameters
    ----------
    m
        The parsed JSON.
    where
        Where it came from, for messages.

    Raises
    ------
    DataError
        Naming the field that is wrong and what it should be.
    """
    if not isinstance(m, dict):
        raise _fail(where, "the manifest must be a JSON object.")
    if m.get("placekit_pack") != FORMAT_VERSION:
        raise _fail(
            where, f'"placekit_pack" must be {FORMAT_VERSION}; got {m.get("placekit_pack")!r}.'
        )
    if not isinstance(m.get("name"), str) or not m["name"].strip():
        raise _fail(where, '"name" must be a non-empty text.')
    las = m.get("la_codes")
    if not isinstance(las, list) or not las or not all(isinstance(c, str) for c in las):
        raise _fail(where, '"la_codes" must be a non-empty list of local authority codes.')
    roles = m.get("roles")
    if not isinstance(roles, dict):
        raise _fail(where, '"roles" must be an object {role: {"file": ...}}.')
    for role, spec in roles.items():
        if role not in ROLES:
            raise _fail(where, f"unknown role {role!r}; roles are {sorted(ROLES)}.")
        if not isinstance(spec, dict) or not isinstance(spec.get("file"), str):
            raise _fail(where, f'role {role!r} needs "file" (a path inside the pack).')
        cols = spec.get("columns", {})
        if not isinstance(cols, dict) or not all(isinstance(v, str) for v in cols.values()):
            raise _fail(where, f'role {role!r}: "columns" must map keys to column names.')
        missing = [k for k in ROLES[role][1] if k not in cols]
        if missing:
            raise _fail(where, f'role {role!r} must name its column(s) {missing} under "columns".')
    if "lsoa" not in roles or "census" not in roles:
        raise _fail(where, 'every pack needs the roles "lsoa" and "census".')
    levels = m.get("levels", [])
    if not isinstance(levels, list):
        raise _fail(where, '"levels" must be a list.')
    seen = {"lsoa"}
    for lv in levels:
        if (
            not isinstance(lv, dict)
            or not isinstance(lv.get("id"), str)
            or not isinstance(lv.get("label"), str)
        ):
            raise _fail(where, 'each level needs "id" and "label".')
        if lv["id"] in seen:
            raise _fail(where, f"level {lv['id']!r} is listed twice.")
        seen.add(lv["id"])
        a = lv.get("assign")
        if not isinstance(a, dict) or a.get("method") not in _ASSIGN_METHODS:
            raise _fail(
                where, f"level {lv['id']!r}: assign.method must be one of {list(_ASSIGN_METHODS)}."
            )
    o = m.get("origins", {"method": "centroids"})
    if not isinstance(o, dict) or o.get("method") not in _ORIGIN_METHODS:
        raise _fail(where, f"origins.method must be one of {list(_ORIGIN_METHODS)}.")
    return m


@dataclass(frozen=True)
class Pack:
    """
    An opened pack: its folder and validated manifest.

    Attributes
    ----------
    path
        The pack folder.
    manifest
        The manifest (see ``docs/pack-format.md``).
    """

    path: Path
    manifest: dict[str, Any] = field(hash=False, compare=False)

    # -- identity -----------------------------------------------------------------------
    @property
    def name(self) -> str:
        """The pack's display name, e.g. ``"Sheffield"``."""
        return str(self.manifest["name"])

    @property
    def la_codes(self) -> list[str]:
        """The local authorities whose areas the pack reports."""
        return list(self.manifest["la_codes"])

    @property
    def levels(self) -> list[dict[str, Any]]:
        """The locality levels above LSOA, as listed in the manifest."""
        return list(self.manifest.get("levels", []))

    @property
    def origins(self) -> dict[str, Any]:
        """How residential origins are made: ``{"method": ..., "why": ...}``."""
        return dict(self.manifest.get("origins", {"method": "centroids"}))

    @property
    def locality_level(self) -> str | None:
        """The level the council plans localities by (e.g. LACs), if the manifest says."""
        v = self.manifest.get("locality_level")
        return str(v) if v else None

    # -- roles --------------------------------------------------------------------------
    def has(self, role: str) -> bool:
        """Whether the pack names ``role`` and its file is there."""
        spec = self.manifest["roles"].get(role)
        return spec is not None and (self.path / spec["file"]).exists()

    def spec(self, role: str) -> dict[str, Any]:
        """The manifest entry of ``role``."""
        if role not in ROLES:
            msg = f"Unknown role {role!r}; roles are {sorted(ROLES)}."
            raise DataError(msg)
        spec = self.manifest["roles"].get(role)
        if spec is None:
            msg = (
                f"The pack {self.name!r} at {self.path} has no {ROLES[role][2]} "
                f"(role {role!r}), so what needs it is unavailable. Add it to {MANIFEST_NAME} "
                "or rebuild the pack with `placekit pack build`."
            )
            raise DataError(msg)
        return dict(spec)

    def file(self, role: str) -> Path:
        """The file playing ``role``; raises naming the role and the expected file."""
        spec = self.spec(role)
        p = self.path / spec["file"]
        if not p.exists():
            msg = (
                f"The pack {self.name!r} names {spec['file']} as its {ROLES[role][2]} "
                f"(role {role!r}), but there is no such file in {self.path}."
            )
            raise DataError(msg)
        return p

    def column(self, role: str, key: str, default: str | None = None) -> str:
        """The real column name behind a column key of ``role`` (``default`` or the key itself)."""
        return str(self.spec(role).get("columns", {}).get(key, default or key))

    def attribution(self, role: str) -> str:
        """The attribution text of ``role`` (empty if none is given)."""
        return str(self.manifest["roles"].get(role, {}).get("attribution", ""))

    @property
    def attributions(self) -> list[str]:
        """Every attribution line of the pack, once each, in manifest order."""
        lines = [str(s.get("attribution", "")) for s in self.manifest["roles"].values()]
        lines += [str(x) for x in self.manifest.get("attribution", [])]
        out: list[str] = []
        for line in lines:
            for part in (p.strip() for p in line.split(";")):
                if part and part not in out:
                    out.append(part)
        return out

    def read_vector(self, role: str) -> gpd.GeoDataFrame:
        """
        Read a vector role, projected to EPSG:27700 (a fresh copy each call).

        Raises
        ------
        DataError
            If the role is missing or its file cannot be read.
        CRSError
            If the file has no CRS and the manifest gives none.
        SchemaError
            If a column the manifest names is not in the file.
        """
        p = self.file(role)
        spec = self.spec(role)
        st = p.stat()
        gdf = _read_vector_cached(str(p), st.st_size, st.st_mtime_ns, spec.get("crs")).copy()
        self._check_columns(role, gdf.columns)
        return gdf

    def read_table(self, role: str) -> pd.DataFrame:
        """Read a table role (CSV or Parquet), a fresh copy each call."""
        p = self.file(role)
        st = p.stat()
        df = _read_table_cached(str(p), st.st_size, st.st_mtime_ns).copy()
        self._check_columns(role, df.columns)
        return df

    def _check_columns(self, role: str, present: Iterable[object]) -> None:
        cols = self.spec(role).get("columns", {})
        have = {str(c) for c in present}
        missing = sorted({v for v in cols.values() if v not in have})
        if missing:
            msg = (
                f"{self.file(role).name} (role {role!r} of pack {self.name!r}) has no column(s) "
                f"{missing} that the manifest names. Columns present: {sorted(have)}."
            )
            raise SchemaError(msg)

    def england_dir(self) -> Path | None:
        """The England-wide tables for benchmarks (``PLACEKIT_ENGLAND`` overrides), if present."""
        env = os.environ.get("PLACEKIT_ENGLAND")
        rel = env or self.manifest.get("england")
        if not rel:
            return None
        p = (self.path / rel).resolve() if not Path(rel).is_absolute() else Path(rel)
        return p if p.is_dir() else None


def _read_any(p: Path) -> gpd.GeoDataFrame:
    if p.suffix == ".parquet":
        return gpd.read_parquet(p)
    return gpd.read_file(p)


@functools.lru_cache(maxsize=64)
def _read_vector_cached(path: str, size: int, mtime_ns: int, crs: str | None) -> gpd.GeoDataFrame:
    """Read and project once per file version (size and mtime are part of the key)."""
    p = Path(path)
    try:
        gdf = _read_any(p)
    except Exception as exc:
        msg = f"Could not read {p} as a vector layer ({type(exc).__name__}: {exc}). Is it complete?"
        raise DataError(msg) from exc
    if gdf.crs is None:
        if crs is None:
            msg = (
                f'{p.name} has no CRS and the manifest gives none; add "crs": "EPSG:4326" '
                "(or the file's real CRS) to its role."
            )
            raise CRSError(msg)
        gdf = gdf.set_crs(crs)
    return gdf.to_crs(WORKING_CRS)


@functools.lru_cache(maxsize=64)
def _read_table_cached(path: str, size: int, mtime_ns: int) -> pd.DataFrame:
    p = Path(path)
    try:
        if p.suffix == ".parquet":
            return pd.read_parquet(p)
        return pd.read_csv(p, low_memory=False)
    except Exception as exc:
        msg = f"Could not read {p} as a table ({type(exc).__name__}: {exc}). Is it complete?"
        raise DataError(msg) from exc


def open_pack(path: str | os.PathLike[str]) -> Pack:
    """
    Open a pack folder: its own manifest, else a shipped manifest that matches it.

    Parameters
    ----------
    path
        The pack folder.

    Returns
    -------
    Pack

    Raises
    ------
    DataError
        If the folder is missing, its manifest is malformed, or it is not a pack.
    """
    folder = Path(path).expanduser().resolve()
    if not folder.is_dir():
        msg = (
            f"No place pack at {folder}. Set PLACEKIT_DATA or pass --data DIR to point at a pack, "
            "or build one with `placekit pack build`."
        )
        raise DataError(msg)
    own = folder / MANIFEST_NAME
    if own.is_file():
        try:
            raw = json.loads(own.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            msg = (
                f"{own} is not valid JSON ({exc}). "
                "Rebuild the pack with `placekit pack build --force`."
            )
            raise DataError(msg) from exc
        return Pack(folder, validate_manifest(raw, where=str(own)))
    for m in shipped_manifests():
        detect = m.get("detect", [])
        if detect and all((folder / f).exists() for f in detect):
            return Pack(folder, validate_manifest(m, where=f"shipped manifest {m['name']!r}"))
    msg = (
        f"{folder} is not a place pack: it has no {MANIFEST_NAME} and matches none of the packs "
        "placekit knows. Build one with `placekit pack build --sources DIR --la CODE --out DIR`."
    )
    raise DataError(msg)


def find_packs(roots: Iterable[str | os.PathLike[str]]) -> dict[str, Path]:
    """
    Packs found in ``roots``: each root is a pack, or a folder whose sub-folders are packs.

    Returns
    -------
    dict
        ``{pack name: folder}``; a name found twice keeps the first folder.
    """
    out: dict[str, Path] = {}
    for r in roots:
        root = Path(r).expanduser()
        if not root.is_dir():
            continue
        candidates = [root, *sorted(p for p in root.iterdir() if p.is_dir())]
        for c in candidates:
            try:
                pk = open_pack(c)
            except DataError:
                continue
            out.setdefault(pk.name, pk.path)
    return out
