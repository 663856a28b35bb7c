"""Public holidays per period, from the ``holidays`` package (a well-kept calendar library).

A day or week that holds a public holiday of the team's country is *expected* to be
unusual; the trend analysis marks it as a holiday and never reports it as unusual.
Months are not marked: nearly every month holds a holiday somewhere.
"""

from __future__ import annotations

import functools

import pandas as pd

from ..errors import WorkbookError, did_you_mean

__all__ = ["check_country", "holiday_periods"]


@functools.cache
def _countries() -> tuple[str, ...]:
    import holidays

    return tuple(sorted(holidays.list_supported_countries()))


def check_country(country: str | None) -> str | None:
    """The country code if the ``holidays`` package knows it, else a one-line error."""
    if country is None:
        return None
    code = str(country).upper()
    if code not in _countries():
        raise WorkbookError(
            f"The value for `holidays_country` is not a country code the `holidays` package "
            f"knows: {country!r}{did_you_mean(code, list(_countries()))} (ISO 3166 alpha-2, "
            "e.g. US, GB, DE; or null for no calendar)"
        )
    return code


def holiday_periods(index: pd.DatetimeIndex, grain: str, country: str | None) -> pd.Series:
    """The public holidays in each period: their names joined by "; ", "" for none.

    Parameters
    ----------
    index
        Period starts (days, or Mondays of weeks).
    grain
        ``day`` or ``week`` are marked; ``month`` never is.
    country
        ISO 3166 code (``holidays`` package), or None for no calendar.
    """
    index = pd.DatetimeIndex(index)
    out = pd.Series("", index=index, dtype=object)
    if country is None or grain == "month" or len(index) == 0:
        return out
    import holidays

    code = check_country(country)
    years = range(index.min().year, index.max().year + 2)
    cal = holidays.country_holidays(code, years=years)
    length = 1 if grain == "day" else 7
    for start in index:
        names = [
            cal.get(d.date()) for d in pd.date_range(start, periods=length, freq="D") if d in cal
        ]
        out[start] = "; ".join(dict.fromkeys(n for n in names if n))
    return out
