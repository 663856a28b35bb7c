"""Figures of the metric trends notebook: the series with its shifts and forecast, segments."""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["backtest_figure", "decomposition_figure", "segments_figure", "series_figure"]


def series_figure(values: pd.Series, analysis, *, title: str, unit: str = ""):
    """Complete periods, level shifts (dashed), unusual periods (red), holidays (grey) and
    the forecast bands around the median forecast.

    The incomplete current period is never drawn, so it cannot look like a drop.
    """
    import matplotlib.pyplot as plt
    import seaborn as sns

    fig, ax = plt.subplots(figsize=(10, 4.2))
    y = pd.Series(values, dtype=float)
    sns.lineplot(x=y.index, y=y.to_numpy(), ax=ax, marker="o", markersize=3, label="actual")
    fc = getattr(analysis, "forecast", None)
    if fc is not None and not fc.frame.empty:
        f = fc.frame
        ax.fill_between(f.period, f.lo95, f.hi95, alpha=0.15, color="C1", label="95% interval")
        ax.fill_between(f.period, f.lo80, f.hi80, alpha=0.3, color="C1", label="80% interval")
        ax.plot(f.period, f["median"], color="C1", label="forecast (median)")
    cps = getattr(analysis, "changepoints", pd.DataFrame())
    for i, row in enumerate(cps.itertuples()):
        ax.axvline(row.date, color="C2", ls="--", lw=1.2, label="level shift" if i == 0 else None)
        ax.annotate(
            f"{row.shift_pct:+.0f}%",
            (row.date, ax.get_ylim()[1]),
            xytext=(3, -12),
            textcoords="offset points",
            color="C2",
            fontsize=9,
        )
    hol = getattr(analysis, "holidays", pd.DataFrame())
    if len(hol):
        ax.scatter(hol.period, hol.value, color="0.6", zorder=4, s=22, label="holiday")
    an = getattr(analysis, "anomalies", pd.DataFrame())
    if len(an):
        ax.scatter(an.period, an.value, color="C3", zorder=5, s=30, label="unusual")
    ax.set(title=title, xlabel="", ylabel=unit)
    ax.legend(loc="upper left", fontsize=8, ncol=3)
    fig.tight_layout()
    return fig


def decomposition_figure(dec):
    """STL trend, seasonal and residual panels (only when STL ran)."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(3, 1, figsize=(10, 5.5), sharex=True)
    f = dec.frame
    for ax, col in zip(axes, ["trend", "seasonal", "resid"], strict=True):
        ax.plot(f.period, f[col], lw=1)
        ax.set_ylabel(col)
    axes[0].set_title(f"STL decomposition (period {dec.period} {dec.grain}s)")
    fig.tight_layout()
    return fig


def segments_figure(series, table: pd.DataFrame, *, unit: str = ""):
    """Small multiples: one panel per segment, each titled with its Sen slope and its
    p-value adjusted across segments (Holm)."""
    import seaborn as sns

    from ._common import fmt_p

    df = series.complete()[["period", "segment", "value"]]
    order = list(table.segment)
    g = sns.relplot(
        data=df,
        x="period",
        y="value",
        col="segment",
        col_order=order,
        col_wrap=min(3, max(len(order), 1)),
        kind="line",
        height=2.8,
        aspect=1.5,
        facet_kws={"sharey": False},
    )
    facts = table.set_index("segment")
    for seg, ax in g.axes_dict.items():
        r = facts.loc[seg]
        slope = "n/a" if not np.isfinite(r.sen_slope) else f"{r.sen_slope:+.3g}"
        ax.set_title(f"{seg}: slope {slope}/{series.grain}, {fmt_p(r.p_holm)} (Holm)", fontsize=10)
        ax.set_xlabel("")
        ax.set_ylabel(unit)
        ax.tick_params(axis="x", labelrotation=30)
    g.figure.suptitle(f"{series.title.split(' (')[0]} by {series.by}", y=1.02)
    return g.figure


def backtest_figure(bt):
    """Backtest: each held-out period's actual value against its forecast and 95% band."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(10, 3.5))
    t = bt.table
    for _, grp in t.groupby("origin"):
        ax.fill_between(grp.period, grp.lo95, grp.hi95, color="C1", alpha=0.2)
        ax.plot(grp.period, grp["median"], color="C1", lw=1)
    inside = (t.actual >= t.lo95) & (t.actual <= t.hi95)
    ax.scatter(t.period[inside], t.actual[inside], s=12, color="C0", label="inside 95% band")
    ax.scatter(t.period[~inside], t.actual[~inside], s=16, color="C3", label="outside")
    ax.set(
        title=f"Backtest from {bt.origins} origins: the 95% band held {bt.held95} of {bt.n} "
        f"held-out {bt.grain}s ({100 * bt.coverage95:.0f}%)",
        xlabel="",
    )
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
