"""Command-line subcommands for the analysis modules, and the argument checks all commands share.

Every check runs before any work starts: numbers and output paths while the
arguments are parsed (no data needed), levels, indicator ids, facility types,
localities and the number of clusters as soon as the place is loaded and
before anything is computed. A failed check raises :class:`DataError` (or an
``argparse`` error) naming the option, the value and the fix; ``placekit``
prints it as ``placekit: error: ...`` and exits with status 2.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import shlex
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from placekit.errors import DataError

__all__ = [
    "HTML_FORMATS",
    "MAX_K",
    "MAX_MINUTES",
    "PLAIN_FORMATS",
    "check_facilities",
    "check_indicators",
    "check_k",
    "check_level",
    "check_out",
    "ids",
    "minutes",
    "register",
    "seed",
    "whole_k",
]

#: Largest number of clusters the CLI accepts (fewer when the place has fewer areas).
MAX_K = 20
#: Longest travel-time threshold the CLI accepts, in minutes.
MAX_MINUTES = 180.0
#: Extensions of outputs that are plain tables (no geometry).
PLAIN_FORMATS = (".csv",)
#: Extensions of HTML outputs.
HTML_FORMATS = (".html", ".htm")


# -- checks made while parsing (no data needed) ------------------------------------------------
def minutes(text: str) -> float:
    """
    ``argparse`` type: a travel time in minutes, finite, above 0 and at most 180.

    Raises
    ------
    argparse.ArgumentTypeError
        For text that is not a number, NaN, infinities, 0, negatives or more than 180.
    """
    try:
        value = float(text)
    except ValueError:
        msg = f"expected a number of minutes such as 15; got {text!r}"
        raise argparse.ArgumentTypeError(msg) from None
    if not math.isfinite(value) or not 0 < value <= MAX_MINUTES:
        msg = f"must be a number of minutes above 0 and at most {MAX_MINUTES:g}; got {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return value


def whole_k(text: str) -> int:
    """
    ``argparse`` type: a number of clusters, a whole number of at least 2.

    The upper end depends on the place and is checked by :func:`check_k`.

    Raises
    ------
    argparse.ArgumentTypeError
        For text that is not a whole number, or a number below 2.
    """
    try:
        value = int(text)
    except ValueError:
        msg = f"expected a whole number of clusters from 2 to {MAX_K}; got {text!r}"
        raise argparse.ArgumentTypeError(msg) from None
    if value < 2:
        msg = f"must be from 2 to {MAX_K} (at most the number of areas less one); got {value}"
        raise argparse.ArgumentTypeError(msg)
    return value


def seed(text: str) -> int:
    """
    ``argparse`` type: a random seed, a whole number from 0 to 2**32 - 1.

    Raises
    ------
    argparse.ArgumentTypeError
        For text that is not a whole number or lies outside the range.
    """
    try:
        value = int(text)
    except ValueError:
        msg = f"expected a whole number from 0 to {2**32 - 1}; got {text!r}"
        raise argparse.ArgumentTypeError(msg) from None
    if not 0 <= value < 2**32:
        msg = f"must be from 0 to {2**32 - 1}; got {value}"
        raise argparse.ArgumentTypeError(msg)
    return value


def ids(text: str | None, *, option: str | None = None) -> list[str] | None:
    """
    Split a comma-separated list of ids; ``None`` when the option was not given.

    Raises
    ------
    DataError
        When ``option`` is named and the text was given but holds no id (e.g. ``",,"``).
    """
    if text is None:
        return None
    out = [s.strip() for s in text.split(",") if s.strip()]
    if not out and option is not None:
        msg = f"{option} names no id; give comma-separated ids such as a,b, or leave it out."
        raise DataError(msg)
    return out or None


def check_out(
    text: str | os.PathLike[str], *, formats: Sequence[str], option: str = "--out"
) -> Path:
    """
    Check an output file before any work: known extension, existing writable folder.

    Parameters
    ----------
    text
        The path given on the command line.
    formats
        Accepted extensions, lower case with the dot.
    option
        The option's name, for the message.

    Returns
    -------
    Path
        The path.

    Raises
    ------
    DataError
        If the path is empty or a folder, has another extension, or its folder
        is missing, is a file, or cannot be written to. The message names the
        folder and the fix.
    """
    raw = os.fspath(text)
    if not raw.strip():
        msg = f"{option} is empty; give a file name such as out{formats[0]}."
        raise DataError(msg)
    try:
        os.fsencode(raw)
        bad_char = "\x00" in raw
    except UnicodeEncodeError:
        bad_char = True
    if bad_char:
        msg = f"{option} {raw!r} holds a character no file name can hold; choose another name."
        raise DataError(msg)
    p = Path(raw).expanduser()
    if p.is_dir():
        msg = f"{option} {raw} is a folder; give a file inside it, e.g. {p / ('out' + formats[0])}."
        raise DataError(msg)
    if p.suffix.lower() not in formats:
        got = repr(p.suffix) if p.suffix else "no extension"
        msg = (
            f"{option} {p.name} has {got}; this command writes "
            f"{' '.join(formats)}. Name the file e.g. {p.stem or 'out'}{formats[0]}."
        )
        raise DataError(msg)
    folder = p.parent
    nearest = next((a for a in (folder, *folder.parents) if a.exists()), None)
    if nearest is not None and not nearest.is_dir():
        msg = f"{option} {raw}: {nearest} is a file, not a folder. Choose a path inside a folder."
        raise DataError(msg)
    if not folder.is_dir():
        msg = (
            f"The folder for {option}, {folder}, does not exist. Create it first "
            f"(mkdir -p {shlex.quote(str(folder))}) or choose another folder."
        )
        raise DataError(msg)
    probe = folder / f".placekit-write-test-{os.getpid()}"
    try:
        os.close(os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except OSError as err:
        msg = (
            f"Cannot write to the folder {folder} ({err.strerror or type(err).__name__}). "
            f"Choose a folder you can write to for {option}, or fix its permissions."
        )
        raise DataError(msg) from None
    finally:
        with contextlib.suppress(OSError):
            probe.unlink()
    return p


# -- checks made once the place is loaded, before any work ------------------------------------
def check_level(place: Any, level: str, *, lsoa: bool = True) -> str:
    """
    Check a ``--level`` against the pack's levels.

    Raises
    ------
    DataError
        Listing the pack's levels.
    """
    allowed = list(place.all_levels if lsoa else place.levels)
    if level not in allowed:
        msg = f"--level: level must be one of {allowed} for {place.name}; got {level!r}."
        raise DataError(msg)
    return level


def check_indicators(
    place: Any, wanted: Sequence[str], *, option: str, computed: bool = False
) -> None:
    """
    Check indicator ids against the catalogue (and, if ``computed``, the place's columns).

    Raises
    ------
    DataError
        Naming every unknown id at once.
    """
    unknown = [i for i in wanted if i not in place.catalogue]
    if unknown:
        close = sorted(
            {c for u in unknown for c in place.catalogue.ids if u.split("_")[0].lower() in c}
        )[:8]
        which = (
            f"id {unknown[0]!r}"
            if len(unknown) == 1
            else "ids " + ", ".join(repr(u) for u in unknown)
        )
        msg = (
            f"Unknown indicator {which} in {option}. "
            f"{'Close ids: ' + str(close) + '. ' if close else ''}"
            "Run `placekit indicators` to list them all."
        )
        raise DataError(msg)
    if computed:
        missing = [i for i in wanted if i not in place.indicators.columns]
        if missing:
            msg = (
                f"{option}: indicator(s) {missing} are not computed for {place.name}; "
                "choose from `placekit indicators` (access indicators are not available here)."
            )
            raise DataError(msg)


def check_facilities(place: Any, text: str) -> tuple[str, ...]:
    """
    Check a ``--facility`` list against the layers the pack supplies.

    Raises
    ------
    DataError
        If the list is empty or names a type the pack lacks; the message lists the types.
    """
    types = tuple(dict.fromkeys(ids(text) or ()))
    have = sorted(place.available_layers)
    if not types:
        msg = f"--facility names no type; give one or more of {have}, e.g. gp,pharmacy."
        raise DataError(msg)
    bad = [t for t in types if t not in have]
    if bad:
        msg = f"--facility: {place.name} has no facility type(s) {bad}; its types are {have}."
        raise DataError(msg)
    return types


def check_k(k: int, n_areas: int) -> int:
    """
    Check a number of clusters against the data: 2 to ``min(20, n_areas - 1)``.

    Raises
    ------
    DataError
        Stating the range for this place.
    """
    top = min(MAX_K, n_areas - 1)
    if not 2 <= k <= top:
        msg = (
            f"--k must be from 2 to {top} for this place ({n_areas} areas, at most {MAX_K} "
            f"types); got {k}."
        )
        raise DataError(msg)
    return k


def _locality(place: Any, level: str, area: str) -> None:
    locs = place.localities[level]
    if area in locs.index:
        return
    names = locs["area_name"].astype(str)
    if (names.str.lower() == area.lower()).any():
        return
    msg = f"--area: no {level} called {area!r}. Choose a code or one of: {sorted(names)[:12]}."
    raise DataError(msg)


def _place(args: argparse.Namespace) -> Any:
    from placekit.place import load_place

    return load_place(args.data)


# -- subcommands ---------------------------------------------------------------------------
def _cluster(args: argparse.Namespace) -> int:
    from placekit.clustering import DEFAULT_VARIABLES, choose_k, cluster_place, stability
    from placekit.export import write_table

    out = check_out(args.out, formats=PLAIN_FORMATS)
    variables = ids(args.variables, option="--variables")
    themes = ids(args.themes, option="--themes")
    if not args.choose_k and args.k is None:
        msg = "give --k K (the number of types), or --choose-k to compare k = 2..12."
        raise DataError(msg)
    place: Any = _place(args)
    if variables:
        check_indicators(place, variables, option="--variables", computed=True)
    if themes:
        place.catalogue.by_theme(themes)
    if args.choose_k:
        chosen = variables or DEFAULT_VARIABLES
        feats = place.indicators[chosen].fillna(place.indicators[chosen].median())
        table = choose_k(feats, random_state=args.seed)
        write_table(table, out)
        print(f"Wrote k diagnostics (k = 2..12) to {out}")
        return 0
    check_k(args.k, len(place.lsoa))
    res: Any = cluster_place(
        place, k=args.k, variables=variables, themes=themes, random_state=args.seed
    )
    feats = place.indicators[res["variables"]]
    aris, per_area = stability(feats.fillna(feats.median()), args.k, random_state=args.seed)
    table = pd.DataFrame(
        {
            "cluster": res["labels"],
            "confidence": res["confidence"],
            "stability": per_area.reindex(res["labels"].index),
        }
    )
    table.index.name = "area_code"
    write_table(table, out)
    print(f"Wrote {len(table)} areas to {out}; subsample ARI mean {aris.mean():.2f}")
    return 0


def _drivers(args: argparse.Namespace) -> int:
    from placekit.drivers import explain_demand
    from placekit.export import write_table

    out = check_out(args.out, formats=PLAIN_FORMATS)
    areas_out = (
        check_out(args.areas_out, formats=PLAIN_FORMATS, option="--areas-out")
        if args.areas_out is not None
        else None
    )
    drivers = ids(args.drivers, option="--drivers")
    controls = ids(args.controls, option="--controls")
    themes = ids(args.themes, option="--themes")
    demand_file = _check_demand_file(args)
    place: Any = _place(args)
    place, demand = _demand(place, args, demand_file)
    for option, given in (("--drivers", drivers), ("--controls", controls)):
        if given:
            check_indicators(place, given, option=option, computed=True)
    if themes:
        drivers = (drivers or []) + [
            i
            for i in place.catalogue.by_theme(themes)
            if i in place.indicators.columns and i != demand
        ]
    res: Any = explain_demand(place, demand, drivers=drivers, controls=controls)
    imp = res.importance.copy()
    imp["heldout_r2_" + res.best] = res.scores[res.best]
    write_table(imp, out)
    if areas_out is not None:
        write_table(res.areas, areas_out)
    print(
        f"Demand {demand}. Held-out R²: {res.scores.round(3).to_dict()} (without spatial terms "
        f"{res.scores_without_spatial.round(3).to_dict()}); Moran's I of residuals "
        f"{res.morans_i['I']:.3f} (without {res.morans_i_without_spatial['I']:.3f}). {res.caveat}"
    )
    return 0


def _check_demand_file(args: argparse.Namespace) -> Path | None:
    """The ``--demand-file`` path, checked before anything is loaded."""
    if args.demand_file is None:
        return None
    src = Path(args.demand_file)
    if not src.is_file():
        msg = f"--demand-file: no file at {src}; give a CSV or XLSX table by LSOA code."
        raise DataError(msg)
    if not args.demand:
        msg = "--demand-file needs --demand COLUMN: the heading of the demand column in the file."
        raise DataError(msg)
    return src


def _demand(place: Any, args: argparse.Namespace, demand_file: Path | None) -> tuple[Any, str]:
    """The place and the demand indicator: a catalogue id, or a column of ``--demand-file``."""
    from placekit.demand import with_demand_file

    if demand_file is not None:
        place, demand = with_demand_file(place, demand_file, args.demand)
        print(f"Demand from {demand_file.name}, column {args.demand!r}: modelled as {demand}")
        return place, demand
    check_indicators(place, [args.demand], option="--demand", computed=True)
    return place, str(args.demand)


def _scenario(args: argparse.Namespace) -> int:
    from placekit.accessibility import add_access_indicators
    from placekit.export import FORMATS, write_table
    from placekit.scenarios import ScenarioEngine, load_scenario

    out = check_out(args.out, formats=FORMATS)
    sc = load_scenario(args.file)
    demand_file = _check_demand_file(args)
    place: Any = _place(args)
    check_level(place, args.level)
    demand: str | None = None
    if args.demand or demand_file is not None:
        place, demand = _demand(place, args, demand_file)
    place = add_access_indicators(place, modes=(str(sc["mode"]),))
    eng = ScenarioEngine(place, mode=str(sc["mode"]), demand=demand)
    res = eng.apply(sc)
    out_areas = place.areas(args.level)
    table = res.areas if args.level == "lsoa" else res.localities[args.level]
    result = out_areas.join(table.drop(columns=["area_name"], errors="ignore"))
    write_table(result, out, attributions=place.attributions)
    newly = {
        c: round(float(res.areas[c].sum())) for c in res.areas if c.endswith("_people_newly_within")
    }
    print(
        f"Applied {sc['name']!r} in {res.seconds:.2f} s; people newly within "
        f"{sc['threshold_min']} min: {newly}. Wrote {out}"
    )
    for n in res.notes:
        print(n)
    return 0


def _report(args: argparse.Namespace) -> int:
    from placekit.clustering import cluster_place
    from placekit.drivers import explain_demand
    from placekit.export import write_text
    from placekit.report import locality_report
    from placekit.targeting import prevention_table

    out = check_out(args.out, formats=HTML_FORMATS)
    place: Any = _place(args)
    level = check_level(place, args.level or place.locality_level, lsoa=False)
    _locality(place, level, args.area)
    check_indicators(place, [args.demand], option="--demand", computed=True)
    check_k(args.k, len(place.lsoa))
    drv = explain_demand(place, args.demand, n_repeats=3)
    prev = prevention_table(place, drv)
    cl = cluster_place(place, k=args.k, random_state=0)
    text = locality_report(
        place,
        level,
        args.area,
        prevention=prev,
        drivers=drv,
        types=cl["labels"],
        portraits=cl["portraits"],
    )
    write_text(text, out)
    print(f"Wrote {out}")
    return 0


def _audit(args: argparse.Namespace) -> int:
    from placekit.audit import audit_file

    src = Path(args.file)
    if not src.is_file():
        msg = f"No file at {src}; give the CSV or XLSX of counts by LSOA to audit."
        raise DataError(msg)
    place: Any = _place(args)
    audits = audit_file(place, src)
    if not audits:
        print(f"{src.name} holds no count columns: nothing to protect.")
        return 0
    for a in audits:
        print(a.summary())
    ok = all(a.result.ok for a in audits)
    print("Verdict: every hidden cell is protected." if ok
          else "Verdict: some hidden cells could be recovered or narrowed; do not publish.")
    return 0 if ok else 1


_DEMAND_FILE_HELP = (
    "CSV or XLSX table by LSOA (2011 or 2021 codes) holding the demand column; counts are "
    "modelled per 1000 residents and stay under disclosure control"
)


def register(sub: argparse._SubParsersAction, level_help: str) -> None:  # type: ignore[type-arg]
    """Add the analysis subcommands to the ``placekit`` parser."""
    s = sub.add_parser("audit", help="attack an upload's published tables as an attacker would")
    s.add_argument("file", help="CSV or XLSX of counts by LSOA (2011 or 2021 codes)")
    s.set_defaults(func=_audit)
    s = sub.add_parser("cluster", help="neighbourhood typology (OAC method)")
    s.add_argument("--k", type=whole_k, help=f"number of types, 2 to {MAX_K}")
    s.add_argument("--choose-k", action="store_true")
    s.add_argument("--variables")
    s.add_argument("--themes")
    s.add_argument("--seed", type=seed, default=0)
    s.add_argument("--out", required=True, help="a .csv file")
    s.set_defaults(func=_cluster)
    s = sub.add_parser("drivers", help="which upstream drivers go with demand")
    s.add_argument(
        "--demand",
        required=True,
        help="demand indicator id, or with --demand-file the heading of its column",
    )
    s.add_argument("--demand-file", help=_DEMAND_FILE_HELP)
    s.add_argument("--drivers")
    s.add_argument("--themes")
    s.add_argument("--controls")
    s.add_argument("--out", required=True, help="a .csv file")
    s.add_argument("--areas-out", help="a .csv file")
    s.set_defaults(func=_drivers)
    s = sub.add_parser("scenario", help="apply a scenario JSON and compare with the baseline")
    s.add_argument("file")
    s.add_argument("--level", default="lsoa", help=level_help)
    s.add_argument(
        "--demand",
        help="demand indicator id, or with --demand-file the heading of its column: its "
        "change is estimated from the effect of access (optional)",
    )
    s.add_argument("--demand-file", help=_DEMAND_FILE_HELP)
    s.add_argument("--out", required=True, help=".csv, .gpkg, .parquet or .geojson")
    s.set_defaults(func=_scenario)
    s = sub.add_parser("report", help="self-contained HTML locality pack")
    s.add_argument(
        "--level",
        help="locality level (default: the pack's, e.g. lac for Sheffield, ward elsewhere)",
    )
    s.add_argument("--area", required=True, help="locality code or name")
    s.add_argument("--demand", default="bad_health_pct")
    s.add_argument("--k", type=whole_k, default=6, help=f"number of types, 2 to {MAX_K}")
    s.add_argument("--out", required=True, help="an .html file")
    s.set_defaults(func=_report)
