"""Forecasts with intervals, checked by rolling-origin backtests against the naive forecast.

The model is statsmodels' ``ETSModel`` (additive errors; no trend or a damped trend,
whichever has the lower AICc), wrapped in ``STLForecast`` when the series has a
seasonal pattern (:mod:`.decomposition`). Counts are modelled on the ``log(1 + y)``
scale, so the band cannot go below 0 and grows with the level; the point forecast
shown is then the *median* of the forecast distribution, and the *mean* is
``exp(mu + sigma^2 / 2) - 1``. Rates and scores are modelled as they are, their bands
kept inside the metric's range (0-100 for a share). The bands allow for the fitted
parameters: the noise variance with ``n - k`` degrees of freedom and Student t quantiles,
so a short history gets a wider band (statsmodels' ETS bands treat the parameters as
known and covered 85-89% in our backtests; validation/trends.py). Where the series' own
past forecasts missed more often than that, the bands are widened to hold them: at each
backtest origin by the errors of the forecasts made before it (split-conformal, on the
model scale), and for the forecast shown by all the backtest's errors (:func:`_widening`).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.stats import t as student_t

from ._common import FREQ, SEASON, ValueRange, fmt_num, grain_check, period_word

__all__ = ["Backtest", "Forecast", "backtest", "forecast"]

_MIN_TRAIN = 10  # fewest periods a forecast is fitted on
_MIN_ORIGINS = 12  # a backtest's fewest forecast origins, when the data hold them
_MAX_ORIGINS = 24
_N_PARAMS = {False: 2, True: 5}  # ETS(A,N,N): alpha, level; (A,Ad,N): + beta, phi, slope
_COLS = ["period", "mean", "median", "lo80", "hi80", "lo95", "hi95"]
_NAIVE = {"day": "the value of the same day a week before", "week": "last week's value"}


@dataclass
class Forecast:
    """Point forecasts (median and mean) with 80% and 95% prediction intervals."""

    grain: str
    frame: pd.DataFrame  # period, mean, median, lo80, hi80, lo95, hi95
    model: str
    notes: list[str] = field(default_factory=list)

    def summary(self, unit: str = "") -> list[str]:
        if self.frame.empty:
            return self.notes or ["No forecast."]
        f = self.frame
        h = len(f)
        return [
            f"Next {h} {period_word(self.grain, h)}: about {fmt_num(f['median'].iloc[-1], unit)} "
            f"by {f.period.iloc[-1]:%Y-%m-%d} (median forecast; 95% interval "
            f"{fmt_num(f.lo95.iloc[-1], unit)}–{fmt_num(f.hi95.iloc[-1], unit)}; {self.model})."
        ]


class _Model:
    """The model form chosen on the whole series, refitted at every backtest origin."""

    def __init__(self, grain: str, vr: ValueRange, season: int | None, trend: bool | None):
        self.grain, self.vr, self.season, self.trend = grain, vr, season, trend
        self.log = vr.kind == "count" and vr.lower is not None and vr.lower >= 0

    def to(self, y: np.ndarray) -> np.ndarray:
        return np.log1p(np.maximum(y, 0)) if self.log else y

    def back(self, w: np.ndarray) -> np.ndarray:
        return np.expm1(w) if self.log else w

    @property
    def name(self) -> str:
        ets = "ETS (additive errors, " + ("damped trend)" if self.trend else "no trend)")
        if self.season:
            ets = f"STL (period {self.season}) + {ets}"
        return ets + (" on the log scale" if self.log else "")

    def _fit(self, w: np.ndarray, trend: bool):
        from statsmodels.tsa.exponential_smoothing.ets import ETSModel
        from statsmodels.tsa.forecasting.stl import STLForecast

        kw = {"error": "add", "trend": "add" if trend else None, "damped_trend": trend}
        s = pd.Series(w)
        if self.season:
            return STLForecast(s, ETSModel, model_kwargs=kw, period=self.season, robust=True).fit(
                fit_kwargs={"disp": False}
            )
        return ETSModel(s, **kw).fit(disp=False)

    def fit_predict(self, y: np.ndarray, h: int, widen: tuple[float, float] = (1.0, 1.0)):
        """(median, mean, sd on the model scale, lo80, hi80, lo95, hi95, converged).

        ``widen``: factors (80%, 95%) by which the bands' half-widths on the model scale
        are stretched, from the series' own past forecast errors (:func:`_widening`).
        The location on the model scale is kept in ``self.mu``."""
        from statsmodels.tools.sm_exceptions import ConvergenceWarning

        w = self.to(y)
        with warnings.catch_warnings(record=True) as caught:
            # statsmodels' optimiser warns on hard series; the forecast says so instead
            warnings.simplefilter("always")
            if self.trend is None:
                fits = [self._fit(w, t) for t in (False, True)]
                aicc = [getattr(f, "model_result", f).aicc for f in fits]
                self.trend = bool(np.nanargmin(np.nan_to_num(aicc, nan=np.inf)))
                res = fits[int(self.trend)]
            else:
                res = self._fit(w, self.trend)
            pred = res.get_prediction(start=len(w), end=len(w) + h - 1)
            mu = np.asarray(pred.predicted_mean, dtype=float)
            sd = np.sqrt(np.asarray(pred.var_pred_mean, dtype=float))
        converged = not any(issubclass(c.category, ConvergenceWarning) for c in caught)
        # the model's variance takes its fitted parameters as known and sigma^2 as SSE / n;
        # with k parameters fitted on n periods the band uses SSE / (n - k) and Student t
        # quantiles with n - k degrees of freedom (short histories get wider bands)
        k = _N_PARAMS[bool(self.trend)]
        df = max(len(w) - k, 3)
        sd = np.nan_to_num(sd, nan=0.0) * np.sqrt(len(w) / df)
        sd = np.maximum(sd, self._floor(w, mu))
        q80, q95 = student_t.isf(0.10, df), student_t.isf(0.025, df)
        self.mu, self.sd, self.q = mu, sd, (q80, q95)
        q80 = q80 * max(widen[0], 1.0)
        q95 = max(q95 * max(widen[1], 1.0), q80)  # the 80% band stays inside the 95% one
        clip = self.vr.clip
        median = clip(self.back(mu))
        mean = clip(np.expm1(mu + sd**2 / 2) if self.log else mu)
        bands = [clip(self.back(mu + z * sd)) for z in (-q80, q80, -q95, q95)]
        return median, mean, sd, *bands, converged

    def _floor(self, w: np.ndarray, mu: np.ndarray) -> np.ndarray:
        """The least spread a forecast can have: Poisson noise for counts, else a
        thousandth of the level or of the metric's range, so a band never has zero width."""
        if self.log:
            lam = np.maximum(np.expm1(mu), 1.0)
            return np.sqrt(lam) / (1 + lam)
        span = 1.0
        if self.vr.lower is not None and self.vr.upper is not None:
            span = self.vr.upper - self.vr.lower
        return np.full(len(mu), 1e-3 * max(float(np.nanmedian(np.abs(w))), span))


