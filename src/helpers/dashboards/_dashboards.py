"""PM dashboards: read each team's last successful run and show it through Voila, safely.

A page never queries the warehouse: it reads the small snapshot the runner recorded in
``outputs/<team>/latest`` (manifest, plain-words answers, PNG figures, small tables), so
what a PM reads is what the run's HTML export and manifest say. Every value that comes
from a visitor (query string, widget) is checked against the known teams, the analyses
the run recorded and their tables before anything is read; no path is built from
visitor text and nothing outside the outputs folder is ever opened.
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import ipaddress
import json
import os
import re
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote

from .. import paths
from ..errors import WorkbookError, check_choice
from ..params import NOTEBOOKS, known_teams, load_team

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

#: The Voila notebooks (landing page ``index.ipynb`` and team page ``team.ipynb``).
DASHBOARDS_DIR = paths.dashboards_dir()

#: What a PM reads as the heading of each analysis.
ANALYSIS_TITLES = {
    "customer_segmentation": "Customer segments",
    "feature_demand": "Feature demand",
    "metric_trends": "Metric trends",
}

#: Query-string keys a page understands; ``token`` belongs to the server's login.
QUERY_KEYS = ("team", "analysis", "table")
_IGNORED_KEYS = ("token",)
MAX_QUERY = 512
MAX_VALUE = 64
ALL = "all"

_VALUE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_FILE_NAME = re.compile(r"^[a-z0-9][a-z0-9_]{0,63}$")
_RUN_ID = re.compile(r"^[0-9A-Za-z][0-9A-Za-z_.:+-]{0,79}$")
_MAX_MANIFEST = 2_000_000
_MAX_ANSWER = 1_000_000
_MAX_FIGURE = 8_000_000
_MAX_TABLE = 50_000_000
_ROWS_OVERVIEW = 10
_ROWS_DETAIL = 200


# --------------------------------------------------------------------------- validation


def _check_text(key: str, value: Any) -> str:
    """A visitor's value: short, ASCII, lower-case name characters (before any lookup)."""
    if not isinstance(value, str):
        raise WorkbookError(f"The value for `{key}` must be text")
    if len(value) > MAX_VALUE:
        raise WorkbookError(f"The value for `{key}` is too long (at most {MAX_VALUE} characters)")
    if not value.isascii() or not value.isprintable():
        raise WorkbookError(f"The value for `{key}` must use plain ASCII letters and digits")
    if not _VALUE.match(value):
        raise WorkbookError(
            f"The value for `{key}` must be lower-case letters, digits, '-' or '_', not {value!r}"
        )
    return value


def parse_query(query: str | None) -> dict[str, str]:
    """Split a page's query string into its known keys, each checked for shape.

    Parameters
    ----------
    query
        The raw query string (``QUERY_STRING`` as Voila passes it), without ``?``.

    Returns
    -------
    dict
        ``{"team": ..., "analysis": ..., "table": ...}`` for the keys present. The values
        have the shape of a name; whether they name something real is checked by
        :func:`check_team`, :func:`check_analysis` and :func:`check_table`.

    Raises
    ------
    WorkbookError
        For an overlong query string, an unknown or repeated key, or a value that is
        not a short lower-case ASCII name (so ``../``, ``%2e%2e`` and the like never pass).
    """
    query = query or ""
    if len(query) > MAX_QUERY:
        raise WorkbookError(f"The address is too long (at most {MAX_QUERY} characters after '?')")
    try:
        pairs = parse_qsl(query, keep_blank_values=True, max_num_fields=8, errors="strict")
    except (ValueError, UnicodeDecodeError):
        raise WorkbookError("The address has a malformed query string") from None
    out: dict[str, str] = {}
    for key, value in pairs:
        if key in _IGNORED_KEYS:
            continue
        if key not in QUERY_KEYS:
            shown = key if key.isascii() and len(key) <= MAX_VALUE else "(unreadable)"
            raise WorkbookError(
                f"The address has an unknown key {shown!r}; known keys: {', '.join(QUERY_KEYS)}"
            )
        if key in out:
            raise WorkbookError(f"The address gives `{key}` more than once")
        out[key] = _check_text(key, value)
    return out


