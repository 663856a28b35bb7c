"""Feature demand: statistics against statsmodels, simulated error rates, the planted truth."""

from __future__ import annotations

import datetime as dt
import gc
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.contingency_tables import mcnemar
from statsmodels.stats.proportion import proportion_confint

from helpers import feature_demand as demand
from helpers.data import connect
from helpers.data.demo import _DEMAND, _PLAN_MIX
from helpers.errors import WorkbookError

AREA = "analytics"
FEATURES = ["ai_insights", "custom_metrics", "dark_mode", "pdf_reports"]
SIMULATIONS = 200

# ibis 12's DuckDB backend calls duckdb's deprecated fetch_arrow_table (third-party, not ours)
pytestmark = pytest.mark.filterwarnings(
    r"ignore:fetch_arrow_table\(\) is deprecated:DeprecationWarning"
)


@pytest.fixture(scope="module")
def wh(demo_path):
    with connect(str(demo_path)) as w:
        yield w


@pytest.fixture(scope="module")
def as_of(demo_path) -> dt.date:
    con = duckdb.connect(str(demo_path), read_only=True)
    latest = con.sql("SELECT max(ts) FROM events").fetchone()[0]
    con.close()
    return latest.date()


@pytest.fixture(scope="module")
def raw(demo_path, as_of):
    """The team's accounts (an event in AREA in the window) and the asked matrix, in plain pandas."""
    con = duckdb.connect(str(demo_path), read_only=True)
    events = con.sql(f"SELECT account_id, ts FROM events WHERE product_area = '{AREA}'").df()
    requests = con.sql("SELECT account_id, feature, created_at FROM feature_requests").df()
    con.close()
    end = pd.Timestamp(as_of) + pd.Timedelta(days=1)
    start = end - pd.Timedelta(days=365)
    in_window = events[(events.ts >= start) & (events.ts < end)]
    active = sorted(set(in_window.account_id))
    req = requests[
        (requests.created_at >= start)
        & (requests.created_at < end)
        & requests.feature.isin(FEATURES)
        & requests.account_id.isin(active)
    ]
    asked = pd.crosstab(req.account_id, req.feature).reindex(index=active, columns=FEATURES)
    return asked.fillna(0).gt(0)


@pytest.fixture(scope="module")
def analytics_result(wh, as_of):
    data = demand.load_demand(wh, AREA, FEATURES, as_of=as_of, window_days=365)
    return demand.compare_demand(data, bootstrap_runs=300, seed=1)


# --------------------------------------------------------------------------- statistics


def test_wilson_intervals_equal_statsmodels_on_raw_counts(analytics_result, raw):
    shares = analytics_result.overall.shares.set_index("feature")
    n = len(raw)
    for f in FEATURES:
        k = int(raw[f].sum())
        # statsmodels.stats.proportion.proportion_confint(k, n, method="wilson")
        lo, hi = proportion_confint(k, n, alpha=0.05, method="wilson")
        assert shares.loc[f, "accounts"] == k
        assert shares.loc[f, "active_accounts"] == n
        assert shares.loc[f, "share_lo"] == pytest.approx(lo, abs=1e-12)
        assert shares.loc[f, "share_hi"] == pytest.approx(hi, abs=1e-12)


def test_mcnemar_score_statistic_and_p_equal_statsmodels_on_raw_counts(analytics_result, raw):
    for a, b in [("ai_insights", "custom_metrics"), ("dark_mode", "pdf_reports")]:
        x, y = raw[a], raw[b]
        table = [
            [int((x & y).sum()), int((x & ~y).sum())],
            [int((~x & y).sum()), int((~x & ~y).sum())],
        ]
        # statsmodels.stats.contingency_tables.mcnemar, chi-square without continuity
        # correction: the score test whose inversion is Tango's interval
        expected = mcnemar(table, exact=False, correction=False)
        row = analytics_result.overall.pair(a, b)
        assert row.statistic == pytest.approx(expected.statistic, rel=1e-12)
        assert row.p == pytest.approx(expected.pvalue, rel=1e-12)


