"""Running a planned fleet: a run folder per team, notebooks in parallel worker processes
(segmentation before the notebooks that read its segments), then atomic links.

Everything a run writes (run folders, notebooks, HTML, tables, manifests, locks) is
created under the umask ``WORKBOOK_UMASK`` (default ``027``: nothing readable by "others");
set ``WORKBOOK_UMASK=022`` to let every local user read the outputs.
"""

from __future__ import annotations

import datetime as dt
import multiprocessing as mp
import os
import re
import shutil
import stat
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import asdict

from .. import paths
from ..errors import LockedError, WorkbookError, did_you_mean
from ..params import NOTEBOOKS
from ..paths import RunFolder, TeamFolder
from ..secrets import scrub
from .carry import CARRIED, carry_over, with_carried
from .kernels import execute_job, single_threaded_maths, worker_init
from .lock import TeamLock, links_lock
from .plan import plan
from .records import (
    OK,
    JobResult,
    TeamRun,
    iso,
    manifest,
    notebook_path,
    now,
    switch_link,
    write_json,
)

__all__ = ["run"]


def run(
    teams: list[str],
    *,
    notebooks: list[str] | None = None,
    as_of: dt.date | None = None,
    jobs: int | None = None,
    force: bool = False,
    retry_failed: bool = False,
    on_event: Callable[..., None] | None = None,
    wait_s: float = 0.0,
) -> list[JobResult]:
    """Run the selected teams' notebooks; return one result per (team, notebook).

    A team another process is running for the same date waits up to ``wait_s`` seconds,
    then is reported as locked.

    Invalid teams fail at once with their message and no kernel; the others run,
    ``jobs`` notebooks at a time, each in its own kernel. Files are written under the
    umask of :func:`run_umask`.
    """
    mask = run_umask()
    previous_mask = os.umask(mask)  # inherited by the worker processes and their kernels
    try:
        return _run(teams, notebooks, as_of, jobs, force, retry_failed, on_event, wait_s)
    finally:
        os.umask(previous_mask)


def run_umask() -> int:
    """The umask of a run: ``WORKBOOK_UMASK`` (octal, e.g. ``022``), default ``027``."""
    text = os.environ.get("WORKBOOK_UMASK", "027").strip()
    if not re.fullmatch(r"0?[0-7]{3}|0o[0-7]{3}", text):
        raise WorkbookError(
            f"WORKBOOK_UMASK must be an octal mask like 027 (private) or 022 (readable by "
            f"every local user), not {scrub(text)[:20]!r}"
        )
    return int(text.removeprefix("0o"), 8)


