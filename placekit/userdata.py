"""Load a council's own service data: tables keyed by LSOA, and point files.

Everything is checked before anything is added: a failed load raises a
:class:`~placekit.errors.DataError` (or ``SchemaError``/``CRSError``) that names
the file, the column or the rows and says how to fix it, and the place is left
as it was (the functions return a *new* :class:`~placekit.place.Place`).
"""

from __future__ import annotations

import io
import re
import tempfile
import zipfile
from pathlib import Path
from typing import IO

import geopandas as gpd
import numpy as np
import pandas as pd

from placekit.config import WORKING_CRS
from placekit.errors import CRSError, DataError, SchemaError
from placekit.place import Place

__all__ = [
    "MAX_BYTES",
    "add_points",
    "add_table",
    "read_points",
    "read_table",
]

#: Largest upload accepted, in bytes (50 MB).
MAX_BYTES = 50 * 1024 * 1024
_CODE_RE = re.compile(r"^[EW]0[0-9]{7}$")
_LSOA_RE = re.compile(r"^E01[0-9]{6}$")
_ID_RE = re.compile(r"[^a-z0-9]+")

Source = str | Path | bytes | IO[bytes]


def _read_bytes(source: Source, name: str | None, *, max_bytes: int) -> tuple[bytes, str]:
    if isinstance(source, (str, Path)):
        p = Path(source)
        if not p.is_file():
            msg = f"No file at {p}."
            raise DataError(msg)
        size = p.stat().st_size
        label = name or p.name
        if size > max_bytes:
            msg = (f"{label} is {size / 1e6:.1f} MB, over the {max_bytes / 1e6:.0f} MB limit. "
                   "Keep only the columns you need, or aggregate to LSOA before uploading.")
            raise DataError(msg)
        return p.read_bytes(), label
    raw = source if isinstance(source, bytes) else source.read()
    label = name or "uploaded file"
    if len(raw) > max_bytes:
        msg = (f"{label} is {len(raw) / 1e6:.1f} MB, over the {max_bytes / 1e6:.0f} MB limit. "
               "Keep only the columns you need, or aggregate to LSOA before uploading.")
        raise DataError(msg)
    return raw, label


def _decode(raw: bytes, label: str, encoding: str | None) -> str:
    if not raw.strip():
        msg = f"{label} is empty. Upload a file with a header row and one row per area."
        raise DataError(msg)
    enc = encoding or "utf-8-sig"
    try:
        return raw.decode(enc)
    except UnicodeDecodeError as err:
        msg = (f"{label} is not {enc.replace('-sig', '')} text (byte 0x{raw[err.start]:02x} at "
               f"position {err.start}). Save it as 'CSV UTF-8' (Excel: File > Save As > "
               "CSV UTF-8), or give its encoding, e.g. encoding='cp1252'.")
        raise DataError(msg) from None


def _frame_from(raw: bytes, label: str, encoding: str | None) -> pd.DataFrame:
    if label.lower().endswith((".xlsx", ".xlsm")):
        try:
            df = pd.read_excel(io.BytesIO(raw), dtype=object)
        except Exception as err:  # openpyxl raises many types for broken files
            msg = f"{label} could not be read as an Excel workbook ({err}). Save it again as .xlsx or CSV."
            raise DataError(msg) from None
    else:
        text = _decode(raw, label, encoding)
        try:
            df = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
        except pd.errors.ParserError as err:
            msg = f"{label} is not a valid CSV table: {err}"
            raise DataError(msg) from None
        except pd.errors.EmptyDataError:
            msg = f"{label} is empty. Upload a file with a header row and one row per area."
            raise DataError(msg) from None
    if df.empty:
        msg = f"{label} has a header but no rows."
        raise DataError(msg)
    df.columns = [str(c).strip() for c in df.columns]
    return df


