"""The real app in headless Debian Chromium, driven by Playwright."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser
ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "artifacts"
CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server():
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian chromium is not installed: apt-get install -y chromium (see README)")
    port = _free_port()
    env = {**os.environ, "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false"}
    ARTIFACTS.mkdir(exist_ok=True)
    log = (ARTIFACTS / "server.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"), "--server.headless", "true",
         "--server.port", str(port), "--server.address", "127.0.0.1"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.5)
    yield f"http://127.0.0.1:{port}"
    proc.terminate()
    proc.wait(timeout=20)
    log.close()


@pytest.fixture(scope="module")
def page(server):
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    user_dir = tempfile.mkdtemp(prefix="pk-chromium-")
    with sync_playwright() as p:
        ctx = p.chromium.launch_persistent_context(user_dir, executable_path=CHROMIUM, args=FLAGS,
                                                   headless=True, viewport={"width": 1400, "height": 1000})
        pg = ctx.new_page()
        t0 = time.perf_counter()
        pg.goto(server, timeout=120_000)
        pg.wait_for_selector("canvas", timeout=180_000)
        pg.wait_for_timeout(3000)
        pg.cold_start_s = time.perf_counter() - t0  # type: ignore[attr-defined]
        yield pg
        ctx.close()
    shutil.rmtree(user_dir, ignore_errors=True)


def _canvas_not_blank(pg) -> bool:
    return pg.evaluate("""() => {
        const c = document.querySelector('canvas');
        const off = document.createElement('canvas');
        off.width = 200; off.height = 200;
        const ctx = off.getContext('2d');
        ctx.drawImage(c, 0, 0, 200, 200);
        const d = ctx.getImageData(0, 0, 200, 200).data;
        const seen = new Set();
        for (let i = 0; i < d.length; i += 4 * 37) seen.add(d[i] + ',' + d[i+1] + ',' + d[i+2]);
        return seen.size > 5;
    }""")


def test_map_drawn_with_legend(page):
    assert _canvas_not_blank(page)
    assert page.locator(".pk-legend").first.is_visible()
    assert "OpenStreetMap contributors" in page.content()
    page.screenshot(path=str(ARTIFACTS / "explorer.png"))
    print(f"cold start to first map: {page.cold_start_s:.1f} s")


def test_upload_flow_and_markup_is_text(page):
    page.get_by_role("tab", name="Your data").click()
    good = ARTIFACTS / "upload.csv"
    good.write_text("lsoa_code,<script>window.pwned=1</script>\nE01007823,12\nE01007824,7\n", encoding="utf-8")
    page.locator("input[type=file]").set_input_files(str(good))
    page.get_by_text("Loaded upload.csv").wait_for(timeout=60_000)
    assert page.evaluate("() => window.pwned === undefined")
    page.screenshot(path=str(ARTIFACTS / "upload_ok.png"))
    bad = ARTIFACTS / "bad.csv"
    bad.write_text("lsoa_code,n\nE01000001,5\n", encoding="utf-8")
    page.locator("input[type=file]").set_input_files(str(bad))
    page.get_by_text("outside this city").wait_for(timeout=60_000)
    # what the user already had is still there
    assert page.get_by_text("Your indicators").count() >= 1
    page.screenshot(path=str(ARTIFACTS / "upload_bad.png"))
