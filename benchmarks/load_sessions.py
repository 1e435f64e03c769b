"""Load and kill test of the app: N concurrent browser sessions, then SIGKILL mid-work.

Run: ``python benchmarks/load_sessions.py`` (``--sessions 10`` by default; ``--help``).

1. **Load.** Starts the app (the default Sheffield pack) on 127.0.0.1 from a scratch copy of
   ``app.py`` and ``.streamlit/`` (so the files it writes land in a scratch ``static/``, not in
   the repository) with a scratch ``PLACEKIT_CACHE`` holding a copy of the pack's walk-network
   cache. One session warms the server (first map drawn); then N sessions in one headless
   Chromium (one context and page each) all at once: wait for the first map, change the
   indicator, the class breaks and the areas level, open Scenarios, "Add to scenario", "Apply"
   and wait for "People newly within". Each step's response is timed in the page, from the
   click (pointerdown) to Streamlit's next ``notRunning`` state after a run (and the step's
   text present). The server's RSS (with its children) is sampled from ``/proc`` every 0.2 s.
2. **Kill.** A fresh server (scratch ``static/`` and, by default, an *empty* cache, so Apply
   has to build and save the walk network) and a few sessions doing the same steps; the server
   is SIGKILLed while they are mid-work: the moment the network cache's temporary file is being
   written (``--kill-cache empty``) or a moment after every session clicked Apply
   (``--kill-cache copy``).
3. **Check.** Every ``static/`` file parses as JSON, every cache ``.npz`` loads with
   ``StreetNetwork.load``, ``load_network`` gives a clean network (loaded or rebuilt) in a
   separate process, and leftover temporary files are listed with whether the app would ever
   read them. Then the server is restarted on the same folders and one session does every
   step again.

All traffic stays on loopback (the server listens on 127.0.0.1; Chromium resolves no other
host, and any request elsewhere is counted). Every wait has a timeout and the whole run has a
deadline. Writes ``artifacts/load_sessions.json`` and prints a summary table.
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

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
    # loopback only: no host name resolves (127.0.0.1 is a literal and needs none)
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1",
]
STEPS = [
    "first_map",
    "indicator",
    "class_breaks",
    "areas_level",
    "open_scenarios",
    "add_to_scenario",
    "apply",
]

# Streamlit's script state changes, the last pointerdown, both on the page's clock (ms).
INIT_JS = """
window.__pkStates = [];
window.__pkClick = 0;
new MutationObserver(records => {
  for (const r of records) {
    window.__pkStates.push([Date.now(), r.target.getAttribute('data-test-script-state')]);
  }
}).observe(document, {subtree: true, attributes: true,
                      attributeFilter: ['data-test-script-state']});
