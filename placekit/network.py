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

The result does not depend on Python's hash seed. osmnx's simplification keeps
``list(set(values))`` when the segments it merges carry different tags, so the
order of such lists changes from run to run. Drive networks are therefore
simplified with ``edge_attrs_differ=["highway", "maxspeed"]`` (an edge never spans two road
types, so its speed is exact), and any list that remains (walk networks,
downloaded graphs) is resolved by a fixed rule (:func:`pick_highway`).

The cache is written atomically (temporary file in the same folder, fsync,
``os.replace``) and checked when read: a file that cannot be read, lacks an
array, has inconsistent arrays or comes from another cache version is deleted,
rebuilt and reported. Builders of the same cache take a lock file
(``fcntl.flock``), so two processes never build it twice or collide; the second
one loads what the first wrote.

Each directed edge is held once. osmnx's walk graph is already bidirectional
(a street is the pair u->v, v->u); :func:`from_graph` adds the reverse of any
edge that lacks one and drops exact duplicates (same ends, same length to the
millimetre), so parallel streets of different lengths stay, mirrors do not.

Speeds are explicit: walking at ``walk_speed_kmh`` (4.8 km/h by default, the
usual planning figure of 80 m per minute); driving at the edge's OSM
``maxspeed`` where it is tagged (a limit, parsed by :func:`parse_maxspeed_kmh`;
drive edges are split where it changes), else at a speed per highway type
(:data:`DRIVE_SPEEDS_KMH`). The regional packs' OSM extracts carry no maxspeed,
so there every drive time uses the road-type speeds.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import time
import warnings
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import networkx as nx
import numpy as np
import pyproj
import shapely
from scipy.spatial import cKDTree

from placekit.config import WORKING_CRS, cache_dir
from placekit.errors import DataError
from placekit.export import atomic_path

__all__ = [
    "DRIVE_SPEEDS_KMH",
    "MODES",
    "WALK_SPEED_KMH",
    "StreetNetwork",
    "from_graph",
    "from_place_name",
    "from_polygon",
    "load_network",
    "parse_maxspeed_kmh",
    "pick_highway",
]

MODES = ("walk", "drive")
WALK_SPEED_KMH = 4.8
#: Urban speeds by OSM highway type, km/h (used where maxspeed is missing,
#: which is everywhere in the pack). ``*_link`` roads take their parent's speed.
DRIVE_SPEEDS_KMH: dict[str, float] = {
    "motorway": 96.0,
    "trunk": 64.0,
    "primary": 48.0,
    "secondary": 40.0,
    "tertiary": 32.0,
    "unclassified": 32.0,
    "residential": 32.0,
    "living_street": 16.0,
    "service": 16.0,
    "road": 32.0,
}
#: Version 5: each directed walk edge once (version 4 mirrored osmnx's
#: bidirectional graph again, doubling every edge); drive ``maxspeed`` kept.
#: Version 4: drive edges split where the road type changes; lists of types
#: resolved by :func:`pick_highway` (version 3 depended on the hash seed).
_CACHE_VERSION = 5
_ARRAYS = (
    "mode",
    "node_x",
    "node_y",
    "edge_u",
    "edge_v",
    "length_m",
    "highway",
    "maxspeed_kmh",
    "version",
)
_MPH_KMH = 1.609344
#: UK national-limit and special maxspeed values, km/h.
_NAMED_SPEEDS_KMH = {
    "gb:nsl_single": 60 * _MPH_KMH,
    "gb:nsl_dual": 70 * _MPH_KMH,
    "gb:motorway": 70 * _MPH_KMH,
    "uk:nsl_single": 60 * _MPH_KMH,
    "uk:nsl_dual": 70 * _MPH_KMH,
    "uk:motorway": 70 * _MPH_KMH,
    "national": 60 * _MPH_KMH,
    "walk": 6.0,
    "gb:zone20": 20 * _MPH_KMH,
    "gb:zone30": 30 * _MPH_KMH,
}
#: Longest wait for another process building the same cache, in seconds.
LOCK_TIMEOUT_S = 1800.0
Progress = Callable[[str, float], None]


