"""Metric trends: the metric registry, series computed in the engine, and the trend analysis.

Modules, imports pointing one way: ``registry`` → ``series`` (the engine side);
``_common`` → ``noise`` → ``calendar``, ``decomposition`` → ``unusual`` (unusual periods,
episodes), ``shifts`` (level shifts), ``trend`` (trend test), ``forecasting`` (forecast,
backtest), ``period_change`` → ``analysis`` (``analyse``) → ``report`` (``trend_report``).
"""

from __future__ import annotations

import importlib
from typing import Any

# the registry is light and the runner checks metric names with it before any kernel
# starts; everything else loads on first use (PEP 562), so those checks do not import
# statsmodels and the analyses
from .registry import (
    GRAINS,
    MetricSpec,
    check_metric,
    check_metric_feature,
    known_metrics,
    registry,
)

#: where each other public name lives
_WHERE = {
    "SEASON": "_common",
    "ValueRange": "_common",
    "MIN_COVERAGE": "analysis",
    "TrendAnalysis": "analysis",
    "add_forecast": "analysis",
    "analyse": "analysis",
    "compare_segments": "analysis",
    "holiday_periods": "calendar",
    "Decomposition": "decomposition",
    "decompose": "decomposition",
    "Backtest": "forecasting",
    "Forecast": "forecasting",
    "backtest": "forecasting",
    "forecast": "forecasting",
    "changes": "period_change",
    "TrendReport": "report",
    "trend_report": "report",
    "MetricSeries": "series",
    "metric_series": "series",
    "changepoints": "shifts",
    "TrendTest": "trend",
    "trend_test": "trend",
    "Judgement": "unusual",
    "anomalies": "unusual",
    "clean": "unusual",
    "episodes": "unusual",
    "judge": "unusual",
}

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


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
