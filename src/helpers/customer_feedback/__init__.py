"""Customer feedback: NPS with intervals, themes of free text, who says what, and what is new."""

from __future__ import annotations

from .breakdown import HIGH_ARR_QUANTILE, arr_groups, theme_features, theme_shares, top_theme
from .emerging import MIN_PERIOD_COMMENTS, emerging_themes, rise_date, rising_words, stratified_rise
from .load import SEGMENT_COLUMNS, FeedbackData, load_feedback
from .nps import (
    CATEGORIES,
    category,
    compare_segments,
    nps_change,
    nps_interval,
    nps_monthly,
    nps_table,
    nps_weighted,
)
from .report import FeedbackReport, feedback_report
from .text import LANGUAGES, MAX_CHARS, classify, scrub, shorten
from .themes import MIN_COMMENTS, SELECTION_SAMPLE, Themes, find_themes

__all__ = [
    "FeedbackReport",
    "feedback_report",
    "CATEGORIES",
    "HIGH_ARR_QUANTILE",
    "LANGUAGES",
    "MAX_CHARS",
    "MIN_COMMENTS",
    "MIN_PERIOD_COMMENTS",
    "SEGMENT_COLUMNS",
    "SELECTION_SAMPLE",
    "FeedbackData",
    "Themes",
    "arr_groups",
    "category",
    "classify",
    "compare_segments",
    "emerging_themes",
    "find_themes",
    "load_feedback",
    "nps_change",
    "nps_interval",
    "nps_monthly",
    "nps_table",
    "nps_weighted",
    "rise_date",
    "rising_words",
    "scrub",
    "shorten",
    "stratified_rise",
    "theme_features",
    "theme_shares",
    "top_theme",
]
