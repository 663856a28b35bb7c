"""Level shifts that hold: segments of a regression with AR(1) errors, chosen by a strict BIC.

The series (seasonally adjusted, unusual periods and holidays bridged, observed
periods only) is modelled as segment levels, a trend (none, a line, or a smooth curve)
and AR(1) noise. Shifts are added one at a time where they lower the criterion
``-2 log-likelihood + (c per shift + 1.5 per trend term) log(n)`` most, then any that
no longer earns its place is dropped; the trend shape with the lowest criterion wins.
Because the AR(1) coefficient is re-estimated with every candidate, persistent noise
seldom passes for a shift: a wandering series is explained by its autocorrelation, a
jump by a new level. The likelihood is the exact one of a stationary AR(1)
(Prais-Winsten: the first period kept, ``-log(1 - phi^2)`` counted), not the
conditional one that drops the first period: the conditional likelihood let a
coefficient near 1 explain a step in a short white-noise series almost as well as the
step itself (a 3-sigma step in 26 weeks was found 77% of the time; with the exact
likelihood 84.5%).

In a short series persistent noise can still wander like a step, so one weight ``c``
for every series must be set for the most persistent noise, and costs power against
white noise. ``c`` (:func:`penalty`) therefore has a base that falls with the series'
length (4.25 at 26 periods to 3.25 from 65) and, in a short series, follows the
persistence the segmentation leaves in its residuals (its AR(1) coefficient): at 26
periods 0.75 below the base when they are close to white, 1.75 above it when they stay
persistent, the whole of that up to 39 periods, half at 52 and none from 65. A real step in white noise leaves white
residuals (coefficient above 0.2 in 8% of 26-week series), while many false shifts of
persistent noise leave some persistence (above 0.2 in about half of them at phi 0.8, a
third at phi 0.9): the evidence of a step with white residuals is trusted, a
segmentation that leaves the noise persistent must explain more. A 3-sigma step in 26
white-noise weeks is then found 90-92.5% of the time (84.5-88% with one weight; the
validation suite's seeds and 1,000 others), with false shifts on flat series at or
below 5% (phi 0 to 0.9, 26 to 156 weeks). A segment must outlast an episode (7 weeks,
15 days, 4 months), so an incident is never a "shift".

Why not ruptures' costs: PELT with the ``l2`` cost and a penalty from a long-run
variance estimate claimed shifts in 8-15% of flat AR(1) series at phi 0.8-0.9 (the
variance of a short persistent series cannot be estimated well), and the ``ar`` cost,
which fits an AR coefficient per segment, found a 3-sigma step in only a third of
short white-noise series (docs/trends.md has the simulations).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ._common import grain_check
from .noise import robust_sd

__all__ = ["MIN_SEGMENT", "changepoints", "penalty"]

#: fewest periods on each side of a shift: longer than the longest episode
MIN_SEGMENT = {"day": 15, "week": 7, "month": 4}


#: residual AR(1) coefficients between which a shift's weight rises from its lowest to
#: its highest, and how far below and above the base weight it goes there at 26 periods
_PHI_WHITE, _PHI_PERSISTENT = 0.1, 0.6
_LOWER, _RAISE = 0.75, 1.75


def penalty(n: int, phi: float | None = None) -> float:
    """Criterion weight of a shift, in units of log(n) (BIC would be 2: a level and a
    date).

    The base weight is 4.25 at 26 periods, falling to 3.25 from 65 periods, as the
    persistence of the noise gets better known. With ``phi``, the AR(1) coefficient of
    the segmentation being weighed (the persistence left once its shifts are fitted),
    the weight of a short series also follows that persistence: at 26 periods 0.75
    below the base (3.5) when the residuals are close to white (``phi`` up to 0.1) and
    1.75 above it (6) when they stay persistent (``phi`` 0.6 and above), in proportion
    between. Persistent noise mimics a step in a short series, white noise does not: a
    step whose residuals are white is trustworthy evidence, one that leaves them
    persistent may be the noise's own wandering. The adjustment is whole up to 39
    periods and shrinks with the base's excess over its floor (half of it at 52
    periods, none from 65), as the persistence of a longer series is better known (a
    lower weight there cuts clean trends into shifts: at half the adjustment a shift is
    claimed in 2.5-4% of clean 52-week trends, against 1-3% at a quarter, which let 5%
    of flat phi = 0.9 series of 52 weeks show a shift). Chosen so that false shifts stay
    at or below 6% on flat AR(1) series with phi up to 0.9 and 26-156 weeks while a
    3-sigma step in 26 white-noise weeks is found at least 90% of the time
    (validation/trends.py; calibrated on other seeds than its own)."""
    base = max(3.25, 4.25 - 0.75 * math.log2(max(n, 1) / 26))
    if phi is None or base == 3.25:
        return base
    w = min(max((phi - _PHI_WHITE) / (_PHI_PERSISTENT - _PHI_WHITE), 0.0), 1.0)
    return base + min(2 * (base - 3.25), 1.0) * (-_LOWER + (_LOWER + _RAISE) * w)


def _trend_penalty(n: int) -> float:
    """Weight of each term of a trend (a line: 1; a smooth curve: 3 to 9): 1.5, and a
    shift's base weight below a year of periods, so a short series does not trade a
    step for a slope."""
    return 1.5 if n >= 52 else penalty(n)


_COLS = ["date", "before", "after", "shift", "shift_pct", "shift_sigma"]


def _design(n: int, breaks: list[int], t: np.ndarray | None) -> np.ndarray:
    edges = [0, *breaks, n]
    d = np.zeros((n, len(edges) - 1))
    for i in range(len(edges) - 1):
        d[edges[i] : edges[i + 1], i] = 1.0
    return d if t is None else np.column_stack([d, t])


#: the AR(1) coefficient is kept below this (the likelihood of a stationary series)
_PHI_MAX = 0.99


def _fit(y: np.ndarray, a: np.ndarray) -> tuple[float, float, np.ndarray]:
    """(innovation SSE, AR(1) coefficient, coefficients) of y ~ a with AR(1) errors.

    Prais-Winsten: the first period is kept, scaled by ``sqrt(1 - phi^2)`` (the exact
    Gaussian likelihood of a stationary AR(1)), not dropped as Cochrane-Orcutt does."""
    coef = np.linalg.lstsq(a, y, rcond=None)[0]
    u = y - a @ coef
    phi = 0.0
    yw, aw = y, a
    for _ in range(3):  # three rounds
        den = float((u[:-1] ** 2).sum())
        phi = float(np.clip((u[1:] * u[:-1]).sum() / den, -0.5, _PHI_MAX)) if den > 0 else 0.0
        r = np.sqrt(1 - phi * phi)
        yw = np.r_[r * y[0], y[1:] - phi * y[:-1]]
        aw = np.vstack([r * a[:1], a[1:] - phi * a[:-1]])
        coef = np.linalg.lstsq(aw, yw, rcond=None)[0]
        u = y - a @ coef
    e = yw - aw @ coef
    return float((e**2).sum()), phi, coef


def _criterion(y, breaks, t, penalty) -> float:
    """-2 exact log-likelihood of the AR(1) regression (``n log(SSE / n) - log(1 - phi^2)``)
    plus the penalties; ``penalty`` is a shift's weight, a number or a function of the
    fitted AR(1) coefficient."""
    n = len(y)
    sse, phi, _ = _fit(y, _design(n, breaks, t))
    trend = 0 if t is None else t.shape[1]
    weight = (penalty(phi) if callable(penalty) else penalty) if breaks else 0.0
    return (
        n * np.log(max(sse, 1e-300) / n)
        - np.log(1 - phi * phi)
        + (weight * len(breaks) + _trend_penalty(n) * trend) * np.log(n)
    )


def _trends(t: np.ndarray) -> list[np.ndarray | None]:
    """The trend shapes a segmentation is tried with: none, a line, and from 32 periods a
    smooth curve (cubic B-spline, a knot about every 11 periods: 3 to 9 terms besides
    the level)."""
    n = len(t)
    line = ((t - t.mean()) / max(np.ptp(t), 1.0))[:, None]
    out = [None, line]
    df = int(np.clip(n // 11, 4, 10))
    if n >= 8 * df:
        from scipy.interpolate import BSpline

        k = 3
        inner = np.linspace(t.min(), t.max(), df - k + 1)
        knots = np.r_[[t.min()] * k, inner, [t.max()] * k]
        basis = BSpline.design_matrix(t, knots, k).toarray()
        basis = basis[:, 1:] - basis[:, 1:].mean(axis=0)  # the constant is in the segments
        out.append(basis)
    return out


def _search(y: np.ndarray, t: np.ndarray | None, m: int, penalty):
    """Forward selection of shifts, then backward elimination; (breaks, criterion)."""
    n = len(y)
    breaks: list[int] = []
    best = _criterion(y, breaks, t, penalty)
    while True:
        edges = [0, *breaks, n]
        trial = None
        for k in range(m, n - m + 1):
            i = int(np.searchsorted(breaks, k))
            if k in breaks or k - edges[i] < m or edges[i + 1] - k < m:
                continue
            cand = sorted([*breaks, k])
            c = _criterion(y, cand, t, penalty)
            if trial is None or c < trial[0]:
                trial = (c, cand)
        if trial is None or trial[0] >= best:
            break
        best, breaks = trial
    while breaks:
        drop = min(
            (_criterion(y, breaks[:i] + breaks[i + 1 :], t, penalty), i) for i in range(len(breaks))
        )
        if drop[0] > best:
            break
        best, breaks = drop[0], breaks[: drop[1]] + breaks[drop[1] + 1 :]
    return breaks, best


_penalty = penalty


def changepoints(
    values: pd.Series, grain: str, *, signed: bool = False, penalty: float | None = None
) -> pd.DataFrame:
    """Level shifts of a series, robust to autocorrelated noise.

    Parameters
    ----------
    values
        The series to read: seasonally adjusted and cleaned (unusual periods and
        holidays replaced by their expected value); missing periods are left out.
    grain
        Sets the shortest segment (7 weeks, 15 days, 4 months).
    signed
        A score that can be negative: ``shift_pct`` is left empty.
    penalty
        Criterion weight of a shift, in units of ``log(n)``, the same whatever the
        noise's persistence (default: :func:`penalty`, which follows it).

    Returns
    -------
    DataFrame
        ``date`` (first period of the new level), ``before`` and ``after`` (the two
        levels at that date), ``shift``, ``shift_pct``, ``shift_sigma`` (the shift in
        long-run standard deviations of the noise); largest shift first.
        ``attrs["trend_terms"]``: the trend terms of the chosen model (0: none, 1: a
        line, more: a smooth curve), when the series was long enough to model.
    """
    grain = grain_check(grain)
    y0 = pd.Series(values, dtype=float).dropna()
    m = MIN_SEGMENT[grain]
    n = len(y0)
    if n < 2 * m:
        return pd.DataFrame(columns=_COLS)
    scale = robust_sd(y0.to_numpy()) or float(y0.std()) or 1.0
    if not np.isfinite(scale) or scale <= 0:
        return pd.DataFrame(columns=_COLS)
    center = float(y0.median())
    y = (y0.to_numpy() - center) / scale
    # place on the period grid, so a gap keeps its length in the trend
    full = pd.Series(values).index
    t = pd.Index(full).get_indexer(y0.index).astype(float)
    weight = (lambda phi: _penalty(n, phi)) if penalty is None else float(penalty)
    fits = [(*_search(y, tr, m, weight), tr) for tr in _trends(t)]
    breaks, _, tt = min(fits, key=lambda f: f[1])
    terms = 0 if tt is None else tt.shape[1]
    if not breaks:
        return _with_terms(pd.DataFrame(columns=_COLS), terms)
    sse, phi, coef = _fit(y, _design(n, breaks, tt))
    sigma_e = np.sqrt(sse / max(n - len(coef), 1))
    long_run = sigma_e / max(1 - phi, 0.01) * scale
    trend = np.zeros(n) if tt is None else tt @ coef[len(breaks) + 1 :]
    rows = []
    for i, b in enumerate(breaks):
        # both levels at the shift's date, on the trend through it
        before = center + scale * (coef[i] + trend[b])
        after = center + scale * (coef[i + 1] + trend[b])
        shift = after - before
        rows.append(
            {
                "date": y0.index[b],
                "before": before,
                "after": after,
                "shift": shift,
                "shift_pct": 100 * shift / abs(before) if before and not signed else np.nan,
                "shift_sigma": shift / long_run if long_run > 0 else np.nan,
            }
        )
    out = pd.DataFrame(rows, columns=_COLS)
    out = out.reindex(out["shift"].abs().sort_values(ascending=False).index)
    return _with_terms(out.reset_index(drop=True), terms)


def _with_terms(frame: pd.DataFrame, terms: int) -> pd.DataFrame:
    """Record how many trend terms the chosen model has (0: none, 1: a line, more: a
    smooth curve) as ``frame.attrs["trend_terms"]``: the analysis claims a trend only
    where this model needs one."""
    frame.attrs["trend_terms"] = terms
    return frame
