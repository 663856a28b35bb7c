"""Movement measured against the same weekday whole weeks earlier, with the same cut-offs."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from helpers.customer_segmentation import segment, segment_movement
from helpers.data import connect
from helpers.errors import WorkbookError
from validation.segments import weekly_warehouse

AS_OF = dt.date(2026, 10, 31)
AREA = "analytics"


@pytest.fixture(scope="module")
def weekly(tmp_path_factory) -> Path:
    # every account does the same every week (its own days, events and value)
    return weekly_warehouse(tmp_path_factory.mktemp("weekly") / "weekly.duckdb")


@pytest.mark.parametrize("monetary", ["arr", "event_value"])
def test_a_warehouse_that_repeats_every_week_shows_no_movement(weekly, monetary):
    with connect(str(weekly)) as wh:
        seg = segment(
            wh,
            product_area=AREA,
            as_of=AS_OF,
            previous_period_days=28,
            monetary=monetary,
            stability_runs=2,
            k=3,
        )
    assert seg.rfm.ok and seg.clusters.ok
    assert seg.rfm.table.rfm_segment.nunique() > 1  # accounts differ: the test can fail
    for by, mv in seg.movements.items():
        assert mv.moves.empty, (by, mv.moves)
        off_diagonal = mv.accounts.to_numpy().sum() - np.trace(mv.accounts.to_numpy())
        assert off_diagonal == 0, by
        assert mv.summary()[0].startswith("No account")


def test_previous_period_must_be_whole_weeks(weekly):
    with connect(str(weekly)) as wh, pytest.raises(WorkbookError, match="whole number of weeks"):
        segment(wh, product_area=AREA, as_of=AS_OF, previous_period_days=30)


def test_accounts_that_stop_using_the_area_move_to_no_activity_and_count_as_worse():
    prev = pd.DataFrame({"account_id": ["a", "b", "c"], "rfm_segment": ["Loyal"] * 3})
    cur = pd.DataFrame({"account_id": ["a"], "rfm_segment": ["Loyal"]})
    info = pd.DataFrame(
        {
            "account_id": ["a", "b", "c"],
            "status": ["active", "churned", "inactive"],
            "arr": [1.0, 20.0, 300.0],
        }
    )
    mv = segment_movement(prev, cur, info, by="rfm_segment", order=["Loyal"])
    assert mv.accounts.loc["Loyal", "churned"] == 1
    assert mv.accounts.loc["Loyal", "no activity"] == 1
    assert mv.arr.loc["Loyal", "no activity"] == 300.0
    assert mv.moves["worse"].all()
    assert mv.summary()[0].startswith("2 accounts ($320 ARR)")
