"""Customer feedback on the demo warehouse: the planted themes, the emerging theme and NPS recovered.

Expected values come from the generator's planted truth (``<warehouse>.truth.json``) and
from plain SQL, pandas and NumPy, never from the code under test.
"""

from __future__ import annotations

import datetime as dt
import json

import duckdb
import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.metrics import normalized_mutual_info_score

from helpers.customer_feedback import classify, feedback_report, nps_table
from helpers.data import connect, demo_feedback
from helpers.data.demo import DemoSpec, generate, truth_path

AREAS = ("analytics", "collaboration", "integrations", "admin")
AS_OF = dt.date(2026, 10, 31)


@pytest.fixture(scope="module")
def reports(demo_path):
    with connect(demo_path) as wh:
        return {a: feedback_report(wh, a, as_of=AS_OF) for a in AREAS}


def _themed(report, truth) -> pd.DataFrame:
    """English comments with their found theme and the theme the generator planted."""
    c = report.data.comments
    english = c[classify(c["text"]) == "english"].reset_index(drop=True)
    english["found"] = report.themes.labels
    english["planted"] = english["id"].map(truth["feedback"]["comment_theme"])
    return english[english["planted"].isin(list(truth["feedback"]["themes"]))]


@pytest.mark.parametrize("area", AREAS)
def test_every_planted_theme_is_matched_by_one_found_theme(reports, demo_truth, area):
    t = _themed(reports[area], demo_truth)
    table = pd.crosstab(t["planted"], t["found"])
    most = table.max(axis=1) / table.sum(axis=1)
    assert set(table.index) == set(demo_truth["feedback"]["themes"])
    assert (most > 0.5).all(), most.to_dict()  # most of its comments in one found theme
    assert table.idxmax(axis=1).is_unique  # and a different found theme for each
    assert normalized_mutual_info_score(t["planted"], t["found"]) >= 0.6


@pytest.mark.parametrize("area", AREAS)
def test_the_emerging_theme_is_new_and_dated_within_14_days(reports, demo_truth, area):
    planted = demo_truth["feedback"]["emerging"]
    t = _themed(reports[area], demo_truth)
    found = t.loc[t["planted"] == planted["theme"], "found"].mode()[0]
    new = reports[area].new_themes
    assert new["theme"].tolist() == [found + 1]  # it, and nothing else
    start = dt.date.fromisoformat(planted["start"])
    assert abs((new["rise_date"].iloc[0] - start).days) <= 14
    answer = " ".join(reports[area].summary())
    assert "New: “" in answer and f"in the last {45} days" in answer


def test_detractors_and_promoters_talk_most_about_their_planted_themes(reports, demo_truth):
    shares = demo_truth["feedback"]["shares"]
    t = _themed(reports["analytics"], demo_truth)
    by = reports["analytics"].by_category
    for category in ("detractor", "promoter"):
        planted_top = max(shares[category], key=shares[category].get)
        found = t.loc[t["planted"] == planted_top, "found"].mode()[0]
        rows = by[by["category"] == category].sort_values("share", ascending=False)
        assert rows["theme"].iloc[0] == found + 1, category


def test_a_themes_requests_point_to_the_planted_feature(reports, demo_truth):
    for area in AREAS:
        link = demo_truth["feedback"]["feature_link"][area]
        t = _themed(reports[area], demo_truth)
        found = t.loc[t["planted"] == link["theme"], "found"].mode()[0]
        f = reports[area].features
        top = f[f["theme"] == found + 1].sort_values("requests", ascending=False)
        assert top["feature"].iloc[0] == link["feature"], area


def _sql(path, query: str) -> pd.DataFrame:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(query).df()
    finally:
        con.close()


def _answers(demo_path, area: str) -> pd.DataFrame:
    """The window's answers of the area's accounts, by hand in SQL."""
    return _sql(
        demo_path,
        f"""
        WITH area AS (
            SELECT DISTINCT account_id FROM events
            WHERE product_area = '{area}' AND ts >= TIMESTAMP '2025-11-01'
              AND ts < TIMESTAMP '2026-11-01')
        SELECT n.account_id, n.score, a.plan FROM nps_responses n
        JOIN accounts a USING (account_id)
        WHERE n.account_id IN (SELECT account_id FROM area)
          AND (a.churned_at IS NULL OR a.churned_at >= DATE '2025-11-01')
          AND n.submitted_at >= TIMESTAMP '2025-11-01' AND n.submitted_at < TIMESTAMP '2026-11-01'
        """,
    )


