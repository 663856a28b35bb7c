"""Helpers' engine aggregations against hand-written DuckDB SQL that gives the same result.

The first call of each is left out of the median: it pays Ibis' compilation, which a
connection then keeps for the same query (``helpers.data.warehouse._cache_compiles``), and
DuckDB's first read of the file. ``first_s`` reports it.
"""

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

# the whole frame `account_features` returns (monetary = ARR, no NPS or requests tables):
# the accounts' columns, status, first and last active day, and every feature
_FEATURES_SQL = """
WITH released AS (
  SELECT DISTINCT feature FROM features
  WHERE product_area = $area AND status = 'released' AND released_at <= $as_of
), per AS (
  SELECT account_id, min(ts) AS first_ts, max(ts) AS last_ts,
         count(DISTINCT CAST(ts AS DATE)) AS frequency, count(*) AS events,
         count(DISTINCT feature) FILTER (WHERE feature IN (SELECT feature FROM released)) AS used
  FROM events
  WHERE product_area = $area AND ts >= $lo AND ts < $hi
  GROUP BY account_id
)
SELECT a.account_id, a.name, a.plan, a.region, a.industry, a.seats, a.arr, a.created_at,
       a.churned_at,
       CASE WHEN a.churned_at <= $as_of THEN 'churned' ELSE 'active' END AS status,
       CAST(p.first_ts AS DATE) AS first_active, CAST(p.last_ts AS DATE) AS last_active,
       p.events, CAST(date_diff('day', CAST(p.last_ts AS DATE), $as_of) AS DOUBLE) AS recency,
       p.frequency, p.events / p.frequency AS intensity,
       p.used / (SELECT count(*) FROM released) AS breadth, a.arr AS monetary,
       CAST(greatest(date_diff('day', a.created_at, $as_of), 0) AS DOUBLE) AS tenure,
       CAST(NULL AS DOUBLE) AS nps, CAST(NULL AS DOUBLE) AS nps_latest, 0 AS requests
FROM accounts a JOIN per p USING (account_id)  -- the team's accounts: activity in the window
ORDER BY a.account_id
"""

# what `metric_series` asks of the engine: each week's active accounts and its rows (the
# rows tell a week without data from a week of zero)
_SERIES_SQL = """
SELECT CAST(date_trunc('week', ts) AS DATE) AS period, count(DISTINCT account_id) AS value,
       count(*) AS n_rows
FROM events WHERE product_area = $area AND ts >= $lo AND ts < $hi
GROUP BY 1 ORDER BY 1
"""


def _same_frame(helper: pd.DataFrame, sql: pd.DataFrame) -> None:
    """The helper's frame and the SQL's hold the same columns, rows and values."""
    assert list(helper.columns) == list(sql.columns), "the frames' columns differ"
    assert list(helper.account_id) == list(sql.account_id), "the frames differ in accounts"
    for col in helper.columns:
        a, b = helper[col], sql[col]
        if col in ("created_at", "churned_at", "first_active", "last_active"):
            a, b = pd.to_datetime(a), pd.to_datetime(b)
            same = ((a == b) | (a.isna() & b.isna())).all()
        elif a.dtype.kind in "fiub":
            same = np.allclose(a.to_numpy(float), b.to_numpy(float), equal_nan=True)
        else:
            same = (a.astype(object).fillna("") == b.astype(object).fillna("")).all()
        assert same, f"column {col} differs between the helper and the SQL"


def _time(fn, repeats: int) -> tuple[float, object, float]:
    """(median of ``repeats`` calls after the first, the result, the first call's time)."""
    times, result = [], None
    for _ in range(repeats + 1):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times[1:]), result, times[0]


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

    th, h, first_h = _time(helper_features, repeats)
    ts, s, first_s = _time(sql_features, repeats)
    _same_frame(h, s)
    out["times_s"]["account_features"] = {
        "helpers": round(th, 3),
        "sql": round(ts, 3),
        "first_s": {"helpers": round(first_h, 3), "sql": round(first_s, 3)},
    }
    out["ratios"]["account_features"] = round(th / ts, 2)

    start = as_of - dt.timedelta(days=539)
    lo2 = dt.datetime.combine(start, dt.time())

    def helper_series():
        return metrics.metric_series(
            wh, "active_accounts", product_area=area, as_of=as_of, grain="week", window_days=540
        )

    def sql_series():
        return con.execute(_SERIES_SQL, {"area": area, "lo": lo2, "hi": hi}).df()

    th, h, first_h = _time(helper_series, repeats)
    ts, s, first_s = _time(sql_series, repeats)
    got = h.frame.set_index(pd.to_datetime(h.frame["period"]))["value"]
    want = s.set_index(pd.to_datetime(s["period"]))["value"]
    common = got.index.intersection(want.index)
    assert len(common) > 0, "no common periods"
    assert np.allclose(got.loc[common].astype(float), want.loc[common].astype(float))
    rows = h.frame.set_index(pd.to_datetime(h.frame["period"]))["n_rows"]
    want_rows = s.set_index(pd.to_datetime(s["period"]))["n_rows"]
    assert np.array_equal(rows.loc[common].to_numpy(), want_rows.loc[common].to_numpy())
    out["times_s"]["metric_series"] = {
        "helpers": round(th, 3),
        "sql": round(ts, 3),
        "first_s": {"helpers": round(first_h, 3), "sql": round(first_s, 3)},
    }
    out["ratios"]["metric_series"] = round(th / ts, 2)
    wh.close()
    con.close()
    return out
