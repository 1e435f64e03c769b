"""Many councils at once: one task per council on Dask distributed, one table across councils.

:func:`run_batch` plans a batch from a sources folder laid out like
``../shared/region/south-yorkshire`` (see :mod:`placekit.packbuild`), then runs
:func:`run_council` for every council on a Dask cluster: a
:class:`distributed.LocalCluster` of single-threaded worker processes by default,
or an existing cluster given by its scheduler address. Each council task

1. builds the council's pack (with the margin, so access at the border counts what
   lies over it), or reuses one built from the same inputs;
2. computes the default walk access indicators
   (:func:`placekit.accessibility.access_indicators`);
3. gathers the typology inputs (:data:`placekit.clustering.DEFAULT_VARIABLES`) and the
   profile indicators, and benchmarks them against England
   (:func:`placekit.profile.with_england`): England value, rank, decile and
   better/similar/worse, plus the rank within the council and within the ONS region;
4. writes its table atomically, then a completion marker ``done.json`` holding a
   hash of its inputs and of the table.

A council whose marker matches its inputs is not redone, so an interrupted batch
resumes where it stopped, and a task re-run after its worker died finds what was
already written. A council that fails is reported with the reason; the others go
on. The combined table (one row per LSOA: council, region, values, council,
region, batch and England ranks) is made from the written tables.

Output folder::

    OUT/combined.parquet, OUT/combined.csv   one row per LSOA of every council done
    OUT/batch.json                           the last run: status and reason per council
    OUT/councils/<code>/lsoa.parquet         a council's table
    OUT/councils/<code>/done.json            its completion marker
    OUT/packs/<code>/                        its pack (unless one was reused from elsewhere)

Failure drills: ``PLACEKIT_BATCH_FAULT=CODE:STAGE:FLAGFILE`` makes the task of
council CODE end its worker process (``os._exit``) at STAGE (``start``,
``access`` or ``written``) once, creating FLAGFILE so the retry runs normally.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import json
import math
import os
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from placekit.errors import DataError, PlacekitError

__all__ = [
    "BATCH_VERSION",
    "FAULT_ENV",
    "BatchReport",
    "CouncilResult",
    "CouncilSpec",
    "SchedulerUnreachable",
    "combine",
    "plan_batch",
    "read_marker",
    "run_batch",
    "run_council",
    "run_serial",
]

#: Bump when what a council task writes changes: every council is then redone.
BATCH_VERSION = 2
#: Environment variable of the failure drill (see the module docstring).
FAULT_ENV = "PLACEKIT_BATCH_FAULT"
#: Dask event topic the council tasks report their stages on.
TOPIC = "placekit-batch"
_STAGES = ("start", "access", "written")
_ID_COLUMNS = [
    "council_code",
    "council_name",
    "region_code",
    "region_name",
    "lsoa_name",
    "msoa_code",
    "msoa_name",
]

Progress = Callable[[str], None]


class SchedulerUnreachable(DataError):  # noqa: N818 (reads as the condition it reports)
    """The Dask scheduler given with ``--scheduler`` could not be reached."""


# ----------------------------------------------------------------------------- specs
@dataclass(frozen=True)
class CouncilSpec:
    """
    Everything a council task needs; plain data, so it travels to any worker.

    Attributes
    ----------
    code, name
        The council's LAD code and name (from the sources).
    sources
        The sources folder.
    out
        The batch's output folder (shared by every worker).
    margin_km
        Margin of the pack around the council, kilometres.
    england
        The England tables folder, or ``None``.
    types
        Facility types for the access indicators (those the pack lacks are left out).
    input_hash
        Hash of everything the result depends on (see :func:`plan_batch`).
    reuse_packs
        Folders searched for a pack built from the same sources, margin and council.
    """

    code: str
    name: str
    sources: Path
    out: Path
    margin_km: float
    england: Path | None
    types: tuple[str, ...]
    input_hash: str
    reuse_packs: tuple[Path, ...] = ()

    @property
    def council_dir(self) -> Path:
        """``OUT/councils/<code>``."""
        return self.out / "councils" / self.code

    @property
    def table_path(self) -> Path:
        """The council's table."""
        return self.council_dir / "lsoa.parquet"

    @property
    def marker_path(self) -> Path:
        """The council's completion marker."""
        return self.council_dir / "done.json"


