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
            "generation,aggregations,naive,cpu_budget,fleet,feedback",
        ],
        capture_output=True,
        text=True,
        cwd=paths.ROOT,
        env=env,
        timeout=900,
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    for section in ["generation", "aggregations", "naive", "cpu_budget", "fleet", "feedback"]:
        for value in results[section].values():
            assert "error" not in value, (section, value)
    # the CPU budget's parts add up to its total, and the notebook's cells spent some
    (row,) = results["cpu_budget"]["team"]["notebooks"].values()
    parts = ["kernel_start_imports", "queries", "statistics_tables", "figures"]
    parts += ["papermill_nbclient", "html_export"]
    assert abs(sum(row[p] for p in parts) - row["total"]) < 0.05
    assert row["kernel_start_imports"] > 0.3 and row["queries"] > 0 and row["figures"] > 0
    assert (tmp_path / "out" / "results.md").read_text().startswith("# Benchmark results")
