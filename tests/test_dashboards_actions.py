"""PM pages people act on, in headless Chromium: who slipped (and its downloads), addresses
that follow every picker, the printed page, the one-file export offline, and the team list's
numbers and stale flags.

One server and one browser serve the module. The analytics team's customer segmentation is
real: ``segment()`` on the small demo warehouse, recorded with the notebook's own
``Recorder`` calls; its other analyses and the other teams are recorded stand-ins
(``support.dashboard_runs``). Expected values are read from the recorded files with plain
pandas and json, never from the page code.
"""

from __future__ import annotations

import datetime as dt
import http.client
import io
import json
import re
import shutil
import socket
import time

import pandas as pd
import pytest
from support.dashboard_runs import write_params, write_run

from helpers import dashboards, paths

pytestmark = pytest.mark.slow

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = paths.ROOT / "test-artifacts"
TEAMS = ["admin", "analytics", "billing"]
#: The standard RFM rule table's healthy segments (docs/segmentation.md: recent, or
#: average recency with above-average frequency and money, and not at risk).
HEALTHY = {"Champions", "Loyal", "Potential Loyalist", "New Customers", "Promising"}
ANALYSES = ["Customer segments", "Feature demand", "Metric trends"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(port: int, path: str) -> tuple[int, dict, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.request("GET", path)
    r = conn.getresponse()
    body = r.read()
    conn.close()
    return r.status, {k.lower(): v for k, v in r.getheaders()}, body


def _record_segmentation(run, demo_path) -> None:
    """What the segmentation notebook records, from a real ``segment()`` on the demo."""
    from helpers.customer_segmentation import plots, segment
    from helpers.data import connect, resolve_as_of
    from helpers.results import Recorder

    for kind in ("tables", "figures"):
        shutil.rmtree(run / kind / "customer_segmentation")
    with connect(str(demo_path)) as wh:
        seg = segment(wh, product_area="analytics", as_of=resolve_as_of(wh, None), stability_runs=3)
    rec = Recorder(run, "customer_segmentation")
    rec.answer(seg.summary(), **seg.facts())
    rec.figure("rfm_segments", plots.size_and_arr_bars(seg.summaries["rfm_segment"]))
    if seg.clusters is not None and seg.clusters.ok:
        rec.figure("cluster_projection", plots.projection_scatter(seg.clusters.projection))
    for name, table in seg.tables().items():
        rec.table(name, table, csv=True)


@pytest.fixture(scope="module")
def site(tmp_path_factory, demo_path):
    import os

    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (.ci/run does)")
    root = tmp_path_factory.mktemp("act")
    write_params(root, TEAMS)
    out = root / "outputs"
    now = dt.datetime.now(dt.UTC)
    today = now.date()
    # analytics: fresh (data of yesterday, run an hour ago), with a real segmentation
    run = write_run(
        out,
        "analytics",
        as_of=str(today - dt.timedelta(days=1)),
        started=now - dt.timedelta(hours=1),
    )
    _record_segmentation(run, demo_path)
    # admin: fresh too, stand-in answers with facts; billing: its last run 30 days ago
    admin = write_run(
        out, "admin", as_of=str(today - dt.timedelta(days=1)), started=now - dt.timedelta(hours=2)
    )
    answer = admin / "answers" / "customer_segmentation.json"
    data = json.loads(answer.read_text())
    data["facts"] = {
        "slipped_accounts": 7,
        "slipped_money": 412_345.0,
        "at_risk_accounts": 19,
        "at_risk_money": 987_654.0,
        "money": "ARR",
        "previous_as_of": "2026-01-01",
    }
    answer.write_text(json.dumps(data))
    old = now - dt.timedelta(days=30)
    write_run(out, "billing", as_of=str(old.date() - dt.timedelta(days=1)), started=old)
    (root / "live").mkdir()
    port = _free_port()
    proc = dashboards.serve(
        port=port,
        notebooks_dir=root / "live",
        wait=False,
        quiet=True,
        env={"WORKBOOK_ROOT": str(root)},
    )
    try:
        end = time.monotonic() + 60
        while time.monotonic() < end:
            try:
                if _get(port, "/")[0] == 200:
                    break
            except OSError:
                time.sleep(0.25)
        yield {"base": f"http://127.0.0.1:{port}/", "port": port, "root": root, "run": run}
    finally:
        dashboards.stop_server(proc)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield b
        b.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(accept_downloads=True)
    pg = context.new_page()
    pg.set_default_timeout(30_000)
    yield pg
    context.close()


def _slipped(run) -> pd.DataFrame:
    """The recorded movement table's accounts that left a healthy segment, by ARR."""
    moves = pd.read_parquet(run / "tables/customer_segmentation/account_moves_rfm_segment.parquet")
    out = moves[moves.previous_segment.isin(HEALTHY) & ~moves.segment.isin(HEALTHY)]
    return out.sort_values(["arr", "account_id"], ascending=[False, True], kind="stable")


def _shown_ids(page, anchor: str) -> list[str]:
    table = page.locator(f"h3#{anchor} ~ div.wb-table table").first
    return table.locator("tbody tr td:first-child").all_inner_texts()


def test_slipping_list_equals_the_recorded_movement_table_and_downloads_as_csv(site, page):
    expected = _slipped(site["run"])
    assert 0 < len(expected) <= 200  # the demo plants slips; all fit on the page
    page.goto(site["base"] + "team/analytics?analysis=customer_segmentation&table=slipping")
    anchor = "customer_segmentation--slipping"
    assert _shown_ids(page, anchor) == expected.account_id.tolist()
    with page.expect_download() as info:
        page.locator(f"h3#{anchor} ~ p.wb-download a", has_text="CSV").first.click()
    got = pd.read_csv(info.value.path())
    assert got.account_id.tolist() == expected.account_id.tolist()
    assert got.arr.tolist() == pytest.approx(expected.arr.tolist())
    assert {"name", "plan", "region", "previous_segment", "last_active", "open_requests"} <= set(
        got.columns
    )


def test_the_overview_puts_who_slipped_under_the_answer_with_a_next_step(site, page):
    expected = _slipped(site["run"])
    page.goto(site["base"] + "team/analytics")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "dashboard_team_actions.png"), full_page=True)
    section = page.locator("section#customer_segmentation")
    assert f"Call these {len(expected):,} accounts" in section.locator(".wb-next").inner_text()
    heads = section.locator("h3").all_inner_texts()
    assert heads[0].startswith("Who slipped")
    # diagnostics are collapsed: the cluster projection is there but not shown
    assert not section.locator("img[alt='Cluster projection']").is_visible()
    section.locator("label.wb-evidence-label").click()
    assert section.locator("img[alt='Cluster projection']").is_visible()


