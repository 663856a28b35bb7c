"""Running notebooks: papermill per team and notebook, in parallel, with run records and an
atomic ``latest``.

A run of one team writes a new immutable folder ``outputs/<team>/runs/<run_id>/``
(its layout: :class:`helpers.paths.RunFolder`) holding the executed notebooks, their
HTML for PMs, the recorded tables, figures and answers, and ``manifest.json``. Two
links are switched atomically when the run ends: ``outputs/<team>/<as_of>`` (the last
attempt for that date) and, only when every notebook succeeded, ``outputs/<team>/latest``.

Modules: :mod:`.plan` (validate and decide, no kernel), :mod:`.execute` (the fleet),
:mod:`.kernels` (one notebook in a warm kernel), :mod:`.lock`, :mod:`.records`
(results, keys, manifests, links), :mod:`.history` (history and prune),
:mod:`.schedule` (one job per team on Airflow or Kubernetes).
"""

from __future__ import annotations

from .execute import run
from .history import history, latest_run, prune
from .plan import plan
from .records import JobResult, TeamRun, notebook_path

__all__ = [
    "JobResult",
    "TeamRun",
    "history",
    "latest_run",
    "notebook_path",
    "plan",
    "prune",
    "run",
]
