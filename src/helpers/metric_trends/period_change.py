"""Change against earlier periods: the previous one, N periods before, and a year before."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._common import RECENT, YEAR, ValueRange, fmt_num, grain_check, observed

__all__ = ["SMALL_COUNT", "changes", "describe_change"]

#: below this a count's percentage change misleads (4 -> 15 is "+275%")
SMALL_COUNT = 20
_COLS = [
    "comparison",
    "period",
    "value",
    "reference_period",
    "reference_value",
    "change",
    "change_pct",
]


def changes(values: pd.Series, grain: str) -> pd.DataFrame:
    """The last period with data against the previous one, N periods before, a year before.

    Returns
    -------
    DataFrame
        One row per comparison that the data allow: ``comparison``, ``period``,
        ``value``, ``reference_period``, ``reference_value``, ``change``, ``change_pct``.
        A reference period without data gives no row.
    """
    grain = grain_check(grain)
    y = observed(values)
    if len(y) < 2:
        return pd.DataFrame(columns=_COLS)
    rows = []
    last_p, last_v = y.index[-1], y.iloc[-1]
    lags = {
        f"previous {grain}": 1,
        f"{RECENT[grain]} {grain}s before": RECENT[grain],
        "a year before": YEAR[grain],
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
    return pd.DataFrame(rows, columns=_COLS)


def describe_change(row, vr: ValueRange, unit: str = "") -> tuple[str, str]:
    """(verb phrase, values) for a change row: ('rose 5%', '1,200 → 1,260').

    Scores that can be negative change in points, shares in percentage points; small
    counts are given as counts, never as a percentage (4 → 15 is not "+275%").
    """
    a, b = row.reference_value, row.value
    values = f"{fmt_num(a, unit)} → {fmt_num(b, unit)}"
    if row.change == 0:
        return "was flat", values
    verb = "rose" if row.change > 0 else "fell"
    if vr.signed or unit == "%":
        pts = "points" if vr.signed else "percentage points"
        return f"{verb} {fmt_num(abs(row.change))} {pts}", values
    if vr.integer and min(abs(a), abs(b)) < SMALL_COUNT:
        return (
            f"{verb} from {fmt_num(a)} to {fmt_num(b)}",
            "small counts, so no percentage: a change of a few is often chance",
        )
    pct = f" {abs(row.change_pct):.0f}%" if np.isfinite(row.change_pct) else ""
    return f"{verb}{pct}", values
