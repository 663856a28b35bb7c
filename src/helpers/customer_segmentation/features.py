"""Per-account usage features of a product area, computed in the engine (Ibis)."""

from __future__ import annotations

import datetime as dt

import ibis
import numpy as np
import pandas as pd

from ..errors import WorkbookError, check_choice
from ._common import _as_date

__all__ = [
    "CLUSTER_FEATURES",
    "DEFAULT_CLUSTER_FEATURES",
    "account_features",
]


#: Features a clustering may use (the `cluster_features` param), with how each is scaled.
#: Features bounded by the window or a scale (days in the window, shares, 0–10 scores) stay
#: linear; open-ended, skewed ones (counts per day, seats, money, days since created) are logged.
CLUSTER_FEATURES = {
    "recency": "linear",
    "frequency": "linear",
    "intensity": "log",
    "breadth": "linear",
    "seats": "log",
    "monetary": "log",
    "tenure": "log",
    "nps": "linear",
    "requests": "log",
}

#: How accounts behave, not when they were last seen: recency is RFM's job and movement's.
DEFAULT_CLUSTER_FEATURES = ("frequency", "intensity", "breadth", "nps")


def account_features(
    events,
    accounts,
    features,
    *,
    product_area: str,
    as_of: str | dt.date,
    lookback_days: int = 90,
    monetary: str = "arr",
    nps=None,
    requests=None,
) -> pd.DataFrame:
    """One row per account that existed at ``as_of``, with its usage features in the area.

    The group-bys run in the engine (Ibis); only the per-account frame reaches pandas.

    Parameters
    ----------
    events, accounts, features
        Ibis tables of the data contract.
    product_area
        The team's area; only its events and features count.
    as_of
        Last day of the window (inclusive).
    lookback_days
        Length of the window in days, ``as_of`` included.
    monetary
        ``"arr"`` (the account's ARR) or ``"event_value"`` (sum of the events' ``value``
        in the window).
    nps, requests
        Optional Ibis tables ``nps_responses`` and ``feature_requests``.

    Returns
    -------
    pandas.DataFrame
        Columns ``account_id, name, plan, region, industry, seats, arr, created_at,
        churned_at, status`` (``active``, ``inactive`` = no event in the window, or
        ``churned`` = churned on or before ``as_of``), ``last_active, events`` and the
        features ``recency`` (days since the last event in the window; ``lookback_days``
        when none), ``frequency`` (active days), ``intensity`` (events per active day),
        ``breadth`` (share of the area's released features used), ``seats``, ``monetary``,
        ``tenure`` (days since created), ``nps`` (mean score up to ``as_of``),
        ``nps_latest``, ``requests`` (open requests: for features of the area not released
        at ``as_of``).
    """
    check_choice("monetary", monetary, ["arr", "event_value"])
    if not isinstance(lookback_days, int) or lookback_days < 1:
        raise WorkbookError(
            f"`lookback_days` must be a whole number of days >= 1, not {lookback_days!r}"
        )
    as_of = _as_date(as_of)
    start = as_of - dt.timedelta(days=lookback_days - 1)
    lo = dt.datetime.combine(start, dt.time())
    hi = dt.datetime.combine(as_of + dt.timedelta(days=1), dt.time())

    ev = events.filter(events.product_area == product_area, events.ts >= lo, events.ts < hi)
    # the catalogue is small: its released features become a literal list, so breadth is
    # counted in the same single pass over the events as everything else
    released = features.filter(
        features.product_area == product_area,
        features.status == "released",
        features.released_at <= as_of,
    )
    released_list = sorted(set(released.feature.to_pyarrow().to_pylist()))
    n_released = len(released_list)
    aggs = {
        "last_ts": ev.ts.max(),
        "frequency": ev.ts.date().nunique(),
        "events": ev.count(),
        "used_features": ev.feature.nunique(where=ev.feature.isin(released_list or [""])),
    }
    if monetary == "event_value":  # read the `value` column only when it is used
        aggs["value_sum"] = ev.value.sum()
    per = ev.group_by(_k1=ev.account_id).aggregate(**aggs)

    acc = accounts.filter(accounts.created_at <= as_of)
    joined = acc.left_join(per, acc.account_id == per._k1)
    drop = ["_k1"]
    if nps is not None:
        nr = nps.filter(nps.submitted_at < hi)
        nr = nr.mutate(
            _rn=ibis.row_number().over(
                group_by=nr.account_id,
                order_by=[ibis.desc(nr.submitted_at), ibis.desc(nr.response_id)],
            )
        )
        na = nr.group_by(_k3=nr.account_id).aggregate(
            nps=nr.score.mean(), nps_latest=nr.score.max(where=nr._rn == 0)
        )
        joined = joined.left_join(na, joined.account_id == na._k3)
        drop.append("_k3")
    if requests is not None:
        area_feats = features.filter(features.product_area == product_area)
        still_open = (
            (area_feats.status != "released")
            | area_feats.released_at.isnull()
            | (area_feats.released_at > as_of)
        )
        open_feats = area_feats.filter(still_open).select("feature")
        rq = requests.filter(requests.created_at < hi).semi_join(open_feats, "feature")
        ra = rq.group_by(_k4=rq.account_id).aggregate(requests=rq.count())
        joined = joined.left_join(ra, joined.account_id == ra._k4)
        drop.append("_k4")
    df = joined.drop(*drop).to_pandas()
    return _finish_features(
        df, as_of=as_of, lookback_days=lookback_days, monetary=monetary, n_released=n_released
    )


