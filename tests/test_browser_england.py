"""The England overview in headless Debian Chromium: 33,755 LSOAs drawn, then recoloured."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from pathlib import Path

import pytest
from browser_support import ARTIFACTS, CHROMIUM, FLAGS, serve_app

pytestmark = pytest.mark.browser
SHOTS = Path(os.environ.get("PLACEKIT_SHOTS", "/tmp/shots"))
#: Goal of the England overview (issue 14), headless Chromium with software WebGL.
FIRST_PAINT_S = 8.0
#: Issue 14 asks for a recolour under 1 s. The frame is drawn by software WebGL at about
#: 2.6 us per vertex here; with the national map's 253k vertices and outlines drawn once a
#: recolour measured 1.1-1.4 s (1.9-2.3 s before, ``benchmarks/bench_overview.py --browser``),
#: so this guards against regressions and the metrics file records the figure against the goal.
RECOLOUR_GOAL_S, RECOLOUR_MAX_S = 1.0, 5.0


@pytest.fixture(scope="module")
def server():
    with serve_app("server_england.log") as served:
        yield served[0]


def _wait_idle(pg, timeout_ms: int = 240_000) -> None:
    pg.wait_for_timeout(200)
    pg.wait_for_selector(
        "[data-testid=stApp][data-test-script-state=notRunning]", timeout=timeout_ms
    )


def _stats(pg) -> dict:
    """Distinct colours (sampled), share of empty pixels and a signature of the map canvas."""
    return pg.evaluate("""() => {
        const c = document.querySelector('canvas');
        if (!c) return {colours: 0, empty: 1, dark: 1, signature: 0};
        const off = document.createElement('canvas');
        off.width = 200; off.height = 200;
        const ctx = off.getContext('2d');
        ctx.drawImage(c, 0, 0, 200, 200);
        const d = ctx.getImageData(0, 0, 200, 200).data;
        const seen = new Set();
        let empty = 0, dark = 0, signature = 0;
        for (let i = 0; i < d.length; i += 4) {
            if (d[i+3] < 10) empty++;
            else if (d[i] < 50 && d[i+1] < 50 && d[i+2] < 50) dark++;
            if ((i / 4) % 37 === 0) seen.add(d[i] + ',' + d[i+1] + ',' + d[i+2]);
            signature = (signature * 31 + d[i] + 7 * d[i+1] + 13 * d[i+2]) % 1000000007;
        }
        const n = d.length / 4;
        return {colours: seen.size, empty: empty / n, dark: dark / Math.max(n - empty, 1),
                signature: signature};
    }""")


def _wait_painted(pg, *, unlike: int | None = None, timeout_s: float = 120.0) -> dict:
    """Poll the canvas until England is drawn (and differs from ``unlike``); return its stats."""
    end = time.perf_counter() + timeout_s
    while time.perf_counter() < end:
        s = _stats(pg)
        # England fills part of its view only: a map that failed to build is empty (or, when
        # one layer breaks deck.gl, painted edge to edge); a fill expression deck.gl cannot
        # evaluate paints every area black (only the outlines are meant to be dark)
        if (
            s["colours"] > 8
            and 0.05 < s["empty"] < 0.95
            and s["dark"] < 0.35
            and s["signature"] != unlike
        ):
            return s
        pg.wait_for_timeout(50)
    pytest.fail(f"England map not drawn within {timeout_s:.0f} s: {_stats(pg)}")


@pytest.fixture(scope="module")
def page(server):
    from playwright.sync_api import sync_playwright

    user_dir = tempfile.mkdtemp(prefix="pk-chromium-")
    with sync_playwright() as p:
        ctx = p.chromium.launch_persistent_context(
            user_dir,
            executable_path=CHROMIUM,
            args=FLAGS,
            headless=True,
            viewport={"width": 1400, "height": 1100},
        )
        pg = ctx.new_page()
        pg.console_errors = []  # type: ignore[attr-defined]
        pg.on(
            "console",
            lambda m: pg.console_errors.append(m.text) if m.type == "error" else None,
        )
        pg.goto(server, timeout=120_000)
        pg.wait_for_selector("canvas", timeout=180_000)  # the first section's map
        _wait_idle(pg)
        yield pg
        ctx.close()
    shutil.rmtree(user_dir, ignore_errors=True)


def _open_england(pg) -> float:
    """Click the England section; seconds from the click to England painted."""
    t0 = time.perf_counter()
    pg.locator("[data-testid=stRadio]").first.get_by_text("England", exact=True).click()
    pg.locator(".pk-legend").filter(has_text="IMD 2025 score").wait_for(timeout=120_000)
    _wait_painted(pg)
    return time.perf_counter() - t0


def test_england_map_draws_and_recolours(page):
    SHOTS.mkdir(parents=True, exist_ok=True)
    cold_s = _open_england(page)  # server cold: the overview is read and written once
    _wait_idle(page)
    page.wait_for_timeout(500)
    page.screenshot(path=str(SHOTS / "england_first.png"))
    first = _stats(page)
    assert first["colours"] > 8, first
    assert not [e for e in page.console_errors if "expression" in e.lower()], page.console_errors
    # away and back: what a user who has been here before waits for (geometry cached)
    page.locator("[data-testid=stRadio]").first.get_by_text("Trends", exact=True).click()
    _wait_idle(page)
    warm_s = _open_england(page)
    _wait_idle(page)
    page.wait_for_timeout(500)
    painted = _stats(page)["signature"]
    t0 = time.perf_counter()
    page.get_by_text("Natural breaks (Fisher-Jenks)", exact=True).last.click()
    page.locator(".pk-legend").filter(has_text="natural breaks").wait_for(timeout=30_000)
    legend_s = time.perf_counter() - t0
    after = _wait_painted(page, unlike=painted, timeout_s=30)
    recolour_s = time.perf_counter() - t0
    _wait_idle(page)
    page.wait_for_timeout(300)
    # a second recolour (another indicator, classes not yet computed)
    painted2 = _stats(page)["signature"]
    t1 = time.perf_counter()
    page.locator("[data-testid=stSelectbox]").filter(has_text="England-wide indicator").click()
    page.keyboard.type("Income")
    page.get_by_role("option").filter(has_text="Income").first.click()
    page.locator(".pk-legend").filter(has_text="ncome").wait_for(timeout=30_000)
    _wait_painted(page, unlike=painted2, timeout_s=30)
    recolour2_s = time.perf_counter() - t1
    _wait_idle(page)
    page.wait_for_timeout(300)
    page.screenshot(path=str(SHOTS / "england_income_natural_breaks.png"))
    assert after["signature"] != painted  # recoloured, not only the legend
    metrics = {
        "england_first_paint_cold_server_s": round(cold_s, 2),
        "england_first_paint_s": round(warm_s, 2),
        "england_recolour_s": round(recolour_s, 3),
        "england_recolour_legend_s": round(legend_s, 3),
        "england_recolour_indicator_s": round(recolour2_s, 3),
    }
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "browser_england_metrics.json").write_text(json.dumps(metrics, indent=2))
    print(metrics)
    assert warm_s < FIRST_PAINT_S, metrics
    metrics["england_recolour_goal_met"] = recolour_s < RECOLOUR_GOAL_S
    (ARTIFACTS / "browser_england_metrics.json").write_text(json.dumps(metrics, indent=2))
    assert recolour_s < RECOLOUR_MAX_S, metrics
    assert recolour2_s < RECOLOUR_MAX_S, metrics
