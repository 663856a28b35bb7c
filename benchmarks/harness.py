"""Measuring tools for the benchmarks: wall time, peak memory of a process tree, medians."""

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
    """One measured command: wall seconds, peak RSS of its whole process tree, exit code."""

    seconds: float
    peak_mib: float
    returncode: int
    stdout: str = ""
    stderr: str = ""


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


def run_measured(
    cmd: list[str],
    *,
    env: dict | None = None,
    cwd: Path | None = None,
    memory_limit_bytes: int | None = None,
    timeout: float = 7200,
) -> Measured:
    """Run ``cmd``, sampling the RSS of it and all its children every 50 ms.

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
    peak = 0
    stop = threading.Event()

    def sample():
        nonlocal peak
        while not stop.is_set():
            peak = max(peak, _tree_rss(ps))
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        out, err = proc.communicate(timeout=timeout)
    finally:
        stop.set()
        sampler.join()
    return Measured(time.perf_counter() - t0, peak / 2**20, proc.returncode, out, err)


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
