"""Contract checks find every planted violation, with table, column and row count."""

from __future__ import annotations

import datetime as dt
import shutil

import duckdb
import pytest

from helpers.data import connect
from helpers.data.contract import CONTRACT, check


@pytest.fixture
def broken(tmp_path, demo_path):
    """A copy of the demo warehouse to break."""
    path = tmp_path / "broken.duckdb"
    shutil.copy(demo_path, path)
    return path


def _find(violations, table, column, word):
    return [v for v in violations if v.table == table and v.column == column and word in v.problem]


def test_demo_warehouse_passes_every_check(demo_path):
    with connect(demo_path) as wh:
        assert [v for v in check(wh) if v.severity == "error"] == []


def test_dropped_column_duplicate_key_and_nps_11_are_each_named(broken):
    con = duckdb.connect(str(broken))
    con.execute("ALTER TABLE accounts DROP COLUMN industry")
    con.execute(
        "INSERT INTO accounts SELECT * FROM accounts WHERE account_id IN "
        "(SELECT account_id FROM accounts ORDER BY account_id LIMIT 3)"
    )
    con.execute(
        "UPDATE nps_responses SET score = 11 WHERE response_id IN "
        "(SELECT response_id FROM nps_responses ORDER BY response_id LIMIT 5)"
    )
    con.close()
    with connect(broken) as wh:
        found = check(wh)
    assert _find(found, "accounts", "industry", "missing")
    dup = _find(found, "accounts", "account_id", "duplicate")
    assert dup and dup[0].rows == 3 and dup[0].severity == "error"
    high = _find(found, "nps_responses", "score", "above 10")
    assert high and high[0].rows == 5


def test_missing_table_wrong_type_and_null_key_are_errors(broken):
    con = duckdb.connect(str(broken))
    con.execute("DROP TABLE features")
    con.execute("ALTER TABLE accounts ALTER seats TYPE VARCHAR")
    con.execute(
        "UPDATE feature_requests SET request_id = NULL WHERE request_id IN "
        "(SELECT request_id FROM feature_requests ORDER BY 1 LIMIT 2)"
    )
    con.close()
    with connect(broken) as wh:
        found = check(wh)
    assert _find(found, "features", "", "missing")
    assert _find(found, "accounts", "seats", "expected integer")
    nulls = _find(found, "feature_requests", "request_id", "null")
    assert nulls and nulls[0].rows == 2 and nulls[0].severity == "error"


def test_orphans_negative_values_and_future_timestamps_are_counted(broken):
    con = duckdb.connect(str(broken))
    expected_orphans = con.execute(
        "SELECT count(*) FROM events WHERE account_id = 'acc-000001'"
    ).fetchone()[0]
    con.execute("DELETE FROM accounts WHERE account_id = 'acc-000001'")
    con.execute("UPDATE accounts SET arr = -1 WHERE account_id = 'acc-000002'")
    con.execute(
        "UPDATE feature_requests SET importance = 4 WHERE request_id IN "
        "(SELECT request_id FROM feature_requests ORDER BY 1 LIMIT 4)"
    )
    con.execute("UPDATE events SET ts = TIMESTAMP '2031-01-01' WHERE account_id = 'acc-000003'")
    future = con.execute("SELECT count(*) FROM events WHERE account_id = 'acc-000003'").fetchone()[
        0
    ]
    con.close()
    with connect(broken) as wh:
        found = check(wh, now=dt.datetime(2026, 11, 26))
    orphan = _find(found, "events", "account_id", "references missing accounts")
    assert orphan and orphan[0].rows == expected_orphans
    assert _find(found, "accounts", "arr", "below 0")[0].rows == 1
    assert _find(found, "feature_requests", "importance", "above 3")[0].rows == 4
    assert _find(found, "events", "ts", "future")[0].rows == future


def test_contract_documents_every_table_of_the_brief():
    doc = (__import__("helpers").paths.ROOT / "docs" / "data-contract.md").read_text()
    for table, columns in CONTRACT.items():
        assert f"`{table}`" in doc
        for c in columns:
            assert f"`{c.name}`" in doc, f"{table}.{c.name} undocumented"
