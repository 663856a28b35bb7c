"""Seaborn figures of the customer-feedback notebook; each returns the figure, never saves it."""

from __future__ import annotations

import textwrap

import numpy as np
import pandas as pd

from .report import FeedbackReport

__all__ = ["category_figure", "emerging_figure", "nps_figure", "themes_figure"]


def nps_figure(report: FeedbackReport):
    """NPS by segment (with intervals) beside NPS by month (only months with enough answers
    get an interval; sparse months are hollow and not read)."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    colour = sns.color_palette()[0]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.8), width_ratios=[1, 1.4])
    seg = report.nps_by_segment[report.nps_by_segment.n > 0].sort_values("nps")
    minimum = report.settings.get("min_responses", 30)
    y = np.arange(len(seg))
    full = seg.n >= minimum
    left.errorbar(
        seg.nps[full],
        y[full],
        xerr=[seg.nps[full] - seg.lo[full], seg.hi[full] - seg.nps[full]],
        fmt="o",
        color=colour,
        capsize=4,
    )
    left.scatter(seg.nps[~full], y[~full], facecolors="none", edgecolors=colour)
    overall = report.nps.set_index("measure").loc["answers", "nps"]
    if pd.notna(overall):
        left.axvline(overall, color="grey", ls="--", lw=1, label=f"all answers {overall:.0f}")
        left.legend(loc="lower right", fontsize=8)
    left.set_yticks(y, [f"{s} (n={n:,})" for s, n in zip(seg.segment, seg.n, strict=True)])
    left.set(xlim=(-100, 100), xlabel="NPS", title=f"NPS by {report.data.segment_by} ({report.ci})")
    m = report.nps_monthly
    ok = m[m.enough]
    right.errorbar(
        ok.month, ok.nps, yerr=[ok.nps - ok.lo, ok.hi - ok.nps], fmt="o-", color=colour, capsize=4
    )
    sparse = m[(m.n > 0) & ~m.enough]
    right.scatter(sparse.month, sparse.nps, facecolors="none", edgecolors=colour, label="too few")
    for r in m[m.n > 0].itertuples():
        right.annotate(
            f"n={r.n:,}",
            (r.month, r.nps),
            xytext=(0, 8),
            textcoords="offset points",
            ha="center",
            fontsize=8,
        )
    right.set(ylim=(-100, 100), ylabel="NPS", title="NPS by month (answers per month shown)")
    if len(sparse):
        right.legend(loc="lower right", fontsize=8)
    fig.autofmt_xdate()
    fig.tight_layout()
    return fig


def themes_figure(report: FeedbackReport):
    """Each theme's share of the themed comments (Wilson interval), named by its top terms."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    t = report.tables()["themes"]
    fig, ax = plt.subplots(figsize=(9, 0.5 * len(t) + 1.4))
    y = np.arange(len(t))
    ax.barh(
        y,
        t.share * 100,
        xerr=[(t.share - t.lo) * 100, (t.hi - t.share) * 100],
        color=sns.color_palette()[0],
        alpha=0.85,
        capsize=3,
    )
    ax.set_yticks(y, [textwrap.shorten(n, 40) for n in t.name])
    ax.invert_yaxis()
    ax.set(xlabel="% of themed comments", title=f"Themes of {int(t.comments.sum()):,} comments")
    fig.tight_layout()
    return fig


def category_figure(report: FeedbackReport):
    """Theme × NPS category: each theme's share of the category's comments, in percent."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    s = report.by_category
    grid = s.pivot(index="name", columns="category", values="share") * 100
    order = report.themes.names
    grid = grid.reindex(index=order)
    grid = grid[[c for c in ("detractor", "passive", "promoter") if c in grid.columns]]
    n = s.groupby("category")["group_comments"].first()
    grid.columns = [f"{c}s (n={n[c]:,})" for c in grid.columns]
    fig, ax = plt.subplots(figsize=(2.2 * grid.shape[1] + 3.5, 0.5 * grid.shape[0] + 1.5))
    sns.heatmap(grid, annot=True, fmt=".0f", cmap="Blues", cbar=False, ax=ax)
    ax.set(xlabel="", ylabel="", title="% of each group's comments, by theme")
    fig.tight_layout()
    return fig


def emerging_figure(report: FeedbackReport):
    """Weekly share of the new themes (or the three that rose most), recent period shaded."""
    import matplotlib.pyplot as plt

    e = report.emerging
    shown = e[e["new"]] if e["new"].any() else e.head(3)
    themed = report.themed.assign(week=pd.to_datetime(report.themed["at"]).dt.to_period("W"))
    total = themed.groupby("week").size()
    fig, ax = plt.subplots(figsize=(10, 3.8))
    for r in shown.itertuples():
        hits = themed[themed.theme == r.theme - 1].groupby("week").size()
        share = (hits.reindex(total.index, fill_value=0) / total) * 100
        ax.plot(share.index.start_time, share.to_numpy(), marker="o", ms=3, label=r.name)
        if r.rise_date:
            ax.axvline(pd.Timestamp(r.rise_date), ls="--", lw=1, color="grey")
    days = report.settings.get("recent_days", 45)
    end = pd.Timestamp(report.data.end) + pd.Timedelta(days=1)
    ax.axvspan(
        end - pd.Timedelta(days=days), end, color="C1", alpha=0.12, label=f"last {days} days"
    )
    ax.set(ylabel="% of the week's themed comments", title="Theme shares by week")
    ax.legend(loc="upper left", fontsize=8)
    fig.autofmt_xdate()
    fig.tight_layout()
    return fig
