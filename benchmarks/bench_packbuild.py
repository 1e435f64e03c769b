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
    ap.add_argument(
        "--repeats", type=int, default=3, help="fresh-process loads timed for each pack"
    )
    args = ap.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="bench_packbuild_") as tmp:
        os.environ["PLACEKIT_CACHE"] = str(Path(tmp) / "cache")  # a first build, no cache
        from placekit.packbuild import build_pack

        t0, cpu0 = time.perf_counter(), _cpu_s()
        rep = build_pack(args.sources, [args.la], Path(tmp) / "pack", margin_km=args.margin_km)
        build_s, cpu_s = time.perf_counter() - t0, _cpu_s() - cpu0
        print(rep.summary())
        print(
            f"\nbuild of {rep.name!r} (first time, networks checked and cached): {build_s:.1f} s "
            f"wall, {cpu_s:.1f} s CPU (this process and the drive worker); load average "
            f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
        )

        from placekit.network import load_network
        from placekit.pack import open_pack

        pk = open_pack(Path(tmp) / "pack")
        t0 = time.perf_counter()
        net = load_network(pk.file("network_walk"), "walk")
        print(
            f"later load of its walk network from the cache: {time.perf_counter() - t0:.2f} s "
            f"({net.n_nodes:,} nodes)"
        )
        built_s = _median_load(Path(tmp) / "pack", args.repeats)
        sheffield_s = _median_load(None, args.repeats)
    print(f"load_place of the built pack, fresh process, median of {args.repeats}: {built_s:.2f} s")
    print(
        f"baseline: load_place() of the Sheffield pack, fresh process, median of {args.repeats}, "
        f"same run: {sheffield_s:.2f} s"
    )
    print(f"ratio build (first time) / Sheffield load: {build_s / sheffield_s:.1f}x")
    print(f"ratio built-pack load / Sheffield load: {built_s / sheffield_s:.2f}x")
    return 0


def _median_load(pack: Path | None, repeats: int) -> float:
    """Median wall time of ``load_place(pack)`` in fresh processes (imports included)."""
    import statistics
    import subprocess

    code = (
        "import sys, time; t = time.perf_counter(); from placekit import load_place; "
        "load_place(sys.argv[1] or None); print(time.perf_counter() - t)"
    )
    times = []
    for _ in range(repeats):
        out = subprocess.run(
            [sys.executable, "-c", code, str(pack) if pack else ""],
            check=True,
            capture_output=True,
            text=True,
        )
        times.append(float(out.stdout.strip().splitlines()[-1]))
    return statistics.median(times)


if __name__ == "__main__":
    sys.exit(main())