def _find_code_column(df: pd.DataFrame, label: str, code_column: str | None) -> str:
    if code_column is not None:
        if code_column not in df.columns:
            msg = (f"{label} has no column {code_column!r}. Columns present: {list(df.columns)}.")
            raise SchemaError(msg)
        return code_column
    best, best_share = None, 0.0
    for c in df.columns:
        s = df[c].astype(str).str.strip().str.upper()
        share = s.str.match(_CODE_RE).mean()
        if share > best_share:
            best, best_share = c, share
    if best is None or best_share < 0.5:
        msg = (f"{label} has no column of LSOA codes (like E01007823). Columns present: "
               f"{list(df.columns)}. Add a column of 2011 or 2021 LSOA codes, or name it with code_column=.")
        raise SchemaError(msg)
    return best


def _rows(mask: pd.Series) -> str:
    rows = (np.flatnonzero(mask.to_numpy()) + 2).tolist()  # +2: header line and 1-based
    more = f" and {len(rows) - 8} more" if len(rows) > 8 else ""
    return f"{rows[:8]}{more}"


def read_table(
    place: Place,
    source: Source,
    *,
    name: str | None = None,
    code_column: str | None = None,
    value_columns: list[str] | None = None,
    encoding: str | None = None,
    max_bytes: int = MAX_BYTES,
) -> tuple[pd.DataFrame, str]:
    """
    Read and check a table of values keyed by LSOA 2011 or 2021 code.

    Parameters
    ----------
    place
        The place whose LSOAs the codes must belong to.
    source
        A path, bytes or a binary file object (CSV or XLSX).
    name
        The file name, used in messages and to tell XLSX from CSV.
    code_column
        The column of LSOA codes; found automatically when ``None``.
    value_columns
        Columns to keep; every other column by default.
    encoding
        Text encoding of a CSV; UTF-8 (with or without BOM) by default.
    max_bytes
        Size limit.

    Returns
    -------
    (pd.DataFrame, str)
        Numeric values indexed by the codes as given, and the code vintage,
        ``"2011"`` or ``"2021"``.

    Raises
    ------
    DataError, SchemaError
        For an empty, oversized or non-UTF-8 file; no code column; malformed,
        duplicate or foreign codes; a mix of 2011-only and 2021-only codes;
        missing, non-numeric or negative values.
    """
    raw, label = _read_bytes(source, name, max_bytes=max_bytes)
    df = _frame_from(raw, label, encoding)
    code_col = _find_code_column(df, label, code_column)
    codes = df[code_col].astype(str).str.strip().str.upper()
    bad = ~codes.str.match(_LSOA_RE)
    if bad.any():
        msg = (f"{label}, column {code_col!r}: rows {_rows(bad)} are not LSOA codes "
               f"(e.g. {df.loc[bad, code_col].iloc[0]!r}); LSOA codes look like E01007823.")
        raise DataError(msg)
    dup = codes.duplicated(keep=False)
    if dup.any():
        msg = (f"{label}, column {code_col!r}: codes repeat on rows {_rows(dup)} "
               f"(e.g. {codes[dup].iloc[0]}). Give one row per LSOA (sum or average the repeats first).")
        raise DataError(msg)
    c11, c21 = set(place.lookup11["LSOA11CD"]), set(place.lookup11["LSOA21CD"])
    foreign = ~codes.isin(c11 | c21)
    if foreign.any():
        msg = (f"{label}, column {code_col!r}: rows {_rows(foreign)} hold LSOA codes from outside "
               f"this city (local authority {place.la_code}), e.g. {codes[foreign].iloc[0]}. "
               "Remove those rows or load the pack of their city.")
        raise DataError(msg)
    only11, only21 = codes.isin(c11 - c21), codes.isin(c21 - c11)
    if only11.any() and only21.any():
        msg = (f"{label} mixes 2011-only codes (rows {_rows(only11)}) and 2021-only codes "
               f"(rows {_rows(only21)}). Use one vintage throughout.")
        raise DataError(msg)
    vintage = "2011" if only11.any() else "2021"
    cols = value_columns or [c for c in df.columns if c != code_col]
    missing = [c for c in cols if c not in df.columns]
    if missing:
        msg = f"{label} has no column(s) {missing}. Columns present: {list(df.columns)}."
        raise SchemaError(msg)
    if not cols:
        msg = f"{label} has only the code column {code_col!r}; add a column of counts or rates."
        raise SchemaError(msg)
    out = {}
    for c in cols:
        s = df[c].astype(str).str.strip().str.replace(",", "", regex=False)
        num = pd.to_numeric(s.replace({"": np.nan}), errors="coerce")
        nonnum = num.isna() & s.ne("")
        if nonnum.any():
            msg = (f"{label}, column {c!r}: rows {_rows(nonnum)} are not numbers "
                   f"(e.g. {df.loc[nonnum, c].iloc[0]!r}). Use plain numbers; leave a cell blank if unknown.")
            raise DataError(msg)
        neg = num < 0
        if neg.any():
            msg = (f"{label}, column {c!r}: rows {_rows(neg)} are negative "
                   f"(e.g. {num[neg].iloc[0]:g}). Counts and rates must be 0 or more.")
            raise DataError(msg)
        out[c] = num.to_numpy()
    return pd.DataFrame(out, index=pd.Index(codes.to_numpy(), name="code")), vintage


