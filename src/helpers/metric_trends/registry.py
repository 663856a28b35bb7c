"""The metric registry: ``metrics.yaml`` beside this file, plus the project's own
``params/metrics.yaml`` (added or overriding entries); light to import for the runner."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..errors import WorkbookError, did_you_mean

__all__ = [
    "check_metric_feature",
    "check_metric_source",
    "project_registry_file",
    "GRAINS",
    "MetricSpec",
    "check_metric",
    "known_metrics",
    "registry",
]

#: Period lengths a series can be built at.
GRAINS = ["day", "week", "month"]
_AGGREGATIONS = ["count", "count_distinct", "sum", "mean", "nps", "account_sum"]
_AREAS = ["column", "feature", "accounts", "none"]
_REGISTRY_FILE = Path(__file__).with_name("metrics.yaml")


@dataclass(frozen=True)
class MetricSpec:
    """One metric: where its rows are, how a period aggregates them, how gaps are filled."""

    name: str
    label: str
    table: str
    time: str
    aggregation: str
    column: str | None = None
    where: dict[str, Any] = field(default_factory=dict)
    denominator: dict[str, Any] | None = None
    scale: float = 1.0
    kind: str = "count"
    gaps: str = "zero"
    area: str = "column"
    unit: str = ""
    needs: tuple[str, ...] = ()
    description: str = ""

    @property
    def fill(self) -> float:
        """The value of a period without rows: 0 for counts, NaN for rates."""
        return 0.0 if self.gaps == "zero" else float("nan")


def _spec(name: str, entry: dict[str, Any], where_from: str) -> MetricSpec:
    def bad(msg: str) -> WorkbookError:
        return WorkbookError(f"{where_from}: metric `{name}` {msg}")

    if not isinstance(entry, dict):
        raise bad("must be a mapping of fields")
    known = set(MetricSpec.__dataclass_fields__) - {"name"}
    for key in entry:
        if key not in known:
            raise bad(f"has an unknown field `{key}`{did_you_mean(key, known)}")
    for key in ("table", "time", "aggregation"):
        if not entry.get(key):
            raise bad(f"needs the field `{key}`")
    if entry["aggregation"] not in _AGGREGATIONS:
        raise bad(
            f"field `aggregation` must be one of {_AGGREGATIONS}, not {entry['aggregation']!r}"
        )
    if entry["aggregation"] != "count" and not entry.get("column"):
        raise bad(f"needs the field `column` for aggregation {entry['aggregation']!r}")
    kind = entry.get("kind", "count")
    if kind not in ("count", "rate"):
        raise bad(f"field `kind` must be 'count' or 'rate', not {kind!r}")
    gaps = entry.get("gaps", "zero" if kind == "count" else "nan")
    if gaps not in ("zero", "nan"):
        raise bad(f"field `gaps` must be 'zero' or 'nan', not {gaps!r}")
    area = entry.get("area", "column")
    if area not in _AREAS:
        raise bad(f"field `area` must be one of {_AREAS}, not {area!r}")
    return MetricSpec(
        name=name,
        label=str(entry.get("label") or name.replace("_", " ").capitalize()),
        table=entry["table"],
        time=entry["time"],
        aggregation=entry["aggregation"],
        column=entry.get("column"),
        where=dict(entry.get("where") or {}),
        denominator=entry.get("denominator"),
        scale=float(entry.get("scale", 1.0)),
        kind=kind,
        gaps=gaps,
        area=area,
        unit=str(entry.get("unit", "")),
        needs=tuple(entry.get("needs") or ()),
        description=str(entry.get("description", "")).strip(),
    )


def project_registry_file() -> Path:
    """The project's own metrics, ``params/metrics.yaml`` (it may not exist)."""
    from .. import paths

    return paths.params_dir() / "metrics.yaml"


@functools.cache
def _read(path: Path, stamp: tuple[int, int]) -> dict[str, MetricSpec]:
    del stamp  # part of the cache key only: an edited file is read again
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise WorkbookError(f"{path.name}: not valid YAML ({str(exc).splitlines()[0]})") from None
    if not isinstance(data, dict):
        raise WorkbookError(f"{path.name}: must map metric names to their fields")
    where = "params/metrics.yaml" if path != _REGISTRY_FILE else _REGISTRY_FILE.name
    return {str(name): _spec(str(name), entry, where) for name, entry in data.items()}


def registry() -> dict[str, MetricSpec]:
    """Every metric by name: the built-in ``metrics.yaml``, then ``params/metrics.yaml``."""
    out = {}
    for path in (_REGISTRY_FILE, project_registry_file()):
        if path.is_file():
            st = path.stat()
            out.update(_read(path, (st.st_mtime_ns, st.st_size)))
    return out


