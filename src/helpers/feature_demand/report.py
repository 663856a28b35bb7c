"""The feature-demand notebook's one call: requests loaded, compared, and set beside usage."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ..data import Warehouse
from ..paths import TeamFolder
from ..results import read_answer
from .load import DemandData, base_counts, load_demand, requesting_accounts
from .result import DemandResult, compare_demand
from .usage import adoption, adoption_curve

__all__ = ["DemandReport", "demand_report", "segmentation_window"]


@dataclass
class DemandReport:
    """What the ``feature_demand`` notebook shows: demand compared, and usage for context."""

    data: DemandData
    result: DemandResult
    adoption: pd.DataFrame
    adoption_note: str | None
    curve: pd.DataFrame
    requesters: pd.DataFrame | None = None  # who asked (:func:`requesting_accounts`)

    def summary(self) -> list[str]:
        """The answer a PM reads first."""
        return self.result.summary()

    def next_step(self) -> str:
        """The suggested next step in plain words: plan the leader, or keep collecting."""
        r, d = self.result, self.data
        asked = 0 if self.requesters is None else self.requesters["account_id"].nunique()
        if r.winner:
            name = d.names.get(r.winner, r.winner)
            return (
                f"Plan for {name}, and tell the accounts that asked for it (the list "
                '"Who asked") when it ships.'
            )
        more = self.requests_to_settle()
        ask = f"ask the {asked:,} requesting accounts which feature they would pick"
        if more is None:
            return f"No clear winner yet: keep collecting requests, and {ask}."
        top, n = more
        if n is None:
            return (
                f"No clear winner yet: {d.names.get(top, top)} and the next features are "
                f"asked for about equally often, so more requests are unlikely to settle it; {ask}."
            )
        return (
            f"No clear winner yet: at today's split, about {n:,} more accounts asking for "
            f"only one of {d.names.get(top, top)} and its closest rival would settle it; "
            f"meanwhile {ask}."
        )

    def requests_to_settle(self) -> tuple[str, int | None] | None:
        """(leading feature, accounts needed) when no feature wins on accounts: how many
        more accounts asking for only one of the leader and a rival it does not yet beat
        would make McNemar's score test significant at the pair's own (Holm) level, if
        requests keep today's split (``z² / (2r − 1)²`` discordant accounts in all, ``r``
        the leader's share of them); ``None`` accounts when the split is even. None when
        there is a winner, or the weighting is not accounts."""
        import math

        from scipy.stats import norm

        c = self.result.overall
        if c is None or c.winner or c.weighting != "accounts" or len(c.ranking) < 2:
            return None
        top = str(c.ranking["feature"].iloc[0])
        need = 0
        for rival in c.contenders:
            if rival == top:
                continue
            row = c.pair(top, rival)
            x, y = (row.only_a, row.only_b) if row.a == top else (row.only_b, row.only_a)
            if x + y == 0 or x <= y:
                return top, None
            z = norm.ppf(1 - (1 - float(row.level)) / 2)
            total = math.ceil(z**2 / (2 * x / (x + y) - 1) ** 2)
            need = max(need, total - int(x + y), 1)
        return (top, need) if need else None

    def tables(self) -> dict[str, pd.DataFrame]:
        """Every table worth recording, by name (CSV copies: see :attr:`CSV`)."""
        r, d = self.result, self.data
        out = {"demand": r.table()}
        if r.overall is not None:
            out |= {"pairs": r.overall.pairs, "ranking": r.overall.ranking}
        if not r.segments.empty:
            out |= {
                "segments": r.segments,
                "segment_pairs": r.segment_pairs,
                "reversals": r.reversals,
                "drivers": r.drivers,
            }
        out |= {"requests_by_source": d.by_source, "requests_over_time": d.over_time}
        out |= {"adoption": self.adoption, "adoption_curve": self.curve}
        if self.requesters is not None:
            out["requesting_accounts"] = self.requesters
        return out

    #: tables also written as CSV, for spreadsheets and CRMs
    CSV = ("demand", "pairs", "segments", "requesting_accounts")


def demand_report(
    wh: Warehouse,
    product_area: str,
    features: list[str],
    *,
    as_of: dt.date,
    window_days: int = 365,
    weighting: str = "accounts",
    sources: list[str] | None = None,
    segment_by: str = "plan",
    bootstrap_runs: int = 2000,
    alpha: float = 0.05,
    seed: int = 42,
    team: str | None = None,
    run_dir: str | Path | None = None,
) -> DemandReport:
    """Load the requests in the engine, compare the features, and measure their usage.

    Usage is shown for the compared features that are released; when none is, for the
    area's released features, as context (``adoption_note`` says so). The adoption
    curve follows the features released within the window (else the first three).
    The answer states its base (the team's accounts over ``window_days``) beside the
    customer segmentation's (the same definition over its window: the one recorded
    for the team in this run or its latest, else the params' default).
    """
    data = load_demand(
        wh,
        product_area,
        list(features),
        as_of=as_of,
        window_days=window_days,
        sources=sources,
        segment_by=segment_by,
        team=team,
        run_dir=run_dir,
    )
    seg_days = segmentation_window(team or product_area, run_dir)
    data.other_base = base_counts(wh, product_area, as_of, seg_days)
    result = compare_demand(
        data, weighting=weighting, alpha=alpha, bootstrap_runs=bootstrap_runs, seed=seed
    )
    used = adoption(
        wh, product_area, as_of=as_of, window_days=window_days, features=features, alpha=alpha
    )
    note = None
    if used.empty:
        note = (
            "None of the compared features is released yet; for context, the released "
            f"features of {product_area}:"
        )
        used = adoption(wh, product_area, as_of=as_of, window_days=window_days, alpha=alpha)
    recent = used.loc[pd.to_datetime(used.released_at) >= pd.Timestamp(data.start), "feature"]
    chosen = recent.tolist() or used.feature.head(3).tolist()
    curve = adoption_curve(wh, product_area, chosen, as_of=as_of, window_days=window_days)
    winner = result.winner
    order = [winner, *[f for f in features if f != winner]] if winner else list(features)
    asked = requesting_accounts(
        wh,
        product_area,
        order,
        as_of=as_of,
        window_days=window_days,
        sources=data.sources,
        names=data.names,
    )
    return DemandReport(data, result, used, note, curve, asked)


def segmentation_window(team: str, run_dir: str | Path | None = None) -> int:
    """The customer segmentation's window for the team, in days.

    The one recorded with its answer in this run (``run_dir``), else in the team's
    ``latest`` run, else the params' default ``lookback_days``.
    """
    from ..params import CustomerSegmentation

    runs = [Path(run_dir)] if run_dir else []
    latest = TeamFolder(team).latest() if team else None
    if latest is not None:
        runs.append(latest.path)
    for run in runs:
        try:
            days = read_answer(run, "customer_segmentation").get("facts", {}).get("window_days")
        except (OSError, ValueError):
            continue
        if isinstance(days, int) and days > 0:
            return days
    return CustomerSegmentation().lookback_days
