"""Assemble a place from a pack: LSOAs, locality levels and the indicator table.

Everything here reads through :class:`placekit.pack.Pack`; no file name, code list
or level is known in advance. Called by :func:`placekit.place.load_place`.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from placekit.catalogue import Catalogue
from placekit.config import WORKING_CRS
from placekit.errors import CRSError, DataError, SchemaError
from placekit.harmonise import lsoa11_to_lsoa21
from placekit.localities import assign_by_area, assign_by_residential_cells
from placekit.pack import Pack, default_layers

__all__ = ["Level", "build_indicators", "build_levels", "load_lsoa", "read_layer"]


@dataclass(frozen=True)
class Level:
    """A locality level: its id, label, areas and how LSOAs were assigned to it."""

    id: str
    label: str
    areas: gpd.GeoDataFrame
    method: str
    note: str = ""


def load_lsoa(pack: Pack) -> gpd.GeoDataFrame:
    """The pack's LSOA 2021 polygons, indexed by code, with ``area_name`` and ``area_km2``."""
    raw = pack.read_vector("lsoa")
    code, name = pack.column("lsoa", "code"), pack.column("lsoa", "name")
    keep = [c for c in raw.columns if c not in (code, name, raw.geometry.name)]
    lsoa = raw.rename(columns={code: "area_code", name: "area_name"})
    lsoa["area_code"] = lsoa["area_code"].astype(str)
    if lsoa["area_code"].duplicated().any():
        dup = lsoa.loc[lsoa["area_code"].duplicated(), "area_code"].tolist()[:5]
        msg = f"The LSOA boundaries of pack {pack.name!r} list codes more than once, e.g. {dup}."
        raise DataError(msg)
    lsoa = lsoa.set_index("area_code").sort_index()
    lsoa["geometry"] = lsoa.geometry.make_valid()
    lsoa["area_km2"] = lsoa.area / 1e6
    extra = lsoa[keep].add_prefix("src_")
    out = gpd.GeoDataFrame(
        lsoa[["area_name", "area_km2"]].join(extra), geometry=lsoa.geometry, crs=lsoa.crs
    )
    if out.empty:
        msg = f"The LSOA boundaries of pack {pack.name!r} are empty."
        raise DataError(msg)
    return out


def _level_file(pack: Pack, rel: str, level: str) -> Any:
    p = pack.path / rel
    if not p.is_file():
        msg = (
            f"Level {level!r} of pack {pack.name!r} names {rel}, which is not in {pack.path}; "
            "fix the manifest's levels or rebuild the pack."
        )
        raise DataError(msg)
    return p


def _read_level_table(pack: Pack, rel: str, level: str, columns: list[str]) -> pd.DataFrame:
    p = _level_file(pack, rel, level)
    df = pd.read_parquet(p) if p.suffix == ".parquet" else pd.read_csv(p, dtype=str)
    missing = [c for c in columns if c not in df.columns]
    if missing:
        msg = (
            f"{p.name} (level {level!r} of pack {pack.name!r}) has no column(s) {missing}. "
            f"Columns present: {sorted(map(str, df.columns))}."
        )
        raise SchemaError(msg)
    return df


def _read_boundaries(pack: Pack, spec: dict[str, Any], level: str) -> gpd.GeoDataFrame:
    p = _level_file(pack, spec["file"], level)
    g = gpd.read_parquet(p) if p.suffix == ".parquet" else gpd.read_file(p)
    if g.crs is None:
        if not spec.get("crs"):
            msg = f'{p.name} (level {level!r}) has no CRS; add "crs" to the level\'s boundaries.'
            raise CRSError(msg)
        g = g.set_crs(spec["crs"])
    g = g.to_crs(WORKING_CRS)
    code, name = spec.get("code"), spec.get("name", spec.get("code"))
    for c in (code, name):
        if c not in g.columns:
            msg = (
                f"{p.name} (level {level!r}) has no column {c!r}. "
                f"Columns present: {sorted(map(str, g.columns))}."
            )
            raise SchemaError(msg)
    g = g.assign(area_code=g[code].astype(str), area_name=g[name].astype(str))
    g = g.dissolve(by="area_code", aggfunc={"area_name": "first"})
    g["geometry"] = g.geometry.make_valid()
    return g[["area_name", "geometry"]].sort_index()


