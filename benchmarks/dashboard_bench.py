"""PM pages under load: five headless Chromium visitors click through 12 teams' pages for three
minutes, then 500 invalid or bogus requests arrive in 30 seconds, then the visitors click again.

The server is ``helpers.dashboards.serve`` with its defaults (a preheated kernel for the one
live notebook served beside the recorded pages, at most 4 kernels for visitors, unconnected
kernels shut after 90 s). Each visitor (its own browser context, so its own cache) starts on
the team list and clicks like a PM: a team, one to three of its analyses, sometimes a table,
then another team through the picker or back to the list, pausing 0.3–1.5 s between clicks.

Measured:

- time to first chart: from the click to the first chart image of the new page decoded
  (``img.complete`` and a width), for every team page a visitor opens;
- server memory: PSS summed over the server and all its kernels, sampled every second
  (PSS counts shared pages once, split among the processes sharing them);
- the bogus requests: unknown teams and files, path traversal, template overrides, another
  ``Host``, overlong addresses, wrong methods, live pages fetched without JavaScript (each
  takes a kernel until the cap, then "busy"); every answer's status is counted.

Run: ``python -m benchmarks.dashboard_bench`` (prints one JSON line), ``--smoke`` for a short
check of the code, or call :func:`run`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import http.client
import json
import random
import socket
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil

from helpers import dashboards, paths

__all__ = ["run"]

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
FIRST_CHART = (
    "() => { const i = document.querySelector('img.wb-chart');"
    " return !!i && i.complete && i.naturalWidth > 0; }"
)
TARGETS = {"median_s": 0.5, "p95_s": 1.5, "max_s": 3.0, "pss_mib": 1536}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _request(port: int, path: str, method: str = "GET", host: str | None = None) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request(method, path, headers={"Host": host} if host else {})
        r = conn.getresponse()
        r.read()
        return r.status
    finally:
        conn.close()


def _wait_http(port: int, timeout: float = 120) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        with contextlib.suppress(OSError):
            if _request(port, "/") == 200:
                return
        time.sleep(0.3)
    raise RuntimeError("the dashboards did not answer")


class Memory:
    """Samples the server's memory (PSS of it and every process it started) every second."""

    def __init__(self, pid: int):
        self.pid = pid
        self.samples: list[tuple[float, float, int]] = []  # (time, PSS MiB, kernels)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def measure(self) -> tuple[float, int]:
        pss = 0
        kernels = 0
        try:
            root = psutil.Process(self.pid)
            procs = [root, *root.children(recursive=True)]
        except psutil.Error:
            return 0.0, 0
        for p in procs:
            with contextlib.suppress(psutil.Error):
                pss += p.memory_full_info().pss
                kernels += "ipykernel" in " ".join(p.cmdline())
        return pss / 2**20, kernels

    def _loop(self) -> None:
        while not self._stop.is_set():
            pss, kernels = self.measure()
            self.samples.append((time.monotonic(), pss, kernels))
            self._stop.wait(1.0)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(5)

    def between(self, start: float, end: float) -> dict:
        chosen = [s for s in self.samples if start <= s[0] <= end] or self.samples[-1:]
        return {
            "pss_mib_max": round(max(s[1] for s in chosen), 1),
            "pss_mib_last": round(chosen[-1][1], 1),
            "kernels_max": max(s[2] for s in chosen),
        }


def _stats(times: list[float]) -> dict:
    if not times:
        return {"n": 0}
    ordered = sorted(times)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {
        "n": len(times),
        "median": round(statistics.median(times), 3),
        "p95": round(p95, 3),
        "max": round(max(times), 3),
    }