def _slug(text: str) -> str:
    s = _ID_RE.sub("_", text.lower()).strip("_")
    return s if s and s[0].isalpha() else f"u_{s}"


def _is_count(values: pd.Series) -> bool:
    v = values.dropna()
    return bool(len(v)) and bool(np.all(np.isclose(v, np.round(v))))


def add_table(
    place: Place,
    source: Source,
    *,
    name: str | None = None,
    prefix: str = "user",
    kind: str = "auto",
    theme: str = "health and care demand",
    code_column: str | None = None,
    value_columns: list[str] | None = None,
    encoding: str | None = None,
    max_bytes: int = MAX_BYTES,
) -> Place:
    """
    Add an uploaded table as indicators; returns a new place.

    Counts (whole numbers, or ``kind="count"``) become ``<prefix>_<column>``,
    summed over localities and disclosure controlled, plus
    ``<prefix>_<column>_per_1000`` residents. Rates (``kind="rate"``) are
    averaged weighted by population. 2011 codes are converted to 2021 (see
    :mod:`placekit.harmonise`).

    Returns
    -------
    Place
        A copy with the new indicators; ``place`` itself is unchanged.
    """
    from placekit.harmonise import lsoa11_to_lsoa21

    if kind not in ("auto", "count", "rate"):
        msg = f"kind must be one of ['auto', 'count', 'rate']; got {kind!r}."
        raise DataError(msg)
    table, vintage = read_table(place, source, name=name, code_column=code_column,
                                value_columns=value_columns, encoding=encoding, max_bytes=max_bytes)
    label = name or (Path(source).name if isinstance(source, (str, Path)) else "upload")
    kinds = {c: ("count" if _is_count(table[c]) else "rate") if kind == "auto" else kind for c in table}
    counts = [c for c, k in kinds.items() if k == "count"]
    pop = place.weights["population"]
    if vintage == "2011":
        w11 = (place.population11 if place.population11 is not None
               else place.lookup11.groupby("LSOA11CD")["LSOA21CD"].first().map(pop))
        table = lsoa11_to_lsoa21(table, place.lookup11, weight11=w11, population21=pop,
                                 count_columns=counts)
    values, metas, supp = {}, {}, {}
    base = dict(theme=theme, source=f"uploaded: {label}", year="", geography=f"LSOA{vintage[2:]}",
                licence="user data", tier="tertiary", derivation=f"upload:{label}",
                label="", unit="", direction="higher_worse", kind="", aggregation="", weight="")
    for c in table.columns:
        cid = f"{prefix}_{_slug(c)}"
        if kinds[c] == "count":
            values[cid] = table[c]
            metas[cid] = {**base, "label": f"{c} (count)", "unit": "count", "kind": "count",
                          "aggregation": "sum"}
            rid = f"{cid}_per_1000"
            values[rid] = 1000.0 * table[c].reindex(pop.index) / pop
            metas[rid] = {**base, "label": f"{c} per 1000 residents", "unit": "per 1000 residents",
                          "kind": "rate", "aggregation": "weighted_mean", "weight": "population"}
            supp[cid] = cid
            supp[rid] = cid
        else:
            values[cid] = table[c]
            metas[cid] = {**base, "label": c, "unit": "rate", "kind": "rate",
                          "aggregation": "weighted_mean", "weight": "population"}
    frame = pd.DataFrame(values).reindex(place.lsoa.index)
    return place.with_indicators(frame, metas, suppress=supp)


