"""The ``placekit`` command line.

Arguments are checked before any work starts (see :mod:`placekit._cli_more`).
Exit status: 0 on success; 2 for a usage error or any :class:`PlacekitError`,
printed as ``placekit: error: <message>`` in the command line's words
(:func:`placekit.errors.explain` with the ``"cli"`` audience: a fix names a
``--flag``, never a Python keyword); 1 for anything unexpected, printed as
a short request to report it (the traceback only with ``PLACEKIT_DEBUG=1``);
130 when interrupted.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import traceback
import warnings
from collections.abc import Sequence
from typing import Any

from placekit import _cli_batch, _cli_more, _cli_overview, _cli_time
from placekit._cli_more import check_facilities, check_level, check_out, ids, minutes
from placekit.errors import DataError, PlacekitError, explain

__all__ = ["build_parser", "main"]

#: Exit status for usage errors and placekit's own errors (as argparse uses).
EXIT_USAGE = 2
#: Exit status for an unexpected error (a bug).
EXIT_BUG = 1
#: Exit status after Ctrl-C.
EXIT_INTERRUPTED = 130


def _place(args: argparse.Namespace) -> Any:
    return _cli_more._place(args)


def _cmd_indicators(args: argparse.Namespace) -> int:
    from placekit.catalogue import load_catalogue
    from placekit.export import write_table

    out = check_out(args.out, formats=_cli_more.PLAIN_FORMATS) if args.out else None
    table = load_catalogue().table
    if out is not None:
        write_table(table, out)
        print(f"Wrote {len(table)} indicators to {out}")
    else:
        table.reset_index()[["id", "theme", "unit", "label"]].to_csv(sys.stdout, index=False)
    return 0


def _cmd_table(args: argparse.Namespace) -> int:
    from placekit import workflows
    from placekit.export import FORMATS, write_table

    out = check_out(args.out, formats=FORMATS)
    wanted = ids(args.indicators, option="--indicators")
    filters = ids(args.filter, option="--filter") if args.filter else []
    if filters and not args.filter_level:
        msg = "--filter needs --filter-level (the level its areas belong to, e.g. ward)."
        raise DataError(msg)
    place: Any = _place(args)
    check_level(place, args.level)
    if args.filter_level and args.filter_level not in place.levels:
        msg = (
            f"--filter-level must be one of {list(place.levels)} for {place.name}; "
            f"got {args.filter_level!r}."
        )
        raise DataError(msg)
    if wanted:
        _cli_more.check_indicators(place, wanted, option="--indicators")
    workflows.cap_threads()
    place = workflows.with_access(
        place, wanted or [], progress=lambda m, _f: print(m, file=sys.stderr)
    )
    result = workflows.area_table(
        place,
        args.level,
        wanted or [i for i in place.indicators.columns if i != "population"],
        filter_level=args.filter_level,
        filter_codes=filters,
        england=args.england,
        sort_by=args.sort,
    )
    if args.england and "unavailable" in result.england:
        print(f"England comparison {result.england}", file=sys.stderr)
    table = result.table if out.suffix.lower() == ".csv" else result.spatial(place)
    write_table(table, out, attributions=place.attributions)
    inside = (
        f" in {args.filter_level} {', '.join(result.filter_codes)}" if result.filter_codes else ""
    )
    print(f"Wrote {len(table)} {args.level} rows{inside} to {out}")
    return 0


def _cmd_access(args: argparse.Namespace) -> int:
    from placekit.accessibility import add_access_indicators
    from placekit.export import FORMATS, write_table

    out = check_out(args.out, formats=FORMATS)
    place: Any = _place(args)
    types = check_facilities(place, args.facility)
    check_level(place, args.level)
    t0 = time.perf_counter()
    place = add_access_indicators(
        place,
        modes=(args.mode,),
        types=types,
        within_min=args.within,
        progress=lambda m, _f: print(m, file=sys.stderr),
    )
    cols = [f"{t}_{args.mode}_{u}" for t in types for u in ("m", "min")]
    if args.within is not None:
        cols += [f"{t}_{args.mode}_within_{args.within:g}min" for t in types]
    table = place.table(args.level, cols)
    write_table(table, out, attributions=place.attributions)
    print(f"Wrote {len(table)} {args.level} rows to {out} in {time.perf_counter() - t0:.1f} s")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """
    The argument parser of the ``placekit`` command.

    Returns
    -------
    argparse.ArgumentParser
        With every subcommand registered.
    """
    p = argparse.ArgumentParser(prog="placekit", description="Place-based prevention explorer.")
    p.add_argument(
        "--data",
        help="place pack folder: the Sheffield pack or one made by "
        "`placekit pack build` (default: PLACEKIT_DATA or ../shared/data)",
    )
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("indicators", help="list the indicator catalogue")
    s.add_argument("--out", help="a .csv file (default: a short list on standard output)")
    s.set_defaults(func=_cmd_indicators)
    level_help = (
        "lsoa or a level of the pack (e.g. msoa, ward, lad; Sheffield also lac, neighbourhood)"
    )
    out_help = ".csv, .gpkg, .parquet or .geojson (the folder must exist)"
    s = sub.add_parser("table", help="one row per area with chosen indicators")
    s.add_argument("--level", default="lsoa", help=level_help)
    s.add_argument("--indicators", help="comma-separated ids")
    s.add_argument(
        "--england",
        action="store_true",
        help="add England's value, the England rank and decile and "
        "better/similar/worse than England",
    )
    s.add_argument(
        "--filter-level",
        metavar="LEVEL",
        help="keep only areas inside --filter areas of this level (e.g. ward, lac)",
    )
    s.add_argument(
        "--filter",
        metavar="AREA",
        help="comma-separated codes or names of --filter-level areas, e.g. 'North East'",
    )
    s.add_argument("--sort", metavar="ID", help="sort by this indicator, worst first")
    s.add_argument("--out", required=True, help=out_help)
    s.set_defaults(func=_cmd_table)
    s = sub.add_parser("access", help="network distance and time to the nearest facility")
    s.add_argument("--facility", required=True, help="type[,type...], e.g. gp,pharmacy")
    s.add_argument("--mode", choices=["walk", "drive"], default="walk")
    s.add_argument("--level", default="lsoa", help=level_help)
    s.add_argument(
        "--within",
        type=minutes,
        metavar="MIN",
        help="also count facilities reachable within this many minutes "
        f"(above 0, at most {_cli_more.MAX_MINUTES:g})",
    )
    s.add_argument("--out", required=True, help=out_help)
    s.set_defaults(func=_cmd_access)
    from placekit.packbuild import add_pack_cli

    _cli_more.register(sub, level_help)
    _cli_time.register(sub, level_help)
    _cli_batch.register(sub, level_help)
    _cli_overview.register(sub, level_help)
    add_pack_cli(sub)
    return p


def _show_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: Any = None,
    line: str | None = None,
) -> None:
    """Print a warning as one ``placekit: warning:`` line (no source line)."""
    print(f"placekit: warning: {message}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """
    Run the command line.

    Parameters
    ----------
    argv
        The arguments (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        The exit status: 0 success, 2 usage or placekit error, 1 unexpected
        error (a bug; set ``PLACEKIT_DEBUG=1`` for the traceback), 130 interrupted.
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as done:  # argparse: --help (0) or a usage error (2), already printed
        return done.code if isinstance(done.code, int) else EXIT_USAGE
    command = str(getattr(args, "command", "") or "")
    debug = os.environ.get("PLACEKIT_DEBUG") == "1"
    try:
        with warnings.catch_warnings():
            if not debug:
                warnings.showwarning = _show_warning
            return int(args.func(args))
    except PlacekitError as err:
        if debug:
            traceback.print_exc()
        print(f"placekit: error: {explain(err, 'cli')}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"placekit: {command} interrupted; nothing half-written was kept.", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as err:
        if debug:
            traceback.print_exc()
        print(
            f"placekit: unexpected error in `placekit {command}` ({type(err).__name__}: "
            f"{str(err)[:300]}). This is a bug in placekit: please report it with the "
            "command you ran. Set PLACEKIT_DEBUG=1 to print the full traceback.",
            file=sys.stderr,
        )
        return EXIT_BUG


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
