"""The per-period series of a metric, aggregated in the engine, with each period's completeness."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import WorkbookError, check_choice, did_you_mean
from ..results import read_assignments
from .registry import GRAINS, MetricSpec, check_metric, check_metric_feature

__all__ = [
    "MetricSeries",
    "metric_series",
]

_TRUNC = {"day": "D", "week": "W", "month": "M"}
_ACCOUNT_COLUMNS = ["plan", "region", "industry"]


# ---------------------------------------------------------------------------------------------
# The series


@dataclass
class MetricSeries:
    """A metric per period (and per segment), with each period's completeness.

    ``frame`` has columns ``period`` (period start), ``segment`` (when compared),
    ``value``, any extra columns (NPS counts; ``denominator`` of a ratio), ``n_rows``
    (rows aggregated) and ``status``: ``complete``, ``partial: current period``,
    ``partial: data end`` (after the last complete day of the source) or
    ``partial: data start``.
    Only complete periods are analysed or plotted as values.
    """

    spec: MetricSpec
    grain: str
    product_area: str
    as_of: dt.date
    frame: Any
    filter_label: str = "all accounts"
    by: str | None = None
    notes: list[str] = field(default_factory=list)
    message: str = ""  # non-empty: nothing to analyse, and why

    @property
    def empty(self) -> bool:
        return bool(self.message)

    @property
    def title(self) -> str:
        per = {"day": "Daily", "week": "Weekly", "month": "Monthly"}[self.grain]
        label = self.spec.label
        if label[1:2].islower():  # keep acronyms (NPS, ARR) as they are
            label = label[:1].lower() + label[1:]
        return f"{per} {label} ({self.filter_label})"

    def complete(self):
        """Only the complete periods."""
        return self.frame[self.frame.status == "complete"]

    def values(self, segment: str | None = None):
        """The complete periods' values as a Series indexed by period start."""
        f = self.complete()
        if segment is not None:
            f = f[f.segment == segment]
        return f.set_index("period")["value"].astype(float).rename(self.spec.name)

    def segments(self) -> list[str]:
        return sorted(self.frame.segment.unique()) if "segment" in self.frame else []

    def denominators(self, segment: str | None = None):
        """What a rate divides by in each complete period (NPS: responses), or None."""
        col = next((c for c in ("denominator", "responses") if c in self.frame), None)
        if col is None:
            return None
        f = self.complete()
        if segment is not None:
            f = f[f.segment == segment]
        return f.set_index("period")[col].astype(float)

    def value_range(self):
        """The values the metric can take (:class:`~helpers.metric_trends.ValueRange`)."""
        from ._common import ValueRange

        return ValueRange.of(self.spec, self.complete()["value"])

    def coverage(self, segment: str | None = None) -> tuple[int, int]:
        """(complete periods with data, complete periods)."""
        v = self.values(segment)
        return int(v.notna().sum()), len(v)

    def summary(self) -> list[str]:
        """What the series covers, in plain words."""
        if self.message:
            return [self.message]
        c = self.complete()
        n = c.period.nunique()
        out = [
            f"{self.title} in {self.product_area}: {n} complete {self.grain}s from "
            f"{c.period.min():%Y-%m-%d} to {c.period.max():%Y-%m-%d}."
        ]
        return out + self.notes


def _period_end(start, grain: str):
    import pandas as pd

    if grain == "day":
        return start
    if grain == "week":
        return start + pd.Timedelta(days=6)
    return start.dt.to_period("M").dt.end_time.dt.normalize()


def _bounds(col, start: dt.date, stop: dt.date):
    """Literals to compare ``col`` with: datetimes for timestamp columns, dates otherwise."""
    if col.type().is_timestamp():
        return (dt.datetime.combine(start, dt.time()), dt.datetime.combine(stop, dt.time()))
    return start, stop


def _area_filter(wh, t, spec: MetricSpec, product_area: str, stop):
    if not product_area or spec.area == "none":
        return t
    if spec.area == "column":
        return t.filter(t.product_area == product_area)
    if spec.area == "feature":
        feats = wh.table("features")
        feats = feats.filter(feats.product_area == product_area).select("feature")
        return t.semi_join(feats, "feature")
    ev = wh.table("events")
    lo, hi = _bounds(ev.ts, dt.date(1900, 1, 1), stop)
    users = ev.filter(ev.product_area == product_area, ev.ts < hi).select("account_id").distinct()
    return t.semi_join(users, "account_id")


def _where(t, where: dict[str, Any], feature: str | None):
    cond = None
    for col, val in (where or {}).items():
        if val == "{feature}":
            val = feature
        c = t[col] == val
        cond = c if cond is None else cond & c
    return cond


