"""Apache Spark: the same notebooks on Spark (local mode, through Ibis's PySpark backend)
give the DuckDB run's tables.

One Spark Connect server from the ``pyspark`` wheel runs in local mode on loopback (see
``support/spark_server.py``), loaded with the tiny demo warehouse; one team's notebooks
run against it through ``source: env:WAREHOUSE_URL`` = ``sc://127.0.0.1:PORT`` with the real
runner, each notebook's kernel a Spark Connect client. Skipped only when Java or pyspark
is missing and ``CI`` is not set; in CI their absence fails (``.ci/run`` installs Java).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

import duckdb
import pandas as pd
import pytest
from support import spark_server as ss
from support import warehouse_server as ws
from test_postgres import _canonical, _tables

pytestmark = pytest.mark.slow

TEAM = "analytics"


@pytest.fixture(scope="module")
def spark():
    """The session's Spark Connect server, loaded with the tiny demo warehouse."""
    if not ss.require_spark():
        pytest.skip("Java or pyspark is not installed (CI installs them: .ci/run, make)")
    t0 = time.monotonic()
    srv = ss.server(ws.tiny_warehouse())
    print(f"\n[spark] server started and loaded in {time.monotonic() - t0:.1f}s")
    yield srv
    ss.stop_all()


def test_the_server_holds_the_demo_tables_with_their_types(spark):
    from helpers.data.warehouse import _open_url

    con = _open_url(spark.url)
    try:
        events = con.table("events").schema()
        accounts = con.table("accounts").schema()
        n = con.table("events").count().to_pyarrow().as_py()
    finally:
        con.disconnect()
    src = duckdb.connect(str(ws.tiny_warehouse()), read_only=True)
    expected = src.execute("SELECT count(*) FROM events").fetchone()[0]
    src.close()
    assert n == expected
    assert events["ts"].is_timestamp() and events["value"].is_float64()
    assert accounts["created_at"].is_date() and accounts["seats"].is_int32()


def test_every_notebook_on_spark_records_the_duckdb_runs_tables(spark, capsys):
    t0 = time.monotonic()
    duck = ws.run_team(TEAM)  # shared with test_postgres when both run
    t1 = time.monotonic()
    on_spark = ws.run_team(TEAM, url=spark.url, label="spark")
    t2 = time.monotonic()
    assert duck.notebooks, "no notebook to run"
    assert duck.returncode == 0, duck.stdout + duck.stderr
    assert on_spark.returncode == 0, on_spark.stdout + on_spark.stderr + spark.log()
    compared = 0
    for nb in duck.notebooks:
        expected, got = _tables(duck.run_dir, nb), _tables(on_spark.run_dir, nb)
        assert sorted(got) == sorted(expected), nb
        for name in expected:
            pd.testing.assert_frame_equal(
                _canonical(got[name]),
                _canonical(expected[name]),
                check_dtype=False,
                check_exact=False,
                rtol=1e-6,
                atol=1e-9,
                obj=f"{nb}/{name}",
            )
            compared += 1
    with capsys.disabled():
        print(
            f"\n[spark] {compared} result tables equal to DuckDB's for {duck.notebooks} "
            f"(DuckDB run {t1 - t0:.0f}s, Spark run {t2 - t1:.0f}s)"
        )
    assert compared > 0


def test_an_unreachable_spark_server_is_one_line_without_the_url(tmp_path):
    root = tmp_path / "wb"
    root.mkdir()
    url = "sc://127.0.0.1:9/;token=s3cret-token"  # the discard port: nothing listens
    env = {k: v for k, v in os.environ.items() if not k.startswith("WORKBOOK_")}
    env |= {"WORKBOOK_ROOT": str(root), "SPARK_URL": url}
    if not ss.require_spark():
        pytest.skip("pyspark is not installed")
    done = subprocess.run(
        [sys.executable, "-m", "helpers", "check-data", "--source", "env:SPARK_URL"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    out = done.stdout + done.stderr
    assert done.returncode != 0
    assert "cannot connect" in out and "$SPARK_URL" in out
    assert "s3cret" not in out and "9/;" not in out
    assert "Traceback" not in out
