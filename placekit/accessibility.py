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

Isochrones (:func:`isochrone`) are service areas: the network reached within a
budget, partial edges included up to the exact cut-off, buffered by 50 m, with the
blocks the reached streets enclose filled in; :func:`people_within` counts the
residents inside one from the residential origins.

Incremental updates (:meth:`AccessModel.add_facility`,
:meth:`AccessModel.close_facility`, :meth:`AccessModel.add_link`) give exactly
the same answer as a full recompute.
"""

from __future__ import annotations

import warnings
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
    "ISOCHRONE_METHODS",
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
    "people_within",
    "reached_network",
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
    _fwd: sp.csr_matrix | None = field(default=None, init=False, repr=False)

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

    def forward_matrix(self) -> sp.csr_matrix:
        """Adjacency of the graph itself (``n x n``): costs *from* a node, one-way respected."""
        if self._fwd is None:
            self._fwd = self.reverse_matrix().T.tocsr()
        return self._fwd

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


#: Ways of drawing an isochrone (see :func:`isochrone`).
ISOCHRONE_METHODS = ("service_area", "edges")
#: Distance either side of the reached network that counts as served, metres.
SERVICE_BUFFER_M = 50.0
#: Largest enclosed block that is filled in, m² (5 ha: a 225 m square block).
MAX_HOLE_M2 = 50_000.0


def _check_cost(max_cost: float) -> float:
    try:
        value = float(max_cost)
    except (TypeError, ValueError):
        value = float("nan")
    if not np.isfinite(value) or value < 0:
        msg = f"max_cost must be a finite number >= 0 (metres or minutes); got {max_cost!r}."
        raise DataError(msg)
    return value


def _forward_costs(model: AccessModel, node: int, start: float, max_cost: float) -> np.ndarray:
    """Cost from the start point to every node (``inf`` beyond ``max_cost``)."""
    limit = max(max_cost - start, 0.0)
    d = dijkstra(model.forward_matrix(), directed=True, indices=node, limit=limit)
    return np.asarray(d, dtype=float) + start


def reached_network(
    model: AccessModel, x_m: float, y_m: float, *, max_cost: float
) -> shapely.MultiLineString:
    """
    The parts of the network reachable from a point within ``max_cost``, as lines.

    The point snaps to its nearest node and starts with the cost of walking
    there in a straight line (the snap distance). For every directed edge
    ``u -> v`` whose start is reached at cost ``c(u) < max_cost``, the part of
    the edge up to ``max_cost - c(u)`` from ``u`` is reached: the whole edge if
    that is at least its cost, else the fraction ``(max_cost - c(u)) / w(u, v)``
    of it. Edges are the straight segments between their nodes (the network
    stores no bends), and cost is spread evenly along an edge, so the fraction
    applies to the segment. One-way edges are followed only forwards; a walk
    network lists both directions, so an edge may be reached from both ends
    with an unreached gap in the middle. The straight snap line from the point
    to its node is included.

    Parameters
    ----------
    model
        The engine; its metric sets the unit of ``max_cost``.
    x_m, y_m
        The start, EPSG:27700 metres.
    max_cost
        Budget in the model's unit (metres for ``"length"``, minutes for ``"time"``).

    Returns
    -------
    shapely.MultiLineString
        Reached segments (EPSG:27700). Empty when the snap distance alone
        exceeds ``max_cost``; a zero-length line at the node when only the node
        itself is reached.

    Raises
    ------
    DataError
        If ``max_cost`` is negative or not finite.
    """
    max_cost = _check_cost(max_cost)
    nodes, off = model.net.snap(np.array([x_m], dtype=float), np.array([y_m], dtype=float))
    node = int(nodes[0])
    start = float(model.offset_cost(off)[0])
    if start > max_cost:
        return shapely.MultiLineString()
    d = _forward_costs(model, node, start, max_cost)
    r, c, w = model._edges()  # reversed edges r -> c are the forward edges c -> r
    u, v = c, r
    go = d[u] < max_cost
    u, v, w = u[go], v[go], w[go]
    frac = np.minimum((max_cost - d[u]) / w, 1.0)
    # one street segment per node pair, reached from either end or both
    lo, hi = np.minimum(u, v), np.maximum(u, v)
    pairs, inv = np.unique(np.column_stack([lo, hi]), axis=0, return_inverse=True)
    inv = inv.ravel()
    from_lo, from_hi = np.zeros(len(pairs)), np.zeros(len(pairs))
    np.maximum.at(from_lo, inv[u == lo], frac[u == lo])
    np.maximum.at(from_hi, inv[u != lo], frac[u != lo])
    whole = from_lo + from_hi >= 1.0  # the two reached parts meet (or one is the whole edge)
    a, b = pairs[:, 0], pairs[:, 1]
    x, y = model.net.node_x, model.net.node_y
    part_lo = ~whole & (from_lo > 0)
    part_hi = ~whole & (from_hi > 0)
    su = np.concatenate([a[whole], a[part_lo], b[part_hi]])
    sv = np.concatenate([b[whole], b[part_lo], a[part_hi]])
    f = np.concatenate([np.ones(whole.sum()), from_lo[part_lo], from_hi[part_hi]])
    starts = np.column_stack([x[su], y[su]])
    ends = np.column_stack([x[su] + f * (x[sv] - x[su]), y[su] + f * (y[sv] - y[su])])
    # the walk from the point to the network, and the node itself
    starts = np.vstack([starts, [[x_m, y_m]], [[x[node], y[node]]]])
    ends = np.vstack([ends, [[x[node], y[node]]], [[x[node], y[node]]]])
    lines = shapely.linestrings(np.stack([starts, ends], axis=1))
    return shapely.MultiLineString(list(lines))


def _fill_holes(geom: shapely.Geometry, max_hole_m2: float) -> shapely.Geometry:
    """``geom`` with every interior ring of at most ``max_hole_m2`` filled in."""
    out = []
    filled = False
    for part in shapely.get_parts(geom):
        holes = [ring for ring in part.interiors if shapely.Polygon(ring).area > max_hole_m2]
        filled = filled or len(holes) < len(part.interiors)
        out.append(shapely.Polygon(part.exterior, holes))
    if len(out) == 1:
        return out[0]
    # a filled block may swallow a separate piece lying inside it
    return shapely.union_all(out) if filled else shapely.MultiPolygon(out)


def _edges_isochrone(
    model: AccessModel, x_m: float, y_m: float, max_cost: float, buffer_m: float
) -> shapely.Geometry:
    """The original polygon: edges with both ends reached, buffered, unioned, simplified."""
    node, off = model.net.snap(np.array([x_m]), np.array([y_m]))
    start = float(model.offset_cost(off)[0])
    d = _forward_costs(model, int(node[0]), start, max_cost)
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


def isochrone(
    model: AccessModel,
    x_m: float,
    y_m: float,
    *,
    max_cost: float,
    method: str = "service_area",
    buffer_m: float | None = None,
    max_hole_m2: float = MAX_HOLE_M2,
    quad_segs: int = 8,
) -> shapely.Geometry:
    """
    The area served from a point within ``max_cost`` (metres or minutes), as a polygon.

    A *service area* here is the land within reach of the network: every point
    within ``buffer_m`` (50 m by default) of the network reached within the
    budget, including partial edges up to the exact cut-off
    (:func:`reached_network`), plus the blocks that reached streets enclose on
    every side (holes of the buffered network up to ``max_hole_m2``, 5 ha by
    default, are filled). It does not cross a gap that no reached path
    encloses: the far bank of a river without a reached bridge, or the inside
    of a park or open land bigger than ``max_hole_m2``, stays out (except the
    strip within ``buffer_m`` of reached streets, so a gap narrower than twice
    the buffer is covered from both sides).

    Why this and not a concave hull of reached points: a hull's edges bridge
    any concave gap shorter than its length scale, so it reaches across rivers,
    railways and unpathed parks to streets on the other side and grows with
    its ratio parameter; the buffered network with filled blocks follows the
    streets, is exact at the cut-off (a partial edge ends exactly where the
    budget runs out, plus the buffer), never shrinks as the budget grows, and
    has two parameters with a plain meaning (how far from a street a home
    still counts as on it; how big an enclosed block is still filled).

    Parameters
    ----------
    model
        The engine; its metric sets the unit of ``max_cost``. Drive networks
        are followed forwards only (one-way streets respected).
    x_m, y_m
        The start, EPSG:27700 metres. It snaps to the nearest node; the snap
        distance is the starting cost (walked, in ``"time"`` models at the
        model's walking speed).
    max_cost
        Budget in the model's unit.
    method
        ``"service_area"`` (above) or ``"edges"``: the original polygon, kept
        for comparison — edges with both ends reached, buffered
        by ``buffer_m`` (25 m by default), unioned and simplified by 5 m; no
        partial edges and no blocks.
    buffer_m
        Distance from the reached network that counts as served, metres.
        ``None`` gives 50 m (``"service_area"``) or 25 m (``"edges"``).
    max_hole_m2
        Largest enclosed block filled in, m² (``"service_area"`` only); ``0``
        fills nothing, ``inf`` fills every enclosed block.
    quad_segs
        Segments per quarter circle of the buffer (``"service_area"`` only).

    Returns
    -------
    shapely.Geometry
        A Polygon or MultiPolygon in EPSG:27700. With ``"service_area"``, an
        empty Polygon when the snap distance alone exceeds ``max_cost`` (the
        point is off the network: nothing is reachable); a disc of
        ``buffer_m`` round the node (and the snap line) when only the node is
        reached. With ``"edges"``, a disc of ``buffer_m`` round the point
        whenever no whole edge is reached.

    Raises
    ------
    DataError
        For an unknown ``method``, a negative or non-finite ``max_cost``, or a
        non-positive ``buffer_m``.

    Examples
    --------
    >>> import numpy as np
    >>> from placekit.network import StreetNetwork
    >>> net = StreetNetwork("walk", np.array([0.0, 100.0]), np.array([0.0, 0.0]),
    ...                     np.array([0, 1]), np.array([1, 0]), np.array([100.0, 100.0]),
    ...                     np.array(["footway", "footway"]))
    >>> poly = isochrone(AccessModel(net), 0.0, 0.0, max_cost=60.0, buffer_m=10.0)
    >>> round(poly.bounds[2], 6)  # 60 m along the edge, plus the 10 m buffer
    70.0
    """
    if method not in ISOCHRONE_METHODS:
        msg = f"method must be one of {list(ISOCHRONE_METHODS)}; got {method!r}."
        raise DataError(msg)
    max_cost = _check_cost(max_cost)
    if buffer_m is None:
        buffer_m = SERVICE_BUFFER_M if method == "service_area" else 25.0
    if not np.isfinite(buffer_m) or buffer_m <= 0:
        msg = f"buffer_m must be a positive number of metres; got {buffer_m!r}."
        raise DataError(msg)
    if method == "edges":
        return _edges_isochrone(model, x_m, y_m, max_cost, float(buffer_m))
    if not max_hole_m2 >= 0:
        msg = f"max_hole_m2 must be >= 0 square metres; got {max_hole_m2!r}."
        raise DataError(msg)
    lines = reached_network(model, x_m, y_m, max_cost=max_cost)
    if lines.is_empty:
        return shapely.Polygon()
    # a cascaded union of one buffer per segment is ~6x faster than buffering the multi-line
    pieces = shapely.buffer(shapely.get_parts(lines), float(buffer_m), quad_segs=quad_segs)
    served = shapely.union_all(pieces)
    return _fill_holes(served, float(max_hole_m2))


def people_within(area: shapely.Geometry, origins: Origins, population: pd.Series) -> int:
    """
    People living inside ``area``, counted from residential origins.

    Each LSOA's population is shared among its origins (equally, or by the
    origins' weights where the method weights them, e.g. building footprint
    area); the people of the origins inside ``area`` (or on its boundary) are
    summed and rounded to the nearest whole person.

    Parameters
    ----------
    area
        A polygon in EPSG:27700, e.g. from :func:`isochrone`.
    origins
        Residential origins (``place.origins(mode)``), EPSG:27700.
    population
        People per LSOA, indexed by LSOA code (``place.weights["population"]``).

    Returns
    -------
    int
        People within ``area``; 0 for an empty area.

    Raises
    ------
    DataError
        If an origin's LSOA has no population value.

    Warns
    -----
    UserWarning
        If some LSOAs with people have no origin (their people cannot be placed).

    Examples
    --------
    >>> import numpy as np, pandas as pd, shapely
    >>> o = Origins(np.array([0.0, 10.0, 500.0]), np.array([0.0, 0.0, 0.0]),
    ...             np.array(["A", "A", "B"]), np.zeros(3, int), np.zeros(3), "centroids")
    >>> people_within(shapely.box(-5, -5, 5, 5), o, pd.Series({"A": 101, "B": 40}))
    50
    """
    codes = pd.Index(origins.area_code)
    pop = pd.to_numeric(population, errors="coerce").astype(float)
    have = pop.reindex(codes.unique())
    missing = have.index[have.isna()]
    if missing.size:
        msg = (
            f"population has no value for {missing.size} LSOA(s) of the origins, e.g. "
            f"{missing[:3].tolist()}; pass people per LSOA indexed by LSOA code, "
            f"e.g. place.weights['population']."
        )
        raise DataError(msg)
    unplaced = pop.index.difference(codes.unique())
    unplaced = unplaced[pop.reindex(unplaced).fillna(0) > 0]
    if unplaced.size:
        msg = (
            f"{unplaced.size} LSOA(s) with people have no origin (e.g. "
            f"{unplaced[:3].tolist()}); their people are not counted."
        )
        warnings.warn(msg, UserWarning, stacklevel=2)
    if area.is_empty:
        return 0
    w = np.ones(codes.size) if origins.weight is None else np.asarray(origins.weight, float)
    total = pd.Series(w).groupby(codes).transform("sum").to_numpy()
    count = pd.Series(w).groupby(codes).transform("size").to_numpy()
    # an LSOA whose origins all weigh nothing shares its people equally
    share = np.where(total > 0, w / np.where(total > 0, total, 1.0), 1.0 / count)
    people = share * pop.reindex(codes).to_numpy()
    inside = shapely.intersects_xy(area, origins.x_m, origins.y_m)
    return int(np.rint(people[inside].sum()))


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
