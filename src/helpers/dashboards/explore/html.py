"""HTML of the explorer's answer: the sentences first, then the chart, the breakdown's
small multiples with their slopes, the weekly values, and the "keep this as a weekly
report" box. Every text is escaped; figures are inline PNG (the live pages' CSP allows
``data:`` images and nothing from elsewhere)."""

from __future__ import annotations

import html
from typing import Any

from ..render import cell_text, column_label

__all__ = ["answer_html", "notice_html", "STYLE"]

_e = html.escape

STYLE = """
<style>
.wb-explore { font-family: system-ui, sans-serif; max-width: 1000px; }
.wb-explore .wb-answer { background: #f3f6fa; border-left: 4px solid #3b6ea5; padding: .4em 1em; }
.wb-explore .wb-answer li { margin: .25em 0; }
.wb-explore img.wb-chart { max-width: 100%; height: auto; display: block; margin: .6em 0; }
.wb-explore table { border-collapse: collapse; font-size: 90%; }
.wb-explore th, .wb-explore td { padding: .15em .6em; border-bottom: 1px solid #ddd; text-align: left; }
.wb-explore td.wb-num { text-align: right; font-variant-numeric: tabular-nums; }
.wb-explore .wb-meta { color: #555; font-size: 90%; }
.wb-explore pre { background: #f7f7f7; padding: .6em; overflow-x: auto; }
.wb-notice { background: #fff4e5; border-left: 4px solid #c77700; padding: .5em 1em; }
</style>
"""

_SEGMENT_COLUMNS = ("segment", "trend", "sen_slope", "slope_pct", "p_holm", "change_pct", "last")


def notice_html(sentence: str) -> str:
    """One plain sentence, for a value the page does not offer or a view it cannot compute."""
    return f'<p class="wb-notice" role="alert">{_e(sentence)}</p>'


def _table(rows: list[dict[str, Any]], columns: list[str], cls: str) -> str:
    head = "".join(f"<th>{_e(column_label(c))}</th>" for c in columns)
    body = []
    for r in rows:
        cells = []
        for c in columns:
            v = r.get(c)
            num = isinstance(v, (int, float)) and not isinstance(v, bool)
            text = "" if v is None else cell_text(v) if num else str(v)
            # the exact number rides along (data-v), the cell shows it rounded for reading
            attrs = f' class="wb-num" data-v="{float(v)!r}"' if num else ""
            cells.append(f"<td{attrs}>{_e(text)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return (
        f'<table class="{cls}"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'
    )


def _when(answer) -> str:
    latest = (answer.data_latest or "unknown").replace("T", " ")
    how = {"memory": "kept in this page", "disk": "kept from an earlier view"}.get(
        answer.cached, "computed now"
    )
    return (
        f'<p class="wb-meta wb-loaded">Data loaded: events up to {_e(latest)} (source read '
        f"{_e(answer.checked_at)}); as of {_e(answer.as_of)}, the last complete day. "
        f"This view: {_e(how)}, {answer.seconds:.2f} s.</p>"
    )


def answer_html(answer, view_key: str = "") -> str:
    """The whole answer of one view (see the module docstring)."""
    per = {"day": "Daily", "week": "Weekly", "month": "Monthly"}[answer.grain]
    complete = "1" if answer.complete else "0"
    parts = [f'<div class="wb-explore" data-view="{_e(view_key)}" data-complete="{complete}">']
    parts.append(f"<h2 class='wb-title'>{_e(answer.title)}</h2>")
    items = "".join(f"<li>{_e(s)}</li>" for s in answer.sentences)
    if not answer.complete:
        items += (
            '<li class="wb-pending" role="status">Forecast: computing it and checking it '
            "against past periods (a few seconds); the chart gains it when ready.</li>"
        )
    parts.append(f'<section class="wb-answer"><h3>The answer</h3><ul>{items}</ul></section>')
    if answer.chart:
        alt = f"{answer.title}: complete periods, level shifts, unusual periods and forecast"
        parts.append(
            f'<img class="wb-chart wb-series" alt="{_e(alt)}" '
            f'src="data:image/png;base64,{answer.chart}">'
        )
    if answer.notes:
        notes = "".join(f"<li>{_e(s)}</li>" for s in answer.notes)
        parts.append(f'<ul class="wb-meta wb-notes">{notes}</ul>')
    if answer.comparison:
        parts.append(f'<p class="wb-meta">{_e(answer.comparison)}</p>')
    if answer.segments_chart:
        by = answer.compare_by or "segment"
        parts.append(f"<h3>By {_e(by)}: each segment's trend</h3>")
        parts.append(
            f'<img class="wb-chart wb-segments" alt="{_e(answer.title)} by {_e(by)}" '
            f'src="data:image/png;base64,{answer.segments_chart}">'
        )
        cols = [c for c in _SEGMENT_COLUMNS if answer.segments and c in answer.segments[0]]
        parts.append(_table(answer.segments, cols, "wb-segments-table"))
    if answer.values:
        rows = [
            {
                "period": str(r.get("period", ""))[:10],
                "value": r.get("value"),
                "status": r.get("status"),
            }
            for r in answer.values
        ]
        parts.append(
            f'<details class="wb-values"><summary>{per} values ({len(rows)} periods)</summary>'
            + _table(rows, ["period", "value", "status"], "wb-values-table")
            + "</details>"
        )
    parts.append(
        '<details class="wb-keep"><summary>Keep this as a weekly report</summary>'
        "<p>Save this as a params file, then run it (or let the schedule run every team):</p>"
        f'<pre class="wb-yaml">{_e(answer.yaml)}</pre>'
        f'<pre class="wb-run">{_e(answer.run_line)}</pre>'
        f'<p class="wb-meta">Add <code>--as-of {_e(answer.as_of)}</code> to reproduce '
        "exactly these numbers; without it the report follows the data.</p></details>"
    )
    parts.append(_when(answer))
    parts.append("</div>")
    return "".join(parts)
