"""Run records: job and team results, the up-to-date key, manifests and atomic links."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import socket
import subprocess
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from .. import __version__, paths
from ..data import describe
from ..params import TeamParams
from ..paths import RunFolder
from ..secrets import scrub_data

__all__ = ["JobResult", "TeamRun", "notebook_path"]

#: statuses of a notebook that count as a good result
OK = ("succeeded", "up to date")


def notebook_path(name: str) -> Path:
    """The source notebook ``notebooks/<name>.ipynb``."""
    return paths.notebooks_dir() / f"{name}.ipynb"


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def iso(t: dt.datetime | None) -> str | None:
    return t.isoformat(timespec="seconds") if t else None


def write_json(path: Path, data: dict) -> None:
    """Write JSON atomically: readers see the old file or the new one, never half."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=1, default=str))
    os.replace(tmp, path)


def switch_link(link: Path, target: Path) -> None:
    """Point ``link`` at ``target`` atomically (a relative symlink replaced by rename)."""
    tmp = link.with_name(f".{link.name}.{os.getpid()}.{uuid.uuid4().hex[:6]}")
    tmp.symlink_to(os.path.relpath(target, link.parent))
    os.replace(tmp, link)


def git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "-C", str(paths.ROOT), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def helpers_hash() -> str:
    """A hash of the helpers' source and data files (``*.py``, ``*.yaml``): a change
    in a helper or in the metric registry invalidates up-to-date runs."""
    h = hashlib.sha256()
    package = Path(__file__).parents[1]
    for p in sorted([*package.rglob("*.py"), *package.rglob("*.yaml")]):
        h.update(str(p.relative_to(package)).encode())
        h.update(p.read_bytes())
    return h.hexdigest()[:16]


def file_hash(path: Path | None) -> str:
    """A content hash of one input file, or ``"none"`` when there is none."""
    if path is None or not path.is_file():
        return "none"
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


#: what each part of the up-to-date key covers, in the words ``workbook plan`` uses
KEY_PARTS = {
    "notebook": "the notebook changed",
    "parameters": "its parameters changed",
    "data": "the data changed",
    "helpers": "the helpers or the metric registry changed",
    "inputs": "the segments or project metrics it reads changed",
}


def _digest(value) -> str:
    text = value if isinstance(value, bytes) else json.dumps(value, sort_keys=True, default=str)
    return hashlib.sha256(text if isinstance(text, bytes) else text.encode()).hexdigest()[:16]


def key_parts(nb: str, parameters: dict, fingerprint: dict, helpers: str, inputs: dict) -> dict:
    """The up-to-date key's parts, one hash each (recorded, so a plan can say what changed)."""
    stable = {k: v for k, v in parameters.items() if k != "run_dir"}
    return {
        "notebook": _digest(notebook_path(nb).read_bytes()),
        "parameters": _digest(stable),
        "data": _digest(fingerprint),
        "helpers": helpers,
        "inputs": _digest(inputs),
    }


def key(nb: str, parameters: dict, fingerprint: dict, helpers: str, inputs: dict) -> str:
    """The up-to-date key: notebook, parameters, data, helpers and recorded inputs."""
    return _digest(key_parts(nb, parameters, fingerprint, helpers, inputs))


def changed(old: dict | None, new: dict) -> list[str]:
    """What changed between two recorded key parts, in words."""
    if not old:
        return ["no record of what the last run read"]
    return [KEY_PARTS[k] for k in KEY_PARTS if old.get(k) != new.get(k)]


@dataclass
class JobResult:
    """The outcome of one notebook of one team."""

    team: str
    notebook: str
    status: str  # succeeded | failed | up to date | skipped
    duration_s: float = 0.0
    output: str | None = None
    error: str | None = None
    started_at: str | None = None
    finished_at: str | None = None
    key: str | None = None
    reused_from: str | None = None
    #: why a team stopped before any kernel: "invalid" (params or data) or "locked"
    kind: str | None = None


@dataclass
class TeamRun:
    """One team's planned run: params, date, fingerprint and what to execute or reuse."""

    team: str
    params: TeamParams | None
    as_of: dt.date | None = None
    error: str | None = None
    fingerprint: dict = field(default_factory=dict)
    parameters: dict[str, dict] = field(default_factory=dict)
    keys: dict[str, str] = field(default_factory=dict)
    todo: list[str] = field(default_factory=list)
    reuse: dict[str, RunFolder] = field(default_factory=dict)  # notebook -> previous run
    after: dict[str, list[str]] = field(default_factory=dict)  # notebook -> notebooks first
    run: RunFolder | None = None
    lock: object | None = None
    quality: list = field(default_factory=list)  # contract violations of the source
    helpers: str = ""  # hash of the helpers' source when planned
    parts: dict[str, dict] = field(default_factory=dict)  # notebook -> key parts
    inputs: dict[str, dict] = field(default_factory=dict)  # notebook -> recorded inputs read
    reasons: dict[str, list[str]] = field(default_factory=dict)  # notebook -> why it runs
    warnings: list[str] = field(default_factory=list)  # found before any kernel, not fatal
    carried: dict = field(default_factory=dict)  # notebook -> carry.Carried (left out, kept)

    def rekey(self, notebook: str) -> str:
        """The key of a notebook that reads segments recorded earlier in this run."""
        from ..results import assignments_path

        inputs = {
            **self.inputs.get(notebook, {}),
            "assignments": file_hash(assignments_path(self.run)),
        }
        self.inputs[notebook] = inputs
        args = (notebook, self.parameters[notebook], self.fingerprint, self.helpers, inputs)
        self.parts[notebook] = key_parts(*args)
        self.keys[notebook] = key(*args)
        return self.keys[notebook]


def manifest(
    tr: TeamRun,
    started: dt.datetime,
    results: dict[str, JobResult],
    status: str,
    finished: dt.datetime | None = None,
) -> dict:
    """The run's ``manifest.json``: parameters after defaults, versions, data, times, status.

    Every string in it is scrubbed of credentials (a notebook's error may quote a URL).
    """
    tp = tr.params
    assert tp is not None and tr.run is not None
    entries = []
    for n in tp.notebooks:
        if n not in tr.parameters:
            continue
        r = results.get(n)
        entries.append(
            {
                "notebook": n,
                "status": r.status if r else "running",
                "started_at": r.started_at if r else None,
                "finished_at": r.finished_at if r else None,
                "duration_s": r.duration_s if r else None,
                "output": tr.run.notebook(n).name,
                "html": tr.run.html(n).name,
                "error": r.error if r else None,
                "key": tr.keys[n],
                "key_parts": tr.parts.get(n, {}),
                "reused_from": r.reused_from if r else None,
                "after": tr.after.get(n, []),
                "parameters": {**tr.parameters[n], "run_dir": "."},
            }
        )
    return scrub_data(
        {
            "team": tr.team,
            "title": tp.title,
            "product_area": tp.product_area,
            "as_of": tr.as_of.isoformat() if tr.as_of else None,
            "run_id": tr.run.run_id,
            "status": status,
            "pid": os.getpid(),
            "host": socket.gethostname(),  # a pid means something on this machine only
            "started_at": iso(started),
            "finished_at": iso(finished),
            "duration_s": round((finished - started).total_seconds(), 2) if finished else None,
            "helpers_version": __version__,
            "git_commit": git_commit(),
            "source": describe(tp.source),
            "data_fingerprint": tr.fingerprint,
            "warnings": tr.warnings,
            "params": tp.model_dump(mode="json", exclude={"source"})
            | {"source": describe(tp.source)},
            "notebooks": entries,
        }
    )
