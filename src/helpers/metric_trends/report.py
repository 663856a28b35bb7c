"""The metric-trends notebook's one call: the series, its analysis and the segments side by side."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ..errors import WorkbookError
from .analysis import MIN_COVERAGE, TrendAnalysis, analyse, compare_segments
from .series import MetricSeries, metric_series

__all__ = ["TrendReport", "trend_report"]


@dataclass
class TrendReport:
    """What the ``metric_trends`` notebook shows: one metric over time, and by segment."""

    series: MetricSeries
    analysis: TrendAnalysis
    by_segment: MetricSeries | None
    segments: pd.DataFrame
    compare_by: str | None
    comparison_message: str | None = None

    @property
    def ok(self) -> bool:
        return not self.series.empty and not self.analysis.message

    def summary(self) -> list[str]:
        """The answer a PM reads first."""
        return (self.series.summary()[:1] if self.series.empty else []) + self.analysis.summary()

    def notes(self) -> list[str]:
        """What the series is, and its caveats."""
        return self.series.summary() + self.analysis.notes

    def tables(self) -> dict[str, pd.DataFrame]:
        """Every table worth recording, by name."""
        a = self.analysis
        out = {"series": self.series.frame, "changes": a.changes, "changepoints": a.changepoints}
        out["anomalies"] = a.anomalies
        if len(a.episodes):
            out["episodes"] = a.episodes
        if len(a.holidays):
            out["holidays"] = a.holidays
        if a.forecast is not None:
            out["forecast"] = a.forecast.frame
        if a.backtest is not None and not a.backtest.message:
            out["backtest"] = a.backtest.table
        if not self.segments.empty:
            out["segments"] = self.segments
        return out


def trend_report(
    wh,
    metric: str,
    *,
    product_area: str,
    as_of: dt.date,
    grain: str = "week",
    window_days: int = 540,
    feature: str | None = None,
    segment_column: str | None = None,
    segment_value: str | None = None,
    compare_by: str | None = "plan",
    horizon: int = 8,
    holidays_country: str | None = "US",
    min_coverage: float = MIN_COVERAGE,
    team: str | None = None,
    run_dir: str | Path | None = None,
    forecast: bool = True,
) -> TrendReport:
    """Compute the series in the engine, analyse it, and compare segments.

    ``holidays_country`` names the public-holiday calendar (``holidays`` package) whose
    days and weeks are marked as holidays, never as unusual; ``min_coverage`` is the
    share of periods that must hold data for a verdict. A comparison that cannot be
    made (e.g. ``compare_by="segment"`` before any segmentation run) leaves the main
    analysis standing and says why in ``comparison_message``; a mistake in the main
    series raises as usual. ``forecast=False`` leaves the forecast and its backtest out
    (the slow part); :func:`~.analysis.add_forecast` adds them to ``report.analysis``.
    """
    from .calendar import check_country

    holidays_country = check_country(holidays_country)
    common = dict(
        product_area=product_area,
        as_of=as_of,
        grain=grain,
        window_days=window_days,
        feature=feature,
        team=team,
        run_dir=run_dir,
    )
    series = metric_series(
        wh, metric, segment_column=segment_column, segment_value=segment_value, **common
    )
    analysis = analyse(
        series.values(),
        grain,
        title=series.title,
        unit=series.spec.unit,
        horizon=horizon,
        denominator=series.denominators(),
        value_range=series.value_range() if not series.empty else None,
        holidays_country=holidays_country,
        min_coverage=min_coverage,
        coverage_verb="answered" if series.spec.aggregation == "nps" else "has data",
        run_forecast=forecast,
    )
    by_segment, segments, message = None, pd.DataFrame(), None
    if compare_by is not None:
        try:
            by_segment = metric_series(wh, metric, by=compare_by, **common)
        except WorkbookError as exc:
            message = f"No comparison by {compare_by}: {exc}"
        if by_segment is not None and not by_segment.empty:
            segments = compare_segments(by_segment, holidays_country=holidays_country)
    return TrendReport(series, analysis, by_segment, segments, compare_by, message)
