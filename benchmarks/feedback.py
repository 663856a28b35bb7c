"""The feedback benchmark's warehouse and its measured child: 100,000 comments analysed.

python -m benchmarks.feedback build PATH [COMMENTS]   # a warehouse of COMMENTS comments
python -m benchmarks.feedback run PATH                # feedback_report on it; prints JSON

The warehouse holds one product area (analytics) with 20,000 accounts (one per five
comments), each with one event in the window; 60% of the comments come with NPS answers
spread over the year and 40% with feature requests, their text drawn by the demo's
comment generator (planted themes, an emerging one, empty and foreign comments).
"""

from __future__ import annotations

import datetime as dt
import json
import sys
import time
from pathlib import Path

import numpy as np

END = dt.date(2026, 10, 31)
AREA = "analytics"
FEATURES = ["dashboards", "reports", "funnels", "cohorts", "data_export", "alerts",
            "ai_insights", "custom_metrics", "dark_mode", "pdf_reports"]  # fmt: skip


def build(path: Path, comments: int = 100_000, seed: int = 7) -> Path:
    """Write the benchmark warehouse to ``path`` (replaced if present)."""
    import duckdb
    import pyarrow as pa

    from helpers.data import demo_feedback as fb
    from helpers.data.demo import create_tables

    rng = np.random.default_rng(seed)
    text = fb.text_stream(seed)
    path.unlink(missing_ok=True)
    n_acc = max(200, comments // 5)
    start = np.datetime64(END) - np.timedelta64(364, "D")
    ids = np.char.add("acc-", np.char.zfill(np.arange(1, n_acc + 1).astype(str), 6))
    plan = rng.choice(["starter", "pro", "enterprise"], n_acc, p=[0.5, 0.35, 0.15])
    seats = rng.integers(1, 200, n_acc).astype(np.int32)

    def stamps(n):
        days = start + rng.integers(0, 365, n).astype("timedelta64[D]")
        secs = rng.integers(0, 86400, n).astype("timedelta64[s]")
        return days.astype("datetime64[us]") + secs, days

    n_nps = int(comments * 0.6)
    n_req = comments - n_nps
    ev_ts, _ = stamps(n_acc)
    nps_ts, nps_days = stamps(n_nps)
    req_ts, req_days = stamps(n_req)
    scores = rng.integers(0, 11, n_nps).astype(np.int32)
    emerge = END - dt.timedelta(days=fb.EMERGE_DAYS)
    a = fb.comments(text, fb.categories(scores), nps_days, emerge_start=emerge, rate=1.0)
    req_feature = rng.choice(FEATURES, n_req)
    b = fb.comments(
        text,
        np.full(n_req, "request"),
        req_days,
        emerge_start=emerge,
        rate=1.0,
        linked=req_feature == FEATURES[6],
    )
    nps_who, req_who = rng.integers(0, n_acc, n_nps), rng.integers(0, n_acc, n_req)
    tables = {
        "accounts": {
            "account_id": ids,
            "name": ids,
            "plan": plan,
            "region": rng.choice(["North America", "EMEA", "APAC", "LATAM"], n_acc),
            "industry": rng.choice(["software", "finance", "retail"], n_acc),
            "created_at": pa.array(np.full(n_acc, np.datetime64("2024-01-01")), pa.date32()),
            "seats": seats,
            "arr": seats * 500.0,
            "churned_at": pa.nulls(n_acc, pa.date32()),
        },
        "events": {
            "account_id": ids,
            "user_id": np.char.add(ids, "-u1"),
            "ts": pa.array(ev_ts, pa.timestamp("us")),
            "product_area": np.full(n_acc, AREA),
            "feature": rng.choice(FEATURES[:5], n_acc),
            "value": pa.nulls(n_acc, pa.float64()),
        },
        "features": {
            "feature": FEATURES,
            "product_area": [AREA] * len(FEATURES),
            "name": [f.replace("_", " ").capitalize() for f in FEATURES],
            "status": ["released"] * 6 + ["beta", "planned", "idea", "idea"],
            "released_at": pa.array([dt.date(2024, 6, 1)] * 6 + [None] * 4, type=pa.date32()),
        },
        "feature_requests": {
            "request_id": np.char.add("fr-", np.arange(n_req).astype(str)),
            "account_id": ids[req_who],
            "feature": req_feature,
            "created_at": pa.array(req_ts, pa.timestamp("us")),
            "source": rng.choice(["support", "sales", "survey"], n_req),
            "importance": rng.integers(0, 4, n_req).astype(np.int32),
            "comment": pa.array(b.text.tolist(), pa.string()),
        },
        "nps_responses": {
            "response_id": np.char.add("nps-", np.arange(n_nps).astype(str)),
            "account_id": ids[nps_who],
            "user_id": np.char.add(ids[nps_who], "-u1"),
            "submitted_at": pa.array(nps_ts, pa.timestamp("us")),
            "score": scores,
            "comment": pa.array(a.text.tolist(), pa.string()),
        },
    }
    con = duckdb.connect(str(path))
    try:
        create_tables(con)
        for name, cols in tables.items():
            con.register("frame", pa.table(cols))
            con.execute(f"INSERT INTO {name} SELECT * FROM frame")
            con.unregister("frame")
        con.execute("CHECKPOINT")
    finally:
        con.close()
    return path


def run(path: Path) -> dict:
    """``feedback_report`` with the default parameters; the analysis's own seconds."""
    t0 = time.perf_counter()
    from helpers.customer_feedback import feedback_report
    from helpers.data import connect

    imported = time.perf_counter()
    with connect(str(path)) as wh:
        report = feedback_report(wh, AREA, as_of=END)
        report.summary()
        report.tables()
    done = time.perf_counter()
    return {
        "comments": int(report.set_aside["comments"].sum()),
        "themes": report.themes.k,
        "new_themes": report.new_themes["name"].tolist(),
        "import_s": round(imported - t0, 2),
        "analysis_s": round(done - imported, 2),
    }


if __name__ == "__main__":
    what, target = sys.argv[1], Path(sys.argv[2])
    if what == "build":
        build(target, int(sys.argv[3]) if len(sys.argv) > 3 else 100_000)
    else:
        print(json.dumps(run(target)))
