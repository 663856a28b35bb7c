"""Cluster names a PM can track: fixed vocabulary, company baseline, kept week to week;
stability per cluster, with unstable clusters named as such."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers import paths
from helpers.customer_segmentation import (
    CLUSTER_FEATURES,
    behaviour_clusters,
    cluster_words,
    previous_clusters,
    segment,
)
from helpers.customer_segmentation.clusters import TYPICAL, _names
from helpers.data import connect
from helpers.results import Recorder

AS_OF = dt.date(2026, 10, 31)
AREA = "analytics"
FEATURES = ["frequency", "intensity", "breadth"]
#: names do not depend on the stability refits or on RFM: skip most of them
FAST = {"product_area": AREA, "method": "clusters", "stability_runs": 3}


def _feats(values: dict[str, np.ndarray]) -> pd.DataFrame:
    n = len(next(iter(values.values())))
    out = pd.DataFrame({"account_id": [f"a{i:04d}" for i in range(n)], "status": "active"})
    for f in CLUSTER_FEATURES:
        out[f] = values.get(f, np.ones(n))
    out.attrs.update(monetary="arr", lookback_days=90)
    return out


def _baseline(q: dict[str, tuple[float, float, float, float, float]]) -> pd.DataFrame:
    return pd.DataFrame.from_dict(
        q, orient="index", columns=["q20", "q33", "q50", "q67", "q80"]
    ).rename_axis("feature")


@settings(max_examples=80, deadline=None, derandomize=True)
@given(
    medians=st.lists(
        st.tuples(*[st.floats(0, 100, allow_nan=False) for _ in FEATURES]), min_size=2, max_size=8
    ),
    zs=st.lists(st.floats(-3, 3, allow_nan=False), min_size=24, max_size=24),
)
def test_names_use_the_vocabulary_and_never_say_two_things_of_one_feature(medians, zs):
    profile = pd.DataFrame(medians, columns=FEATURES)
    for j, f in enumerate(FEATURES):
        profile[f"z_{f}"] = zs[j :: len(FEATURES)][: len(profile)]
    profile["cluster"] = range(len(profile))
    profile["accounts"] = 10
    quant = _baseline({f: (10, 20, 50, 80, 90) for f in FEATURES})
    words = cluster_words("arr")
    names, _, _ = _names(profile, FEATURES, quant, words, None, profile.assign(_cluster=-1))
    assert len(set(names)) == len(names)
    reverse = {w: f for f in FEATURES for w in words[f]}
    for name in names:
        base = name.split(" (")[0]
        if base == TYPICAL:
            continue
        used = [reverse[w] for w in base.split(" · ")]  # every word is in the vocabulary
        assert len(used) == len(set(used)), name  # at most one word per feature


def test_names_compare_with_the_company_not_with_the_team():
    rng = np.random.default_rng(1)
    # a team of heavy users only: two groups, both above the company's 67% quantile
    freq = np.r_[rng.normal(60, 2, 100), rng.normal(80, 2, 100)]
    feats = _feats({"frequency": freq, "intensity": np.r_[np.full(100, 5.0), np.full(100, 5.0)]})
    company = _baseline({"frequency": (5, 10, 20, 30, 40), "intensity": (1, 3, 5, 7, 9)})
    res = behaviour_clusters(
        feats, features=["frequency", "intensity"], k=2, stability_runs=2, baseline=company
    )
    # by the team's own middle one group would be "few active days"; by the company's, not
    assert all(n.startswith("many active days") for n in res.profile.cluster_name)
    assert res.profile.cluster_name.is_unique


def _plain_clusterboot(x: np.ndarray, labels: np.ndarray, k: int, rng, runs: int = 12) -> dict:
    """Hennig's clusterboot written out with sets: mean best Jaccard per original cluster."""
    from sklearn.cluster import KMeans

    got: dict[int, list[float]] = {c: [] for c in range(k)}
    for _ in range(runs):
        idx = rng.integers(0, len(x), len(x))
        km = KMeans(n_clusters=k, n_init=10, random_state=int(rng.integers(1000))).fit(x[idx])
        drawn = sorted(set(idx.tolist()))
        new = dict(zip(drawn, km.predict(x[drawn]), strict=True))
        for c in range(k):
            a = {i for i in drawn if labels[i] == c}
            if a:
                got[c].append(
                    max(
                        len(a & b) / len(a | b)
                        for b in ({i for i in drawn if new[i] == d} for d in range(k))
                    )
                )
    return {c: float(np.mean(v)) for c, v in got.items()}


