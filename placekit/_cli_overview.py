"""``placekit overview --batch DIR --out FILE``: a council- or MSOA-level summary of a batch.

Reads the combined table a ``placekit batch`` run wrote (:mod:`placekit.combined`)
and writes one row per council (or MSOA): LSOAs, residents, each indicator
aggregated (counts summed, others population-weighted), its rank among the rows
and the share of residents in England's worst decile where the table has it.
"""

from __future__ import annotations

import argparse
from pathlib import Path

__all__ = ["register"]


def _overview(args: argparse.Namespace) -> int:
    from placekit._cli_more import check_out, ids
    from placekit.combined import read_combined, summarise_combined
    from placekit.export import write_table

    out = check_out(args.out, formats=(".csv", ".parquet"))
    wanted = ids(args.indicators, option="--indicators") if args.indicators else None
    table = read_combined(args.batch)
    summary = summarise_combined(table, level=args.level, indicators=wanted)
    write_table(summary, out)
    print(
        f"Wrote {len(summary)} {args.level} rows ({len(table)} LSOAs, "
        f"{summary['council_code'].nunique()} councils) to {out}"
    )
    return 0


def register(sub: argparse._SubParsersAction, level_help: str) -> None:  # type: ignore[type-arg]
    """Add ``overview`` to the ``placekit`` parser."""
    s = sub.add_parser(
        "overview",
        help="summarise a batch's combined table by council or MSOA",
        description="Read DIR/combined.parquet (written by placekit batch) and write one row "
        "per council or MSOA: LSOAs, residents, each indicator (counts summed, others "
        "population-weighted), its rank among the rows (1 = worst) and the share of "
        "residents in England's worst decile.",
    )
    s.add_argument(
        "--batch", required=True, type=Path, metavar="DIR", help="a placekit batch --out folder"
    )
    s.add_argument("--out", required=True, metavar="FILE", help="output .csv or .parquet")
    s.add_argument(
        "--level",
        choices=["council", "msoa"],
        default="council",
        help="one row per council (default) or per MSOA",
    )
    s.add_argument(
        "--indicators", metavar="ID[,ID...]", help="indicator ids (default: all in the table)"
    )
    s.set_defaults(func=_overview)
