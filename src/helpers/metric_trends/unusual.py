"""Unusual periods and episodes: each period judged against a trailing baseline that excludes it.

A period is compared with the robust level of the periods just before it (the median
of the last 12 weeks, 28 days or 12 months; for a rate, the median weighted by their
denominators) plus the series' typical lag behind such a baseline (a trend's), leaving
out periods already judged unusual and holidays, so a three-week incident cannot make
its own second and third weeks look normal. Its distance is scaled by the series'
noise: for counts a robust spread (Qn) of these distances; for rates the noise of a
period's denominator (binomial for a share, over-dispersed by a factor estimated from
the series), so a week of 13 accounts is not judged like a week of 2,000. A period
alone must pass a Bonferroni bar, two or more in a row a lower one (:func:`_thresholds`).
Unusual periods in a row form one *episode*; a run longer than an episode (6 weeks, 14
days, 3 months) is a new level, left to the level-shift analysis.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.stats import t as student_t

from ._common import ValueRange, fmt_num, grain_check, period_word
from .noise import efficient_sd

__all__ = ["Judgement", "anomalies", "clean", "episodes", "judge"]

_WINDOW = {"day": 28, "week": 12, "month": 12}  # trailing baseline, in periods
_MIN_BASE = {"day": 14, "week": 6, "month": 6}  # fewer: judged against its neighbours
_MAX_EPISODE = {"day": 14, "week": 6, "month": 3}  # longer runs are a new level
_MIN_LAG = 8  # trailing baselines needed to measure a trend's lag
_QN_EFFICIENCY = 0.82
_Z_MIN = 3.5  # never a lower bar than this robust z for one period (Iglewicz & Hoaglin)
_Z_RUN_MIN = 2.5  # never a lower bar than this for periods in a row
_Z_EDGE = 2.0  # a neighbour of an episode beyond this, same direction, is part of it
_ALPHA = 0.05  # chance that a flat series shows any unusual period (Bonferroni over periods)

_JUDGED = ["period", "value", "expected", "z", "unusual", "holiday", "episode", "seasonal"]
_EPISODES = [
    "start",
    "end",
    "periods",
    "value",
    "usual",
    "ratio",
    "change",
    "direction",
    "peak_z",
]


@dataclass
class Judgement:
    """Every observed period judged against its baseline."""

    grain: str
    table: pd.DataFrame  # period, value, expected, z, unusual, holiday, episode
    threshold: float
    value_range: ValueRange = field(default_factory=ValueRange)
    noise: str = ""
    run_threshold: float = float("nan")

    @property
    def unusual(self) -> pd.DataFrame:
        return self.table[self.table.unusual]

    @property
    def holidays(self) -> pd.DataFrame:
        return self.table[self.table.holiday != ""]


def _thresholds(n_judged: int, n_spread: int, r: float) -> tuple[float, float]:
    """(bar for one period alone, bar for each of two or more in a row).

    Half the 5% chance that a flat series shows anything goes to single periods
    (Bonferroni over the periods judged), half to runs: two neighbours beyond the lower
    bar in the same direction, their correlation ``r`` allowed for. Both are Student t
    quantiles because the noise is itself estimated from the series (Qn holds about 82%
    of the information of a standard deviation).
    """
    from scipy.optimize import brentq
    from scipy.stats import multivariate_normal, norm

    n = max(n_judged, 2)
    df = max(3.0, _QN_EFFICIENCY * n_spread)
    single = float(max(_Z_MIN, student_t.isf(_ALPHA / 2 / (2 * n), df)))
    r = float(np.clip(r, 0.0, 0.95))
    pair = multivariate_normal(mean=[0, 0], cov=[[1, r], [r, 1]])

    def excess(zz: float) -> float:  # both beyond zz, either direction, at any of n-1 pairs
        both = 1 - 2 * norm.cdf(zz) + pair.cdf([zz, zz])
        return 2 * (n - 1) * both - _ALPHA / 2

    z_normal = brentq(excess, 0.5, 8.0) if excess(8.0) < 0 < excess(0.5) else 3.0
    run = float(student_t.isf(norm.sf(z_normal), df))
    return single, float(np.clip(run, _Z_RUN_MIN, single))


def judge(
    values: pd.Series,
    grain: str,
    *,
    denominator: pd.Series | None = None,
    value_range: ValueRange | None = None,
    holidays: pd.Series | None = None,
    seasonal: pd.Series | None = None,
    breaks=(),
) -> Judgement:
    """Judge each observed period against the trailing baseline that excludes it.

    Parameters
    ----------
    values
        Complete periods (NaN: no data, e.g. a rate with nothing to divide).
    grain
        ``day``, ``week`` or ``month``: sets the baseline window and episode length.
    denominator
        Per period, what a rate divides by (accounts, responses): its noise shrinks
        as the denominator grows.
    value_range
        The metric's range; a share (0-100) has at least binomial noise.
    holidays
        Per period, the names of its public holidays ("" for none): never unusual,
        never part of a baseline.
    seasonal
        A seasonal component to remove before judging (from STL).
    breaks
        Dates of level shifts: a baseline never reaches across one.

    Returns
    -------
    Judgement
        ``table`` has one row per observed period: ``value``, ``expected`` (baseline,
        seasonal pattern added back), ``z`` (distance in noise units), ``unusual``,
        ``holiday`` and ``episode`` (number of the episode, -1 for none).
    """
    grain = grain_check(grain)
    vr = value_range or ValueRange()
    y = pd.Series(values, dtype=float)
    season = (
        np.zeros(len(y))
        if seasonal is None
        else pd.Series(seasonal).reindex(y.index).fillna(0).to_numpy(float)
    )
    hol = (
        np.full(len(y), "", dtype=object)
        if holidays is None
        else pd.Series(holidays).reindex(y.index).fillna("").to_numpy(object)
    )
    obs = np.flatnonzero(y.notna().to_numpy())
    empty = Judgement(grain, pd.DataFrame(columns=_JUDGED), np.inf, vr)
    if len(obs) < 4:
        return empty
    x = y.to_numpy(float)[obs] - season[obs]
    h = hol[obs] != ""
    den = None
    if denominator is not None:
        den = pd.Series(denominator, dtype=float).reindex(y.index).to_numpy(float)[obs]
        if not np.all(np.isfinite(den) & (den > 0)):
            den = None
    n = len(x)
    usable = ~h
    W, MB, EMAX = _WINDOW[grain], _MIN_BASE[grain], _MAX_EPISODE[grain]
    cuts = np.searchsorted(y.index[obs], pd.DatetimeIndex(list(breaks)))
    edges = np.r_[0, np.unique(cuts[(cuts > 0) & (cuts < n)]), n]
    seg = np.searchsorted(edges, np.arange(n), side="right") - 1
    seg_start, seg_end = edges[seg], edges[seg + 1]

    def baseline(j: int, excluded: np.ndarray, regime: int) -> tuple[np.ndarray, bool]:
        """(the baseline periods of j, whether they all come before it)"""
        lo, hi = max(regime, seg_start[j]), seg_end[j]
        prev = [i for i in range(lo, j) if usable[i] and not excluded[i]]
        if len(prev) >= MB:
            return np.array(prev[-W:]), True
        # too little history: the nearest periods of the same level on either side
        near = [i for i in range(lo, hi) if i != j and usable[i] and not excluded[i]]
        near.sort(key=lambda i: abs(i - j))
        return np.array(sorted(near[:W])), False

    def level(j: int, bases: tuple[np.ndarray, bool], lag: float = 0.0) -> tuple[float, float]:
        """(baseline level at j, total weight): the median of the base periods (for a rate
        weighted by their denominators), plus the series' typical lag behind a trailing
        baseline (a trend's). A median, so an incident nobody flagged yet cannot move it."""
        base, trailing = bases
        if den is None:
            return float(np.median(x[base])) + lag * trailing, float("nan")
        w = den[base]
        return _weighted_median(x[base], w) + lag * trailing, float(np.sum(w))

    # pass 1: the spread of every period's distance from its baseline (nothing excluded)
    none = np.zeros(n, dtype=bool)
    d, var, trail = np.full(n, np.nan), np.full(n, np.nan), np.zeros(n, dtype=bool)
    for j in range(n):
        bases = baseline(j, none, 0)
        if len(bases[0]) < 2 or not usable[j]:
            continue
        lv, wsum = level(j, bases)
        d[j], trail[j] = x[j] - lv, bases[1]
        if den is not None:
            var[j] = _unit_variance(lv, vr, wsum) * (1 / den[j] + 1 / wsum)
    # a trend puts every period above (or below) the periods before it by about the same
    # amount: that typical lag is part of the baseline, not of any period's distance
    lag = float(np.nanmedian(d[trail])) if trail.sum() >= _MIN_LAG else 0.0
    d = d - lag * trail
    unit = d / np.sqrt(var)
    if den is None:
        spread = efficient_sd(d)
        if vr.integer:
            spread = max(spread, 1.0)  # whole numbers: a spread below one is resolution
        if not np.isfinite(spread) or spread <= 0:
            spread = 1e-9 * max(1.0, float(np.nanmedian(np.abs(x))))
        noise = "the robust spread of past periods around their baseline"
        dispersion = 1.0
    else:
        dispersion = efficient_sd(unit) ** 2
        if not np.isfinite(dispersion) or dispersion <= 0:
            dispersion = 1.0
        if vr.share:
            dispersion = max(dispersion, 1.0)  # never less noisy than a binomial share
        noise = (
            f"the noise of each period's denominator ({'binomial' if vr.share else 'per unit'}"
            f" x {dispersion:.2g} over-dispersion)"
        )
    # the spread is estimated from the distances themselves; persistent ones carry less
    # information about it (effective sample n (1 - r) / (1 + r)); r from pairs of
    # distances within 3 spreads, so that an incident does not raise its own bar
    std = d / spread if den is None else unit / np.sqrt(dispersion)
    fin = np.isfinite(std)
    u = std - np.median(std[fin]) if fin.any() else std
    ok = fin & (np.abs(u) <= 3)
    pair = ok[1:] & ok[:-1]
    a_, b_ = u[1:][pair], u[:-1][pair]
    den_r = float(np.sqrt((a_ * a_).sum() * (b_ * b_).sum()))
    r = max(0.0, float((a_ * b_).sum()) / den_r) if pair.sum() > 3 and den_r > 0 else 0.0
    threshold, run_bar = _thresholds(int(usable.sum()), int(fin.sum() * (1 - r) / (1 + r)), r)

    # pass 2: in time order, leaving out what was already found unusual
    flagged = np.zeros(n, dtype=bool)
    z = np.full(n, np.nan)
    expected = np.full(n, np.nan)
    regime, run = 0, []
    for j in range(n):
        bases = baseline(j, flagged, regime)
        if len(bases[0]) < 2:
            continue
        lv, wsum = level(j, bases, lag)
        expected[j] = lv
        if den is None:
            sd = spread
        else:
            sd = np.sqrt(dispersion * _unit_variance(lv, vr, wsum) * (1 / den[j] + 1 / wsum))
        z[j] = (x[j] - lv) / sd if sd > 0 else 0.0
        if not usable[j]:
            run = []
            continue
        # a run: this period and the one before both beyond the lower bar, same direction
        prev = j - 1 if j > 0 and obs[j - 1] == obs[j] - 1 else None
        joins = (
            prev is not None
            and usable[prev]
            and np.isfinite(z[prev])
            and abs(z[prev]) > run_bar
            and np.sign(z[prev]) == np.sign(z[j])
        )
        if abs(z[j]) > threshold or (abs(z[j]) > run_bar and joins):
            if joins and not flagged[prev]:
                flagged[prev] = True  # the run's first period, confirmed by its second
                run = [prev]
            same = run and run[-1] == j - 1 and np.sign(z[run[-1]]) == np.sign(z[j])
            flagged[j] = True
            run = [*run, j] if same else [j]
            if len(run) > EMAX:
                # longer than an episode: a new level, which the shift analysis reports
                flagged[run] = False
                regime, run = run[0], []
        else:
            run = []
    _extend(flagged, z, usable, obs, EMAX)
    episode = np.full(n, -1)
    k = -1
    for j in range(n):
        if flagged[j]:
            new = j == 0 or not flagged[j - 1] or obs[j - 1] != obs[j] - 1
            new = new or np.sign(z[j]) != np.sign(z[j - 1])
            k += int(new)
            episode[j] = k
    table = pd.DataFrame(
        {
            "period": y.index[obs],
            "value": y.to_numpy(float)[obs],
            "expected": expected + season[obs],
            "z": z,
            "unusual": flagged,
            "holiday": hol[obs].astype(str),
            "episode": episode,
            "seasonal": season[obs],
        }
    )
    return Judgement(grain, table, threshold, vr, noise, run_bar)


def _extend(flagged: np.ndarray, z: np.ndarray, usable: np.ndarray, obs, longest: int) -> None:
    """Widen each episode to its neighbours that lie beyond ``_Z_EDGE`` in its direction.

    An episode is first found by its clearest periods; its first or last period may
    fall below the bars (a week of few units in the denominator), which would cut a
    three-week incident to two. A neighbour of a found episode beyond 2 noise units
    (one-sided p about 0.02) in the same direction belongs to it, up to the longest
    episode. This only moves an episode's edges: a series without one gains none.
    """
    n = len(flagged)
    changed = True
    while changed:
        changed = False
        j = 0
        while j < n:
            if not flagged[j]:
                j += 1
                continue
            k = j
            while k + 1 < n and flagged[k + 1] and obs[k + 1] == obs[k] + 1:
                k += 1
            sign = np.sign(z[j])
            for i, inner in ((j - 1, j), (k + 1, k)):
                if (
                    k - j + 1 < longest
                    and 0 <= i < n
                    and not flagged[i]
                    and usable[i]
                    and abs(obs[i] - obs[inner]) == 1
                    and np.isfinite(z[i])
                    and np.sign(z[i]) == sign == np.sign(z[inner])
                    and abs(z[i]) > _Z_EDGE
                ):
                    flagged[i] = True
                    changed = True
                    j, k = min(j, i), max(k, i)
            j = k + 1


def _weighted_median(v: np.ndarray, w: np.ndarray) -> float:
    order = np.argsort(v)
    cum = np.cumsum(w[order])
    return float(v[order][np.searchsorted(cum, 0.5 * cum[-1])])


def _unit_variance(level: float, vr: ValueRange, weight: float) -> float:
    """Variance of one unit's value around ``level`` (Bhatia-Davis bound for a bounded range:
    exact for a yes/no share), the level kept half a unit away from the bounds."""
    if vr.lower is None or vr.upper is None:
        return 1.0
    lo, hi = vr.lower, vr.upper
    pad = 0.5 * (hi - lo) / max(weight, 1.0)
    lv = min(max(level, lo + pad), hi - pad)
    return (hi - lv) * (lv - lo)


def anomalies(
    values: pd.Series, grain: str, judgement: Judgement | None = None, **kw
) -> pd.DataFrame:
    """The unusual periods (holidays never are), most extreme first.

    Returns
    -------
    DataFrame
        ``period``, ``value``, ``expected``, ``z``, ``episode``.
    """
    j = judgement if judgement is not None else judge(values, grain, **kw)
    out = j.unusual[["period", "value", "expected", "z", "episode"]]
    return out.reindex(out.z.abs().sort_values(ascending=False).index).reset_index(drop=True)


def episodes(judgement: Judgement) -> pd.DataFrame:
    """Unusual periods in a row merged into episodes, largest first.

    Returns
    -------
    DataFrame
        ``start``, ``end`` (first and last period), ``periods``, ``value`` and ``usual``
        (means over the episode), ``ratio`` (value / usual; NaN for scores that can be
        negative), ``change`` (value - usual), ``direction`` (up/down), ``peak_z``.
    """
    t = judgement.unusual
    rows = []
    for _, g in t.groupby("episode"):
        value, usual = float(g.value.mean()), float(g.expected.mean())
        positive = not judgement.value_range.signed and usual > 0
        rows.append(
            {
                "start": g.period.iloc[0],
                "end": g.period.iloc[-1],
                "periods": len(g),
                "value": value,
                "usual": usual,
                "ratio": value / usual if positive else np.nan,
                "change": value - usual,
                "direction": "up" if value > usual else "down",
                "peak_z": float(g.z.abs().max()),
            }
        )
    out = pd.DataFrame(rows, columns=_EPISODES)
    return out.sort_values("peak_z", ascending=False, ignore_index=True)


def clean(
    values: pd.Series, judgement: Judgement, *, breaks=(), holidays_only: bool = False
) -> pd.Series:
    """The series with unusual and holiday periods bridged from their usual neighbours.

    Each such period gets the value interpolated between the nearest usual periods on
    either side within its level (never across a shift in ``breaks``), on the seasonally
    adjusted scale with the seasonal pattern added back. Trend tests, level shifts and
    forecasts read this, so that neither an incident nor a holiday reads as a change of
    level or widens a forecast band. Missing periods stay missing.
    """
    y = pd.Series(values, dtype=float).copy()
    t = judgement.table
    if t.empty:
        return y
    swap = (t.holiday != "").to_numpy().copy()
    if not holidays_only:
        swap |= t.unusual.to_numpy(dtype=bool)
    if not swap.any():
        return y
    idx = pd.DatetimeIndex(t.period)
    adj = pd.Series(t.value.to_numpy() - t.seasonal.to_numpy(), index=idx)
    fallback = pd.Series(t.expected.to_numpy() - t.seasonal.to_numpy(), index=idx)
    adj[swap] = np.nan
    cuts = np.searchsorted(idx, pd.DatetimeIndex(list(breaks)))
    edges = np.r_[0, np.unique(cuts[(cuts > 0) & (cuts < len(idx))]), len(idx)]
    parts = []
    for a, b in zip(edges[:-1], edges[1:], strict=True):
        part = adj.iloc[a:b]
        if part.notna().sum() >= 2:
            part = part.interpolate(method="time", limit_direction="both")
        elif part.notna().sum() == 1:
            part = part.fillna(part.dropna().iloc[0])
        parts.append(part.fillna(fallback.iloc[a:b]))
    filled = pd.concat(parts) + t.seasonal.to_numpy()
    y.loc[idx[swap]] = filled[swap].to_numpy()
    return y


def describe_episode(row, grain: str, unit: str = "", signed: bool = False) -> str:
    """'2024-05-20 to 2024-06-03, 3.6x the usual level' in plain words."""
    if row.periods == 1:
        when = f"the {grain} of {row.start:%Y-%m-%d}"
    else:
        when = f"{row.start:%Y-%m-%d} to {row.end:%Y-%m-%d} ({row.periods} {period_word(grain, 2)})"
    if signed or not np.isfinite(row.ratio):
        size = (
            f"{'+' if row.change > 0 else '−'}{fmt_num(abs(row.change))} points "
            f"{'above' if row.change > 0 else 'below'} the usual level ({fmt_num(row.usual)})"
        )
    elif row.ratio >= 1.5:
        size = f"{row.ratio:.1f}× the usual level ({fmt_num(row.value, unit)} against {fmt_num(row.usual, unit)})"
    else:
        pct = 100 * (row.ratio - 1)
        size = (
            f"{abs(pct):.0f}% {'above' if pct > 0 else 'below'} the usual level "
            f"({fmt_num(row.value, unit)} against {fmt_num(row.usual, unit)})"
        )
    return f"{when}, {size}"
