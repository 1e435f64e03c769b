"""The ``placekit`` command line."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence

from placekit.errors import PlacekitError

__all__ = ["main"]


def _ids(text: str | None) -> list[str] | None:
    return [s.strip() for s in text.split(",") if s.strip()] if text else None


def _place(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from placekit.place import load_place

    return load_place(args.data)


def _cmd_indicators(args: argparse.Namespace) -> int:
    from placekit.catalogue import load_catalogue

    table = load_catalogue().table.reset_index()
    if args.out:
        table.to_csv(args.out, index=False)
        print(f"Wrote {len(table)} indicators to {args.out}")
    else:
        table[["id", "theme", "unit", "label"]].to_csv(sys.stdout, index=False)
    return 0


def _with_access(place, ids: list[str] | None):  # type: ignore[no-untyped-def]
    from placekit.accessibility import add_access_indicators

    wanted = [i for i in (ids or []) if i not in place.indicators.columns
              and place.catalogue.row(i)["derivation"].startswith("access:")]
    if not wanted:
        return place
    parts = [place.catalogue.row(i)["derivation"].split(":") for i in wanted]
    modes = tuple(sorted({p[2] for p in parts}))
    types = tuple(sorted({p[1] for p in parts}))
    return add_access_indicators(place, modes=modes, types=types,
                                 progress=lambda m, _f: print(m, file=sys.stderr))


def _cmd_table(args: argparse.Namespace) -> int:
    from placekit.export import write_table

    place = _place(args)
    ids = _ids(args.indicators)
    place = _with_access(place, ids)
    table = place.table(args.level, ids)
    if args.england:
        from placekit.profile import with_england

        table = with_england(place, table, args.level)
        if "unavailable" in str(table.attrs.get("england", "")):
            print(f"England comparison {table.attrs['england']}", file=sys.stderr)
    write_table(table, args.out, attributions=place.attributions)
    print(f"Wrote {len(table)} {args.level} rows to {args.out}")
    return 0


def _cmd_access(args: argparse.Namespace) -> int:
    from placekit.accessibility import add_access_indicators
    from placekit.export import write_table

    place = _place(args)
    types = tuple(_ids(args.facility) or ())
    bad = [t for t in types if t not in place.available_layers]
    if bad:
        print(f"error: unknown facility type(s) {bad} for {place.name}; types are "
              f"{sorted(place.available_layers)}", file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    place = add_access_indicators(place, modes=(args.mode,), types=types, within_min=args.within,
                                  progress=lambda m, _f: print(m, file=sys.stderr))
    cols = [f"{t}_{args.mode}_{u}" for t in types for u in ("m", "min")]
    if args.within is not None:
        cols += [f"{t}_{args.mode}_within_{args.within:g}min" for t in types]
    table = place.table(args.level, cols)
    write_table(table, args.out, attributions=place.attributions)
    print(f"Wrote {len(table)} {args.level} rows to {args.out} in {time.perf_counter() - t0:.1f} s")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``placekit`` command."""
    p = argparse.ArgumentParser(prog="placekit", description="Place-based prevention explorer.")
    p.add_argument("--data", help="place pack folder: the Sheffield pack or one made by `placekit pack build` "
                   "(default: PLACEKIT_DATA or ../shared/data)")
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("indicators", help="list the indicator catalogue")
    s.add_argument("--out")
    s.set_defaults(func=_cmd_indicators)
    level_help = "lsoa or a level of the pack (e.g. msoa, ward, lad; Sheffield also lac, neighbourhood)"
    s = sub.add_parser("table", help="one row per area with chosen indicators")
    s.add_argument("--level", default="lsoa", help=level_help)
    s.add_argument("--indicators", help="comma-separated ids")
    s.add_argument("--england", action="store_true",
                   help="add England's value, the England rank and decile and better/similar/worse than England")
    s.add_argument("--out", required=True)
    s.set_defaults(func=_cmd_table)
    s = sub.add_parser("access", help="network distance and time to the nearest facility")
    s.add_argument("--facility", required=True, help="type[,type...], e.g. gp,pharmacy")
    s.add_argument("--mode", choices=["walk", "drive"], default="walk")
    s.add_argument("--level", default="lsoa", help=level_help)
    s.add_argument("--within", type=float, help="also count facilities reachable within this many minutes")
    s.add_argument("--out", required=True)
    s.set_defaults(func=_cmd_access)
    from placekit import _cli_more
    from placekit.packbuild import add_pack_cli

    _cli_more.register(sub, level_help)
    add_pack_cli(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "data", None) is None:
        args.data = None
    try:
        return int(args.func(args))
    except PlacekitError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
