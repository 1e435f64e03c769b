"""``placekit overview --batch DIR --out FILE``: a council- or MSOA-level summary of a batch.

Reads the combined table a ``placekit batch`` run wrote (:mod:`placekit.combined`)
and writes one row per council (or MSOA): LSOAs, residents, each indicator
aggregated (counts summed, others population-weighted), its rank among the rows
and the share of residents in England's worst decile where the table has it.

With ``--council CODE`` it writes that council's LSOAs instead (the detail of the
region view): each indicator's value, its council and batch ranks, and its class
(``<id>_class``, 1 = lowest values .. K), the breaks taken over every LSOA of the
batch (:func:`placekit.combined.council_detail`), so classes compare across councils.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

__all__ = ["register"]


def _overview(args: argparse.Namespace) -> int:
    from placekit._cli_more import check_out, ids
    from placekit.combined import read_combined, summarise_combined
    from placekit.export import write_table

    out = check_out(args.out, formats=(".csv", ".parquet"))
    wanted = ids(args.indicators, option="--indicators") if args.indicators else None
    table = read_combined(args.batch)
    if args.council is not None:
        return _council(args, table, wanted, out)
    summary = summarise_combined(table, level=args.level, indicators=wanted)
    write_table(summary, out)
    print(
        f"Wrote {len(summary)} {args.level} rows ({len(table)} LSOAs, "
        f"{summary['council_code'].nunique()} councils) to {out}"
    )
    return 0


def _council(args: argparse.Namespace, table: Any, wanted: list[str] | None, out: Path) -> int:
    from placekit.combined import council_detail, indicator_ids
    from placekit.export import write_table

    chosen = wanted if wanted is not None else indicator_ids(table)
    detail = None
    for ind in chosen:
        d = council_detail(table, args.council, ind, k=args.classes, scheme=args.scheme)
        cls = (d["class"] + 1).astype("Int64").where(d["class"] >= 0)
        part = d.drop(columns=["value", "class"]).assign(**{ind: d["value"], f"{ind}_class": cls})
        if detail is None:
            detail = part
        else:
            detail = detail.join(part[[c for c in part.columns if c not in detail.columns]])
    assert detail is not None and d is not None  # chosen is never empty: --indicators checks
    write_table(detail, out)
    print(
        f"Wrote {len(detail)} LSOAs of {d.attrs['council_name']} ({d.attrs['council']}), "
        f"{len(chosen)} indicator(s) classed over the batch's {d.attrs['n_batch_lsoa']} LSOAs "
        f"({args.scheme}, {args.classes} classes), to {out}"
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
        "residents in England's worst decile. With --council CODE, that council's LSOAs "
        "instead: each indicator, its council and batch ranks and its class (1 = lowest), "
        "classed over every LSOA of the batch.",
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
    s.add_argument(
        "--council",
        metavar="CODE",
        help="write this council's LSOAs (values, ranks, classes over the whole batch) "
        "instead of the summary",
    )
    s.add_argument(
        "--classes",
        type=int,
        default=5,
        choices=range(2, 10),
        metavar="K",
        help="classes for --council (2-9, default 5)",
    )
    s.add_argument(
        "--scheme",
        choices=["quantiles", "natural_breaks"],
        default="quantiles",
        help="class breaks for --council (default quantiles)",
    )
    s.set_defaults(func=_overview)
