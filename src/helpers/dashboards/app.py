"""The dashboards' server process: recorded pages without a kernel, Voila for live pages.

One tornado server (Voila's stand-alone application, so none of jupyter-server's APIs
that start kernels or run code are served) with:

- the recorded pages of :mod:`.site` at ``/`` (the team list), ``/team/<team>`` and
  ``/files/…``; Voila's own pages (``/voila/render/<notebook>.ipynb``) only for the
  interactive notebooks in ``dashboards/``, behind :class:`.kernels.LiveHandler`;
- every request routed by its ``Host`` header: only loopback addresses, ``localhost``,
  the bound address and the configured ``server_names`` are answered; any other name
  gets 403 (a web page cannot reach the dashboards through DNS rebinding);
- ``Content-Security-Policy``, ``Referrer-Policy: no-referrer`` and
  ``X-Content-Type-Options: nosniff`` on every response;
- the token read from the environment (``WORKBOOK_DASHBOARD_TOKEN``, put there by
  :func:`helpers.dashboards.serve` from a 0600 file or its own environment) and removed
  from it before any kernel starts; never from the command line;
- SIGINT and SIGTERM shut every kernel down before the process exits.

Run by :func:`helpers.dashboards.serve` as ``python -m helpers.dashboards.app``.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import socket
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor

import tornado.web
from jupyter_core.utils import ensure_async
from tornado.ioloop import IOLoop
from traitlets import Integer, List, Unicode
from voila.app import Voila
from voila.static_file_handler import AllowListFileHandler
from voila.tornado.contentshandler import VoilaContentsHandler
from voila.tornado.handler import TornadoVoilaHandler
from voila.tornado.treehandler import TornadoVoilaTreeHandler

from .handlers import (
    LIVE_CSP,
    SECURITY_HEADERS,
    NotFoundHandler,
    SecurityHeaders,
    WrongHostHandler,
    site_handlers,
)
from .kernels import LiveHandler
from .server import TOKEN_ENV, is_loopback
from .site import Pages

__all__ = ["DashboardApp", "host_pattern", "main"]


def host_pattern(ip: str, server_names: list[str]) -> str:
    """The ``Host`` names (without port) the server answers to, as one regular expression.

    Loopback addresses and ``localhost`` always; the bound address; every configured
    server name; and, when bound to every interface (``0.0.0.0``/``::``), the machine's
    host names and any address literal (an address typed in the browser cannot be
    a rebinding attacker's name).
    """
    names = {"localhost", "127(?:\\.\\d{1,3}){3}", "\\[::1\\]", "::1"}
    wildcard = ip in ("", "0.0.0.0", "::")
    if not wildcard:
        names.add(re.escape(ip.lower()))
        names.add(re.escape(f"[{ip.lower()}]"))
    else:
        for name in (socket.gethostname(), socket.getfqdn()):
            if name:
                names.add(re.escape(name.lower()))
        names.add("\\d{1,3}(?:\\.\\d{1,3}){3}")
        names.add("\\[[0-9a-f:.]+\\]")
    for name in server_names:
        names.add(re.escape(name.lower()))
    return "(?:" + "|".join(sorted(names)) + ")"


class DashboardApp(Voila):
    """Voila's stand-alone server with the workbook's recorded pages and safeguards."""

    name = "workbook-dashboards"
    server_names = List(
        Unicode(),
        config=True,
        help="Host names visitors use besides loopback (a reverse proxy's public name).",
    )
    notebooks_folder = Unicode("", config=True, help="Folder of the live notebooks.")
    currency = Unicode("$", config=True, help="The sign of money columns on the pages.")
    stale_days = Integer(8, config=True, help="Days after which a team's results are stale.")

    def initialize(self, argv=None):
        super().initialize(argv)
        # the token comes from the environment only, and no kernel inherits it
        self.token = os.environ.pop(TOKEN_ENV, None) or None
        self._stopping = False

    def init_handlers(self) -> list:
        """Voila's handlers less its file list, contents API and file server; its page
        handler replaced by the bounded :class:`LiveHandler`."""
        dropped = (TornadoVoilaTreeHandler, VoilaContentsHandler, AllowListFileHandler)
        out = []
        for rule in super().init_handlers():
            handler = rule[1]
            if handler in dropped:
                continue
            if handler is TornadoVoilaHandler:
                rule = (rule[0], LiveHandler, *rule[2:])
            out.append(rule)
        return out

    def start(self):
        self.connection_dir = tempfile.mkdtemp(prefix="voila_", dir=self.connection_dir_root)
        settings = self.init_settings()
        loopback = is_loopback(self.ip or "127.0.0.1")
        settings.update(
            # the router below answers only the served names; jupyter-server's own check
            # (loopback addresses and `local_hostnames`) is kept on as well for loopback
            allow_remote_access=not loopback,
            local_hostnames=["localhost", *self.server_names],
            headers={"Content-Security-Policy": LIVE_CSP, **SECURITY_HEADERS},
            workbook_notebooks_dir=self.notebooks_folder or self.root_dir,
            serve_traceback=False,
        )
        self.app = tornado.web.Application(**settings)
        self.app.transforms.insert(0, SecurityHeaders)
        self.app.settings.update(self.tornado_settings)
        self.pages = Pages(self.base_url, currency=self.currency, stale_days=self.stale_days)
        pool = ThreadPoolExecutor(2, thread_name_prefix="pages")
        handlers = [
            *site_handlers(self.pages, pool),
            *self.init_handlers(),
            (r".*", NotFoundHandler, {"pages": self.pages, "pool": pool}),
        ]
        self.app.add_handlers(host_pattern(self.ip or "", self.server_names), handlers)
        self.app.add_handlers(r".*", [(r".*", WrongHostHandler)])
        try:
            self.http_server = self.app.listen(self.port, self.ip)
        except OSError as exc:
            self.log.critical("The dashboards cannot listen on %s:%s: %s", self.ip, self.port, exc)
            shutil.rmtree(self.connection_dir, ignore_errors=True)
            self.exit(1)
        self.ioloop = IOLoop.current()
        loop = asyncio.get_event_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, lambda: asyncio.ensure_future(self._shutdown()))
        threading.Thread(target=self.pages.warm, name="warm-pages", daemon=True).start()
        self.log.info("The dashboards are served on %s:%s", self.ip, self.port)
        try:
            self.ioloop.start()
        finally:
            self.stop()

    async def _shutdown(self) -> None:
        """Stop taking requests, shut every kernel down, then stop the loop."""
        if self._stopping:
            return
        self._stopping = True
        self.log.info("Stopping: shutting every kernel down")
        self.http_server.stop()
        try:
            await asyncio.wait_for(ensure_async(self.kernel_manager.shutdown_all(now=True)), 15)
        except Exception as exc:  # the parent process kills what is left
            self.log.warning("Some kernels did not stop: %s", exc)
        self.ioloop.stop()

    def stop(self):
        try:
            if self.kernel_manager.list_kernel_ids():
                IOLoop.current().run_sync(
                    lambda: ensure_async(self.kernel_manager.shutdown_all(now=True)), timeout=10
                )
        except Exception:
            pass
        shutil.rmtree(self.connection_dir, ignore_errors=True)


def main(argv=None) -> None:
    DashboardApp.launch_instance(argv)


if __name__ == "__main__":
    main()