def _assign(
    pack: Pack,
    lsoa: gpd.GeoDataFrame,
    lv: dict[str, Any],
    done: dict[str, pd.Series],
    boundaries: gpd.GeoDataFrame | None,
) -> tuple[pd.Series, pd.Series | None, str]:
    """Code (and name, where the method gives one) of every LSOA at one level."""
    a = lv["assign"]
    method = a["method"]
    level = lv["id"]
    idx = lsoa.index
    if method == "constant":
        return (
            pd.Series(str(a["code"]), index=idx),
            pd.Series(str(a.get("name", a["code"])), index=idx),
            method,
        )
    if method == "name_prefix":
        strip = int(a.get("strip", 1))
        code = lsoa["area_name"].astype(str).str[:-strip].str.strip()
        return code, code, method
    if method == "lsoa_column":
        col = f"src_{a['column']}"
        if col not in lsoa.columns:
            msg = (
                f"Level {level!r} takes column {a['column']!r} of the LSOA boundaries, which "
                f"has no such column."
            )
            raise SchemaError(msg)
        code = lsoa[col].astype(str)
        names = lv.get("names") or a.get("names") or {}
        return code, code.map(lambda c: str(names.get(c, c))), method
    if method == "lookup":
        cols = [
            a["lsoa_column"],
            a["code_column"],
            *([a["name_column"]] if a.get("name_column") else []),
        ]
        t = (
            _read_level_table(pack, a["file"], level, cols)
            .astype(str)
            .drop_duplicates(a["lsoa_column"])
        )
        t = t.set_index(a["lsoa_column"])
        code = t[a["code_column"]].reindex(idx)
        name = t[a["name_column"]].reindex(idx) if a.get("name_column") else None
        return code, name, method
    if method == "parent":
        child = a["of"]
        if child not in done:
            msg = f"Level {level!r} is the parent of {child!r}, which must be listed before it."
            raise DataError(msg)
        t = _read_level_table(pack, a["file"], level, [a["child_column"], a["code_column"]]).astype(
            str
        )
        m = t.drop_duplicates(a["child_column"]).set_index(a["child_column"])[a["code_column"]]
        return done[child].map(m), None, method
    if boundaries is None:
        msg = f'Level {level!r} is assigned by {method!r}, which needs its "boundaries".'
        raise DataError(msg)
    if method == "residential_cells" and pack.has("residential_grid"):
        r = assign_by_residential_cells(lsoa, boundaries, grid_path=pack.file("residential_grid"))
        return r["locality"].astype(str), None, "residential_cells"
    r = assign_by_area(lsoa, boundaries)
    return r["locality"].astype(str), None, "area_overlap"


def build_levels(pack: Pack, lsoa: gpd.GeoDataFrame) -> tuple[gpd.GeoDataFrame, dict[str, Level]]:
    """
    Assign every LSOA to each level of the manifest and build the levels' areas.

    Returns
    -------
    (GeoDataFrame, dict)
        The LSOAs with ``<level>_code`` and ``<level>_name`` columns, and the levels by id.
        A level without boundaries gets the union of its LSOAs.
    """
    lsoa = lsoa.copy()
    done: dict[str, pd.Series] = {}
    levels: dict[str, Level] = {}
    for lv in pack.levels:
        level = lv["id"]
        bnd = _read_boundaries(pack, lv["boundaries"], level) if lv.get("boundaries") else None
        code, name, method = _assign(pack, lsoa, lv, done, bnd)
        if code.isna().any() or code.eq("nan").any():
            bad = lsoa.index[code.isna() | code.eq("nan")].tolist()
            msg = (
                f"{len(bad)} LSOA(s) of pack {pack.name!r} have no {lv['label']} "
                f"(level {level!r}), "
                f"e.g. {bad[:5]}; the level's lookup does not cover them."
            )
            raise DataError(msg)
        code = code.astype(str)
        done[level] = code
        lsoa[f"{level}_code"] = code
        if bnd is not None:
            areas = bnd.loc[bnd.index.isin(code.unique())]
            missing = sorted(set(code) - set(areas.index))
            if missing:
                msg = (
                    f"Level {level!r}: LSOAs are assigned to {missing[:5]}, which the level's "
                    "boundaries do not have."
                )
                raise DataError(msg)
        else:
            names = name if name is not None else code
            frame = gpd.GeoDataFrame(
                {"area_code": code.to_numpy(), "area_name": names.astype(str).to_numpy()},
                geometry=lsoa.geometry.to_numpy(),
                crs=lsoa.crs,
            )
            areas = frame.dissolve(by="area_code", aggfunc={"area_name": "first"})[
                ["area_name", "geometry"]
            ]
        lsoa[f"{level}_name"] = code.map(areas["area_name"])
        levels[level] = Level(
            level, lv["label"], areas.sort_index(), method, str(lv.get("note", ""))
        )
    return lsoa, levels


