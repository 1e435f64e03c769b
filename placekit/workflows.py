"""The compositions the app, the command line, the benchmarks and the tests share.

Each function takes a :class:`~placekit.place.Place` (never a folder) and
keyword-only options, and returns a small, typed result. Nothing here imports
``streamlit``: the app wraps these calls in its own caches.

What every session of a pack needs (walk access, the default typology, the
k diagnostics) is also cached on disk, per pack, under
:func:`placekit.config.cache_dir` (``workflows_<pack>_<key>.pkl``): the key is a
hash of the pack folder's files (path, size, modification time), the
catalogue, the parameters and :data:`CACHE_VERSION`, so a changed pack or a
new placekit release never reads a stale result. Files are written atomically
and a damaged one is deleted and recomputed.

Thread pools (BLAS, OpenMP) are capped by :func:`cap_threads` before the heavy
calls: several processes (or sessions) on a small machine otherwise start one
thread per core each and slow one another down about tenfold.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import pickle
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from placekit.config import cache_dir
from placekit.errors import DataError
from placekit.place import Place, city_value

__all__ = [
    "CACHE_VERSION",
    "LEAST_SERVED",
    "AccessResult",
    "AreaTable",
    "Choices",
    "ResidentialResult",
    "SearchHit",
    "TypologyResult",
    "access_ids",
    "access_specs",
    "area_table",
    "cap_threads",
    "demand_model",
    "facility_options",
    "indicator_choices",
    "k_diagnostics",
    "least_served",
    "prepared_place",
    "prevention",
    "residential_geometry",
    "scenario_engine",
    "search_place",
    "sensitivity",
    "thread_limit",
    "typology",
    "walk_access",
    "with_access",
]

#: Bump when what a cached workflow result holds changes.
CACHE_VERSION = 1
#: The "least served" measure of the Localities view, the locality pack and the Table.
LEAST_SERVED = "gp_walk_min"

Progress = Callable[[str, float], None]


# ----------------------------------------------------------------------------- threads
def thread_limit() -> int:
    """
    Threads each BLAS / OpenMP pool may use in this process.

    ``PLACEKIT_THREADS`` overrides; otherwise ``min(2, os.cpu_count())``.

    Returns
    -------
    int
        At least 1.
    """
    env = os.environ.get("PLACEKIT_THREADS", "").strip()
    if env.isdigit() and int(env) > 0:
        return int(env)
    return max(1, min(2, os.cpu_count() or 1))


_CAPPED: dict[str, int] = {}


def cap_threads(n: int | None = None) -> int:
    """
    Cap every native thread pool of this process (idempotent).

    Sets ``OMP_NUM_THREADS`` and friends, which libraries loaded later (e.g.
    scikit-learn's OpenMP runtime) read when they load, then limits the pools
    already loaded (numpy's BLAS) with :func:`threadpoolctl.threadpool_limits`.
    It does not import scikit-learn: the app's first map does not need it, and
    the heavy calls are wrapped in a per-thread limit as well.

    Parameters
    ----------
    n
        Threads per pool (default :func:`thread_limit`).

    Returns
    -------
    int
        The limit applied.
    """
    limit = n or thread_limit()
    if _CAPPED.get("n") == limit:
        return limit
    for var in (
        "OMP_NUM_THREADS",
        "OPENBLAS_NUM_THREADS",
        "MKL_NUM_THREADS",
        "NUMBA_NUM_THREADS",
        "VECLIB_MAXIMUM_THREADS",
    ):
        os.environ.setdefault(var, str(limit))
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=limit)
    _CAPPED["n"] = limit
    return limit


@contextlib.contextmanager
def _limited() -> Iterator[None]:
    """Cap the pools for the calling thread (OpenMP settings are per thread)."""
    from threadpoolctl import threadpool_limits

    cap_threads()
    with threadpool_limits(limits=thread_limit()):
        yield


# ----------------------------------------------------------------------------- disk cache
def _pack_key(place: Place) -> str:
    """A hash of the pack's files and the catalogue: changes when either does."""
    root = Path(place.data_dir).resolve()
    h = hashlib.sha1(str(root).encode())
    for f in sorted(p for p in root.rglob("*") if p.is_file()):
        st = f.stat()
        h.update(f"{f.relative_to(root)}|{st.st_size}|{st.st_mtime_ns}".encode())
    h.update(pd.util.hash_pandas_object(place.catalogue.table.astype(str)).to_numpy().tobytes())
    return h.hexdigest()


def _cache_file(place: Place, name: str, params: tuple[Any, ...]) -> Path:
    if "pack_key" not in place.derived:
        place.derived["pack_key"] = _pack_key(place)
    key = hashlib.sha1(
        f"{place.derived['pack_key']}|{name}|{params!r}|{CACHE_VERSION}".encode()
    ).hexdigest()[:16]
    safe = "".join(c if c.isalnum() else "_" for c in place.name.lower())[:30]
    return cache_dir() / f"workflows_{safe}_{name}_{key}.pkl"


def _cached(
    place: Place, name: str, params: tuple[Any, ...], build: Callable[[], Any], *, use: bool
) -> tuple[Any, bool]:
    """``build()``, or its saved result; returns ``(result, from_cache)``."""
    if not use:
        return build(), False
    path = _cache_file(place, name, params)
    if path.is_file():
        try:
            with path.open("rb") as fh:
                return pickle.load(fh), True
        except Exception:  # damaged or from an incompatible library: rebuild it
            with contextlib.suppress(OSError):
                path.unlink()
    value = build()
    _save(path, value)
    return value, False


def _source_key(pack_dir: Path) -> str:
    """A hash of the pack's files, its England tables, placekit's own code and package data."""
    from importlib import resources

    from placekit.pack import open_pack

    h = hashlib.sha1(str(pack_dir).encode())
    roots = [pack_dir, Path(__file__).resolve().parent, Path(str(resources.files("placekit.data")))]
    england = open_pack(pack_dir).england_dir()
    if england:
        roots.append(Path(england))
    for root in roots:
        for f in sorted(p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
            st = f.stat()
            h.update(f"{f}|{st.st_size}|{st.st_mtime_ns}".encode())
    return h.hexdigest()[:16]


def prepared_place(path: str | Path | None = None, *, use_cache: bool = True) -> Place:
    """
    :func:`placekit.load_place`, saved once per pack on disk and read back in milliseconds.

    The saved place includes its England benchmark, main roads and the base map's place
    layers (:data:`placekit.layers.BASE_LAYERS`), and keeps its
    key in ``place.derived["source_key"]`` (for files derived from it, such as the
    app's served map geometry). The key covers every file of
    the pack and of its England tables, and placekit's own modules and package
    data (the catalogue, shipped manifests), so an edited pack or a new release
    of placekit loads afresh; a damaged file is deleted and rebuilt.

    Returns
    -------
    Place
        As :func:`placekit.load_place` returns it.
    """
    from placekit.config import data_dir
    from placekit.place import load_place

    folder = data_dir(path)
    if not use_cache:
        return load_place(folder)
    safe = "".join(c if c.isalnum() else "_" for c in folder.name.lower())[:30]
    key = _source_key(folder)
    cache = cache_dir() / f"workflows_{safe}_place_{key}_{CACHE_VERSION}.pkl"
    if cache.is_file():
        try:
            with cache.open("rb") as fh:
                place = pickle.load(fh)
            if isinstance(place, Place):
                place.derived["source_key"] = key
                return place
        except Exception:  # damaged or from an incompatible library: rebuild it
            pass
        with contextlib.suppress(OSError):
            cache.unlink()
    from placekit.layers import BASE_LAYERS, MAIN_ROADS

    place = load_place(folder)
    place.england()  # the England benchmark (3-4 s to read) is kept in the saved place too
    place.roads(MAIN_ROADS)  # and the main roads every map draws (1 s to read)
    for name in BASE_LAYERS:  # and the base map's green space (0.3 s to read, 1 MB)
        if name in place.available_layers:
            place.layer(name)
    place.derived["source_key"] = key
    _save(cache, place)
    return place


def _save(path: Path, value: Any) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            pickle.dump(value, fh, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)
    except OSError as err:  # a read-only cache folder costs time, not correctness
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        warnings.warn(f"placekit could not save its cache file {path}: {err}", stacklevel=3)


# ----------------------------------------------------------------------------- indicators
def access_specs(place: Place, ids: list[str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """
    Modes and facility types needed to compute the access indicators among ``ids``.

    Parses the catalogue's ``access:<type>:<mode>:<unit>`` derivations (and
    ``access_within:<type>:<mode>:<T>``).

    Returns
    -------
    (tuple, tuple)
        Sorted modes and sorted facility types; both empty when no id is an access indicator.
    """
    modes: set[str] = set()
    types: set[str] = set()
    for i in ids:
        if i not in place.catalogue:
            continue
        parts = str(place.catalogue.row(i)["derivation"]).split(":")
        if parts[0] in ("access", "access_within") and len(parts) >= 3:
            types.add(parts[1])
            modes.add(parts[2])
    return tuple(sorted(modes)), tuple(sorted(types))


def access_ids(place: Place, *, mode: str = "walk") -> list[str]:
    """Catalogue ids of the access indicators of ``mode`` (computed on first use)."""
    cat = place.catalogue
    return [
        i
        for i in cat.ids
        if str(cat.row(i)["derivation"]).startswith("access:")
        and f":{mode}:" in str(cat.row(i)["derivation"])
    ]


@dataclass(frozen=True)
class Choices:
    """The indicators a place offers, in the order the app lists them."""

    demand: list[str]
    all: list[str]
    access: list[str]


def indicator_choices(place: Place) -> Choices:
    """
    Health and care demand first (uploads, then bad health), then the rest, then walk access.

    Returns
    -------
    Choices
        ``demand``, ``all`` and ``access`` id lists.
    """
    cat = place.catalogue
    demand = sorted(
        (i for i in place.indicators.columns if cat.row(i)["theme"] == "health and care demand"),
        key=lambda i: (not i.startswith("user_"), i != "bad_health_pct"),
    )
    acc = access_ids(place)
    every = demand + [i for i in place.indicators.columns if i not in demand]
    every += [i for i in acc if i not in every]
    return Choices(demand=demand, all=every, access=acc)


# ----------------------------------------------------------------------------- access
@dataclass(frozen=True)
class AccessResult:
    """Access indicators per LSOA and their catalogue metadata."""

    frame: pd.DataFrame
    metas: dict[str, dict[str, str]]
    seconds: float
    from_cache: bool
    params: dict[str, Any] = field(default_factory=dict)


def walk_access(
    place: Place,
    *,
    types: tuple[str, ...] | None = None,
    progress: Progress | None = None,
    use_cache: bool = True,
) -> AccessResult:
    """
    Walk access to every facility type of the place, computed once per pack and cached on disk.

    Parameters
    ----------
    place
        The place.
    types
        Facility types (default: the library's default list).
    progress
        Called with a message and a fraction while the network is built.
    use_cache
        Read and write the per-pack disk cache.

    Returns
    -------
    AccessResult
        ``frame`` indexed by LSOA code, ``metas`` ``{id: metadata}``.
    """
    from placekit.accessibility import DEFAULT_TYPES, access_indicators

    kinds = tuple(types or DEFAULT_TYPES)
    t0 = time.perf_counter()

    def build() -> tuple[pd.DataFrame, dict[str, dict[str, str]]]:
        with _limited():
            return access_indicators(place, modes=("walk",), types=kinds, progress=progress)

    (frame, metas), hit = _cached(place, "walk_access", kinds, build, use=use_cache)
    return AccessResult(
        frame.reindex(place.lsoa.index),
        metas,
        time.perf_counter() - t0,
        hit,
        {"mode": "walk", "types": kinds},
    )


def with_access(
    place: Place,
    ids: list[str] | None = None,
    *,
    progress: Progress | None = None,
    use_cache: bool = True,
) -> Place:
    """
    The place with the access indicators among ``ids`` added (all walk ones by default).

    Walk access comes from :func:`walk_access` (cached per pack); other modes
    are computed with :func:`placekit.accessibility.access_indicators`.

    Returns
    -------
    Place
        A new place, or ``place`` itself when nothing is missing.
    """
    from placekit.accessibility import access_indicators

    wanted = access_ids(place) if ids is None else list(ids)
    missing = [i for i in wanted if i not in place.indicators.columns]
    modes, types = access_specs(place, missing)
    if not modes:
        return place
    out = place
    if "walk" in modes:
        res = walk_access(place, progress=progress, use_cache=use_cache)
        out = out.with_indicators(res.frame, res.metas)
    other = tuple(m for m in modes if m != "walk")
    if other:
        with _limited():
            frame, metas = access_indicators(out, modes=other, types=types, progress=progress)
        out = out.with_indicators(frame, metas)
    return out


def facility_options(place: Place, facility: str) -> list[tuple[str, str]]:
    """
    ``(id, label)`` of every facility of one type, ids as the access model names them.

    The id is the layer's ``id`` column when it has one, else ``<type>:<row>``
    (the rule of :func:`placekit.accessibility.facilities_from_layer`).

    Returns
    -------
    list of (str, str)
        In layer order; the label is the facility's name (or its id) and the id.
    """
    layer = place.layer(facility)
    ids = (
        layer["id"].astype(str).tolist()
        if "id" in layer.columns
        else [f"{facility}:{i}" for i in range(len(layer))]
    )
    names = layer["name"].astype(str).fillna("").tolist() if "name" in layer.columns else ids
    return [(i, f"{n} ({i})" if n and n != i else i) for i, n in zip(ids, names, strict=True)]


# ----------------------------------------------------------------------------- residential
@dataclass(frozen=True)
class ResidentialResult:
    """Areas clipped to where their people live (see :mod:`placekit.residential`)."""

    areas: gpd.GeoDataFrame
    method: str
    buffer_m: float
    seconds: float
    from_cache: bool


def residential_geometry(
    place: Place, level: str = "lsoa", *, use_cache: bool = True
) -> ResidentialResult:
    """
    The areas of ``level`` clipped to their residential land, built once per pack and cached.

    LSOAs are clipped to the land of the pack's residential origins
    (:func:`placekit.residential.residential_areas`, its default distances); a
    coarser level dissolves the (cached) clipped LSOAs.

    Parameters
    ----------
    place
        The place.
    level
        ``"lsoa"`` or any of ``place.levels``.
    use_cache
        Read and write the per-pack disk cache.

    Returns
    -------
    ResidentialResult
        ``areas`` indexed like ``place.areas(level)`` (``area_name``, ``geometry``,
        ``area_m2``, ``home_m2``, ``whole``), EPSG:27700; the origins ``method``.
    """
    from placekit import residential

    place.codes(level)  # checks the level
    t0 = time.perf_counter()
    params = (level, residential.VERSION)
    if level == "lsoa":

        def build() -> gpd.GeoDataFrame:
            return residential.residential_areas(place)

    else:

        def build() -> gpd.GeoDataFrame:
            lsoa = residential_geometry(place, use_cache=use_cache).areas
            return residential.dissolve_level(lsoa, place.codes(level), place.areas(level))

    areas, hit = _cached(place, "residential", params, build, use=use_cache)
    return ResidentialResult(
        areas,
        str(areas.attrs.get("method", "")),
        float(areas.attrs.get("buffer_m", 0.0)),
        time.perf_counter() - t0,
        hit,
    )


# ----------------------------------------------------------------------------- typology
@dataclass(frozen=True)
class TypologyResult:
    """A neighbourhood typology with its stability."""

    labels: pd.Series
    confidence: pd.Series
    portraits: pd.DataFrame
    ari: np.ndarray
    stability: pd.Series
    seconds: float
    k: int
    random_state: int
    from_cache: bool = False


def typology(
    place: Place,
    *,
    k: int = 6,
    random_state: int = 0,
    n_init: int = 300,
    n_runs: int = 20,
    use_cache: bool = True,
) -> TypologyResult:
    """
    The OAC-method typology of the place's LSOAs and its subsample stability.

    Returns
    -------
    TypologyResult
        Labels, confidence and pen portraits (see :func:`placekit.clustering.cluster_place`),
        the adjusted Rand index of ``n_runs`` subsamples and per-area agreement.
    """
    from placekit.clustering import cluster_place, stability

    t0 = time.perf_counter()

    def build() -> dict[str, Any]:
        with _limited():
            res = cluster_place(place, k=k, n_init=n_init, random_state=random_state)
            X = place.indicators[res["variables"]]
            aris, per_area = stability(
                X.fillna(X.median()), k, n_runs=n_runs, random_state=random_state
            )
        return {
            "labels": res["labels"],
            "confidence": res["confidence"],
            "portraits": res["portraits"],
            "ari": np.asarray(aris),
            "stability": per_area,
        }

    out, hit = _cached(place, "typology", (k, random_state, n_init, n_runs), build, use=use_cache)
    return TypologyResult(
        **out, seconds=time.perf_counter() - t0, k=k, random_state=random_state, from_cache=hit
    )


def k_diagnostics(
    place: Place, *, random_state: int = 0, n_init: int = 50, use_cache: bool = True
) -> pd.DataFrame:
    """
    Silhouette, Davies-Bouldin and WCSS for k = 2..12 (see :func:`placekit.clustering.choose_k`).

    Returns
    -------
    pd.DataFrame
        Indexed by k.
    """
    from placekit.clustering import DEFAULT_VARIABLES, choose_k

    def build() -> pd.DataFrame:
        ind = place.indicators
        X = ind[[v for v in DEFAULT_VARIABLES if v in ind.columns]]
        with _limited():
            out: pd.DataFrame = choose_k(
                X.fillna(X.median()), n_init=n_init, random_state=random_state
            )
        return out

    diag, _ = _cached(place, "k_diagnostics", (random_state, n_init), build, use=use_cache)
    out: pd.DataFrame = diag
    return out


# ----------------------------------------------------------------------------- drivers, tiers
def demand_model(place: Place, demand: str, *, n_repeats: int = 3) -> dict[str, Any]:
    """
    :func:`placekit.drivers.explain_demand` with the thread pools capped.

    Returns
    -------
    dict
        ``scores``, ``importance``, ``areas``, ``morans_i``, ``caveat`` and the rest.
    """
    from placekit.drivers import explain_demand

    with _limited():
        return dict(explain_demand(place, demand, n_repeats=n_repeats))


def prevention(
    place: Place,
    drivers: dict[str, Any],
    *,
    rules: dict[str, float] | None = None,
    weights: dict[str, float] | None = None,
) -> pd.DataFrame:
    """
    Tiers with reasons and priorities within each locality.

    See :func:`placekit.targeting.prevention_table`.

    Returns
    -------
    pd.DataFrame
        One row per LSOA.
    """
    from placekit.targeting import TierRules, prevention_table

    tr = TierRules(**rules) if rules else TierRules()
    out: pd.DataFrame = prevention_table(place, drivers, rules=tr, weights=weights)
    return out


def sensitivity(
    place: Place,
    drivers: dict[str, Any],
    *,
    rules: dict[str, float] | None = None,
    weights: dict[str, float] | None = None,
    n_runs: int = 100,
) -> pd.DataFrame:
    """
    Share of each locality's top 5 that stays there when every weight moves by up to ±30 %.

    Returns
    -------
    pd.DataFrame
        One row per locality of ``place.locality_level``.
    """
    from placekit.targeting import DEFAULT_CRITERIA, weight_sensitivity

    prev = prevention(place, drivers, rules=rules, weights=weights)
    with _limited():
        out: pd.DataFrame = weight_sensitivity(
            prev[list(DEFAULT_CRITERIA)],
            place.codes(place.locality_level),
            weights=weights or dict(DEFAULT_CRITERIA),
            n_runs=n_runs,
        )[0]
    return out


def scenario_engine(
    place: Place,
    *,
    demand: str | None = None,
    progress: Progress | None = None,
    use_cache: bool = True,
) -> Any:
    """
    A :class:`placekit.scenarios.ScenarioEngine` on the place with its walk access added.

    The effect of access on ``demand`` (a double machine learning fit, 1-4 s per
    facility type) is saved once per pack on disk and read back by later servers;
    an uploaded demand (``user_`` ids) is never saved.

    Returns
    -------
    ScenarioEngine
        Ready to ``apply`` scenarios.
    """
    from placekit.scenarios import ScenarioEngine

    full = with_access(place, progress=progress)
    def saved(key: str, build: Callable[[], Any]) -> Any:
        with _limited():
            return _cached(full, "access_effect", (key,), build, use=use_cache)[0]

    # an uploaded demand never goes to disk
    store = saved if demand is not None and not demand.startswith("user_") else None

    with _limited():
        return ScenarioEngine(full, demand=demand, progress=progress, effect_store=store)


# ----------------------------------------------------------------------------- the table
@dataclass(frozen=True)
class AreaTable:
    """Areas of one level with indicators side by side, ready to show or export."""

    table: pd.DataFrame
    level: str
    indicators: list[str]
    units: dict[str, str]
    labels: dict[str, str]
    city: dict[str, float]
    filter_level: str | None
    filter_codes: list[str]
    notes: dict[str, str]
    england: str

    def display(self) -> pd.DataFrame:
        """
        The table with labels and units as column names, for the screen.

        Returns
        -------
        pd.DataFrame
            Indexed by area code.
        """
        ren = {i: f"{self.labels[i]} ({self.units[i]})" for i in self.indicators}
        return self.table.rename(columns=ren)

    def spatial(self, place: Place) -> gpd.GeoDataFrame:
        """
        The table with each area's polygon (EPSG:27700), for GeoPackage or GeoJSON.

        Returns
        -------
        gpd.GeoDataFrame
            Rows in the table's order.
        """
        geom = place.areas(self.level).geometry.reindex(self.table.index)
        out = gpd.GeoDataFrame(self.table.copy(), geometry=geom, crs=place.lsoa.crs)
        out.attrs.update(self.table.attrs)
        return out


def _locality_columns(place: Place, level: str, index: pd.Index) -> pd.DataFrame:
    """``<level>_code`` and ``<level>_name`` of every coarser level an area lies in."""
    cols: dict[str, pd.Series] = {}
    if level == "lsoa":
        lsoa = place.lsoa.reindex(index)
        for lv in place.levels:
            cols[f"{lv}_code"] = lsoa[f"{lv}_code"]
            cols[f"{lv}_name"] = lsoa[f"{lv}_name"]
        return pd.DataFrame(cols, index=index)
    key = place.codes(level)
    for lv in place.parents(level):
        pairs = (
            pd.DataFrame({"a": key, "c": place.lsoa[f"{lv}_code"], "n": place.lsoa[f"{lv}_name"]})
            .drop_duplicates("a")
            .set_index("a")
        )
        cols[f"{lv}_code"] = pairs["c"].reindex(index)
        cols[f"{lv}_name"] = pairs["n"].reindex(index)
    return pd.DataFrame(cols, index=index)


def _suppressed(place: Place, indicator: str, level: str, index: pd.Index) -> pd.Series:
    if indicator not in place.suppress:
        return pd.Series(False, index=index)
    from placekit.disclosure import suppress_counts

    return suppress_counts(place, place.suppress[indicator], level).reindex(index).fillna(False)


def area_table(
    place: Place,
    level: str,
    indicators: list[str],
    *,
    filter_level: str | None = None,
    filter_codes: list[str] | None = None,
    england: bool = True,
    sort_by: str | None = None,
    ascending: bool | None = None,
) -> AreaTable:
    """
    Areas of ``level`` (optionally those inside some areas of a coarser level) with indicators.

    Parameters
    ----------
    place
        The place (access indicators among ``indicators`` are computed if missing:
        pass a place from :func:`with_access` to reuse them).
    level
        ``"lsoa"`` or one of ``place.levels``.
    indicators
        Indicator ids, shown side by side in this order.
    filter_level, filter_codes
        Keep only the areas inside these areas of ``filter_level`` (any level of the
        place; an LSOA is inside the area its ``<filter_level>_code`` names, a coarser
        area inside the one holding most of its population). Codes or names.
    england
        Add England's value, rank, decile and better/similar/worse (where the pack
        has England tables).
    sort_by, ascending
        Sort by this indicator (default the first); ``ascending`` defaults to worst first.

    Returns
    -------
    AreaTable
        ``table`` with ``area_name``, ``population`` (whole people), every locality
        column (``<level>_code``/``<level>_name``), the indicators, their England
        columns, ``suppressed`` (True where a value is hidden by disclosure control,
        which is not the same as missing) and ``missing`` (indicators with no data).

    Raises
    ------
    DataError
        If a level, indicator or filter area is unknown.
    """
    from placekit.profile import with_england

    place._check_level(level)
    ids = [i for i in dict.fromkeys(indicators) if i != "population"]
    if not ids:
        msg = "Pick at least one indicator for the table."
        raise DataError(msg)
    place = with_access(place, ids)
    base = place.table(level, ids)
    notes = dict(base.attrs.get("notes", {}))
    frame = pd.DataFrame(base.drop(columns="geometry"))
    codes: list[str] = []
    if filter_level:
        if filter_level == "lsoa" or filter_level not in place.levels:
            msg = f"filter level must be one of {place.levels}; got {filter_level!r}."
            raise DataError(msg)
        areas = place.localities[filter_level]
        by_name = {str(n).casefold(): c for c, n in areas["area_name"].items()}
        for want in filter_codes or []:
            w = str(want).strip()
            code = w if w in areas.index else by_name.get(w.casefold())
            if code is None:
                sample = ", ".join(sorted(map(str, areas["area_name"]))[:12])
                msg = (
                    f"No {place.level_label(filter_level, count=False)} called {w!r} in "
                    f"{place.name}. Some of its areas: {sample}."
                )
                raise DataError(msg)
            codes.append(str(code))
        if codes:
            inside = _inside(place, level, filter_level)
            frame = frame[inside.reindex(frame.index).isin(codes)]
    if england:
        frame = pd.DataFrame(with_england(place, frame, level))
    eng_note = str(frame.attrs.get("england", "not asked for"))
    loc = _locality_columns(place, level, frame.index)
    loc = loc.drop(columns=[c for c in loc.columns if c.startswith(f"{level}_")], errors="ignore")
    supp = pd.DataFrame({i: _suppressed(place, i, level, frame.index) for i in ids})
    missing = frame[ids].isna() & ~supp
    out = pd.concat([frame[["area_name"]], loc, frame.drop(columns=["area_name"])], axis=1)
    out["population"] = out["population"].round().astype("Int64")
    for i in ids:
        if place.catalogue.row(i)["kind"] == "count" or place.catalogue.row(i)["unit"] in (
            "people",
            "count",
        ):
            out[i] = out[i].round()
    city = {i: float(city_value(place, i)) for i in ids}
    # the place's value right after each indicator, built in one go (no column-by-column insert)
    order: list[str] = []
    for col in out.columns:
        order.append(col)
        if col in city:
            order.append(f"{col}_city")
    city_cols = pd.DataFrame({f"{i}_city": city[i] for i in ids}, index=out.index)
    flags = pd.DataFrame(
        {
            "suppressed": supp.any(axis=1),
            "suppressed_indicators": supp.apply(
                lambda r: ";".join(c for c in ids if r[c]), axis=1
            ).astype(str),
            "missing_indicators": missing.apply(
                lambda r: ";".join(c for c in ids if r[c]), axis=1
            ).astype(str),
        },
        index=out.index,
    )
    out = pd.concat([out, city_cols], axis=1)[order]
    out = pd.concat([out, flags], axis=1)
    key = sort_by if sort_by in ids else ids[0]
    worse_high = place.catalogue.row(key)["direction"] != "higher_better"
    asc = (not worse_high) if ascending is None else ascending
    out = out.sort_values(key, ascending=asc, na_position="last", kind="stable")
    out.index.name = "area_code"
    out.attrs["notes"] = notes
    out.attrs["england"] = eng_note
    cat = place.catalogue
    return AreaTable(
        table=out,
        level=level,
        indicators=ids,
        units={i: str(cat.row(i)["unit"]) for i in ids},
        labels={i: str(cat.row(i)["label"]) for i in ids},
        city=city,
        filter_level=filter_level,
        filter_codes=codes,
        notes=notes,
        england=eng_note,
    )


def _inside(place: Place, level: str, outer: str) -> pd.Series:
    """The ``outer`` area each area of ``level`` lies in (by most population)."""
    outer_codes = place.lsoa[f"{outer}_code"]
    if level == "lsoa":
        return outer_codes
    pop = place.weights["population"].reindex(place.lsoa.index).fillna(0.0)
    pairs = pd.DataFrame({"a": place.codes(level), "o": outer_codes, "p": pop})
    best = pairs.groupby(["a", "o"])["p"].sum().reset_index().sort_values("p", ascending=False)
    return best.drop_duplicates("a").set_index("a")["o"]


def least_served(
    place: Place, level: str, code: str, *, n: int = 3, measure: str = LEAST_SERVED
) -> pd.DataFrame:
    """
    A locality's best and least served LSOAs by walk time to a GP (minutes).

    Parameters
    ----------
    place
        The place (walk access is added if missing, from the per-pack cache).
    level, code
        The locality.
    n
        How many of each.
    measure
        The access indicator (default :data:`LEAST_SERVED`).

    Returns
    -------
    pd.DataFrame
        Indexed by LSOA code: ``name``, ``which`` (best / least served), the value
        in a column named with its label and unit.
    """
    full = with_access(place, [measure])
    mine = full.lsoa.index[full.codes(level) == code]
    s = full.indicators.loc[mine, measure].dropna().sort_values()
    meta = full.catalogue.row(measure)
    col = f"{meta['label']} ({meta['unit']})"
    best = s.head(n).to_frame(col).assign(which="best served")
    worst = s.tail(n).iloc[::-1].to_frame(col).assign(which="least served")
    out = pd.concat([best, worst[~worst.index.isin(best.index)]])
    out.insert(0, "name", full.lsoa.loc[out.index, "area_name"])
    out[col] = out[col].round(1)
    out.index.name = "area_code"
    return out


# ----------------------------------------------------------------------------- search
@dataclass(frozen=True)
class SearchHit:
    """Where a search lands: a point (EPSG:4326) and, when found, the area it names."""

    query: str
    kind: str
    lon: float
    lat: float
    level: str
    code: str
    name: str
    lsoa: str


def search_place(place: Place, query: str) -> SearchHit:
    """
    Find a postcode (``place.postcode_xy``) or an area by name or code at any level.

    Returns
    -------
    SearchHit
        ``kind`` is ``"postcode"`` or ``"area"``; ``lsoa`` is the LSOA the point lies in
        (empty outside the place).

    Raises
    ------
    DataError
        When nothing matches, with a few names that do.
    """
    import pyproj
    import shapely

    q = str(query).strip()
    if not q:
        msg = "Type a postcode or the name of an area to search."
        raise DataError(msg)
    to_ll = pyproj.Transformer.from_crs("EPSG:27700", "EPSG:4326", always_xy=True)
    compact = q.replace(" ", "").upper()
    looks_like_pc = any(ch.isdigit() for ch in compact) and compact[:1].isalpha()
    if looks_like_pc and compact in place.postcodes().index:
        x, y = place.postcode_xy(q)
        lon, lat = to_ll.transform(x, y)
        hits = place.lsoa.index[place.lsoa.geometry.intersects(shapely.Point(x, y))]
        code = str(hits[0]) if len(hits) else ""
        name = str(place.lsoa.loc[code, "area_name"]) if code else ""
        return SearchHit(q, "postcode", float(lon), float(lat), "lsoa", code, name, code)
    fold = q.casefold()
    for level in ["lsoa", *place.levels]:
        areas = place.areas(level)
        names = areas["area_name"].astype(str)
        exact = areas.index[(names.str.casefold() == fold) | (areas.index.astype(str) == q.upper())]
        part = areas.index[names.str.casefold().str.contains(fold, regex=False)]
        pick = exact if len(exact) else part
        if len(pick):
            code = str(pick[0])
            pt = areas.loc[[code]].geometry.representative_point().iloc[0]
            lon, lat = to_ll.transform(pt.x, pt.y)
            inside = place.lsoa.index[place.lsoa.geometry.intersects(pt)]
            return SearchHit(
                q,
                "area",
                float(lon),
                float(lat),
                level,
                code,
                str(areas.loc[code, "area_name"]),
                str(inside[0]) if len(inside) else "",
            )
    sample = ", ".join(sorted(map(str, place.localities[place.locality_level]["area_name"]))[:8])
    msg = (
        f"Nothing in {place.name} matches {q!r}: type a postcode (e.g. from a letter) or the "
        f"name of a neighbourhood, ward or locality such as {sample}."
    )
    raise DataError(msg)
