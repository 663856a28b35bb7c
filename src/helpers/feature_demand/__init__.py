"""Feature demand: which of two or more features customers want more, with paired tests and intervals."""

from __future__ import annotations

from .load import SEGMENT_COLUMNS, DemandData, base_counts, check_features, load_demand
from .report import DemandReport, demand_report, segmentation_window
from .result import DemandResult, compare_demand
from .stats import (
    WEIGHTINGS,
    Comparison,
    compare,
    concentration,
    mcnemar_pairs,
    paired_tests,
    tango_interval,
    tango_z,
    wilson_shares,
)
from .usage import adoption, adoption_curve

__all__ = [
    "DemandReport",
    "demand_report",
    "SEGMENT_COLUMNS",
    "WEIGHTINGS",
    "Comparison",
    "DemandData",
    "DemandResult",
    "adoption",
    "adoption_curve",
    "base_counts",
    "check_features",
    "compare",
    "compare_demand",
    "concentration",
    "load_demand",
    "mcnemar_pairs",
    "paired_tests",
    "segmentation_window",
    "tango_interval",
    "tango_z",
    "wilson_shares",
]
