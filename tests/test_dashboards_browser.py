"""The PM pages in a real browser and over plain HTTP: the server started by `serve()`,
Debian's Chromium driven by Playwright.

One server and one browser serve every test of this module. The server serves four teams'
recorded pages and one interactive (Voila) page with a slider, with short kernel timeouts
(a cap of 2 kernels for visitors, unconnected kernels shut after 4 s) so the bounds show
within seconds. A screenshot of a team page is kept in ``test-artifacts/``.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import json
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pandas as pd
import psutil
import pytest
from support.dashboard_runs import (
    PLAIN_ANSWERS,
    write_live_notebook,
    write_params,
    write_run,
)

from helpers import dashboards, paths

pytestmark = pytest.mark.slow

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = paths.ROOT / "test-artifacts"
TEAMS = ["admin", "analytics", "collaboration", "integrations"]  # collaboration: no run yet
SECRET = "TOPSECRET-not-for-visitors"
EVIL = "<img src=x onerror=alert(1)>"


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(port: int, path: str, host: str | None = None) -> tuple[int, dict, str]:
    """One GET (no redirect followed): status, headers (lower-case names), body."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.request("GET", path, headers={"Host": host} if host else {})
    r = conn.getresponse()
    body = r.read().decode("utf-8", "replace")
    conn.close()
    return r.status, {k.lower(): v for k, v in r.getheaders()}, body


def _kernels(pid: int) -> int:
    """Live kernel processes of the server (a kernel being reaped is not counted)."""
    count = 0
    for p in psutil.Process(pid).children(recursive=True):
        with contextlib.suppress(psutil.Error):  # gone, or a zombie waiting to be reaped
            count += "ipykernel" in " ".join(p.cmdline())
    return count


