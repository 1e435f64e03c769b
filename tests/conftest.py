"""Session fixtures: the Sheffield pack is read once, in place."""

from __future__ import annotations

import pytest

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
    """A Rotherham pack cut from the regional sources once per session, and the build's report."""
    from placekit.packbuild import build_pack

    out = tmp_path_factory.mktemp("packs") / "rotherham"
    rep = build_pack(region_sources, ["E08000018"], out, margin_km=1.0, prebuild=("walk",))
    return out, rep


@pytest.fixture(scope="session")
def rotherham_dir(rotherham_build):
    """The session's Rotherham pack folder (walk network checked)."""
    return rotherham_build[0]


@pytest.fixture(scope="session")
def rotherham(rotherham_dir):
    return load_place(rotherham_dir)
