"""Tornado handlers of the server: the recorded pages, unknown addresses, other host names,
and the security headers every response carries."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import tornado.web
from jupyter_server.base.handlers import JupyterHandler
from tornado import web
from tornado.ioloop import IOLoop

from .site import PAGE_CSP, Pages

__all__ = [
    "LIVE_CSP",
    "NotFoundHandler",
    "SECURITY_HEADERS",
    "SecurityHeaders",
    "WrongHostHandler",
    "site_handlers",
]

#: The policy of Voila's live pages: scripts and styles from this server only (Voila's
#: page needs its inline scripts and styles), nothing from elsewhere, not framed.
LIVE_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; "
    "style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; font-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; "
    "frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
}


class SecurityHeaders(tornado.web.OutputTransform):
    """Adds the security headers to every response that lacks them (static files,
    errors, redirects), whichever handler wrote it."""

    def transform_first_chunk(self, status_code, headers, chunk, finishing):
        for name, value in SECURITY_HEADERS.items():
            if name not in headers:
                headers[name] = value
        if "Content-Security-Policy" not in headers:
            headers["Content-Security-Policy"] = LIVE_CSP
        return status_code, headers, chunk


class WrongHostHandler(tornado.web.RequestHandler):
    """Every request whose ``Host`` is not one of the served names: 403, nothing else."""

    def prepare(self) -> None:
        raise tornado.web.HTTPError(403)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        self.set_header("Cache-Control", "no-store")
        self.finish("This server answers only to its own names.\n")


class _PageHandler(JupyterHandler):
    """Serves :class:`Page` objects; authentication and Host checks come from jupyter-server."""

    def initialize(self, pages: Pages, pool: ThreadPoolExecutor) -> None:
        self.pages = pages
        self.pool = pool

    @property
    def content_security_policy(self) -> str:
        return PAGE_CSP

    async def _send(self, fn, *args: Any) -> None:
        page = await IOLoop.current().run_in_executor(self.pool, fn, *args)
        self.set_status(page.status)
        self.set_header("Content-Type", page.content_type)
        if page.content_type.startswith("text/html"):
            self.set_header("Cache-Control", "no-cache")
        for name, value in page.headers.items():
            self.set_header(name, value)
        self.finish(page.body)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """A plain page for any error: one sentence, never a traceback."""
        self.set_header("Content-Type", "text/html; charset=utf-8")
        message = {
            403: "This address is not open to you.",
            404: "There is no page at this address.",
            405: "This address only answers page views.",
        }.get(status_code, "This page could not be shown.")
        self.finish(self.pages.notice(status_code, message).body)


class LandingHandler(_PageHandler):
    @web.authenticated
    async def get(self) -> None:
        await self._send(self.pages.landing)


class TeamHandler(_PageHandler):
    @web.authenticated
    async def get(self, team: str) -> None:
        await self._send(self.pages.team, team, self.request.query)


class SwitchHandler(_PageHandler):
    @web.authenticated
    async def get(self) -> None:
        await self._send(self.pages.switch, self.request.query)


class LegacyHandler(_PageHandler):
    @web.authenticated
    async def get(self, notebook: str = "") -> None:
        await self._send(self.pages.legacy, notebook, self.request.query)


class FileHandler(_PageHandler):
    @web.authenticated
    async def get(self, team: str, run_id: str, kind: str, analysis: str, name: str) -> None:
        await self._send(self.pages.file, team, run_id, kind, analysis, name, self.request.query)


class ExportHandler(_PageHandler):
    """``/team/<team>/export.html``: the team's one-file export (a download)."""

    @web.authenticated
    async def get(self, team: str) -> None:
        await self._send(self.pages.export, team)


class NotFoundHandler(_PageHandler):
    """Any other address on a served name: 404, with a link to the team list."""

    def prepare(self) -> None:
        raise web.HTTPError(404)


def site_handlers(pages: Pages, pool: ThreadPoolExecutor) -> list[tuple]:
    """Tornado rules of the recorded pages, under ``pages.base_url``."""
    base = pages.base_url
    kw = {"pages": pages, "pool": pool}
    part = r"([^/]+)"
    return [
        (base, LandingHandler, kw),
        (base + "index.html", LegacyHandler, kw),
        (base + "team", SwitchHandler, kw),
        (base + "team/" + part, TeamHandler, kw),
        (base + "team/" + part + "/export.html", ExportHandler, kw),
        (base + "files/" + "/".join([part, part, "(figures|tables)", part, part]), FileHandler, kw),
        (base + r"voila/render/(index\.ipynb|team\.ipynb)", LegacyHandler, kw),
        (base + r"voila/?", LegacyHandler, kw),
        (base + r"voila/tree/?", LegacyHandler, kw),
    ]
