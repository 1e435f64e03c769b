"""Where the data pack and the cache live, and the project-wide constants."""

from __future__ import annotations

import os
from pathlib import Path

from placekit.errors import DataError

__all__ = [
    "DISPLAY_CRS",
    "WORKING_CRS",
    "cache_dir",
    "data_dir",
    "default_data_dir",
    "pack_roots",
]

#: Analysis CRS: British National Grid, metres.
WORKING_CRS = "EPSG:27700"
#: Display CRS: WGS84 lon/lat, used only when drawing.
DISPLAY_CRS = "EPSG:4326"


def default_data_dir() -> Path:
    """
    The pack opened when none is named: ``PLACEKIT_DATA``, else ``../shared/data``.

    The relative default is taken from the current folder (the repository when
    the app or the tests run from it); nothing is resolved from the installed
    package's location.
    """
    env = os.environ.get("PLACEKIT_DATA")
    return Path(env) if env else Path.cwd().parent / "shared" / "data"


def data_dir(path: str | os.PathLike[str] | None = None) -> Path:
    """
    Locate a place pack folder.

    Parameters
    ----------
    path
        An explicit folder; when ``None``, :func:`default_data_dir`.

    Returns
    -------
    Path
        The resolved folder.

    Raises
    ------
    DataError
        If the folder does not exist.
    """
    chosen = (Path(path) if path is not None else default_data_dir()).expanduser().resolve()
    if not chosen.is_dir():
        msg = (
            f"No place pack at {chosen}. Set PLACEKIT_DATA or pass --data DIR to point at a pack "
            "(the Sheffield pack, or one made with `placekit pack build`); see data/README.md."
        )
        raise DataError(msg)
    return chosen


def pack_roots() -> list[Path]:
    """
    Where the app looks for packs: ``PLACEKIT_PACKS`` (folders separated by ``os.pathsep``).

    Each folder is a pack or holds packs as sub-folders. The default is the
    default pack's folder and ``~/placekit-packs``.
    """
    env = os.environ.get("PLACEKIT_PACKS")
    if env:
        return [Path(p).expanduser() for p in env.split(os.pathsep) if p.strip()]
    return [default_data_dir(), Path.home() / "placekit-packs"]


def cache_dir() -> Path:
    """
    Folder for derived caches (projected street networks).

    ``PLACEKIT_CACHE`` overrides the default ``~/.cache/placekit``.

    Returns
    -------
    Path
        An existing folder.
    """
    env = os.environ.get("PLACEKIT_CACHE")
    folder = Path(env) if env else Path.home() / ".cache" / "placekit"
    folder.mkdir(parents=True, exist_ok=True)
    return folder
