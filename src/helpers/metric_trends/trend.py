"""Is there a trend? Mann-Kendall with its variance widened for AR(1) noise, and Sen's slope.

Persistent noise makes a flat series drift for weeks, which a plain Mann-Kendall test
reads as a trend. The test's variance is therefore multiplied by Hamed & Rao's factor
for an AR(1) autocorrelation ``phi^k``, with ``phi`` the lag-1 autocorrelation of the
series around its Sen line, corrected for its small-sample bias and taken at its upper
bound (two standard errors): short persistent series cannot pass for a trend, and a
clean trend keeps its power (where pre-whitening, which removes part of the trend with
the autocorrelation, lost it). ``validation/trends.py`` measures both.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import norm

from ._common import fmt_num, fmt_p, grain_check
from .noise import ar1_upper, lag1

__all__ = ["TrendTest", "trend_test"]

_MIN_PERIODS = 8


@dataclass
class TrendTest:
    """Mann-Kendall trend test allowing for autocorrelation, with Sen's slope."""

    grain: str
    n: int
    slope: float  # Sen's slope per period
    p: float
    direction: str  # "up", "down" or "none"
    alpha: float = 0.05
    deseasonalised: bool = False
    message: str = ""
    phi: float = float("nan")  # the AR(1) coefficient the variance allows for
    #: the test found a trend that the level-shift model (levels, trend and AR(1) noise)
    #: does not need: no trend is claimed (:func:`helpers.metric_trends.analyse`)
    model_without_trend: bool = False

    def summary(self, unit: str = "") -> list[str]:
        if self.message:
            return [self.message]
        sl = f"Sen slope {'+' if self.slope >= 0 else ''}{fmt_num(self.slope)} a {self.grain}"
        how = f"{fmt_p(self.p)}; Mann-Kendall allowing for autocorrelation"
        if self.model_without_trend:
            return [
                f"No clear trend ({sl}, {how}; a model of levels and persistent noise "
                "explains the series without one)."
            ]
        if self.direction == "none":
            return [f"No clear trend ({sl}, {how})."]
        word = "Upward" if self.direction == "up" else "Downward"
        return [f"{word} trend ({sl}, {how})."]


def _hamed_rao_factor(n: int, phi: float) -> float:
    k = np.arange(1, n, dtype=float)
    rho = phi**k
    return float(
        1 + 2 / (n * (n - 1) * (n - 2)) * ((n - k) * (n - k - 1) * (n - k - 2) * rho).sum()
    )


def trend_test(values: pd.Series, grain: str, *, alpha: float = 0.05) -> TrendTest:
    """Mann-Kendall test on the observed periods, its variance widened for AR(1) noise.

    Parameters
    ----------
    values
        The series to test: seasonally adjusted and cleaned when the analysis has done
        so; missing periods are left out (never filled).
    grain
        Names the period in the answer.
    alpha
        Significance level of the two-sided test.
    """
    import pymannkendall as mk

    grain = grain_check(grain)
    y = pd.Series(values, dtype=float)
    x = y.dropna()
    n = len(x)
    if n < _MIN_PERIODS:
        return TrendTest(
            grain,
            n,
            np.nan,
            np.nan,
            "none",
            alpha,
            message=f"Too few {grain}s with data ({n}) for a trend test (at least {_MIN_PERIODS}).",
        )
    v = x.to_numpy()
    if np.ptp(v) == 0:
        return TrendTest(grain, n, 0.0, 1.0, "none", alpha, phi=0.0)
    # the period grid: Sen's slope per period even when some periods are missing
    t = pd.Index(y.index).get_indexer(x.index).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        base = mk.original_test(v, alpha=alpha)
        slope = float(_sen(t, v))
    resid = v - slope * t
    resid = resid - np.median(resid)
    gaps = np.r_[False, np.diff(t) > 1]
    phi = ar1_upper(lag1(resid, gaps=gaps), n, n_params=2)
    var = float(base.var_s) * _hamed_rao_factor(n, phi)
    s = float(base.s)
    z = (s - np.sign(s)) / np.sqrt(var) if var > 0 else 0.0
    p = float(2 * norm.sf(abs(z)))
    direction = "none"
    if p < alpha:
        direction = "up" if slope > 0 else "down" if slope < 0 else "none"
    return TrendTest(grain, n, slope, p, direction, alpha, phi=phi)


def _sen(t: np.ndarray, v: np.ndarray) -> float:
    """Sen's slope: the median of the pairwise slopes (scipy's Theil-Sen estimator)."""
    from scipy.stats import theilslopes

    return float(theilslopes(v, t).slope)
