"""Open a team's data source through Ibis; heavy work stays in the engine.

A source is one of:

* a DuckDB file (default ``data/demo.duckdb``), opened read-only so parallel runs share it;
* a folder of Parquet or CSV files named after the tables (``events.parquet``,
  ``accounts.csv``, or a folder ``events/`` of Parquet parts);
* ``env:VARIABLE``: a connection URL (``postgres://…``, ``duckdb://…``) read from the
  environment. The URL is never returned, logged or written; :func:`describe` shows
  only the variable's name, and errors are scrubbed (:func:`helpers.secrets.scrub`).

* a source file ``*.source.yaml`` (any ``.yaml``): the company's own data described once —
  where it is (``path``: any of the above, relative to the file), which of its tables and
  columns are the contract's (``tables``, ``columns``), how its CSV files write decimals
  (``csv_decimal``) and how old its newest event may be (``max_age_days``). See
  docs/data-contract.md, "Bring your own data".

A connection string given as the source itself (a URL, or a libpq keyword string such as
``host=db password=...``) is refused without being shown.

Mapped or not, a column whose type is a safe step from the contract's is cast in the
engine: numeric IDs to text, whole-number floats to integers, and a column with no
value at all (any type) to the contract's type.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.datatypes as dt_types

from .. import paths
from ..errors import DataError, did_you_mean
from ..secrets import ENV_NAME, looks_like_connection, private_dir, scrub

__all__ = ["TABLES", "Warehouse", "connect", "describe", "resolve_as_of"]

#: The tables of the data contract; ``metrics`` is optional.
TABLES = ["accounts", "events", "features", "feature_requests", "nps_responses", "metrics"]
OPTIONAL_TABLES = {"metrics"}

# timestamp column that says how fresh each table is
_FRESHNESS = {
    "events": "ts",
    "feature_requests": "created_at",
    "nps_responses": "submitted_at",
    "accounts": "created_at",
    "metrics": "date",
}


_CONNECTION_REFUSED = (
    "a connection string is not a source (it would be shown and stored); put it in an "
    "environment variable and write `source: env:VARIABLE`"
)


def describe(source: str | os.PathLike[str]) -> str:
    """A printable name for a source that never contains credentials.

    ``env:VARIABLE`` shows the variable's name, a connection string given by mistake shows
    nothing of itself, and a path is shown scrubbed.
    """
    source = str(source)
    if source.startswith("env:"):
        var = source[4:]
        return f"the warehouse in ${var}" if ENV_NAME.match(var) else "an invalid env: source"
    if looks_like_connection(source):
        return "a connection string (not shown)"
    return scrub(source)


@dataclass(frozen=True)
class SourceSpec:
    """How a company's own data maps onto the contract (a source file's content)."""

    tables: dict[str, str] = field(default_factory=dict)  # contract table -> its name there
    columns: dict[str, str] = field(default_factory=dict)  # "table.column" -> its name there
    csv_decimal: str = "."
    max_age_days: int | None = None


_SPEC_KEYS = {"path", "tables", "columns", "csv_decimal", "max_age_days"}
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_ .-]{0,127}$")


def _connect_spec(source: str, file: Path) -> Warehouse:
    """Open the source a source file describes, with its mapping."""
    import yaml

    where = f"source file {source}"
    if file.stat().st_size > 64 * 1024:
        raise DataError(f"{where}: larger than 64 KB")
    try:
        raw = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise DataError(f"{where}: not valid YAML ({str(exc).splitlines()[0][:80]})") from None
    if not isinstance(raw, dict):
        raise DataError(f"{where}: must be a mapping of keys {sorted(_SPEC_KEYS)}")
    for key in raw:
        if key not in _SPEC_KEYS:
            raise DataError(f"{where}: unknown key `{key}`{did_you_mean(str(key), _SPEC_KEYS)}")
    target = raw.get("path")
    if not isinstance(target, str) or not target.strip():
        raise DataError(f"{where}: key `path` must name a DuckDB file, a folder or env:VARIABLE")
    if looks_like_connection(target):
        raise DataError(f"{where}: key `path`: {_CONNECTION_REFUSED}")
    spec = SourceSpec(
        tables=_names(raw.get("tables"), where, "tables", TABLES),
        columns=_names(raw.get("columns"), where, "columns", None),
        csv_decimal=_decimal(raw.get("csv_decimal", "."), where),
        max_age_days=_age(raw.get("max_age_days"), where),
    )
    if target.startswith("env:"):
        return _connect_url(target, spec)
    path = Path(target).expanduser()
    path = path if path.is_absolute() else (file.parent / path).resolve()
    if not path.exists():
        raise DataError(f"{where}: key `path`: no such file or folder {path}")
    return _open(target, path, spec)


def _names(value, where: str, key: str, allowed) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise DataError(f"{where}: key `{key}` must map contract names to the source's names")
    from .contract import CONTRACT

    out = {}
    for k, v in value.items():
        k, v = str(k), str(v)
        if allowed is not None and k not in allowed:
            raise DataError(
                f"{where}: key `{key}.{k}`: not a contract table{did_you_mean(k, allowed)}"
            )
        if allowed is None:
            table, _, column = k.partition(".")
            known = [c.name for c in CONTRACT.get(table, [])]
            if column not in known:
                options = [f"{t}.{c.name}" for t, cols in CONTRACT.items() for c in cols]
                raise DataError(
                    f"{where}: key `{key}.{k}`: not a contract column (write table.column)"
                    + did_you_mean(k, options)
                )
        if not _NAME.match(v):
            raise DataError(f"{where}: key `{key}.{k}`: {v[:40]!r} is not a table or column name")
        out[k] = v
    return out


def _decimal(value, where: str) -> str:
    if value not in (".", ","):
        raise DataError(f'{where}: key `csv_decimal` must be "." or ",", not {value!r}')
    return value


def _age(value, where: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= 3650:
        raise DataError(f"{where}: key `max_age_days` must be a whole number of days, 1 to 3650")
    return value


def _rename(table: str, t, spec: SourceSpec, source: str):
    """The source's columns under the contract's names (``columns:`` of a source file)."""
    renames = {}
    for key, theirs in spec.columns.items():
        name, _, ours = key.partition(".")
        if name != table:
            continue
        if theirs not in t.columns:
            raise DataError(
                f"source {describe(source)}: column `{theirs}` (mapped to {key}) is not in "
                f"table {spec.tables.get(table, table)}{did_you_mean(theirs, t.columns)}; "
                f"its columns: {', '.join(t.columns[:12])}"
            )
        renames[ours] = theirs
    return t.rename(renames) if renames else t


def _safe_casts(table: str, t):
    """Cast columns whose type is one safe step from the contract's (see the module)."""
    from .contract import CONTRACT

    target = {
        "string": "string",
        "date": "date",
        "timestamp": "timestamp",
        "integer": "int64",
        "float": "float64",
    }
    schema = t.schema()
    checks, casts = {}, {}
    for col in CONTRACT.get(table, []):
        if col.name not in schema:
            continue
        typ = schema[col.name]
        if col.kind == "string" and typ.is_integer():
            casts[col.name] = "string"  # numeric IDs
        elif col.kind == "integer" and typ.is_floating():
            checks[f"frac:{col.name}"] = (t[col.name] != t[col.name].round()).sum()
        elif col.kind != "string" and (typ.is_null() or typ.is_string()):
            checks[f"n:{col.name}"] = t[col.name].count()
    if checks:
        row = t.aggregate(**checks).to_pyarrow().to_pylist()[0]
        for alias, n in row.items():
            kind, name = alias.split(":", 1)
            if not n:  # no fractional value / no value at all
                kinds = {c.name: c.kind for c in CONTRACT[table]}
                casts[name] = target[kinds[name]]
    if not casts:
        return t
    return t.mutate(**{name: t[name].cast(to) for name, to in casts.items()})


