"""Network access: how far every neighbourhood is from what keeps people well.

The engine (:class:`AccessModel`) works on a :class:`~placekit.network.StreetNetwork`.
For one facility type it runs a single Dijkstra from a virtual source joined to
every facility's access node(s) (``scipy.sparse.csgraph.dijkstra``), so each
node learns its cost to the nearest facility and which facility that is.

Origins are where people live (:mod:`placekit.origins`, the method the pack's
manifest names: a residential address grid, live postcode centroids, building
footprints or population-weighted centroids), each snapped to its nearest
network node with the straight-line snap distance added. An LSOA's value is the
(weighted) mean over its origins, so it reflects where homes are, not the
geometric centre.

Facilities: points snap to their nearest node (snap distance added); polygons
(green space) are reached at their edge: nodes inside the polygon (or within
10 m of it) and the nearest node to points every 50 m along its boundary.

Incremental updates (:meth:`AccessModel.add_facility`,
:meth:`AccessModel.close_facility`, :meth:`AccessModel.add_link`) give exactly
the same answer as a full recompute.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import geopandas as gpd
import numpy as np
import pandas as pd
import scipy.sparse as sp
import shapely
from scipy.sparse.csgraph import dijkstra

from placekit._validate import require_projected
from placekit.errors import DataError
from placekit.network import WALK_SPEED_KMH, StreetNetwork
from placekit.origins import Origins
from placekit.pack import default_layers

__all__ = [
    "DEFAULT_TYPES",
    "AccessModel",
    "FacilitySet",
    "NearestState",
    "Origins",
    "access_indicators",
    "access_table",
    "add_access_indicators",
    "count_within",
    "facilities_from_layer",
    "isochrone",
]

#: Default facility types, each a layer of ``placekit/data/layers.json``.
DEFAULT_TYPES = (
    "gp",
    "pharmacy",
    "dentist",
    "greenspace",
    "leisure",
    "library",
    "community_centre",
    "stop",
    "fast_food",
    "pub",
    "betting",
)
_UNREACHED = -1


@dataclass(frozen=True)
class FacilitySet:
    """
    Facilities of one type as access points on a network.

    Attributes
    ----------
    ids
        Facility identifiers (one per facility).
    fac
        For every access point, the index into ``ids`` of its facility.
    node
        For every access point, its network node.
    offset_m
        For every access point, the straight-line distance from the facility to
        its node, in metres.
    """

    name: str
    ids: np.ndarray
    fac: np.ndarray
    node: np.ndarray
    offset_m: np.ndarray


def facilities_from_layer(
    net: StreetNetwork,
    layer: gpd.GeoDataFrame,
    *,
    name: str,
    edge_spacing_m: float = 50.0,
    inside_buffer_m: float = 10.0,
) -> FacilitySet:
    """
    Snap a point or polygon layer (EPSG:27700) to the network.

    Polygons are reached at their edge (see the module notes).
    """
    require_projected(layer, name=f"Facility layer {name!r}")
    geoms = layer.geometry.to_numpy()
    id_col = "id" if "id" in layer.columns else None
    ids = (
        layer[id_col].astype(str).to_numpy()
        if id_col
        else np.asarray([f"{name}:{i}" for i in range(len(layer))])
    )
    is_pt = shapely.get_type_id(geoms) == 0
    fac_l, x_l, y_l = (
        [np.flatnonzero(is_pt)],
        [shapely.get_x(geoms[is_pt])],
        [shapely.get_y(geoms[is_pt])],
    )
    if (~is_pt).any():
        for i in np.flatnonzero(~is_pt):
            g = geoms[i]
            ring = g.boundary
            n = max(int(ring.length // edge_spacing_m), 1)
            pts = shapely.line_interpolate_point(
                ring, np.linspace(0, ring.length, n, endpoint=False)
            )
            fac_l.append(np.full(len(pts), i))
            x_l.append(shapely.get_x(pts))
            y_l.append(shapely.get_y(pts))
        # nodes inside (or within inside_buffer_m of) each polygon, at offset 0
        node_pts = shapely.points(net.node_x, net.node_y)
        tree = shapely.STRtree(node_pts)
        poly_idx = np.flatnonzero(~is_pt)
        pairs = tree.query(shapely.buffer(geoms[poly_idx], inside_buffer_m), predicate="intersects")
        inside_fac, inside_node = poly_idx[pairs[0]], pairs[1]
    else:
        inside_fac = inside_node = np.array([], dtype=np.int64)
    fac = np.concatenate(fac_l).astype(np.int64)
    x, y = np.concatenate(x_l), np.concatenate(y_l)
    node, off = net.snap(x, y)
    fac = np.concatenate([fac, inside_fac])
    node = np.concatenate([node, inside_node])
    off = np.concatenate([off, np.zeros(inside_node.size)])
    if fac.size == 0:
        msg = f"Facility layer {name!r} has no features."
        raise DataError(msg)
    return FacilitySet(name, ids, fac, node.astype(np.int64), off)


@dataclass(frozen=True)
class NearestState:
    """
    Cost from every node to its nearest facility, and which facility that is.

    ``cost`` is in the model's metric (metres or minutes); ``nearest`` holds an
    index into ``facilities.ids`` or -1 where no facility is reachable.
    """

    facilities: FacilitySet
    cost: np.ndarray
    nearest: np.ndarray
    metric: str


@dataclass
class AccessModel:
    """
    Shortest-path engine on one network with one metric.

    Parameters
    ----------
    net
        The street network.
    metric
        ``"length"`` (metres) or ``"time"`` (minutes).
    walk_speed_kmh
        Walking speed: used for walk times and to turn snap distances into minutes.
    drive_speeds_kmh
        Overrides of :data:`placekit.network.DRIVE_SPEEDS_KMH`.
    """

    net: StreetNetwork
    metric: str = "length"
    walk_speed_kmh: float = WALK_SPEED_KMH
    drive_speeds_kmh: dict[str, float] | None = None
    extra_edges: tuple[tuple[int, int, float], ...] = ()
    _rev: sp.csr_matrix | None = field(default=None, init=False, repr=False)
    _coo: tuple[np.ndarray, np.ndarray, np.ndarray] | None = field(
        default=None, init=False, repr=False
    )

    def __post_init__(self) -> None:
        if self.metric not in ("length", "time"):
            msg = f"metric must be one of ['length', 'time']; got {self.metric!r}."
            raise DataError(msg)
        if self.walk_speed_kmh <= 0:
            msg = f"walk_speed_kmh must be positive; got {self.walk_speed_kmh}."
            raise DataError(msg)

    # -- graph -----------------------------------------------------------------------------
    @property
    def unit(self) -> str:
        """``"m"`` or ``"min"``."""
        return "m" if self.metric == "length" else "min"

    def _max_speed_m_per_cost(self) -> float:
        """Metres per unit of cost at the fastest edge (1 for length), for straight-line bounds."""
        if self.metric == "length":
            return 1.0
        r, c, w = self._edges()
        metres = np.hypot(
            self.net.node_x[r] - self.net.node_x[c], self.net.node_y[r] - self.net.node_y[c]
        )
        return float(np.max(metres / w)) if w.size else 1.0

    def offset_cost(self, offset_m: np.ndarray) -> np.ndarray:
        """Cost of walking ``offset_m`` metres to or from the network."""
        return (
            offset_m
            if self.metric == "length"
            else offset_m / (self.walk_speed_kmh * 1000.0 / 60.0)
        )

    def _edges(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if self._coo is None:
            w = (
                self.net.length_m
                if self.metric == "length"
                else self.net.edge_time_min(
                    walk_speed_kmh=self.walk_speed_kmh, drive_speeds_kmh=self.drive_speeds_kmh
                )
            )
            u, v = self.net.edge_u, self.net.edge_v
            if self.extra_edges:
                eu, ev, el = (np.array(a) for a in zip(*self.extra_edges, strict=True))
                ew = el if self.metric == "length" else el / (self.walk_speed_kmh * 1000.0 / 60.0)
                u, v, w = (
                    np.concatenate([u, eu, ev]),
                    np.concatenate([v, ev, eu]),
                    np.concatenate([w, ew, ew]),
                )
            # reversed graph: cost from a node *to* a facility, one-way streets respected
            self._coo = (v, u, np.maximum(w, 1e-9))
        return self._coo

    def reverse_matrix(self) -> sp.csr_matrix:
        """Adjacency of the reversed graph (``n x n``), smallest parallel edge kept."""
        if self._rev is None:
            r, c, w = self._edges()
            self._rev = _min_duplicates(r, c, w, self.net.n_nodes)
        return self._rev

    # -- solving ---------------------------------------------------------------------------
    def _with_source(self, nodes: np.ndarray, costs: np.ndarray) -> sp.csr_matrix:
        a = self.reverse_matrix()
        n = a.shape[0]
        a = sp.csr_matrix(
            (a.data, a.indices, np.append(a.indptr, a.indptr[-1])), shape=(n + 1, n + 1)
        )
        # best entry per node (several facilities may share one node)
        order = np.lexsort((costs, nodes))
        nodes, costs = nodes[order], costs[order]
        keep = np.ones(nodes.size, dtype=bool)
        keep[1:] = nodes[1:] != nodes[:-1]
        src = sp.csr_matrix(
            (np.maximum(costs[keep], 1e-9), (np.full(keep.sum(), n), nodes[keep])),
            shape=(n + 1, n + 1),
        )
        return (a + src).tocsr()

    @staticmethod
    def _roots(pred: np.ndarray, virtual: int) -> np.ndarray:
        """For every node, the first node on its path after the virtual source."""
        n = pred.size
        parent = np.where((pred == virtual) | (pred < 0), np.arange(n), pred)
        while True:
            nxt = parent[parent]
            if np.array_equal(nxt, parent):
                return parent
            parent = nxt

    def solve(self, facilities: FacilitySet) -> NearestState:
        """
        Cost from every node to the nearest facility (one Dijkstra).

        Returns
        -------
        NearestState
        """
        n = self.net.n_nodes
        off = self.offset_cost(facilities.offset_m)
        g = self._with_source(facilities.node, off)
        dist, pred = dijkstra(g, directed=True, indices=n, return_predecessors=True)
        dist, pred = dist[:n], pred[:n]
        # the facility serving each access node is its cheapest one
        order = np.lexsort((off, facilities.node))
        best = pd.Series(facilities.fac[order]).groupby(facilities.node[order]).first()
        at_node = np.full(n, _UNREACHED, dtype=np.int64)
        at_node[best.index.to_numpy()] = best.to_numpy()
        roots = self._roots(pred, n)
        nearest = np.where(np.isfinite(dist), at_node[roots], _UNREACHED)
        return NearestState(facilities, dist, nearest, self.metric)

    def add_facility(
        self, state: NearestState, x_m: float, y_m: float, *, facility_id: str
    ) -> NearestState:
        """
        Add one point facility and update ``state`` exactly, without a full recompute.

        Only a single Dijkstra from the new facility's node runs, cut off at the
        largest current cost among the nodes whose straight-line distance could improve.
        """
        node, off_m = self.net.snap(np.array([x_m]), np.array([y_m]))
        off = float(self.offset_cost(off_m)[0])
        s = int(node[0])
        # Only nodes whose straight-line cost from the new node is below their current cost can
        # improve (network paths are never shorter than the straight line), so the search stops at
        # the largest current cost among those: exact, and far smaller than the whole network.
        crow = np.hypot(self.net.node_x - self.net.node_x[s], self.net.node_y - self.net.node_y[s])
        lower = crow / self._max_speed_m_per_cost() + off
        could = lower < state.cost
        limit = float(state.cost[could].max()) if could.any() else 0.0
        if not np.isfinite(limit):
            limit = np.inf
        d = dijkstra(
            self.reverse_matrix(), directed=True, indices=s, limit=max(limit - off, 0.0) + 1e-9
        )
        new = d + off
        better = new < state.cost
        k = state.facilities.ids.size
        fs = state.facilities
        facilities = FacilitySet(
            fs.name,
            np.append(fs.ids, facility_id),
            np.append(fs.fac, k),
            np.append(fs.node, node),
            np.append(fs.offset_m, off_m),
        )
        cost = np.where(better, new, state.cost)
        nearest = np.where(better, k, state.nearest)
        return NearestState(facilities, cost, nearest, self.metric)

    def close_facility(self, state: NearestState, facility_id: str) -> NearestState:
        """
        Close one facility and update ``state`` exactly.

        Only the nodes it served are recomputed: a Dijkstra on that region,
        seeded from the costs at its border and from other facilities inside it.
        """
        fs = state.facilities
        hit = np.flatnonzero(fs.ids == facility_id)
        if hit.size == 0:
            msg = (
                f"No facility {facility_id!r} in {fs.name!r}; ids look like {fs.ids[:3].tolist()}."
            )
            raise DataError(msg)
        k = int(hit[0])
        keep = fs.fac != k
        facilities = FacilitySet(fs.name, fs.ids, fs.fac[keep], fs.node[keep], fs.offset_m[keep])
        affected = state.nearest == k
        cost, nearest = state.cost.copy(), state.nearest.copy()
        if not affected.any():
            return NearestState(facilities, cost, nearest, self.metric)
        aff_idx = np.flatnonzero(affected)
        local = np.full(self.net.n_nodes, -1, dtype=np.int64)
        local[aff_idx] = np.arange(aff_idx.size)
        r, c, w = self._edges()  # reversed edges r -> c
        inside = affected[r] & affected[c]
        border = ~affected[r] & affected[c] & np.isfinite(state.cost[r])
        m = aff_idx.size
        # seeds: border costs, and facilities with access nodes inside the region
        seed_node = np.concatenate([c[border], facilities.node[affected[facilities.node]]])
        seed_cost = np.concatenate(
            [
                state.cost[r[border]] + w[border],
                self.offset_cost(facilities.offset_m[affected[facilities.node]]),
            ]
        )
        seed_src = np.concatenate(
            [state.nearest[r[border]], facilities.fac[affected[facilities.node]]]
        )
        cost[aff_idx], nearest[aff_idx] = np.inf, _UNREACHED
        if seed_node.size:
            order = np.lexsort((seed_cost, seed_node))
            seed_node, seed_cost, seed_src = seed_node[order], seed_cost[order], seed_src[order]
            first = np.ones(seed_node.size, dtype=bool)
            first[1:] = seed_node[1:] != seed_node[:-1]
            sn, sc, ss = local[seed_node[first]], seed_cost[first], seed_src[first]
            rows = np.concatenate([local[r[inside]], np.full(sn.size, m)])
            cols = np.concatenate([local[c[inside]], sn])
            vals = np.concatenate([w[inside], np.maximum(sc, 1e-9)])
            g = _min_duplicates(rows, cols, vals, m + 1)
            d, pred = dijkstra(g, directed=True, indices=m, return_predecessors=True)
            roots = self._roots(pred[:m], m)
            src_of = np.full(m, _UNREACHED, dtype=np.int64)
            src_of[sn] = ss
            ok = np.isfinite(d[:m])
            cost[aff_idx[ok]] = d[:m][ok]
            nearest[aff_idx[ok]] = src_of[roots[ok]]
        return NearestState(facilities, cost, nearest, self.metric)

    def move_facility(
        self, state: NearestState, facility_id: str, x_m: float, y_m: float
    ) -> NearestState:
        """Move a facility: close it, then add it at the new place under the same id."""
        closed = self.close_facility(state, facility_id)
        return self.add_facility(closed, x_m, y_m, facility_id=facility_id)

    def add_link(
        self,
        x1_m: float,
        y1_m: float,
        x2_m: float,
        y2_m: float,
        states: dict[str, NearestState] | None = None,
    ) -> tuple[AccessModel, dict[str, NearestState]]:
        """
        Add a two-way walking link (a new path or footbridge) between two points.

        The link runs from the node nearest each end, its length being the
        straight line between the two points plus both snap distances. Each
        given state is updated exactly: a shortest path uses the new link at
        most once, so ``new(v) = min(old(v), old(a) + L + d(b, v), old(b) + L + d(a, v))``.

        Returns
        -------
        (AccessModel, dict)
            A new model that includes the link, and the updated states.
        """
        nodes, offs = self.net.snap(np.array([x1_m, x2_m]), np.array([y1_m, y2_m]))
        a, b = int(nodes[0]), int(nodes[1])
        length_m = float(np.hypot(x2_m - x1_m, y2_m - y1_m) + offs.sum())
        link = float(self.offset_cost(np.array([length_m]))[0])
        old = self.reverse_matrix()
        out: dict[str, NearestState] = {}
        if states:
            da, db = dijkstra(old, directed=True, indices=[a, b])
            # reversed graph: d(v -> a) is column a of forward distances;
            # undirected walk -> symmetric
            for key, st in states.items():
                via_b = st.cost[a] + link + db  # reach b's side through the link from a
                via_a = st.cost[b] + link + da
                cost = np.minimum(st.cost, np.minimum(via_b, via_a))
                nearest = np.where(
                    cost < st.cost,
                    np.where(via_b <= via_a, st.nearest[a], st.nearest[b]),
                    st.nearest,
                )
                out[key] = NearestState(st.facilities, cost, nearest, st.metric)
        model = replace(self, extra_edges=(*self.extra_edges, (a, b, length_m)))
        return model, out


def _min_duplicates(rows: np.ndarray, cols: np.ndarray, vals: np.ndarray, n: int) -> sp.csr_matrix:
    """An ``n x n`` CSR matrix of the edges, keeping the smallest value of parallel edges.

    (scipy sums duplicates when it builds a CSR matrix, which would lengthen parallel edges.)
    """
    order = np.lexsort((vals, cols, rows))
    rows, cols, vals = rows[order], cols[order], vals[order]
    first = np.ones(rows.size, dtype=bool)
    first[1:] = (rows[1:] != rows[:-1]) | (cols[1:] != cols[:-1])
    return sp.csr_matrix((vals[first], (rows[first], cols[first])), shape=(n, n))


def access_table(model: AccessModel, state: NearestState, origins: Origins) -> pd.Series:
    """
    Mean cost to the nearest facility over each LSOA's origins.

    Returns
    -------
    pd.Series
        Indexed by LSOA code, in the model's unit (metres or minutes).
    """
    per_origin = state.cost[origins.node] + model.offset_cost(origins.offset_m)
    w = np.ones(per_origin.size) if origins.weight is None else origins.weight
    frame = pd.DataFrame({"wv": per_origin * w, "w": w})
    sums = frame.groupby(origins.area_code).sum()
    s = sums["wv"] / sums["w"]
    s.index.name = "area_code"
    return s


def count_within(
    model: AccessModel,
    facilities: FacilitySet,
    origins: Origins,
    *,
    max_cost: float,
    chunk: int = 64,
) -> pd.Series:
    """
    Cumulative opportunities: mean number of facilities reachable within ``max_cost``.

    A facility counts once however many access points it has.

    Returns
    -------
    pd.Series
        Indexed by LSOA code.
    """
    rev = model.reverse_matrix()
    o_off = model.offset_cost(origins.offset_m)
    budget = max_cost - o_off
    total = np.zeros(origins.node.size)
    f_off = model.offset_cost(facilities.offset_m)
    uniq_fac = np.unique(facilities.fac)
    for start in range(0, uniq_fac.size, chunk):
        fac_ids = uniq_fac[start : start + chunk]
        sel = np.isin(facilities.fac, fac_ids)
        nodes, offs, facs = facilities.node[sel], f_off[sel], facilities.fac[sel]
        un, inv = np.unique(nodes, return_inverse=True)
        d = dijkstra(rev, directed=True, indices=un, limit=max_cost)
        # reversed graph rows are "to facility" costs; fold access points into facilities
        reach = np.full((fac_ids.size, origins.node.size), np.inf)
        fpos = np.searchsorted(fac_ids, facs)
        dd = d[inv][:, origins.node] + offs[:, None]
        np.minimum.at(reach, fpos, dd)
        total += (reach <= budget[None, :]).sum(axis=0)
    s = pd.Series(total).groupby(origins.area_code).mean()
    s.index.name = "area_code"
    return s


def isochrone(
    model: AccessModel, x_m: float, y_m: float, *, max_cost: float, buffer_m: float = 25.0
) -> shapely.Geometry:
    """
    The area reachable from a point within ``max_cost`` (minutes or metres), as a polygon.

    Built from the network edges whose both ends are reachable, buffered by ``buffer_m``.
    """
    node, off = model.net.snap(np.array([x_m]), np.array([y_m]))
    start = float(model.offset_cost(off)[0])
    fwd = model.reverse_matrix().T.tocsr()
    d = dijkstra(fwd, directed=True, indices=int(node[0]), limit=max(max_cost - start, 0.0)) + start
    ok = np.isfinite(d) & (d <= max_cost)
    u, v = model.net.edge_u, model.net.edge_v
    e = ok[u] & ok[v]
    if not e.any():
        return shapely.Point(x_m, y_m).buffer(buffer_m)
    coords = np.stack(
        [
            np.column_stack([model.net.node_x[u[e]], model.net.node_y[u[e]]]),
            np.column_stack([model.net.node_x[v[e]], model.net.node_y[v[e]]]),
        ],
        axis=1,
    )
    lines = shapely.linestrings(coords)
    return shapely.union_all(shapely.buffer(lines, buffer_m, quad_segs=2)).simplify(5.0)


# ----------------------------------------------------------------------------- place level


def add_access_indicators(
    place: object,
    *,
    modes: tuple[str, ...] = ("walk",),
    types: tuple[str, ...] = DEFAULT_TYPES,
    within_min: float | None = None,
    progress: object | None = None,
) -> object:
    """
    Compute the access indicators of the catalogue and add them to a place.

    Returns a new place with ``<type>_<mode>_m`` and ``<type>_<mode>_min`` for
    every type and mode (the catalogue lists the main ones; the rest are added
    with generated metadata).
    """
    frame, metas = access_indicators(
        place, modes=modes, types=types, within_min=within_min, progress=progress
    )
    return place.with_indicators(frame, metas)  # type: ignore[attr-defined]


def access_indicators(
    place: object,
    *,
    modes: tuple[str, ...] = ("walk",),
    types: tuple[str, ...] = DEFAULT_TYPES,
    within_min: float | None = None,
    progress: object | None = None,
) -> tuple[pd.DataFrame, dict[str, dict[str, str]]]:
    """
    Access indicators per LSOA and their catalogue metadata (see :func:`add_access_indicators`).

    With ``within_min``, also ``<type>_<mode>_within_<T>min``: the mean number of
    facilities reachable within T minutes from the LSOA's homes (cumulative opportunities).

    Returns
    -------
    (pd.DataFrame, dict)
        Values indexed by LSOA code; ``{id: metadata}``.
    """
    from placekit.place import Place

    assert isinstance(place, Place)
    values: dict[str, pd.Series] = {}
    metas: dict[str, dict[str, str]] = {}
    specs = default_layers()
    types = tuple(t for t in types if t in place.available_layers)
    for mode in modes:
        net = place.network(mode, progress=progress)
        origins = place.origins(mode)
        metrics = {"m": AccessModel(net, metric="length")}
        metrics["min"] = AccessModel(net, metric="time") if mode == "drive" else metrics["m"]
        for t in types:
            fac = facilities_from_layer(net, place.layer(t), name=t)
            for unit, model in metrics.items():
                st = model.solve(fac)
                s = access_table(model, st, origins)
                if mode == "walk" and unit == "min":
                    s = s / (model.walk_speed_kmh * 1000.0 / 60.0)
                cid = f"{t}_{mode}_{unit}"
                values[cid] = s
                label = specs[t].label
                mode_word = "Walk" if mode == "walk" else "Drive"
                what = "time" if unit == "min" else "distance"
                attribution = place.layer(t).attrs.get("attribution", "")
                metas[cid] = dict(  # noqa: C408
                    label=f"{mode_word} {what} to nearest: {label}",
                    theme=specs[t].theme
                    if specs[t].theme != "health and care demand"
                    else "transport",
                    unit="minutes" if unit == "min" else "metres",
                    direction="higher_better"
                    if t in ("fast_food", "pub", "betting")
                    else "higher_worse",
                    kind="time" if unit == "min" else "distance",
                    aggregation="weighted_mean",
                    weight="population",
                    tier="primary",
                    source=f"computed on the OSM {mode} network; {attribution}",
                    year="",
                    geography="LSOA21",
                    licence="ODbL + source licence",
                    derivation=f"access:{t}:{mode}:{unit}",
                )
            if within_min is not None:
                tmodel = metrics["min"] if mode == "drive" else metrics["m"]
                budget = (
                    within_min
                    if tmodel.metric == "time"
                    else within_min * tmodel.walk_speed_kmh * 1000 / 60
                )
                cid = f"{t}_{mode}_within_{within_min:g}min"
                values[cid] = count_within(tmodel, fac, origins, max_cost=budget)
                metas[cid] = dict(
                    metas[f"{t}_{mode}_min"],
                    label=f"{specs[t].label} within {within_min:g} min ({mode})",
                    unit="facilities",
                    kind="count",
                    direction="higher_better",
                    aggregation="weighted_mean",
                    derivation=f"access_within:{t}:{mode}:{within_min:g}",
                )
    frame = pd.DataFrame(values).reindex(place.lsoa.index)
    metas = {
        k: (dict(place.catalogue.row(k)) if k in place.catalogue else v) for k, v in metas.items()
    }
    return frame, metas
