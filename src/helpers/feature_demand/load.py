"""Inputs of feature demand: the feature catalogue, the team's accounts and requests per account."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ..data import Warehouse
from ..data.accounts import team_accounts, window
from ..errors import WorkbookError, check_choice, did_you_mean
from ..results import attach_segments

__all__ = [
    "SEGMENT_COLUMNS",
    "SOURCES",
    "DemandData",
    "base_counts",
    "check_features",
    "load_demand",
    "requesting_accounts",
]

#: Segment dimensions of the breakdown; ``segment`` reads the latest segmentation run.
SEGMENT_COLUMNS = ["plan", "region", "industry", "segment"]
SOURCES = ["support", "sales", "interview", "survey", "community", "other"]


def _catalogue(wh: Warehouse) -> pd.DataFrame:
    ft = wh.table("features")
    return ft.select("feature", "product_area", "name", "status", "released_at").to_pandas()


def check_features(wh: Warehouse, product_area: str, features: list[str]) -> None:
    """Raise a one-line error unless ``features`` are two or more features of ``product_area``.

    Parameters
    ----------
    wh
        The open warehouse (only its small ``features`` catalogue is read).
    product_area
        The team's product area.
    features
        The features to compare (param ``features``).

    Raises
    ------
    WorkbookError
        For an empty list, a single feature, a feature listed twice, or a feature the
        catalogue of ``product_area`` does not hold (naming the nearest known ones).
    """
    cat = _catalogue(wh)
    known = sorted(cat.loc[cat.product_area == product_area, "feature"])
    example = ", ".join(known[:4]) if known else "none"
    if not features:
        raise WorkbookError(
            f"`features` is empty: list two or more features of {product_area} to compare "
            f"(known: {example})"
        )
    if len(features) == 1:
        raise WorkbookError(
            f"`features` lists a single feature ({features[0]!r}): a comparison needs two or "
            f"more features of {product_area}"
        )
    twice = [f for f in dict.fromkeys(features) if features.count(f) > 1]
    if twice:
        raise WorkbookError(f"`features` lists {twice[0]!r} twice")
    for f in features:
        if f in known:
            continue
        elsewhere = cat.loc[cat.feature == f, "product_area"].tolist()
        where = f"; it belongs to {elsewhere[0]}" if elsewhere else ""
        hint = did_you_mean(f, known)
        if not hint:
            hint = f"; known features of {product_area}: " + (", ".join(known) or "none")
        raise WorkbookError(
            f"`features`: unknown feature {f!r} for product area {product_area}{where}{hint}"
        )


def _window(as_of: dt.date, window_days: int) -> tuple[dt.datetime, dt.datetime]:
    return window(as_of, window_days)


def _team(wh: Warehouse, product_area: str, as_of: dt.date, window_days: int):
    """Ibis: the team's accounts (one definition: :func:`helpers.data.accounts.team_accounts`)."""
    return team_accounts(
        wh.table("events"),
        wh.table("accounts"),
        product_area=product_area,
        as_of=as_of,
        window_days=window_days,
    )


def base_counts(wh: Warehouse, product_area: str, as_of: dt.date, window_days: int) -> dict:
    """The team's accounts over a window: ``{"window_days", "current", "churned"}``."""
    t = _team(wh, product_area, as_of, window_days)
    rows = t.group_by("status").aggregate(n=t.count()).to_pyarrow().to_pylist()
    got = {r["status"]: int(r["n"]) for r in rows}
    return {
        "window_days": window_days,
        "current": got.get("active", 0),
        "churned": got.get("churned", 0),
    }


@dataclass
class DemandData:
    """The small per-account frames an analysis needs, brought from the engine.

    ``accounts`` holds one row per account of the team (the denominator: accounts with
    activity in the area in the window, churned ones included, ``status`` saying which)
    with ``segment`` and ``last_ts``; ``asked`` and ``importance`` are account × feature
    matrices (asked at least once; highest importance 0–3 of the account's requests, 0
    when it did not ask). ``over_time`` marks periods cut by the window (``complete``).
    """

    product_area: str
    features: list[str]
    names: dict[str, str]
    start: dt.date
    end: dt.date
    sources: list[str]
    segment_by: str
    accounts: pd.DataFrame
    asked: pd.DataFrame
    importance: pd.DataFrame
    first_asked: pd.DataFrame
    by_source: pd.DataFrame
    over_time: pd.DataFrame
    outside_accounts: int = 0
    notes: list[str] = field(default_factory=list)
    window_days: int = 365
    other_base: dict | None = None

    @property
    def n_requests(self) -> int:
        return int(self.by_source["requests"].sum()) if len(self.by_source) else 0