async def _visitor(browser, base: str, seconds: float, seed: int, out: dict) -> None:
    """One PM clicking through the pages for ``seconds``; times go into ``out``."""
    rng = random.Random(seed)
    context = await browser.new_context()
    page = await context.new_page()
    page.set_default_timeout(60_000)

    async def timed(click, chart: bool) -> None:
        t0 = time.perf_counter()
        try:
            async with page.expect_navigation(wait_until="commit"):
                await click()
            if chart:
                await page.wait_for_function(FIRST_CHART)
                out["chart"].append(time.perf_counter() - t0)
            else:
                await page.locator("table.wb-teams").wait_for()
                out["landing"].append(time.perf_counter() - t0)
        except Exception as exc:  # a timeout or a broken page is counted, not fatal
            out["failures"].append(f"{type(exc).__name__}: {str(exc)[:120]}")

    async def think() -> None:
        await asyncio.sleep(rng.uniform(0.3, 1.5))

    end = time.monotonic() + seconds
    await timed(lambda: page.goto(base), chart=False)
    while time.monotonic() < end:
        links = page.locator("a.wb-team-link")
        n = await links.count()
        if n == 0:
            await timed(lambda: page.goto(base), chart=False)
            continue
        await timed(links.nth(rng.randrange(n)).click, chart=True)
        for _ in range(rng.randint(1, 3)):
            if time.monotonic() >= end:
                break
            await think()
            tabs = page.locator("a.wb-tab")
            k = await tabs.count()
            if k:
                await timed(tabs.nth(rng.randrange(k)).click, chart=True)
            tables = page.locator("a.wb-table-tab")
            t = await tables.count()
            if t and rng.random() < 0.3:
                await think()
                await timed(tables.nth(rng.randrange(t)).click, chart=True)
        await think()
        options = await page.locator("select[name=team] option").all_inner_texts()
        if options and rng.random() < 0.5:
            await page.select_option("select[name=team]", label=rng.choice(options))
            await timed(page.locator("form.wb-switch button").click, chart=True)
            await think()
        await timed(page.locator("a.wb-home").click, chart=False)
        await think()
    await context.close()


async def _visitors(base: str, visitors: int, seconds: float, seed: int) -> dict:
    from playwright.async_api import async_playwright

    out: dict = {"chart": [], "landing": [], "failures": []}
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        await asyncio.gather(
            *(_visitor(browser, base, seconds, seed * 100 + i, out) for i in range(visitors))
        )
        await browser.close()
    return out


def _bogus(port: int, run_id: str, count: int, seconds: float) -> dict:
    """``count`` invalid or bogus requests spread over ``seconds``; their answers counted."""
    kinds = [
        ("GET", "/team/nosuch-{i}", None),
        ("GET", "/team/team00?analysis=..%2F..%2Fetc%2Fpasswd", None),
        ("GET", "/team/" + "a" * 300, None),
        ("GET", "/team/team00?template=x{i}", None),
        ("GET", "/voila/render/team.ipynb?team=nosuch&template=x{i}", None),
        ("GET", "/voila/render/live.ipynb?template=x{i}", None),
        ("GET", "/voila/render/live.ipynb?theme=dark", None),
        ("GET", "/voila/render/live.ipynb", None),  # a live page without its JavaScript
        ("GET", "/voila/render/nosuch{i}.ipynb", None),
        ("GET", f"/files/team00/{run_id}/figures/metric_trends/..%2F..%2Fmanifest.json", None),
        ("GET", "/files/team00/2020-01-01T000000-dead/figures/x/y.png", None),
        ("GET", "/voila/files/secret.txt", None),
        ("GET", "/voila/tree/../../etc/passwd", None),
        ("GET", "/api/kernels", None),
        ("GET", "/api/kernels/00000000-0000-0000-0000-000000000000/channels", None),
        ("GET", "/", "evil.example"),
        ("GET", "/team/team01", "rebind.attacker.test"),
        ("POST", "/", None),
        ("DELETE", "/team/team00", None),
        ("GET", "/team?team=%00", None),
    ]
    statuses: dict[str, int] = {}
    errors: list[str] = []
    bare_live: dict[str, int] = {}
    lock = threading.Lock()

    def one(i: int) -> None:
        method, path, host = kinds[i % len(kinds)]
        path = path.format(i=i)
        try:
            status = _request(port, path, method, host)
        except Exception as exc:
            with lock:
                errors.append(f"{path}: {type(exc).__name__}")
            return
        with lock:
            statuses[str(status)] = statuses.get(str(status), 0) + 1
            if path == "/voila/render/live.ipynb":
                bare_live[str(status)] = bare_live.get(str(status), 0) + 1

    t0 = time.monotonic()
    with ThreadPoolExecutor(8) as pool:
        futures = []
        for i in range(count):
            due = t0 + i * seconds / count
            time.sleep(max(0.0, due - time.monotonic()))
            futures.append(pool.submit(one, i))
        for f in futures:
            f.result()
    answered = sum(statuses.values())
    refused = sum(v for k, v in statuses.items() if 400 <= int(k) < 500 or k == "503")
    # a live page fetched without JavaScript is a valid page: it may get a kernel (200)
    # until the cap, then "busy" (503, counted above)
    served = bare_live.get("200", 0)
    return {
        "requests": count,
        "seconds": round(time.monotonic() - t0, 1),
        "answered": answered,
        "refused_4xx_or_busy": refused,
        "other_answers": answered - refused - served,
        "status": dict(sorted(statuses.items())),
        "live_page_without_javascript": bare_live,
        "errors": errors[:20],
    }


