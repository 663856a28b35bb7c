"""Inputs of customer feedback: the area's accounts, their NPS answers and their comments.

Everything is filtered in the engine (Ibis) before it comes back: only the window's
answers of the area's accounts, and only the window's feature-request comments about
the area's features. Comment text outside the window is never read.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..data import Warehouse
from ..errors import check_choice
from ..results import attach_segments
from .nps import category

__all__ = ["SEGMENT_COLUMNS", "FeedbackData", "load_feedback"]

#: Breakdowns of NPS and themes; ``segment`` reads the team's latest segmentation run.
SEGMENT_COLUMNS = ["plan", "region", "industry", "segment"]


def _window(as_of: dt.date, window_days: int) -> tuple[dt.datetime, dt.datetime]:
    end = dt.datetime.combine(as_of, dt.time()) + dt.timedelta(days=1)
    return end - dt.timedelta(days=window_days), end


@dataclass
class FeedbackData:
    """The small frames the analysis needs, brought from the engine.

    ``accounts``: the area's accounts (an event in the product area in the window, not
    churned before it) with ``segment``. ``answers``: their NPS answers in the window.
    ``comments``: every non-null comment of those answers and of the window's feature
    requests about the area's features, one row each with ``source`` (``nps`` or
    ``request``), ``at``, ``category`` (NPS answers only), ``feature``, ``segment`` and
    ``arr``.
    """

    product_area: str
    start: dt.date
    end: dt.date
    segment_by: str
    accounts: pd.DataFrame
    answers: pd.DataFrame
    comments: pd.DataFrame
    feature_names: dict[str, str]
    outside_answers: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


def load_feedback(
    wh: Warehouse,
    product_area: str,
    *,
    as_of: dt.date,
    window_days: int = 365,
    segment_by: str = "plan",
    team: str | None = None,
    run_dir: str | Path | None = None,
) -> FeedbackData:
    """Bring the window's NPS answers and comments of the area's accounts from the engine.

    Parameters
    ----------
    wh
        The open warehouse.
    product_area
        The team's product area: its accounts are those with an event in it in the window.
    as_of
        Last day of the window (inclusive).
    window_days
        Answers, requests and activity in this many days up to ``as_of``.
    segment_by
        ``plan``, ``region``, ``industry``, or ``segment`` (the team's recorded segments;
        plan, with a note, when there are none).
    team, run_dir
        Where ``segment_by="segment"`` reads the segments (see
        :func:`helpers.results.read_assignments`).
    """
    check_choice("segment_by", segment_by, SEGMENT_COLUMNS)
    t0, t1 = _window(as_of, window_days)
    notes: list[str] = []

    ev = wh.table("events")
    used = ev.filter(ev.product_area == product_area, ev.ts >= t0, ev.ts < t1)
    acc = wh.table("accounts")
    acc = acc.filter(acc.churned_at.isnull() | (acc.churned_at >= t0.date()))
    pop = acc.semi_join(used.select("account_id").distinct(), "account_id")
    accounts = pop.select("account_id", "plan", "region", "industry", "arr").to_pandas()
    accounts = accounts.sort_values("account_id", ignore_index=True)
    accounts["arr"] = accounts["arr"].astype(float).fillna(0.0)

    accounts, used_by = attach_segments(accounts, segment_by, team or product_area, run_dir, notes)

    nps = wh.table("nps_responses")
    in_window = nps.filter(nps.submitted_at >= t0, nps.submitted_at < t1)
    outside = in_window.anti_join(pop, "account_id").count().to_pyarrow().as_py()
    answers = (
        in_window.semi_join(pop, "account_id")
        .select("response_id", "account_id", "submitted_at", "score", "comment")
        .to_pandas()
    )

    ft = wh.table("features")
    area_features = ft.filter(ft.product_area == product_area).select("feature", "name")
    names = area_features.to_pandas()
    fr = wh.table("feature_requests")
    requests = (
        fr.filter(fr.created_at >= t0, fr.created_at < t1, fr.comment.notnull())
        .semi_join(area_features, "feature")
        .semi_join(pop, "account_id")
        .select("request_id", "account_id", "feature", "created_at", "comment")
        .to_pandas()
    )

    lookup = accounts.set_index("account_id")
    answers = answers.sort_values(["submitted_at", "response_id"], ignore_index=True)
    answers["score"] = answers["score"].astype(int)
    answers["category"] = category(answers["score"])
    answers["segment"] = answers["account_id"].map(lookup["segment"])
    answers["arr"] = answers["account_id"].map(lookup["arr"])
    said = answers[answers["comment"].notna()]
    comments = pd.concat(
        [
            pd.DataFrame(
                {
                    "id": said["response_id"].astype(str),
                    "source": "nps",
                    "account_id": said["account_id"].astype(str),
                    "at": pd.to_datetime(said["submitted_at"]),
                    "category": said["category"].astype(str),
                    "feature": pd.Series(np.nan, index=said.index, dtype=object),
                    "text": said["comment"].astype(str),
                }
            ),
            pd.DataFrame(
                {
                    "id": requests["request_id"].astype(str),
                    "source": "request",
                    "account_id": requests["account_id"].astype(str),
                    "at": pd.to_datetime(requests["created_at"]),
                    "category": pd.Series(np.nan, index=requests.index, dtype=object),
                    "feature": requests["feature"].astype(str),
                    "text": requests["comment"].astype(str),
                }
            ),
        ],
        ignore_index=True,
    )
    comments = comments.sort_values(["at", "id"], ignore_index=True)
    comments["segment"] = comments["account_id"].map(lookup["segment"])
    comments["arr"] = comments["account_id"].map(lookup["arr"]).astype(float)
    if outside:
        notes.append(
            f"{outside} NPS answer{'s' if outside != 1 else ''} in the window came from accounts "
            f"with no {product_area} activity (or churned) and are not counted."
        )
    return FeedbackData(
        product_area=product_area,
        start=t0.date(),
        end=as_of,
        segment_by=used_by,
        accounts=accounts,
        answers=answers,
        comments=comments,
        feature_names=dict(zip(names["feature"], names["name"], strict=True)),
        outside_answers=int(outside or 0),
        notes=notes,
    )
