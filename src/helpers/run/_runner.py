"""Run every team's notebooks with papermill: validated, parallel, recorded, never half-done.

A run of one team writes a new immutable folder ``outputs/<team>/runs/<run_id>/``
holding the executed notebooks, their HTML for PMs, the recorded tables, figures
and answers, and ``manifest.json``. Two symlinks are switched atomically when the
run ends: ``outputs/<team>/<as_of>`` (the latest attempt for that date) and, only
when every notebook succeeded, ``outputs/<team>/latest``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import multiprocessing as mp
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import traceback
import uuid
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .. import __version__, paths
from ..data import connect, describe, resolve_as_of
from ..errors import WorkbookError, did_you_mean
from ..params import NOTEBOOKS, TeamParams, load_team, notebook_parameters

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

_KERNEL = "python3"
# imported into a kernel before it is handed a notebook, while another notebook runs;
# WORKBOOK_WARM_IMPORTS replaces the list (tests with tiny stand-in notebooks use less)
_WARM_IMPORTS = (
    "import numpy, pandas, matplotlib.pyplot, seaborn, scipy.stats, statsmodels.api, "
    "sklearn.cluster, ibis, helpers.data, helpers.display, helpers.results"
)


# --------------------------------------------------------------------------- records


def notebook_path(name: str) -> Path:
    """The source notebook ``notebooks/<name>.ipynb``."""
    return paths.notebooks_dir() / f"{name}.ipynb"


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _iso(t: dt.datetime | None) -> str | None:
    return t.isoformat(timespec="seconds") if t else None


def _write_json(path: Path, data: dict) -> None:
    """Write JSON atomically: readers see the old file or the new one, never half."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=1, default=str))
    os.replace(tmp, path)


def _git_commit() -> str | None:
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


def _helpers_hash() -> str:
    """A hash of the helpers' source: a change in a helper invalidates up-to-date runs."""
    h = hashlib.sha256()
    for p in sorted(Path(__file__).parents[1].rglob("*.py")):
        h.update(p.read_bytes())
    return h.hexdigest()[:16]


def _key(nb: str, parameters: dict, fingerprint: dict, helpers_hash: str) -> str:
    h = hashlib.sha256()
    h.update(notebook_path(nb).read_bytes())
    stable = {k: v for k, v in parameters.items() if k != "run_dir"}
    h.update(json.dumps(stable, sort_keys=True, default=str).encode())
    h.update(json.dumps(fingerprint, sort_keys=True, default=str).encode())
    h.update(helpers_hash.encode())
    return h.hexdigest()


def _team_dir(team: str) -> Path:
    return paths.outputs_dir() / team


def latest_run(team: str) -> Path | None:
    """The folder of the team's last fully successful run, or None."""
    link = _team_dir(team) / "latest"
    return link.resolve() if link.exists() else None


def _read_manifest(run_dir: Path) -> dict | None:
    try:
        return json.loads((run_dir / "manifest.json").read_text())
    except (OSError, ValueError):
        return None


def _switch_link(link: Path, target: Path) -> None:
    """Point ``link`` at ``target`` atomically (a relative symlink replaced by rename)."""
    tmp = link.with_name(f".{link.name}.{os.getpid()}.{uuid.uuid4().hex[:6]}")
    tmp.symlink_to(os.path.relpath(target, link.parent))
    os.replace(tmp, link)


# --------------------------------------------------------------------------- locking


