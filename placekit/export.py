"""Write tables to CSV, GeoPackage, GeoParquet or GeoJSON, chosen by extension.

Every file is written atomically: under a temporary name in the destination
folder, flushed to disk (``fsync``) and renamed over the target with
``os.replace``. A crash or a full disk mid-write leaves the previous file (or
none), never half a file; see :func:`atomic_path`.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import geopandas as gpd
import pandas as pd

from placekit.config import DISPLAY_CRS
from placekit.errors import DataError

__all__ = ["FORMATS", "atomic_path", "write_table", "write_text"]

FORMATS = (".csv", ".gpkg", ".parquet", ".geoparquet", ".geojson")


def _fsync_dir(folder: Path) -> None:
    """Flush a folder's entry table so a rename survives a crash (POSIX only)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # pragma: no cover - e.g. Windows cannot open folders
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """
    A temporary path beside ``path``; renamed over it when the block succeeds.

    The temporary file lives in the same folder (so the rename is atomic) and
    keeps the extension (so writers that choose a format by extension, such
    as GDAL, still work). After the block the file is fsynced and moved into
    place with ``os.replace``; if the block raises, the temporary file is
    removed and ``path`` is untouched.

    Parameters
    ----------
    path
        The final file.

    Yields
    ------
    Path
        Where to write (an empty file exists there; writers may replace it).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "a.txt"
    >>> with atomic_path(target) as tmp:
    ...     _ = tmp.write_text("hello")
    >>> target.read_text()
    'hello'
    """
    final = Path(path)
    tmp = final.with_name(f".{final.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp{final.suffix}")
    # O_EXCL: never reuse someone else's file; 0o666 less the umask, like a plain open()
    os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    try:
        yield tmp
        with tmp.open("rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, final)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    _fsync_dir(final.parent)


def write_text(text: str, path: str | Path) -> Path:
    """
    Write UTF-8 text to ``path`` atomically (see :func:`atomic_path`).

    Parameters
    ----------
    text
        The content.
    path
        The file; its folder must exist.

    Returns
    -------
    Path
        ``path``.
    """
    p = Path(path)
    with atomic_path(p) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return p


def write_table(
    table: pd.DataFrame, path: str | Path, *, attributions: list[str] | None = None
) -> Path:
    """
    Write ``table`` to ``path``; the format follows the extension.

    CSV drops the geometry; GeoJSON is written in EPSG:4326 as the format
    requires; GeoPackage and GeoParquet keep EPSG:27700. Attributions go in a
    ``<path>.ATTRIBUTION.txt`` file beside the output. Both files are written
    atomically, so an existing output is replaced whole or not at all.

    Parameters
    ----------
    table
        The table; a GeoDataFrame for the spatial formats.
    path
        The output file; ``.csv``, ``.gpkg``, ``.parquet``/``.geoparquet`` or
        ``.geojson``. Missing parent folders are created.
    attributions
        Lines for the attribution file (none written when empty).

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    DataError
        For an unknown extension, or a spatial format asked of a table with no geometry.
    """
    p = Path(path)
    ext = p.suffix.lower()
    if ext not in FORMATS:
        msg = f"Cannot write {p.name!r}: the extension must be one of {list(FORMATS)}."
        raise DataError(msg)
    is_geo = isinstance(table, gpd.GeoDataFrame) and "geometry" in table.columns
    if ext != ".csv" and not is_geo:
        msg = f"{p.name}: {ext} needs geometry; write .csv for a plain table."
        raise DataError(msg)
    p.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(p) as tmp:
        if ext == ".csv":
            out = pd.DataFrame(table.drop(columns="geometry", errors="ignore"))
            out.to_csv(tmp, index=True)
        else:
            g = table.reset_index()
            tmp.unlink()  # GDAL creates its own file
            if ext == ".gpkg":
                g.to_file(tmp, driver="GPKG", layer="placekit")
            elif ext == ".geojson":
                g.to_crs(DISPLAY_CRS).to_file(tmp, driver="GeoJSON")
            else:
                g.to_parquet(tmp)
    if attributions:
        write_text("\n".join(attributions) + "\n", p.with_name(p.name + ".ATTRIBUTION.txt"))
    return p
