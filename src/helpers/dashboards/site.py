"""The recorded pages, answered without a kernel: the team list at ``/``, ``/team/<team>``,
and the figures and CSV tables of each team's latest run (their handlers: :mod:`.handlers`).

Pages are rendered once per run and kept: the cache key holds the run each team's
``latest`` points at, so a new run is shown as soon as it is linked, and a page already
rendered for the current run is answered from memory. The server renders (reads a run's
answers, figures and table heads) in a small thread pool, never on its loop.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from urllib.parse import quote, urlencode

from ..errors import WorkbookError
from .query import ALL, check_team, parse_query
from .render import (
    CSS_HASH,
    document,
    landing_html,
    notice_html,
    table_csv,
    team_html,
)
from .snapshot import Snapshot, list_teams, load_snapshot, served_teams, state

__all__ = ["PAGE_CSP", "Page", "Pages"]

#: The Content-Security-Policy of the recorded pages: no script at all, images and the one
#: inline stylesheet (by hash) from this server only, not framed, forms only to this server.
PAGE_CSP = (
    "default-src 'none'; img-src 'self' data:; "
    f"style-src '{CSS_HASH}'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
_IMMUTABLE = "private, max-age=31536000, immutable"


@dataclass(frozen=True)
class Page:
    """One answer of the site: status, body and headers."""

    status: int
    body: bytes
    content_type: str = "text/html; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)


def _html(status: int, title: str, body: str) -> Page:
    return Page(status, document(title, body).encode("utf-8"))


class Pages:
    """Every recorded page, rendered on first view and kept while its runs are current.

    Parameters
    ----------
    base_url
        The server's URL prefix (links and figure addresses start with it).
    teams
        The teams to serve (default: every ``params/<team>.yaml`` with a valid name).
    max_pages
        Pages kept in memory (least recently used go first).
    """

    def __init__(
        self, base_url: str = "/", teams: Sequence[str] | None = None, max_pages: int = 512
    ):
        self.base_url = base_url if base_url.endswith("/") else base_url + "/"
        self.teams = list(teams) if teams is not None else None
        self.max_pages = max_pages
        self._pages: OrderedDict[tuple, Page] = OrderedDict()
        self._snapshots: dict[tuple[str, str], Snapshot] = {}
        self._lock = threading.Lock()
        self._state: tuple[float, tuple] = (0.0, ())

    # ----------------------------------------------------------------- what is current
    def state(self) -> tuple:
        """Each served team with its latest run and newest attempt; read at most once a second."""
        now = time.monotonic()
        with self._lock:
            stamp, value = self._state
            if now - stamp < 1.0:
                return value
        value = state(self.teams)
        with self._lock:
            self._state = (now, value)
        return value

    def _latest(self) -> dict[str, str | None]:
        return {team: run_id for team, run_id, _ in self.state()}

    def _remember(self, key: tuple, render) -> Page:
        with self._lock:
            page = self._pages.get(key)
            if page is not None:
                self._pages.move_to_end(key)
                return page
        page = render()
        with self._lock:
            self._pages[key] = page
            while len(self._pages) > self.max_pages:
                self._pages.popitem(last=False)
        return page

    def snapshot(self, team: str) -> Snapshot | None:
        """The team's snapshot for its current ``latest`` (kept per run id)."""
        run_id = self._latest().get(team)
        if run_id is None:
            return None
        with self._lock:
            snap = self._snapshots.get((team, run_id))
        if snap is None:
            snap = load_snapshot(team, teams=self.teams)
            if snap is None:
                return None
            with self._lock:
                for key in [k for k in self._snapshots if k[0] == team]:
                    del self._snapshots[key]
                self._snapshots[(team, run_id)] = snap
        return snap

    # ----------------------------------------------------------------- pages
    def landing(self) -> Page:
        """The team list."""
        key = ("landing", self.state())
        return self._remember(
            key,
            lambda: _html(
                200, "Product teams", landing_html(list_teams(self.teams), self.base_url)
            ),
        )

    def team(self, team: str, query: str = "") -> Page:
        """A team page for ``/team/<team>?<query>``; 404 for an unknown team, 400 for a bad query."""
        try:
            team = check_team(team, served_teams(self.teams))
        except WorkbookError as exc:
            return self.notice(404, str(exc))
        try:
            q = parse_query(query)
            if "team" in q:
                raise WorkbookError("The team is part of the address: /team/<team>")
        except WorkbookError as exc:
            return self.notice(400, str(exc))
        snap = self.snapshot(team)
        if snap is None:
            return self.notice(200, "This team has no successful run yet.")
        analysis, table = q.get("analysis", ALL), q.get("table")
        latest = tuple(sorted(self._latest().items(), key=lambda kv: kv[0]))
        key = ("team", team, snap.run_id, analysis, table, latest)

        def render() -> Page:
            teams = list_teams(self.teams)
            body = team_html(snap, analysis, table, base_url=self.base_url, teams=teams)
            return _html(200, snap.title, body)

        try:
            return self._remember(key, render)
        except WorkbookError as exc:  # an analysis or table the run did not record
            return self.notice(404, str(exc))

    def notice(self, status: int, message: str) -> Page:
        """A page of one plain sentence (never kept: visitors choose what it says)."""
        return _html(status, "Product teams", notice_html(message, self.base_url))

    def switch(self, query: str) -> Page:
        """``/team?team=<team>`` (the team picker's form): a redirect to the team's page."""
        try:
            q = parse_query(query)
            team = check_team(q.get("team"), served_teams(self.teams))
        except WorkbookError as exc:
            return self.notice(400, str(exc))
        rest = {k: v for k, v in q.items() if k != "team"}
        return self.redirect(
            "team/" + quote(team, safe="") + ("?" + urlencode(rest) if rest else "")
        )

    def redirect(self, where: str, status: int = 302) -> Page:
        return Page(status, b"", headers={"Location": self.base_url + where})

    def legacy(self, notebook: str, query: str) -> Page:
        """The Voila addresses of earlier versions (``voila/render/team.ipynb?team=…``)."""
        if notebook == "team.ipynb":
            try:
                q = parse_query(query)
            except WorkbookError as exc:
                return self.notice(400, str(exc))
            if "team" in q:
                return self.switch(query)
        return self.redirect("", 301)

    # ----------------------------------------------------------------- files
    def file(self, team: str, run_id: str, kind: str, analysis: str, name: str) -> Page:
        """A figure (PNG) or a table (CSV) of the team's current run; 404 for anything else.

        Every part is looked up among what the run recorded: no path is built from the
        address.
        """
        missing = self.notice(404, "There is no such file in this team's latest run.")
        if team not in served_teams(self.teams):
            return missing
        snap = self.snapshot(team)
        if snap is None or snap.run_id != run_id or analysis not in snap.analyses:
            return missing
        a = snap.analyses[analysis]
        if kind == "figures" and name.endswith(".png") and name[:-4] in a.figures:
            try:
                data = a.figures[name[:-4]].read_bytes()
            except OSError:
                return missing
            return Page(200, data, "image/png", {"Cache-Control": _IMMUTABLE})
        if kind == "tables" and name.endswith(".csv") and name[:-4] in a.tables:
            parquet = a.tables[name[:-4]]
            recorded = parquet.with_suffix(".csv")
            try:
                if recorded.is_file() and not recorded.is_symlink():
                    data = recorded.read_bytes()
                else:
                    data = table_csv(parquet)
            except Exception:  # a table pyarrow cannot write as CSV: say so, never a traceback
                return self.notice(404, "This table cannot be downloaded as CSV.")
            filename = f"{team}-{analysis}-{name}"
            return Page(
                200,
                data,
                "text/csv; charset=utf-8",
                {
                    "Cache-Control": _IMMUTABLE,
                    "Content-Disposition": f'attachment; filename="{filename}"',
                },
            )
        return missing

    # ----------------------------------------------------------------- warming
    def warm(self) -> None:
        """Render the team list and each team's page before anyone asks (run in a thread)."""
        try:
            self.landing()
            for team in served_teams(self.teams):
                self.team(team)
        except Exception:  # warming is an optimisation; a visitor's view reports problems
            pass
