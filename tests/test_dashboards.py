"""Dashboards: visitor values are checked, snapshots come from the last successful run,
pages are rendered once per run and read like a report."""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
import os
import stat

import pandas as pd
import pytest
from support.dashboard_runs import ANSWERS, write_params, write_run

from helpers import dashboards
from helpers.errors import WorkbookError

TEAMS = ["admin", "analytics"]


@pytest.fixture
def outputs(tmp_path, monkeypatch):
    """A workbook root with two teams and an empty outputs folder."""
    write_params(tmp_path, TEAMS)
    (tmp_path / "outputs").mkdir()
    monkeypatch.setenv("WORKBOOK_ROOT", str(tmp_path))
    monkeypatch.delenv("WORKBOOK_OUTPUTS", raising=False)
    return tmp_path / "outputs"


def test_parse_query_reads_known_keys():
    q = dashboards.parse_query("team=analytics&analysis=feature_demand&table=segments")
    assert q == {"team": "analytics", "analysis": "feature_demand", "table": "segments"}


@pytest.mark.parametrize(
    "query",
    ["team=../../etc/passwd", "team=..%2F..%2Fetc", "team=%2e%2e", "team=/etc", "team=a%00b"],
)
def test_parse_query_refuses_path_traversal(query):
    with pytest.raises(WorkbookError, match="`team`"):
        dashboards.parse_query(query)


def test_parse_query_refuses_non_ascii_value():
    with pytest.raises(WorkbookError, match="ASCII"):
        dashboards.parse_query("team=anal%C3%BDtics")


def test_parse_query_refuses_overlong_value():
    with pytest.raises(WorkbookError, match="too long"):
        dashboards.parse_query("team=" + "a" * 65)


def test_parse_query_refuses_overlong_query_string():
    with pytest.raises(WorkbookError, match="too long"):
        dashboards.parse_query("team=a&" + "x" * 600)


def test_parse_query_refuses_unknown_key():
    with pytest.raises(WorkbookError, match="unknown key 'path'"):
        dashboards.parse_query("path=analytics")


def test_parse_query_refuses_repeated_key():
    with pytest.raises(WorkbookError, match="more than once"):
        dashboards.parse_query("team=admin&team=analytics")


def test_check_team_refuses_unknown_team_with_hint(outputs):
    with pytest.raises(WorkbookError, match="did you mean 'analytics'"):
        dashboards.check_team("analytic")


def test_load_snapshot_reads_the_latest_run(outputs):
    run = write_run(outputs, "analytics")
    snap = dashboards.load_snapshot("analytics")
    assert snap.run_id == os.path.basename(os.readlink(outputs / "analytics" / "latest"))
    assert snap.run_id == run.name
    recorded = json.loads((run / "answers" / "feature_demand.json").read_text())
    assert snap.analyses["feature_demand"].answer == recorded["answer"]
    assert set(snap.analyses["metric_trends"].figures) == {"overview", "by_segment"}


def test_load_snapshot_keeps_last_success_when_newer_run_failed(outputs):
    good = write_run(outputs, "analytics")
    later = dt.datetime(2026, 11, 1, 1, 0, tzinfo=dt.UTC)
    write_run(outputs, "analytics", as_of="2026-11-01", status="failed", started=later)
    assert dashboards.load_snapshot("analytics").run_id == good.name


def test_load_snapshot_is_none_without_successful_run(outputs):
    write_run(outputs, "analytics", status="failed")
    assert dashboards.load_snapshot("analytics") is None


def test_load_snapshot_ignores_latest_pointing_outside_runs(outputs, tmp_path):
    elsewhere = tmp_path / "elsewhere" / "2026-10-31T000000-beef"
    elsewhere.mkdir(parents=True)
    (elsewhere / "manifest.json").write_text(json.dumps({"status": "succeeded"}))
    (outputs / "analytics").mkdir()
    (outputs / "analytics" / "runs").mkdir()
    (outputs / "analytics" / "latest").symlink_to(elsewhere)
    assert dashboards.load_snapshot("analytics") is None


def test_load_snapshot_skips_figure_symlinked_outside_run(outputs, tmp_path):
    run = write_run(outputs, "analytics")
    secret = tmp_path / "secret.png"
    secret.write_bytes(b"\x89PNG secret")
    (run / "figures" / "metric_trends" / "leak.png").symlink_to(secret)
    assert "leak" not in dashboards.load_snapshot("analytics").analyses["metric_trends"].figures


