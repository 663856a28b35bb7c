"""Feature demand on simulated paired tables: verdicts that match their intervals, error
rates of the verdict, and claims about segments only with evidence.

Tables (each written between markers in docs/feature-demand.md):

* ``demand_agreement``: random paired tables; "winner" said exactly when the interval
  excludes zero (McNemar score test with Tango's interval; paired bootstrap for ARR;
  Holm over four features).
* ``demand_calibration``: false winners on equal demand, power on the demo's planted
  difference (the generator's per-plan demand, ``helpers.data.demo._DEMAND``).
* ``demand_claims``: segments assigned at random: how often a segment is said to drive
  the difference, or to reverse it; and how often the planted ones are found.
"""

from __future__ import annotations

import datetime as dt
import gc

import numpy as np
import pandas as pd
from statsmodels.stats.proportion import proportion_confint

from helpers.data.demo import _DEMAND, _PLAN_MIX
from helpers.feature_demand import DemandData, compare, compare_demand
from helpers.feature_demand.load import SOURCES

DOC = "docs/feature-demand.md"
ACCOUNTS = 1000
PLANS = ["starter", "pro", "enterprise"]


def _rate(hits: int, n: int) -> tuple[str, str]:
    lo, hi = proportion_confint(hits, n, alpha=0.05, method="wilson")
    return f"{hits / n:.1%}", f"{lo:.1%}–{hi:.1%}"


def _excludes_zero(lo: float, hi: float) -> bool:
    return bool(lo > 0 or hi < 0)


def random_table(rng: np.random.Generator, k: int = 2) -> pd.DataFrame:
    """A random paired table of ``k`` features: 20–1,500 accounts, any demand and overlap."""
    n = int(rng.integers(20, 1501))
    base = rng.uniform(0.0, 0.35)
    own = rng.uniform(0.0, 0.25, k)
    common = rng.random(n) < base  # accounts that ask for much: asks overlap
    cols = {
        chr(97 + j): (common & (rng.random(n) < rng.uniform(0.2, 1.0))) | (rng.random(n) < own[j])
        for j in range(k)
    }
    return pd.DataFrame(cols)


