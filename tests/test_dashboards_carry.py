"""A run of one notebook keeps every analysis of the team on its page, each with its own as-of.

``workbook run --team T --notebook metric_trends`` runs a stand-in notebook (seconds); the
team's earlier full run is written in the runner's layout by ``dashboard_runs.write_run``.
"""

from __future__ import annotations

import json
import os

import pytest
from support.cli import cli
from support.dashboard_runs import ANSWERS, write_run
from support.notebooks import use_stand_ins

from helpers import dashboards

pytestmark = pytest.mark.slow

TEAM = "analytics"


def test_a_run_of_one_notebook_keeps_every_analysis_with_its_own_as_of(
    workbook_root, tmp_path, monkeypatch
):
    use_stand_ins(tmp_path / "notebooks", monkeypatch)
    outputs = workbook_root / "outputs"
    old = write_run(outputs, TEAM, title="Analytics", as_of="2026-10-24")

    done = cli("run", "--team", TEAM, "--notebook", "metric_trends", "--jobs", "1")
    assert done.returncode == 0, done.stdout + done.stderr

    latest = (outputs / TEAM / "latest").resolve()
    assert latest != old.resolve()
    manifest = json.loads((latest / "manifest.json").read_text())
    entries = {e["notebook"]: e for e in manifest["notebooks"]}
    assert manifest["status"] == "succeeded" and manifest["as_of"] == "2026-10-31"
    assert entries["metric_trends"]["status"] == "succeeded"
    for name in ("customer_segmentation", "feature_demand"):
        assert entries[name]["status"] == "carried over"
        assert (entries[name]["from_run_id"], entries[name]["as_of"]) == (old.name, "2026-10-24")
        # the earlier run's files, linked (the same file), not copied or rewritten
        kept = latest / "answers" / f"{name}.json"
        assert os.path.samefile(kept, old / "answers" / f"{name}.json")

    snap = dashboards.load_snapshot(TEAM)
    assert {n: a.as_of for n, a in snap.analyses.items()} == {
        "customer_segmentation": "2026-10-24",
        "feature_demand": "2026-10-24",
        "metric_trends": "2026-10-31",
    }
    page = dashboards.Pages("/").team(TEAM)
    body = page.body.decode()
    assert page.status == 200
    assert ANSWERS["customer_segmentation"].format(title="Analytics") in body
    assert ANSWERS["feature_demand"].format(title="Analytics") in body
    assert f"answer for {TEAM}" in body  # the stand-in's metric_trends answer
    assert body.count("as of 2026-10-24") == 4 and "as of 2026-10-31" in body