@dataclass
class CouncilResult:
    """What became of one council: ``computed``, ``reused`` or ``failed`` (with the reason)."""

    code: str
    name: str
    status: str
    reason: str = ""
    run_id: str = ""
    seconds: float = 0.0
    rows: int = 0
    facts: dict[str, Any] = field(default_factory=dict)


@dataclass
class BatchReport:
    """A batch: every council's result, the combined table and where it was written."""

    councils: list[CouncilResult]
    combined: pd.DataFrame
    out: Path
    seconds: float
    scheduler: str

    @property
    def failed(self) -> list[CouncilResult]:
        """The councils that failed."""
        return [c for c in self.councils if c.status == "failed"]

    def summary(self) -> str:
        """A few lines for people: per council its status, then the combined table."""
        lines = [
            f"Batch of {len(self.councils)} council(s) in {self.seconds:.1f} s on {self.scheduler}:"
        ]
        for c in self.councils:
            extra = f": {c.reason}" if c.reason else f" ({c.rows} LSOAs, {c.seconds:.1f} s)"
            lines.append(f"  {c.code} {c.name}: {c.status}{extra}")
        lines.append(
            f"Combined table: {len(self.combined)} LSOAs -> "
            f"{self.out / 'combined.parquet'} (and .csv)"
        )
        return "\n".join(lines)


# ----------------------------------------------------------------------------- hashing
def _tree_stats(folder: Path | None) -> list[str]:
    if folder is None or not Path(folder).is_dir():
        return []
    root = Path(folder).resolve()
    out = []
    for f in sorted(p for p in root.rglob("*") if p.is_file()):
        st = f.stat()
        out.append(f"{f.relative_to(root)}|{st.st_size}|{st.st_mtime_ns}")
    return out


