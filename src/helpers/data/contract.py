"""The data contract: tables, columns, types and rules, checked in the engine.

Every check is a small aggregate query, so a source of any size is checked
without loading it. :func:`check` returns every violation with the table,
column, problem and number of rows affected.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from ..errors import did_you_mean
from .warehouse import OPTIONAL_TABLES, Warehouse

__all__ = [
    "CONTRACT",
    "TABLES_NEEDED",
    "Column",
    "Violation",
    "check",
    "format_violations",
    "tables_needed",
]

#: The tables each notebook reads: a source without NPS answers still runs segmentation
#: and feature demand (a metric's own table is added by the runner's check of the metric).
TABLES_NEEDED: dict[str, set[str]] = {
    "customer_segmentation": {"accounts", "events", "features"},
    "feature_demand": {"accounts", "events", "features", "feature_requests"},
    "metric_trends": {"accounts", "events", "features"},
    "customer_feedback": {"accounts", "events", "features", "nps_responses", "feature_requests"},
}


def tables_needed(notebooks) -> set[str]:
    """The tables the given notebooks read (every contract table for an unknown notebook)."""
    out: set[str] = set()
    for n in notebooks:
        out |= TABLES_NEEDED.get(n, set(CONTRACT))
    return out


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
                out.append(Violation(table, "", "table is missing" + _found_tables(wh, table), 0))
            continue
        t = wh.table(table)
        schema = t.schema()
        ok: set[str] = set()
        for col in columns:
            if col.name not in schema:
                found = [c for c in schema if c not in {x.name for x in columns}]
                hint = did_you_mean(col.name, found) or (
                    f"; columns not in the contract: {', '.join(found[:8])}" if found else ""
                )
                out.append(Violation(table, col.name, "column is missing" + hint, 0))
            elif not _kind_ok(schema[col.name], col.kind):
                problem = f"has type {schema[col.name]}, expected {col.kind}"
                out.append(Violation(table, col.name, problem + _samples(t, col, schema), 0))
            else:
                ok.add(col.name)
        usable[table] = ok
        out.extend(_row_checks(t, table, [c for c in columns if c.name in ok], now))
    out.extend(_orphans(wh, usable))
    out.extend(_stale(wh, usable, now))
    return out


def _stale(wh: Warehouse, usable: dict[str, set[str]], now: dt.datetime) -> list[Violation]:
    """An error when the newest event is older than the source's ``max_age_days``."""
    limit = getattr(wh, "max_age_days", None)
    if not limit or "ts" not in usable.get("events", set()):
        return []
    ev = wh.table("events")
    newest = ev.aggregate(m=ev.ts.max()).to_pyarrow().to_pylist()[0]["m"]
    if newest is None:
        return []
    age = (now - newest).total_seconds() / 86400
    if age <= limit:
        return []
    problem = (
        f"the newest event ({newest:%Y-%m-%d %H:%M}) is {age:.1f} days old, more than "
        f"max_age_days ({limit}): is the load job behind?"
    )
    return [Violation("events", "ts", problem, 0)]


def _found_tables(wh: Warehouse, table: str) -> str:
    """What the source holds instead: its other tables or files, with the nearest name."""
    found = sorted(getattr(wh, "unmapped", []) or [])
    if not found:
        return ""
    hint = did_you_mean(table, found)
    return f"{hint}; the source also holds: {', '.join(found[:8])}" + (
        f" (map one with `tables: {{{table}: <name>}}` in params)" if found else ""
    )


def _samples(t, col: Column, schema) -> str:
    """Three values that do not fit the expected type, and a hint for the common causes."""
    try:
        values = (
            t.select(v=t[col.name].cast("string"))
            .filter(lambda r: r.v.notnull())
            .limit(3)
            .to_pyarrow()
            .column("v")
            .to_pylist()
        )
    except Exception:  # an engine that cannot cast this type to text: no samples
        return ""
    if not values:
        return "; every value is empty (all-null columns of any type are accepted)"
    shown = ", ".join(repr(str(v)[:20]) for v in values)
    hint = ""
    if col.kind in ("float", "integer") and any("," in str(v) for v in values):
        hint = ' — decimal commas? set `csv_decimal: ","` in params'
    elif col.kind == "string" and schema[col.name].is_numeric():
        hint = " — numeric IDs are read as text when mapped (they are cast for you)"
    return f"; sample values: {shown}{hint}"


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