# ----------------------------------------------------------------------------- layers


def read_layer(pack: Pack, name: str) -> gpd.GeoDataFrame:
    """
    One place layer (see ``placekit/data/layers.json``) in EPSG:27700.

    The result has ``name`` (and ``id`` where the source has one) and carries
    ``attrs["attribution"]``, ``attrs["label"]`` and ``attrs["theme"]``.

    Raises
    ------
    DataError
        If the layer is unknown or its role is not in the pack.
    """
    specs = default_layers()
    if name not in specs:
        msg = f"Unknown layer {name!r}; layers are {sorted(specs)}."
        raise DataError(msg)
    spec = specs[name]
    gdf = pack.read_vector(spec.role)
    keep = pd.Series(True, index=gdf.index)
    for key, allowed in spec.where.items():
        col = pack.column(spec.role, key)
        if col not in gdf.columns:
            msg = (
                f"Layer {name!r} filters on column {col!r}, which the {spec.role!r} file of pack "
                f"{pack.name!r} does not have. Columns present: {sorted(map(str, gdf.columns))}."
            )
            raise SchemaError(msg)
        keep &= gdf[col].astype(str).isin(allowed)
    gdf = gdf.loc[keep]
    name_col = pack.column(spec.role, spec.name_column)
    out = gpd.GeoDataFrame(
        {"name": gdf[name_col].astype(str) if name_col in gdf else spec.label},
        geometry=gdf.geometry,
        crs=gdf.crs,
    )
    if spec.id_column and spec.id_column in gdf.columns:
        out["id"] = gdf[spec.id_column].astype(str)
    out = out[out.geometry.notna() & ~out.geometry.is_empty].reset_index(drop=True)
    out.attrs.update(attribution=pack.attribution(spec.role), label=spec.label, theme=spec.theme)
    return out


def layer_available(pack: Pack, name: str) -> bool:
    """Whether the pack has the role a layer comes from."""
    spec = default_layers().get(name)
    return spec is not None and pack.has(spec.role)


# ----------------------------------------------------------------------------- indicators


def _keyed(pack: Pack, role: str, idx: pd.Index) -> pd.DataFrame:
    t = pack.read_table(role)
    key = pack.column(role, "code")
    t[key] = t[key].astype(str)
    return t.drop_duplicates(key).set_index(key).reindex(idx)


def _incomplete(pack: Pack, role: str, table: pd.DataFrame) -> str | None:
    """Why a table role cannot be used as it is: LSOAs with no row (a cut or truncated file)."""
    absent = table.index[table.isna().all(axis=1)]
    if len(absent) == 0:
        return None
    return (f"{pack.file(role).name} has no row for {len(absent)} of the {len(table)} LSOAs "
            f"(e.g. {list(absent[:3])}); is the file complete?")