class _Lock:
    """An exclusive lock on (team, as_of); a lock left by a dead process is cleared."""

    def __init__(self, team: str, as_of: dt.date):
        self.path = _team_dir(team) / f".lock-{as_of.isoformat()}"
        self.team, self.as_of = team, as_of
        self.held = False

    def acquire(self) -> None:
        try:
            self._acquire()
        except OSError as exc:  # a read-only or full outputs folder: one line, nothing touched
            raise WorkbookError(
                f"cannot write to {self.path.parent}: {exc.strerror or exc}"
            ) from None

    def _acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        for _ in range(2):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                holder = self._holder()
                if holder and _alive(holder.get("pid")):
                    raise WorkbookError(
                        f"team {self.team} for {self.as_of} is already being run by process "
                        f"{holder['pid']} (started {holder.get('started', '?')}); not started"
                    ) from None
                self.path.unlink(missing_ok=True)  # stale: its process is gone
                continue
            with os.fdopen(fd, "w") as f:
                json.dump({"pid": os.getpid(), "started": _iso(_now())}, f)
            self.held = True
            return
        raise WorkbookError(f"cannot take the lock {self.path}")

    def _holder(self) -> dict | None:
        try:
            return json.loads(self.path.read_text())
        except (OSError, ValueError):
            return None

    def release(self) -> None:
        if self.held:
            self.path.unlink(missing_ok=True)
            self.held = False


def _alive(pid: Any) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie is not alive
    with contextlib.suppress(OSError):
        stat = Path(f"/proc/{pid}/stat").read_text()
        if stat.rsplit(")", 1)[1].split()[0] == "Z":
            return False
    return True


# --------------------------------------------------------------------------- planning


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
    reuse: dict[str, Path] = field(default_factory=dict)  # notebook -> previous run folder
    run_dir: Path | None = None
    lock: _Lock | None = None
    quality: list = field(default_factory=list)  # contract violations of the source


def _preflight(tp: TeamParams, wh, notebooks: list[str], violations: list) -> None:
    """Checks against the source that must pass before a kernel starts."""
    errors = [v for v in violations if v.severity == "error"]
    if errors:
        first = errors[0]
        more = f" and {len(errors) - 1} more" if len(errors) > 1 else ""
        raise WorkbookError(
            f"{describe(tp.source)} breaks the data contract: {str(first).split(None, 1)[1]}"
            f"{more} (see `workbook check-data --team {tp.team}`)"
        )
    if "feature_demand" in notebooks:
        _check_features(tp, wh)
    if "metric_trends" in notebooks:
        try:
            from ..metric_trends import _metrics as metrics
        except ImportError:  # registry not installed in this checkout
            return
        try:
            spec = metrics.check_metric(wh, tp.metric_trends.metric, tp.product_area)
            if "feature" in spec.needs or tp.metric_trends.feature:
                metrics._check_feature(wh, tp.metric_trends.feature, tp.product_area, spec)
        except WorkbookError as exc:
            raise WorkbookError(f"params/{tp.team}.yaml, section `metric_trends`: {exc}") from None


def _check_features(tp: TeamParams, wh) -> None:
    features = tp.feature_demand.features
    where = f"params/{tp.team}.yaml: key `feature_demand.features`"
    if len(features) < 2:
        raise WorkbookError(f"{where} needs at least two features to compare, got {len(features)}")
    cat = wh.table("features")
    known = cat.filter(cat.product_area == tp.product_area).feature.to_pyarrow().to_pylist()
    for f in features:
        if f not in known:
            raise WorkbookError(
                f"{where}: unknown feature {f!r} in product area {tp.product_area}"
                + (did_you_mean(f, known) or f"; known: {', '.join(sorted(known)[:12])}")
            )


def plan(
    teams: Iterable[str],
    *,
    notebooks: list[str] | None = None,
    as_of: dt.date | None = None,
    force: bool = False,
    retry_failed: bool = False,
) -> list[TeamRun]:
    """Validate every team and decide what to run; no kernel is started here.

    Teams sharing a source share one connection, one contract check and one fingerprint.
    """
    from ..data.contract import check

    helpers_hash = _helpers_hash()
    out = []
    open_sources: dict[str, Any] = {}
    facts: dict[str, tuple[list, dict]] = {}
    try:
        for team in teams:
            out.append(
                _plan_team(
                    team,
                    notebooks,
                    as_of,
                    force,
                    retry_failed,
                    helpers_hash,
                    open_sources,
                    facts,
                    check,
                )
            )
    finally:
        for wh in open_sources.values():
            wh.close()
    return out