def check_team(value: Any, teams: Sequence[str] | None = None) -> str:
    """``value`` if it names a known team (``params/<team>.yaml``), else a `WorkbookError`."""
    value = _check_text("team", value)
    return check_choice("team", value, list(teams) if teams is not None else known_teams())


def check_analysis(snapshot: Snapshot, value: Any) -> str:
    """``value`` if it is ``"all"`` or an analysis the snapshot's run recorded."""
    value = _check_text("analysis", value)
    return check_choice("analysis", value, [ALL, *snapshot.analyses])


def check_table(snapshot: Snapshot, analysis: str, value: Any) -> str:
    """``value`` if it is a table that ``analysis`` recorded in the snapshot's run."""
    analysis = check_analysis(snapshot, analysis)
    value = _check_text("table", value)
    options = [] if analysis == ALL else list(snapshot.analyses[analysis].tables)
    return check_choice("table", value, options)


# --------------------------------------------------------------------------- snapshots


@dataclass(frozen=True)
class Analysis:
    """One notebook's recorded results in a run."""

    name: str
    status: str
    answer: list[str]
    facts: dict[str, Any]
    figures: dict[str, Path]
    tables: dict[str, Path]
    error: str | None = None

    @property
    def title(self) -> str:
        return ANALYSIS_TITLES.get(self.name, self.name.replace("_", " ").capitalize())


@dataclass(frozen=True)
class Snapshot:
    """A team's last fully successful run, as recorded (nothing recomputed)."""

    team: str
    title: str
    run_id: str
    as_of: str | None
    finished_at: str | None
    status: str
    analyses: dict[str, Analysis] = field(default_factory=dict)
    manifest: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> str:
        """One line a PM reads under the title: as of which day, run when."""
        return f"As of {self.as_of or 'an unknown date'}, run {_when(self.finished_at)}"


@dataclass(frozen=True)
class TeamStatus:
    """A team's row on the landing page."""

    team: str
    title: str
    latest_run_id: str | None
    as_of: str | None
    finished_at: str | None
    last_attempt_status: str | None
    last_attempt_run_id: str | None

    def summary(self) -> str:
        """The team's line in words."""
        if self.latest_run_id is None:
            tail = f"; last attempt {self.last_attempt_status}" if self.last_attempt_status else ""
            return f"{self.title}: no successful run yet{tail}."
        line = f"{self.title}: as of {self.as_of}, run {_when(self.finished_at)}"
        if self.last_attempt_run_id and self.last_attempt_run_id != self.latest_run_id:
            line += f"; a newer attempt is {self.last_attempt_status}"
        return line + "."


def _when(stamp: str | None) -> str:
    """``2026-10-31T01:30:02+00:00`` → ``2026-10-31 01:30 UTC``."""
    if not stamp:
        return "at an unknown time"
    try:
        t = dt.datetime.fromisoformat(str(stamp))
    except ValueError:
        return "at an unknown time"
    if t.tzinfo is None:
        return f"{t:%Y-%m-%d %H:%M}"
    return f"{t.astimezone(dt.UTC):%Y-%m-%d %H:%M} UTC"


def _inside(path: Path, folder: Path) -> bool:
    """Whether ``path`` (symlinks resolved) lies in ``folder``."""
    try:
        return path.resolve(strict=True).is_relative_to(folder.resolve(strict=True))
    except OSError:
        return False


def _team_dir(team: str) -> Path:
    """The team's outputs folder; ``team`` must already be a checked team name."""
    return paths.outputs_dir() / team


def _run_dir(team: str, link: str = "latest") -> Path | None:
    """The run folder that ``outputs/<team>/<link>`` points at, if it is a real run folder."""
    runs = _team_dir(team) / "runs"
    pointer = _team_dir(team) / link
    if not pointer.exists() or not runs.is_dir():
        return None
    target = pointer.resolve()
    if target.parent != runs.resolve() or not _RUN_ID.match(target.name) or not target.is_dir():
        return None
    if not _inside(target, paths.outputs_dir()):  # a team folder linked from elsewhere
        return None
    return target