def _run(
    teams, notebooks, as_of, jobs, force, retry_failed, on_event, wait_s=0.0
) -> list[JobResult]:
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
    live: list[tuple[TeamRun, dt.datetime, dict[str, JobResult]]] = []
    pending: list[dict] = []
    for tr in planned:
        if tr.error:
            error = scrub(tr.error)
            results.append(JobResult(tr.team, "-", "failed", error=error, kind="invalid"))
            notify("error", tr.team, "-", error)
            continue
        if not tr.todo:
            for n, prev in tr.reuse.items():
                results.append(JobResult(tr.team, n, "up to date", output=str(prev.notebook(n))))
                notify("done", tr.team, n, "up to date")
            continue
        tr.lock = lock = TeamLock(tr.team, tr.as_of, wait_s=wait_s)
        try:
            lock.acquire()
        except WorkbookError as exc:
            kind = "locked" if isinstance(exc, LockedError) else None
            results.append(JobResult(tr.team, "-", "failed", error=scrub(exc), kind=kind))
            notify("error", tr.team, "-", scrub(exc))
            continue
        try:
            tr.run = _new_run(tr.team, tr.as_of)
        except OSError as exc:
            lock.release()
            msg = f"cannot create the run folder for {tr.team}: {exc.strerror or exc}"
            results.append(JobResult(tr.team, "-", "failed", error=msg))
            notify("error", tr.team, "-", msg)
            continue
        started = now()
        team_results: dict[str, JobResult] = {}
        for n, prev in tr.reuse.items():
            _reuse(prev, tr.run, n)
            team_results[n] = JobResult(
                tr.team,
                n,
                "up to date",
                reused_from=prev.run_id,
                output=str(tr.run.notebook(n)),
                key=tr.keys[n],
            )
            notify("done", tr.team, n, "up to date")
        # the team's notebooks this run leaves out keep their last good results
        tr.carried = carry_over(tr, _reuse)
        for n in tr.carried:
            notify("done", tr.team, n, CARRIED)
        running = manifest(tr, started, team_results, "running")
        write_json(tr.run.manifest, with_carried(running, tr.carried))
        # the contract check already ran: notebooks show it instead of checking again
        write_json(tr.run.data_quality, {"violations": [asdict(v) for v in tr.quality]})
        live.append((tr, started, team_results))
        timeout_s = tr.params.timeout_minutes * 60
        for n in tr.todo:
            params = {**tr.parameters[n], "run_dir": str(tr.run.path)}
            pending.append(
                {
                    "team": tr.team,
                    "notebook": n,
                    "input": str(notebook_path(n)),
                    "output": str(tr.run.notebook(n)),
                    "parameters": params,
                    "timeout_s": timeout_s,
                    "cwd": str(paths.notebooks_dir()),
                    "key": tr.keys[n],
                    "after": [d for d in tr.after.get(n, []) if d in tr.todo],
                }
            )

    try:
        if pending:
            _run_jobs(pending, live, jobs, notify)
    finally:
        for tr, started, team_results in live:
            results.extend(_finish_team(tr, started, team_results))
    return results


def _new_run(team: str, as_of: dt.date) -> RunFolder:
    # named for when the run happened (UTC); its as_of is in the manifest and the dated link
    run_id = f"{now():%Y-%m-%dT%H%M%S}-{uuid.uuid4().hex[:4]}"
    folder = TeamFolder(team).run(run_id)
    folder.path.mkdir(parents=True)
    return folder


def _reuse(previous: RunFolder, run: RunFolder, nb: str) -> None:
    """Carry an up-to-date notebook's artifacts over from a previous run (hard links where
    possible); links inside the old run are never followed, whether a file or any folder
    on its way is the link, so nothing outside the old run becomes a file of the new one."""
    mask = os.umask(0)  # the run's umask, read the only way there is: set and put back
    os.umask(mask)
    for src in previous.artifacts(nb):
        if not _regular_inside(src, previous.path):
            continue
        dst = run.path / src.relative_to(previous.path)
        dst.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(src, dst, follow_symlinks=False)
        except OSError:
            shutil.copy2(src, dst, follow_symlinks=False)
        # an older run's file may be wider than this run's umask allows: narrow it
        mode = stat.S_IMODE(os.lstat(dst).st_mode)
        if mode & mask:
            os.chmod(dst, mode & ~mask)


def _regular_inside(path, root) -> bool:
    """Whether ``path`` is a regular file reached from ``root`` through real folders only."""
    try:
        rel = path.relative_to(root)
    except ValueError:
        return False
    here = root
    for part in rel.parts[:-1]:
        here = here / part
        if not stat.S_ISDIR(os.lstat(here).st_mode):
            return False
    return stat.S_ISREG(os.lstat(path).st_mode)


#: the engine cap of each scheduled notebook (``WORKBOOK_DUCKDB_MEMORY`` overrides it)
KERNEL_DUCKDB_MEMORY = "192MB"