def _plan_team(
    team, notebooks, as_of, force, retry_failed, helpers_hash, open_sources, facts, check
) -> TeamRun:
    try:
        tp = load_team(team)
    except WorkbookError as exc:
        return TeamRun(team, None, error=str(exc))
    tr = TeamRun(team, tp)
    try:
        selected = [n for n in tp.notebooks if not notebooks or n in notebooks]
        if not selected:
            raise WorkbookError(f"team {team}: none of {notebooks} is in its `notebooks`")
        for n in selected:
            if not notebook_path(n).exists():
                raise WorkbookError(f"notebook {notebook_path(n)} does not exist")
        if tp.source not in open_sources:
            open_sources[tp.source] = connect(tp.source)
        wh = open_sources[tp.source]
        if tp.source not in facts:
            facts[tp.source] = (check(wh), wh.fingerprint())
        tr.quality, tr.fingerprint = facts[tp.source]
        tr.as_of = as_of or tp.as_of or resolve_as_of(wh, None)
        _preflight(tp, wh, selected, tr.quality)
        previous = _team_dir(team) / tr.as_of.isoformat()
        prev_manifest = _read_manifest(previous) if previous.exists() else None
        prev = {e["notebook"]: e for e in (prev_manifest or {}).get("notebooks", [])}
        for n in selected:
            params = notebook_parameters(tp, n, as_of=tr.as_of, run_dir="")
            tr.parameters[n] = params
            tr.keys[n] = _key(n, params, tr.fingerprint, helpers_hash)
            old = prev.get(n)
            ok_before = old and old.get("status") in ("succeeded", "up to date")
            if retry_failed:
                if ok_before:
                    tr.reuse[n] = previous.resolve()
                else:
                    tr.todo.append(n)
            elif not force and ok_before and old.get("key") == tr.keys[n]:
                tr.reuse[n] = previous.resolve()
            else:
                tr.todo.append(n)
    except WorkbookError as exc:
        tr.error = str(exc)
    return tr


# --------------------------------------------------------------------------- execution

_warm: dict[str, Any] = {}


def _start_kernel(cwd: str, started: Callable[[Any], None] | None = None):
    from jupyter_client.manager import KernelManager

    # IPC sockets instead of TCP ports: parallel kernel starts cannot race for a port,
    # and nothing listens on the network
    sock_dir = Path(tempfile.gettempdir()) / "workbook-kernels"
    sock_dir.mkdir(mode=0o700, exist_ok=True)
    km = KernelManager(
        kernel_name=_KERNEL,
        transport="ipc",
        ip=str(sock_dir / f"k-{os.getpid()}-{uuid.uuid4().hex[:8]}"),
    )
    # nbclient's dead-kernel check only runs if its message polls are async: with the default
    # blocking client a kernel killed while silent (OOM killer) hangs the run forever
    km.client_class = "jupyter_client.asynchronous.AsyncKernelClient"
    km.start_kernel(cwd=cwd)
    if started:
        started(km)
    kc = km.blocking_client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=120)
        kc.execute_interactive(
            os.environ.get("WORKBOOK_WARM_IMPORTS", _WARM_IMPORTS),
            timeout=180,
            store_history=False,
            output_hook=lambda msg: None,
        )
    finally:
        kc.stop_channels()
    return km


def _prepare_next(cwd: str) -> None:
    """Start and warm the next kernel in the background while this worker runs a notebook."""
    ready = threading.Event()

    def work():
        try:
            _warm["km"] = _start_kernel(cwd, started=lambda km: _warm.update(starting=km))
        except Exception as exc:  # fall back to a cold start in the job itself
            _warm["error"] = exc
        finally:
            ready.set()

    _warm.update(ready=ready, km=None, starting=None, error=None)
    threading.Thread(target=work, daemon=True).start()


def _worker_init(cwd: str, env: dict[str, str]) -> None:
    os.environ.update(env)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C
    from multiprocessing.util import Finalize

    _prepare_next(cwd)
    Finalize(None, _shutdown_warm, exitpriority=10)


def _shutdown_warm() -> None:
    """At worker exit: stop the spare kernel at once, even if it is still warming up."""
    km = _warm.get("km") or _warm.get("starting")
    if km is not None:
        with contextlib.suppress(Exception):
            km.shutdown_kernel(now=True)


