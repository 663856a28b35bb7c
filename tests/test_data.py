"""Sources: a DuckDB file, a folder of Parquet or CSV files, or a URL from the environment."""

from __future__ import annotations

import datetime as dt

import duckdb
import pytest

from helpers.data import connect, describe, resolve_as_of
from helpers.errors import WorkbookError


@pytest.fixture(scope="module")
def exported(tmp_path_factory, demo_path):
    """The demo tables exported once as Parquet and once as CSV."""
    base = tmp_path_factory.mktemp("export")
    con = duckdb.connect(str(demo_path), read_only=True)
    for fmt in ("parquet", "csv"):
        (base / fmt).mkdir()
        for t in ["accounts", "events", "features", "feature_requests", "nps_responses"]:
            con.execute(f"COPY {t} TO '{base / fmt / t}.{fmt}' (FORMAT {fmt})")
    con.close()
    return base


def _count(wh, table):
    return wh.table(table).count().to_pyarrow().as_py()


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_a_folder_of_files_is_a_source(exported, demo_path, fmt):
    expected = (
        duckdb.connect(str(demo_path), read_only=True)
        .execute("SELECT count(*) FROM events WHERE product_area = 'admin'")
        .fetchone()[0]
    )
    with connect(exported / fmt) as wh:
        ev = wh.table("events")
        assert ev.filter(ev.product_area == "admin").count().to_pyarrow().as_py() == expected
        assert not wh.has("metrics")  # optional, absent


def test_duckdb_file_is_opened_read_only(demo_path):
    with connect(demo_path) as wh:
        assert _count(wh, "accounts") > 0
        with pytest.raises(Exception, match="read-only"):
            wh.con.raw_sql("CREATE TABLE x (a INT)")


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(WorkbookError, match=r"source .*nope.duckdb: no such file or folder"):
        connect(tmp_path / "nope.duckdb")


def test_unset_environment_variable_is_named(monkeypatch):
    monkeypatch.delenv("WB_TEST_URL", raising=False)
    with pytest.raises(WorkbookError, match="environment variable WB_TEST_URL is not set"):
        connect("env:WB_TEST_URL")


def test_url_from_environment_connects_and_never_shows_in_errors(monkeypatch, demo_path):
    monkeypatch.setenv("WB_TEST_URL", f"duckdb://{demo_path}?read_only=true")
    with connect("env:WB_TEST_URL") as wh:
        assert _count(wh, "features") > 0
    secret = "postgres://analyst:s3cr3t-pw@127.0.0.1:1/nodb"
    monkeypatch.setenv("WB_TEST_URL", secret)
    with pytest.raises(WorkbookError) as err:
        connect("env:WB_TEST_URL")
    assert "s3cr3t-pw" not in str(err.value)
    assert "$WB_TEST_URL" in str(err.value)
    assert describe("env:WB_TEST_URL") == "the warehouse in $WB_TEST_URL"


def test_as_of_defaults_to_the_latest_event_day(demo_path, demo_truth):
    with connect(demo_path) as wh:
        assert resolve_as_of(wh, None) == dt.date.fromisoformat(demo_truth["end"])
        assert resolve_as_of(wh, "2026-01-05") == dt.date(2026, 1, 5)
        with pytest.raises(WorkbookError, match="`as_of` must be a date"):
            resolve_as_of(wh, "yesterday")


def test_fingerprint_counts_rows_and_latest_timestamps(demo_path):
    con = duckdb.connect(str(demo_path), read_only=True)
    rows, latest = con.execute("SELECT count(*), max(ts) FROM events").fetchone()
    con.close()
    with connect(demo_path) as wh:
        fp = wh.fingerprint()
    assert fp["events"]["rows"] == rows
    assert fp["events"]["latest"] == latest.isoformat()


def test_time_zone_aware_timestamps_become_naive_utc(tmp_path):
    path = tmp_path / "tz.duckdb"
    con = duckdb.connect(str(path))
    con.execute("SET TimeZone = 'America/New_York'")
    con.execute(
        "CREATE TABLE events AS SELECT 'a' AS account_id, "
        "TIMESTAMPTZ '2026-01-01 23:30:00-05' AS ts"
    )
    con.close()
    with connect(path) as wh:
        ev = wh.table("events")
        assert ev.ts.type().timezone is None
        # 23:30 in New York is 04:30 the next day in UTC
        assert ev.ts.max().to_pyarrow().as_py() == dt.datetime(2026, 1, 2, 4, 30)
