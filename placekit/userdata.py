"""Load a council's own service data: tables keyed by LSOA, and point files.

Everything is checked before anything is added. A failed load raises a
:class:`~placekit.errors.DataError` (or ``SchemaError``/``CRSError``) whose message
names the file, the column and the rows (numbered as a spreadsheet shows them: the
heading row is row 1, the first row of data row 2) and says what to change in the
file; the place is left as it was, because the functions return a *new*
:class:`~placekit.place.Place`. A fix that names an option (the app's tick box,
a keyword argument) is kept apart in the error's ``fixes``, so that each reader
sees their own (:func:`placekit.errors.explain`).

Limits, checked before the work they protect
--------------------------------------------
- the file: :data:`MAX_BYTES`;
- a zip (an XLSX workbook or a zipped Shapefile): the sizes in its directory are
  read before anything is unpacked: at most :data:`MAX_ZIP_MEMBERS` files, at most
  :data:`MAX_UNZIPPED_BYTES` unpacked, and no more than :data:`MAX_ZIP_RATIO` times
  its packed size (a zip bomb is refused without unpacking it); XML with a
  ``DOCTYPE`` or ``ENTITY`` declaration (entity-expansion bombs) is refused;
- the table: :data:`MAX_COLUMNS` columns (counted on the heading row before the rest
  is read), :data:`MAX_ROWS` rows, :data:`MAX_CELLS` cells, headings of at most
  :data:`MAX_HEADING_CHARS` characters;
- a points file: :data:`MAX_ROWS` features, counted before the geometries are read.

Values
------
Cells must be plain numbers; ``inf``, ``1e400``, ``NaN``/``N/A``/``-`` placeholders,
already-suppressed markers (``*``, ``c``, ``<5``) and dates are refused, naming the
rows. A comma inside a number is read as a thousands separator only where that is
unambiguous: the number is grouped exactly in threes (``1,234`` or ``12,345.5``) and
the file is comma-separated (or an Excel workbook). Anything else with a comma
(``1,5``, or any comma in a semicolon- or tab-separated file) is refused with a
request to use a decimal point.

Counts or rates
---------------
A column is a **count** unless its heading says it is a rate (it contains one of
the words in :data:`RATE_WORDS`, or ``%``) or the caller says so (``kind``/``kinds``).
Counts must be whole numbers: a decimal in a count column is refused, never taken as
a sign that the column is a rate, so counts always keep their disclosure control.

2011 codes and disclosure
-------------------------
Counts keyed by LSOA 2011 are converted to LSOA 2021 here (not with
:func:`placekit.harmonise.lsoa11_to_lsoa21`, whose shares are fractions): merges are
summed, and a 2011 count that is shared over the 2021 LSOAs it split into is shared
in proportion to their population and rounded to whole numbers by largest
remainder, so the parts are whole counts that add up exactly to the 2011 count. A
count of 1 goes whole to one part (the larger) and 0 to the other, never 0.49 and
0.51, and the derived 2021 counts are protected as counts like any other (see
:mod:`placekit.disclosure`). A 2021 LSOA built from a 2011 LSOA that the file leaves
out or leaves blank gets no value (not a partial sum). Rates go through
:func:`~placekit.harmonise.lsoa11_to_lsoa21`.

Points
------
Every point counts once: a MultiPoint counts each of its points, an area (polygon)
counts as one site. The map layer is *not* the points: by default it is the LSOAs
with their published (disclosure-controlled) counts and no names from the file.

Nothing is overwritten: an indicator id or layer name that is already in the place,
or two headings that give the same id, are refused with a message.
"""

from __future__ import annotations

import csv
import io
import json
import re
import tempfile
import warnings
import zipfile
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import IO, Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from placekit.catalogue import COLUMNS, THEMES, Catalogue
from placekit.config import WORKING_CRS
from placekit.errors import CRSError, DataError, PlacekitError, SchemaError
from placekit.place import Place

__all__ = [
    "MAX_BYTES",
    "MAX_CELLS",
    "MAX_COLUMNS",
    "MAX_HEADING_CHARS",
    "MAX_ROWS",
    "MAX_UNZIPPED_BYTES",
    "MAX_ZIP_MEMBERS",
    "MAX_ZIP_RATIO",
    "RATE_WORDS",
    "add_points",
    "add_table",
    "read_points",
    "read_table",
    "safe_text",
]

#: Largest upload accepted, in bytes (50 MB).
MAX_BYTES = 50 * 1024 * 1024
#: Largest total unpacked size of a zip (XLSX or zipped Shapefile), in bytes.
MAX_UNZIPPED_BYTES = 50 * 1024 * 1024
#: Largest unpacked/packed size ratio of a zip holding more than 1 MB.
MAX_ZIP_RATIO = 100
#: Most files inside a zip.
MAX_ZIP_MEMBERS = 1_000
#: Most columns in a table (the code column included).
MAX_COLUMNS = 200
#: Most rows in a table or features in a points file (the heading row not counted).
MAX_ROWS = 200_000
#: Most cells in a table (rows times columns).
MAX_CELLS = 2_000_000
#: Longest column heading, in characters.
MAX_HEADING_CHARS = 200
#: Words that make a column heading a rate rather than a count.
_RATE_WORDS = (
    "rate rates per pct percent percentage proportion ratio score mean average avg share "
    "index prevalence"
)
RATE_WORDS = frozenset(_RATE_WORDS.split())
#: Largest count accepted per LSOA (as in :mod:`placekit.disclosure`).
_MAX_COUNT = 1e9
_SMALL_ZIP = 1024 * 1024
_MAX_JSON_DEPTH = 32
_CODE_RE = re.compile(r"^[EW]0[0-9]{7}$")
_LSOA_RE = re.compile(r"^[EW]01[0-9]{6}$")
_ID_RE = re.compile(r"[^a-z0-9]+")
_PREFIX_RE = re.compile(r"^[a-z][a-z0-9_]*$")
_NUM_RE = r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"
_GROUPED_RE = r"[+-]?[0-9]{1,3}(?:,[0-9]{3})+(?:\.[0-9]+)?"
_SUPPRESSED = frozenset(
    "* ** c x s .. ~ <5 <3 <10 [c] [x] [low] low supp suppressed redacted dk".split()  # noqa: SIM905
)
_PLACEHOLDER_WORDS = (
    "nan na n/a #n/a null none - -- ? missing unknown nil #value! #div/0! #ref! #num! #name? #null!"
)
_PLACEHOLDERS = frozenset(_PLACEHOLDER_WORDS.split())
_INFINITE = frozenset({"inf", "+inf", "-inf", "infinity", "+infinity", "-infinity", "∞", "-∞"})
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
_OLE_MAGIC = b"\xd0\xcf\x11\xe0"
_SQLITE_MAGIC = b"SQLite format 3\x00"
_TABLE_EXT = (".csv", ".txt", ".tsv", ".xlsx", ".xlsm")
_SPATIAL_EXT = (".geojson", ".json", ".gpkg", ".zip")
# look-alikes for the characters that start Markdown or HTML markup
_DEFANG = str.maketrans(
    {
        "<": "\u2039",  # single left-pointing angle quotation mark
        ">": "\u203a",
        "[": "\u27e6",  # mathematical white square bracket
        "]": "\u27e7",
        "`": "\u02b9",  # modifier letter prime
        "$": "\uff04",  # fullwidth dollar sign (Streamlit renders $...$ as LaTeX)
        "*": "\u2217",  # asterisk operator
        "|": "\u00a6",  # broken bar
    }
)
_NO_LINK = ("://", "\u2236//")  # ratio sign: an address stays readable but is not a link

Source = str | Path | bytes | bytearray | memoryview | IO[bytes]

#: What a damaged zip (XLSX, zipped Shapefile) can raise while it is read.
_UNZIP_ERRORS = (
    zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError, RuntimeError,
    zlib.error,  # a flipped byte inside a deflated part
)


# ----------------------------------------------------------------------------- text


def safe_text(text: object, *, limit: int = 80) -> str:
    """
    Untrusted text made safe to show in Markdown or HTML, without quotes.

    Control and invisible characters are written as escapes, characters that
    start Markdown or HTML markup (``< > [ ] ` $ * |``) are replaced by
    look-alikes, links lose their ``://`` and long text is cut to `limit`.

    Parameters
    ----------
    text
        A file name, column heading or cell from an upload.
    limit
        Longest result, in characters (before escaping).

    Returns
    -------
    str
        The text as it may be shown, e.g. in an error message or a label.

    Examples
    --------
    >>> shown = safe_text("![x](https://evil.example/a.png)<script>")
    >>> any(c in shown for c in "<>[]"), "://" in shown
    (False, False)
    """
    s = _cut(text, limit)
    s = "".join(c if c.isprintable() else repr(c)[1:-1] for c in s)
    return s.translate(_DEFANG).replace(*_NO_LINK)


