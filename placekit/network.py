"""Street networks from OpenStreetMap, as compact arrays in EPSG:27700.

A :class:`StreetNetwork` is built with osmnx, either offline from an OSM XML
file (``osmnx.graph_from_xml``) or, for users who are online, from a place name
or polygon (``osmnx.graph_from_place`` / ``graph_from_polygon``). It is then

1. projected to EPSG:27700: node coordinates, and edge lengths measured along
   each edge's projected geometry (osmnx's own lengths are great-circle on a
   sphere, about 0.3 % short of grid metres at Sheffield's latitude)
   (edge lengths are measured in EPSG:27700 along each edge's geometry);
2. cleaned: only the largest connected component is kept (weakly connected for
   walking, strongly connected for driving, so every kept node can reach every
   other); the number of nodes dropped is recorded;
3. reduced to arrays (node x/y, edge from/to, length, highway type) and cached
   as ``.npz`` so later loads skip the XML parse.

Speeds are explicit: walking at ``walk_speed_kmh`` (4.8 km/h by default, the
usual planning figure of 80 m per minute); driving at a speed per highway type
(:data:`DRIVE_SPEEDS_KMH`), used because the pack's OSM data has no maxspeed.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import networkx as nx
import numpy as np
import pyproj
import shapely
from scipy.spatial import cKDTree

from placekit.config import WORKING_CRS, cache_dir
from placekit.errors import DataError

__all__ = [
    "DRIVE_SPEEDS_KMH",
    "MODES",
    "WALK_SPEED_KMH",
    "StreetNetwork",
    "from_graph",
    "from_polygon",
    "from_place_name",
    "load_network",
]

MODES = ("walk", "drive")
WALK_SPEED_KMH = 4.8
#: Urban speeds by OSM highway type, km/h (used where maxspeed is missing,
#: which is everywhere in the pack). ``*_link`` roads take their parent's speed.
DRIVE_SPEEDS_KMH: dict[str, float] = {
    "motorway": 96.0, "trunk": 64.0, "primary": 48.0, "secondary": 40.0, "tertiary": 32.0,
    "unclassified": 32.0, "residential": 32.0, "living_street": 16.0, "service": 16.0,
    "road": 32.0,
}
_CACHE_VERSION = 3
Progress = Callable[[str, float], None]


@dataclass
class StreetNetwork:
    """
    A street network as arrays, in EPSG:27700.

    Attributes
    ----------
    mode
        ``"walk"`` (undirected) or ``"drive"`` (directed, one-way respected).
    node_x, node_y
        Node coordinates in metres.
    edge_u, edge_v
        Edge end indices into the node arrays (both directions listed for walk).
    length_m
        Edge lengths in metres.
    highway
        OSM highway type of each edge.
    info
        Build facts: source, nodes before cleaning, nodes dropped, build time.
    """

    mode: str
    node_x: np.ndarray
    node_y: np.ndarray
    edge_u: np.ndarray
    edge_v: np.ndarray
    length_m: np.ndarray
    highway: np.ndarray
    info: dict[str, object] = field(default_factory=dict)
    _tree: cKDTree | None = field(default=None, init=False, repr=False)

    @property
    def n_nodes(self) -> int:
        """Number of nodes."""
        return int(self.node_x.size)

    @property
    def directed(self) -> bool:
        """Whether edges are one-way (drive)."""
        return self.mode == "drive"

    def edge_time_min(self, *, walk_speed_kmh: float = WALK_SPEED_KMH,
                      drive_speeds_kmh: dict[str, float] | None = None) -> np.ndarray:
        """Travel time of every edge in minutes for this network's mode."""
        if self.mode == "walk":
            return self.length_m / (walk_speed_kmh * 1000.0 / 60.0)
        speeds = {**DRIVE_SPEEDS_KMH, **(drive_speeds_kmh or {})}
        base = np.char.replace(self.highway.astype(str), "_link", "")
        kmh = np.array([speeds.get(h, 32.0) for h in base], dtype=float)
        return self.length_m / (kmh * 1000.0 / 60.0)

    def snap(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """
        Nearest node of each point.

        Returns
        -------
        (np.ndarray, np.ndarray)
            Node indices and straight-line snap distances in metres.
        """
        if self._tree is None:
            self._tree = cKDTree(np.column_stack([self.node_x, self.node_y]))
        d, i = self._tree.query(np.column_stack([np.asarray(x, float), np.asarray(y, float)]))
        return i.astype(np.int64), d

    def save(self, path: Path) -> None:
        """Write the arrays to a ``.npz`` cache file."""
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npz")
        np.savez(tmp, mode=self.mode, node_x=self.node_x, node_y=self.node_y, edge_u=self.edge_u,
                 edge_v=self.edge_v, length_m=self.length_m, highway=self.highway.astype(str),
                 info=np.array(repr(self.info)), version=_CACHE_VERSION)
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path) -> StreetNetwork:
        """Read a network written by :meth:`save`."""
        with np.load(path, allow_pickle=False) as z:
            if int(z["version"]) != _CACHE_VERSION:
                msg = f"Network cache {path} is from another placekit version; delete it to rebuild."
                raise DataError(msg)
            return cls(str(z["mode"]), z["node_x"], z["node_y"], z["edge_u"], z["edge_v"],
                       z["length_m"], z["highway"], {"cache": str(path)})