#: how long a :meth:`Warehouse.fact` is kept: a run's notebooks each read it once; a
#: long-lived explorer sees newly loaded data within this many seconds
FACTS_TTL_S = 60.0


@dataclass
class Warehouse:
    """An open source: Ibis tables by contract name, plus a few cheap facts about them."""

    source: str
    con: Any
    tables: dict[str, Any] = field(default_factory=dict)
    #: tables or files the source holds that map to no contract table (for hints)
    unmapped: list[str] = field(default_factory=list)
    #: the newest event may be at most this many days old (a source file's ``max_age_days``)
    max_age_days: int | None = None

    #: facts about the data (the latest event, the last complete day) read at most once
    #: per ``FACTS_TTL_S`` seconds: every query of one analysis sees the same data end
    _facts: dict[Any, tuple[float, Any]] = field(default_factory=dict, repr=False)

    def has(self, name: str) -> bool:
        return name in self.tables

    def fact(self, key: Any, read: Callable[[], Any]) -> Any:
        """``read()``, remembered under ``key`` for ``FACTS_TTL_S`` seconds."""
        now = time.monotonic()
        got = self._facts.get(key)
        if got is not None and now - got[0] < FACTS_TTL_S:
            return got[1]
        value = read()
        self._facts[key] = (now, value)
        return value

    def table(self, name: str):
        """The Ibis table ``name``; a clear error if the source lacks it."""
        try:
            return self.tables[name]
        except KeyError:
            hint = did_you_mean(name, self.tables)
            raise DataError(
                f"table `{name}` is missing from {describe(self.source)}{hint}"
            ) from None

    def fingerprint(self) -> dict[str, dict[str, Any]]:
        """Per table, one aggregate query: rows, latest timestamp, and a checksum of content.

        The checksum is, per column, the count of values and, for numbers, their sum; for
        every table but ``events``, dates give their range, text its distinct values and characters. An
        ARR edited in place, a churn date set, a renamed plan: each changes the
        fingerprint, so the next run is not "up to date" (the key of incremental runs).
        """
        import ibis.expr.datatypes as dtypes

        out: dict[str, dict[str, Any]] = {}
        for name, t in self.tables.items():
            col = _FRESHNESS.get(name)
            aggs = {"rows": t.count()}
            if col and col in t.columns:
                aggs["latest"] = t[col].max()
            for c, typ in t.schema().items():
                if name == "events" and c != "value":
                    continue  # the biggest table: rows, latest and the sum of value suffice
                aggs[f"n:{c}"] = t[c].count()
                if isinstance(typ, dtypes.Numeric):
                    aggs[f"sum:{c}"] = t[c].cast("float64").sum()
                elif isinstance(typ, dtypes.Temporal):
                    aggs[f"max:{c}"] = t[c].max()
                    aggs[f"min:{c}"] = t[c].min()
                elif isinstance(typ, dtypes.String):
                    aggs[f"distinct:{c}"] = t[c].nunique()
                    aggs[f"chars:{c}"] = t[c].length().sum()
            row = t.aggregate(**aggs).to_pyarrow().to_pylist()[0]
            out[name] = {
                k: (v.isoformat() if hasattr(v, "isoformat") else _round(v)) for k, v in row.items()
            }
        return out

    def last_event_date(self) -> dt.date:
        """The date of the latest event: the default ``as_of`` of a run."""
        ev = self.table("events")
        latest = ev.aggregate(m=ev.ts.max()).to_pyarrow().to_pylist()[0]["m"]
        if latest is None:
            raise DataError(f"table `events` in {describe(self.source)} has no rows")
        return latest.date() if isinstance(latest, dt.datetime) else latest

    def close(self) -> None:
        disconnect = getattr(self.con, "disconnect", None)
        if disconnect:
            disconnect()

    def __enter__(self) -> Warehouse:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def connect(source: str | os.PathLike[str] | None = None) -> Warehouse:
    """Open ``source`` (see the module docstring) and map its tables.

    Raises
    ------
    WorkbookError
        If the file, folder or environment variable does not exist, or the engine
        refuses the connection; the message never includes a URL.
    """
    source = str(source or paths.default_warehouse())
    if source.startswith("env:"):
        return _connect_url(source)
    if looks_like_connection(source):
        raise DataError(f"source: {_CONNECTION_REFUSED}")
    path = paths.resolve(source)
    if path.suffix in (".yaml", ".yml") and path.is_file():
        return _connect_spec(source, path)
    return _open(source, path, SourceSpec())