def _until(predicate, timeout: float, what: str) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return
        time.sleep(0.25)
    raise AssertionError(f"{what} within {timeout} s")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The dashboards on a free port: four teams, one live notebook, short kernel timeouts."""
    import os

    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (.ci/run does)")
    root = tmp_path_factory.mktemp("dash")
    write_params(root, TEAMS)
    for team in ("admin", "analytics", "integrations"):
        write_run(root / "outputs", team)
    evil = root / "outputs" / "integrations" / "latest"
    (evil / "answers" / "feature_demand.json").write_text(
        json.dumps({"answer": [f"{EVIL} is most wanted."], "facts": {}})
    )
    table = evil / "tables" / "feature_demand" / "segments.parquet"
    pd.DataFrame({"feature": [EVIL, "dark_mode"], "accounts": [3, 4]}).to_parquet(table)
    (root / "secret.txt").write_text(SECRET)  # outside outputs/: must never be shown
    live = root / "live"
    write_live_notebook(live)
    port = _free_port()
    proc = dashboards.serve(
        port=port,
        pool_size=1,
        max_kernels=2,
        unconnected_s=4,
        disconnected_s=3,
        cull_interval_s=1,
        notebooks_dir=live,
        wait=False,
        quiet=True,
        env={"WORKBOOK_ROOT": str(root)},
    )
    try:
        _until(lambda: _ok(port), 60, "the server answers")
        _until(lambda: _kernels(proc.pid) == 1, 60, "the live page's kernel pool fills")
        yield {"base": f"http://127.0.0.1:{port}/", "port": port, "root": root, "pid": proc.pid}
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
        b = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        context = b.new_context()
        yield context
        context.close()
        b.close()


@pytest.fixture
def page(browser):
    pg = browser.new_page()
    pg.set_default_navigation_timeout(60_000)
    pg.set_default_timeout(60_000)
    dialogs: list[str] = []
    pg.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    pg.dialogs = dialogs
    yield pg
    pg.goto("about:blank")
    pg.close()


def _assert_clean(page) -> None:
    """No code, no traceback, no error output on the page."""
    body = page.inner_text("body")
    for bad in ("Traceback", "There was an error", "Error:", "dashboards.", "import "):
        assert bad not in body, bad
    assert page.locator(".jp-InputArea, .jp-CodeMirrorEditor").count() == 0


def _first_chart_loaded(page) -> None:
    page.wait_for_function(
        "() => { const i = document.querySelector('img.wb-chart');"
        " return i && i.complete && i.naturalWidth > 0; }"
    )


def test_root_address_is_the_team_list_with_every_status(server, page):
    page.goto(server["base"])
    links = page.locator("a.wb-team-link")
    assert links.count() == len(TEAMS)
    rows = page.inner_text("table.wb-teams")
    assert "2026-10-31" in rows and "succeeded" in rows and "no run yet" in rows
    _assert_clean(page)


def test_team_page_shows_answers_and_chart_and_takes_no_kernel(server, page):
    before = _kernels(server["pid"])
    page.goto(server["base"])
    page.locator("a.wb-team-link", has_text="Analytics").click()
    _first_chart_loaded(page)
    body = page.inner_text("body")
    assert PLAIN_ANSWERS["feature_demand"].format(title="Analytics") in body
    assert "As of 2026-10-31, run 2026-10-31 01:31 UTC" in body
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "dashboard_team.png"), full_page=True)
    _assert_clean(page)
    assert _kernels(server["pid"]) == before


def test_analysis_and_table_links_and_the_team_picker_navigate(server, page):
    page.goto(server["base"] + "team/analytics")
    page.locator("a.wb-tab", has_text="Metric trends").click()
    assert page.locator("section h2").all_inner_texts() == ["Metric trends"]
    page.locator("a.wb-table-tab", has_text="Shares").click()
    assert "table=shares" in page.url
    assert page.locator("section h3").all_inner_texts() == ["Shares"]
    page.select_option("select[name=team]", label="Admin")
    page.locator("form.wb-switch button").click()
    page.locator("h1.wb-title", has_text="Admin").wait_for()
    assert page.url.endswith("/team/admin")
    assert PLAIN_ANSWERS["metric_trends"].format(title="Admin") in page.inner_text("body")


@pytest.mark.parametrize(
    "address",
    [
        "team/..%2F..%2Fsecret.txt",
        "team/analytics?analysis=..%2F..%2F..%2Fetc%2Fpasswd",
        "team/marketing",
        "team/" + "a" * 500,
        "team/anal%C3%BDtics",
        "voila/render/team.ipynb?team=..%2Fsecret.txt",
    ],
)
def test_bad_addresses_show_a_notice_and_nothing_else(server, page, address):
    page.goto(server["base"] + address)
    page.locator(".wb-notice").wait_for()
    body = page.inner_text("body")
    assert SECRET not in body and "root:" not in body
    assert page.locator("img.wb-chart").count() == 0
    _assert_clean(page)


def test_a_feature_named_like_markup_shows_as_text_and_runs_nothing(server, page):
    page.goto(server["base"] + "team/integrations?analysis=feature_demand&table=segments")
    _first_chart_loaded(page)
    body = page.inner_text("body")
    assert f"{EVIL} is most wanted." in body  # shown as written...
    assert body.count(EVIL) == 2  # ...in the answer and in the table
    assert page.locator("img[src=x]").count() == 0 and page.dialogs == []  # ...and inert


@pytest.mark.parametrize(
    "path",
    ["/", "/team/analytics", "/voila/render/live.ipynb", "/voila/static/voila.js", "/nosuch"],
)
def test_a_request_naming_another_host_is_refused(server, path):
    before = _kernels(server["pid"])
    status, _, body = _get(server["port"], path, host="evil.example")
    assert status == 403 and "Analytics" not in body
    assert _get(server["port"], "/", host=f"localhost:{server['port']}")[0] == 200
    assert _kernels(server["pid"]) == before


def test_every_response_carries_a_csp_and_no_referrer(server):
    port = server["port"]
    run = (server["root"] / "outputs" / "analytics" / "latest").resolve().name
    for path in [
        "/",
        "/team/analytics",
        f"/files/analytics/{run}/figures/metric_trends/overview.png",
        "/nosuch",
        "/voila/render/live.ipynb?template=x",
        "/voila/static/voila.js",
    ]:
        _, headers, _ = _get(port, path)
        assert headers.get("referrer-policy") == "no-referrer", path
        assert "frame-ancestors 'none'" in headers.get("content-security-policy", ""), path
    _, headers, _ = _get(port, "/team/analytics")
    assert "script-src" not in headers["content-security-policy"]  # no script on team pages


def test_template_and_theme_overrides_are_refused_before_any_kernel(server):
    before = _kernels(server["pid"])
    for i in range(15):
        query = "template=x" if i % 2 else "theme=dark"
        status, _, _ = _get(server["port"], f"/voila/render/live.ipynb?{query}")
        assert status == 400
    assert _get(server["port"], "/voila/render/team.ipynb?team=nosuch&template=x")[0] == 400
    time.sleep(1)
    assert _kernels(server["pid"]) == before


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
        message = {
            "header": header,
            "parent_header": {},
            "metadata": {},
            "content": content,
            "channel": "shell",
            "buffers": [],
        }
        ws.write_message(json.dumps(message))
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


def test_live_page_works_refuses_code_and_its_kernel_goes_when_the_tab_leaves(
    server, page, tmp_path
):
    page.goto(server["base"] + "voila/render/live.ipynb")
    page.locator(".widget-slider").first.wait_for()
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
    assert not marker.exists()
    _until(lambda: _kernels(server["pid"]) == 2, 20, "the pool refills beside the visitor")
    page.goto(server["base"])  # navigating away shuts the page's kernel
    _until(lambda: _kernels(server["pid"]) == 1, 10, "the visitor's kernel is shut")


def test_above_the_kernel_cap_a_live_page_says_busy_and_starts_nothing(server, browser):
    tabs = [browser.new_page() for _ in range(2)]
    try:
        for tab in tabs:
            tab.goto(server["base"] + "voila/render/live.ipynb", timeout=60_000)
            tab.locator(".widget-slider").first.wait_for(timeout=60_000)
        _until(lambda: _kernels(server["pid"]) == 3, 20, "two visitors and a refilled pool")
        status, headers, body = _get(server["port"], "/voila/render/live.ipynb")
        assert status == 503 and headers.get("retry-after") == "5"
        assert "busy" in body and "try again in a moment" in body
        time.sleep(1)
        assert _kernels(server["pid"]) == 3
    finally:
        for tab in tabs:
            tab.goto("about:blank")
            tab.close()
    _until(lambda: _kernels(server["pid"]) == 1, 15, "the two visitors' kernels are shut")


def test_a_kernel_no_browser_connects_to_is_shut_down(server):
    status, _, _ = _get(server["port"], "/voila/render/live.ipynb")  # no JavaScript runs
    assert status == 200
    _until(lambda: _kernels(server["pid"]) == 2, 20, "the pool refills beside the request")
    # unconnected_s=4 and a 1 s culling pass: gone a few seconds later, never 16 minutes
    _until(lambda: _kernels(server["pid"]) == 1, 15, "the unconnected kernel is shut")
