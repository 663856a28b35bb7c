"""Everything a metric does over time at once, and the answer a PM reads first.

:func:`analyse` runs, on the complete periods of one series: coverage (too few periods
with data and there is no verdict), seasonality (:mod:`.decomposition`), unusual
periods and episodes against trailing baselines with holidays marked
(:mod:`.unusual`, :mod:`.calendar`), the trend test (:mod:`.trend`), level
shifts robust to autocorrelation (:mod:`.shifts`), and a forecast checked by
rolling-origin backtests (:mod:`.forecasting`). Tests and shifts read the observed
periods only, never filled gaps. :func:`compare_segments` puts segments side by side
with Holm's correction across them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ._common import (
    RECENT,
    SEASON,
    ValueRange,
    fmt_num,
    grain_check,
    period_word,
)
from .calendar import holiday_periods
from .decomposition import Decomposition, decompose
from .forecasting import Backtest, Forecast, backtest, forecast
from .period_change import changes, describe_change
from .shifts import changepoints
from .trend import TrendTest, trend_test
from .unusual import Judgement, anomalies, clean, describe_episode, episodes, judge

__all__ = [
    "MIN_COVERAGE",
    "SEASON",
    "Backtest",
    "Decomposition",
    "Forecast",
    "TrendAnalysis",
    "TrendTest",
    "ValueRange",
    "add_forecast",
    "analyse",
    "anomalies",
    "backtest",
    "changepoints",
    "changes",
    "clean",
    "compare_segments",
    "decompose",
    "episodes",
    "forecast",
    "judge",
    "trend_test",
]

_COARSER = {
    "day": "a weekly or monthly grain gathers more data per period",
    "week": "a monthly grain gathers more data per period",
    "month": "a longer window (`window_days`) holds more months with data",
}
#: share of periods that must hold data for a verdict (params: metric_trends.min_coverage)
MIN_COVERAGE = 0.5
_SHOWN_EPISODES = 2


@dataclass
class TrendAnalysis:
    """All analyses of one series, and the answer a PM reads first."""

    title: str
    grain: str
    unit: str
    values: pd.Series
    changes: pd.DataFrame
    decomposition: Decomposition | None
    trend: TrendTest | None
    changepoints: pd.DataFrame
    anomalies: pd.DataFrame
    forecast: Forecast | None
    backtest: Backtest | None
    notes: list[str] = field(default_factory=list)
    message: str = ""
    episodes: pd.DataFrame = field(default_factory=pd.DataFrame)
    holidays: pd.DataFrame = field(default_factory=pd.DataFrame)
    judgement: Judgement | None = None
    value_range: ValueRange = field(default_factory=ValueRange)
    coverage: tuple[int, int] = (0, 0)  # (periods with data, periods)
    coverage_verb: str = "has data"

    @property
    def coverage_sentence(self) -> str:
        k, n = self.coverage
        return (
            f"{self.title} {self.coverage_verb} in {k} of {n} {period_word(self.grain, n)} "
            f"({100 * k / n:.0f}%)."
            if n
            else ""
        )

    def summary(self) -> list[str]:
        """The answer first: coverage, recent change, trend, shifts, episodes, forecast."""
        if self.message:
            return [self.message]
        out = []
        k, n = self.coverage
        if n and k < n:
            out.append(self.coverage_sentence + " Tests use those periods only, never filled gaps.")
        out += self._change_sentences()
        if self.trend is not None:
            out += self.trend.summary()
        out.append(self._shift_sentence())
        out += self._episode_sentences()
        if self.forecast is not None:
            out += self.forecast.summary(self.unit)
        out += self._backtest_sentences()
        return out

    def _change_sentences(self) -> list[str]:
        out = []
        recent = self.changes[
            self.changes.comparison.str.endswith("before")
            & ~self.changes.comparison.str.startswith("a year")
        ]
        if len(recent):
            r = recent.iloc[0]
            verb, values = describe_change(r, self.value_range, self.unit)
            out.append(
                f"{self.title} {verb} over the last {RECENT[self.grain]} {self.grain}s "
                f"({values}; the {self.grain} of {r.period:%Y-%m-%d} against "
                f"{r.reference_period:%Y-%m-%d})."
            )
        yoy = self.changes[self.changes.comparison == "a year before"]
        if len(yoy):
            verb, values = describe_change(yoy.iloc[0], self.value_range, self.unit)
            out.append(f"Against the same {self.grain} a year before it {verb} ({values}).")
        return out

    def _shift_sentence(self) -> str:
        if not len(self.changepoints):
            return "No level shift stands out from the noise (allowing for autocorrelation)."
        c = self.changepoints.iloc[0]
        more = len(self.changepoints) - 1
        jump = float(c["shift"])  # (a row's .shift is pandas' method)
        if self.value_range.signed or self.unit == "%" or not np.isfinite(c.shift_pct):
            pts = "percentage points" if self.unit == "%" else "points"
            size = f"{'+' if jump > 0 else '−'}{fmt_num(abs(jump))} {pts}"
        else:
            size = f"{c.shift_pct:+.0f}%"
        return (
            f"A level shift on {c.date:%Y-%m-%d} ({size}, {fmt_num(c.before, self.unit)} → "
            f"{fmt_num(c.after, self.unit)}; it holds beyond an episode and is not explained by "
            "the noise's persistence)" + (f"; {more} more in the table below." if more else ".")
        )

    def _episode_sentences(self) -> list[str]:
        ep = self.episodes
        hol = self.holidays
        if ep is None or not len(ep):
            words = f"No unusual {period_word(self.grain, 2)}"
            if hol is not None and len(hol):
                words += (
                    f" ({len(hol)} holiday {period_word(self.grain, len(hol))} are marked as "
                    "such, not as unusual)"
                )
            return [words + "."]
        parts = [
            describe_episode(r, self.grain, self.unit, self.value_range.signed)
            for r in ep.head(_SHOWN_EPISODES).itertuples()
        ]
        more = len(ep) - len(parts)
        return [
            "Unusual: " + "; ".join(parts) + (f"; {more} more in the table below." if more else ".")
        ]

    def _backtest_sentences(self) -> list[str]:
        b = self.backtest
        if b is None or b.message:
            return []
        held = (
            f"In backtests ({b.origins} forecasts made from earlier data) the 95% band held "
            f"{b.held95} of {b.n} actual values ({100 * b.coverage95:.0f}%)"
        )
        if not np.isfinite(b.mase):
            return [f"{held}; the values did not change, so there is no error to compare."]
        if b.better_than_naive:
            return [
                f"{held}; the forecast beat the naive forecast, {b.naive_words()} "
                f"(MASE {b.mase:.2f}), and missed by {b.mape:.0f}% on average."
            ]
        return [
            f"{held}; the forecast is no better than {b.naive_words()} (MASE {b.mase:.2f}, "
            "1 or more), so read it as a rough guide."
        ]


def analyse(
    values: pd.Series,
    grain: str,
    *,
    title: str = "The metric",
    unit: str = "",
    horizon: int = 8,
    alpha: float = 0.05,
    run_backtest: bool = True,
    run_forecast: bool = True,
    denominator: pd.Series | None = None,
    value_range: ValueRange | None = None,
    holidays_country: str | None = None,
    min_coverage: float = MIN_COVERAGE,
    coverage_verb: str = "has data",
) -> TrendAnalysis:
    """Run every analysis on the complete periods of one series.

    Parameters
    ----------
    values
        Complete periods (``MetricSeries.values()``); NaN where a rate has nothing to divide.
    grain
        ``day``, ``week`` or ``month``.
    title
        How the answer names the series ("Weekly active accounts (plan = pro)").
    horizon
        Periods to forecast.
    alpha
        Significance level of the trend test. A trend is claimed when the test finds one
        and the level-shift model (segment levels, a trend and AR(1) noise) needs a trend
        term too.
    run_backtest
        Skip the (slower) backtest when False.
    run_forecast
        Skip the forecast (and backtest) when False.
    denominator
        A rate's denominator per period (accounts, responses): sets each period's noise.
    value_range
        The metric's range (:class:`ValueRange`); by default a count that cannot be negative.
    holidays_country
        Country whose public holidays are marked and never called unusual (None: none).
    min_coverage
        Share of periods that must hold data; below it there is no verdict.
    coverage_verb
        How the coverage sentence says a period has data ("answered" for NPS).
    """
    grain = grain_check(grain)
    y = pd.Series(values, dtype=float)
    vr = value_range or ValueRange()
    k, n = int(y.notna().sum()), len(y)

    def bare(message: str, notes=()) -> TrendAnalysis:
        e = pd.DataFrame()
        return TrendAnalysis(
            title, grain, unit, y, changes(y, grain), None, None, e, e, None, None,
            list(notes), message, value_range=vr, coverage=(k, n),
            coverage_verb=coverage_verb,
        )  # fmt: skip

    if k < 3:
        return bare(
            f"{title}: only {k} complete {period_word(grain, k)} with data, too few to "
            "describe a trend."
        )
    result = TrendAnalysis(
        title, grain, unit, y, changes(y, grain), None, None, pd.DataFrame(), pd.DataFrame(),
        None, None, value_range=vr, coverage=(k, n), coverage_verb=coverage_verb,
    )  # fmt: skip
    if k / n < min_coverage:
        return bare(
            result.coverage_sentence
            + f" That is too little data for a verdict on trend, shifts or unusual "
            f"{period_word(grain, 2)} (at least {100 * min_coverage:.0f}% of "
            f"{period_word(grain, 2)} needed); {_COARSER[grain]}."
        )
    notes = []
    if k < n:
        notes.append(
            f"{n - k} {period_word(grain, n - k)} have no data (a rate with nothing to divide): "
            "tests and shifts use the observed periods only; the forecast bridges the gaps; "
            "the charts leave them blank."
        )
    dec = decompose(y, grain)
    if not dec.ran:
        notes.append(dec.message)
    hol = holiday_periods(y.index, grain, holidays_country)
    season = dec.seasonal.reindex(y.index).fillna(0) if dec.ran else None
    kw = dict(denominator=denominator, value_range=vr, holidays=hol, seasonal=season)
    cps, jd = _shifts_that_hold(y, grain, vr, season, kw)
    cleaned = clean(y, jd, breaks=cps.date)
    adjusted = cleaned - (season if season is not None else 0.0)
    tt = trend_test(adjusted, grain, alpha=alpha)
    if tt.direction != "none" and cps.attrs.get("trend_terms") == 0:
        # the rank test and the likelihood model must agree: persistent noise can pass the
        # first (validation/trends.py counts both claims together on flat AR(1) series)
        tt.direction, tt.model_without_trend = "none", True
    tt.deseasonalised = dec.ran
    hol_table = jd.holidays.reset_index(drop=True)
    if len(hol_table):
        notes.append(
            f"{len(hol_table)} {period_word(grain, len(hol_table))} hold a public holiday "
            f"({holidays_country}); they are marked as holidays, never as unusual, and left "
            "out of baselines, trend tests and forecasts."
        )
    notes.append(
        f"Unusual {period_word(grain, 2)}: each is judged against the {period_word(grain, 2)} "
        f"before it (unusual ones and holidays left out), scaled by {jd.noise}; one "
        f"{grain} alone is unusual beyond {jd.threshold:.1f} noise units, two or more in a "
        f"row beyond {jd.run_threshold:.1f}, so a flat series shows none about 19 times in 20."
    )
    result.notes = notes
    result.decomposition, result.trend, result.changepoints = dec, tt, cps
    result.anomalies, result.episodes, result.holidays = (
        anomalies(y, grain, jd),
        episodes(jd),
        hol_table,
    )
    result.judgement = jd
    if run_forecast:
        add_forecast(result, horizon, run_backtest=run_backtest)
    return result


def add_forecast(
    result: TrendAnalysis, horizon: int = 8, *, run_backtest: bool = True
) -> TrendAnalysis:
    """The forecast (and its backtest) of an analysis made with ``run_forecast=False``.

    ``analyse(..., run_forecast=True)`` is this call on the analysis without them, so a
    page can show the answer and the chart first and the forecast a few seconds later
    (the backtest refits the model at up to 24 origins) with the notebook's numbers.
    The forecast and the backtest are those of the cleaned series (unusual periods and
    holidays bridged, never across a level shift); the backtest scores what was observed.
    Returns ``result``, completed in place.
    """
    jd = result.judgement
    if result.message or jd is None:
        return result
    y, grain, vr = result.values, result.grain, result.value_range
    seasonal = bool(result.decomposition is not None and result.decomposition.ran)
    cleaned = clean(y, jd, breaks=result.changepoints.date)
    bt = (
        backtest(cleaned, grain, horizon, actual=y, value_range=vr, seasonal=seasonal)
        if run_backtest
        else None
    )
    # the bands of the forecast shown hold its past errors (the backtest's), not only the
    # model's own variance
    widen = (bt.widen80, bt.widen95) if bt is not None and not bt.message else None
    fc = forecast(cleaned, grain, horizon, value_range=vr, seasonal=seasonal, widen=widen)
    result.forecast, result.backtest = fc, bt
    return result


def _shifts_that_hold(y, grain, vr, season, kw) -> tuple[pd.DataFrame, Judgement]:
    """Level shifts that hold beyond an episode, and the periods judged with them.

    Shifts are first sought with holidays bridged; then every period is judged again with
    baselines that stop at those candidate shifts, and the shifts are sought once more with
    the periods still unusual bridged, each within its candidate level. So an incident
    cannot make a "shift" (it stays unusual within its level), while a real shift keeps its
    edge: its first periods are not unusual against their own level, so they are not
    bridged (judged against the old level they were, which moved long series' shifts weeks
    late). Finally every period is judged against baselines that never reach across a
    shift, so a new level is not reported as unusual.
    """
    off = season if season is not None else 0.0
    first = judge(y, grain, **kw)
    candidates = changepoints(clean(y, first, holidays_only=True) - off, grain, signed=vr.signed)
    within = judge(y, grain, breaks=candidates.date, **kw) if len(candidates) else first
    bridged = clean(y, within, breaks=candidates.date) - off
    cps = changepoints(bridged, grain, signed=vr.signed)
    return cps, judge(y, grain, breaks=cps.date, **kw)


def compare_segments(
    series, *, alpha: float = 0.05, holidays_country: str | None = None
) -> pd.DataFrame:
    """Each segment's recent change and trend side by side, with Holm's correction.

    Parameters
    ----------
    series
        A :class:`helpers.metric_trends.MetricSeries` built with ``by=``.
    alpha
        Family-wise significance level across the segments.
    holidays_country
        Holidays left out of each segment's trend test.

    Returns
    -------
    DataFrame
        ``segment``, ``periods`` (with data), ``last``, ``change_pct`` (over the recent
        periods), ``sen_slope``, ``slope_pct`` (slope as % of the median level), ``p``,
        ``p_holm`` (adjusted across segments), ``trend`` (up/down/none by ``p_holm``, or
        "too short").
    """
    from statsmodels.stats.multitest import multipletests

    cols = ["segment", "periods", "last", "change_pct", "sen_slope", "slope_pct", "p"]
    cols += ["p_holm", "trend"]
    rows = []
    grain = series.grain
    for seg in series.segments():
        y = series.values(seg)
        vr = series.value_range()
        den = series.denominators(seg)
        ok = y.notna().sum() >= 3 and y.notna().mean() >= MIN_COVERAGE
        tt = None
        if ok:
            dec = decompose(y, grain)
            season = dec.seasonal if dec.ran else None
            hol = holiday_periods(y.index, grain, holidays_country)
            jd = judge(y, grain, denominator=den, value_range=vr, holidays=hol, seasonal=season)
            adjusted = clean(y, jd) - (season.reindex(y.index).fillna(0) if dec.ran else 0.0)
            tt = trend_test(adjusted, grain, alpha=alpha)
        ch = changes(y, grain)
        recent = ch[ch.comparison == f"{RECENT[grain]} {grain}s before"]
        med = float(np.nanmedian(y)) if y.notna().any() else np.nan
        usable = tt is not None and not tt.message
        rows.append(
            {
                "segment": seg,
                "periods": int(y.notna().sum()),
                "last": float(y.dropna().iloc[-1]) if y.notna().any() else np.nan,
                "change_pct": float(recent.change_pct.iloc[0]) if len(recent) else np.nan,
                "sen_slope": tt.slope if usable else np.nan,
                "slope_pct": 100 * tt.slope / med if usable and med else np.nan,
                "p": tt.p if usable else np.nan,
                "trend": "too short",
            }
        )
    out = pd.DataFrame(rows)
    if out.empty:
        return pd.DataFrame(columns=cols)
    tested = out.p.notna()
    out["p_holm"] = np.nan
    if tested.any():
        reject, adj, *_ = multipletests(out.p[tested], alpha=alpha, method="holm")
        out.loc[tested, "p_holm"] = adj
        slope_dir = np.sign(out.sen_slope[tested])
        out.loc[tested, "trend"] = np.where(
            reject, np.where(slope_dir > 0, "up", np.where(slope_dir < 0, "down", "none")), "none"
        )
    return out[cols]
