"""What a metric does over time: change, seasonality, trend test, changepoints, anomalies, forecast.

Every function takes the complete periods of a series (a pandas Series indexed by
period start, see :meth:`helpers.metric_trends.MetricSeries.values`) and the grain, and
returns a small frame or result whose ``summary()`` is the sentence a PM reads.
The statistics come from statsmodels (STL, ETS), pymannkendall (Mann-Kendall with
pre-whitening for autocorrelation, Sen's slope) and ruptures (PELT).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.stats import median_abs_deviation

from ..errors import check_choice

__all__ = [
    "SEASON",
    "Backtest",
    "Decomposition",
    "Forecast",
    "TrendAnalysis",
    "TrendTest",
    "analyse",
    "anomalies",
    "backtest",
    "changepoints",
    "changes",
    "clean",
    "compare_segments",
    "decompose",
    "forecast",
    "trend_test",
]

#: Seasonal period by grain: a week of days, a year of weeks, a year of months.
SEASON = {"day": 7, "week": 52, "month": 12}
_YEAR = {"day": 364, "week": 52, "month": 12}  # same weekday a year before, for days
_RECENT = {"day": 28, "week": 8, "month": 6}  # "over the last N periods" in the answer
_ROLLING = {"day": 7, "week": 5, "month": 3}  # centred rolling median without STL
_CP_WINDOW = {"day": 15, "week": 9, "month": 5}  # spike filter before changepoints
_BACKTEST_POINTS = {"day": 91, "week": 26, "month": 12}
# a slowly changing seasonal pattern; not the robust fit, which in simulations distorted the
# adjusted series enough to double the trend test's false alarms (and is 10x slower)
_STL = {"seasonal": 13, "robust": False}
_Z = 3.5  # robust z beyond which a period is an anomaly (Iglewicz & Hoaglin)
_GRAINS = list(SEASON)


def _grain(grain: str) -> str:
    return check_choice("grain", grain, _GRAINS)


def _regular(values: pd.Series) -> pd.Series:
    """Float series with interior gaps (missing rates) interpolated for the models."""
    y = pd.Series(values, dtype=float)
    if y.isna().any():
        y = y.interpolate(limit_direction="both")
    return y


def _fmt(x: float, unit: str = "") -> str:
    if not np.isfinite(x):
        return "n/a"
    a = abs(x)
    s = f"{x:,.0f}" if a >= 100 else f"{x:,.1f}" if a >= 10 else f"{x:,.2f}"
    return f"{s}{unit}" if unit == "%" else s


# ---------------------------------------------------------------------------------------------
# Change against earlier periods


def changes(values: pd.Series, grain: str) -> pd.DataFrame:
    """The last complete period against the previous one, N periods before, and a year before.

    Returns
    -------
    DataFrame
        One row per comparison that the data allow: ``comparison``, ``period``,
        ``value``, ``reference_period``, ``reference_value``, ``change``, ``change_pct``.
    """
    grain = _grain(grain)
    y = pd.Series(values, dtype=float).dropna()
    rows = []
    if len(y) < 2:
        return pd.DataFrame(
            columns=[
                "comparison",
                "period",
                "value",
                "reference_period",
                "reference_value",
                "change",
                "change_pct",
            ]
        )
    last_p, last_v = y.index[-1], y.iloc[-1]
    lags = {
        f"previous {grain}": 1,
        f"{_RECENT[grain]} {grain}s before": _RECENT[grain],
        "a year before": _YEAR[grain],
    }
    step = {"day": pd.Timedelta(days=1), "week": pd.Timedelta(weeks=1)}.get(grain)
    for name, lag in lags.items():
        ref = last_p - step * lag if step is not None else last_p - pd.DateOffset(months=lag)
        if ref not in y.index:
            continue
        rv = y.loc[ref]
        rows.append(
            {
                "comparison": name,
                "period": last_p,
                "value": last_v,
                "reference_period": ref,
                "reference_value": rv,
                "change": last_v - rv,
                "change_pct": 100.0 * (last_v - rv) / abs(rv) if rv else np.nan,
            }
        )
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------------------------
# Decomposition and cleaning


@dataclass
class Decomposition:
    """STL decomposition, or why it did not run."""

    grain: str
    period: int
    ran: bool
    frame: pd.DataFrame  # period, observed, trend, seasonal, resid (NaN when not run)
    message: str = ""

    @property
    def adjusted(self) -> pd.Series:
        """Seasonally adjusted series (the observed series when STL did not run)."""
        f = self.frame
        return (f.observed - f.seasonal.fillna(0)).rename("adjusted")

    def summary(self) -> list[str]:
        if not self.ran:
            return [self.message]
        amp = self.frame.seasonal.max() - self.frame.seasonal.min()
        return [
            f"STL with a period of {self.period} {self.grain}s: the seasonal swing is "
            f"{_fmt(amp)} from the lowest to the highest {self.grain} of a cycle."
        ]


def decompose(values: pd.Series, grain: str) -> Decomposition:
    """STL (robust) with the period set by the grain: 7 days, 52 weeks or 12 months.

    A series shorter than two full seasons is not decomposed; the result says so.
    """
    from statsmodels.tsa.seasonal import STL

    grain = _grain(grain)
    m = SEASON[grain]
    y = _regular(values)
    frame = pd.DataFrame({"period": y.index, "observed": y.to_numpy()})
    if len(y) < 2 * m:
        frame[["trend", "seasonal", "resid"]] = np.nan
        msg = (
            f"The series has {len(y)} complete {grain}s, fewer than two seasons "
            f"({2 * m} {grain}s), so there is no seasonal decomposition; trend and anomalies "
            "use the series as it is (anomalies against a centred rolling median)."
        )
        return Decomposition(grain, m, False, frame, msg)
    res = STL(y.to_numpy(), period=m, **_STL).fit()
    frame["trend"], frame["seasonal"], frame["resid"] = res.trend, res.seasonal, res.resid
    return Decomposition(grain, m, True, frame)


def _residual(
    values: pd.Series, grain: str, dec: Decomposition | None
) -> tuple[pd.Series, pd.Series]:
    """(residual, expected): the STL residual, or the distance from a centred rolling median."""
    y = _regular(values)
    if dec is None:
        dec = decompose(y, grain)
    if dec.ran:
        resid = pd.Series(dec.frame.resid.to_numpy(), index=y.index)
        return resid, y - resid
    # median of the neighbours on each side, leaving the period itself out: a plain rolling
    # median often equals the value itself, which shrinks the MAD and flags noise as anomalies
    k = _ROLLING[grain] // 2
    shifted = [y.shift(s) for s in range(-k, k + 1) if s != 0]
    med = pd.concat(shifted, axis=1).median(axis=1, skipna=True)
    return y - med, med


def _robust_z(resid: pd.Series) -> pd.Series:
    mad = median_abs_deviation(resid.to_numpy(), scale="normal", nan_policy="omit")
    if not np.isfinite(mad) or mad == 0:
        return resid * 0.0
    return (resid - resid.median()) / mad


def anomalies(values: pd.Series, grain: str, dec: Decomposition | None = None) -> pd.DataFrame:
    """Periods whose robust z-score (median/MAD) of the STL residual exceeds 3.5.

    Returns
    -------
    DataFrame
        ``period``, ``value``, ``expected``, ``z`` of the anomalous periods (most extreme first).
    """
    grain = _grain(grain)
    if len(values) < 3:
        return pd.DataFrame(columns=["period", "value", "expected", "z"])
    resid, expected = _residual(values, grain, dec)
    z = _robust_z(resid)
    out = pd.DataFrame(
        {
            "period": resid.index,
            "value": pd.Series(values, dtype=float).to_numpy(),
            "expected": expected.to_numpy(),
            "z": z.to_numpy(),
        }
    )
    out = out[out.z.abs() > _Z]
    return out.reindex(out.z.abs().sort_values(ascending=False).index).reset_index(drop=True)


def clean(values: pd.Series, grain: str, dec: Decomposition | None = None) -> pd.Series:
    """The series with gaps interpolated and anomalies replaced by their expected value.

    Used for forecasts and changepoints, so that a holiday neither widens the
    forecast band nor reads as a shift (the practice of R's ``forecast::tsclean``).
    """
    y = _regular(values)
    if len(y) < 3:
        return y
    resid, expected = _residual(values, grain, dec)
    return y.where(_robust_z(resid).abs() <= _Z, expected)


# ---------------------------------------------------------------------------------------------
# Trend test


@dataclass
class TrendTest:
    """Mann-Kendall trend test (pre-whitened for autocorrelation) with Sen's slope."""

    grain: str
    n: int
    slope: float  # Sen's slope per period
    p: float
    direction: str  # "up", "down" or "none"
    alpha: float = 0.05
    deseasonalised: bool = False
    message: str = ""

    def summary(self, unit: str = "") -> list[str]:
        if self.message:
            return [self.message]
        per = f"a {self.grain}"
        sl = f"Sen slope {'+' if self.slope >= 0 else ''}{_fmt(self.slope)} {per}"
        if self.direction == "none":
            return [
                f"No clear trend ({sl}, p = {self.p:.2g}; Mann-Kendall allowing for "
                "autocorrelation)."
            ]
        word = "upward" if self.direction == "up" else "downward"
        return [
            f"{word.capitalize()} trend ({sl}, p = {self.p:.2g}; Mann-Kendall allowing for "
            "autocorrelation)."
        ]


def trend_test(
    values: pd.Series, grain: str, *, alpha: float = 0.05, dec: Decomposition | None = None
) -> TrendTest:
    """Mann-Kendall test allowing for autocorrelation (Yue-Wang pre-whitening), with Sen's slope.

    Parameters
    ----------
    values
        Complete periods.
    grain
        Sets the STL period (when ``dec`` is not given).
    alpha
        Significance level of the two-sided test.
    dec
        A decomposition to reuse; the test runs on the seasonally adjusted series
        when STL ran.
    """
    import pymannkendall as mk

    grain = _grain(grain)
    y = _regular(values)
    if len(y) < 8:
        return TrendTest(
            grain,
            len(y),
            np.nan,
            np.nan,
            "none",
            alpha,
            message=f"Too few complete {grain}s ({len(y)}) for a trend test (at least 8 needed).",
        )
    dec = dec if dec is not None else decompose(y, grain)
    x = dec.adjusted.to_numpy() if dec.ran else y.to_numpy()
    if np.ptp(x) == 0:
        return TrendTest(grain, len(x), 0.0, 1.0, "none", alpha, dec.ran)
    with np.errstate(invalid="ignore", divide="ignore"):
        # Yue-Wang pre-whitening removes the lag-1 autocorrelation before the test; in our
        # simulations (tests/test_trends.py) it holds its size under AR(1) noise, where the
        # Hamed-Rao variance correction called 10-16% of flat series a trend
        res = mk.pre_whitening_modification_test(x, alpha=alpha)
        slope = float(mk.sens_slope(x).slope)  # on the adjusted series, not the whitened one
    p = float(res.p)
    direction = "none"
    if p < alpha:
        direction = "up" if slope > 0 else "down" if slope < 0 else "none"
    return TrendTest(grain, len(x), slope, p, direction, alpha, dec.ran)


# ---------------------------------------------------------------------------------------------
# Changepoints


def _line(y: np.ndarray, t: np.ndarray) -> np.ndarray:
    a = np.column_stack([np.ones(len(t)), t])
    coef, *_ = np.linalg.lstsq(a, y, rcond=None)
    return coef


def changepoints(
    values: pd.Series, grain: str, dec: Decomposition | None = None, *, min_shift: float = 3.0
) -> pd.DataFrame:
    """Level shifts found by PELT (ruptures) on the cleaned, seasonally adjusted series.

    Segments are straight lines (ruptures' ``linear`` cost), so a steady trend is one
    segment and only a jump ends one; the penalty is BIC-like, ``3 sigma^2 log n``,
    with the noise ``sigma`` estimated robustly from successive differences. A
    changepoint is kept when its jump is at least ``min_shift`` sigma.

    Returns
    -------
    DataFrame
        ``date`` (first period of the new level), ``before`` and ``after`` (the two
        segments' lines at that date), ``shift``, ``shift_pct``, ``shift_sigma``;
        largest shift first.
    """
    import ruptures as rpt

    grain = _grain(grain)
    cols = ["date", "before", "after", "shift", "shift_pct", "shift_sigma"]
    y0 = _regular(values)
    if dec is not None and dec.ran:
        y0 = y0 - dec.frame.seasonal.to_numpy()
    # one-off spikes (holidays) must not end a segment: replace them by a wide rolling median
    med = y0.rolling(_CP_WINDOW[grain], center=True, min_periods=1).median()
    y0 = y0.where(_robust_z(y0 - med).abs() <= _Z, med)
    y = y0.to_numpy(dtype=float)
    n = len(y)
    min_size = {"day": 14, "week": 4, "month": 3}[grain]
    if n < 2 * min_size + 2:
        return pd.DataFrame(columns=cols)
    sigma = median_abs_deviation(np.diff(y), scale="normal") / np.sqrt(2)
    if not np.isfinite(sigma) or sigma == 0:
        return pd.DataFrame(columns=cols)
    t = np.arange(n, dtype=float)
    signal = np.column_stack([y, np.ones(n), t])
    bkps = (
        rpt.Pelt(model="linear", min_size=min_size, jump=1)
        .fit(signal)
        .predict(pen=3.0 * sigma**2 * np.log(n))
    )
    edges = [0, *bkps]
    rows = []
    for i in range(1, len(edges) - 1):
        a, b, c = edges[i - 1], edges[i], edges[i + 1]
        left, right = _line(y[a:b], t[a:b]), _line(y[b:c], t[b:c])
        before, after = left[0] + left[1] * b, right[0] + right[1] * b
        shift = after - before
        if abs(shift) < min_shift * sigma:
            continue
        rows.append(
            {
                "date": y0.index[b],
                "before": before,
                "after": after,
                "shift": shift,
                "shift_pct": 100 * shift / abs(before) if before else np.nan,
                "shift_sigma": shift / sigma,
            }
        )
    out = pd.DataFrame(rows, columns=cols)
    return out.reindex(out["shift"].abs().sort_values(ascending=False).index).reset_index(drop=True)


# ---------------------------------------------------------------------------------------------
# Forecast and backtest


@dataclass
class Forecast:
    """Point forecast with 80% and 95% prediction intervals."""

    grain: str
    frame: pd.DataFrame  # period, mean, lo80, hi80, lo95, hi95
    model: str
    notes: list[str] = field(default_factory=list)

    def summary(self, unit: str = "") -> list[str]:
        if self.frame.empty:
            return self.notes or ["No forecast."]
        f = self.frame
        h = len(f)
        return [
            f"Next {h} {self.grain}{'s' if h > 1 else ''}: forecast "
            f"{_fmt(f['mean'].iloc[-1])} by {f.period.iloc[-1]:%Y-%m-%d} (95% interval "
            f"{_fmt(f.lo95.iloc[-1])}–{_fmt(f.hi95.iloc[-1])}; {self.model})."
        ]


def _future(index: pd.DatetimeIndex, grain: str, h: int) -> pd.DatetimeIndex:
    freq = {"day": "D", "week": "W-MON", "month": "MS"}[grain]
    return pd.date_range(index[-1], periods=h + 1, freq=freq)[1:]


def _fit_predict(y: np.ndarray, grain: str, h: int):
    """Fit STL+ETS (or ETS) on ``y`` and return (mean, lo80, hi80, lo95, hi95, model, converged)."""
    from statsmodels.tools.sm_exceptions import ConvergenceWarning
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel
    from statsmodels.tsa.seasonal import STL

    m = SEASON[grain]
    seasonal = np.zeros(h)
    # a positive series is modelled on the log scale: seasonal swings and noise grow with
    # the level in counts of activity, and the band back-transforms to positive values
    log = bool(np.all(y > 0))
    x = np.log(y) if log else y
    y = x
    model = "ETS (additive errors, damped trend)" + (" on the log scale" if log else "")
    if len(y) >= 2 * m:
        st = STL(y, period=m, **_STL).fit()
        x = y - st.seasonal
        seasonal = st.seasonal[-m:][np.arange(h) % m]
        model = model.replace("ETS", f"STL (period {m}) + ETS")
    with warnings.catch_warnings(record=True) as caught:
        # statsmodels' optimiser warns on hard series; we report non-convergence instead
        warnings.simplefilter("always")
        res = ETSModel(pd.Series(x), error="add", trend="add", damped_trend=True).fit(disp=False)
        pred = res.get_prediction(start=len(x), end=len(x) + h - 1)
        f95 = pred.summary_frame(alpha=0.05)
        f80 = pred.summary_frame(alpha=0.20)
    converged = not any(issubclass(w.category, ConvergenceWarning) for w in caught)
    back = np.exp if log else np.asarray
    return (
        back(f95["mean"].to_numpy() + seasonal),
        back(f80["pi_lower"].to_numpy() + seasonal),
        back(f80["pi_upper"].to_numpy() + seasonal),
        back(f95["pi_lower"].to_numpy() + seasonal),
        back(f95["pi_upper"].to_numpy() + seasonal),
        model,
        converged,
    )


def forecast(
    values: pd.Series, grain: str, horizon: int = 8, dec: Decomposition | None = None
) -> Forecast:
    """ETS forecast (statsmodels ``ETSModel``) with 80% and 95% prediction intervals.

    Fitted on the cleaned series (anomalies replaced, gaps interpolated); when the
    series holds two seasons, ETS runs on the STL seasonally adjusted series and the
    last season is added back (R's ``stlf``).
    """
    grain = _grain(grain)
    cols = ["period", "mean", "lo80", "hi80", "lo95", "hi95"]
    y = clean(values, grain, dec)
    if len(y) < 10:
        return Forecast(
            grain,
            pd.DataFrame(columns=cols),
            "none",
            [f"Too few complete {grain}s ({len(y)}) to forecast (at least 10)."],
        )
    mean, lo80, hi80, lo95, hi95, model, ok = _fit_predict(y.to_numpy(float), grain, horizon)
    frame = pd.DataFrame(
        {
            "period": _future(y.index, grain, horizon),
            "mean": mean,
            "lo80": lo80,
            "hi80": hi80,
            "lo95": lo95,
            "hi95": hi95,
        }
    )
    notes = [] if ok else ["The forecast model's optimiser did not fully converge."]
    return Forecast(grain, frame, model, notes)


@dataclass
class Backtest:
    """Rolling-origin backtest of :func:`forecast` over the last periods."""

    grain: str
    table: pd.DataFrame  # origin, period, step, actual, mean, lo80, hi80, lo95, hi95
    mape: float
    mase: float
    coverage80: float
    coverage95: float
    message: str = ""

    @property
    def n(self) -> int:
        return len(self.table)

    def summary(self) -> list[str]:
        if self.message:
            return [self.message]
        return [
            f"Backtest over the last {self.n} {self.grain}s (forecasts made from earlier "
            f"data only): MAPE {self.mape:.1f}%, MASE {self.mase:.2f} (below 1 beats a naive "
            f"forecast); the 95% band held {100 * self.coverage95:.0f}% of the actual values "
            f"and the 80% band {100 * self.coverage80:.0f}%."
        ]


def backtest(
    values: pd.Series, grain: str, horizon: int = 8, *, points: int | None = None
) -> Backtest:
    """Refit the forecast at rolling origins and score it on the periods that followed.

    Origins are ``horizon`` periods apart over the last ``points`` periods (default:
    91 days, 26 weeks or 12 months, at most a third of the series); each forecast
    is made from the data before its origin only.

    Returns
    -------
    Backtest
        MAPE (%), MASE (scaled by the in-sample naive error: seasonal naive when
        the series holds two seasons), and the share of actual values inside the
        80% and 95% intervals.
    """
    grain = _grain(grain)
    y = _regular(values)
    n = len(y)
    points = points or min(_BACKTEST_POINTS[grain], n // 3)
    folds = points // horizon
    cols = ["origin", "period", "step", "actual", "mean", "lo80", "hi80", "lo95", "hi95"]
    if folds < 1 or n - folds * horizon < 10:
        return Backtest(
            grain,
            pd.DataFrame(columns=cols),
            np.nan,
            np.nan,
            np.nan,
            np.nan,
            f"Too few complete {grain}s ({n}) for a backtest of {horizon}-{grain} forecasts.",
        )
    rows = []
    scale_err = []
    for k in range(folds):
        origin = n - (folds - k) * horizon
        train = y.iloc[:origin]
        fc = forecast(train, grain, horizon)
        actual = y.iloc[origin : origin + horizon]
        f = fc.frame.iloc[: len(actual)]
        rows.append(
            pd.DataFrame(
                {
                    "origin": y.index[origin],
                    "period": actual.index,
                    "step": np.arange(1, len(actual) + 1),
                    "actual": actual.to_numpy(),
                    "mean": f["mean"].to_numpy(),
                    "lo80": f.lo80.to_numpy(),
                    "hi80": f.hi80.to_numpy(),
                    "lo95": f.lo95.to_numpy(),
                    "hi95": f.hi95.to_numpy(),
                }
            )
        )
        m = SEASON[grain] if len(train) >= 2 * SEASON[grain] else 1
        scale_err.append(
            np.mean(
                np.abs(
                    np.diff(train.to_numpy(), n=1)[m - 1 :]
                    if m == 1
                    else train.to_numpy()[m:] - train.to_numpy()[:-m]
                )
            )
        )
    table = pd.concat(rows, ignore_index=True)
    err = (table.actual - table["mean"]).abs()
    nz = table.actual != 0
    mape = float(100 * (err[nz] / table.actual[nz].abs()).mean()) if nz.any() else np.nan
    scale = float(np.mean(scale_err))
    mase = float(err.mean() / scale) if scale > 0 else np.nan
    cov95 = float(((table.actual >= table.lo95) & (table.actual <= table.hi95)).mean())
    cov80 = float(((table.actual >= table.lo80) & (table.actual <= table.hi80)).mean())
    return Backtest(grain, table, mape, mase, cov80, cov95)


# ---------------------------------------------------------------------------------------------
# Everything at once, and segments side by side


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

    def summary(self) -> list[str]:
        """The answer first: recent change, trend, largest shift, forecast, with uncertainty."""
        if self.message:
            return [self.message]
        out = []
        recent = self.changes[
            self.changes.comparison.str.endswith("before")
            & ~self.changes.comparison.str.startswith("a year")
        ]
        if len(recent):
            r = recent.iloc[0]
            verb = "rose" if r.change > 0 else "fell" if r.change < 0 else "was flat"
            pct = f" {abs(r.change_pct):.0f}%" if np.isfinite(r.change_pct) and r.change else ""
            out.append(
                f"{self.title} {verb}{pct} over the last {_RECENT[self.grain]} {self.grain}s "
                f"({_fmt(r.reference_value)} → {_fmt(r.value)} in the {self.grain} of "
                f"{r.period:%Y-%m-%d})."
            )
        yoy = self.changes[self.changes.comparison == "a year before"]
        if len(yoy) and np.isfinite(yoy.change_pct.iloc[0]):
            out.append(
                f"Against the same {self.grain} a year before: {yoy.change_pct.iloc[0]:+.0f}%."
            )
        if self.trend is not None:
            out += self.trend.summary()
        if len(self.changepoints):
            c = self.changepoints.iloc[0]
            more = len(self.changepoints) - 1
            out.append(
                f"A level shift on {c.date:%Y-%m-%d} ({c.shift_pct:+.0f}%, {_fmt(c.before)} → "
                f"{_fmt(c.after)})"
                + (f"; {more} smaller shift(s) in the table below." if more else ".")
            )
        else:
            out.append("No level shift stands out from the noise.")
        if len(self.anomalies):
            out.append(
                f"{len(self.anomalies)} unusual {self.grain}(s), the largest on "
                f"{self.anomalies.period.iloc[0]:%Y-%m-%d}."
            )
        if self.forecast is not None:
            out += self.forecast.summary()
        if self.backtest is not None and not self.backtest.message:
            b = self.backtest
            out.append(
                f"In backtests the forecast missed by {b.mape:.0f}% on average and its "
                f"95% band held {100 * b.coverage95:.0f}% of actual values."
            )
        return out


def analyse(
    values: pd.Series,
    grain: str,
    *,
    title: str = "The metric",
    unit: str = "",
    horizon: int = 8,
    alpha: float = 0.05,
    run_backtest: bool = True,
) -> TrendAnalysis:
    """Run every analysis on the complete periods of one series.

    Parameters
    ----------
    values
        Complete periods (``MetricSeries.values()``).
    grain
        ``day``, ``week`` or ``month``.
    title
        How the answer names the series ("Weekly active accounts (plan = pro)").
    horizon
        Periods to forecast.
    alpha
        Significance level of the trend test.
    run_backtest
        Skip the (slower) backtest when False.
    """
    grain = _grain(grain)
    y = pd.Series(values, dtype=float)
    empty = pd.DataFrame()
    if y.notna().sum() < 3:
        return TrendAnalysis(
            title,
            grain,
            unit,
            y,
            changes(y, grain),
            None,
            None,
            empty,
            empty,
            None,
            None,
            message=(
                f"{title}: only {int(y.notna().sum())} complete {grain}(s) with "
                "data, too few to describe a trend."
            ),
        )
    notes = []
    if y.isna().any():
        notes.append(
            f"{int(y.isna().sum())} {grain}(s) have no data (a rate with nothing to "
            "divide); the models interpolate them, the charts leave them blank."
        )
    dec = decompose(y, grain)
    if not dec.ran:
        notes.append(dec.message)
    tt = trend_test(y, grain, alpha=alpha, dec=dec)
    cps = changepoints(y, grain, dec)
    an = anomalies(y, grain, dec)
    fc = forecast(y, grain, horizon, dec)
    bt = backtest(y, grain, horizon) if run_backtest else None
    return TrendAnalysis(title, grain, unit, y, changes(y, grain), dec, tt, cps, an, fc, bt, notes)


def compare_segments(series, *, alpha: float = 0.05) -> pd.DataFrame:
    """Each segment's recent change and trend (Sen slope, p) side by side.

    Parameters
    ----------
    series
        A :class:`helpers.metric_trends.MetricSeries` built with ``by=``.

    Returns
    -------
    DataFrame
        ``segment``, ``periods``, ``last``, ``change_pct`` (over the recent periods),
        ``sen_slope``, ``slope_pct`` (slope as % of the median level), ``p``, ``trend``.
    """
    rows = []
    grain = series.grain
    for seg in series.segments():
        y = series.values(seg)
        tt = trend_test(y, grain, alpha=alpha)
        ch = changes(y, grain)
        recent = ch[ch.comparison == f"{_RECENT[grain]} {grain}s before"]
        med = float(np.nanmedian(y)) if y.notna().any() else np.nan
        rows.append(
            {
                "segment": seg,
                "periods": int(y.notna().sum()),
                "last": float(y.iloc[-1]) if len(y) else np.nan,
                "change_pct": float(recent.change_pct.iloc[0]) if len(recent) else np.nan,
                "sen_slope": tt.slope,
                "slope_pct": 100 * tt.slope / med if med else np.nan,
                "p": tt.p,
                "trend": tt.direction if not tt.message else "too short",
            }
        )
    return pd.DataFrame(
        rows,
        columns=[
            "segment",
            "periods",
            "last",
            "change_pct",
            "sen_slope",
            "slope_pct",
            "p",
            "trend",
        ],
    )