def _cut(text: object, limit: int) -> str:
    s = str(text)
    return s[:limit] + "\u2026" if len(s) > limit else s


def _q(text: object, limit: int = 60) -> str:
    """Untrusted text quoted with ``repr`` for a message, its markup characters replaced."""
    return repr(_cut(text, limit)).translate(_DEFANG).replace(*_NO_LINK)


def _letter(j: int) -> str:
    """Spreadsheet column letter of 0-based column ``j`` (0 -> A, 26 -> AA)."""
    out = ""
    j += 1
    while j:
        j, r = divmod(j - 1, 26)
        out = chr(65 + r) + out
    return out


def _rows(numbers: Sequence[int] | np.ndarray, word: str = "row") -> str:
    """``"row 3"``, ``"rows 3 and 5"``, ``"rows 3, 5, ... and 12 more"``."""
    nums = [int(n) for n in numbers]
    if len(nums) == 1:
        return f"{word} {nums[0]}"
    shown = nums[:8]
    if len(nums) > 8:
        return f"{word}s {', '.join(map(str, shown))} and {len(nums) - 8} more"
    return f"{word}s {', '.join(map(str, shown[:-1]))} and {shown[-1]}"


def outside_box(place_name: str) -> str:
    """The label of the app's tick box that leaves out points outside the place."""
    return f"Leave out points outside {place_name}"


class MissingColumnsError(SchemaError):
    """A table lacks a column the caller named (its fix depends on how it was named)."""


def _mb(n: float) -> str:
    if n >= 1e5:
        return f"{n / 1e6:.1f} MB"
    return f"{n / 1e3:.0f} kB" if n >= 1e3 else f"{int(n)} bytes"


# ----------------------------------------------------------------------------- bytes


def _read_bytes(source: Source, name: str | None, *, max_bytes: int) -> tuple[bytes, str, str]:
    """The file's bytes, its label for messages (quoted) and its name (for the type)."""
    if isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or max_bytes < 1:
        msg = f"max_bytes must be a positive whole number of bytes; got {max_bytes!r}."
        raise DataError(msg)
    too_big = (
        "{label} is {size}, over the {limit} limit. Keep only the columns you need, "
        "or add up the rows to one per LSOA, before uploading."
    )
    if isinstance(source, (str, Path)):
        p = Path(source)
        fname = name or p.name
        label = _q(fname)
        if not p.is_file():
            msg = f"No file at {_q(str(p), 120)}."
            raise DataError(msg)
        size = p.stat().st_size
        if size > max_bytes:
            msg = too_big.format(label=label, size=_mb(size), limit=_mb(max_bytes))
            raise DataError(msg)
        try:
            return p.read_bytes(), label, fname
        except OSError as err:
            msg = f"{label} could not be read ({safe_text(err.strerror or err)})."
            raise DataError(msg) from None
    fname = name or "uploaded file"
    label = _q(fname)
    if isinstance(source, (bytes, bytearray, memoryview)):
        raw = bytes(source)
    elif hasattr(source, "read"):
        try:
            raw = source.read(max_bytes + 1)
        except (OSError, ValueError) as err:
            msg = f"{label} could not be read ({safe_text(err)})."
            raise DataError(msg) from None
        if isinstance(raw, str):
            raw = raw.encode("utf-8")
        if not isinstance(raw, bytes):
            msg = (
                f"{label} could not be read: the file object gave {type(raw).__name__}, not bytes."
            )
            raise DataError(msg)
    else:
        msg = f"The upload must be a file path, bytes or an open file; got {type(source).__name__}."
        raise DataError(msg)
    if len(raw) > max_bytes:
        shown = (
            _mb(len(raw))
            if isinstance(source, (bytes, bytearray, memoryview))
            else (f"over {_mb(max_bytes)}")
        )
        msg = too_big.format(label=label, size=shown, limit=_mb(max_bytes))
        raise DataError(msg)
    return raw, label, fname


def _open_zip(raw: bytes, label: str, *, what: str) -> zipfile.ZipFile:
    """Open a zip after checking its directory: members, unpacked size, ratio, encryption."""
    fix = f"Open it and save it again as {what}, or save it as CSV."
    try:
        zf = zipfile.ZipFile(io.BytesIO(raw))
        infos = zf.infolist()
    except (
        zipfile.BadZipFile,
        zipfile.LargeZipFile,
        OSError,
        ValueError,
        EOFError,
        NotImplementedError,
        KeyError,
        IndexError,
    ) as err:
        msg = f"{label} is damaged: it cannot be opened as {what} ({safe_text(err)}). {fix}"
        raise DataError(msg) from None
    if len(infos) > MAX_ZIP_MEMBERS:
        msg = f"{label} holds {len(infos):,} files, over the limit of {MAX_ZIP_MEMBERS:,}. {fix}"
        raise DataError(msg)
    unpacked = sum(i.file_size for i in infos)
    packed = sum(i.compress_size for i in infos)
    if unpacked > MAX_UNZIPPED_BYTES:
        msg = (
            f"{label} unpacks to {_mb(unpacked)}, over the {_mb(MAX_UNZIPPED_BYTES)} limit "
            "for a zipped file. Save it as CSV (a CSV may be up to "
            f"{_mb(MAX_BYTES)}), or split it."
        )
        raise DataError(msg)
    if unpacked > _SMALL_ZIP and unpacked > MAX_ZIP_RATIO * max(packed, 1):
        msg = (
            f"{label} unpacks to {_mb(unpacked)} from {_mb(len(raw))} (over {MAX_ZIP_RATIO} "
            "times its size): that is how a zip bomb looks, not a spreadsheet or map file, so "
            f"it was not opened. {fix}"
        )
        raise DataError(msg)
    if any(i.flag_bits & 0x1 for i in infos):
        msg = f"{label} is password-protected. Save a copy without a password."
        raise DataError(msg)
    return zf


def _refuse_xml_declarations(zf: zipfile.ZipFile, label: str) -> None:
    """Refuse XML members that declare a DOCTYPE or entities (entity-expansion bombs)."""
    marks = (b"<!DOCTYPE", b"<!ENTITY")
    for info in zf.infolist():
        if not info.filename.lower().endswith((".xml", ".rels", ".vml")):
            continue
        tail = b""
        try:
            with zf.open(info) as fh:
                while chunk := fh.read(1 << 20):
                    block = tail + chunk.replace(b"\x00", b"")
                    if any(m in block for m in marks):
                        msg = (
                            f"{label} contains an XML declaration (DOCTYPE/ENTITY) that "
                            "Excel never writes; it was not opened. Open it in Excel and "
                            "save it again, or save it as CSV."
                        )
                        raise DataError(msg)
                    tail = block[-16:]
        except _UNZIP_ERRORS as err:
            msg = (
                f"{label} is damaged: part {_q(info.filename)} cannot be unpacked "
                f"({safe_text(err)}). Open it in Excel and save it again, or save it as CSV."
            )
            raise DataError(msg) from None


# ----------------------------------------------------------------------------- grids


@dataclass(frozen=True)
class _Grid:
    """A table as text: headings, cells (object frame, positional columns), row numbers."""

    label: str
    headings: list[str]
    cells: pd.DataFrame
    row_no: np.ndarray
    commas_ok: bool
    #: Spreadsheet position (0 = A) of each kept column: empty unnamed columns are dropped.
    pos: tuple[int, ...] = ()

    def letter(self, j: int) -> str:
        """The spreadsheet letter of kept column ``j`` (as the file shows it)."""
        return _letter(self.pos[j] if j < len(self.pos) else j)

    def col(self, j: int) -> str:
        return f"column {self.letter(j)} {_q(self.headings[j])}"


def _decode(raw: bytes, label: str, encoding: str | None) -> str:
    if not raw.strip():
        msg = f"{label} is empty. Upload a file with a heading row and one row per area."
        raise DataError(msg)
    if encoding is not None:
        enc = encoding
    elif raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        enc = "utf-16"
    else:
        enc = "utf-8-sig"
    try:
        text = raw.decode(enc)
    except LookupError:
        msg = f"{_q(encoding)} is not a text encoding Python knows (try 'utf-8' or 'cp1252')."
        raise DataError(msg) from None
    except UnicodeDecodeError as err:
        msg = (
            f"{label} is not {enc.replace('-sig', '').upper()} text (byte "
            f"0x{raw[err.start]:02x} at position {err.start}). Save it as 'CSV UTF-8' (in "
            "Excel: File > Save As > CSV UTF-8 (Comma delimited)) and upload it again."
        )
        raise DataError(msg) from None
    if "\x00" in text:
        msg = (
            f"{label} contains NUL characters, so it is not a text (CSV) file. If it is an "
            "Excel workbook, upload it as .xlsx; otherwise save it as 'CSV UTF-8'."
        )
        raise DataError(msg)
    if not text.strip():
        msg = f"{label} is empty. Upload a file with a heading row and one row per area."
        raise DataError(msg)
    return text


