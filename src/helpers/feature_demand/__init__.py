"""Feature demand: which of two or more features customers want more, with paired tests and intervals."""

from __future__ import annotations

from .load import SEGMENT_COLUMNS, DemandData, check_features, load_demand
from .report import DemandReport, demand_report
from .result import DemandResult, compare_demand
from .stats import EXACT_BELOW, WEIGHTINGS, Comparison, compare, mcnemar_pairs, wilson_shares
from .usage import adoption, adoption_curve

__all__ = [
    "DemandReport",
    "demand_report",
    "EXACT_BELOW",
    "SEGMENT_COLUMNS",
    "WEIGHTINGS",
    "Comparison",
    "DemandData",
    "DemandResult",
    "adoption",
    "adoption_curve",
    "check_features",
    "compare",
    "compare_demand",
    "load_demand",
    "mcnemar_pairs",
    "wilson_shares",
]
