"""Seaborn figures of the feature-demand comparison; each returns the figure, never saves it."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

from .result import DemandResult

__all__ = ["adoption_curve_figure", "requests_over_time", "segment_heatmap", "shares_figure"]


def shares_figure(result: DemandResult):
    """Share of the team's accounts (Wilson interval) and of its ARR (bootstrap) per feature.

    The intervals' level follows ``alpha`` (1 − alpha, before correction).
    """
    t = result.table()
    level = f"{100 * (1 - result.overall.alpha):.3g}%"
    fig, axes = plt.subplots(1, 2, figsize=(11, 0.6 * len(t) + 1.8), sharey=True)
    panels = [
        ("share", "share_lo", "share_hi", f"Share of the team's accounts (Wilson {level} CI)"),
        ("arr_share", "arr_lo", "arr_hi", f"Share of the team's ARR (bootstrap {level} CI)"),
    ]
    y = range(len(t))
    for ax, (col, lo, hi, title) in zip(axes, panels, strict=True):
        if col not in t:
            ax.set_axis_off()
            continue
        err = None
        if lo in t and hi in t:
            err = [(t[col] - t[lo]).clip(lower=0) * 100, (t[hi] - t[col]).clip(lower=0) * 100]
        ax.barh(list(y), t[col] * 100, xerr=err, color=sns.color_palette()[0], alpha=0.8, capsize=4)
        ax.set_title(title, fontsize=11)
        ax.set_xlabel("%")
    axes[0].set_yticks(
        list(y), [f"{n}  (rank {r})" for n, r in zip(t.name, t["rank"], strict=True)]
    )
    axes[0].invert_yaxis()
    fig.tight_layout()
    return fig


def segment_heatmap(result: DemandResult):
    """Segment × feature share of active accounts, annotated in percent."""
    s = result.segments
    names = result.data.names
    grid = s.assign(name=s.feature.map(names)).pivot(
        index="segment", columns="name", values="share"
    )
    n = s.groupby("segment")["active_accounts"].first()
    grid.index = [f"{i} (n={n[i]:,})" for i in grid.index]
    fig, ax = plt.subplots(figsize=(1.6 * grid.shape[1] + 2.5, 0.55 * grid.shape[0] + 1.5))
    sns.heatmap(grid * 100, annot=True, fmt=".1f", cmap="Blues", cbar_kws={"label": "%"}, ax=ax)
    ax.set_title(f"Share of the team's accounts asking, by {result.data.segment_by} (%)")
    ax.set_xlabel("")
    ax.set_ylabel("")
    fig.tight_layout()
    return fig


def requests_over_time(result: DemandResult):
    """Requests per period and feature over the window: whole periods only.

    A period the window cuts (the current month, the first one) would read as a drop
    or a jump; it is left out and the title says so.
    """
    t = result.data.over_time.assign(name=lambda f: f.feature.map(result.data.names))
    cut = 0
    if "complete" in t:
        cut = t.loc[~t["complete"], "period"].nunique()
        t = t[t["complete"]]
    fig, ax = plt.subplots(figsize=(10, 3.8))
    if t.empty:
        ax.text(0.5, 0.5, "No requests in a whole period of the window", ha="center", va="center")
        ax.set_axis_off()
        return fig
    t["period"] = pd.to_datetime(t["period"])
    sns.lineplot(t, x="period", y="requests", hue="name", marker="o", ax=ax)
    ax.set_title(
        "Requests over time" + (f" (whole periods only: {cut} partial left out)" if cut else "")
    )
    ax.set_xlabel("")
    ax.legend(title="")
    fig.tight_layout()
    return fig


def adoption_curve_figure(curve: pd.DataFrame):
    """Cumulative share of active accounts using each feature, by week since release."""
    fig, ax = plt.subplots(figsize=(10, 3.8))
    if curve.empty:
        ax.text(0.5, 0.5, "No released feature to show", ha="center", va="center")
        ax.set_axis_off()
        return fig
    sns.lineplot(
        curve.assign(pct=curve.adoption * 100), x="weeks_since_release", y="pct", hue="name", ax=ax
    )
    ax.set_title("Adoption since release (share of the accounts active since, that used it)")
    ax.set_xlabel("weeks since release")
    ax.set_ylabel("%")
    ax.legend(title="")
    fig.tight_layout()
    return fig
