"""The whole segmentation of one product area: Segmentation and segment()."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..errors import WorkbookError, check_choice
from ..paths import TeamFolder
from ..results import read_table
from ._common import MONEY, _as_date, _current, _money, _window_words
from .answer import answer_sentences
from .clusters import ClusterResult, behaviour_clusters
from .features import DEFAULT_CLUSTER_FEATURES, account_features, company_baseline
from .movement import (
    CHURNED,
    MOVE_COLUMNS,
    Movement,
    account_moves,
    assignments,
    healthy_segments,
    segment_movement,
    segment_summary,
)
from .rfm import RFMResult, rfm_segments

__all__ = [
    "Segmentation",
    "previous_clusters",
    "segment",
]


@dataclass
class Segmentation:
    """Everything the notebook shows: features, RFM, clusters, summaries and movement."""

    product_area: str
    as_of: dt.date
    previous_as_of: dt.date
    method: str
    features: pd.DataFrame
    previous_features: pd.DataFrame
    rfm: RFMResult | None
    clusters: ClusterResult | None
    assignments: pd.DataFrame
    previous_assignments: pd.DataFrame
    summaries: dict[str, pd.DataFrame]
    movements: dict[str, Movement]
    message: str | None = None
    monetary: str = "arr"
    lookback_days: int = 90
    movement_accounts: pd.DataFrame | None = None

    @property
    def ok(self) -> bool:
        return self.message is None

    @property
    def money(self) -> tuple[str, str, str]:
        """(column, word, scope) of the money measure: ARR company-wide, or spend in the area."""
        return MONEY[self.monetary]

    def base(self) -> dict[str, int]:
        """The team's accounts (one definition: :mod:`helpers.data.accounts`)."""
        churned = int((self.features["status"] == "churned").sum())
        return {
            "team_accounts": len(self.features),
            "current_accounts": len(self.features) - churned,
            "churned_accounts": churned,
            "window_days": self.lookback_days,
        }

    def summary(self) -> list[str]:
        """The answer first: the base, then 3–5 sentences a PM can act on."""
        return answer_sentences(self)

    def healthy(self) -> list[str]:
        """The RFM segments whose accounts should stay there (:func:`healthy_segments`)."""
        if self.rfm is None or not self.rfm.ok:
            return []
        return healthy_segments(self.rfm.rules)

    def moves(self, by: str) -> pd.DataFrame:
        """Every account that changed segment (``by``) since the previous period, with its
        name, plan, region, money, last activity and open requests; slipped ones first."""
        col = self.money[0]
        cols = ["account_id", "name", "plan", "region", "last_active", "requests", col]
        who = pd.concat([self.features[cols], self.previous_features[cols]], ignore_index=True)
        who = who.drop_duplicates("account_id")
        status = self.movement_accounts.drop_duplicates("account_id").set_index("account_id")
        who["status"] = who["account_id"].map(status["status"])
        if col != "arr":  # spend at stake: the movement's own money (earlier window if there)
            who[col] = who["account_id"].map(status[col]).fillna(who[col])
        healthy = self.healthy() if by == "rfm_segment" else None
        return account_moves(
            self.previous_assignments, self.assignments, who, by=by, healthy=healthy, money=col
        )

    def slipping(self) -> pd.DataFrame:
        """The accounts to call: those that left a healthy segment (RFM; with clusters only,
        those that stopped using the area or churned), largest money first."""
        for by in ("rfm_segment", "cluster_name"):
            if by in self.movements and self.movements[by].ok:
                m = self.moves(by)
                return m[m["slipped"]].drop(columns="slipped").reset_index(drop=True)
        return pd.DataFrame(columns=[c for c in MOVE_COLUMNS if c != "slipped"])

    def next_step(self) -> str:
        """The suggested next step in plain words: who to call, or that no one slipped."""
        if not self.ok or not self.movements:
            return "Nothing to act on yet: see the messages above."
        slip = self.slipping()
        col, word, _ = self.money
        if slip.empty:
            return "No account left a healthy segment: nothing to chase this week."
        return (
            f"Call these {len(slip):,} accounts, largest {word} first: they left a healthy "
            f"segment since {self.previous_as_of} ({_money(slip[col].sum())} {word})."
        )

    def facts(self) -> dict:
        """The headline numbers as plain values, recorded beside the answer (the team
        list and the Monday digest read them): the base, ARR (or spend) at risk and who
        slipped."""
        col, word, _ = self.money
        out: dict = {**self.base(), "money": word}
        if self.rfm is not None and self.rfm.ok and "rfm_segment" in self.summaries:
            risky = self.rfm.rules.loc[self.rfm.rules["at_risk"], "segment"].tolist()
            summ = self.summaries["rfm_segment"]
            at_risk = summ[summ.index.isin(risky)]
            out["at_risk_accounts"] = int(at_risk["accounts"].sum())
            out["at_risk_money"] = round(float(at_risk[col].sum()), 2)
        if self.ok and self.movements:
            slip = self.slipping()
            out["slipped_accounts"] = len(slip)
            out["slipped_money"] = round(float(slip[col].sum()), 2) if len(slip) else 0.0
            out["previous_as_of"] = str(self.previous_as_of)
        out["next_step"] = self.next_step()
        return out

    def tables(self) -> dict[str, pd.DataFrame]:
        """Every table worth recording, by name (all also written as CSV)."""
        out = {"assignments": self.assignments, "features": self.features}
        if self.ok and self.movements:
            out["slipping"] = self.slipping()
        for by, table in self.summaries.items():
            out[f"summary_{by}"] = table
        money = self.money[0]
        for by, mv in self.movements.items():
            if mv.ok:
                out[f"movement_{by}_accounts"] = mv.accounts
                out[f"movement_{by}_{money}"] = mv.arr
                out[f"moves_{by}"] = mv.moves
                out[f"account_moves_{by}"] = self.moves(by)
        if self.rfm is not None:
            out["rfm_rules"] = self.rfm.rules
            if self.rfm.cutoffs is not None:
                out["rfm_cutoffs"] = self.rfm.cutoffs.table()
        if self.clusters is not None and self.clusters.ok:
            out["cluster_profile"] = self.clusters.profile
        return out