def _finish_features(
    df: pd.DataFrame, *, as_of: dt.date, lookback_days: int, monetary: str, n_released: int
) -> pd.DataFrame:
    """Small per-account arithmetic on the frame the engine returned."""
    df = df.copy()
    for col in ("nps", "nps_latest"):
        if col not in df:
            df[col] = np.nan
    if "requests" not in df:
        df["requests"] = 0
    as_of_ts = pd.Timestamp(as_of)
    churned = pd.to_datetime(df["churned_at"]).le(as_of_ts).fillna(False).astype(bool)
    active = df["events"].fillna(0).gt(0)
    df["status"] = np.where(churned, "churned", np.where(active, "active", "inactive"))
    df["last_active"] = pd.to_datetime(df["last_ts"]).dt.normalize()
    df["events"] = df["events"].fillna(0).astype("int64")
    df["frequency"] = df["frequency"].fillna(0).astype("int64")
    df["recency"] = (
        (as_of_ts - df["last_active"]).dt.days.astype("float64").fillna(float(lookback_days))
    )
    df["intensity"] = np.where(
        df["frequency"] > 0, df["events"] / df["frequency"].where(df["frequency"] > 0, 1), 0.0
    )
    used = df["used_features"].fillna(0).astype("float64")
    df["breadth"] = used / n_released if n_released else 0.0
    df["monetary"] = (
        df["arr"].astype("float64")
        if monetary == "arr"
        else df["value_sum"].fillna(0.0).astype("float64")
    )
    df["tenure"] = (as_of_ts - pd.to_datetime(df["created_at"])).dt.days.astype("float64")
    df["requests"] = df["requests"].fillna(0).astype("int64")
    df["seats"] = df["seats"].astype("int64")
    df["arr"] = df["arr"].astype("float64")
    cols = [
        "account_id",
        "name",
        "plan",
        "region",
        "industry",
        "seats",
        "arr",
        "created_at",
        "churned_at",
        "status",
        "last_active",
        "events",
        "recency",
        "frequency",
        "intensity",
        "breadth",
        "monetary",
        "tenure",
        "nps",
        "nps_latest",
        "requests",
    ]
    out = df[cols].sort_values("account_id", kind="stable").reset_index(drop=True)
    out.attrs.update(
        as_of=as_of.isoformat(),
        lookback_days=lookback_days,
        monetary=monetary,
        released_features=n_released,
    )
    return out
