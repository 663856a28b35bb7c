"""Dashboards: visitor values are checked, snapshots come from the last successful run."""

from __future__ import annotations

import datetime as dt
import json
import os

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
    first_answer = page.index(ANSWERS["metric_trends"].format(title="Analytics"))
    assert first_answer < page.index("<img")
    assert "As of 2026-10-31, run 2026-10-31 01:31 UTC" in page


def test_team_html_shows_recorded_table_values(outputs):
    run = write_run(outputs, "analytics")
    frame = pd.read_parquet(run / "tables" / "feature_demand" / "segments.parquet")
    page = dashboards.team_html(dashboards.load_snapshot("analytics"), "feature_demand")
    for segment, accounts in zip(frame.segment, frame.accounts, strict=True):
        assert f"<td>{segment}</td><td>{accounts:,}</td>" in page


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


def test_show_team_page_turns_unknown_team_into_a_notice(outputs, monkeypatch):
    shown = []
    monkeypatch.setattr(dashboards.page, "_display_html", shown.append)
    dashboards.show_team_page("team=nosuchteam")
    assert "must be one of" in shown[0] and "wb-notice" in shown[0]
    assert "Traceback" not in shown[0]


def test_voila_command_refuses_non_loopback_host_without_token():
    with pytest.raises(WorkbookError, match="token"):
        dashboards.voila_command("0.0.0.0", 8866, None)


def test_voila_command_accepts_non_loopback_host_with_token():
    cmd = dashboards.voila_command("0.0.0.0", 8866, "s3cret-token-0123456789")
    assert "--Voila.token=s3cret-token-0123456789" in cmd


def test_voila_command_refuses_short_token():
    with pytest.raises(WorkbookError, match="`token`"):
        dashboards.voila_command("127.0.0.1", 8866, "abc")


def test_serve_refuses_non_loopback_host_before_starting(monkeypatch):
    monkeypatch.delenv("WORKBOOK_DASHBOARD_TOKEN", raising=False)
    with pytest.raises(WorkbookError, match="token"):
        dashboards.serve(host="192.168.1.20", wait=False)


def test_voila_command_keeps_tracebacks_and_visitor_templates_off():
    cmd = dashboards.voila_command()
    assert "--VoilaConfiguration.show_tracebacks=False" in cmd
    assert "--VoilaConfiguration.allow_template_override=NO" in cmd
    assert "--VoilaConfiguration.strip_sources=True" in cmd
