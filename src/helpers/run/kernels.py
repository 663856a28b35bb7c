"""Kernels for notebooks: started over IPC sockets, warmed while another notebook runs,
executed by papermill with a watchdog, reset and kept for the worker's next notebook, and
exported to HTML for PMs."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import traceback
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..secrets import private_dir, scrub, scrubber
from .records import iso, now

__all__ = [
    "KERNEL",
    "MATHS_THREADS",
    "execute_job",
    "export_html",
    "single_threaded_maths",
    "worker_init",
]

KERNEL = "python3"
# imported into a kernel before it is handed a notebook, while another notebook runs;
# WORKBOOK_WARM_IMPORTS replaces the list (tests with tiny stand-in notebooks use less)
# (the statsmodels modules the helpers use, not ``statsmodels.api``, which imports all of
# statsmodels: 0.4 s of CPU more per kernel)
_WARM_IMPORTS = (
    "import numpy, pandas, matplotlib.pyplot, seaborn, scipy.stats, "
    "statsmodels.stats.proportion, statsmodels.stats.multitest, statsmodels.robust.scale, "
    "statsmodels.tsa.exponential_smoothing.ets, statsmodels.tsa.forecasting.stl, "
    "sklearn.cluster, ibis, helpers.data, helpers.display, helpers.results"
)

#: how many notebooks one kernel runs before a fresh one is started (``1``: every notebook
#: in a new kernel, as plain papermill does); ``WORKBOOK_KERNEL_REUSE`` overrides it
KERNEL_REUSE = 25
#: a kernel still this large after its reset (MiB resident) is not reused
KERNEL_REUSE_MAX_MIB = 1024
#: a notebook in progress is written to its output file at most this often (seconds)
SAVE_EVERY_S = 10.0
# run between two notebooks: see helpers.run.kernel_state
_RESET = "import helpers.run.kernel_state as _k; _k.restore()"
_SNAPSHOT = "import helpers.run.kernel_state as _k; _k.snapshot(); del _k"

_warm: dict[str, Any] = {}

#: the thread pools of numpy's and scipy's OpenBLAS and of OpenMP (scikit-learn)
MATHS_THREADS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def single_threaded_maths() -> dict[str, str]:
    """One BLAS/OpenMP thread per kernel (a variable already set is kept).

    A run already puts a kernel on every core; more threads per kernel only make them
    wait for each other. The metric-trends analysis of one team, in a kernel, took 0.92
    CPU-seconds with two threads and 0.61 with one on a quiet machine, and 4.7 against
    0.7 while another process kept the second core busy, as a run's other kernel does.
    Every analysis test's expected values are unchanged with it.
    """
    return {name: os.environ.get(name, "1") for name in MATHS_THREADS}


def _start_kernel(cwd: str, started: Callable[[Any], None] | None = None):
    from jupyter_client.manager import KernelManager

    # IPC sockets instead of TCP ports: parallel kernel starts cannot race for a port,
    # and nothing listens on the network
    sock_dir = _socket_dir()
    km = KernelManager(
        kernel_name=KERNEL,
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
        if _reuse_limit() > 1:
            _run_quietly(kc, _SNAPSHOT, timeout=60)
    finally:
        kc.stop_channels()
    _warm.setdefault("uses", {})[id(km)] = 0
    return km


def _reuse_limit() -> int:
    text = os.environ.get("WORKBOOK_KERNEL_REUSE", "").strip()
    return max(1, int(text)) if text.isdigit() else KERNEL_REUSE


def _run_quietly(kc, code: str, timeout: float) -> dict:
    """Run ``code`` in the kernel outside its history; raise if it fails."""
    reply = kc.execute_interactive(
        code, timeout=timeout, store_history=False, output_hook=lambda msg: None
    )
    content = reply.get("content", {})
    if content.get("status") != "ok":
        raise RuntimeError(f"{content.get('ename', 'error')}: {content.get('evalue', '')}")
    return content


def _keep_for_next(km) -> bool:
    """Reset a kernel that ran a notebook cleanly, so the worker's next notebook starts in
    it with a clean namespace (see helpers.run.kernel_state); False: shut it down instead."""
    uses = _warm.setdefault("uses", {})
    count = uses.get(id(km), 0) + 1
    if count >= _reuse_limit():
        return False
    try:
        if not km.is_alive():
            return False
        kc = km.blocking_client()
        kc.start_channels()
        try:
            kc.wait_for_ready(timeout=30)
            _run_quietly(kc, _RESET, timeout=60)
            # the resident size after the reset (the reply carries no value: read /proc)
            rss = _kernel_rss_mib(km)
        finally:
            kc.stop_channels()
    except Exception:
        return False
    if rss > KERNEL_REUSE_MAX_MIB:
        return False
    uses[id(km)] = count
    ready = threading.Event()
    ready.set()
    _warm.update(ready=ready, km=km, starting=None, error=None)
    return True


def _kernel_rss_mib(km) -> float:
    proc = getattr(getattr(km, "provisioner", None), "process", None)
    try:
        with open(f"/proc/{proc.pid}/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (AttributeError, OSError, ValueError, IndexError):
        return 0.0


def _socket_dir() -> Path:
    """The kernels' socket folder: this user's only (another user could connect to a
    kernel's sockets, or plant a link, in a shared predictable folder)."""
    return private_dir("workbook-kernels")


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


def worker_init(cwd: str, env: dict[str, str]) -> None:
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
    # without reuse the next job's kernel starts now, in parallel with this one; with it
    # the next job takes this kernel, and a spare starts only if this one is not kept
    if prewarm_next and _reuse_limit() == 1:
        _prepare_next(cwd)
    return km or _start_kernel(cwd)


def _execute(job: dict, events) -> dict:
    """Run one notebook in a worker process; never raises."""
    import papermill as pm
    from nbclient.exceptions import DeadKernelError

    started = now()
    out_nb = Path(job["output"])
    cwd = job["cwd"]
    result = {"status": "succeeded", "error": None, "started_at": iso(started)}
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
            kernel_name=KERNEL,
            progress_bar=False,
            cwd=cwd,
            km=km,
            engine_name="workbook",
            report=report,
            execution_timeout=int(job["timeout_s"]) + 1,
        )
    except pm.PapermillExecutionError as exc:
        result["status"] = "failed"
        result["error"] = f"cell {exc.exec_count}: {exc.ename}: {exc.evalue}".strip()
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
        detail = scrub(str(exc)).splitlines()[0][:300] if str(exc).strip() else ""
        result["error"] = f"{type(exc).__name__}: {detail}"
        if os.environ.get("WORKBOOK_DEBUG"):
            result["error"] += "\n" + traceback.format_exc()
    finally:
        if watchdog:
            watchdog.cancel()
        # a kernel that ran its notebook cleanly is reset for the worker's next one
        keep = job.get("prewarm_next") and result["status"] == "succeeded"
        if km is not None and not (keep and not timed_out.is_set() and _keep_for_next(km)):
            _warm.get("uses", {}).pop(id(km), None)
            with contextlib.suppress(Exception):
                km.shutdown_kernel(now=True)
            if job.get("prewarm_next") and _reuse_limit() > 1:
                _prepare_next(cwd)
    if result["status"] == "failed" and timed_out.is_set() and "timed out" not in result["error"]:
        result["error"] = f"timed out after {job['timeout_s'] / 60:g} minutes"
    if out_nb.exists():
        try:
            scrub_notebook(out_nb)  # before the PMs' HTML copy is made from it
            export_html(out_nb)
        except Exception as exc:
            if result["status"] == "succeeded":
                result["status"] = "failed"
                result["error"] = f"HTML export failed: {type(exc).__name__}: {exc}"
    if result["error"]:
        # scrubbed before it is cut, so no half password escapes the patterns
        limit = None if os.environ.get("WORKBOOK_DEBUG") else 500  # a traceback is kept whole
        result["error"] = scrub(result["error"])[:limit]
    finished = now()
    result["finished_at"] = iso(finished)
    result["duration_s"] = round((finished - started).total_seconds(), 2)
    return result


