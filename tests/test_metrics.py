"""The metric registry and the engine-side series: gaps, partial periods, segments, messages."""

from __future__ import annotations

import datetime as dt

import duckdb
import pandas as pd
import pytest

from helpers import data
from helpers import metric_trends as metrics
from helpers.errors import WorkbookError

# Mondays of a tiny warehouse: weeks W1, W2 (no activity at all), W3, W4
W1, W2, W3, W4 = (pd.Timestamp("2026-03-02") + pd.Timedelta(weeks=i) for i in range(4))


@pytest.fixture
def tiny(tmp_path):
    """A Parquet-folder source: two active accounts, one account with no rows, a gap week."""
    acc = pd.DataFrame(
        {
            "account_id": ["a1", "a2", "a3"],
            "name": ["A", "B", "C"],
            "plan": ["pro", "starter", "trial"],
            "region": ["EMEA"] * 3,
            "industry": ["retail"] * 3,
            "created_at": [dt.date(2025, 1, 1)] * 3,
            "seats": [5, 3, 1],
            "arr": [100.0, 50.0, 10.0],
            "churned_at": [None, None, None],
        }
    )
    ts = [W1, W1 + pd.Timedelta(days=1), W3, W3 + pd.Timedelta(days=2), W4]
    ev = pd.DataFrame(
        {
            "account_id": ["a1", "a2", "a1", "a1", "a2"],
            "user_id": ["u1", "u2", "u1", "u3", "u2"],
            "ts": ts,
            "product_area": ["x"] * 5,
            "feature": ["f1", "f2", "f1", "f2", "f1"],
            "value": [None] * 5,
        }
    )
    feats = pd.DataFrame(
        {
            "feature": ["f1", "f2"],
            "product_area": ["x", "x"],
            "name": ["F1", "F2"],
            "status": ["released"] * 2,
            "released_at": [dt.date(2025, 1, 1)] * 2,
        }
    )
    nps = pd.DataFrame(
        {
            "response_id": ["r1", "r2", "r3", "r4"],
            "account_id": ["a1", "a1", "a2", "a2"],
            "user_id": ["u1"] * 4,
            "submitted_at": [W1, W1, W1, W3],
            "score": [10, 7, 3, 9],
            "comment": [None] * 4,
        }
    )
    for name, df in {
        "accounts": acc,
        "events": ev,
        "features": feats,
        "nps_responses": nps,
    }.items():
        df.to_parquet(tmp_path / f"{name}.parquet", index=False)
    return data.connect(str(tmp_path))


def _weekly(wh, metric, as_of=dt.date(2026, 3, 29), **kw):
    # window from the Monday of W1 to the Sunday of W4: every week complete
    return metrics.metric_series(
        wh, metric, product_area="x", as_of=as_of, grain="week", window_days=28, **kw
    )


def test_registry_holds_the_required_metrics():
    required = {
        "active_accounts",
        "active_users",
        "events",
        "feature_adoption",
        "new_feature_requests",
        "nps",
        "churned_accounts",
        "arr_active_accounts",
    }
    assert required <= set(metrics.known_metrics())


def test_known_metrics_include_the_metrics_table_series(demo_path):
    with data.connect(str(demo_path)) as wh:
        assert "support_tickets" in metrics.known_metrics(wh, "analytics")


def test_unknown_metric_names_the_nearest_ones(demo_path):
    with data.connect(str(demo_path)) as wh, pytest.raises(WorkbookError) as err:
        metrics.check_metric(wh, "support_tickts", "analytics")
    assert "'support_tickets'" in str(err.value) and "`metric`" in str(err.value)


def test_count_gap_is_zero_and_rate_gap_is_missing(tiny):
    counts = _weekly(tiny, "active_accounts").values()
    assert counts.loc[W2] == 0
    rates = _weekly(tiny, "feature_adoption", feature="f1").values()
    assert pd.isna(rates.loc[W2])


def test_weekly_active_accounts_match_plain_pandas(tiny):
    ev = pd.read_parquet(tiny.source + "/events.parquet")
    expected = ev.groupby(ev.ts.dt.to_period("W").dt.start_time).account_id.nunique()
    got = _weekly(tiny, "active_accounts").values()
    assert got.drop(W2).to_dict() == {k: float(v) for k, v in expected.items()}


def test_nps_matches_its_definition(tiny):
    f = _weekly(tiny, "nps").complete().set_index("period")
    # W1: scores 10, 7, 3 -> one promoter, one passive, one detractor -> NPS 0
    assert f.loc[W1, ["promoters", "passives", "detractors", "responses"]].tolist() == [1, 1, 1, 3]
    assert f.loc[W1, "value"] == 0
    assert f.loc[W3, "value"] == 100  # one answer, a 9


def test_incomplete_current_week_is_flagged_not_analysed(tiny):
    s = _weekly(tiny, "active_accounts", as_of=dt.date(2026, 3, 25))  # a Wednesday of W4
    assert s.frame.set_index("period").loc[W4, "status"] == "partial: current period"
    assert W4 not in s.values().index
    assert any("incomplete" in n for n in s.summary())


def test_segment_with_no_accounts_gives_a_message(tiny):
    s = _weekly(tiny, "active_accounts", segment_column="plan", segment_value="trial")
    assert s.empty
    assert "No data" in s.summary()[0] and "plan = trial" in s.summary()[0]


def test_unknown_segment_value_names_the_key(tiny):
    with pytest.raises(WorkbookError, match="`segment_value`.*did you mean 'starter'"):
        _weekly(tiny, "active_accounts", segment_column="plan", segment_value="startr")


def test_missing_segmentation_run_is_explained(tiny, workbook_root):
    with pytest.raises(WorkbookError, match="no segmentation run found"):
        _weekly(tiny, "active_accounts", by="segment", team="nobody")


def test_breakdown_by_plan_sums_to_the_total_for_distinct_accounts(demo_path):
    with data.connect(str(demo_path)) as wh:
        as_of = data.resolve_as_of(wh, None)
        total = metrics.metric_series(wh, "active_accounts", product_area="admin", as_of=as_of)
        by = metrics.metric_series(
            wh, "active_accounts", product_area="admin", as_of=as_of, by="plan"
        )
    # an account has one plan, so per-plan distinct counts add up to the total
    summed = by.complete().groupby("period").value.sum()
    pd.testing.assert_series_equal(summed, total.values(), check_names=False)


def test_active_accounts_match_duckdb_sql(demo_path):
    with data.connect(str(demo_path)) as wh:
        as_of = data.resolve_as_of(wh, None)
        got = metrics.metric_series(
            wh, "active_accounts", product_area="analytics", as_of=as_of, grain="month"
        ).values()
    con = duckdb.connect(str(demo_path), read_only=True)
    sql = con.sql(
        "SELECT date_trunc('month', ts) AS m, count(DISTINCT account_id) AS n "
        "FROM events WHERE product_area = 'analytics' GROUP BY 1"
    ).df()
    con.close()
    expected = sql.set_index(pd.to_datetime(sql.m)).n
    assert (got == expected.reindex(got.index).astype(float)).all()
