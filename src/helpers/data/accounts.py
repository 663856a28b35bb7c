"""One definition of a team's accounts, shared by every analysis.

A team is a product area. Its accounts at ``as_of`` over a window of ``window_days``
days are **the accounts with at least one event in the area in that window** (``as_of``
included). Those churned on or before ``as_of`` stay in the count as *churned*: they
are not segmented, but their requests and their move out of a segment still count.
Everything else about an account (plan, ARR, seats) is the company's record of it,
shared by every team; sentences label such figures as company-wide. The status of a
team account is ``active`` (not churned by ``as_of``) or ``churned``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import ibis

__all__ = [
    "DEFINITION",
    "area_events",
    "base_sentence",
    "team_accounts",
    "window",
]

#: The definition in words, as every answer states it.
DEFINITION = "accounts with at least one event in {area} in the {days} days to {as_of}"


def window(as_of: dt.date, window_days: int) -> tuple[dt.datetime, dt.datetime]:
    """The window ``[start, end)`` of ``window_days`` days ending with the day ``as_of``."""
    end = dt.datetime.combine(as_of, dt.time()) + dt.timedelta(days=1)
    return end - dt.timedelta(days=window_days), end


def area_events(events, *, product_area: str, as_of: dt.date, window_days: int):
    """Ibis: the events of ``product_area`` in the window (the rows that make an account the team's)."""
    lo, hi = window(as_of, window_days)
    return events.filter(events.product_area == product_area, events.ts >= lo, events.ts < hi)


def team_accounts(
    events,
    accounts,
    *,
    product_area: str,
    as_of: dt.date,
    window_days: int,
    aggregates: Callable[[Any], dict[str, Any]] | None = None,
):
    """Ibis: the team's accounts, one row each, with ``first_ts``, ``last_ts`` and ``status``.

    Parameters
    ----------
    events, accounts
        Ibis tables of the data contract.
    product_area, as_of, window_days
        The team, the last day of the window and its length in days.
    aggregates
        Optional ``f(area_events) -> {name: aggregate}``: more per-account aggregates
        computed in the same pass over the events (e.g. active days).

    Returns
    -------
    ibis Table
        The columns of ``accounts`` plus ``first_ts`` and ``last_ts`` (first and last
        event in the area in the window), the extra aggregates, and ``status``:
        ``churned`` when ``churned_at <= as_of``, else ``active``.
    """
    ev = area_events(events, product_area=product_area, as_of=as_of, window_days=window_days)
    extra = aggregates(ev) if aggregates else {}
    per = ev.group_by(_team_k=ev.account_id).aggregate(
        first_ts=ev.ts.min(), last_ts=ev.ts.max(), **extra
    )
    joined = accounts.inner_join(per, accounts.account_id == per._team_k).drop("_team_k")
    churned = joined.churned_at.notnull() & (joined.churned_at <= as_of)
    return joined.mutate(status=ibis.ifelse(churned, "churned", "active"))


def base_sentence(
    *, product_area: str, as_of: dt.date, window_days: int, current: int, churned: int
) -> str:
    """The base an answer rests on, in words (the same for every analysis)."""
    total = current + churned
    text = f"Base: {product_area}'s {total:,} accounts, i.e. " + DEFINITION.format(
        area=product_area, days=window_days, as_of=as_of
    )
    if churned:
        return text + f" ({current:,} current customers, {churned:,} churned by {as_of})."
    return text + " (none churned)."
