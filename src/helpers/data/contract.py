"""The data contract: tables, columns, types and rules, checked in the engine.

Every check is a small aggregate query, so a source of any size is checked
without loading it. :func:`check` returns every violation with the table,
column, problem and number of rows affected.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from .warehouse import OPTIONAL_TABLES, Warehouse

__all__ = ["CONTRACT", "Column", "Violation", "check", "format_violations"]


@dataclass(frozen=True)
class Column:
    """One column of the contract."""

    name: str
    kind: str  # string, date, timestamp, integer, float
    key: bool = False
    nullable: bool = False
    min: float | None = None
    max: float | None = None
    allowed: tuple[str, ...] | None = None
    references: str | None = None  # "table.column"


CONTRACT: dict[str, list[Column]] = {
    "accounts": [
        Column("account_id", "string", key=True),
        Column("name", "string"),
        Column("plan", "string"),
        Column("region", "string"),
        Column("industry", "string"),
        Column("created_at", "date"),
        Column("seats", "integer", min=0),
        Column("arr", "float", min=0),
        Column("churned_at", "date", nullable=True),
    ],
    "events": [
        Column("account_id", "string", references="accounts.account_id"),
        Column("user_id", "string"),
        Column("ts", "timestamp"),
        Column("product_area", "string"),
        Column("feature", "string", references="features.feature"),
        Column("value", "float", nullable=True),
    ],
    "features": [
        Column("feature", "string", key=True),
        Column("product_area", "string"),
        Column("name", "string"),
        Column("status", "string", allowed=("idea", "planned", "beta", "released")),
        Column("released_at", "date", nullable=True),
    ],
    "feature_requests": [
        Column("request_id", "string", key=True),
        Column("account_id", "string", references="accounts.account_id"),
        Column("feature", "string", references="features.feature"),
        Column("created_at", "timestamp"),
        Column(
            "source",
            "string",
            allowed=("support", "sales", "interview", "survey", "community", "other"),
        ),
        Column("importance", "integer", min=0, max=3),
        Column("comment", "string", nullable=True),
    ],
    "nps_responses": [
        Column("response_id", "string", key=True),
        Column("account_id", "string", references="accounts.account_id"),
        Column("user_id", "string"),
        Column("submitted_at", "timestamp"),
        Column("score", "integer", min=0, max=10),
        Column("comment", "string", nullable=True),
    ],
    "metrics": [
        Column("date", "date"),
        Column("product_area", "string"),
        Column("metric", "string"),
        Column("segment", "string", nullable=True),
        Column("value", "float"),
    ],
}


@dataclass(frozen=True)
class Violation:
    """One broken rule: where, what, how many rows, and whether it stops a run."""

    table: str
    column: str
    problem: str
    rows: int
    severity: str = "error"  # error | warning

    def __str__(self) -> str:
        where = f"{self.table}.{self.column}" if self.column else self.table
        rows = f" ({self.rows:,} rows)" if self.rows else ""
        return f"{self.severity.upper():7} {where}: {self.problem}{rows}"


def _kind_ok(dtype, kind: str) -> bool:
    if kind == "string":
        return dtype.is_string()
    if kind == "date":
        # a timestamp that carries only dates is accepted for a date column
        return dtype.is_date() or dtype.is_timestamp()
    if kind == "timestamp":
        return dtype.is_timestamp()
    if kind == "integer":
        return dtype.is_integer()
    if kind == "float":
        return dtype.is_floating() or dtype.is_integer() or dtype.is_decimal()
    raise ValueError(kind)


def check(wh: Warehouse, *, now: dt.datetime | None = None) -> list[Violation]:
    """Check a source against the contract; return every violation found.

    Parameters
    ----------
    wh
        An open :class:`~helpers.data.Warehouse`.
    now
        What "in the future" means (UTC); defaults to the current time.
    """
    now = now or dt.datetime.now(dt.UTC).replace(tzinfo=None)
    out: list[Violation] = []
    usable: dict[str, set[str]] = {}
    for table, columns in CONTRACT.items():
        if not wh.has(table):
            if table not in OPTIONAL_TABLES:
                out.append(Violation(table, "", "table is missing", 0))
            continue
        t = wh.table(table)
        schema = t.schema()
        ok: set[str] = set()
        for col in columns:
            if col.name not in schema:
                out.append(Violation(table, col.name, "column is missing", 0))
            elif not _kind_ok(schema[col.name], col.kind):
                out.append(
                    Violation(
                        table, col.name, f"has type {schema[col.name]}, expected {col.kind}", 0
                    )
                )
            else:
                ok.add(col.name)
        usable[table] = ok
        out.extend(_row_checks(t, table, [c for c in columns if c.name in ok], now))
    out.extend(_orphans(wh, usable))
    return out


def _row_checks(t, table: str, columns: list[Column], now: dt.datetime) -> list[Violation]:
    """Null, duplicate, range, allowed-value and future checks as one aggregate query."""
    import ibis

    aggs = {"__rows": t.count()}
    plan: list[tuple[str, Column, str, str]] = []  # (alias, column, problem, severity)
    for c in columns:
        col = t[c.name]
        if not c.nullable:
            alias = f"null_{c.name}"
            aggs[alias] = col.isnull().sum()
            plan.append(
                (
                    alias,
                    c,
                    "null in a key" if c.key else "null values",
                    "error" if c.key else "warning",
                )
            )
        if c.key:
            alias = f"dup_{c.name}"
            aggs[alias] = t.count() - col.nunique() - col.isnull().sum().cast("int64")
            plan.append((alias, c, "duplicate keys (extra rows)", "error"))
        if c.min is not None:
            alias = f"min_{c.name}"
            aggs[alias] = (col < c.min).sum()
            plan.append((alias, c, f"values below {c.min:g}", "error"))
        if c.max is not None:
            alias = f"max_{c.name}"
            aggs[alias] = (col > c.max).sum()
            plan.append((alias, c, f"values above {c.max:g}", "error"))
        if c.allowed:
            alias = f"bad_{c.name}"
            aggs[alias] = (col.notnull() & ~col.isin(list(c.allowed))).sum()
            plan.append((alias, c, f"values outside {list(c.allowed)}", "error"))
        if c.kind == "timestamp":
            alias = f"future_{c.name}"
            aggs[alias] = (col > ibis.literal(now)).sum()
            plan.append((alias, c, "timestamps in the future", "warning"))
    row = t.aggregate(**aggs).to_pyarrow().to_pylist()[0]
    out = []
    if row["__rows"] == 0:
        out.append(Violation(table, "", "table is empty", 0, "warning"))
    for alias, c, problem, severity in plan:
        n = int(row[alias] or 0)
        if n:
            out.append(Violation(table, c.name, problem, n, severity))
    return out


def _orphans(wh: Warehouse, usable: dict[str, set[str]]) -> list[Violation]:
    out = []
    for table, columns in CONTRACT.items():
        for c in columns:
            if not c.references or c.name not in usable.get(table, set()):
                continue
            ref_table, ref_col = c.references.split(".")
            if ref_col not in usable.get(ref_table, set()):
                continue
            t = wh.table(table)
            ref = wh.table(ref_table)
            orphans = t.filter(t[c.name].notnull() & ~t[c.name].isin(ref[ref_col]))
            n = int(orphans.count().to_pyarrow().as_py())
            if n:
                out.append(
                    Violation(
                        table, c.name, f"references missing {ref_table}.{ref_col}", n, "warning"
                    )
                )
    return out


def format_violations(violations: list[Violation]) -> str:
    """One line per violation, errors first."""
    ordered = sorted(violations, key=lambda v: (v.severity != "error", v.table, v.column))
    return "\n".join(str(v) for v in ordered)