def _read_json(path: Path, folder: Path, limit: int) -> dict[str, Any] | None:
    """A JSON object from a file inside ``folder``, or None when absent, too big or broken."""
    if not path.is_file() or not _inside(path, folder) or path.stat().st_size > limit:
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _files(folder: Path, run: Path, suffix: str, limit: int) -> dict[str, Path]:
    """Recorded files of one kind, by name, sorted; names and places checked."""
    if not folder.is_dir() or not _inside(folder, run):
        return {}
    found = {}
    for p in sorted(folder.iterdir()):
        if (
            p.suffix == suffix
            and _FILE_NAME.match(p.stem)
            and p.is_file()
            and _inside(p, run)
            and p.stat().st_size <= limit
        ):
            found[p.stem] = p
    return found


def _team_title(team: str) -> str:
    try:
        return load_team(team).title or team
    except WorkbookError:
        return team


def _read_manifest(run: Path) -> dict[str, Any] | None:
    return _read_json(run / "manifest.json", run, _MAX_MANIFEST)


def load_snapshot(team: str, *, teams: Sequence[str] | None = None) -> Snapshot | None:
    """A team's snapshot from ``outputs/<team>/latest``, or None if it has no successful run.

    Parameters
    ----------
    team
        A team name; checked against the known teams before any file is touched.
    teams
        The known teams (default: :func:`helpers.params.known_teams`).

    Raises
    ------
    WorkbookError
        When ``team`` is not a known team.
    """
    team = check_team(team, teams)
    run = _run_dir(team, "latest")
    manifest = _read_manifest(run) if run else None
    if run is None or manifest is None or manifest.get("status") != "succeeded":
        return None
    entries = manifest.get("notebooks")
    if not isinstance(entries, list):
        entries = []
    by_name = {e.get("notebook"): e for e in entries if isinstance(e, dict)}
    analyses = {}
    for name in NOTEBOOKS:  # names come from the code, never from the run or a visitor
        entry = by_name.get(name)
        answer = _read_json(run / "answers" / f"{name}.json", run, _MAX_ANSWER)
        if entry is None and answer is None:
            continue
        sentences = answer.get("answer", []) if answer else []
        if isinstance(sentences, str):
            sentences = [sentences]
        facts = answer.get("facts", {}) if answer else {}
        analyses[name] = Analysis(
            name=name,
            status=str((entry or {}).get("status", "succeeded")),
            answer=[str(s) for s in sentences] if isinstance(sentences, list) else [],
            facts=facts if isinstance(facts, dict) else {},
            figures=_files(run / "figures" / name, run, ".png", _MAX_FIGURE),
            tables=_files(run / "tables" / name, run, ".parquet", _MAX_TABLE),
            error=(entry or {}).get("error"),
        )
    return Snapshot(
        team=team,
        title=str(manifest.get("title") or _team_title(team)),
        run_id=str(manifest.get("run_id") or run.name),
        as_of=manifest.get("as_of"),
        finished_at=manifest.get("finished_at"),
        status="succeeded",
        analyses=analyses,
        manifest=manifest,
    )


def _last_attempt(team: str) -> tuple[str | None, str | None]:
    """(run_id, status) of the most recent run folder, whatever its outcome."""
    runs = _team_dir(team) / "runs"
    if not runs.is_dir():
        return None, None
    names = sorted(p.name for p in runs.iterdir() if _RUN_ID.match(p.name) and p.is_dir())
    if not names:
        return None, None
    manifest = _read_manifest(runs / names[-1])
    status = str(manifest.get("status", "unknown")) if manifest else "unknown"
    return names[-1], status


def list_teams(teams: Sequence[str] | None = None) -> list[TeamStatus]:
    """Every known team with its last successful run and its most recent attempt."""
    rows = []
    for team in teams if teams is not None else known_teams():
        team = check_team(team, teams)
        run = _run_dir(team, "latest")
        manifest = _read_manifest(run) if run else None
        ok = manifest is not None and manifest.get("status") == "succeeded"
        attempt_id, attempt_status = _last_attempt(team)
        rows.append(
            TeamStatus(
                team=team,
                title=str((manifest or {}).get("title") or _team_title(team)),
                latest_run_id=str(manifest.get("run_id") or run.name) if ok else None,
                as_of=manifest.get("as_of") if ok else None,
                finished_at=manifest.get("finished_at") if ok else None,
                last_attempt_status=attempt_status,
                last_attempt_run_id=attempt_id,
            )
        )
    return rows


# --------------------------------------------------------------------------- HTML