def _reduce(t, agg: str, column: str | None, cond):
    if agg == "count":
        return t.count(where=cond)
    col = t[column]
    if agg == "count_distinct":
        return col.nunique(where=cond)
    if agg == "sum":
        return col.sum(where=cond)
    if agg == "mean":
        return col.mean(where=cond)
    raise WorkbookError(f"aggregation {agg!r} cannot be a simple reduction")


def _segment_table(wh, column: str, team: str, run_dir):
    """``account_id, _seg`` for an account attribute or the team's segmentation."""
    import ibis

    if column == "segment":
        return ibis.memtable(read_assignments(team, run_dir).rename(columns={"segment": "_seg"}))
    acc = wh.table("accounts")
    return acc.select("account_id", _seg=acc[column])


def _check_segment_value(wh, column, value, seg, spec, team, run_dir) -> None:
    if spec.table == "metrics":
        t = wh.table("metrics")
        values = t.filter(t.metric == spec.name).select("segment").distinct()
    else:
        values = seg.select("_seg").distinct().rename(segment="_seg")
    options = sorted(str(v) for v in values.to_pyarrow().column("segment").to_pylist() if v)
    if value not in options:
        what = "the metrics table's segments" if spec.table == "metrics" else f"`{column}`"
        raise WorkbookError(
            f"The value for `segment_value` matches no accounts: no account has {what} = "
            f"{value!r}{did_you_mean(str(value), options)}; values: {', '.join(options)}"
        )


def metric_series(
    wh,
    metric: str | MetricSpec,
    *,
    product_area: str,
    as_of: dt.date,
    grain: str = "week",
    window_days: int = 540,
    feature: str | None = None,
    segment_column: str | None = None,
    segment_value: str | None = None,
    by: str | None = None,
    team: str | None = None,
    run_dir: str | Path | None = None,
) -> MetricSeries:
    """The metric per period (and per segment of ``by``), aggregated in the engine.

    Parameters
    ----------
    wh
        An open warehouse.
    metric
        A metric name (see :func:`known_metrics`) or spec.
    product_area
        The team's area.
    as_of
        Last day of data; the period holding it is flagged ``partial: current period``
        unless ``as_of`` is that period's last day.
    grain
        ``day``, ``week`` (ISO weeks from Monday) or ``month``.
    window_days
        Days of history before ``as_of``.
    feature
        For metrics that need a feature (``feature_adoption``).
    segment_column, segment_value
        Keep only accounts whose ``plan``/``region``/``industry`` (or latest
        segmentation ``segment``) equals the value.
    by
        Break the series down by this account attribute (or ``segment``).
    team, run_dir
        Where to find the segmentation run when ``segment`` is used.

    Returns
    -------
    MetricSeries
        Gaps filled explicitly: 0 for counts, NaN for rates. An empty segment gives a
        series whose ``message`` says so.

    Raises
    ------
    WorkbookError
        For an unknown metric, grain, feature or segment value.
    """

    spec = metric if isinstance(metric, MetricSpec) else check_metric(wh, metric, product_area)
    check_choice("grain", grain, GRAINS)
    seg_options = [*_ACCOUNT_COLUMNS, "segment"]
    if segment_column is not None:
        check_choice("segment_column", segment_column, seg_options)
    if by is not None:
        check_choice("compare_by", by, seg_options)
    if "feature" in spec.needs:
        check_metric_feature(wh, feature, product_area, spec)
    if segment_value is not None and segment_column is None and spec.table != "metrics":
        raise WorkbookError("`segment_value` is set but `segment_column` is not")
    team = team or product_area

    start = as_of - dt.timedelta(days=window_days - 1)
    stop = as_of + dt.timedelta(days=1)
    t = wh.table(spec.table)
    if spec.time not in t.columns:
        raise WorkbookError(f"metric `{spec.name}`: table `{spec.table}` has no column {spec.time}")
    t = _area_filter(wh, t, spec, product_area, stop)
    lo, hi = _bounds(t[spec.time], start, stop)
    t = t.filter(t[spec.time] >= lo, t[spec.time] < hi)
    coverage = _coverage_start(wh, spec, product_area, stop, start)
    data_end = _complete_through(wh, spec, as_of)

    filter_label = "all accounts"
    group = ["period"]
    if spec.table == "metrics":
        t = t.filter(t.metric == spec.name)
        if segment_value is not None:
            _check_segment_value(wh, None, segment_value, None, spec, team, run_dir)
            t = t.filter(t.segment == segment_value)
            filter_label = str(segment_value)
        elif by is not None:
            t = t.filter(t.segment.notnull()).mutate(_seg=t.segment)
            group.append("_seg")
        else:
            t = t.filter(t.segment.isnull())
    else:
        if segment_column is not None and segment_value is not None:
            seg = _segment_table(wh, segment_column, team, run_dir)
            _check_segment_value(wh, segment_column, segment_value, seg, spec, team, run_dir)
            keep = seg.filter(seg._seg == segment_value).select("account_id")
            t = t.semi_join(keep, "account_id")
            filter_label = f"{segment_column} = {segment_value}"
        if by is not None:
            t = t.join(_segment_table(wh, by, team, run_dir), "account_id")
            group.append("_seg")
    t = t.mutate(period=t[spec.time].truncate(_TRUNC[grain]).cast("date"))

    from ..data.warehouse import to_frame

    raw = to_frame(_aggregate(wh, t, spec, group, feature))
    frame = _fill(raw, spec, grain, start, as_of, coverage, by is not None, data_end)
    series = MetricSeries(spec, grain, product_area, as_of, frame, filter_label, by)
    series.notes.extend(_partial_notes(frame, grain, as_of, data_end))
    if by is not None and by != "segment" and spec.table == "metrics":
        series.notes.append("Segments are those of the `metrics` table's `segment` column.")
    if raw.empty or float(raw["n_rows"].sum()) == 0:
        series.message = (
            f"No data for {spec.label.lower()} in {product_area} ({filter_label}) between "
            f"{start} and {as_of}: no account in this selection has rows in `{spec.table}`, "
            "so there is nothing to trend."
        )
    return series


