"""One paired method for each verdict and its interval; sentences that follow the parameters."""

from __future__ import annotations

import datetime as dt
import re

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.contingency_tables import mcnemar

from helpers import feature_demand as demand
from helpers.feature_demand.load import SOURCES
from validation.demand import random_table


def _excludes_zero(lo, hi) -> bool:
    return bool(lo > 0 or hi < 0)


def test_tango_interval_excludes_zero_exactly_when_mcnemar_rejects_on_1000_tables(rng):
    # random paired tables, vectorised: the verdict from statsmodels' McNemar (uncorrected
    # chi-square), the interval from the helper; they must agree on every table
    n = rng.integers(5, 3000, 1000)
    cells = rng.dirichlet([0.5, 1, 1, 3], 1000) * rng.uniform(0.01, 1, (1000, 1))
    b = rng.binomial(n, cells[:, 1])
    c = rng.binomial(n - b, cells[:, 2] / (1 - cells[:, 1]))
    level = rng.choice([0.01, 0.05, 0.1, 0.2], 1000)
    lo, hi = demand.tango_interval(b, c, n, level)
    p = np.array(
        [
            1.0
            if bi + ci == 0
            else mcnemar([[0, bi], [ci, 0]], exact=False, correction=False).pvalue
            for bi, ci in zip(b, c, strict=True)
        ]
    )
    reject = p < level
    assert reject.sum() > 100 and (~reject).sum() > 100  # both verdicts are exercised
    excl = (lo > 0) | (hi < 0)
    assert (excl == reject).all()
    d = (b - c) / n
    assert ((lo <= d) & (d <= hi)).all()


def test_the_winner_is_named_exactly_when_the_interval_in_its_sentence_excludes_zero(rng):
    for _ in range(80):
        asked = random_table(rng)
        c = demand.compare(asked, bootstrap_runs=0)
        row = c.pairs.iloc[0]
        assert (c.winner is not None) == _excludes_zero(row.lo, row.hi)


def test_every_pair_of_four_features_is_significant_exactly_when_its_holm_interval_excludes_zero(
    rng,
):
    for _ in range(40):
        c = demand.compare(random_table(rng, 4), bootstrap_runs=0)
        exc = [_excludes_zero(lo, hi) for lo, hi in zip(c.pairs.lo, c.pairs.hi, strict=True)]
        assert c.pairs.significant.tolist() == exc
        # a rejected pair's interval is at its Holm step's level, never wider than all-pairs
        assert (c.pairs.level <= 1 - 0.05 / 6 + 1e-12).all() and (c.pairs.level >= 0.95).all()


def test_arr_verdict_and_interval_come_from_the_same_resamples(rng):
    for _ in range(20):
        t = random_table(rng)
        arr = pd.DataFrame({"arr": rng.lognormal(9, 1.2, len(t)), "seats": 1.0})
        c = demand.compare(t, accounts=arr, weighting="arr", bootstrap_runs=200, seed=3)
        row = c.pairs.iloc[0]
        assert (c.winner is not None) == _excludes_zero(row.lo, row.hi)


def test_the_issues_table_now_says_winner_with_an_interval_that_excludes_zero():
    # 14 vs 5 accounts asking for only one of two, of 300: McNemar exact p = 0.064 said
    # "no clear winner" beside a bootstrap interval of +0.3 to +6.0 points
    asked = pd.DataFrame(
        {
            "a": [True] * 14 + [False] * 5 + [False] * 281,
            "b": [False] * 14 + [True] * 5 + [False] * 281,
        }
    )
    c = demand.compare(asked, bootstrap_runs=0)
    row = c.pairs.iloc[0]
    assert c.winner == "a"
    assert row.lo > 0
    # statsmodels' uncorrected McNemar: the statistic the verdict rests on
    assert row.p == pytest.approx(
        mcnemar([[0, 14], [5, 281]], exact=False, correction=False).pvalue
    )


def _data(asked: pd.DataFrame, accounts: pd.DataFrame) -> demand.DemandData:
    today = dt.date(2026, 10, 31)
    ids = [f"a{i:04d}" for i in range(len(asked))]
    return demand.DemandData(
        product_area="analytics",
        features=list(asked.columns),
        names={"a": "AI insights", "b": "PDF reports"},
        start=today - dt.timedelta(days=364),
        end=today,
        sources=list(SOURCES),
        segment_by="plan",
        accounts=accounts.assign(account_id=ids, status="active"),
        asked=asked.set_axis(ids),
        importance=asked.astype(float).set_axis(ids),
        first_asked=pd.DataFrame(),
        by_source=pd.DataFrame(columns=["feature", "source", "requests", "accounts"]),
        over_time=pd.DataFrame(),
    )


@pytest.fixture
def planted(rng):
    n = 1200
    plan = rng.choice(["starter", "pro", "enterprise"], n, p=[0.5, 0.35, 0.15])
    asked = pd.DataFrame({"a": rng.random(n) < 0.2, "b": rng.random(n) < 0.1})
    arr = np.where(plan == "enterprise", 1e5, 3e3)
    arr[0] = 5e7  # one account holds most of the ARR
    asked.loc[0, "b"] = True
    return asked, pd.DataFrame({"segment": plan, "plan": plan, "arr": arr, "seats": 1.0})


@pytest.mark.parametrize("alpha", [0.1, 0.01])
def test_interval_levels_in_the_sentences_follow_alpha(planted, alpha):
    r = demand.compare_demand(_data(*planted), alpha=alpha, bootstrap_runs=300)
    text = " ".join(r.summary())
    levels = re.findall(r"(\d+(?:\.\d)?)% CI", text)
    assert levels
    assert f"{100 * (1 - alpha):.0f}% CI" in text
    assert "95% CI" not in text


def test_a_bootstrap_p_value_is_never_shown_as_zero_or_below_its_resolution(planted):
    r = demand.compare_demand(_data(*planted), weighting="arr", bootstrap_runs=300)
    first = r.summary()[0]
    assert "p < 0.001" not in first
    assert "p = 0.000" not in first
    p_boot = r.overall.pairs.arr_p_boot.min()
    assert p_boot >= 2 / 301  # (m + 1) / (R + 1), two-sided


def test_arr_answer_gives_the_effective_number_and_warns_when_one_account_decides(planted):
    asked, accounts = planted
    r = demand.compare_demand(_data(asked, accounts), bootstrap_runs=300)
    arr_sentence = next(s for s in r.summary() if s.startswith("By ARR"))
    # Kish's effective number, by hand: (sum w)^2 / sum w^2 over the accounts that asked
    w = accounts.arr.to_numpy()[asked.b.to_numpy()]
    n_eff = w.sum() ** 2 / (w**2).sum()
    assert f"PDF reports {n_eff:.0f}" in arr_sentence
    top = w.max() / w.sum()
    assert f"holds {top:.0%} of the ARR behind PDF reports" in arr_sentence
    assert "read the ARR comparison as indicative" in arr_sentence