def _sample_outputs(root: Path, teams: list[str]) -> None:
    sys.path.insert(0, str(paths.ROOT / "tests"))
    from support.dashboard_runs import write_live_notebook, write_params, write_run

    write_params(root, teams)
    for team in teams:
        write_run(root / "outputs", team)
    write_live_notebook(root / "live")


def run(
    teams: int = 12,
    visitors: int = 5,
    seconds: float = 180,
    bogus: int = 500,
    bogus_seconds: float = 30,
    after_seconds: float = 60,
    seed: int = 15,
) -> dict:
    """Measure the PM pages under load; returns the JSON-ready result (``main`` prints it).

    Parameters
    ----------
    teams
        Teams served (sample runs written to a temporary workbook root).
    visitors
        Headless Chromium visitors clicking at once.
    seconds
        How long they click before the bogus requests.
    bogus, bogus_seconds
        Invalid or bogus requests, and the seconds they are spread over.
    after_seconds
        How long the visitors click again afterwards.
    seed
        Seeds the visitors' choices.
    """
    names = [f"team{i:02d}" for i in range(teams)]
    result: dict = {
        "benchmark": "dashboard_pages",
        "teams": teams,
        "visitors": visitors,
        "seconds": seconds,
        "cores": psutil.cpu_count(),
        "load_before": [round(x, 2) for x in psutil.getloadavg()],
    }
    with tempfile.TemporaryDirectory(prefix="wb-dash-bench-") as tmp:
        root = Path(tmp)
        _sample_outputs(root, names)
        port = _free_port()
        proc = dashboards.serve(
            port=port,
            notebooks_dir=root / "live",
            wait=False,
            quiet=True,
            env={"WORKBOOK_ROOT": str(root)},
        )
        try:
            _wait_http(port)
            time.sleep(5)  # the live page's preheated kernel starts
            base = f"http://127.0.0.1:{port}/"
            run_id = (root / "outputs" / "team00" / "latest").resolve().name
            with Memory(proc.pid) as memory:
                t0 = time.monotonic()
                first = asyncio.run(_visitors(base, visitors, seconds, seed))
                t1 = time.monotonic()
                result["first_chart_s"] = _stats(first["chart"])
                result["team_list_s"] = _stats(first["landing"])
                result["failures"] = first["failures"][:20]
                result["memory"] = memory.between(t0, t1)
                result["bogus"] = _bogus(port, run_id, bogus, bogus_seconds)
                t2 = time.monotonic()
                result["bogus"].update(memory.between(t1, t2))
                after = asyncio.run(_visitors(base, visitors, after_seconds, seed + 1))
                t3 = time.monotonic()
                result["after_bogus"] = {
                    "first_chart_s": _stats(after["chart"]),
                    "team_list_s": _stats(after["landing"]),
                    "failures": after["failures"][:20],
                    **memory.between(t2, t3),
                }
        finally:
            dashboards.stop_server(proc)
    result["load_after"] = [round(x, 2) for x in psutil.getloadavg()]
    result["met"] = _met(result)
    return result


def _met(r: dict) -> dict:
    def fast(stats: dict) -> bool:
        return bool(stats.get("n")) and (
            stats["median"] <= TARGETS["median_s"]
            and stats["p95"] <= TARGETS["p95_s"]
            and stats["max"] <= TARGETS["max_s"]
        )

    b = r.get("bogus", {})
    a = r.get("after_bogus", {})
    return {
        "first_chart": fast(r.get("first_chart_s", {})),
        "memory": r.get("memory", {}).get("pss_mib_max", 1e9) <= TARGETS["pss_mib"],
        "bogus_all_answered": b.get("answered") == b.get("requests")
        and not b.get("errors")
        and b.get("other_answers") == 0,
        "bogus_memory": b.get("pss_mib_max", 1e9) <= TARGETS["pss_mib"],
        "after_bogus_first_chart": fast(a.get("first_chart_s", {})),
        "after_bogus_memory": a.get("pss_mib_max", 1e9) <= TARGETS["pss_mib"],
    }


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m benchmarks.dashboard_bench")
    p.add_argument("--smoke", action="store_true", help="20 s of clicking, 50 bogus requests")
    p.add_argument("--seconds", type=float, default=None)
    p.add_argument("--visitors", type=int, default=5)
    args = p.parse_args(argv)
    if args.smoke:
        result = run(
            teams=4,
            visitors=2,
            seconds=args.seconds or 20,
            bogus=50,
            bogus_seconds=5,
            after_seconds=10,
        )
    else:
        result = run(visitors=args.visitors, seconds=args.seconds or 180)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