_LON = ("lon", "lng", "long", "longitude", "x_lon")
_LAT = ("lat", "latitude", "y_lat")
_EAST = ("easting", "eastings", "x", "bng_x", "east")
_NORTH = ("northing", "northings", "y", "bng_y", "north")


def _pick(cols: dict[str, str], names: tuple[str, ...]) -> str | None:
    return next((cols[n] for n in names if n in cols), None)


def read_points(
    place: Place,
    source: Source,
    *,
    name: str | None = None,
    encoding: str | None = None,
    max_bytes: int = MAX_BYTES,
    drop_outside: bool = False,
) -> gpd.GeoDataFrame:
    """
    Read a points file (CSV with lon/lat or easting/northing, GeoJSON, GeoPackage, zipped Shapefile).

    Returns
    -------
    gpd.GeoDataFrame
        Points in EPSG:27700 with the file's columns.

    Raises
    ------
    DataError, SchemaError, CRSError
        For an empty, oversized or unreadable file, missing coordinate columns,
        no CRS, broken or non-point geometry, or points outside the city
        (unless ``drop_outside``).
    """
    raw, label = _read_bytes(source, name, max_bytes=max_bytes)
    low = label.lower()
    if low.endswith((".csv", ".txt")):
        df = _frame_from(raw, label, encoding)
        cols = {c.lower(): c for c in df.columns}
        lon, lat = _pick(cols, _LON), _pick(cols, _LAT)
        east, north = _pick(cols, _EAST), _pick(cols, _NORTH)
        if lon and lat:
            xcol, ycol, crs = lon, lat, "EPSG:4326"
        elif east and north:
            xcol, ycol, crs = east, north, "EPSG:27700"
        else:
            msg = (f"{label} needs coordinate columns: lon and lat (WGS84 degrees) or easting and "
                   f"northing (British National Grid metres). Columns present: {list(df.columns)}.")
            raise SchemaError(msg)
        x = pd.to_numeric(df[xcol].str.strip(), errors="coerce")
        y = pd.to_numeric(df[ycol].str.strip(), errors="coerce")
        bad = x.isna() | y.isna()
        if bad.any():
            msg = (f"{label}: rows {_rows(bad)} have missing or non-numeric coordinates in "
                   f"{xcol!r}/{ycol!r}. Fix or remove those rows.")
            raise DataError(msg)
        gdf = gpd.GeoDataFrame(df, geometry=gpd.points_from_xy(x, y), crs=crs)
    elif low.endswith((".geojson", ".json", ".gpkg", ".zip")):
        if not raw.strip():
            msg = f"{label} is empty."
            raise DataError(msg)
        if low.endswith(".zip"):
            with zipfile.ZipFile(io.BytesIO(raw)) as zf:
                if not any(n.lower().endswith(".shp") for n in zf.namelist()):
                    msg = f"{label} holds no .shp file; zip the .shp, .shx, .dbf and .prj together."
                    raise DataError(msg)
        suffix = ".shp.zip" if low.endswith(".zip") else Path(low).suffix
        try:
            with tempfile.TemporaryDirectory() as tmp:
                f = Path(tmp) / f"upload{suffix}"
                f.write_bytes(raw)
                gdf = gpd.read_file(f)
        except Exception as err:  # pyogrio raises several error types
            msg = f"{label} could not be read as a spatial file ({err}). Check it opens in QGIS."
            raise DataError(msg) from None
        if gdf.empty:
            msg = f"{label} has no features."
            raise DataError(msg)
        if gdf.crs is None:
            msg = (f"{label} has no CRS. Save it with one (EPSG:4326 for lon/lat, EPSG:27700 for "
                   "British National Grid), e.g. in QGIS: Export > Save Features As.")
            raise CRSError(msg)
    else:
        msg = f"{label}: unsupported file type. Use CSV, XLSX (tables), GeoJSON, GeoPackage or a zipped Shapefile."
        raise DataError(msg)
    geom = gdf.geometry
    broken = geom.isna() | geom.is_empty | ~geom.is_valid
    if broken.any():
        msg = (f"{label}: features {_rows(broken)} have empty or invalid geometry. Repair them "
               "(QGIS 'Fix geometries' or shapely.make_valid) or remove them.")
        raise DataError(msg)
    if not (gdf.geom_type == "Point").all():
        gdf = gdf.set_geometry(gdf.geometry.representative_point())
    gdf = gdf.to_crs(WORKING_CRS)
    city = place.lsoa.geometry.union_all().buffer(1.0)
    outside = ~gdf.within(city)
    if outside.all():
        msg = (f"{label}: none of the {len(gdf)} points is inside the city. Check the coordinate "
               "system: lon/lat must be WGS84 degrees; easting/northing British National Grid metres.")
        raise CRSError(msg)
    if outside.any():
        if not drop_outside:
            msg = (f"{label}: rows {_rows(outside)} lie outside the city. Remove them, or load "
                   "with drop_outside=True to leave them out.")
            raise DataError(msg)
        gdf = gdf.loc[~outside]
    gdf = gdf.reset_index(drop=True)
    gdf.attrs.update(attribution=f"uploaded: {label}", label=label, theme="user data")
    return gdf


