"""Feature demand: which of two or more features customers want more, with paired tests and intervals."""

from __future__ import annotations

from ._demand import *  # noqa: F403
from ._demand import __all__ as _all

__all__ = list(_all)
