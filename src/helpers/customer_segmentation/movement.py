"""Assignments per account, per-segment summaries and movement between two periods."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd

from ..errors import check_choice
from ._common import _current, _money
from .clusters import ClusterResult
from .rfm import RFMResult

__all__ = [
    "Movement",
    "assignments",
    "segment_movement",
    "segment_summary",
]


def assignments(
    feats: pd.DataFrame, rfm: RFMResult | None, clusters: ClusterResult | None
) -> pd.DataFrame:
    """The export table: one row per current account with its RFM scores and cluster."""
    cur = _current(feats)[["account_id", "status", "arr"]].reset_index(drop=True)
    out = cur.copy()
    if rfm is not None and rfm.ok:
        out = out.merge(
            rfm.table[["account_id", "r", "f", "m", "rfm_segment"]], on="account_id", how="left"
        )
    else:
        out = out.assign(r=pd.NA, f=pd.NA, m=pd.NA, rfm_segment=None)
    if clusters is not None:
        out = out.merge(clusters.labels, on="account_id", how="left")
    else:
        out = out.assign(cluster=pd.NA, cluster_name=None)
    return out[
        ["account_id", "status", "arr", "r", "f", "m", "rfm_segment", "cluster", "cluster_name"]
    ]


def segment_summary(
    feats: pd.DataFrame, assigned: pd.DataFrame, by: str, *, previous: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Per segment: accounts, share, ARR, ARR share, median usage, mean NPS and churn rate.

    Parameters
    ----------
    feats
        Current features (:func:`account_features`).
    assigned
        Current assignments with a column ``by`` (``rfm_segment`` or ``cluster_name``).
    by
        The segment column.
    previous
        Assignments at the previous period (same column): the churn rate of a segment is
        the share of its accounts then that churned by ``as_of``.
    """
    check_choice("by", by, ["rfm_segment", "cluster_name"])
    df = assigned[["account_id", by]].merge(
        feats[["account_id", "arr", "frequency", "intensity", "breadth", "nps"]],
        on="account_id",
        how="left",
    )
    g = df.groupby(by, sort=False)
    out = pd.DataFrame(
        {
            "accounts": g.size(),
            "arr": g["arr"].sum(),
            "median_active_days": g["frequency"].median(),
            "median_events_per_day": g["intensity"].median(),
            "median_breadth": g["breadth"].median(),
            "mean_nps": g["nps"].mean(),
        }
    )
    out.insert(1, "share", out["accounts"] / out["accounts"].sum())
    out.insert(3, "arr_share", out["arr"] / out["arr"].sum() if out["arr"].sum() else 0.0)
    if previous is not None:
        status = feats.set_index("account_id")["status"]
        prev = previous[["account_id", by]].assign(
            churned=lambda d: d["account_id"].map(status).eq("churned")
        )
        out["churn_rate"] = prev.groupby(by)["churned"].mean().reindex(out.index)
    out.index.name = "segment"
    return out.sort_values("arr", ascending=False, kind="stable")


@dataclass
class Movement:
    """How accounts moved between segments from the previous period to ``as_of``.

    Attributes
    ----------
    accounts, arr
        Transition matrices: rows are the segment then (``new`` = not a customer then),
        columns the segment now (``churned`` = churned since).
    moves
        Off-diagonal cells: ``from, to, accounts, arr, worse`` (worse = to a lower-ranked
        segment or churned), by ARR.
    """

    accounts: pd.DataFrame
    arr: pd.DataFrame
    moves: pd.DataFrame
    by: str
    previous_as_of: dt.date | None = None
    message: str | None = None
    ordered: bool = False

    @property
    def ok(self) -> bool:
        return self.message is None

    def change(self) -> pd.DataFrame:
        """Accounts per segment then and now, and the difference."""
        segs = [s for s in self.accounts.columns if s != "churned"]
        then = self.accounts.sum(axis=1).reindex(segs, fill_value=0)
        now = self.accounts.sum(axis=0).reindex(segs, fill_value=0)
        return pd.DataFrame({"then": then, "now": now, "change": now - then})

    def summary(self, n: int = 3) -> list[str]:
        """The moves that matter, in words: the biggest slips first, then the biggest gain."""
        if not self.ok:
            return [self.message]
        when = f"since {self.previous_as_of}" if self.previous_as_of else "since last period"
        worse = self.moves[self.moves["worse"]]
        ranked = self.ordered
        what = "moved to a worse segment or churned" if ranked else "churned"
        if worse.empty:
            out = [f"No account {what} {when}."]
        else:
            out = [
                f"{int(worse['accounts'].sum())} accounts ({_money(worse['arr'].sum())} ARR) "
                f"{what} {when}."
            ]
        better = self.moves[~self.moves["worse"]]
        picks = [
            *worse.head(n - 1 if len(better) else n).itertuples(),
            *better.head(1).itertuples(),
        ]
        for row in picks:
            out.append(
                f"{row.accounts} accounts, {_money(row.arr)} ARR, moved from {row.from_} to "
                f"{row.to}."
            )
        return out


