"""The runner: parallel, isolated failures, run records, atomic latest, locks, incremental."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import nbformat
import pytest
from support.cli import cli as _cli
from support.notebooks import use_stand_ins

from helpers import run as runner

pytestmark = pytest.mark.slow


@pytest.fixture
def tiny_notebooks(tmp_path, monkeypatch):
    return use_stand_ins(tmp_path / "notebooks", monkeypatch)


def _latest(root, team):
    link = root / "outputs" / team / "latest"
    return link.resolve() if link.exists() else None


def test_parallel_run_of_four_teams_records_every_run(workbook_root, tiny_notebooks):
    results = runner.run(
        ["admin", "analytics", "collaboration", "integrations"], notebooks=["metric_trends"], jobs=2
    )
    assert [r.status for r in results] == ["succeeded"] * 4
    for team in ["admin", "analytics", "collaboration", "integrations"]:
        run_dir = _latest(workbook_root, team)
        assert (run_dir / "metric_trends.ipynb").exists()
        assert (run_dir / "metric_trends.html").exists()
        assert (run_dir / "tables" / "metric_trends" / "rows.parquet").exists()
        assert json.loads((run_dir / "answers" / "metric_trends.json").read_text())["answer"] == [
            f"answer for {team}"
        ]
        html = (run_dir / "metric_trends.html").read_text()
        assert "Recorder(run_dir" not in html  # code cells are left out of the PM's copy


def test_manifest_holds_every_field(workbook_root, tiny_notebooks, demo_path):
    runner.run(["analytics"], notebooks=["feature_demand"], jobs=1)
    m = json.loads((_latest(workbook_root, "analytics") / "manifest.json").read_text())
    for key in [
        "team",
        "as_of",
        "run_id",
        "status",
        "started_at",
        "finished_at",
        "duration_s",
        "helpers_version",
        "git_commit",
        "data_fingerprint",
        "params",
        "notebooks",
    ]:
        assert key in m, key
    assert m["team"] == "analytics" and m["status"] == "succeeded" and m["as_of"] == "2026-10-31"
    import duckdb

    rows = (
        duckdb.connect(str(demo_path), read_only=True)
        .execute("SELECT count(*) FROM events")
        .fetchone()[0]
    )
    assert m["data_fingerprint"]["events"]["rows"] == rows
    (entry,) = m["notebooks"]
    for key in [
        "notebook",
        "status",
        "started_at",
        "finished_at",
        "duration_s",
        "error",
        "parameters",
    ]:
        assert key in entry, key
    assert entry["parameters"]["features"][0] == "ai_insights"
    assert entry["duration_s"] > 0 and entry["error"] is None


def test_a_failing_team_is_isolated_and_keeps_its_latest(
    workbook_root, tiny_notebooks, monkeypatch
):
    first = _cli("run", "--team", "admin", "--team", "analytics", "--notebook", "metric_trends")
    assert first.returncode == 0, first.stderr
    admin_before = _latest(workbook_root, "admin")
    analytics_before = _latest(workbook_root, "analytics")
    second = _cli(
        "run",
        "--team",
        "admin",
        "--team",
        "analytics",
        "--notebook",
        "metric_trends",
        "--force",
        env={"WB_FAIL_TEAM": "admin"},
    )
    assert second.returncode == 1
    assert "planted failure for admin" in second.stdout
    assert _latest(workbook_root, "admin") == admin_before
    assert _latest(workbook_root, "analytics") != analytics_before
    failed_run = (workbook_root / "outputs" / "admin" / "2026-10-31").resolve()
    m = json.loads((failed_run / "manifest.json").read_text())
    assert m["status"] == "failed"
    assert "ValueError: planted failure" in m["notebooks"][0]["error"]
    nb = nbformat.read(failed_run / "metric_trends.ipynb", as_version=4)
    assert any(o.get("ename") == "ValueError" for c in nb.cells for o in c.get("outputs", []))


def test_invalid_team_fails_before_any_kernel_while_others_run(workbook_root, tiny_notebooks):
    (workbook_root / "params" / "broken.yaml").write_text("metric_trends:\n  grian: day\n")
    results = runner.run(["broken", "analytics"], notebooks=["metric_trends"], jobs=1)
    by_team = {r.team: r for r in results}
    assert by_team["broken"].status == "failed"
    assert "did you mean 'grain'" in by_team["broken"].error
    assert not (workbook_root / "outputs" / "broken").exists()
    assert by_team["analytics"].status == "succeeded"


def test_unknown_feature_fails_before_any_kernel_naming_the_nearest(workbook_root, tiny_notebooks):
    (workbook_root / "params" / "analytics.yaml").write_text(
        "feature_demand:\n  features: [ai_insight, dark_mode]\n"
    )
    (result,) = runner.run(["analytics"], notebooks=["feature_demand"])
    assert result.status == "failed"
    assert "unknown feature 'ai_insight'" in result.error and "'ai_insights'" in result.error
    assert not (workbook_root / "outputs" / "analytics").exists()


def test_unchanged_rerun_is_skipped_and_force_reruns(workbook_root, tiny_notebooks):
    runner.run(["analytics"], notebooks=["metric_trends"])
    first = _latest(workbook_root, "analytics")
    (again,) = runner.run(["analytics"], notebooks=["metric_trends"])
    assert again.status == "up to date"
    assert _latest(workbook_root, "analytics") == first
    (forced,) = runner.run(["analytics"], notebooks=["metric_trends"], force=True)
    assert forced.status == "succeeded"
    assert _latest(workbook_root, "analytics") != first


def test_changed_parameters_rerun_only_that_notebook(workbook_root, tiny_notebooks):
    runner.run(["analytics"], notebooks=["metric_trends", "feature_demand"])
    path = workbook_root / "params" / "analytics.yaml"
    path.write_text(path.read_text() + "\nmetric_trends:\n  grain: day\n")
    results = {
        r.notebook: r.status
        for r in runner.run(["analytics"], notebooks=["metric_trends", "feature_demand"])
    }
    assert results == {"metric_trends": "succeeded", "feature_demand": "up to date"}
    run_dir = _latest(workbook_root, "analytics")
    assert (run_dir / "tables" / "feature_demand" / "rows.parquet").exists()  # carried over


def test_retry_failed_reruns_only_what_failed(workbook_root, tiny_notebooks, monkeypatch):
    monkeypatch.setenv("WB_FAIL_TEAM", "analytics")
    runner.run(["analytics", "admin"], notebooks=["metric_trends"])
    monkeypatch.delenv("WB_FAIL_TEAM")
    results = {
        r.team: r.status
        for r in runner.run(["analytics", "admin"], notebooks=["metric_trends"], retry_failed=True)
    }
    assert results == {"analytics": "succeeded", "admin": "up to date"}


def test_a_kernel_that_dies_is_reported_as_such(workbook_root, tiny_notebooks, monkeypatch):
    monkeypatch.setenv("WB_KILL_TEAM", "analytics")
    (result,) = runner.run(["analytics"], notebooks=["metric_trends"])
    assert result.status == "failed"
    assert "kernel died" in result.error
    assert _latest(workbook_root, "analytics") is None


def test_timeout_stops_the_notebook(workbook_root, tiny_notebooks, monkeypatch):
    path = workbook_root / "params" / "analytics.yaml"
    path.write_text(path.read_text() + "\ntimeout_minutes: 0.05\n")
    monkeypatch.setenv("WB_SLEEP", "30")
    t0 = time.monotonic()
    (result,) = runner.run(["analytics"], notebooks=["metric_trends"])
    assert result.status == "failed" and "timed out after 0.05 minutes" in result.error
    assert time.monotonic() - t0 < 25


def test_a_second_concurrent_run_is_refused(workbook_root, tiny_notebooks):
    slow = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "helpers",
            "run",
            "--team",
            "analytics",
            "--notebook",
            "metric_trends",
        ],
        env={**os.environ, "WB_SLEEP": "8"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lock = workbook_root / "outputs" / "analytics" / ".lock-2026-10-31"
    for _ in range(200):
        if lock.exists():
            break
        time.sleep(0.1)
    second = _cli("run", "--team", "analytics", "--notebook", "metric_trends", "--force")
    out, _ = slow.communicate(timeout=120)
    assert second.returncode == 4  # locked (README: exit codes)
    assert "already being run by process" in second.stdout
    assert slow.returncode == 0, out
    assert not lock.exists()


def test_sigkill_mid_run_keeps_latest_complete_and_a_rerun_completes(workbook_root, tiny_notebooks):
    assert _cli("run", "--team", "analytics", "--notebook", "metric_trends").returncode == 0
    good = _latest(workbook_root, "analytics")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "helpers",
            "run",
            "--team",
            "analytics",
            "--notebook",
            "metric_trends",
            "--force",
        ],
        env={**os.environ, "WB_SLEEP": "20"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    runs = workbook_root / "outputs" / "analytics" / "runs"
    for _ in range(300):
        if len(list(runs.iterdir())) == 2:
            break
        time.sleep(0.1)
    time.sleep(1.0)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert _latest(workbook_root, "analytics") == good
    m = json.loads((good / "manifest.json").read_text())
    assert m["status"] == "succeeded"
    history = {r["run_id"]: r["status"] for r in runner.history("analytics")}
    assert "interrupted" in history.values()
    rerun = _cli("run", "--team", "analytics", "--notebook", "metric_trends", "--force")
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert _latest(workbook_root, "analytics") != good


def test_history_and_prune_never_remove_latest(workbook_root, tiny_notebooks):
    for _ in range(3):
        runner.run(["analytics"], notebooks=["metric_trends"], force=True)
    latest = _latest(workbook_root, "analytics")
    rows = runner.history("analytics")
    assert len(rows) == 3 and sum(r["latest"] for r in rows) == 1
    removed = runner.prune(1, "analytics")
    assert len(removed) == 2
    assert _latest(workbook_root, "analytics") == latest
    assert (latest / "manifest.json").exists()


def test_unknown_metric_fails_before_any_kernel_naming_the_nearest(workbook_root, tiny_notebooks):
    (workbook_root / "params" / "analytics.yaml").write_text(
        "metric_trends:\n  metric: active_acounts\n"
    )
    (result,) = runner.run(["analytics"], notebooks=["metric_trends"])
    assert result.status == "failed"
    assert "params/analytics.yaml" in result.error and "'active_accounts'" in result.error
    assert not (workbook_root / "outputs" / "analytics").exists()


def test_metric_needing_a_feature_is_checked_before_any_kernel(workbook_root, tiny_notebooks):
    (workbook_root / "params" / "analytics.yaml").write_text(
        "metric_trends:\n  metric: feature_adoption\n  feature: dashbords\n"
    )
    (result,) = runner.run(["analytics"], notebooks=["metric_trends"])
    assert result.status == "failed" and "'dashboards'" in result.error


_CLEAN_CHECK = """
import os, sys, warnings, json
import matplotlib
import pandas as pd
from helpers.results import Recorder
seen = {
    "pid": os.getpid(),
    "leak": "leak" in globals(),
    "count": get_ipython().execution_count,
    "cwd": os.getcwd(),
    "env": os.environ.get("WB_LEAK"),
    "rc": matplotlib.rcParams["lines.linewidth"],
    "pandas": pd.get_option("display.max_rows"),
    "filters": len(warnings.filters),
    "path": "/leak" in sys.path,
}
with open(os.path.join(os.environ["WB_SEEN"], team + ".json"), "w") as f:
    json.dump(seen, f)
