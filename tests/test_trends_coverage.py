"""Sparse series: observed periods only, coverage stated, no verdict below the bar."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from helpers import data
from helpers import metric_trends as trends
from helpers.metric_trends import ValueRange

NPS = ValueRange("rate", -100.0, 100.0)


def _weeks(n: int) -> pd.DatetimeIndex:
    return pd.date_range("2025-05-12", periods=n, freq="W-MON")


def test_nps_answered_in_8_of_76_weeks_states_coverage_and_gives_no_verdict(rng):
    # the case: filled gaps once gave p = 0.0002 where the 8 weeks give p = 0.55
    y = pd.Series(np.nan, _weeks(76))
    y.iloc[np.sort(rng.choice(76, 8, replace=False))] = rng.normal(-15, 8, 8)
    a = trends.analyse(y, "week", title="Weekly NPS", value_range=NPS, coverage_verb="answered")
    answer = " ".join(a.summary())
    assert "Weekly NPS answered in 8 of 76 weeks" in answer
    assert "too little data for a verdict" in answer
    assert not re.search(r"(Upward|Downward) trend|level shift on|Unusual:", answer)
    assert a.trend is None and a.forecast is None


def test_tests_use_observed_periods_only_never_filled_gaps(rng):
    from scipy.stats import theilslopes

    y = pd.Series(30 + 0.2 * np.arange(60) + rng.normal(0, 2, 60), _weeks(60))
    y.iloc[rng.choice(60, 20, replace=False)] = np.nan  # a rate with nothing to divide
    a = trends.analyse(y, "week", value_range=ValueRange("rate", 0.0, 100.0), run_forecast=False)
    obs = y.dropna()
    t = np.flatnonzero(y.notna().to_numpy())
    assert a.trend.n == 40
    assert a.trend.slope == pytest.approx(theilslopes(obs.to_numpy(), t).slope)
    assert set(a.judgement.table.period) == set(obs.index)
    assert "has data in 40 of 60 weeks" in " ".join(a.summary())


def test_demo_weekly_nps_states_coverage_and_claims_no_trend(demo_path):
    with data.connect(str(demo_path)) as wh:
        report = trends.trend_report(
            wh,
            "nps",
            product_area="analytics",
            as_of=data.resolve_as_of(wh, None),
            compare_by=None,
        )
    k, n = report.series.coverage()
    frame = report.series.complete()
    assert k == int((frame.responses > 0).sum())  # weeks with answers, from the frame
    assert k < n / 2  # quarterly survey waves: most weeks have no answer
    answer = " ".join(report.summary())
    assert f"answered in {k} of {n} weeks" in answer
    assert not re.search(r"(Upward|Downward) trend", answer)
