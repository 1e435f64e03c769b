"""The street-network cache: atomic, checked on load, rebuilt when bad, safe under concurrency.

And the network itself is deterministic: the same OSM file gives the same arrays
whatever Python's hash seed.
"""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from placekit import network as pn
from placekit.errors import DataError
from placekit.network import StreetNetwork, load_network, pick_highway

ARRAYS = ("node_x", "node_y", "edge_u", "edge_v", "length_m", "highway")


@pytest.fixture
def osm(pack_dir) -> Path:
    return pack_dir / "osm" / "sheffield_park_hill_osm_highways.osm"


@pytest.fixture
def cache_env(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv("PLACEKIT_CACHE", str(folder))
    return folder


def _same(a: StreetNetwork, b: StreetNetwork) -> None:
    assert a.mode == b.mode
    for name in ARRAYS:
        x, y = getattr(a, name), getattr(b, name)
        assert x.dtype == y.dtype and x.shape == y.shape, name
        assert x.tobytes() == y.tobytes(), name


@pytest.fixture
def built(osm, cache_env) -> tuple[StreetNetwork, Path]:
    net = load_network(osm, "walk")
    return net, pn._cache_path(osm, "walk")


# -- checks on load --------------------------------------------------------------------------
def _rebuilds(osm: Path, cache: Path, reference: StreetNetwork) -> list[str]:
    steps: list[str] = []
    with pytest.warns(UserWarning, match="deleted and the walk network is being rebuilt"):
        net = load_network(osm, "walk", progress=lambda m, _f: steps.append(m))
    assert "cache" not in net.info  # built afresh, not read from the bad file
    _same(net, reference)
    _same(StreetNetwork.load(cache, mode="walk"), reference)  # and the new cache is good
    assert any("rebuilt" in s for s in steps)
    assert not [p for p in cache.parent.iterdir() if ".tmp" in p.name]
    return steps


def test_corrupt_cache_is_rebuilt(osm, built):
    net, cache = built
    cache.write_bytes(b"this is not a zip file at all" * 10)
    steps = _rebuilds(osm, cache, net)
    assert any("cannot be read" in s for s in steps)


def test_truncated_cache_is_rebuilt(osm, built):
    net, cache = built
    data = cache.read_bytes()
    cache.write_bytes(data[: len(data) // 2])
    _rebuilds(osm, cache, net)


def test_empty_cache_is_rebuilt(osm, built):
    net, cache = built
    cache.write_bytes(b"")
    _rebuilds(osm, cache, net)


def _rewrite(cache: Path, **changes: object) -> None:
    with np.load(cache) as z:
        arrays = {k: z[k] for k in z.files}
    for k, v in changes.items():
        if v is None:
            arrays.pop(k)
        else:
            arrays[k] = v
    with cache.open("wb") as f:
        np.savez(f, **arrays)


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"edge_v": None}, "lacks array"),
        ({"version": np.array(3)}, "is version 3"),
        ({"version": np.array("four")}, "is version 'four'"),
        ({"mode": np.array("drive")}, "mode is 'drive'"),
        ({"length_m": np.zeros(3)}, "length_m has shape"),
        ({"edge_u": np.full(1431, 10**6)}, "edge_u points outside"),
        ({"node_x": np.full(530, np.nan)}, "node_x is not all finite"),
        ({"edge_u": np.zeros(1431, dtype=float)}, "edge_u holds float64"),
    ],
)
def test_inconsistent_cache_is_rebuilt_not_reused(osm, built, change, why):
    net, cache = built
    assert (net.n_nodes, net.edge_u.size) == (530, 1431)  # the sizes the cases above assume
    _rewrite(cache, **change)
    with pytest.raises(DataError, match=why):
        StreetNetwork.load(cache, mode="walk")
    steps = _rebuilds(osm, cache, net)
    assert any(why in s for s in steps)


