"""The answer in plain words: the base, then a few sentences built from a segmentation's results."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..data.accounts import base_sentence
from ._common import _money
from .movement import CHURNED, INACTIVE

if TYPE_CHECKING:  # for the annotation only: analysis imports this module
    from .analysis import Segmentation

__all__ = [
    "answer_sentences",
]


def answer_sentences(seg: Segmentation) -> list[str]:
    """Plain sentences: the team's accounts, the biggest segment, change, money at risk,
    the biggest slip and churn, and which clusters are too unstable to act on.

    Money words follow ``monetary``: ARR (labelled company-wide: an account's ARR covers
    every product) or spend (the events' value in the area).
    """
    if not seg.ok:
        return [seg.message]
    col, word, scope = seg.money
    base = seg.base()
    out = [
        base_sentence(
            product_area=seg.product_area,
            as_of=seg.as_of,
            window_days=seg.lookback_days,
            current=base["current_accounts"],
            churned=base["churned_accounts"],
        )
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
    total = summ[col].sum()
    scope_words = (
        f"{scope} {word}, as an account's ARR covers every product"
        if col == "arr"
        else f"{word} in {seg.product_area} in the window"
    )
    out.append(
        f"The {top} segment holds the most {word}: {int(summ.loc[top, 'accounts']):,} of "
        f"{int(summ['accounts'].sum()):,} current accounts, {_money(summ.loc[top, col])} of "
        f"{_money(total)} ({summ.loc[top, f'{col}_share']:.0%}; {scope_words})."
    )
    mv = seg.movements.get(by)
    weeks = (seg.as_of - seg.previous_as_of).days // 7
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
                out.append(
                    f"Since {seg.previous_as_of} ({weeks} weeks earlier, scored with the same "
                    "cut-offs), " + " and ".join(parts) + "."
                )
    if by == "rfm_segment":
        risky = seg.rfm.rules.loc[seg.rfm.rules["at_risk"], "segment"].tolist()
        at_risk = summ[summ.index.isin(risky)]
        if risky:
            out.append(
                f"{word[0].upper()}{word[1:]} at risk: {_money(at_risk[col].sum())} in "
                f"{int(at_risk['accounts'].sum())} accounts ({', '.join(risky)}: valuable or "
                "average accounts that went quiet)."
            )
    if mv is not None and mv.ok:
        leave = (CHURNED, INACTIVE)
        worse = mv.moves[mv.moves["worse"] & ~mv.moves["to"].isin(leave)]
        gone = mv.moves[mv.moves["to"].isin(leave)].groupby("to")[["accounts", col]].sum()
        churn_txt = ""
        if CHURNED in gone.index:
            n, m = int(gone.loc[CHURNED, "accounts"]), gone.loc[CHURNED, col]
            churn_txt = (
                f"{n} of the team's accounts ({_money(m)} {word}) churned, i.e. left the "
                f"company, since {seg.previous_as_of}"
            )
        if INACTIVE in gone.index:
            n = int(gone.loc[INACTIVE, "accounts"])
            churn_txt += ("; " if churn_txt else "") + (
                f"{n} stopped using {seg.product_area} (no activity in the window)"
            )
        healthy = seg.healthy() if by == "rfm_segment" else []
        slips = mv.moves[mv.moves["from_"].isin(healthy) & ~mv.moves["to"].isin(healthy)]
        if not slips.empty:
            # the alarm first: accounts that left a healthy segment (not Champions → Loyal)
            n, m = int(slips["accounts"].sum()), slips[col].sum()
            w = slips.iloc[0]
            out.append(
                f"Who slipped: {n} accounts ({_money(m)} {word}) left a healthy segment since "
                f"{seg.previous_as_of}, most {word} from {w['from_']} to {w['to']} "
                f"({int(w['accounts'])} accounts, {_money(w[col])})"
                + (f"; {churn_txt}" if churn_txt else "")
                + f". Next step: call these {n} accounts, largest {word} first "
                '(the list "Who slipped" below, downloadable).'
            )
        elif not worse.empty:
            w = worse.iloc[0]
            out.append(
                f"Biggest slip: {int(w['accounts'])} accounts, {_money(w[col])} {word}, "
                f"moved from {w['from_']} to {w['to']}" + (f"; {churn_txt}." if churn_txt else ".")
            )
        elif churn_txt:
            out.append(churn_txt[0].upper() + churn_txt[1:] + ".")
    if seg.clusters is not None and seg.clusters.ok:
        c = seg.clusters
        p = c.profile.sort_values("accounts", ascending=False, kind="stable")
        parts = ", ".join(f"{r.cluster_name} ({r.accounts}, {r.reading})" for r in p.itertuples())
        text = f"Behaviour splits the active accounts into {c.k} groups: {parts}."
        bad = c.unstable()
        if bad:
            text += (
                f" Do not act on {', '.join(bad)}: "
                + ("it does" if len(bad) == 1 else "they do")
                + " not hold up when the accounts are resampled."
            )
        out.append(text)
    return out[:6]
