"""Customer segmentation: per-account features in the engine, RFM segments, behavioural clusters, movement."""

from __future__ import annotations

from ._segmentation import *  # noqa: F403
from ._segmentation import __all__ as _all

__all__ = list(_all)
