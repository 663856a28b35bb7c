"""Per-account usage features of a product area, computed in the engine (Ibis)."""

from __future__ import annotations

import datetime as dt

import ibis
import numpy as np
import pandas as pd

from ..data.accounts import team_accounts, window
from ..data.warehouse import built_once, to_frame
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
#: Many accounts never answer NPS: they are placed by the features they have (see
#: :func:`behaviour_clusters`), never given an invented score.
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
    """One row per account of the team (:func:`helpers.data.accounts.team_accounts`), with
    its usage features in the area.

    The team's accounts are those with at least one event in the area in the window;
    those churned by ``as_of`` are kept with ``status = churned``. The group-bys run in
    the engine (Ibis), in one pass over the events; only the per-account frame reaches
    pandas.

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
        in the area in the window: spend).
    nps, requests
        Optional Ibis tables ``nps_responses`` and ``feature_requests``.

    Returns
    -------
    pandas.DataFrame
        Columns ``account_id, name, plan, region, industry, seats, arr, created_at,
        churned_at, status`` (``active``, or ``churned`` = churned on or before
        ``as_of``), ``first_active, last_active, events`` and the features ``recency``
        (days from the last event to ``as_of``), ``frequency`` (active days),
        ``intensity`` (events per active day), ``breadth`` (share of the area's released
        features used), ``seats``, ``monetary``, ``tenure`` (days since created),
        ``nps`` (mean score up to ``as_of``; missing when the account never answered),
        ``nps_latest``, ``requests`` (open requests: for features of the area not
        released at ``as_of``).
    """
    check_choice("monetary", monetary, ["arr", "event_value"])
    if not isinstance(lookback_days, int) or lookback_days < 1:
        raise WorkbookError(
            f"`lookback_days` must be a whole number of days >= 1, not {lookback_days!r}"
        )
    as_of = _as_date(as_of)
    args = (events, accounts, features, nps, requests, product_area, as_of, lookback_days)
    query, released = built_once(
        events, ("account_features", *args, monetary), lambda: _features_query(*args, monetary)
    )
    df = to_frame(query)
    if len(df):
        n_released = int(df["_n_released"].iloc[0])
    else:  # no account: the count still goes in the frame's attributes
        n_released = int(released.count().to_pyarrow().as_py())
    return _finish_features(
        df, as_of=as_of, lookback_days=lookback_days, monetary=monetary, n_released=n_released
    )


def _features_query(
    events, accounts, features, nps, requests, product_area, as_of, lookback_days, monetary
):
    """The per-account query (Ibis) and the area's released features."""
    _, hi = window(as_of, lookback_days)
    # the area's released features are a subquery of the same query (no catalogue round
    # trip first), so breadth is counted in the single pass over the events
    released = _released_table(features, product_area, as_of)

    def aggs(ev) -> dict:
        out = {
            "frequency": ev.ts.date().nunique(),
            "events": ev.count(),
            "used_features": ev.feature.nunique(where=ev.feature.isin(released.feature)),
        }
        if monetary == "event_value":  # read the `value` column only when it is used
            out["value_sum"] = ev.value.sum()
        return out

    joined = team_accounts(
        events,
        accounts,
        product_area=product_area,
        as_of=as_of,
        window_days=lookback_days,
        aggregates=aggs,
    )
    drop = []
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
    joined = joined.mutate(_n_released=released.count().as_scalar())
    joined = joined.mutate(_n_released=released.count().as_scalar())
    return (joined.drop(*drop) if drop else joined), released


def _released_table(features, product_area: str | None, as_of: dt.date):
    """Ibis: the features released by ``as_of`` (of one area, or of every area), once each."""
    rel = features.filter(features.status == "released", features.released_at <= as_of)
    if product_area is not None:
        rel = rel.filter(rel.product_area == product_area)
    return rel.select("feature").distinct()


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
    df["status"] = df["status"].astype(object)
    df["first_active"] = pd.to_datetime(df["first_ts"]).dt.normalize()
    df["last_active"] = pd.to_datetime(df["last_ts"]).dt.normalize()
    df["events"] = df["events"].fillna(0).astype("int64")
    df["frequency"] = df["frequency"].fillna(0).astype("int64")
    df["recency"] = (as_of_ts - df["last_active"]).dt.days.astype("float64")
    df["intensity"] = df["events"] / df["frequency"].where(df["frequency"] > 0, 1)
    used = df["used_features"].fillna(0).astype("float64")
    df["breadth"] = used / n_released if n_released else 0.0
    df["monetary"] = (
        df["arr"].astype("float64")
        if monetary == "arr"
        else df["value_sum"].fillna(0.0).astype("float64")
    )
    created = pd.to_datetime(df["created_at"])
    df["tenure"] = (as_of_ts - created).dt.days.clip(lower=0).astype("float64")
    df["requests"] = df["requests"].fillna(0).astype("int64")
    df["seats"] = df["seats"].astype("int64")
    df["arr"] = df["arr"].astype("float64")
    df["nps"] = df["nps"].astype("float64")
    out = df[FEATURE_COLUMNS].sort_values("account_id", kind="stable").reset_index(drop=True)
    out.attrs.update(
        as_of=as_of.isoformat(),
        lookback_days=lookback_days,
        monetary=monetary,
        released_features=n_released,
    )
    return out