def _file_sha(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _input_hash(
    code: str,
    sources: Path,
    margin_km: float,
    england: Path | None,
    types: Sequence[str],
    tree: list[str],
    eng_tree: list[str],
) -> str:
    from placekit import __version__ as version

    h = hashlib.sha256()
    for part in (
        f"v{BATCH_VERSION}",
        version,
        code,
        str(sources.resolve()),
        repr(margin_km),
        str(england.resolve()) if england else "",
        ",".join(types),
        *tree,
        "|",
        *eng_tree,
    ):
        h.update(part.encode())
        h.update(b"\n")
    return h.hexdigest()


# ----------------------------------------------------------------------------- planning
def _codes_in(path: Path, column: str) -> set[str]:
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        names = pq.read_schema(path).names
        if column not in names:
            return set()
        return set(pq.read_table(path, columns=[column]).column(0).to_pandas().dropna().astype(str))
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    return set(df[column].astype(str)) - {""} if column in df.columns else set()


def plan_batch(
    sources: str | Path,
    la: str | Sequence[str],
    out: str | Path,
    *,
    margin_km: float = 3.0,
    england: str | Path | None = None,
    types: Sequence[str] | None = None,
    reuse_packs: Sequence[str | Path] = (),
) -> tuple[list[CouncilSpec], list[CouncilResult]]:
    """
    The council tasks of a batch, and the councils that cannot run (with the reason).

    Parameters
    ----------
    sources
        The sources folder (see :func:`placekit.packbuild.build_pack`).
    la
        ``"all"`` (every council with LSOA rows in the sources), or LAD codes
        (a list, or text with commas).
    out
        The batch's output folder.
    margin_km
        Margin of each council's pack, kilometres.
    england
        The England tables folder (default ``<sources>/../england`` if it exists).
    types
        Facility types (default :data:`placekit.accessibility.DEFAULT_TYPES`).
    reuse_packs
        Folders holding packs that may be reused when built from the same inputs.

    Returns
    -------
    (list of CouncilSpec, list of CouncilResult)
        The tasks, and a ``failed`` result for every code that is unknown or whose
        LSOA or Census rows the sources lack.

    Raises
    ------
    DataError
        If the sources folder is missing or lacks a required source, the margin is
        not a finite number >= 0, or no code is given.
    """
    from placekit.accessibility import DEFAULT_TYPES
    from placekit.packbuild import LA_COLUMN, _la_names, find_sources

    sources = Path(sources).expanduser().resolve()
    out = Path(out).expanduser().resolve()
    if not (isinstance(margin_km, int | float) and math.isfinite(margin_km) and margin_km >= 0):
        msg = f"margin_km must be a finite number of kilometres >= 0; got {margin_km!r}."
        raise DataError(msg)
    found, _missing = find_sources(sources)
    lsoa_codes = _codes_in(found["lsoa"], LA_COLUMN)
    census_codes = _codes_in(found["census"], LA_COLUMN)
    elsewhere: set[str] = set()
    for key in ("lad_boundaries", "ward_lad", "postcodes", "pois", "greenspace"):
        if key in found:
            elsewhere |= _codes_in(found[key], LA_COLUMN)
    text = la if isinstance(la, str) else ",".join(la)
    if text.strip().lower() == "all":
        codes = sorted(lsoa_codes)
    else:
        codes = list(dict.fromkeys(c.strip().upper() for c in text.split(",") if c.strip()))
    if not codes:
        msg = "Give at least one local authority code, e.g. --la E08000018, or --la all."
        raise DataError(msg)
    known = lsoa_codes | census_codes | elsewhere
    names = _la_names(found, sorted(known | set(codes)))
    eng = Path(england).expanduser().resolve() if england else (sources.parent / "england")
    eng_dir = eng if eng.is_dir() else None
    kinds = tuple(types) if types else tuple(DEFAULT_TYPES)
    tree, eng_tree = _tree_stats(sources), _tree_stats(eng_dir)
    listed = ", ".join(f"{c} ({names[c]})" if names[c] != c else c for c in sorted(lsoa_codes))
    specs: list[CouncilSpec] = []
    refused: list[CouncilResult] = []
    for c in codes:
        if c not in known:
            refused.append(
                CouncilResult(
                    c,
                    c,
                    "failed",
                    (
                        f"unknown local authority code {c}: it is in none of the source files. "
                        f"Codes with LSOA rows: {listed}."
                    ),
                )
            )
            continue
        lacks = [
            f"{role} rows in {found[role].relative_to(sources)}"
            for role, have in (("lsoa", lsoa_codes), ("census", census_codes))
            if c not in have
        ]
        if lacks:
            refused.append(
                CouncilResult(
                    c,
                    names[c],
                    "failed",
                    (
                        f"the sources hold no {' and no '.join(lacks)} for "
                        f"{c}{f' ({names[c]})' if names[c] != c else ''}; "
                        "its place files are missing from this sources folder."
                    ),
                )
            )
            continue
        specs.append(
            CouncilSpec(
                code=c,
                name=names[c],
                sources=sources,
                out=out,
                margin_km=float(margin_km),
                england=eng_dir,
                types=kinds,
                input_hash=_input_hash(
                    c, sources, float(margin_km), eng_dir, kinds, tree, eng_tree
                ),
                reuse_packs=tuple(Path(p).expanduser().resolve() for p in reuse_packs),
            )
        )
    return specs, refused


# ----------------------------------------------------------------------------- markers
def read_marker(spec: CouncilSpec) -> dict[str, Any] | None:
    """
    The council's completion marker if it is complete and matches the spec's inputs.

    Returns
    -------
    dict or None
        The marker; ``None`` when there is none, it is damaged, its input hash differs
        or the table it names has changed.
    """
    try:
        marker: dict[str, Any] = json.loads(spec.marker_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if marker.get("input_hash") != spec.input_hash or not spec.table_path.is_file():
        return None
    if marker.get("table_sha256") != _file_sha(spec.table_path):
        return None
    return marker


def _write_json(path: Path, obj: Any) -> None:
    from placekit.export import atomic_path

    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=1, sort_keys=True, default=str), encoding="utf-8")


# ----------------------------------------------------------------------------- memory
def _reset_peak() -> None:
    """Reset this process's peak RSS (Linux ``clear_refs``); a no-op elsewhere."""
    with contextlib.suppress(OSError), open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")


