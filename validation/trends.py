"""Metric trends: every detector of ``helpers.metric_trends`` on families of simulated series.

Each row is a family of seeded series run through :func:`helpers.metric_trends.analyse`
(the pipeline behind every answer), with what it claimed counted:

- ``trends_flat``: flat weekly series, AR(1) noise (sd 5 around 100): how often a trend,
  a level shift (and either of the two) or an unusual episode is claimed (false alarms),
  and forecast bands of zero width;
- ``trends_step``: the same noise with a step of 3 long-run sigmas planted at a random
  week at least 7 weeks from either end: found within one week;
- ``trends_episode``: a share (%) with weekly denominators, 25 weeks of history and three
  weeks at 3x the baseline: reported as unusual with its dates; the same series without
  the episode: episodes claimed;
- ``trends_linear``: a clean linear rise of 26% over 52 weeks with white noise: detected;
- ``trends_forecast``: rolling-origin backtests (12 origins a series) on simulated ETS
  series and on the demo warehouse's metrics: how often the 95% band held the value.
"""

from __future__ import annotations

import functools
import multiprocessing
import tempfile
import zlib
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.signal import lfilter

from helpers.metric_trends import ValueRange, analyse, backtest

DOC = "docs/trends.md"

_PHIS = [0.0, 0.5, 0.8, 0.9]
_WEEKS = [26, 52, 104, 156]
_START = "2022-01-03"  # a Monday
_SD = 5.0  # marginal sd of the flat families' noise


def _rng(*key) -> np.random.Generator:
    return np.random.default_rng(zlib.crc32(repr(key).encode()))


def _pct(hits: int, n: int) -> str:
    return f"{100 * hits / n:.1f}% ({hits}/{n})" if n else "n/a"


def _weeks(n: int) -> pd.DatetimeIndex:
    return pd.date_range(_START, periods=n, freq="W-MON")


def _ar1(rng: np.random.Generator, phi: float, n: int, sd: float) -> np.ndarray:
    """AR(1) noise with marginal standard deviation ``sd`` (burn-in 200)."""
    e = rng.normal(0, sd * np.sqrt(1 - phi**2), n + 200)
    return lfilter([1], [1, -phi], e)[200:]


def _quiet(y: pd.Series, **kw):
    return analyse(y, "week", holidays_country=None, run_backtest=False, **kw)


def _flat(reps: int, phis, weeks) -> pd.DataFrame:
    rows = []
    for phi in phis:
        for n in weeks:
            rng = _rng("flat", phi, n)
            trend = shift = either = episode = zero = 0
            for _ in range(reps):
                y = pd.Series(100 + _ar1(rng, phi, n, _SD), _weeks(n))
                a = _quiet(y)
                trend += a.trend.direction != "none"
                shift += len(a.changepoints) > 0
                either += a.trend.direction != "none" or len(a.changepoints) > 0
                episode += len(a.episodes) > 0
                f = a.forecast.frame
                zero += bool(((f.hi95 - f.lo95) <= 0).any() or ((f.hi80 - f.lo80) <= 0).any())
            rows.append(
                {
                    "φ": phi,
                    "weeks": n,
                    "series": reps,
                    "trend claimed": _pct(trend, reps),
                    "level shift claimed": _pct(shift, reps),
                    "trend or level shift claimed": _pct(either, reps),
                    "episode claimed": _pct(episode, reps),
                    "zero-width forecast bands": zero,
                }
            )
    return pd.DataFrame(rows)


def _step(reps: int, phis, weeks) -> pd.DataFrame:
    rows = []
    for phi in phis:
        for n in weeks:
            rng = _rng("step", phi, n)
            near = anywhere = 0
            lr = _SD * np.sqrt(1 - phi**2) / (1 - phi)  # long-run sd: sigma_e / (1 - phi)
            for _ in range(reps):
                k = int(rng.integers(7, n - 7 + 1))
                x = 100 + _ar1(rng, phi, n, _SD) + np.where(np.arange(n) >= k, 3 * lr, 0.0)
                idx = _weeks(n)
                a = _quiet(pd.Series(x, idx), run_forecast=False)
                found = [idx.get_loc(d) for d in a.changepoints.date]
                near += any(abs(f - k) <= 1 for f in found)
                anywhere += bool(found)
            rows.append(
                {
                    "φ": phi,
                    "weeks": n,
                    "series": reps,
                    "found within ±1 week": _pct(near, reps),
                    "any shift claimed": _pct(anywhere, reps),
                }
            )
    return pd.DataFrame(rows)


