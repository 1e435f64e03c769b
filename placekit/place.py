"""A place's data as one validated model: :class:`Place`, loaded from any pack.

``load_place()`` opens a pack (:mod:`placekit.pack`: Sheffield by default, or
any pack built with ``placekit pack build``) and returns its LSOAs, its locality
levels as the manifest lists them (MSOA, ward, local authority, and any
council-specific levels such as Sheffield's LACs), every LSOA's assignment to
them, the indicator table and the place layers, all in EPSG:27700.

The place owns what is derived from the pack, built once on first use and kept:
the street network per mode, the residential origins per mode, the postcode
lookup and the base-map geometry. Analyses take the place, never a folder.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from placekit import _assemble
from placekit.catalogue import Catalogue, load_catalogue
from placekit.config import data_dir
from placekit.errors import DataError
from placekit.pack import ATTRIBUTION_OGL, ATTRIBUTION_OS, ATTRIBUTION_OSM, Pack, open_pack

__all__ = ["ALL_AREA", "Place", "aggregate", "city_value", "load_place"]

#: The code of the whole pack's area in tables that include it.
ALL_AREA = "all"


@dataclass
class Place:
    """
    A place's neighbourhoods, localities, indicators and layers.

    Attributes
    ----------
    pack
        The pack the place was read from.
    lsoa
        The LSOA 2021 polygons, indexed by code (``area_code``), with
        ``area_name``, ``area_km2``, ``population`` and, for every level, the
        ``<level>_code`` and ``<level>_name`` each LSOA is assigned to.
    localities
        ``{level: GeoDataFrame}`` indexed by code, with ``area_name``, in the
        manifest's order.
    level_info
        ``{level: Level}``: label, method of assignment and notes.
    indicators
        One column per available indicator id, indexed like ``lsoa``.
    unavailable
        ``{indicator id: reason}`` for catalogue indicators the pack cannot support.
    weights
        Aggregation weights per LSOA: population, households, area_km2 and the
        Census denominators named in the catalogue.
    catalogue
        The indicator catalogue, including indicators added by the user.
    lookup11
        The ONS LSOA 2011 -> 2021 lookup (``LSOA11CD``, ``LSOA21CD``, ``CHGIND``),
        if the pack has one.
    population11
        Population of each LSOA 2011 (IoD 2019 denominators), used to weight merges.
    suppress
        Disclosure control: ``{indicator id: id of the uploaded count it is built from}``.
    min_count
        The smallest count that may be shown (5 by default, so 1 to 4 are hidden).
    """

    pack: Pack
    lsoa: gpd.GeoDataFrame
    localities: dict[str, gpd.GeoDataFrame]
    level_info: dict[str, _assemble.Level]
    indicators: pd.DataFrame
    weights: pd.DataFrame
    catalogue: Catalogue
    lookup11: pd.DataFrame | None = None
    population11: pd.Series | None = None
    unavailable: dict[str, str] = field(default_factory=dict)
    suppress: dict[str, str] = field(default_factory=dict)
    min_count: int = 5
    layers: dict[str, gpd.GeoDataFrame] = field(default_factory=dict)
    timings_s: dict[str, float] = field(default_factory=dict)
    #: Derived from the pack, shared by copies made with :meth:`with_indicators`.
    derived: dict[str, Any] = field(default_factory=dict, repr=False)

    # -- identity ------------------------------------------------------------------------
    @property
    def name(self) -> str:
        """The pack's name, e.g. ``"Sheffield"``."""
        return self.pack.name

    @property
    def data_dir(self) -> Path:
        """The pack folder."""
        return self.pack.path

    @property
    def la_codes(self) -> list[str]:
        """The local authorities the place reports."""
        return self.pack.la_codes

    @property
    def la_code(self) -> str:
        """The local authority code(s), comma-separated (for messages)."""
        return ", ".join(self.la_codes)

    @property
    def levels(self) -> list[str]:
        """Locality levels above LSOA, in the manifest's order."""
        return list(self.localities)

    @property
    def all_levels(self) -> list[str]:
        """``"lsoa"`` followed by :attr:`levels`."""
        return ["lsoa", *self.levels]

    @property
    def locality_level(self) -> str:
        """The level localities are planned by: the manifest's choice, else ward, else the first."""
        chosen = self.pack.locality_level
        if chosen in self.localities:
            return str(chosen)
        if "ward" in self.localities:
            return "ward"
        return self.levels[0] if self.levels else "lsoa"

    def level_label(self, level: str, *, count: bool = True) -> str:
        """A level's label, e.g. ``"Ward (28)"``."""
        self._check_level(level)
        if level == "lsoa":
            return (
                f"Neighbourhood (LSOA 2021) ({len(self.lsoa)})"
                if count
                else "Neighbourhood (LSOA 2021)"
            )
        label = self.level_info[level].label
        return f"{label} ({len(self.localities[level])})" if count else label

    @property
    def attributions(self) -> list[str]:
        """Attribution lines every output built from this place must carry."""
        lines = [ATTRIBUTION_OGL, ATTRIBUTION_OS, ATTRIBUTION_OSM, *self.pack.attributions]
        lines += [g.attrs.get("attribution", "") for g in self.layers.values()]
        out: list[str] = []
        for line in lines:
            for part in (p.strip() for p in str(line).split(";")):
                if part and part not in out:
                    out.append(part)
        return out

    # -- layers and derived data -----------------------------------------------------------
    @property
    def available_layers(self) -> list[str]:
        """Names of the place layers this pack can supply."""
        from placekit.pack import default_layers

        return [
            n
            for n in default_layers()
            if _assemble.layer_available(self.pack, n) or n in self.layers
        ]

    def layer(self, name: str) -> gpd.GeoDataFrame:
        """A place layer by name, read once and kept (uploaded point layers included)."""
        if name not in self.layers:
            self.layers[name] = _assemble.read_layer(self.pack, name)
        return self.layers[name]

    def network(self, mode: str, *, progress: Any = None) -> Any:
        """
        The street network for ``mode`` (``walk`` or ``drive``), built once and cached.

        The first build reads the pack's OSM XML with osmnx and writes an array
        cache (see :func:`placekit.network.load_network`); later calls reuse it.
        """
        from placekit.network import MODES, load_network

        if mode not in MODES:
            msg = f"mode must be one of {list(MODES)}; got {mode!r}."
            raise DataError(msg)
        key = f"network:{mode}"
        if key not in self.derived:
            self.derived[key] = load_network(
                self.pack.file(f"network_{mode}"), mode, progress=progress
            )
        return self.derived[key]

    def origins(self, mode: str, *, method: str | None = None, progress: Any = None) -> Any:
        """Residential origins snapped to the ``mode`` network (see :mod:`placekit.origins`)."""
        from placekit.origins import build_origins

        key = f"origins:{mode}:{method or self.pack.origins.get('method')}"
        if key not in self.derived:
            self.derived[key] = build_origins(
                self.pack, self.network(mode, progress=progress), self.lsoa, method=method
            )
        return self.derived[key]

    def postcodes(self) -> pd.DataFrame:
        """Postcode centroids: ``lon``, ``lat``, indexed by postcode (no spaces, upper case)."""
        if "postcodes" not in self.derived:
            pc = self.pack.read_table("postcodes")
            col = self.pack.column("postcodes", "postcode")
            frame = pd.DataFrame(
                {
                    "lon": pd.to_numeric(
                        pc[self.pack.column("postcodes", "lon")], errors="coerce"
                    ).to_numpy(float),
                    "lat": pd.to_numeric(
                        pc[self.pack.column("postcodes", "lat")], errors="coerce"
                    ).to_numpy(float),
                },
                index=pc[col].astype(str).str.replace(" ", "").str.upper(),
            )
            self.derived["postcodes"] = frame[
                ~frame.index.duplicated() & frame["lon"].notna() & frame["lat"].notna()
            ]
        out: pd.DataFrame = self.derived["postcodes"]
        return out

    def postcode_xy(self, postcode: str) -> tuple[float, float]:
        """
        EPSG:27700 coordinates of a postcode in the pack's postcode table.

        Raises
        ------
        DataError
            If the pack has no postcode table or the postcode is not in it.
        """
        import pyproj

        key = str(postcode).replace(" ", "").upper()
        table = self.postcodes()
        if not key or key not in table.index:
            msg = (f"Postcode {postcode!r} is not in the pack's postcode lookup for {self.name}; "
                   "check it, or give the place as lon/lat or pick a neighbourhood.")
            raise DataError(msg)
        lon, lat = table.loc[key, ["lon", "lat"]]
        tr = pyproj.Transformer.from_crs("EPSG:4326", "EPSG:27700", always_xy=True)
        x, y = tr.transform(float(lon), float(lat))
        return float(x), float(y)

    def england(self) -> Any:
        """
        The England benchmark (:class:`placekit.england.EnglandBenchmark`), or ``None``.

        Read once from the pack's England tables (``PLACEKIT_ENGLAND`` overrides);
        ``None`` when the pack has none, so England comparisons say unavailable.
        """
        if "england" not in self.derived:
            from placekit.england import EnglandBenchmark

            folder = self.pack.england_dir()
            try:
                self.derived["england"] = EnglandBenchmark.load(folder) if folder else None
            except DataError:
                self.derived["england"] = None
        return self.derived["england"]

    def boundary(self) -> gpd.GeoDataFrame:
        """The outline of the place (the pack's boundary role, else the union of its LSOAs)."""
        if "boundary" not in self.derived:
            if self.pack.has("boundary"):
                b = self.pack.read_vector("boundary")[["geometry"]]
            else:
                b = gpd.GeoDataFrame(geometry=[self.lsoa.geometry.union_all()], crs=self.lsoa.crs)
            self.derived["boundary"] = b
        out: gpd.GeoDataFrame = self.derived["boundary"]
        return out

    def roads(self, classes: tuple[str, ...]) -> gpd.GeoDataFrame:
        """Roads of the given OSM highway classes within 1 km of the place (empty without roads)."""
        key = f"roads:{','.join(classes)}"
        if key not in self.derived:
            if not self.pack.has("roads"):
                self.derived[key] = gpd.GeoDataFrame(
                    {"highway": [], "name": []}, geometry=[], crs=self.lsoa.crs
                )
            else:
                r = self.pack.read_vector("roads")
                hw = self.pack.column("roads", "highway")
                r = r.loc[r[hw].astype(str).isin(classes)]
                area = self.boundary().geometry.union_all().buffer(1000.0)
                r = r.loc[r.intersects(area)]
                name_col = self.pack.column("roads", "name")
                self.derived[key] = gpd.GeoDataFrame(
                    {
                        "highway": r[hw].astype(str).to_numpy(),
                        "name": (
                            r[name_col].astype(str)
                            if name_col in r
                            else pd.Series("", index=r.index)
                        ).to_numpy(),
                    },
                    geometry=r.geometry.to_numpy(),
                    crs=r.crs,
                )
        out: gpd.GeoDataFrame = self.derived[key]
        return out

    # -- areas and tables -----------------------------------------------------------------
    def _check_level(self, level: str) -> None:
        if level != "lsoa" and level not in self.localities:
            msg = f"level must be one of {self.all_levels}; got {level!r}."
            raise DataError(msg)

    def codes(self, level: str) -> pd.Series:
        """The code of every LSOA at ``level`` (``lsoa`` gives the LSOA code)."""
        self._check_level(level)
        if level == "lsoa":
            return pd.Series(self.lsoa.index, index=self.lsoa.index, name="lsoa")
        return self.lsoa[f"{level}_code"].rename(level)

    def areas(self, level: str) -> gpd.GeoDataFrame:
        """Polygons of ``level`` indexed by code with ``area_name``."""
        self._check_level(level)
        if level == "lsoa":
            return self.lsoa[["area_name", "geometry"]]
        return self.localities[level][["area_name", "geometry"]]

    def parents(self, level: str) -> list[str]:
        """The coarser levels that ``level`` nests in (each of its areas lies in one of theirs)."""
        self._check_level(level)
        key = self.codes(level)
        out = []
        for other in self.levels:
            if other == level:
                continue
            pairs = pd.DataFrame({"a": key, "b": self.codes(other)}).drop_duplicates()
            if pairs["a"].is_unique and pairs["b"].nunique() < pairs["a"].nunique():
                out.append(other)
        return out

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
            If an indicator id or the level is unknown, or the pack cannot supply the indicator.
        """
        ids = list(indicators) if indicators is not None else list(self.indicators.columns)
        for i in ids:
            self.catalogue.row(i)
            if i in self.unavailable:
                msg = f"Indicator {i!r} is unavailable for {self.name}: {self.unavailable[i]}."
                raise DataError(msg)
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

    def with_indicators(
        self,
        values: pd.DataFrame,
        metas: dict[str, dict[str, str]],
        *,
        suppress: dict[str, str] | None = None,
        layers: dict[str, gpd.GeoDataFrame] | None = None,
    ) -> Place:
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
        cat = self.catalogue.with_indicators(metas)
        supp = {k: v for k, v in self.suppress.items() if k not in values.columns}
        supp.update(suppress or {})
        unavailable = {k: v for k, v in self.unavailable.items() if k not in values.columns}
        return replace(
            self,
            indicators=ind,
            catalogue=cat,
            suppress=supp,
            unavailable=unavailable,
            layers={**self.layers, **(layers or {})},
        )


def city_value(place: Place, indicator_id: str) -> float:
    """
    The whole place's value of an indicator, aggregated from LSOAs by its kind.

    Counts are summed; everything else is the mean weighted by the indicator's
    own weight (its denominator), so a rate is sum of numerators / sum of
    denominators. An uploaded count under disclosure control gives its published
    total (NaN where the whole place's total is itself hidden), as every table does.
    """
    meta = place.catalogue.row(indicator_id)
    if indicator_id in place.suppress:
        from placekit.disclosure import place_protection

        total = place_protection(place, place.suppress[indicator_id]).published[ALL_AREA]
        if total.isna().all():
            return float("nan")
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
        ``"lsoa"`` or one of ``place.levels``.

    Returns
    -------
    pd.DataFrame
        Indexed by area code. ``attrs["notes"]`` says how each column was aggregated.
    """
    from placekit.disclosure import suppress_counts

    key = place.codes(level)
    out: dict[str, pd.Series] = {}
    notes: dict[str, str] = {}
    for i in ids:
        meta = place.catalogue.row(i)
        v = place.indicators[i].astype(float)
        how = meta["aggregation"]
        if level == "lsoa":
            out[i] = v
            notes[i] = "each neighbourhood's own value (LSOA 2021), not aggregated"
            continue
        if how == "sum":
            out[i] = v.groupby(key).sum(min_count=1)
            notes[i] = "sum of LSOA counts"
        else:
            w = place.weights[meta["weight"] or "population"].astype(float)
            ok = v.notna() & w.notna()
            out[i] = (v * w).where(ok).groupby(key).sum(min_count=1) / w.where(ok).groupby(
                key
            ).sum()
            notes[i] = (
                f"{meta['weight'] or 'population'}-weighted mean of LSOA national ranks; "
                "not itself a rank"
                if how == "weighted_mean_rank"
                else f"mean of LSOA values weighted by {meta['weight'] or 'population'}"
            )
    res = pd.DataFrame(out)
    for i in ids:
        if i in place.suppress:
            hidden = suppress_counts(place, place.suppress[i], level)
            res[i] = res[i].mask(hidden)
            notes[i] += (
                f"; hidden where the count is 1 to {place.min_count - 1} (disclosure control)"
            )
    res.attrs["notes"] = notes
    return res


def load_place(path: str | Path | None = None, *, catalogue: Catalogue | None = None) -> Place:
    """
    Load a place from a pack (the Sheffield pack by default).

    Parameters
    ----------
    path
        The pack folder; see :func:`placekit.config.data_dir` for the default.
    catalogue
        An indicator catalogue; placekit's own by default.

    Returns
    -------
    Place

    Raises
    ------
    DataError
        If the pack is missing or a file in it cannot be used.

    Examples
    --------
    >>> place = load_place()                          # doctest: +SKIP
    >>> place.table("ward", ["imd2025_score"])        # doctest: +SKIP
    """
    t0 = time.perf_counter()
    pk = open_pack(data_dir(path))
    cat = catalogue or load_catalogue()
    lsoa = _assemble.load_lsoa(pk)
    t1 = time.perf_counter()
    lsoa, levels = _assemble.build_levels(pk, lsoa)
    t2 = time.perf_counter()
    built = _assemble.build_indicators(pk, lsoa, cat)
    t3 = time.perf_counter()
    lsoa["population"] = built.weights["population"]
    if np.isclose(built.weights["population"].sum(), 0):
        msg = f"The Census population of pack {pk.name!r} sums to zero; check its census role."
        raise DataError(msg)
    place = Place(
        pack=pk,
        lsoa=lsoa,
        localities={k: v.areas for k, v in levels.items()},
        level_info=levels,
        indicators=built.indicators,
        weights=built.weights,
        catalogue=cat,
        lookup11=built.lookup11,
        population11=built.population11,
        unavailable=built.unavailable,
    )
    place.timings_s = {
        "boundaries": t1 - t0,
        "assignment": t2 - t1,
        "indicators": t3 - t2,
        "total": time.perf_counter() - t0,
    }
    return place
