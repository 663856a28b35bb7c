"""Shared fixtures: a small demo warehouse built once per session, a throwaway workbook root."""

from __future__ import annotations

import json
import shutil
import zlib
from pathlib import Path

import numpy as np
import pytest

from helpers import paths
from helpers.data.demo import DemoSpec, generate, truth_path

#: The small warehouse the tests share: big enough for the planted truths to show.
SMALL = DemoSpec(events=400_000, accounts=1200, areas=4, seed=7)


#: test files that run on one pytest-xdist worker, so their per-process caches serve them
#: all: the tiny warehouse's DuckDB run, the PostgreSQL server and its run
#: (tests/support/warehouse_server.py) are made once, not once per worker
_SAME_WORKER = {
    "tests/test_postgres.py": "server warehouses",
    "tests/test_secrets.py": "server warehouses",
    "tests/test_spark.py": "server warehouses",
}


def pytest_xdist_make_scheduler(config, log):
    """``make test``'s ``--dist loadfile``, with the files of :data:`_SAME_WORKER` as one unit."""
    if config.getoption("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class FilesTogether(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            file = super()._split_scope(nodeid)
            return _SAME_WORKER.get(file, file)

    return FilesTogether(config, log)


@pytest.fixture
def rng(request) -> np.random.Generator:
    """A generator seeded from the test's name: reproducible, different per test."""
    return np.random.default_rng(zlib.crc32(request.node.nodeid.encode()))


@pytest.fixture(scope="session")
def demo_path(tmp_path_factory) -> Path:
    """A demo DuckDB warehouse built in a temporary folder (never a file left on the machine)."""
    out = tmp_path_factory.mktemp("warehouse") / "demo.duckdb"
    generate(SMALL, out)
    return out


@pytest.fixture(scope="session")
def demo_truth(demo_path) -> dict:
    """The planted ground truth of :func:`demo_path`."""
    return json.loads(truth_path(demo_path).read_text())


@pytest.fixture
def workbook_root(tmp_path, demo_path, monkeypatch) -> Path:
    """A workbook root with the repo's params, pointing at the small warehouse."""
    root = tmp_path / "wb"
    shutil.copytree(paths.ROOT / "params", root / "params")
    (root / "data").mkdir()
    (root / "data" / "demo.duckdb").symlink_to(demo_path)
    (root / "outputs").mkdir()
    monkeypatch.setenv("WORKBOOK_ROOT", str(root))
    monkeypatch.delenv("WORKBOOK_OUTPUTS", raising=False)
    return root


@pytest.fixture(scope="session")
def pg():
    """A PostgreSQL server from Debian's packages on loopback, loaded with a tiny demo.

    Skipped only when PostgreSQL is not installed and ``CI`` is not set; in CI a missing
    server fails (``.ci/run`` installs it).
    """
    from support import warehouse_server as ws

    if ws.require_postgres() is None:
        pytest.skip("PostgreSQL is not installed (CI installs it through .ci/run)")
    yield ws.server(ws.tiny_warehouse())
    ws.stop_all()