def test_tango_interval_equals_the_published_cavo_2012_example():
    # Fagerland, Lydersen & Laake, Statistical Analysis of Contingency Tables (2017), ch. 8:
    # complete response before/after consolidation (Cavo et al. 2012), table [[59, 6],
    # [16, 80]]: Tango asymptotic score 95% CI -0.1240 to -0.0054 (R contingencytables)
    asked = pd.DataFrame(
        {
            "a": [True] * 59 + [True] * 6 + [False] * 16 + [False] * 80,
            "b": [True] * 59 + [False] * 6 + [True] * 16 + [False] * 80,
        }
    )
    row = demand.mcnemar_pairs(asked).iloc[0]
    assert row["diff"] == pytest.approx(-10 / 161)
    assert row.diff_lo == pytest.approx(-0.1240, abs=5e-5)
    assert row.diff_hi == pytest.approx(-0.0054, abs=5e-5)
    assert bool(row.significant)  # the interval excludes zero, so the test rejects


def test_tango_bounds_solve_the_score_equation_with_an_independent_likelihood_fit():
    from scipy.optimize import minimize_scalar
    from scipy.stats import norm

    b, c, n = 14, 5, 300  # the example: 14 vs 5 discordant accounts of 300
    lo, hi = demand.tango_interval(b, c, n, 0.05)
    assert lo > 0  # McNemar's score test rejects (z = 9 / sqrt(19) = 2.06): so does the interval

    def z(delta: float) -> float:
        # restricted MLE of p(only b) under p_a - p_b = delta, by numerical maximisation
        def nll(q: float) -> float:
            return -(
                b * np.log(q + delta) + c * np.log(q) + (n - b - c) * np.log(1 - 2 * q - delta)
            )

        q = minimize_scalar(
            nll,
            bounds=(max(1e-12, -delta + 1e-12), (1 - delta) / 2 - 1e-12),
            method="bounded",
            options={"xatol": 1e-14},
        ).x
        return (b - c - n * delta) / np.sqrt(n * (2 * q + delta - delta**2))

    crit = norm.isf(0.025)
    assert z(float(lo)) == pytest.approx(crit, abs=1e-4)
    assert z(float(hi)) == pytest.approx(-crit, abs=1e-4)


def test_holm_adjusted_p_values_equal_statsmodels_multipletests(rng):
    from statsmodels.stats.multitest import multipletests

    asked = pd.DataFrame(rng.random((400, 4)) < [0.1, 0.12, 0.15, 0.2], columns=list("abcd"))
    pairs = demand.mcnemar_pairs(asked)
    expected = multipletests(pairs.p.to_numpy(), method="holm")[1]
    np.testing.assert_allclose(pairs.p_holm.to_numpy(), expected, rtol=1e-12)


def test_paired_intervals_match_the_paired_normal_interval_on_a_large_sample(rng):
    # strongly correlated asks: an unpaired interval would be about twice as wide
    n = 3000
    base = rng.random(n) < 0.2
    a = base | (rng.random(n) < 0.04)
    b = base & (rng.random(n) < 0.9)
    asked = pd.DataFrame({"a": a, "b": b})
    ones = pd.DataFrame({"arr": np.ones(n), "seats": np.ones(n)})  # ARR share = account share
    res = demand.compare(asked, accounts=ones, weighting="arr", bootstrap_runs=4000, seed=3)
    row = res.pair("a", "b")
    only_a, only_b = int((a & ~b).sum()), int((~a & b).sum())
    # the textbook paired-proportions standard error (e.g. Agresti, Categorical Data Analysis)
    d = (only_a - only_b) / n
    se = np.sqrt((only_a + only_b) / n - d**2) / np.sqrt(n)
    assert row.accounts_diff == pytest.approx(d)
    for lo, hi in [("accounts_diff_lo", "accounts_diff_hi"), ("arr_diff_lo", "arr_diff_hi")]:
        assert row[lo] == pytest.approx(d - 1.96 * se, abs=0.004), lo  # Tango, bootstrap
        assert row[hi] == pytest.approx(d + 1.96 * se, abs=0.004), hi