def _complete_through(wh, spec: MetricSpec, as_of: dt.date) -> dt.date:
    """The day before the latest event's day when that day is still being loaded and
    ``as_of`` reaches it (its periods are cut, not complete), else ``as_of``."""
    from ..data.warehouse import last_complete_day

    if spec.table == "metrics" or not wh.has("events"):
        return as_of
    ev = wh.table("events")
    latest = wh.fact(
        "latest event", lambda: ev.aggregate(m=ev.ts.max()).to_pyarrow().to_pylist()[0]["m"]
    )
    if latest is None:  # no events at all: the series says there is nothing to trend
        return as_of
    latest = latest.date() if isinstance(latest, dt.datetime) else latest
    if as_of < latest:
        return as_of
    done = wh.fact("last complete day", lambda: last_complete_day(wh))
    return min(as_of, done) if done < latest else as_of


def _partial_notes(frame, grain: str, as_of: dt.date, data_end: dt.date | None = None) -> list[str]:
    notes = []
    cut = frame[frame.status == "partial: data end"]
    if len(cut):
        notes.append(
            f"The data end on {data_end} (the latest day is still being loaded), before "
            f"as_of ({as_of}): the {grain} from {cut.period.iloc[0]:%Y-%m-%d} is incomplete and "
            "left out."
        )
    cur = frame[frame.status == "partial: current period"]
    if len(cur):
        notes.append(
            f"The current {grain} (from {cur.period.iloc[0]:%Y-%m-%d}) is incomplete (data to "
            f"{as_of}); it is left out of the analysis and not plotted, so it cannot read as a drop."
        )
    head = frame[frame.status == "partial: data start"]
    if len(head):
        notes.append(
            f"The first {grain} (from {head.period.iloc[0]:%Y-%m-%d}) starts before the data or "
            "the window does, so it is partial and left out too."
        )
    return notes


def _coverage_start(
    wh, spec: MetricSpec, product_area: str, stop: dt.date, start: dt.date | None = None
):
    """The first day the source holds data for (a period before it is partial).

    Only whether data begins after ``start`` matters: one row on or before ``start``
    settles it; otherwise the rows up to 35 days past ``start`` are scanned (the engine
    skips the rest by its zone maps), and everything only when that finds nothing. The
    answer is a fact of the warehouse, read once a minute at most (:meth:`Warehouse.fact`).
    """
    key = ("coverage start", spec.table == "metrics", product_area, stop, start)
    return wh.fact(key, lambda: _read_coverage_start(wh, spec, product_area, stop, start))


def _read_coverage_start(wh, spec: MetricSpec, product_area: str, stop: dt.date, start):
    import pandas as pd

    if spec.table == "metrics":
        t = wh.table("metrics")
        col = "date"
    else:
        t = wh.table("events")
        col = "ts"
    if product_area:
        t = t.filter(t.product_area == product_area)
    first = None
    if start is not None:
        # any row on or before the window's first day: the whole window is covered, and the
        # engine stops at the first row it finds
        bound = _bounds(t[col], start + dt.timedelta(days=1), stop)[0]
        if t.filter(t[col] < bound).select(col).limit(1).to_pyarrow().num_rows:
            return pd.Timestamp(start)
        near = t.filter(t[col] < _bounds(t[col], start + dt.timedelta(days=35), stop)[0])
        first = near.aggregate(m=near[col].min()).to_pyarrow().column("m").to_pylist()[0]
    if first is None:
        first = t.aggregate(m=t[col].min()).to_pyarrow().column("m").to_pylist()[0]
    return pd.Timestamp(first).normalize() if first is not None else None


