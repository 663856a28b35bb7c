"""Run records a scheduler can trust: latest only moves forward, prune keeps a complete run,
per-team durations, run ids that say when, and one documented exit code per outcome."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from support.cli import cli
from support.notebooks import use_stand_ins

from helpers import run as runner
from helpers.paths import TeamFolder

pytestmark = pytest.mark.slow

TEAM = "analytics"
ONE = ("--notebook", "metric_trends")  # one stand-in notebook keeps each run to seconds


@pytest.fixture
def stand_ins(workbook_root, tmp_path, monkeypatch):
    return use_stand_ins(tmp_path / "notebooks", monkeypatch)


def _as_of(run) -> str:
    return json.loads(run.manifest.read_text())["as_of"]


def test_a_backfill_records_its_run_and_date_but_leaves_latest(stand_ins):
    assert cli("run", "--team", TEAM, *ONE).returncode == 0
    folder = TeamFolder(TEAM)
    before = folder.latest()
    done = cli("run", "--team", TEAM, *ONE, "--as-of", "2026-06-30")
    assert done.returncode == 0, done.stdout + done.stderr
    june = folder.dated("2026-06-30")
    assert june is not None and _as_of(june) == "2026-06-30"
    assert folder.latest() == before and _as_of(folder.latest()) != "2026-06-30"
    manifest = june.read_manifest()
    assert manifest["latest"] is False and "backfill" in manifest["latest_note"]


def test_prune_keep_one_after_a_one_notebook_run_keeps_a_complete_run(stand_ins):
    assert cli("run", "--team", TEAM).returncode == 0
    one = cli("run", "--team", TEAM, "--notebook", "metric_trends", "--force")
    assert one.returncode == 0, one.stdout + one.stderr
    dry = cli("prune", "--keep", "1", "--team", TEAM, "--dry-run")
    assert dry.returncode == 0 and "would be removed" in dry.stdout
    runs_before = {r.run_id for r in TeamFolder(TEAM).runs()}
    assert cli("prune", "--keep", "1", "--team", TEAM).returncode == 0
    left = TeamFolder(TEAM).runs()
    assert runs_before >= {r.run_id for r in left}
    notebooks = set(runner.plan([TEAM])[0].params.notebooks)
    complete = [
        r
        for r in left
        if notebooks
        <= {
            e["notebook"]
            for e in r.read_manifest()["notebooks"]
            if e["status"] in ("succeeded", "carried over")  # carried: hard links, kept
        }
    ]
    assert complete, "prune removed the team's only complete run"
    for run in complete:  # and its files are all there
        for e in run.read_manifest()["notebooks"]:
            assert run.notebook(e["notebook"]).is_file()


def test_each_team_gets_its_own_duration_and_a_run_id_of_when_it_ran(stand_ins):
    done = cli(
        "run", "--team", "admin", "--team", TEAM, *ONE, "--jobs", "2", env={"WB_SLOW_TEAM": TEAM}
    )
    assert done.returncode == 0, done.stdout + done.stderr
    rows = {r["team"]: r for r in runner.history()}
    fast, slow = rows["admin"]["duration_s"], rows[TEAM]["duration_s"]
    assert slow - fast >= 2, (fast, slow)  # the slow team's 3 extra seconds (whole-second stamps)
    today = dt.datetime.now(dt.UTC).date().isoformat()
    for team in ("admin", TEAM):
        assert rows[team]["run_id"].startswith(today)
        assert rows[team]["as_of"] != today  # the demo's last day, not the day it ran


def test_exit_codes_name_the_outcome(stand_ins, workbook_root):
    assert cli("run", "--team", TEAM, *ONE).returncode == 0  # ran and succeeded
    assert cli("run", "--team", TEAM, *ONE).returncode == 5  # nothing to do: up to date
    failed = cli("run", "--team", TEAM, *ONE, "--force", env={"WB_FAIL_TEAM": TEAM})
    assert failed.returncode == 1
    (workbook_root / "params" / "broken.yaml").write_text("metric_trends:\n  grain: wek\n")
    assert cli("run", "--team", "broken").returncode == 3  # invalid params, no kernel
    # invalid wins over failed when both happen in one command
    both = cli(
        "run", "--team", "broken", "--team", TEAM, *ONE, "--force", env={"WB_FAIL_TEAM": TEAM}
    )
    assert both.returncode == 3


def test_plan_after_a_run_says_up_to_date_then_names_what_changed(stand_ins, workbook_root):
    two = ("--notebook", "metric_trends", "--notebook", "feature_demand")
    assert cli("run", "--team", TEAM, *two).returncode == 0
    same = cli("plan", "--team", TEAM, *two)
    assert same.returncode == 5 and "up to date  metric_trends" in same.stdout
    path = workbook_root / "params" / f"{TEAM}.yaml"
    path.write_text(path.read_text() + "metric_trends:\n  grain: month\n")
    after = cli("plan", "--team", TEAM, *two)
    assert after.returncode == 0
    line = next(ln for ln in after.stdout.splitlines() if "metric_trends" in ln)
    assert line.split()[0] == "run" and "its parameters changed" in line
    assert "up to date  feature_demand" in after.stdout
