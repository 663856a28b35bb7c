"""The dashboards in a real browser: Voila started by `serve()`, Debian's Chromium driven by Playwright.

One server (three preheated team-page kernels) and one browser serve every test of this module.
A screenshot of a team page is kept in ``test-artifacts/``.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import time
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from support.dashboard_runs import ANSWERS, write_params, write_run

from helpers import dashboards, paths
from helpers.errors import WorkbookError

pytestmark = pytest.mark.slow

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = paths.ROOT / "test-artifacts"
TEAMS = ["admin", "analytics", "collaboration", "integrations"]  # collaboration: no run yet
SECRET = "TOPSECRET-not-for-visitors"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_http(url: str, timeout: float) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            with urllib.request.urlopen(url, timeout=30) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise AssertionError(f"{url} did not answer within {timeout} s")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """Voila on a free port over a workbook root with three teams' runs."""
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (.ci/run does)")
    root = tmp_path_factory.mktemp("dash")
    write_params(root, TEAMS)
    for team in ("admin", "analytics", "integrations"):
        write_run(root / "outputs", team)
    (root / "secret.txt").write_text(SECRET)  # outside outputs/: must never be shown
    port = _free_port()
    proc = dashboards.serve(
        port=port, pool_size=3, wait=False, quiet=True, env={"WORKBOOK_ROOT": str(root)}
    )
    base = f"http://127.0.0.1:{port}/voila/render/"
    try:
        _wait_http(base + "index.ipynb", timeout=60)
        yield {"base": base, "port": port, "root": root}
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except Exception:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        context = b.new_context()  # one cache: Voila's JavaScript is parsed once
        yield context
        context.close()
        b.close()


@pytest.fixture
def page(browser):
    pg = browser.new_page()
    # generous limits: on a busy 2-core CI machine a fresh kernel can take long to start
    # (speed is measured by benchmarks/dashboard_bench.py, not here)
    pg.set_default_navigation_timeout(90_000)
    yield pg
    pg.goto("about:blank")  # lets Voila shut the page's kernel down
    pg.close()


def _assert_clean(page) -> None:
    """No code, no traceback, no error output on the page."""
    body = page.inner_text("body")
    for bad in ("Traceback", "There was an error", "Error:", "dashboards.show", "import "):
        assert bad not in body, bad
    assert page.locator(".jp-InputArea, .jp-CodeMirrorEditor").count() == 0
    assert page.locator('[data-mime-type="application/vnd.jupyter.stderr"]').count() == 0


def test_landing_page_lists_every_team_with_its_status(server, page):
    page.goto(server["base"] + "index.ipynb")
    links = page.locator("a.wb-team-link")
    links.first.wait_for(timeout=90_000)
    assert links.count() == len(TEAMS)
    rows = page.inner_text("table.wb-teams")
    assert "2026-10-31" in rows and "succeeded" in rows and "no run yet" in rows
    _assert_clean(page)


def test_team_page_shows_answers_chart_and_run_time(server, page):
    page.goto(server["base"] + "team.ipynb?team=analytics")
    page.locator("img.wb-chart").first.wait_for(state="visible", timeout=90_000)
    body = page.inner_text("body")
    assert ANSWERS["feature_demand"].format(title="Analytics") in body
    assert "As of 2026-10-31, run 2026-10-31 01:31 UTC" in body
    page.locator(".wb-controls select").first.wait_for(timeout=90_000)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "dashboard_team.png"), full_page=True)
    _assert_clean(page)


def test_team_widget_switches_to_another_team(server, page):
    page.goto(server["base"] + "team.ipynb?team=analytics")
    team_select = page.locator(".wb-controls select").first
    team_select.wait_for(timeout=90_000)
    team_select.select_option(value=None, label="Admin")
    page.locator(".wb-view h1", has_text="Admin").wait_for(timeout=15_000)
    assert page.locator(".wb-initial").is_hidden()
    assert ANSWERS["metric_trends"].format(title="Admin") in page.inner_text(".wb-view")
    _assert_clean(page)


