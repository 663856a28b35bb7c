"""Metric-trend answers on the demo warehouse: complete days only, holidays, honest forecasts."""

from __future__ import annotations

import datetime as dt
import re
import shutil

import duckdb
import pandas as pd
import pytest

from helpers import data
from helpers import metric_trends as trends

AREAS = ["analytics", "collaboration", "integrations", "admin"]
CHRISTMAS_WEEKS = [pd.Timestamp("2025-12-22"), pd.Timestamp("2025-12-29")]


@pytest.fixture(scope="module")
def cut_demo(demo_path, demo_truth, tmp_path_factory):
    """The demo as a 06:15 cron sees it: its last day holds events up to 06:15 only."""
    path = tmp_path_factory.mktemp("cut") / "demo.duckdb"
    shutil.copy(demo_path, path)
    last = dt.date.fromisoformat(demo_truth["end"])
    con = duckdb.connect(str(path))
    con.execute("DELETE FROM events WHERE ts > ?", [dt.datetime.combine(last, dt.time(6, 15))])
    con.close()
    return path, last


def test_default_as_of_is_the_last_complete_day(demo_path, demo_truth, cut_demo):
    path, last = cut_demo
    with data.connect(str(demo_path)) as wh:  # events to the end of its last day
        assert data.resolve_as_of(wh, None) == dt.date.fromisoformat(demo_truth["end"])
    with data.connect(str(path)) as wh:  # six hours of the last day: not complete
        assert data.resolve_as_of(wh, None) == last - dt.timedelta(days=1)


def test_a_day_not_over_by_the_clock_is_not_complete(demo_path, demo_truth):
    from helpers.data.warehouse import last_complete_day

    last = dt.date.fromisoformat(demo_truth["end"])
    with data.connect(str(demo_path)) as wh:
        assert last_complete_day(wh, today=last) == last - dt.timedelta(days=1)  # still today
        assert last_complete_day(wh, today=last + dt.timedelta(days=1)) == last


def _falls(sentence: str) -> list[float]:
    return [float(x) for x in re.findall(r"fell (\d+(?:\.\d+)?)%", sentence)]


@pytest.mark.slow  # a daily analysis with its backtest (~6 s)
def test_daily_answer_of_a_demo_cut_at_0615_shows_no_fall_over_10_percent(cut_demo):
    path, last = cut_demo
    with data.connect(str(path)) as wh:
        report = trends.trend_report(
            wh,
            "active_accounts",
            product_area="analytics",
            as_of=data.resolve_as_of(wh, None),
            grain="day",
            compare_by=None,
            horizon=7,
        )
    answer = " ".join(report.summary())
    assert report.series.values().index[-1] == pd.Timestamp(last - dt.timedelta(days=1))
    assert all(f <= 10 for f in _falls(answer)), answer
    assert pd.Timestamp(last) not in set(report.analysis.anomalies.period)


def test_partial_last_day_given_as_as_of_is_flagged_not_analysed(cut_demo):
    path, last = cut_demo
    with data.connect(str(path)) as wh:
        s = trends.metric_series(
            wh, "active_accounts", product_area="analytics", as_of=last, grain="day"
        )
    status = s.frame.set_index("period").status
    assert status[pd.Timestamp(last)] == "partial: data end"
    assert pd.Timestamp(last) not in s.values().index
    assert any("still being loaded" in n for n in s.notes)


@pytest.fixture(scope="module")
def weekly_reports(demo_path):
    """Every demo team's default answer: weekly active accounts, US holidays."""
    out = {}
    with data.connect(str(demo_path)) as wh:
        as_of = data.resolve_as_of(wh, None)
        for area in AREAS:
            out[area] = trends.trend_report(
                wh, "active_accounts", product_area=area, as_of=as_of, compare_by=None
            )
    return out


@pytest.mark.slow  # four teams' weekly answers with backtests (~10-20 s together)
@pytest.mark.parametrize("area", AREAS)
def test_no_team_calls_the_christmas_weeks_unusual(weekly_reports, area):
    a = weekly_reports[area].analysis
    assert not set(a.anomalies.period) & set(CHRISTMAS_WEEKS)
    for ep in a.episodes.itertuples():
        assert not any(ep.start <= w <= ep.end for w in CHRISTMAS_WEEKS)
    unusual = [s for s in a.summary() if s.startswith("Unusual")]
    assert not any("2025-12-22" in s or "2025-12-29" in s for s in unusual)
    # ... and the calendar is why: both weeks are marked as holidays
    assert set(CHRISTMAS_WEEKS) <= set(a.holidays.period)


@pytest.mark.slow
@pytest.mark.parametrize("area", AREAS)
def test_forecast_is_compared_with_the_naive_forecast_in_plain_words(weekly_reports, area):
    a = weekly_reports[area].analysis
    bt = a.backtest
    assert bt.origins >= 12
    t = bt.table
    # MASE from plain pandas: the forecast's mean absolute error over the naive one's
    mase = (t.actual - t["median"]).abs().mean() / (t.actual - t.naive).abs().mean()
    assert bt.mase == pytest.approx(mase)
    answer = " ".join(a.summary())
    if mase >= 1:
        assert "no better than last week's value" in answer
    else:
        assert "beat the naive forecast, last week's value" in answer
    assert f"held {bt.held95} of {bt.n}" in answer


def test_a_quiet_whole_last_day_is_not_called_cut(tmp_path):
    """A small warehouse whose last day (a Saturday, 31 events, last at 17:26) is whole."""
    from helpers.data.demo import DemoSpec, generate
    from helpers.data.warehouse import last_complete_day

    path = tmp_path / "tiny.duckdb"
    generate(DemoSpec(events=30_000, accounts=150, areas=2), path)
    con = duckdb.connect(str(path))
    last = con.execute("SELECT max(ts) FROM events").fetchone()[0]
    con.close()
    with data.connect(str(path)) as wh:
        assert last_complete_day(wh, today=last.date() + dt.timedelta(days=3)) == last.date()
