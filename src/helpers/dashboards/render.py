"""HTML of the pages: the landing page, a team page, tables and notices, every value escaped."""

from __future__ import annotations

import base64
import datetime as dt
import html
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

from ..params import known_teams
from .query import ALL, check_analysis, check_table
from .snapshot import Snapshot, TeamStatus, _when, load_snapshot

__all__ = ["landing_html", "team_html", "warm_up"]

_ROWS_OVERVIEW = 10
_ROWS_DETAIL = 200


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
