"""Every notebook, for every demo team, through the real runner (papermill) and through nbval."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import nbformat
import pytest

from helpers import paths
from helpers.params import NOTEBOOKS, known_teams

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def fleet(tmp_path_factory, demo_path):
    """One `workbook run --all` over the small warehouse, shared by the checks below."""
    import shutil

    root = tmp_path_factory.mktemp("fleet")
    shutil.copytree(paths.ROOT / "params", root / "params")
    (root / "data").mkdir()
    (root / "data" / "demo.duckdb").symlink_to(demo_path)
    env = {**os.environ, "WORKBOOK_ROOT": str(root)}
    env.pop("WORKBOOK_NOTEBOOKS", None)
    out = subprocess.run(
        [sys.executable, "-m", "helpers", "run", "--all", "--jobs", "2"],
        capture_output=True,
        text=True,
        env=env,
        timeout=1500,
    )
    return root, out


def test_run_all_succeeds_for_every_team(fleet):
    root, out = fleet
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]


@pytest.mark.parametrize("team", known_teams(paths.ROOT / "params"))
def test_every_team_has_every_notebook_executed_without_errors(fleet, team):
    root, _ = fleet
    run_dir = (root / "outputs" / team / "latest").resolve()
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["status"] == "succeeded"
    for name in NOTEBOOKS:
        nb = nbformat.read(run_dir / f"{name}.ipynb", as_version=4)
        errors = [o for c in nb.cells for o in c.get("outputs", []) if o.output_type == "error"]
        assert errors == [], f"{team}/{name}"
        page = (run_dir / f"{name}.html").read_text()
        assert len(page) > 1000
        # the PM's copy opens offline: no script or stylesheet from an outside server
        assert not re.search(r"<script\b[^>]*src=[\"']?(https?:)?//", page, re.I), name
        assert not re.search(r"<link\b[^>]*href=[\"']?(https?:)?//", page, re.I), name
        assert f"<title>{name.replace('_', ' ').capitalize()} — {team}</title>" in page
        answer = json.loads((run_dir / "answers" / f"{name}.json").read_text())["answer"]
        assert answer and all(isinstance(s, str) and s for s in answer)
        assert list((run_dir / "figures" / name).glob("*.png")), f"{team}/{name}: no figure"
        assert list((run_dir / "tables" / name).glob("*.parquet")), f"{team}/{name}: no table"


def test_each_recorded_figure_is_drawn_once_and_is_the_image_the_notebook_shows(fleet):
    """A figure is rendered once: the PNG in figures/ is, byte for byte, an image the
    executed notebook shows, and the notebook shows no other rendering of it."""
    import base64

    root, _ = fleet
    run_dir = (root / "outputs" / "analytics" / "latest").resolve()
    for name in NOTEBOOKS:
        nb = nbformat.read(run_dir / f"{name}.ipynb", as_version=4)
        shown = [
            base64.b64decode(o["data"]["image/png"])
            for c in nb.cells
            for o in c.get("outputs", [])
            if "image/png" in o.get("data", {})
        ]
        saved = [p.read_bytes() for p in sorted((run_dir / "figures" / name).glob("*.png"))]
        assert saved, name
        assert sorted(shown) == sorted(saved), (name, len(shown), len(saved))


def test_no_notebook_shows_a_traceback_or_stderr_warning_to_a_pm(fleet):
    root, _ = fleet
    for html in (root / "outputs").glob("*/latest/*.html"):
        text = html.read_text()
        assert "Traceback" not in text, html
        assert "Warning:" not in text, html


def test_notebooks_pass_nbval_lax(tmp_path, demo_path):
    """`pytest --nbval-lax` over the committed notebooks with their default parameters."""
    import shutil

    root = tmp_path / "root"
    shutil.copytree(paths.ROOT / "params", root / "params")
    (root / "data").mkdir()
    (root / "data" / "demo.duckdb").symlink_to(demo_path)
    env = {**os.environ, "WORKBOOK_ROOT": str(root)}
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "--nbval-lax",
            "-q",
            "-p",
            "no:cacheprovider",
            "-o",
            "filterwarnings=",
            "-o",
            "addopts=",
            "--nbval-current-env",
            *(str(paths.ROOT / "notebooks" / f"{n}.ipynb") for n in NOTEBOOKS),
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=900,
    )
    assert out.returncode == 0, out.stdout[-4000:]
