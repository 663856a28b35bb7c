"""Paired statistics of feature demand: Wilson shares, McNemar with Tango's interval, Holm, the bootstrap."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import norm
from statsmodels.stats.proportion import proportion_confint

from ..errors import WorkbookError, check_choice

__all__ = [
    "WEIGHTINGS",
    "Comparison",
    "boot_interval",
    "boot_p",
    "compare",
    "concentration",
    "holm_stepdown",
    "mcnemar_pairs",
    "paired_tests",
    "tango_interval",
    "tango_z",
    "wilson_shares",
]

#: How a feature's demand can be weighted.
WEIGHTINGS = ["accounts", "arr", "seats", "importance"]


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


def tango_z(b, c, n, delta):
    """Tango's score statistic for ``H0: p_a - p_b = delta`` on paired yes/no data (vectorised).

    ``b`` accounts asked for a only, ``c`` for b only, of ``n``. At ``delta = 0`` it is
    McNemar's statistic without continuity correction, ``(b - c) / sqrt(b + c)``
    (0 when no account asked for exactly one of the two). Tango (1998), Statistics in
    Medicine 17:891–908; the restricted maximum-likelihood estimate is in closed form.
    """
    b, c, n, d = (np.asarray(v, dtype=float) for v in np.broadcast_arrays(b, c, n, delta))
    w = -(b + c) + d * (2 * n - b + c)
    with np.errstate(invalid="ignore", divide="ignore"):
        q = (-w + np.sqrt(np.maximum(w**2 + 8 * n * c * d * (1 - d), 0.0))) / (4 * n)
        var = n * (2 * q + d * (1 - d))
        z = (b - c - n * d) / np.sqrt(var)
    num = b - c - n * d
    z = np.where(var > 0, z, np.where(num > 0, np.inf, np.where(num < 0, -np.inf, 0.0)))
    return z


def tango_interval(b, c, n, level, reject=None):
    """Tango's score interval for ``p_a - p_b``: the differences the score test does not reject.

    Computed by bisection from brackets anchored at 0, so the interval excludes 0
    exactly where ``reject`` is True: the verdict and the interval cannot disagree.

    Parameters
    ----------
    b, c, n
        Accounts that asked for a only, for b only, and all accounts (arrays).
    level
        The test's level per row (1 − confidence), e.g. a Holm step's level.
    reject
        Per row, whether the test at ``level`` rejects ``delta = 0`` (default: McNemar's
        score test at ``level``, i.e. ``|z(0)| > z_{1 - level/2}``). A caller that decides
        by a procedure over many tests (Holm) passes its decisions.

    Returns
    -------
    (lower, upper) arrays.
    """
    b, c, n, level = (np.asarray(v, dtype=float) for v in np.broadcast_arrays(b, c, n, level))
    crit = norm.isf(level / 2)
    if reject is None:
        reject = np.abs(tango_z(b, c, n, 0.0)) > crit
    reject = np.broadcast_to(np.asarray(reject, dtype=bool), b.shape)
    est = np.where(n > 0, (b - c) / np.where(n > 0, n, 1), 0.0)
    up = reject & (est > 0)
    down = reject & (est < 0)
    # lower bound: z(delta) = +crit; "inside" is z <= crit (z falls as delta rises)
    lo_out = np.where(up, 0.0, -1.0)
    lo_in = np.where(up, est, 0.0)
    # upper bound: z(delta) = -crit; "inside" is z >= -crit
    hi_in = np.where(down, est, 0.0)
    hi_out = np.where(down, 0.0, 1.0)
    for _ in range(60):
        mid = (lo_out + lo_in) / 2
        inside = tango_z(b, c, n, mid) <= crit
        lo_in = np.where(inside, mid, lo_in)
        lo_out = np.where(inside, lo_out, mid)
        mid = (hi_in + hi_out) / 2
        inside = tango_z(b, c, n, mid) >= -crit
        hi_in = np.where(inside, mid, hi_in)
        hi_out = np.where(inside, hi_out, mid)
    return lo_in, hi_in


def holm_stepdown(strength: np.ndarray, passes, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """Holm's step-down procedure, with each test's level for its interval.

    Tests are taken strongest first; the j-th of m is rejected when it and every
    stronger test pass at level ``alpha / (m - j + 1)``. A rejected test's interval is
    at its own step's level; every other test's at the level where the procedure
    stopped, which its test does not pass. So an interval excludes zero exactly when
    the test is rejected after correction.

    Parameters
    ----------
    strength
        Per test, larger = stronger evidence (e.g. |z|, or minus the p-value).
    passes
        ``passes(i, level) -> bool``: whether test ``i`` rejects at ``level``.
    alpha
        The family-wise error rate.

    Returns
    -------
    (reject, level) arrays.
    """
    m = len(strength)
    reject = np.zeros(m, dtype=bool)
    level = np.full(m, float(alpha))
    order = np.argsort(-np.asarray(strength, dtype=float), kind="stable")
    stop = alpha / max(m, 1)
    for j, i in enumerate(order):
        a = alpha / (m - j)
        if passes(i, a):
            reject[i] = True
            level[i] = a
            continue
        stop = a
        break
    else:
        stop = alpha
    level[~reject] = stop
    return reject, level


def _pair_counts(asked: pd.DataFrame) -> pd.DataFrame:
    x = asked.to_numpy(dtype=bool)
    names = [str(c) for c in asked.columns]
    rows = []
    for i, j in itertools.combinations(range(len(names)), 2):
        a, b = x[:, i], x[:, j]
        rows.append(
            {
                "a": names[i],
                "b": names[j],
                "both": int((a & b).sum()),
                "only_a": int((a & ~b).sum()),
                "only_b": int((~a & b).sum()),
                "neither": int((~a & ~b).sum()),
            }
        )
    return pd.DataFrame(rows, columns=["a", "b", "both", "only_a", "only_b", "neither"])


def paired_tests(counts: pd.DataFrame, *, alpha: float = 0.05) -> pd.DataFrame:
    """McNemar's score test and Tango's interval for each row of paired counts, Holm over all rows.

    The test (McNemar's chi-square without continuity correction, i.e. Tango's score
    statistic at zero) and the interval (Tango's, the inversion of the same statistic)
    are one method: an interval excludes zero exactly when its test is significant
    after Holm's correction over every row (intervals at the Holm step's level).

    Parameters
    ----------
    counts
        Rows with ``both, only_a, only_b, neither`` (and any other columns, kept).
    alpha
        Family-wise error rate over all rows.

    Returns
    -------
    DataFrame
        ``counts`` plus ``statistic`` (chi-square), ``p``, ``p_holm``, ``diff`` (p_a −
        p_b), ``level`` (confidence of the interval), ``diff_lo, diff_hi``,
        ``significant`` and ``leader`` (the feature more accounts asked for).
    """
    out = counts.copy()
    b = out["only_a"].to_numpy(dtype=float)
    c = out["only_b"].to_numpy(dtype=float)
    n = (out[["both", "only_a", "only_b", "neither"]].sum(axis=1)).to_numpy(dtype=float)
    z0 = tango_z(b, c, n, 0.0)
    out["statistic"] = z0**2
    out["p"] = np.minimum(2 * norm.sf(np.abs(z0)), 1.0)
    out["p_holm"] = _holm(out["p"].to_numpy(), alpha)
    strength = np.abs(z0)
    reject, level = holm_stepdown(strength, lambda i, a: bool(strength[i] > norm.isf(a / 2)), alpha)
    lo, hi = tango_interval(b, c, n, level, reject)
    out["diff"] = np.where(n > 0, (b - c) / np.where(n > 0, n, 1), 0.0)
    out["level"] = 1 - level
    out["diff_lo"], out["diff_hi"] = lo, hi
    out["leader"] = np.where(b > c, out["a"], np.where(c > b, out["b"], None))
    out["significant"] = reject & out["leader"].notna().to_numpy()
    return out


def mcnemar_pairs(asked: pd.DataFrame, *, alpha: float = 0.05) -> pd.DataFrame:
    """McNemar's score test on accounts for every pair of features, Holm-corrected.

    See :func:`paired_tests`: the test and Tango's interval are one method, so a pair
    is significant exactly when its interval excludes zero.

    Returns
    -------
    DataFrame
        ``a, b, both, only_a, only_b, neither, statistic, p, p_holm, diff, level,
        diff_lo, diff_hi, significant, leader``.
    """
    return paired_tests(_pair_counts(asked), alpha=alpha)


def _holm(p: np.ndarray, alpha: float) -> np.ndarray:
    """Holm-adjusted p-values: ``max_{i<=j} (m - i + 1) p_(i)``, capped at 1.

    The same numbers as ``statsmodels.stats.multitest.multipletests(p, method="holm")``
    (tested), without its ``gc.collect()`` on every call, which costs more than the
    arithmetic in a loop of comparisons. ``alpha`` does not change adjusted p-values.
    """
    p = np.asarray(p, dtype=float)
    m = len(p)
    if m == 0:
        return p
    order = np.argsort(p, kind="stable")
    adj = np.minimum(np.maximum.accumulate((m - np.arange(m)) * p[order]), 1.0)
    out = np.empty(m)
    out[order] = adj
    return out


def boot_p(draws: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Two-sided bootstrap p-values of differences, never 0: ``2 (m + 1) / (R + 1)``.

    ``m`` is the smaller of the counts of resampled differences at or below zero and
    at or above zero, over ``R`` resamples (per column). Also returns ``m``.
    """
    r = draws.shape[0]
    m = np.minimum((draws <= 0).sum(axis=0), (draws >= 0).sum(axis=0))
    return np.minimum(2 * (m + 1) / (r + 1), 1.0), m


