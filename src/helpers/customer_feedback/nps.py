"""Net Promoter Score with its uncertainty: overall, by segment, ARR-weighted and by month.

NPS = % promoters (9–10) − % detractors (0–6) of one sample of answers, a difference of
two proportions of the *same* multinomial sample. Its interval is the **adjusted Wald**
interval of Rocks (2016, *The American Statistician* 70(4), "Interval estimation for the
'Net Promoter Score'"; also MeasuringU, "Evaluating NPS confidence intervals"): add ¾ of
an answer to the promoters and to the detractors (3 answers in all), then

    p± = (count± + ¾) / (n + 3),  se = sqrt((p+ + p− − (p+ − p−)²) / (n + 3)),

and the interval is ``(p+ − p−) ± z·se``, in points (×100), kept within −100…100.
The adjustment keeps the interval honest when there are few answers or none of a
kind (the plain Wald interval then has zero width). The point NPS shown is the plain
one. Answers are treated as independent; an account answering several times counts
several times, as in every NPS tool.

The ARR-weighted NPS gives each answer its account's ARR divided by the account's
answers in the window (each account's ARR counts once); its interval is a percentile
bootstrap over accounts.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

__all__ = [
    "CATEGORIES",
    "category",
    "compare_segments",
    "nps_change",
    "nps_interval",
    "nps_monthly",
    "nps_table",
    "nps_weighted",
]

#: NPS categories, in score order.
CATEGORIES = ("detractor", "passive", "promoter")
_COLS = ["n", "promoters", "passives", "detractors", "nps", "lo", "hi"]


def category(scores: pd.Series | np.ndarray) -> np.ndarray:
    """``detractor`` (0–6), ``passive`` (7–8) or ``promoter`` (9–10) per score."""
    s = np.asarray(scores)
    return np.where(s >= 9, "promoter", np.where(s >= 7, "passive", "detractor"))


def _z(alpha: float) -> float:
    return float(stats.norm.ppf(1 - alpha / 2))


def _adjusted(promoters: int, detractors: int, n: int) -> tuple[float, float]:
    """Centre and standard error (points) of the adjusted-Wald NPS."""
    pp, pd_ = (promoters + 0.75) / (n + 3), (detractors + 0.75) / (n + 3)
    return 100.0 * (pp - pd_), 100.0 * float(np.sqrt((pp + pd_ - (pp - pd_) ** 2) / (n + 3)))


def nps_interval(promoters: int, passives: int, detractors: int, *, alpha: float = 0.05) -> dict:
    """NPS and its adjusted-Wald interval (points) from the three counts of one sample."""
    n = promoters + passives + detractors
    if n == 0:
        return dict(zip(_COLS, [0, 0, 0, 0, np.nan, np.nan, np.nan], strict=True))
    nps = 100.0 * (promoters - detractors) / n
    centre, se = _adjusted(promoters, detractors, n)
    z = _z(alpha)
    lo, hi = centre - z * se, centre + z * se
    return {
        "n": n,
        "promoters": promoters,
        "passives": passives,
        "detractors": detractors,
        "nps": nps,
        "lo": max(lo, -100.0),
        "hi": min(hi, 100.0),
    }


def _counts(scores: pd.Series) -> tuple[int, int, int]:
    s = np.asarray(scores)
    return int((s >= 9).sum()), int(((s >= 7) & (s <= 8)).sum()), int((s <= 6).sum())


def nps_table(answers: pd.DataFrame, by: str | None = None, *, alpha: float = 0.05) -> pd.DataFrame:
    """NPS with its interval, overall (``by=None``) or per value of column ``by``.

    ``answers`` needs a ``score`` column (0–10) and, for a breakdown, the column ``by``.
    """
    if by is None:
        return pd.DataFrame([nps_interval(*_counts(answers["score"]), alpha=alpha)])
    rows = []
    for value, g in answers.groupby(by, sort=True, observed=True):
        rows.append({by: value, **nps_interval(*_counts(g["score"]), alpha=alpha)})
    return pd.DataFrame(rows, columns=[by, *_COLS])


def compare_segments(table: pd.DataFrame, by: str) -> float:
    """p-value of a chi-square test that the segments of ``table`` share one mix of
    promoters, passives and detractors (NaN with fewer than two segments with answers)."""
    counts = table.loc[table.n > 0, ["promoters", "passives", "detractors"]].to_numpy()
    counts = counts[:, counts.sum(axis=0) > 0]
    if counts.shape[0] < 2 or counts.shape[1] < 2:
        return float("nan")
    return float(stats.chi2_contingency(counts).pvalue)


def nps_weighted(
    answers: pd.DataFrame,
    *,
    alpha: float = 0.05,
    bootstrap_runs: int = 1000,
    seed: int = 42,
) -> dict:
    """ARR-weighted NPS with a percentile bootstrap interval over accounts.

    ``answers`` needs ``account_id``, ``score`` and ``arr`` (the account's ARR). Each
    answer weighs ``arr / answers of its account``. Returns ``nps``, ``lo``, ``hi``,
    ``accounts`` and ``effective_accounts`` (Kish: (Σw)² / Σw² over accounts), which
    says on how many accounts' worth of ARR the figure really rests.
    """
    # x: +1 promoter, −1 detractor, 0 passive
    g = answers.assign(
        x=np.where(answers["score"] >= 9, 1.0, np.where(answers["score"] <= 6, -1.0, 0.0))
    )
    per = g.groupby("account_id").agg(mean_x=("x", "mean"), arr=("arr", "first"))
    w = per["arr"].fillna(0).clip(lower=0).to_numpy(dtype=float)
    a = w * per["mean_x"].to_numpy()
    n = len(per)
    out = {"nps": np.nan, "lo": np.nan, "hi": np.nan, "accounts": n, "effective_accounts": 0.0}
    if n == 0 or w.sum() <= 0:
        return out
    out["nps"] = 100.0 * a.sum() / w.sum()
    out["effective_accounts"] = float(w.sum() ** 2 / (w**2).sum())
    rng = np.random.default_rng(seed)
    draws = np.empty(bootstrap_runs)
    step = max(1, 2_000_000 // max(n, 1))
    for lo in range(0, bootstrap_runs, step):
        hi = min(bootstrap_runs, lo + step)
        idx = rng.integers(0, n, size=(hi - lo, n))
        den = w[idx].sum(axis=1)
        draws[lo:hi] = np.divide(a[idx].sum(axis=1), den, out=np.zeros(hi - lo), where=den > 0)
    out["lo"], out["hi"] = (100.0 * np.quantile(draws, [alpha / 2, 1 - alpha / 2])).tolist()
    return out


def nps_monthly(
    answers: pd.DataFrame,
    *,
    start,
    end,
    min_responses: int = 30,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """NPS per calendar month from ``start`` to ``end``, every month listed.

    Months without answers have ``n = 0``; ``enough`` marks months with at least
    ``min_responses`` answers, the only ones read (plotted with their interval, used
    in a change). ``partial`` marks a month the window cuts.
    """
    months = pd.period_range(pd.Timestamp(start), pd.Timestamp(end), freq="M")
    when = pd.to_datetime(answers["submitted_at"]).dt.to_period("M")
    rows = []
    for m in months:
        s = answers.loc[when == m, "score"]
        row = nps_interval(*_counts(s), alpha=alpha)
        first, last = m.start_time.date(), m.end_time.date()
        rows.append(
            {
                "month": m.start_time,
                **row,
                "enough": row["n"] >= min_responses,
                "partial": first < pd.Timestamp(start).date() or last > pd.Timestamp(end).date(),
            }
        )
    return pd.DataFrame(rows, columns=["month", *_COLS, "enough", "partial"])


def nps_change(a: pd.Series, b: pd.Series, *, alpha: float = 0.05) -> dict:
    """NPS of answers ``b`` minus NPS of answers ``a`` (independent samples), in points.

    The interval adds the two adjusted-Wald variances (each sample's NPS is a
    difference of two proportions of its own multinomial sample).
    """
    (pa, _, da), (pb, _, db) = _counts(a), _counts(b)
    na, nb = len(a), len(b)
    if not na or not nb:
        return {"change": np.nan, "lo": np.nan, "hi": np.nan}
    change = 100.0 * ((pb - db) / nb - (pa - da) / na)
    se = float(np.hypot(_adjusted(pa, da, na)[1], _adjusted(pb, db, nb)[1]))
    z = _z(alpha)
    return {"change": change, "lo": change - z * se, "hi": change + z * se}
