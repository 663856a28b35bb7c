"""The project's own metrics (params/metrics.yaml): checked before any kernel, part of the key."""

from __future__ import annotations

import yaml

from helpers import run as runner
from helpers.cli import main

EXPORTS = {
    "label": "Data exports",
    "description": "Events of the data_export feature in the area.",
    "table": "events",
    "time": "ts",
    "aggregation": "count",
    "where": {"feature": "data_export"},
    "unit": "exports",
}


def _project(root, **metrics) -> None:
    (root / "params" / "metrics.yaml").write_text(yaml.safe_dump(metrics))


def _use(root, team: str, metric: str) -> None:
    path = root / "params" / f"{team}.yaml"
    params = yaml.safe_load(path.read_text())
    params.setdefault("metric_trends", {})["metric"] = metric
    path.write_text(yaml.safe_dump(params))


def test_a_project_metric_is_listed_and_planned(workbook_root, capsys):
    _project(workbook_root, data_exports=EXPORTS)
    assert main(["metrics", "-v"]) == 0
    line = next(ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("data_exports"))
    assert "Data exports (exports)" in line and "params/metrics.yaml" in line
    _use(workbook_root, "analytics", "data_exports")
    [planned] = runner.plan(["analytics"], notebooks=["metric_trends"])
    assert planned.error is None and planned.warnings == []
    from helpers.params import known_teams

    assert "metrics" not in known_teams()  # the project's metrics are not a team


def test_a_wrong_column_is_refused_before_any_kernel_naming_the_nearest(workbook_root):
    _project(workbook_root, data_exports={**EXPORTS, "where": {"featur": "data_export"}})
    _use(workbook_root, "analytics", "data_exports")
    [planned] = runner.plan(["analytics"], notebooks=["metric_trends"])
    assert "field `where.featur`" in planned.error and "did you mean 'feature'" in planned.error


def test_a_filter_that_matches_nothing_is_a_warning(workbook_root, capsys):
    _project(workbook_root, data_exports={**EXPORTS, "where": {"feature": "data_exports"}})
    _use(workbook_root, "collaboration", "data_exports")
    assert main(["validate", "--team", "collaboration"]) == 0
    out = capsys.readouterr().out
    assert "warning" in out and "matches no row" in out


def test_editing_the_project_metrics_changes_the_trend_key_only(workbook_root):
    _project(workbook_root, data_exports=EXPORTS)
    [before] = runner.plan(["analytics"])
    _project(workbook_root, data_exports={**EXPORTS, "label": "Exports"})
    [after] = runner.plan(["analytics"])
    assert after.keys["metric_trends"] != before.keys["metric_trends"]
    assert after.keys["feature_demand"] == before.keys["feature_demand"]
    assert after.reasons["metric_trends"] == ["no run yet for " + str(after.as_of)]


def test_further_metrics_are_checked_before_any_kernel_naming_the_key(workbook_root):
    path = workbook_root / "params" / "analytics.yaml"
    params = yaml.safe_load(path.read_text())
    params.setdefault("metric_trends", {})["metrics"] = ["events", "suport_tickets"]
    path.write_text(yaml.safe_dump(params))
    [planned] = runner.plan(["analytics"], notebooks=["metric_trends"])
    assert "key `metric_trends.metrics[1]`" in planned.error
    assert "did you mean 'support_tickets'" in planned.error


def test_a_further_metric_listed_twice_or_as_the_lead_is_refused(workbook_root, capsys):
    path = workbook_root / "params" / "analytics.yaml"
    params = yaml.safe_load(path.read_text())
    params.setdefault("metric_trends", {}).update(metric="events", metrics=["events"])
    path.write_text(yaml.safe_dump(params))
    assert main(["validate", "--team", "analytics"]) != 0
    out = capsys.readouterr()
    assert "metrics" in out.out and "already `metric`" in out.out
    assert "Traceback" not in out.out + out.err
