"""Command-line subcommands for change over time, SPC charts and pilot evaluation.

``placekit evaluate``, ``placekit spc`` and ``placekit change``. As for every
command, all arguments are checked before any work (output paths and numbers
while parsing; files, levels and areas as soon as the place is loaded), and a
failed check is printed as ``placekit: error: ...`` with exit status 2. Every
output carries the place's attributions (``<file>.ATTRIBUTION.txt``, or inside the
JSON summary), plus a line for the user's own service data.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

from placekit._cli_more import PLAIN_FORMATS, check_level, check_out, ids, seed
from placekit.change import DOMAINS
from placekit.errors import DataError

__all__ = ["register"]

_CHART_FORMATS = (".csv", ".png", ".svg")


def _place(args: argparse.Namespace) -> Any:
    from placekit.place import load_place

    return load_place(args.data)


def _positive_int(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        msg = f"expected a whole number from 1 to 50; got {text!r}"
        raise argparse.ArgumentTypeError(msg) from None
    if not 1 <= v <= 50:
        msg = f"must be from 1 to 50; got {v}"
        raise argparse.ArgumentTypeError(msg)
    return v


def _tolerance(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        msg = f"expected percentile points such as 10; got {text!r}"
        raise argparse.ArgumentTypeError(msg) from None
    if not math.isfinite(v) or not 0 < v <= 100:
        msg = f"must be above 0 and at most 100 percentile points; got {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return v


def _input_file(text: str, option: str, what: str) -> Path:
    p = Path(text).expanduser()
    if not p.is_file():
        msg = f"{option}: no file at {text}; give {what}."
        raise DataError(msg)
    return p


def _attributions(place: Any, demand_file: Path | None = None) -> list[str]:
    lines = list(place.attributions)
    if demand_file is not None:
        lines.append(f"Service data: {demand_file.name} (the user's own data)")
    return lines


def _area_code(place: Any, level: str, area: str) -> str:
    if level == "lsoa":
        if area.strip().upper() in place.lsoa.index:
            return str(area.strip().upper())
        msg = f"--area: {area!r} is not an LSOA of {place.name}; give a 2021 LSOA code."
        raise DataError(msg)
    locs = place.localities[level]
    if area in locs.index:
        return str(area)
    names = locs["area_name"].astype(str)
    hit = locs.index[names.str.lower() == area.strip().lower()]
    if len(hit):
        return str(hit[0])
    msg = f"--area: no {level} called {area!r}. Choose a code or one of: {sorted(names)[:12]}."
    raise DataError(msg)


# -- evaluate ----------------------------------------------------------------------------
def _evaluate(args: argparse.Namespace) -> int:
    from placekit.export import write_table, write_text
    from placekit.pilots import evaluate_pilot, load_pilot
    from placekit.timeseries import read_series

    out = check_out(args.out, formats=PLAIN_FORMATS)
    summary = (
        check_out(args.summary, formats=(".json",), option="--summary") if args.summary else None
    )
    pilot_path = _input_file(args.pilot, "PILOT", "a pilot JSON file")
    demand_path = _input_file(args.demand_file, "--demand-file", "a CSV or XLSX by LSOA and period")
    load_pilot(pilot_path)  # the file itself is checked before the place is loaded
    place: Any = _place(args)
    pilot = load_pilot(pilot_path, place=place)
    if args.demand:
        pilot["demand"] = args.demand
    series = read_series(place, demand_path, column=pilot["demand"])
    ev = evaluate_pilot(
        pilot, series, place, n_per_pilot=args.comparisons_per_area, random_state=args.seed
    )
    lines = _attributions(place, demand_path)
    write_table(ev.per_period, out, attributions=lines)
    if summary is not None:
        doc = ev.summary() | {"attribution": lines}
        write_text(json.dumps(doc, indent=2, allow_nan=False, default=float) + "\n", summary)
    for s in ev.sentences():
        print(s)
    print(f"Wrote {len(ev.per_period)} periods to {out}" + (f" and {summary}" if summary else ""))
    return 0


# -- spc ---------------------------------------------------------------------------------
def _spc(args: argparse.Namespace) -> int:
    from placekit.export import write_table, write_text
    from placekit.spc import spc_chart, spc_summary, xmr
    from placekit.timeseries import protect_series, read_series

    out = check_out(args.out, formats=_CHART_FORMATS)
    demand_path = _input_file(args.demand_file, "--demand-file", "a CSV or XLSX by LSOA and period")
    group = ids(args.areas, option="--areas")
    if group is None and args.area is None:
        msg = (
            "give --level LEVEL --area NAME (a locality), or --areas CODE,CODE (a group of LSOAs)."
        )
        raise DataError(msg)
    change_points = ids(args.change_point, option="--change-point") or []
    place: Any = _place(args)
    if group is None:
        level = check_level(place, args.level)
        code = _area_code(place, level, args.area)
        groups = None
    else:
        bad = [a for a in group if a.upper() not in place.lsoa.index]
        if bad:
            msg = f"--areas: {bad[:5]} are not 2021 LSOAs of {place.name}."
            raise DataError(msg)
        level, code = "group", "group"
        groups = {"group": {"group": [a.upper() for a in group]}}
    series = read_series(place, demand_path, column=args.demand)
    prot = protect_series(series, place, groups=groups, max_primary_share=1.0)
    values = prot.series(level, code)
    values.index = values.index.astype(str)
    chart = xmr(values, change_points=change_points, improvement=args.improvement)
    name = code if level in ("lsoa", "group") else str(place.areas(level).loc[code, "area_name"])
    lines = _attributions(place, demand_path)
    if out.suffix.lower() == ".csv":
        write_table(chart, out, attributions=lines)
    else:
        spc_chart(
            chart,
            out,
            title=f"{series.column}: {name} ({level}), by {prot.frequency}",
            unit=f"{series.column} per {prot.frequency}",
            attribution=lines[0],
        )
        write_text("\n".join(lines) + "\n", out.with_name(out.name + ".ATTRIBUTION.txt"))
    for n in prot.notes:
        print(n)
    print(spc_summary(chart))
    print(f"Wrote {out} ({chart.attrs['method']})")
    return 0


# -- change ------------------------------------------------------------------------------
def _change(args: argparse.Namespace) -> int:
    import sys

    from placekit.change import census_change, census_change_table, change_table, iod_change
    from placekit.export import write_table

    out = check_out(args.out, formats=PLAIN_FORMATS)
    domains = ids(args.domains, option="--domains")
    if domains and args.census:
        msg = "--domains is for IoD change; leave it out with --census."
        raise DataError(msg)
    if domains:
        bad = [d for d in domains if d not in DOMAINS]
        if bad:
            msg = f"--domains: unknown {bad}; choose from {list(DOMAINS)}."
            raise DataError(msg)
    place: Any = _place(args)
    level = check_level(place, args.level)
    if args.census:
        table = census_change(place) if level == "lsoa" else census_change_table(place, level)
    elif level == "lsoa":
        table = iod_change(place, tolerance_pct=args.tolerance)
        if domains:
            keep = [c for c in table.columns if any(c.startswith(d + "_") for d in domains)]
            table = table[keep]
    else:
        table = change_table(place, level, domains=domains, tolerance_pct=args.tolerance)
    write_table(table, out, attributions=_attributions(place))
    for what, why in table.attrs.get("unavailable", {}).items():
        print(f"unavailable: {what}: {why}", file=sys.stderr)
    print(f"Wrote {len(table)} {level} rows to {out} ({table.attrs['method']})")
    return 0


def register(sub: argparse._SubParsersAction, level_help: str) -> None:  # type: ignore[type-arg]
    """Add ``evaluate``, ``spc`` and ``change`` to the ``placekit`` parser."""
    s = sub.add_parser("evaluate", help="estimate a pilot's effect on demand over time")
    s.add_argument("pilot", help="a pilot JSON file ({'placekit_pilot': 1, ...})")
    s.add_argument("--demand-file", required=True, help="CSV or XLSX by LSOA and period")
    s.add_argument("--demand", help="the demand column (default: the pilot's 'demand')")
    s.add_argument("--out", required=True, help="a .csv file: the per-period table")
    s.add_argument("--summary", help="a .json file: estimate, lower, upper, method, sentences")
    s.add_argument(
        "--comparisons-per-area",
        type=_positive_int,
        default=8,
        help="matched comparison areas per pilot area (1 to 50, default 8)",
    )
    s.add_argument("--seed", type=seed, default=0)
    s.set_defaults(func=_evaluate)
    s = sub.add_parser("spc", help="XmR chart (Making Data Count rules) for a locality or group")
    s.add_argument("--demand-file", required=True, help="CSV or XLSX by LSOA and period")
    s.add_argument("--demand", help="the column, if the file has several")
    s.add_argument("--level", default="lsoa", help=level_help)
    s.add_argument("--area", help="locality code or name at --level")
    s.add_argument("--areas", help="or a group: comma-separated 2021 LSOA codes")
    s.add_argument(
        "--change-point", help="period(s) from which limits are recalculated, e.g. 2024-01"
    )
    s.add_argument(
        "--improvement",
        choices=["increase", "decrease", "neutral"],
        default="neutral",
        help="which direction is better (labels special causes)",
    )
    s.add_argument("--out", required=True, help=".csv (the chart table), .png or .svg")
    s.set_defaults(func=_spc)
    s = sub.add_parser(
        "change", help="IoD 2019 -> 2025 change by area, against England (or Census 2011 -> 2021)"
    )
    s.add_argument("--level", default="lsoa", help=level_help)
    s.add_argument(
        "--census",
        action="store_true",
        help="Census 2011 -> 2021 household deprivation and population instead "
        "(two-proportion z-test at 5%%)",
    )
    s.add_argument("--domains", help=f"comma-separated, from {', '.join(DOMAINS)}")
    s.add_argument(
        "--tolerance",
        type=_tolerance,
        default=10.0,
        help="percentile points a move must reach to count (default 10)",
    )
    s.add_argument("--out", required=True, help="a .csv file")
    s.set_defaults(func=_change)
