"""Planning a run: what would run and why, decided before any kernel starts."""

from __future__ import annotations

import os
import shutil
import time

import pytest

from helpers import paths
from helpers import run as runner


@pytest.fixture
def own_notebooks(workbook_root, tmp_path, monkeypatch):
    """A copy of the real notebooks and their .py twins the test may edit."""
    folder = tmp_path / "notebooks"
    shutil.copytree(paths.ROOT / "notebooks", folder, ignore=shutil.ignore_patterns(".*"))
    monkeypatch.setenv("WORKBOOK_NOTEBOOKS", str(folder))
    return folder


def test_notebooks_in_step_with_their_twins_plan_cleanly(own_notebooks):
    [planned] = runner.plan(["analytics"], notebooks=["metric_trends"])
    assert planned.error is None, planned.error


def test_an_edit_made_only_to_the_py_twin_is_refused_naming_the_newer_file(own_notebooks):
    py = own_notebooks / "metric_trends.py"
    py.write_text(py.read_text() + "\n# %%\nprint('edited in the .py only')\n")
    later = time.time() + 5
    os.utime(py, (later, later))
    [planned] = runner.plan(["analytics"], notebooks=["metric_trends"])
    assert planned.error is not None
    assert "metric_trends.py is newer" in planned.error
    assert "jupytext --sync" in planned.error


def test_validate_checks_every_team_without_a_kernel(workbook_root, capsys):
    from helpers.cli import main

    assert main(["validate"]) == 0
    out = capsys.readouterr().out
    teams = [p.stem for p in (workbook_root / "params").glob("*.yaml") if p.stem[0] != "_"]
    assert all(f"{t} " in out and " ok " in out for t in teams)
    (workbook_root / "params" / "typo.yaml").write_text(
        "product_area: analytics\nfeature_demand:\n  features: [cohorts, funels]\n"
    )
    assert main(["validate"]) == 3
    line = next(ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("typo"))
    assert "INVALID" in line and "'funels'" in line and "did you mean 'funnels'" in line


def test_plan_says_what_would_run_and_why_before_any_run(workbook_root, capsys):
    from helpers.cli import main

    assert main(["plan", "--team", "analytics"]) == 0
    out = capsys.readouterr().out
    assert "analytics (as of " in out
    for nb in runner.plan(["analytics"])[0].parameters:
        assert any(ln.split()[:2] == ["run", nb] and "no run yet" in ln for ln in out.splitlines())


def test_teams_and_check_data_catch_a_misspelt_feature(workbook_root, capsys):
    from helpers.cli import main

    (workbook_root / "params" / "typo.yaml").write_text(
        "product_area: analytics\nfeature_demand:\n  features: [cohorts, funels]\n"
    )
    assert main(["teams"]) == 1
    line = next(ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("typo"))
    assert "INVALID" in line and "'funels'" in line
    assert main(["check-data", "--team", "typo"]) == 1
    assert "did you mean 'funnels'" in capsys.readouterr().err