def _take_kernel(cwd: str, prewarm_next: bool):
    ready = _warm.get("ready")
    km = None
    if ready is not None:
        ready.wait(300)
        km = _warm.get("km")
    _warm.update(ready=None, km=None, starting=None)
    if prewarm_next:  # the next job's kernel starts now, in parallel with this one
        _prepare_next(cwd)
    return km or _start_kernel(cwd)


def _execute(job: dict, events) -> dict:
    """Run one notebook in a worker process; never raises."""
    import papermill as pm
    from nbclient.exceptions import DeadKernelError

    started = _now()
    out_nb = Path(job["output"])
    cwd = job["cwd"]
    result = {"status": "succeeded", "error": None, "started_at": _iso(started)}
    km = None
    timed_out = threading.Event()
    watchdog = None

    def report(index: int, total: int, source: str) -> None:
        if events is not None:
            with contextlib.suppress(Exception):
                events.put(("cell", job["team"], job["notebook"], index, total, source))

    try:
        km = _take_kernel(cwd, job.get("prewarm_next", False))
        pid = getattr(getattr(km, "provisioner", None), "process", None)

        def kill():
            timed_out.set()
            if pid is not None:
                with contextlib.suppress(Exception):
                    os.kill(pid.pid, signal.SIGKILL)

        watchdog = threading.Timer(job["timeout_s"], kill)
        watchdog.daemon = True
        watchdog.start()
        pm.execute_notebook(
            job["input"],
            str(out_nb),
            parameters=job["parameters"],
            kernel_name=_KERNEL,
            progress_bar=False,
            cwd=cwd,
            km=km,
            engine_name="workbook",
            report=report,
            execution_timeout=int(job["timeout_s"]) + 1,
        )
    except pm.PapermillExecutionError as exc:
        result["status"] = "failed"
        result["error"] = f"cell {exc.exec_count}: {exc.ename}: {exc.evalue}".strip()[:500]
    except DeadKernelError:
        result["status"] = "failed"
        minutes = job["timeout_s"] / 60
        result["error"] = (
            f"timed out after {minutes:g} minutes (kernel stopped)"
            if timed_out.is_set()
            else "the kernel died while running the notebook"
        )
    except Exception as exc:  # kernel start failure, disk full, ...
        result["status"] = "failed"
        detail = str(exc).splitlines()[0][:300] if str(exc) else ""
        result["error"] = f"{type(exc).__name__}: {detail}"
        if os.environ.get("WORKBOOK_DEBUG"):
            result["error"] += "\n" + traceback.format_exc()
    finally:
        if watchdog:
            watchdog.cancel()
        if km is not None:
            with contextlib.suppress(Exception):
                km.shutdown_kernel(now=True)
    if result["status"] == "failed" and timed_out.is_set() and "timed out" not in result["error"]:
        result["error"] = f"timed out after {job['timeout_s'] / 60:g} minutes"
    if out_nb.exists():
        try:
            _export_html(out_nb)
        except Exception as exc:
            if result["status"] == "succeeded":
                result["status"] = "failed"
                result["error"] = f"HTML export failed: {type(exc).__name__}: {exc}"[:300]
    finished = _now()
    result["finished_at"] = _iso(finished)
    result["duration_s"] = round((finished - started).total_seconds(), 2)
    return result


def _export_html(nb_path: Path) -> Path:
    """The PM's copy: HTML without code cells or prompts."""
    import nbformat
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(
        exclude_input=True, exclude_input_prompt=True, exclude_output_prompt=True
    )
    body, _ = exporter.from_notebook_node(nbformat.read(nb_path, as_version=4))
    out = nb_path.with_suffix(".html")
    out.write_text(body, encoding="utf-8")
    return out


