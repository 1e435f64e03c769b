"""A whole city's place data as one validated model: :class:`Place`.

``load_place()`` reads the pack in place and returns the 2021 LSOAs, the three
locality levels, every LSOA's assignment to them, the indicator table and the
place layers, all in EPSG:27700.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from placekit import pack
from placekit.catalogue import Catalogue, load_catalogue
from placekit.config import data_dir
from placekit.errors import DataError
from placekit.harmonise import lsoa11_to_lsoa21
from placekit.localities import RESIDENTIAL_GRID, assign_by_residential_cells

__all__ = ["LEVELS", "Place", "aggregate", "city_value", "load_place"]

#: Locality levels, from finest to coarsest. ``lsoa`` is the base unit.
LEVELS = ("lsoa", "neighbourhood", "ward", "lac")
LEVEL_LABELS = {
    "lsoa": "Neighbourhood (LSOA 2021)",
    "neighbourhood": "SCC neighbourhood (100)",
    "ward": "Ward (28)",
    "lac": "Local Area Committee / ASC locality (7)",
}
LA_CODE = "E08000019"
CENSUS_LSOA = "census/census2021_sheffield_lsoa21_selected_tables_sum_of_oa.parquet"


@dataclass
class Place:
    """
    A city's neighbourhoods, localities, indicators and layers.

    Attributes
    ----------
    data_dir
        The pack the place was read from.
    lsoa
        The LSOA 2021 polygons, indexed by code (``area_code``), with
        ``area_name``, ``area_km2`` and the codes and names of the ward, LAC and
        neighbourhood each is assigned to, plus ``assign_share`` (the fraction of
        its residential cells inside its ward).
    localities
        ``{"ward" | "lac" | "neighbourhood": GeoDataFrame}``, indexed by code,
        with ``area_name``.
    indicators
        One column per indicator id, indexed like ``lsoa``.
    weights
        Aggregation weights per LSOA: population, households, area_km2 and the
        Census denominators named in the catalogue.
    catalogue
        The indicator catalogue, including indicators added by the user.
    lookup11
        The ONS LSOA 2011 -> 2021 lookup for the city.
    population11
        Population of each LSOA 2011 (IoD 2019 denominators, mid-2015), used to
        weight merges when 2011-coded data are converted.
    suppress
        Disclosure control: ``{indicator id: id of the uploaded count it is
        built from}``. Counts from 1 to ``min_count - 1`` are suppressed.
    min_count
        The smallest count that may be shown (5 by default, so 1 to 4 are hidden).
    """

    data_dir: Path
    lsoa: gpd.GeoDataFrame
    localities: dict[str, gpd.GeoDataFrame]
    indicators: pd.DataFrame
    weights: pd.DataFrame
    catalogue: Catalogue
    lookup11: pd.DataFrame
    population11: pd.Series | None = None
    suppress: dict[str, str] = field(default_factory=dict)
    min_count: int = 5
    layers: dict[str, gpd.GeoDataFrame] = field(default_factory=dict)
    la_code: str = LA_CODE
    timings_s: dict[str, float] = field(default_factory=dict)

    @property
    def attributions(self) -> list[str]:
        """Attribution lines every output built from this place must carry."""
        lines = [pack.ATTRIBUTION_OGL, pack.ATTRIBUTION_OS, pack.ATTRIBUTION_OSM]
        lines += [g.attrs.get("attribution", "") for g in self.layers.values()]
        return list(dict.fromkeys(x for x in lines if x))

    def layer(self, name: str) -> gpd.GeoDataFrame:
        """A place layer by name (see :data:`placekit.pack.LAYERS`), read once and kept."""
        if name not in self.layers:
            self.layers[name] = pack.read_layer(self.data_dir, name)
        return self.layers[name]

    def codes(self, level: str) -> pd.Series:
        """The locality code of every LSOA at ``level`` (``lsoa`` gives the LSOA code)."""
        _check_level(level)
        if level == "lsoa":
            return pd.Series(self.lsoa.index, index=self.lsoa.index, name="lsoa")
        return self.lsoa[f"{level}_code"].rename(level)

    def areas(self, level: str) -> gpd.GeoDataFrame:
        """Polygons of ``level`` indexed by code with ``area_name``."""
        _check_level(level)
        if level == "lsoa":
            return self.lsoa[["area_name", "geometry"]]
        return self.localities[level][["area_name", "geometry"]]

    def table(self, level: str = "lsoa", indicators: list[str] | None = None) -> gpd.GeoDataFrame:
        """
        One row per area of ``level`` with ``area_name``, ``population`` and indicators.

        Aggregation follows the catalogue: counts summed, rates and scores
        weighted by their denominators, ranks and deciles as population-weighted
        means (labelled in ``attrs["notes"]``). Uploaded counts are disclosure
        controlled (see :mod:`placekit.disclosure`).

        Raises
        ------
        DataError
            If an indicator id or the level is unknown.
        """
        ids = list(indicators) if indicators is not None else list(self.indicators.columns)
        for i in ids:
            self.catalogue.row(i)
            if i not in self.indicators.columns:
                msg = (
                    f"Indicator {i!r} is in the catalogue but not computed for this place; "
                    "access indicators need placekit.accessibility.add_access_indicators(place)."
                )
                raise DataError(msg)
        cols = ["population", *[i for i in ids if i != "population"]]
        values = aggregate(self, cols, level)
        areas = self.areas(level)
        out = gpd.GeoDataFrame(areas.join(values), geometry="geometry", crs=areas.crs)
        out.index.name = "area_code"
        out.attrs.update(values.attrs)
        return out

    def with_indicators(self, values: pd.DataFrame, metas: dict[str, dict[str, str]], *,
                        suppress: dict[str, str] | None = None,
                        layers: dict[str, gpd.GeoDataFrame] | None = None) -> Place:
        """
        Return a copy of the place with more indicators; the original is unchanged.

        Parameters
        ----------
        values
            New indicator columns, indexed by LSOA 2021 code.
        metas
            Catalogue metadata for each new column.
        suppress
            ``{id: base count id}`` for columns under disclosure control.
        layers
            Extra layers to add.
        """
        ind = self.indicators.drop(columns=list(values.columns), errors="ignore")
        ind = ind.join(values.reindex(ind.index))
        cat = self.catalogue
        for i, meta in metas.items():
            cat = cat.with_indicator(i, **meta)
        supp = {k: v for k, v in self.suppress.items() if k not in values.columns}
        supp.update(suppress or {})
        return replace(self, indicators=ind, catalogue=cat, suppress=supp,
                       layers={**self.layers, **(layers or {})})


def _check_level(level: str) -> None:
    if level not in LEVELS:
        msg = f"level must be one of {list(LEVELS)}; got {level!r}."
        raise DataError(msg)


def city_value(place: Place, indicator_id: str) -> float:
    """
    The whole city's value of an indicator, aggregated from LSOAs by its kind.

    Counts are summed; everything else is the mean weighted by the indicator's
    own weight (its denominator), so a city rate is sum of numerators / sum of
    denominators.
    """
    meta = place.catalogue.row(indicator_id)
    v = place.indicators[indicator_id].astype(float)
    if meta["aggregation"] == "sum":
        return float(v.sum(min_count=1))
    w = place.weights[meta["weight"] or "population"].astype(float)
    ok = v.notna() & w.notna()
    return float((v[ok] * w[ok]).sum() / w[ok].sum())


def aggregate(place: Place, ids: list[str], level: str) -> pd.DataFrame:
    """
    Aggregate LSOA indicators to a locality level, correctly by kind.

    Parameters
    ----------
    place
        The place.
    ids
        Indicator ids.
    level
        One of :data:`LEVELS`.

    Returns
    -------
    pd.DataFrame
        Indexed by locality code. ``attrs["notes"]`` says how each column was
        aggregated.
    """
    from placekit.disclosure import suppress_counts

    _check_level(level)
    key = place.codes(level)
    out: dict[str, pd.Series] = {}
    notes: dict[str, str] = {}
    for i in ids:
        meta = place.catalogue.row(i)
        v = place.indicators[i].astype(float)
        how = meta["aggregation"]
        if level == "lsoa":
            out[i] = v
            notes[i] = "LSOA value"
            continue
        if how == "sum":
            out[i] = v.groupby(key).sum(min_count=1)
            notes[i] = "sum of LSOA counts"
        else:
            w = place.weights[meta["weight"] or "population"].astype(float)
            ok = v.notna() & w.notna()
            out[i] = (v * w).where(ok).groupby(key).sum(min_count=1) / w.where(ok).groupby(key).sum()
            notes[i] = (
                f"{meta['weight'] or 'population'}-weighted mean of LSOA national ranks; not itself a rank"
                if how == "weighted_mean_rank"
                else f"mean of LSOA values weighted by {meta['weight'] or 'population'}"
            )
    res = pd.DataFrame(out)
    for i in ids:
        if i in place.suppress:
            hidden = suppress_counts(place, place.suppress[i], level)
            res[i] = res[i].mask(hidden)
            notes[i] += f"; hidden where the count is 1 to {place.min_count - 1} (disclosure control)"
    res.attrs["notes"] = notes
    return res


# ----------------------------------------------------------------------------- loading


def _load_lsoa(data: Path) -> gpd.GeoDataFrame:
    lsoa = pack.read_vector(data, "boundaries/sheffield_lsoa21.parquet")
    lsoa = lsoa.rename(columns={"LSOA21NM": "area_name"}).set_index("LSOA21CD").sort_index()
    lsoa.index.name = "area_code"
    lsoa["geometry"] = lsoa.geometry.make_valid()
    lsoa["area_km2"] = lsoa.area / 1e6
    return lsoa[["area_name", "area_km2", "geometry"]]


def _load_localities(data: Path) -> dict[str, gpd.GeoDataFrame]:
    ward = pack.read_vector(data, "boundaries/sheffield_wards_2020.parquet")
    ward = ward.rename(columns={"WD20CD": "area_code", "WD20NM": "area_name"}).set_index("area_code")
    lac = pack.read_vector(data, "boundaries/sheffield_lac_asc_localities_7.parquet")
    lac["area_code"] = lac["ca_name"]
    lac = lac.rename(columns={"ca_name": "area_name"}).set_index("area_code")
    nh = pack.read_vector(data, "boundaries/sheffield_neighbourhoods_100.parquet")
    nh["area_code"] = "N" + nh["nhood_code"].astype(str).str.zfill(3)
    nh = nh.rename(columns={"nhood_name": "area_name"}).set_index("area_code")
    out = {}
    for name, g in (("ward", ward), ("lac", lac), ("neighbourhood", nh)):
        g = g.sort_index()
        g["geometry"] = g.geometry.make_valid()
        out[name] = g
    return out


def _census_indicators(catalogue: Catalogue, census: pd.DataFrame) -> tuple[dict[str, pd.Series], pd.DataFrame]:
    values: dict[str, pd.Series] = {}
    denominators: dict[str, pd.Series] = {}
    for i, meta in catalogue.table.iterrows():
        src, _, expr = str(meta["derivation"]).partition(":")
        if src != "census":
            continue
        if "/" in expr:
            num, den = expr.split("/")
            n = census[num.split("+")].sum(axis=1)
            d = census[den]
            values[str(i)] = 100.0 * n / d.where(d > 0)
            denominators[den] = d
        else:
            values[str(i)] = census[expr].astype(float)
    return values, pd.DataFrame(denominators)


def _point_counts(lsoa: gpd.GeoDataFrame, pts: gpd.GeoDataFrame) -> pd.Series:
    pts = pts[pts.geometry.notna()]
    pts = pts.set_geometry(pts.geometry.representative_point()) if not (pts.geom_type == "Point").all() else pts
    j = gpd.sjoin(pts[["geometry"]], lsoa[["geometry"]], how="inner", predicate="within")
    return j.groupby(lsoa.index.name or "index_right").size().reindex(lsoa.index, fill_value=0).astype(float)


def _area_share(lsoa: gpd.GeoDataFrame, polys: gpd.GeoDataFrame) -> pd.Series:
    union = polys.geometry.make_valid().union_all()
    inter = lsoa.geometry.intersection(union).area
    return 100.0 * inter / lsoa.area


def _brownfield(data: Path, lsoa: gpd.GeoDataFrame) -> pd.Series:
    msoa = pack.read_vector(data, "boundaries/sheffield_msoa11.parquet").set_index("MSOA11CD")
    ha = pack.read_table(data, "planning/sheffield_brownfield_register_hectares_by_msoa11_2022.csv")
    msoa["ha"] = msoa.index.map(ha.set_index("MSOA11CD")["brownfield_ha"]).fillna(0.0)
    msoa["m2"] = msoa.area
    inter = gpd.overlay(lsoa[["geometry"]].reset_index(), msoa[["ha", "m2", "geometry"]].reset_index(),
                        how="intersection", keep_geom_type=True)
    inter["ha_part"] = inter["ha"] * inter.area / inter["m2"]
    total = inter.groupby("area_code")["ha_part"].sum().reindex(lsoa.index, fill_value=0.0)
    return total / lsoa["area_km2"]


def _build_indicators(place_data: Path, lsoa: gpd.GeoDataFrame, catalogue: Catalogue,
                      lookup11: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, pd.Series]:
    idx = lsoa.index
    census = pack.read_table(place_data, CENSUS_LSOA).set_index("LSOA21CD").reindex(idx)
    values, dens = _census_indicators(catalogue, census)
    population = census["ts0010001"].astype(float)
    tables = {
        "imd2025": pack.read_table(place_data, "deprivation/imd2025_sheffield_lsoa21.csv"),
        "imd2025_ind": pack.read_table(place_data, "deprivation/imd2025_sheffield_lsoa21_indicators.csv"),
        "imd2025_sub": pack.read_table(place_data, "deprivation/imd2025_sheffield_lsoa21_subdomains.csv"),
        "fuel": pack.read_table(place_data, "demand/fuel_poverty_2021_sheffield_lsoa21.csv").rename(
            columns={"LSOA21CD": "lsoa21_code"}),
    }
    tables = {k: t.set_index("lsoa21_code").reindex(idx) for k, t in tables.items()}
    iod19 = pack.read_table(place_data, "deprivation/iod2019_sheffield_lsoa11_combined.parquet").set_index("lsoa11cd")
    numeric19 = iod19.select_dtypes("number")
    tables["iod2019"] = lsoa11_to_lsoa21(
        numeric19, lookup11, weight11=iod19["pop_total_mid2015"], population21=population
    ).reindex(idx)
    age = pack.read_table(place_data, "census/census2021_usual_residents_age6_sheffield_lsoa21.csv")
    age = age.pivot_table(index="lsoa21_code", columns="age_group", values="usual_residents", aggfunc="sum").reindex(idx)
    tables["age6"] = 100.0 * age.div(age.sum(axis=1), axis=0)

    point_cache: dict[str, pd.Series] = {}

    def points(name: str) -> pd.Series:
        if name not in point_cache:
            point_cache[name] = _point_counts(lsoa, pack.read_layer(place_data, name))
        return point_cache[name]

    for i, meta in catalogue.table.iterrows():
        src, _, arg = str(meta["derivation"]).partition(":")
        i = str(i)
        if src in tables:
            values[i] = tables[src][arg].astype(float)
        elif src == "points_count":
            values[i] = points(arg)
        elif src == "points_per_1000":
            values[i] = 1000.0 * points(arg) / population
        elif src == "points_per_km2":
            values[i] = points(arg) / lsoa["area_km2"]
        elif src == "area_share":
            values[i] = _area_share(lsoa, pack.read_layer(place_data, arg))
        elif src == "brownfield":
            values[i] = _brownfield(place_data, lsoa)
    indicators = pd.DataFrame({i: values[i] for i in catalogue.ids if i in values}, index=idx)
    weights = dens.copy()
    weights["population"] = population
    weights["households"] = census["ts0110001"].astype(float)
    weights["area_km2"] = lsoa["area_km2"]
    return indicators, weights, iod19["pop_total_mid2015"].astype(float)


def load_place(path: str | Path | None = None, *, catalogue: Catalogue | None = None) -> Place:
    """
    Load a whole city's place data from a pack (Sheffield by default).

    Parameters
    ----------
    path
        The data pack folder; see :func:`placekit.config.data_dir`.
    catalogue
        An indicator catalogue; the repository's by default.

    Returns
    -------
    Place

    Raises
    ------
    DataError
        If the pack is missing or a file in it cannot be used.

    Examples
    --------
    >>> place = load_place()                     # doctest: +SKIP
    >>> place.table("lac", ["imd2025_score"])    # doctest: +SKIP
    """
    t0 = time.perf_counter()
    data = data_dir(path)
    cat = catalogue or load_catalogue()
    lsoa = _load_lsoa(data)
    localities = _load_localities(data)
    lookup11 = pack.read_table(data, "lookups/sheffield_lsoa11_lsoa21_lad22.csv")
    ward_lac = pack.read_table(data, "lookups/sheffield_ward_lac_asc.csv").set_index("Ward Code")["ca_name"]
    grid = data / RESIDENTIAL_GRID
    t1 = time.perf_counter()
    for level in ("ward", "neighbourhood"):
        a = assign_by_residential_cells(lsoa, localities[level], grid_path=grid)
        lsoa[f"{level}_code"] = a["locality"].astype(str)
        lsoa[f"{level}_name"] = lsoa[f"{level}_code"].map(localities[level]["area_name"])
        if level == "ward":
            lsoa["assign_share"] = a["share"]
    lsoa["lac_code"] = lsoa["ward_code"].map(ward_lac)
    if lsoa["lac_code"].isna().any():
        bad = lsoa.index[lsoa["lac_code"].isna()].tolist()
        msg = f"Wards of LSOAs {bad[:5]} are not in lookups/sheffield_ward_lac_asc.csv."
        raise DataError(msg)
    lsoa["lac_name"] = lsoa["lac_code"].map(localities["lac"]["area_name"])
    t2 = time.perf_counter()
    indicators, weights, population11 = _build_indicators(data, lsoa, cat, lookup11)
    t3 = time.perf_counter()
    lsoa["population"] = weights["population"]
    place = Place(data_dir=data, lsoa=lsoa, localities=localities, indicators=indicators,
                  weights=weights, catalogue=cat, lookup11=lookup11, population11=population11)
    place.timings_s = {"boundaries": t1 - t0, "assignment": t2 - t1, "indicators": t3 - t2,
                       "total": time.perf_counter() - t0}
    if np.isclose(weights["population"].sum(), 0):
        msg = "The pack's Census population sums to zero; check census/ files."
        raise DataError(msg)
    return place
