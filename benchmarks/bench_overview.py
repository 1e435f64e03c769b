"""England overview payload: geometry once, a recolour as one digit per LSOA.

Builds :func:`placekit.overview.load_overview` from the England folder and prints, for the
LSOA level at a few display simplifications, the build time and the size of the geometry
file (raw and gzip, as a browser receives it from Streamlit's static serving); the council,
MSOA and ICB files; and the time and size of one recolour (values, classes, expression).
The baseline is what a recolour would cost if the map were re-sent: the geometry file plus
the indicator, the ratio is printed.

Run: ``python benchmarks/bench_overview.py [--england DIR]``.
"""

from __future__ import annotations

import argparse
import gzip
import sys
import time
from pathlib import Path

_ENGLAND = Path(__file__).resolve().parents[2] / "shared" / "region" / "england"


def main(argv: list[str] | None = None) -> int:
    """Print the payload sizes and times."""
    from placekit import overview as ov

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--england", type=Path, default=_ENGLAND)
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    base = ov.load_overview(args.england)
    print(
        f"load_overview: {time.perf_counter() - t0:.2f} s, {len(base.indicator_ids)} "
        f"indicators for {len(base.lookup):,} LSOAs"
    )
    print(f"{'level':<6} {'simplify m':>10} {'digits':>6} {'build s':>8} {'MB':>7} {'gzip MB':>8}")
    chosen = None
    for simplify_m, digits in ((0.0, 5), (25.0, 5), (50.0, 5), (25.0, 4)):
        o = ov.Overview(
            folder=base.folder,
            benchmark=base.benchmark,
            lookup=base.lookup,
            simplify_m=simplify_m,
            digits=digits,
        )
        t0 = time.perf_counter()
        text = o.geometry_geojson("lsoa")
        dt = time.perf_counter() - t0
        gz = len(gzip.compress(text, 6))
        print(
            f"{'lsoa':<6} {simplify_m:10g} {digits:6d} {dt:8.2f} {len(text) / 1e6:7.2f} "
            f"{gz / 1e6:8.2f}"
        )
        if simplify_m == base.simplify_m and digits == base.digits:
            chosen = (o, text, gz)
    assert chosen is not None
    o, text, gz = chosen
    for lv in ("msoa", "lad"):
        t0 = time.perf_counter()
        b = o.geometry_geojson(lv)
        print(
            f"{lv:<6} {o.simplify_m:10g} {o.digits:6d} {time.perf_counter() - t0:8.2f} "
            f"{len(b) / 1e6:7.2f} {len(gzip.compress(b, 6)) / 1e6:8.2f}"
        )
    b = o.outlines_geojson("icb")
    print(
        f"{'icb':<6} {o.simplify_m:10g} {o.digits:6d} {'':>8} {len(b) / 1e6:7.2f} "
        f"{len(gzip.compress(b, 6)) / 1e6:8.2f}"
    )
    times = []
    for ind in ("bad_health_pct", "imd2025_score", "no_car_pct"):
        t0 = time.perf_counter()
        v = o.values(ind)
        codes, colours, _lg = ov.class_codes(v, k=5)
        expr = ov.fill_expression(codes, colours)
        times.append(time.perf_counter() - t0)
    print(
        f"recolour: values + quintiles + expression {min(times) * 1000:.0f} ms "
        f"(best of 3), expression {len(expr):,} bytes"
    )
    resend = len(text) + len(expr)
    print(
        f"re-sending the LSOA map instead: {resend / 1e6:.2f} MB -> this recolour is "
        f"{resend / len(expr):.0f}x smaller"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