def load_demand(
    wh: Warehouse,
    product_area: str,
    features: list[str],
    *,
    as_of: dt.date,
    window_days: int = 365,
    sources: list[str] | None = None,
    segment_by: str = "plan",
    team: str | None = None,
    run_dir: str | Path | None = None,
) -> DemandData:
    """Count requests per account and feature in the engine and bring the small result back.

    Parameters
    ----------
    wh
        The open warehouse.
    product_area
        The team's product area; its accounts (activity in the area in the window,
        :func:`helpers.data.accounts.team_accounts`) are the denominator.
    features
        Two or more features of the area (checked with :func:`check_features`).
    as_of
        Last day of the window (inclusive).
    window_days
        Requests created, and activity, in this many days up to ``as_of``.
    sources
        Feedback sources to count (default: all).
    segment_by
        ``plan``, ``region``, ``industry``, or ``segment`` (the team's recorded segments,
        read by :func:`helpers.results.read_assignments`; plan when there are none,
        with a note).
    team
        The team whose segmentation run ``segment_by="segment"`` reads.
    run_dir
        This run's folder: segments recorded in it come before the team's ``latest``.

    Returns
    -------
    DemandData
    """
    check_features(wh, product_area, features)
    check_choice("segment_by", segment_by, SEGMENT_COLUMNS)
    sources = list(sources or SOURCES)
    for s in sources:
        check_choice("sources", s, SOURCES)
    t0, t1 = _window(as_of, window_days)
    notes: list[str] = []

    pop = _team(wh, product_area, as_of, window_days)
    accounts = pop.select(
        "account_id", "plan", "region", "industry", "arr", "seats", "status", "last_ts"
    ).to_pandas()
    accounts = accounts.sort_values("account_id", ignore_index=True)
    accounts["status"] = accounts["status"].astype(str)
    accounts["arr"] = accounts["arr"].astype(float).fillna(0.0)
    accounts["seats"] = accounts["seats"].astype(float).fillna(0.0)
    accounts, used_by = attach_segments(accounts, segment_by, team or product_area, run_dir, notes)

    fr = wh.table("feature_requests")
    req = fr.filter(
        fr.feature.isin(features),
        fr.source.isin(sources),
        fr.created_at >= t0,
        fr.created_at < t1,
    )
    outside = req.anti_join(pop, "account_id").account_id.nunique().to_pyarrow().as_py()
    req = req.semi_join(pop, "account_id")
    per = (
        req.group_by(["account_id", "feature"])
        .aggregate(
            requests=req.count(),
            importance=req.importance.max(),
            first=req.created_at.min(),
        )
        .to_pandas()
    )
    by_source = (
        req.group_by(["feature", "source"])
        .aggregate(requests=req.count(), accounts=req.account_id.nunique())
        .to_pandas()
        .sort_values(["feature", "source"], ignore_index=True)
    )
    grain = "M" if window_days >= 180 else "W"
    timed = req.mutate(period=req.created_at.truncate(grain))
    over_time = (
        timed.group_by(["feature", "period"])
        .aggregate(requests=timed.count(), accounts=timed.account_id.nunique())
        .to_pandas()
        .sort_values(["feature", "period"], ignore_index=True)
    )
    # a period the window cuts (the current month, the first one) is not comparable
    start = pd.to_datetime(over_time["period"])
    nxt = start + (pd.DateOffset(months=1) if grain == "M" else pd.Timedelta(days=7))
    over_time["complete"] = (start >= pd.Timestamp(t0)) & (nxt <= pd.Timestamp(t1))

    index = pd.Index(accounts["account_id"], name="account_id")
    cols = pd.Index(features, name="feature")
    asked = per.pivot(index="account_id", columns="feature", values="requests")
    asked = asked.reindex(index=index, columns=cols).notna()
    imp = per.pivot(index="account_id", columns="feature", values="importance")
    imp = imp.reindex(index=index, columns=cols).fillna(0).astype(float).clip(0, 3)
    first = per.pivot(index="account_id", columns="feature", values="first")
    first = first.reindex(index=index, columns=cols)

    cat = _catalogue(wh)
    names = dict(zip(cat.feature, cat.name, strict=True))
    if outside:
        notes.append(
            f"{outside} requesting account(s) had no activity in {product_area} in the window "
            "and are not counted: demand is a share of the team's accounts."
        )
    notes.append(
        "Plan, region, industry, ARR and seats are each account's values today (the data "
        "keep no history of them), also for requests made earlier in the window."
    )
    return DemandData(
        product_area=product_area,
        features=list(features),
        names={f: names.get(f) or f for f in features},
        start=t0.date(),
        end=as_of,
        sources=sources,
        segment_by=used_by,
        accounts=accounts,
        asked=asked,
        importance=imp,
        first_asked=first,
        by_source=by_source,
        over_time=over_time,
        outside_accounts=int(outside or 0),
        notes=notes,
        window_days=window_days,
    )