def boot_rank(level: np.ndarray | float, runs: int) -> np.ndarray:
    """The order statistic (1-based) of a bootstrap interval at ``level``: the k-th smallest
    and k-th largest resampled differences, ``k = ceil(level (R + 1) / 2) - 1``.

    With this k, the interval excludes zero exactly when fewer than k resamples fall on
    the far side of zero, i.e. when the p-value of :func:`boot_p` is below ``level``.
    0 means too few resamples for the level: the interval is unbounded.
    """
    return np.ceil(np.asarray(level, dtype=float) * (runs + 1) / 2 - 1e-12).astype(int) - 1


def boot_interval(draws: np.ndarray, level: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Percentile intervals from order statistics (see :func:`boot_rank`), per column."""
    r = draws.shape[0]
    k = boot_rank(level, r)
    srt = np.sort(draws, axis=0)
    cols = np.arange(draws.shape[1])
    safe = np.clip(k, 1, r)
    lo = np.where(k >= 1, srt[safe - 1, cols], -np.inf)
    hi = np.where(k >= 1, srt[r - safe, cols], np.inf)
    return lo, hi


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
    bootstrap intervals, and for ARR and seats the effective number of requesting
    accounts and the largest account's part); ``pairs`` one row per pair (the counts,
    McNemar's score test with Tango's interval on accounts, paired bootstrap
    differences for the weights, and the verdict's ``p_verdict``, ``level``, ``lo``,
    ``hi``); ``ranking`` ranks features by the chosen weighting, tied where no
    difference is significant.
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
    bootstrap_runs: int = 0

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


#: Below this effective number of requesting accounts, or from this largest account's
#: part of a feature's weight, a weighted share is said to rest on a few accounts.
FEW_ACCOUNTS = 30
ONE_ACCOUNT_SHARE = 0.1


def concentration(asked: pd.DataFrame, weights: np.ndarray) -> pd.DataFrame:
    """Per feature: the effective number of requesting accounts and the largest one's part.

    Kish's effective number ``(sum w)^2 / sum w^2`` over the accounts that asked: as
    many accounts of equal weight would carry the same information.
    """
    x = asked.to_numpy(dtype=float) * np.asarray(weights, dtype=float)[:, None]
    tot = x.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        n_eff = np.where(tot > 0, tot**2 / (x**2).sum(axis=0), 0.0)
        top = np.where(tot > 0, x.max(axis=0) / tot, np.nan)
    return pd.DataFrame({"feature": asked.columns.astype(str), "n_eff": n_eff, "top_share": top})


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

    One method gives each verdict and its interval, so "winner" is said exactly when
    the interval excludes zero: on accounts, McNemar's score test with Tango's score
    interval (the same statistic inverted); for ARR, seats or importance, a paired
    bootstrap whose p-value and percentile interval come from the same resamples.
    With more than two features, Holm's correction runs over all pairs and each
    interval is at its Holm step's level.

    Parameters
    ----------
    asked
        Boolean account × feature matrix; each row is one of the team's accounts.
    accounts
        ``arr`` and ``seats`` per row of ``asked`` (needed for those weightings).
    importance
        Highest importance (0–3) per row and feature (needed for ``importance``).
    weighting
        ``accounts``, ``arr``, ``seats`` or ``importance``.
    alpha
        Family-wise error rate over all pairs (Holm); intervals are at 1 − alpha before
        correction where they describe, at the Holm step's level where they decide.
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
    if weighting != "accounts" and len(asked) == 0:
        raise WorkbookError(f"weighting {weighting!r} needs at least one account to resample")
    features = [str(c) for c in asked.columns]
    shares = wilson_shares(asked, alpha=alpha)
    pairs = mcnemar_pairs(asked, alpha=alpha)
    pairs = pairs.rename(
        columns={
            "diff": "accounts_diff",
            "diff_lo": "accounts_diff_lo",
            "diff_hi": "accounts_diff_hi",
            "level": "accounts_level",
        }
    )
    n = len(asked)
    parts = _weights(accounts, importance, asked)
    if weighting not in parts:
        raise WorkbookError(f"weighting {weighting!r} needs the accounts' {weighting}")
    for key, (num, den) in parts.items():
        total = den.sum()
        shares[f"{key}_share"] = num.sum(axis=0) / total if total > 0 else np.nan
    if importance is not None:
        shares["importance_score"] = parts["importance"][0].sum(axis=0)
    if accounts is not None:
        for key in ("arr", "seats"):
            conc = concentration(asked, accounts[key].to_numpy(dtype=float))
            shares[f"{key}_n_eff"] = conc["n_eff"].to_numpy()
            shares[f"{key}_top_share"] = conc["top_share"].to_numpy()
    idx = {f: i for i, f in enumerate(features)}
    q = [100 * alpha / 2, 100 * (1 - alpha / 2)]
    runs = bootstrap_runs if n > 0 else 0
    if runs > 0:
        boot = _bootstrap(parts, runs, seed)
        for key, draws in boot.items():
            lo, hi = np.nanpercentile(draws, q, axis=0)
            shares[f"{key}_lo"], shares[f"{key}_hi"] = lo, hi
            if key == "accounts":
                continue  # accounts' pairs are decided by McNemar and Tango, above
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
            diffs = np.nan_to_num(diffs, nan=0.0)
            est = np.array(
                [
                    shares.loc[idx[a], f"{key}_share"] - shares.loc[idx[b], f"{key}_share"]
                    for a, b in zip(pairs.a, pairs.b, strict=True)
                ]
            )
            pairs[f"{key}_diff"] = est
            p, far = boot_p(diffs)
            pairs[f"{key}_p_boot"] = p
            if key == weighting:
                strength = -far.astype(float)
                reject, level = holm_stepdown(
                    strength, lambda i, a, far=far: bool(far[i] <= boot_rank(a, runs) - 1), alpha
                )
                pairs[f"{key}_reject"] = reject
            else:
                level = np.full(len(pairs), alpha)
            dlo, dhi = boot_interval(diffs, level) if len(pairs) else (np.empty(0), np.empty(0))
            pairs[f"{key}_diff_lo"], pairs[f"{key}_diff_hi"] = dlo, dhi
            pairs[f"{key}_level"] = 1 - level
    # the test the verdict rests on, and its interval (one method: they agree)
    if weighting == "accounts":
        pairs["test"] = "McNemar score test"
        pairs["p_verdict"] = pairs["p_holm"]
        diff = pairs["accounts_diff"]
        reject = pairs["significant"].to_numpy(dtype=bool)
    else:
        pairs["test"] = "paired bootstrap"
        pairs["p_verdict"] = _holm(pairs[f"{weighting}_p_boot"].to_numpy(), alpha)
        diff = pairs[f"{weighting}_diff"]
        reject = pairs.pop(f"{weighting}_reject").to_numpy(dtype=bool)
    pairs["winner"] = np.where(diff > 0, pairs["a"], np.where(diff < 0, pairs["b"], None))
    pairs["significant"] = reject & pairs["winner"].notna().to_numpy()
    pairs["lo"] = pairs[f"{weighting}_diff_lo"]
    pairs["hi"] = pairs[f"{weighting}_diff_hi"]
    pairs["level"] = pairs[f"{weighting}_level"]

    est_col = "share" if weighting == "accounts" else f"{weighting}_share"
    estimate = dict(zip(shares.feature, shares[est_col], strict=True))
    beaten_by = {f: [] for f in features}
    beats: set[tuple[str, str]] = set()
    for a, b, win, sig in zip(pairs.a, pairs.b, pairs.winner, pairs.significant, strict=True):
        if sig:
            loser = b if win == a else a
            beaten_by[loser].append(win)
            beats.add((win, loser))
    order = sorted(features, key=lambda f: (-np.nan_to_num(estimate[f], nan=-1), f))
    raw_rank = [1 + len(beaten_by[f]) for f in order]
    rank = pd.Series(raw_rank).rank(method="min").astype(int).tolist()
    by_feature = dict(zip(order, rank, strict=True))
    ranking = pd.DataFrame(
        {
            "feature": order,
            "estimate": [estimate[f] for f in order],
            "rank": rank,
            "tied_with": [
                ", ".join(g for g in order if g != f and by_feature[g] == by_feature[f])
                for f in order
            ],
        }
    )
    top = order[0]
    contenders = [top] + [f for f in order[1:] if (top, f) not in beats]
    winner = top if len(contenders) == 1 and n > 0 and estimate[top] > 0 else None
    return Comparison(
        features, weighting, alpha, shares, pairs, ranking, winner, contenders, n, runs
    )