def previous_clusters(team: str | None) -> pd.DataFrame | None:
    """The cluster of every account in the team's ``latest`` recorded run, if there is one.

    Read through :class:`helpers.paths.TeamFolder` and :func:`helpers.results.read_table`
    (the run's ``tables/customer_segmentation/assignments``); None without a run.
    """
    if not team:
        return None
    latest = TeamFolder(team).latest()
    if latest is None:
        return None
    try:
        table = read_table(latest.path, "customer_segmentation", "assignments")
    except (OSError, ValueError):
        return None
    if not {"account_id", "cluster_name"} <= set(table.columns):
        return None
    return table[["account_id", "cluster_name"]]


def segment(
    wh,
    *,
    product_area: str,
    as_of: str | dt.date,
    lookback_days: int = 90,
    previous_period_days: int = 28,
    method: str = "both",
    monetary: str = "arr",
    cluster_features: list[str] | tuple[str, ...] = DEFAULT_CLUSTER_FEATURES,
    k: int | None = None,
    k_min: int = 2,
    k_max: int = 8,
    stability_runs: int = 20,
    rfm_rules: list[dict[str, Any]] | None = None,
    seed: int = 42,
    team: str | None = None,
    previous: pd.DataFrame | None = None,
) -> Segmentation:
    """Run the whole segmentation of one product area (the notebook's params as keywords).

    Parameters
    ----------
    wh
        A :class:`helpers.data.Warehouse`.
    product_area, as_of, lookback_days, monetary
        See :func:`account_features`.
    previous_period_days
        Movement compares the segments at ``as_of`` with those this many days earlier:
        a whole number of weeks, so both dates fall on the same weekday; the earlier
        date is scored with the cut-offs of ``as_of``.
    method
        ``"rfm"``, ``"clusters"`` or ``"both"``.
    cluster_features, k, k_min, k_max, stability_runs, seed
        See :func:`behaviour_clusters`.
    rfm_rules
        Overrides the RFM rule table (see :func:`rfm_segments`).
    team
        The team whose latest recorded run names the clusters (names are kept from
        week to week); None starts afresh.
    previous
        The previous run's assignments (``account_id, cluster_name``) to keep names
        from, instead of the team's latest run.

    Returns
    -------
    Segmentation
    """
    check_choice("method", method, ["rfm", "clusters", "both"])
    check_choice("monetary", monetary, list(MONEY))
    if (
        not isinstance(previous_period_days, int)
        or previous_period_days < 7
        or previous_period_days % 7
    ):
        raise WorkbookError(
            "`previous_period_days` must be a whole number of weeks in days (7, 14, 28, …), "
            f"not {previous_period_days!r}"
        )
    as_of = _as_date(as_of)
    prev_as_of = as_of - dt.timedelta(days=previous_period_days)
    tables = {
        "events": wh.table("events"),
        "accounts": wh.table("accounts"),
        "features": wh.table("features"),
        "nps": wh.table("nps_responses") if wh.has("nps_responses") else None,
        "requests": wh.table("feature_requests") if wh.has("feature_requests") else None,
    }
    kw = {"product_area": product_area, "lookback_days": lookback_days, "monetary": monetary}
    money = MONEY[monetary][0]
    feats = _with_money(account_features(**tables, as_of=as_of, **kw), money)
    prev = _with_money(account_features(**tables, as_of=prev_as_of, **kw), money)
    rfm = rfm_segments(feats, rules=rfm_rules) if method in ("rfm", "both") else None
    prev_rfm = None
    if rfm is not None and rfm.ok:
        prev_rfm = rfm_segments(prev, rules=rfm_rules, cutoffs=rfm.cutoffs)
    clusters = None
    if method in ("clusters", "both"):
        baseline = None
        if _current(feats).shape[0]:
            baseline = company_baseline(
                tables["events"],
                tables["accounts"],
                tables["features"],
                as_of=as_of,
                lookback_days=lookback_days,
                monetary=monetary,
                nps=tables["nps"],
                requests=tables["requests"],
                names=list(cluster_features),
            )
        clusters = behaviour_clusters(
            feats,
            features=cluster_features,
            k=k,
            k_min=k_min,
            k_max=k_max,
            stability_runs=stability_runs,
            seed=seed,
            baseline=baseline,
            previous=previous if previous is not None else previous_clusters(team),
        )
    assigned = assignments(feats, rfm, clusters)
    prev_assigned = assignments(prev, prev_rfm, None)
    if clusters is not None:
        prev_assigned = prev_assigned.drop(columns=["cluster", "cluster_name"]).merge(
            clusters.predict(prev), on="account_id", how="left"
        )
    info = _movement_accounts(feats, prev, as_of, money)
    churned = set(info.loc[info["status"] == CHURNED, "account_id"])
    summaries: dict[str, pd.DataFrame] = {}
    movements: dict[str, Movement] = {}
    for by, res in (("rfm_segment", rfm), ("cluster_name", clusters)):
        if res is None or not res.ok:
            continue
        if by == "rfm_segment" and (prev_rfm is None or not prev_rfm.ok):
            prev_ok = prev_assigned.iloc[0:0]
        else:
            prev_ok = prev_assigned
        summaries[by] = segment_summary(
            feats, assigned, by, previous=prev_ok, churned=churned, money=money
        )
        order = list(res.rules["segment"]) if by == "rfm_segment" else None
        movements[by] = segment_movement(
            prev_ok,
            assigned,
            info,
            by=by,
            order=order,
            previous_as_of=prev_as_of,
            money=money,
            money_label=MONEY[monetary][1],
        )
    message = None
    cur = _current(feats)
    if feats.empty:
        message = (
            f"No account used {product_area} {_window_words(feats)}: there is nothing "
            "to segment. Check `product_area` and `as_of`."
        )
    elif cur.empty:
        message = (
            f"All {len(feats)} accounts that used {product_area} {_window_words(feats)} "
            "have churned: there is no one to segment."
        )
    return Segmentation(
        product_area,
        as_of,
        prev_as_of,
        method,
        feats,
        prev,
        rfm,
        clusters,
        assigned,
        prev_assigned,
        summaries,
        movements,
        message,
        monetary=monetary,
        lookback_days=lookback_days,
        movement_accounts=info,
    )


