"""A smoke of the benchmark code at tiny sizes: it runs and writes its report (no timing asserted)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from helpers import paths

pytestmark = pytest.mark.slow


def test_benchmarks_run_at_tiny_sizes_and_write_results(tmp_path):
    env = {**os.environ}
    env.pop("WORKBOOK_ROOT", None)
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks",
            "--smoke",
            "--work",
            str(tmp_path / "work"),
            "--out",
            str(tmp_path / "out"),
            "--only",
            "generation,aggregations,naive,fleet,feedback",
        ],
        capture_output=True,
        text=True,
        cwd=paths.ROOT,
        env=env,
        timeout=900,
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    for section in ["generation", "aggregations", "naive", "fleet", "feedback"]:
        for value in results[section].values():
            assert "error" not in value, (section, value)
    assert (tmp_path / "out" / "results.md").read_text().startswith("# Benchmark results")