def test_ranking_ties_features_whose_difference_is_not_significant(rng):
    n = 2000
    asked = pd.DataFrame(
        {"top": rng.random(n) < 0.3, "x": rng.random(n) < 0.1, "y": rng.random(n) < 0.1}
    )
    res = demand.compare(asked, bootstrap_runs=0)
    rank = res.ranking.set_index("feature")["rank"]
    assert rank["top"] == 1
    assert rank["x"] == rank["y"] == 2


# --------------------------------------------------------------------------- simulation


@pytest.fixture
def frozen_gc():
    """Move the test process's objects out of the collector's sight for a loop of helper calls.

    statsmodels' Holm (multipletests) calls gc.collect() on every call; with pytest's heap
    that costs ~0.2 s each. Freezing only makes those collections cheap, nothing else.
    """
    gc.collect()
    gc.freeze()
    yield
    gc.unfreeze()


def _winners(p_a: np.ndarray, p_b: np.ndarray, rng: np.random.Generator) -> list[str | None]:
    """The helper's verdict on SIMULATIONS paired data sets drawn at once."""
    n = p_a.shape[1]
    a = rng.random((SIMULATIONS, n)) < p_a
    b = rng.random((SIMULATIONS, n)) < p_b
    return [
        demand.compare(pd.DataFrame({"a": a[i], "b": b[i]}), bootstrap_runs=0).winner
        for i in range(SIMULATIONS)
    ]


def _plan_probabilities(rng, n: int, key: str) -> np.ndarray:
    """Per account, the generator's demand for feature ``key`` given a plan drawn from its mix."""
    plan = rng.choice(3, size=(SIMULATIONS, n), p=_PLAN_MIX)
    return np.asarray(_DEMAND[key])[plan]


def test_equal_demand_declares_a_winner_at_most_6_percent_of_the_time(rng, frozen_gc):
    p = _plan_probabilities(rng, 1000, "C")
    winners = _winners(p, _plan_probabilities(rng, 1000, "D"), rng)
    assert np.mean([w is not None for w in winners]) <= 0.06


def test_equal_demand_over_four_features_declares_a_winner_at_most_6_percent(rng, frozen_gc):
    x = rng.random((SIMULATIONS, 1000, 4)) < 0.1
    winners = [
        demand.compare(pd.DataFrame(x[i], columns=list("abcd")), bootstrap_runs=0).winner
        for i in range(SIMULATIONS)
    ]
    assert np.mean([w is not None for w in winners]) <= 0.06


def test_planted_difference_is_found_at_least_90_percent_of_the_time(rng, frozen_gc):
    plan = rng.choice(3, size=(SIMULATIONS, 1000), p=_PLAN_MIX)
    p_a, p_b = np.asarray(_DEMAND["A"])[plan], np.asarray(_DEMAND["B"])[plan]
    winners = _winners(p_a, p_b, rng)
    assert np.mean([w == "a" for w in winners]) >= 0.90


# --------------------------------------------------------------------------- planted truth


@pytest.mark.parametrize("area", ["analytics", "collaboration", "integrations", "admin"])
def test_planted_starter_reversal_is_reported_on_the_demo(wh, as_of, demo_truth, area):
    # the planted pair alone (3 plan × pair tests): with four features the 18 tests'
    # Holm correction is, rightly, too strict for the small demo's starter reversal
    truth = demo_truth["demand"][area]["differ"]
    rev = truth["reversal"]
    cat = wh.table("features").to_pandas()
    feats = [truth["a"], truth["b"]]
    data = demand.load_demand(wh, area, feats, as_of=as_of, segment_by=rev["dimension"])
    result = demand.compare_demand(data, bootstrap_runs=100)
    assert result.overall.beats(truth["winner"], truth["b"])
    found = result.reversals[
        (result.reversals.segment == rev["segment"])
        & (result.reversals.winner == rev["winner"])
        & (result.reversals.loser == truth["winner"])
    ]
    assert len(found) == 1
    names = dict(zip(cat.feature, cat.name, strict=True))
    sentence = [s for s in result.summary() if f"among {rev['segment']} accounts" in s]
    assert sentence and names[rev["winner"]] in sentence[0]


