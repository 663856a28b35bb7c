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
