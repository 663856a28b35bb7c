"""The demo generator: contract schema, reproducible, and its planted truth really is there."""

from __future__ import annotations

import json

import duckdb
import numpy as np
import pandas as pd
import pytest

from helpers.data import connect
from helpers.data.contract import CONTRACT, check
from helpers.data.demo import AREAS, DemoSpec, generate, truth_path
from helpers.errors import WorkbookError

TINY = DemoSpec(events=30_000, accounts=150, areas=2, seed=3)


def _sql(path, query) -> pd.DataFrame:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(query).df()
    finally:
        con.close()


def test_tables_follow_the_contract(demo_path):
    with connect(demo_path) as wh:
        assert set(wh.tables) == set(CONTRACT)
        assert [v for v in check(wh) if v.severity == "error"] == []


def test_same_seed_gives_the_same_data_and_another_seed_does_not(tmp_path):
    a, b, c = tmp_path / "a.duckdb", tmp_path / "b.duckdb", tmp_path / "c.duckdb"
    generate(TINY, a)
    generate(TINY, b)
    generate(DemoSpec(events=30_000, accounts=150, areas=2, seed=4), c)
    q = "SELECT * FROM events ORDER BY ts, account_id, user_id, feature"
    assert _sql(a, q).equals(_sql(b, q))
    assert not _sql(a, q).equals(_sql(c, q))
    assert json.loads(truth_path(a).read_text()) == json.loads(truth_path(b).read_text())


def test_event_count_is_close_to_the_request(tmp_path):
    out = tmp_path / "d.duckdb"
    summary = generate(TINY, out)
    assert abs(summary["rows"]["events"] - TINY.events) / TINY.events < 0.05


def test_truth_is_kept_out_of_the_warehouse(demo_path):
    tables = set(_sql(demo_path, "SELECT table_name FROM information_schema.tables").table_name)
    assert tables == set(CONTRACT)
    for table in tables:
        cols = set(_sql(demo_path, f"SELECT * FROM {table} LIMIT 0").columns)
        assert "persona" not in cols


def test_planted_personas_drive_usage_nps_and_churn(demo_path, demo_truth):
    persona = pd.Series(demo_truth["account_persona"], name="persona")
    assert set(persona) == {"power", "steady", "casual", "fading"}
    usage = _sql(demo_path, "SELECT account_id, count(*) AS n FROM events GROUP BY 1")
    nps = _sql(demo_path, "SELECT account_id, avg(score) AS nps FROM nps_responses GROUP BY 1")
    acc = _sql(demo_path, "SELECT account_id, churned_at IS NOT NULL AS churned FROM accounts")
    df = acc.merge(usage, how="left").merge(nps, how="left").join(persona, on="account_id")
    by = df.groupby("persona").agg(
        n=("n", "median"), nps=("nps", "mean"), churn=("churned", "mean")
    )
    assert by.loc["power", "n"] > 3 * by.loc["casual", "n"]
    assert by.loc["power", "nps"] > by.loc["fading", "nps"] + 3
    assert by.loc["fading", "churn"] > 3 * by.loc["power", "churn"]


def test_planted_demand_difference_reverses_for_starter_accounts(demo_path, demo_truth):
    area = "analytics"
    truth = demo_truth["demand"][area]
    a, b = truth["differ"]["a"], truth["differ"]["b"]
    req = _sql(
        demo_path,
        "SELECT DISTINCT r.account_id, r.feature, a.plan FROM feature_requests r"
        " JOIN accounts a USING (account_id)",
    )
    plans = _sql(demo_path, "SELECT plan, count(*) AS n FROM accounts GROUP BY 1").set_index("plan")
    share = req.groupby(["feature", "plan"]).size().unstack() / plans.n
    overall = req.groupby("feature").size() / plans.n.sum()
    assert overall[a] > overall[b] * 1.3
    assert share.loc[b, "starter"] > share.loc[a, "starter"] * 1.3
    c, d = truth["equal"]["a"], truth["equal"]["b"]
    assert abs(overall[c] - overall[d]) < 0.04


def test_level_shift_raises_daily_active_accounts_at_the_planted_date(demo_path, demo_truth):
    shift = demo_truth["level_shift"]["analytics"]
    daily = _sql(
        demo_path,
        "SELECT CAST(ts AS DATE) AS d, count(DISTINCT account_id) AS n "
        "FROM events WHERE product_area = 'analytics' GROUP BY 1",
    )
    daily["d"] = pd.to_datetime(daily["d"])
    date = pd.Timestamp(shift["date"])
    weekdays = daily[daily.d.dt.day_of_week < 5].set_index("d").n.sort_index()
    before = weekdays[date - pd.Timedelta(days=28) : date - pd.Timedelta(days=1)].mean()
    after = weekdays[date : date + pd.Timedelta(days=27)].mean()
    assert after / before > 1.2


def test_weekends_are_quieter_than_weekdays(demo_path):
    daily = _sql(demo_path, "SELECT dayofweek(ts) AS dow, count(*) AS n FROM events GROUP BY 1")
    n = daily.set_index("dow").n
    assert n[[0, 6]].mean() < 0.4 * n[[1, 2, 3, 4, 5]].mean()


def test_areas_are_the_first_n_and_features_have_release_dates(demo_path):
    feats = _sql(demo_path, "SELECT * FROM features")
    assert sorted(feats.product_area.unique()) == sorted(AREAS[:4])
    released = feats[feats.status == "released"]
    assert released.released_at.notna().all()
    assert feats[feats.status != "released"].released_at.isna().all()


def test_a_failed_generation_leaves_an_existing_warehouse_untouched(tmp_path):
    out = tmp_path / "d.duckdb"
    generate(TINY, out)
    before = out.read_bytes()
    with pytest.raises(WorkbookError, match="--areas"):
        generate(DemoSpec(events=30_000, accounts=150, areas=99), out)
    assert out.read_bytes() == before


def test_users_belong_to_their_account(demo_path):
    bad = _sql(
        demo_path,
        "SELECT count(*) AS n FROM events WHERE NOT starts_with(user_id, account_id || '-u')",
    )
    assert bad.n[0] == 0
    assert np.isfinite(_sql(demo_path, "SELECT sum(value) AS v FROM events").v[0])


def test_all_twelve_areas_can_be_generated(tmp_path):
    out = tmp_path / "twelve.duckdb"
    generate(DemoSpec(events=20_000, accounts=60, areas=12, seed=1), out)
    areas = _sql(out, "SELECT DISTINCT product_area FROM events ORDER BY 1").product_area
    assert sorted(areas) == sorted(AREAS)
    tickets = _sql(out, "SELECT min(value) AS v FROM metrics")
    assert tickets.v[0] >= 0
