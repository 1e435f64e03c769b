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