document.addEventListener('pointerdown', () => { window.__pkClick = Date.now(); }, true);
"""
# Done when the page shows the step's result (see CHECKS) and the script is not running. A
# fast run's messages can arrive together and be drawn in one commit, so a run is not always
# seen as a state change: the end is the run's notRunning change when seen, else the poll
# that first saw the result (100 ms polling).
DONE_JS = """([n, kind, arg]) => {
  const app = document.querySelector('[data-testid=stApp]');
  const legend = () => (document.querySelector('.pk-legend') || {}).textContent || '';
  const met = {
    text: () => document.body.textContent.includes(arg),
    legend_title: () => legend().startsWith(arg),
    legend_changed: () => legend() !== '' && legend() !== arg,
    button_enabled: () => [...document.querySelectorAll('button')].some(
      b => b.textContent.trim() === arg && !b.disabled),
  }[kind];
  const now = Date.now();
  if (!app || app.getAttribute('data-test-script-state') !== 'notRunning' || !met()) {
    window.__pkMiss = now;
    return false;
  }
  const e = window.__pkStates;
  let ran = false, end = 0;
  for (let i = n; i < e.length; i++) {
    if (e[i][1] !== 'notRunning') ran = true;
    else if (ran) end = e[i][0];
  }
  return end ? [Math.max(end, window.__pkMiss), 'state'] : [now, 'poll'];
}"""


# ----------------------------------------------------------------------------- helpers
def _data_dir() -> str:
    """The default pack, as the app finds it when run from the repository."""
    return os.environ.get("PLACEKIT_DATA", str(ROOT.parent / "shared" / "data"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def _cpu_s(pid: int) -> float:
    """CPU seconds (user + system) of a process so far."""
    try:
        f = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return 0.0


def _machine_cpu() -> tuple[int, int]:
    """Busy and total jiffies of all CPUs (from /proc/stat)."""
    v = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = v[3] + (v[4] if len(v) > 4 else 0)
    return sum(v) - idle, sum(v)


def _descendants(root: int) -> list[int]:
    """``root`` and every process below it (from /proc/*/stat parent ids)."""
    children: dict[int, list[int]] = {}
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            stat = (d / "stat").read_text()
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(d.name))
    out, todo = [], [root]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


class MemSampler(threading.Thread):
    """Peak RSS of a process tree, sampled every ``every_s`` seconds."""

    def __init__(self, pid: int, every_s: float = 0.2) -> None:
        super().__init__(daemon=True)
        self.pid, self.every_s = pid, every_s
        self.peak_kb = self.peak_main_kb = self.samples = 0
        self.peak_at_s = 0.0
        self._halt = threading.Event()
        self.t0 = time.perf_counter()

    def run(self) -> None:
        self.cpu0 = _machine_cpu()
        while not self._halt.is_set():
            pids = _descendants(self.pid)
            self.cpu_s = max(getattr(self, "cpu_s", 0.0), sum(_cpu_s(p) for p in pids))
            total = sum(_rss_kb(p) for p in pids)
            self.samples += 1
            self.peak_main_kb = max(self.peak_main_kb, _rss_kb(self.pid))
            if total > self.peak_kb:
                self.peak_kb, self.peak_at_s = total, time.perf_counter() - self.t0
            self._halt.wait(self.every_s)

    def stop(self) -> dict:
        self._halt.set()
        self.join(timeout=5)
        busy, total = (b - a for a, b in zip(self.cpu0, _machine_cpu(), strict=True))
        wall = time.perf_counter() - self.t0
        return {
            "wall_s": round(wall, 1),
            "server_cpu_s": round(getattr(self, "cpu_s", 0.0), 1),
            "machine_cpu_busy": round(busy / total, 2) if total else None,
            "peak_rss_mb": round(self.peak_kb / 1024, 1),
            "peak_main_process_rss_mb": round(self.peak_main_kb / 1024, 1),
            "peak_at_s": round(self.peak_at_s, 1),
            "samples": self.samples,
        }


SERVERS: list[subprocess.Popen] = []


def _kill_leftover_servers() -> None:
    """At exit (also after a deadline): no server this script started keeps running."""
    for proc in SERVERS:
        if proc.poll() is None:
            proc.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=10)


atexit.register(_kill_leftover_servers)


class Server:
    """``streamlit run app.py`` on 127.0.0.1 from ``app_dir`` with the given cache folder."""

    def __init__(self, app_dir: Path, cache_dir: Path, log: Path) -> None:
        self.app_dir, self.cache_dir, self.log_path = app_dir, cache_dir, log
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {
            **os.environ,
            "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false",
            "PLACEKIT_CACHE": str(cache_dir),
            "PLACEKIT_DATA": _data_dir(),
        }
        self._log = log.open("ab")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "streamlit",
                "run",
                str(app_dir / "app.py"),
                "--server.headless",
                "true",
                "--server.port",
                str(self.port),
                "--server.address",
                "127.0.0.1",
            ],
            cwd=app_dir,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        SERVERS.append(self.proc)
        self.mem = MemSampler(self.proc.pid)
        self.mem.start()

    def wait_ready(self, timeout_s: float = 90) -> float:
        t0 = time.perf_counter()
        while time.perf_counter() - t0 < timeout_s:
            if self.proc.poll() is not None:
                msg = f"server exited with {self.proc.returncode}; see {self.log_path}"
                raise RuntimeError(msg)
            with (
                contextlib.suppress(OSError),
                urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=2) as r,
            ):
                if r.read().strip() == b"ok":
                    return time.perf_counter() - t0
            time.sleep(0.3)
        raise TimeoutError(f"server not ready after {timeout_s} s")

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            for p in reversed(_descendants(self.proc.pid)):  # children first, then the server
                with contextlib.suppress(ProcessLookupError):
                    os.kill(p, signal.SIGKILL)
        self.proc.wait(timeout=20)

    def stop(self) -> dict:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()
        mem = self.mem.stop()
        self._log.close()
        text = self.log_path.read_text(errors="replace")
        mem["log_tracebacks"] = text.count("Traceback (most recent call last)")
        return mem


def _scratch_app(base: Path, name: str) -> Path:
    d = base / name
    (d / ".streamlit").mkdir(parents=True)
    shutil.copy2(ROOT / "app.py", d / "app.py")
    if (ROOT / "sections").is_dir():  # the app's section modules
        shutil.copytree(
            ROOT / "sections", d / "sections", ignore=shutil.ignore_patterns("__pycache__")
        )
    for f in (ROOT / ".streamlit").iterdir():
        if f.is_file():
            shutil.copy2(f, d / ".streamlit" / f.name)
    return d


def _walk_cache_name(cache_dir: Path) -> tuple[Path, Path]:
    """The pack's walk OSM file and its cache file inside ``cache_dir``."""
    import placekit
    from placekit import network

    osm = placekit.open_pack(placekit.config.data_dir(_data_dir())).file("network_walk")
    old = os.environ.get("PLACEKIT_CACHE")
    os.environ["PLACEKIT_CACHE"] = str(cache_dir)
    try:
        return Path(osm), network._cache_path(Path(osm), "walk")
    finally:
        if old is None:
            os.environ.pop("PLACEKIT_CACHE", None)
        else:
            os.environ["PLACEKIT_CACHE"] = old


# ----------------------------------------------------------------------------- one session
class Session:
    def __init__(
        self, idx: int, browser: Any, url: str, timeout_s: float, shots: Path | None = None
    ) -> None:
        self.idx, self.browser, self.url, self.timeout_s = idx, browser, url, timeout_s
        self.steps: dict[str, float] = {}
        self.errors: list[str] = []
        self.step = "start"
        self.notes: dict[str, Any] = {}
        self.external: list[str] = []
        self.ctx = self.page = None
        self.shots = shots

    async def _open(self) -> None:
        self.ctx = await self.browser.new_context(viewport={"width": 1280, "height": 900})
        await self.ctx.add_init_script(INIT_JS)
        self.page = await self.ctx.new_page()

        def on_request(req: Any) -> None:
            host = urlparse(req.url).hostname
            if req.url.startswith(("http", "ws")) and host not in ("127.0.0.1", "localhost"):
                self.external.append(req.url[:120])

        self.page.on("request", on_request)

    async def _timed(
        self, name: str, action: Any, kind: str, arg: Any, timeout_s: float | None = None
    ) -> None:
        """Run ``action`` (a click) and time it to the result on the page (``DONE_JS``)."""
        pg = self.page
        self.step = name
        n = await pg.evaluate("() => { window.__pkMiss = 0; return window.__pkStates.length; }")
        if kind == "legend_changed":
            arg = await pg.evaluate(
                "() => (document.querySelector('.pk-legend') || {}).textContent || ''"
            )
        t_py = time.time() * 1000
        await action()
        if callable(arg):
            arg = arg()
        done = await pg.wait_for_function(
            DONE_JS, arg=[n, kind, arg], polling=100, timeout=(timeout_s or self.timeout_s) * 1000
        )
        end_ms, how = await done.json_value()
        click_ms = await pg.evaluate("() => window.__pkClick")
        start = click_ms if click_ms >= t_py - 50 else t_py
        self.steps[name] = round(max(end_ms - start, 0) / 1000, 3)
        self.notes.setdefault("timed_by", {})[name] = how
        exc = pg.locator("[data-testid=stException]")
        if await exc.count():
            self.errors.append(f"{name}: exception on page: {(await exc.first.inner_text())[:300]}")

    async def _select(self, label: str, option: int) -> str:
        combo = self.page.get_by_role("combobox", name=label)
        box = self.page.locator("[data-testid=stSelectbox]").filter(has=combo).first
        await box.get_by_role("button", name="Open").click(timeout=60_000)
        opt = self.page.get_by_role("option").nth(option)
        text = (await opt.inner_text(timeout=30_000)).strip()
        await opt.click(timeout=30_000)
        return text

    async def _natural_breaks(self) -> None:
        """Click the natural-breaks radio (labelled in words since the section split)."""
        words = self.page.get_by_text("Natural breaks (Fisher-Jenks)", exact=True)
        if await words.count():
            await words.click()
        else:  # the app before: the scheme id itself
            await self.page.get_by_text("natural_breaks").click()

    async def run(self, stop_after: str | None = None) -> None:
        try:
            await self._open()
            pg = self.page
            self.step = "first_map"
            t0, t0_wall = time.perf_counter(), time.time()
            await pg.goto(self.url, timeout=self.timeout_s * 1000)
            await pg.wait_for_selector("canvas", timeout=self.timeout_s * 1000)
            await pg.wait_for_selector(
                "[data-testid=stApp][data-test-script-state=notRunning]",
                timeout=self.timeout_s * 1000,
            )
            self.steps["first_map"] = round(time.perf_counter() - t0, 3)
            # when the server finished the first run (the page's first notRunning), apart from
            # drawing the map in the browser
            first_done = await pg.evaluate(
                "() => (window.__pkStates.find(e => e[1] === 'notRunning') || [0])[0]"
            )
            if first_done:
                self.notes["first_run_done_s"] = round(first_done / 1000 - t0_wall, 3)
            if await pg.locator("[data-testid=stException]").count():
                self.errors.append("first_map: exception on page")
            if stop_after == "first_map":
                return

            async def indicator() -> None:
                self.notes["indicator"] = await self._select("Indicator (health", 1 + self.idx % 3)

            # the legend's title is the indicator's label (the option without its " [id]")
            await self._timed(
                "indicator",
                indicator,
                "legend_title",
                lambda: self.notes["indicator"].rsplit(" [", 1)[0],
            )
            await self._timed(
                "class_breaks",
                self._natural_breaks,
                "text",
                "classes, natural breaks (Fisher-Jenks)",
            )

            async def level() -> None:
                self.notes["level"] = await self._select("Areas", 1)

            # other areas, other class breaks: the legend changes
            await self._timed("areas_level", level, "legend_changed", None)
            await self._timed(
                "open_scenarios",
                lambda: pg.get_by_text("Scenarios", exact=True).click(),
                "text",
                "Add to scenario",
            )
            # Apply is disabled until the scenario holds an intervention
            await self._timed(
                "add_to_scenario",
                lambda: pg.get_by_role("button", name="Add to scenario").click(),
                "button_enabled",
                "Apply",
            )
            apply_btn = pg.get_by_role("button", name="Apply")
            await self._timed(
                "apply",
                lambda: apply_btn.click(timeout=60_000),
                "text",
                "People newly within",
                timeout_s=max(self.timeout_s, 300),
            )
            body = await pg.evaluate("() => document.body.textContent")
            m = re.search(r"Applied in ([\d.]+) s(?: \(first use: ([\d.]+) s)?", body)
            if m:
                self.notes["server_apply_s"] = float(m.group(1))
                if m.group(2):
                    self.notes["server_prepare_s"] = float(m.group(2))
            self.step = "done"
        except asyncio.CancelledError:
            self.errors.append(f"{self.step}: cancelled (server killed)")
            raise
        except Exception as err:  # a timeout or a lost page: a failure of this session
            first = str(err).splitlines()[0][:200] if str(err) else ""
            self.errors.append(f"{self.step}: {type(err).__name__}: {first}")
            await self._evidence()

    async def _evidence(self) -> None:
        """A screenshot and the last script states of a failed session, when the page is alive."""
        with contextlib.suppress(Exception):
            self.notes["last_states"] = await asyncio.wait_for(
                self.page.evaluate("() => window.__pkStates.slice(-6)"), 10
            )
            if self.shots is not None:
                path = self.shots / f"session_{self.idx}_{self.step}.png"
                await asyncio.wait_for(self.page.screenshot(path=str(path), full_page=True), 30)
                self.notes["screenshot"] = str(path)

    async def close(self) -> None:
        if self.ctx is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.ctx.close(), 20)

    def record(self) -> dict:
        return {
            "session": self.idx,
            "steps_s": self.steps,
            "errors": self.errors,
            "last_step": self.step,
            "ok": self.step == "done" and not self.errors,
            "external_requests": self.external,
            **self.notes,
        }


# ----------------------------------------------------------------------------- phases
async def _browser(p: Any) -> Any:
    return await p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)


async def load_phase(args: argparse.Namespace, scratch: Path) -> dict:
    from playwright.async_api import async_playwright

    app_dir = _scratch_app(scratch, "app_load")
    cache = scratch / "cache_load"
    cache.mkdir()
    _, cache_file = _walk_cache_name(cache)
    src = Path.home() / ".cache" / "placekit" / cache_file.name
    copied = src.is_file()
    if copied:
        shutil.copy2(src, cache_file)
    server = Server(app_dir, cache, scratch / "server_load.log")
    out: dict[str, Any] = {
        "cache": "copied from ~/.cache/placekit" if copied else "built by the app"
    }
    try:
        out["server_ready_s"] = round(server.wait_ready(), 2)
        async with async_playwright() as p:
            browser = await _browser(p)
            warm = Session(-1, browser, server.url, args.step_timeout, scratch)
            await warm.run(stop_after="first_map")
            await warm.close()
            out["warm_session"] = warm.record()
            if warm.errors:
                raise RuntimeError(f"the warm-up session failed: {warm.errors}")
            sessions = [
                Session(i, browser, server.url, args.step_timeout, scratch)
                for i in range(args.sessions)
            ]
            t0 = time.perf_counter()
            try:
                await asyncio.wait_for(
                    asyncio.gather(*(s.run() for s in sessions)), args.phase_timeout
                )
            except TimeoutError:
                out["phase_timeout"] = f"sessions still running after {args.phase_timeout} s"
            out["wall_s"] = round(time.perf_counter() - t0, 1)
            await asyncio.gather(*(s.close() for s in sessions))
            await browser.close()
        out["sessions"] = [s.record() for s in sessions]
    finally:
        out["server"] = server.stop()
    out["static_check"] = check_static(app_dir / "static")
    return out


def _leftover_kind(f: Path) -> str:
    return "temp" if ".tmp" in f.name else "lock" if f.name.endswith(".lock") else "file"


def check_static(static_dir: Path) -> dict:
    """
    Every map file under ``static/`` parses as JSON, and every ``served_*.name`` pointer
    (``sections/_common.served_once``) names a map file that exists; temporary files are
    listed apart.
    """
    static: dict[str, Any] = {
        "folder": str(static_dir),
        "files": 0,
        "json_ok": 0,
        "bad": [],
        "temp_leftovers": [],
    }
    for f in sorted(static_dir.iterdir()) if static_dir.is_dir() else []:
        if _leftover_kind(f) == "temp":
            # the app only links content-named .geojson files; a .tmp is never linked
            static["temp_leftovers"].append({"name": f.name, "bytes": f.stat().st_size})
            continue
        static["files"] += 1
        try:
            if f.suffix == ".name":  # a pointer: one line, the name of a map file beside it
                target = f.read_text(encoding="utf-8").strip()
                if "/" in target or not (static_dir / target).is_file():
                    raise ValueError(f"points to a missing file {target!r}")
                static["json_ok"] += 1
                continue
            json.loads(f.read_text(encoding="utf-8"))
            static["json_ok"] += 1
        except (ValueError, UnicodeDecodeError) as err:
            static["bad"].append(
                {"name": f.name, "bytes": f.stat().st_size, "error": str(err)[:120]}
            )
    static["ok"] = not static["bad"] and static["json_ok"] == static["files"] > 0
    return static


def check_files(
    static_dir: Path, cache_dir: Path, osm: Path, cache_file: Path, timeout_s: float
) -> dict:
    """Is anything the app wrote corrupt, and would a leftover ever be read?"""
    from placekit.errors import DataError
    from placekit.network import StreetNetwork

    static = check_static(static_dir)
    cache: dict[str, Any] = {"npz": [], "temp_leftovers": [], "locks": []}
    for f in sorted(cache_dir.iterdir()):
        kind = _leftover_kind(f)
        if kind == "lock":
            cache["locks"].append(f.name)
            continue
        try:
            StreetNetwork.load(f, mode="walk")
            ok, err = True, ""
        except DataError as e:
            ok, err = False, str(e)[:160]
        row = {"name": f.name, "bytes": f.stat().st_size, "loads": ok, "error": err}
        cache["temp_leftovers" if kind == "temp" else "npz"].append(row)
    # the app reads exactly this name; a temp name is never read
    cache["app_reads"] = cache_file.name
    cache["a_leftover_is_read_by_the_app"] = any(
        r["name"] == cache_file.name for r in cache["temp_leftovers"]
    )
    existed = cache_file.is_file()
    code = (
        "import json, time, warnings\n"
        "from pathlib import Path\n"
        "from placekit.network import load_network\n"
        "t = time.perf_counter()\n"
        "with warnings.catch_warnings(record=True) as w:\n"
        "    warnings.simplefilter('always')\n"
        f"    net = load_network(Path({str(osm)!r}), 'walk')\n"
        "print(json.dumps({'nodes': net.n_nodes, 'edges': int(len(net.edge_u)),\n"
        "                  'seconds': round(time.perf_counter() - t, 1),\n"
        "                  'warnings': [str(x.message)[:200] for x in w]}))\n"
    )
    env = {**os.environ, "PLACEKIT_CACHE": str(cache_dir)}
    try:
        r = subprocess.run(
            [sys.executable, "-c", code],
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout_s,
            cwd=ROOT,
        )
        if r.returncode == 0:
            res = json.loads(r.stdout.strip().splitlines()[-1])
            res["result"] = (
                "loaded"
                if existed and not res["warnings"]
                else "rebuilt (corrupt cache detected)"
                if existed
                else "built (no cache had been saved)"
            )
        else:
            res = {"result": "error", "stderr": r.stderr[-600:]}
    except subprocess.TimeoutExpired:
        res = {"result": f"timeout after {timeout_s} s"}
    cache["load_network"] = res
    # after load_network the cache must load
    try:
        StreetNetwork.load(cache_file, mode="walk")
        cache["cache_loads_after"] = True
    except DataError as e:
        cache["cache_loads_after"] = f"no: {e}"
    ok = (
        static["ok"]
        and all(r["loads"] for r in cache["npz"])
        and cache["cache_loads_after"] is True
        and not cache["a_leftover_is_read_by_the_app"]
        and res.get("result", "").startswith(("loaded", "rebuilt", "built"))
    )
    return {"static": static, "cache": cache, "nothing_corrupt": ok}


async def kill_phase(args: argparse.Namespace, scratch: Path) -> dict:
    from playwright.async_api import async_playwright

    app_dir = _scratch_app(scratch, "app_kill")
    cache = scratch / "cache_kill"
    cache.mkdir()
    osm, cache_file = _walk_cache_name(cache)
    src = Path.home() / ".cache" / "placekit" / cache_file.name
    if args.kill_cache == "copy" and src.is_file():
        shutil.copy2(src, cache_file)
    out: dict[str, Any] = {"cache_at_start": args.kill_cache if cache_file.is_file() else "empty"}
    server = Server(app_dir, cache, scratch / "server_kill.log")
    try:
        out["server_ready_s"] = round(server.wait_ready(), 2)
        async with async_playwright() as p:
            browser = await _browser(p)
            sessions = [
                Session(i, browser, server.url, args.step_timeout, None)
                for i in range(args.kill_sessions)
            ]
            tasks = [asyncio.ensure_future(s.run()) for s in sessions]
            t0 = time.perf_counter()
            reason = ""
            while time.perf_counter() - t0 < args.kill_deadline:
                temps = [f for f in cache.glob(".*tmp*") if f.stat().st_size > 0]
                if out["cache_at_start"] == "empty" and temps:
                    reason = (
                        f"network cache being written ({temps[0].name}, "
                        f"{temps[0].stat().st_size} bytes so far)"
                    )
                    break
                at_apply = [s for s in sessions if s.step in ("apply", "done")]
                if out["cache_at_start"] != "empty" and len(at_apply) == len(sessions):
                    await asyncio.sleep(args.kill_delay)
                    reason = f"{args.kill_delay} s after every session clicked Apply"
                    break
                if all(t.done() for t in tasks):
                    reason = "every session finished before the kill"
                    break
                await asyncio.sleep(0.02)
            else:
                reason = f"deadline ({args.kill_deadline} s)"
            out["killed_at_s"] = round(time.perf_counter() - t0, 1)
            out["steps_at_kill"] = {s.idx: s.step for s in sessions}
            server.kill()
            out["kill_reason"] = reason
            out["temp_files_at_kill"] = [
                {"name": f.name, "bytes": f.stat().st_size} for f in cache.glob(".*tmp*")
            ]
            await asyncio.sleep(2)
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await asyncio.gather(*(s.close() for s in sessions))
            out["sessions"] = [s.record() for s in sessions]
            out["server"] = server.stop()
            out["server"]["exit"] = server.proc.returncode
            out["check"] = check_files(
                app_dir / "static", cache, osm, cache_file, args.rebuild_timeout
            )
            # restart on the same folders: one session does every step again
            again = Server(app_dir, cache, scratch / "server_restart.log")
            try:
                out["restart_ready_s"] = round(again.wait_ready(), 2)
                s = Session(0, browser, again.url, args.step_timeout, scratch)
                await asyncio.wait_for(s.run(), args.phase_timeout)
                await s.close()
                out["restart_session"] = s.record()
            finally:
                out["restart_server"] = again.stop()
            await browser.close()
    finally:
        if server.proc.poll() is None:
            server.kill()
            server.stop()
    return out


# ----------------------------------------------------------------------------- report
def summarise(load: dict) -> dict:
    sessions = load.get("sessions", [])
    per_step: dict[str, dict] = {}
    slowest = (0.0, "", -1)
    for step in STEPS:
        vals = [s["steps_s"][step] for s in sessions if step in s["steps_s"]]
        if vals:
            per_step[step] = {
                "n": len(vals),
                "median_s": round(statistics.median(vals), 2),
                "max_s": round(max(vals), 2),
                "min_s": round(min(vals), 2),
            }
        for s in sessions:
            v = s["steps_s"].get(step)
            if v is not None and v > slowest[0]:
                slowest = (v, step, s["session"])
    done = [s["first_run_done_s"] for s in sessions if "first_run_done_s" in s]
    if done:  # the server's part of the first map (its first run ended), for comparison
        per_step["(first run done)"] = {
            "n": len(done),
            "median_s": round(statistics.median(done), 2),
            "max_s": round(max(done), 2),
            "min_s": round(min(done), 2),
        }
    return {
        "per_step": per_step,
        "slowest_response": {"s": slowest[0], "step": slowest[1], "session": slowest[2]},
        "slowest_response_after_first_map": dict(
            zip(
                ("s", "step", "session"),
                max(
                    (
                        (v, k, s["session"])
                        for s in sessions
                        for k, v in s["steps_s"].items()
                        if k != "first_map"
                    ),
                    default=(0.0, "", -1),
                ),
                strict=True,
            )
        ),
        "sessions_ok": sum(s["ok"] for s in sessions),
        "sessions": len(sessions),
        "failures": [f"session {s['session']}: {e}" for s in sessions for e in s["errors"]],
        "external_requests": sum(len(s["external_requests"]) for s in sessions),
    }


def _cpus() -> int:
    return os.cpu_count() or 1


def _machine() -> dict:
    load1, load5, _ = os.getloadavg()
    busy = []
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        ps = subprocess.run(
            ["ps", "-eo", "pcpu,comm,args", "--sort=-pcpu"],
            capture_output=True,
            text=True,
            timeout=5,
        ).stdout.splitlines()[1:6]
        busy = [" ".join(line.split()[:4])[:100] for line in ps if float(line.split()[0]) > 20]
    return {
        "cpus": os.cpu_count(),
        "load_1min": round(load1, 2),
        "load_5min": round(load5, 2),
        "busy_processes": busy,
    }


def print_table(res: dict) -> None:
    load, summ = res["load"], res["summary"]
    print(
        f"\n== Load: {summ['sessions']} concurrent sessions "
        f"({summ['sessions_ok']} ok), wall {load.get('wall_s')} s =="
    )
    print(f"{'step':<18}{'n':>4}{'median s':>10}{'max s':>9}{'min s':>9}")
    for step, r in summ["per_step"].items():
        print(f"{step:<18}{r['n']:>4}{r['median_s']:>10.2f}{r['max_s']:>9.2f}{r['min_s']:>9.2f}")
    sl = summ["slowest_response"]
    print(
        f"slowest response: {sl['s']:.2f} s ({sl['step']}, session {sl['session']}); "
        f"after the first map: {summ['slowest_response_after_first_map']['s']:.2f} s "
        f"({summ['slowest_response_after_first_map']['step']})"
    )
    srv = load["server"]
    print(
        f"peak server RSS: {srv['peak_rss_mb']} MB (main process "
        f"{srv['peak_main_process_rss_mb']} MB); tracebacks in the server log: "
        f"{srv['log_tracebacks']}"
    )
    print(
        f"server CPU {srv['server_cpu_s']} s over {srv['wall_s']} s wall; all {_cpus()} CPUs "
        f"{srv['machine_cpu_busy']:.0%} busy"
    )
    print(f"failures: {len(summ['failures'])}" + "".join(f"\n  {f}" for f in summ["failures"]))
    print(f"requests off loopback: {summ['external_requests']}")
    sc = load.get("static_check", {})
    print(
        f"static/ after the load: {sc.get('json_ok')}/{sc.get('files')} parse (JSON, or a "
        "pointer to a file present); "
        f"temp leftovers {sc.get('temp_leftovers')}"
    )
    kill = res.get("kill")
    if kill:
        chk = kill.get("check", {})
        print(
            f"\n== Kill: {kill.get('kill_reason')} at {kill.get('killed_at_s')} s; "
            f"steps then {kill.get('steps_at_kill')} =="
        )
        st, ca = chk.get("static", {}), chk.get("cache", {})
        print(
            f"static/: {st.get('json_ok')}/{st.get('files')} files parse as JSON; bad "
            f"{st.get('bad')}; temp leftovers {st.get('temp_leftovers')}"
        )
        print(
            f"cache: npz {[(r['name'], r['loads']) for r in ca.get('npz', [])]}; temp leftovers "
            f"{[(r['name'], r['bytes'], r['loads']) for r in ca.get('temp_leftovers', [])]}; "
            f"read by the app: {ca.get('a_leftover_is_read_by_the_app')}"
        )
        print(f"load_network: {ca.get('load_network')}")
        print(f"nothing corrupt: {chk.get('nothing_corrupt')}")
        rs = kill.get("restart_session", {})
        print(
            f"restart: session ok={rs.get('ok')} steps {rs.get('steps_s')} errors "
            f"{rs.get('errors')}"
        )


async def main_async(args: argparse.Namespace) -> dict:
    scratch = Path(tempfile.mkdtemp(prefix="pk-load-", dir=args.scratch))
    res: dict[str, Any] = {
        "sessions": args.sessions,
        "scratch": str(scratch),
        "machine_before": _machine(),
        "started": time.strftime("%F %T"),
    }
    t0 = time.perf_counter()
    res["load"] = await load_phase(args, scratch)
    res["summary"] = summarise(res["load"])
    if not args.no_kill:
        res["kill"] = await kill_phase(args, scratch)
    res["machine_after"] = _machine()
    res["total_s"] = round(time.perf_counter() - t0, 1)
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sessions", type=int, default=10, help="concurrent sessions (default 10)")
    ap.add_argument("--kill-sessions", type=int, default=3, help="sessions during the kill test")
    ap.add_argument(
        "--kill-cache",
        choices=["empty", "copy"],
        default="empty",
        help="kill test with no network cache (killed while it is saved) or a copy",
    )
    ap.add_argument(
        "--kill-delay",
        type=float,
        default=2.0,
        help="with --kill-cache copy: seconds after the last Apply click",
    )
    ap.add_argument("--kill-deadline", type=float, default=300.0)
    ap.add_argument("--step-timeout", type=float, default=180.0, help="seconds per step")
    ap.add_argument("--phase-timeout", type=float, default=420.0, help="seconds for all sessions")
    ap.add_argument("--rebuild-timeout", type=float, default=240.0)
    ap.add_argument("--no-kill", action="store_true", help="skip the kill test")
    ap.add_argument("--deadline", type=float, default=900.0, help="seconds for the whole run")
    ap.add_argument(
        "--scratch",
        default=None,
        help="parent folder for scratch files (default: the system temp folder)",
    )
    ap.add_argument("--out", default=str(ROOT / "artifacts" / "load_sessions.json"))
    args = ap.parse_args()
    if not Path(CHROMIUM).exists():
        sys.exit(f"{CHROMIUM} is missing: apt-get install -y chromium")
    res = asyncio.run(asyncio.wait_for(main_async(args), args.deadline))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(res, indent=2, default=str))
    print_table(res)
    print(f"\ntotal {res['total_s']} s; JSON: {out}; scratch: {res['scratch']}")


if __name__ == "__main__":
    main()
