"""Team params: merged over defaults, validated, every mistake one clear line."""

from __future__ import annotations

import datetime as dt

import pytest

from helpers.errors import WorkbookError, check_choice
from helpers.params import NOTEBOOKS, known_teams, load_team, notebook_parameters


def _write(root, name, text):
    (root / "params" / f"{name}.yaml").write_text(text)


def test_teams_are_the_params_files(workbook_root):
    files = sorted(p.stem for p in (workbook_root / "params").glob("*.yaml"))
    assert known_teams() == [f for f in files if not f.startswith("_")]
    _write(workbook_root, "newteam", "title: New\n")
    assert "newteam" in known_teams()


def test_team_keys_override_defaults_key_by_key_inside_a_section(workbook_root):
    _write(workbook_root, "t1", "metric_trends:\n  grain: day\n")
    tp = load_team("t1")
    assert tp.metric_trends.grain == "day"
    assert tp.metric_trends.metric == "active_accounts"  # from _defaults.yaml
    assert tp.product_area == "t1"  # defaults to the team name


def test_typo_in_a_key_names_file_key_and_suggestion(workbook_root):
    _write(workbook_root, "t1", "metric_trends:\n  grian: day\n")
    with pytest.raises(WorkbookError) as err:
        load_team("t1")
    msg = str(err.value)
    assert msg.startswith("params/t1.yaml:")
    assert "metric_trends.grian" in msg and "did you mean 'grain'" in msg


def test_typo_in_a_top_level_key_is_suggested(workbook_root):
    _write(workbook_root, "t1", "sorce: data/x.duckdb\n")
    with pytest.raises(WorkbookError, match=r"unknown key `sorce` \(did you mean 'source'\?\)"):
        load_team("t1")


def test_wrong_type_names_the_expected_type(workbook_root):
    _write(workbook_root, "t1", "customer_segmentation:\n  lookback_days: ninety\n")
    with pytest.raises(
        WorkbookError,
        match=r"customer_segmentation.lookback_days` must be a "
        r"whole number, not 'ninety'",
    ):
        load_team("t1")


def test_wrong_choice_lists_the_allowed_values(workbook_root):
    _write(workbook_root, "t1", "metric_trends:\n  grain: wek\n")
    with pytest.raises(WorkbookError, match=r"'day', 'week' or 'month'"):
        load_team("t1")


def test_unknown_team_lists_known_teams(workbook_root):
    with pytest.raises(
        WorkbookError,
        match=r"unknown team 'analytix' \(did you mean "
        r"'analytics'\?\); known teams: admin, analytics",
    ):
        load_team("analytix")


def test_yaml_that_is_not_a_mapping_is_refused(workbook_root):
    _write(workbook_root, "t1", "- a\n- b\n")
    with pytest.raises(WorkbookError, match=r"params/t1.yaml: must be a mapping.*not a list"):
        load_team("t1")


def test_impossible_date_is_refused_with_the_file(workbook_root):
    _write(workbook_root, "t1", "as_of: 2026-02-30\n")
    with pytest.raises(WorkbookError, match=r"params/t1.yaml"):
        load_team("t1")


def test_broken_yaml_names_the_line(workbook_root):
    _write(workbook_root, "t1", "title: ok\nmetric_trends: [unclosed\n")
    with pytest.raises(WorkbookError, match=r"params/t1.yaml: not valid YAML at line"):
        load_team("t1")


def test_connection_url_in_params_is_refused(workbook_root):
    _write(workbook_root, "t1", "source: postgres://u:secret@host/db\n")
    with pytest.raises(WorkbookError) as err:
        load_team("t1")
    assert "env:VARIABLE" in str(err.value)
    assert "secret" not in str(err.value).split("not")[0]


def test_notebook_parameters_are_flat_shared_keys_plus_the_section(workbook_root):
    tp = load_team("analytics")
    params = notebook_parameters(tp, "feature_demand", as_of=dt.date(2026, 10, 31), run_dir="/x")
    assert params["team"] == "analytics" and params["as_of"] == "2026-10-31"
    assert params["features"] == ["ai_insights", "custom_metrics", "dark_mode", "pdf_reports"]
    assert not any(isinstance(v, dict) for v in params.values())
    assert "grain" not in params  # another notebook's key


def test_every_demo_team_file_is_valid():
    for team in known_teams():
        tp = load_team(team)
        assert tp.notebooks == NOTEBOOKS


def test_check_choice_message_reads_alike():
    with pytest.raises(WorkbookError) as err:
        check_choice("grain", "wek", ["day", "week", "month"])
    assert str(err.value) == (
        "The value for `grain` must be one of ['day', 'week', 'month'], not 'wek' "
        "(did you mean 'week'?)"
    )
