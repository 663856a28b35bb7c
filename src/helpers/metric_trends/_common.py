"""What every trend analysis shares: grains, the metric's value range, wording of numbers."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..errors import check_choice

__all__ = ["SEASON", "ValueRange", "fmt_num", "fmt_p", "grain_check", "observed", "period_word"]

#: Seasonal period by grain: a week of days, a year of weeks, a year of months.
SEASON = {"day": 7, "week": 52, "month": 12}
YEAR = {"day": 364, "week": 52, "month": 12}  # same weekday a year before, for days
RECENT = {"day": 28, "week": 8, "month": 6}  # "over the last N periods" in the answer
FREQ = {"day": "D", "week": "W-MON", "month": "MS"}
_GRAINS = list(SEASON)


def grain_check(grain: str) -> str:
    return check_choice("grain", grain, _GRAINS)


def period_word(grain: str, n: int = 1) -> str:
    """'week' or 'weeks'."""
    return grain if n == 1 else f"{grain}s"


@dataclass(frozen=True)
class ValueRange:
    """The values a metric can take, which sets its noise model and how changes are worded.

    Parameters
    ----------
    kind
        ``count`` (a sum or a number of things) or ``rate`` (a value per unit of a
        denominator: a share, an average, a score).
    lower, upper
        Bounds of the metric (None: unbounded). Forecast intervals stay inside them.
    share
        A share of a denominator in percent (0-100): each unit is a yes/no, so the noise
        of a period is at least binomial.
    integer
        Whole numbers only (counts of things): a robust spread of 0 is floored at 1.
    """

    kind: str = "count"
    lower: float | None = 0.0
    upper: float | None = None
    share: bool = False
    integer: bool = False

    @property
    def signed(self) -> bool:
        """A score that can be negative (NPS): changes are given in points, not percent."""
        return self.lower is None or self.lower < 0

    @classmethod
    def of(cls, spec, values: pd.Series | None = None) -> ValueRange:
        """The range of a :class:`~helpers.metric_trends.MetricSpec`'s values."""
        if spec.aggregation == "nps":
            return cls("rate", -100.0, 100.0)
        if spec.denominator and spec.scale == 100:
            return cls("rate", 0.0, 100.0, share=True)
        nonneg = values is None or bool((pd.Series(values).dropna() >= 0).all())
        lower = 0.0 if nonneg else None
        if spec.kind == "rate":
            return cls("rate", lower, None)
        integer = spec.aggregation in ("count", "count_distinct") and spec.scale == 1
        return cls("count", lower, None, integer=integer)

    def clip(self, a):
        """``a`` kept inside the range."""
        lo = -np.inf if self.lower is None else self.lower
        hi = np.inf if self.upper is None else self.upper
        return np.clip(a, lo, hi)


def observed(values: pd.Series) -> pd.Series:
    """Float series of the periods that hold a value (a rate with nothing to divide has none)."""
    return pd.Series(values, dtype=float).dropna()


def fmt_num(x: float, unit: str = "") -> str:
    """A number as a PM reads it: 1,234 / 12.3 / 1.23, with % when the unit is %."""
    if x is None or not np.isfinite(x):
        return "n/a"
    a = abs(x)
    s = f"{x:,.0f}" if a >= 100 else f"{x:,.1f}" if a >= 10 else f"{x:,.2f}"
    return f"{s}%" if unit == "%" else s


def fmt_p(p: float) -> str:
    """'p = 0.04', 'p < 0.001' (never 'p = 0')."""
    if p is None or not np.isfinite(p):
        return "p = n/a"
    if p < 0.001:
        return "p < 0.001"
    return f"p = {p:.2g}" if p < 0.1 else f"p = {p:.2f}"
