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
    "CHURNED",
    "INACTIVE",
    "NEW",
    "Movement",
    "account_moves",
    "assignments",
    "healthy_segments",
    "segment_movement",
    "segment_summary",
]


def assignments(
    feats: pd.DataFrame, rfm: RFMResult | None, clusters: ClusterResult | None
) -> pd.DataFrame:
    """The export table: one row per active account of the team with its RFM scores and cluster."""
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
    feats: pd.DataFrame,
    assigned: pd.DataFrame,
    by: str,
    *,
    previous: pd.DataFrame | None = None,
    churned: set[str] | None = None,
    money: str = "arr",
) -> pd.DataFrame:
    """Per segment: accounts, share, money, money share, median usage, mean NPS and churn rate.

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
    churned
        The accounts churned by ``as_of`` (default: those of ``feats`` with status
        ``churned``).
    money
        The money column of ``feats``: ``arr`` or ``spend``; the output names its columns
        after it (``arr, arr_share`` or ``spend, spend_share``).
    """
    check_choice("by", by, ["rfm_segment", "cluster_name"])
    check_choice("money", money, ["arr", "spend"])
    df = assigned[["account_id", by]].merge(
        feats[["account_id", money, "frequency", "intensity", "breadth", "nps"]],
        on="account_id",
        how="left",
    )
    g = df.groupby(by, sort=False)
    out = pd.DataFrame(
        {
            "accounts": g.size(),
            money: g[money].sum(),
            "median_active_days": g["frequency"].median(),
            "median_events_per_day": g["intensity"].median(),
            "median_breadth": g["breadth"].median(),
            "mean_nps": g["nps"].mean(),
        }
    )
    out.insert(1, "share", out["accounts"] / out["accounts"].sum())
    total = out[money].sum()
    out.insert(3, f"{money}_share", out[money] / total if total else 0.0)
    if previous is not None:
        gone = (
            set(feats.loc[feats["status"] == "churned", "account_id"])
            if churned is None
            else churned
        )
        prev = previous[["account_id", by]].assign(churned=lambda d: d["account_id"].isin(gone))
        out["churn_rate"] = prev.groupby(by)["churned"].mean().reindex(out.index)
    out.index.name = "segment"
    return out.sort_values(money, ascending=False, kind="stable")


#: Where an account of the previous period went when it is no longer segmented.
CHURNED = "churned"
INACTIVE = "no activity"
NEW = "new"


