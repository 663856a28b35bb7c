"""Past runs: the history of every team's runs, the latest good run, and pruning old runs."""

from __future__ import annotations

import shutil
from pathlib import Path

from ..errors import WorkbookError
from ..paths import TeamFolder, team_folders
from .lock import alive
from .records import OK

__all__ = ["history", "latest_run", "prune"]


def latest_run(team: str) -> Path | None:
    """The folder of the team's last fully successful run, or None."""
    latest = TeamFolder(team).latest()
    return latest.path if latest else None


def _teams(team: str | None) -> list[TeamFolder]:
    return [TeamFolder(team)] if team else team_folders()


def history(team: str | None = None) -> list[dict]:
    """Every recorded run, newest first: team, run_id, as_of, status, duration, notebooks."""
    rows = []
    for folder in _teams(team):
        latest = folder.latest()
        for run in folder.runs():
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
            if status == "running" and not alive(m.get("pid")):
                status = "interrupted"
            nbs = m.get("notebooks", [])
            ok = sum(e.get("status") in OK for e in nbs)
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


def prune(keep: int, team: str | None = None) -> list[Path]:
    """Remove all but the newest ``keep`` runs per team; never ``latest`` or a dated link's run."""
    if keep < 1:
        raise WorkbookError(f"--keep must be at least 1, not {keep}")
    removed = []
    for folder in _teams(team):
        protected = {p.resolve() for p in folder.links() if p.exists()}
        runs = sorted(folder.runs(), key=lambda r: r.run_id, reverse=True)
        for r in runs[keep:]:
            if r.path.resolve() in protected:
                continue
            m = r.read_manifest()
            if m and m.get("status") == "running" and alive(m.get("pid")):
                continue
            shutil.rmtree(r.path)
            removed.append(r.path)
        for p in folder.links():  # dated links whose run is gone
            if not p.exists():
                p.unlink()
    return removed