def test_list_teams_reports_latest_attempt_status(outputs):
    write_run(outputs, "analytics")
    later = dt.datetime(2026, 11, 1, 1, 0, tzinfo=dt.UTC)
    failed = write_run(outputs, "analytics", as_of="2026-11-01", status="failed", started=later)
    rows = {r.team: r for r in dashboards.list_teams()}
    assert rows["analytics"].as_of == "2026-10-31"
    assert (rows["analytics"].last_attempt_run_id, rows["analytics"].last_attempt_status) == (
        failed.name,
        "failed",
    )
    assert rows["admin"].latest_run_id is None


def test_team_html_puts_answers_before_first_chart(outputs):
    write_run(outputs, "analytics")
    page = dashboards.team_html(dashboards.load_snapshot("analytics"))
    # the answer box says it in plain words (the interval is under "How sure are we?")
    plain = ANSWERS["metric_trends"].format(title="Analytics").split(" (95% CI")[0] + "."
    first_answer = page.index(plain)
    assert first_answer < page.index("<img")
    assert ANSWERS["metric_trends"].format(title="Analytics") in page  # in full, below
    assert "As of 2026-10-31, run 2026-10-31 01:31 UTC" in page


def test_team_html_shows_recorded_table_values(outputs):
    run = write_run(outputs, "analytics")
    frame = pd.read_parquet(run / "tables" / "feature_demand" / "segments.parquet")
    page = dashboards.team_html(dashboards.load_snapshot("analytics"), "feature_demand")
    for segment, accounts in zip(frame.segment, frame.accounts, strict=True):
        assert f'<td>{segment}</td><td class="wb-num">{accounts:,}</td>' in page


def test_team_html_escapes_recorded_text(outputs):
    run = write_run(outputs, "analytics")
    path = run / "answers" / "metric_trends.json"
    path.write_text(json.dumps({"answer": ["<script>alert(1)</script>"], "facts": {}}))
    page = dashboards.team_html(dashboards.load_snapshot("analytics"))
    assert "<script>alert(1)" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_team_html_refuses_unrecorded_analysis(outputs):
    write_run(outputs, "analytics", notebooks=("metric_trends",))
    with pytest.raises(WorkbookError, match="`analysis`"):
        dashboards.team_html(dashboards.load_snapshot("analytics"), "feature_demand")


def test_team_html_refuses_unrecorded_table(outputs):
    write_run(outputs, "analytics")
    snap = dashboards.load_snapshot("analytics")
    with pytest.raises(WorkbookError, match="`table`"):
        dashboards.team_html(snap, "metric_trends", "passwords")


def _pages(outputs) -> dashboards.Pages:
    return dashboards.Pages("/")


def test_root_page_is_the_team_list_with_links_to_each_team(outputs):
    write_run(outputs, "analytics")
    page = _pages(outputs).landing()
    body = page.body.decode()
    assert page.status == 200 and body.startswith("<!DOCTYPE html>")
    assert '<a class="wb-team-link" href="/team/analytics">Analytics</a>' in body
    assert '<a class="wb-team-link" href="/team/admin">Admin</a>' in body


def test_team_page_of_an_unknown_team_is_404_with_a_notice(outputs):
    page = _pages(outputs).team("nosuchteam")
    assert page.status == 404
    assert "wb-notice" in page.body.decode() and "Traceback" not in page.body.decode()


@pytest.mark.parametrize("query", ["template=x", "analysis=../../x", "team=admin", "a" * 600])
def test_team_page_with_a_bad_query_is_400_with_a_notice(outputs, query):
    write_run(outputs, "analytics")
    page = _pages(outputs).team("analytics", query)
    assert page.status == 400 and "wb-notice" in page.body.decode()


def test_team_page_is_rendered_once_per_run(outputs):
    write_run(outputs, "analytics")
    pages = _pages(outputs)
    first = pages.team("analytics")
    assert pages.team("analytics") is first  # the same object: answered from memory
    later = dt.datetime(2026, 11, 7, 1, 0, tzinfo=dt.UTC)
    new = write_run(outputs, "analytics", as_of="2026-11-07", started=later)
    pages._state = (0.0, ())  # the server re-reads the runs at most once a second
    again = pages.team("analytics")
    assert again is not first and new.name in again.body.decode()


def test_figure_file_is_the_recorded_png_and_other_paths_are_404(outputs):
    run = write_run(outputs, "analytics")
    pages = _pages(outputs)
    png = pages.file("analytics", run.name, "figures", "metric_trends", "overview.png")
    assert png.status == 200 and png.content_type == "image/png"
    assert png.body == (run / "figures" / "metric_trends" / "overview.png").read_bytes()
    for args in [
        ("analytics", "2026-01-01T000000-beef", "figures", "metric_trends", "overview.png"),
        ("analytics", run.name, "figures", "metric_trends", "..%2F..%2Fmanifest.json"),
        ("analytics", run.name, "figures", "..", "overview.png"),
        ("analytics", run.name, "tables", "metric_trends", "passwords.csv"),
        ("../analytics", run.name, "figures", "metric_trends", "overview.png"),
    ]:
        assert pages.file(*args).status == 404, args