def _aggregate(wh, t, spec: MetricSpec, group: list[str], feature):
    cond = _where(t, spec.where, feature)
    if spec.aggregation == "nps":
        s = t[spec.column]
        return t.group_by(group).aggregate(
            promoters=(s >= 9).sum(where=cond),
            passives=((s >= 7) & (s <= 8)).sum(where=cond),
            detractors=(s <= 6).sum(where=cond),
            responses=t.count(where=cond),
            n_rows=t.count(),
        )
    if spec.aggregation == "account_sum":
        if cond is not None:
            t = t.filter(cond)
        per = t.select(*group, "account_id").distinct()
        acc = wh.table("accounts").select("account_id", _val=wh.table("accounts")[spec.column])
        per = per.join(acc, "account_id")
        return per.group_by(group).aggregate(num=per._val.sum(), n_rows=per.count())
    aggs = {"num": _reduce(t, spec.aggregation, spec.column, cond), "n_rows": t.count()}
    if spec.denominator:
        d = spec.denominator
        aggs["den"] = _reduce(
            t, d["aggregation"], d.get("column"), _where(t, d.get("where"), feature)
        )
    return t.group_by(group).aggregate(**aggs)


def _fill(
    raw,
    spec: MetricSpec,
    grain: str,
    start: dt.date,
    as_of: dt.date,
    coverage,
    by: bool,
    data_end: dt.date | None = None,
):
    """Every period of the window, gaps filled by kind, each period's completeness."""
    import numpy as np
    import pandas as pd

    raw = raw.copy()
    raw["period"] = pd.to_datetime(raw["period"])
    if spec.aggregation == "nps":
        n = raw["responses"].astype(float)
        raw["value"] = np.where(
            n > 0, 100.0 * (raw["promoters"] - raw["detractors"]) / n.where(n > 0), np.nan
        )
        extras = ["promoters", "passives", "detractors", "responses"]
    elif "den" in raw:
        den = raw["den"].astype(float)
        raw["value"] = raw["num"].astype(float) / den.where(den > 0) * spec.scale
        raw["denominator"] = den
        extras = ["denominator"]
    else:
        raw["value"] = raw["num"].astype(float) * spec.scale
        extras = []
    freq = {"day": "D", "week": "W-MON", "month": "MS"}[grain]
    first = pd.Timestamp(start).to_period({"day": "D", "week": "W-SUN", "month": "M"}[grain])
    last = pd.Timestamp(as_of).to_period({"day": "D", "week": "W-SUN", "month": "M"}[grain])
    periods = pd.date_range(first.start_time, last.start_time, freq=freq)
    cols = ["value", "n_rows", *extras]
    if by:
        segs = sorted(raw["_seg"].dropna().unique())
        idx = pd.MultiIndex.from_product([periods, segs], names=["period", "_seg"])
        out = raw.dropna(subset=["_seg"]).set_index(["period", "_seg"])[cols].reindex(idx)
    else:  # one series: a plain index (a MultiIndex costs more than the query saves)
        out = raw.set_index("period")[cols].reindex(periods.rename("period"))
    out["n_rows"] = out["n_rows"].fillna(0).astype("int64")
    for c in extras:
        out[c] = out[c].fillna(0)
        if c != "denominator":
            out[c] = out[c].astype("int64")
    # explicit gap rule: a period without rows is 0 for counts, missing for rates
    out["value"] = out["value"].where(out["n_rows"] > 0, spec.fill).astype(float)
    out = out.reset_index()
    ends = _period_end(out["period"], grain)
    begin = max(pd.Timestamp(start), coverage) if coverage is not None else pd.Timestamp(start)
    status = np.where(
        ends > pd.Timestamp(as_of),
        "partial: current period",
        np.where(
            ends > pd.Timestamp(data_end or as_of),
            "partial: data end",
            np.where(out["period"] < begin, "partial: data start", "complete"),
        ),
    )
    out["status"] = status
    if by:
        out = out.rename(columns={"_seg": "segment"})
        out["segment"] = out["segment"].astype(str)
    return out.sort_values([c for c in ("segment", "period") if c in out]).reset_index(drop=True)
