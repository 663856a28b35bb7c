"""The data fingerprint sees content changed in place, so "up to date" stays honest."""

from __future__ import annotations

import datetime as dt
import shutil

import duckdb
import pytest
import yaml

from helpers import run as runner
from helpers.data import connect

TABLES = ["accounts", "events", "features", "feature_requests", "nps_responses"]


@pytest.fixture
def parquet_source(tmp_path, demo_path):
    """The small demo warehouse exported as a folder of Parquet files."""
    folder = tmp_path / "parquet"
    folder.mkdir()
    con = duckdb.connect(str(demo_path), read_only=True)
    for t in TABLES:
        con.execute(f"COPY {t} TO '{folder / t}.parquet' (FORMAT parquet)")
    con.close()
    return folder


def _rewrite(folder, table: str, sql: str) -> None:
    """Rewrite one Parquet table through DuckDB: same rows, one value changed in place."""
    con = duckdb.connect()
    path = folder / f"{table}.parquet"
    tmp = folder / f"{table}.new.parquet"
    con.execute(
        f"COPY ({sql.format(t=f'read_parquet({str(path)!r})')}) TO '{tmp}' (FORMAT parquet)"
    )
    con.close()
    shutil.move(tmp, path)


def _fingerprint(folder) -> dict:
    with connect(str(folder)) as wh:
        return wh.fingerprint()


def test_an_arr_changed_in_place_changes_the_fingerprint(parquet_source):
    before = _fingerprint(parquet_source)
    _rewrite(
        parquet_source,
        "accounts",
        "SELECT * REPLACE (CASE WHEN account_id = (SELECT min(account_id) FROM {t}) "
        "THEN arr + 1200 ELSE arr END AS arr) FROM {t}",
    )
    after = _fingerprint(parquet_source)
    assert after["accounts"]["rows"] == before["accounts"]["rows"]
    assert after["accounts"] != before["accounts"]


def test_a_churn_date_set_in_place_changes_the_fingerprint(parquet_source):
    before = _fingerprint(parquet_source)
    day = dt.date(2026, 10, 1).isoformat()
    _rewrite(
        parquet_source,
        "accounts",
        "SELECT * REPLACE (CASE WHEN churned_at IS NULL AND account_id = (SELECT "
        f"min(account_id) FROM {{t}} WHERE churned_at IS NULL) THEN DATE '{day}' "
        "ELSE churned_at END AS churned_at) FROM {t}",
    )
    assert _fingerprint(parquet_source)["accounts"] != before["accounts"]


def test_an_unchanged_source_keeps_its_fingerprint(parquet_source):
    assert _fingerprint(parquet_source) == _fingerprint(parquet_source)


def test_an_arr_changed_in_place_changes_every_notebooks_key(workbook_root, parquet_source):
    path = workbook_root / "params" / "analytics.yaml"
    params = yaml.safe_load(path.read_text())
    params["source"] = str(parquet_source)
    path.write_text(yaml.safe_dump(params))
    [before] = runner.plan(["analytics"])
    assert before.error is None, before.error
    _rewrite(parquet_source, "accounts", "SELECT * REPLACE (arr * 1.01 AS arr) FROM {t}")
    [after] = runner.plan(["analytics"])
    for nb, key in before.keys.items():
        assert after.keys[nb] != key, nb