def test_csv_download_holds_the_full_precision_table(outputs):
    run = write_run(outputs, "analytics")
    csv = _pages(outputs).file("analytics", run.name, "tables", "feature_demand", "shares.csv")
    assert csv.status == 200 and "attachment" in csv.headers["Content-Disposition"]
    expected = pd.read_parquet(run / "tables" / "feature_demand" / "shares.parquet")
    got = pd.read_csv(io.BytesIO(csv.body))
    pd.testing.assert_frame_equal(got, expected, check_exact=True, check_dtype=False)


def test_csv_download_neutralises_cells_a_spreadsheet_would_run(outputs):
    run = write_run(outputs, "analytics")
    table = run / "tables" / "metric_trends" / "segments.parquet"
    pd.DataFrame({"account": ['=HYPERLINK("http://evil","x")', "plain", "-5"]}).to_parquet(table)
    csv = _pages(outputs).file("analytics", run.name, "tables", "metric_trends", "segments.csv")
    got = pd.read_csv(io.BytesIO(csv.body))
    assert got.account.tolist() == ['\'=HYPERLINK("http://evil","x")', "plain", "'-5"]


def test_tables_show_dates_as_dates_rounded_numbers_and_worded_columns(outputs):
    run = write_run(outputs, "analytics")
    frame = pd.DataFrame(
        {
            "week_start": pd.to_datetime(["2026-05-11", "2026-05-18"]),
            "arr_share": [0.123456, 0.876544],
            "arr": [1234567.891, 9.87654],
            "p_value": [0.0000123, 0.5],
        }
    )
    frame.to_parquet(run / "tables" / "metric_trends" / "segments.parquet", index=False)
    page = dashboards.team_html(dashboards.load_snapshot("analytics"), "metric_trends")
    for header in ("Week start", "ARR share", "ARR", "p-value"):
        assert f">{header}</th>" in page
    assert "<td>2026-05-11</td>" in page and "T00:00:00" not in page
    # rounded as a person would write them (independent: Python's own formatting); money
    # with its currency sign, shares as percentages
    assert f">${round(1234567.891):,}</td>" in page  # $1,234,568
    assert f">{0.123456:.1%}</td>" in page and f">${9.87654:.2f}</td>" in page
    assert "&lt; 0.001" in page and "1.23e-05" not in page


def test_each_analysis_shows_its_own_as_of_date(outputs):
    old = write_run(outputs, "analytics", as_of="2026-10-24")
    later = dt.datetime(2026, 10, 31, 1, 0, tzinfo=dt.UTC)
    new = write_run(outputs, "analytics", started=later)
    manifest = json.loads((new / "manifest.json").read_text())
    for entry in manifest["notebooks"]:
        if entry["notebook"] != "metric_trends":
            entry.update(status="carried over", from_run_id=old.name, as_of="2026-10-24")
    (new / "manifest.json").write_text(json.dumps(manifest))
    snap = dashboards.load_snapshot("analytics")
    assert {n: a.as_of for n, a in snap.analyses.items()} == {
        "customer_segmentation": "2026-10-24",
        "feature_demand": "2026-10-24",
        "metric_trends": "2026-10-31",
    }
    page = dashboards.team_html(snap)
    assert page.count("as of 2026-10-24 (run " + old.name) == 4  # answers box and sections
    assert 'Metric trends <span class="wb-asof">as of 2026-10-31</span>' in page


def test_a_params_file_with_an_invalid_team_name_is_skipped_with_a_warning(outputs, caplog):
    write_run(outputs, "analytics")
    (outputs.parent / "params" / "Sales.yaml").write_text("title: Sales\n")
    with caplog.at_level(logging.WARNING, logger="helpers.dashboards"):
        rows = dashboards.list_teams()
    assert [r.team for r in rows] == ["admin", "analytics"]
    assert any("Sales.yaml is skipped" in r.getMessage() for r in caplog.records)
    assert dashboards.Pages("/").team("analytics").status == 200


def test_markup_in_recorded_text_and_tables_is_escaped_in_the_page(outputs):
    evil = "<img src=x onerror=alert(1)>"
    run = write_run(outputs, "analytics")
    answer = run / "answers" / "feature_demand.json"
    answer.write_text(json.dumps({"answer": [f"{evil} is most wanted."], "facts": {}}))
    table = run / "tables" / "feature_demand" / "segments.parquet"
    pd.DataFrame({"feature": [evil, "dark_mode"], "accounts": [3, 4]}).to_parquet(table)
    body = _pages(outputs).team("analytics", "analysis=feature_demand").body.decode()
    assert "<img src=x" not in body and "onerror=alert(1)>" not in body
    assert "&lt;img src=x onerror=alert(1)&gt; is most wanted." in body
    assert "<td>&lt;img src=x onerror=alert(1)&gt;</td>" in body


