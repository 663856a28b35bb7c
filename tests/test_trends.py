"""Trend analyses: planted truths of the demo warehouse and seeded simulations."""

from __future__ import annotations

import datetime as dt

import duckdb
import nbformat
import numpy as np
import pandas as pd
import pytest
from scipy.signal import lfilter
from scipy.stats import theilslopes

from helpers import data
from helpers import metric_trends as metrics
from helpers import metric_trends as trends

AREAS = ["analytics", "collaboration", "integrations", "admin"]


def _series(demo_path, area, grain, metric="active_accounts"):
    with data.connect(str(demo_path)) as wh:
        as_of = data.resolve_as_of(wh, None)
        return metrics.metric_series(wh, metric, product_area=area, as_of=as_of, grain=grain)


@pytest.mark.parametrize("area", AREAS)
def test_planted_level_shift_found_within_one_week(demo_path, demo_truth, area):
    truth = demo_truth["level_shift"][area]
    s = _series(demo_path, area, "week", truth["metric"])
    a = trends.analyse(
        s.values(), "week", value_range=s.value_range(), holidays_country="US", run_forecast=False
    )
    shifts = a.changepoints
    assert len(shifts), "no level shift found"
    found = shifts.date.iloc[0]  # the largest shift
    assert abs((found - pd.Timestamp(truth["date"])).days) <= 7
    assert shifts["shift"].iloc[0] > 0  # the planted factor is 1.35, upward


@pytest.mark.parametrize("area", AREAS)
def test_planted_trend_is_claimed_beside_the_planted_shift(demo_path, demo_truth, area):
    # the demo plants both a rise over the window and a step: the step must not swallow
    # the trend (the trend claim needs the shift model's agreement)
    s = _series(demo_path, area, "week")
    a = trends.analyse(
        s.values(), "week", value_range=s.value_range(), holidays_country="US", run_forecast=False
    )
    assert a.trend.direction == demo_truth["trend"]["direction"] == "up"
    assert "Upward trend" in " ".join(a.summary())


def _deseasonalised_trend(y: pd.Series) -> str:
    dec = trends.decompose(y, "day")
    return trends.trend_test(dec.adjusted if dec.ran else y, "day").direction


def test_simulated_trends_detected_and_flat_autocorrelated_series_not(rng):
    # 250 + 250 daily series of 16 weeks: weekend dip of 30, AR(1) noise (phi 0.5, sd 4);
    # half get a planted trend of +0.15 a day (+17 over the series); the test reads the
    # seasonally adjusted series, as the analysis does
    n, reps = 112, 250
    idx = pd.date_range("2026-01-05", periods=n, freq="D")
    season = np.where(np.arange(n) % 7 >= 5, -30.0, 0.0)
    noise = lfilter([1], [1, -0.5], rng.normal(0, 4, (2 * reps, n)), axis=1)
    flat = 100 + season + noise[:reps]
    trend = 100 + season + 0.15 * np.arange(n) + noise[reps:]
    false_alarms = np.mean([_deseasonalised_trend(pd.Series(y, idx)) != "none" for y in flat])
    detected = np.mean([_deseasonalised_trend(pd.Series(y, idx)) == "up" for y in trend])
    assert detected >= 0.90
    assert false_alarms <= 0.06


def test_sen_slope_matches_scipy_theilslopes(rng):
    y = pd.Series(
        50 + 0.8 * np.arange(40) + rng.normal(0, 3, 40),
        index=pd.date_range("2025-01-06", periods=40, freq="W-MON"),
    )
    expected = theilslopes(y.to_numpy()).slope  # scipy's Theil-Sen = Sen's slope
    assert trends.trend_test(y, "week").slope == pytest.approx(expected)


@pytest.mark.slow  # four daily analyses with their backtests (~10 s)
def test_backtest_95_band_covers_90_to_98_percent_on_demo(demo_path):
    # daily active accounts of every area, the answer's own pipeline (holidays bridged in
    # training, scored on the values as observed): at least 12 origins x 7 days each
    tables = []
    for area in AREAS:
        s = _series(demo_path, area, "day")
        a = trends.analyse(s.values(), "day", horizon=7, value_range=s.value_range(),
                           holidays_country="US")  # fmt: skip
        assert a.backtest.origins >= 12
        tables.append(a.backtest.table)
    t = pd.concat(tables)
    coverage = ((t.actual >= t.lo95) & (t.actual <= t.hi95)).mean()
    assert len(t) >= 300
    assert 0.90 <= coverage <= 0.98


def test_series_shorter_than_three_seasons_says_so_and_continues(rng):
    # two seasons of weeks were once enough for STL: each week of the year then came from
    # two values and the "pattern" was noise (the 111-111 forecast band)
    y = pd.Series(
        100 + rng.normal(0, 5, 120), index=pd.date_range("2024-01-01", periods=120, freq="W-MON")
    )
    res = trends.analyse(y, "week", run_backtest=False)
    assert not res.decomposition.ran
    assert any("fewer than three seasons (156 weeks)" in s for s in res.notes)
    assert res.trend is not None and not res.trend.message
    assert not res.forecast.frame.empty


