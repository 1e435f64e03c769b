"""Command-line subcommands for the analysis modules (cluster, drivers)."""

from __future__ import annotations

import argparse

import pandas as pd

__all__ = ["register"]


def _ids(text: str | None) -> list[str] | None:
    return [s.strip() for s in text.split(",") if s.strip()] if text else None


def _cluster(args: argparse.Namespace) -> int:
    from placekit.clustering import DEFAULT_VARIABLES, choose_k, cluster_place, stability
    from placekit.place import load_place

    place = load_place(args.data)
    if args.choose_k:
        ids = _ids(args.variables) or DEFAULT_VARIABLES
        X = place.indicators[ids].fillna(place.indicators[ids].median())
        table = choose_k(X, random_state=args.seed)
        table.to_csv(args.out)
        print(f"Wrote k diagnostics (k = 2..12) to {args.out}")
        return 0
    if args.k is None:
        print("error: give --k K, or --choose-k", flush=True)
        return 2
    res = cluster_place(place, k=args.k, variables=_ids(args.variables), themes=_ids(args.themes),
                        random_state=args.seed)
    X = place.indicators[res["variables"]]
    aris, per_area = stability(X.fillna(X.median()), args.k, random_state=args.seed)
    out = pd.DataFrame({"cluster": res["labels"], "confidence": res["confidence"],
                        "stability": per_area.reindex(res["labels"].index)})
    out.index.name = "area_code"
    out.to_csv(args.out)
    print(f"Wrote {len(out)} areas to {args.out}; subsample ARI mean {aris.mean():.2f}")
    return 0


def _drivers(args: argparse.Namespace) -> int:
    from placekit.drivers import explain_demand
    from placekit.place import load_place

    place = load_place(args.data)
    drivers = _ids(args.drivers)
    if args.themes:
        drivers = (drivers or []) + [i for i in place.catalogue.by_theme(_ids(args.themes) or [])
                                     if i in place.indicators.columns and i != args.demand]
    res = explain_demand(place, args.demand, drivers=drivers, controls=_ids(args.controls))
    imp = res.importance.copy()
    imp["heldout_r2_" + res.best] = res.scores[res.best]
    imp.to_csv(args.out)
    if args.areas_out:
        res.areas.to_csv(args.areas_out)
    print(f"Held-out R²: {res.scores.round(3).to_dict()}; {res.caveat}")
    return 0


def register(sub: argparse._SubParsersAction, levels: list[str]) -> None:  # type: ignore[type-arg]
    """Add the analysis subcommands to the ``placekit`` parser."""
    s = sub.add_parser("cluster", help="neighbourhood typology (OAC method)")
    s.add_argument("--k", type=int)
    s.add_argument("--choose-k", action="store_true")
    s.add_argument("--variables")
    s.add_argument("--themes")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--out", required=True)
    s.set_defaults(func=_cluster)
    s = sub.add_parser("drivers", help="which upstream drivers go with demand")
    s.add_argument("--demand", required=True)
    s.add_argument("--drivers")
    s.add_argument("--themes")
    s.add_argument("--controls")
    s.add_argument("--out", required=True)
    s.add_argument("--areas-out")
    s.set_defaults(func=_drivers)