def segment_movement(
    previous: pd.DataFrame,
    current: pd.DataFrame,
    feats: pd.DataFrame,
    *,
    by: str,
    order: list[str] | None = None,
    previous_as_of: dt.date | None = None,
) -> Movement:
    """Transition matrices of accounts and ARR between two assignments.

    Parameters
    ----------
    previous, current
        Assignments (``account_id`` and column ``by``) at the previous period and at as_of.
    feats
        Current features: their ``status`` marks churned accounts, their ``arr`` weights.
    by
        ``rfm_segment`` or ``cluster_name``.
    order
        Segments from best to worst; a move to a later segment (or to churned) is "worse".
        Without it only churn counts as worse.
    previous_as_of
        The date of the previous period, for the sentences.
    """
    check_choice("by", by, ["rfm_segment", "cluster_name"])
    if previous.empty and current.empty:
        return Movement(
            pd.DataFrame(),
            pd.DataFrame(),
            pd.DataFrame(),
            by,
            previous_as_of,
            "No segments at either date: there is no movement to show.",
        )
    info = feats.set_index("account_id")
    prev = previous.set_index("account_id")[by].rename("from_")
    cur = current.set_index("account_id")[by].rename("to")
    churned = info.index[info["status"] == "churned"]
    to = cur.reindex(prev.index.union(cur.index))
    to.loc[to.index.isin(churned) & to.isna()] = "churned"
    frm = prev.reindex(to.index).fillna("new")
    df = pd.DataFrame({"from_": frm, "to": to}).dropna()
    df["arr"] = info["arr"].reindex(df.index).fillna(0.0).to_numpy()
    segs = list(dict.fromkeys([*(order or []), *sorted(set(df["from_"]) | set(df["to"]))]))
    rows = [s for s in segs if s not in ("churned",)]
    rows = [s for s in rows if s != "new"] + (["new"] if "new" in set(df["from_"]) else [])
    cols = [s for s in segs if s not in ("new", "churned")] + ["churned"]
    acc = pd.crosstab(df["from_"], df["to"]).reindex(index=rows, columns=cols, fill_value=0)
    arr = (
        pd.crosstab(df["from_"], df["to"], values=df["arr"], aggfunc="sum")
        .reindex(index=rows, columns=cols)
        .fillna(0.0)
    )
    acc.index.name = arr.index.name = "then"
    acc.columns.name = arr.columns.name = "now"
    rank = {s: i for i, s in enumerate(order or [])}
    moves = (
        df[df["from_"] != df["to"]]
        .groupby(["from_", "to"], as_index=False)
        .agg(accounts=("arr", "size"), arr=("arr", "sum"))
    )

    def worse(a: str, b: str) -> bool:
        if b == "churned":
            return True
        return a in rank and b in rank and rank[b] > rank[a]

    moves["worse"] = [worse(a, b) for a, b in zip(moves["from_"], moves["to"], strict=True)]
    moves = moves.sort_values(["arr", "accounts"], ascending=False, kind="stable")
    return Movement(acc, arr, moves.reset_index(drop=True), by, previous_as_of, ordered=bool(order))
