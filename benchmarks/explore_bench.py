"""The live explorer in headless Chromium: how long a PM waits for a question's answer.

A demo warehouse of about 5M events (``workbook demo-data --events 5000000``), the four demo
teams, ``helpers.dashboards.serve`` with its defaults and a fresh view cache. One visitor
opens the explorer, then asks 10 different questions (metric × segment × grain, none seen
before) by changing the widgets, then asks each again. Measured from the widget change to
the new view's chart and answer in the page (in place, no navigation):

- ``fresh_s``: the 10 new questions (computed by the ``metric_trends`` helpers), to the
  chart and the answer; ``fresh_with_forecast_s``: to the forecast and its backtest too,
  which follow in place (the next question is asked once they are there);
- ``repeated_s``: the same 10 again (kept in the kernel's cache, whole);
- ``open_s``: opening a shared link in a new tab (a preheated kernel, then the view).

Run: ``python -m benchmarks.explore_bench [--events N] [--work DIR]`` (prints one JSON line).
"""

from __future__ import annotations

import argparse
import json
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

from helpers import dashboards, paths

__all__ = ["QUESTIONS", "run"]

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
TARGETS = {"fresh_median_s": 2.0, "repeated_median_s": 0.5}
PAGE = "voila/render/explore.ipynb"
#: (widget, option label) changes; each gives a view not seen before
QUESTIONS = [
    ("grain", "month"),
    ("metric", "Events"),
    ("segment-column", "region"),
    ("segment-value", "EMEA"),
    ("grain", "week"),
    ("compare-by", "industry"),
    ("metric", "Active users"),
    ("segment-value", "APAC"),
    ("grain", "day"),
    ("compare-by", "no breakdown"),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stats(times: list[float]) -> dict:
    if not times:
        return {"n": 0}
    return {
        "n": len(times),
        "median": round(statistics.median(times), 3),
        "max": round(max(times), 3),
        "all": [round(t, 3) for t in times],
    }


def _root(work: Path, events: int) -> Path:
    wh = work / f"demo-{events}.duckdb"
    if not wh.exists():
        subprocess.run(
            [
                sys.executable,
                "-m",
                "helpers",
                "demo-data",
                "--events",
                str(events),
                "--out",
                str(wh),
            ],
            check=True,
        )
    root = work / "root"
    shutil.rmtree(root, ignore_errors=True)
    shutil.copytree(paths.ROOT / "params", root / "params")
    (root / "data").mkdir()
    (root / "data" / "demo.duckdb").symlink_to(wh)
    (root / "outputs").mkdir()
    return root


def _ask(page, widget: str, label: str) -> tuple[float, float]:
    """(seconds to the new view's chart and answer, seconds to its forecast as well).

    The answer and the chart come first; the forecast, whose backtest refits the model at
    up to 24 origins, follows in place. The next question is asked once it is there."""
    before = page.get_attribute(".wb-explore", "data-view")
    t0 = time.perf_counter()
    page.select_option(f".wb-x-{widget} select", label=label)
    page.wait_for_function(
        "(before) => { const d = document.querySelector('.wb-explore');"
        " return d && d.dataset.view !== before && d.querySelector('img.wb-series')"
        " && document.querySelector('.wb-answer li'); }",
        arg=before,
    )
    first = time.perf_counter() - t0
    page.locator('.wb-explore[data-complete="1"]').wait_for()
    return first, time.perf_counter() - t0


def run(events: int = 5_000_000, work: Path | None = None) -> dict:
    from playwright.sync_api import sync_playwright

    work = work or Path(tempfile.mkdtemp(prefix="wb-explore-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    root = _root(work, events)
    cache = Path(tempfile.mkdtemp(prefix="wb-explore-cache-"))
    port = _free_port()
    result: dict = {
        "benchmark": "explorer",
        "events": events,
        "cores": psutil.cpu_count(),
        "load_before": [round(x, 2) for x in psutil.getloadavg()],
    }
    proc = dashboards.serve(
        port=port,
        wait=False,
        quiet=True,
        env={"WORKBOOK_ROOT": str(root), "WORKBOOK_EXPLORE_CACHE": str(cache)},
    )
    try:
        base = f"http://127.0.0.1:{port}/"
        time.sleep(20)  # the preheated kernel imports and opens the sources
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            page = browser.new_page()
            page.set_default_timeout(180_000)
            start = "team=analytics&metric=active_accounts&grain=week&compare_by=none"
            t0 = time.perf_counter()
            page.goto(base + PAGE + "?" + start)
            page.locator(".wb-explore img.wb-series").wait_for()
            result["first_open_s"] = round(time.perf_counter() - t0, 3)
            asked = [_ask(page, w, label) for w, label in QUESTIONS]
            fresh, fresh_whole = [a for a, _ in asked], [b for _, b in asked]
            # the same questions again, in the same order, from the start view
            page.goto(base + PAGE + "?" + start)
            page.locator(".wb-explore img.wb-series").wait_for()
            repeated = [_ask(page, w, label)[1] for w, label in QUESTIONS]
            share = page.get_attribute("a.wb-share", "href")
            other = browser.new_page()
            other.set_default_timeout(180_000)
            t0 = time.perf_counter()
            other.goto(base + PAGE + share)
            other.locator(".wb-explore img.wb-series").wait_for()
            result["open_shared_link_s"] = round(time.perf_counter() - t0, 3)
            browser.close()
        result["fresh_s"] = _stats(fresh)
        result["fresh_with_forecast_s"] = _stats(fresh_whole)
        result["repeated_s"] = _stats(repeated)
    finally:
        dashboards.stop_server(proc)
        shutil.rmtree(cache, ignore_errors=True)
    result["load_after"] = [round(x, 2) for x in psutil.getloadavg()]
    result["met"] = {
        "fresh": result["fresh_s"]["median"] <= TARGETS["fresh_median_s"],
        "repeated": result["repeated_s"]["median"] <= TARGETS["repeated_median_s"],
    }
    return result


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m benchmarks.explore_bench")
    p.add_argument("--events", type=int, default=5_000_000)
    p.add_argument("--work", type=Path, default=None)
    args = p.parse_args(argv)
    print(json.dumps(run(args.events, args.work)))


if __name__ == "__main__":
    main()