def _too_many_rows(label: str) -> DataError:
    return DataError(
        f"{label} has more than {MAX_ROWS:,} rows, the limit. Add the rows up to "
        "one per LSOA (or keep only the places you need) before uploading."
    )


def _too_many_columns(label: str, n: int) -> DataError:
    return DataError(
        f"{label} has {n:,} columns, over the limit of {MAX_COLUMNS}. Keep the "
        "LSOA code column and the columns you need, and upload again."
    )


def _too_many_cells(label: str) -> DataError:
    return DataError(
        f"{label} has more than {MAX_CELLS:,} cells (rows times columns), the "
        "limit. Keep only the columns you need, or split the file."
    )


def _csv_rows(raw: bytes, label: str, encoding: str | None) -> tuple[list[list[str]], bool]:
    """Rows of a CSV as lists of text, and whether commas may be thousands separators."""
    text = _decode(raw, label, encoding)
    first = text[: 1 << 20].split("\n", 1)[0]
    counts = {d: first.count(d) for d in (",", ";", "\t")}
    sep = max(counts, key=lambda d: counts[d]) if any(counts.values()) else ","
    reader = csv.reader(io.StringIO(text), delimiter=sep)
    rows: list[list[str]] = []
    width = 0
    try:
        for rec in reader:
            if not rows:
                if len(rec) > MAX_COLUMNS:
                    raise _too_many_columns(label, len(rec))
                width = max(len(rec), 1)
            elif len(rows) > MAX_ROWS:
                raise _too_many_rows(label)
            elif len(rec) > MAX_COLUMNS and any(c.strip() for c in rec[MAX_COLUMNS:]):
                raise _too_many_columns(label, len(rec))
            rows.append(rec)
            if len(rows) * width > MAX_CELLS:
                raise _too_many_cells(label)
    except csv.Error as err:
        msg = (
            f"{label} is not a readable CSV table at row {len(rows) + 1} "
            f"({safe_text(err)}). Open it in a spreadsheet and save it again as CSV."
        )
        raise DataError(msg) from None
    return rows, sep == ","


def _cell_text(v: object) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "TRUE" if v else "FALSE"
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, (datetime, date, time)):
        return v.isoformat()
    if isinstance(v, timedelta):
        return str(v)
    return str(v)


def _xlsx_rows(raw: bytes, label: str) -> list[list[str]]:
    """Rows of the first sheet of a workbook as text, within the limits."""
    import openpyxl

    zf = _open_zip(raw, label, what="an Excel workbook (.xlsx)")
    _refuse_xml_declarations(zf, label)
    rows: list[list[str]] = []
    cells = 0
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            wb = openpyxl.load_workbook(io.BytesIO(raw), read_only=True, data_only=True)
            try:
                if not wb.worksheets:
                    msg = f"{label} has no worksheet. Put the table on the first sheet."
                    raise DataError(msg)
                ws = wb.worksheets[0]
                if hasattr(ws, "reset_dimensions"):
                    ws.reset_dimensions()
                for r in ws.iter_rows(values_only=True):
                    cells += len(r) + 1
                    if cells > MAX_CELLS:
                        raise _too_many_cells(label)
                    if len(rows) > MAX_ROWS:
                        raise _too_many_rows(label)
                    vals = [_cell_text(v) for v in r]
                    while vals and not vals[-1].strip():
                        vals.pop()
                    if len(vals) > MAX_COLUMNS:
                        raise _too_many_columns(label, len(vals))
                    rows.append(vals)
            finally:
                wb.close()
    except PlacekitError:
        raise
    except Exception as err:  # openpyxl raises many types for broken files
        msg = (
            f"{label} could not be read as an Excel workbook ({type(err).__name__}: "
            f"{safe_text(err)}). Open it in Excel and save it again as .xlsx, or save it as CSV."
        )
        raise DataError(msg) from None
    return rows


def _is_xlsx(raw: bytes, fname: str, label: str) -> bool:
    low = fname.lower()
    if raw.startswith(_OLE_MAGIC):
        msg = (
            f"{label} is an old-style Excel file (.xls) or another Office format. Save it as "
            ".xlsx (Excel Workbook) or as CSV UTF-8."
        )
        raise DataError(msg)
    if low.endswith((".xlsx", ".xlsm")) or raw.startswith(_ZIP_MAGIC):
        if not raw.startswith(_ZIP_MAGIC):
            if not raw.strip():
                msg = f"{label} is empty. Upload a file with a heading row and one row per area."
                raise DataError(msg)
            msg = (
                f"{label} is named like an Excel workbook but is not one (an .xlsx file is a "
                "zip). Open it and save it again as .xlsx, or save it as CSV."
            )
            raise DataError(msg)
        return True
    return False


def _grid(raw: bytes, label: str, fname: str, encoding: str | None) -> _Grid:
    """Read a CSV or XLSX into a checked grid of text."""
    if _is_xlsx(raw, fname, label):
        rows, commas_ok = _xlsx_rows(raw, label), True
    else:
        rows, commas_ok = _csv_rows(raw, label, encoding)
    if not rows or not any(c.strip() for c in rows[0]):
        if not any(any(c.strip() for c in r) for r in rows):
            msg = f"{label} is empty. Upload a file with a heading row and one row per area."
            raise DataError(msg)
        msg = (
            f"{label}: row 1 (the heading row) is empty. Put the column headings, such as "
            "'lsoa_code' and 'referrals', in row 1."
        )
        raise DataError(msg)
    head = [h.strip() for h in rows[0]]
    body = rows[1:]
    width = len(head)
    extra = [
        k + 2 for k, r in enumerate(body) if len(r) > width and any(c.strip() for c in r[width:])
    ]
    if extra:
        msg = (
            f"{label}: there are more cells than headings ({width}) on {_rows(extra)}. "
            "Give every column a heading, or remove the extra cells."
        )
        raise DataError(msg)
    keep = [k for k, r in enumerate(body) if any(c.strip() for c in r[:width])]
    if not keep:
        msg = f"{label} has a heading row but no rows of data."
        raise DataError(msg)
    data = [(body[k] + [""] * (width - len(body[k])))[:width] for k in keep]
    cells = pd.DataFrame(data, columns=range(width), dtype=object)
    # drop unnamed columns that hold nothing (trailing commas, empty Excel columns)
    used = [j for j in range(width) if head[j] or cells[j].astype(str).str.strip().ne("").any()]
    for j in used:
        if not head[j]:
            msg = (
                f"{label}: column {_letter(j)} has values but no heading in row 1. "
                "Give it a heading, or delete the column."
            )
            raise SchemaError(msg)
        if len(head[j]) > MAX_HEADING_CHARS:
            msg = (
                f"{label}: the heading of column {_letter(j)} is {len(head[j]):,} characters "
                f"long, over the limit of {MAX_HEADING_CHARS}. Give it a short heading."
            )
            raise SchemaError(msg)
    seen: dict[str, int] = {}
    for j in used:
        k = head[j].casefold()
        if k in seen:
            msg = (
                f"{label}: columns {_letter(seen[k])} and {_letter(j)} have the same heading "
                f"{_q(head[j])}. Give each column its own heading."
            )
            raise SchemaError(msg)
        seen[k] = j
    cells = cells[used]
    cells.columns = range(len(used))
    return _Grid(
        label=label,
        headings=[head[j] for j in used],
        cells=cells,
        row_no=np.asarray(keep, dtype=int) + 2,
        commas_ok=commas_ok,
        pos=tuple(used),
    )


# ----------------------------------------------------------------------------- numbers


