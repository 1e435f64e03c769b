"""The real app in headless Debian Chromium, driven by Playwright."""

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


@pytest.fixture(scope="module")
def server():
    with serve_app("server.log") as served:
        yield served


@pytest.fixture(scope="module")
def page(server):
    url, launched, server_up_s = server
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    user_dir = tempfile.mkdtemp(prefix="pk-chromium-")
    with sync_playwright() as p:
        ctx = p.chromium.launch_persistent_context(
            user_dir,
            executable_path=CHROMIUM,
            args=FLAGS,
            headless=True,
            viewport={"width": 1400, "height": 1000},
        )
        pg = ctx.new_page()
        pg.ws_bytes = [0]  # type: ignore[attr-defined]

        def on_ws(ws):  # count what the server sends
            ws.on(
                "framereceived",
                lambda payload: pg.ws_bytes.__setitem__(0, pg.ws_bytes[0] + len(payload)),
            )

        pg.on("websocket", on_ws)
        t0 = time.perf_counter()
        pg.goto(url, timeout=120_000)
        pg.wait_for_selector("canvas", timeout=180_000)
        pg.cold_start_s = time.perf_counter() - t0  # type: ignore[attr-defined]
        pg.launch_to_map_s = time.perf_counter() - launched  # type: ignore[attr-defined]
        pg.server_up_s = server_up_s  # type: ignore[attr-defined]
        _wait_idle(pg)
        pg.full_load_s = time.perf_counter() - t0  # type: ignore[attr-defined]
        pg.wait_for_timeout(1000)
        yield pg
        ctx.close()
    shutil.rmtree(user_dir, ignore_errors=True)


def _wait_idle(pg, timeout_ms: int = 240_000) -> None:
    """Wait until Streamlit reports that the script is not running."""
    pg.wait_for_timeout(200)
    pg.wait_for_selector(
        "[data-testid=stApp][data-test-script-state=notRunning]", timeout=timeout_ms
    )


def _canvas_stats(pg) -> dict:
    """Distinct colours (sampled) and the share of empty pixels on the map canvas."""
    return pg.evaluate("""() => {
        const c = document.querySelector('canvas');
        const off = document.createElement('canvas');
        off.width = 200; off.height = 200;
        const ctx = off.getContext('2d');
        ctx.drawImage(c, 0, 0, 200, 200);
        const d = ctx.getImageData(0, 0, 200, 200).data;
        const seen = new Set();
        let empty = 0, signature = 0;
        for (let i = 0; i < d.length; i += 4) {
            if (d[i+3] < 10) empty++;  // nothing drawn: outside the city
            if ((i / 4) % 37 === 0) seen.add(d[i] + ',' + d[i+1] + ',' + d[i+2]);
            signature = (signature * 31 + d[i] + 7 * d[i+1] + 13 * d[i+2]) % 1000000007;
        }
        return {colours: seen.size, empty: empty / (d.length / 4), signature: signature};
    }""")


def _canvas_not_blank(pg) -> bool:
    return _canvas_stats(pg)["colours"] > 5


def test_map_drawn_with_legend(page):
    assert _canvas_not_blank(page)
    # the place does not fill its whole-place view: a map that failed to draw (one layer that
    # deck.gl cannot build can blank all of them) paints the canvas edge to edge
    assert _canvas_stats(page)["empty"] > 0.05
    assert page.locator(".pk-legend").first.is_visible()
    assert "OpenStreetMap contributors" in page.content()
    page.screenshot(path=str(ARTIFACTS / "explorer.png"))
    first_bytes = page.ws_bytes[0]
    # warm rerun: a widget change redraws the map; time it and count what it sends
    before = page.ws_bytes[0]
    painted = _canvas_stats(page)["signature"]
    t0 = time.perf_counter()
    page.get_by_text("Natural breaks (Fisher-Jenks)", exact=True).click()
    page.get_by_text("5 classes, natural breaks (Fisher-Jenks)").wait_for(timeout=30_000)
    rerun_s = time.perf_counter() - t0
    _wait_idle(page)
    page.wait_for_timeout(500)
    assert _canvas_not_blank(page)
    assert (
        _canvas_stats(page)["signature"] != painted
    )  # the map was recoloured, not just the legend
    metrics = {
        "server_launch_to_first_map_s": round(page.launch_to_map_s, 2),
        "server_listening_s": round(page.server_up_s, 2),
        "page_open_to_first_map_s": round(page.cold_start_s, 2),
        "page_open_to_all_tabs_drawn_s": round(page.full_load_s, 2),
        "first_page_websocket_bytes": first_bytes,
        "warm_rerun_s": round(rerun_s, 3),
        "warm_rerun_websocket_bytes": page.ws_bytes[0] - before,
    }
    (ARTIFACTS / "browser_metrics.json").write_text(json.dumps(metrics, indent=2))
    print(metrics)
    page.screenshot(path=str(ARTIFACTS / "explorer_natural_breaks.png"))