_DENOMINATORS = {"100–300": (100, 300), "300–1,000": (300, 1000), "1,000–3,000": (1000, 3000)}


def _share_series(rng, n: int, den_range, episode: tuple[int, int] | None):
    lo, hi = den_range
    median = np.exp(rng.uniform(np.log(lo), np.log(hi)))
    den = np.maximum(1, np.round(median * np.exp(rng.normal(0, 0.2, n)))).astype(int)
    p0 = rng.uniform(0.05, 0.25)
    p = p0 * np.exp(rng.normal(0, 0.1, n))  # over-dispersed: the true rate moves too
    if episode is not None:
        p[episode[0] : episode[1]] *= 3
    k = rng.binomial(den, np.clip(p, 0, 0.95))
    idx = _weeks(n)
    return pd.Series(100 * k / den, idx), pd.Series(den.astype(float), idx)


def _episode(reps: int, names, afters=(0, 8)) -> pd.DataFrame:
    rows = []
    share = ValueRange("rate", 0.0, 100.0, share=True)
    for name in names:
        for after in afters:
            rng = _rng("episode", name, after)
            n = 25 + 3 + after
            found = claimed = shifted = 0
            for _ in range(reps):
                y, den = _share_series(rng, n, _DENOMINATORS[name], (25, 28))
                a = _quiet(y, denominator=den, value_range=share, run_forecast=False)
                ep = a.episodes
                found += bool(
                    (
                        (ep.start == y.index[25]) & (ep.end == y.index[27]) & (ep.direction == "up")
                    ).any()
                )
                shifted += len(a.changepoints) > 0
                y0, den0 = _share_series(rng, n, _DENOMINATORS[name], None)
                b = _quiet(y0, denominator=den0, value_range=share, run_forecast=False)
                claimed += len(b.episodes) > 0
            rows.append(
                {
                    "weekly denominators": name,
                    "episode": "the last 3 weeks" if not after else "weeks 26-28 of 36",
                    "series": reps,
                    "reported with its dates": _pct(found, reps),
                    "level shift claimed": _pct(shifted, reps),
                    "episodes claimed without one": _pct(claimed, reps),
                }
            )
    return pd.DataFrame(rows)


def _linear(reps: int) -> pd.DataFrame:
    rows = []
    for sd in (2.0, 3.0, 6.0):
        rng = _rng("linear", sd)
        up = shift = 0
        for _ in range(reps):
            y = pd.Series(100 + 26 * np.arange(52) / 51 + rng.normal(0, sd, 52), _weeks(52))
            a = _quiet(y, run_forecast=False)
            up += a.trend.direction == "up"
            shift += len(a.changepoints) > 0
        rows.append(
            {
                "noise sd": sd,
                "weeks": 52,
                "series": reps,
                "upward trend found": _pct(up, reps),
                "level shift claimed": _pct(shift, reps),
            }
        )
    return pd.DataFrame(rows)


def _ets_level(rng, n: int) -> np.ndarray:
    """ETS(A,N,N): a local level moved by a share alpha of each error."""
    alpha, level, e = rng.uniform(0.2, 0.6), 100.0, rng.normal(0, 3, n)
    y = np.empty(n)
    for t in range(n):
        y[t] = level + e[t]
        level += alpha * e[t]
    return y


def _ets_damped(rng, n: int) -> np.ndarray:
    """ETS(A,Ad,N): a local level and a damped local slope."""
    alpha, beta, phi = rng.uniform(0.2, 0.5), rng.uniform(0.02, 0.1), 0.9
    level, slope, e = 100.0, rng.uniform(-0.5, 1.0), rng.normal(0, 3, n)
    y = np.empty(n)
    for t in range(n):
        y[t] = level + phi * slope + e[t]
        level, slope = level + phi * slope + alpha * e[t], phi * slope + beta * e[t]
    return y


def _ets_counts(rng, n: int) -> np.ndarray:
    """Counts around a local level on the log scale (multiplicative noise), Poisson drawn."""
    alpha, level, e = rng.uniform(0.2, 0.5), np.log(rng.uniform(50, 500)), rng.normal(0, 0.06, n)
    lam = np.empty(n)
    for t in range(n):
        lam[t] = np.exp(level + e[t])
        level += alpha * e[t]
    return rng.poisson(lam).astype(float)


_ETS = {
    "ETS(A,N,N) local level": (_ets_level, ValueRange("rate", None, None)),
    "ETS(A,Ad,N) damped trend": (_ets_damped, ValueRange("rate", None, None)),
    "counts on a local log level (Poisson)": (_ets_counts, ValueRange(integer=True)),
}


