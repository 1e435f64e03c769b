"""Thread pools under concurrency: N processes each fit the demand model at once.

Run: ``python benchmarks/bench_threads.py [--procs 3] [--runs 3]``. Each process loads the
pack (from the disk cache) and times one :func:`placekit.workflows.demand_model` call,
either with the library's default native thread pools (``uncapped``: as placekit ran
before) or capped by :func:`placekit.workflows.cap_threads` (``PLACEKIT_THREADS``, 1 here).
Prints the median over runs of the slowest process, and the ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

CHILD = r"""
import json, os, sys, time
capped = sys.argv[1] == "capped"
from placekit import workflows as wf
place = wf.prepared_place()
if capped:
    wf.cap_threads()
    t0 = time.perf_counter(); wf.demand_model(place, "bad_health_pct")
else:
    from placekit.drivers import explain_demand
    t0 = time.perf_counter(); explain_demand(place, "bad_health_pct", n_repeats=3)
print(json.dumps({"s": time.perf_counter() - t0}))
"""


def one(mode: str, procs: int) -> float:
    env = dict(os.environ)
    if mode == "capped":
        env["PLACEKIT_THREADS"] = "1"
    ps = [
        subprocess.Popen([sys.executable, "-c", CHILD, mode], stdout=subprocess.PIPE, env=env)
        for _ in range(procs)
    ]
    times = [json.loads(p.communicate()[0].decode().strip().splitlines()[-1])["s"] for p in ps]
    return max(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--procs", type=int, default=3)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    res: dict[str, list[float]] = {"uncapped": [], "capped": []}
    for _ in range(args.runs):
        for mode in res:  # interleaved, so machine load affects both alike
            t0 = time.perf_counter()
            res[mode].append(one(mode, args.procs))
            print(
                f"{mode}: slowest of {args.procs} = {res[mode][-1]:.1f} s "
                f"(wall {time.perf_counter() - t0:.1f} s)",
                flush=True,
            )
    med = {m: statistics.median(v) for m, v in res.items()}
    print(
        json.dumps(
            {
                "procs": args.procs,
                "runs": args.runs,
                "median_slowest_s": med,
                "ratio_uncapped_over_capped": med["uncapped"] / med["capped"],
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
