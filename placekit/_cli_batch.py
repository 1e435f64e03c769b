"""``placekit batch``: many councils at once on Dask (see :mod:`placekit.batch`).

Exit status: 0 when every council named is done; 3 when the batch finished but some
councils failed (each named with the reason); 2 for an error before any council ran
(no sources folder, an unreachable scheduler, bad arguments).
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

__all__ = ["EXIT_SOME_FAILED", "register"]

#: Exit status when the batch finished but at least one council failed.
EXIT_SOME_FAILED = 3


def _workers(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        msg = f"expected a whole number of worker processes such as 2; got {text!r}"
        raise argparse.ArgumentTypeError(msg) from None
    if n < 1:
        msg = f"must be at least 1; got {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return n


def _seconds(text: str) -> float:
    try:
        s = float(text)
    except ValueError:
        s = math.nan
    if not (math.isfinite(s) and s > 0):
        msg = f"expected a number of seconds above 0; got {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return s


def _km(text: str) -> float:
    try:
        s = float(text)
    except ValueError:
        s = math.nan
    if not (math.isfinite(s) and s >= 0):
        msg = f"expected a number of kilometres >= 0; got {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return s


def _batch(args: argparse.Namespace) -> int:
    from placekit.batch import run_batch

    rep = run_batch(
        args.sources,
        args.la,
        args.out,
        scheduler=args.scheduler,
        workers=args.workers,
        margin_km=args.margin_km,
        england=args.england,
        reuse_packs=args.reuse_packs or (),
        connect_timeout_s=args.connect_timeout,
        progress=lambda m: print(m, file=sys.stderr, flush=True),
    )
    print(rep.summary())
    return EXIT_SOME_FAILED if rep.failed else 0


def register(sub: argparse._SubParsersAction, level_help: str) -> None:  # type: ignore[type-arg]
    """Add ``batch`` to the ``placekit`` parser."""
    s = sub.add_parser(
        "batch",
        help="many councils at once on Dask: packs, access, typology inputs, England ranks",
        description="Build (or reuse) each council's pack, compute the default walk access, "
        "the typology inputs and the England-benchmarked table, one Dask task per council, "
        "and write one combined table (one row per LSOA). A finished council is not redone.",
    )
    s.add_argument(
        "--sources",
        required=True,
        type=Path,
        metavar="DIR",
        help="regional or national sources folder (like ../shared/region/...)",
    )
    s.add_argument(
        "--la",
        required=True,
        metavar="CODE[,CODE...]|all",
        help="local authority codes, or 'all' (every council with LSOA rows)",
    )
    s.add_argument(
        "--out",
        required=True,
        type=Path,
        metavar="DIR",
        help="output folder: combined.parquet/.csv, councils/, packs/, batch.json",
    )
    s.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="an existing Dask scheduler, e.g. tcp://host:8786 (default: a local "
        "cluster); its workers must see --sources and --out at the same paths",
    )
    s.add_argument(
        "--workers",
        type=_workers,
        default=2,
        metavar="N",
        help="worker processes of the local cluster, one thread each (default 2)",
    )
    s.add_argument(
        "--margin-km",
        type=_km,
        default=3.0,
        metavar="KM",
        help="pack margin beyond each council's boundary (default 3)",
    )
    s.add_argument(
        "--england",
        type=Path,
        metavar="DIR",
        help="England-wide tables (default <sources>/../england if present)",
    )
    s.add_argument(
        "--reuse-packs",
        type=Path,
        action="append",
        metavar="DIR",
        help="folder of packs to reuse when built from the same sources, council "
        "and margin (repeatable), e.g. ~/placekit-packs",
    )
    s.add_argument(
        "--connect-timeout",
        type=_seconds,
        default=10.0,
        metavar="S",
        help="seconds to try to reach --scheduler (default 10)",
    )
    s.set_defaults(func=_batch)
