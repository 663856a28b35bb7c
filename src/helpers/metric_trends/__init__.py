"""Metric trends: the metric registry, series computed in the engine, and the trend analysis."""

from __future__ import annotations

from ._metrics import *  # noqa: F403
from ._metrics import __all__ as _metrics_all
from .analysis import *  # noqa: F403
from .analysis import __all__ as _analysis_all

__all__ = list(_metrics_all) + list(_analysis_all)
