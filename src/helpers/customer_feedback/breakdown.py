"""Who says what: each theme's share of a group's comments, and the features requests name.

Shares are of a group's themed comments, with Wilson intervals (statsmodels
``proportion_confint(method="wilson")``). High-ARR accounts are the top quarter of the
area's accounts by ARR.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from statsmodels.stats.proportion import proportion_confint

__all__ = ["HIGH_ARR_QUANTILE", "arr_groups", "theme_features", "theme_shares", "top_theme"]

#: Accounts at or above this quantile of the area's ARR are "high-ARR".
HIGH_ARR_QUANTILE = 0.75


def theme_shares(
    comments: pd.DataFrame, by: str, names: list[str], *, alpha: float = 0.05
) -> pd.DataFrame:
    """Per value of ``by`` and theme: comments, share of the group's themed comments, interval.

    ``comments`` holds one row per themed comment with ``theme`` (0 … k-1) and ``by``;
    rows whose ``by`` is missing are left out.
    """
    cols = [by, "theme", "name", "comments", "group_comments", "share", "lo", "hi"]
    rows = []
    for value, g in comments.dropna(subset=[by]).groupby(by, sort=True, observed=True):
        total = len(g)
        counts = np.bincount(g["theme"].to_numpy(int), minlength=len(names))
        lo, hi = proportion_confint(counts, total, alpha=alpha, method="wilson")
        for t, name in enumerate(names):
            rows.append(
                {
                    by: value,
                    "theme": t + 1,
                    "name": name,
                    "comments": int(counts[t]),
                    "group_comments": total,
                    "share": counts[t] / total,
                    "lo": float(lo[t]),
                    "hi": float(hi[t]),
                }
            )
    return pd.DataFrame(rows, columns=cols)


def top_theme(shares: pd.DataFrame, by: str, value: str) -> pd.Series | None:
    """The row of ``shares`` with the largest share for ``by == value`` (None if absent)."""
    rows = shares[shares[by] == value]
    if rows.empty or rows["comments"].sum() == 0:
        return None
    return rows.sort_values(["share", "theme"], ascending=[False, True]).iloc[0]


def arr_groups(accounts: pd.DataFrame) -> tuple[pd.Series, float]:
    """``top 25% by ARR`` or ``other accounts`` per account id, and the ARR cut-off."""
    arr = accounts["arr"].astype(float)
    cut = float(arr.quantile(HIGH_ARR_QUANTILE)) if len(arr) else float("nan")
    label = np.where(arr >= cut, "top 25% by ARR", "other accounts")
    return pd.Series(label, index=accounts["account_id"].to_numpy()), cut


def theme_features(
    comments: pd.DataFrame,
    names: list[str],
    feature_names: dict[str, str],
    *,
    top: int = 3,
) -> pd.DataFrame:
    """Per theme: the catalogue features its request comments point to most (up to ``top``).

    ``share`` is the feature's part of the theme's request comments.
    """
    cols = ["theme", "name", "feature", "feature_name", "requests", "share"]
    req = comments[(comments["source"] == "request") & comments["feature"].notna()]
    rows = []
    for t, name in enumerate(names):
        g = req[req["theme"] == t]
        if g.empty:
            continue
        counts = g["feature"].value_counts()
        counts = counts.sort_index().sort_values(ascending=False, kind="stable").head(top)
        for feature, n in counts.items():
            rows.append(
                {
                    "theme": t + 1,
                    "name": name,
                    "feature": feature,
                    "feature_name": feature_names.get(feature, feature),
                    "requests": int(n),
                    "share": n / len(g),
                }
            )
    return pd.DataFrame(rows, columns=cols)
