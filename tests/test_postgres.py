"""A real server warehouse: the same notebooks on PostgreSQL give the DuckDB run's tables.

A PostgreSQL from Debian's packages is started on loopback (see ``warehouse_server.py``),
loaded with a tiny demo warehouse, and one team's notebooks run against it through
``source: env:WAREHOUSE_URL`` with the real runner. Skipped only when PostgreSQL is not
installed and ``CI`` is not set; in CI a missing server fails.
"""

from __future__ import annotations

import json

import duckdb
import ibis
import pandas as pd
import pytest
from support import warehouse_server as ws

pytestmark = pytest.mark.slow

TEAM = "analytics"


def test_the_server_holds_the_demo_tables_with_their_types(pg):
    con = ibis.connect(pg.url)
    try:
        events = con.table("events").schema()
        accounts = con.table("accounts").schema()
        n = con.table("events").count().execute()
    finally:
        con.disconnect()
    src = duckdb.connect(str(ws.tiny_warehouse()), read_only=True)
    expected = src.execute("SELECT count(*) FROM events").fetchone()[0]
    src.close()
    assert n == expected
    assert events["ts"].is_timestamp() and events["value"].is_float64()
    assert accounts["created_at"].is_date() and accounts["seats"].is_int32()


def _tables(run_dir, notebook) -> dict[str, pd.DataFrame]:
    folder = run_dir / "tables" / notebook
    return {p.stem: pd.read_parquet(p) for p in sorted(folder.glob("*.parquet"))}


def _canonical(df: pd.DataFrame) -> pd.DataFrame:
    """Rows in a stable order: group-by results have no order on a server."""
    keys = [c for c in df.columns if not pd.api.types.is_float_dtype(df[c])]
    keys += [c for c in df.columns if c not in keys]
    try:
        return df.sort_values(keys, kind="mergesort").reset_index(drop=True)
    except TypeError:  # unorderable mixed objects: keep the recorded order
        return df.reset_index(drop=True)


def test_every_notebook_on_postgres_records_the_duckdb_runs_tables(pg, capsys):
    duck = ws.run_team(TEAM)
    server = ws.run_team(TEAM, url=pg.url)
    assert duck.notebooks, "no notebook to run"
    assert duck.returncode == 0, duck.stdout + duck.stderr
    assert server.returncode == 0, server.stdout + server.stderr
    m = json.loads((server.run_dir / "manifest.json").read_text())
    assert m["source"] == "the warehouse in $WAREHOUSE_URL"
    assert [e["notebook"] for e in m["notebooks"]] == duck.notebooks
    compared = 0
    for nb in duck.notebooks:
        expected, got = _tables(duck.run_dir, nb), _tables(server.run_dir, nb)
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
        print(f"\n[postgres] {compared} result tables equal to DuckDB's for {duck.notebooks}")
    assert compared > 0