def _table_metrics(wh, product_area: str | None) -> list[str]:
    """Names of the series in the source's optional ``metrics`` table (for one area)."""
    if wh is None or not wh.has("metrics"):
        return []
    t = wh.table("metrics")
    if product_area:
        t = t.filter(t.product_area == product_area)
    rows = t.select("metric").distinct().to_pyarrow().column("metric").to_pylist()
    return sorted(str(r) for r in rows if r is not None)


def known_metrics(wh=None, product_area: str | None = None) -> list[str]:
    """Registry metrics plus the series of the source's ``metrics`` table (for ``product_area``).

    Parameters
    ----------
    wh
        An open :class:`helpers.data.Warehouse`, or None for the registry alone.
    product_area
        Restrict the ``metrics`` table's series to this area.
    """
    names = list(registry())
    return names + [m for m in _table_metrics(wh, product_area) if m not in names]


def _from_table(name: str) -> MetricSpec:
    return MetricSpec(
        name=name,
        label=name.replace("_", " ").capitalize(),
        table="metrics",
        time="date",
        aggregation="sum",
        column="value",
        where={"metric": name},
        kind="count",
        gaps="nan",  # a missing row in a series computed elsewhere is unknown, not zero
        area="column",
        description=f"Series `{name}` of the source's `metrics` table, summed over each period.",
    )


def check_metric(wh, name: str, product_area: str | None = None) -> MetricSpec:
    """The spec of metric ``name``, or a one-line error naming the nearest known metrics.

    Parameters
    ----------
    wh
        An open warehouse (its ``metrics`` table adds series), or None.
    name
        The ``metric`` parameter.
    product_area
        The team's area: ``metrics`` table series of other areas are not offered.

    Raises
    ------
    WorkbookError
        For an unknown metric.
    """
    reg = registry()
    if name in reg:
        return reg[name]
    table = _table_metrics(wh, product_area)
    if name in table:
        return _from_table(name)
    options = list(reg) + [m for m in table if m not in reg]
    where = f" for product area {product_area!r}" if product_area else ""
    raise WorkbookError(
        f"The value for `metric` is not a known metric{where}: {name!r}"
        + did_you_mean(str(name), options)
        + "; known metrics: "
        + ", ".join(options)
    )


def check_metric_feature(wh, feature, product_area, spec) -> None:
    """Raise when a metric that needs a feature has none, or one outside the product area."""
    feats = wh.table("features")
    if product_area:
        feats = feats.filter(feats.product_area == product_area)
    options = sorted(feats.select("feature").to_pyarrow().column("feature").to_pylist())
    if not feature:
        raise WorkbookError(
            f"metric `{spec.name}` needs the key `feature`: one of {', '.join(options)}"
        )
    if feature not in options:
        raise WorkbookError(
            f"The value for `feature` is not a feature of {product_area!r}: {feature!r}"
            + did_you_mean(feature, options)
            + f"; features: {', '.join(options)}"
        )


def check_metric_source(wh, spec: MetricSpec, feature: str | None = None) -> list[str]:
    """Check a metric's table and columns against the source before any kernel starts.

    Raises a one-line error naming the metric and the nearest column for a column the
    table lacks; returns warnings (a filter that matches no row: the series would be flat 0).
    """
    if not wh.has(spec.table):
        raise WorkbookError(
            f"metric `{spec.name}` reads table `{spec.table}`, which the source lacks"
        )
    t = wh.table(spec.table)
    columns = list(t.columns)
    parts = {"time": spec.time, "column": spec.column}
    parts |= {f"where.{k}": k for k in spec.where}
    if spec.denominator:
        parts["denominator.column"] = spec.denominator.get("column")
        parts |= {f"denominator.where.{k}": k for k in (spec.denominator.get("where") or {})}
    for field_name, column in parts.items():
        if (
            column
            and column not in columns
            and not (spec.aggregation == "account_sum" and field_name == "column")
        ):
            raise WorkbookError(
                f"metric `{spec.name}`: field `{field_name}` names column `{column}`, which "
                f"table `{spec.table}` lacks{did_you_mean(column, columns)}; its columns: "
                + ", ".join(columns)
            )
    warnings = []
    if spec.where:
        cond = None
        for k, v in spec.where.items():
            v = feature if v == "{feature}" else v
            if v is None:
                continue
            c = t[k].isin(list(v)) if isinstance(v, list) else t[k] == v
            cond = c if cond is None else cond & c
        if cond is not None and not int(t.filter(cond).count().to_pyarrow().as_py()):
            warnings.append(
                f"metric `{spec.name}`: its filter {spec.where} matches no row of table "
                f"`{spec.table}`: the series would be all zeros"
            )
    return warnings
