"""Snapshots: a team's last successful run as recorded (manifest, answers, figures, tables)."""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import paths
from ..errors import WorkbookError
from ..params import NOTEBOOKS, known_teams, load_team
from ..paths import RunFolder, TeamFolder
from .query import check_team

__all__ = [
    "ANALYSIS_TITLES",
    "CARRIED",
    "Analysis",
    "Snapshot",
    "TeamStatus",
    "list_teams",
    "load_snapshot",
    "served_teams",
    "state",
]

log = logging.getLogger("helpers.dashboards")

#: The status of an analysis a partial run carried over from an earlier run.
CARRIED = "carried over"

#: What a PM reads as the heading of each analysis.
ANALYSIS_TITLES = {
    "customer_segmentation": "Customer segments",
    "feature_demand": "Feature demand",
    "metric_trends": "Metric trends",
    "customer_feedback": "Customer feedback",
}

_TEAM_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_FILE_NAME = re.compile(r"^[a-z0-9][a-z0-9_]{0,63}$")
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_RUN_ID = re.compile(r"^[0-9A-Za-z][0-9A-Za-z_.:+-]{0,79}$")
_MAX_MANIFEST = 2_000_000
_MAX_ANSWER = 1_000_000
_MAX_FIGURE = 8_000_000
_MAX_TABLE = 50_000_000


@dataclass(frozen=True)
class Analysis:
    """One notebook's recorded results in a run."""

    name: str
    status: str
    answer: list[str]
    facts: dict[str, Any]
    figures: dict[str, Path]
    tables: dict[str, Path]
    error: str | None = None
    as_of: str | None = None
    run_id: str | None = None

    @property
    def title(self) -> str:
        return ANALYSIS_TITLES.get(self.name, self.name.replace("_", " ").capitalize())

    @property
    def carried(self) -> bool:
        """Whether this run took the analysis over from an earlier run (its own as-of)."""
        return self.status == CARRIED


@dataclass(frozen=True)
class Snapshot:
    """A team's last fully successful run, as recorded (nothing recomputed)."""

    team: str
    title: str
    run_id: str
    as_of: str | None
    finished_at: str | None
    status: str
    analyses: dict[str, Analysis] = field(default_factory=dict)
    manifest: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> str:
        """One line a PM reads under the title: as of which day, run when."""
        return f"As of {self.as_of or 'an unknown date'}, run {_when(self.finished_at)}"


@dataclass(frozen=True)
class TeamStatus:
    """A team's row on the landing page."""

    team: str
    title: str
    latest_run_id: str | None
    as_of: str | None
    finished_at: str | None
    last_attempt_status: str | None
    last_attempt_run_id: str | None

    def summary(self) -> str:
        """The team's line in words."""
        if self.latest_run_id is None:
            tail = f"; last attempt {self.last_attempt_status}" if self.last_attempt_status else ""
            return f"{self.title}: no successful run yet{tail}."
        line = f"{self.title}: as of {self.as_of}, run {_when(self.finished_at)}"
        if self.last_attempt_run_id and self.last_attempt_run_id != self.latest_run_id:
            line += f"; a newer attempt is {self.last_attempt_status}"
        return line + "."


def _when(stamp: str | None) -> str:
    """``2026-10-31T01:30:02+00:00`` → ``2026-10-31 01:30 UTC``."""
    if not stamp:
        return "at an unknown time"
    try:
        t = dt.datetime.fromisoformat(str(stamp))
    except ValueError:
        return "at an unknown time"
    if t.tzinfo is None:
        return f"{t:%Y-%m-%d %H:%M}"
    return f"{t.astimezone(dt.UTC):%Y-%m-%d %H:%M} UTC"


def _inside(path: Path, folder: Path) -> bool:
    """Whether ``path`` (symlinks resolved) lies in ``folder``."""
    try:
        return path.resolve(strict=True).is_relative_to(folder.resolve(strict=True))
    except OSError:
        return False


def _run(team: str) -> RunFolder | None:
    """The run ``outputs/<team>/latest`` points at, if it is a real run folder of the team."""
    folder = TeamFolder(team)
    pointer = folder.latest_link
    if not pointer.exists() or not folder.runs_dir.is_dir():
        return None
    target = pointer.resolve()
    if (
        target.parent != folder.runs_dir.resolve()
        or not _RUN_ID.match(target.name)
        or not target.is_dir()
    ):
        return None
    if not _inside(target, paths.outputs_dir()):  # a team folder linked from elsewhere
        return None
    return RunFolder(target)


def _read_json(path: Path, folder: Path, limit: int) -> dict[str, Any] | None:
    """A JSON object from a file inside ``folder``, or None when absent, too big or broken."""
    if not path.is_file() or not _inside(path, folder) or path.stat().st_size > limit:
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _files(folder: Path, run: Path, suffix: str, limit: int) -> dict[str, Path]:
    """Recorded files of one kind, by name, sorted; names and places checked."""
    if not folder.is_dir() or not _inside(folder, run):
        return {}
    found = {}
    for p in sorted(folder.iterdir()):
        if (
            p.suffix == suffix
            and _FILE_NAME.match(p.stem)
            and p.is_file()
            and _inside(p, run)
            and p.stat().st_size <= limit
        ):
            found[p.stem] = p
    return found


_skipped: set[str] = set()


