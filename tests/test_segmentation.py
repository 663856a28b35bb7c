"""Tests of helpers.segmentation and the customer segmentation notebook."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score

from helpers import paths
from helpers.customer_segmentation import (
    account_features,
    behaviour_clusters,
    rfm_segments,
    segment,
    segment_movement,
    stability_reading,
)
from helpers.data import connect
from helpers.data.demo import create_tables
from helpers.errors import WorkbookError

AS_OF = dt.date(2026, 10, 31)
AREA = "analytics"


# --------------------------------------------------------------------------- a tiny warehouse


def _tiny_warehouse(
    path: Path,
    accounts: list[dict],
    events: list[tuple],
    *,
    nps: list[tuple] = (),
    requests: list[tuple] = (),
) -> Path:
    """A DuckDB file with the contract tables; events are (account, day, feature, area)."""
    con = duckdb.connect(str(path))
    create_tables(con)

    con.executemany(
        "INSERT INTO features VALUES (?, ?, ?, ?, ?)",
        [
            ("f1", AREA, "F1", "released", dt.date(2025, 1, 1)),
            ("f2", AREA, "F2", "released", dt.date(2025, 1, 1)),
            ("f3", AREA, "F3", "released", dt.date(2026, 12, 1)),  # released after as_of
            ("f4", AREA, "F4", "beta", None),
            ("g1", "admin", "G1", "released", dt.date(2025, 1, 1)),
        ],
    )
    con.executemany(
        "INSERT INTO accounts VALUES (?, ?, 'pro', 'EMEA', 'software', ?, ?, ?, ?)",
        [
            (
                a["id"],
                a["id"],
                a.get("created", dt.date(2025, 1, 1)),
                a.get("seats", 10),
                a.get("arr", 1000.0),
                a.get("churned"),
            )
            for a in accounts
        ],
    )
    con.executemany(
        "INSERT INTO events VALUES (?, ?, ?, ?, ?, ?)",
        [
            (
                a,
                f"{a}-u1",
                dt.datetime.combine(d, dt.time(12)) + dt.timedelta(minutes=i),
                area,
                feat,
                2.0,
            )
            for i, (a, d, feat, area) in enumerate(events)
        ],
    )
    if nps:
        con.executemany(
            "INSERT INTO nps_responses VALUES (?, ?, 'u', ?, ?, NULL)",
            [(f"n{i}", *row) for i, row in enumerate(nps)],
        )
    if requests:
        con.executemany(
            "INSERT INTO feature_requests VALUES (?, ?, ?, ?, 'sales', 2, NULL)",
            [(f"r{i}", *row) for i, row in enumerate(requests)],
        )
    con.close()
    return path


def _features(path: Path, **kw) -> pd.DataFrame:
    with connect(str(path)) as wh:
        return account_features(
            wh.table("events"),
            wh.table("accounts"),
            wh.table("features"),
            nps=wh.table("nps_responses"),
            requests=wh.table("feature_requests"),
            product_area=AREA,
            as_of=kw.pop("as_of", AS_OF),
            **kw,
        )


@pytest.fixture
def tiny(tmp_path) -> Path:
    d = AS_OF
    accounts = [
        {"id": "a", "arr": 5000.0},
        {"id": "b", "arr": 300.0},
        {"id": "c", "churned": d - dt.timedelta(days=3)},
        {"id": "d"},  # no activity in the window
        {"id": "e", "created": d + dt.timedelta(days=5)},  # not yet a customer
    ]
    events = [
        ("a", d, "f1", AREA),
        ("a", d, "f2", AREA),
        ("a", d, "f1", AREA),
        ("a", d - dt.timedelta(days=10), "f3", AREA),
        ("b", d - dt.timedelta(days=4), "f1", AREA),
        ("b", d - dt.timedelta(days=4), "g1", "admin"),
        ("b", d - dt.timedelta(days=1), "g1", "admin"),  # other area: ignored
        ("c", d - dt.timedelta(days=20), "f1", AREA),
        ("d", d - dt.timedelta(days=200), "f1", AREA),  # before the window
    ]
    nps = [
        ("a", dt.datetime(2026, 4, 15), 6),
        ("a", dt.datetime(2026, 7, 15), 9),
        ("a", dt.datetime(2026, 11, 15), 0),
    ]  # after as_of: ignored
    requests = [
        ("a", "f4", dt.datetime(2026, 5, 1)),
        ("a", "f3", dt.datetime(2026, 5, 2)),
        ("a", "f1", dt.datetime(2026, 5, 3)),  # released: not open
        ("b", "f4", dt.datetime(2026, 11, 20)),
    ]  # after as_of
    return _tiny_warehouse(tmp_path / "tiny.duckdb", accounts, events, nps=nps, requests=requests)


def test_features_hold_the_teams_accounts_with_churned_ones_marked(tiny):
    # the team's accounts: an event in the area in the window (d's is older, e has none)
    f = _features(tiny).set_index("account_id")
    assert f["status"].to_dict() == {"a": "active", "b": "active", "c": "churned"}


def test_features_count_only_the_area_and_the_window(tiny):
    f = _features(tiny).set_index("account_id")
    # a: last event on as_of, active on 2 days, 4 events; b: one area event 4 days before
    assert f.loc["a", ["recency", "frequency", "events"]].tolist() == [0, 2, 4]
    assert f.loc["a", "intensity"] == pytest.approx(2.0)
    assert f.loc["b", ["recency", "frequency", "events"]].tolist() == [4, 1, 1]
    assert "d" not in f.index  # its only event is older than the window


def test_breadth_is_share_of_released_features_at_as_of(tiny):
    f = _features(tiny).set_index("account_id")
    # released by as_of: f1, f2 (f3 is released later, g1 is another area)
    assert f.loc["a", "breadth"] == pytest.approx(2 / 2)
    assert f.loc["b", "breadth"] == pytest.approx(1 / 2)


def test_nps_and_open_requests_use_only_rows_up_to_as_of(tiny):
    f = _features(tiny).set_index("account_id")
    assert f.loc["a", "nps"] == pytest.approx(7.5)
    assert f.loc["a", "nps_latest"] == 9
    assert f.loc["a", "requests"] == 2  # f4 (beta) and f3 (released after as_of)
    assert f.loc["b", "requests"] == 0


def test_monetary_event_value_sums_the_window(tiny):
    f = _features(tiny, monetary="event_value").set_index("account_id")
    assert f.loc["a", "monetary"] == pytest.approx(8.0)
    assert f.loc["b", "monetary"] == pytest.approx(2.0)  # its admin events do not count


# --------------------------------------------------------------------------- RFM


def _plain_segment(r: int, fm: float) -> str:
    """The standard RFM table written out as plain conditions, in rule order."""
    if r >= 4 and fm >= 4:
        return "Champions"
    if r >= 3 and fm >= 3:
        return "Loyal"
    if r >= 4 and fm >= 2:
        return "Potential Loyalist"
    if r == 5:
        return "New Customers"
    if r == 4:
        return "Promising"
    if r == 3 and fm >= 2:
        return "Need Attention"
    if r == 3:
        return "About to Sleep"
    if r == 1 and fm >= 4:
        return "Can't Lose"
    if fm >= 3:
        return "At Risk"
    if fm >= 2:
        return "Hibernating"
    return "Lost"


def test_rfm_matches_plain_pandas_on_raw_rows(demo_path):
    # scores from cut-offs written out: recency in steps of the usual gap between active
    # days rounded up to weeks (1, 2, 4, 8 steps), F and M by the quintiles of the values
    lookback = 90
    start = AS_OF - dt.timedelta(days=lookback - 1)
    con = duckdb.connect(str(demo_path), read_only=True)
    ev = con.execute(
        "SELECT account_id, ts FROM events WHERE product_area = ? AND ts >= ? AND ts < ?",
        [AREA, start, AS_OF + dt.timedelta(days=1)],
    ).df()
    acc = con.execute("SELECT account_id, arr, churned_at FROM accounts").df()
    con.close()
    ev["day"] = ev.ts.dt.normalize()
    g = ev.groupby("account_id")["day"].agg(["min", "max", "nunique"])
    acc = acc.merge(g, left_on="account_id", right_index=True, how="inner")  # the team's
    acc = acc[~(acc.churned_at <= pd.Timestamp(AS_OF))].reset_index(drop=True)
    acc["recency"] = (pd.Timestamp(AS_OF) - acc["max"]).dt.days
    acc["frequency"] = acc["nunique"]
    twice = acc[acc.frequency >= 2]
    gap = ((twice["max"] - twice["min"]).dt.days / (twice.frequency - 1)).median()
    unit = 7 * max(1, int(np.ceil(gap / 7)))
    acc["r"] = 5 - np.searchsorted([unit, 2 * unit, 4 * unit, 8 * unit], acc.recency, "right")
    for col, score in (("frequency", "f"), ("arr", "m")):
        edges = np.quantile(acc[col].astype(float), [0.2, 0.4, 0.6, 0.8])
        acc[score] = 1 + np.searchsorted(edges, acc[col].astype(float), "left")
    acc["segment"] = [
        _plain_segment(r, (f + m) / 2) for r, f, m in zip(acc.r, acc.f, acc.m, strict=True)
    ]
    expected = acc.set_index("account_id").sort_index()

    got = rfm_segments(_features(demo_path, lookback_days=lookback)).table
    got = got.set_index("account_id").sort_index()
    assert list(got.index) == list(expected.index)
    assert (got[["r", "f", "m"]].to_numpy() == expected[["r", "f", "m"]].to_numpy()).all()
    assert (got["rfm_segment"] == expected["segment"]).all()


def test_rfm_rules_override_names_segments(demo_path):
    rules = [
        {"segment": "Recent", "r_min": 4, "r_max": 5, "fm_min": 1, "fm_max": 5},
        {"segment": "Quiet", "r_min": 1, "r_max": 3, "fm_min": 1, "fm_max": 5},
    ]
    res = rfm_segments(_features(demo_path), rules=rules)
    t = res.table
    assert set(t.rfm_segment) == {"Recent", "Quiet"}
    assert (t.loc[t.r >= 4, "rfm_segment"] == "Recent").all()


def test_rfm_rule_without_a_bound_is_a_workbook_error(demo_path):
    with pytest.raises(WorkbookError, match="`rfm_rules` rule 1 lacks r_max"):
        rfm_segments(
            _features(demo_path), rules=[{"segment": "X", "r_min": 1, "fm_min": 1, "fm_max": 5}]
        )


# --------------------------------------------------------------------------- clusters


def test_clusters_recover_planted_personas(demo_path, demo_truth):
    feats = _features(demo_path)
    res = behaviour_clusters(feats, stability_runs=5)  # k by silhouette over 2..8
    lab = res.labels[res.labels.cluster >= 0]  # active in the window, not churned
    truth = lab.account_id.map(demo_truth["account_persona"])
    ari = adjusted_rand_score(truth, lab.cluster)
    assert ari >= 0.85, f"ARI {ari:.3f} with k={res.k}"


def test_no_cluster_is_mostly_accounts_missing_a_clustering_feature(demo_path):
    # NPS is a default clustering feature and about 30% of active accounts never answered
    feats = _features(demo_path)
    res = behaviour_clusters(feats, stability_runs=2)
    merged = res.labels.merge(feats, on="account_id")
    assert merged["nps"].isna().mean() > 0.2
    missing = merged.groupby("cluster")[res.features].agg(lambda s: s.isna().mean())
    assert (missing.to_numpy() <= 0.5).all(), missing


def test_cluster_names_are_unique_and_readable(demo_path):
    res = behaviour_clusters(_features(demo_path), k=4, stability_runs=2)
    names = res.profile.cluster_name
    assert names.is_unique
    assert all(len(n) > 3 and not n[0].isdigit() for n in names)


@pytest.mark.parametrize(
    ("score", "reading"),
    [
        (0.59, "unstable"),
        (0.6, "doubtful"),
        (0.74, "doubtful"),
        (0.75, "stable"),
        (0.85, "stable"),
        (0.86, "highly stable"),
    ],
)
def test_stability_reading_follows_the_issue_thresholds(score, reading):
    assert stability_reading(score) == reading


# --------------------------------------------------------------------------- edge cases


def _many(tmp_path, n: int, *, same: bool) -> Path:
    d = AS_OF
    accounts = [{"id": f"x{i}", "arr": 1000.0 if same else 1000.0 * (i + 1)} for i in range(n)]
    events = [(f"x{i}", d - dt.timedelta(days=0 if same else i), "f1", AREA) for i in range(n)]
    return _tiny_warehouse(tmp_path / "many.duckdb", accounts, events)


def test_no_activity_in_window_gives_a_message(tiny):
    with connect(str(tiny)) as wh:
        seg = segment(wh, product_area=AREA, as_of=AS_OF - dt.timedelta(days=250))
    assert not seg.ok
    assert "No account used analytics" in seg.summary()[0]
    assert "No account was active" in seg.rfm.message
    assert "nothing to cluster" in seg.clusters.message


def test_single_account_gives_a_message(tmp_path):
    with connect(str(_many(tmp_path, 1, same=False))) as wh:
        seg = segment(wh, product_area=AREA, as_of=AS_OF, stability_runs=2)
    assert seg.rfm.message == "Only 1 active account(s): RFM score cut-offs need at least 5."
    assert seg.clusters.message.startswith("Only 1 active account(s), fewer than k = 2")
    assert len(seg.summary()) >= 2


def test_identical_accounts_give_a_message(tmp_path):
    with connect(str(_many(tmp_path, 12, same=True))) as wh:
        seg = segment(
            wh,
            product_area=AREA,
            as_of=AS_OF,
            stability_runs=2,
            cluster_features=["recency", "frequency", "breadth"],
        )
    assert "cannot tell them apart" in seg.rfm.message
    assert "same values" in seg.clusters.message


def test_fewer_accounts_than_k_gives_a_message(tmp_path):
    feats = _features(_many(tmp_path, 3, same=False))
    res = behaviour_clusters(feats, features=["recency"], k=4, stability_runs=2)
    assert res.message.startswith("Only 3 active account(s), fewer than k = 4")
    assert res.summary() == [res.message]


def test_bad_method_is_a_workbook_error(tiny):
    with connect(str(tiny)) as wh, pytest.raises(WorkbookError, match="`method`"):
        segment(wh, product_area=AREA, as_of=AS_OF, method="bth")


# --------------------------------------------------------------------------- movement


def test_movement_counts_accounts_arr_and_churn():
    feats = pd.DataFrame(
        {
            "account_id": ["a", "b", "c", "d"],
            "arr": [100.0, 50.0, 10.0, 7.0],
            "status": ["active", "churned", "active", "active"],
        }
    )
    prev = pd.DataFrame({"account_id": ["a", "b", "d"], "rfm_segment": ["Loyal", "Loyal", "Lost"]})
    cur = pd.DataFrame(
        {"account_id": ["a", "c", "d"], "rfm_segment": ["At Risk", "Champions", "Lost"]}
    )
    mv = segment_movement(
        prev, cur, feats, by="rfm_segment", order=["Champions", "Loyal", "At Risk", "Lost"]
    )
    assert mv.accounts.loc["Loyal", "At Risk"] == 1
    assert mv.accounts.loc["Loyal", "churned"] == 1
    assert mv.accounts.loc["new", "Champions"] == 1
    assert mv.arr.loc["Loyal", "churned"] == 50.0
    assert mv.accounts.to_numpy().sum() == 4
    assert (
        mv.summary()[0] == "2 accounts ($150 ARR) moved to a worse segment, stopped using the "
        "area or churned since last period."
    )
    assert "1 accounts, $100 ARR, moved from Loyal to At Risk." in mv.summary()


# --------------------------------------------------------------------------- the notebook


@pytest.mark.slow
def test_notebook_runs_and_records_one_assignment_per_current_account(demo_path, tmp_path):
    import papermill as pm

    run_dir = tmp_path / "run"
    pm.execute_notebook(
        str(paths.ROOT / "notebooks" / "customer_segmentation.ipynb"),
        str(tmp_path / "out.ipynb"),
        parameters={
            "team": "analytics",
            "product_area": AREA,
            "source": str(demo_path),
            "run_dir": str(run_dir),
            "stability_runs": 5,
        },
        cwd=str(paths.ROOT),
        kernel_name="python3",
        progress_bar=False,
    )
    tables = run_dir / "tables" / "customer_segmentation"
    for name in (
        "assignments",
        "summary_rfm_segment",
        "summary_cluster_name",
        "movement_rfm_segment_accounts",
        "movement_rfm_segment_arr",
    ):
        assert (tables / f"{name}.parquet").exists(), name
        assert (tables / f"{name}.csv").exists(), name
    con = duckdb.connect(str(demo_path), read_only=True)
    as_of = con.execute("SELECT max(ts)::DATE FROM events").fetchone()[0]
    # the team's current accounts: an analytics event in the 90 days to as_of, not churned
    current = set(
        con.execute(
            "SELECT DISTINCT e.account_id FROM events e JOIN accounts a USING (account_id) "
            "WHERE e.product_area = ? AND e.ts >= ? AND e.ts < ? "
            "AND (a.churned_at IS NULL OR a.churned_at > ?)",
            [AREA, as_of - dt.timedelta(days=89), as_of + dt.timedelta(days=1), as_of],
        )
        .df()
        .account_id
    )
    con.close()
    got = pd.read_parquet(tables / "assignments.parquet")
    assert got.account_id.is_unique
    assert set(got.account_id) == current
    assert {"account_id", "r", "f", "m", "rfm_segment", "cluster", "cluster_name"} <= set(
        got.columns
    )
    assert np.isin(got.r.dropna(), [1, 2, 3, 4, 5]).all()