def test_an_unstable_cluster_is_found_and_the_answer_says_not_to_act_on_it(demo_path, rng):
    from sklearn.preprocessing import StandardScaler

    feats_used = ["frequency", "intensity", "breadth"]
    with connect(str(demo_path)) as wh:
        seg = segment(wh, product_area=AREA, as_of=AS_OF, cluster_features=feats_used, k=5)
    prof = seg.clusters.profile.set_index("cluster")
    bad = prof[prof.reading.isin(["unstable", "doubtful"])]
    assert len(bad), prof[["cluster_name", "stability"]]
    # an independent clusterboot (other resamples, plain sets) agrees on which are weak
    act = seg.features[seg.features.status == "active"].set_index("account_id")
    lab = seg.clusters.labels.set_index("account_id").loc[act.index, "cluster"].to_numpy()
    x = np.column_stack([act.frequency, np.log1p(act.intensity), act.breadth])
    plain = pd.Series(_plain_clusterboot(StandardScaler().fit_transform(x), lab, 5, rng))
    # the same clusters are weak and strong, up to resampling noise (a weak cluster's
    # Jaccard swings between about 0.4 and 1 from one resample to the next)
    assert (plain[bad.index] < 0.85).all(), plain
    strong = prof.index[prof.stability > 0.95]
    assert len(strong) and (plain[strong] > 0.9).all(), plain
    assert plain[prof.stability.idxmin()] < 0.75
    said = [s for s in seg.summary() if "Do not act on" in s]
    assert said and all(name in said[0] for name in bad.cluster_name)


def test_a_cluster_keeps_last_runs_name_while_it_is_the_same_accounts_and_still_true(demo_path):
    with connect(str(demo_path)) as wh:
        week1 = segment(wh, **FAST, as_of=AS_OF - dt.timedelta(days=7))
        # last run's names with their words reversed: still true, but never a fresh name
        prev = week1.assignments[["account_id", "cluster_name"]].copy()
        prev["cluster_name"] = prev["cluster_name"].map(lambda n: " · ".join(n.split(" · ")[::-1]))
        fresh = segment(wh, **FAST, as_of=AS_OF)
        kept = segment(wh, **FAST, as_of=AS_OF, previous=prev)
    got = kept.clusters.profile
    assert set(got.cluster_name) == set(prev.cluster_name)
    assert (got.named == "kept").all()
    reversed_names = {n for n in got.cluster_name if " · " in n}
    assert reversed_names and not reversed_names & set(fresh.clusters.profile.cluster_name)
    # the same accounts carry the same name as last week
    both = kept.assignments.merge(prev, on="account_id", suffixes=("", "_then"))
    assert (both.cluster_name == both.cluster_name_then).mean() > 0.9


def test_a_name_that_no_longer_fits_is_replaced_and_the_note_says_so(demo_path):
    with connect(str(demo_path)) as wh:
        week1 = segment(wh, **FAST, as_of=AS_OF - dt.timedelta(days=7))
        prev = week1.assignments[["account_id", "cluster_name"]].copy()
        busiest = week1.clusters.profile.sort_values("frequency").cluster_name.iloc[-1]
        prev.loc[prev.cluster_name == busiest, "cluster_name"] = "few active days"  # untrue
        kept = segment(wh, **FAST, as_of=AS_OF, previous=prev)
    assert "few active days" not in set(kept.clusters.profile.cluster_name)
    assert any("no longer fits: few active days" in n for n in kept.clusters.notes)


@pytest.fixture
def outputs(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBOOK_OUTPUTS", str(tmp_path / "outputs"))
    return tmp_path / "outputs"


def test_rerunning_a_week_later_keeps_every_clusters_name(demo_path, outputs):
    with connect(str(demo_path)) as wh:
        week1 = segment(wh, **FAST, as_of=AS_OF - dt.timedelta(days=7), team=AREA)
        # record it as the team's latest run, the way the runner leaves it
        run = paths.TeamFolder(AREA).run("week1")
        Recorder(run.path, "customer_segmentation").table("assignments", week1.assignments)
        paths.TeamFolder(AREA).latest_link.symlink_to(run.path)
        assert previous_clusters(AREA) is not None
        week2 = segment(wh, **FAST, as_of=AS_OF, team=AREA)
    assert week2.clusters.k == week1.clusters.k
    assert set(week2.clusters.profile.cluster_name) == set(week1.clusters.profile.cluster_name)
    assert (week2.clusters.profile.named == "kept").all()