def scrub_notebook(nb_path: Path) -> bool:
    """Hide credentials in an executed notebook's sources and text outputs, in place.

    Tracebacks, printed text and text/HTML/Markdown outputs are scrubbed (images are left
    alone); returns whether anything changed.
    """
    import nbformat

    nb = nbformat.read(nb_path, as_version=4)
    fn = scrubber()
    changed = False

    def clean(value):
        nonlocal changed
        if isinstance(value, list):
            return [clean(v) for v in value]
        if isinstance(value, str):
            new = fn(value)
            changed = changed or new != value
            return new
        return value

    for cell in nb.cells:
        cell.source = clean(cell.source)
        for out in cell.get("outputs", []):
            for key in ("text", "evalue", "traceback"):
                if key in out:
                    out[key] = clean(out[key])
            data = out.get("data", {})
            for mime in list(data):
                if mime.startswith("text/"):
                    data[mime] = clean(data[mime])
    if changed:
        tmp = nb_path.with_name(f".{nb_path.name}.{os.getpid()}.tmp")
        nbformat.write(nb, tmp)
        os.replace(tmp, nb_path)
    return changed


_exporters: dict[str, Any] = {}


def export_html(nb_path: Path) -> Path:
    """The PM's copy: HTML without code cells or prompts, sanitized.

    Markdown and HTML outputs go through an allow-list (bleach): text, headings, lists,
    tables, links to http(s) and mail; anything else (``<script>``, ``<img onerror=…>``,
    ``<iframe>``, ``style`` or event attributes, ``javascript:`` links) is shown escaped,
    as text, so a value from the warehouse can never run in a PM's browser. JavaScript
    outputs are left out; figures (PNG outputs) are kept.
    """
    import re

    import bleach
    import nbformat
    from nbconvert import HTMLExporter

    text_tags = "a abbr b blockquote br code dd del div dl dt em hr i li ol p pre s small"
    more_tags = "span strong sub sup u ul h1 h2 h3 h4 h5 h6"
    table_tags = "caption col colgroup table tbody td tfoot th thead tr"
    tags = set(f"{text_tags} {more_tags} {table_tags}".split())
    attributes = {
        "*": ["class", "id", "title"],
        "a": ["href", "title"],
        "table": ["border"],
        "td": ["colspan", "rowspan"],
        "th": ["colspan", "rowspan"],
    }

    def clean_html(markup) -> str:
        text = markup.decode() if isinstance(markup, bytes) else str(markup)
        # pandas' tables carry a <style> block of their own: dropped, not shown as text
        text = re.sub(r"<style\b[^>]*>.*?</style\s*>", "", text, flags=re.S | re.I)
        return bleach.clean(
            text,
            tags=tags,
            attributes=attributes,
            protocols={"http", "https", "mailto"},
            strip=False,
            strip_comments=True,
        )

    exporter = _exporters.get("html")
    if exporter is None:  # once per process: loading its templates costs more than a page
        exporter = _exporters["html"] = HTMLExporter(
            exclude_input=True,
            exclude_input_prompt=True,
            exclude_output_prompt=True,
            sanitize_html=True,
            filters={"clean_html": clean_html},
        )
    name = nb_path.stem.replace("_", " ").capitalize()
    team = nb_path.parent.parent.parent.name  # outputs/<team>/runs/<run id>/<notebook>.ipynb
    body, _ = exporter.from_notebook_node(
        nbformat.read(nb_path, as_version=4), resources={"metadata": {"name": f"{name} — {team}"}}
    )
    # nbconvert's template loads require.js and MathJax from a CDN: the PM's copy opens
    # offline and tells no outside server who read it (no output here needs either)
    body = re.sub(
        r"<script\b[^>]*\bsrc=[\"']?(?:https?:)?//[^>]*>\s*</script\s*>", "", body, flags=re.I
    )
    body = re.sub(r"<link\b[^>]*\bhref=[\"']?(?:https?:)?//[^>]*>", "", body, flags=re.I)
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
            # papermill writes the whole notebook (figures included) at every cell's start
            # and end; a notebook in progress is written at most every SAVE_EVERY_S
            # seconds, and always when it ends, failed or not (notebook_complete)
            save = nb_man.save

            def save_now_and_then(**kw):
                if (nb_man.now() - nb_man.last_save_time).total_seconds() >= SAVE_EVERY_S:
                    save(**kw)

            nb_man.save = save_now_and_then
            complete = nb_man.notebook_complete

            def notebook_complete(**kw):
                nb_man.save = save
                return complete(**kw)

            nb_man.notebook_complete = notebook_complete
            if report is not None:
                original = nb_man.cell_start

                def cell_start(cell, cell_index=None, **kw):
                    first = (cell.source or "").strip().splitlines()
                    report(cell_index, len(nb_man.nb.cells), first[0][:70] if first else "")
                    return original(cell, cell_index, **kw)

                nb_man.cell_start = cell_start
            return super().execute_managed_notebook(nb_man, kernel_name, **kwargs)

    papermill_engines.register("workbook", WorkbookEngine)


def execute_job(job: dict, events) -> dict:
    """A worker's entry point: run one notebook job; never raises."""
    _register_engine()
    return _execute(job, events)
