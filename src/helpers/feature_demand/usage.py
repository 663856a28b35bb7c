"""Usage-based demand: adoption of released features (each against the accounts that could
use it) and their weekly adoption curves."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
from statsmodels.stats.proportion import proportion_confint

from ..data import Warehouse
from .load import _catalogue, _team, _window

__all__ = ["adoption", "adoption_curve"]


def adoption(
    wh: Warehouse,
    product_area: str,
    *,
    as_of: dt.date,
    window_days: int = 365,
    features: list[str] | None = None,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Usage-based demand: share of the team's accounts that used each released feature.

    Features released on different dates are compared fairly: each feature's
    denominator is the team's accounts (activity in the area in the window) that were
    active on or after the day it became available in the window (its release, or the
    window's start), so an account seen only before a release never counts against it.

    Parameters
    ----------
    wh, product_area, as_of, window_days
        As for :func:`load_demand`.
    features
        Restrict to these features (only released ones are kept); default every
        released feature of the area.
    alpha
        1 minus the confidence level of the Wilson interval.

    Returns
    -------
    DataFrame
        ``feature, name, released_at, available_from, exposure_days, adopting_accounts,
        active_accounts, adoption, adoption_lo, adoption_hi`` (empty when no feature is
        released); ``active_accounts`` is the feature's own denominator.
    """
    t0, t1 = _window(as_of, window_days)
    cat = _released(wh, product_area, as_of, features)
    cols = [
        "feature",
        "name",
        "released_at",
        "available_from",
        "exposure_days",
        "adopting_accounts",
        "active_accounts",
        "adoption",
        "adoption_lo",
        "adoption_hi",
    ]
    if cat.empty:
        return pd.DataFrame(columns=cols)
    pop = _team(wh, product_area, as_of, window_days)
    last = pop.select("account_id", "last_ts").to_pandas()
    ev = wh.table("events")
    used = ev.filter(
        ev.product_area == product_area,
        ev.feature.isin(cat.feature.tolist()),
        ev.ts >= t0,
        ev.ts < t1,
    ).semi_join(pop, "account_id")
    counts = used.group_by("feature").aggregate(adopting_accounts=used.account_id.nunique())
    counts = counts.to_pandas()
    out = cat.merge(counts, on="feature", how="left")
    out["adopting_accounts"] = out["adopting_accounts"].fillna(0).astype(int)
    out["available_from"] = _available_from(out["released_at"], t0)
    out["exposure_days"] = (pd.Timestamp(t1) - out["available_from"]).dt.days
    seen = pd.to_datetime(last["last_ts"])
    out["active_accounts"] = [int((seen >= since).sum()) for since in out["available_from"]]
    n = out["active_accounts"].to_numpy()
    k = out["adopting_accounts"].to_numpy()
    with np.errstate(invalid="ignore", divide="ignore"):
        out["adoption"] = np.where(n > 0, k / np.where(n > 0, n, 1), np.nan)
    lo, hi = proportion_confint(k, np.maximum(n, 1), alpha=alpha, method="wilson")
    out["adoption_lo"] = np.where(n > 0, lo, np.nan)
    out["adoption_hi"] = np.where(n > 0, hi, np.nan)
    return out[cols].sort_values("adoption", ascending=False, ignore_index=True)


def _available_from(released_at: pd.Series, t0: dt.datetime) -> pd.Series:
    """The first day a feature could be used in the window: its release or the window's start."""
    rel = pd.to_datetime(released_at)
    return rel.where(rel > pd.Timestamp(t0), pd.Timestamp(t0))


def _released(
    wh: Warehouse, product_area: str, as_of: dt.date, features: list[str] | None
) -> pd.DataFrame:
    cat = _catalogue(wh)
    cat = cat[
        (cat.product_area == product_area) & (cat.status == "released") & cat.released_at.notna()
    ]
    cat = cat[pd.to_datetime(cat.released_at) <= pd.Timestamp(as_of)]
    if features is not None:
        cat = cat[cat.feature.isin(features)]
    return cat[["feature", "name", "released_at"]].reset_index(drop=True)


def adoption_curve(
    wh: Warehouse,
    product_area: str,
    features: list[str],
    *,
    as_of: dt.date,
    window_days: int = 365,
) -> pd.DataFrame:
    """Weekly adoption since release: cumulative share of the accounts that could use it.

    First use per account and feature, and the weekly counts of new adopters, are
    computed in the engine; only one row per feature and week comes back. Each
    feature's denominator is the team's accounts active on or after its availability
    in the window (as in :func:`adoption`).

    Returns
    -------
    DataFrame
        ``feature, name, week, weeks_since_release, new_adopters, adopters, adoption``
        (empty when none of ``features`` is released).
    """
    cols = [
        "feature",
        "name",
        "week",
        "weeks_since_release",
        "new_adopters",
        "adopters",
        "adoption",
    ]
    cat = _released(wh, product_area, as_of, features)
    if cat.empty:
        return pd.DataFrame(columns=cols)
    t0, t1 = _window(as_of, window_days)
    pop = _team(wh, product_area, as_of, window_days)
    seen = pd.to_datetime(pop.select("last_ts").to_pandas()["last_ts"])
    ft = wh.table("features").filter(lambda t: t.feature.isin(cat.feature.tolist()))
    ft = ft.select("feature", "released_at")
    ev = wh.table("events")
    ev = ev.filter(ev.product_area == product_area, ev.ts < t1).semi_join(pop, "account_id")
    ev = ev.inner_join(ft, "feature")
    ev = ev.filter(ev.ts >= ev.released_at.cast("timestamp"))
    first = ev.group_by(["feature", "account_id"]).aggregate(first=ev.ts.min())
    first = first.mutate(week=first["first"].truncate("W"))
    weekly = first.group_by(["feature", "week"]).aggregate(new_adopters=first.count()).to_pandas()
    rows = []
    for f in cat.itertuples():
        rel = pd.Timestamp(f.released_at)
        start = rel - pd.Timedelta(days=rel.weekday())
        weeks = pd.date_range(start, pd.Timestamp(as_of), freq="W-MON")
        w = weekly[weekly.feature == f.feature].set_index("week")["new_adopters"]
        w.index = pd.to_datetime(w.index)
        new = w.reindex(weeks, fill_value=0).astype(int)
        since = max(rel, pd.Timestamp(t0))
        n = int((seen >= since).sum())
        frame = pd.DataFrame(
            {
                "feature": f.feature,
                "name": f.name,
                "week": weeks,
                "weeks_since_release": np.arange(len(weeks)),
                "new_adopters": new.to_numpy(),
            }
        )
        frame["adopters"] = frame["new_adopters"].cumsum()
        frame["adoption"] = frame["adopters"] / n if n else np.nan
        rows.append(frame)
    return pd.concat(rows, ignore_index=True)[cols]
