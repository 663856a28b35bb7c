"""Generated bad sources: the contract reports each fault, or the notebooks cope with it.

Each case is a tiny demo warehouse broken by one SQL edit, drawn from a seeded
generator: missing tables or columns, nulls in keys, duplicates, orphans, out-of-range
values, empty tables, timestamps in the future or with a time zone, text in number
columns. The expected table, column and row count come from the edit itself. Cases the
contract lets through (warnings only; time zones, which sources convert to UTC) are run
through the real notebooks with the runner: each notebook succeeds, or stops with a
one-line ``WorkbookError``.

A second generator makes sources that cannot be read at all (junk files named like a
database or a table, folders without tables, missing paths, connection strings given as a
source, bad ``env:`` names): ``workbook check-data --source`` refuses each with one line,
or reports it against the contract, and never prints a traceback or a password.
"""

from __future__ import annotations

import random
import re
import shutil
import string
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pytest

from helpers import paths
from helpers import run as runner
from helpers.cli import main
from helpers.data import connect
from helpers.data.contract import check
from helpers.data.demo import DemoSpec, generate
from helpers.params import NOTEBOOKS

SEED = 9
CASES_PER_FAMILY = 20  # ten families: 200 broken sources
UNREADABLE_PER_FAMILY = 8  # six families: 48 sources that cannot be read

KEYS = {
    "accounts": "account_id",
    "features": "feature",
    "feature_requests": "request_id",
    "nps_responses": "response_id",
}
TABLES = ["accounts", "events", "features", "feature_requests", "nps_responses", "metrics"]
REQUIRED = ["accounts", "events", "features", "feature_requests", "nps_responses"]
COLUMNS = {
    "accounts": ["account_id", "plan", "created_at", "seats", "arr"],
    "events": ["account_id", "user_id", "ts", "product_area", "feature"],
    "features": ["feature", "product_area", "status"],
    "feature_requests": ["request_id", "account_id", "feature", "importance"],
    "nps_responses": ["response_id", "account_id", "score", "submitted_at"],
}
# (table, column, a value outside the contract's range, the problem's words)
OUT_OF_RANGE = [
    ("nps_responses", "score", "11 + (random() * 50)::INT", "values above 10"),
    ("nps_responses", "score", "-1 - (random() * 5)::INT", "values below 0"),
    ("feature_requests", "importance", "4 + (random() * 9)::INT", "values above 3"),
    ("accounts", "seats", "-1 - (random() * 9)::INT", "values below 0"),
    ("accounts", "arr", "-1.5 - random() * 100", "values below 0"),
    ("features", "status", "'shipped'", "values outside"),
]
NUMBER_COLUMNS = [
    ("accounts", "seats"),
    ("accounts", "arr"),
    ("nps_responses", "score"),
    ("feature_requests", "importance"),
    ("events", "value"),
]


@dataclass
class Case:
    """One broken source: the SQL that broke it and the violation the contract must report."""

    name: str
    sql: list[str]
    table: str
    column: str
    problem: str  # words the violation's problem must contain
    rows: int  # exact row count the violation must carry
    severity: str = "error"
    extra: dict = field(default_factory=dict)


