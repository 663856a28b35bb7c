"""Metric trends: the metric registry, series computed in the engine, and the trend analysis."""

from __future__ import annotations

from .analysis import (
    SEASON,
    Backtest,
    Decomposition,
    Forecast,
    TrendAnalysis,
    TrendTest,
    analyse,
    anomalies,
    backtest,
    changepoints,
    changes,
    clean,
    compare_segments,
    decompose,
    forecast,
    trend_test,
)
from .registry import (
    GRAINS,
    MetricSpec,
    check_metric,
    check_metric_feature,
    known_metrics,
    registry,
)
from .report import TrendReport, trend_report
from .series import MetricSeries, metric_series

__all__ = [
    "TrendReport",
    "trend_report",
    "GRAINS",
    "MetricSeries",
    "MetricSpec",
    "check_metric",
    "known_metrics",
    "metric_series",
    "registry",
    "check_metric_feature",
    "SEASON",
    "Backtest",
    "Decomposition",
    "Forecast",
    "TrendAnalysis",
    "TrendTest",
    "analyse",
    "anomalies",
    "backtest",
    "changepoints",
    "changes",
    "clean",
    "compare_segments",
    "decompose",
    "forecast",
    "trend_test",
]
