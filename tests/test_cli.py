"""The `workbook` command as a user meets it: one-line errors, exit codes, no tracebacks."""

from __future__ import annotations

import shutil

import duckdb
import yaml
from support.cli import cli as _cli


def test_teams_lists_every_team_with_its_title(workbook_root):
    out = _cli("teams")
    assert out.returncode == 0, out.stderr
    files = [p for p in (workbook_root / "params").glob("*.yaml") if not p.stem.startswith("_")]
    assert files
    for path in files:
        assert path.stem in out.stdout
        title = (yaml.safe_load(path.read_text()) or {}).get("title")
        assert not title or title in out.stdout


def test_check_data_passes_on_the_demo_warehouse(workbook_root):
    out = _cli("check-data", "--team", "analytics")
    assert out.returncode == 0
    assert "every contract check passes" in out.stdout


def test_check_data_names_each_problem_and_exits_1(tmp_path, demo_path):
    broken = tmp_path / "broken.duckdb"
    shutil.copy(demo_path, broken)
    con = duckdb.connect(str(broken))
    con.execute("ALTER TABLE events DROP COLUMN feature")
    con.execute("INSERT INTO features SELECT * FROM features LIMIT 1")
    con.execute(
        "UPDATE nps_responses SET score = 11 WHERE response_id = "
        "(SELECT min(response_id) FROM nps_responses)"
    )
    con.close()
    out = _cli("check-data", "--source", str(broken))
    assert out.returncode == 1
    lines = out.stdout.splitlines()
    assert any("events.feature: column is missing" in line for line in lines)
    assert any("features.feature: duplicate keys" in line and "(1 rows)" in line for line in lines)
    assert any("nps_responses.score: values above 10 (1 rows)" in line for line in lines)
    assert "Traceback" not in out.stderr


def test_check_data_exits_0_with_warnings_only(tmp_path, demo_path):
    warn = tmp_path / "warn.duckdb"
    shutil.copy(demo_path, warn)
    con = duckdb.connect(str(warn))
    con.execute("UPDATE events SET ts = TIMESTAMP '2099-01-01' WHERE account_id = 'acc-000001'")
    con.close()
    out = _cli("check-data", "--source", str(warn))
    assert out.returncode == 0
    assert "WARNING events.ts: timestamps in the future" in out.stdout


def test_params_typo_fails_before_any_kernel_with_the_suggestion(workbook_root):
    (workbook_root / "params" / "analytics.yaml").write_text(
        "customer_segmentation:\n  lookbak_days: 30\n"
    )
    out = _cli("run", "--team", "analytics")
    assert out.returncode == 3  # invalid params (docs/scheduling.md: exit codes)
    assert (
        "params/analytics.yaml: unknown key `customer_segmentation.lookbak_days` "
        "(did you mean 'lookback_days'?)" in out.stdout
    )
    assert not (workbook_root / "outputs" / "analytics").exists()
    assert "Traceback" not in out.stdout + out.stderr


def test_unknown_team_is_one_line_and_exit_3(workbook_root):
    out = _cli("run", "--team", "nope")
    assert out.returncode == 3  # invalid params: no such params file
    assert "unknown team 'nope'" in out.stdout
    assert "Traceback" not in out.stderr


def test_missing_source_is_a_clean_error(tmp_path):
    out = _cli("check-data", "--source", str(tmp_path / "missing.duckdb"))
    assert out.returncode == 1
    assert out.stderr.startswith("error: source ") and out.stderr.count("\n") == 1


def test_params_prints_yaml_that_papermill_accepts(workbook_root):
    out = _cli("params", "analytics", "feature_demand")
    assert out.returncode == 0, out.stderr
    params = yaml.safe_load(out.stdout)
    assert params["team"] == "analytics"
    assert params["features"] == ["ai_insights", "custom_metrics", "dark_mode", "pdf_reports"]
    assert params["as_of"] is None


def test_demo_data_rejects_bad_sizes_without_traceback(tmp_path):
    out = _cli("demo-data", "--events", "-5", "--out", str(tmp_path / "x.duckdb"))
    assert out.returncode == 2
    assert "must be at least 1" in out.stderr and "Traceback" not in out.stderr


def test_demo_data_writes_a_warehouse_and_its_truth(tmp_path):
    out = _cli(
        "demo-data",
        "--events",
        "20000",
        "--accounts",
        "100",
        "--areas",
        "2",
        "--out",
        str(tmp_path / "d.duckdb"),
    )
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "d.duckdb").exists() and (tmp_path / "d.truth.json").exists()
