"""England overview payload: geometry once, a recolour as one digit per LSOA.

Builds :func:`placekit.overview.load_overview` from the England folder and prints, for the
LSOA level at a few display simplifications, the build time and the size of the geometry
file (raw and gzip, as a browser receives it from Streamlit's static serving); the council,
MSOA and ICB files; and the time and size of one recolour (values, classes, expression).
The baseline is what a recolour would cost if the map were re-sent: the geometry file plus
the indicator, the ratio is printed.

Run: ``python benchmarks/bench_overview.py [--england DIR]``.

``--browser --baseline-root DIR [--runs 3]`` times the England section in headless
Chromium (software WebGL, the flags of ``tests/browser_support.py``) for this checkout
and for the checkout at ``DIR`` (e.g. ``git archive <commit> | tar -x -C DIR``), like for
like in the same run: the same data, the same clicks and repetitions, servers
alternating between the two. Per fresh server: first paint on a server start (the first
server of each side starts with its ``static/`` England files removed, so it builds
them), first paint on coming back to the section (median of 3) and a recolour (class
scheme changed, from the click to the changed canvas; median of 4). Figures are
medians over the servers, printed with the machine's load average and the ratio
baseline / this.
"""

from __future__ import annotations

import argparse
import gzip
import statistics
import sys
import time
from pathlib import Path

_ENGLAND = Path(__file__).resolve().parents[2] / "shared" / "region" / "england"


_ROOT = Path(__file__).resolve().parents[1]


def _load() -> str:
    return "load " + " ".join(Path("/proc/loadavg").read_text().split()[:3])


def _one_server(root: Path, england: Path, *, fresh: bool, warm_n: int, recolour_n: int) -> dict:
    """Start ``root``'s app, open England, come back ``warm_n`` times, recolour ``recolour_n``."""
    import os
    import shutil
    import tempfile

    sys.path.insert(0, str(_ROOT / "tests"))
    import browser_support as bs
    import test_browser_england as tb
    from playwright.sync_api import sync_playwright

    (root / "static").mkdir(exist_ok=True)  # Streamlit serves it only if there at start
    if fresh:
        for f in (root / "static").glob("england_*.geojson"):
            f.unlink()
    os.environ.update(
        {
            "PLACEKIT_DATA": str(england.parents[1] / "data"),
            "PLACEKIT_ENGLAND": str(england),
            "PYTHONPATH": str(root),
        }
    )
    bs.ROOT = root  # serve_app runs ROOT/app.py from ROOT
    out: dict = {"load_before": _load()}
    with bs.serve_app("bench_overview_server.log") as (url, *_):
        user_dir = tempfile.mkdtemp(prefix="pk-chromium-")
        try:
            with sync_playwright() as p:
                ctx = p.chromium.launch_persistent_context(
                    user_dir,
                    executable_path=bs.CHROMIUM,
                    args=bs.FLAGS,
                    headless=True,
                    viewport={"width": 1400, "height": 1100},
                )
                pg = ctx.new_page()
                pg.goto(url, timeout=120_000)
                pg.wait_for_selector("canvas", timeout=240_000)
                tb._wait_idle(pg)
                out["start_paint_s"] = tb._open_england(pg)
                tb._wait_idle(pg)
                warm = []
                for _ in range(warm_n):
                    pg.locator("[data-testid=stRadio]").first.get_by_text(
                        "Trends", exact=True
                    ).click()
                    tb._wait_idle(pg)
                    warm.append(tb._open_england(pg))
                    tb._wait_idle(pg)
                    pg.wait_for_timeout(400)
                rec = []
                for i in range(recolour_n):
                    text, legend = (
                        ("Natural breaks (Fisher-Jenks)", "natural breaks")
                        if i % 2 == 0
                        else ("Quantiles", "quantiles")
                    )
                    painted = tb._stats(pg)["signature"]
                    t0 = time.perf_counter()
                    pg.get_by_text(text, exact=True).last.click()
                    pg.locator(".pk-legend").filter(has_text=legend).wait_for(timeout=60_000)
                    tb._wait_painted(pg, unlike=painted, timeout_s=60)
                    rec.append(time.perf_counter() - t0)
                    tb._wait_idle(pg)
                    pg.wait_for_timeout(400)
                pg.screenshot(path=f"/tmp/bench_overview_{root.name}.png")
                ctx.close()
        finally:
            shutil.rmtree(user_dir, ignore_errors=True)
    out["warm_paint_s"] = statistics.median(warm)
    out["recolour_s"] = statistics.median(rec)
    out["load_after"] = _load()
    return out


