"""Command-line subcommands for the analysis modules (cluster, drivers, scenario, report)."""

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


def _scenario(args: argparse.Namespace) -> int:
    from placekit.accessibility import add_access_indicators
    from placekit.drivers import DEFAULT_DRIVERS, fit_demand_ensemble
    from placekit.export import write_table
    from placekit.place import load_place
    from placekit.scenarios import ScenarioEngine, load_scenario

    sc = load_scenario(args.file)
    place = add_access_indicators(load_place(args.data), modes=(str(sc["mode"]),))
    dm = None
    if args.demand:
        extra = [c for c in place.indicators.columns if c.endswith(f"_{sc['mode']}_min")]
        dm = fit_demand_ensemble(place, args.demand, drivers=DEFAULT_DRIVERS + extra)
    eng = ScenarioEngine(place, mode=str(sc["mode"]), demand_model=dm)
    res = eng.apply(sc)
    out_areas = place.areas(args.level)
    table = res.areas if args.level == "lsoa" else res.localities[args.level]
    out = out_areas.join(table.drop(columns=["area_name"], errors="ignore"))
    write_table(out, args.out, attributions=place.attributions)
    newly = {c: round(float(res.areas[c].sum())) for c in res.areas if c.endswith("_people_newly_within")}
    print(f"Applied {sc['name']!r} in {res.seconds:.2f} s; people newly within "
          f"{sc['threshold_min']} min: {newly}. Wrote {args.out}")
    for n in res.notes:
        print(n)
    return 0


def _report(args: argparse.Namespace) -> int:
    from placekit.clustering import cluster_place
    from placekit.drivers import explain_demand
    from placekit.place import load_place
    from placekit.report import locality_report, write_report
    from placekit.targeting import prevention_table

    place = load_place(args.data)
    drv = explain_demand(place, args.demand, n_repeats=3)
    prev = prevention_table(place, drv)
    cl = cluster_place(place, k=args.k, random_state=0)
    text = locality_report(place, args.level or place.locality_level, args.area, prevention=prev, drivers=drv,
                           types=cl["labels"], portraits=cl["portraits"])
    write_report(text, args.out)
    print(f"Wrote {args.out}")
    return 0


def register(sub: argparse._SubParsersAction, level_help: str) -> None:  # type: ignore[type-arg]
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
    s = sub.add_parser("scenario", help="apply a scenario JSON and compare with the baseline")
    s.add_argument("file")
    s.add_argument("--level", default="lsoa", help=level_help)
    s.add_argument("--demand", help="demand indicator id for predicted change (optional)")
    s.add_argument("--out", required=True)
    s.set_defaults(func=_scenario)
    s = sub.add_parser("report", help="self-contained HTML locality pack")
    s.add_argument("--level", help="locality level (default: the pack's, e.g. lac for Sheffield, ward elsewhere)")
    s.add_argument("--area", required=True, help="locality code or name")
    s.add_argument("--demand", default="bad_health_pct")
    s.add_argument("--k", type=int, default=6)
    s.add_argument("--out", required=True)
    s.set_defaults(func=_report)