def _open(source: str, path: Path, spec: SourceSpec) -> Warehouse:
    if path.is_dir():
        return _connect_folder(source, path, spec)
    if not path.exists():
        hint = " (build it with `workbook demo-data`)" if path == paths.default_warehouse() else ""
        tried = f" (looked for {path})" if str(path) != source else ""
        raise DataError(f"source {source}: no such file or folder{tried}{hint}")
    try:
        con = ibis.duckdb.connect(str(path), read_only=True)
        _bound_memory(con)
        names = con.list_tables()
    except Exception as exc:  # duckdb raises many kinds for a file that is not a database
        raise DataError(
            f"source {source}: cannot be opened as a DuckDB database "
            f"({str(exc).splitlines()[0][:120]})"
        ) from None
    return _warehouse(source, con, _pick(con, names, spec), spec, names)


def _pick(con, names: list[str], spec: SourceSpec) -> dict[str, Any]:
    """The contract's tables among ``names``, through the spec's table mapping."""
    out = {}
    for table in TABLES:
        name = spec.tables.get(table, table)
        if name in names:
            out[table] = con.table(name)
    return out


def _bound_memory(con) -> None:
    """Bounded engine memory: big aggregations spill to disk instead of growing the kernel.

    ``WORKBOOK_DUCKDB_MEMORY`` (default 512MB; 192MB in the kernels of a scheduled run,
    where several run at once) caps the engine of each notebook, so a
    team run stays small whatever the number of events; spills go to a temporary folder
    only this user can enter (:func:`helpers.secrets.private_dir`: a shared, predictable
    folder would let another local user read the spilled rows or plant a link).
    Set after opening (not as connection config), so other connections to the same file
    in the process, with default settings, stay possible.
    """
    spill = private_dir("workbook-duckdb")
    limit = os.environ.get("WORKBOOK_DUCKDB_MEMORY", "512MB")
    if not re.fullmatch(r"\d+(\.\d+)?\s*[KMGT]i?B", limit, re.IGNORECASE):
        raise DataError(f"WORKBOOK_DUCKDB_MEMORY must be a size like 512MB, not {limit!r}")
    con.raw_sql(f"SET memory_limit = '{limit}'")
    con.raw_sql(f"SET temp_directory = '{spill}'")