def _register_engine() -> None:
    from papermill.engines import NBClientEngine, papermill_engines

    class WorkbookEngine(NBClientEngine):
        """papermill's nbclient engine that reports each cell as it starts."""

        @classmethod
        def execute_managed_notebook(cls, nb_man, kernel_name, **kwargs):
            report = kwargs.pop("report", None)
            if report is not None:
                original = nb_man.cell_start

                def cell_start(cell, cell_index=None, **kw):
                    first = (cell.source or "").strip().splitlines()
                    report(cell_index, len(nb_man.nb.cells), first[0][:70] if first else "")
                    return original(cell, cell_index, **kw)

                nb_man.cell_start = cell_start
            return super().execute_managed_notebook(nb_man, kernel_name, **kwargs)

    papermill_engines.register("workbook", WorkbookEngine)


def _job_entry(job: dict, events) -> dict:
    _register_engine()
    return _execute(job, events)


# --------------------------------------------------------------------------- orchestration


def _new_run_dir(team: str, as_of: dt.date) -> tuple[str, Path]:
    run_id = f"{as_of.isoformat()}T{_now():%H%M%S}-{uuid.uuid4().hex[:4]}"
    folder = _team_dir(team) / "runs" / run_id
    folder.mkdir(parents=True)
    return run_id, folder


def _reuse(previous: Path, run_dir: Path, nb: str) -> None:
    """Copy an up-to-date notebook's artifacts from the previous run (hard links where possible)."""
    for name in (f"{nb}.ipynb", f"{nb}.html", f"answers/{nb}.json"):
        src = previous / name
        if src.exists():
            dst = run_dir / name
            dst.parent.mkdir(parents=True, exist_ok=True)
            _link_or_copy(src, dst)
    for kind in ("tables", "figures"):
        src = previous / kind / nb
        if src.is_dir():
            for f in src.iterdir():
                dst = run_dir / kind / nb / f.name
                dst.parent.mkdir(parents=True, exist_ok=True)
                _link_or_copy(f, dst)


def _link_or_copy(src: Path, dst: Path) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def _manifest(
    tr: TeamRun,
    run_id: str,
    started: dt.datetime,
    results: dict[str, JobResult],
    status: str,
    finished: dt.datetime | None = None,
) -> dict:
    tp = tr.params
    assert tp is not None
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
                "output": f"{n}.ipynb",
                "html": f"{n}.html",
                "error": r.error if r else None,
                "key": tr.keys[n],
                "reused_from": r.reused_from if r else None,
                "parameters": {**tr.parameters[n], "run_dir": "."},
            }
        )
    return {
        "team": tr.team,
        "title": tp.title,
        "product_area": tp.product_area,
        "as_of": tr.as_of.isoformat() if tr.as_of else None,
        "run_id": run_id,
        "status": status,
        "pid": os.getpid(),
        "started_at": _iso(started),
        "finished_at": _iso(finished),
        "duration_s": round((finished - started).total_seconds(), 2) if finished else None,
        "helpers_version": __version__,
        "git_commit": _git_commit(),
        "source": describe(tp.source),
        "data_fingerprint": tr.fingerprint,
        "params": tp.model_dump(mode="json", exclude={"source"}) | {"source": describe(tp.source)},
        "notebooks": entries,
    }