_CSS = """<style>
.wb-page{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;max-width:1100px;color:#222}
.wb-page h1{font-size:1.6em;margin:.2em 0}
.wb-meta{color:#555;margin:.2em 0 1em}
.wb-answers{background:#f4f7fb;border-left:4px solid #3b6ea5;padding:.6em 1em;margin:1em 0}
.wb-answers h3{margin:.3em 0;font-size:1.05em}
.wb-answers ul{margin:.2em 0 .6em 1.2em;padding:0}
.wb-chart{max-width:100%;height:auto;display:block;margin:.5em 0}
.wb-table table{border-collapse:collapse;font-size:.85em;margin:.4em 0 1em}
.wb-table th,.wb-table td{border-bottom:1px solid #ddd;padding:.2em .6em;text-align:right}
.wb-notice{background:#fff6e5;border-left:4px solid #d48a00;padding:.6em 1em}
.wb-teams td,.wb-teams th{padding:.35em .9em;border-bottom:1px solid #ddd;text-align:left}
.wb-status-succeeded{color:#1d7a35}.wb-status-failed{color:#b3261e}
</style>"""

_e = html.escape


def _team_link(team: str) -> str:
    return "team.ipynb?team=" + quote(team, safe="")


def landing_html(rows: Sequence[TeamStatus]) -> str:
    """The landing page: every team, its last successful run and the latest attempt's status."""
    body = []
    for r in rows:
        status = r.last_attempt_status or "no run yet"
        cls = re.sub(r"[^a-z]", "", status)
        when = f"{_e(r.as_of)} (run {_e(_when(r.finished_at))})" if r.latest_run_id else "—"
        body.append(
            f'<tr><td><a class="wb-team-link" href="{_e(_team_link(r.team))}">{_e(r.title)}</a>'
            f"</td><td>{when}</td>"
            f'<td class="wb-status-{cls}">{_e(status)}</td></tr>'
        )
    if not body:
        body.append('<tr><td colspan="3">No teams yet: add a params/&lt;team&gt;.yaml.</td></tr>')
    return (
        f'{_CSS}<div class="wb-page"><h1>Product teams</h1>'
        '<p class="wb-meta">Each page shows the numbers of the team\'s last successful '
        "scheduled run.</p>"
        '<table class="wb-teams"><thead><tr><th>Team</th><th>Results as of</th>'
        f"<th>Latest attempt</th></tr></thead><tbody>{''.join(body)}</tbody></table></div>"
    )