def test_analysis_widget_shows_only_that_analysis(server, page):
    page.goto(server["base"] + "team.ipynb?team=analytics")
    analysis = page.locator(".wb-controls select").nth(1)
    analysis.wait_for(timeout=90_000)
    analysis.select_option(label="Metric trends")
    page.locator(".wb-view h2", has_text="Metric trends").wait_for(timeout=15_000)
    assert page.locator(".wb-view h2").all_inner_texts() == ["Metric trends"]
    _assert_clean(page)


@pytest.mark.parametrize(
    "query",
    ["team=..%2F..%2Fsecret.txt", "team=analytics/../../../etc/passwd"],
)
def test_path_traversal_in_query_string_is_refused(server, page, query):
    page.goto(server["base"] + "team.ipynb?" + query)
    page.locator(".wb-notice").wait_for(timeout=90_000)
    body = page.inner_text("body")
    assert SECRET not in body and "root:" not in body
    assert page.locator("img.wb-chart").count() == 0
    _assert_clean(page)


def test_unknown_team_in_query_string_is_refused(server, page):
    page.goto(server["base"] + "team.ipynb?team=marketing")
    notice = page.locator(".wb-notice")
    notice.wait_for(timeout=90_000)
    assert "must be one of" in notice.inner_text()
    _assert_clean(page)


@pytest.mark.parametrize("query", ["team=" + "a" * 500, "team=anal%C3%BDtics"])
def test_overlong_and_non_ascii_values_are_refused(server, page, query):
    page.goto(server["base"] + "team.ipynb?" + query)
    page.locator(".wb-notice").wait_for(timeout=90_000)
    assert page.locator("img.wb-chart").count() == 0
    _assert_clean(page)


async def _send_over_kernel_ws(port: int, kernel_id: str, msg_types: list[str], code: str):
    """Send messages on the page's kernel websocket; return the reply types seen in 2 s."""
    from tornado.websocket import websocket_connect

    ws = await websocket_connect(f"ws://127.0.0.1:{port}/api/kernels/{kernel_id}/channels")
    session = uuid.uuid4().hex
    for msg_type in msg_types:
        content = {"code": code, "silent": False} if msg_type == "execute_request" else {}
        header = {
            "msg_id": uuid.uuid4().hex,
            "msg_type": msg_type,
            "session": session,
            "username": "",
            "version": "5.3",
            "date": "",
        }
        ws.write_message(
            json.dumps(
                {
                    "header": header,
                    "parent_header": {},
                    "metadata": {},
                    "content": content,
                    "channel": "shell",
                    "buffers": [],
                }
            )
        )
    seen = []
    end = time.monotonic() + 2
    while time.monotonic() < end:
        try:
            raw = await asyncio.wait_for(ws.read_message(), timeout=end - time.monotonic())
        except TimeoutError:
            break
        if raw is None:
            break
        if isinstance(raw, str):
            seen.append(json.loads(raw)["header"]["msg_type"])
    ws.close()
    return seen


def test_execute_request_over_kernel_websocket_is_refused(server, page, tmp_path):
    page.goto(server["base"] + "team.ipynb?team=analytics")
    page.locator(".wb-controls select").first.wait_for(timeout=90_000)
    config = json.loads(page.locator("#jupyter-config-data").text_content())
    marker = tmp_path / "pwned"
    code = f"open({str(marker)!r}, 'w').write('x')"
    send = _send_over_kernel_ws(
        server["port"], config["kernelId"], ["execute_request", "kernel_info_request"], code
    )
    with ThreadPoolExecutor(1) as pool:  # Playwright's sync API owns this thread's loop
        seen = pool.submit(asyncio.run, send).result()
    assert "kernel_info_reply" in seen  # the channel works...
    assert "execute_reply" not in seen and "execute_input" not in seen  # ...but runs nothing
    time.sleep(0.5)
    assert not marker.exists()


def test_non_loopback_bind_without_token_is_refused(monkeypatch):
    monkeypatch.delenv("WORKBOOK_DASHBOARD_TOKEN", raising=False)
    with pytest.raises(WorkbookError, match="token"):
        dashboards.serve(host="0.0.0.0", port=_free_port(), wait=False, quiet=True)
