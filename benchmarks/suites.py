"""The benchmark suites of `make bench`; each returns a dict of figures."""

from __future__ import annotations

import json
import shutil
import statistics
import sys
import time
from pathlib import Path

import yaml

from helpers import paths
from helpers.data.demo import AREAS, truth_path
from helpers.params import NOTEBOOKS

from .harness import VENV_BIN, run_measured

__all__ = [
    "bench_aggregations",
    "bench_feedback",
    "bench_fleet",
    "bench_generation",
    "bench_naive",
    "bench_team_run",
    "make_root",
    "make_warehouse",
]

PY = sys.executable


def make_warehouse(work: Path, events: int, areas: int = 4) -> Path:
    """A demo warehouse of ``events`` events (built once, reused by later benchmarks)."""
    out = work / f"demo_{events}_{areas}.duckdb"
    if not out.exists():
        r = run_measured(
            [
                PY,
                "-m",
                "helpers",
                "demo-data",
                "--events",
                str(events),
                "--areas",
                str(areas),
                "--out",
                str(out),
            ]
        )
        if r.returncode:
            raise RuntimeError(r.stderr)
    return out


def make_root(work: Path, warehouse: Path, name: str) -> Path:
    """A workbook root whose params point at ``warehouse``, one team per area in it."""
    root = work / f"root_{name}"
    if root.exists():
        shutil.rmtree(root)
    (root / "params").mkdir(parents=True)
    shutil.copy(paths.ROOT / "params" / "_defaults.yaml", root / "params")
    truth = json.loads(truth_path(warehouse).read_text())
    for area in truth["areas"]:
        d = truth["demand"][area]
        team = {
            "title": area.title(),
            "product_area": area,
            "source": str(warehouse),
            "feature_demand": {
                "features": [d["differ"]["a"], d["differ"]["b"], d["equal"]["a"], d["equal"]["b"]]
            },
        }
        (root / "params" / f"{area}.yaml").write_text(yaml.safe_dump(team, sort_keys=False))
    return root


def bench_generation(work: Path, events: int, repeats: int = 3) -> dict:
    """`workbook demo-data --events N`: time, throughput and peak memory."""
    times, peaks = [], []
    for i in range(repeats):
        out = work / f"gen_{i}.duckdb"
        r = run_measured(
            [PY, "-m", "helpers", "demo-data", "--events", str(events), "--out", str(out)]
        )
        if r.returncode:
            raise RuntimeError(r.stderr)
        times.append(r.seconds)
        peaks.append(r.peak_mib)
        out.unlink()
        truth_path(out).unlink()
    t = statistics.median(times)
    return {
        "events": events,
        "seconds": round(t, 2),
        "events_per_s": round(events / t),
        "peak_mib": round(max(peaks)),
        "runs": [round(x, 2) for x in times],
    }


def bench_team_run(root: Path, team: str, repeats: int = 3) -> dict:
    """One team's notebooks through `workbook run --force`: wall, CPU and tree peak memory
    (RSS summed, and PSS: runner, workers and kernels, shared pages counted once)."""
    times, peaks, pss, cpu = [], [], [], []
    for _ in range(repeats):
        r = run_measured(
            [str(VENV_BIN / "workbook"), "run", "--team", team, "--force"],
            env={"WORKBOOK_ROOT": str(root)},
        )
        if r.returncode:
            raise RuntimeError(r.stdout[-2000:] + r.stderr[-2000:])
        times.append(r.seconds)
        peaks.append(r.peak_mib)
        pss.append(r.peak_pss_mib)
        cpu.append(r.cpu_s)
    return {
        "seconds": round(statistics.median(times), 2),
        "cpu_s": round(statistics.median(cpu), 2),
        "peak_mib": round(max(peaks)),
        "peak_pss_mib": round(max(pss)),
        "runs": [round(x, 2) for x in times],
    }


_NAIVE = """
import sys, duckdb
path, area = sys.argv[1], sys.argv[2]
con = duckdb.connect(path, read_only=True)
events = con.execute("SELECT * FROM events").df()          # the whole table into pandas
ev = events[events.product_area == area]
ev = ev.assign(day=ev.ts.dt.floor("D"))
per_account = ev.groupby("account_id").agg(
    events=("ts", "size"), active_days=("day", "nunique"), last_seen=("ts", "max"),
    features=("feature", "nunique"))
print(len(per_account))
"""