#: fewest past forecast errors from which the bands are calibrated
_MIN_ERRORS = 20


def _widening(scores: list[tuple[float, float]]) -> tuple[float, float]:
    """Factors (80%, 95%) that stretch the bands to hold past forecast errors.

    ``scores``: for every past forecast scored on what followed, ``|error| / half-width``
    of its 80% and 95% bands on the model scale (1 or less: the band held it). Each
    factor is the split-conformal quantile of those scores, the ``ceil((m + 1) p)``-th
    smallest of ``m`` (Vovk, Gammerman & Shafer), never below 1: bands are widened where
    the model's own variance proved too small (parameters taken as known, a level
    that moved), never narrowed. Below 20 scores: no widening.
    """
    m = len(scores)
    if m < _MIN_ERRORS:
        return 1.0, 1.0
    arr = np.asarray(scores, dtype=float)
    out = []
    for col, p in ((0, 0.80), (1, 0.95)):
        v = np.sort(arr[:, col][np.isfinite(arr[:, col])])
        k = int(np.ceil((len(v) + 1) * p))
        out.append(float(max(v[k - 1], 1.0)) if 0 < k <= len(v) else 1.0)
    return out[0], out[1]


def _scores(model: _Model, actual: np.ndarray) -> list[tuple[float, float]]:
    """``|error| / half-width`` of the last forecast's 80% and 95% bands, model scale."""
    ok = np.isfinite(actual)
    err = np.abs(model.to(actual[ok]) - model.mu[ok])
    sd = model.sd[ok]
    q80, q95 = model.q
    return list(zip(err / (q80 * sd), err / (q95 * sd), strict=True))


def _future(index: pd.DatetimeIndex, grain: str, h: int) -> pd.DatetimeIndex:
    return pd.date_range(index[-1], periods=h + 1, freq=FREQ[grain])[1:]


def _prepared(values: pd.Series) -> pd.Series:
    y = pd.Series(values, dtype=float)
    return y.interpolate(limit_direction="both") if y.isna().any() else y


