"""The feature-demand validation suite runs (smoke size) and its tables say what they should."""

from __future__ import annotations

from validation import SUITES
from validation import demand as suite


def test_demand_suite_smoke_run_agrees_everywhere_and_names_its_doc():
    assert "demand" in SUITES
    tables = suite.run(smoke=True)
    assert set(tables) == {"demand_agreement", "demand_calibration", "demand_claims"}
    agreement = tables["demand_agreement"]
    # verdict and interval come from one method: they agree on every table, by construction
    assert (agreement.agree == agreement.tables).all()
    assert (agreement.met == "yes").all()
    calibration = tables["demand_calibration"]
    planted = calibration[calibration.family.str.startswith("planted")]
    assert planted.hits.iloc[0] >= 0.75 * planted.sets.iloc[0]  # the planted gap is large
    assert suite.DOC == "docs/feature-demand.md"