def test_spike_flagged_as_anomaly(rng):
    y = pd.Series(
        200 + rng.normal(0, 5, 120) + np.where(np.arange(120) % 7 >= 5, -80, 0),
        index=pd.date_range("2026-01-05", periods=120, freq="D"),
    )
    y.iloc[60] += 60
    an = trends.analyse(y, "day", run_forecast=False).anomalies
    assert an.period.iloc[0] == y.index[60]


def test_change_against_previous_period_matches_pandas(rng):
    y = pd.Series(
        rng.integers(50, 100, 60).astype(float),
        index=pd.date_range("2025-01-06", periods=60, freq="W-MON"),
    )
    ch = trends.changes(y, "week").set_index("comparison")
    expected = 100 * (y.iloc[-1] / y.iloc[-2] - 1)  # plain pandas
    assert ch.loc["previous week", "change_pct"] == pytest.approx(expected)
    assert "a year before" in ch.index  # 60 weeks of data allow it


def test_forecast_intervals_nest_80_inside_95(rng):
    y = pd.Series(
        100 + np.arange(50) + rng.normal(0, 4, 50),
        index=pd.date_range("2025-01-06", periods=50, freq="W-MON"),
    )
    f = trends.forecast(y, "week", 6).frame
    assert len(f) == 6
    assert (
        (f.lo95 <= f.lo80) & (f.lo80 <= f["median"]) & (f["median"] <= f.hi80) & (f.hi80 <= f.hi95)
    ).all()


@pytest.mark.slow
def test_notebook_runs_and_records_tables(demo_path, tmp_path):
    import papermill as pm

    from helpers import paths

    run_dir = tmp_path / "run"
    pm.execute_notebook(
        str(paths.notebooks_dir() / "metric_trends.ipynb"),
        str(tmp_path / "out.ipynb"),
        parameters={
            "source": str(demo_path),
            "team": "collaboration",
            "product_area": "collaboration",
            "run_dir": str(run_dir),
            "as_of": dt.date(2026, 10, 31).isoformat(),
            "metrics": ["events"],
        },
        kernel_name="python3",
        progress_bar=False,
    )
    tables = run_dir / "tables" / "metric_trends"
    for name in [
        "series",
        "changes",
        "changepoints",
        "anomalies",
        "forecast",
        "backtest",
        "segments",
    ]:
        assert (tables / f"{name}.parquet").exists(), name
    assert (run_dir / "answers" / "metric_trends.json").exists()
    # the further metric's own section: its weekly counts equal plain SQL on the warehouse
    more = pd.read_parquet(tables / "events__series.parquet")
    more = more[more.status == "complete"].set_index("period").value
    con = duckdb.connect(str(demo_path), read_only=True)
    truth = con.execute(
        "SELECT date_trunc('week', ts) AS period, count(*) AS n FROM events "
        "WHERE product_area = 'collaboration' GROUP BY 1"
    ).df()
    con.close()
    truth = truth.set_index("period").n.reindex(more.index)
    assert len(more) > 50
    assert (more.to_numpy() == truth.to_numpy()).all()
    assert pd.read_parquet(tables / "events__answer.parquet").answer.str.len().gt(0).all()
    assert (run_dir / "figures" / "metric_trends" / "events__series.png").exists()
    out = nbformat.read(tmp_path / "out.ipynb", as_version=4)
    [loop] = [c for c in out.cells if c.cell_type == "code" and "for name in metrics" in c.source]
    shown = [o for o in loop.outputs if o.output_type == "display_data"]
    assert any("image/png" in o.data for o in shown)  # its figure, in its own section
    assert any("text/markdown" in o.data and "events" in o.data["text/markdown"] for o in shown)


@pytest.mark.slow  # two analyses with their backtests (~8 s)
def test_a_forecast_added_later_equals_the_one_made_in_one_call(rng):
    """`add_forecast` on an analysis made without one gives `analyse`'s own forecast and
    backtest (the explorer shows the answer first and the forecast when it is ready)."""
    weeks = pd.date_range("2024-01-01", periods=30, freq="W-MON")
    y = pd.Series(200 + 0.8 * np.arange(30) + rng.normal(0, 6, 30), index=weeks)
    y.iloc[20:22] *= 1.8  # an incident: the forecast is made from the cleaned series
    whole = trends.analyse(y, "week", horizon=4)
    later = trends.add_forecast(trends.analyse(y, "week", horizon=4, run_forecast=False), 4)
    assert len(whole.forecast.frame) == 4 and whole.backtest.origins >= 12
    pd.testing.assert_frame_equal(later.forecast.frame, whole.forecast.frame)
    pd.testing.assert_frame_equal(later.backtest.table, whole.backtest.table)
    assert later.summary() == whole.summary()