def _connect_url(source: str, spec: SourceSpec | None = None) -> Warehouse:
    spec = spec or SourceSpec()
    var = source[4:]
    if not ENV_NAME.match(var):
        raise DataError(
            "source env:…: the part after `env:` must be the name of an environment variable "
            "(letters, digits and underscores)"
        )
    url = os.environ.get(var)
    if not url:
        raise DataError(f"source {source}: environment variable {var} is not set")
    try:
        con = _open_url(url)
        names = con.list_tables()
    except Exception as exc:
        # scrubbed before it is cut: a cut could leave half a password the patterns miss
        text = scrub(str(exc), url, fragments=True) if str(exc) else ""
        first = text.splitlines()[0][:160] if text.strip() else type(exc).__name__
        raise DataError(f"source {describe(source)}: cannot connect ({first})") from None
    return _warehouse(source, con, _pick(con, names, spec), spec, names)


def _open_url(url: str):
    """An Ibis connection for a URL: ``sc://…`` is Spark Connect (a Spark Connect server or
    Databricks) through Ibis's PySpark backend; anything else goes to :func:`ibis.connect`."""
    if url.startswith("sc://"):
        from pyspark.sql import SparkSession

        session = SparkSession.builder.remote(url).getOrCreate()
        with contextlib.suppress(ImportError, AttributeError):
            from pyspark.sql.connect.client.retries import DefaultPolicy

            # an unreachable server fails in about ten seconds, not pyspark's default
            # fifteen retries (minutes): a wrong URL is one line at once
            session.client.set_retry_policies([DefaultPolicy(max_retries=5, max_backoff=4000)])
        return ibis.pyspark.connect(session)
    return ibis.connect(url)


def _connect_folder(source: str, folder: Path, spec: SourceSpec | None = None) -> Warehouse:
    spec = spec or SourceSpec()
    con = ibis.duckdb.connect()
    _bound_memory(con)
    tables = {}
    for table in TABLES:
        name = spec.tables.get(table, table)
        candidates = [folder / f"{name}.parquet", folder / name, folder / f"{name}.csv"]
        for c in candidates:
            if c.is_dir() and any(c.glob("*.parquet")):
                kind, read, target = "Parquet", con.read_parquet, str(c / "*.parquet")
            elif c.is_file() and c.suffix == ".parquet":
                kind, read, target = "Parquet", con.read_parquet, str(c)
            elif c.is_file() and c.suffix == ".csv":
                kind, target = "CSV", str(c)

                def read(target, table_name, _sep=spec.csv_decimal):
                    if _sep == ".":
                        return con.read_csv(target, table_name=table_name)
                    return con.read_csv(target, table_name=table_name, decimal_separator=_sep)

            else:
                continue
            try:
                tables[table] = read(target, table_name=table)
            except Exception as exc:  # a file that is not what its name says: one line
                first = str(exc).strip().splitlines()[0][:120] if str(exc).strip() else ""
                raise DataError(
                    f"source {describe(source)}: {c.name} cannot be read as {kind} "
                    f"({first or type(exc).__name__})"
                ) from None
            break
    found = sorted(
        {p.stem for p in folder.iterdir() if p.suffix in (".parquet", ".csv") or p.is_dir()}
    )
    if not tables:
        also = f"; it holds: {', '.join(found[:10])}" if found else ""
        raise DataError(
            f"source {source}: the folder {folder} holds none of the tables "
            f"({', '.join(t + '.parquet|.csv' for t in TABLES[:2])}, …){also}"
        )
    return _warehouse(source, con, tables, spec, found)