def _png(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode("ascii")


def _cell(value: Any) -> str:
    """One table cell as a PM reads it."""
    if value is None or (isinstance(value, float) and value != value):
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return f"{int(value):,}"
        return f"{value:,.1f}" if abs(value) >= 100 else f"{value:.3g}"
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return str(value)


def _table_html(path: Path, rows: int) -> str:
    """The first ``rows`` rows of a recorded Parquet table (pyarrow only: no pandas in pages)."""
    import pyarrow.parquet as pq

    try:
        file = pq.ParquetFile(path)
        total = file.metadata.num_rows
        cols = file.schema_arrow.names
        batch = next(file.iter_batches(batch_size=rows), None)
    except (OSError, ValueError) as exc:
        return f"<p>This table could not be read ({_e(exc.__class__.__name__)}).</p>"
    head = batch.to_pylist() if batch is not None else []
    header = "".join(f"<th>{_e(str(c))}</th>" for c in cols)
    body = "".join(
        "<tr>" + "".join(f"<td>{_e(_cell(r.get(c)))}</td>" for c in cols) + "</tr>" for r in head
    )
    more = total - rows
    tail = f"<p class='wb-meta'>… and {more:,} more rows.</p>" if more > 0 else ""
    return (
        f'<div class="wb-table"><table><thead><tr>{header}</tr></thead>'
        f"<tbody>{body}</tbody></table>{tail}</div>"
    )


def warm_up() -> None:
    """Run a page's code paths once, so a preheated kernel answers its visitor at once.

    Reads one recorded table if there is any; pyarrow is used through ``ParquetFile``
    only, which keeps pandas (a second of import, ~60 MB) out of the page kernels.
    """
    import ipywidgets as w

    for widget in (w.Dropdown(options=["a"]), w.HTML(value=""), w.HBox([])):
        widget.close()
    _when("2026-01-01T00:00:00+00:00")
    for team in known_teams()[:1]:
        snap = load_snapshot(team)
        if snap is not None:
            team_html(snap)


def _label(name: str) -> str:
    return name.replace("_", " ").capitalize()


def team_html(snapshot: Snapshot, analysis: str = ALL, table: str | None = None) -> str:
    """A team page: the answers first, then each analysis's charts and tables.

    Parameters
    ----------
    snapshot
        The team's snapshot (:func:`load_snapshot`).
    analysis
        ``"all"`` or one recorded analysis (checked).
    table
        With one analysis: which of its tables to show in full (checked; default the first).
    """
    analysis = check_analysis(snapshot, analysis)
    chosen = list(snapshot.analyses) if analysis == ALL else [analysis]
    if table is not None:
        table = check_table(snapshot, analysis, table)
    parts = [
        f'{_CSS}<div class="wb-page"><h1 class="wb-title">{_e(snapshot.title)}</h1>',
        f'<p class="wb-meta">{_e(snapshot.summary())} · run id {_e(snapshot.run_id)}</p>',
    ]
    if not chosen:
        parts.append('<p class="wb-notice">This run recorded no analyses.</p></div>')
        return "".join(parts)
    parts.append('<div class="wb-answers">')
    for name in chosen:
        a = snapshot.analyses[name]
        items = "".join(f"<li>{_e(s)}</li>" for s in a.answer) or (
            "<li>This analysis recorded no answer.</li>"
        )
        parts.append(f"<h3>{_e(a.title)}</h3><ul>{items}</ul>")
    parts.append("</div>")
    for name in chosen:
        a = snapshot.analyses[name]
        parts.append(f'<section class="wb-analysis"><h2>{_e(a.title)}</h2>')
        for fig_name, path in a.figures.items():
            parts.append(
                f'<img class="wb-chart" alt="{_e(_label(fig_name))}" '
                f'src="data:image/png;base64,{_png(path)}">'
            )
        if analysis == ALL:
            tables = list(a.tables.items())
            rows = _ROWS_OVERVIEW
        else:
            pick = table or next(iter(a.tables), None)
            tables = [(pick, a.tables[pick])] if pick else []
            rows = _ROWS_DETAIL
        for tname, path in tables:
            parts.append(f"<h3>{_e(_label(tname))}</h3>{_table_html(path, rows)}")
        parts.append("</section>")
    parts.append("</div>")
    return "".join(parts)


def _notice(message: str) -> str:
    return (
        f'{_CSS}<div class="wb-page"><p class="wb-notice">{_e(message)}</p>'
        '<p><a href="index.ipynb">See every team</a></p></div>'
    )


# --------------------------------------------------------------------------- pages


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


# --------------------------------------------------------------------------- serving


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def voila_command(
    host: str = "127.0.0.1",
    port: int = 8866,
    token: str | None = None,
    *,
    pool_size: int = 4,
    cull_idle_s: int = 900,
    base_url: str = "/",
    notebooks_dir: Path | None = None,
) -> list[str]:
    """The Voila command line :func:`serve` runs (see :func:`serve` for the options)."""
    if not isinstance(port, int) or not 1 <= port <= 65535:
        raise WorkbookError(f"The value for `port` must be a number from 1 to 65535, not {port!r}")
    if not _is_loopback(host) and not token:
        raise WorkbookError(
            f"Serving on {host!r} makes the dashboards reachable from other machines: "
            "give a token (--token or WORKBOOK_DASHBOARD_TOKEN), or keep host 127.0.0.1 "
            "behind a reverse proxy with authentication"
        )
    if token is not None and (len(token) < 16 or not re.fullmatch(r"[A-Za-z0-9_-]+", token)):
        raise WorkbookError("The value for `token` must be at least 16 letters, digits, '-' or '_'")
    pools = {"team.ipynb": {"pool_size": pool_size}, "index.ipynb": {"pool_size": 1}}
    folder = notebooks_dir or DASHBOARDS_DIR
    return [
        sys.executable,
        "-m",
        "voila",
        str(folder),
        "--no-browser",
        f"--Voila.ip={host}",
        f"--Voila.port={port}",
        "--Voila.port_retries=0",
        f"--Voila.base_url={base_url}",
        f"--Voila.token={token or ''}",
        f"--Voila.config_file_paths=['{folder}']",
        # every page view reads a small snapshot: kernels are preheated, the page waits
        # for the request (wait_for_request) before it reads the query string
        "--VoilaConfiguration.preheat_kernel=True",
        f"--VoilaKernelManager.kernel_pools_config={json.dumps(pools)}",
        "--VoilaKernelManager.fill_delay=2",
        # no code, no tracebacks, no ?template= / ?theme= from visitors, no files served
        # our template writes the pages' own HTML straight into the page (no JS wait)
        "--VoilaConfiguration.template=workbook",
        "--VoilaConfiguration.strip_sources=True",
        "--VoilaConfiguration.show_tracebacks=False",
        "--VoilaConfiguration.allow_template_override=NO",
        "--VoilaConfiguration.allow_theme_override=NO",
        "--VoilaConfiguration.file_allowlist=[]",
        # a closed or forgotten tab gives its kernel back
        f"--MappingKernelManager.cull_idle_timeout={cull_idle_s}",
        "--MappingKernelManager.cull_interval=60",
        "--MappingKernelManager.cull_connected=False",
    ]


def serve(
    host: str = "127.0.0.1",
    port: int = 8866,
    token: str | None = None,
    *,
    pool_size: int = 4,
    cull_idle_s: int = 900,
    base_url: str = "/",
    wait: bool = True,
    env: Mapping[str, str] | None = None,
    quiet: bool = False,
) -> int | subprocess.Popen:
    """Start Voila on the PM dashboards (``workbook serve``, ``make serve``).

    The landing page is ``http://<host>:<port>/voila/render/index.ipynb``; each team
    page is ``team.ipynb?team=<team>`` next to it. Pages read the runs in
    :func:`helpers.paths.outputs_dir`, never the warehouse.

    Parameters
    ----------
    host
        Address to bind. Anything but a loopback address needs ``token``.
    port
        Port to bind (fails rather than picking another one when taken).
    token
        Access token visitors add once as ``?token=...``; default
        ``$WORKBOOK_DASHBOARD_TOKEN`` if set. Required for a non-loopback ``host``.
    pool_size
        Preheated kernels kept ready for team pages (each ~100 MB).
    cull_idle_s
        Seconds after which an idle page's kernel is shut down.
    base_url
        URL prefix, for a reverse proxy serving the dashboards under a path.
    wait
        Block until the server stops and return its exit code (default); with False,
        return the running :class:`subprocess.Popen` (tests, benchmarks).
    env
        Extra environment for the server and its kernels.
    quiet
        Send the server's log to /dev/null instead of the terminal.

    Raises
    ------
    WorkbookError
        For a non-loopback ``host`` without a token, a bad token or port.
    """
    if token is None:
        token = os.environ.get("WORKBOOK_DASHBOARD_TOKEN") or None
    cmd = voila_command(
        host, port, token, pool_size=pool_size, cull_idle_s=cull_idle_s, base_url=base_url
    )
    run_env = {**os.environ, **(env or {})}
    # the preheated kernels fetch their request over this address
    wildcard = host in ("0.0.0.0", "::", "") or _is_loopback(host)
    run_env["VOILA_APP_IP"] = "127.0.0.1" if wildcard else host
    # the `workbook` Voila template lives in dashboards/jupyter/voila/templates/
    run_env["JUPYTER_PATH"] = os.pathsep.join(
        p for p in (str(DASHBOARDS_DIR / "jupyter"), run_env.get("JUPYTER_PATH")) if p
    )
    run_env.setdefault("WORKBOOK_ROOT", str(paths.root()))
    out = subprocess.DEVNULL if quiet else None
    # its own process group, so whoever started it can stop it with all its kernels
    proc = subprocess.Popen(
        cmd, cwd=DASHBOARDS_DIR, env=run_env, stdout=out, stderr=out, start_new_session=True
    )
    if not wait:
        return proc
    if not quiet:
        shown = "localhost" if _is_loopback(host) else host
        print(f"PM dashboards: http://{shown}:{port}{base_url}voila/render/index.ipynb")
    try:
        return proc.wait()
    except KeyboardInterrupt:
        proc.terminate()
        return proc.wait()
