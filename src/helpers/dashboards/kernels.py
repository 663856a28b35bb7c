"""Kernels of the live (Voila) pages, bounded: a cap with a "busy" page above it, and culling.

Only interactive notebooks in ``dashboards/`` take a kernel; the recorded pages never do.
Each kernel holds 110–175 MB, so their number is what bounds the server's memory:

- at most ``max_kernels`` kernels serve visitors at once (preheated ones waiting in the
  pool are not counted); above it a page answers ``503 Service Unavailable`` with
  ``Retry-After`` and one sentence, and starts nothing;
- a kernel no browser ever connected to is shut after ``unconnected_timeout`` (90 s):
  requests that never run the page's JavaScript (scripts, bots, a closed tab) cost
  a kernel for that long only;
- a kernel whose page disconnected (a tab closed without saying so) is shut after
  ``disconnected_timeout`` (30 s); a tab that closes or navigates away normally shuts
  its kernel at once (the page's ``beforeunload`` request);
- a connected kernel idle for ``cull_idle_timeout`` (10 minutes) is shut too;
- ``?template=`` and ``?theme=`` are refused (400) before anything starts, so no address
  goes around the preheated pool.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

from jupyter_core.utils import ensure_async
from jupyter_server.services.kernels.kernelmanager import AsyncMappingKernelManager
from tornado import web
from traitlets import Integer
from voila.tornado.handler import TornadoVoilaHandler

__all__ = ["BoundedKernelManager", "LiveHandler", "visitor_kernels"]

_NOTEBOOK = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}\.ipynb$")
RETRY_AFTER_S = 5


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class BoundedKernelManager(AsyncMappingKernelManager):
    """jupyter-server's kernel manager with a cap and three culling rules (see the module)."""

    max_kernels = Integer(
        4, config=True, help="Kernels serving visitors at once (preheated ones not counted)."
    )
    unconnected_timeout = Integer(
        90, config=True, help="Seconds a kernel no browser connected to may live."
    )
    disconnected_timeout = Integer(
        30, config=True, help="Seconds a kernel may outlive the last page connected to it."
    )

    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        self._ever_connected: set[str] = set()
        self._left_at: dict[str, dt.datetime] = {}
        # when the culler first saw the kernel outside the preheated pool: a pooled kernel
        # handed to a visitor may have been idle for long, its clock starts there
        self._serving_since: dict[str, dt.datetime] = {}
        self._stopping: set[str] = set()  # shutting down: no longer counted against the cap

    def notify_connect(self, kernel_id: str) -> None:
        super().notify_connect(kernel_id)
        self._ever_connected.add(kernel_id)
        self._left_at.pop(kernel_id, None)

    def notify_disconnect(self, kernel_id: str) -> None:
        super().notify_disconnect(kernel_id)
        if self._kernel_connections.get(kernel_id, 0) <= 0:
            self._left_at[kernel_id] = _now()

    async def shutdown_kernel(self, kernel_id: str, *args: Any, **kwargs: Any) -> None:
        self._stopping.add(kernel_id)
        self._ever_connected.discard(kernel_id)
        self._left_at.pop(kernel_id, None)
        self._serving_since.pop(kernel_id, None)
        try:
            return await ensure_async(super().shutdown_kernel(kernel_id, *args, **kwargs))
        finally:
            self._stopping.discard(kernel_id)

    def running_kernels(self) -> int:
        """Kernels not being shut down (the pool's included)."""
        return len([k for k in self.list_kernel_ids() if k not in self._stopping])

    def idle_limit(self, kernel_id: str) -> tuple[float, dt.datetime] | None:
        """(seconds, since when) after which the kernel is culled, by the rules above."""
        kernel = self._kernels.get(kernel_id)
        last = getattr(kernel, "last_activity", None)
        if kernel is None or last is None:
            return None
        last = max(last, self._serving_since.setdefault(kernel_id, _now()))
        if self._kernel_connections.get(kernel_id, 0) > 0:
            return float(self.cull_idle_timeout), last
        if kernel_id not in self._ever_connected:
            return float(self.unconnected_timeout), last
        return float(self.disconnected_timeout), max(last, self._left_at.get(kernel_id, last))

    async def cull_kernel_if_idle(self, kernel_id: str) -> None:
        kernel = self._kernels.get(kernel_id)
        if kernel is None:
            return
        if getattr(kernel, "execution_state", None) == "dead":
            await ensure_async(self.shutdown_kernel(kernel_id))
            return
        limit = self.idle_limit(kernel_id)
        if limit is None:
            return
        seconds, since = limit
        connected = self._kernel_connections.get(kernel_id, 0) > 0
        busy = getattr(kernel, "execution_state", None) == "busy"
        if connected and busy and not self.cull_busy:
            return  # a visitor's question still running
        idle = (_now() - since).total_seconds()
        if idle > seconds:
            self.log.info(
                "Shutting down kernel %s: %s for %.0f s",
                kernel_id,
                "idle" if connected else "not connected",
                idle,
            )
            await ensure_async(self.shutdown_kernel(kernel_id, now=True))


def visitor_kernels(kernel_manager: Any) -> int:
    """Kernels serving visitors: all kernels less those ready in a preheated pool.

    A pool kernel still starting is counted as a visitor's (it may already run): the count
    errs on the side of "busy", so the cap holds while the pool refills.
    """
    counted = getattr(kernel_manager, "running_kernels", None)
    total = counted() if counted else len(kernel_manager.list_kernel_ids())
    pools = getattr(kernel_manager, "_pools", {}) or {}
    ready = sum(
        1
        for pool in pools.values()
        for task in pool
        if task.done() and not task.cancelled() and task.exception() is None
    )
    return max(0, total - ready)


class LiveHandler(TornadoVoilaHandler):
    """Voila's page handler behind three checks, before any kernel is taken or started:
    the notebook exists in the dashboards folder, no ``template``/``theme`` override, and
    fewer than ``max_kernels`` kernels serve visitors (else a 503 "busy" page)."""

    def _page(self, status: int, markup: str, **headers: str) -> None:
        from .render import document

        self.set_status(status)
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.set_header("Cache-Control", "no-store")
        for name, value in headers.items():
            self.set_header(name, value)
        self.finish(document("Product teams", markup))

    @property
    def _base(self) -> str:
        return self.base_url if self.base_url.endswith("/") else self.base_url + "/"

    @web.authenticated
    async def get(self, path: str | None = None) -> None:
        from .render import busy_html, notice_html

        root = Path(self.settings.get("workbook_notebooks_dir") or ".")
        if not path or not _NOTEBOOK.match(path) or not (root / path).is_file():
            self._page(404, notice_html("There is no page at this address.", self._base))
            return
        overrides = [k for k in ("template", "theme") if k in self.request.arguments]
        if overrides:
            self._page(400, notice_html(f"The address may not set `{overrides[0]}`.", self._base))
            return
        cap = getattr(self.kernel_manager, "max_kernels", None)
        if cap is not None and visitor_kernels(self.kernel_manager) >= cap:
            self._page(
                503,
                busy_html(self._base, RETRY_AFTER_S),
                **{"Retry-After": str(RETRY_AFTER_S)},
            )
            return
        await super().get(path)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        from .render import document, notice_html

        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.finish(
            document("Product teams", notice_html("This page could not be shown.", self._base))
        )