def test_a_filter_narrows_the_list_and_both_downloads_hold_what_is_shown(site, page):
    expected = _slipped(site["run"])
    text = expected.region.iloc[0]
    # the text columns (a filter matches text, as a PM types it: any case)
    words = expected[["account_id", "name", "plan", "region", "previous_segment", "segment"]]
    mask = words.apply(lambda c: c.str.contains(text, case=False, regex=False)).any(axis=1)
    expected = expected[mask]
    page.goto(site["base"] + "team/analytics?analysis=customer_segmentation&table=slipping")
    page.fill("form.wb-filter input[name=q]", text)
    page.locator("form.wb-filter button").click()
    page.wait_for_url(re.compile(r"q="))
    anchor = "customer_segmentation--slipping"
    assert _shown_ids(page, anchor) == expected.account_id.tolist()
    with page.expect_download() as info:
        page.locator(f"h3#{anchor} ~ p.wb-download a", has_text="CSV").first.click()
    assert pd.read_csv(info.value.path()).account_id.tolist() == expected.account_id.tolist()
    with page.expect_download() as info:
        page.locator(f"h3#{anchor} ~ p.wb-download a", has_text="XLSX").first.click()
    xlsx = pd.read_excel(info.value.path(), engine="openpyxl")
    assert xlsx.account_id.tolist() == expected.account_id.tolist()


