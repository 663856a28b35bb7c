"""A smoke of the feedback validation suite: it runs, and its planted cases come out right."""

from __future__ import annotations

from validation import SUITES, feedback


def test_feedback_suite_finds_the_planted_theme_and_claims_nothing_on_flat_sets():
    assert "feedback" in SUITES
    table = feedback.run(smoke=True)["feedback_new_claims"].set_index("family")
    assert table.loc["no emerging theme", '"new" claimed'].startswith("0/2")
    assert table.loc["emerging theme", "planted theme found new"].startswith("1/1")
    error = int(table.loc["emerging theme", "date error, days (median, max)"].split(",")[1])
    assert error <= 14