def _numbers(grid: _Grid, j: int, *, what: str = "values") -> np.ndarray:
    """Column ``j`` of the grid as floats (NaN for blank); refuse anything but plain numbers."""
    s = grid.cells[j].astype(str).str.strip()
    blank = s.eq("").to_numpy()
    grouped = s.str.fullmatch(_GROUPED_RE).to_numpy(dtype=bool)
    if grid.commas_ok:
        s = s.where(~grouped, s.str.replace(",", "", regex=False))
    ok = s.str.fullmatch(_NUM_RE).to_numpy(dtype=bool)
    bad = ~ok & ~blank
    rows = grid.row_no
    where = f"{grid.label}, {grid.col(j)}"
    if bad.any():
        low = s.str.lower().to_numpy()
        kinds = [
            (
                np.isin(low, list(_SUPPRESSED)),
                "hold values that were already hidden",
                "Upload the real numbers (placekit hides 1 to 4 itself), or leave a cell empty "
                "if the number is unknown.",
            ),
            (
                np.isin(low, list(_PLACEHOLDERS)),
                "hold a placeholder, not a number",
                "Leave a cell empty where the number is unknown.",
            ),
            (
                np.isin(low, list(_INFINITE)),
                "are infinite, not numbers",
                "Use ordinary finite numbers.",
            ),
            (
                s.str.contains(",", regex=False).to_numpy(dtype=bool),
                "have a comma in the number",
                "Write numbers with a decimal point and no other separators, e.g. 1.5 not 1,5"
                + (
                    ""
                    if grid.commas_ok
                    else " (in a file separated by semicolons or tabs a comma "
                    "in a number is ambiguous)"
                )
                + ".",
            ),
            (
                s.str.endswith("%").to_numpy(dtype=bool),
                "have a % sign",
                "Write the number alone (12.5, not 12.5%) and put '%' in the column heading.",
            ),
            (
                np.ones(len(s), dtype=bool),
                "are not numbers",
                f"Use plain numbers such as 12 or 4.5 for the {what}; leave a cell empty if "
                "unknown.",
            ),
        ]
        for mask, problem, fix in kinds:
            m = bad & mask
            if m.any():
                eg = grid.cells[j].to_numpy()[m][0]
                msg = f"{where}: the cells on {_rows(rows[m])} {problem} (e.g. {_q(eg, 30)}). {fix}"
                raise DataError(msg)
    out = np.full(len(s), np.nan)
    with np.errstate(over="ignore"):
        out[ok] = np.asarray(s.to_numpy()[ok], dtype=float)
    inf = np.isinf(out)
    if inf.any():
        eg = grid.cells[j].to_numpy()[inf][0]
        msg = (
            f"{where}: the cells on {_rows(rows[inf])} are too large for a number "
            f"(e.g. {_q(eg, 30)}). Check those cells."
        )
        raise DataError(msg)
    return out


# ----------------------------------------------------------------------------- tables


@dataclass(frozen=True)
class _Table:
    label: str
    fname: str
    values: pd.DataFrame  # float, columns = headings, index = codes as given
    vintage: str
    grid: _Grid
    columns: list[int]  # grid positions of the value columns
    code_col: int


def _find_code_column(grid: _Grid, code_column: str | None) -> int:
    label = grid.label
    present = ", ".join(_q(h, 30) for h in grid.headings[:12]) + (
        f" and {len(grid.headings) - 12} more" if len(grid.headings) > 12 else ""
    )
    if code_column is not None:
        for j, h in enumerate(grid.headings):
            if h.casefold() == str(code_column).strip().casefold():
                return j
        msg = f"{label} has no column headed {_q(code_column)}. Columns present: {present}."
        raise SchemaError(msg)
    share, share01 = [], []
    for j in range(len(grid.headings)):
        s = grid.cells[j].iloc[:2000].astype(str).str.strip().str.upper()
        s = s[s.ne("")]
        n = max(len(s), 1)
        share.append(float(s.str.match(_CODE_RE).sum()) / n)
        share01.append(float(s.str.match(_LSOA_RE).sum()) / n)
    cand = [j for j in range(len(share)) if share[j] >= 0.5]
    if not cand:
        msg = (
            f"{label} has no column of LSOA codes (codes like E01007823). Columns present: "
            f"{present}. Add a column of 2011 or 2021 LSOA codes."
        )
        raise SchemaError(
            msg, fixes={"library": "If the file has one, name its heading with code_column=."}
        )
    best = max(share01[j] for j in cand)
    top = [j for j in cand if share01[j] == best]
    if len(top) > 1 and best >= 0.5:
        names = " and ".join(grid.col(j) for j in top[:3])
        msg = (
            f"{label} has more than one column of LSOA codes ({names}). Keep one column "
            "of codes (2011 or 2021) and remove the others."
        )
        raise SchemaError(msg, fixes={"library": "Or choose one with code_column=."})
    return top[0]


def _lsoa_codes(
    place: Place, grid: _Grid, cj: int, *, one_row_per_area: bool = True
) -> tuple[pd.Series, str]:
    """
    The checked LSOA codes of grid column ``cj`` and their vintage (``"2011"`` or ``"2021"``).

    Refuses blank, malformed and foreign codes, a mix of 2011-only and 2021-only
    codes and, when ``one_row_per_area``, repeated codes, naming the rows.
    """
    label = grid.label
    where = f"{label}, {grid.col(cj)}"
    raw_codes = grid.cells[cj].astype(str)
    codes = raw_codes.str.strip().str.upper()
    rows = grid.row_no
    blank = codes.eq("").to_numpy()
    if blank.any():
        msg = (
            f"{where}: the LSOA code is missing on {_rows(rows[blank])}. "
            "Fill it in or remove the row."
        )
        raise DataError(msg)
    bad = ~codes.str.match(_LSOA_RE).to_numpy(dtype=bool)
    if bad.any():
        eg = raw_codes.to_numpy()[bad][0]
        other = (
            " (that is not an LSOA code: E02 is MSOA, E05 ward, E06-E09 a council)"
            if (str(eg).strip().upper().startswith(("E02", "E05", "E06", "E07", "E08", "E09")))
            else ""
        )
        msg = (
            f"{where}: the cells on {_rows(rows[bad])} are not LSOA codes "
            f"(e.g. {_q(eg, 30)}{other}); LSOA codes look like E01007823."
        )
        raise DataError(msg)
    dup = codes.duplicated(keep=False).to_numpy()
    if one_row_per_area and dup.any():
        msg = (
            f"{where}: codes repeat on {_rows(rows[dup])} (e.g. {codes[dup].iloc[0]}). "
            "Give one row per LSOA (add up or average the repeats first)."
        )
        raise DataError(msg)
    lookup = place.lookup11
    c21 = set(map(str, place.lsoa.index))
    c11 = set(lookup["LSOA11CD"].astype(str)) if lookup is not None else set()
    if lookup is not None:
        c21 |= set(lookup["LSOA21CD"].astype(str))
    foreign = ~codes.isin(c11 | c21).to_numpy()
    if foreign.any():
        msg = (
            f"{where}: the codes on {_rows(rows[foreign])} are from outside this city "
            f"({place.name}, local authority {place.la_code}), e.g. {codes[foreign].iloc[0]}. "
            "Remove those rows, or load them into the place they belong to."
        )
        raise DataError(msg)
    only11 = codes.isin(c11 - c21).to_numpy()
    only21 = codes.isin(c21 - c11).to_numpy() if lookup is not None else np.zeros(len(codes), bool)
    if only11.any() and only21.any():
        msg = (
            f"{label} mixes 2011-only LSOA codes ({_rows(rows[only11])}) and 2021-only codes "
            f"({_rows(rows[only21])}). Use one set of codes (2011 or 2021) throughout."
        )
        raise DataError(msg)
    vintage = "2011" if only11.any() else "2021"
    return codes, vintage