def _empty_share(pg) -> float:
    return _canvas_stats(pg)["empty"]


def test_map_keeps_view_when_widgets_change(page):
    page.get_by_text("Map explorer", exact=True).click()
    _wait_idle(page)
    page.wait_for_timeout(1000)
    before = _empty_share(page)
    box = page.locator("canvas").first.bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.55, box["y"] + box["height"] * 0.55)
    for _ in range(4):
        page.mouse.wheel(0, -300)
        page.wait_for_timeout(250)
    page.wait_for_timeout(1000)
    zoomed = _empty_share(page)
    assert zoomed < before - 0.1  # zoomed in: the city fills more of the map
    page.get_by_text("Quantiles", exact=True).click()
    page.get_by_text("5 classes, quantiles").wait_for(timeout=30_000)
    _wait_idle(page)
    page.wait_for_timeout(1000)
    after = _empty_share(page)
    page.screenshot(path=str(ARTIFACTS / "explorer_view_kept.png"))
    assert abs(after - zoomed) < 0.05, (before, zoomed, after)


def test_scenario_location_by_clicking_the_map(page):
    page.get_by_text("Scenarios", exact=True).click()
    _wait_idle(page)
    page.get_by_text("a click on the map", exact=True).click()
    _wait_idle(page)
    page.wait_for_timeout(5000)  # let deck.gl finish loading before it can pick
    # the small map to pick on is the second map (the page's map, above, shows the change)
    maps = page.locator("[data-testid=stDeckGlJsonChart]")
    assert maps.count() == 2
    box = maps.nth(1).locator("canvas").first.bounding_box()
    x, y = box["x"] + box["width"] * 0.62, box["y"] + box["height"] * 0.55
    page.mouse.move(x, y)
    page.wait_for_timeout(500)
    page.mouse.click(x, y)
    page.get_by_text("Picked Sheffield").wait_for(timeout=30_000)
    page.screenshot(path=str(ARTIFACTS / "scenario_pick.png"))
    page.get_by_text("a neighbourhood", exact=True).click()  # leave map picking for the next test
    _wait_idle(page)


def test_scenario_tab_in_browser(page):
    page.get_by_text("Scenarios", exact=True).click()
    _wait_idle(page)
    page.get_by_role("button", name="Add to scenario").click()
    _wait_idle(page)
    page.get_by_role("button", name="Apply").click(timeout=120_000)
    page.get_by_text("People newly within").first.wait_for(timeout=240_000)
    _wait_idle(page)
    page.get_by_text("People newly within").first.scroll_into_view_if_needed()
    page.wait_for_timeout(1500)
    page.screenshot(path=str(ARTIFACTS / "scenario.png"))
    html = page.content()  # the result tables in words, not column ids
    assert "people newly within 15 min of a GP practice" in html
    assert "gp_people_newly_within" not in html
    # warm: apply the same intervention again and time it to the redrawn page
    t0 = time.perf_counter()
    page.get_by_role("button", name="Apply").click()
    _wait_idle(page)
    page.get_by_text("People newly within").first.wait_for(timeout=60_000)
    metrics_file = ARTIFACTS / "browser_metrics.json"
    metrics = json.loads(metrics_file.read_text()) if metrics_file.exists() else {}
    metrics["scenario_apply_and_redraw_s"] = round(time.perf_counter() - t0, 2)
    metrics_file.write_text(json.dumps(metrics, indent=2))
    print(metrics)


def _uploader(page):
    box = page.locator("[data-testid=stFileUploader]").filter(has_text="Your data")
    return box.locator("input[type=file]")


def test_upload_flow_and_markup_is_text(page):
    page.get_by_text("Your data", exact=True).click()
    _wait_idle(page)
    good = ARTIFACTS / "upload.csv"
    good.write_text(
        "lsoa_code,<script>window.pwned=1</script>\nE01007823,12\nE01007824,7\n", encoding="utf-8"
    )
    _uploader(page).set_input_files(str(good))
    try:
        page.get_by_text("Loaded upload.csv").wait_for(timeout=60_000)
    finally:
        page.screenshot(path=str(ARTIFACTS / "upload_wait.png"), full_page=True)
    assert page.evaluate("() => window.pwned === undefined")
    page.screenshot(path=str(ARTIFACTS / "upload_ok.png"))
    bad = ARTIFACTS / "bad.csv"
    bad.write_text("lsoa_code,n\nE01000001,5\n", encoding="utf-8")
    _uploader(page).set_input_files(str(bad))
    page.get_by_text("outside this city").wait_for(timeout=60_000)
    # what the user already had is still there, and the map still shows it
    assert page.get_by_text("Your indicators").count() >= 1
    page.screenshot(path=str(ARTIFACTS / "upload_bad.png"))