def _coverage_row(name: str, tables: list[pd.DataFrame], series: int, origins: int) -> dict:
    t = pd.concat(tables, ignore_index=True)
    held95 = int(((t.actual >= t.lo95) & (t.actual <= t.hi95)).sum())
    held80 = int(((t.actual >= t.lo80) & (t.actual <= t.hi80)).sum())
    return {
        "family": name,
        "series": series,
        "origins": origins,
        "held-out values": len(t),
        "95% band held": _pct(held95, len(t)),
        "80% band held": _pct(held80, len(t)),
    }


def _forecast(reps: int, names, demo: bool) -> pd.DataFrame:
    rows = []
    for name in names:
        make, vr = _ETS[name]
        rng = _rng("forecast", name)
        tables, origins = [], 0
        for _ in range(reps):
            y = pd.Series(make(rng, 60), _weeks(60))
            bt = backtest(y, "week", 8, value_range=vr, max_origins=12)
            tables.append(bt.table)
            origins += bt.origins
        rows.append(_coverage_row(name, tables, reps, origins))
    if demo:
        rows += _demo_rows()
    return pd.DataFrame(rows)


_DEMO_METRICS = [
    ("active_accounts", "week"),
    ("active_accounts", "day"),
    ("events", "week"),
    ("support_tickets", "day"),
]


def _demo_rows() -> list[dict]:
    """Backtests of the answer's own pipeline on the small demo warehouse (the tests' one)."""
    from helpers import data
    from helpers.data.demo import DemoSpec, generate
    from helpers.metric_trends import metric_series

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "demo.duckdb"
        spec = DemoSpec(events=400_000, accounts=1200, areas=4, seed=7)
        generate(spec, path)
        with data.connect(str(path)) as wh:
            as_of = data.resolve_as_of(wh, None)
            for metric, grain in _DEMO_METRICS:
                tables, origins = [], 0
                for area in ["analytics", "collaboration", "integrations", "admin"]:
                    s = metric_series(wh, metric, product_area=area, as_of=as_of, grain=grain)
                    a = analyse(
                        s.values(),
                        grain,
                        value_range=s.value_range(),
                        holidays_country="US",
                        horizon=8 if grain == "week" else 7,
                    )
                    tables.append(a.backtest.table)
                    origins += a.backtest.origins
                word = {"day": "daily", "week": "weekly"}[grain]
                rows.append(_coverage_row(f"demo: {word} {metric}", tables, 4, origins))
    return rows


def _part(task: tuple[str, float | None], smoke: bool) -> pd.DataFrame:
    """One piece of the tables: a family, or one phi's rows of the flat and step families.

    Every row draws from its own seed (:func:`_rng` of the family and the row), so the
    pieces give the same rows in any order or process."""
    kind, phi = task
    reps = 3 if smoke else 200
    weeks = [52] if smoke else _WEEKS
    if kind == "flat":
        return _flat(reps, [phi], weeks)
    if kind == "step":
        return _step(reps, [phi], weeks)
    if kind == "episode":
        return _episode(
            reps, ["300–1,000"] if smoke else list(_DENOMINATORS), (0,) if smoke else (0, 8)
        )
    if kind == "linear":
        return _linear(reps)
    return _forecast(2 if smoke else reps, list(_ETS)[:1] if smoke else list(_ETS), demo=not smoke)


def run(smoke: bool = False, jobs: int = 1) -> dict[str, pd.DataFrame]:
    """The calibration tables (``smoke``: a few series of a few families, no demo).

    ``jobs`` > 1 spreads the families (and the flat and step families' phi rows) over that
    many processes, longest first: the same tables, in about 16 minutes on 2 cores instead
    of 27."""
    phis = [0.9] if smoke else _PHIS
    tasks = [("forecast", None), ("episode", None)]
    tasks += [("flat", phi) for phi in phis] + [("step", phi) for phi in phis]
    tasks += [("linear", None)]
    work = functools.partial(_part, smoke=smoke)
    if jobs > 1:
        with multiprocessing.get_context("spawn").Pool(jobs) as pool:
            parts = dict(zip(tasks, pool.map(work, tasks, chunksize=1), strict=True))
    else:
        parts = {task: work(task) for task in tasks}
    return {
        "trends_flat": pd.concat([parts["flat", phi] for phi in phis], ignore_index=True),
        "trends_step": pd.concat([parts["step", phi] for phi in phis], ignore_index=True),
        "trends_episode": parts["episode", None],
        "trends_linear": parts["linear", None],
        "trends_forecast": parts["forecast", None],
    }
