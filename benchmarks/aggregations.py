"""Helpers' engine aggregations against hand-written DuckDB SQL that gives the same result."""

from __future__ import annotations

import datetime as dt
import statistics
import time
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from helpers import customer_segmentation as segmentation
from helpers import metric_trends as metrics
from helpers.data import connect

__all__ = ["compare"]

_FEATURES_SQL = """
WITH released AS (
  SELECT feature FROM features
  WHERE product_area = $area AND status = 'released' AND released_at <= $as_of
), per AS (
  SELECT account_id, max(ts) AS last_ts, count(DISTINCT CAST(ts AS DATE)) AS frequency,
         count(*) AS events,
         count(DISTINCT feature) FILTER (WHERE feature IN (SELECT feature FROM released)) AS used
  FROM events
  WHERE product_area = $area AND ts >= $lo AND ts < $hi
  GROUP BY account_id
)
SELECT a.account_id, p.frequency, p.events,
       date_diff('day', CAST(p.last_ts AS DATE), $as_of) AS recency,
       p.used / (SELECT count(*) FROM released) AS breadth
FROM accounts a JOIN per p USING (account_id)  -- the team's accounts: activity in the window
"""

_SERIES_SQL = """
SELECT date_trunc('week', ts) AS period, count(DISTINCT account_id) AS value
FROM events WHERE product_area = $area AND ts >= $lo AND ts < $hi
GROUP BY 1 ORDER BY 1
"""


def _time(fn, repeats: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), result


def compare(warehouse: Path, area: str, repeats: int = 5) -> dict:
    """Median times of each helper and its SQL twin, their ratio, and a check they agree."""
    con = duckdb.connect(str(warehouse), read_only=True)
    as_of = con.execute("SELECT CAST(max(ts) AS DATE) FROM events").fetchone()[0]
    wh = connect(warehouse)
    out: dict = {"times_s": {}, "ratios": {}}

    lookback = 90
    lo = dt.datetime.combine(as_of - dt.timedelta(days=lookback - 1), dt.time())
    hi = dt.datetime.combine(as_of + dt.timedelta(days=1), dt.time())

    def helper_features():
        return segmentation.account_features(
            wh.table("events"),
            wh.table("accounts"),
            wh.table("features"),
            product_area=area,
            as_of=as_of,
            lookback_days=lookback,
        )

    def sql_features():
        return con.execute(_FEATURES_SQL, {"area": area, "lo": lo, "hi": hi, "as_of": as_of}).df()

    th, h = _time(helper_features, repeats)
    ts, s = _time(sql_features, repeats)
    merged = h.merge(s, on="account_id", suffixes=("", "_sql"))
    assert len(merged) == len(s) == len(h), "per-account frames differ in accounts"
    for col in ["frequency", "events", "breadth"]:
        assert np.array_equal(merged[col].to_numpy(float), merged[f"{col}_sql"].to_numpy(float))
    out["times_s"]["account_features"] = {"helpers": round(th, 3), "sql": round(ts, 3)}
    out["ratios"]["account_features"] = round(th / ts, 2)

    start = as_of - dt.timedelta(days=539)
    lo2 = dt.datetime.combine(start, dt.time())

    def helper_series():
        return metrics.metric_series(
            wh, "active_accounts", product_area=area, as_of=as_of, grain="week", window_days=540
        )

    def sql_series():
        return con.execute(_SERIES_SQL, {"area": area, "lo": lo2, "hi": hi}).df()

    th, h = _time(helper_series, repeats)
    ts, s = _time(sql_series, repeats)
    got = h.frame.set_index(pd.to_datetime(h.frame["period"]))["value"]
    want = s.set_index(pd.to_datetime(s["period"]))["value"]
    common = got.index.intersection(want.index)
    assert len(common) > 0, "no common periods"
    assert np.allclose(got.loc[common].astype(float), want.loc[common].astype(float))
    out["times_s"]["metric_series"] = {"helpers": round(th, 3), "sql": round(ts, 3)}
    out["ratios"]["metric_series"] = round(th / ts, 2)
    wh.close()
    con.close()
    return out
