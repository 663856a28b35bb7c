"""The answer in plain words: 3–5 sentences built from a segmentation's results."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from ._common import _current, _money, _window_words

if TYPE_CHECKING:  # for the annotation only: analysis imports this module
    from .analysis import Segmentation

__all__ = [
    "answer_sentences",
]


def answer_sentences(seg: Segmentation) -> list[str]:
    """3–5 plain sentences built from the results: size, biggest segment, change, ARR at risk."""
    if not seg.ok:
        return [seg.message]
    cur = _current(seg.features)
    churned_since = seg.features[
        (seg.features["status"] == "churned")
        & (pd.to_datetime(seg.features["churned_at"]) > pd.Timestamp(seg.previous_as_of))
    ]
    inactive = int((cur["status"] == "inactive").sum())
    out = [
        f"{seg.product_area} has {len(cur)} current accounts ({_money(cur['arr'].sum())} ARR) "
        f"at {seg.as_of}; {inactive} of them had no activity in the area "
        f"{_window_words(seg.features)}."
    ]
    by = (
        "rfm_segment"
        if "rfm_segment" in seg.summaries
        else ("cluster_name" if "cluster_name" in seg.summaries else None)
    )
    if by is None:
        msgs = [r.message for r in (seg.rfm, seg.clusters) if r is not None and not r.ok]
        return out + msgs[:2]
    summ = seg.summaries[by]
    top = summ.index[0]
    out.append(
        f"The {top} segment holds the most ARR: {int(summ.loc[top, 'accounts'])} accounts, "
        f"{_money(summ.loc[top, 'arr'])} ({summ.loc[top, 'arr_share']:.0%} of ARR)."
    )
    mv = seg.movements.get(by)
    if mv is not None and mv.ok and not mv.accounts.empty:
        ch = mv.change()
        if ch["then"].sum() > 0 and (ch["change"] != 0).any():
            grow = ch["change"].idxmax()
            shrink = ch["change"].idxmin()
            parts = []
            if ch.loc[grow, "change"] > 0:
                parts.append(
                    f"{grow} grew most ({int(ch.loc[grow, 'then'])} → "
                    f"{int(ch.loc[grow, 'now'])} accounts)"
                )
            if ch.loc[shrink, "change"] < 0:
                parts.append(
                    f"{shrink} shrank most ({int(ch.loc[shrink, 'then'])} → "
                    f"{int(ch.loc[shrink, 'now'])})"
                )
            if parts:
                out.append(f"Since {seg.previous_as_of}, " + " and ".join(parts) + ".")
    if by == "rfm_segment":
        risky = seg.rfm.rules.loc[seg.rfm.rules["at_risk"], "segment"].tolist()
        at_risk = summ[summ.index.isin(risky)]
        if risky:
            out.append(
                f"ARR at risk: {_money(at_risk['arr'].sum())} in {int(at_risk['accounts'].sum())}"
                f" accounts ({', '.join(risky)}: valuable or average accounts that went quiet)."
            )
    if mv is not None and mv.ok and not mv.moves.empty:
        worse = mv.moves[mv.moves["worse"] & (mv.moves["to"] != "churned")]
        if not worse.empty:
            w = worse.iloc[0]
            out.append(
                f"Biggest slip: {int(w['accounts'])} accounts, {_money(w['arr'])} ARR, "
                f"moved from {w['from_']} to {w['to']}; {len(churned_since)} accounts "
                f"({_money(churned_since['arr'].sum())} ARR) churned since "
                f"{seg.previous_as_of}."
            )
    if seg.clusters is not None and seg.clusters.ok and len(out) < 5:
        c = seg.clusters
        out.append(
            f"Behaviour splits the active accounts into {c.k} groups; stability {c.stability_text}."
        )
    return out[:5]
