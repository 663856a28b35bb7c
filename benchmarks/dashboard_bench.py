"""Time to first chart of a PM page in headless Chromium: our dashboards vs plain Voila.

With 12 teams served, each design is loaded ``loads`` times (a different team each time,
a PM's navigation: cached static files, the previous page left first) and the time from
navigation to the first visible chart is recorded; the median is reported with the
server's memory (Voila plus its kernels, RSS) after the loads. Plain Voila renders an
executed analysis notebook, re-executing it per view (its default behaviour); when no
real run exists it renders a stand-in that queries a demo warehouse and draws a chart.

Run: ``python -m benchmarks.dashboard_bench`` (prints one JSON line), or call :func:`run`.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import nbformat
import psutil

from helpers import dashboards, paths

__all__ = ["run"]

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]

_STANDIN = """\
import seaborn as sns
from helpers.data import connect
wh = connect({source!r})
ev = wh.table("events")
weekly = (ev.mutate(week=ev.ts.truncate("W")).group_by("week")
            .aggregate(accounts=ev.account_id.nunique()).order_by("week").to_pandas())
ax = sns.lineplot(data=weekly, x="week", y="accounts")
ax.set_title("Active accounts per week")
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_http(url: str, timeout: float = 120) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            with urllib.request.urlopen(url, timeout=60) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError(f"{url} did not answer")


def _memory(pid: int) -> dict:
    """Server plus kernels: summed RSS (counts shared pages once per process) and PSS."""
    procs = [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]
    rss = pss = 0
    kernels = 0
    for proc in procs:
        with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
            info = proc.memory_full_info()
            rss += info.rss
            pss += getattr(info, "pss", info.rss)
            kernels += "ipykernel" in " ".join(proc.cmdline())
    return {"rss_mib": round(rss / 2**20, 1), "pss_mib": round(pss / 2**20, 1), "kernels": kernels}


def _stop(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def _time_loads(urls: list[str], selector: str, pause: float) -> list[float]:
    from playwright.sync_api import sync_playwright

    times = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        context = browser.new_context()
        page = context.new_page()
        page.goto(urls[0])  # warm the browser's cache of Voila's static files (not timed)
        page.locator(selector).first.wait_for(state="visible", timeout=180_000)
        for url in urls:
            page.goto("about:blank")  # leave the last page: Voila frees its kernel
            time.sleep(pause)
            start = time.perf_counter()
            page.goto(url, wait_until="commit")
            page.locator(selector).first.wait_for(state="visible", timeout=180_000)
            times.append(time.perf_counter() - start)
        page.goto("about:blank")
        browser.close()
    return times


def _sample_outputs(root: Path, teams: list[str]) -> None:
    sys.path.insert(0, str(paths.ROOT / "tests"))
    from dashboard_runs import write_params, write_run

    write_params(root, teams)
    for team in teams:
        write_run(root / "outputs", team)


def _plain_notebook(folder: Path, source: str) -> tuple[Path, str]:
    """A real executed analysis notebook if one is recorded, else the stand-in."""
    for nb_path in sorted(paths.outputs_dir().glob("*/latest/metric_trends.ipynb")):
        nb = nbformat.read(nb_path, as_version=4)
        if nb.cells:
            for cell in nb.cells:
                cell.outputs = [] if cell.cell_type == "code" else cell.get("outputs")
            target = folder / "plain.ipynb"
            nbformat.write(nb, target)
            return target, f"executed notebook {nb_path.relative_to(paths.outputs_dir())}"
    nb = nbformat.v4.new_notebook(
        metadata={
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}
        }
    )
    nb.cells = [nbformat.v4.new_code_cell(_STANDIN.format(source=source))]
    target = folder / "plain.ipynb"
    nbformat.write(nb, target)
    return target, "stand-in notebook (Ibis weekly aggregate + seaborn chart)"


def run(loads: int = 10, teams: int = 12, pause: float = 2.0, plain: bool = True) -> dict:
    """Measure both designs; returns the JSON-ready result (also printed by ``main``).

    Parameters
    ----------
    loads
        Timed page loads per design (at least 10 for the reported median).
    teams
        Teams served (sample runs written to a temporary outputs folder).
    pause
        Seconds between loads (a PM does not open ten pages a second).
    plain
        Also measure plain Voila (needs the demo warehouse; builds a small one if absent).
    """
    names = [f"team{i:02d}" for i in range(teams)]
    result: dict = {"benchmark": "dashboard_first_chart", "teams": teams, "loads": loads}
    with tempfile.TemporaryDirectory(prefix="wb-dash-bench-") as tmp:
        root = Path(tmp)
        _sample_outputs(root, names)
        port = _free_port()
        proc = dashboards.serve(port=port, wait=False, quiet=True, env={"WORKBOOK_ROOT": str(root)})
        try:
            base = f"http://127.0.0.1:{port}/voila/render/"
            _wait_http(base + "index.ipynb")
            time.sleep(10)  # let the kernel pool finish warming
            urls = [f"{base}team.ipynb?team={names[i % teams]}" for i in range(loads)]
            t = _time_loads(urls, "img.wb-chart", pause)
            result["ours_first_chart_s"] = {
                "median": round(statistics.median(t), 3),
                "max": round(max(t), 3),
                "all": [round(x, 3) for x in t],
            }
            result["ours_server_memory"] = _memory(proc.pid)
        finally:
            _stop(proc)
        if plain:
            demo = paths.default_warehouse()
            if not demo.exists():
                from helpers.data.demo import DemoSpec, generate

                demo = root / "demo.duckdb"
                generate(DemoSpec(events=400_000, accounts=1200), demo)
            folder = root / "plain"
            folder.mkdir()
            nb_path, what = _plain_notebook(folder, str(demo))
            port = _free_port()
            cmd = [
                sys.executable,
                "-m",
                "voila",
                str(nb_path),
                "--no-browser",
                f"--Voila.port={port}",
                "--Voila.ip=127.0.0.1",
            ]
            proc = subprocess.Popen(
                cmd,
                cwd=folder,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
                env={**os.environ, "WORKBOOK_ROOT": str(root)},
            )
            try:
                url = f"http://127.0.0.1:{port}/"
                _wait_http(url, timeout=300)
                t = _time_loads([url] * loads, ".jp-OutputArea-output img", pause)
                result["plain_voila_first_chart_s"] = {
                    "median": round(statistics.median(t), 3),
                    "max": round(max(t), 3),
                    "all": [round(x, 3) for x in t],
                }
                result["plain_voila_notebook"] = what
                result["plain_voila_memory"] = _memory(proc.pid)
            finally:
                _stop(proc)
    return result


def main() -> None:
    print(json.dumps(run()))


if __name__ == "__main__":
    main()
