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
]

#: Analysis CRS: British National Grid, metres.
WORKING_CRS = "EPSG:27700"
#: Display CRS: WGS84 lon/lat, used only when drawing.
DISPLAY_CRS = "EPSG:4326"

_REPO_ROOT = Path(__file__).resolve().parent.parent


def data_dir(path: str | os.PathLike[str] | None = None) -> Path:
    """
    Locate the place data pack.

    Parameters
    ----------
    path
        An explicit folder. When ``None``, the ``PLACEKIT_DATA`` environment
        setting is used, else ``../shared/data`` relative to the repository.

    Returns
    -------
    Path
        The resolved folder.

    Raises
    ------
    DataError
        If the folder does not exist or has no ``boundaries/`` subfolder.
    """
    if path is None:
        env = os.environ.get("PLACEKIT_DATA")
        chosen = Path(env) if env else _REPO_ROOT.parent / "shared" / "data"
    else:
        chosen = Path(path)
    chosen = chosen.expanduser().resolve()
    if not (chosen / "boundaries").is_dir():
        msg = (
            f"No place data pack at {chosen} (expected a folder with boundaries/, "
            "census/, deprivation/ ...). Set PLACEKIT_DATA or pass --data DIR to "
            "point at the pack; see data/README.md."
        )
        raise DataError(msg)
    return chosen


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