def _pick(n_rows: int, rng: random.Random) -> int:
    return rng.randint(1, max(1, min(25, n_rows // 3)))


def _rowids(table: str, k: int, rng: random.Random) -> str:
    salt = rng.randint(0, 10**6)  # k distinct rows, a different pick per case
    return f"rowid IN (SELECT rowid FROM {table} ORDER BY hash(rowid + {salt}) LIMIT {k})"


def _cases(counts: dict[str, int]) -> list[Case]:
    rng = random.Random(SEED)
    out: list[Case] = []
    for i in range(CASES_PER_FAMILY):
        t = rng.choice(REQUIRED)
        out.append(Case(f"missing table {t}", [f"DROP TABLE {t}"], t, "", "table is missing", 0))

        t = rng.choice(REQUIRED)
        c = rng.choice(COLUMNS[t])
        out.append(
            Case(
                f"missing column {t}.{c}",
                [f"ALTER TABLE {t} DROP COLUMN {c}"],
                t,
                c,
                "column is missing",
                0,
            )
        )

        t = rng.choice(list(KEYS))
        k = _pick(counts[t], rng)
        out.append(
            Case(
                f"null keys {t} x{k}",
                [f"UPDATE {t} SET {KEYS[t]} = NULL WHERE {_rowids(t, k, rng)}"],
                t,
                KEYS[t],
                "null in a key",
                k,
            )
        )

        t = rng.choice(list(KEYS))
        k = _pick(counts[t], rng)
        out.append(
            Case(
                f"duplicates {t} x{k}",
                [f"INSERT INTO {t} SELECT * FROM {t} WHERE {_rowids(t, k, rng)}"],
                t,
                KEYS[t],
                "duplicate keys",
                k,
            )
        )

        t, c, ref = rng.choice(
            [
                ("events", "account_id", "accounts.account_id"),
                ("feature_requests", "account_id", "accounts.account_id"),
                ("nps_responses", "account_id", "accounts.account_id"),
                ("feature_requests", "feature", "features.feature"),
                ("events", "feature", "features.feature"),
            ]
        )
        k = _pick(counts[t], rng)
        out.append(
            Case(
                f"orphans {t}.{c} x{k}",
                [f"UPDATE {t} SET {c} = 'ghost-' || rowid WHERE {_rowids(t, k, rng)}"],
                t,
                c,
                f"references missing {ref}",
                k,
                "warning",
            )
        )

        t, c, value, words = OUT_OF_RANGE[i % len(OUT_OF_RANGE)]
        k = _pick(counts[t], rng)
        out.append(
            Case(
                f"out of range {t}.{c} x{k}",
                [f"UPDATE {t} SET {c} = {value} WHERE {_rowids(t, k, rng)}"],
                t,
                c,
                words,
                k,
            )
        )

        t = ["nps_responses", "feature_requests", "metrics", "events"][i % 4]
        out.append(Case(f"empty {t}", [f"DELETE FROM {t}"], t, "", "table is empty", 0, "warning"))

        t, c = rng.choice(
            [
                ("events", "ts"),
                ("feature_requests", "created_at"),
                ("nps_responses", "submitted_at"),
            ]
        )
        k = _pick(counts[t], rng)
        days = rng.randint(2, 4000)
        out.append(
            Case(
                f"future {t}.{c} x{k}",
                [
                    f"UPDATE {t} SET {c} = now()::TIMESTAMP + INTERVAL {days} DAY "
                    f"WHERE {_rowids(t, k, rng)}"
                ],
                t,
                c,
                "timestamps in the future",
                k,
                "warning",
            )
        )

        t, c = rng.choice(
            [
                ("events", "ts"),
                ("feature_requests", "created_at"),
                ("nps_responses", "submitted_at"),
            ]
        )
        out.append(
            Case(
                f"time zone {t}.{c}",
                [
                    "SET TimeZone = 'America/New_York'",
                    f"ALTER TABLE {t} ALTER {c} TYPE TIMESTAMPTZ",
                ],
                t,
                c,
                "time zone",
                0,
            )
        )

        t, c = NUMBER_COLUMNS[i % len(NUMBER_COLUMNS)]
        k = _pick(counts[t], rng)
        out.append(
            Case(
                f"text in {t}.{c} x{k}",
                [
                    f"ALTER TABLE {t} ALTER {c} TYPE VARCHAR",
                    f"UPDATE {t} SET {c} = 'n/a' WHERE {_rowids(t, k, rng)}",
                ],
                t,
                c,
                "has type string",
                0,
            )
        )
    return out


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("bad-data") / "tiny.duckdb"
    generate(DemoSpec(events=30_000, accounts=150, areas=2), out)
    return out


def _counts(path: Path) -> dict[str, int]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES}
    finally:
        con.close()


def _build(tiny: Path, name: str, sql: list[str], folder: Path) -> Path:
    path = folder / (re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_") + ".duckdb")
    shutil.copyfile(tiny, path)
    con = duckdb.connect(str(path))
    try:
        for statement in sql:
            con.execute(statement)
        con.execute("CHECKPOINT")
    finally:
        con.close()
    return path


@pytest.fixture(scope="module")
def built(tiny, tmp_path_factory) -> list[tuple[Case, Path, list]]:
    folder = tmp_path_factory.mktemp("bad-sources")
    out = []
    for case in _cases(_counts(tiny)):
        path = _build(tiny, case.name, case.sql, folder)
        with connect(str(path)) as wh:
            out.append((case, path, check(wh)))
        path.unlink()  # 2 MB each: the runs below rebuild what they need from the SQL
    return out


@pytest.mark.slow  # 248 generated sources: the full suite, not the edit loop
def test_every_generated_fault_is_reported_with_table_column_and_rows(built, capsys):
    missed = []
    for case, _, violations in built:
        if case.problem == "time zone":
            continue  # the contract accepts an aware timestamp: the notebooks must cope
        hits = [
            v
            for v in violations
            if v.table == case.table
            and v.column == case.column
            and case.problem in v.problem
            and v.rows == case.rows
            and v.severity == case.severity
        ]
        if not hits:
            missed.append((case.name, [str(v) for v in violations]))
    with capsys.disabled():
        print(f"\n[bad data] {len(built)} generated bad sources checked against the contract")
    assert not missed, missed


def _unreadable(folder: Path) -> list[tuple[str, str, str | None]]:
    """(family, source, password or None): sources that cannot be read as a warehouse."""
    rng = random.Random(SEED)
    out: list[tuple[str, str, str | None]] = []
    for i in range(UNREADABLE_PER_FAMILY):
        junk = rng.randbytes(rng.choice([0, 1, 16, 700, 5000]))
        path = folder / f"junk{i}.duckdb"
        path.write_bytes(junk)
        out.append(("not a database", str(path), None))

        table = rng.choice(TABLES[:5])
        shape = rng.choice(["file.parquet", "folder", "file.csv"])
        tfolder = folder / f"tables{i}"
        tfolder.mkdir()
        if shape == "folder":
            (tfolder / table).mkdir()
            (tfolder / table / "part-0.parquet").write_bytes(b"\xff" + rng.randbytes(300))
        else:
            suffix = shape.split(".")[1]
            (tfolder / f"{table}.{suffix}").write_bytes(b"\xff\x00" + rng.randbytes(3000))
        out.append(("junk table file", str(tfolder), None))

        empty = folder / f"notables{i}"
        empty.mkdir()
        for _ in range(rng.randint(0, 3)):
            name = "".join(rng.choices(string.ascii_lowercase, k=6)) + rng.choice(
                [".txt", ".json", ""]
            )
            (empty / name).write_text("not a table")
        out.append(("no tables", str(empty), None))

        out.append(("missing path", str(folder / f"nothing-{rng.randrange(10**6)}.duckdb"), None))

        password = "Pw" + "".join(rng.choices(string.ascii_letters + "/@ !", k=10)) + "9"
        form = rng.choice(
            [
                f"postgres://bob:{password}@db:5432/w",
                f"postgresql://bob@db/w?password={password.replace(' ', '+')}",
                f"host=db user=bob password='{password}' dbname=w",
                f"mysql://bob:{password}@db/w",
            ]
        )
        out.append(("connection string", form, password))

        var = rng.choice(
            [
                f"env:UNSET_WB_{rng.randrange(10**6)}",
                "env:",
                f"env:host=db password={password}",
                f"env:9{rng.randrange(100)}",
            ]
        )
        out.append(("bad env", var, password if "password" in var else None))
    return out


@pytest.mark.slow  # 248 generated sources: the full suite, not the edit loop
def test_every_unreadable_source_is_refused_in_one_line(tmp_path, capsys):
    cases = _unreadable(tmp_path)
    outcomes: dict[str, int] = {}
    for family, source, password in cases:
        capsys.readouterr()
        code = main(["check-data", "--source", source])
        out, err = capsys.readouterr()
        assert code == 1, (family, source, out, err)
        assert "Traceback" not in out + err, (family, source, err)
        if password:
            assert password not in out + err, (family, err)
        refused = err.startswith("error: source") and err.count("\n") == 1 and not out
        reported = re.search(r": \d+ error\(s\), \d+ warning\(s\)\n$", out) is not None
        assert refused or reported, (family, source, out, err)
        key = f"{family}: {'refused' if refused else 'reported'}"
        outcomes[key] = outcomes.get(key, 0) + 1
    with capsys.disabled():
        detail = ", ".join(f"{k} {v}" for k, v in sorted(outcomes.items()))
        print(f"\n[bad data] {len(cases)} unreadable sources: {detail}")
    assert len(cases) == 6 * UNREADABLE_PER_FAMILY


def test_a_clean_tiny_source_passes_the_contract(tiny):
    with connect(str(tiny)) as wh:
        assert [v for v in check(wh) if v.severity == "error"] == []


@pytest.fixture(scope="module")
def accepted_runs(built, tiny, tmp_path_factory):
    """Every source the contract accepts, run through the real notebooks by the runner.

    The accepted faults of one kind are planted together in one source, so that every
    accepted case meets the notebooks in a handful of runs: orphans and future timestamps
    (they touch different columns), empty tables, empty events (nothing left to analyse)
    and time zones. Returns (kind -> results, number of accepted cases).
    """
    accepted = [c for c, _, vs in built if not any(v.severity == "error" for v in vs)]
    groups: dict[str, list[Case]] = {}
    for case in accepted:
        kind = "empty events" if case.name == "empty events" else case.name.split(" ")[0]
        kind = "orphans+future" if kind in ("orphans", "future") else kind  # never mask
        groups.setdefault(kind, []).append(case)
    folder = tmp_path_factory.mktemp("accepted-sources")
    sources = {
        kind: _build(tiny, kind, [sql for c in cases for sql in c.sql], folder)
        for kind, cases in groups.items()
    }
    root = tmp_path_factory.mktemp("accepted-root")
    shutil.copytree(paths.ROOT / "params", root / "params")
    (root / "outputs").mkdir()
    base = (root / "params" / "analytics.yaml").read_text()
    teams = {}
    for i, (kind, path) in enumerate(sources.items()):
        team = f"bad{i:02d}"
        (root / "params" / f"{team}.yaml").write_text(
            base + f"\nsource: {path}\nas_of: 2026-10-31\n"
        )
        teams[team] = kind
    notebooks = [n for n in NOTEBOOKS if runner.notebook_path(n).exists()]
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("WORKBOOK_ROOT", str(root))
        mp.delenv("WORKBOOK_OUTPUTS", raising=False)
        mp.delenv("WORKBOOK_NOTEBOOKS", raising=False)
        results = runner.run(list(teams), notebooks=notebooks, jobs=2)
    by_kind: dict[str, list] = {}
    for r in results:
        by_kind.setdefault(teams[r.team], []).append(r)
    return by_kind, len(accepted)


def _raw(results) -> list[tuple[str, str | None]]:
    """Results that are neither a success nor a one-line ``WorkbookError``."""
    raw = []
    for r in results:
        clean = r.status in ("succeeded", "up to date") or (
            r.error is not None
            and "\n" not in r.error
            and (r.notebook == "-" or re.match(r"cell \d+: WorkbookError: ", r.error))
        )
        if not clean:
            raw.append((r.notebook, r.error))
    return raw


@pytest.mark.slow
def test_sources_the_contract_accepts_run_every_notebook_without_a_raw_traceback(
    accepted_runs, capsys
):
    by_kind, n_accepted = accepted_runs
    with capsys.disabled():
        print(
            f"\n[bad data] {n_accepted} generated sources passed the contract; planted in "
            f"{len(by_kind)} sources run through the notebooks: "
            + ", ".join(f"{k}/{r.notebook}={r.status}" for k, rs in by_kind.items() for r in rs)
        )
    assert len(by_kind) == 4
    raw = {k: _raw(rs) for k, rs in by_kind.items() if k != "time" and _raw(rs)}
    assert not raw, raw


@pytest.mark.slow
def test_a_time_zone_timestamp_is_refused_or_analysed_without_a_raw_traceback(built, accepted_runs):
    tz = [(c, vs) for c, _, vs in built if c.problem == "time zone"]
    assert tz
    refused = all(
        any(v.severity == "error" and (v.table, v.column) == (c.table, c.column) for v in vs)
        for c, vs in tz
    )
    by_kind, _ = accepted_runs
    assert refused or ("time" in by_kind and not _raw(by_kind["time"]))