def browser(baseline: Path, england: Path, runs: int) -> int:
    """Time both checkouts' England section, servers alternating; print medians and ratios."""
    sides = {"baseline": baseline.resolve(), "this": _ROOT}
    got: dict[str, list[dict]] = {k: [] for k in sides}
    for r in range(runs):
        for name, root in sides.items():
            res = _one_server(root, england, fresh=r == 0, warm_n=3, recolour_n=4)
            got[name].append(res)
            print(
                f"{name:<8} server {r + 1}: start paint {res['start_paint_s']:.2f} s"
                f"{' (static files built)' if r == 0 else ''}, back to England "
                f"{res['warm_paint_s']:.2f} s, recolour {res['recolour_s']:.2f} s "
                f"({res['load_before']} -> {res['load_after']})",
                flush=True,
            )
    print(f"medians over {runs} servers (each figure itself a median within its server)")
    for key, what in (
        ("start_paint_s", "first paint, server start"),
        ("warm_paint_s", "first paint, back to the section"),
        ("recolour_s", "recolour"),
    ):
        b = statistics.median(x[key] for x in got["baseline"])
        t = statistics.median(x[key] for x in got["this"])
        print(f"{what:<34} baseline {b:6.2f} s  this {t:6.2f} s  ratio {b / t:5.2f}x")
    first_b, first_t = got["baseline"][0]["start_paint_s"], got["this"][0]["start_paint_s"]
    print(
        f"{'first paint, files built (1 run)':<34} baseline {first_b:6.2f} s  this "
        f"{first_t:6.2f} s  ratio {first_b / first_t:5.2f}x"
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    """Print the payload sizes and times."""
    import shapely

    from placekit import overview as ov

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--england", type=Path, default=_ENGLAND)
    ap.add_argument("--browser", action="store_true", help="time the app in headless Chromium")
    ap.add_argument("--baseline-root", type=Path, help="the checkout to compare (--browser)")
    ap.add_argument("--runs", type=int, default=3, help="fresh servers per side (--browser)")
    args = ap.parse_args(argv)
    if args.browser:
        if args.baseline_root is None:
            ap.error("--browser needs --baseline-root DIR (a checkout of the code to compare)")
        return browser(args.baseline_root, args.england, args.runs)
    t0 = time.perf_counter()
    base = ov.load_overview(args.england, simplify_m=ov.NATIONAL_SIMPLIFY_M)
    print(
        f"load_overview: {time.perf_counter() - t0:.2f} s, {len(base.indicator_ids)} "
        f"indicators for {len(base.lookup):,} LSOAs"
    )
    print(
        f"{'level':<6} {'simplify m':>10} {'digits':>6} {'build s':>8} {'MB':>7} {'gzip MB':>8} "
        f"{'vertices':>9}"
    )
    chosen = None
    for simplify_m, digits in ((0.0, 5), (500.0, 5), (1000.0, 5), (2000.0, 5)):
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
        nv = int(shapely.get_num_coordinates(o.areas("lsoa").geometry.to_numpy()).sum())
        print(
            f"{'lsoa':<6} {simplify_m:10g} {digits:6d} {dt:8.2f} {len(text) / 1e6:7.2f} "
            f"{gz / 1e6:8.2f} {nv:9,d}"
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
    for lv in ("lad", "icb"):
        t0 = time.perf_counter()
        b = o.outlines_geojson(lv)
        nv = int(shapely.get_num_coordinates(shapely.from_geojson(b)).sum())
        poly = int(shapely.get_num_coordinates(o.areas(lv).geometry.to_numpy()).sum())
        print(
            f"{lv + ' lines':<6} {o.simplify_m:10g} {o.digits:6d} "
            f"{time.perf_counter() - t0:8.2f} {len(b) / 1e6:7.2f} "
            f"{len(gzip.compress(b, 6)) / 1e6:8.2f} {nv:9,d} (as polygon outlines: {poly:,})"
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
