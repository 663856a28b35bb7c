"""Secrets: a warehouse URL with a password, given through the environment, is written nowhere.

The run is the PostgreSQL run of ``test_postgres.py`` (shared through
``warehouse_server.py``): every notebook of one team against a password-protected
server. Every file under the team's outputs, and what the runner printed, is searched
for the password and the full URL, as bytes and as decoded text.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from support import warehouse_server as ws

pytestmark = pytest.mark.slow

TEAM = "analytics"


@pytest.fixture(scope="session")
def server_run(pg):
    return ws.run_team(TEAM, url=pg.url)


def _needles(url: str, password: str) -> list[bytes]:
    return [s.encode() for s in (password, url)]


def _leaks(data: bytes, needles: list[bytes]) -> list[str]:
    found = [n.decode() for n in needles if n in data]
    text = data.decode("utf-8", "ignore") + data.decode("utf-16-le", "ignore")
    found += [n.decode() for n in needles if n.decode() in text]
    return found


def test_the_run_wrote_notebooks_html_manifest_tables_and_figures(server_run):
    assert server_run.returncode == 0, server_run.stdout + server_run.stderr
    suffixes = {p.suffix for p in server_run.run_dir.rglob("*") if p.is_file()}
    assert {".ipynb", ".html", ".json", ".parquet"} <= suffixes


def test_no_file_the_run_wrote_holds_the_password_or_the_url(pg, server_run):
    needles = _needles(pg.url, pg.password)
    searched = 0
    for path in sorted((server_run.root / "outputs").rglob("*")):
        if path.is_file():
            assert not _leaks(path.read_bytes(), needles), path
            searched += 1
        if path.suffix == ".parquet":  # compressed pages: search the decoded values too
            text = pd.read_parquet(path).to_csv().encode()
            assert not _leaks(text, needles), path
    assert searched >= 5


def test_the_runners_output_holds_neither_the_password_nor_the_url(pg, server_run):
    needles = _needles(pg.url, pg.password)
    assert not _leaks((server_run.stdout + server_run.stderr).encode(), needles)


def test_a_refused_connection_reports_without_the_password(pg, tmp_path):
    root = ws.run_team(TEAM, url=pg.url).root
    bad = pg.url.replace(pg.password, pg.password + "-wrong")
    env = {k: v for k, v in os.environ.items() if not k.startswith("WORKBOOK_")}
    env.update(WORKBOOK_ROOT=str(root), WAREHOUSE_URL=bad)
    done = subprocess.run(
        [sys.executable, "-m", "helpers", "run", "--team", TEAM, "--force"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert done.returncode == 3  # the source refused before any kernel
    assert "cannot connect" in done.stdout
    assert not _leaks((done.stdout + done.stderr).encode(), _needles(bad, pg.password))
    for path in Path(root / "outputs").rglob("*"):
        if path.is_file():
            assert not _leaks(path.read_bytes(), _needles(bad, pg.password)), path


def test_a_url_written_into_params_by_mistake_is_not_echoed(tmp_path, monkeypatch, capsys):
    from helpers import paths
    from helpers.cli import main

    shutil.copytree(paths.ROOT / "params", tmp_path / "params")
    monkeypatch.setenv("WORKBOOK_ROOT", str(tmp_path))
    path = tmp_path / "params" / f"{TEAM}.yaml"
    path.write_text(path.read_text() + '\nsource: "postgres://u:Hunter2Secret@db:5432/w"\n')
    assert main(["run", "--team", TEAM]) == 3  # invalid params
    out, err = capsys.readouterr()
    assert "key `source`" in out + err
    assert "Hunter2Secret" not in out + err
