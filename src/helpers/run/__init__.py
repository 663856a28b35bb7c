"""Running notebooks: papermill per team and notebook, in parallel, with run records and an atomic latest."""

from __future__ import annotations

from ._runner import *  # noqa: F403
from ._runner import __all__ as _all

__all__ = list(_all)