def run(
    teams: list[str],
    *,
    notebooks: list[str] | None = None,
    as_of: dt.date | None = None,
    jobs: int | None = None,
    force: bool = False,
    retry_failed: bool = False,
    on_event: Callable[..., None] | None = None,
) -> list[JobResult]:
    """Run the selected teams' notebooks; return one result per (team, notebook).

    Invalid teams fail at once with their message and no kernel; the others run,
    ``jobs`` notebooks at a time, each in its own kernel.
    """
    notify = on_event or (lambda *a: None)
    if notebooks:
        for n in notebooks:
            if n not in NOTEBOOKS:
                raise WorkbookError(
                    f"unknown notebook {n!r}{did_you_mean(n, NOTEBOOKS)}; known: "
                    + ", ".join(NOTEBOOKS)
                )
    planned = plan(teams, notebooks=notebooks, as_of=as_of, force=force, retry_failed=retry_failed)
    results: list[JobResult] = []
    live: list[tuple[TeamRun, str, dt.datetime, dict[str, JobResult]]] = []
    pending: list[dict] = []
    for tr in planned:
        if tr.error:
            results.append(JobResult(tr.team, "-", "failed", error=tr.error))
            notify("error", tr.team, "-", tr.error)
            continue
        if not tr.todo:
            for n in tr.reuse:
                results.append(
                    JobResult(tr.team, n, "up to date", output=str(tr.reuse[n] / f"{n}.ipynb"))
                )
                notify("done", tr.team, n, "up to date")
            continue
        tr.lock = _Lock(tr.team, tr.as_of)
        try:
            tr.lock.acquire()
        except WorkbookError as exc:
            results.append(JobResult(tr.team, "-", "failed", error=str(exc)))
            notify("error", tr.team, "-", str(exc))
            continue
        try:
            run_id, tr.run_dir = _new_run_dir(tr.team, tr.as_of)
        except OSError as exc:
            tr.lock.release()
            msg = f"cannot create the run folder for {tr.team}: {exc.strerror or exc}"
            results.append(JobResult(tr.team, "-", "failed", error=msg))
            notify("error", tr.team, "-", msg)
            continue
        started = _now()
        team_results: dict[str, JobResult] = {}
        for n, prev in tr.reuse.items():
            _reuse(prev, tr.run_dir, n)
            team_results[n] = JobResult(
                tr.team,
                n,
                "up to date",
                reused_from=prev.name,
                output=str(tr.run_dir / f"{n}.ipynb"),
                key=tr.keys[n],
            )
            notify("done", tr.team, n, "up to date")
        _write_json(
            tr.run_dir / "manifest.json", _manifest(tr, run_id, started, team_results, "running")
        )
        # the contract check already ran: notebooks show it instead of checking again
        _write_json(
            tr.run_dir / "data_quality.json", {"violations": [asdict(v) for v in tr.quality]}
        )
        live.append((tr, run_id, started, team_results))
        timeout_s = tr.params.timeout_minutes * 60
        for n in tr.todo:
            params = {**tr.parameters[n], "run_dir": str(tr.run_dir)}
            pending.append(
                {
                    "team": tr.team,
                    "notebook": n,
                    "input": str(notebook_path(n)),
                    "output": str(tr.run_dir / f"{n}.ipynb"),
                    "parameters": params,
                    "timeout_s": timeout_s,
                    "cwd": str(paths.notebooks_dir()),
                    "key": tr.keys[n],
                }
            )

    try:
        if pending:
            _run_jobs(pending, live, jobs, notify)
    finally:
        for tr, run_id, started, team_results in live:
            results.extend(_finish_team(tr, run_id, started, team_results))
    return results


def _run_jobs(pending, live, jobs, notify) -> None:
    by_team = {tr.team: team_results for tr, _, _, team_results in live}
    workers = max(1, min(jobs or os.cpu_count() or 1, len(pending)))
    env = {k: v for k, v in os.environ.items() if k.startswith("WORKBOOK_")}
    ctx = mp.get_context("spawn")
    with ctx.Manager() as manager:
        events = manager.Queue()
        stop = threading.Event()

        def pump():
            while not stop.is_set() or not events.empty():
                try:
                    item = events.get(timeout=0.2)
                except Exception:
                    continue
                notify(*item)

        pumper = threading.Thread(target=pump, daemon=True)
        pumper.start()
        with ProcessPoolExecutor(
            workers,
            mp_context=ctx,
            initializer=_worker_init,
            initargs=(str(paths.notebooks_dir()), env),
        ) as pool:
            futures = {}
            for i, job in enumerate(pending):
                # the last `workers` jobs need no spare kernel after them
                job["prewarm_next"] = i < len(pending) - workers
                notify("queued", job["team"], job["notebook"], "")
                futures[pool.submit(_job_entry, job, events)] = job
            for fut in _as_completed(futures):
                job = futures[fut]
                try:
                    r = fut.result()
                except Exception as exc:  # a worker process died
                    r = {
                        "status": "failed",
                        "error": f"worker died: {type(exc).__name__}",
                        "duration_s": 0.0,
                        "started_at": None,
                        "finished_at": _iso(_now()),
                    }
                by_team[job["team"]][job["notebook"]] = JobResult(
                    job["team"],
                    job["notebook"],
                    r["status"],
                    r.get("duration_s", 0.0),
                    job["output"],
                    r.get("error"),
                    r.get("started_at"),
                    r.get("finished_at"),
                    job["key"],
                )
                notify("done", job["team"], job["notebook"], r["status"], r.get("error"))
        stop.set()
        pumper.join(2)