def parse_maxspeed_kmh(value: object) -> float:
    """
    An OSM ``maxspeed`` tag in km/h, or NaN when it cannot be read.

    Plain numbers are km/h (OSM's default unit); ``"30 mph"`` is converted;
    UK named limits (``GB:nsl_single`` 60 mph, ``GB:nsl_dual`` and
    ``GB:motorway`` 70 mph, ``national``) are read as their limits. A list
    (segments merged with different tags) gives its lowest speed.
    Anything else (``"none"``, ``"signals"``, ``"variable"``, hostile text,
    zero, negative or above 200 km/h) is NaN, so the road-type speed is used.

    Examples
    --------
    >>> round(parse_maxspeed_kmh("30 mph"), 2)
    48.28
    >>> parse_maxspeed_kmh("50")
    50.0
    >>> parse_maxspeed_kmh(["20 mph", "30 mph"]) == 20 * 1.609344
    True
    """
    if isinstance(value, list | tuple | set):
        got = [parse_maxspeed_kmh(v) for v in value]
        ok = [g for g in got if np.isfinite(g)]
        return min(ok) if ok else float("nan")
    if value is None:
        return float("nan")
    text = str(value).strip().lower()[:40]
    if text in _NAMED_SPEEDS_KMH:
        return float(_NAMED_SPEEDS_KMH[text])
    if ";" in text:
        return parse_maxspeed_kmh(text.split(";"))
    unit = 1.0
    for suffix, factor in (("mph", _MPH_KMH), ("km/h", 1.0), ("kmh", 1.0), ("kph", 1.0)):
        if text.endswith(suffix):
            text, unit = text.removesuffix(suffix).strip(), factor
            break
    try:
        kmh = float(text) * unit
    except ValueError:
        return float("nan")
    return kmh if np.isfinite(kmh) and 0.0 < kmh <= 200.0 else float("nan")