def test_save_is_atomic(built, monkeypatch):
    net, cache = built
    before = cache.read_bytes()

    def boom(*_a: object, **_k: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", boom)
    with pytest.raises(OSError, match="disk full"):
        net.save(cache)
    assert cache.read_bytes() == before  # the old cache is intact
    assert sorted(p.name for p in cache.parent.iterdir()) == sorted(
        [cache.name, cache.name + ".lock"]
    )


def test_lock_timeout_is_clear(osm, cache_env):
    cache = pn._cache_path(osm, "walk")
    lock = cache.with_name(cache.name + ".lock")
    steps: list[str] = []
    fd = os.open(lock, os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        with pytest.raises(DataError, match="waiting for another placekit process"):
            load_network(osm, "walk", lock_timeout_s=0.3, progress=lambda m, _f: steps.append(m))
    finally:
        os.close(fd)
    assert any("Another process is building" in s for s in steps)
    assert not cache.exists()


# -- two processes -------------------------------------------------------------------------
_BUILDER = textwrap.dedent(
    """
    import json, sys, time, hashlib
    from pathlib import Path
    import numpy as np
    from placekit.network import load_network
    osm, mode, me, other, out = sys.argv[1:6]
    Path(me).touch()
    while not Path(other).exists():  # start together
        time.sleep(0.01)
    use_cache = not mode.startswith("nocache-")
    net = load_network(Path(osm), mode.removeprefix("nocache-"), use_cache=use_cache)
    np.savez(out, **{k: getattr(net, k) for k in
             ("node_x", "node_y", "edge_u", "edge_v", "length_m", "highway")})
    print(json.dumps({"built": "cache" not in net.info}))
    """
)


def _run_pair(tmp_path: Path, argvs: list[list[str]], envs: list[dict[str, str]]) -> list[dict]:
    script = tmp_path / "builder.py"
    script.write_text(_BUILDER)
    procs = []
    for i, (argv, env) in enumerate(zip(argvs, envs, strict=True)):
        me, other = tmp_path / f"ready{i}", tmp_path / f"ready{1 - i}"
        cmd = [sys.executable, str(script), *argv[:2], str(me), str(other), argv[2]]
        procs.append(
            subprocess.Popen(
                cmd,
                env={**os.environ, **env},
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    results = []
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
        assert "Traceback" not in err
        results.append(json.loads(out.strip().splitlines()[-1]))
    return results


def test_concurrent_builders_make_one_valid_cache(osm, tmp_path):
    cache = tmp_path / "shared-cache"
    outs = [tmp_path / "a.npz", tmp_path / "b.npz"]
    res = _run_pair(
        tmp_path, [[str(osm), "drive", str(o)] for o in outs], [{"PLACEKIT_CACHE": str(cache)}] * 2
    )
    assert sorted(r["built"] for r in res) == [False, True]  # one built, the other loaded it
    with np.load(outs[0]) as a, np.load(outs[1]) as b:
        for k in a.files:
            assert a[k].tobytes() == b[k].tobytes(), k
    files = sorted(p.name for p in cache.iterdir())
    assert len([f for f in files if f.endswith(".npz")]) == 1
    assert not [f for f in files if ".tmp" in f]
    npz = next(cache.glob("*.npz"))
    assert StreetNetwork.load(npz, mode="drive").n_nodes > 500


def test_same_arrays_whatever_the_hash_seed(osm, tmp_path):
    outs = [tmp_path / "seed1.npz", tmp_path / "seed2.npz"]
    _run_pair(
        tmp_path,
        [[str(osm), "nocache-drive", str(o)] for o in outs],
        [
            {"PYTHONHASHSEED": "1", "PLACEKIT_CACHE": str(tmp_path / "c1")},
            {"PYTHONHASHSEED": "2", "PLACEKIT_CACHE": str(tmp_path / "c2")},
        ],
    )
    with np.load(outs[0]) as a, np.load(outs[1]) as b:
        assert a["edge_u"].size > 1000
        for k in a.files:
            assert a[k].dtype == b[k].dtype and a[k].shape == b[k].shape, k
            assert a[k].tobytes() == b[k].tobytes(), k


def test_drive_edges_never_span_two_road_types(osm):
    graph = pn._graph_from_xml(osm, "drive")
    kinds = [d.get("highway") for *_e, d in graph.edges(data=True)]
    assert kinds and not [k for k in kinds if isinstance(k, list)]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (["residential", "primary"], "primary"),
        (["primary", "residential"], "primary"),
        (["primary_link", "primary"], "primary"),
        (["secondary_link", "tertiary"], "secondary_link"),
        (["footway", "path", "steps"], "footway"),
        (["service", "footway"], "service"),
        ([], "road"),
        (None, "road"),
        ("track", "track"),
    ],
)
def test_pick_highway_is_order_free(value, expected):
    assert pick_highway(value) == expected
    if isinstance(value, list):
        assert pick_highway(list(reversed(value))) == expected