def served_teams(teams: Sequence[str] | None = None) -> list[str]:
    """The teams the pages show: every ``params/<team>.yaml`` whose name is a team name.

    A params file named otherwise (``Sales.yaml``, ``my team.yaml``) cannot be a team's
    file; it is skipped with one warning in the server's log, so one bad file never turns
    every page into an error.
    """
    names = list(teams) if teams is not None else known_teams()
    good = []
    for name in names:
        if isinstance(name, str) and _TEAM_NAME.match(name):
            good.append(name)
        elif name not in _skipped:
            _skipped.add(name)
            shown = name[:70] if isinstance(name, str) and name.isprintable() else "(unreadable)"
            log.warning(
                "params/%s.yaml is skipped: a team name is lower-case letters, digits, '-' or "
                "'_' (at most 64), starting with a letter or digit",
                shown,
            )
    return good


def _team_title(team: str) -> str:
    try:
        return load_team(team).title or team
    except WorkbookError:
        return team


def _read_manifest(run: RunFolder) -> dict[str, Any] | None:
    return _read_json(run.manifest, run.path, _MAX_MANIFEST)


def _text(value: Any, pattern: re.Pattern) -> str | None:
    """A recorded name or date if it has the expected shape, else None."""
    return value if isinstance(value, str) and pattern.match(value) else None


def load_snapshot(team: str, *, teams: Sequence[str] | None = None) -> Snapshot | None:
    """A team's snapshot from ``outputs/<team>/latest``, or None if it has no successful run.

    Every analysis carries its own as-of date and run id: a run of some notebooks takes
    the others over from an earlier run (status ``"carried over"``), marked with theirs.

    Parameters
    ----------
    team
        A team name; checked against the served teams before any file is touched.
    teams
        The known teams (default: :func:`served_teams`).

    Raises
    ------
    WorkbookError
        When ``team`` is not a known team.
    """
    team = check_team(team, served_teams(teams))
    run = _run(team)
    manifest = _read_manifest(run) if run else None
    if run is None or manifest is None or manifest.get("status") != "succeeded":
        return None
    entries = manifest.get("notebooks")
    if not isinstance(entries, list):
        entries = []
    by_name = {e.get("notebook"): e for e in entries if isinstance(e, dict)}
    run_id = _text(manifest.get("run_id"), _RUN_ID) or run.run_id
    as_of = _text(manifest.get("as_of"), _DAY)
    analyses = {}
    for name in NOTEBOOKS:  # names come from the code, never from the run or a visitor
        entry = by_name.get(name)
        answer = _read_json(run.answer(name), run.path, _MAX_ANSWER)
        if entry is None and answer is None:
            continue
        entry = entry or {}
        sentences = answer.get("answer", []) if answer else []
        if isinstance(sentences, str):
            sentences = [sentences]
        facts = answer.get("facts", {}) if answer else {}
        status = str(entry.get("status", "succeeded"))
        carried = status == CARRIED
        analyses[name] = Analysis(
            name=name,
            status=status,
            answer=[str(s) for s in sentences] if isinstance(sentences, list) else [],
            facts=facts if isinstance(facts, dict) else {},
            figures=_files(run.folder("figures", name), run.path, ".png", _MAX_FIGURE),
            tables=_files(run.folder("tables", name), run.path, ".parquet", _MAX_TABLE),
            error=entry.get("error"),
            as_of=_text(entry.get("as_of"), _DAY) if carried else as_of,
            run_id=_text(entry.get("from_run_id"), _RUN_ID) if carried else run_id,
        )
    return Snapshot(
        team=team,
        title=str(manifest.get("title") or _team_title(team)),
        run_id=run_id,
        as_of=as_of,
        finished_at=manifest.get("finished_at"),
        status="succeeded",
        analyses=analyses,
        manifest=manifest,
    )


def _last_attempt(team: str) -> tuple[str | None, str | None]:
    """(run_id, status) of the most recent run folder, whatever its outcome."""
    runs = TeamFolder(team).runs_dir
    if not runs.is_dir():
        return None, None
    names = sorted(p.name for p in runs.iterdir() if _RUN_ID.match(p.name) and p.is_dir())
    if not names:
        return None, None
    manifest = _read_manifest(RunFolder(runs / names[-1]))
    status = str(manifest.get("status", "unknown")) if manifest else "unknown"
    return names[-1], status


def list_teams(teams: Sequence[str] | None = None) -> list[TeamStatus]:
    """Every served team with its last successful run and its most recent attempt."""
    rows = []
    for team in served_teams(teams):
        run = _run(team)
        manifest = _read_manifest(run) if run else None
        ok = manifest is not None and manifest.get("status") == "succeeded"
        attempt_id, attempt_status = _last_attempt(team)
        rows.append(
            TeamStatus(
                team=team,
                title=str((manifest or {}).get("title") or _team_title(team)),
                latest_run_id=str(manifest.get("run_id") or run.run_id) if ok else None,
                as_of=manifest.get("as_of") if ok else None,
                finished_at=manifest.get("finished_at") if ok else None,
                last_attempt_status=attempt_status,
                last_attempt_run_id=attempt_id,
            )
        )
    return rows


def state(teams: Sequence[str] | None = None) -> tuple:
    """A cheap fingerprint of what the pages show: each served team with the run its
    ``latest`` points at and its newest run folder (name and manifest time). Pages are
    rendered again only when it changes."""
    out = []
    for team in served_teams(teams):
        run = _run(team)
        attempt = None
        runs = TeamFolder(team).runs_dir
        if runs.is_dir():
            names = [n for n in os.listdir(runs) if _RUN_ID.match(n)]
            if names:
                newest = max(names)
                try:
                    stamp = os.stat(runs / newest / RunFolder.MANIFEST).st_mtime_ns
                except OSError:
                    stamp = 0
                attempt = (newest, stamp)
        out.append((team, run.run_id if run else None, attempt))
    return tuple(out)
