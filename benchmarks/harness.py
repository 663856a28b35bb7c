"""Measuring tools for the benchmarks: wall time, peak memory of a process tree (RSS summed,
and PSS: shared pages divided among the processes that share them), CPU time, medians."""

from __future__ import annotations

import contextlib
import os
import platform
import resource
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psutil

__all__ = ["Measured", "machine", "median_of", "run_measured", "VENV_BIN"]

VENV_BIN = Path(sys.executable).parent


@dataclass
class Measured:
    """One measured command: wall seconds, peak RSS summed over its whole process tree,
    peak PSS of the tree (``/proc/<pid>/smaps_rollup``: the memory the tree really holds,
    shared libraries and forked pages counted once), CPU seconds of the tree, exit code."""

    seconds: float
    peak_mib: float
    returncode: int
    stdout: str = ""
    stderr: str = ""
    peak_pss_mib: float = 0.0
    cpu_s: float = 0.0


def _tree_rss(proc: psutil.Process) -> int:
    total = 0
    try:
        procs = [proc, *proc.children(recursive=True)]
    except psutil.Error:
        return 0
    for p in procs:
        with contextlib.suppress(psutil.Error):
            total += p.memory_info().rss
    return total


def _tree_pss(proc: psutil.Process) -> int:
    """Sum of the tree's PSS in bytes (0 where the kernel has no smaps_rollup)."""
    total = 0
    try:
        pids = [proc.pid, *(c.pid for c in proc.children(recursive=True))]
    except psutil.Error:
        return 0
    for pid in pids:
        with contextlib.suppress(OSError, ValueError), open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    total += int(line.split()[1]) * 1024
                    break
    return total


def run_measured(
    cmd: list[str],
    *,
    env: dict | None = None,
    cwd: Path | None = None,
    memory_limit_bytes: int | None = None,
    timeout: float = 7200,
    sample_s: float = 0.05,
) -> Measured:
    """Run ``cmd``, sampling the RSS of it and all its children every ``sample_s`` seconds
    (50 ms; the PSS every fourth sample). Sampling takes CPU: a benchmark of speed on
    busy cores samples less often.

    ``memory_limit_bytes`` caps the address space of the command (RLIMIT_AS), so a naive
    method that cannot fit fails inside its own limit instead of filling the machine.
    """

    def limit():
        if memory_limit_bytes:
            resource.setrlimit(resource.RLIMIT_AS, (memory_limit_bytes, memory_limit_bytes))

    t0 = time.perf_counter()
    proc = subprocess.Popen(
        cmd,
        env={**os.environ, **(env or {})},
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=limit,
    )
    ps = psutil.Process(proc.pid)
    peak = peak_pss = 0
    stop = threading.Event()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)

    def sample():
        nonlocal peak, peak_pss
        n = 0
        while not stop.is_set():
            peak = max(peak, _tree_rss(ps))
            if n % 4 == 0:  # smaps_rollup walks every mapping: every fourth sample
                peak_pss = max(peak_pss, _tree_pss(ps))
            n += 1
            time.sleep(sample_s)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        out, err = proc.communicate(timeout=timeout)
    finally:
        stop.set()
        sampler.join()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    # CPU of every waited-for descendant (kernels are reaped by the runner, which is ours)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return Measured(
        time.perf_counter() - t0,
        peak / 2**20,
        proc.returncode,
        out,
        err,
        peak_pss_mib=peak_pss / 2**20,
        cpu_s=cpu,
    )


def median_of(n: int, fn: Callable[[], float]) -> tuple[float, list[float]]:
    """Median and all values of ``n`` calls of ``fn``."""
    values = [fn() for _ in range(n)]
    return statistics.median(values), values


def machine() -> dict:
    """Cores, memory and versions of what is measured."""
    from importlib.metadata import version

    return {
        "cores": os.cpu_count(),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "cpu": platform.processor() or platform.machine(),
        "python": platform.python_version(),
        "versions": {
            p: version(p)
            for p in [
                "duckdb",
                "ibis-framework",
                "pandas",
                "papermill",
                "nbclient",
                "voila",
                "product-ops-workbook",
            ]
        },
    }
