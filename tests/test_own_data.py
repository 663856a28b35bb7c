"""A company's own data, mapped onto the contract by a source file, runs the analyses."""

from __future__ import annotations

import duckdb
import pandas as pd
import pytest
import yaml

from helpers import run as runner
from helpers.customer_segmentation import segment
from helpers.data import check, connect
from helpers.feature_demand import demand_report

FEATURES = ["ai_insights", "custom_metrics"]


def _int_ids(frame: pd.DataFrame) -> pd.DataFrame:
    """account_id 'acc-000123' -> 123 (a company whose IDs are integers)."""
    out = frame.copy()
    out["account_id"] = out["account_id"].str.removeprefix("acc-").astype("int64")
    return out


@pytest.fixture
def company(tmp_path, demo_path):
    """The small demo as a company exports it: renamed tables and a column, integer IDs,
    accounts as a semicolon CSV with decimal commas, and no NPS table."""
    folder = tmp_path / "export"
    folder.mkdir()
    con = duckdb.connect(str(demo_path), read_only=True)
    accounts = _int_ids(con.table("accounts").df()).rename(columns={"arr": "mrr_x12"})
    accounts.to_csv(folder / "accounts.csv", sep=";", decimal=",", index=False)
    _int_ids(con.table("events").df()).to_parquet(folder / "usage_events.parquet")
    _int_ids(con.table("feature_requests").df()).to_parquet(folder / "requests.parquet")
    con.table("features").df().to_parquet(folder / "features.parquet")
    con.close()
    spec = {
        "path": ".",
        "tables": {"events": "usage_events", "feature_requests": "requests"},
        "columns": {"accounts.arr": "mrr_x12"},
        "csv_decimal": ",",
    }
    (folder / "company.source.yaml").write_text(yaml.safe_dump(spec))
    return folder


def test_the_mapped_source_passes_the_contract_but_for_the_missing_nps(company):
    with connect(str(company / "company.source.yaml")) as wh:
        errors = [v for v in check(wh) if v.severity == "error"]
    assert [(v.table, v.problem.split(";")[0]) for v in errors] == [
        ("nps_responses", "table is missing")
    ]


def test_segmentation_and_demand_on_the_mapping_equal_the_demo(company, demo_path):
    as_of = pd.Timestamp("2026-10-31").date()
    kw = {"product_area": "analytics", "as_of": as_of, "method": "rfm"}
    with connect(str(demo_path)) as wh:
        seg_demo = segment(wh, **kw)
        dem_demo = demand_report(wh, "analytics", FEATURES, as_of=as_of, bootstrap_runs=200)
    with connect(str(company / "company.source.yaml")) as wh:
        seg_own = segment(wh, **kw)
        dem_own = demand_report(wh, "analytics", FEATURES, as_of=as_of, bootstrap_runs=200)
    cols = ["recency", "frequency", "monetary"]
    demo = _int_ids(seg_demo.features)[["account_id", *cols]].astype({"account_id": str})
    own = seg_own.features[["account_id", *cols]]
    merged = demo.merge(own, on="account_id", suffixes=("_demo", "_own"))
    assert len(merged) == len(demo) == len(own)
    for c in cols:  # arr came through decimal commas and a renamed column
        assert (merged[f"{c}_demo"] - merged[f"{c}_own"]).abs().max() < 1e-6, c
    a, b = dem_demo.tables()["demand"], dem_own.tables()["demand"]
    assert a["accounts"].tolist() == b["accounts"].tolist()


def test_a_team_on_the_mapping_plans_segmentation_and_demand_without_nps(company, workbook_root):
    params = {
        "product_area": "analytics",
        "source": str(company / "company.source.yaml"),
        "notebooks": ["customer_segmentation", "feature_demand"],
        "customer_segmentation": {"cluster_features": ["frequency", "intensity", "breadth"]},
        "feature_demand": {"features": FEATURES},
    }
    (workbook_root / "params" / "own.yaml").write_text(yaml.safe_dump(params))
    [planned] = runner.plan(["own"])
    assert planned.error is None, planned.error


def test_refusals_name_what_the_source_holds(company):
    (company / "requests.parquet").rename(company / "feature_requests_2026.parquet")
    with connect(str(company / "company.source.yaml")) as wh:
        missing = next(v for v in check(wh) if v.table == "feature_requests")
    assert "feature_requests_2026" in missing.problem

    spec = yaml.safe_load((company / "company.source.yaml").read_text())
    spec["columns"] = {"accounts.arr": "mrr"}
    (company / "company.source.yaml").write_text(yaml.safe_dump(spec))
    with pytest.raises(Exception, match="mrr_x12") as err:
        connect(str(company / "company.source.yaml"))
    assert "column `mrr`" in str(err.value)


def test_decimal_commas_without_the_option_show_sample_values(company):
    spec = yaml.safe_load((company / "company.source.yaml").read_text())
    del spec["csv_decimal"]
    (company / "company.source.yaml").write_text(yaml.safe_dump(spec))
    with connect(str(company / "company.source.yaml")) as wh:
        bad = next(v for v in check(wh) if (v.table, v.column) == ("accounts", "arr"))
    assert "expected float" in bad.problem and "sample values" in bad.problem
    assert "," in bad.problem and "csv_decimal" in bad.problem
