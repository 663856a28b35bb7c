"""Carrying analyses over: a run of some notebooks takes the team's other analyses, as
last recorded, into its own folder, so ``latest`` always holds every analysis.

``workbook run --team T --notebook metric_trends`` runs one notebook; the team's other
notebooks are carried over from the run its ``latest`` points at (a notebook that run
lacks: from the newest run in which it succeeded). Their files are hard-linked into the
new run folder (links are never followed), and each gets a manifest entry with status
``"carried over"``, the run that computed it (``from_run_id``) and the date it is as of
(``as_of``), which the PM pages show next to the analysis. ``latest`` still moves only
when every notebook the run executed succeeded (the carried ones were good already).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..params import NOTEBOOKS
from ..paths import RunFolder, TeamFolder
from .records import OK, TeamRun

__all__ = ["CARRIED", "Carried", "carry_over", "find", "with_carried"]

#: The manifest status of a notebook taken over from an earlier run.
CARRIED = "carried over"


@dataclass(frozen=True)
class Carried:
    """One notebook taken over from an earlier run."""

    notebook: str
    source: RunFolder  # the run folder its files are taken from
    from_run_id: str  # the run that computed it
    as_of: str | None  # the date its results are as of

    def entry(self) -> dict:
        """Its entry in the new run's manifest."""
        return {
            "notebook": self.notebook,
            "status": CARRIED,
            "from_run_id": self.from_run_id,
            "as_of": self.as_of,
            "output": self.source.notebook(self.notebook).name,
            "html": self.source.html(self.notebook).name,
            "error": None,
        }


def _good(run: RunFolder, notebook: str) -> Carried | None:
    """``notebook`` of ``run`` if it ended well there and left files, else None."""
    if not run.path.is_dir() or run.path.is_symlink():
        return None
    manifest = run.read_manifest() or {}
    entries = manifest.get("notebooks")
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, dict) or entry.get("notebook") != notebook:
            continue
        status = entry.get("status")
        if status not in (*OK, CARRIED) or not run.artifacts(notebook):
            return None
        carried = status == CARRIED
        from_run = entry.get("from_run_id") if carried else None
        as_of = entry.get("as_of") if carried else manifest.get("as_of")
        return Carried(
            notebook,
            run,
            str(from_run or manifest.get("run_id") or run.run_id),
            str(as_of) if as_of else None,
        )
    return None


def find(team: str, notebook: str, *, exclude: RunFolder | None = None) -> Carried | None:
    """Where ``notebook``'s last good results for ``team`` are: its ``latest`` run first,
    else the newest run in which it succeeded; None if it never did."""
    folder = TeamFolder(team)
    latest = folder.latest()
    if latest is not None and latest != exclude:
        found = _good(latest, notebook)
        if found:
            return found
    for run in reversed(folder.runs()):
        if run == exclude or (latest is not None and run.path == latest.path):
            continue
        found = _good(run, notebook)
        if found:
            return found
    return None


def carry_over(
    tr: TeamRun, copy: Callable[[RunFolder, RunFolder, str], None]
) -> dict[str, Carried]:
    """Carry the team's notebooks this run leaves out into ``tr.run``; returns them by name.

    ``copy(source, run, notebook)`` copies one notebook's files (the runner's safe
    hard-link copy); a notebook that never succeeded is left out.
    """
    assert tr.params is not None and tr.run is not None
    carried = {}
    for notebook in tr.params.notebooks:
        if notebook in tr.parameters:
            continue
        found = find(tr.team, notebook, exclude=tr.run)
        if found is None:
            continue
        copy(found.source, tr.run, notebook)
        carried[notebook] = found
    return carried


def with_carried(manifest: dict, carried: dict[str, Carried]) -> dict:
    """``manifest`` with an entry for every carried notebook (in the team's order)."""
    if carried:
        entries = [*manifest.get("notebooks", []), *(c.entry() for c in carried.values())]
        rank = {n: i for i, n in enumerate(NOTEBOOKS)}
        manifest["notebooks"] = sorted(entries, key=lambda e: rank.get(e.get("notebook"), 99))
    return manifest