def _peak_mb() -> float:
    """Peak resident memory of this process since the last reset, MB (``VmHWM``)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    import resource

    return float(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) / 1024.0


# ----------------------------------------------------------------------------- the task
def _emit(event: str, spec: CouncilSpec, **extra: Any) -> None:
    """Report a stage to the client (on a Dask worker; silent elsewhere)."""
    try:
        from distributed import get_worker

        worker = get_worker()
    except (ImportError, ValueError):
        return
    with contextlib.suppress(Exception):
        worker.log_event(
            TOPIC,
            {"event": event, "code": spec.code, "name": spec.name, "pid": os.getpid(), **extra},
        )


def _maybe_fault(spec: CouncilSpec, stage: str) -> None:
    """The failure drill of :data:`FAULT_ENV`: end this process once at ``stage``."""
    drill = os.environ.get(FAULT_ENV, "")
    if not drill:
        return
    code, _, rest = drill.partition(":")
    at, _, flag = rest.partition(":")
    if code != spec.code or at != stage or not flag:
        return
    try:
        fd = os.open(flag, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        return
    os.close(fd)
    os._exit(17)


def _pack_ok(pack_dir: Path, spec: CouncilSpec) -> bool:
    """Whether ``pack_dir`` holds a pack built for this council from the same inputs."""
    try:
        m = json.loads((pack_dir / "placekit-pack.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    built = m.get("built") or {}
    if m.get("la_codes") != [spec.code] or built.get("by") != "placekit pack build":
        return False
    if Path(str(built.get("sources", ""))).resolve() != spec.sources:
        return False
    if not math.isclose(float(built.get("margin_km", -1)), spec.margin_km):
        return False
    rel = m.get("england")
    eng = (pack_dir / rel).resolve() if rel else None
    if (eng if eng and eng.is_dir() else None) != spec.england:
        return False
    try:
        when = (
            _dt.datetime.strptime(str(built["date"]), "%Y-%m-%dT%H:%M:%SZ")
            .replace(tzinfo=_dt.UTC)
            .timestamp()
        )
    except (KeyError, ValueError):
        return False
    newest = max((p.stat().st_mtime for p in spec.sources.rglob("*") if p.is_file()), default=0)
    return newest <= when + 1


def _pack_for(spec: CouncilSpec) -> tuple[Path, str]:
    """The council's pack: ``(folder, how)`` with ``how`` one of built, reused, found."""
    from placekit.packbuild import build_pack

    own = spec.out / "packs" / spec.code
    side = spec.out / "packs" / f"{spec.code}.batch.json"
    with contextlib.suppress(OSError, ValueError):
        if (
            json.loads(side.read_text(encoding="utf-8")).get("input_hash") == spec.input_hash
            and (own / "placekit-pack.json").is_file()
        ):
            return own, "reused"
    for root in spec.reuse_packs:
        if not root.is_dir():
            continue
        for cand in sorted(p.parent for p in root.glob("*/placekit-pack.json")):
            if _pack_ok(cand, spec):
                return cand, f"found in {root}"
    build_pack(
        spec.sources,
        [spec.code],
        own,
        margin_km=spec.margin_km,
        force=True,
        england=spec.england,
        prebuild=("walk",),
    )
    _write_json(side, {"input_hash": spec.input_hash, "code": spec.code})
    return own, "built"


def _rank(values: pd.Series, direction: str) -> pd.Series:
    """1 = worst by the catalogue direction (neutral: 1 = highest); ties share the smaller."""
    asc = direction == "higher_better"
    return values.rank(ascending=asc, method="min", na_option="keep")


def _text(frame: pd.DataFrame, column: str, index: pd.Index) -> pd.Series:
    """A text column of ``frame`` on ``index`` (missing where the place has no such column)."""
    if column not in frame.columns:
        return pd.Series(pd.NA, index=index, dtype="object")
    return frame[column].reindex(index).astype(object)


def _indicator_ids(place: Any, access: list[str]) -> list[str]:
    from placekit.clustering import DEFAULT_VARIABLES
    from placekit.profile import PROFILE_INDICATORS

    have = set(place.indicators.columns)
    ids = [*access, *DEFAULT_VARIABLES, *PROFILE_INDICATORS, "imd2025_decile"]
    return [i for i in dict.fromkeys(ids) if i in have and i != "population"]


