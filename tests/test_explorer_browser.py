"""The live explorer served by `serve()` and driven in Debian's Chromium (Playwright).

One server and one browser for the module: four demo teams on the small demo warehouse,
the real ``dashboards/explore.ipynb``, a cap of 2 kernels for visitors. The weekly values a
shared link shows are compared with those an actual ``workbook run`` (papermill) of
``notebooks/metric_trends`` recorded with the params the page's "keep this as a weekly
report" box gives, read with plain pandas.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import shutil
import time

import pandas as pd
import psutil
import pytest
import yaml
from support.cli import cli
from support.dashboard_runs import write_run

from helpers import dashboards, paths

pytestmark = pytest.mark.slow

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
LINK = "team=analytics&metric=active_accounts&segment_column=plan&segment_value=enterprise"
PAGE = "voila/render/explore.ipynb"


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(port: int, path: str) -> tuple[int, dict, str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    conn.request("GET", path)
    r = conn.getresponse()
    body = r.read().decode("utf-8", "replace")
    conn.close()
    return r.status, {k.lower(): v for k, v in r.getheaders()}, body


def _kernels(pid: int) -> list[psutil.Process]:
    out = []
    for p in psutil.Process(pid).children(recursive=True):
        with contextlib.suppress(psutil.Error):
            if "ipykernel" in " ".join(p.cmdline()):
                out.append(p)
    return out


def _pss_mib(pid: int) -> float:
    total = 0
    root = psutil.Process(pid)
    for p in [root, *root.children(recursive=True)]:
        with contextlib.suppress(psutil.Error):
            total += p.memory_full_info().pss
    return total / 2**20


def _until(predicate, timeout: float, what: str) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return
        time.sleep(0.25)
    raise AssertionError(f"{what} within {timeout} s")


@pytest.fixture(scope="module")
def site(tmp_path_factory, demo_path):
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (.ci/run does)")
    root = tmp_path_factory.mktemp("explore-site")
    shutil.copytree(paths.ROOT / "params", root / "params")
    (root / "data").mkdir()
    (root / "data" / "demo.duckdb").symlink_to(demo_path)
    (root / "outputs").mkdir()
    write_run(root / "outputs", "admin")  # a recorded team page, to link from
    env = {
        "WORKBOOK_ROOT": str(root),
        "WORKBOOK_EXPLORE_CACHE": str(tmp_path_factory.mktemp("explore-cache")),
    }
    port = _free_port()
    proc = dashboards.serve(
        port=port,
        pool_size=1,
        max_kernels=2,
        unconnected_s=60,
        disconnected_s=3,
        cull_interval_s=1,
        wait=False,
        quiet=True,
        env=env,
    )
    try:
        _until(lambda: _ok(port), 60, "the server answers")
        _until(lambda: len(_kernels(proc.pid)) == 1, 90, "the explorer's kernel pool fills")
        yield {"base": f"http://127.0.0.1:{port}/", "port": port, "root": root, "pid": proc.pid,
               "env": env}  # fmt: skip
    finally:
        dashboards.stop_server(proc)


def _ok(port: int) -> bool:
    try:
        return _get(port, "/")[0] == 200
    except OSError:
        return False


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        context = b.new_context()
        yield context
        context.close()
        b.close()


@pytest.fixture
def page(browser):
    pg = browser.new_page()
    pg.set_default_timeout(120_000)
    pg.set_default_navigation_timeout(180_000)
    yield pg
    pg.goto("about:blank")
    pg.close()


def _answer_shown(page, query_part: str = "") -> None:
    # the whole view: the answer and chart come first, the forecast follows in place
    page.locator(
        f'.wb-explore[data-view*="{query_part}"][data-complete="1"] img.wb-series'
    ).wait_for()


def _clean(page) -> None:
    body = page.inner_text("body")
    for bad in ("Traceback", "Error:", "import ", "helpers."):
        assert bad not in body, bad


def test_a_shared_link_shows_the_weekly_values_of_the_scheduled_notebook(site, page):
    page.goto(site["base"] + PAGE + "?" + LINK)
    _answer_shown(page, "segment_value=enterprise")
    _clean(page)
    rows = page.eval_on_selector_all(
        ".wb-values-table tbody tr",
        "rows => rows.map(r => [r.cells[0].textContent, r.cells[1].dataset.v ?? null,"
        " r.cells[2].textContent])",
    )
    shown = {p: float(v) for p, v, status in rows if status == "complete" and v is not None}
    sentences = page.locator(".wb-answer li").all_inner_texts()
    # the "keep this as a weekly report" box: a team file and the command that runs it
    text = page.text_content("pre.wb-yaml")
    line = page.text_content("pre.wb-run")
    as_of = page.text_content(".wb-keep code").split()[-1]
    params = yaml.safe_load(text)
    mt = params["metric_trends"]
    assert (mt["metric"], mt["grain"], mt["segment_column"], mt["segment_value"]) == (
        "active_accounts",
        "week",
        "plan",
        "enterprise",
    )
    team = line.split("--team ")[1].split()[0]
    (site["root"] / "params" / f"{team}.yaml").write_text(text)
    run = cli(*line.split()[1:], "--as-of", as_of, env=site["env"], timeout=600)
    assert run.returncode == 0, run.stdout + run.stderr
    latest = site["root"] / "outputs" / team / "latest"
    recorded = pd.read_parquet(latest / "tables" / "metric_trends" / "series.parquet")
    recorded = recorded[recorded.status == "complete"]
    expected = {
        f"{p:%Y-%m-%d}": float(v) for p, v in zip(recorded.period, recorded.value, strict=True)
    }
    assert len(expected) > 50 and shown == expected
    answer = json.loads((latest / "answers" / "metric_trends.json").read_text())
    assert sentences == answer["answer"]


def test_links_outside_the_choices_show_one_sentence(site, page):
    for query in (
        "team=analytics&metric=nosuch_metric",
        "team=analytics&segment_column=plan&segment_value=__import__('os').system('id')",
        "team=analyt%C3%BDics&metric=" + "a" * 80,
    ):
        page.goto(site["base"] + PAGE + "?" + query)
        page.locator(".wb-notice").wait_for()
        assert page.locator(".wb-notice").count() == 1
        assert page.locator("img.wb-series").count() == 0
        _clean(page)


def test_widgets_update_the_page_in_place_and_a_repeated_view_is_kept(site, page):
    page.goto(site["base"] + PAGE + "?team=analytics&metric=events&grain=month&compare_by=none")
    _answer_shown(page, "grain=month")
    url = page.url
    page.select_option(".wb-x-compare-by select", "region")
    _answer_shown(page, "compare_by=region")
    assert page.locator("img.wb-segments").count() == 1  # the breakdown's small multiples
    assert "compare_by=region" in page.get_attribute("a.wb-share", "href")
    page.select_option(".wb-x-compare-by select", label="no breakdown")
    _answer_shown(page, "compare_by=none")
    assert "kept in this page" in page.inner_text(".wb-loaded")
    assert "Data loaded: events up to" in page.inner_text(".wb-loaded")
    assert page.url == url  # in place: no navigation
    # the share link restores the view in a new page
    page.goto(site["base"] + PAGE + page.get_attribute("a.wb-share", "href"))
    _answer_shown(page, "compare_by=none")
    assert page.locator(".wb-x-grain select").input_value() == "month"


def test_team_pages_link_to_the_explorer(site):
    status, _, body = _get(site["port"], "/team/admin")
    assert status == 200
    assert f'href="/{PAGE}?team=admin"' in body


def test_explorer_kernels_obey_the_cap_and_the_memory_bound(site, browser):
    tabs = [browser.new_page() for _ in range(2)]
    try:
        for tab in tabs:
            tab.set_default_timeout(120_000)
            tab.goto(site["base"] + PAGE + "?team=admin&metric=events&grain=month")
            _answer_shown(tab, "team=admin")
        _until(lambda: len(_kernels(site["pid"])) == 3, 60, "two visitors and a refilled pool")
        status, headers, body = _get(site["port"], "/" + PAGE + "?team=admin")
        assert status == 503 and headers.get("retry-after") == "5" and "busy" in body
        time.sleep(1)
        assert len(_kernels(site["pid"])) == 3
        # the server, two visitors' kernels and the preheated one: within the PM pages' bound
        assert _pss_mib(site["pid"]) <= 1536
    finally:
        for tab in tabs:
            tab.goto("about:blank")
            tab.close()
    _until(lambda: len(_kernels(site["pid"])) == 1, 30, "the visitors' kernels are shut")
