"""Browser timings of the app, each the median of several fresh servers.

Run: ``python benchmarks/browser_timing.py [--runs 3] [--app-root DIR] [--baseline-root DIR]
[--out FILE]``. ``--app-root`` points at a checkout to time (default: this one; its own
``placekit`` is the one imported). ``--baseline-root`` times a second checkout (the app before
a change) the same way, runs alternating, and prints both medians and their ratio.

Each run starts ``streamlit run app.py`` on 127.0.0.1 (file watcher off) with the default
pack and the user's cache folder (the per-pack disk caches exist after the warm-up run,
which is not counted), opens one headless Chromium page and times, from the page:

- ``cold_start_to_first_map_s``: server launch to the map canvas and an idle script, and
  ``cold_start_to_first_map_drawn_s`` to that map drawn (the page settled);
- ``warm_widget_change_s``: click the natural-breaks class scheme to the new legend;
- ``first_visit_<section>_s``: click each section, in order, on a settled page (the previous
  section drawn, as after a person has read it), to an idle script, and
  ``first_visit_<section>_drawn_s`` to the section drawn (its map included);
- ``scenario_apply_s``: Add (a GP at the default neighbourhood) then Apply to
  "People newly within" (first Apply of the server: the walk network and demand model are
  prepared), and ``scenario_apply_again_s`` for a second Apply;
- ``scenario_apply_drawn_s`` and ``scenario_apply_again_drawn_s``: Clear, Add, wait until the
  page has finished drawing (as a person pauses), then Apply to the change map *drawn* (10
  frames in a row under 50 ms apart after the idle script), and the same again.

A step ends when Streamlit reports ``notRunning`` after the click's run (polled every 50 ms).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
IDLE = "[data-testid=stApp][data-test-script-state=notRunning]"


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _after_click(pg, click, done=None, timeout_s: float = 300.0) -> float:
    """Seconds from ``click()`` to an idle script (after the run it started) and ``done()``."""
    pg.evaluate(
        "() => { window.__pkRan = false; const a = document.querySelector("
        "'[data-testid=stApp]'); window.__pkObs = new MutationObserver(() => {"
        "if (a.getAttribute('data-test-script-state') !== 'notRunning') "
        "window.__pkRan = true; }); window.__pkObs.observe(a, {attributes: true}); }"
    )
    t0 = time.perf_counter()
    click()
    deadline = t0 + timeout_s
    while time.perf_counter() < deadline:
        state = pg.evaluate(
            "() => [window.__pkRan, document.querySelector('[data-testid=stApp]')"
            ".getAttribute('data-test-script-state')]"
        )
        elapsed = time.perf_counter() - t0
        if state[1] == "notRunning" and (state[0] or elapsed > 1.0) and (done is None or done()):
            return elapsed
        time.sleep(0.05)
    raise TimeoutError("step did not finish")


#: Resolves when the page has drawn 10 frames in a row less than 50 ms apart (the main thread
#: and the WebGL canvas are done), with the time of the first frame of that run.
_SETTLED_JS = """() => new Promise(resolve => {
  let last = performance.now(), streak = 0, start = null;
  function tick(now) {
    if (now - last < 50) { if (streak === 0) start = last; streak += 1; }
    else { streak = 0; }
    last = now;
    if (streak >= 10) resolve(start); else requestAnimationFrame(tick);
  }
  requestAnimationFrame(tick);
})"""


def _settle(pg) -> None:
    """Wait until the page has finished drawing what it was drawing."""
    pg.evaluate(_SETTLED_JS)


def _until_drawn(pg, click, done=None) -> float:
    """Seconds from ``click()`` to an idle script, ``done()``, and the page drawn (settled)."""
    return _idle_and_drawn(pg, click, done)[1]


def _idle_and_drawn(pg, click, done=None) -> tuple[float, float]:
    """Seconds from ``click()`` to an idle script (and ``done()``), and to the page drawn."""
    t_page0 = pg.evaluate("() => performance.now()")
    idle_s = _after_click(pg, click, done)
    drawn_ms = pg.evaluate(_SETTLED_JS)
    return idle_s, (float(drawn_ms) - float(t_page0)) / 1000.0


def one_run(app_root: Path, shots: Path | None) -> dict[str, float]:
    from playwright.sync_api import sync_playwright

    port = _port()
    env = {
        **os.environ,
        "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false",
        # the checkout's own placekit, not the installed one
        "PYTHONPATH": os.pathsep.join([str(app_root), os.environ.get("PYTHONPATH", "")]),
    }
    log = tempfile.NamedTemporaryFile(prefix="pk-timing-", suffix=".log", delete=False)  # noqa: SIM115
    t_launch = time.perf_counter()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            str(app_root / "app.py"),
            "--server.headless",
            "true",
            "--server.port",
            str(port),
            "--server.address",
            "127.0.0.1",
            "--server.fileWatcherType",
            "none",
        ],
        cwd=app_root,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    out: dict[str, float] = {}
    try:
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.perf_counter() - t_launch > 120:
                    raise
                time.sleep(0.2)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
            pg = browser.new_page(viewport={"width": 1400, "height": 1000})
            pg.goto(f"http://127.0.0.1:{port}", timeout=300_000)
            pg.wait_for_selector("canvas", timeout=300_000)
            pg.wait_for_selector(IDLE, timeout=300_000)
            out["cold_start_to_first_map_s"] = time.perf_counter() - t_launch
            # and to the first map drawn: the page settled (its first frames, in software WebGL,
            # take seconds after the canvas exists), counted from the first settled frame
            settled_ms, now_ms = pg.evaluate(
                f"async () => {{ const s = await ({_SETTLED_JS})(); "
                "return [s, performance.now()]; }"
            )
            out["cold_start_to_first_map_drawn_s"] = (
                time.perf_counter() - t_launch - (float(now_ms) - float(settled_ms)) / 1000.0
            )
            pg.wait_for_timeout(1500)
            words = pg.get_by_text("Natural breaks (Fisher-Jenks)", exact=True)
            target = words if words.count() else pg.get_by_text("natural_breaks", exact=True)
            out["warm_widget_change_s"] = _after_click(
                pg,
                target.click,
                lambda: "natural breaks" in pg.locator(".pk-legend").first.inner_text(),
            )
            radio = pg.locator("[data-testid=stRadio]").first
            names = [t.strip() for t in radio.locator("label").all_inner_texts()]
            for name in names[1:]:
                _settle(pg)  # the previous section drawn: its drawing is not this one's time
                key = f"first_visit_{name.lower().replace(' ', '_')}"
                out[f"{key}_s"], out[f"{key}_drawn_s"] = _idle_and_drawn(
                    pg, pg.get_by_text(name, exact=True).first.click
                )
                if shots:
                    pg.screenshot(path=str(shots / f"section_{name.replace(' ', '_')}.png"))
            pg.get_by_text("Scenarios", exact=True).first.click()
            pg.wait_for_selector(IDLE)
            pg.wait_for_timeout(500)
            _after_click(pg, pg.get_by_role("button", name="Add to scenario").click)
            apply = pg.get_by_role("button", name="Apply")
            people = pg.get_by_text("People newly within")
            out["scenario_apply_s"] = _after_click(pg, apply.click, lambda: people.count() > 0)
            out["scenario_apply_again_s"] = _after_click(
                pg, apply.click, lambda: people.count() > 0
            )
            # Apply to the change map drawn, on a settled page (as after a person's pause):
            # a first Apply of a fresh scenario, then the same again
            _after_click(pg, pg.get_by_role("button", name="Clear").click)
            _after_click(pg, pg.get_by_role("button", name="Add to scenario").click)
            _settle(pg)
            out["scenario_apply_drawn_s"] = _until_drawn(
                pg, apply.click, lambda: people.count() > 0
            )
            out["scenario_apply_again_drawn_s"] = _until_drawn(
                pg, apply.click, lambda: people.count() > 0
            )
            if shots:
                people.first.scroll_into_view_if_needed()
                pg.wait_for_timeout(1500)
                pg.screenshot(path=str(shots / "scenario_applied.png"), full_page=True)
            browser.close()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    return {k: round(v, 3) for k, v in out.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--app-root", default=str(ROOT))
    ap.add_argument("--shots", default=None, help="folder for screenshots of the last run")
    ap.add_argument("--out", default=str(ROOT / "artifacts" / "browser_timing.json"))
    ap.add_argument(
        "--baseline-root",
        default=None,
        help="a checkout to time the same way, runs alternating with --app-root's; prints "
        "each figure's median before and after and their ratio",
    )
    args = ap.parse_args()
    root = Path(args.app_root).resolve()
    roots = {"after": root}
    if args.baseline_root:
        roots = {"before": Path(args.baseline_root).resolve(), "after": root}
    shots = Path(args.shots) if args.shots else None
    if shots:
        shots.mkdir(parents=True, exist_ok=True)
    for r in roots.values():
        one_run(r, None)  # warm-up: builds the per-pack disk caches; not counted
    runs: dict[str, list[dict[str, float]]] = {k: [] for k in roots}
    for i in range(args.runs):
        for label, r in roots.items():  # alternating, so both see the same machine
            last = shots if i == args.runs - 1 and label == "after" else None
            runs[label].append(one_run(r, last))
            print(label, json.dumps(runs[label][-1]), flush=True)
    med = {
        label: {
            k: round(statistics.median(r[k] for r in rs), 3)
            for k in rs[0]
            if all(k in r for r in rs)
        }
        for label, rs in runs.items()
    }
    res = {"app_root": str(root), "runs": runs["after"], "median": med["after"]}
    if "before" in med:
        res |= {"baseline_root": str(roots["before"]), "baseline_runs": runs["before"]}
        res["baseline_median"] = med["before"]
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(res, indent=2))
    if "before" not in med:
        print(json.dumps(med["after"], indent=2))
        return
    print(f"{'median of ' + str(args.runs):42s} {'before':>8s} {'after':>8s} {'ratio':>7s}")
    for k, after in med["after"].items():
        before = med["before"].get(k)
        if before is None:
            print(f"{k:42s} {'':>8s} {after:8.2f}")
        else:
            print(f"{k:42s} {before:8.2f} {after:8.2f} {before / max(after, 1e-9):6.2f}x")


if __name__ == "__main__":
    main()
