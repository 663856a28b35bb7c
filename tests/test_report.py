"""Report helpers: the data-quality section reads the runner's check instead of repeating it."""

from __future__ import annotations

import json

from helpers.data import connect
from helpers.data.contract import check
from helpers.display import quality_table


def test_quality_table_without_a_run_checks_the_source(demo_path):
    with connect(demo_path) as wh:
        expected = len(check(wh))
        assert len(quality_table(wh)) == expected


def test_quality_table_in_a_run_reads_the_runners_check(tmp_path, demo_path):
    planted = {
        "severity": "warning",
        "table": "events",
        "column": "ts",
        "problem": "timestamps in the future",
        "rows": 7,
    }
    (tmp_path / "data_quality.json").write_text(json.dumps({"violations": [planted]}))
    with connect(demo_path) as wh:
        table = quality_table(wh, run_dir=tmp_path)
    assert table.to_dict("records") == [planted]
