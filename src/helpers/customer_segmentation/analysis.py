"""The whole segmentation of one product area: Segmentation and segment()."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import pandas as pd

from ..errors import check_choice
from ._common import _as_date, _current, _window_words
from .answer import answer_sentences
from .clusters import ClusterResult, behaviour_clusters
from .features import DEFAULT_CLUSTER_FEATURES, account_features
from .movement import Movement, assignments, segment_movement, segment_summary
from .rfm import RFMResult, rfm_segments

__all__ = [
    "Segmentation",
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

    @property
    def ok(self) -> bool:
        return self.message is None

    def summary(self) -> list[str]:
        """The answer first: 3–5 sentences a PM can act on."""
        return answer_sentences(self)


def segment(
    wh,
    *,
    product_area: str,
    as_of: str | dt.date,
    lookback_days: int = 90,
    previous_period_days: int = 30,
    method: str = "both",
    monetary: str = "arr",
    cluster_features: list[str] | tuple[str, ...] = DEFAULT_CLUSTER_FEATURES,
    k: int | None = None,
    k_min: int = 2,
    k_max: int = 8,
    stability_runs: int = 20,
    rfm_rules: list[dict[str, Any]] | None = None,
    seed: int = 42,
) -> Segmentation:
    """Run the whole segmentation of one product area (the notebook's params as keywords).

    Parameters
    ----------
    wh
        A :class:`helpers.data.Warehouse`.
    product_area, as_of, lookback_days, monetary
        See :func:`account_features`.
    previous_period_days
        Movement compares the segments at ``as_of`` with those at ``as_of`` minus this.
    method
        ``"rfm"``, ``"clusters"`` or ``"both"``.
    cluster_features, k, k_min, k_max, stability_runs, seed
        See :func:`behaviour_clusters`.
    rfm_rules
        Overrides the RFM rule table (see :func:`rfm_segments`).

    Returns
    -------
    Segmentation
    """
    check_choice("method", method, ["rfm", "clusters", "both"])
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
    feats = account_features(**tables, as_of=as_of, **kw)
    prev = account_features(**tables, as_of=prev_as_of, **kw)
    rfm = rfm_segments(feats, rules=rfm_rules) if method in ("rfm", "both") else None
    prev_rfm = rfm_segments(prev, rules=rfm_rules) if rfm is not None else None
    clusters = None
    if method in ("clusters", "both"):
        clusters = behaviour_clusters(
            feats,
            features=cluster_features,
            k=k,
            k_min=k_min,
            k_max=k_max,
            stability_runs=stability_runs,
            seed=seed,
        )
    assigned = assignments(feats, rfm, clusters)
    prev_assigned = assignments(prev, prev_rfm, None)
    if clusters is not None:
        prev_assigned = prev_assigned.drop(columns=["cluster", "cluster_name"]).merge(
            clusters.predict(prev), on="account_id", how="left"
        )
    summaries: dict[str, pd.DataFrame] = {}
    movements: dict[str, Movement] = {}
    for by, res in (("rfm_segment", rfm), ("cluster_name", clusters)):
        if res is None or not res.ok:
            continue
        if by == "rfm_segment" and not prev_rfm.ok:
            prev_ok = prev_assigned.iloc[0:0]
        else:
            prev_ok = prev_assigned
        summaries[by] = segment_summary(feats, assigned, by, previous=prev_ok)
        order = list(res.rules["segment"]) if by == "rfm_segment" else None
        movements[by] = segment_movement(
            prev_ok, assigned, feats, by=by, order=order, previous_as_of=prev_as_of
        )
    message = None
    cur = _current(feats)
    if cur.empty:
        message = f"{product_area} has no current accounts at {as_of}: nothing to segment."
    elif not (cur["status"] == "active").any():
        message = (
            f"No account used {product_area} {_window_words(feats)}: there is nothing "
            "to segment. Check `product_area` and `as_of`."
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
    )