def forecast(
    values: pd.Series,
    grain: str,
    horizon: int = 8,
    *,
    value_range: ValueRange | None = None,
    seasonal: bool = False,
    widen: tuple[float, float] | None = None,
) -> Forecast:
    """Forecast ``horizon`` periods with 80% and 95% prediction intervals.

    Parameters
    ----------
    values
        The series to extend, cleaned (unusual periods and holidays replaced); inner
        gaps are bridged by interpolation for the model.
    grain
        ``day``, ``week`` or ``month``.
    horizon
        Periods to forecast.
    value_range
        The metric's range: counts are modelled on the log scale; bands stay inside it.
    seasonal
        Whether the series has a seasonal pattern (STL + ETS when True).
    widen
        Factors (80%, 95%) stretching the bands, from past forecast errors
        (:attr:`Backtest.widen80`, :attr:`Backtest.widen95`); never below 1.
    """
    grain = grain_check(grain)
    vr = value_range or ValueRange()
    y = _prepared(values)
    if len(y) < _MIN_TRAIN:
        return Forecast(
            grain,
            pd.DataFrame(columns=_COLS),
            "none",
            [f"Too few complete {grain}s ({len(y)}) to forecast (at least {_MIN_TRAIN})."],
        )
    model = _Model(grain, vr, SEASON[grain] if seasonal else None, None)
    w = widen or (1.0, 1.0)
    median, mean, _sd, lo80, hi80, lo95, hi95, ok = model.fit_predict(y.to_numpy(), horizon, w)
    frame = pd.DataFrame(
        {
            "period": _future(y.index, grain, horizon),
            "mean": mean,
            "median": median,
            "lo80": lo80,
            "hi80": hi80,
            "lo95": lo95,
            "hi95": hi95,
        }
    )
    notes = [] if ok else ["The forecast model's optimiser did not fully converge."]
    name = model.name
    if max(w) > 1.0:
        name += (
            f"; bands widened ×{max(w[1], 1.0):.2f} (95%) and ×{max(w[0], 1.0):.2f} (80%) "
            "to hold past forecast errors"
        )
    return Forecast(grain, frame, name, notes)


@dataclass
class Backtest:
    """Rolling-origin backtest: forecasts made from earlier data only, scored on what followed."""

    grain: str
    table: pd.DataFrame  # origin, period, step, actual, median, naive, lo80, hi80, lo95, hi95
    mape: float
    mase: float  # MAE of the forecast / MAE of the naive forecast on the same periods
    coverage80: float
    coverage95: float
    origins: int = 0
    message: str = ""
    #: factors stretching the bands of the next forecast, from all the backtest's errors
    widen80: float = 1.0
    widen95: float = 1.0

    @property
    def n(self) -> int:
        return len(self.table)

    @property
    def held95(self) -> int:
        t = self.table
        return int(((t.actual >= t.lo95) & (t.actual <= t.hi95)).sum())

    @property
    def better_than_naive(self) -> bool:
        return bool(np.isfinite(self.mase) and self.mase < 1)

    def naive_words(self) -> str:
        return _NAIVE.get(self.grain, f"last {self.grain}'s value")

    def summary(self) -> list[str]:
        if self.message:
            return [self.message]
        if not np.isfinite(self.mase):
            verdict = "had nothing to beat: the values did not change"
            return [
                f"Backtest of {self.origins} forecasts made from earlier data only: the 95% "
                f"band held {self.held95} of {self.n}; {verdict}."
            ]
        verdict = (
            f"beat the naive forecast ({self.naive_words()}): MASE {self.mase:.2f}"
            if self.better_than_naive
            else f"was no better than the naive forecast ({self.naive_words()}): MASE "
            f"{self.mase:.2f}"
        )
        return [
            f"Backtest of {self.origins} forecasts made from earlier data only ({self.n} "
            f"held-out {period_word(self.grain, self.n)}): the 95% band held {self.held95} of "
            f"{self.n} ({100 * self.coverage95:.0f}%), the 80% band "
            f"{100 * self.coverage80:.0f}%; it missed by {self.mape:.0f}% on average (MAPE) "
            f"and {verdict} (below 1 beats it)."
        ]


def _origins(n: int, first: int, horizon: int, most: int = _MAX_ORIGINS) -> list[int]:
    """Evenly spaced origins from ``first``: full horizons where at least 12 fit, else
    every origin with a period after it; at most ``most``."""
    last = n - horizon
    if last - first + 1 < _MIN_ORIGINS:
        last = n - 1
    if last < first:
        return []
    k = min(most, last - first + 1)
    return sorted({int(round(v)) for v in np.linspace(first, last, k)})


