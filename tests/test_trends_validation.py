"""The metric-trends validation suite runs (smoke size) and its tables say what they should."""

from __future__ import annotations

import re

from validation import SUITES
from validation import trends as suite


def _hits(cell: str) -> tuple[int, int]:
    """'95.0% (190/200)' -> (190, 200)."""
    k, n = re.search(r"\((\d+)/(\d+)\)", cell).groups()
    return int(k), int(n)


def test_trends_suite_smoke_run_finds_planted_effects_and_names_its_doc():
    assert "trends" in SUITES and suite.DOC == "docs/trends.md"
    tables = suite.run(smoke=True)
    assert set(tables) == {
        "trends_flat",
        "trends_step",
        "trends_episode",
        "trends_linear",
        "trends_forecast",
    }
    # planted effects are large: every smoke series shows them
    for cell in tables["trends_step"]["found within ±1 week"]:
        k, n = _hits(cell)
        assert k >= n - 1
    for cell in tables["trends_linear"]["upward trend found"]:
        assert _hits(cell)[0] == _hits(cell)[1]
    for cell in tables["trends_episode"]["reported with its dates"]:
        k, n = _hits(cell)
        assert k >= n - 1
    # and a band never collapses to zero width
    assert (tables["trends_flat"]["zero-width forecast bands"] == 0).all()
    k, n = _hits(tables["trends_forecast"]["95% band held"].iloc[0])
    assert 0.8 <= k / n <= 1.0


def test_trends_suite_gives_the_same_tables_spread_over_processes():
    # every row draws from its own seed, so the processes cannot change a count
    one, two = suite.run(smoke=True), suite.run(smoke=True, jobs=2)
    assert set(one) == set(two)
    for name, table in one.items():
        assert table.equals(two[name]), name
