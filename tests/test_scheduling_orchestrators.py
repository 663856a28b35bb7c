"""One team per job on an orchestrator: the generated Airflow DAG file and Kubernetes
CronJobs are what docs/scheduling.md promises, and the command each job runs works.

Airflow and Kubernetes are not needed: the DAG file is executed against a stand-in of
the two Airflow names it imports (recording what it builds), its task command is run by
bash for real on stand-in notebooks, and the CronJobs are parsed and their container
command run by ``sh`` against a stand-in ``workbook``.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import types
from pathlib import Path

import pytest
import yaml
from support.notebooks import use_stand_ins

from helpers import paths
from helpers.errors import WorkbookError
from helpers.params import known_teams
from helpers.run import schedule

TEAMS = ["admin", "analytics", "collaboration"]


def _exec_dag(text: str) -> dict:
    """Execute a DAG file with stand-ins for ``airflow.DAG`` and ``BashOperator``."""
    built: dict = {"tasks": []}

    class DAG:
        def __init__(self, **kwargs):
            built["dag"] = kwargs

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    class BashOperator:
        def __init__(self, **kwargs):
            built["tasks"].append(kwargs)

    airflow = types.ModuleType("airflow")
    airflow.DAG = DAG
    operators = types.ModuleType("airflow.operators")
    bash = types.ModuleType("airflow.operators.bash")
    bash.BashOperator = BashOperator
    saved = {
        k: sys.modules.get(k) for k in ("airflow", "airflow.operators", "airflow.operators.bash")
    }
    sys.modules.update({"airflow": airflow, "airflow.operators": operators})
    sys.modules["airflow.operators.bash"] = bash
    try:
        exec(compile(text, "workbook_dag.py", "exec"), {"__name__": "workbook_dag"})
    finally:
        for k, v in saved.items():
            if v is None:
                sys.modules.pop(k, None)
            else:
                sys.modules[k] = v
    return built


def test_the_airflow_dag_has_one_task_per_team_that_skips_on_nothing_to_do():
    built = _exec_dag(schedule.airflow_dag(TEAMS, root="/srv/workbook", schedule="15 6 * * *"))
    assert built["dag"]["dag_id"] == "workbook"
    assert built["dag"]["schedule"] == "15 6 * * *"
    assert built["dag"]["max_active_runs"] == 1
    assert [t["task_id"] for t in built["tasks"]] == TEAMS
    for team, task in zip(TEAMS, built["tasks"], strict=True):
        assert task["skip_on_exit_code"] == 5
        assert task["bash_command"] == (
            f"cd /srv/workbook && /srv/workbook/.venv/bin/workbook run --team {team} "
            "--as-of {{ ds }} --wait 600"
        )


@pytest.mark.slow
def test_the_airflow_task_command_runs_the_team_for_its_date_then_skips(
    workbook_root, tmp_path, monkeypatch
):
    """The task's command, rendered as Airflow renders ``{{ ds }}``, run by bash for real."""
    use_stand_ins(tmp_path / "notebooks", monkeypatch)
    venv_bin = Path(sys.executable).parent
    root = tmp_path / "checkout"
    (root / ".venv").mkdir(parents=True)
    (root / ".venv" / "bin").symlink_to(venv_bin)  # the checkout's venv, as on a worker
    built = _exec_dag(schedule.airflow_dag(["analytics"], root=str(root)))
    command = built["tasks"][0]["bash_command"].replace("{{ ds }}", "2026-06-30")
    env = {**os.environ, "WORKBOOK_ROOT": str(workbook_root)}
    first = subprocess.run(["bash", "-c", command], capture_output=True, text=True, env=env)
    assert first.returncode == 0, first.stdout + first.stderr
    dated = workbook_root / "outputs" / "analytics" / "2026-06-30"
    manifest = json.loads((dated.resolve() / "manifest.json").read_text())
    assert manifest["as_of"] == "2026-06-30" and manifest["status"] == "succeeded"
    again = subprocess.run(["bash", "-c", command], capture_output=True, text=True, env=env)
    assert again.returncode == 5  # up to date: skip_on_exit_code=5 marks the task skipped