def test_pickers_change_the_address_which_restores_the_view_and_back_returns(site, page):
    base = site["base"] + "team/analytics"
    page.goto(base)
    page.locator("a.wb-tab", has_text="Customer segments").click()
    page.wait_for_url(re.compile(r"analysis=customer_segmentation"))
    page.locator("a.wb-table-tab", has_text="Slipping").click()
    page.wait_for_url(re.compile(r"table=slipping"))
    anchor = "customer_segmentation--slipping"
    before = _shown_ids(page, anchor)
    page.locator(f"h3#{anchor} ~ div.wb-table th", has_text="Open requests").locator(
        "a.wb-sort"
    ).click()
    page.wait_for_url(re.compile(r"sort=open_requests"))
    sorted_url, sorted_ids = page.url, _shown_ids(page, anchor)
    moves = _slipped(site["run"])
    by_requests = moves.sort_values("open_requests", ascending=False, kind="stable")
    assert [int(x) for x in by_requests.open_requests] == sorted(
        moves.open_requests.astype(int), reverse=True
    )
    shown_requests = (
        page.locator(f"h3#{anchor} ~ div.wb-table table")
        .first.locator("tbody tr td:last-child")
        .all_inner_texts()
    )
    assert [int(x) for x in shown_requests] == sorted(moves.open_requests.astype(int), reverse=True)
    # the address alone restores the view, in a fresh tab
    other = page.context.new_page()
    other.goto(sorted_url)
    assert _shown_ids(other, anchor) == sorted_ids
    assert other.locator("a.wb-tab[aria-current=page]").inner_text() == "Customer segments"
    other.close()
    # Back returns to each previous view
    page.go_back()
    assert "sort=" not in page.url and _shown_ids(page, anchor) == before
    page.go_back()
    assert "table=" not in page.url and "analysis=customer_segmentation" in page.url
    page.go_back()
    assert page.url == base
    # the team picker changes the address too
    page.select_option("select[name=team]", value="admin")
    page.locator("form.wb-switch button").click()
    page.wait_for_url(re.compile(r"/team/admin$"))
    page.go_back()
    assert page.url == base


def test_tabs_are_titled_by_team_and_analysis(site, page):
    page.goto(site["base"] + "team/analytics?analysis=feature_demand")
    assert page.title().startswith("Analytics · Feature demand")


def test_printed_page_has_every_analysis_and_the_collapsed_evidence(site, page):
    from pypdf import PdfReader

    page.goto(site["base"] + "team/analytics")
    page.wait_for_function(
        "() => [...document.querySelectorAll('img.wb-chart')].every(i => i.complete)"
    )
    pdf = PdfReader(io.BytesIO(page.pdf(format="A4")))
    text = " ".join(p.extract_text() for p in pdf.pages)
    flat = re.sub(r"\s+", " ", text)
    for title in ANALYSES:
        assert flat.count(title) >= 2, title  # in the answers and as a section
    # tables inside the collapsed "How sure are we?" print as well
    for table in ("Summary RFM segment", "Shares"):
        assert table in flat, table
    assert len(pdf.pages) >= len(ANALYSES)


def test_the_export_is_one_clean_file_that_opens_offline_with_its_charts(site, browser, tmp_path):
    status, headers, body = _get(site["port"], "/team/analytics/export.html")
    assert status == 200 and "attachment" in headers["content-disposition"]
    text = body.decode("utf-8")
    for bad in ("PosixPath", '<script src="http', '<link href="http', "<script", str(site["root"])):
        assert bad not in text, bad
    assert "T00:00:00" not in text and ">NaN<" not in text
    path = tmp_path / "analytics.html"
    path.write_bytes(body)
    context = browser.new_context(offline=True)
    pg = context.new_page()
    requests: list[str] = []
    pg.on("request", lambda r: requests.append(r.url))
    pg.goto(path.as_uri())
    charts = pg.locator("img.wb-chart")
    assert charts.count() >= 3
    pg.wait_for_function(
        "() => [...document.querySelectorAll('img.wb-chart')]"
        ".every(i => i.complete && i.naturalWidth > 0)"
    )
    assert pg.locator("section.wb-analysis h2").all_inner_texts() == ANALYSES
    assert [u for u in requests if not u.startswith(("file:", "data:"))] == []
    context.close()


def test_team_list_numbers_equal_the_recorded_answers_and_an_old_run_is_flagged(site, page):
    page.goto(site["base"])
    for team in ("analytics", "admin"):
        facts = json.loads(
            (site["root"] / f"outputs/{team}/latest/answers/customer_segmentation.json").read_text()
        )["facts"]
        row = page.locator(f"tr[data-team={team}]").inner_text()
        n, money = facts["slipped_accounts"], facts["slipped_money"]
        assert f"Slipped: {n:,} accounts" in row
        unit = "M" if money >= 1e6 else "k"
        shown = money / 1e6 if unit == "M" else money / 1e3
        assert f"(${shown:.1f}{unit} ARR)" in row
        assert "stale" not in row
    billing = page.locator("tr[data-team=billing]").inner_text()
    age = re.search(r"finished (\d+) days ago", billing)
    assert "stale" in billing and age and int(age.group(1)) in (29, 30)  # run 30 days ago
    # most urgent first: the stale team leads the list
    assert page.locator("tr[data-team]").first.get_attribute("data-team") == "billing"
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "dashboard_landing.png"), full_page=True)