def council_table(place: Any, access: pd.DataFrame, metas: dict[str, dict[str, str]]) -> Any:
    """
    One council's LSOA table: values, council and region ranks, England columns.

    Parameters
    ----------
    place
        The council's place (:func:`placekit.place.load_place`).
    access
        Access indicators by LSOA (:func:`placekit.accessibility.access_indicators`).
    metas
        Their catalogue metadata.

    Returns
    -------
    pandas.DataFrame
        Indexed by LSOA code (sorted): ``council_code``, ``council_name``,
        ``region_code``, ``region_name``, ``lsoa_name``, ``msoa_code``, ``msoa_name``
        (missing where the pack has no MSOA level), ``population``, then for every
        indicator its value, ``<id>_council_rank`` and, where England has a value,
        ``<id>_england``, ``<id>_england_rank``, ``<id>_england_decile``,
        ``<id>_vs_england`` and ``<id>_region_rank`` (among the region's LSOAs in
        England). Ranks: 1 = worst. ``attrs["typology_missing"]`` lists the typology
        inputs the place lacks.
    """
    from placekit.clustering import DEFAULT_VARIABLES
    from placekit.england import _rank_against
    from placekit.profile import with_england

    pl = place.with_indicators(access, metas)
    ids = _indicator_ids(pl, list(access.columns))
    base = pd.DataFrame(pl.indicators[ids]).sort_index()
    bench = with_england(pl, base, "lsoa")
    code = pl.la_codes[0]
    names = pl.pack.manifest.get("la_names", {})
    index = pd.Index(base.index.astype(str), name="lsoa21_code")
    eng = pl.england()
    areas = eng.areas.reindex(index) if eng is not None else None
    names = pl.pack.manifest.get("la_names", {})
    code = pl.la_codes[0]
    cols: dict[str, Any] = {
        "council_code": pd.Series(code, index=index),
        "council_name": pd.Series(str(names.get(code, pl.name)), index=index),
        "region_code": areas["region_code"] if areas is not None else pd.Series(pd.NA, index=index),
        "region_name": areas["region_name"] if areas is not None else pd.Series(pd.NA, index=index),
        "lsoa_name": _text(pl.lsoa, "area_name", index),
        "msoa_code": _text(pl.lsoa, "msoa_code", index),
        "msoa_name": _text(pl.lsoa, "msoa_name", index),
        "population": pl.weights["population"].reindex(index).astype(float),
    }
    for i in ids:
        direction = str(pl.catalogue.row(i)["direction"])
        v = base[i].astype(float)
        cols[i] = v
        cols[f"{i}_council_rank"] = _rank(v, direction)
        if f"{i}_england_rank" in bench.columns:
            cols[f"{i}_england"] = bench[f"{i}_england"].astype(float)
            cols[f"{i}_england_rank"] = bench[f"{i}_england_rank"].astype(float)
            cols[f"{i}_england_decile"] = bench[f"{i}_england_decile"].astype(float)
            cols[f"{i}_vs_england"] = bench[f"{i}_vs_england"].astype(str)
            rr = pd.Series(np.nan, index=index)
            if eng is not None and areas is not None and i in eng.values.columns:
                for reg in sorted(areas["region_code"].dropna().unique()):
                    rows = areas.index[areas["region_code"] == reg]
                    ref = eng.values[i][eng.areas["region_code"] == reg].to_numpy(float)
                    rr[rows] = _rank_against(v.reindex(rows).to_numpy(float), ref, direction)
            cols[f"{i}_region_rank"] = rr
    out = pd.DataFrame(
        {k: c.reindex(index) if isinstance(c, pd.Series) else c for k, c in cols.items()},
        index=index,
    )
    out.attrs["typology_missing"] = [v for v in DEFAULT_VARIABLES if v not in pl.indicators]
    return out


def run_council(spec: CouncilSpec) -> CouncilResult:
    """
    Run one council: pack, access, typology inputs, England benchmark; write atomically.

    Nothing is redone when the council's marker matches its inputs (status
    ``reused``). A placekit error (or any error in the data) gives status
    ``failed`` with the reason; nothing half-written is kept.

    Parameters
    ----------
    spec
        The council task (from :func:`plan_batch`).

    Returns
    -------
    CouncilResult
        With ``facts``: pack origin, network nodes and edges, origins, LSOAs,
        per-stage seconds and peak resident memory (MB) of the pack build and of
        the analysis.
    """
    t0 = time.perf_counter()
    marker = read_marker(spec)
    if marker is not None:
        return CouncilResult(
            spec.code,
            spec.name,
            "reused",
            run_id=str(marker["run_id"]),
            seconds=time.perf_counter() - t0,
            rows=int(marker["rows"]),
            facts=dict(marker.get("facts", {})),
        )
    _emit("start", spec)
    _maybe_fault(spec, "start")
    try:
        return _compute(spec, t0)
    except (PlacekitError, OSError, ValueError, KeyError) as err:
        return CouncilResult(
            spec.code,
            spec.name,
            "failed",
            reason=f"{type(err).__name__}: {err}",
            seconds=time.perf_counter() - t0,
        )


