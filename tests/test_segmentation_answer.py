"""The segmentation's answer: whose accounts, in the words of the money measure."""

from __future__ import annotations

import datetime as dt
import re

import duckdb
import pytest

from helpers.customer_segmentation import segment
from helpers.data import connect
from helpers.feature_demand import demand_report

AS_OF = dt.date(2026, 10, 31)
AREAS = ["analytics", "collaboration", "integrations", "admin"]


def _team_counts(demo_path, area: str, days: int) -> tuple[int, int]:
    """Plain SQL: accounts with an event in the area in the window, and how many churned."""
    con = duckdb.connect(str(demo_path), read_only=True)
    row = con.execute(
        "SELECT count(*), count(*) FILTER (WHERE a.churned_at <= ?) FROM accounts a "
        "WHERE a.account_id IN (SELECT account_id FROM events WHERE product_area = ? "
        "AND ts >= ? AND ts < ?)",
        [AS_OF, area, AS_OF - dt.timedelta(days=days - 1), AS_OF + dt.timedelta(days=1)],
    ).fetchone()
    con.close()
    return int(row[0]), int(row[1])


@pytest.fixture(scope="module")
def answers(demo_path) -> dict:
    with connect(str(demo_path)) as wh:
        return {
            area: segment(wh, product_area=area, as_of=AS_OF, method="rfm", team=area)
            for area in AREAS
        }


def test_each_team_reports_its_own_accounts(answers, demo_path):
    counts = set()
    for area, seg in answers.items():
        total, churned = _team_counts(demo_path, area, 90)
        first = seg.summary()[0]
        assert f"{area}'s {total:,} accounts" in first
        assert f"({total - churned:,} current customers, {churned:,} churned" in first
        assert seg.base()["team_accounts"] == total
        counts.add(total)
    assert len(counts) > 1  # the teams' bases differ, as their areas' use does


def test_arr_is_labelled_company_wide(answers):
    text = " ".join(answers["analytics"].summary())
    assert "company-wide ARR" in text


def test_a_spend_based_run_never_mentions_arr(demo_path):
    with connect(str(demo_path)) as wh:
        seg = segment(
            wh, product_area="analytics", as_of=AS_OF, monetary="event_value", stability_runs=2, k=4
        )
    answer = seg.summary()
    assert len(answer) >= 4
    assert not any(re.search(r"\bARR\b", s) for s in answer), answer
    assert any("spend" in s.lower() for s in answer)
    assert "spend" in seg.summaries["rfm_segment"].columns


def test_demand_states_its_base_beside_the_segmentations(answers, demo_path, workbook_root):
    with connect(str(demo_path)) as wh:
        for area, seg in answers.items():
            cat = wh.table("features").to_pandas()
            feats = cat.loc[cat.product_area == area, "feature"].tolist()[6:8]
            rep = demand_report(wh, area, feats, as_of=AS_OF, bootstrap_runs=100, team=area)
            base = next(s for s in rep.summary() if s.startswith("Base:"))
            total, churned = _team_counts(demo_path, area, 365)
            assert f"{area}'s {total:,} accounts" in base
            b = seg.base()
            # the same definition: the segmentation's own count, stated with its window
            assert (
                f"over {b['window_days']} days: {b['team_accounts']:,} accounts "
                f"({b['current_accounts']:,} current)"
            ) in base
