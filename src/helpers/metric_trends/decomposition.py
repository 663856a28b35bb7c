"""Seasonality: robust STL, fitted only where the data hold enough seasons and a real pattern."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ._common import SEASON, fmt_num, grain_check

__all__ = ["Decomposition", "decompose"]

#: fewest full seasons STL is fitted on: with two, each week of the year is estimated from
#: two values and the "seasonal" pattern is mostly noise
MIN_SEASONS = 3
#: seasonal strength (Wang, Smith & Hyndman 2006) a pattern needs: on flat AR(1) noise of
#: three years of weeks STL's strength reaches 0.7 (95th percentile), of days below 0.2
_STRENGTH = {"few": 0.8, "many": 0.4}
_MANY_SEASONS = 6
_STL_SEASONAL = {"day": 13, "week": 7, "month": 7}  # odd; a slowly changing pattern
_MAX_GAPS = 0.1  # share of missing periods STL may bridge by interpolation


@dataclass
class Decomposition:
    """STL decomposition, or why it did not run."""

    grain: str
    period: int
    ran: bool
    frame: pd.DataFrame  # period, observed, trend, seasonal, resid (NaN when not run)
    message: str = ""
    strength: float = float("nan")

    @property
    def seasonal(self) -> pd.Series:
        """The seasonal component by period (0 when STL did not run)."""
        return pd.Series(self.frame.seasonal.fillna(0).to_numpy(), index=self.frame.period)

    @property
    def adjusted(self) -> pd.Series:
        """Seasonally adjusted series (the observed series when STL did not run)."""
        f = self.frame
        return pd.Series(
            (f.observed - f.seasonal.fillna(0)).to_numpy(), index=f.period, name="adjusted"
        )

    def summary(self) -> list[str]:
        if not self.ran:
            return [self.message]
        amp = self.frame.seasonal.max() - self.frame.seasonal.min()
        return [
            f"Seasonality (STL with a period of {self.period} {self.grain}s, strength "
            f"{self.strength:.2f}): the seasonal swing is {fmt_num(amp)} from the lowest to the "
            f"highest {self.grain} of a cycle."
        ]


def decompose(values: pd.Series, grain: str) -> Decomposition:
    """Robust STL with the period set by the grain: 7 days, 52 weeks or 12 months.

    STL runs when the series holds at least three full seasons, at most 10% of its
    periods are missing (bridged by interpolation for the fit only), and the seasonal
    pattern is real: its strength ``1 - var(resid) / var(seasonal + resid)`` is at
    least 0.4, or 0.8 with fewer than six seasons (where STL finds "patterns" in noise).
    Otherwise the result says why and the series is used as it is.
    """
    from statsmodels.tsa.seasonal import STL

    grain = grain_check(grain)
    m = SEASON[grain]
    y = pd.Series(values, dtype=float)
    frame = pd.DataFrame({"period": y.index, "observed": y.to_numpy()})
    frame[["trend", "seasonal", "resid"]] = np.nan

    def skip(msg: str, strength: float = float("nan")) -> Decomposition:
        return Decomposition(grain, m, False, frame, msg, strength)

    if len(y) < MIN_SEASONS * m:
        return skip(
            f"The series has {len(y)} complete {grain}s, fewer than three seasons "
            f"({MIN_SEASONS * m} {grain}s), so there is no seasonal decomposition; the analyses "
            "use the series as it is."
        )
    if y.isna().mean() > _MAX_GAPS:
        return skip(
            f"{int(y.isna().sum())} of {len(y)} {grain}s have no data, too many gaps for a "
            "seasonal decomposition."
        )
    filled = y.interpolate(limit_direction="both").to_numpy()
    res = STL(filled, period=m, seasonal=_STL_SEASONAL[grain], robust=True).fit()
    seasonal, resid = np.asarray(res.seasonal), np.asarray(res.resid)
    total = np.var(seasonal + resid)
    strength = float(max(0.0, 1 - np.var(resid) / total)) if total > 0 else 0.0
    need = _STRENGTH["many"] if len(y) >= _MANY_SEASONS * m else _STRENGTH["few"]
    if strength < need:
        return skip(
            f"No clear seasonal pattern of {m} {grain}s (STL strength {strength:.2f}, below "
            f"{need}), so the series is used as it is.",
            strength,
        )
    frame["trend"], frame["seasonal"], frame["resid"] = res.trend, seasonal, resid
    return Decomposition(grain, m, True, frame, "", strength)