#: The columns of :func:`account_features`, in order.
FEATURE_COLUMNS = [
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
    "first_active",
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


#: Quantiles of the company-wide baseline that cluster names are read against.
BASELINE_QUANTILES = (0.2, 1 / 3, 0.5, 2 / 3, 0.8)


def company_baseline(
    events,
    accounts,
    features,
    *,
    as_of: str | dt.date,
    lookback_days: int = 90,
    monetary: str = "arr",
    nps=None,
    requests=None,
    names: list[str] | tuple[str, ...] = DEFAULT_CLUSTER_FEATURES,
) -> pd.DataFrame:
    """Company-wide quantiles of the clustering features: the baseline cluster names use.

    Every (account, product area) pair with activity in the window counts once, over
    every area of the company, churned accounts left out: "frequent" means more active
    days than a typical account in a typical area, whichever team reads it. Computed in
    the engine; only the quantiles come back.

    Parameters
    ----------
    events, accounts, features, nps, requests
        Ibis tables of the data contract (``nps`` and ``requests`` optional).
    as_of, lookback_days, monetary
        As for :func:`account_features`.
    names
        The features to describe (names of :data:`CLUSTER_FEATURES`).

    Returns
    -------
    pandas.DataFrame
        Index: feature; columns ``q20, q33, q50, q67, q80`` and ``pairs`` (the number of
        account-area pairs behind them).
    """
    names = list(names)
    for f in names:
        check_choice("cluster_features", f, list(CLUSTER_FEATURES))
    as_of = _as_date(as_of)
    lo, hi = window(as_of, lookback_days)
    released = features.filter(features.status == "released", features.released_at <= as_of)
    released_list = sorted(set(released.feature.to_pyarrow().to_pylist()))
    n_rel = released.group_by("product_area").aggregate(_n_released=released.feature.nunique())
    ev = events.filter(events.ts >= lo, events.ts < hi)
    aggs = {
        "last_ts": ev.ts.max(),
        "frequency": ev.ts.date().nunique(),
        "events": ev.count(),
        "used_features": ev.feature.nunique(where=ev.feature.isin(released_list or [""])),
    }
    if monetary == "event_value":
        aggs["value_sum"] = ev.value.sum()
    per = ev.group_by(["account_id", "product_area"]).aggregate(**aggs)
    acc = accounts.filter(accounts.churned_at.isnull() | (accounts.churned_at > as_of))
    acc = acc.select(_ka="account_id", seats="seats", arr="arr", created_at="created_at")
    t = per.inner_join(acc, per.account_id == acc._ka)
    t = t.left_join(n_rel.rename(_kp="product_area"), t.product_area == n_rel.product_area)
    has_nps = "nps" in names and nps is not None
    has_requests = "requests" in names and requests is not None
    if has_nps:
        nr = nps.filter(nps.submitted_at < hi)
        na = nr.group_by(_kn=nr.account_id).aggregate(_nps=nr.score.mean())
        t = t.left_join(na, t.account_id == na._kn)
    if has_requests:
        cat = features.select(_kf="feature", _fa="product_area", _st="status", _ra="released_at")
        still_open = (cat._st != "released") | cat._ra.isnull() | (cat._ra > as_of)
        rq = requests.filter(requests.created_at < hi)
        rq = rq.inner_join(cat.filter(still_open), rq.feature == cat._kf)
        ra = rq.group_by(_kr=rq.account_id, _kra=rq._fa).aggregate(_req=rq.count())
        t = t.left_join(ra, (t.account_id == ra._kr) & (t.product_area == ra._kra))
    t = t.select(t)  # one relation, so the features below refer to its columns
    n_released = t._n_released.fill_null(0).cast("float64")
    cols = {
        "recency": ibis.literal(as_of).delta(t.last_ts.date(), unit="day").cast("float64"),
        "frequency": t.frequency.cast("float64"),
        "intensity": t.events.cast("float64") / t.frequency.cast("float64"),
        "breadth": ibis.ifelse(n_released > 0, t.used_features.cast("float64") / n_released, 0.0),
        "seats": t.seats.cast("float64"),
        "monetary": (t.value_sum.fill_null(0) if monetary == "event_value" else t.arr).cast(
            "float64"
        ),
        "tenure": ibis.greatest(
            ibis.literal(as_of).delta(t.created_at, unit="day").cast("float64"), 0.0
        ),
        "nps": t._nps.cast("float64") if has_nps else ibis.null("float64"),
        "requests": t._req.fill_null(0).cast("float64") if has_requests else ibis.literal(0.0),
    }
    t = t.mutate(**{f"_f_{f}": cols[f] for f in names})
    qs = list(BASELINE_QUANTILES)
    row = (
        t.aggregate(
            _pairs=t.count(),
            **{f"_q_{f}": t[f"_f_{f}"].quantile(qs) for f in names},
        )
        .to_pyarrow()
        .to_pylist()[0]
    )
    out = pd.DataFrame(
        [
            [np.nan] * len(qs) if row[f"_q_{f}"] is None else [float(v) for v in row[f"_q_{f}"]]
            for f in names
        ],
        index=pd.Index(names, name="feature"),
        columns=["q20", "q33", "q50", "q67", "q80"],
    )
    out["pairs"] = int(row["_pairs"] or 0)
    return out
