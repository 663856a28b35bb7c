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
_ROWS_EXPORT = 50

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
.wb-teams td,.wb-teams th{padding:.35em .9em;border-bottom:1px solid #ddd;text-align:left;vertical-align:top}
.wb-status-succeeded{color:#1d7a35}.wb-status-failed{color:#b3261e}
.wb-toc{background:#fafafa;border:1px solid #e3e3e3;padding:.4em 1em;margin:1em 0;font-size:.92em}
.wb-toc ul{margin:.2em 0 .2em 1.2em;padding:0}
.wb-next{background:#eef7ee;border-left:4px solid #1d7a35;padding:.4em .8em;margin:.6em 0}
.wb-action h3{margin:.8em 0 .2em}
.wb-toggle{position:absolute;opacity:0}
.wb-evidence-label{display:inline-block;cursor:pointer;color:#234;font-weight:600;margin:.8em 0 .3em;
border:1px solid #c8d3e0;border-radius:3px;padding:.2em .7em}
.wb-evidence-label::before{content:"▸ "}
.wb-toggle:checked+.wb-evidence-label::before{content:"▾ "}
.wb-toggle:focus-visible+.wb-evidence-label{outline:2px solid #3b6ea5}
.wb-evidence{display:none;border-left:3px solid #e3e3e3;padding-left:.8em}
.wb-toggle:checked~.wb-evidence{display:block}
.wb-sort{text-decoration:none;color:#3b6ea5;margin-right:.25em}
.wb-filter{display:flex;gap:.4em;align-items:center;margin:.4em 0;font-size:.9em}
.wb-attention{margin:0;padding-left:1.1em;font-size:.92em}
.wb-stale{color:#b3261e;font-weight:600}
@media print{
.wb-nav,.wb-tabs,.wb-filter,.wb-download,.wb-sort,.wb-evidence-label{display:none!important}
.wb-evidence{display:block!important;border:0;padding:0}
.wb-page{max-width:none;padding:0}
.wb-analysis{break-before:page}
.wb-table table{font-size:.75em}
.wb-chart{max-width:100%;break-inside:avoid}
a{color:inherit;text-decoration:none}
}
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


def _headline(numbers: dict) -> list[str]:
    """A team's numbers for the team list, each from its recorded answers."""
    out = []
    word = str(numbers.get("money") or "ARR")
    if isinstance(numbers.get("slipped_accounts"), int):
        out.append(
            f"Slipped: {numbers['slipped_accounts']:,} accounts "
            f"({_money_words(numbers.get('slipped_money'), word)})"
        )
    if isinstance(numbers.get("at_risk_accounts"), int):
        out.append(
            f"At risk: {_money_words(numbers.get('at_risk_money'), word)} in "
            f"{numbers['at_risk_accounts']:,} accounts"
        )
    if "metric_change_pct" in numbers:
        out.append(
            f"{str(numbers['metric']).capitalize()}: {numbers['metric_value']:,.0f} "
            f"({numbers['metric_change_pct']:+.1f}% on the {numbers['metric_comparison']})"
            if numbers["metric_comparison"].startswith("previous")
            else f"{str(numbers['metric']).capitalize()}: {numbers['metric_value']:,.0f} "
            f"({numbers['metric_change_pct']:+.1f}%, {numbers['metric_comparison']})"
        )
    if numbers.get("leader"):
        if numbers.get("winner"):
            out.append(f"Most wanted: {numbers['leader']}")
        else:
            out.append("Most wanted: no clear winner")
    if numbers.get("nps") is not None:
        lo, hi = numbers.get("nps_lo"), numbers.get("nps_hi")
        ci = f" (95% CI {lo:g} to {hi:g})" if lo is not None and hi is not None else ""
        out.append(f"NPS {numbers['nps']:g}{ci}")
    return out


def landing_html(rows: Sequence[TeamStatus], base_url: str = "/", digest=None) -> str:
    """The team list: every team, its last successful run and the latest attempt's status;
    with a :class:`~helpers.dashboards.digest.Digest`, teams most in need first, each with
    its headline numbers, what needs attention and a stale flag."""
    by_team = {t.team: t for t in digest.teams} if digest is not None else {}
    if digest is not None:
        order = {t.team: i for i, t in enumerate(digest.teams)}
        rows = sorted(rows, key=lambda r: order.get(r.team, len(order)))
    body = []
    for r in rows:
        status = r.last_attempt_status or "no run yet"
        cls = re.sub(r"[^a-z]", "", status)
        when = f"{_e(r.as_of)} (run {_e(_when(r.finished_at))})" if r.latest_run_id else "—"
        d = by_team.get(r.team)
        extra = ""
        if digest is not None:
            if d is not None and d.stale:
                when += ' <strong class="wb-stale">stale</strong>'
            nums = "".join(f"<li>{_e(x)}</li>" for x in _headline(d.numbers)) if d else ""
            attention = (
                "".join(
                    f'<li class="{"wb-stale" if f.kind in ("stale", "failed", "no_run") else ""}">'
                    f"{_e(f.text)}</li>"
                    for f in d.findings
                    if f.urgency <= 5
                )
                if d
                else ""
            )
            extra = (
                f'<td><ul class="wb-attention wb-numbers">{nums}</ul></td>'
                f'<td><ul class="wb-attention">{attention or "<li>Nothing urgent.</li>"}</ul></td>'
            )
        body.append(
            f'<tr data-team="{_e(r.team)}"><td><a class="wb-team-link" '
            f'href="{_e(_team_url(base_url, r.team))}">'
            f"{_e(r.title)}</a></td><td>{when}</td>{extra}"
            f'<td class="wb-status-{cls}">{_e(status)}</td></tr>'
        )
    cols = 5 if digest is not None else 3
    if not body:
        body.append(
            f'<tr><td colspan="{cols}">No teams yet: add a params/&lt;team&gt;.yaml.</td></tr>'
        )
    heads = "<th>Team</th><th>Results as of</th>"
    if digest is not None:
        heads += "<th>Numbers</th><th>Needs attention</th>"
    intro = "Each page shows the numbers of the team's last successful scheduled run."
    if digest is not None:
        intro += (
            f" Teams most in need first. {digest.summary()} Results older than "
            f"{digest.stale_days} days are marked stale."
        )
    return (
        '<div class="wb-page"><h1>Product teams</h1>'
        f'<p class="wb-meta">{_e(intro)}</p>'
        f'<table class="wb-teams"><thead><tr>{heads}'
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


#: The currency sign of money columns (ARR, spend); set per server with ``Pages(currency=)``.
CURRENCY = "$"
_MONEY = re.compile(
    r"^(arr|mrr|spend|revenue|money)$|_(arr|mrr|spend|money)$|^(arr|mrr|spend)_(lo|hi|at_risk)$"
)
_SHARE = re.compile(r"(^|_)(share|rate)(_lo|_hi)?$|^share_")
_PCT = re.compile(r"(^|_)pct$")


def column_kind(name: Any) -> str:
    """How a column's numbers read: ``money`` (ARR, spend), ``share`` (a fraction shown as
    a percentage), ``pct`` (already in percent) or ``number``."""
    text = str(name).lower()
    if _MONEY.search(text):
        return "money"
    if _PCT.search(text):
        return "pct"
    if _SHARE.search(text):
        return "share"
    return "number"


def format_cell(column: Any, value: Any, currency: str = CURRENCY) -> str:
    """One cell as a PM reads it, by its column: money with the currency sign, shares as
    percentages, else :func:`cell_text`."""
    if _is_number(value) and not (isinstance(value, float) and math.isnan(value)):
        kind = column_kind(column)
        x = float(value)
        if kind == "money":
            text = _number(abs(x))
            return ("−" if x < 0 else "") + currency + text
        if kind == "share" and -1.0 <= x <= 1.0:
            return f"{x:.1%}"
        if kind == "pct":
            return f"{x:.1f}%"
    return cell_text(value)


def _table_markup(
    table,
    total: int,
    *,
    rows: int,
    sort_url=None,
    sort: str | None = None,
    order: str = "desc",
    currency: str = CURRENCY,
) -> str:
    """HTML of the first ``rows`` rows of a pyarrow table (``total``: the view's rows).

    With ``sort_url`` (column, order → address), each header of a sortable column gets a
    sort link: the sort is done by the server, so the address holds it and Back undoes it.
    """
    cols = table.column_names
    head = table.slice(0, rows).to_pylist()
    numeric = {
        c for c in cols if head and all(_is_number(r.get(c)) or r.get(c) is None for r in head)
    }
    numeric = {c for c in numeric if any(r.get(c) is not None for r in head)}

    def cls(c):
        return ' class="wb-num"' if c in numeric else ""

    def th(c):
        label = _e(column_label(c))
        if sort_url is None or not _SORTABLE.match(str(c)):
            return f"<th{cls(c)}>{label}</th>"
        if c == sort:
            nxt, mark = ("asc", "▼") if order == "desc" else ("desc", "▲")
        else:
            nxt, mark = "desc", "↕"
        href = sort_url(c, nxt)
        aria = (
            ' aria-sort="descending"'
            if c == sort and order == "desc"
            else (' aria-sort="ascending"' if c == sort else "")
        )
        return (
            f'<th{cls(c)}{aria}><a class="wb-sort" href="{_e(href)}" '
            f'title="Sort by {label}">{mark}</a>{label}</th>'
        )

    header = "".join(th(c) for c in cols)
    body = "".join(
        "<tr>"
        + "".join(f"<td{cls(c)}>{_e(format_cell(c, r.get(c), currency))}</td>" for c in cols)
        + "</tr>"
        for r in head
    )
    more = total - len(head)
    tail = f"<p class='wb-meta'>… and {more:,} more rows.</p>" if more > 0 else ""
    return (
        f'<div class="wb-table"><table><thead><tr>{header}</tr></thead>'
        f"<tbody>{body}</tbody></table>{tail}</div>"
    )


_SORTABLE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


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


#: The chart that shows each analysis's answer: the first of these the run recorded (else
#: its first figure). Every other figure is evidence, under "How sure are we?".
LEAD_FIGURES = {
    "customer_segmentation": ("rfm_segments", "cluster_sizes"),
    "feature_demand": ("shares",),
    "metric_trends": ("series",),
    "customer_feedback": ("nps", "themes"),
}
#: The lists a PM acts on, shown under the chart: (table, heading).
ACTION_TABLES = {
    "customer_segmentation": (("slipping", "Who slipped: accounts that left a healthy segment"),),
    "feature_demand": (("requesting_accounts", "Who asked: the requesting accounts"),),
    "customer_feedback": (("quotes", "What they say: quotes by theme"),),
}


#: Words that name a method rather than say what happened: the answer box leaves them (and
#: the numbers that go with them) to "How sure are we?", where the full answer is shown.
_JARGON = re.compile(
    r"McNemar|Holm|Sen slope|Mann-Kendall|\bETS\b|MASE|silhouette|Welch|chi-square|bootstrap"
    r"|Wilson|z-test|Tango|Benjamini|Jaccard|k-means|autocorrelation|log scale|backtest"
    r"|median forecast|interval included|adjusted|\bp\s*[<=>]|\bCI\b|\bn\s*=",
    re.IGNORECASE,
)
#: Sentences that qualify the data rather than answer (who is counted, what is set aside):
#: they too are left to "How sure are we?".
_CAVEAT = re.compile(
    r"^Base:|are not counted|counted once|values today|set aside|no history of", re.IGNORECASE
)
_PAREN = re.compile(r"(\s*)\(((?:[^()]|\([^()]*\))*)\)")
_PARTS = re.compile(r"([;,]\s*)(?![^(]*\))")


def plain_words(sentence: str) -> str | None:
    """``sentence`` for the answer box: the parts of its brackets that name a method are
    left out (``(difference +5.7 points, 95% CI …; McNemar p < 0.001)`` →
    ``(difference +5.7 points)``); None when the sentence is about the method itself."""

    def keep(m: re.Match) -> str:
        pieces = _PARTS.split(m.group(2))
        parts = [(pieces[i - 1] if i else "", pieces[i]) for i in range(0, len(pieces), 2)]
        kept = [(sep, part) for sep, part in parts if part.strip() and not _JARGON.search(part)]
        if not kept:
            return ""
        text = kept[0][1] + "".join(sep + part for sep, part in kept[1:])
        return f"{m.group(1)}({text})"

    if _CAVEAT.search(sentence):
        return None
    out = _PAREN.sub(keep, sentence)
    return None if _JARGON.search(out) else out


def plain_answer(sentences: Sequence[str]) -> list[str]:
    """The answer in plain words (:func:`plain_words`), never empty when there is one."""
    out = [p for s in sentences if (p := plain_words(s))]
    return out or list(sentences[:1])


def lead_figure(a: Analysis) -> str | None:
    """The name of the one chart that shows ``a``'s answer, if it recorded any figure."""
    for name in LEAD_FIGURES.get(a.name, ()):
        if name in a.figures:
            return name
    return next(iter(a.figures), None)


def action_tables(a: Analysis) -> list[tuple[str, str]]:
    """``a``'s action lists it recorded: (table, heading)."""
    return [(t, h) for t, h in ACTION_TABLES.get(a.name, ()) if t in a.tables]


def _money_words(x: Any, word: str = "ARR") -> str:
    try:
        x = float(x)
    except (TypeError, ValueError):
        return ""
    for div, unit in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(x) >= div:
            return f"${x / div:.1f}{unit} {word}"
    return f"${x:,.0f} {word}"


def next_step(a: Analysis) -> str | None:
    """The suggested next step of an analysis, from its recorded facts (None: nothing to do)."""
    f = a.facts
    if isinstance(f.get("next_step"), str) and f["next_step"]:  # the analysis's own words
        return f["next_step"]
    if a.name == "customer_segmentation":
        n = f.get("slipped_accounts")
        if isinstance(n, int) and n > 0:
            word = str(f.get("money") or "ARR")
            return (
                f"Call these {n:,} accounts, largest {word} first: they left a healthy segment "
                f"since {f.get('previous_as_of', 'the previous period')} "
                f"({_money_words(f.get('slipped_money'), word)})."
            )
        if isinstance(n, int):
            return "No account left a healthy segment: nothing to chase this week."
    if a.name == "feature_demand" and "winner" in f:
        if f.get("winner"):
            return (
                f"Plan for {f['winner']}; tell the requesting accounts (the list below) when it "
                "ships."
            )
        return (
            "No clear winner yet: keep collecting requests (ask the accounts below which they "
            "would pick) before choosing on demand alone."
        )
    if a.name == "metric_trends":
        return _trend_step(a)
    if a.name == "customer_feedback":
        new = f.get("new_themes")
        if isinstance(new, list) and new:
            names = ", ".join(f"“{t}”" for t in new[:3])
            return f"Read the recent comments about {names}: customers started talking about it."
    return None


def _trend_step(a: Analysis) -> str | None:
    """Metric trends' next step, from its recorded unusual periods (the last 4 weeks)."""
    from .tables import read_head

    metric = str(a.facts.get("metric") or "the metric").replace("_", " ")
    if "anomalies" not in a.tables or not a.as_of:
        return None
    try:
        rows, _ = read_head(a.tables["anomalies"], 1000)
        as_of = dt.date.fromisoformat(a.as_of)
    except (OSError, ValueError):
        return None
    recent = []
    for r in rows.to_pylist():
        day = str(r.get("period") or "")[:10]
        try:
            if (as_of - dt.date.fromisoformat(day)).days <= 28:
                recent.append(day)
        except ValueError:
            continue
    if recent:
        return (
            f"Find out what happened around {max(recent)}: {metric} was outside its usual "
            "range (the unusual periods are marked on the chart)."
        )
    return f"Nothing unusual in {metric} lately: no action needed; watch the forecast band."


def _toc(snapshot: Snapshot, chosen: list[str]) -> str:
    """Contents: each analysis, its action lists and its evidence."""
    items = []
    for name in chosen:
        a = snapshot.analyses[name]
        sub = [
            f'<li><a href="#{_e(name)}--{_e(t)}">{_e(heading.split(":")[0])}</a></li>'
            for t, heading in action_tables(a)
        ]
        if len(a.figures) > 1 or a.tables:
            sub.append(f'<li><a href="#{_e(name)}--evidence">How sure are we?</a></li>')
        items.append(
            f'<li><a href="#{_e(name)}">{_e(a.title)}</a>'
            + (f"<ul>{''.join(sub)}</ul>" if sub else "")
            + "</li>"
        )
    return (
        '<nav class="wb-toc" aria-label="Contents"><strong>Contents</strong>'
        f"<ul>{''.join(items)}</ul></nav>"
    )


def _figure_src(
    base_url: str, snapshot: Snapshot, analysis: str, name: str, path: Path, inline: bool
) -> str:
    if inline:
        try:
            data = path.read_bytes()
        except OSError:
            return ""
        return "data:image/png;base64," + base64.b64encode(data).decode()
    return _file_url(base_url, snapshot, "figures", analysis, f"{name}.png")


def _img(src: str, path: Path, alt: str) -> str:
    size = _png_size(path)
    dims = f' width="{size[0]}" height="{size[1]}"' if size else ""
    return f'<img class="wb-chart" alt="{_e(alt)}" src="{_e(src)}"{dims}>'


def explore_link(base_url: str, team: str) -> str:
    """The link from a team page to the live explorer, opened on that team (#16)."""
    href = f"{base_url}voila/render/explore.ipynb?{urlencode({'team': team})}"
    return f' <a class="wb-explore-link" href="{_e(href)}">Explore a metric</a>'


def team_html(
    snapshot: Snapshot,
    analysis: str = ALL,
    table: str | None = None,
    *,
    base_url: str = "/",
    teams: Sequence[TeamStatus] = (),
    view: dict[str, str] | None = None,
    currency: str = CURRENCY,
    inline: bool = False,
) -> str:
    """A team page: the answers first, then each analysis: its one chart, its action list
    and next step, and the evidence under a collapsed "How sure are we?".

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
    view
        ``sort``, ``order`` and ``q`` of the chosen table (checked by the caller's
        :func:`parse_query`; ``sort`` must name one of its columns).
    currency
        The sign of money columns.
    inline
        The self-contained export: figures inside the page, no navigation or downloads.
    """
    from .tables import read_head, read_view

    view = dict(view or {})
    analysis = check_analysis(snapshot, analysis)
    chosen = list(snapshot.analyses) if analysis == ALL else [analysis]
    if table is not None:
        table = check_table(snapshot, analysis, table)
    parts = ['<div class="wb-page">']
    if not inline:
        nav = f'<a class="wb-home" href="{_e(base_url)}">All teams</a>'
        nav += explore_link(base_url, snapshot.team)  # the live explorer (#16)
        if teams:
            nav += _team_switch(snapshot, teams, base_url)
        export = _team_url(base_url, snapshot.team) + "/export.html"
        nav += (
            f'<a class="wb-export" href="{_e(export)}" download>Download the whole page '
            "(one HTML file, for mail)</a>"
        )
        parts.append(f'<nav class="wb-nav">{nav}</nav>')
    parts += [
        f'<h1 class="wb-title">{_e(snapshot.title)}</h1>',
        f'<p class="wb-meta">{_e(snapshot.summary())} · run id {_e(snapshot.run_id)}</p>',
    ]
    if not chosen:
        parts.append('<p class="wb-notice">This run recorded no analyses.</p></div>')
        return "".join(parts)
    if not inline:
        tabs = [_tab(_team_url(base_url, snapshot.team), "All analyses", analysis == ALL, "wb-tab")]
        for a in snapshot.analyses.values():
            href = _team_url(base_url, snapshot.team, analysis=a.name)
            tabs.append(_tab(href, a.title, analysis == a.name, "wb-tab"))
        parts.append(f'<ul class="wb-tabs">{"".join(tabs)}</ul>')
    pick = None
    if analysis != ALL:
        a = snapshot.analyses[analysis]
        pick = table or next(iter(a.tables), None)
        if len(a.tables) > 1 and not inline:
            links = [
                _tab(
                    _team_url(base_url, snapshot.team, analysis=analysis, table=t)
                    + f"#{analysis}--{t}",
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
        items = "".join(f"<li>{_e(s)}</li>" for s in plain_answer(a.answer)) or (
            "<li>This analysis recorded no answer.</li>"
        )
        parts.append(
            f'<h3>{_e(a.title)} <span class="wb-asof">{_e(_asof_line(snapshot, a))}</span>'
            f"</h3><ul>{items}</ul>"
        )
    parts.append("</div>")
    if analysis == ALL:
        parts.append(_toc(snapshot, chosen))

    def table_block(
        name: str, tname: str, path: Path, rows: int, heading: str, chosen_one: bool
    ) -> str:
        anchor = f"{name}--{tname}"
        q = {k: view[k] for k in ("sort", "order", "q") if chosen_one and view.get(k)}
        try:
            if q:
                shown = read_view(
                    path, sort=q.get("sort"), order=q.get("order", "desc"), q=q.get("q")
                )
                if q.get("sort") not in shown.column_names:
                    q.pop("sort", None)
                    q.pop("order", None)
                total = shown.num_rows
            else:
                shown, total = read_head(path, rows)
        except (OSError, ValueError) as exc:
            return f"<p>This table could not be read ({_e(exc.__class__.__name__)}).</p>"
        sort_url = None
        if chosen_one and not inline:

            def sort_url(col, order):
                kw = {"analysis": name, "table": tname, "sort": col, "order": order}
                if q.get("q"):
                    kw["q"] = q["q"]
                return _team_url(base_url, snapshot.team, **kw) + f"#{anchor}"

        markup = _table_markup(
            shown,
            total,
            rows=rows,
            sort_url=sort_url,
            sort=q.get("sort"),
            order=q.get("order", "desc"),
            currency=currency,
        )
        out = f'<h3 id="{_e(anchor)}">{_e(heading)}</h3>'
        if chosen_one and not inline:
            hidden = "".join(
                f'<input type="hidden" name="{k}" value="{_e(v)}">'
                for k, v in (
                    ("analysis", name),
                    ("table", tname),
                    *((k, q[k]) for k in ("sort", "order") if q.get(k)),
                )
            )
            out += (
                f'<form class="wb-filter" method="get" action="'
                f'{_e(_team_url(base_url, snapshot.team))}#{_e(anchor)}">{hidden}'
                f'<label>Filter <input type="search" name="q" maxlength="64" '
                f'value="{_e(q.get("q", ""))}"></label><button type="submit">Show</button></form>'
            )
        out += markup
        if not inline:
            href = _file_url(base_url, snapshot, "tables", name, f"{tname}.csv")
            xhref = _file_url(base_url, snapshot, "tables", name, f"{tname}.xlsx")
            tail = ("?" + urlencode(q)) if q else ""
            what = f"the {total:,} rows shown" if q.get("q") else f"all {total:,} rows"
            out += (
                f'<p class="wb-download"><a href="{_e(href + tail)}" download>Download {what} '
                f"as CSV (full precision)</a> · "
                f'<a href="{_e(xhref + tail)}" download>XLSX</a>'
            )
            if not chosen_one:
                detail = _team_url(base_url, snapshot.team, analysis=name, table=tname)
                out += f' · <a href="{_e(detail)}#{_e(anchor)}">See all, sort and filter</a>'
            out += "</p>"
        elif total > rows:
            out += (
                f'<p class="wb-meta">The first {rows:,} of {total:,} rows; the team page has '
                "them all as CSV and XLSX.</p>"
            )
        return out

    for name in chosen:
        a = snapshot.analyses[name]
        parts.append(
            f'<section class="wb-analysis" id="{_e(name)}"><h2>{_e(a.title)}</h2>'
            f'<p class="wb-meta wb-asof">Results {_e(_asof_line(snapshot, a))}</p>'
        )
        lead = lead_figure(a)
        if lead is not None:
            src = _figure_src(base_url, snapshot, name, lead, a.figures[lead], inline)
            parts.append(_img(src, a.figures[lead], _label(lead)))
        step = next_step(a)
        if step:
            parts.append(f'<p class="wb-next"><strong>Next step:</strong> {_e(step)}</p>')
        actions = action_tables(a)
        acted = {t for t, _ in actions}
        rows = _ROWS_OVERVIEW if analysis == ALL else _ROWS_DETAIL
        if inline:
            rows = _ROWS_EXPORT
        for tname, heading in actions:
            if tname == pick:
                continue
            parts.append('<div class="wb-action">')
            parts.append(table_block(name, tname, a.tables[tname], rows, heading, False))
            parts.append("</div>")
        if analysis != ALL and pick is not None:
            parts.append(table_block(name, pick, a.tables[pick], _ROWS_DETAIL, _label(pick), True))
        evidence = []
        if a.answer:
            full = "".join(f"<li>{_e(x)}</li>" for x in a.answer)
            evidence.append(
                f'<p class="wb-meta"><strong>The answer in full, with its statistics</strong>'
                f'</p><ul class="wb-full-answer">{full}</ul>'
            )
        for fig_name, path in a.figures.items():
            if fig_name != lead:
                src = _figure_src(base_url, snapshot, name, fig_name, path, inline)
                evidence.append(_img(src, path, _label(fig_name)))
        if analysis == ALL:
            for tname, path in a.tables.items():
                if tname not in acted:
                    evidence.append(table_block(name, tname, path, rows, _label(tname), False))
        if evidence:
            box = f"wb-ev-{name}"
            parts.append(
                f'<input type="checkbox" class="wb-toggle" id="{_e(box)}">'
                f'<label class="wb-evidence-label" id="{_e(name)}--evidence" '
                f'for="{_e(box)}">How sure are we? '
                "The statistics and diagnostics</label>"
                f'<div class="wb-evidence">{"".join(evidence)}</div>'
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


def table_csv(path) -> bytes:
    """A recorded Parquet table (a path, or a pyarrow Table already read) as CSV, full
    precision, for a spreadsheet.

    A text cell (or header) that a spreadsheet would run as a formula (it starts with
    ``=``, ``+``, ``-``, ``@``, a tab or a carriage return) gets a leading ``'``, as in
    the runner's own CSV copies (OWASP's advice for CSV injection).
    """
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pcsv
    import pyarrow.parquet as pq

    table = path if isinstance(path, pa.Table) else pq.read_table(path)
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
