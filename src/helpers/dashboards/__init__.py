"""The PM pages: each team's last good runs, read from the run records and shown by Voila.

A page never queries the warehouse: it reads the small snapshot the runner recorded in
``outputs/<team>/latest`` (manifest, plain-words answers, PNG figures, small tables), so
what a PM reads is what the run's HTML export and manifest say. Every value that comes
from a visitor (query string, widget) is checked against the known teams, the analyses
the run recorded and their tables before anything is read; no path is built from
visitor text and nothing outside the outputs folder is ever opened.

Modules: :mod:`.query` (visitor input), :mod:`.snapshot` (reading runs), :mod:`.render`
(HTML), :mod:`.page` (the Voila pages), :mod:`.server` (``workbook serve``).
"""

from __future__ import annotations

from .page import TeamPage, show_landing, show_team_page
from .query import check_analysis, check_table, check_team, parse_query
from .render import landing_html, team_html, warm_up
from .server import DASHBOARDS_DIR, serve, voila_command
from .snapshot import ANALYSIS_TITLES, Analysis, Snapshot, TeamStatus, list_teams, load_snapshot

__all__ = [
    "ANALYSIS_TITLES",
    "DASHBOARDS_DIR",
    "Analysis",
    "Snapshot",
    "TeamPage",
    "TeamStatus",
    "check_analysis",
    "check_table",
    "check_team",
    "landing_html",
    "list_teams",
    "load_snapshot",
    "parse_query",
    "serve",
    "show_landing",
    "show_team_page",
    "team_html",
    "voila_command",
    "warm_up",
]