def test_equal_planted_pair_is_not_declared_different_on_the_demo(wh, as_of, demo_truth):
    eq = demo_truth["demand"]["collaboration"]["equal"]
    data = demand.load_demand(wh, "collaboration", [eq["a"], eq["b"]], as_of=as_of)
    result = demand.compare_demand(data, bootstrap_runs=100)
    assert result.winner is None
    assert result.summary()[0].startswith("No clear winner between")


@pytest.mark.parametrize("feature", ["alerts", "dashboards"])
def test_adoption_share_counts_only_accounts_active_since_the_feature_was_available(
    wh, as_of, demo_path, raw, feature
):
    # alerts is released inside the window, dashboards before it
    con = duckdb.connect(str(demo_path), read_only=True)
    end = pd.Timestamp(as_of) + pd.Timedelta(days=1)
    start = end - pd.Timedelta(days=365)
    released = pd.Timestamp(
        con.sql(f"SELECT released_at FROM features WHERE feature = '{feature}'").fetchone()[0]
    )
    ev = con.sql(
        f"SELECT account_id, feature, ts FROM events WHERE product_area = '{AREA}' "
        f"AND ts >= TIMESTAMP '{start}' AND ts < TIMESTAMP '{end}'"
    ).df()
    con.close()
    since = max(released, start)
    could = set(ev.loc[ev.ts >= since, "account_id"])
    used = set(ev.loc[ev.feature == feature, "account_id"])
    table = demand.adoption(wh, AREA, as_of=as_of).set_index("feature")
    assert table.loc[feature, "active_accounts"] == len(could)
    assert table.loc[feature, "adoption"] == pytest.approx(len(used & could) / len(could))
    assert len(could) <= len(raw)


def test_segment_breakdown_falls_back_to_plan_without_a_segmentation_run(wh, as_of, workbook_root):
    data = demand.load_demand(wh, AREA, FEATURES[:2], as_of=as_of, segment_by="segment", team=AREA)
    assert data.segment_by == "plan"
    assert any("no recorded segmentation run" in n.lower() for n in data.notes)


def test_segment_breakdown_uses_the_latest_segmentation_assignments(wh, as_of, workbook_root):
    folder = workbook_root / "outputs" / AREA / "latest" / "tables" / "customer_segmentation"
    folder.mkdir(parents=True)
    ids = wh.table("accounts").select("account_id").to_pandas().account_id
    labels = np.where(np.arange(len(ids)) % 2 == 0, "Champions", "At risk")
    pd.DataFrame({"account_id": ids, "rfm_segment": labels}).to_parquet(
        folder / "assignments.parquet"
    )
    data = demand.load_demand(wh, AREA, FEATURES[:2], as_of=as_of, segment_by="segment", team=AREA)
    assert data.segment_by == "segment"
    assert set(data.accounts.segment) == {"Champions", "At risk"}


# --------------------------------------------------------------------------- clear messages


def test_unknown_feature_names_the_nearest_known_features(wh):
    with pytest.raises(
        WorkbookError, match=r"unknown feature 'ai_insight'.*did you mean 'ai_insights'"
    ):
        demand.check_features(wh, AREA, ["ai_insight", "dark_mode"])


def test_feature_of_another_area_says_where_it_belongs(wh):
    with pytest.raises(WorkbookError, match=r"'sso'.*belongs to admin"):
        demand.check_features(wh, AREA, ["sso", "dark_mode"])


def test_single_feature_says_a_comparison_needs_two(wh):
    with pytest.raises(WorkbookError, match=r"single feature \('dark_mode'\).*two or more"):
        demand.check_features(wh, AREA, ["dark_mode"])


