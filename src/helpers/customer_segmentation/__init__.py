"""Customer segmentation: per-account features in the engine, RFM segments, behavioural clusters, movement."""

from __future__ import annotations

from .analysis import Segmentation, previous_clusters, segment
from .answer import answer_sentences
from .clusters import ClusterResult, behaviour_clusters, cluster_words, stability_reading
from .features import (
    CLUSTER_FEATURES,
    DEFAULT_CLUSTER_FEATURES,
    account_features,
    company_baseline,
)
from .movement import Movement, assignments, segment_movement, segment_summary
from .rfm import (
    DEFAULT_RFM_RULES,
    RFMCutoffs,
    RFMResult,
    rfm_cutoffs,
    rfm_rules_table,
    rfm_segments,
)

__all__ = [
    "CLUSTER_FEATURES",
    "DEFAULT_CLUSTER_FEATURES",
    "DEFAULT_RFM_RULES",
    "ClusterResult",
    "Movement",
    "RFMCutoffs",
    "RFMResult",
    "Segmentation",
    "account_features",
    "answer_sentences",
    "assignments",
    "behaviour_clusters",
    "cluster_words",
    "company_baseline",
    "previous_clusters",
    "rfm_cutoffs",
    "rfm_rules_table",
    "rfm_segments",
    "segment",
    "segment_movement",
    "segment_summary",
    "stability_reading",
]