def _warehouse(
    source: str,
    con,
    tables: dict[str, Any],
    spec: SourceSpec | None = None,
    names: list[str] | None = None,
) -> Warehouse:
    """Map the tables and columns, with safe casts and time-zone-aware timestamps turned
    into naive UTC.

    The contract's timestamps are UTC without a zone; a source that stores them with
    one (TIMESTAMPTZ) is converted in the engine, in a session set to UTC, so every
    analysis compares like with like.
    """
    if any(
        t[c].type().is_timestamp() and t[c].type().timezone
        for t in tables.values()
        for c in t.columns
    ):
        with contextlib.suppress(Exception):  # engines without session time zones
            con.raw_sql("SET TimeZone = 'UTC'")
    _cache_compiles(con)
    spec = spec or SourceSpec()
    used = {spec.tables.get(t, t) for t in tables}
    mapped = {n: _safe_casts(n, _rename(n, t, spec, source)) for n, t in tables.items()}
    return Warehouse(
        source,
        con,
        {n: _utc_naive(t) for n, t in mapped.items()},
        unmapped=sorted(set(names or []) - used - set(TABLES)),
        max_age_days=spec.max_age_days,
    )


#: compiled queries kept per connection (see :func:`_cache_compiles`)
COMPILED_QUERIES = 256


def _cache_compiles(con) -> None:
    """Compile each distinct query once per connection.

    Ibis turns an expression into SQL on every execution (10 ms and more for a
    per-account query, as long as the engine takes over a small area); a query asked again
    (the explorer's and the pages' repeated questions, a notebook re-run in JupyterLab)
    reuses its SQL. The key is the expression itself: Ibis expressions compare by
    structure, tables and literal values included, so a different query never matches.
    """
    original = getattr(con, "compile", None)
    if original is None:
        return
    cache: OrderedDict = OrderedDict()
    lock = threading.Lock()

    def compile(expr, /, *, limit=None, params=None, pretty=False, **kwargs):
        if params or kwargs:
            return original(expr, limit=limit, params=params, pretty=pretty, **kwargs)
        try:
            key = (expr.op(), limit, pretty)
            hash(key)
        except Exception:  # an unhashable literal: compiled as usual
            return original(expr, limit=limit, pretty=pretty)
        with lock:
            sql = cache.get(key)
            if sql is not None:
                cache.move_to_end(key)
                return sql
        sql = original(expr, limit=limit, pretty=pretty)
        with lock:
            cache[key] = sql
            while len(cache) > COMPILED_QUERIES:
                cache.popitem(last=False)
        return sql

    con.compile = compile


def built_once(table, key: tuple, build: Callable[[], Any]) -> Any:
    """``build()`` (an Ibis query), kept on the connection of ``table`` under ``key``.

    A helper asked the same question again (the same tables, values and options in
    ``key``; Ibis tables compare by their operations) skips building the expression, as
    :func:`_cache_compiles` skips compiling it. The cache lives on the connection, so it
    goes with it, and holds at most ``COMPILED_QUERIES`` queries.
    """
    try:
        backend = table._find_backend()
        ident = tuple(k.op() if isinstance(k, ibis.Expr) else k for k in key)
        hash(ident)
        cache = backend.__dict__.setdefault("_workbook_queries", OrderedDict())
    except Exception:  # no single backend, or an unhashable value: built each time
        return build()
    got = cache.get(ident)
    if got is None:
        got = cache[ident] = build()
        while len(cache) > COMPILED_QUERIES:
            cache.popitem(last=False)
    return got


