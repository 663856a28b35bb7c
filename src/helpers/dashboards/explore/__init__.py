"""The live explorer (``dashboards/explore.ipynb``): a PM asks "what does metric X look like
over time for this segment?" and gets the ``metric_trends`` notebook's answer in the page.

Modules: :mod:`.view` (the query string and the whitelist), :mod:`.compute` (choices and
views, computed by the notebook's own helpers and cached), :mod:`.html` (the answer's HTML),
:mod:`.page` (the widgets).
"""

from __future__ import annotations

from .compute import WINDOWS, Answer, Explorer
from .page import ExplorerPage
from .view import EXPLORE_KEYS, NONE, View, check_view, parse_explore_query

__all__ = [
    "EXPLORE_KEYS",
    "NONE",
    "WINDOWS",
    "Answer",
    "Explorer",
    "ExplorerPage",
    "View",
    "check_view",
    "parse_explore_query",
]
