"""Notebooks that read the team's segments run after segmentation, in the same run."""

from __future__ import annotations

import shutil

import pandas as pd
import pytest
import yaml

from helpers import paths
from helpers import run as runner
from helpers.paths import TeamFolder
from helpers.results import SEGMENT_COLUMNS

pytestmark = pytest.mark.slow

TEAM = "newteam"


@pytest.fixture(scope="module")
def workbook_root(tmp_path_factory, demo_path):
    """One workbook root for this module's runs (the second test starts where the first
    left off: a run of the team is in ``latest``, so it costs one run less)."""
    root = tmp_path_factory.mktemp("run-order") / "wb"
    shutil.copytree(paths.ROOT / "params", root / "params")
    (root / "data").mkdir()
    (root / "data" / "demo.duckdb").symlink_to(demo_path)
    (root / "outputs").mkdir()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("WORKBOOK_ROOT", str(root))
        mp.delenv("WORKBOOK_OUTPUTS", raising=False)
        yield root


@pytest.fixture(scope="module")
def fresh_team(workbook_root):
    """A team no run has seen, breaking demand and trends down by its own segments."""
    params = {
        "title": "New team",
        "product_area": "analytics",
        # the three that segment-breakdowns concern (feedback's own test covers it)
        "notebooks": ["customer_segmentation", "feature_demand", "metric_trends"],
        "customer_segmentation": {"method": "rfm"},
        "feature_demand": {
            "features": ["ai_insights", "custom_metrics"],
            "segment_by": "segment",
            "bootstrap_runs": 200,
        },
        "metric_trends": {"compare_by": "segment", "horizon": 4},
    }
    (workbook_root / "params" / f"{TEAM}.yaml").write_text(yaml.safe_dump(params))
    return workbook_root


def _table(run, notebook: str, name: str) -> pd.DataFrame:
    return pd.read_parquet(run.table(notebook, name))


def test_a_fresh_team_with_segment_breakdowns_succeeds_three_times_from_empty_outputs(
    fresh_team,
):
    for attempt in range(3):
        shutil.rmtree(fresh_team / "outputs")
        (fresh_team / "outputs").mkdir()
        results = runner.run([TEAM], jobs=2)
        assert {r.status for r in results} == {"succeeded"}, (attempt, results)
        run = TeamFolder(TEAM).latest()
        assert run is not None
        manifest = run.read_manifest()
        order = {e["notebook"]: e for e in manifest["notebooks"]}
        seg_done = order["customer_segmentation"]["finished_at"]
        for nb in ("feature_demand", "metric_trends"):
            assert order[nb]["after"] == ["customer_segmentation"]
            assert order[nb]["started_at"] >= seg_done, (nb, order[nb]["started_at"], seg_done)

        # the segments both pages break down by are the segmentation's own names
        assigned = _table(run, "customer_segmentation", "assignments")
        column = next(c for c in SEGMENT_COLUMNS if assigned[c].notna().any())
        names = set(assigned[column].dropna().astype(str))
        demand = _table(run, "feature_demand", "segments")
        assert (demand.segment_by == "segment").all()
        trends = _table(run, "metric_trends", "segments")
        assert set(demand.segment) <= names | {"not segmented"}
        assert set(trends.segment) <= names
        assert set(demand.segment) - {"not segmented"} == set(trends.segment)


def test_the_segments_read_are_part_of_the_up_to_date_key(fresh_team):
    if TeamFolder(TEAM).latest() is None:  # run alone: the test above left no run
        first = {r.notebook: r.status for r in runner.run([TEAM], jobs=2)}
        assert set(first.values()) == {"succeeded"}
    again = {r.notebook: r.status for r in runner.run([TEAM], jobs=2)}
    assert set(again.values()) == {"up to date"}, again
    # new segments (a shorter window): segmentation reruns, and so does everyone reading it
    path = fresh_team / "params" / f"{TEAM}.yaml"
    params = yaml.safe_load(path.read_text())
    params["customer_segmentation"]["lookback_days"] = 60
    path.write_text(yaml.safe_dump(params))
    changed = {r.notebook: r.status for r in runner.run([TEAM], jobs=2)}
    assert changed == {n: "succeeded" for n in changed}, changed
    # demand alone, against the latest run's segments: unchanged, so up to date
    alone = runner.run([TEAM], jobs=2, notebooks=["feature_demand"])
    assert [r.status for r in alone] == ["up to date"]
