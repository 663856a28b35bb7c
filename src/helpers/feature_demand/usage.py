"""Usage-based demand: adoption of released features and their weekly adoption curves."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
from statsmodels.stats.proportion import proportion_confint

from ..data import Warehouse
from .load import _active_accounts, _catalogue, _window

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
    """Usage-based demand: share of active accounts that used each released feature.

    Parameters
    ----------
    wh, product_area, as_of, window_days
        As for :func:`load_demand`; the denominator is the same active accounts.
    features
        Restrict to these features (only released ones are kept); default every
        released feature of the area.
    alpha
        1 minus the confidence level of the Wilson interval.

    Returns
    -------
    DataFrame
        ``feature, name, released_at, adopting_accounts, active_accounts, adoption,
        adoption_lo, adoption_hi`` (empty when no feature is released).
    """
    t0, t1 = _window(as_of, window_days)
    cat = _released(wh, product_area, as_of, features)
    cols = [
        "feature",
        "name",
        "released_at",
        "adopting_accounts",
        "active_accounts",
        "adoption",
        "adoption_lo",
        "adoption_hi",
    ]
    if cat.empty:
        return pd.DataFrame(columns=cols)
    pop = _active_accounts(wh, product_area, t0, t1)
    n = int(pop.count().to_pyarrow().as_py())
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
    out["active_accounts"] = n
    if n:
        out["adoption"] = out["adopting_accounts"] / n
        lo, hi = proportion_confint(
            out["adopting_accounts"].to_numpy(), n, alpha=alpha, method="wilson"
        )
    else:
        out["adoption"] = np.nan
        lo = hi = np.full(len(out), np.nan)
    out["adoption_lo"], out["adoption_hi"] = lo, hi
    return out[cols].sort_values("adoption", ascending=False, ignore_index=True)


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
    """Weekly adoption since release: cumulative share of active accounts that have used it.

    First use per account and feature, and the weekly counts of new adopters, are
    computed in the engine; only one row per feature and week comes back.

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
    pop = _active_accounts(wh, product_area, t0, t1)
    n = int(pop.count().to_pyarrow().as_py())
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