def test_the_cronjobs_are_one_valid_batch_v1_cronjob_per_team():
    text = schedule.kubernetes_cronjobs(
        [*TEAMS, "Growth_EU"], image="registry/workbook:1", claim="outputs", secret="warehouse"
    )
    docs = list(yaml.safe_load_all(text))
    assert [d["metadata"]["name"] for d in docs] == [
        "workbook-admin",
        "workbook-analytics",
        "workbook-collaboration",
        "workbook-growth-eu",
    ]
    for team, doc in zip([*TEAMS, "Growth_EU"], docs, strict=True):
        assert doc["apiVersion"] == "batch/v1" and doc["kind"] == "CronJob"
        assert re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", doc["metadata"]["name"])
        spec = doc["spec"]
        assert spec["schedule"] == "15 6 * * *" and spec["concurrencyPolicy"] == "Forbid"
        pod = spec["jobTemplate"]["spec"]["template"]["spec"]
        assert pod["restartPolicy"] == "Never"  # required by podFailurePolicy
        [c] = pod["containers"]
        assert {"name": "WORKBOOK_TEAM", "value": team} in c["env"]
        assert c["envFrom"] == [{"secretRef": {"name": "warehouse"}}]
        assert c["volumeMounts"] == [{"name": "outputs", "mountPath": "/srv/workbook/outputs"}]
        assert pod["volumes"] == [
            {"name": "outputs", "persistentVolumeClaim": {"claimName": "outputs"}}
        ]
        rule = spec["jobTemplate"]["spec"]["podFailurePolicy"]["rules"][0]
        assert rule["action"] == "FailJob" and rule["onExitCodes"]["values"] == [3]


@pytest.mark.parametrize(("code", "expected"), [(0, 0), (5, 0), (1, 1), (3, 3), (4, 4)])
def test_the_cronjob_command_maps_nothing_to_do_to_success(tmp_path, code, expected):
    """The container's ``sh -c`` command, run by sh against a stand-in ``workbook``."""
    [doc] = yaml.safe_load_all(schedule.kubernetes_cronjobs(["analytics"], image="i", claim="c"))
    [c] = doc["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    (tmp_path / ".venv" / "bin").mkdir(parents=True)
    fake = tmp_path / ".venv" / "bin" / "workbook"
    fake.write_text(f'#!/bin/sh\necho "$@" > args.txt\nexit {code}\n')
    fake.chmod(0o755)
    env = {"PATH": os.environ["PATH"], **{e["name"]: e["value"] for e in c["env"]}}
    done = subprocess.run(c["command"], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert done.returncode == expected
    assert (tmp_path / "args.txt").read_text().split() == [
        "run",
        "--team",
        "analytics",
        "--wait",
        "600",
    ]


def test_a_team_name_too_long_for_kubernetes_is_one_line():
    with pytest.raises(WorkbookError, match="longer than 52 characters"):
        schedule.job_name("t" * 60)


def test_a_schedule_that_is_not_five_cron_fields_is_refused():
    with pytest.raises(WorkbookError, match=r"`--at` must be a cron expression"):
        schedule.airflow_dag(["analytics"], root="/srv", schedule="@daily; rm -rf /")


def test_workbook_schedule_prints_every_team_by_default(monkeypatch):
    monkeypatch.delenv("WORKBOOK_ROOT", raising=False)
    done = subprocess.run(
        [sys.executable, "-m", "helpers", "schedule", "kubernetes", "--image", "wb:1"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    names = [d["metadata"]["name"] for d in yaml.safe_load_all(done.stdout)]
    assert names == [schedule.job_name(t) for t in known_teams(paths.ROOT / "params")]