def _read_table(
    place: Place,
    source: Source,
    *,
    name: str | None,
    code_column: str | None,
    value_columns: Sequence[str] | None,
    encoding: str | None,
    max_bytes: int,
) -> _Table:
    raw, label, fname = _read_bytes(source, name, max_bytes=max_bytes)
    if fname.lower().endswith(_SPATIAL_EXT) and not raw.startswith(_ZIP_MAGIC):
        msg = (
            f"{label} looks like a map file. Upload it as points, or upload a table by "
            "LSOA as CSV or XLSX."
        )
        raise DataError(msg)
    grid = _grid(raw, label, fname, encoding)
    cj = _find_code_column(grid, code_column)
    codes, vintage = _lsoa_codes(place, grid, cj)
    rows = grid.row_no
    if value_columns is not None:
        want = [str(c).strip().casefold() for c in value_columns]
        pos = {h.casefold(): j for j, h in enumerate(grid.headings)}
        missing = [c for c, w in zip(value_columns, want, strict=True) if w not in pos]
        if missing:
            msg = (
                f"{label} has no column(s) {', '.join(_q(m) for m in missing)}. Columns "
                f"present: {', '.join(_q(h, 30) for h in grid.headings[:12])}."
            )
            raise MissingColumnsError(
                msg, fixes={"library": "Give value_columns headings as they are in row 1."}
            )
        cols = list(dict.fromkeys(pos[w] for w in want if pos[w] != cj))
    else:
        cols = [j for j in range(len(grid.headings)) if j != cj]
    if not cols:
        msg = (
            f"{label} has only the LSOA code column {_q(grid.headings[cj])}; add a column "
            "of counts or rates."
        )
        raise SchemaError(msg)
    out: dict[str, np.ndarray] = {}
    for j in cols:
        v = _numbers(grid, j)
        if np.isnan(v).all():
            msg = (
                f"{label}, {grid.col(j)} has no values (every cell is empty). Fill it in, or "
                "delete the column. (Formulas need to be saved by Excel so their values are kept.)"
            )
            raise DataError(msg)
        neg = v < 0
        if neg.any():
            msg = (
                f"{label}, {grid.col(j)}: the values on {_rows(rows[neg])} are negative (e.g. "
                f"{v[neg][0]:g}). Counts and rates must be 0 or more."
            )
            raise DataError(msg)
        out[grid.headings[j]] = v
    values = pd.DataFrame(out, index=pd.Index(codes.to_numpy(dtype=str), name="code"))
    return _Table(
        label=label,
        fname=fname,
        values=values,
        vintage=vintage,
        grid=grid,
        columns=cols,
        code_col=cj,
    )


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
        A path, bytes or a binary file object (CSV, separated by commas, semicolons
        or tabs, or the first sheet of an XLSX workbook).
    name
        The file name, used in messages and to tell XLSX from CSV.
    code_column
        The heading of the column of LSOA codes; found automatically when ``None``.
    value_columns
        Headings of the columns to keep; every other column by default.
    encoding
        Text encoding of a CSV; UTF-8 (with or without BOM, or UTF-16 with BOM) by
        default.
    max_bytes
        Size limit of the file.

    Returns
    -------
    (pd.DataFrame, str)
        Values (floats, NaN where blank) with the file's headings as columns,
        indexed by the codes as given, and the code vintage, ``"2011"`` or ``"2021"``.

    Raises
    ------
    DataError, SchemaError
        For an empty, oversized, damaged or non-UTF-8 file; more columns, rows or
        cells than the limits; missing, empty, duplicate or over-long headings; no
        code column; malformed, duplicate or foreign codes; a mix of 2011-only and
        2021-only codes; values that are not plain finite numbers, or negative.
    """
    t = _read_table(
        place,
        source,
        name=name,
        code_column=code_column,
        value_columns=value_columns,
        encoding=encoding,
        max_bytes=max_bytes,
    )
    return t.values.copy(), t.vintage


# ----------------------------------------------------------------------------- ids


def _slug(text: str, fallback: str = "column") -> str:
    s = _ID_RE.sub("_", str(text).lower()).strip("_")
    if not s:
        return fallback
    return s if s[0].isalpha() else f"u_{s}"


def _is_rate_heading(heading: str) -> bool:
    words = set(_ID_RE.sub(" ", heading.lower()).split())
    return "%" in heading or bool(words & RATE_WORDS)


def _check_ids(
    place: Place, new: Sequence[tuple[str, str]], label: str, *, layer: str | None = None
) -> None:
    """Refuse new ids that repeat among themselves or are already in the place."""
    seen: dict[str, str] = {}
    for i, origin in new:
        if i in seen:
            msg = (
                f"{label}: {seen[i]} and {origin} would both become the indicator {i!r}. "
                "Give the columns headings that differ in more than case, spaces or "
                "punctuation."
            )
            raise SchemaError(msg)
        seen[i] = origin
    for i, origin in new:
        if i in place.indicators.columns or i in place.catalogue:
            src = (
                safe_text(place.catalogue.row(i)["source"])
                if i in place.catalogue
                else "this place"
            )
            msg = (
                f"{label}: {origin} would become the indicator {i!r}, which the place "
                f"already has (from {src}). Nothing was replaced: rename the column (or the "
                "file) and upload it again."
            )
            raise SchemaError(msg)
    if layer is not None and layer in place.layers:
        msg = (
            f"{label}: the place already has a map layer {layer!r}. Nothing was replaced: "
            "rename the file and upload it again."
        )
        raise SchemaError(msg)


def _catalogue_with(cat: Catalogue, metas: Mapping[str, Mapping[str, str]]) -> Catalogue:
    """``cat`` with every indicator of ``metas`` added, validated once (not once per id)."""
    if not metas:
        return cat
    *first, last = list(metas)
    rows = []
    for i in first:
        row = dict.fromkeys(COLUMNS[1:], "")
        row.update({k: str(v) for k, v in metas[i].items()})
        rows.append(row)
    extra = pd.DataFrame(rows, index=pd.Index(first, name="id"), columns=list(COLUMNS[1:]))
    table = pd.concat([cat.table.drop(index=list(metas), errors="ignore"), extra])
    # one with_indicator call validates the whole table (catalogue._check)
    return Catalogue(table).with_indicator(last, **metas[last])


def _with_indicators(
    place: Place,
    frame: pd.DataFrame,
    metas: Mapping[str, Mapping[str, str]],
    suppress: Mapping[str, str],
    layers: Mapping[str, gpd.GeoDataFrame] | None = None,
) -> Place:
    new = place.with_indicators(frame, {}, suppress=dict(suppress), layers=dict(layers or {}))
    return replace(new, catalogue=_catalogue_with(place.catalogue, metas))


def _check_options(place: Place, *, prefix: str, theme: str) -> None:
    if not isinstance(place, Place):
        msg = f"place must be a placekit Place; got {type(place).__name__}."
        raise DataError(msg)
    if not isinstance(prefix, str) or not _PREFIX_RE.match(prefix):
        msg = f"prefix must be snake_case (a-z, 0-9, _), starting with a letter; got {prefix!r}."
        raise DataError(msg)
    if theme not in THEMES:
        msg = f"theme must be one of {list(THEMES)}; got {theme!r}."
        raise DataError(msg)


# ----------------------------------------------------------------------------- 2011 -> 2021


def _apportion_counts(
    counts11: pd.DataFrame, lookup: pd.DataFrame, population21: pd.Series
) -> pd.DataFrame:
    """
    Counts by LSOA 2011 as whole counts by LSOA 2021.

    A 2011 count is shared over its 2021 parts by population (equally if the parts
    have none) and rounded by largest remainder (ties to the larger share, then the
    code), so every 2011 count is kept exactly and every part is a whole number. A
    2021 LSOA gets NaN if any 2011 LSOA it is made from is missing from the file or
    blank, rather than a partial sum.
    """
    lk = lookup[["LSOA11CD", "LSOA21CD"]].astype(str).drop_duplicates()
    touched = set(lk.loc[lk["LSOA11CD"].isin(counts11.index), "LSOA21CD"])
    lk = lk.loc[lk["LSOA21CD"].isin(touched)].sort_values(["LSOA11CD", "LSOA21CD"])
    lk = lk.reset_index(drop=True)
    key11, key21 = lk["LSOA11CD"].to_numpy(), lk["LSOA21CD"].to_numpy()
    pop = pd.Series(lk["LSOA21CD"].map(population21).astype(float).fillna(0.0).to_numpy())
    parts_pop = pop.groupby(key11).transform("sum").to_numpy()
    n_parts = pop.groupby(key11).transform("size").to_numpy()
    share = np.where(
        parts_pop > 0, pop.to_numpy() / np.where(parts_pop > 0, parts_pop, 1.0), 1.0 / n_parts
    )
    out = {}
    for col in counts11.columns:
        v = lk["LSOA11CD"].map(counts11[col]).to_numpy(dtype=float)  # NaN: blank or not in file
        total = np.nan_to_num(v)
        exact = total * share
        base = np.floor(exact + 1e-9)
        deficit = total - pd.Series(base).groupby(key11).transform("sum").to_numpy()
        # largest remainders first within each 2011 LSOA, then the larger share, then the code
        order = pd.DataFrame({"k": key11, "f": -(exact - base), "s": -share, "c": key21})
        rank = order.sort_values(["k", "f", "s", "c"]).groupby("k").cumcount()
        whole = base + (rank.reindex(order.index).to_numpy() < np.round(deficit))
        part = pd.Series(np.where(np.isnan(v), np.nan, whole))
        missing = pd.Series(np.isnan(v)).groupby(key21).any()
        out[col] = part.groupby(key21).sum(min_count=1).mask(missing)
    res = pd.DataFrame(out)
    res.index.name = "LSOA21CD"
    return res.sort_index()


# ----------------------------------------------------------------------------- add_table


def add_table(
    place: Place,
    source: Source,
    *,
    name: str | None = None,
    prefix: str = "user",
    kind: Literal["auto", "count", "rate"] = "auto",
    kinds: Mapping[str, str] | None = None,
    theme: str = "health and care demand",
    code_column: str | None = None,
    value_columns: list[str] | None = None,
    encoding: str | None = None,
    max_bytes: int = MAX_BYTES,
) -> Place:
    """
    Add an uploaded table as indicators; returns a new place.

    Parameters
    ----------
    place
        The place to add to; it is never changed.
    source
        A path, bytes or a binary file object (CSV or XLSX, see :func:`read_table`).
    name
        The file name, used in messages, labels and to tell XLSX from CSV.
    prefix
        Start of the new indicator ids (``<prefix>_<heading>``).
    kind
        ``"auto"``: a column is a rate if its heading says so (a word of
        :data:`RATE_WORDS` or ``%``), otherwise a count. ``"count"`` or ``"rate"``:
        every column is that kind.
    kinds
        ``{heading: "count" | "rate"}`` for single columns; overrides `kind`.
    theme
        Catalogue theme of the new indicators.
    code_column, value_columns, encoding, max_bytes
        As for :func:`read_table`.

    Returns
    -------
    Place
        A copy with the new indicators; ``place`` itself is unchanged. A count
        ``c`` becomes ``<prefix>_<c>`` (summed over localities, disclosure
        controlled) and ``<prefix>_<c>_per_1000`` residents (hidden with its
        count); a rate becomes ``<prefix>_<c>`` (population-weighted mean). The
        catalogue ``derivation`` says how each column was read and why.

    Raises
    ------
    DataError, SchemaError
        Everything :func:`read_table` refuses; a count column with a value that is
        not a whole number or is above 1e9; headings that give the same indicator
        id; an id the place already has; invalid options.

    Examples
    --------
    >>> body = b"lsoa_code,referrals\\nE01007823,12\\n"
    >>> new = add_table(place, body, name="r.csv")  # doctest: +SKIP
    >>> new.catalogue.row("user_referrals")["kind"]  # doctest: +SKIP
    'count'
    """
    from placekit.harmonise import lsoa11_to_lsoa21

    _check_options(place, prefix=prefix, theme=theme)
    if kind not in ("auto", "count", "rate"):
        msg = f"kind must be one of ['auto', 'count', 'rate']; got {kind!r}."
        raise DataError(msg)
    t = _read_table(
        place,
        source,
        name=name,
        code_column=code_column,
        value_columns=value_columns,
        encoding=encoding,
        max_bytes=max_bytes,
    )
    label, grid, table = t.label, t.grid, t.values
    per_col = {str(k).strip().casefold(): v for k, v in (kinds or {}).items()}
    unknown = [k for k in per_col if k not in {h.casefold() for h in table.columns}]
    bad_kind = [v for v in per_col.values() if v not in ("count", "rate")]
    if unknown or bad_kind:
        msg = (
            f"kinds must map column headings of {label} to 'count' or 'rate'; unknown "
            f"headings {unknown}, unknown kinds {bad_kind}."
        )
        raise DataError(msg)
    decided: dict[str, tuple[str, str]] = {}
    for j, c in zip(t.columns, table.columns, strict=True):
        if c.casefold() in per_col:
            k, why = per_col[c.casefold()], "as asked"
        elif kind != "auto":
            k, why = kind, "as asked"
        elif _is_rate_heading(c):
            k, why = "rate", "its heading names a rate"
        else:
            k, why = "count", "its heading does not name a rate"
        if k == "count":
            v = table[c].to_numpy()
            frac = np.isfinite(v) & (v != np.round(v))
            if frac.any():
                msg = (
                    f"{label}, {grid.col(j)} was read as a count ({why}), and counts must be "
                    f"whole numbers, but the values on {_rows(grid.row_no[frac])} are not (e.g. "
                    f"{v[frac][0]:g}). Correct those values; or, if the column is a rate, "
                    "score or average, put 'rate', 'per 1000', '%' or 'score' in its heading."
                )
                raise DataError(msg)
            big = v > _MAX_COUNT
            if big.any():
                msg = (
                    f"{label}, {grid.col(j)}: the values on {_rows(grid.row_no[big])} are "
                    "above 1e9 (e.g. "
                    f"{v[big][0]:g}), too large to be a count of people or events in one LSOA."
                )
                raise DataError(msg)
        decided[c] = (k, why)
    ids: list[tuple[str, str]] = []
    for j, c in zip(t.columns, table.columns, strict=True):
        cid = f"{prefix}_{_slug(c, f'column_{grid.letter(j).lower()}')}"
        ids.append((cid, grid.col(j)))
        if decided[c][0] == "count":
            ids.append((f"{cid}_per_1000", f"the rate per 1000 residents made from {grid.col(j)}"))
    _check_ids(place, ids, label)
    counts = [c for c, (k, _) in decided.items() if k == "count"]
    rates = [c for c, (k, _) in decided.items() if k == "rate"]
    pop = place.weights["population"]
    if t.vintage == "2011":
        if place.lookup11 is None:
            msg = f"{label} uses 2011 LSOA codes, but this place's pack has no 2011-2021 lookup."
            raise DataError(msg)
        parts = []
        if counts:
            parts.append(_apportion_counts(table[counts], place.lookup11, pop))
        if rates:
            w11 = (
                place.population11
                if place.population11 is not None
                else place.lookup11.groupby("LSOA11CD")["LSOA21CD"].first().map(pop)
            )
            parts.append(
                lsoa11_to_lsoa21(
                    table[rates], place.lookup11, weight11=w11, population21=pop, count_columns=()
                )
            )
        table = pd.concat(parts, axis=1)[list(table.columns)]
    clean = safe_text(t.fname)
    per_pop = pop.reindex(place.lsoa.index).where(lambda x: x > 0)
    values: dict[str, pd.Series] = {}
    metas: dict[str, dict[str, str]] = {}
    supp: dict[str, str] = {}
    base = {
        "theme": theme,
        "source": f"uploaded: {clean}",
        "year": "",
        "geography": f"LSOA{t.vintage[2:]}",
        "licence": "user data",
        "tier": "tertiary",
        "label": "",
        "unit": "",
        "direction": "higher_worse",
        "kind": "",
        "aggregation": "",
        "weight": "",
    }
    split = (
        "; 2011 counts shared over split LSOAs by population, in whole numbers"
        if (t.vintage == "2011")
        else ""
    )
    for j, c in zip(t.columns, table.columns, strict=True):
        cid = f"{prefix}_{_slug(c, f'column_{grid.letter(j).lower()}')}"
        head = safe_text(c)
        k, why = decided[c]
        how = f"upload:{clean}; column {grid.letter(j)} read as a {k} ({why})"
        col = table[c].reindex(place.lsoa.index)
        if k == "count":
            values[cid] = col
            metas[cid] = {
                **base,
                "label": f"{head} (count)",
                "unit": "count",
                "kind": "count",
                "aggregation": "sum",
                "derivation": how + split,
            }
            rid = f"{cid}_per_1000"
            values[rid] = 1000.0 * col / per_pop
            metas[rid] = {
                **base,
                "label": f"{head} per 1000 residents",
                "unit": "per 1000 residents",
                "kind": "rate",
                "aggregation": "weighted_mean",
                "weight": "population",
                "derivation": how + "; per 1000 residents, hidden with its count",
            }
            supp[cid] = cid
            supp[rid] = cid
        else:
            values[cid] = col
            metas[cid] = {
                **base,
                "label": f"{head} (rate)",
                "unit": "rate",
                "kind": "rate",
                "aggregation": "weighted_mean",
                "weight": "population",
                "derivation": how,
            }
    frame = pd.DataFrame(values, index=place.lsoa.index)
    return _with_indicators(place, frame, metas, supp)


# ----------------------------------------------------------------------------- points


_LON = ("lon", "lng", "long", "longitude", "x_lon")
_LAT = ("lat", "latitude", "y_lat")
_EAST = ("easting", "eastings", "x", "bng_x", "east")
_NORTH = ("northing", "northings", "y", "bng_y", "north")


def _pick(cols: dict[str, int], names: tuple[str, ...]) -> int | None:
    return next((cols[n] for n in names if n in cols), None)


def _points_from_grid(grid: _Grid) -> tuple[gpd.GeoDataFrame, np.ndarray]:
    label = grid.label
    cols = {h.strip().lower(): j for j, h in enumerate(grid.headings)}
    lon, lat = _pick(cols, _LON), _pick(cols, _LAT)
    east, north = _pick(cols, _EAST), _pick(cols, _NORTH)
    if lon is not None and lat is not None:
        xj, yj, crs = lon, lat, "EPSG:4326"
    elif east is not None and north is not None:
        xj, yj, crs = east, north, "EPSG:27700"
    else:
        present = ", ".join(_q(h, 30) for h in grid.headings[:12])
        msg = (
            f"{label} needs coordinate columns: 'lon' and 'lat' (WGS84 degrees) or "
            f"'easting' and 'northing' (British National Grid metres). Columns present: "
            f"{present}."
        )
        raise SchemaError(msg)
    x = _numbers(grid, xj, what="coordinates")
    y = _numbers(grid, yj, what="coordinates")
    miss = np.isnan(x) | np.isnan(y)
    if miss.any():
        msg = (
            f"{label}: coordinates are missing on {_rows(grid.row_no[miss])} in "
            f"{grid.col(xj)}/{grid.col(yj)}. Fill them in or remove those rows."
        )
        raise DataError(msg)
    if crs == "EPSG:4326":
        off = (np.abs(x) > 180) | (np.abs(y) > 90)
        if off.any():
            msg = (
                f"{label}: the lon/lat on {_rows(grid.row_no[off])} are outside the range of "
                "degrees (lon -180 to 180, lat -90 to 90). If they are eastings and "
                "northings, head the columns 'easting' and 'northing'."
            )
            raise CRSError(msg)
    attrs = pd.DataFrame(
        {
            h: grid.cells[j].astype(str).to_numpy()
            for j, h in enumerate(grid.headings)
            if j not in (xj, yj)
        }
    )
    gdf = gpd.GeoDataFrame(attrs, geometry=gpd.points_from_xy(x, y), crs=crs)
    return gdf, grid.row_no


def _read_spatial(raw: bytes, label: str, fname: str) -> tuple[gpd.GeoDataFrame, np.ndarray]:
    import pyogrio

    low = fname.lower()
    if not raw.strip():
        msg = f"{label} is empty."
        raise DataError(msg)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        if low.endswith(".zip"):
            zf = _open_zip(raw, label, what="a zipped Shapefile")
            shps = [
                i for i in zf.infolist() if i.filename.lower().endswith(".shp") and not i.is_dir()
            ]
            if len(shps) != 1:
                what = "no .shp file" if not shps else f"{len(shps)} .shp files"
                msg = (
                    f"{label} holds {what}; zip one Shapefile's .shp, .shx, .dbf and .prj "
                    "files together."
                )
                raise DataError(msg)
            stem = shps[0].filename[:-4]
            try:
                for info in zf.infolist():
                    ext = info.filename[len(stem) :].lower()
                    if info.filename.startswith(stem) and ext in (
                        ".shp",
                        ".shx",
                        ".dbf",
                        ".prj",
                        ".cpg",
                    ):
                        (folder / f"upload{ext}").write_bytes(zf.read(info))
            except _UNZIP_ERRORS as err:
                msg = f"{label} is damaged: it cannot be unpacked ({safe_text(err)})."
                raise DataError(msg) from None
            path = folder / "upload.shp"
        elif low.endswith(".gpkg"):
            if not raw.startswith(_SQLITE_MAGIC):
                msg = (
                    f"{label} is not a GeoPackage (a GeoPackage is an SQLite database). "
                    "Save it again from QGIS (Export > Save Features As > GeoPackage)."
                )
                raise DataError(msg)
            path = folder / "upload.gpkg"
            path.write_bytes(raw)
        else:
            _check_geojson(raw, label)
            path = folder / "upload.geojson"
            path.write_bytes(raw)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                layers = pyogrio.list_layers(path)
                if len(layers) == 0:
                    msg = f"{label} has no layer of features."
                    raise DataError(msg)
                if len(layers) > 1:
                    names = ", ".join(_q(n, 30) for n in layers[:6, 0])
                    msg = (
                        f"{label} has {len(layers)} layers ({names}); save the layer of "
                        "points on its own and upload that."
                    )
                    raise DataError(msg)
                info = pyogrio.read_info(path)
                n = int(info.get("features") or 0)
                if n > MAX_ROWS:
                    msg = (
                        f"{label} has {n:,} features, over the limit of {MAX_ROWS:,}. "
                        "Keep only the places you need."
                    )
                    raise DataError(msg)
                gdf = gpd.read_file(path)
        except PlacekitError:
            raise
        except Exception as err:  # pyogrio/GDAL raise several error types
            msg = (
                f"{label} could not be read as a map file ({type(err).__name__}: "
                f"{safe_text(err, limit=120)}). Check that it opens in QGIS, and save it again."
            )
            raise DataError(msg) from None
    if len(gdf) > MAX_ROWS:
        msg = f"{label} has {len(gdf):,} features, over the limit of {MAX_ROWS:,}."
        raise DataError(msg)
    if gdf.empty:
        msg = f"{label} has no features."
        raise DataError(msg)
    if gdf.crs is None:
        msg = (
            f"{label} has no coordinate system. Save it with one (EPSG:4326 for lon/lat, "
            "EPSG:27700 for British National Grid), e.g. in QGIS: Export > Save Features As."
        )
        raise CRSError(msg)
    return gdf, np.arange(1, len(gdf) + 1)


def _check_geojson(raw: bytes, label: str) -> None:
    """Parse GeoJSON with Python first: depth and structure are checked before GDAL reads it."""
    try:
        doc = json.loads(raw.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError, RecursionError) as err:
        what = "nested too deeply" if isinstance(err, RecursionError) else safe_text(err, limit=80)
        msg = f"{label} is not valid GeoJSON ({what}). Save it again from QGIS as GeoJSON."
        raise DataError(msg) from None
    if not isinstance(doc, dict) or doc.get("type") not in (
        "FeatureCollection",
        "Feature",
        "Point",
        "MultiPoint",
        "Polygon",
        "MultiPolygon",
    ):
        msg = (
            f"{label} is not GeoJSON of points: it should be a FeatureCollection of Point "
            "features. Save it again from QGIS as GeoJSON."
        )
        raise DataError(msg)
    feats = doc.get("features")
    if doc["type"] == "FeatureCollection" and not isinstance(feats, list):
        msg = f"{label} is a FeatureCollection without a list of features."
        raise DataError(msg)
    if isinstance(feats, list) and len(feats) > MAX_ROWS:
        msg = f"{label} has {len(feats):,} features, over the limit of {MAX_ROWS:,}."
        raise DataError(msg)
    if isinstance(feats, list):
        for k, f in enumerate(feats):
            g = f.get("geometry") if isinstance(f, dict) else None
            if (
                not isinstance(f, dict)
                or f.get("type") != "Feature"
                or not (g is None or isinstance(g, dict))
            ):
                msg = f"{label}: feature {k + 1} is not a GeoJSON Feature with a geometry."
                raise DataError(msg)
    if not _shallow(doc, _MAX_JSON_DEPTH):
        msg = (
            f"{label} is nested more than {_MAX_JSON_DEPTH} levels deep; GeoJSON of points "
            "needs far fewer. Save it again from QGIS as GeoJSON."
        )
        raise DataError(msg)


def _shallow(value: Any, depth: int) -> bool:
    """Whether lists and objects in ``value`` nest no deeper than ``depth`` (iteratively)."""
    stack = [(value, 0)]
    while stack:
        v, d = stack.pop()
        if isinstance(v, (list, dict)):
            if d >= depth:
                return False
            stack.extend((x, d + 1) for x in (v.values() if isinstance(v, dict) else v))
    return True


def _check_geometry(
    gdf: gpd.GeoDataFrame, numbers: np.ndarray, label: str, word: str
) -> gpd.GeoDataFrame:
    """Points only (MultiPoints exploded, areas as one point each), finite, in EPSG:27700."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        geom = gdf.geometry.to_numpy()
        empty = shapely.is_missing(geom) | shapely.is_empty(geom)
        if empty.any():
            msg = (
                f"{label}: there is no geometry in {_rows(numbers[empty], word)}. Fix or remove it."
            )
            raise DataError(msg)
        types = np.asarray(shapely.get_type_id(geom))
        # 0 Point, 3 Polygon, 4 MultiPoint, 6 MultiPolygon
        wrong = ~np.isin(types, [0, 3, 4, 6])
        if wrong.any():
            kind = gdf.geometry.geom_type.to_numpy()[wrong][0]
            msg = (
                f"{label}: {_rows(numbers[wrong], word)}: {kind} geometry, not "
                "points. Upload points (one per service or event)."
            )
            raise DataError(msg)
        xy, idx = shapely.get_coordinates(geom, include_z=True, return_index=True)
        nonfinite = np.zeros(len(geom), dtype=bool)
        nonfinite[idx[~np.isfinite(xy[:, :2]).all(axis=1)]] = True
        if nonfinite.any():
            msg = (
                f"{label}: coordinates in {_rows(numbers[nonfinite], word)} are not "
                "finite numbers (NaN or infinite). Fix or remove them."
            )
            raise DataError(msg)
        areas = np.isin(types, [3, 6])
        invalid = areas & ~shapely.is_valid(geom)
        if invalid.any():
            msg = (
                f"{label}: invalid geometry in {_rows(numbers[invalid], word)}. Repair it "
                "(QGIS 'Fix geometries') or remove them."
            )
            raise DataError(msg)
        geom = geom.copy()
        geom[areas] = shapely.point_on_surface(geom[areas])
        parts, owner = shapely.get_parts(geom, return_index=True)
        out = gpd.GeoDataFrame(
            {"_number": numbers[owner]}, geometry=shapely.force_2d(parts), crs=gdf.crs
        )
        extra = gdf.drop(columns=gdf.geometry.name).iloc[owner].reset_index(drop=True)
        out = pd.concat([extra.drop(columns=["_number"], errors="ignore"), out], axis=1)
        out = gpd.GeoDataFrame(out, geometry="geometry", crs=gdf.crs)
        try:
            out = out.to_crs(WORKING_CRS)
        except Exception as err:  # pyproj raises several error types
            msg = (
                f"{label}: its coordinates could not be converted to British National Grid "
                f"({safe_text(err, limit=80)}). Save it in EPSG:4326 or EPSG:27700."
            )
            raise CRSError(msg) from None
    xy = shapely.get_coordinates(out.geometry.to_numpy())
    if not np.isfinite(xy).all():
        bad = sorted(set(out["_number"].to_numpy()[~np.isfinite(xy).all(axis=1)].tolist()))
        msg = (
            f"{label}: coordinates in {_rows(bad, word)} cannot be placed on the "
            "British National Grid. Check the coordinate system."
        )
        raise CRSError(msg)
    return out