def _with_money(feats: pd.DataFrame, money: str) -> pd.DataFrame:
    """The features with the money column (``spend`` = the monetary feature) added."""
    if money == "arr" or money in feats:
        return feats
    out = feats.assign(**{money: feats["monetary"]})
    out.attrs.update(feats.attrs)
    return out


def _movement_accounts(
    feats: pd.DataFrame, prev: pd.DataFrame, as_of: dt.date, money: str
) -> pd.DataFrame:
    """Every account of either period: its status now and the money a move carries.

    Status: ``active`` (a current team account), ``churned`` (churned by ``as_of``) or
    ``inactive`` (no activity in the area in the window now). Money: ARR (today's:
    the data hold no history), or the spend of the earlier window for accounts that
    were there (what is at stake when they move), else of the current one.
    """
    cols = ["account_id", "status", "churned_at", money]
    now = feats[cols]
    before = prev.loc[~prev["account_id"].isin(now["account_id"]), cols].copy()
    gone = pd.to_datetime(before["churned_at"]).le(pd.Timestamp(as_of)).fillna(False)
    before["status"] = np.where(gone.astype(bool), CHURNED, "inactive")
    info = pd.concat([now, before], ignore_index=True)
    if money != "arr":
        then = prev.set_index("account_id")[money]
        info[money] = info["account_id"].map(then).fillna(info[money]).astype(float)
    return info