def test_server_command_refuses_non_loopback_host_without_token():
    with pytest.raises(WorkbookError, match="token"):
        dashboards.server_command("0.0.0.0", 8866)


def test_server_command_never_holds_the_token(monkeypatch):
    monkeypatch.setenv("WORKBOOK_DASHBOARD_TOKEN", "s3cret-token-0123456789")
    cmd = dashboards.server_command("0.0.0.0", 8866, has_token=True)
    assert not any("s3cret" in part for part in cmd)


def test_server_command_keeps_tracebacks_visitor_templates_off_and_kernels_bounded():
    cmd = dashboards.server_command(max_kernels=3)
    assert "--VoilaConfiguration.show_tracebacks=False" in cmd
    assert "--VoilaConfiguration.allow_template_override=NO" in cmd
    assert "--VoilaConfiguration.strip_sources=True" in cmd
    assert "--BoundedKernelManager.max_kernels=3" in cmd
    assert "--MappingKernelManager.cull_connected=True" in cmd


def test_serve_refuses_non_loopback_host_before_starting(monkeypatch):
    monkeypatch.delenv("WORKBOOK_DASHBOARD_TOKEN", raising=False)
    with pytest.raises(WorkbookError, match="token"):
        dashboards.serve(host="192.168.1.20", wait=False)


def test_token_file_readable_by_others_is_refused(tmp_path):
    path = tmp_path / "token"
    path.write_text("s3cret-token-0123456789\n")
    path.chmod(0o644)
    with pytest.raises(WorkbookError, match="chmod 600"):
        dashboards.read_token_file(path)
    path.chmod(0o600)
    assert dashboards.read_token_file(path) == "s3cret-token-0123456789"


def test_a_new_token_file_is_private_and_holds_a_long_token(tmp_path):
    token = dashboards.new_token_file(tmp_path / "token")
    assert stat.S_IMODE((tmp_path / "token").stat().st_mode) == 0o600
    assert len(token) >= 32 and dashboards.read_token_file(tmp_path / "token") == token


def test_host_pattern_refuses_other_names_and_accepts_served_ones():
    import re

    from helpers.dashboards.app import host_pattern

    loopback = re.compile(host_pattern("127.0.0.1", ["dash.example.com"]) + "$")
    for ok in ("127.0.0.1", "localhost", "[::1]", "dash.example.com"):
        assert loopback.match(ok), ok
    for bad in ("evil.example", "127.0.0.1.evil.example", "localhost.evil", "dash.example.com.x"):
        assert not loopback.match(bad), bad


class _FakeKernel:
    def __init__(self, idle_s: float, state: str = "idle"):
        self.last_activity = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=idle_s)
        self.execution_state = state


@pytest.mark.parametrize(
    ("idle_s", "connections", "ever_connected", "left_s", "state", "culled"),
    [
        (100, 0, False, None, "idle", True),  # never connected, past 90 s
        (60, 0, False, None, "idle", False),  # never connected, within 90 s
        (100, 0, False, None, "busy", True),  # never connected and stuck busy: culled anyway
        (100, 0, True, 40, "idle", True),  # its page left 40 s ago (> 30 s)
        (100, 0, True, 10, "idle", False),  # its page left 10 s ago
        (700, 1, True, None, "idle", True),  # connected but idle past 10 minutes
        (300, 1, True, None, "idle", False),  # connected, idle 5 minutes
        (700, 1, True, None, "busy", False),  # connected and working on a question
    ],
)
def test_kernels_are_culled_by_connection_and_idle_time(
    idle_s, connections, ever_connected, left_s, state, culled
):
    import asyncio

    from helpers.dashboards.kernels import BoundedKernelManager

    km = BoundedKernelManager(cull_idle_timeout=600)
    kid = "k1"
    km._kernels[kid] = _FakeKernel(idle_s, state)
    km._kernel_connections[kid] = connections
    km._serving_since[kid] = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=idle_s)
    if ever_connected:
        km._ever_connected.add(kid)
    if left_s is not None:
        km._left_at[kid] = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=left_s)
    shut = []

    async def fake_shutdown(kernel_id, *args, **kwargs):
        shut.append(kernel_id)

    km.shutdown_kernel = fake_shutdown
    asyncio.run(km.cull_kernel_if_idle(kid))
    assert (shut == [kid]) is culled


def test_serve_refuses_a_port_already_taken_before_starting():
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(WorkbookError, match=f"Port {port} .* is taken"):
            dashboards.serve(port=port, wait=False, quiet=True)