if os.environ.get("WB_FAIL_TEAM") == team:
    raise ValueError("planted failure for " + team)
# everything a notebook can leave behind in its kernel
leak = 1
os.chdir("/")
os.environ["WB_LEAK"] = "1"
matplotlib.rcParams["lines.linewidth"] = 9.0
pd.set_option("display.max_rows", 3)
warnings.simplefilter("ignore")
sys.path.append("/leak")
rec = Recorder(run_dir, "metric_trends")
rec.table("rows", pd.DataFrame({"team": [team]}))
rec.answer(["answer for " + team])
"""


@pytest.fixture
def clean_check(tiny_notebooks, tmp_path, monkeypatch):
    nb = nbformat.read(tiny_notebooks / "metric_trends.ipynb", as_version=4)
    nb.cells[1].source = _CLEAN_CHECK
    nbformat.write(nb, tiny_notebooks / "metric_trends.ipynb")
    monkeypatch.setenv("WORKBOOK_WARM_IMPORTS", "import pandas, matplotlib.pyplot, helpers.results")
    seen = tmp_path / "seen"
    seen.mkdir()
    monkeypatch.setenv("WB_SEEN", str(seen))
    return lambda team: json.loads((seen / f"{team}.json").read_text())


TEAMS4 = ["admin", "analytics", "collaboration", "integrations"]


def test_a_reused_kernel_starts_every_notebook_clean(workbook_root, clean_check):
    results = runner.run(TEAMS4, notebooks=["metric_trends"], jobs=1)
    assert [r.status for r in results] == ["succeeded"] * 4
    seen = [clean_check(t) for t in TEAMS4]
    # one worker: the first kernel ran all four notebooks (its imports paid once) ...
    assert len({s["pid"] for s in seen}) == 1
    first = seen[0]
    # ... and each found what a new kernel has, not what the one before left behind
    for s in seen[1:]:
        assert {k: v for k, v in s.items() if k != "pid"} == {
            k: v for k, v in first.items() if k != "pid"
        }
    assert first["leak"] is False and first["env"] is None and first["path"] is False
    assert first["rc"] != 9.0 and first["pandas"] != 3
    for team in TEAMS4:  # the executed notebooks count from 1, as from a new kernel
        nb = nbformat.read(_latest(workbook_root, team) / "metric_trends.ipynb", as_version=4)
        counts = [c.execution_count for c in nb.cells if c.cell_type == "code"]
        assert counts == [1, 2, 3], (team, counts)


def test_a_kernel_is_not_reused_after_a_failure_or_when_reuse_is_off(
    workbook_root, clean_check, monkeypatch
):
    monkeypatch.setenv("WB_FAIL_TEAM", "analytics")
    runner.run(TEAMS4, notebooks=["metric_trends"], jobs=1)
    pids = [clean_check(t)["pid"] for t in TEAMS4]
    assert pids[0] == pids[1] and pids[2] != pids[1] and pids[3] == pids[2]
    monkeypatch.delenv("WB_FAIL_TEAM")
    monkeypatch.setenv("WORKBOOK_KERNEL_REUSE", "1")
    runner.run(TEAMS4, notebooks=["metric_trends"], jobs=1, force=True)
    assert len({clean_check(t)["pid"] for t in TEAMS4}) == 4