def _select(page, label: str, option: str) -> None:
    """Pick ``option`` in the Streamlit selectbox labelled ``label`` (typed, then Enter)."""
    box = page.locator("[data-testid=stSelectbox]").filter(has=page.get_by_text(label, exact=True))
    box.first.click()
    page.keyboard.type(option)
    page.get_by_role("option", name=option, exact=True).first.click(timeout=30_000)
    _wait_idle(page)


def _selected(page, label: str) -> str:
    """What the Streamlit selectbox labelled ``label`` shows."""
    combo = page.get_by_role("combobox", name=label, exact=True).first
    value = combo.input_value() if combo.evaluate("e => e.tagName") == "INPUT" else ""
    if value:
        return value
    box = page.locator("[data-testid=stSelectbox]").filter(has=combo)
    return box.first.inner_text().removeprefix(label).strip()


def _legend_text(page) -> str:
    return page.locator(".pk-legend").first.inner_text()


def test_officer_question_end_to_end(page):
    """Most deprived neighbourhoods in North East, their GP walk time, exported with localities."""
    import pandas as pd

    SHOTS.mkdir(parents=True, exist_ok=True)
    page.get_by_text("Table", exact=True).click()
    _wait_idle(page)
    _select(page, "Areas", "Neighbourhood (LSOA 2021) (343)")
    _select(page, "Local Area Committee / ASC locality", "North East")
    _select(page, "Sort by (worst first)", "IMD 2025 score")
    page.get_by_text("Worst by IMD 2025 score").wait_for(timeout=60_000)
    line = page.get_by_text("Worst by IMD 2025 score").inner_text()
    assert "Walk time to nearest GP practice" in line and "minutes" in line, line
    page.wait_for_timeout(800)
    page.screenshot(path=str(SHOTS / "table_north_east.png"), full_page=True)
    with page.expect_download(timeout=60_000) as dl:
        page.get_by_role("button", name="Download this table (CSV)").click()
    path = SHOTS / "north_east.csv"
    dl.value.save_as(str(path))
    t = pd.read_csv(path)
    assert len(t) > 10 and (t["lac_name"] == "North East").all()
    assert {"ward_code", "ward_name", "lac_code", "lac_name", "suppressed"} <= set(t.columns)
    assert t["imd2025_score"].is_monotonic_decreasing
    assert t["gp_walk_min"].between(0, 120).all()
    assert f"{t['gp_walk_min'].iloc[0]:,.1f} minutes" in line  # the line reads the first row


def test_search_labels_open_on_map_and_round_trip(page):
    page.get_by_text("Map explorer", exact=True).click()
    _wait_idle(page)
    _select(page, "Indicator (health and care demand first)", "IMD 2025 score")
    assert _legend_text(page).startswith("IMD 2025 score")
    # labels: the place's locality names drawn on the map change what is painted
    page.wait_for_timeout(1500)
    with_labels = _canvas_stats(page)["signature"]
    _select(page, "Place names on the map", "none")
    page.wait_for_timeout(1500)
    assert _canvas_stats(page)["signature"] != with_labels
    _select(page, "Place names on the map", "Ward")
    page.wait_for_timeout(2000)
    page.screenshot(path=str(SHOTS / "explorer_ward_labels.png"))
    # search: a postcode centres the map on it
    box = page.get_by_label("Find a postcode or an area")
    box.fill("S5 7AU")
    box.press("Enter")
    page.get_by_text("Postcode: ").wait_for(timeout=30_000)
    _wait_idle(page)
    page.wait_for_timeout(2000)
    page.screenshot(path=str(SHOTS / "search_postcode.png"))
    box.fill("")
    box.press("Enter")
    _wait_idle(page)
    # section round trip: the indicator is kept
    page.get_by_text("Localities", exact=True).click()
    _wait_idle(page)
    assert _selected(page, "Indicator") == "IMD 2025 score"
    _select(page, "Locality level", "Ward (28)")
    _select(page, "Locality", "Burngreave")
    page.wait_for_timeout(1500)
    page.screenshot(path=str(SHOTS / "locality_burngreave.png"), full_page=True)
    page.get_by_role("button", name="Open the map explorer on this locality").click()
    _wait_idle(page)
    page.get_by_text("Find a postcode or an area").wait_for(timeout=30_000)
    assert _legend_text(page).startswith("IMD 2025 score")
    assert _selected(page, "Areas").startswith("Neighbourhood (LSOA 2021)")
    page.wait_for_timeout(2500)
    page.screenshot(path=str(SHOTS / "open_on_map.png"))
    assert _canvas_not_blank(page)
    page.get_by_role("button", name="Whole place").click()
    _wait_idle(page)
