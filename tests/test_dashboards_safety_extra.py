"""Dashboards' safety, extended: generated non-ASCII and overlong query values, and files
that point outside ``outputs/`` (tables, answers, manifests, whole folders).

Uses only the public functions of :mod:`helpers.dashboards`; run folders come from
``dashboard_runs.write_run`` (the runner's layout).
"""

from __future__ import annotations

import json
import shutil
import string
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.dashboard_runs import ANSWERS, write_params, write_run

from helpers import dashboards
from helpers.errors import WorkbookError

TEAMS = ["admin", "analytics"]
KEYS = ["team", "analysis", "table"]

settings.register_profile(
    "dashboard_queries",
    derandomize=True,
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


@pytest.fixture
def outputs(tmp_path, monkeypatch):
    write_params(tmp_path, TEAMS)
    (tmp_path / "outputs").mkdir()
    monkeypatch.setenv("WORKBOOK_ROOT", str(tmp_path))
    monkeypatch.delenv("WORKBOOK_OUTPUTS", raising=False)
    return tmp_path / "outputs"


NON_ASCII = st.text(
    alphabet=st.characters(codec="utf-8", min_codepoint=0x80), min_size=1, max_size=20
).map(lambda s: "analytics"[: len(s) % 9] + s)
OVERLONG = st.text(alphabet=string.ascii_lowercase + "_-", min_size=65, max_size=400)


@settings(settings.get_profile("dashboard_queries"))
@given(key=st.sampled_from(KEYS), value=st.one_of(NON_ASCII, OVERLONG))
def test_generated_non_ascii_or_overlong_values_are_refused_in_one_line(key, value):
    query = f"{key}={quote(value, safe='')}"
    with pytest.raises(WorkbookError) as info:
        dashboards.parse_query(query)
    message = str(info.value)
    assert "\n" not in message and len(message) < 200
    assert value not in message or value.isascii()  # never echoes odd text back


@settings(settings.get_profile("dashboard_queries"))
@given(value=st.one_of(NON_ASCII, OVERLONG))
def test_generated_bad_team_pages_show_a_notice_never_a_traceback(outputs, value):
    pages = dashboards.Pages("/", teams=TEAMS)
    for page in (
        pages.team(value),  # the team in the address's path
        pages.team("analytics", "analysis=" + quote(value, safe="")),
        pages.switch("team=" + quote(value, safe="")),  # the team picker's form
    ):
        body = page.body.decode()
        assert page.status in (400, 404) and "wb-notice" in body
        assert "Traceback" not in body and "could not be shown" not in body


@pytest.mark.parametrize("value", ["é" * 40, "\u202e" + "a" * 10, "ａｄｍｉｎ", "a" * 10_000])
def test_check_functions_refuse_raw_non_ascii_and_overlong_values(outputs, value):
    run = write_run(outputs, "analytics")
    assert run.is_dir()
    snap = dashboards.load_snapshot("analytics", teams=TEAMS)
    for call in (
        lambda: dashboards.check_team(value, TEAMS),
        lambda: dashboards.check_analysis(snap, value),
        lambda: dashboards.check_table(snap, "metric_trends", value),
    ):
        with pytest.raises(WorkbookError):
            call()


def test_an_overlong_query_string_of_many_keys_is_refused():
    with pytest.raises(WorkbookError):
        dashboards.parse_query("&".join(["token=x"] * 200))


# --------------------------------------------------------------------------- outside outputs/


def test_a_table_symlinked_outside_the_run_is_not_listed(outputs, tmp_path):
    run = write_run(outputs, "analytics")
    secret = tmp_path / "secret.parquet"
    shutil.copy(next((run / "tables" / "metric_trends").glob("*.parquet")), secret)
    (run / "tables" / "metric_trends" / "leak.parquet").symlink_to(secret)
    snap = dashboards.load_snapshot("analytics", teams=TEAMS)
    assert "leak" not in snap.analyses["metric_trends"].tables
    with pytest.raises(WorkbookError):
        dashboards.team_html(snap, "metric_trends", "leak")


def test_an_answer_symlinked_outside_the_run_is_not_read(outputs, tmp_path):
    run = write_run(outputs, "analytics")
    secret = tmp_path / "secret.json"
    secret.write_text(json.dumps({"answer": ["SECRET SENTENCE"], "facts": {}}))
    answer = run / "answers" / "metric_trends.json"
    answer.unlink()
    answer.symlink_to(secret)
    snap = dashboards.load_snapshot("analytics", teams=TEAMS)
    assert "SECRET SENTENCE" not in dashboards.team_html(snap)


def test_a_manifest_symlinked_outside_the_run_gives_no_snapshot(outputs, tmp_path):
    run = write_run(outputs, "analytics")
    secret = tmp_path / "manifest.json"
    secret.write_text((run / "manifest.json").read_text())
    (run / "manifest.json").unlink()
    (run / "manifest.json").symlink_to(secret)
    assert dashboards.load_snapshot("analytics", teams=TEAMS) is None


def test_a_figure_folder_symlinked_outside_the_run_is_not_listed(outputs, tmp_path):
    run = write_run(outputs, "analytics")
    elsewhere = tmp_path / "elsewhere"
    shutil.copytree(run / "figures" / "metric_trends", elsewhere)
    shutil.rmtree(run / "figures" / "metric_trends")
    (run / "figures" / "metric_trends").symlink_to(elsewhere)
    snap = dashboards.load_snapshot("analytics", teams=TEAMS)
    assert snap.analyses["metric_trends"].figures == {}


def test_latest_pointing_to_another_teams_run_is_refused(outputs):
    write_run(outputs, "admin")
    other = (outputs / "admin" / "latest").resolve()
    (outputs / "analytics" / "runs").mkdir(parents=True)
    (outputs / "analytics" / "latest").symlink_to(other)
    assert dashboards.load_snapshot("analytics", teams=TEAMS) is None


def test_a_team_folder_symlinked_outside_outputs_is_not_read(outputs, tmp_path):
    elsewhere = tmp_path / "elsewhere-outputs"
    elsewhere.mkdir()
    write_run(elsewhere, "analytics")
    (outputs / "analytics").symlink_to(elsewhere / "analytics")
    snap = dashboards.load_snapshot("analytics", teams=TEAMS)
    page = dashboards.team_html(snap) if snap else ""
    first = ANSWERS["metric_trends"].format(title="Analytics")
    assert snap is None and first not in page
