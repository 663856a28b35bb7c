"""The recorded pages, answered without a kernel: the team list at ``/``, ``/team/<team>``,
and the figures and CSV tables of each team's latest run (their handlers: :mod:`.handlers`).

Pages are rendered once per run and kept: the cache key holds the run each team's
``latest`` points at, so a new run is shown as soon as it is linked, and a page already
rendered for the current run is answered from memory. The server renders (reads a run's
answers, figures and table heads) in a small thread pool, never on its loop.
"""

from __future__ import annotations

import datetime as dt
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
    CURRENCY,
    document,
    landing_html,
    notice_html,
    table_csv,
    team_html,
)
from .snapshot import Snapshot, list_teams, load_snapshot, served_teams, state
from .tables import VIEW_KEYS, read_view, table_xlsx

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
        self,
        base_url: str = "/",
        teams: Sequence[str] | None = None,
        max_pages: int = 512,
        *,
        currency: str = CURRENCY,
        stale_days: int | None = None,
    ):
        from .digest import STALE_DAYS

        self.currency = currency
        self.stale_days = STALE_DAYS if stale_days is None else stale_days
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
        """The team list, most urgent team first, with each team's numbers and flags (the
        digest of :mod:`.digest`); rendered again when a run changes or the day does."""
        from .digest import build_digest

        key = ("landing", self.state(), dt.date.today())

        def render() -> Page:
            digest = build_digest(self.teams, stale_days=self.stale_days)
            body = landing_html(list_teams(self.teams), self.base_url, digest)
            return _html(200, "Product teams", body)

        return self._remember(key, render)

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
        view = {k: q[k] for k in VIEW_KEYS if k in q}
        if view and (analysis == ALL or table is None):
            return self.notice(400, "Sorting and filtering need an analysis and a table.")
        latest = tuple(sorted(self._latest().items(), key=lambda kv: kv[0]))
        key = ("team", team, snap.run_id, analysis, table, tuple(sorted(view.items())), latest)

        def render() -> Page:
            teams = list_teams(self.teams)
            body = team_html(
                snap,
                analysis,
                table,
                base_url=self.base_url,
                teams=teams,
                view=view,
                currency=self.currency,
            )
            what = snap.analyses[analysis].title if analysis in snap.analyses else "All analyses"
            return _html(200, f"{snap.title} · {what} · Product teams", body)

        try:
            if "q" in view:  # free text a visitor typed: answered, never kept
                return render()
            return self._remember(key, render)
        except WorkbookError as exc:  # an analysis or table the run did not record
            return self.notice(404, str(exc))

    def export(self, team: str) -> Page:
        """The team's one-file export (``/team/<team>/export.html``): every analysis, figures
        inside the file, no script, nothing loaded from elsewhere; for mail and print."""
        from .export import export_html

        try:
            team = check_team(team, served_teams(self.teams))
        except WorkbookError as exc:
            return self.notice(404, str(exc))
        snap = self.snapshot(team)
        if snap is None:
            return self.notice(404, "This team has no successful run yet.")
        page = self._remember(
            ("export", team, snap.run_id),
            lambda: Page(200, export_html(snap, currency=self.currency).encode("utf-8")),
        )
        name = f"{team}-{snap.as_of or snap.run_id}.html"
        return Page(
            page.status,
            page.body,
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )

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
        rest = {k: v for k, v in q.items() if k in ("analysis", "table")}
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
    def file(
        self, team: str, run_id: str, kind: str, analysis: str, name: str, query: str = ""
    ) -> Page:
        """A figure (PNG) or a table (CSV or XLSX) of the team's current run; 404 for
        anything else.

        A table's download holds what the page shows: with ``sort``, ``order`` and ``q`` in
        the query, the same rows in the same order (:func:`.tables.view_table`). Every part
        is looked up among what the run recorded: no path is built from the address.
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
        stem, _, suffix = name.rpartition(".")
        if kind == "tables" and suffix in ("csv", "xlsx") and stem in a.tables:
            try:
                q = parse_query(query)
            except WorkbookError as exc:
                return self.notice(400, str(exc))
            view = {k: q[k] for k in VIEW_KEYS if k in q}
            if set(q) - set(VIEW_KEYS):
                return self.notice(400, "A download's address takes only sort, order and q.")
            parquet = a.tables[stem]
            recorded = parquet.with_suffix(".csv")
            try:
                if suffix == "csv" and not view:
                    if recorded.is_file() and not recorded.is_symlink():
                        data = recorded.read_bytes()
                    else:
                        data = table_csv(parquet)
                else:
                    shown = read_view(
                        parquet,
                        sort=view.get("sort"),
                        order=view.get("order", "desc"),
                        q=view.get("q"),
                    )
                    data = table_xlsx(shown, stem) if suffix == "xlsx" else table_csv(shown)
            except Exception:  # a table pyarrow cannot write: say so, never a traceback
                return self.notice(404, f"This table cannot be downloaded as {suffix.upper()}.")
            filename = f"{team}-{analysis}-{name}"
            content = (
                "text/csv; charset=utf-8"
                if suffix == "csv"
                else "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
            )
            return Page(
                200,
                data,
                content,
                {
                    "Cache-Control": "no-cache" if view else _IMMUTABLE,
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
