"""RFM scores that treat equal accounts equally, on a scale that fits the product's cadence."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers.customer_segmentation import account_features, rfm_cutoffs, rfm_segments
from helpers.data import connect

AS_OF = dt.date(2026, 10, 31)


def _frame(recency, frequency, monetary, ids, *, first_gap_days=None) -> pd.DataFrame:
    """A features frame as account_features returns it, for the columns RFM reads."""
    n = len(ids)
    last = pd.Timestamp(AS_OF) - pd.to_timedelta(np.asarray(recency, dtype=float), unit="D")
    freq = np.asarray(frequency, dtype=np.int64)
    gap = np.full(n, 2.0) if first_gap_days is None else np.asarray(first_gap_days, float)
    first = last - pd.to_timedelta(np.maximum(freq - 1, 0) * gap, unit="D")
    out = pd.DataFrame(
        {
            "account_id": ids,
            "status": "active",
            "recency": np.asarray(recency, dtype=float),
            "frequency": freq,
            "monetary": np.asarray(monetary, dtype=float),
            "first_active": first,
            "last_active": last,
        }
    )
    out.attrs.update(lookback_days=90, as_of=AS_OF.isoformat(), monetary="arr")
    return out


# a few distinct values each, so that many accounts tie
VALUES = st.tuples(
    st.sampled_from([0, 0, 1, 1, 2, 3, 6, 13, 30, 70]),  # recency: most seen 0-1 days ago
    st.sampled_from([1, 1, 1, 1, 2, 3, 10, 40]),  # frequency: many one-time buyers
    st.sampled_from([0.0, 0.0, 120.0, 120.0, 999.5, 5000.0]),  # monetary
)


@settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(rows=st.lists(VALUES, min_size=8, max_size=80), seed=st.integers(0, 2**32 - 1))
def test_equal_values_get_equal_scores_and_segment_whatever_the_ids(rows, seed):
    rng = np.random.default_rng(seed)
    rec, freq, mon = (list(c) for c in zip(*rows, strict=True))
    if len({tuple(r) for r in rows}) < 2:
        return  # every account identical: RFM says so instead of scoring
    ids = [f"acc-{i:04d}" for i in rng.permutation(len(rows))]
    res = rfm_segments(_frame(rec, freq, mon, ids))
    t = res.table
    per_value = t.groupby(["recency", "frequency", "monetary"])[["r", "f", "m", "rfm_segment"]]
    assert (per_value.nunique() == 1).all().all()
    # the same accounts under other ids, in another order: every account keeps its scores
    order = rng.permutation(len(rows))
    other_ids = [f"x{j:04d}" for j in rng.permutation(len(rows))]
    res2 = rfm_segments(
        _frame(
            np.asarray(rec)[order],
            np.asarray(freq)[order],
            np.asarray(mon)[order],
            list(np.asarray(other_ids)[order]),
        )
    )
    key = ["recency", "frequency", "monetary"]
    a = t.drop_duplicates(key).set_index(key)[["r", "f", "m", "rfm_segment"]].sort_index()
    b = res2.table.drop_duplicates(key).set_index(key)[["r", "f", "m", "rfm_segment"]]
    pd.testing.assert_frame_equal(a, b.sort_index())


def test_identical_one_time_buyers_share_one_frequency_score():
    # a shop where 60% of buyers bought once: they are all equal, so all get the same F
    n = 100
    freq = [1] * 60 + list(range(2, 42))
    res = rfm_segments(_frame([5] * n, freq, np.linspace(10, 1000, n), [f"a{i}" for i in range(n)]))
    once = res.table[res.table.frequency == 1]
    assert once["f"].nunique() == 1
    assert once["f"].iloc[0] == 1


@pytest.mark.parametrize(("gap_days", "unit"), [(1.0, 7), (6.5, 7), (7.5, 14), (20.0, 21)])
def test_recency_steps_are_the_usual_gap_between_active_days_in_whole_weeks(gap_days, unit):
    n = 40
    f = _frame(
        np.arange(n) % 9,
        np.full(n, 5),
        np.arange(n, dtype=float),
        [f"a{i}" for i in range(n)],
        first_gap_days=np.full(n, gap_days),
    )
    cut = rfm_cutoffs(f)
    assert cut.cadence_days == pytest.approx(gap_days)
    assert cut.unit_days == unit
    assert cut.recency == (unit, 2 * unit, 4 * unit, 8 * unit)


def test_recency_scores_follow_the_steps():
    f = _frame([0, 6, 7, 13, 14, 27, 28, 55, 56, 80], [3] * 10, [1.0] * 10, list("abcdefghij"))
    res = rfm_segments(f)
    # steps of 7 days (the usual gap is 2 days): <7 -> 5, <14 -> 4, <28 -> 3, <56 -> 2
    assert res.table.set_index("account_id")["r"].tolist() == [5, 5, 4, 4, 3, 3, 2, 2, 1, 1]


_SLEEPING = {"About to Sleep", "Can't Lose", "At Risk", "Hibernating", "Lost"}


@pytest.mark.parametrize("days_back", range(7))
def test_no_account_seen_in_the_last_3_days_is_at_risk_or_sleeping_on_the_demo(
    demo_path, days_back
):
    as_of = AS_OF - dt.timedelta(days=days_back)  # every weekday once
    with connect(str(demo_path)) as wh:
        feats = account_features(
            wh.table("events"),
            wh.table("accounts"),
            wh.table("features"),
            product_area="analytics",
            as_of=as_of,
        )
    t = rfm_segments(feats).table
    recent = t[t.recency <= 3]
    assert len(recent) > 100
    assert not recent.rfm_segment.isin(_SLEEPING).any()
    assert t.rfm_segment.isin(_SLEEPING).any()  # the segments exist, for quieter accounts


def test_an_unchanged_account_keeps_its_scores_when_others_change():
    # with the cut-offs of as_of at both dates, only the account's own values decide
    ids = [f"a{i}" for i in range(30)]
    now = _frame(np.arange(30) % 10, np.arange(1, 31), np.arange(30) * 100.0, ids)
    then = now.copy()
    then.loc[10:, "frequency"] = 1  # the others were barely active then
    cur = rfm_segments(now)
    before = rfm_segments(then, cutoffs=cur.cutoffs)
    a = cur.table.set_index("account_id").loc[ids[:10], ["r", "f", "m"]]
    b = before.table.set_index("account_id").loc[ids[:10], ["r", "f", "m"]]
    pd.testing.assert_frame_equal(a, b)
    # scored with their own cut-offs the same unchanged accounts would have moved
    own = rfm_segments(then).table.set_index("account_id").loc[ids[:10], ["r", "f", "m"]]
    assert not own.equals(a)
