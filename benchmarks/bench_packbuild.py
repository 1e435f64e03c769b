"""Time to cut a council's pack from regional sources, against loading the Sheffield place.

The build is timed the first time, as a user meets it: a fresh network cache folder
(``PLACEKIT_CACHE``), so the walk (and drive) networks are parsed by osmnx and cached during
the build. In the same run, the Sheffield pack is loaded with
``placekit.place.load_place()`` as the baseline, and the ratio is printed.

Run: ``python benchmarks/bench_packbuild.py [--la E08000018] [--sources DIR] [--margin-km 3]``.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

_HERE = Path(__file__).resolve().parent
_DEFAULT_SOURCES = _HERE.parent.parent / "shared" / "region" / "south-yorkshire"


def _cpu_s() -> float:
    """User + system CPU seconds of this process and its finished children."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def main(argv: list[str] | None = None) -> int:
    """Build the pack in a temporary folder, then load Sheffield; print both and the ratio."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sources", type=Path, default=_DEFAULT_SOURCES)
    ap.add_argument("--la", default="E08000018", help="LA code(s), comma-separated")
    ap.add_argument("--margin-km", type=float, default=3.0)
    args = ap.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="bench_packbuild_") as tmp:
        os.environ["PLACEKIT_CACHE"] = str(Path(tmp) / "cache")   # a first build, no cache
        from placekit.packbuild import build_pack

        t0, cpu0 = time.perf_counter(), _cpu_s()
        rep = build_pack(args.sources, [args.la], Path(tmp) / "pack", margin_km=args.margin_km)
        build_s, cpu_s = time.perf_counter() - t0, _cpu_s() - cpu0
        print(rep.summary())
        print(f"\nbuild of {rep.name!r} (first time, networks checked and cached): {build_s:.1f} s "
              f"wall, {cpu_s:.1f} s CPU (this process and the drive worker); load average "
              f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")

        from placekit.network import load_network
        from placekit.pack import open_pack

        pk = open_pack(Path(tmp) / "pack")
        t0 = time.perf_counter()
        net = load_network(pk.file("network_walk"), "walk")
        print(f"later load of its walk network from the cache: {time.perf_counter() - t0:.2f} s "
              f"({net.n_nodes:,} nodes)")
        try:
            from placekit.place import load_place

            t0 = time.perf_counter()
            built = load_place(Path(tmp) / "pack")
            print(f"load_place of the built pack: {time.perf_counter() - t0:.2f} s "
                  f"({len(built.lsoa)} LSOAs)")
        except Exception as exc:  # the place loader is being rewritten alongside
            print(f"load_place of the built pack failed ({type(exc).__name__}: {exc}); "
                  "placekit.place may be mid-rewrite")

    try:
        from placekit.place import load_place

        t0 = time.perf_counter()
        sheff = load_place()
        load_s = time.perf_counter() - t0
    except Exception as exc:  # the place loader is being rewritten alongside
        print(f"baseline: load_place() of the Sheffield pack failed ({type(exc).__name__}: "
              f"{exc}); placekit.place may be mid-rewrite, so there is no ratio")
        return 0
    print(f"baseline: load_place() of the Sheffield pack ({len(sheff.lsoa)} LSOAs), same run: "
          f"{load_s:.2f} s")
    print(f"ratio build / Sheffield load: {build_s / load_s:.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