def pick_highway(value: object) -> str:
    """
    One OSM highway type for an edge, the same on every run.

    osmnx gives a list when it merged segments of several types, in an order
    that depends on Python's hash seed. The most important class wins (the
    order of :data:`DRIVE_SPEEDS_KMH`, fastest first, ``*_link`` after its
    parent), then unknown types alphabetically.

    Parameters
    ----------
    value
        A highway tag, or a list of them; ``None`` gives ``"road"``.

    Returns
    -------
    str
        The chosen type.

    Examples
    --------
    >>> pick_highway(["residential", "primary"])
    'primary'
    >>> pick_highway("footway")
    'footway'
    """
    if value is None:
        return "road"
    if not isinstance(value, list | tuple | set):
        return str(value)
    if not value:
        return "road"
    classes = list(DRIVE_SPEEDS_KMH)

    def rank(h: str) -> tuple[int, int, str]:
        base = h.removesuffix("_link")
        return (classes.index(base) if base in classes else len(classes), h != base, h)

    return min((str(v) for v in value), key=rank)


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
    maxspeed_kmh
        OSM speed limit of each edge in km/h, NaN where untagged (``None``:
        untagged everywhere).
    """

    mode: str
    node_x: np.ndarray
    node_y: np.ndarray
    edge_u: np.ndarray
    edge_v: np.ndarray
    length_m: np.ndarray
    highway: np.ndarray
    info: dict[str, object] = field(default_factory=dict)
    maxspeed_kmh: np.ndarray | None = None
    _tree: cKDTree | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.maxspeed_kmh is None:
            self.maxspeed_kmh = np.full(self.edge_u.shape, np.nan)

    @property
    def n_nodes(self) -> int:
        """Number of nodes."""
        return int(self.node_x.size)

    @property
    def directed(self) -> bool:
        """Whether edges are one-way (drive)."""
        return self.mode == "drive"

    def edge_time_min(
        self,
        *,
        walk_speed_kmh: float = WALK_SPEED_KMH,
        drive_speeds_kmh: dict[str, float] | None = None,
    ) -> np.ndarray:
        """
        Travel time of every edge in minutes for this network's mode.

        Walk edges at ``walk_speed_kmh``. Drive edges at their ``maxspeed``
        where tagged, else at the road-type speed (:data:`DRIVE_SPEEDS_KMH`,
        overridden by ``drive_speeds_kmh``).
        """
        if self.mode == "walk":
            return self.length_m / (walk_speed_kmh * 1000.0 / 60.0)
        speeds = {**DRIVE_SPEEDS_KMH, **(drive_speeds_kmh or {})}
        base = np.char.replace(self.highway.astype(str), "_link", "")
        kmh = np.array([speeds.get(h, 32.0) for h in base], dtype=float)
        limit = np.asarray(self.maxspeed_kmh, dtype=float)
        kmh = np.where(np.isfinite(limit), limit, kmh)
        return self.length_m / (kmh * 1000.0 / 60.0)

    @property
    def drive_speed_source(self) -> dict[str, int]:
        """How many edges take their speed from ``maxspeed`` and how many from road type."""
        tagged = int(np.isfinite(np.asarray(self.maxspeed_kmh, dtype=float)).sum())
        return {"maxspeed": tagged, "road_type": int(self.edge_u.size) - tagged}

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
        """
        Write the arrays to a ``.npz`` cache file, atomically.

        The file is written under a temporary name in the same folder, flushed
        to disk and renamed over ``path``, so a reader never sees half a file
        and a crash mid-write leaves the previous cache (or none) in place.
        """
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as tmp, tmp.open("wb") as f:
            np.savez(
                f,
                mode=self.mode,
                node_x=self.node_x,
                node_y=self.node_y,
                edge_u=self.edge_u,
                edge_v=self.edge_v,
                length_m=self.length_m,
                highway=self.highway.astype(str),
                maxspeed_kmh=np.asarray(self.maxspeed_kmh, dtype=float),
                info=np.array(repr(self.info)),
                version=_CACHE_VERSION,
            )

    @classmethod
    def load(cls, path: Path, *, mode: str | None = None) -> StreetNetwork:
        """
        Read a network written by :meth:`save`, checking it on the way.

        Parameters
        ----------
        path
            The ``.npz`` cache file.
        mode
            The mode the caller expects; ``None`` accepts either.

        Returns
        -------
        StreetNetwork

        Raises
        ------
        DataError
            If the file cannot be read (truncated, not a zip, unreadable), lacks
            an array, comes from another cache version, or its arrays do not fit
            together (lengths differ, edge ends out of range, non-finite or
            negative lengths). The message says what is wrong.
        """
        path = Path(path)
        try:
            # open the file ourselves so it is closed even when numpy cannot parse it
            with path.open("rb") as f:
                z = np.load(f, allow_pickle=False)
                if not isinstance(z, np.lib.npyio.NpzFile):
                    msg = f"Network cache {path} is a single array, not an .npz archive."
                    raise DataError(msg)
                with z:
                    missing = [k for k in _ARRAYS if k not in z.files]
                    if missing:
                        msg = f"Network cache {path} lacks array(s) {missing}."
                        raise DataError(msg)
                    arrays = {k: z[k] for k in _ARRAYS}
        except DataError:
            raise
        except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile) as err:
            msg = f"Network cache {path} cannot be read ({type(err).__name__}: {err})."
            raise DataError(msg) from err
        version = arrays["version"]
        if (
            version.shape != ()
            or not np.issubdtype(version.dtype, np.integer)
            or int(version) != _CACHE_VERSION
        ):
            msg = (
                f"Network cache {path} is version {version.tolist()!r}; this placekit "
                f"writes version {_CACHE_VERSION}."
            )
            raise DataError(msg)
        net = cls(
            str(arrays["mode"]),
            arrays["node_x"],
            arrays["node_y"],
            arrays["edge_u"],
            arrays["edge_v"],
            arrays["length_m"],
            arrays["highway"],
            {"cache": str(path)},
            arrays["maxspeed_kmh"],
        )
        problem = net._problem(mode)
        if problem:
            msg = f"Network cache {path} is inconsistent: {problem}."
            raise DataError(msg)
        return net

    def _problem(self, mode: str | None) -> str | None:
        """What is wrong with the arrays, or ``None`` when they fit together."""
        if self.mode not in MODES or (mode is not None and self.mode != mode):
            return f"mode is {self.mode!r}, expected {mode or list(MODES)!r}"
        n, m = self.node_x.size, self.edge_u.size
        shapes = {
            "node_x": (self.node_x, n),
            "node_y": (self.node_y, n),
            "edge_u": (self.edge_u, m),
            "edge_v": (self.edge_v, m),
            "length_m": (self.length_m, m),
            "highway": (self.highway, m),
            "maxspeed_kmh": (np.asarray(self.maxspeed_kmh), m),
        }
        for name, (arr, size) in shapes.items():
            if arr.ndim != 1 or arr.size != size:
                return f"{name} has shape {arr.shape}, expected ({size},)"
        if n == 0:
            return "it has no nodes"
        for name in ("node_x", "node_y", "length_m"):
            arr = getattr(self, name)
            if not np.issubdtype(arr.dtype, np.floating) or not np.isfinite(arr).all():
                return f"{name} is not all finite numbers"
        for name in ("edge_u", "edge_v"):
            arr = getattr(self, name)
            if not np.issubdtype(arr.dtype, np.integer):
                return f"{name} holds {arr.dtype}, not integers"
            if m and (arr.min() < 0 or arr.max() >= n):
                return f"{name} points outside the {n} nodes"
        if m and self.length_m.min() < 0:
            return "length_m has negative lengths"
        limit = np.asarray(self.maxspeed_kmh)
        if not np.issubdtype(limit.dtype, np.floating):
            return f"maxspeed_kmh holds {limit.dtype}, not numbers"
        if m and (np.nanmin(limit, initial=1.0) <= 0 or np.isinf(limit).any()):
            return "maxspeed_kmh has zero, negative or infinite speeds"
        return None


def from_graph(
    graph: nx.MultiDiGraph, mode: str, *, info: dict[str, object] | None = None
) -> StreetNetwork:
    """
    Turn an osmnx graph (unprojected, lon/lat) into a cleaned :class:`StreetNetwork`.

    Keeps the largest weakly (walk) or strongly (drive) connected component.
    Walk edges are made two-way and each directed edge is kept once (exact
    duplicates, such as the mirror osmnx's bidirectional graph already holds,
    are dropped); the count dropped is in ``info["duplicate_edges_dropped"]``.
    """
    if mode not in MODES:
        msg = f"mode must be one of {list(MODES)}; got {mode!r}."
        raise DataError(msg)
    if graph.number_of_nodes() == 0:
        msg = "The street graph has no nodes; check the OSM file or the place name."
        raise DataError(msg)
    comps = (
        nx.strongly_connected_components(graph)
        if mode == "drive"
        else nx.weakly_connected_components(graph)
    )
    keep = max(comps, key=len)
    nodes = sorted(keep)
    pos = {n: i for i, n in enumerate(nodes)}
    lon = np.array([graph.nodes[n]["x"] for n in nodes], dtype=float)
    lat = np.array([graph.nodes[n]["y"] for n in nodes], dtype=float)
    crs = graph.graph.get("crs", "EPSG:4326")
    tr = pyproj.Transformer.from_crs(crs, WORKING_CRS, always_xy=True)
    x, y = tr.transform(lon, lat)
    us, vs, geoms, hw, limits = [], [], [], [], []
    for u, v, d in graph.edges(data=True):
        if u in pos and v in pos:
            us.append(pos[u])
            vs.append(pos[v])
            geoms.append(d.get("geometry"))
            hw.append(pick_highway(d.get("highway")))
            limits.append(parse_maxspeed_kmh(d.get("maxspeed")))
    u_a, v_a = np.array(us, dtype=np.int64), np.array(vs, dtype=np.int64)
    # lengths measured in EPSG:27700 along each edge's geometry (straight where it has none),
    # so network lengths, snap distances and straight lines share one metric
    straight = np.hypot(x[u_a] - x[v_a], y[u_a] - y[v_a]) if u_a.size else np.zeros(0)
    length = straight.astype(float)
    has_geom = np.array([g is not None for g in geoms], dtype=bool)
    if has_geom.any():
        lines = np.array([g for g in geoms if g is not None], dtype=object)
        projected = shapely.transform(
            lines, lambda c: np.column_stack(tr.transform(c[:, 0], c[:, 1]))
        )
        length[has_geom] = shapely.length(projected)
    highway = np.array(hw, dtype=str)
    maxspeed = np.array(limits, dtype=float)
    dropped = 0
    if mode == "walk":  # every edge walkable both ways, each directed edge once
        u_a, v_a = np.concatenate([u_a, v_a]), np.concatenate([v_a, u_a])
        length, highway = np.concatenate([length, length]), np.concatenate([highway, highway])
        maxspeed = np.concatenate([maxspeed, maxspeed])
        keep_idx = _unique_edges(u_a, v_a, length)
        dropped = int(u_a.size - keep_idx.size)
        u_a, v_a, length = u_a[keep_idx], v_a[keep_idx], length[keep_idx]
        highway, maxspeed = highway[keep_idx], maxspeed[keep_idx]
    meta = dict(info or {})
    meta.update(
        nodes_in=graph.number_of_nodes(),
        nodes_kept=len(nodes),
        nodes_dropped=graph.number_of_nodes() - len(nodes),
        duplicate_edges_dropped=dropped,
    )
    return StreetNetwork(
        mode, np.asarray(x), np.asarray(y), u_a, v_a, length, highway, meta, maxspeed
    )


def _unique_edges(u: np.ndarray, v: np.ndarray, length_m: np.ndarray) -> np.ndarray:
    """Indices of the first of each (u, v, length to the mm) triple, in input order."""
    if u.size == 0:
        return np.zeros(0, dtype=np.int64)
    mm = np.rint(length_m * 1000.0).astype(np.int64)
    order = np.lexsort((np.arange(u.size), mm, v, u))
    su, sv, smm = u[order], v[order], mm[order]
    first = np.ones(u.size, dtype=bool)
    first[1:] = (su[1:] != su[:-1]) | (sv[1:] != sv[:-1]) | (smm[1:] != smm[:-1])
    return np.sort(order[first])


def _cache_path(osm_path: Path, mode: str) -> Path:
    st = osm_path.stat()
    key = hashlib.sha1(
        f"{osm_path.resolve()}|{st.st_size}|{st.st_mtime_ns}|{mode}|{_CACHE_VERSION}".encode()
    )
    return cache_dir() / f"{osm_path.name.split('.')[0]}_{mode}_{key.hexdigest()[:12]}.npz"


def _graph_from_xml(osm_path: Path, mode: str) -> nx.MultiDiGraph:
    """Parse and simplify an OSM XML file; drive edges never span two road types."""
    import osmnx as ox

    graph = ox.graph_from_xml(
        osm_path, bidirectional=(mode == "walk"), simplify=False, retain_all=True
    )
    return ox.simplify_graph(graph, edge_attrs_differ=_DIFFER.get(mode))


#: Drive edges never span two road types or two speed limits.
_DIFFER = {"drive": ["highway", "maxspeed"]}


def _read_cache(cache: Path, mode: str, say: Progress) -> StreetNetwork | None:
    """The cached network, or ``None`` when there is none or it was bad (then deleted)."""
    if not cache.is_file():
        return None
    try:
        return StreetNetwork.load(cache, mode=mode)
    except DataError as err:
        reason = str(err)
    with contextlib.suppress(FileNotFoundError):
        cache.unlink()
    msg = f"{reason} It was deleted and the {mode} network is being rebuilt."
    say(msg, 0.0)
    warnings.warn(msg, UserWarning, stacklevel=3)
    return None


@contextlib.contextmanager
def _build_lock(lock: Path, *, timeout_s: float, say: Progress) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``lock`` (no-op where ``fcntl`` is missing)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: atomic replace still protects the file
        yield
        return
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        t0 = time.monotonic()
        told = False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                waited = time.monotonic() - t0
                if waited >= timeout_s:
                    msg = (
                        f"Gave up after {waited:.0f} s waiting for another placekit process "
                        f"that is building the same network cache (lock {lock}). Let it "
                        "finish, or stop it, then run again."
                    )
                    raise DataError(msg) from None
                if not told:
                    say(
                        f"Another process is building this network; waiting for it (lock {lock})",
                        0.05,
                    )
                    told = True
                time.sleep(0.1)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def _build(osm_path: Path, mode: str, say: Progress) -> StreetNetwork:
    t0 = time.perf_counter()
    say(f"Reading {osm_path.name} (first build; later loads use the cache)", 0.05)
    graph = _graph_from_xml(osm_path, mode)
    say("Projecting to EPSG:27700 and keeping the largest connected component", 0.8)
    net = from_graph(graph, mode, info={"source": str(osm_path)})
    net.info["build_s"] = time.perf_counter() - t0
    return net


def load_network(
    osm_path: Path,
    mode: str,
    *,
    use_cache: bool = True,
    progress: Progress | None = None,
    lock_timeout_s: float = LOCK_TIMEOUT_S,
) -> StreetNetwork:
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
        Called as ``progress(message, fraction)`` during a first build, while
        waiting for another process's build, and when a bad cache is rebuilt.
    lock_timeout_s
        Longest wait, in seconds, for another process building the same cache.

    Returns
    -------
    StreetNetwork
        The same arrays on every run for the same file.

    Raises
    ------
    DataError
        If there is no OSM file, or another process held the build lock for
        longer than ``lock_timeout_s``.

    Warns
    -----
    UserWarning
        When a cache file was unreadable or inconsistent: it is deleted and
        rebuilt, never reused.
    """
    osm_path = Path(osm_path)
    if mode not in MODES:
        msg = f"mode must be one of {list(MODES)}; got {mode!r}."
        raise DataError(msg)
    if not osm_path.is_file():
        msg = f"No OSM file at {osm_path}."
        raise DataError(msg)
    say: Progress = progress or (lambda _m, _f: None)
    if not use_cache:
        built = _build(osm_path, mode, say)
        say("Network ready", 1.0)
        return built
    cache = _cache_path(osm_path, mode)
    cached = _read_cache(cache, mode, say)
    if cached is not None:
        return cached
    with _build_lock(cache.with_name(cache.name + ".lock"), timeout_s=lock_timeout_s, say=say):
        cached = _read_cache(cache, mode, say)  # another process may have built it meanwhile
        if cached is not None:
            return cached
        # temp files of a build that was killed: nobody else can be writing them under the lock
        for stale in cache.parent.glob(f".{cache.stem}*.tmp*"):
            with contextlib.suppress(OSError):
                stale.unlink()
        net = _build(osm_path, mode, say)
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

    graph = ox.graph_from_polygon(polygon, network_type=mode, simplify=False, retain_all=False)
    graph = ox.simplify_graph(graph, edge_attrs_differ=_DIFFER.get(mode))
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

    graph = ox.graph_from_place(query, network_type=mode, simplify=False, retain_all=False)
    graph = ox.simplify_graph(graph, edge_attrs_differ=_DIFFER.get(mode))
    return from_graph(graph, mode, info={"source": f"osmnx download: {query}"})