def bench_naive(warehouse: Path, area: str, limit_gib: float, repeats: int = 3) -> dict:
    """Per-account aggregation by loading events into pandas, under an address-space limit."""
    times, peaks = [], []
    for _ in range(repeats):
        r = run_measured(
            [PY, "-c", _NAIVE, str(warehouse), area], memory_limit_bytes=int(limit_gib * 2**30)
        )
        if r.returncode:
            last = (r.stderr.strip().splitlines() or ["?"])[-1]
            return {
                "failed": True,
                "limit_gib": limit_gib,
                "error": last[:200],
                "seconds_to_failure": round(r.seconds, 2),
                "peak_mib": round(r.peak_mib),
            }
        times.append(r.seconds)
        peaks.append(r.peak_mib)
    return {
        "failed": False,
        "limit_gib": limit_gib,
        "seconds": round(statistics.median(times), 2),
        "peak_mib": round(max(peaks)),
    }


def bench_aggregations(warehouse: Path, area: str, repeats: int = 5) -> dict:
    """Helpers' engine aggregations against hand-written DuckDB SQL giving the same result."""
    from . import aggregations

    return aggregations.compare(warehouse, area, repeats)


def bench_fleet(
    work: Path, events: int, teams: int = 12, jobs: int = 2, notebooks: list[str] | None = None
) -> dict:
    """`workbook run --all --jobs 2` against a sequential loop of the plain papermill command.

    ``notebooks``: only these (the smoke runs one, to check the code); default all."""
    chosen = list(notebooks or NOTEBOOKS)
    warehouse = make_warehouse(work, events, areas=teams)
    root = make_root(work, warehouse, "fleet")
    env = {"WORKBOOK_ROOT": str(root)}
    # the same parameters papermill gets: `workbook params`, with run_dir set so both record
    loop_dir = work / "papermill_loop"
    if loop_dir.exists():
        shutil.rmtree(loop_dir)
    loop_dir.mkdir()
    cmds = []
    for area in AREAS[:teams]:
        for nb in chosen:
            r = run_measured([str(VENV_BIN / "workbook"), "params", area, nb], env=env)
            params = yaml.safe_load(r.stdout)
            run_dir = loop_dir / area
            run_dir.mkdir(exist_ok=True)
            params["run_dir"] = str(run_dir)
            pfile = run_dir / f"{nb}.yaml"
            pfile.write_text(yaml.safe_dump(params))
            cmds.append(
                [
                    str(VENV_BIN / "papermill"),
                    str(paths.notebooks_dir() / f"{nb}.ipynb"),
                    str(run_dir / f"{nb}.ipynb"),
                    "-f",
                    str(pfile),
                    "--no-progress-bar",
                ]
            )
    # both sides sampled once a second: the 50 ms memory sampler (smaps of every process)
    # would take CPU from the run that keeps both cores busy
    t0 = time.perf_counter()
    for cmd in cmds:
        r = run_measured(cmd, env=env, sample_s=1.0)
        if r.returncode:
            raise RuntimeError(f"papermill failed: {' '.join(cmd)}\n{r.stderr[-2000:]}")
    sequential = time.perf_counter() - t0
    only = [] if notebooks is None else [a for nb in chosen for a in ("--notebook", nb)]
    ours = run_measured(
        [str(VENV_BIN / "workbook"), "run", "--all", "--jobs", str(jobs), "--force", *only],
        env=env,
        sample_s=1.0,
    )
    if ours.returncode:
        raise RuntimeError(ours.stdout[-3000:])
    return {
        "teams": teams,
        "notebooks": len(cmds),
        "events": events,
        "jobs": jobs,
        "papermill_loop_s": round(sequential, 1),
        "workbook_run_s": round(ours.seconds, 1),
        "speedup": round(sequential / ours.seconds, 2),
        "workbook_peak_mib": round(ours.peak_mib),
    }


def bench_feedback(work: Path, comments: int = 100_000, repeats: int = 3) -> dict:
    """`feedback_report` on a warehouse of ``comments`` comments, in a child process:
    wall seconds (Python start and imports included) and peak RSS of the child."""
    warehouse = work / f"feedback_{comments}.duckdb"
    if not warehouse.exists():
        r = run_measured([PY, "-m", "benchmarks.feedback", "build", str(warehouse), str(comments)])
        if r.returncode:
            raise RuntimeError(r.stderr[-2000:])
    times, peaks, analysis, inner = [], [], [], {}
    for _ in range(repeats):
        r = run_measured([PY, "-m", "benchmarks.feedback", "run", str(warehouse)])
        if r.returncode:
            raise RuntimeError(r.stderr[-2000:])
        times.append(r.seconds)
        peaks.append(r.peak_mib)
        inner = json.loads(r.stdout.strip().splitlines()[-1])
        analysis.append(inner["analysis_s"])
    return {
        "comments": inner.get("comments", comments),
        "seconds": round(statistics.median(times), 2),
        "analysis_s": round(statistics.median(analysis), 2),
        "peak_mib": round(max(peaks)),
        "themes": inner.get("themes"),
        "runs": [round(x, 2) for x in times],
    }
