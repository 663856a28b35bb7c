"""Unusual periods and episodes: trailing baselines, denominators, holidays, degenerate spreads."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from helpers import metric_trends as trends
from helpers.metric_trends import ValueRange

SHARE = ValueRange("rate", 0.0, 100.0, share=True)


def _weeks(n: int, start: str = "2024-01-01") -> pd.DatetimeIndex:
    return pd.date_range(start, periods=n, freq="W-MON")


def _share(rng, n, den, p) -> tuple[pd.Series, pd.Series]:
    den = np.asarray(den)
    k = rng.binomial(den, p)
    idx = _weeks(n)
    return pd.Series(100 * k / den, idx), pd.Series(den.astype(float), idx)


def test_three_week_incident_after_25_weeks_is_one_episode_with_its_dates(rng):
    # the case: a rate at 3-4x its baseline for three weeks, 25 weeks of history
    p = np.r_[np.full(25, 0.05), [0.15, 0.20, 0.17]]
    y, den = _share(rng, 28, rng.integers(400, 600, 28), p)
    a = trends.analyse(y, "week", denominator=den, value_range=SHARE, run_backtest=False)
    ep = a.episodes
    assert len(ep) == 1
    assert ep.start.iloc[0] == y.index[25] and ep.end.iloc[0] == y.index[27]
    assert ep.direction.iloc[0] == "up"
    planted = p[25:].mean() / 0.05  # 3.47x
    assert ep.ratio.iloc[0] == pytest.approx(planted, rel=0.25)
    answer = " ".join(a.summary())
    assert f"Unusual: {y.index[25]:%Y-%m-%d} to {y.index[27]:%Y-%m-%d}" in answer
    assert "× the usual level" in answer
    assert len(a.changepoints) == 0  # an incident, not a new level


def test_a_week_of_13_accounts_is_not_judged_like_a_week_of_2000():
    # the same 10-point jump (20% -> 30%): chance with 13 accounts, not with 2,000
    idx = _weeks(20)
    base = np.full(20, 20.0)
    small, large = np.full(20, 2000.0), np.full(20, 2000.0)
    small[-1] = 13
    y = pd.Series(base, idx)
    y.iloc[-1] = 30.0
    t_small = trends.judge(y, "week", denominator=pd.Series(small, idx), value_range=SHARE).table
    t_large = trends.judge(y, "week", denominator=pd.Series(large, idx), value_range=SHARE).table
    # binomial sd of a 20% share: sqrt(0.2 * 0.8 / 13) = 11 points; / 2,000: 0.9 points
    assert not t_small.unusual.iloc[-1]
    assert t_large.unusual.iloc[-1]
    assert abs(t_small.z.iloc[-1]) < 1.5 < 8 < abs(t_large.z.iloc[-1])


def test_mostly_zero_series_still_shows_a_spike():
    # MAD is 0 here: the spread must not zero every score (nor explode them)
    y = pd.Series(np.zeros(40), _weeks(40))
    y.iloc[[5, 17, 29]] = 1
    y.iloc[33] = 30
    t = trends.judge(y, "week", value_range=ValueRange(integer=True)).table
    assert list(t.period[t.unusual]) == [y.index[33]]
    assert np.isfinite(t.z).all() or t.z.isna().sum() < 3
    assert t.z[t.period == y.index[5]].abs().iloc[0] <= 1.5  # a 1 among 0s is no incident


def test_a_new_level_longer_than_an_episode_is_a_shift_not_an_episode(rng):
    y = pd.Series(100 + rng.normal(0, 2, 60), _weeks(60))
    y.iloc[30:] += 20  # 10 noise sd, held for 30 weeks
    a = trends.analyse(y, "week", run_forecast=False)
    assert len(a.episodes) == 0
    assert len(a.changepoints) == 1
    assert a.changepoints.date.iloc[0] == y.index[30]


def test_christmas_week_is_a_holiday_not_unusual(rng):
    idx = pd.date_range("2024-06-03", periods=60, freq="W-MON")
    y = pd.Series(500 + rng.normal(0, 5, 60), idx)
    christmas = idx.get_loc(pd.Timestamp("2024-12-23"))
    y.iloc[christmas] = 380  # a quarter down, as B2B usage is at Christmas
    with_calendar = trends.analyse(y, "week", holidays_country="US", run_forecast=False)
    without = trends.analyse(y, "week", holidays_country=None, run_forecast=False)
    assert pd.Timestamp("2024-12-23") in set(without.anomalies.period)
    assert pd.Timestamp("2024-12-23") not in set(with_calendar.anomalies.period)
    hol = with_calendar.holidays.set_index("period").holiday
    assert "Christmas Day" in hol[pd.Timestamp("2024-12-23")]


def test_holiday_periods_come_from_the_holidays_package():
    import holidays

    idx = pd.date_range("2025-12-22", periods=3, freq="W-MON")
    names = trends.holiday_periods(idx, "week", "US")
    us = holidays.country_holidays("US", years=[2025, 2026])
    assert names.iloc[0] == us[pd.Timestamp("2025-12-25").date()]  # the week of Christmas
    assert names.iloc[1] == us[pd.Timestamp("2026-01-01").date()]
    assert names.iloc[2] == ""
    assert (trends.holiday_periods(idx, "month", "US") == "").all()  # months are never marked


def test_unknown_holiday_country_names_the_key():
    from helpers.errors import WorkbookError

    with pytest.raises(WorkbookError, match="`holidays_country`.*'UX'"):
        trends.holiday_periods(_weeks(3), "week", "UX")


def test_episode_of_a_score_that_can_be_negative_is_given_in_points(rng):
    idx = _weeks(30)
    y = pd.Series(-15 + rng.normal(0, 2, 30), idx)
    y.iloc[27:] = 25.0
    a = trends.analyse(y, "week", value_range=ValueRange("rate", -100.0, 100.0))
    answer = " ".join(a.summary())
    assert "points above the usual level" in answer
    assert "%" not in answer.split("Unusual:")[1].split(".")[0]


def test_params_reject_an_unknown_holiday_country_with_a_suggestion():
    from pydantic import ValidationError

    from helpers.params import MetricTrends

    assert MetricTrends(holidays_country="de").holidays_country == "DE"
    with pytest.raises(ValidationError, match=r"not a country code.*'UX' \(did you mean"):
        MetricTrends(holidays_country="UX")