def to_frame(query) -> Any:
    """``query.to_pandas()``, faster on DuckDB: through Arrow, with the types Ibis gives
    (dates as ``datetime64[s]``). Ibis' own conversion costs a tenth of a per-account query
    at 10M events. Other engines keep Ibis' conversion (PostgreSQL's decimals need it)."""
    try:
        duck = query._find_backend().name == "duckdb"
    except Exception:
        duck = False
    if not duck:
        return query.to_pandas()
    import pyarrow as pa

    table = query.to_pyarrow()
    df = table.to_pandas(date_as_object=False)
    for name, typ in zip(table.column_names, table.schema.types, strict=True):
        if pa.types.is_date(typ):
            df[name] = df[name].astype("datetime64[s]")
    return df


def _utc_naive(t):
    fixes = {
        name: t[name].cast(dt_types.Timestamp(timezone=None, scale=typ.scale))
        for name, typ in t.schema().items()
        if typ.is_timestamp() and typ.timezone
    }
    return t.mutate(**fixes) if fixes else t


def _round(v: Any) -> Any:
    """Sums of floats rounded so engines' summation order cannot change a fingerprint."""
    return round(v, 6) if isinstance(v, float) else v


#: the latest day is still loading when, at the recent days' pace, more than this many of
#: its events should have come after its last one (a whole day ends that early with
#: Poisson probability e**-7 < 0.1%)
_MISSING_LATE = 7.0
_TYPICAL_DAYS = 28


def last_complete_day(wh: Warehouse, today: dt.date | None = None) -> dt.date:
    """The last day whose events are complete: the default ``as_of``.

    The latest event's day is complete when (1) it is over by the clock (before ``today``,
    UTC; a 06:15 cron on that day sees six hours of it) and (2) it does not end
    implausibly early. Over the 28 days before it, ``late`` events came later in the day
    than its last event for every ``early`` one up to that time; with ``k`` events on the
    day, ``k * late / early`` of them should have come after its last one. On a complete
    day that count is Poisson, so seeing none when more than 7 are expected has
    probability below 0.1%: the day is still being loaded (a loader that stopped at 06:00)
    and the day before is the last complete one. A quiet day is judged by its own volume,
    so a Saturday with a quarter of the usual events is not called cut.
    """
    today = today or dt.datetime.now(dt.UTC).date()
    ev = wh.table("events")
    latest = ev.aggregate(m=ev.ts.max()).to_pyarrow().to_pylist()[0]["m"]
    if latest is None:
        raise DataError(f"table `events` in {describe(wh.source)} has no rows")
    if not isinstance(latest, dt.datetime):  # dates only: a day is whole once it is over
        return min(latest, today - dt.timedelta(days=1))
    day = latest.date()
    if day >= today:
        return today - dt.timedelta(days=1)
    midnight = dt.datetime.combine(day, dt.time())
    seconds = (latest.replace(tzinfo=None) - midnight).total_seconds()
    recent = ev.filter(ev.ts >= midnight - dt.timedelta(days=_TYPICAL_DAYS))
    tod = recent.ts.hour() * 3600 + recent.ts.minute() * 60 + recent.ts.second()
    before = recent.ts < midnight
    counts = recent.aggregate(
        early=recent.count(where=before & (tod <= seconds)),
        late=recent.count(where=before & (tod > seconds)),
        k=recent.count(where=~before),
    )
    row = counts.to_pyarrow().to_pylist()[0]
    if not row["early"] or row["k"] * row["late"] / row["early"] <= _MISSING_LATE:
        return day
    return day - dt.timedelta(days=1)


def resolve_as_of(wh: Warehouse, as_of: str | dt.date | None) -> dt.date:
    """The analysis date: ``as_of`` if given (ISO text or a date), else the last day whose
    data are complete (:func:`last_complete_day`: the latest event's day once it is over,
    else the day before)."""
    if as_of in (None, "", "latest"):
        return wh.fact("last complete day", lambda: last_complete_day(wh))
    if isinstance(as_of, dt.datetime):
        return as_of.date()
    if isinstance(as_of, dt.date):
        return as_of
    try:
        return dt.date.fromisoformat(str(as_of))
    except ValueError:
        raise DataError(f"`as_of` must be a date (YYYY-MM-DD), not {as_of!r}") from None