def add_points(
    place: Place,
    source: Source,
    *,
    name: str | None = None,
    prefix: str = "user",
    theme: str = "health and care demand",
    encoding: str | None = None,
    max_bytes: int = MAX_BYTES,
    drop_outside: bool = False,
) -> Place:
    """
    Add an uploaded points file as a layer and a disclosure-controlled count per LSOA.

    Returns
    -------
    Place
        A copy with layer ``<prefix>:<name>`` and indicators ``<prefix>_<name>_count``
        and ``..._per_1000``; ``place`` itself is unchanged.
    """
    from placekit._assemble import _point_counts

    pts = read_points(place, source, name=name, encoding=encoding, max_bytes=max_bytes,
                      drop_outside=drop_outside)
    label = str(pts.attrs["label"])
    stem = _slug(Path(label).stem)
    cid = f"{prefix}_{stem}_count"
    counts = _point_counts(place.lsoa, pts)
    pop = place.weights["population"]
    base = dict(theme=theme, source=f"uploaded: {label}", year="", geography="points",
                licence="user data", tier="tertiary", derivation=f"upload:{label}",
                direction="higher_worse", weight="")
    metas = {
        cid: {**base, "label": f"{label} (count of points)", "unit": "count", "kind": "count",
              "aggregation": "sum"},
        f"{cid}_per_1000": {**base, "label": f"{label} per 1000 residents",
                            "unit": "per 1000 residents", "kind": "rate",
                            "aggregation": "weighted_mean", "weight": "population"},
    }
    frame = pd.DataFrame({cid: counts, f"{cid}_per_1000": 1000.0 * counts / pop})
    return place.with_indicators(frame, metas, suppress={cid: cid, f"{cid}_per_1000": cid},
                                 layers={f"{prefix}:{stem}": pts})