def from_graph(graph: nx.MultiDiGraph, mode: str, *, info: dict[str, object] | None = None) -> StreetNetwork:
    """
    Turn an osmnx graph (unprojected, lon/lat) into a cleaned :class:`StreetNetwork`.

    Keeps the largest weakly (walk) or strongly (drive) connected component.
    """
    if mode not in MODES:
        msg = f"mode must be one of {list(MODES)}; got {mode!r}."
        raise DataError(msg)
    if graph.number_of_nodes() == 0:
        msg = "The street graph has no nodes; check the OSM file or the place name."
        raise DataError(msg)
    comps = nx.strongly_connected_components(graph) if mode == "drive" else nx.weakly_connected_components(graph)
    keep = max(comps, key=len)
    nodes = sorted(keep)
    pos = {n: i for i, n in enumerate(nodes)}
    lon = np.array([graph.nodes[n]["x"] for n in nodes], dtype=float)
    lat = np.array([graph.nodes[n]["y"] for n in nodes], dtype=float)
    crs = graph.graph.get("crs", "EPSG:4326")
    tr = pyproj.Transformer.from_crs(crs, WORKING_CRS, always_xy=True)
    x, y = tr.transform(lon, lat)
    us, vs, geoms, hw = [], [], [], []
    for u, v, d in graph.edges(data=True):
        if u in pos and v in pos:
            us.append(pos[u])
            vs.append(pos[v])
            geoms.append(d.get("geometry"))
            h = d.get("highway", "road")
            hw.append(h[0] if isinstance(h, list) else str(h))
    u_a, v_a = np.array(us, dtype=np.int64), np.array(vs, dtype=np.int64)
    # lengths measured in EPSG:27700 along each edge's geometry (straight where it has none),
    # so network lengths, snap distances and straight lines share one metric
    straight = np.hypot(x[u_a] - x[v_a], y[u_a] - y[v_a]) if u_a.size else np.zeros(0)
    length = straight.astype(float)
    has_geom = np.array([g is not None for g in geoms], dtype=bool)
    if has_geom.any():
        lines = np.array([g for g in geoms if g is not None], dtype=object)
        projected = shapely.transform(lines, lambda c: np.column_stack(tr.transform(c[:, 0], c[:, 1])))
        length[has_geom] = shapely.length(projected)
    highway = np.array(hw, dtype=str)
    if mode == "walk":  # make sure every edge can be walked both ways
        u_a, v_a = np.concatenate([u_a, v_a]), np.concatenate([v_a, u_a])
        length, highway = np.concatenate([length, length]), np.concatenate([highway, highway])
    meta = dict(info or {})
    meta.update(nodes_in=graph.number_of_nodes(), nodes_kept=len(nodes),
                nodes_dropped=graph.number_of_nodes() - len(nodes))
    return StreetNetwork(mode, np.asarray(x), np.asarray(y), u_a, v_a, length, highway, meta)


def _cache_path(osm_path: Path, mode: str) -> Path:
    st = osm_path.stat()
    key = hashlib.sha1(f"{osm_path.resolve()}|{st.st_size}|{st.st_mtime_ns}|{mode}|{_CACHE_VERSION}".encode())
    return cache_dir() / f"{osm_path.name.split('.')[0]}_{mode}_{key.hexdigest()[:12]}.npz"


def load_network(osm_path: Path, mode: str, *, use_cache: bool = True,
                 progress: Progress | None = None) -> StreetNetwork:
    """
    Build (or load from cache) a street network from an OSM XML file.

    Parameters
    ----------
    osm_path
        ``.osm`` or ``.osm.bz2`` XML, already filtered to the mode's ways
        (``graph_from_xml`` keeps every way it is given).
    mode
        ``"walk"`` (bidirectional) or ``"drive"`` (one-way respected).
    use_cache
        Read and write the ``.npz`` cache in :func:`placekit.config.cache_dir`.
    progress
        Called as ``progress(message, fraction)`` during a first build.

    Returns
    -------
    StreetNetwork
    """
    import osmnx as ox

    osm_path = Path(osm_path)
    if not osm_path.is_file():
        msg = f"No OSM file at {osm_path}."
        raise DataError(msg)
    cache = _cache_path(osm_path, mode)
    if use_cache and cache.is_file():
        return StreetNetwork.load(cache)
    say = progress or (lambda _m, _f: None)
    t0 = time.perf_counter()
    say(f"Reading {osm_path.name} (first build; later loads use the cache)", 0.05)
    graph = ox.graph_from_xml(osm_path, bidirectional=(mode == "walk"), simplify=True, retain_all=True)
    say("Projecting to EPSG:27700 and keeping the largest connected component", 0.8)
    net = from_graph(graph, mode, info={"source": str(osm_path)})
    net.info["build_s"] = time.perf_counter() - t0
    if use_cache:
        say("Saving the network cache", 0.95)
        net.save(cache)
    say("Network ready", 1.0)
    return net


def from_polygon(polygon: object, mode: str) -> StreetNetwork:  # pragma: no cover - needs internet
    """
    Download a street network inside a polygon (EPSG:4326) with osmnx (needs internet).

    Parameters
    ----------
    polygon
        A shapely Polygon or MultiPolygon in lon/lat, e.g. a city boundary.
    mode
        ``"walk"`` or ``"drive"``.
    """
    import osmnx as ox

    graph = ox.graph_from_polygon(polygon, network_type=mode, simplify=True, retain_all=False)
    return from_graph(graph, mode, info={"source": "osmnx download: polygon"})


def from_place_name(query: str, mode: str) -> StreetNetwork:  # pragma: no cover - needs internet
    """
    Download a street network for a place name with osmnx (needs internet).

    Parameters
    ----------
    query
        A place name osmnx can geocode, e.g. ``"Sheffield, UK"``.
    mode
        ``"walk"`` or ``"drive"``; passed to osmnx as ``network_type``.
    """
    import osmnx as ox

    graph = ox.graph_from_place(query, network_type=mode, simplify=True, retain_all=False)
    return from_graph(graph, mode, info={"source": f"osmnx download: {query}"})
