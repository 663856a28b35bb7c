"""CPU seconds per notebook, split by what spends them.

Each notebook of one team runs in a kernel started as the runner starts one (the same
warm-up imports), through papermill, then goes through the runner's scrub and HTML export.
CPU time (all threads, user + system) is read:

- **kernel start + imports**: the new kernel process's CPU once it is ready and warm
  (``/proc/<pid>/stat``): Python, ipykernel and the warm-up imports. A scheduled run pays
  it once per worker and kernel reuse limit, not per notebook (``helpers.run.kernels``);
- in the kernel, while the notebook runs, with wrappers installed first:
  **queries** (Ibis executing on the engine and converting the result),
  **figures** (the ``plots`` functions, ``Recorder.figure``, ``show_figure``), and
  **statistics and tables**: the rest of the cells' CPU;
- in the runner process: **papermill and nbclient** (sending cells, collecting outputs,
  writing the notebook) and **HTML export** (scrub and nbconvert).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import time
from pathlib import Path

from helpers import paths
from helpers.params import NOTEBOOKS

_INSTRUMENT = r"""
import builtins, functools, importlib, time
builtins._wb_cpu = {"queries": 0.0, "figures": 0.0, "depth": 0, "start": time.process_time()}

def _wb_wrap(fn, kind):
    @functools.wraps(fn)
    def inner(*a, **k):
        c = builtins._wb_cpu
        if c["depth"]:  # nested: counted by the outer call
            return fn(*a, **k)
        c["depth"] += 1
        t0 = time.process_time()
        try:
            return fn(*a, **k)
        finally:
            c[kind] += time.process_time() - t0
            c["depth"] -= 1
    return inner

import ibis.backends.duckdb as _d
for _name in ("execute", "to_pyarrow", "to_pyarrow_batches", "raw_sql"):
    setattr(_d.Backend, _name, _wb_wrap(getattr(_d.Backend, _name), "queries"))
for _mod in ("customer_segmentation", "feature_demand", "metric_trends", "customer_feedback"):
    _p = importlib.import_module(f"helpers.{_mod}.plots")
    for _name in getattr(_p, "__all__", []):
        _f = getattr(_p, _name)
        if callable(_f):
            setattr(_p, _name, _wb_wrap(_f, "figures"))
import helpers.results as _r, helpers.display as _disp
_r.Recorder.figure = _wb_wrap(_r.Recorder.figure, "figures")
_disp.show_figure = _wb_wrap(_disp.show_figure, "figures")
del _d, _p, _r, _disp, _mod, _name, _f
"""

_READ = (
    "import builtins, json, time; "
    "print(json.dumps({**builtins._wb_cpu, 'end': time.process_time()}))"
)


def _proc_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _run_in(km, code: str) -> str:
    out: list[str] = []

    def hook(msg):
        if msg["msg_type"] == "stream":
            out.append(msg["content"]["text"])

    kc = km.blocking_client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=60)
        reply = kc.execute_interactive(code, timeout=120, output_hook=hook, store_history=False)
        if reply["content"]["status"] != "ok":
            raise RuntimeError(f"{reply['content'].get('ename')}: {reply['content'].get('evalue')}")
    finally:
        kc.stop_channels()
    return "".join(out)


def cpu_budget(root: Path, team: str, work: Path, notebooks: list[str] | None = None) -> dict:
    """Per notebook of ``team`` (workbook root ``root``): CPU seconds by part.

    ``notebooks``: only these (the smoke runs one); default all, segmentation first."""
    import papermill as pm

    from helpers.run import kernels
    from helpers.run.execute import KERNEL_DUCKDB_MEMORY
    from helpers.run.kernels import (
        _start_kernel,
        export_html,
        scrub_notebook,
        single_threaded_maths,
    )

    os.environ["WORKBOOK_ROOT"] = str(root)
    # the kernel environment of a scheduled run
    os.environ.setdefault("WORKBOOK_DUCKDB_MEMORY", KERNEL_DUCKDB_MEMORY)
    os.environ.setdefault("MALLOC_ARENA_MAX", "2")
    os.environ.update(single_threaded_maths())
    from helpers.params import load_team, notebook_parameters

    tp = load_team(team)

    run_dir = work / "cpu_budget_run"
    if run_dir.exists():
        shutil.rmtree(run_dir)
    run_dir.mkdir(parents=True)
    cwd = str(paths.notebooks_dir())
    out: dict = {}
    for nb in notebooks or NOTEBOOKS:  # segmentation first: the others read its segments
        params = notebook_parameters(tp, nb, as_of=tp.as_of or dt.date.today(), run_dir=run_dir)
        params["as_of"] = None if tp.as_of is None else params["as_of"]  # as `workbook params`
        km = _start_kernel(cwd)
        try:
            pid = km.provisioner.process.pid
            start_cpu = _proc_cpu(pid)
            _run_in(km, _INSTRUMENT)
            t0 = time.process_time()
            pm.execute_notebook(
                str(paths.notebooks_dir() / f"{nb}.ipynb"),
                str(run_dir / f"{nb}.ipynb"),
                parameters=params,
                kernel_name=kernels.KERNEL,
                progress_bar=False,
                cwd=cwd,
                km=km,
            )
            runner_cpu = time.process_time() - t0
            c = json.loads(_run_in(km, _READ).strip().splitlines()[-1])
        finally:
            km.shutdown_kernel(now=True)
        t0 = time.process_time()
        scrub_notebook(run_dir / f"{nb}.ipynb")
        export_html(run_dir / f"{nb}.ipynb")
        html_cpu = time.process_time() - t0
        cells = c["end"] - c["start"]
        parts = {
            "kernel_start_imports": start_cpu,
            "queries": c["queries"],
            "statistics_tables": max(0.0, cells - c["queries"] - c["figures"]),
            "figures": c["figures"],
            "papermill_nbclient": runner_cpu,
            "html_export": html_cpu,
        }
        parts["total"] = sum(parts.values())
        out[nb] = {k: round(v, 2) for k, v in parts.items()}
    return out
