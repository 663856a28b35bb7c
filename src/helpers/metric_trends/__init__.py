"""Metric trends: the metric registry, series computed in the engine, and the trend analysis.

Modules, imports pointing one way: ``registry`` → ``series`` (the engine side);
``_common`` → ``noise`` → ``calendar``, ``decomposition`` → ``unusual`` (unusual periods,
episodes), ``shifts`` (level shifts), ``trend`` (trend test), ``forecasting`` (forecast,
backtest), ``period_change`` → ``analysis`` (``analyse``) → ``report`` (``trend_report``).
"""

from __future__ import annotations

from ._common import SEASON, ValueRange
from .analysis import MIN_COVERAGE, TrendAnalysis, add_forecast, analyse, compare_segments
from .calendar import holiday_periods
from .decomposition import Decomposition, decompose
from .forecasting import Backtest, Forecast, backtest, forecast
from .period_change import changes
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
from .shifts import changepoints
from .trend import TrendTest, trend_test
from .unusual import Judgement, anomalies, clean, episodes, judge

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
    "add_forecast",
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
    "MIN_COVERAGE",
    "Judgement",
    "ValueRange",
    "episodes",
    "holiday_periods",
    "judge",
]