def _assign_lsoa(place: Place, pts: gpd.GeoDataFrame) -> pd.Series:
    """The LSOA 2021 of every point (NaN outside): each point in exactly one LSOA."""
    out = pd.Series(np.nan, index=pts.index, dtype=object)
    lsoa = gpd.GeoDataFrame(
        {"_lsoa": place.lsoa.index.astype(str)},
        geometry=place.lsoa.geometry.to_numpy(),
        crs=place.lsoa.crs,
    )
    sub = gpd.GeoDataFrame(geometry=pts.geometry.to_numpy(), index=pts.index, crs=pts.crs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        inside = gpd.sjoin(sub, lsoa, how="inner", predicate="intersects")
        first = inside.groupby(level=0)["_lsoa"].min()  # on a shared edge: the first code
        out.loc[first.index] = first.to_numpy()
        rest = out.isna().to_numpy()
        if rest.any():  # within 1 m of the city's edge (digitising slack): the nearest LSOA
            near = gpd.sjoin_nearest(sub.loc[rest], lsoa, how="inner", max_distance=1.0)
            near = near.groupby(level=0)["_lsoa"].min()
            out.loc[near.index] = near.to_numpy()
    return out


def _read_points(
    place: Place,
    source: Source,
    *,
    name: str | None,
    encoding: str | None,
    max_bytes: int,
    drop_outside: bool,
) -> tuple[gpd.GeoDataFrame, str, str]:
    raw, label, fname = _read_bytes(source, name, max_bytes=max_bytes)
    low = fname.lower()
    spatial: str | None = None
    if low.endswith(_TABLE_EXT):
        spatial = None
    elif low.endswith(_SPATIAL_EXT):
        spatial = fname
    elif raw.startswith(_SQLITE_MAGIC):
        spatial = "upload.gpkg"
    elif raw.startswith(_ZIP_MAGIC) and b".shp" in raw[-(1 << 16) :].lower():
        spatial = "upload.zip"
    elif raw.lstrip()[:1] in (b"{", b"["):
        spatial = "upload.geojson"
    if spatial is None:
        gdf, numbers = _points_from_grid(_grid(raw, label, fname, encoding))
        word = "row"
    else:
        gdf, numbers = _read_spatial(raw, label, spatial)
        word = "feature"
    pts = _check_geometry(gdf, numbers, label, word)
    lsoa = _assign_lsoa(place, pts)
    outside = lsoa.isna().to_numpy()
    if outside.all():
        msg = (
            f"{label}: none of the {len(pts)} points is inside {place.name}. Check the "
            "coordinates: lon/lat must be WGS84 degrees; easting/northing British National "
            "Grid metres."
        )
        raise CRSError(msg)
    if outside.any():
        if not drop_outside:
            where = sorted(set(pts["_number"].to_numpy()[outside].tolist()))
            msg = (
                f"{label}: the points from {_rows(where, word)} lie outside the city "
                f"({place.name}). Remove them from the file and upload it again."
            )
            raise DataError(
                msg,
                fixes={
                    "app": f"Or tick '{outside_box(place.name)}' to load the other points.",
                    "library": "Or pass drop_outside=True to leave them out.",
                },
            )
        pts, lsoa = pts.loc[~outside], lsoa.loc[~outside]
    pts = pts.assign(lsoa_code=lsoa.to_numpy()).reset_index(drop=True)
    pts.attrs.update(
        attribution=f"uploaded: {safe_text(fname)}", label=safe_text(fname), theme="user data"
    )
    return pts, label, fname


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
    Read a points file: CSV/XLSX (lon/lat or easting/northing), GeoJSON, GeoPackage or zipped SHP.

    Parameters
    ----------
    place
        The place the points must lie in.
    source
        A path, bytes or a binary file object.
    name
        The file name, used in messages and to tell the format.
    encoding
        Text encoding of a CSV.
    max_bytes
        Size limit of the file.
    drop_outside
        Leave out points outside the place instead of refusing the file.

    Returns
    -------
    gpd.GeoDataFrame
        One row per point in EPSG:27700 (a MultiPoint gives one row per point, an
        area one row at a point inside it) with the file's columns, ``_number``
        (the row or feature it came from) and ``lsoa_code``.

    Raises
    ------
    DataError, SchemaError, CRSError
        For an empty, oversized, damaged or unreadable file, missing coordinate
        columns, no coordinate system, empty, invalid, non-finite or line
        geometry, or points outside the city (unless `drop_outside`).
    """
    pts, _, _ = _read_points(
        place, source, name=name, encoding=encoding, max_bytes=max_bytes, drop_outside=drop_outside
    )
    return pts


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
    map_layer: Literal["areas", "points", "none"] = "areas",
) -> Place:
    """
    Add an uploaded points file as a disclosure-controlled count per LSOA and a map layer.

    Parameters
    ----------
    place
        The place to add to; it is never changed.
    source, name, encoding, max_bytes, drop_outside
        As for :func:`read_points`.
    prefix
        Start of the new ids.
    theme
        Catalogue theme of the new indicators.
    map_layer
        ``"areas"`` (default): the layer is the LSOAs holding points, each with its
        published count (those the disclosure control hides are left out) and no
        names or other columns from the file. ``"points"``: each point's position,
        still without any column from the file. ``"none"``: no layer.

    Returns
    -------
    Place
        A copy with indicators ``<prefix>_<file>_count`` and ``..._per_1000`` and
        (unless ``map_layer="none"``) layer ``<prefix>:<file>``; ``place`` itself
        is unchanged.

    Raises
    ------
    DataError, SchemaError, CRSError
        Everything :func:`read_points` refuses; an indicator id or layer the place
        already has; invalid options.
    """
    from placekit.disclosure import place_protection

    _check_options(place, prefix=prefix, theme=theme)
    if map_layer not in ("areas", "points", "none"):
        msg = f"map_layer must be one of ['areas', 'points', 'none']; got {map_layer!r}."
        raise DataError(msg)
    pts, label, fname = _read_points(
        place, source, name=name, encoding=encoding, max_bytes=max_bytes, drop_outside=drop_outside
    )
    clean = safe_text(fname)
    stem = _slug(Path(fname).stem, "points")
    cid = f"{prefix}_{stem}_count"
    layer_key = f"{prefix}:{stem}" if map_layer != "none" else None
    _check_ids(
        place,
        [
            (cid, f"the count of points in {label}"),
            (f"{cid}_per_1000", f"the rate per 1000 residents of {label}"),
        ],
        label,
        layer=layer_key,
    )
    counts = pts["lsoa_code"].value_counts().reindex(place.lsoa.index, fill_value=0).astype(float)
    pop = place.weights["population"].reindex(place.lsoa.index)
    base = {
        "theme": theme,
        "source": f"uploaded: {clean}",
        "year": "",
        "geography": "points",
        "licence": "user data",
        "tier": "tertiary",
        "direction": "higher_worse",
        "weight": "",
    }
    how = (
        f"upload:{clean}; {len(pts)} points counted per LSOA (a MultiPoint counts each "
        "point, an area once)"
    )
    metas = {
        cid: {
            **base,
            "label": f"{clean} (count of points)",
            "unit": "count",
            "kind": "count",
            "aggregation": "sum",
            "derivation": how,
        },
        f"{cid}_per_1000": {
            **base,
            "label": f"{clean} per 1000 residents",
            "unit": "per 1000 residents",
            "kind": "rate",
            "aggregation": "weighted_mean",
            "weight": "population",
            "derivation": how + "; per 1000 residents, hidden with its count",
        },
    }
    frame = pd.DataFrame({cid: counts, f"{cid}_per_1000": 1000.0 * counts / pop.where(pop > 0)})
    new = _with_indicators(place, frame, metas, {cid: cid, f"{cid}_per_1000": cid})
    if layer_key is None:
        return new
    if map_layer == "points":
        layer = gpd.GeoDataFrame(geometry=pts.geometry.to_numpy(), crs=pts.crs)
    else:
        shown = place_protection(new, cid).published["lsoa"].reindex(place.lsoa.index)
        shown = shown[shown > 0]
        layer = gpd.GeoDataFrame(
            {"name": [f"{int(v)} points" for v in shown.to_numpy()], "count": shown.to_numpy()},
            geometry=place.lsoa.geometry.reindex(shown.index).to_numpy(),
            crs=place.lsoa.crs,
            index=shown.index,
        )
    layer.attrs.update(pts.attrs)
    layer.attrs["aggregation"] = map_layer
    return replace(new, layers={**new.layers, layer_key: layer})