def _compute(spec: CouncilSpec, t0: float) -> CouncilResult:
    from placekit.accessibility import access_indicators
    from placekit.export import atomic_path
    from placekit.place import load_place
    from placekit.workflows import cap_threads

    cap_threads(1)
    timings: dict[str, float] = {}
    _reset_peak()
    t = time.perf_counter()
    pack_dir, how = _pack_for(spec)
    timings["pack"] = time.perf_counter() - t
    peak_pack = _peak_mb()
    _emit("stage", spec, stage=f"pack {how}")
    _reset_peak()
    t = time.perf_counter()
    place = load_place(pack_dir)
    net = place.network("walk")
    origins = place.origins("walk")
    timings["load"] = time.perf_counter() - t
    t = time.perf_counter()
    frame, metas = access_indicators(place, modes=("walk",), types=spec.types)
    timings["access"] = time.perf_counter() - t
    _maybe_fault(spec, "access")
    t = time.perf_counter()
    table = council_table(place, frame, metas)
    timings["benchmark"] = time.perf_counter() - t
    peak_analysis = _peak_mb()
    spec.council_dir.mkdir(parents=True, exist_ok=True)
    with atomic_path(spec.table_path) as tmp:
        table.to_parquet(tmp)
    run_id = uuid.uuid4().hex
    facts = {
        "pack": str(pack_dir),
        "pack_how": how,
        "nodes": int(net.n_nodes),
        "edges": int(net.edge_u.size),
        "origins": int(np.asarray(origins.node).size),
        "lsoas": len(table),
        "facility_types": [
            t for t in spec.types if t in frame.columns or f"{t}_walk_m" in frame.columns
        ],
        "typology_missing": table.attrs.get("typology_missing", []),
        "seconds": timings,
        "peak_mb_pack": round(peak_pack, 1),
        "peak_mb_analysis": round(peak_analysis, 1),
        "pid": os.getpid(),
    }
    _write_json(
        spec.marker_path,
        {
            "input_hash": spec.input_hash,
            "table_sha256": _file_sha(spec.table_path),
            "rows": len(table),
            "run_id": run_id,
            "code": spec.code,
            "name": spec.name,
            "written": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
            "facts": facts,
        },
    )
    _emit("written", spec)
    _maybe_fault(spec, "written")
    return CouncilResult(
        spec.code,
        spec.name,
        "computed",
        run_id=run_id,
        seconds=time.perf_counter() - t0,
        rows=len(table),
        facts=facts,
    )


# ----------------------------------------------------------------------------- combining
def combine(out: str | Path, codes: Iterable[str]) -> pd.DataFrame:
    """
    The combined table of the written councils, with ranks across the batch.

    Parameters
    ----------
    out
        The batch's output folder.
    codes
        The councils to include (their tables must be written).

    Returns
    -------
    pandas.DataFrame
        One row per LSOA, indexed by LSOA code, sorted by council then LSOA; every
        council table column plus ``<id>_batch_rank`` (1 = worst among all the
        batch's LSOAs) for every indicator.
    """
    from placekit.catalogue import load_catalogue

    root = Path(out)
    frames = [pd.read_parquet(root / "councils" / c / "lsoa.parquet") for c in codes]
    frames = [f for f in frames if len(f)]
    if not frames:
        return pd.DataFrame(columns=[*_ID_COLUMNS, "population"])
    table = pd.concat(frames).sort_values(["council_code", "lsoa21_code"])
    cat = load_catalogue()
    ids = [c for c in table.columns if f"{c}_council_rank" in table.columns]
    extra = {
        f"{i}_batch_rank": _rank(
            table[i].astype(float), str(cat.row(i)["direction"]) if i in cat else "higher_worse"
        )
        for i in ids
    }
    return pd.concat([table, pd.DataFrame(extra, index=table.index)], axis=1)