def test_nps_and_its_interval_equal_pandas_and_a_bootstrap(reports, demo_path):
    answers = _answers(demo_path, "analytics")
    row = reports["analytics"].nps.set_index("measure").loc["answers"]
    promoter, detractor = (answers.score >= 9).to_numpy(), (answers.score <= 6).to_numpy()
    assert row["n"] == len(answers)
    assert row["nps"] == pytest.approx(100 * (promoter.mean() - detractor.mean()), abs=1e-9)
    # an independent percentile bootstrap of the answers (NumPy, 4,000 resamples)
    x = promoter.astype(float) - detractor
    rng = np.random.default_rng(2016)
    boot = np.array([x[rng.integers(0, len(x), len(x))].mean() for _ in range(4000)]) * 100
    lo, hi = np.quantile(boot, [0.025, 0.975])
    assert row["lo"] == pytest.approx(lo, abs=1.0)
    assert row["hi"] == pytest.approx(hi, abs=1.0)


def test_nps_by_plan_is_flat_as_planted_and_differs_by_persona(reports, demo_path, demo_truth):
    # plan and persona are drawn independently; NPS follows the persona
    assert reports["analytics"].segment_p > 0.05
    answers = _answers(demo_path, "analytics")
    answers["persona"] = answers.account_id.map(demo_truth["account_persona"])
    by = nps_table(answers, "persona").set_index("persona")
    assert by.loc["power", "lo"] > by.loc["steady", "hi"]
    assert by.loc["steady", "lo"] > by.loc["casual", "hi"]
    assert by.loc["casual", "lo"] > by.loc["fading", "hi"]
    counts = pd.crosstab(answers.persona, pd.cut(answers.score, [-1, 6, 8, 10]))
    assert stats.chi2_contingency(counts).pvalue < 0.001


def test_comments_come_from_their_own_random_stream(tmp_path, monkeypatch):
    """Other text changes no other value: every column but the comments stays identical."""
    spec = DemoSpec(events=30_000, accounts=150, areas=2, seed=3)
    a, b = tmp_path / "a.duckdb", tmp_path / "b.duckdb"
    generate(spec, a)
    monkeypatch.setattr(
        demo_feedback, "text_stream", lambda seed: np.random.default_rng([seed, 1, 2, 3])
    )
    generate(spec, b)
    for table, key in [("nps_responses", "response_id"), ("feature_requests", "request_id")]:
        x = _sql(a, f"SELECT * FROM {table} ORDER BY {key}")
        y = _sql(b, f"SELECT * FROM {table} ORDER BY {key}")
        pd.testing.assert_frame_equal(x.drop(columns="comment"), y.drop(columns="comment"))
        assert not x["comment"].equals(y["comment"])
    for table in ("accounts", "features", "metrics"):
        q = f"SELECT * FROM {table} ORDER BY ALL"
        pd.testing.assert_frame_equal(_sql(a, q), _sql(b, q))
    q = "SELECT count(*) AS n, sum(hash(account_id, user_id, ts, feature)) AS h FROM events"
    pd.testing.assert_frame_equal(_sql(a, q), _sql(b, q))


def test_truth_records_the_planted_themes_and_the_emerging_start(demo_path, demo_truth):
    fb = demo_truth["feedback"]
    assert set(fb["themes"]) == set(demo_feedback.THEMES)
    end = dt.date.fromisoformat(demo_truth["end"])
    assert fb["emerging"]["start"] == str(end - dt.timedelta(days=demo_feedback.EMERGE_DAYS))
    assert json.loads(truth_path(demo_path).read_text())["feedback"] == fb
    planted = pd.Series(fb["comment_theme"])
    said = _sql(
        demo_path,
        "SELECT response_id AS id FROM nps_responses WHERE comment IS NOT NULL UNION ALL "
        "SELECT request_id FROM feature_requests WHERE comment IS NOT NULL",
    )
    assert set(planted.index) == set(said.id)
    shares = planted.value_counts(normalize=True)
    assert 0.02 < shares["empty"] < 0.06 and 0.02 < shares["non_english"] < 0.06