def _as_completed(futures):
    from concurrent.futures import as_completed

    return as_completed(futures)


def _finish_team(
    tr: TeamRun, run_id: str, started: dt.datetime, team_results: dict[str, JobResult]
) -> list[JobResult]:
    """Write the final manifest, then switch the links; release the lock."""
    try:
        for n in tr.parameters:
            team_results.setdefault(
                n, JobResult(tr.team, n, "failed", error="not run (the runner stopped)")
            )
        ok = all(r.status in ("succeeded", "up to date") for r in team_results.values())
        status = "succeeded" if ok else "failed"
        _write_json(
            tr.run_dir / "manifest.json",
            _manifest(tr, run_id, started, team_results, status, _now()),
        )
        team_dir = _team_dir(tr.team)
        _switch_link(team_dir / tr.as_of.isoformat(), tr.run_dir)
        if ok:
            _switch_link(team_dir / "latest", tr.run_dir)
    finally:
        if tr.lock:
            tr.lock.release()
    return [team_results[n] for n in tr.parameters]


# --------------------------------------------------------------------------- history


def history(team: str | None = None) -> list[dict]:
    """Every recorded run, newest first: team, run_id, as_of, status, duration, notebooks."""
    teams = (
        [team]
        if team
        else sorted(p.name for p in paths.outputs_dir().glob("*") if (p / "runs").is_dir())
    )
    rows = []
    for t in teams:
        latest = latest_run(t)
        for run_dir in (_team_dir(t) / "runs").glob("*"):
            m = _read_manifest(run_dir)
            if m is None:
                rows.append(
                    {
                        "team": t,
                        "run_id": run_dir.name,
                        "as_of": None,
                        "status": "incomplete",
                        "duration_s": None,
                        "started_at": None,
                        "notebooks": "",
                        "latest": False,
                        "path": str(run_dir),
                    }
                )
                continue
            status = m.get("status")
            if status == "running" and not _alive(m.get("pid")):
                status = "interrupted"
            nbs = m.get("notebooks", [])
            ok = sum(e.get("status") in ("succeeded", "up to date") for e in nbs)
            rows.append(
                {
                    "team": t,
                    "run_id": m.get("run_id", run_dir.name),
                    "as_of": m.get("as_of"),
                    "status": status,
                    "duration_s": m.get("duration_s"),
                    "started_at": m.get("started_at"),
                    "notebooks": f"{ok}/{len(nbs)} ok",
                    "latest": latest is not None and latest == run_dir.resolve(),
                    "path": str(run_dir),
                }
            )
    rows.sort(key=lambda r: (r["started_at"] or "", r["run_id"]), reverse=True)
    return rows


def prune(keep: int, team: str | None = None) -> list[Path]:
    """Remove all but the newest ``keep`` runs per team; never ``latest`` or a dated link's run."""
    if keep < 1:
        raise WorkbookError(f"--keep must be at least 1, not {keep}")
    removed = []
    teams = (
        [team] if team else [p.name for p in paths.outputs_dir().glob("*") if (p / "runs").is_dir()]
    )
    for t in teams:
        d = _team_dir(t)
        protected = {p.resolve() for p in d.iterdir() if p.is_symlink() and p.exists()}
        runs = sorted((d / "runs").glob("*"), key=lambda p: p.name, reverse=True)
        for r in runs[keep:]:
            if r.resolve() in protected:
                continue
            m = _read_manifest(r)
            if m and m.get("status") == "running" and _alive(m.get("pid")):
                continue
            shutil.rmtree(r)
            removed.append(r)
        for p in d.iterdir():  # dated links whose run is gone
            if p.is_symlink() and not p.exists():
                p.unlink()
    return removed