def backtest(
    values: pd.Series,
    grain: str,
    horizon: int = 8,
    *,
    actual: pd.Series | None = None,
    value_range: ValueRange | None = None,
    seasonal: bool = False,
    min_train: int | None = None,
    max_origins: int = _MAX_ORIGINS,
) -> Backtest:
    """Refit the forecast at rolling origins over as much history as allows.

    Origins are spread evenly from the first point with enough history (10 periods,
    or three seasons when seasonal) to the last, at least 12 where the data hold them
    and at most 24; each forecast is made from the data before its origin only and
    scored on the periods that followed. Its bands are widened by the errors of the
    earlier origins' forecasts on periods before it (:func:`_widening`), as the
    forecast shown is widened by all of them.

    Parameters
    ----------
    values
        The training series (cleaned as for :func:`forecast`).
    actual
        What is scored (the series as observed, incidents and all); defaults to ``values``.
        Periods without a value are not scored.
    min_train, max_origins
        Fewest periods before the first origin; most origins (24).

    Returns
    -------
    Backtest
        MAPE (%); MASE, the forecast's mean absolute error over the held-out periods
        divided by that of the naive forecast (the last value, or for days the same day a
        week before) made at the same origins; the share of actual values inside the
        80% and 95% bands, with their counts; ``widen80`` and ``widen95``, the factors
        for the next forecast's bands.
    """
    grain = grain_check(grain)
    vr = value_range or ValueRange()
    y = _prepared(values)
    obs = pd.Series(actual if actual is not None else values, dtype=float).reindex(y.index)
    n = len(y)
    m = SEASON[grain] if seasonal else None
    first = max(min_train or _MIN_TRAIN, 3 * m if m else 0, _MIN_TRAIN)
    origins = _origins(n, first, horizon, max_origins)
    cols = ["origin", "period", "step", "actual", "median", "naive"]
    cols += ["lo80", "hi80", "lo95", "hi95"]
    if len(origins) < 1:
        return Backtest(
            grain,
            pd.DataFrame(columns=cols),
            np.nan,
            np.nan,
            np.nan,
            np.nan,
            0,
            f"Too few complete {grain}s ({n}) for a backtest of {horizon}-{grain} forecasts "
            f"(at least {first + 1}).",
        )
    model = _Model(grain, vr, m, None)
    model.fit_predict(y.to_numpy(), 1)  # choose the model form on the whole series
    lag = 7 if grain == "day" else 1
    rows = []
    seen = obs.to_numpy()
    past: list[tuple[int, float, float]] = []  # (period scored, 80% score, 95% score)
    for o in origins:
        h = min(horizon, n - o)
        train = y.to_numpy()[:o]
        # bands calibrated by the errors of earlier forecasts on periods before this origin
        widen = _widening([(a, b) for t, a, b in past if t < o])
        median, _mean, _sd, lo80, hi80, lo95, hi95, _ok = model.fit_predict(train, h, widen)
        past += [
            (o + i, a, b)
            for i, (a, b) in zip(
                np.flatnonzero(np.isfinite(seen[o : o + h])),
                _scores(model, seen[o : o + h]),
                strict=True,
            )
        ]
        steps = np.arange(h)
        naive = train[o - lag + (steps % lag)] if lag > 1 and o >= lag else np.full(h, train[-1])
        rows.append(
            pd.DataFrame(
                {
                    "origin": y.index[o],
                    "period": y.index[o : o + h],
                    "step": steps + 1,
                    "actual": obs.to_numpy()[o : o + h],
                    "median": median,
                    "naive": naive,
                    "lo80": lo80,
                    "hi80": hi80,
                    "lo95": lo95,
                    "hi95": hi95,
                }
            )
        )
    table = pd.concat(rows, ignore_index=True).dropna(subset=["actual"]).reset_index(drop=True)
    err = (table.actual - table["median"]).abs()
    naive_err = (table.actual - table.naive).abs()
    nz = table.actual != 0
    mape = float(100 * (err[nz] / table.actual[nz].abs()).mean()) if nz.any() else np.nan
    mase = float(err.mean() / naive_err.mean()) if naive_err.mean() > 0 else np.nan
    cov95 = float(((table.actual >= table.lo95) & (table.actual <= table.hi95)).mean())
    cov80 = float(((table.actual >= table.lo80) & (table.actual <= table.hi80)).mean())
    w80, w95 = _widening([(a, b) for _t, a, b in past])
    return Backtest(grain, table, mape, mase, cov80, cov95, len(origins), "", w80, w95)