def _write_combined(out: Path, table: pd.DataFrame) -> None:
    from placekit.export import atomic_path

    out.mkdir(parents=True, exist_ok=True)
    with atomic_path(out / "combined.parquet") as tmp:
        table.to_parquet(tmp)
    with atomic_path(out / "combined.csv") as tmp:
        table.to_csv(tmp)


# ----------------------------------------------------------------------------- running
class _Live:
    """Live counts of councils done, running and failed, printed as they change."""

    def __init__(self, total: int, say: Progress) -> None:
        self.total, self.say = total, say
        self.running: dict[str, str] = {}
        self.done = self.failed = 0
        self.lock = threading.Lock()

    def line(self, text: str) -> None:
        self.say(
            f"[{self.done} done, {len(self.running)} running, {self.failed} failed of "
            f"{self.total}] {text}"
        )

    def event(self, ev: Any) -> None:
        _ts, msg = ev if isinstance(ev, tuple) else (None, ev)
        if not isinstance(msg, dict):
            return
        with self.lock:
            code = str(msg.get("code", "?"))
            if msg.get("event") == "start":
                # one thread per worker: a start on a process ends what it ran before
                pid = str(msg.get("pid"))
                for other in [c for c, p in self.running.items() if p == pid]:
                    self.running.pop(other)
                self.running[code] = pid
                self.line(f"{code} {msg.get('name', '')}: started (worker pid {msg.get('pid')})")
            elif msg.get("event") == "stage":
                self.line(f"{code}: {msg.get('stage')}")

    def finished(self, res: CouncilResult) -> None:
        with self.lock:
            self.running.pop(res.code, None)
            if res.status == "failed":
                self.failed += 1
                self.line(f"{res.code} {res.name}: FAILED: {res.reason}")
            else:
                self.done += 1
                self.line(
                    f"{res.code} {res.name}: {res.status} ({res.rows} LSOAs, {res.seconds:.1f} s)"
                )


def _connect(scheduler: str | None, workers: int, timeout_s: float) -> tuple[Any, Any, str]:
    """A Dask client: to ``scheduler``, or to a new local cluster of ``workers`` processes."""
    from distributed import Client, LocalCluster

    if scheduler:
        try:
            client = Client(scheduler, timeout=f"{timeout_s}s", set_as_default=False)
        except (OSError, TimeoutError) as err:
            msg = (
                f"Could not reach the Dask scheduler at {scheduler} within {timeout_s:g} s "
                f"({type(err).__name__}). Start one (`dask scheduler` and `dask worker "
                f"{scheduler}`), check the address, or leave out --scheduler to use a "
                "local cluster."
            )
            raise SchedulerUnreachable(msg) from None
        return client, None, f"the cluster at {scheduler}"
    if workers < 1:
        msg = f"--workers must be at least 1; got {workers}."
        raise DataError(msg)
    cluster = LocalCluster(
        n_workers=workers,
        threads_per_worker=1,
        processes=True,
        dashboard_address=":0",
        silence_logs=40,
    )
    client = Client(cluster, set_as_default=False)
    return client, cluster, f"a local cluster of {workers} single-threaded worker processes"


def _failure_reason(err: BaseException) -> str:
    from distributed import KilledWorker

    if isinstance(err, KilledWorker):
        return (
            f"its worker process died each time it ran ({err}); it may need more "
            "memory than a worker has (see the batch memory note)"
        )
    return f"{type(err).__name__}: {err}"


