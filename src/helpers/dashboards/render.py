"""HTML of the pages: the team list, a team page, readable tables, notices; every value escaped.

The pages need no JavaScript: pickers are links and a plain form, figures are PNG files
the server sends with the page's run id in their address, and the one stylesheet is
inline (its hash goes into the Content-Security-Policy, so no other style can run).
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import hashlib
import html
import math
import re
import struct
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from .query import ALL, check_analysis, check_table
from .snapshot import Analysis, Snapshot, TeamStatus, _when

__all__ = [
    "CSS_HASH",
    "busy_html",
    "cell_text",
    "column_label",
    "document",
    "landing_html",
    "notice_html",
    "table_csv",
    "team_html",
]

_ROWS_OVERVIEW = 10
_ROWS_DETAIL = 200

_CSS = """
body{margin:0;background:#fff}
.wb-page{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;max-width:1100px;color:#222;
margin:0 auto;padding:.8em 1.2em 3em}
.wb-page h1{font-size:1.6em;margin:.4em 0 .2em}
.wb-page h2{font-size:1.3em;margin:1.4em 0 .2em;border-bottom:1px solid #ddd;padding-bottom:.2em}
.wb-meta{color:#555;margin:.2em 0 1em}
.wb-nav{display:flex;flex-wrap:wrap;gap:1em;align-items:center;font-size:.95em}
.wb-nav form{display:flex;gap:.4em;align-items:center;margin:0}
.wb-tabs{list-style:none;display:flex;flex-wrap:wrap;gap:.3em;padding:0;margin:.8em 0}
.wb-tabs a{display:block;padding:.25em .7em;border:1px solid #c8d3e0;border-radius:3px;
text-decoration:none;color:#234}
.wb-tabs a[aria-current=page]{background:#3b6ea5;color:#fff;border-color:#3b6ea5}
.wb-answers{background:#f4f7fb;border-left:4px solid #3b6ea5;padding:.6em 1em;margin:1em 0}
.wb-answers h3{margin:.3em 0;font-size:1.05em}
.wb-answers ul{margin:.2em 0 .6em 1.2em;padding:0}
.wb-asof{color:#555;font-weight:normal;font-size:.9em}
.wb-chart{max-width:100%;height:auto;display:block;margin:.5em 0}
.wb-table{overflow-x:auto}
.wb-table table{border-collapse:collapse;font-size:.85em;margin:.4em 0 .3em}
.wb-table th,.wb-table td{border-bottom:1px solid #ddd;padding:.2em .6em;text-align:left}
.wb-table th{background:#f6f6f6}
.wb-table td.wb-num,.wb-table th.wb-num{text-align:right;font-variant-numeric:tabular-nums}
.wb-download{font-size:.85em;margin:0 0 1.2em}
.wb-notice{background:#fff6e5;border-left:4px solid #d48a00;padding:.6em 1em}
.wb-teams td,.wb-teams th{padding:.35em .9em;border-bottom:1px solid #ddd;text-align:left}
.wb-status-succeeded{color:#1d7a35}.wb-status-failed{color:#b3261e}
"""

#: The inline stylesheet's hash, for ``style-src`` in the pages' Content-Security-Policy.
CSS_HASH = "sha256-" + base64.b64encode(hashlib.sha256(_CSS.encode()).digest()).decode()

_e = html.escape


def document(title: str, body: str) -> str:
    """A whole HTML page around ``body`` (already escaped HTML) with the workbook's style."""
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="referrer" content="no-referrer">'
        f'<title>{_e(title)}</title><link rel="icon" href="data:,">'
        f"<style>{_CSS}</style></head><body>{body}</body></html>"
    )


def _team_url(base_url: str, team: str, **query: str) -> str:
    url = f"{base_url}team/{quote(team, safe='')}"
    return url + ("?" + urlencode(query) if query else "")


def _file_url(base_url: str, snapshot: Snapshot, kind: str, analysis: str, name: str) -> str:
    parts = (snapshot.team, snapshot.run_id, kind, analysis, name)
    return base_url + "files/" + "/".join(quote(p, safe="") for p in parts)


def landing_html(rows: Sequence[TeamStatus], base_url: str = "/") -> str:
    """The team list: every team, its last successful run and the latest attempt's status."""
    body = []
    for r in rows:
        status = r.last_attempt_status or "no run yet"
        cls = re.sub(r"[^a-z]", "", status)
        when = f"{_e(r.as_of)} (run {_e(_when(r.finished_at))})" if r.latest_run_id else "—"
        body.append(
            f'<tr><td><a class="wb-team-link" href="{_e(_team_url(base_url, r.team))}">'
            f"{_e(r.title)}</a></td><td>{when}</td>"
            f'<td class="wb-status-{cls}">{_e(status)}</td></tr>'
        )
    if not body:
        body.append('<tr><td colspan="3">No teams yet: add a params/&lt;team&gt;.yaml.</td></tr>')
    return (
        '<div class="wb-page"><h1>Product teams</h1>'
        '<p class="wb-meta">Each page shows the numbers of the team\'s last successful '
        "scheduled run.</p>"
        '<table class="wb-teams"><thead><tr><th>Team</th><th>Results as of</th>'
        f"<th>Latest attempt</th></tr></thead><tbody>{''.join(body)}</tbody></table></div>"
    )


# --------------------------------------------------------------------------- readable tables

_WORDS = {
    "arr": "ARR",
    "mrr": "MRR",
    "nps": "NPS",
    "rfm": "RFM",
    "ci": "CI",
    "id": "ID",
    "ids": "IDs",
    "pct": "%",
    "avg": "average",
    "std": "std. dev.",
    "lo": "low",
    "hi": "high",
    "num": "number of",
    "qty": "quantity",
    "yoy": "year over year",
    "wow": "week over week",
    "mom": "month over month",
}
_PHRASES = {"p_value": "p-value", "p_adj": "adjusted p-value", "n": "n", "p": "p"}
_MIDNIGHT = re.compile(r"^(\d{4}-\d{2}-\d{2})[T ]00:00(:00(\.0+)?)?(Z|[+-]00:?00)?$")
_STAMP = re.compile(r"^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2})(:\d{2}(\.\d+)?)?$")


def column_label(name: Any) -> str:
    """A column name in words: ``arr_share`` → ``ARR share``, ``p_value`` → ``p-value``."""
    text = str(name)
    if text in _PHRASES:
        return _PHRASES[text]
    words = [_WORDS.get(w.lower(), w) for w in re.split(r"[_\s]+", text) if w]
    if not words:
        return text
    first = words[0]
    if first == first.lower():
        words[0] = first[:1].upper() + first[1:]
    return " ".join(words)


def _number(x: float) -> str:
    """A float rounded for reading: whole thousands, one decimal above 100, two above 1,
    three significant digits below, and ``< 0.001`` for what rounds to nothing."""
    if math.isnan(x):
        return "—"
    if math.isinf(x):
        return "∞" if x > 0 else "−∞"
    if x == 0:
        return "0"
    a = abs(x)
    if a >= 1000 or (x.is_integer() and a < 1e15):
        return f"{x:,.0f}"
    if a >= 100:
        return f"{x:,.1f}"
    if a >= 1:
        return f"{x:.2f}"
    if a >= 0.001:
        return f"{x:.3g}"
    return "< 0.001" if x > 0 else "> −0.001"


def cell_text(value: Any) -> str:
    """One table cell as a PM reads it: dates as dates, numbers rounded, missing as —."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float | decimal.Decimal):
        return _number(float(value))
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        if value.time() == dt.time(0):
            return value.date().isoformat()
        return f"{value:%Y-%m-%d %H:%M}"
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        days = value.total_seconds() / 86400
        return f"{_number(days)} days"
    text = str(value)
    if m := _MIDNIGHT.match(text):
        return m.group(1)
    if m := _STAMP.match(text):
        return f"{m.group(1)} {m.group(2)}"
    return text


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float | decimal.Decimal) and not isinstance(value, bool)


def _table_html(path: Path, rows: int) -> tuple[str, int]:
    """The first ``rows`` rows of a recorded Parquet table (pyarrow only: no pandas in the
    server), and the table's number of rows."""
    import pyarrow.parquet as pq

    try:
        file = pq.ParquetFile(path)
        total = file.metadata.num_rows
        cols = file.schema_arrow.names
        batch = next(file.iter_batches(batch_size=rows), None)
    except (OSError, ValueError) as exc:
        return f"<p>This table could not be read ({_e(exc.__class__.__name__)}).</p>", 0
    head = batch.to_pylist()[:rows] if batch is not None else []
    numeric = {
        c for c in cols if head and all(_is_number(r.get(c)) or r.get(c) is None for r in head)
    }
    numeric = {c for c in numeric if any(r.get(c) is not None for r in head)}

    def cls(c):
        return ' class="wb-num"' if c in numeric else ""

    header = "".join(f"<th{cls(c)}>{_e(column_label(c))}</th>" for c in cols)
    body = "".join(
        "<tr>" + "".join(f"<td{cls(c)}>{_e(cell_text(r.get(c)))}</td>" for c in cols) + "</tr>"
        for r in head
    )
    more = total - len(head)
    tail = f"<p class='wb-meta'>… and {more:,} more rows.</p>" if more > 0 else ""
    return (
        f'<div class="wb-table"><table><thead><tr>{header}</tr></thead>'
        f"<tbody>{body}</tbody></table>{tail}</div>"
    ), total


def _png_size(path: Path) -> tuple[int, int] | None:
    """Width and height from a PNG's header (so the page keeps its layout while it loads)."""
    try:
        with open(path, "rb") as f:
            head = f.read(24)
    except OSError:
        return None
    if len(head) < 24 or head[:8] != b"\x89PNG\r\n\x1a\n" or head[12:16] != b"IHDR":
        return None
    return struct.unpack(">II", head[16:24])


def _label(name: str) -> str:
    return column_label(name)


def _asof_line(snapshot: Snapshot, a: Analysis) -> str:
    """``as of <date>`` of one analysis, saying so when an earlier run computed it."""
    text = f"as of {a.as_of or 'an unknown date'}"
    if a.carried or (a.run_id and a.run_id != snapshot.run_id):
        text += f" (run {a.run_id or 'unknown'}, kept from an earlier run)"
    return text


def _team_switch(snapshot: Snapshot, teams: Sequence[TeamStatus], base_url: str) -> str:
    options = "".join(
        f'<option value="{_e(t.team)}"{" selected" if t.team == snapshot.team else ""}>'
        f"{_e(t.title)}</option>"
        for t in teams
    )
    return (
        f'<form class="wb-switch" method="get" action="{_e(base_url)}team">'
        f'<label>Team <select name="team">{options}</select></label>'
        '<button type="submit">Open</button></form>'
    )


def _tab(href: str, label: str, current: bool, cls: str) -> str:
    mark = ' aria-current="page"' if current else ""
    return f'<li><a class="{cls}" href="{_e(href)}"{mark}>{_e(label)}</a></li>'


def team_html(
    snapshot: Snapshot,
    analysis: str = ALL,
    table: str | None = None,
    *,
    base_url: str = "/",
    teams: Sequence[TeamStatus] = (),
) -> str:
    """A team page: the answers first, then each analysis's charts and tables.

    Parameters
    ----------
    snapshot
        The team's snapshot (:func:`load_snapshot`).
    analysis
        ``"all"`` or one recorded analysis (checked).
    table
        With one analysis: which of its tables to show in full (checked; default the first).
    base_url
        The server's URL prefix; every link and figure address starts with it.
    teams
        The teams for the team picker (none: no picker).
    """
    analysis = check_analysis(snapshot, analysis)
    chosen = list(snapshot.analyses) if analysis == ALL else [analysis]
    if table is not None:
        table = check_table(snapshot, analysis, table)
    nav = f'<a class="wb-home" href="{_e(base_url)}">All teams</a>'
    if teams:
        nav += _team_switch(snapshot, teams, base_url)
    parts = [
        f'<div class="wb-page"><nav class="wb-nav">{nav}</nav>',
        f'<h1 class="wb-title">{_e(snapshot.title)}</h1>',
        f'<p class="wb-meta">{_e(snapshot.summary())} · run id {_e(snapshot.run_id)}</p>',
    ]
    if not chosen:
        parts.append('<p class="wb-notice">This run recorded no analyses.</p></div>')
        return "".join(parts)
    tabs = [_tab(_team_url(base_url, snapshot.team), "All analyses", analysis == ALL, "wb-tab")]
    for a in snapshot.analyses.values():
        href = _team_url(base_url, snapshot.team, analysis=a.name)
        tabs.append(_tab(href, a.title, analysis == a.name, "wb-tab"))
    parts.append(f'<ul class="wb-tabs">{"".join(tabs)}</ul>')
    pick = None
    if analysis != ALL:
        a = snapshot.analyses[analysis]
        pick = table or next(iter(a.tables), None)
        if len(a.tables) > 1:
            links = [
                _tab(
                    _team_url(base_url, snapshot.team, analysis=analysis, table=t),
                    _label(t),
                    t == pick,
                    "wb-table-tab",
                )
                for t in a.tables
            ]
            parts.append(f'<ul class="wb-tabs wb-table-tabs">{"".join(links)}</ul>')
    parts.append('<div class="wb-answers">')
    for name in chosen:
        a = snapshot.analyses[name]
        items = "".join(f"<li>{_e(s)}</li>" for s in a.answer) or (
            "<li>This analysis recorded no answer.</li>"
        )
        parts.append(
            f'<h3>{_e(a.title)} <span class="wb-asof">{_e(_asof_line(snapshot, a))}</span>'
            f"</h3><ul>{items}</ul>"
        )
    parts.append("</div>")
    for name in chosen:
        a = snapshot.analyses[name]
        parts.append(
            f'<section class="wb-analysis" id="{_e(name)}"><h2>{_e(a.title)}</h2>'
            f'<p class="wb-meta wb-asof">Results {_e(_asof_line(snapshot, a))}</p>'
        )
        for fig_name, path in a.figures.items():
            size = _png_size(path)
            dims = f' width="{size[0]}" height="{size[1]}"' if size else ""
            src = _file_url(base_url, snapshot, "figures", name, f"{fig_name}.png")
            parts.append(
                f'<img class="wb-chart" alt="{_e(_label(fig_name))}" src="{_e(src)}"{dims}>'
            )
        if analysis == ALL:
            tables = list(a.tables.items())
            rows = _ROWS_OVERVIEW
        else:
            tables = [(pick, a.tables[pick])] if pick else []
            rows = _ROWS_DETAIL
        for tname, path in tables:
            markup, total = _table_html(path, rows)
            href = _file_url(base_url, snapshot, "tables", name, f"{tname}.csv")
            parts.append(
                f"<h3>{_e(_label(tname))}</h3>{markup}"
                f'<p class="wb-download"><a href="{_e(href)}" download>Download all '
                f"{total:,} rows as CSV (full precision)</a></p>"
            )
        parts.append("</section>")
    parts.append("</div>")
    return "".join(parts)


def notice_html(message: str, base_url: str = "/") -> str:
    """A page that says one plain sentence (an unknown team, a bad address), never a traceback."""
    return (
        f'<div class="wb-page"><p class="wb-notice">{_e(message)}</p>'
        f'<p><a href="{_e(base_url)}">See every team</a></p></div>'
    )


def busy_html(base_url: str = "/", retry_s: int = 5) -> str:
    """The page shown when every live page's kernel is taken."""
    return notice_html(
        "The dashboards are busy: every live page is in use right now. "
        f"Please try again in a moment (about {retry_s} seconds); the team pages still open.",
        base_url,
    )


# --------------------------------------------------------------------------- CSV downloads

_FORMULA = r"^[=+\-@\t\r]"


def table_csv(path: Path) -> bytes:
    """A recorded Parquet table as CSV, full precision, for a spreadsheet.

    A text cell (or header) that a spreadsheet would run as a formula (it starts with
    ``=``, ``+``, ``-``, ``@``, a tab or a carriage return) gets a leading ``'``, as in
    the runner's own CSV copies (OWASP's advice for CSV injection).
    """
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pcsv
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    columns = []
    for field, column in zip(table.schema, table.columns, strict=True):
        kind = field.type
        if pa.types.is_dictionary(kind):
            column, kind = column.cast(kind.value_type), kind.value_type
        if pa.types.is_string(kind) or pa.types.is_large_string(kind):
            risky = pc.match_substring_regex(column, _FORMULA)
            quote_ = pa.scalar("'", type=kind)
            prefixed = pc.binary_join_element_wise(quote_, column, pa.scalar("", type=kind))
            column = pc.if_else(risky, prefixed, column)
        columns.append(column)
    names = ["'" + n if re.match(_FORMULA, n) else n for n in table.column_names]
    sink = pa.BufferOutputStream()
    pcsv.write_csv(pa.Table.from_arrays(columns, names=names), sink)
    return sink.getvalue().to_pybytes()