#: The request table's importance scores in words (the data contract's scale).
IMPORTANCE_WORDS = {0: "not important", 1: "nice to have", 2: "important", 3: "critical"}


def requesting_accounts(
    wh: Warehouse,
    product_area: str,
    features: list[str],
    *,
    as_of: dt.date,
    window_days: int = 365,
    sources: list[str] | None = None,
    names: dict[str, str] | None = None,
    max_comments: int = 3,
) -> pd.DataFrame:
    """Who asked: per compared feature, each of the team's accounts that requested it in
    the window, with what a PM needs to call them.

    Returns
    -------
    DataFrame
        ``feature, account_id, name, plan, region, arr, importance`` (the account's highest,
        in words), ``requests, last_asked`` and ``comments`` (its latest ``max_comments``
        comments, newest first, e-mail addresses, links and phone numbers removed); per
        feature in the order given, most important first, then largest ARR.
    """
    # the one scrubber of quoted customer text (shared with the feedback analysis)
    from ..customer_feedback.text import scrub, shorten

    sources = list(sources or SOURCES)
    t0, t1 = _window(as_of, window_days)
    pop = _team(wh, product_area, as_of, window_days)
    fr = wh.table("feature_requests")
    req = fr.filter(
        fr.feature.isin(features),
        fr.source.isin(sources),
        fr.created_at >= t0,
        fr.created_at < t1,
    ).semi_join(pop, "account_id")
    rows = req.select("account_id", "feature", "created_at", "importance", "comment").to_pandas()
    cols = [
        "feature",
        "account_id",
        "name",
        "plan",
        "region",
        "arr",
        "importance",
        "requests",
        "last_asked",
        "comments",
    ]
    if rows.empty:
        return pd.DataFrame(columns=cols)
    acc = wh.table("accounts")
    who = (
        acc.semi_join(req, "account_id")
        .select("account_id", "name", "plan", "region", "arr")
        .to_pandas()
    )
    rows = rows.sort_values("created_at", ascending=False, kind="stable")

    def said(texts: pd.Series) -> str:
        kept = [shorten(scrub(str(t))) for t in texts.dropna() if str(t).strip()]
        return " · ".join(kept[:max_comments])

    g = rows.groupby(["feature", "account_id"], sort=False)
    out = g.agg(
        importance=("importance", "max"),
        requests=("importance", "size"),
        last_asked=("created_at", "max"),
        comments=("comment", said),
    ).reset_index()
    out = out.merge(who, on="account_id", how="left")
    out["arr"] = out["arr"].astype(float).fillna(0.0)
    out["last_asked"] = pd.to_datetime(out["last_asked"]).dt.date
    out["rank"] = out["feature"].map({f: i for i, f in enumerate(features)})
    out = out.sort_values(
        ["rank", "importance", "arr", "account_id"],
        ascending=[True, False, False, True],
        kind="stable",
    )
    out["importance"] = (
        out["importance"].map(IMPORTANCE_WORDS).fillna(out["importance"].astype(str))
    )
    if names:
        out["feature"] = out["feature"].map(lambda f: names.get(f) or f)
    return out[cols].reset_index(drop=True)