def run_batch(
    sources: str | Path,
    la: str | Sequence[str],
    out: str | Path,
    *,
    scheduler: str | None = None,
    workers: int = 2,
    margin_km: float = 3.0,
    england: str | Path | None = None,
    types: Sequence[str] | None = None,
    reuse_packs: Sequence[str | Path] = (),
    progress: Progress | None = None,
    connect_timeout_s: float = 10.0,
) -> BatchReport:
    """
    Run councils on Dask, one task each, and write the combined table.

    Parameters
    ----------
    sources, la, out, margin_km, england, types, reuse_packs
        As :func:`plan_batch`.
    scheduler
        Address of an existing Dask scheduler (``tcp://host:8786``); a local cluster
        of ``workers`` single-threaded processes when ``None``. Every worker must see
        ``sources`` and ``out`` at the same paths.
    workers
        Worker processes of the local cluster.
    progress
        Called with each progress line (default: print to standard error).
    connect_timeout_s
        How long to try to reach ``scheduler``.

    Returns
    -------
    BatchReport

    Raises
    ------
    SchedulerUnreachable
        If ``scheduler`` cannot be reached.
    DataError
        For a bad sources folder or margin (see :func:`plan_batch`).
    """
    t0 = time.perf_counter()
    say = progress or (lambda m: print(m, file=sys.stderr, flush=True))
    specs, refused = plan_batch(
        sources, la, out, margin_km=margin_km, england=england, types=types, reuse_packs=reuse_packs
    )
    live = _Live(len(specs) + len(refused), say)
    results: dict[str, CouncilResult] = {}
    for r in refused:
        results[r.code] = r
        live.finished(r)
    todo = []
    for s in specs:
        if read_marker(s) is not None:
            res = run_council(s)
            results[s.code] = res
            live.finished(res)
        else:
            todo.append(s)
    where = "no cluster (nothing to compute)"
    if todo:
        client, cluster, where = _connect(scheduler, workers, connect_timeout_s)
        live.line(f"running {len(todo)} council(s) on {where}")
        try:
            _run_on(client, todo, results, live)
        finally:
            client.close()
            if cluster is not None:
                cluster.close()
    order = [c.code for c in specs] + [r.code for r in refused]
    done = [c for c in (s.code for s in specs) if results[c].status != "failed"]
    root = Path(out).expanduser().resolve()
    table = combine(root, done)
    _write_combined(root, table)
    report = BatchReport([results[c] for c in order], table, root, time.perf_counter() - t0, where)
    _write_json(
        root / "batch.json",
        {
            "scheduler": where,
            "seconds": report.seconds,
            "councils": [
                {
                    "code": r.code,
                    "name": r.name,
                    "status": r.status,
                    "reason": r.reason,
                    "run_id": r.run_id,
                    "rows": r.rows,
                    "seconds": r.seconds,
                    "facts": r.facts,
                }
                for r in report.councils
            ],
        },
    )
    return report


def _run_on(
    client: Any, todo: list[CouncilSpec], results: dict[str, CouncilResult], live: _Live
) -> None:
    from distributed import as_completed

    client.subscribe_topic(TOPIC, live.event)
    try:
        futures = {
            client.submit(
                run_council,
                s,
                key=f"placekit-batch-{s.code}-{s.input_hash[:10]}-{uuid.uuid4().hex[:6]}",
                pure=False,
            ): s
            for s in todo
        }
        for fut in as_completed(list(futures), loop=client.loop):
            s = futures.pop(fut)
            try:
                res = fut.result()
            except Exception as err:
                res = CouncilResult(s.code, s.name, "failed", reason=_failure_reason(err))
            fut.release()
            results[s.code] = res
            live.finished(res)
    finally:
        with contextlib.suppress(Exception):
            client.unsubscribe_topic(TOPIC)


def run_serial(
    sources: str | Path,
    la: str | Sequence[str],
    out: str | Path,
    *,
    margin_km: float = 3.0,
    england: str | Path | None = None,
    types: Sequence[str] | None = None,
    reuse_packs: Sequence[str | Path] = (),
    progress: Progress | None = None,
) -> BatchReport:
    """
    The same councils one after another in this process (the baseline of the batch).

    Parameters and output as :func:`run_batch`, without a cluster.

    Returns
    -------
    BatchReport
    """
    t0 = time.perf_counter()
    say = progress or (lambda m: print(m, file=sys.stderr, flush=True))
    specs, refused = plan_batch(
        sources, la, out, margin_km=margin_km, england=england, types=types, reuse_packs=reuse_packs
    )
    live = _Live(len(specs) + len(refused), say)
    results = []
    for r in refused:
        live.finished(r)
    for s in specs:
        res = run_council(s)
        live.finished(res)
        results.append(res)
    root = Path(out).expanduser().resolve()
    table = combine(root, [r.code for r in results if r.status != "failed"])
    _write_combined(root, table)
    return BatchReport(
        [*results, *refused], table, root, time.perf_counter() - t0, "this process (serial)"
    )
