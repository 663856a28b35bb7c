"""Paired statistics of feature demand: Wilson shares, McNemar, Holm and the bootstrap."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import pandas as pd
from statsmodels.stats.contingency_tables import mcnemar
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import proportion_confint

from ..errors import WorkbookError, check_choice

__all__ = ["EXACT_BELOW", "WEIGHTINGS", "Comparison", "compare", "mcnemar_pairs", "wilson_shares"]

#: How a feature's demand can be weighted.
WEIGHTINGS = ["accounts", "arr", "seats", "importance"]
#: McNemar's test is exact (binomial) when the discordant accounts number fewer than this.
EXACT_BELOW = 25


def wilson_shares(asked: pd.DataFrame, *, alpha: float = 0.05) -> pd.DataFrame:
    """Per feature: requesting accounts, their share of all rows, and a Wilson interval.

    Parameters
    ----------
    asked
        Boolean account × feature matrix (rows are the denominator).
    alpha
        1 minus the confidence level.

    Returns
    -------
    DataFrame
        ``feature, accounts, active_accounts, share, share_lo, share_hi``.
    """
    n = len(asked)
    count = asked.sum(axis=0).astype(int)
    if n:
        lo, hi = proportion_confint(count.to_numpy(), n, alpha=alpha, method="wilson")
    else:
        lo = hi = np.full(len(count), np.nan)
    return pd.DataFrame(
        {
            "feature": asked.columns.astype(str),
            "accounts": count.to_numpy(),
            "active_accounts": n,
            "share": count.to_numpy() / n if n else np.nan,
            "share_lo": lo,
            "share_hi": hi,
        }
    )


def mcnemar_pairs(asked: pd.DataFrame, *, alpha: float = 0.05) -> pd.DataFrame:
    """McNemar's test on accounts for every pair of features, Holm-corrected.

    The test is exact (binomial) when fewer than :data:`EXACT_BELOW` accounts asked for
    exactly one of the two features, and the chi-square with continuity correction
    otherwise.

    Returns
    -------
    DataFrame
        ``a, b, both, only_a, only_b, neither, exact, statistic, p, p_holm, significant,
        leader`` (``leader``: the feature more accounts asked for, None when equal).
    """
    x = asked.to_numpy(dtype=bool)
    names = [str(c) for c in asked.columns]
    rows = []
    for i, j in itertools.combinations(range(len(names)), 2):
        a, b = x[:, i], x[:, j]
        both, only_a = int((a & b).sum()), int((a & ~b).sum())
        only_b, neither = int((~a & b).sum()), int((~a & ~b).sum())
        exact = only_a + only_b < EXACT_BELOW
        if only_a + only_b == 0:
            stat, p = (0.0 if exact else np.nan), 1.0
        else:
            res = mcnemar([[both, only_a], [only_b, neither]], exact=exact, correction=True)
            stat, p = float(res.statistic), float(res.pvalue)
        leader = names[i] if only_a > only_b else names[j] if only_b > only_a else None
        rows.append(
            {
                "a": names[i],
                "b": names[j],
                "both": both,
                "only_a": only_a,
                "only_b": only_b,
                "neither": neither,
                "exact": exact,
                "statistic": stat,
                "p": p,
                "leader": leader,
            }
        )
    out = pd.DataFrame(
        rows,
        columns=[
            "a",
            "b",
            "both",
            "only_a",
            "only_b",
            "neither",
            "exact",
            "statistic",
            "p",
            "leader",
        ],
    )
    out["p_holm"] = _holm(out["p"].to_numpy(), alpha)
    out["significant"] = (out["p_holm"] < alpha) & out["leader"].notna()
    return out


def _holm(p: np.ndarray, alpha: float) -> np.ndarray:
    if len(p) <= 1:  # Holm over one test is the test itself (and multipletests runs gc.collect)
        return np.minimum(np.asarray(p, dtype=float), 1.0)
    return multipletests(p, alpha=alpha, method="holm")[1]


def _weights(
    accounts: pd.DataFrame | None, importance: pd.DataFrame | None, asked: pd.DataFrame
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per weighting: (numerator matrix n × k, denominator vector n)."""
    x = asked.to_numpy(dtype=float)
    n = len(x)
    out = {"accounts": (x, np.ones(n))}
    if accounts is not None:
        for col in ("arr", "seats"):
            w = accounts[col].to_numpy(dtype=float)
            out[col] = (x * w[:, None], w)
    if importance is not None:
        out["importance"] = (importance.to_numpy(dtype=float) * x, np.full(n, 3.0))
    return out


