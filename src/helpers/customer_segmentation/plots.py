"""Seaborn figures of the customer segmentation: profiles, sizes, projection, movement."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

__all__ = [
    "profile_heatmap",
    "projection_scatter",
    "silhouette_curve",
    "size_and_arr_bars",
    "transition_heatmap",
]


def profile_heatmap(profile: pd.DataFrame, features: list[str]):
    """Clusters × features, coloured by the mean standardised value, annotated with medians
    (the names compare the medians with the company's).

    Parameters
    ----------
    profile
        ``ClusterResult.profile``.
    features
        The clustering features (``ClusterResult.features``).
    """
    z = profile.set_index("cluster_name")[[f"z_{f}" for f in features]]
    z.columns = features
    med = profile.set_index("cluster_name")[features]
    annot = med.map(lambda v: "n/a" if pd.isna(v) else (f"{v:.2f}" if abs(v) < 10 else f"{v:.0f}"))
    fig, ax = plt.subplots(figsize=(1.6 * len(features) + 3, 0.6 * len(z) + 1.5))
    sns.heatmap(
        z,
        annot=annot,
        fmt="",
        cmap="vlag",
        center=0,
        ax=ax,
        cbar_kws={"label": "standardised mean (0 = all accounts)"},
    )
    ax.set(xlabel="", ylabel="", title="Cluster profiles (cells show the median)")
    ax.set_yticklabels(
        [f"{n} ({r})" for n, r in zip(profile["cluster_name"], profile["reading"], strict=True)]
        if "reading" in profile
        else list(z.index),
        rotation=0,
    )
    fig.tight_layout()
    return fig


def size_and_arr_bars(summary: pd.DataFrame, title: str = "Segments"):
    """Accounts and money (ARR or spend, whichever the summary holds) per segment, side by side.

    ``summary`` is :func:`segment_summary`'s output.
    """
    df = summary.reset_index()
    money = "arr" if "arr" in df else "spend"
    label = "ARR ($, company-wide)" if money == "arr" else "spend in the area ($)"
    fig, axes = plt.subplots(1, 2, figsize=(11, 0.45 * len(df) + 1.8), sharey=True)
    sns.barplot(df, x="accounts", y="segment", ax=axes[0], color="C0")
    sns.barplot(df, x=money, y="segment", ax=axes[1], color="C2")
    axes[0].set(xlabel="accounts", ylabel="")
    axes[1].set(xlabel=label, ylabel="")
    axes[1].xaxis.set_major_formatter(lambda x, _: f"{x / 1e6:.1f}M" if x >= 1e6 else f"{x:,.0f}")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def projection_scatter(projection: pd.DataFrame):
    """The active accounts on the first two principal components, coloured by cluster."""
    fig, ax = plt.subplots(figsize=(7.5, 5.5))
    sns.scatterplot(
        projection, x="pc1", y="pc2", hue="cluster_name", s=14, alpha=0.7, linewidth=0, ax=ax
    )
    ax.set(
        xlabel="first principal component",
        ylabel="second principal component",
        title="Accounts in two dimensions (PCA of the scaled features)",
    )
    ax.legend(title="", fontsize="small", loc="best")
    fig.tight_layout()
    return fig


def silhouette_curve(silhouette: pd.Series, chosen: int):
    """Silhouette score per k, the chosen k marked."""
    fig, ax = plt.subplots(figsize=(6, 3.2))
    sns.lineplot(x=silhouette.index, y=silhouette.to_numpy(), marker="o", ax=ax)
    ax.axvline(chosen, color="grey", linestyle="--")
    ax.set(xlabel="k (clusters)", ylabel="silhouette", title=f"k = {chosen}: best silhouette")
    fig.tight_layout()
    return fig


def transition_heatmap(matrix: pd.DataFrame, *, money: bool = False, title: str = ""):
    """A transition matrix (then × now) as an annotated heatmap (``money``: amounts in $).

    Long segment names (cluster names run to three words) get room: labels slanted,
    and the figure sized to the longest of them.
    """
    longest = max([len(str(c)) for c in [*matrix.columns, *matrix.index]] + [8])
    fig, ax = plt.subplots(
        figsize=(
            0.9 * len(matrix.columns) + 3 + 0.06 * longest,
            0.5 * len(matrix) + 1.8 + 0.07 * longest,
        )
    )
    annot = matrix.map(
        lambda v: (
            f"{v / 1e6:.1f}M"
            if money and v >= 1e5
            else (f"{v / 1e3:.0f}k" if money and v > 0 else f"{v:.0f}")
        )
    )
    sns.heatmap(
        matrix,
        annot=annot,
        fmt="",
        cmap="Blues",
        cbar=False,
        ax=ax,
        linewidths=0.5,
        linecolor="white",
    )
    ax.set(xlabel="segment now", ylabel="segment then", title=title)
    ax.tick_params(axis="x", labelrotation=35)
    for label in ax.get_xticklabels():
        label.set_horizontalalignment("right")
    fig.tight_layout()
    return fig
