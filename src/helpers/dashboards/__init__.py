"""The PM pages: each team's last good runs, read from the run records and served at once.

The team list (``/``) and each team's page (``/team/<team>``) show the small snapshot the
runner recorded in ``outputs/<team>/latest`` (manifest, plain-words answers, PNG figures,
table heads): rendered once per run, served from memory, no kernel and no warehouse
query. Only interactive notebooks in ``dashboards/`` run in Voila kernels, which are
capped and culled. Every value that comes from a visitor (address, query string) is
checked against the known teams, the analyses the run recorded and their tables before
anything is read; no path is built from visitor text and nothing outside the outputs
folder is ever opened.

Modules: :mod:`.query` (visitor input), :mod:`.snapshot` (reading runs), :mod:`.render`
(HTML and CSV), :mod:`.tables` (a table view: sort, filter, CSV and XLSX), :mod:`.digest`
(the Monday digest and the team list's numbers), :mod:`.export` (one-file export per
team), :mod:`.site` (the recorded pages and their cache), :mod:`.kernels` (live pages'
kernels, bounded), :mod:`.app` (the server process), :mod:`.server` (``workbook serve``).
"""

from __future__ import annotations

from .digest import Digest, build_digest, write_digest
from .export import export_html, write_exports
from .query import check_analysis, check_table, check_team, parse_query
from .render import cell_text, column_label, landing_html, table_csv, team_html
from .server import (
    DASHBOARDS_DIR,
    new_token_file,
    read_token_file,
    serve,
    server_command,
    stop_server,
)
from .site import Pages
from .snapshot import (
    ANALYSIS_TITLES,
    CARRIED,
    Analysis,
    Snapshot,
    TeamStatus,
    list_teams,
    load_snapshot,
    served_teams,
)

__all__ = [
    "ANALYSIS_TITLES",
    "CARRIED",
    "DASHBOARDS_DIR",
    "Analysis",
    "Digest",
    "Pages",
    "Snapshot",
    "TeamStatus",
    "build_digest",
    "cell_text",
    "check_analysis",
    "check_table",
    "check_team",
    "column_label",
    "export_html",
    "landing_html",
    "list_teams",
    "load_snapshot",
    "new_token_file",
    "parse_query",
    "read_token_file",
    "serve",
    "served_teams",
    "server_command",
    "stop_server",
    "table_csv",
    "team_html",
    "write_digest",
    "write_exports",
]