def _run_jobs(pending: list[dict], live, jobs: int | None, notify) -> None:
    """Run the jobs in worker processes; a job waits for the jobs of its team it comes after."""
    by_team = {tr.team: team_results for tr, _, team_results in live}
    runs = {tr.team: tr for tr, _, _ in live}
    workers = max(1, min(jobs or os.cpu_count() or 1, len(pending)))
    env = {k: v for k, v in os.environ.items() if k.startswith("WORKBOOK_")}
    # several kernels run at once, each with its own engine and heap: a smaller engine cap
    # (DuckDB spills beyond it) and fewer malloc arenas keep a 100M-event team run under
    # 2 GiB PSS at the same speed (benchmarks/results.md); set either to override
    env.setdefault("WORKBOOK_DUCKDB_MEMORY", KERNEL_DUCKDB_MEMORY)
    env["MALLOC_ARENA_MAX"] = os.environ.get("MALLOC_ARENA_MAX", "2")
    env.update(single_threaded_maths())
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
            initializer=worker_init,
            initargs=(str(paths.notebooks_dir()), env),
        ) as pool:
            waiting = list(pending)
            running: dict = {}
            submitted = 0

            def ready(job: dict) -> bool:
                done = by_team[job["team"]]
                return all(d in done for d in job["after"])

            while waiting or running:
                for job in [j for j in waiting if ready(j)]:
                    waiting.remove(job)
                    if job["after"]:  # its key covers the segments it will read now
                        job["key"] = runs[job["team"]].rekey(job["notebook"])
                    # the last `workers` jobs need no spare kernel after them
                    job["prewarm_next"] = submitted < len(pending) - workers
                    submitted += 1
                    notify("queued", job["team"], job["notebook"], "")
                    running[pool.submit(execute_job, job, events)] = job
                if not running:  # nothing can start: a dependency never ran
                    for job in waiting:
                        by_team[job["team"]][job["notebook"]] = JobResult(
                            job["team"], job["notebook"], "failed", error="not run"
                        )
                    break
                finished, _ = wait(running, return_when=FIRST_COMPLETED)
                for fut in finished:
                    job = running.pop(fut)
                    _record(fut, job, by_team, notify)
        stop.set()
        pumper.join(2)


def _record(fut, job: dict, by_team, notify) -> None:
    try:
        r = fut.result()
    except Exception as exc:  # a worker process died
        r = {
            "status": "failed",
            "error": f"worker died: {type(exc).__name__}",
            "duration_s": 0.0,
            "started_at": None,
            "finished_at": iso(now()),
        }
    error = scrub(r["error"]) if r.get("error") else None  # again here: workers may be older
    by_team[job["team"]][job["notebook"]] = JobResult(
        job["team"],
        job["notebook"],
        r["status"],
        r.get("duration_s", 0.0),
        job["output"],
        error,
        r.get("started_at"),
        r.get("finished_at"),
        job["key"],
    )
    notify("done", job["team"], job["notebook"], r["status"], error)


def _finish_team(tr: TeamRun, started: dt.datetime, team_results: dict[str, JobResult]):
    """Write the final manifest, then switch the links; release the lock."""
    try:
        for n in tr.parameters:
            team_results.setdefault(
                n, JobResult(tr.team, n, "failed", error="not run (the runner stopped)")
            )
        ok = all(r.status in OK for r in team_results.values())
        status = "succeeded" if ok else "failed"
        folder = TeamFolder(tr.team)
        # the team's own time: from its first notebook's start to its last one's end
        times = [
            (r.started_at, r.finished_at)
            for r in team_results.values()
            if r.started_at and r.finished_at and not r.reused_from
        ]
        began = min((dt.datetime.fromisoformat(a) for a, _ in times), default=started)
        ended = max((dt.datetime.fromisoformat(b) for _, b in times), default=now())
        # read and switch under one lock: another date's run of the team (another process
        # or machine) cannot switch latest between our reading and our switching
        with links_lock(tr.team):
            # latest only moves forward: a backfill (an older as_of) keeps today's pages
            current = folder.latest()
            current_as_of = (current.read_manifest() or {}).get("as_of") if current else None
            forward = current_as_of is None or tr.as_of.isoformat() >= str(current_as_of)
            record = manifest(tr, began, team_results, status, ended)
            record["latest"] = ok and forward
            if ok and not forward:
                record["latest_note"] = (
                    f"a backfill: latest stays at the run as of {current_as_of}, which is newer"
                )
            write_json(tr.run.manifest, with_carried(record, tr.carried))
            switch_link(folder.dated_link(tr.as_of), tr.run.path)
            if ok and forward:
                switch_link(folder.latest_link, tr.run.path)
    finally:
        if tr.lock:
            tr.lock.release()
    return [team_results[n] for n in tr.parameters]