def _bootstrap(
    parts: dict[str, tuple[np.ndarray, np.ndarray]], runs: int, seed: int
) -> dict[str, np.ndarray]:
    """Resample accounts with replacement; per weighting a runs × k array of shares.

    Each resample is a multinomial count per account, so every weighting and every
    feature share the same resampled accounts (the pairing is kept). Chunks keep the
    count matrix small whatever the number of accounts.
    """
    keys = list(parts)
    nums = np.hstack([parts[k][0] for k in keys])
    dens = np.column_stack([parts[k][1] for k in keys])
    n = len(nums)
    k = parts[keys[0]][0].shape[1]
    rng = np.random.default_rng(seed)
    chunk = max(1, 4_000_000 // max(n, 1))
    out_num, out_den = [], []
    for lo in range(0, runs, chunk):
        counts = rng.multinomial(n, np.full(n, 1.0 / n), size=min(chunk, runs - lo))
        counts = counts.astype(float)
        out_num.append(counts @ nums)
        out_den.append(counts @ dens)
    num, den = np.vstack(out_num), np.vstack(out_den)
    with np.errstate(invalid="ignore", divide="ignore"):
        return {key: num[:, i * k : (i + 1) * k] / den[:, [i]] for i, key in enumerate(keys)}


@dataclass
class Comparison:
    """Shares, pairwise tests, ranking and verdict for one set of accounts.

    ``shares`` has one row per feature (counts, Wilson interval, weighted shares with
    bootstrap intervals); ``pairs`` one row per pair (McNemar, paired bootstrap
    differences, Holm-adjusted p-values for the chosen weighting); ``ranking`` ranks
    features by the chosen weighting, tied where no difference is significant.
    """

    features: list[str]
    weighting: str
    alpha: float
    shares: pd.DataFrame
    pairs: pd.DataFrame
    ranking: pd.DataFrame
    winner: str | None
    contenders: list[str]
    n_accounts: int

    def pair(self, a: str, b: str) -> pd.Series:
        """The row of ``pairs`` for features ``a`` and ``b`` (either order)."""
        m = ((self.pairs.a == a) & (self.pairs.b == b)) | (
            (self.pairs.a == b) & (self.pairs.b == a)
        )
        return self.pairs.loc[m].iloc[0]

    def beats(self, a: str, b: str) -> bool:
        """True when ``a`` is wanted significantly more than ``b`` (chosen weighting, Holm)."""
        row = self.pair(a, b)
        return bool(row.significant and row.winner == a)


def compare(
    asked: pd.DataFrame,
    *,
    accounts: pd.DataFrame | None = None,
    importance: pd.DataFrame | None = None,
    weighting: str = "accounts",
    alpha: float = 0.05,
    bootstrap_runs: int = 2000,
    seed: int = 42,
) -> Comparison:
    """Compare demand for two or more features over the same (paired) accounts.

    Parameters
    ----------
    asked
        Boolean account × feature matrix; each row is an active account.
    accounts
        ``arr`` and ``seats`` per row of ``asked`` (needed for those weightings).
    importance
        Highest importance (0–3) per row and feature (needed for ``importance``).
    weighting
        ``accounts`` (the verdict rests on McNemar's test), or ``arr``, ``seats``,
        ``importance`` (the verdict rests on the paired bootstrap of the weighted shares).
    alpha
        Family-wise error rate over all pairs (Holm).
    bootstrap_runs
        Resamples of accounts; 0 skips the bootstrap (then weighting must be accounts).
    seed
        Seed of the bootstrap.

    Returns
    -------
    Comparison
    """
    check_choice("weighting", weighting, WEIGHTINGS)
    if weighting != "accounts" and bootstrap_runs < 1:
        raise WorkbookError(f"weighting {weighting!r} needs `bootstrap_runs` of at least 1")
    features = [str(c) for c in asked.columns]
    shares = wilson_shares(asked, alpha=alpha)
    pairs = mcnemar_pairs(asked, alpha=alpha)
    n = len(asked)
    parts = _weights(accounts, importance, asked)
    if weighting not in parts:
        raise WorkbookError(f"weighting {weighting!r} needs the accounts' {weighting}")
    for key, (num, den) in parts.items():
        total = den.sum()
        shares[f"{key}_share"] = num.sum(axis=0) / total if total > 0 else np.nan
    if importance is not None:
        shares["importance_score"] = parts["importance"][0].sum(axis=0)
    idx = {f: i for i, f in enumerate(features)}
    q = [100 * alpha / 2, 100 * (1 - alpha / 2)]
    if bootstrap_runs > 0 and n > 0:
        boot = _bootstrap(parts, bootstrap_runs, seed)
        for key, draws in boot.items():
            lo, hi = np.nanpercentile(draws, q, axis=0)
            shares[f"{key}_lo"], shares[f"{key}_hi"] = lo, hi
            diffs = (
                np.column_stack(
                    [
                        draws[:, idx[a]] - draws[:, idx[b]]
                        for a, b in zip(pairs.a, pairs.b, strict=True)
                    ]
                )
                if len(pairs)
                else np.empty((len(draws), 0))
            )
            est = np.array(
                [
                    shares.loc[idx[a], f"{key}_share"] - shares.loc[idx[b], f"{key}_share"]
                    for a, b in zip(pairs.a, pairs.b, strict=True)
                ]
            )
            pairs[f"{key}_diff"] = est
            if len(pairs):
                dlo, dhi = np.nanpercentile(diffs, q, axis=0)
                p = 2 * np.minimum(np.mean(diffs <= 0, axis=0), np.mean(diffs >= 0, axis=0))
            else:
                dlo = dhi = p = np.empty(0)
            pairs[f"{key}_diff_lo"], pairs[f"{key}_diff_hi"] = dlo, dhi
            pairs[f"{key}_p_boot"] = np.minimum(p, 1.0)
    else:
        pairs["accounts_diff"] = [
            shares.loc[idx[a], "share"] - shares.loc[idx[b], "share"]
            for a, b in zip(pairs.a, pairs.b, strict=True)
        ]
    # the test the verdict rests on
    if weighting == "accounts":
        pairs["test"] = np.where(pairs["exact"], "McNemar exact", "McNemar")
        pairs["p_verdict"] = pairs["p_holm"]
        diff = pairs["accounts_diff"]
    else:
        pairs["test"] = "paired bootstrap"
        pairs["p_verdict"] = _holm(pairs[f"{weighting}_p_boot"].to_numpy(), alpha)
        diff = pairs[f"{weighting}_diff"]
    pairs["winner"] = np.where(diff > 0, pairs["a"], np.where(diff < 0, pairs["b"], None))
    pairs["significant"] = (pairs["p_verdict"] < alpha) & pairs["winner"].notna()

    est_col = "share" if weighting == "accounts" else f"{weighting}_share"
    estimate = dict(zip(shares.feature, shares[est_col], strict=True))
    beaten_by = {f: [] for f in features}
    for row in pairs.itertuples():
        if row.significant:
            loser = row.b if row.winner == row.a else row.a
            beaten_by[loser].append(row.winner)
    order = sorted(features, key=lambda f: (-np.nan_to_num(estimate[f], nan=-1), f))
    ranking = pd.DataFrame(
        {
            "feature": order,
            "estimate": [estimate[f] for f in order],
            "rank": [1 + len(beaten_by[f]) for f in order],
        }
    )
    ranking["rank"] = ranking["rank"].rank(method="min").astype(int)
    ranking["tied_with"] = [
        ", ".join(
            g for g in order if g != f and r == ranking.loc[ranking.feature == g, "rank"].iloc[0]
        )
        for f, r in zip(ranking.feature, ranking["rank"], strict=True)
    ]
    top = order[0]
    contenders = [top] + [
        f
        for f in order[1:]
        if not (lambda r: r.significant and r.winner == top)(_pair_row(pairs, top, f))
    ]
    winner = top if len(contenders) == 1 and n > 0 and estimate[top] > 0 else None
    return Comparison(features, weighting, alpha, shares, pairs, ranking, winner, contenders, n)


def _pair_row(pairs: pd.DataFrame, a: str, b: str):
    m = ((pairs.a == a) & (pairs.b == b)) | ((pairs.a == b) & (pairs.b == a))
    return pairs.loc[m].iloc[0]
