"""Private helpers shared by the segmentation modules: dates, money, current accounts."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from ..errors import WorkbookError

__all__ = [
    "MONEY",
    "_as_date",
    "_current",
    "_money",
    "_window_words",
]

#: Per ``monetary``: (column of the money measure, its word in sentences, its scope).
#: ARR is the company's record of the account (every product), spend is the sum of the
#: events' value in the area in the window.
MONEY = {
    "arr": ("arr", "ARR", "company-wide"),
    "event_value": ("spend", "spend", "in the area"),
}


def _as_date(value: str | dt.date) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise WorkbookError(f"`as_of` must be a date (YYYY-MM-DD), not {value!r}") from None


def _money(x: float) -> str:
    x = float(x)
    for div, unit in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(x) >= div:
            return f"${x / div:.1f}{unit}"
    return f"${x:,.0f}"


def _current(feats: pd.DataFrame) -> pd.DataFrame:
    """The team's active accounts: not churned (each had activity in the window)."""
    return feats[feats["status"] != "churned"]


def _window_words(feats: pd.DataFrame) -> str:
    a = feats.attrs
    if "as_of" in a and "lookback_days" in a:
        return f"in the {a['lookback_days']} days to {a['as_of']}"
    return "in the window"
