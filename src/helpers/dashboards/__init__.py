"""The PM pages: recorded snapshots of each team's last good runs, served by Voila."""

from __future__ import annotations

from ._dashboards import *  # noqa: F403
from ._dashboards import __all__ as _all

__all__ = list(_all)
