"""Product Ops Workbook helpers: data access, contract checks and the analyses behind the notebooks.

The public API below is what notebooks, dashboards and scripts use; each subpackage
(``customer_segmentation``, ``feature_demand``, ``metric_trends``, ``data``, ``run``,
``dashboards``) has its own ``__all__`` for the rest. Subpackages load on first use,
so ``import helpers`` stays light (the runner and the CLI start fast).
"""

from __future__ import annotations

import importlib
import sys
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from .errors import (
    DataError,
    MissingSegmentationError,
    ParamsError,
    VisitorError,
    WorkbookError,
)
from .paths import RunFolder, TeamFolder

# jsonschema (through nbformat, papermill, nbconvert, Voila) imports ``rfc3987_syntax``
# when it is installed, and that import compiles about 38 Lark grammars: 0.8-1 s of CPU
# in every process that reads a notebook (python-jsonschema/jsonschema#1428). It only
# checks the "iri" and "iri-reference" formats, which no schema of nbformat,
# jupyter_server or jupyter_events uses (tests/test_packaging.py checks), so the
# workbook's processes skip it: jsonschema treats it as not installed.
sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]

__all__ = [
    "DataError",
    "MissingSegmentationError",
    "ParamsError",
    "RunFolder",
    "TeamFolder",
    "VisitorError",
    "WorkbookError",
    "__version__",
    "connect",
    "customer_feedback",
    "customer_segmentation",
    "dashboards",
    "data",
    "demand_report",
    "feedback_report",
    "feature_demand",
    "load_team",
    "metric_trends",
    "read_assignments",
    "resolve_as_of",
    "run",
    "segment",
    "trend_report",
]

try:
    __version__ = version("product-ops-workbook")
except PackageNotFoundError:  # running from a checkout without install
    __version__ = "0.0.0"

_SUBPACKAGES = {
    "customer_feedback",
    "customer_segmentation",
    "dashboards",
    "data",
    "feature_demand",
    "metric_trends",
    "run",
}
_FUNCTIONS = {
    "connect": "data",
    "resolve_as_of": "data",
    "load_team": "params",
    "read_assignments": "results",
    "segment": "customer_segmentation",
    "demand_report": "feature_demand",
    "feedback_report": "customer_feedback",
    "trend_report": "metric_trends",
}


def __getattr__(name: str) -> Any:
    # PEP 562: subpackages and the entry points load on first use
    if name in _SUBPACKAGES:
        return importlib.import_module(f".{name}", __name__)
    if name in _FUNCTIONS:
        return getattr(importlib.import_module(f".{_FUNCTIONS[name]}", __name__), name)
    raise AttributeError(f"module 'helpers' has no attribute {name!r}")
