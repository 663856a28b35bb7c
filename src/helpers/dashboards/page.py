"""The Voila pages: the landing page and the team page with its pickers."""

from __future__ import annotations

import os
from collections.abc import Sequence

from ..errors import WorkbookError
from ..params import known_teams
from .query import ALL, check_analysis, check_table, check_team, parse_query
from .render import _label, _notice, landing_html, team_html
from .snapshot import Snapshot, list_teams, load_snapshot

__all__ = ["TeamPage", "show_landing", "show_team_page"]


def _display_html(markup: str) -> None:
    from IPython.display import HTML, display

    display(HTML(markup))


def show_landing() -> None:
    """Display the landing page (the ``index.ipynb`` dashboard's only call)."""
    try:
        markup = landing_html(list_teams())
    except WorkbookError as exc:
        markup = _notice(str(exc))
    except Exception as exc:  # a page shows a plain line, never a traceback
        markup = _notice(f"The team list could not be read ({exc.__class__.__name__}).")
    _display_html(markup)


class TeamPage:
    """The team page: team, analysis and table pickers above the recorded results.

    The first view is plain HTML (visible before the widgets load); a switch replaces
    it by the widget-rendered view. Every widget value is checked again on change.
    """

    def __init__(
        self,
        snapshot: Snapshot,
        teams: Sequence[str],
        analysis: str = ALL,
        table: str | None = None,
    ):
        self.teams = list(teams)
        self.snapshot = snapshot
        self.analysis = check_analysis(snapshot, analysis)
        self.table = check_table(snapshot, self.analysis, table) if table else None
        self._widgets = None

    def _controls(self):
        import ipywidgets as w

        team = w.Dropdown(
            options=[(s.title, s.team) for s in list_teams(self.teams)],
            value=self.snapshot.team,
            description="Team",
        )
        analysis = w.Dropdown(description="Analysis")
        table = w.Dropdown(description="Table")
        view = w.HTML(value="")
        self._widgets = {"team": team, "analysis": analysis, "table": table, "view": view}
        self._sync_options()
        team.observe(self._on_team, names="value")
        analysis.observe(self._on_analysis, names="value")
        table.observe(self._on_table, names="value")
        box = w.HBox([team, analysis, table], layout=w.Layout(flex_flow="row wrap"))
        box.add_class("wb-controls")
        view.add_class("wb-view")
        return box, view

    def _sync_options(self) -> None:
        ws = self._widgets
        s = self.snapshot
        ws["analysis"].options = [("All analyses", ALL)] + [
            (a.title, a.name) for a in s.analyses.values()
        ]
        ws["analysis"].value = self.analysis
        tables = [] if self.analysis == ALL else list(s.analyses[self.analysis].tables)
        ws["table"].options = [(_label(t), t) for t in tables]
        ws["table"].value = self.table if self.table in tables else (tables[0] if tables else None)
        ws["table"].disabled = not tables

    def _render(self, markup: str) -> None:
        # hide the first, static view once a widget has taken over
        self._widgets["view"].value = "<style>.wb-initial{display:none}</style>" + markup

    def _guard(self, fn) -> None:
        try:
            fn()
        except WorkbookError as exc:
            self._render(_notice(str(exc)))
        except Exception as exc:  # a page shows a plain line, never a traceback
            self._render(_notice(f"This view could not be shown ({exc.__class__.__name__})."))

    def _on_team(self, change) -> None:
        def go():
            snap = load_snapshot(check_team(change["new"], self.teams), teams=self.teams)
            if snap is None:
                self._render(_notice("This team has no successful run yet."))
                return
            self.snapshot, self.analysis, self.table = snap, ALL, None
            self._sync_options()
            self._render(team_html(snap))

        self._guard(go)

    def _on_analysis(self, change) -> None:
        def go():
            new = check_analysis(self.snapshot, change["new"])
            if new == self.analysis:
                return
            self.analysis, self.table = new, None
            self._sync_options()
            self._render(team_html(self.snapshot, new))

        self._guard(go)

    def _on_table(self, change) -> None:
        def go():
            if change["new"] is None or self.analysis == ALL or change["new"] == self.table:
                return
            self.table = check_table(self.snapshot, self.analysis, change["new"])
            self._render(team_html(self.snapshot, self.analysis, self.table))

        self._guard(go)

    def show(self) -> None:
        """Display the pickers, then the first view as plain HTML."""
        from IPython.display import display

        first = team_html(self.snapshot, self.analysis, self.table)
        box, view = self._controls()
        display(box)
        _display_html(f'<div class="wb-initial">{first}</div>')
        display(view)


def show_team_page(query: str | None = None, teams: Sequence[str] | None = None) -> None:
    """Display a team page for the query string (the ``team.ipynb`` dashboard's only call).

    Any problem (unknown team, bad value, no run yet) becomes one plain line on the page.
    """
    if query is None:
        query = os.environ.get("QUERY_STRING", "")
    try:
        teams = list(teams) if teams is not None else known_teams()
        q = parse_query(query)
        if "team" not in q:
            _display_html(landing_html(list_teams(teams)))
            return
        snap = load_snapshot(q["team"], teams=teams)
        if snap is None:
            _display_html(_notice("This team has no successful run yet."))
            return
        TeamPage(snap, teams, q.get("analysis", ALL), q.get("table")).show()
    except WorkbookError as exc:
        _display_html(_notice(str(exc)))
    except Exception as exc:  # a page shows a plain line, never a traceback
        _display_html(_notice(f"This page could not be shown ({exc.__class__.__name__})."))