@dataclass
class Movement:
    """How accounts moved between segments from the previous period to ``as_of``.

    Attributes
    ----------
    accounts, arr
        Transition matrices of accounts and of money (``arr`` holds the money measure,
        ARR or spend, named by ``money_label``): rows are the segment then (``new`` = not
        one of the team's active accounts then), columns the segment now (``churned`` =
        churned since; ``no activity`` = no event in the area in the window now).
    moves
        Off-diagonal cells: ``from_, to, accounts``, the money column (``arr`` or
        ``spend``) and ``worse`` (to a lower-ranked segment, churned or no activity),
        largest money first.
    """

    accounts: pd.DataFrame
    arr: pd.DataFrame
    moves: pd.DataFrame
    by: str
    previous_as_of: dt.date | None = None
    message: str | None = None
    ordered: bool = False
    money_label: str = "ARR"
    money: str = "arr"

    @property
    def ok(self) -> bool:
        return self.message is None

    def change(self) -> pd.DataFrame:
        """Accounts per segment then and now, and the difference."""
        segs = [s for s in self.accounts.columns if s not in (CHURNED, INACTIVE)]
        then = self.accounts.sum(axis=1).reindex(segs, fill_value=0)
        now = self.accounts.sum(axis=0).reindex(segs, fill_value=0)
        return pd.DataFrame({"then": then, "now": now, "change": now - then})

    def summary(self, n: int = 3) -> list[str]:
        """The moves that matter, in words: the biggest slips first, then the biggest gain."""
        if not self.ok:
            return [self.message]
        when = f"since {self.previous_as_of}" if self.previous_as_of else "since last period"
        worse = self.moves[self.moves["worse"]]
        what = (
            "moved to a worse segment, stopped using the area or churned"
            if self.ordered
            else "stopped using the area or churned"
        )
        unit = self.money_label
        if worse.empty:
            out = [f"No account {what} {when}."]
        else:
            out = [
                f"{int(worse['accounts'].sum())} accounts ({_money(worse[self.money].sum())} "
                f"{unit}) {what} {when}."
            ]
        better = self.moves[~self.moves["worse"]]
        picks = [
            *worse.head(n - 1 if len(better) else n).itertuples(),
            *better.head(1).itertuples(),
        ]
        for row in picks:
            out.append(
                f"{row.accounts} accounts, {_money(getattr(row, self.money))} {unit}, moved from "
                f"{row.from_} to "
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
    money: str = "arr",
    money_label: str = "ARR",
) -> Movement:
    """Transition matrices of accounts and money between two assignments.

    Parameters
    ----------
    previous, current
        Assignments (``account_id`` and column ``by``) at the previous period and at as_of.
    feats
        One row per account of either period: ``status`` now (``active``, ``churned``, or
        ``inactive`` = no activity in the area in the window now; an account missing
        from ``feats`` counts as inactive) and the money column.
    by
        ``rfm_segment`` or ``cluster_name``.
    order
        Segments from best to worst; a move to a later segment (or to churned or no
        activity) is "worse". Without it only leaving counts as worse.
    previous_as_of
        The date of the previous period, for the sentences.
    money, money_label
        The money column of ``feats`` and its name in sentences (``ARR``, ``spend``).
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
            money_label=money_label,
            money=money,
        )
    info = feats.drop_duplicates("account_id").set_index("account_id")
    prev = previous.set_index("account_id")[by].rename("from_")
    cur = current.set_index("account_id")[by].rename("to")
    to = cur.reindex(prev.index.union(cur.index)).astype(object)
    status = info["status"].reindex(to.index)
    gone = to.isna()
    to.loc[gone] = [CHURNED if s == CHURNED else INACTIVE for s in status[gone]]
    frm = prev.reindex(to.index).astype(object).fillna(NEW)
    df = pd.DataFrame({"from_": frm, "to": to})
    df[money] = info[money].reindex(df.index).fillna(0.0).to_numpy()
    leave = (CHURNED, INACTIVE)
    segs = list(dict.fromkeys([*(order or []), *sorted(set(df["from_"]) | set(df["to"]))]))
    rows = [s for s in segs if s not in (*leave, NEW)]
    rows += [NEW] if NEW in set(df["from_"]) else []
    cols = [s for s in segs if s not in (*leave, NEW)] + [CHURNED, INACTIVE]
    acc = pd.crosstab(df["from_"], df["to"]).reindex(index=rows, columns=cols, fill_value=0)
    arr = (
        pd.crosstab(df["from_"], df["to"], values=df[money], aggfunc="sum")
        .reindex(index=rows, columns=cols)
        .fillna(0.0)
    )
    acc.index.name = arr.index.name = "then"
    acc.columns.name = arr.columns.name = "now"
    rank = {s: i for i, s in enumerate(order or [])}
    moves = (
        df[df["from_"] != df["to"]]
        .groupby(["from_", "to"], as_index=False)
        .agg(accounts=(money, "size"), **{money: (money, "sum")})
    )

    def worse(a: str, b: str) -> bool:
        if b in leave:
            return a != NEW
        return a in rank and b in rank and rank[b] > rank[a]

    moves["worse"] = [worse(a, b) for a, b in zip(moves["from_"], moves["to"], strict=True)]
    moves = moves.sort_values([money, "accounts"], ascending=False, kind="stable")
    return Movement(
        acc,
        arr,
        moves.reset_index(drop=True),
        by,
        previous_as_of,
        ordered=bool(order),
        money_label=money_label,
        money=money,
    )


#: Columns of :func:`account_moves`, in order (``arr`` is the money column: ``spend`` with
#: ``monetary = "event_value"``).
MOVE_COLUMNS = [
    "account_id",
    "name",
    "plan",
    "region",
    "arr",
    "previous_segment",
    "segment",
    "last_active",
    "open_requests",
    "slipped",
]


def healthy_segments(rules: pd.DataFrame) -> list[str]:
    """The RFM segments an account should not leave: recent (R from 4), or of average
    recency (R from 3) with above-average frequency and money (FM from 3), and not at risk.

    With the standard rule table: Champions, Loyal, Potential Loyalist, New Customers and
    Promising. Leaving one of them for any other segment, for no activity or for churn is
    a *slip*, the move a PM acts on (Champions → Loyal is not one).
    """
    r = rules
    keep = ~r["at_risk"].astype(bool) & (
        (r["r_min"] >= 4) | ((r["r_min"] >= 3) & (r["fm_min"] >= 3))
    )
    return [str(s) for s in r.loc[keep, "segment"]]


def account_moves(
    previous: pd.DataFrame,
    current: pd.DataFrame,
    accounts: pd.DataFrame,
    *,
    by: str,
    healthy: list[str] | None = None,
    money: str = "arr",
) -> pd.DataFrame:
    """One row per account of either period: who it is, its segment then and now.

    Parameters
    ----------
    previous, current
        Assignments (``account_id`` and column ``by``) at the previous period and at as_of.
    accounts
        Per account (current features first, then the previous period's): ``account_id,
        name, plan, region, status, last_active, requests`` and the money column.
    by
        ``rfm_segment`` or ``cluster_name``.
    healthy
        Segments an account should stay in (:func:`healthy_segments`); an account that was
        in one and now is in none of them is ``slipped``. None: leaving (churned, no
        activity) is a slip.
    money
        The money column (``arr`` or ``spend``); the output calls it by that name.

    Returns
    -------
    DataFrame
        :data:`MOVE_COLUMNS` (``previous_segment`` ``new`` for accounts not segmented then,
        ``segment`` ``churned`` or ``no activity`` for those gone now), slipped accounts
        first, largest money first.
    """
    check_choice("by", by, ["rfm_segment", "cluster_name"])
    info = accounts.drop_duplicates("account_id").set_index("account_id")
    prev = previous.dropna(subset=[by]).set_index("account_id")[by]
    cur = current.dropna(subset=[by]).set_index("account_id")[by]
    ids = prev.index.union(cur.index)
    now = cur.reindex(ids).astype(object)
    status = info["status"].reindex(ids)
    gone = now.isna()
    now.loc[gone] = [CHURNED if s == CHURNED else INACTIVE for s in status[gone]]
    then = prev.reindex(ids).astype(object).fillna(NEW)
    if healthy is None:
        slipped = then.ne(NEW) & now.isin([CHURNED, INACTIVE])
    else:
        slipped = then.isin(healthy) & ~now.isin(healthy)
    out = pd.DataFrame(
        {
            "account_id": ids.astype(str),
            "name": info["name"].reindex(ids).to_numpy(),
            "plan": info["plan"].reindex(ids).to_numpy(),
            "region": info["region"].reindex(ids).to_numpy(),
            money: info[money].reindex(ids).astype(float).fillna(0.0).to_numpy(),
            "previous_segment": then.to_numpy(),
            "segment": now.to_numpy(),
            "last_active": pd.to_datetime(info["last_active"].reindex(ids)).dt.date.to_numpy(),
            "open_requests": info["requests"].reindex(ids).fillna(0).astype("int64").to_numpy(),
            "slipped": slipped.to_numpy(dtype=bool),
        }
    )
    out = out[out["previous_segment"] != out["segment"]].reset_index(drop=True)
    return out.sort_values(
        ["slipped", money, "account_id"], ascending=[False, False, True], kind="stable"
    ).reset_index(drop=True)