def _census(
    catalogue: Catalogue, census: pd.DataFrame, unavailable: dict[str, str]
) -> tuple[dict[str, pd.Series], pd.DataFrame]:
    values: dict[str, pd.Series] = {}
    denominators: dict[str, pd.Series] = {}
    for i, meta in catalogue.table.iterrows():
        src, _, expr = str(meta["derivation"]).partition(":")
        if src != "census":
            continue
        num, _, den = expr.partition("/")
        cols = [*num.split("+"), *([den] if den else [])]
        absent = [c for c in cols if c not in census.columns]
        if absent:
            unavailable[str(i)] = f"the pack's Census table has no {absent}"
            continue
        n = census[num.split("+")].astype(float).sum(axis=1, min_count=1)
        if den:
            d = census[den].astype(float)
            values[str(i)] = 100.0 * n / d.where(d > 0)
            denominators[den] = d
        else:
            values[str(i)] = n
    return values, pd.DataFrame(denominators)


def _point_counts(lsoa: gpd.GeoDataFrame, pts: gpd.GeoDataFrame) -> pd.Series:
    pts = pts[pts.geometry.notna()]
    if not (pts.geom_type == "Point").all():
        pts = pts.set_geometry(pts.geometry.representative_point())
    j = gpd.sjoin(pts[["geometry"]], lsoa[["geometry"]], how="inner", predicate="within")
    return j.groupby("area_code").size().reindex(lsoa.index, fill_value=0).astype(float)


def _area_share(lsoa: gpd.GeoDataFrame, polys: gpd.GeoDataFrame) -> pd.Series:
    if polys.empty:
        return pd.Series(0.0, index=lsoa.index)
    union = polys.geometry.make_valid().union_all()
    return 100.0 * lsoa.geometry.intersection(union).area / lsoa.area


def _brownfield(pack: Pack, lsoa: gpd.GeoDataFrame) -> pd.Series:
    msoa = pack.read_vector("msoa11")
    msoa = msoa.set_index(msoa[pack.column("msoa11", "code")].astype(str))
    ha = pack.read_table("brownfield")
    ha = ha.set_index(ha[pack.column("brownfield", "code")].astype(str))[
        pack.column("brownfield", "value")
    ]
    msoa["ha"] = msoa.index.map(ha.astype(float)).fillna(0.0)
    msoa["m2"] = msoa.area
    inter = gpd.overlay(
        lsoa[["geometry"]].reset_index(),
        msoa[["ha", "m2", "geometry"]].reset_index(drop=True),
        how="intersection",
        keep_geom_type=True,
    )
    inter["ha_part"] = inter["ha"] * inter.area / inter["m2"]
    total = inter.groupby("area_code")["ha_part"].sum().reindex(lsoa.index, fill_value=0.0)
    return total / lsoa["area_km2"]


@dataclass
class IndicatorBuild:
    """What :func:`build_indicators` returns."""

    indicators: pd.DataFrame
    weights: pd.DataFrame
    lookup11: pd.DataFrame | None
    population11: pd.Series | None
    unavailable: dict[str, str]


#: Catalogue derivation sources that are plain columns of a pack table role.
_TABLE_SOURCES = ("imd2025", "imd2025_ind", "imd2025_sub", "fuel")
_POINT_SOURCES = ("points_count", "points_per_1000", "points_per_km2", "area_share")


