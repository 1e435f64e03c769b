"""Place interventions: test a change, see what it does for access, people and demand.

A scenario is a plain, versioned JSON document::

    {"placekit_scenario": 1, "name": "New GP in Arbourthorne", "mode": "walk",
     "threshold_min": 10,
     "interventions": [
        {"type": "add_facility", "facility": "gp", "lon": -1.44, "lat": 53.36, "name": "New GP"},
        {"type": "close_facility", "facility": "gp", "id": "C88001"},
        {"type": "move_facility", "facility": "pharmacy", "id": "FA123", "postcode": "S2 5AA"},
        {"type": "add_link", "from": {"lon": -1.47, "lat": 53.38}, "to": {"lon": -1.465, "lat": 53.382}},
        {"type": "add_housing", "postcode": "S5 6AB", "dwellings": 200, "people": 460},
        {"type": "improve_greenspace", "lon": -1.45, "lat": 53.40, "area_m2": 20000}
     ]}

Locations are ``lon``/``lat`` (WGS84), ``x``/``y`` (EPSG:27700) or a ``postcode``
from the pack's postcode lookup. :class:`ScenarioEngine` applies a scenario
incrementally (facilities and links: the exact updates of
:mod:`placekit.accessibility`) and returns baseline, scenario and change per
LSOA, per locality and by IMD decile, with the predicted change in demand from
the fold models of :func:`placekit.drivers.fit_demand_ensemble`.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

from placekit.accessibility import (
    AccessModel,
    FacilitySet,
    NearestState,
    Origins,
    facilities_from_layer,
)
from placekit.config import WORKING_CRS
from placekit.errors import DataError
from placekit.place import Place

__all__ = [
    "INTERVENTIONS",
    "SCHEMA_VERSION",
    "ScenarioEngine",
    "ScenarioResult",
    "compare_scenarios",
    "list_scenarios",
    "load_scenario",
    "save_scenario",
    "validate_scenario",
]

SCHEMA_VERSION = 1
INTERVENTIONS = ("add_facility", "close_facility", "move_facility", "add_link", "add_housing",
                 "improve_greenspace")
_TO_BNG = pyproj.Transformer.from_crs("EPSG:4326", WORKING_CRS, always_xy=True)


# ----------------------------------------------------------------------------- files


def validate_scenario(doc: dict[str, object], *, source: str = "scenario") -> dict[str, object]:
    """
    Check a scenario document; returns it with defaults filled in.

    Raises
    ------
    DataError
        Naming the intervention and the field that is wrong.
    """
    if not isinstance(doc, dict):
        msg = f"{source} must be a JSON object."
        raise DataError(msg)
    version = doc.get("placekit_scenario")
    if version != SCHEMA_VERSION:
        msg = f"{source}: 'placekit_scenario' must be {SCHEMA_VERSION}; got {version!r}."
        raise DataError(msg)
    out = {"name": "unnamed scenario", "description": "", "mode": "walk", "threshold_min": 10.0, **doc}
    if out["mode"] not in ("walk", "drive"):
        msg = f"{source}: mode must be 'walk' or 'drive'; got {out['mode']!r}."
        raise DataError(msg)
    items = out.get("interventions")
    if not isinstance(items, list) or not items:
        msg = f"{source}: 'interventions' must be a non-empty list."
        raise DataError(msg)
    for n, it in enumerate(items, start=1):
        kind = it.get("type") if isinstance(it, dict) else None
        if kind not in INTERVENTIONS:
            msg = f"{source}: intervention {n} has type {kind!r}; types are {list(INTERVENTIONS)}."
            raise DataError(msg)
        need = {"add_facility": ["facility"], "close_facility": ["facility", "id"],
                "move_facility": ["facility", "id"], "add_link": ["from", "to"],
                "add_housing": ["people"], "improve_greenspace": ["area_m2"]}[kind]
        missing = [k for k in need if k not in it]
        if missing:
            msg = f"{source}: intervention {n} ({kind}) is missing {missing}."
            raise DataError(msg)
        if kind in ("add_facility", "move_facility", "add_housing", "improve_greenspace") and not _has_location(it):
            msg = f"{source}: intervention {n} ({kind}) needs lon/lat, x/y or postcode."
            raise DataError(msg)
    return out


def _has_location(it: dict[str, object]) -> bool:
    return ("lon" in it and "lat" in it) or ("x" in it and "y" in it) or "postcode" in it


def save_scenario(doc: dict[str, object], path: str | Path) -> Path:
    """Validate and write a scenario as pretty JSON."""
    p = Path(path)
    p.write_text(json.dumps(validate_scenario(doc, source=p.name), indent=2, sort_keys=True) + "\n",
                 encoding="utf-8")
    return p


def load_scenario(path: str | Path) -> dict[str, object]:
    """Read and validate a scenario JSON file."""
    p = Path(path)
    if not p.is_file():
        msg = f"No scenario file at {p}."
        raise DataError(msg)
    try:
        doc = json.loads(p.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        msg = f"{p.name} is not valid UTF-8 JSON: {err}."
        raise DataError(msg) from None
    return validate_scenario(doc, source=p.name)


def list_scenarios(folder: str | Path) -> pd.DataFrame:
    """Name, description, intervention count and file of every valid scenario in ``folder``."""
    rows = []
    for p in sorted(Path(folder).glob("*.json")):
        try:
            d = load_scenario(p)
        except DataError:
            continue
        rows.append({"file": p.name, "name": d["name"], "description": d["description"],
                     "interventions": len(d["interventions"])})  # type: ignore[arg-type]
    return pd.DataFrame(rows, columns=["file", "name", "description", "interventions"])


# ----------------------------------------------------------------------------- engine


@dataclass
class ScenarioResult:
    """
    Baseline against scenario.

    Attributes
    ----------
    areas
        Per LSOA: for each facility type touched, ``<type>_min_base``,
        ``<type>_min_scn``, ``<type>_min_change`` and ``<type>_people_newly_within``;
        ``population_base``/``population_scn``; and, with a demand model,
        ``demand_base``, ``demand_scn``, ``demand_change`` and ``demand_change_sd``.
    localities
        ``{level: frame}`` of the same, aggregated (people summed, minutes
        population-weighted).
    by_imd_decile
        People newly within the threshold, per IMD 2025 decile.
    seconds
        Time to apply the scenario.
    """

    scenario: dict[str, object]
    areas: pd.DataFrame
    localities: dict[str, pd.DataFrame]
    by_imd_decile: pd.DataFrame
    seconds: float
    notes: list[str] = field(default_factory=list)


class ScenarioEngine:
    """
    Holds the network, origins and baseline access for a place, ready to apply scenarios.

    Parameters
    ----------
    place
        The place.
    mode
        ``"walk"`` or ``"drive"``.
    demand_model
        Optional fitted :class:`~placekit.drivers.DemandEnsemble`; its access
        drivers (``<type>_walk_min``) are updated by the scenario.
    """

    def __init__(self, place: Place, *, mode: str = "walk", demand_model: object | None = None,
                 progress: object | None = None):
        self.place = place
        self.mode = mode
        self.net = place.network(mode, progress=progress)
        self.model = AccessModel(self.net, metric="length" if mode == "walk" else "time")
        self.model.reverse_matrix()
        self.origins: Origins = place.origins(mode)
        self.demand_model = demand_model
        self._fac: dict[str, FacilitySet] = {}
        self._base: dict[str, NearestState] = {}
        cells = pd.Series(1.0, index=self.origins.area_code).groupby(level=0).transform("size")
        pop = place.weights["population"].reindex(self.origins.area_code).to_numpy()
        self.people_per_origin = pop / cells.to_numpy()
        self._p0: np.ndarray | None = None

    # -- helpers ---------------------------------------------------------------------------
    def baseline(self, facility: str) -> NearestState:
        """Baseline nearest-facility state for one type (computed once)."""
        if facility not in self._base:
            if facility not in self.place.available_layers:
                msg = (f"Unknown facility type {facility!r} for {self.place.name}; types are "
                       f"{sorted(self.place.available_layers)}.")
                raise DataError(msg)
            self._fac[facility] = facilities_from_layer(self.net, self.place.layer(facility), name=facility)
            self._base[facility] = self.model.solve(self._fac[facility])
        return self._base[facility]

    def locate(self, item: dict[str, object]) -> tuple[float, float]:
        """EPSG:27700 coordinates of an intervention (lon/lat, x/y or postcode)."""
        if "x" in item and "y" in item:
            return float(item["x"]), float(item["y"])  # type: ignore[arg-type]
        if "lon" in item and "lat" in item:
            x, y = _TO_BNG.transform(float(item["lon"]), float(item["lat"]))  # type: ignore[arg-type]
            return float(x), float(y)
        if "postcode" in item:
            return self.place.postcode_xy(str(item["postcode"]))
        msg = f"Intervention {item} has no location (lon/lat, x/y or postcode)."
        raise DataError(msg)

    def isochrones(self, scenario: dict[str, object], *, threshold_min: float | None = None) -> gpd.GeoDataFrame:
        """
        The area within ``threshold_min`` of each added or moved facility, as polygons (EPSG:27700).

        ``threshold_min`` defaults to the scenario's own threshold.
        """
        from placekit.accessibility import isochrone

        sc = validate_scenario(scenario)
        minutes = float(threshold_min if threshold_min is not None else sc["threshold_min"])  # type: ignore[arg-type]
        cost = minutes * self.model.walk_speed_kmh * 1000 / 60 if self.model.metric == "length" else minutes
        rows = []
        for it in sc["interventions"]:  # type: ignore[union-attr]
            if it["type"] in ("add_facility", "move_facility"):
                x, y = self.locate(it)
                rows.append({"name": f"{minutes:g}-minute {self.mode} from {it.get('name', it['facility'])}",
                             "geometry": isochrone(self.model, x, y, max_cost=cost)})
        out = gpd.GeoDataFrame(rows, geometry="geometry", crs=WORKING_CRS) if rows else gpd.GeoDataFrame(
            {"name": []}, geometry=[], crs=WORKING_CRS)
        out.attrs["label"] = f"{minutes:g}-minute {self.mode} isochrone"
        return out

    def _minutes(self, cost: np.ndarray) -> np.ndarray:
        return cost / (self.model.walk_speed_kmh * 1000.0 / 60.0) if self.model.metric == "length" else cost

    def _origin_minutes(self, state: NearestState) -> np.ndarray:
        return self._minutes(state.cost[self.origins.node] + self.model.offset_cost(self.origins.offset_m))

    def _lsoa_of(self, x: float, y: float) -> str:
        hit = self.place.lsoa.index[self.place.lsoa.contains(shapely.Point(x, y))]
        if len(hit) == 0:
            msg = f"The point ({x:.0f}, {y:.0f}) is outside the city."
            raise DataError(msg)
        return str(hit[0])

    # -- apply -----------------------------------------------------------------------------
    def apply(self, scenario: dict[str, object]) -> ScenarioResult:
        """
        Apply a scenario and compare it with the baseline.

        Raises
        ------
        DataError
            For an invalid scenario, an unknown facility id or postcode, or a
            location outside the city.
        """
        t0 = time.perf_counter()
        sc = validate_scenario(scenario)
        threshold = float(sc["threshold_min"])  # type: ignore[arg-type]
        model = self.model
        states: dict[str, NearestState] = {}
        pop_add = pd.Series(0.0, index=self.place.lsoa.index)
        notes: list[str] = []
        green_polys: list[shapely.Geometry] = []
        for it in sc["interventions"]:  # type: ignore[union-attr]
            kind = it["type"]
            if kind in ("add_facility", "close_facility", "move_facility"):
                f = str(it["facility"])
                st = states.get(f) or self.baseline(f)
                if kind == "add_facility":
                    x, y = self.locate(it)
                    self._lsoa_of(x, y)
                    st = model.add_facility(st, x, y, facility_id=str(it.get("name", f"new {f}")))
                elif kind == "close_facility":
                    st = model.close_facility(st, str(it["id"]))
                else:
                    x, y = self.locate(it)
                    st = model.move_facility(st, str(it["id"]), x, y)
                states[f] = st
            elif kind == "add_link":
                a, b = self.locate(it["from"]), self.locate(it["to"])
                for f in ("gp", "greenspace", "pharmacy", "stop"):
                    states.setdefault(f, self.baseline(f))
                model, states = model.add_link(a[0], a[1], b[0], b[1], states)
            elif kind == "add_housing":
                x, y = self.locate(it)
                code = self._lsoa_of(x, y)
                pop_add[code] += float(it["people"])
                notes.append(f"{float(it['people']):.0f} people ({it.get('dwellings', '?')} dwellings) added to {code}")
            elif kind == "improve_greenspace":
                x, y = self.locate(it)
                self._lsoa_of(x, y)
                r = float(np.sqrt(float(it["area_m2"]) / np.pi))
                green_polys.append(shapely.Point(x, y).buffer(r))
        if green_polys:
            base = self.baseline("greenspace")
            extra = gpd.GeoDataFrame(geometry=green_polys, crs=WORKING_CRS)
            fs_new = facilities_from_layer(self.net, extra, name="new_greenspace")
            st = states.get("greenspace", base)
            merged = FacilitySet("greenspace", np.append(st.facilities.ids, fs_new.ids),
                                 np.append(st.facilities.fac, fs_new.fac + st.facilities.ids.size),
                                 np.append(st.facilities.node, fs_new.node),
                                 np.append(st.facilities.offset_m, fs_new.offset_m))
            states["greenspace"] = model.solve(merged)
        return self._compare(sc, states, pop_add, threshold, notes, t0)

    def _compare(self, sc: dict[str, object], states: dict[str, NearestState], pop_add: pd.Series,
                 threshold: float, notes: list[str], t0: float) -> ScenarioResult:
        codes = self.origins.area_code
        people = self.people_per_origin
        pop = self.place.weights["population"]
        cols: dict[str, pd.Series] = {"population_base": pop, "population_scn": pop + pop_add}
        for f, st in states.items():
            before, after = self._origin_minutes(self._base[f]), self._origin_minutes(st)
            cols[f"{f}_min_base"] = pd.Series(before).groupby(codes).mean()
            cols[f"{f}_min_scn"] = pd.Series(after).groupby(codes).mean()
            cols[f"{f}_min_change"] = cols[f"{f}_min_scn"] - cols[f"{f}_min_base"]
            newly = (after <= threshold) & (before > threshold)
            cols[f"{f}_people_newly_within"] = pd.Series(people * newly).groupby(codes).sum()
        areas = pd.DataFrame(cols).reindex(self.place.lsoa.index)
        if self.demand_model is not None:
            dm = self.demand_model
            X1 = self.place.indicators.copy()
            for f in states:
                col = f"{f}_{self.mode}_min"
                if col in dm.drivers:  # type: ignore[attr-defined]
                    X1[col] = X1[col] + areas[f"{f}_min_change"].fillna(0)
            p0 = self._baseline_predictions()
            p1 = np.vstack([m.predict(X1[dm.drivers].fillna(dm.fill)) for m in dm.models])  # type: ignore[attr-defined]
            diffs = p1 - p0
            areas["demand_base"], areas["demand_scn"] = p0.mean(axis=0), p1.mean(axis=0)
            areas["demand_change"], areas["demand_change_sd"] = diffs.mean(axis=0), diffs.std(axis=0)
            notes.append(f"Demand: {dm.demand} from a {dm.kind} model, held-out R² {dm.heldout_r2:.2f}; "  # type: ignore[attr-defined]
                         "the change follows the model's cross-sectional association between access and "
                         "demand, which is confounded (e.g. suburbs far from services are often healthier); "
                         "it is an area-level association, not a forecast for individuals.")
        localities = {lvl: self._aggregate(areas, lvl) for lvl in self.place.levels}
        dec = self.place.indicators["imd2025_decile"]
        newly_cols = [c for c in areas if c.endswith("_people_newly_within")]
        by_dec = areas[newly_cols].groupby(dec).sum()
        by_dec["population"] = pop.groupby(dec).sum()
        by_dec.index.name = "imd2025_decile"
        return ScenarioResult(sc, areas, localities, by_dec, time.perf_counter() - t0, notes)

    def _baseline_predictions(self) -> np.ndarray:
        if self._p0 is None:
            dm = self.demand_model
            X0 = self.place.indicators[dm.drivers].fillna(dm.fill)  # type: ignore[attr-defined]
            self._p0 = np.vstack([m.predict(X0) for m in dm.models])  # type: ignore[attr-defined]
        return self._p0

    def _aggregate(self, areas: pd.DataFrame, level: str) -> pd.DataFrame:
        key = self.place.codes(level)
        w = areas["population_base"]
        out = {}
        for c in areas.columns:
            if c.endswith("_people_newly_within") or c.startswith("population_"):
                out[c] = areas[c].groupby(key).sum()
            elif c.endswith("_sd"):
                out[c] = np.sqrt(((areas[c] ** 2) * (w / w.groupby(key).transform("sum")) ** 2).groupby(key).sum())
            else:
                out[c] = (areas[c] * w).groupby(key).sum() / w.groupby(key).sum()
        res = pd.DataFrame(out)
        res.insert(0, "area_name", self.place.localities[level]["area_name"].reindex(res.index))
        return res


def compare_scenarios(results: dict[str, ScenarioResult]) -> pd.DataFrame:
    """Side-by-side headline figures of several scenario results, one column per scenario."""
    rows = {}
    for name, r in results.items():
        a = r.areas
        d: dict[str, float] = {}
        for c in a.columns:
            if c.endswith("_people_newly_within"):
                d[c] = float(a[c].sum())
            elif c.endswith("_min_change"):
                d[c.replace("_change", "_mean_change")] = float((a[c] * a["population_base"]).sum()
                                                               / a["population_base"].sum())
        if "demand_change" in a:
            d["demand_change_mean"] = float(a["demand_change"].mean())
        d["people_added"] = float((a["population_scn"] - a["population_base"]).sum())
        rows[name] = d
    return pd.DataFrame(rows)
