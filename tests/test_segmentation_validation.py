"""The segmentation validation suite runs (smoke size) and its tables say what they should."""

from __future__ import annotations

from validation import SUITES
from validation import segments as suite


def test_segments_suite_smoke_run_finds_no_tie_split_no_false_movement():
    assert "segments" in SUITES
    tables = suite.run(smoke=True)
    ties = tables["segments_ties"].set_index("measure")["count"]
    assert ties["groups of equal accounts"] > 0
    assert ties["split across scores, cut-offs (now)"] == 0
    assert ties["split across scores, rank by id (former)"] > 0  # the contrast is real
    recency = tables["segments_recency"]
    assert (recency["seen ≤ 3 days"] > 0).all()
    assert (recency["at risk or asleep (now)"] == 0).all()
    movement = tables["segments_movement"]
    assert (movement["RFM moves (4 weeks)"] == 0).all()
    assert (movement["cluster moves (4 weeks)"] == 0).all()
    assert len(tables["segments_clusters"]) == 1
    assert suite.DOC == "docs/segmentation.md"