def build_indicators(pack: Pack, lsoa: gpd.GeoDataFrame, catalogue: Catalogue) -> IndicatorBuild:
    """
    Compute every catalogue indicator the pack can support, per LSOA.

    An indicator whose role, column or layer the pack lacks is left out and
    listed in ``unavailable`` with the reason; access indicators are computed
    on demand (:mod:`placekit.accessibility`).
    """
    idx = lsoa.index
    unavailable: dict[str, str] = {}
    census = _keyed(pack, "census", idx)
    values, dens = _census(catalogue, census, unavailable)
    pop_col = "ts0010001"
    if pop_col not in census.columns:
        msg = (
            f"The Census table of pack {pack.name!r} has no {pop_col} (usual residents); "
            "population is needed for every weighted figure."
        )
        raise SchemaError(msg)
    population = census[pop_col].astype(float)
    if population.isna().any():
        bad = idx[population.isna()].tolist()
        msg = (
            f"The Census table of pack {pack.name!r} has no row for {len(bad)} LSOA(s), "
            f"e.g. {bad[:5]}."
        )
        raise DataError(msg)
    tables: dict[str, pd.DataFrame] = {}
    broken: dict[str, str] = {}
    for role in _TABLE_SOURCES:
        if pack.has(role):
            t = _keyed(pack, role, idx)
            why = _incomplete(pack, role, t)
            if why is None:
                tables[role] = t
            else:  # never averaged over the rows that happen to be there
                broken[role] = why
                warnings.warn(f"Pack {pack.name!r}: {why} Its indicators are unavailable.",
                              UserWarning, stacklevel=3)
    lookup11: pd.DataFrame | None = None
    population11: pd.Series | None = None
    if pack.has("lookup11"):
        lk = pack.read_table("lookup11")
        lookup11 = pd.DataFrame(
            {
                "LSOA11CD": lk[pack.column("lookup11", "lsoa11")].astype(str),
                "LSOA21CD": lk[pack.column("lookup11", "lsoa21")].astype(str),
                "CHGIND": lk[pack.column("lookup11", "change")].astype(str),
            }
        )
        lookup11 = lookup11[lookup11["LSOA21CD"].isin(idx)].reset_index(drop=True)
    if pack.has("iod2019") and lookup11 is not None:
        iod19 = pack.read_table("iod2019")
        iod19 = iod19.set_index(iod19[pack.column("iod2019", "code")].astype(str))
        iod19 = iod19[iod19.index.isin(lookup11["LSOA11CD"])]
        population11 = iod19[pack.column("iod2019", "population")].astype(float)
        numeric = iod19.select_dtypes("number").astype(float)
        tables["iod2019"] = lsoa11_to_lsoa21(
            numeric, lookup11, weight11=population11, population21=population
        ).reindex(idx)
    if pack.has("age6"):
        age = pack.read_table("age6")
        age = age.pivot_table(
            index=age[pack.column("age6", "code")].astype(str),
            columns=pack.column("age6", "group"),
            values=pack.column("age6", "value"),
            aggfunc="sum",
        ).reindex(idx)
        tables["age6"] = 100.0 * age.div(age.sum(axis=1), axis=0)
    point_cache: dict[str, gpd.GeoDataFrame] = {}

    def layer(name: str) -> gpd.GeoDataFrame:
        if name not in point_cache:
            point_cache[name] = read_layer(pack, name)
        return point_cache[name]

    for i, meta in catalogue.table.iterrows():
        i = str(i)
        src, _, arg = str(meta["derivation"]).partition(":")
        if src in ("census", "access", "access_within"):
            continue
        if src in tables:
            if arg not in tables[src].columns:
                unavailable[i] = f"the pack's {src} table has no column {arg!r}"
                continue
            values[i] = pd.to_numeric(tables[src][arg], errors="coerce").astype(float)
        elif src in _POINT_SOURCES:
            if not layer_available(pack, arg):
                unavailable[i] = f"the pack has no {arg.replace('_', ' ')} layer"
                continue
            if src == "area_share":
                values[i] = _area_share(lsoa, layer(arg))
                continue
            counts = _point_counts(lsoa, layer(arg))
            values[i] = {
                "points_count": counts,
                "points_per_1000": 1000.0 * counts / population,
                "points_per_km2": counts / lsoa["area_km2"],
            }[src]
        elif src in broken:
            unavailable[i] = broken[src]
        elif src == "brownfield":
            if pack.has("brownfield") and pack.has("msoa11"):
                values[i] = _brownfield(pack, lsoa)
            else:
                unavailable[i] = "the pack has no brownfield register or MSOA 2011 boundaries"
        else:
            unavailable[i] = f"the pack has no {src} table"
    indicators = pd.DataFrame({i: values[i] for i in catalogue.ids if i in values}, index=idx)
    weights = dens.copy()
    weights["population"] = population
    weights["households"] = census["ts0110001"].astype(float) if "ts0110001" in census else np.nan
    weights["area_km2"] = lsoa["area_km2"]
    return IndicatorBuild(indicators, weights, lookup11, population11, unavailable)