def agreement(sets: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    # two features, accounts: McNemar's score test and Tango's interval
    agree = winners = 0
    for _ in range(sets):
        c = compare(random_table(rng), bootstrap_runs=0)
        row = c.pairs.iloc[0]
        winners += c.winner is not None
        agree += (c.winner is not None) == _excludes_zero(row.lo, row.hi)
    rows.append(("two features, accounts (McNemar + Tango)", sets, winners, agree))
    # the table: 14 vs 5 accounts asking for only one of the two, of 300
    asked = pd.DataFrame(
        {
            "a": [True] * 14 + [False] * 5 + [False] * 281,
            "b": [False] * 14 + [True] * 5 + [False] * 281,
        }
    )
    c = compare(asked, bootstrap_runs=0)
    row = c.pairs.iloc[0]
    rows.append(
        (
            "the issue's 14 vs 5 of 300",
            1,
            int(c.winner is not None),
            int((c.winner is not None) == _excludes_zero(row.lo, row.hi)),
        )
    )
    # two features, ARR weighting: p-value and interval from the same resamples
    agree = winners = 0
    for _ in range(sets):
        t = random_table(rng)
        arr = pd.DataFrame({"arr": rng.lognormal(9, 1.2, len(t)), "seats": 1.0})
        c = compare(
            t, accounts=arr, weighting="arr", bootstrap_runs=400, seed=int(rng.integers(1e9))
        )
        row = c.pairs.iloc[0]
        winners += c.winner is not None
        agree += (c.winner is not None) == _excludes_zero(row.lo, row.hi)
    rows.append(("two features, ARR (paired bootstrap)", sets, winners, agree))
    # four features: every pair, Holm over the six, intervals at each Holm step's level
    agree = winners = 0
    for _ in range(sets):
        c = compare(random_table(rng, 4), bootstrap_runs=0)
        sig = c.pairs.significant.to_numpy()
        exc = np.array([_excludes_zero(a, b) for a, b in zip(c.pairs.lo, c.pairs.hi, strict=True)])
        winners += int(sig.sum())
        agree += int((sig == exc).all())
    rows.append(("four features, every pair (Holm)", sets, winners, agree))
    out = pd.DataFrame(rows, columns=["family", "tables", "winners", "agree"])
    out["agreement"] = [f"{a / t:.1%}" for a, t in zip(out.agree, out.tables, strict=True)]
    out["target"] = "100%"
    out["met"] = np.where(out.agree == out.tables, "yes", "no")
    return out


def _plan_demand(rng, key: str, plans: np.ndarray) -> np.ndarray:
    return rng.random(len(plans)) < np.asarray(_DEMAND[key])[plans]


def calibration(sets: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    hits = {"equal": 0, "planted": 0, "four": 0}
    for _ in range(sets):
        plans = rng.choice(3, ACCOUNTS, p=_PLAN_MIX)
        eq = pd.DataFrame({"a": _plan_demand(rng, "C", plans), "b": _plan_demand(rng, "D", plans)})
        hits["equal"] += compare(eq, bootstrap_runs=0).winner is not None
        pl = pd.DataFrame({"a": _plan_demand(rng, "A", plans), "b": _plan_demand(rng, "B", plans)})
        hits["planted"] += compare(pl, bootstrap_runs=0).winner == "a"
        four = pd.DataFrame(rng.random((ACCOUNTS, 4)) < 0.1, columns=list("abcd"))
        hits["four"] += compare(four, bootstrap_runs=0).winner is not None
    arr_sets = max(sets // 5, 10)
    arr_hits = 0
    for _ in range(arr_sets):
        plans = rng.choice(3, ACCOUNTS, p=_PLAN_MIX)
        eq = pd.DataFrame({"a": _plan_demand(rng, "C", plans), "b": _plan_demand(rng, "D", plans)})
        arr = pd.DataFrame(
            {
                "arr": np.array([2e3, 1e4, 1.2e5])[plans] * rng.lognormal(0, 0.3, ACCOUNTS),
                "seats": 1.0,
            }
        )
        c = compare(
            eq, accounts=arr, weighting="arr", bootstrap_runs=1000, seed=int(rng.integers(1e9))
        )
        arr_hits += c.winner is not None
    for family, n, h, target, good in [
        (
            "equal demand (demo's C, D), accounts: false winners",
            sets,
            hits["equal"],
            "≤ 5%",
            lambda r: r <= 0.05,
        ),
        (
            "equal demand over four features: false winners",
            sets,
            hits["four"],
            "≤ 5%",
            lambda r: r <= 0.05,
        ),
        (
            "equal demand, ARR weighting: false winners",
            arr_sets,
            arr_hits,
            "≤ 5%",
            lambda r: r <= 0.05,
        ),
        (
            "planted difference (demo's A > B): winner found",
            sets,
            hits["planted"],
            "≥ 90%",
            lambda r: r >= 0.9,
        ),
    ]:
        rate, ci = _rate(h, n)
        rows.append((family, n, h, rate, ci, target, "yes" if good(h / n) else "no"))
    return pd.DataFrame(rows, columns=["family", "sets", "hits", "rate", "95% CI", "target", "met"])


def _data(asked: pd.DataFrame, segment: np.ndarray) -> DemandData:
    n = len(asked)
    today = dt.date(2026, 10, 31)
    return DemandData(
        product_area="simulated",
        features=list(asked.columns),
        names={f: f.upper() for f in asked.columns},
        start=today - dt.timedelta(days=364),
        end=today,
        sources=list(SOURCES),
        segment_by="plan",
        accounts=pd.DataFrame(
            {
                "account_id": [f"a{i:05d}" for i in range(n)],
                "segment": segment,
                "arr": 1.0,
                "seats": 1.0,
                "status": "active",
            }
        ),
        asked=asked.set_axis([f"a{i:05d}" for i in range(n)]),
        importance=asked.astype(float).set_axis([f"a{i:05d}" for i in range(n)]),
        first_asked=pd.DataFrame(),
        by_source=pd.DataFrame(columns=["feature", "source", "requests", "accounts"]),
        over_time=pd.DataFrame(),
    )


def claims(sets: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    count = {"drive_random": 0, "rev_random": 0, "rev_equal": 0, "drive_true": 0, "rev_true": 0}
    won = 0
    for _ in range(sets):
        plans = rng.choice(3, ACCOUNTS, p=_PLAN_MIX)
        asked = pd.DataFrame(
            {"a": _plan_demand(rng, "A", plans), "b": _plan_demand(rng, "B", plans)}
        )
        shuffled = np.array(PLANS)[rng.permutation(plans)]  # segments unrelated to demand
        r = compare_demand(_data(asked, shuffled), bootstrap_runs=0)
        won += r.winner is not None
        count["drive_random"] += bool(len(r.drivers) and r.drivers.drives.any())
        count["rev_random"] += len(r.reversals) > 0
        t = compare_demand(_data(asked, np.array(PLANS)[plans]), bootstrap_runs=0)
        count["drive_true"] += bool(
            len(t.drivers) and t.drivers[t.drivers.drives].segment.eq("enterprise").any()
        )
        count["rev_true"] += bool(len(t.reversals) and t.reversals.segment.eq("starter").any())
        eq = pd.DataFrame({"a": _plan_demand(rng, "C", plans), "b": _plan_demand(rng, "D", plans)})
        e = compare_demand(_data(eq, np.array(PLANS)[rng.permutation(plans)]), bootstrap_runs=0)
        count["rev_equal"] += len(e.reversals) > 0 or bool(
            len(e.drivers) and e.drivers.drives.any()
        )
    rows = []
    for family, h, target, good in [
        (
            "random segments, planted A > B: a segment 'drives' it",
            count["drive_random"],
            "≤ 5%",
            lambda r: r <= 0.05,
        ),
        (
            "random segments, planted A > B: a reversal claimed",
            count["rev_random"],
            "≤ 5%",
            lambda r: r <= 0.05,
        ),
        (
            "random segments, equal demand: any driver or reversal",
            count["rev_equal"],
            "≤ 5%",
            lambda r: r <= 0.05,
        ),
        (
            "true plans: enterprise found to drive A > B",
            count["drive_true"],
            "power",
            lambda r: True,
        ),
        ("true plans: starter reversal (B > A) found", count["rev_true"], "power", lambda r: True),
    ]:
        rate, ci = _rate(h, sets)
        rows.append((family, sets, h, rate, ci, target, "yes" if good(h / sets) else "no"))
    return pd.DataFrame(rows, columns=["family", "sets", "hits", "rate", "95% CI", "target", "met"])


def run(smoke: bool = False) -> dict[str, pd.DataFrame]:
    """Every table of this suite; ``smoke``: a few cases each (for the unit tests)."""
    gc.collect()
    gc.freeze()  # statsmodels' Holm calls gc.collect() on every call: keep it cheap
    try:
        return {
            "demand_agreement": agreement(8 if smoke else 1000, seed=14),
            "demand_calibration": calibration(8 if smoke else 1000, seed=15),
            "demand_claims": claims(4 if smoke else 200, seed=16),
        }
    finally:
        gc.unfreeze()