def test_empty_feature_list_says_what_to_list(wh):
    with pytest.raises(WorkbookError, match=r"`features` is empty: list two or more"):
        demand.check_features(wh, AREA, [])


def test_unknown_weighting_names_the_key(wh):
    asked = pd.DataFrame({"a": [True, False], "b": [False, True]})
    with pytest.raises(WorkbookError, match=r"`weighting` must be one of"):
        demand.compare(asked, weighting="revenue")


def _tiny_warehouse(path: Path) -> Path:
    """Three active accounts, two features, and no feature requests at all."""
    con = duckdb.connect(str(path))
    con.execute("""
        CREATE TABLE accounts AS SELECT * FROM (VALUES
            ('a1', 'A', 'pro', 'EMEA', 'retail', DATE '2025-01-01', 5, 1000.0, NULL::DATE),
            ('a2', 'B', 'starter', 'EMEA', 'retail', DATE '2025-01-01', 2, 200.0, NULL::DATE),
            ('a3', 'C', 'pro', 'APAC', 'finance', DATE '2025-01-01', 9, 3000.0, NULL::DATE))
            t(account_id, name, plan, region, industry, created_at, seats, arr, churned_at);
        CREATE TABLE events AS SELECT account_id, account_id || '-u1' AS user_id,
            TIMESTAMP '2026-03-01 10:00:00' AS ts, 'analytics' AS product_area,
            'dashboards' AS feature, NULL::DOUBLE AS value FROM accounts;
        CREATE TABLE features AS SELECT * FROM (VALUES
            ('dashboards', 'analytics', 'Dashboards', 'released', DATE '2024-01-01'),
            ('sso', 'analytics', 'SSO', 'idea', NULL::DATE),
            ('dark_mode', 'analytics', 'Dark mode', 'idea', NULL::DATE))
            t(feature, product_area, name, status, released_at);
        CREATE TABLE feature_requests (request_id VARCHAR, account_id VARCHAR, feature VARCHAR,
            created_at TIMESTAMP, source VARCHAR, importance INTEGER, comment VARCHAR);
    """)
    con.close()
    return path


def test_window_with_no_requests_says_so_instead_of_failing(tmp_path):
    with connect(str(_tiny_warehouse(tmp_path / "tiny.duckdb"))) as w:
        data = demand.load_demand(
            w, "analytics", ["sso", "dark_mode"], as_of=dt.date(2026, 3, 31), window_days=90
        )
        result = demand.compare_demand(data)
    first = result.summary()[0]
    assert result.overall is None
    assert first.startswith("No requests for SSO, Dark mode in the 90 days to 2026-03-31")
    assert "the team's 3 accounts" in first


# --------------------------------------------------------------------------- notebook


@pytest.mark.slow
def test_notebook_runs_under_papermill_and_records_its_tables(demo_path, tmp_path):
    import papermill as pm

    from helpers import paths

    run_dir = tmp_path / "run"
    pm.execute_notebook(
        str(paths.ROOT / "notebooks" / "feature_demand.ipynb"),
        str(tmp_path / "out.ipynb"),
        parameters={
            "team": "collaboration",
            "product_area": "collaboration",
            "source": str(demo_path),
            "run_dir": str(run_dir),
            "features": ["whiteboard", "guest_access", "reactions", "read_receipts"],
            "bootstrap_runs": 200,
        },
        cwd=str(paths.ROOT),
        progress_bar=False,
        kernel_name="python3",
    )
    tables = run_dir / "tables" / "feature_demand"
    for name in [
        "demand",
        "pairs",
        "ranking",
        "segments",
        "reversals",
        "requests_by_source",
        "requests_over_time",
        "adoption",
        "adoption_curve",
    ]:
        assert (tables / f"{name}.parquet").exists(), name
    assert pd.read_parquet(tables / "demand.parquet").feature.nunique() == 4
    assert (run_dir / "answers" / "feature_demand.json").exists()
