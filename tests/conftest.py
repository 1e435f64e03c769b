"""Session fixtures: the Sheffield pack is read once, in place."""

from __future__ import annotations

import fcntl
import os
import pickle

import pytest

# Under pytest-xdist each core runs a worker: one native thread per pool in each (OpenMP, BLAS),
# or two workers' OpenMP teams spin against each other and a gradient-boosting fit takes 10x
# as long (measured: 23 s alone, 248 s with two workers at two threads each).
if os.environ.get("PYTEST_XDIST_WORKER"):
    for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
        os.environ[_var] = "1"

from placekit.config import data_dir
from placekit.place import Place, load_place


@pytest.fixture(scope="session")
def place() -> Place:
    return load_place()


@pytest.fixture(scope="session")
def walk_net(place: Place):
    return place.network("walk")


@pytest.fixture(scope="session")
def pack_dir():
    return data_dir()


@pytest.fixture(scope="session")
def region_sources(pack_dir):
    """The South Yorkshire sources beside the Sheffield pack (skip if this machine lacks them)."""
    region = pack_dir.parent / "region" / "south-yorkshire"
    if not (region / "boundaries").is_dir():
        pytest.skip("no regional sources beside the pack")
    return region


@pytest.fixture(scope="session")
def rotherham_build(region_sources, tmp_path_factory):
    """
    A Rotherham pack cut from the regional sources once per run, and the build's report.

    Under pytest-xdist every worker has its own session; the first to arrive builds
    the pack in the run's shared temporary folder while holding a lock, and the
    others wait and read it (the report is pickled beside it).
    """
    from placekit.packbuild import build_pack

    base = tmp_path_factory.getbasetemp()
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    out, saved = shared / "packs" / "rotherham", shared / "packs" / "rotherham-report.pkl"
    out.parent.mkdir(parents=True, exist_ok=True)
    with (shared / "packs" / ".rotherham.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if saved.is_file():
            return out, pickle.loads(saved.read_bytes())
        rep = build_pack(region_sources, ["E08000018"], out, margin_km=1.0, prebuild=("walk",))
        saved.write_bytes(pickle.dumps(rep))
    return out, rep


@pytest.fixture(scope="session")
def rotherham_dir(rotherham_build):
    """The session's Rotherham pack folder (walk network checked)."""
    return rotherham_build[0]


@pytest.fixture(scope="session")
def rotherham(rotherham_dir):
    return load_place(rotherham_dir)
