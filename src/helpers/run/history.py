"""Past runs: the history of every team's runs, the latest good run, and pruning old runs.

``history`` and ``prune`` only look at folders named like a run id (``2026-11-26T061500-1a2b``)
in ``outputs/<team>/runs/``, where ``<team>`` is a team name (the rule of params files) and a
real folder directly under ``outputs/``; links are never followed, and ``prune`` works
under the team's lock, so a run being written is never removed.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import stat
from pathlib import Path

from .. import paths
from ..errors import WorkbookError, did_you_mean
from ..params import _TEAM_NAME
from ..paths import RunFolder, TeamFolder, team_folders
from ..secrets import scrub
from .lock import alive, team_lock
from .records import OK

#: statuses of a notebook whose results a run holds (carried over: hard links to the
#: results of an earlier run, see helpers.run.carry)
HELD = (*OK, "carried over")

__all__ = ["history", "latest_run", "prune"]

#: A run folder's name: when the run started (UTC), ``<YYYY-MM-DD>T<HHMMSS>-<hex>``
#: (see :func:`helpers.run.execute._new_run`); names sort in the order runs happened.
RUN_ID = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{6}-[0-9a-f]{4,32}$")
_DATED = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def latest_run(team: str) -> Path | None:
    """The folder of the team's last fully successful run, or None."""
    latest = TeamFolder(team).latest()
    return latest.path if latest else None


def _is_real_dir(path: Path) -> bool:
    try:
        return stat.S_ISDIR(os.lstat(path).st_mode)
    except OSError:
        return False


def _team(team: str) -> TeamFolder:
    """The folder of ``team``, checked: a team name, a real folder directly under outputs/."""
    if not isinstance(team, str) or not _TEAM_NAME.match(team):
        shown = scrub(repr(team))
        shown = shown if len(shown) <= 40 else shown[:37] + "..."
        raise WorkbookError(
            f"--team must be a team name (lower-case letters, digits, '-' and '_', "
            f"at most 64), not {shown}"
        )
    folder = TeamFolder(team)
    if not _is_real_dir(folder.path):
        known = [f.team for f in _teams(None)]
        what = "is not a folder (a link or a file is left alone)"
        if not os.path.lexists(folder.path):
            what = "does not exist" + (did_you_mean(team, known) or "")
        raise WorkbookError(f"outputs/{team} {what}")
    return folder


def _teams(team: str | None) -> list[TeamFolder]:
    if team is not None:
        return [_team(team)]
    return [
        f
        for f in team_folders()
        if _TEAM_NAME.match(f.team) and _is_real_dir(f.path) and _is_real_dir(f.runs_dir)
    ]


def _runs(folder: TeamFolder) -> list[RunFolder]:
    """The team's run folders: real folders named like a run id, under a real ``runs/``."""
    if not _is_real_dir(folder.runs_dir):
        return []
    return [r for r in folder.runs() if RUN_ID.match(r.run_id) and _is_real_dir(r.path)]


def history(team: str | None = None) -> list[dict]:
    """Every recorded run, newest first: team, run_id, as_of, status, duration, notebooks."""
    rows = []
    for folder in _teams(team):
        latest = folder.latest()
        for run in _runs(folder):
            m = run.read_manifest()
            if m is None:
                rows.append(
                    {
                        "team": folder.team,
                        "run_id": run.run_id,
                        "as_of": None,
                        "status": "incomplete",
                        "duration_s": None,
                        "started_at": None,
                        "notebooks": "",
                        "latest": False,
                        "path": str(run.path),
                    }
                )
                continue
            status = m.get("status")
            # a run recorded on another machine (shared outputs) cannot be checked from here
            here = m.get("host") in (None, socket.gethostname())
            if status == "running" and here and not alive(m.get("pid")):
                status = "interrupted"
            nbs = m.get("notebooks", [])
            ok = sum(e.get("status") in HELD for e in nbs)
            rows.append(
                {
                    "team": folder.team,
                    "run_id": m.get("run_id", run.run_id),
                    "as_of": m.get("as_of"),
                    "status": status,
                    "duration_s": m.get("duration_s"),
                    "started_at": m.get("started_at"),
                    "notebooks": f"{ok}/{len(nbs)} ok",
                    "latest": latest is not None and latest.path == run.path.resolve(),
                    "path": str(run.path),
                }
            )
    rows.sort(key=lambda r: (r["started_at"] or "", r["run_id"]), reverse=True)
    return rows


def prune(keep: int, team: str | None = None, *, dry_run: bool = False) -> list[Path]:
    """Remove all but the newest ``keep`` runs per team; never ``latest``, a dated link's run,
    or the team's newest complete run (every notebook of the team succeeded in it).

    With ``dry_run``, nothing is removed: the runs that would be are returned.

    Each team is pruned under its lock (:func:`helpers.run.lock.team_lock`); a team being
    run is left alone and named in the error raised after the other teams are pruned.
    """
    if keep < 1:
        raise WorkbookError(f"--keep must be at least 1, not {keep}")
    removed: list[Path] = []
    busy: list[str] = []
    for folder in _teams(team):
        try:
            with team_lock(folder.team):
                removed += _prune_team(folder, keep, dry_run)
        except WorkbookError:
            if team is not None:
                raise
            busy.append(folder.team)
    if busy:
        raise WorkbookError(
            f"{len(removed)} run(s) removed; not pruned while being run: {', '.join(busy)}"
        )
    return removed


def _complete(run: RunFolder, notebooks: set[str]) -> bool:
    """Whether every one of ``notebooks`` succeeded (or was up to date) in ``run``."""
    m = run.read_manifest() or {}
    ok = {e.get("notebook") for e in m.get("notebooks", []) if e.get("status") in HELD}
    return m.get("status") == "succeeded" and notebooks <= ok


def _team_notebooks(team: str, runs: list[RunFolder]) -> set[str]:
    """The notebooks a complete run of ``team`` holds: its params', else the most any run had."""
    from ..params import load_team

    try:
        return set(load_team(team).notebooks)
    except WorkbookError:
        counts = [
            {e.get("notebook") for e in (r.read_manifest() or {}).get("notebooks", [])}
            for r in runs
        ]
        return max(counts, key=len, default=set())


def _prune_team(folder: TeamFolder, keep: int, dry_run: bool = False) -> list[Path]:
    removed = []
    runs_dir = paths.outputs_dir().resolve() / folder.team / "runs"
    protected = {p.resolve() for p in folder.links() if p.exists()}
    runs = sorted(_runs(folder), key=lambda r: r.run_id, reverse=True)
    wanted = _team_notebooks(folder.team, runs)
    complete = next((r for r in runs if _complete(r, wanted)), None)
    if complete is not None:  # the newest complete run is never pruned
        protected.add(complete.path.resolve())
    for r in runs[keep:]:
        real = r.path.resolve()
        if real in protected or real.parent != runs_dir:
            continue
        m = r.read_manifest()
        here = m and m.get("host") in (None, socket.gethostname())
        if m and m.get("status") == "running" and (not here or alive(m.get("pid"))):
            continue
        if not dry_run:
            shutil.rmtree(real)  # fd-based: a link inside is removed, never followed
        removed.append(r.path)
    if dry_run:
        return removed
    for p in folder.links():  # dated links whose run is gone
        if _DATED.match(p.name) and not p.exists():
            p.unlink()
    return removed
