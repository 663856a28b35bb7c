"""What is new: themes whose share of comments rose in the recent period, and since when.

For each theme, its share of the themed comments in the last ``recent_days`` is compared
with its share in the rest of the window, **within each source** (NPS answers, feature
requests): NPS comments arrive in survey waves, so the recent period can hold more of
them than the rest of the window, and a theme NPS writers mention more would seem to
rise for that reason alone. The test is the one-sided Cochran–Mantel–Haenszel test over
the sources, with continuity correction (statsmodels ``StratifiedTable.test_null_odds``
gives the same statistic, two-sided; with one source it is the two-proportion z-test),
its p-values adjusted by
Holm over all themes (``multipletests(method="holm")``). The rise is the Mantel–Haenszel
difference of the shares within sources. A theme is **new** when its adjusted p-value is
below ``alpha`` *and* its share rose by at least ``min_rise`` (a rise too small to
matter is not news, however many comments prove it).

The date the rise shows is the maximum-likelihood start of a step up in the theme's
daily share: the split of the window into before and after (each a Bernoulli rate of
mentions) that makes the comments most likely, reported as the first day after the
split with a comment.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.stats.multitest import multipletests

__all__ = [
    "MIN_PERIOD_COMMENTS",
    "emerging_themes",
    "rise_date",
    "rising_words",
    "stratified_rise",
]

#: Each period needs at least this many themed comments for a test.
MIN_PERIOD_COMMENTS = 20
_COLS = [
    "theme",
    "name",
    "earlier_comments",
    "earlier_share",
    "recent_comments",
    "recent_share",
    "rise",
    "p",
    "p_holm",
    "new",
    "rise_date",
]


def _loglik(k: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Bernoulli log-likelihood of ``k`` hits in ``n`` at the fitted rate (0 log 0 = 0)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        p = np.where(n > 0, k / np.maximum(n, 1), 0.0)
        a = np.where(k > 0, k * np.log(np.where(p > 0, p, 1.0)), 0.0)
        b = np.where(n - k > 0, (n - k) * np.log(np.where(p < 1, 1 - p, 1.0)), 0.0)
    return a + b


def rise_date(days: pd.Series, hit: pd.Series | np.ndarray) -> dt.date | None:
    """The first day of the most likely step up in the daily share of ``hit``.

    Parameters
    ----------
    days
        The date of each comment.
    hit
        Whether each comment is about the theme.

    Returns
    -------
    datetime.date or None
        None when no split raises the share (or there are fewer than two days).
    """
    frame = pd.DataFrame({"day": pd.to_datetime(days).dt.normalize(), "hit": np.asarray(hit)})
    daily = frame.groupby("day")["hit"].agg(["sum", "count"]).sort_index()
    if len(daily) < 2:
        return None
    k, n = daily["sum"].to_numpy(float), daily["count"].to_numpy(float)
    ck, cn = np.cumsum(k), np.cumsum(n)
    before_k, before_n = ck[:-1], cn[:-1]  # split after day i
    after_k, after_n = ck[-1] - before_k, cn[-1] - before_n
    ll = _loglik(before_k, before_n) + _loglik(after_k, after_n)
    up = after_k / after_n > before_k / before_n
    if not up.any():
        return None
    ll = np.where(up, ll, -np.inf)
    return daily.index[int(np.argmax(ll)) + 1].date()


def stratified_rise(k1: np.ndarray, n1: np.ndarray, k0: np.ndarray, n0: np.ndarray):
    """One-sided Cochran–Mantel–Haenszel test that the recent share is larger, over strata.

    ``k1`` of ``n1`` recent comments and ``k0`` of ``n0`` earlier ones mention the theme,
    per stratum. Returns ``(rise, p)``: the Mantel–Haenszel difference of shares and the
    one-sided p-value (1 when no stratum has comments in both periods).
    """
    k1, n1, k0, n0 = (np.asarray(x, dtype=float) for x in (k1, n1, k0, n0))
    n = n1 + n0
    ok = (n1 > 0) & (n0 > 0)
    if not ok.any():
        return float("nan"), 1.0
    k1, n1, k0, n0, n = k1[ok], n1[ok], k0[ok], n0[ok], n[ok]
    m1 = k1 + k0
    expected = n1 * m1 / n
    var = np.where(n > 1, n1 * n0 * m1 * (n - m1) / (n**2 * np.maximum(n - 1, 1)), 0.0)
    w = n1 * n0 / n
    rise = float(np.sum(w * (k1 / n1 - k0 / n0)) / np.sum(w))
    if var.sum() <= 0:
        return rise, 1.0
    # continuity correction: the counts are whole numbers (as statsmodels' correction=True)
    z = (k1.sum() - expected.sum() - 0.5) / np.sqrt(var.sum())
    return rise, float(stats.norm.sf(z))


def rising_words(recent: list[str], earlier: list[str], top: int = 3) -> list[str]:
    """The words found in many more of the ``recent`` comments than of the ``earlier`` ones.

    Given a new theme's recent comments and all earlier comments, they say what is new,
    even when the theme model has put a small new topic together with an older one.
    """
    from sklearn.feature_extraction.text import CountVectorizer

    if not recent or not earlier:
        return []
    vec = CountVectorizer(
        stop_words="english", token_pattern=r"(?u)\b[^\W\d_]{2,}\b", binary=True, min_df=2
    )
    try:
        X = vec.fit_transform([*recent, *earlier])
    except ValueError:  # no word in two comments
        return []
    n = len(recent)
    rise = np.asarray(X[:n].mean(axis=0) - X[n:].mean(axis=0)).ravel()
    order = np.argsort(-rise, kind="stable")[:top]
    words = vec.get_feature_names_out()
    return [str(words[i]) for i in order if rise[i] > 0]


def emerging_themes(
    comments: pd.DataFrame,
    names: list[str],
    *,
    as_of: dt.date,
    recent_days: int = 45,
    alpha: float = 0.05,
    min_rise: float = 0.10,
) -> tuple[pd.DataFrame, str | None]:
    """Test every theme for a rise in the recent period.

    Parameters
    ----------
    comments
        One row per themed comment: ``at`` (timestamp), ``theme`` (0 … k-1) and, when
        there, ``source`` (the strata of the test).
    names
        Theme names, by theme number.
    as_of
        Last day of the window; the recent period is the ``recent_days`` up to it.
    recent_days
        Length of the recent period.
    alpha
        Family-wise error rate over the themes (Holm).
    min_rise
        Smallest rise in share (0–1) that counts as new.

    Returns
    -------
    (DataFrame, str or None)
        One row per theme (largest rise first), and a message when the periods hold
        too few comments to test.
    """
    start = pd.Timestamp(as_of) + pd.Timedelta(days=1) - pd.Timedelta(days=recent_days)
    at = pd.to_datetime(comments["at"])
    recent = (at >= start).to_numpy()
    n1, n0 = int(recent.sum()), int((~recent).sum())
    if n1 < MIN_PERIOD_COMMENTS or n0 < MIN_PERIOD_COMMENTS:
        return pd.DataFrame(columns=_COLS), (
            f"Too few themed comments to say what is new: {n1} in the last {recent_days} days "
            f"and {n0} before (at least {MIN_PERIOD_COMMENTS} each needed)."
        )
    theme = comments["theme"].to_numpy()
    source = (
        comments["source"].astype(str).to_numpy()
        if "source" in comments
        else np.zeros(len(comments), dtype=int)
    )
    strata = [source == s for s in np.unique(source)]
    n1s = np.array([(recent & s).sum() for s in strata])
    n0s = np.array([(~recent & s).sum() for s in strata])
    rows = []
    for t, name in enumerate(names):
        hit = theme == t
        k1s = np.array([(hit & recent & s).sum() for s in strata])
        k0s = np.array([(hit & ~recent & s).sum() for s in strata])
        rise, p = stratified_rise(k1s, n1s, k0s, n0s)
        k1, k0 = int(k1s.sum()), int(k0s.sum())
        rows.append(
            {
                "theme": t + 1,
                "name": name,
                "earlier_comments": k0,
                "earlier_share": k0 / n0,
                "recent_comments": k1,
                "recent_share": k1 / n1,
                "rise": rise,
                "p": p if np.isfinite(p) else 1.0,
            }
        )
    out = pd.DataFrame(rows)
    out["p_holm"] = multipletests(out["p"].to_numpy(), alpha=alpha, method="holm")[1]
    out["new"] = (out["p_holm"] < alpha) & (out["rise"] >= min_rise)
    out["rise_date"] = [
        rise_date(at, theme == r.theme - 1) if r.new else None for r in out.itertuples()
    ]
    out = out.sort_values(["new", "rise"], ascending=[False, False], ignore_index=True)
    return out[_COLS], None
