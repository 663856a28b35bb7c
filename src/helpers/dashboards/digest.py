"""The Monday digest: per team, what needs attention, most urgent first, read from the
teams' recorded runs (answers and tables; nothing recomputed, no warehouse query).

What it lists, per team:

- a failed newest attempt, no successful run yet, or a stale run (finished more than
  ``stale_days`` ago, or on data more than ``stale_days`` older than the run);
- accounts that slipped (left a healthy segment) since the previous period, and their
  ARR: the money newly at risk;
- the demand leader, and whether it is new since the team's previous run;
- themes of comments that are new;
- the team's metric: its last change against the previous period, and unusual periods.

Claims of a difference (a demand leader, a new theme) are tested across every team at
once: the p-values of every such hypothesis the digest scans (every team's leader against
each other feature it was compared with, every theme of every team) go through
Benjamini–Hochberg (``statsmodels.stats.multitest.multipletests``, ``fdr_bh``), and only
those whose adjusted p-value is at most ``alpha`` are claimed: the expected share of false
claims in the whole digest stays at most ``alpha``.

The landing page shows the same rows (:func:`build_digest`); ``workbook digest`` writes them
as Markdown and HTML into ``outputs/_digest/<date>/``.
"""

from __future__ import annotations

import datetime as dt
import html
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from .. import paths
from .snapshot import Snapshot, TeamStatus, list_teams, load_snapshot, served_teams

__all__ = [
    "STALE_DAYS",
    "Digest",
    "Finding",
    "TeamDigest",
    "build_digest",
    "write_digest",
]

#: A team's results are stale when its run finished more than this many days ago, or ran
#: on data more than this many days old (weekly runs plus a day of slack).
STALE_DAYS = 8

# urgency of each kind of finding: lower is more urgent
_URGENCY = {
    "failed": 0,
    "no_run": 0,
    "stale": 1,
    "slipped": 2,
    "leader": 3,
    "new_theme": 4,
    "unusual": 5,
    "metric": 6,
    "nps": 7,
}


@dataclass(frozen=True)
class Finding:
    """One line of the digest about one team."""

    kind: str
    text: str
    urgency: int
    link: str = ""  # the page's query (``analysis=…&table=…``), "" for the team page
    value: float | None = None  # the money or count that orders findings of one kind
    p: float | None = None  # raw p-value of a claim scanned for the FDR
    p_adj: float | None = None  # Benjamini–Hochberg adjusted across every scanned claim


@dataclass
class TeamDigest:
    """A team's row: its run, its headline numbers (from the recorded answers) and findings."""

    team: str
    title: str
    as_of: str | None
    finished_at: str | None
    status: str
    stale: bool = False
    numbers: dict[str, Any] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)

    @property
    def urgency(self) -> tuple:
        """Sort key: the most urgent finding, then the money that slipped (largest first)."""
        worst = min((f.urgency for f in self.findings), default=99)
        return (worst, -(self.numbers.get("slipped_money") or 0.0), self.title)


@dataclass
class Digest:
    """The digest of every served team, most urgent first."""

    generated_at: dt.datetime
    teams: list[TeamDigest]
    scanned: int
    alpha: float
    stale_days: int

    def summary(self) -> str:
        """One line: how many teams need attention."""
        need = [t for t in self.teams if any(f.urgency <= 5 for f in t.findings)]
        return (
            f"{len(need)} of {len(self.teams)} teams need attention; "
            f"{self.scanned} claims scanned across teams at a false discovery rate of "
            f"{self.alpha:.0%}."
        )

    def markdown(self, base_url: str = "http://127.0.0.1:8866/") -> str:
        """The digest in Markdown (e-mail, chat), with links to the pages."""
        base = base_url if base_url.endswith("/") else base_url + "/"
        out = [
            f"# Product teams: the digest of {self.generated_at:%Y-%m-%d}",
            "",
            _md(self.summary())
            + f" Teams most in need first; a run older than {self.stale_days} days is stale.",
            "",
        ]
        for t in self.teams:
            head = f"## [{_md(t.title)}]({_team_url(base, t.team)})"
            when = f"as of {t.as_of}" if t.as_of else "no successful run"
            out += [head, "", f"*{_md(when)}*", ""]
            for f in t.findings:
                link = f" ([see]({_team_url(base, t.team, f.link)}))" if f.link else ""
                out.append(f"- {_md(f.text)}{link}")
            if not t.findings:
                out.append("- Nothing needs attention.")
            out.append("")
        return "\n".join(out)

    def html(self, base_url: str = "http://127.0.0.1:8866/") -> str:
        """The digest as one HTML page (no script, no outside resource); values escaped."""
        from .render import document

        base = base_url if base_url.endswith("/") else base_url + "/"
        e = html.escape
        body = [
            '<div class="wb-page">',
            f"<h1>Product teams: the digest of {self.generated_at:%Y-%m-%d}</h1>",
            f'<p class="wb-meta">{e(self.summary())} Teams most in need first; a run older '
            f"than {self.stale_days} days is stale.</p>",
        ]
        for t in self.teams:
            when = f"as of {t.as_of}" if t.as_of else "no successful run"
            body.append(
                f'<h2><a href="{e(_team_url(base, t.team))}">{e(t.title)}</a> '
                f'<span class="wb-asof">{e(when)}</span></h2><ul class="wb-attention">'
            )
            for f in t.findings:
                cls = ' class="wb-stale"' if f.kind in ("stale", "failed", "no_run") else ""
                link = (
                    f' (<a href="{e(_team_url(base, t.team, f.link))}">see</a>)' if f.link else ""
                )
                body.append(f"<li{cls}>{e(f.text)}{link}</li>")
            if not t.findings:
                body.append("<li>Nothing needs attention.</li>")
            body.append("</ul>")
        body.append("</div>")
        return document(f"Digest {self.generated_at:%Y-%m-%d}", "".join(body))


_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|~])")


def _md(text: str) -> str:
    """Text safe in Markdown: its special characters escaped (no link, tag or emphasis
    can come from a recorded value)."""
    return _MD_SPECIAL.sub(r"\\\1", str(text))


def _team_url(base: str, team: str, query: str = "") -> str:
    return f"{base}team/{quote(team, safe='')}" + (f"?{query}" if query else "")


def money(x: float, word: str = "ARR") -> str:
    """``$2.8M ARR``: money as the answers write it."""
    x = float(x)
    for div, unit in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(x) >= div:
            return f"${x / div:.1f}{unit} {word}"
    return f"${x:,.0f} {word}"


def _parse_time(stamp: Any) -> dt.datetime | None:
    try:
        t = dt.datetime.fromisoformat(str(stamp))
    except (TypeError, ValueError):
        return None
    return t if t.tzinfo else t.replace(tzinfo=dt.UTC)


def _parse_day(value: Any) -> dt.date | None:
    try:
        return dt.date.fromisoformat(str(value))
    except (TypeError, ValueError):
        return None


def _read(path: Path | None):
    """A recorded table as a list of dicts (pyarrow), or [] when absent or unreadable."""
    if path is None:
        return []
    import pyarrow.parquet as pq

    try:
        return pq.read_table(path).to_pylist()
    except (OSError, ValueError):
        return []


def _number(x: Any) -> float | None:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(v) else v


def _previous_winner(team: str, run_id: str) -> tuple[bool, str | None]:
    """(found, winner) of the team's feature demand in its last successful run before
    ``run_id`` (read from that run's recorded answer)."""
    import json

    folder = paths.TeamFolder(team)
    for run in reversed(folder.runs()):
        if run.run_id >= run_id:
            continue
        manifest = run.read_manifest()
        if not manifest or manifest.get("status") != "succeeded":
            continue
        try:
            data = json.loads(run.answer("feature_demand").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        facts = data.get("facts") if isinstance(data, dict) else None
        if isinstance(facts, dict) and "winner" in facts:
            return True, facts.get("winner")
    return False, None


def _claims(snap: Snapshot) -> list[dict]:
    """The hypotheses this team's run scanned that the digest may claim: its demand
    leader against each feature it was compared with (one p-value: the largest, since the
    leader must beat every other), and every theme's rise in comments."""
    out = []
    fd = snap.analyses.get("feature_demand")
    if fd is not None and "pairs" in fd.tables:
        pairs = _read(fd.tables["pairs"])
        demand = _read(fd.tables.get("demand"))
        names = {r.get("feature"): r.get("name") or r.get("feature") for r in demand}
        leader = fd.facts.get("winner") or (demand[0].get("feature") if demand else None)
        ps = [
            _number(r.get("p"))
            for r in pairs
            if leader is not None and leader in (r.get("a"), r.get("b"))
        ]
        ps = [p for p in ps if p is not None]
        if leader is not None and ps:
            out.append(
                {
                    "kind": "leader",
                    "feature": leader,
                    "name": names.get(leader, leader),
                    "p": max(ps),
                    "recorded_winner": fd.facts.get("winner"),
                    "names": names,
                }
            )
    fb = snap.analyses.get("customer_feedback")
    if fb is not None and "emerging" in fb.tables:
        for r in _read(fb.tables["emerging"]):
            p = _number(r.get("p"))
            if p is None:
                continue
            out.append(
                {
                    "kind": "new_theme",
                    "name": str(r.get("name") or r.get("theme")),
                    "p": p,
                    "rise": _number(r.get("rise")),
                    "recent_share": _number(r.get("recent_share")),
                    "earlier_share": _number(r.get("earlier_share")),
                    "recorded_new": bool(r.get("new")),
                }
            )
    return out


def _metric_findings(snap: Snapshot, numbers: dict) -> list[Finding]:
    mt = snap.analyses.get("metric_trends")
    if mt is None:
        return []
    out = []
    metric = str(mt.facts.get("metric") or "the metric").replace("_", " ")
    changes = _read(mt.tables.get("changes"))
    if changes:
        row = changes[0]
        pct = _number(row.get("change_pct"))
        value, ref = _number(row.get("value")), _number(row.get("reference_value"))
        if pct is not None and value is not None and ref is not None:
            numbers.update(
                metric=metric,
                metric_value=value,
                metric_reference=ref,
                metric_change_pct=pct,
                metric_comparison=str(row.get("comparison") or "the previous period"),
            )
            out.append(
                Finding(
                    "metric",
                    f"{metric.capitalize()}: {value:,.0f} against {ref:,.0f} "
                    f"({pct:+.1f}%, {numbers['metric_comparison']}).",
                    _URGENCY["metric"],
                    "analysis=metric_trends",
                    value=abs(pct),
                )
            )
    anomalies = _read(mt.tables.get("anomalies"))
    as_of = _parse_day(mt.as_of)
    if anomalies and as_of is not None:
        recent = [
            a
            for a in anomalies
            if (d := _parse_day(str(a.get("period"))[:10])) is not None and (as_of - d).days <= 28
        ]
        numbers["unusual_periods"] = len(recent)
        if recent:
            out.append(
                Finding(
                    "unusual",
                    f"{len(recent)} unusual period(s) of {metric} in the last 4 weeks "
                    f"(latest {str(recent[-1].get('period'))[:10]}).",
                    _URGENCY["unusual"],
                    "analysis=metric_trends&table=anomalies",
                    value=len(recent),
                )
            )
    return out


def build_digest(
    teams: Sequence[str] | None = None,
    *,
    now: dt.datetime | None = None,
    stale_days: int = STALE_DAYS,
    alpha: float = 0.05,
) -> Digest:
    """The digest of every served team (or ``teams``), most urgent first.

    Parameters
    ----------
    teams
        The teams (default: every ``params/<team>.yaml``).
    now
        The time staleness is measured against (default: now, UTC).
    stale_days
        A run is stale when it finished more than this many days before ``now``, or ran on
        data (``as_of``) more than this many days older than the run.
    alpha
        The false discovery rate of the claims across all teams (Benjamini–Hochberg).
    """
    from statsmodels.stats.multitest import multipletests

    now = now or dt.datetime.now(dt.UTC)
    rows: list[TeamDigest] = []
    claims: list[tuple[TeamDigest, Snapshot, dict]] = []
    statuses: dict[str, TeamStatus] = {s.team: s for s in list_teams(teams)}
    for team in served_teams(teams):
        st = statuses.get(team)
        snap = load_snapshot(team, teams=teams)
        row = TeamDigest(
            team=team,
            title=(snap.title if snap else (st.title if st else team)),
            as_of=snap.as_of if snap else None,
            finished_at=snap.finished_at if snap else None,
            status=(st.last_attempt_status if st else None) or "no run yet",
        )
        rows.append(row)
        if snap is None:
            row.findings.append(Finding("no_run", "No successful run yet.", _URGENCY["no_run"]))
            continue
        if st and st.last_attempt_run_id and st.last_attempt_run_id != st.latest_run_id:
            row.findings.append(
                Finding(
                    "failed",
                    f"The newest run ({st.last_attempt_run_id}) is {st.last_attempt_status}: "
                    f"the page shows the run of {snap.as_of}.",
                    _URGENCY["failed"],
                )
            )
        finished = _parse_time(snap.finished_at)
        as_of = _parse_day(snap.as_of)
        age = (now - finished).days if finished else None
        lag = (finished.date() - as_of).days if finished and as_of else None
        row.numbers.update(run_age_days=age, data_lag_days=lag)
        if age is not None and age > stale_days:
            row.stale = True
            row.findings.append(
                Finding(
                    "stale",
                    f"Stale: the last good run finished {age} days ago.",
                    _URGENCY["stale"],
                )
            )
        elif lag is not None and lag > stale_days:
            row.stale = True
            row.findings.append(
                Finding(
                    "stale",
                    f"Stale data: results as of {snap.as_of}, {lag} days before the run.",
                    _URGENCY["stale"],
                )
            )
        seg = snap.analyses.get("customer_segmentation")
        if seg is not None:
            f = seg.facts
            word = str(f.get("money") or "ARR")
            for key in ("slipped_accounts", "slipped_money", "at_risk_accounts", "at_risk_money"):
                if _number(f.get(key)) is not None:
                    row.numbers[key] = f[key]
            row.numbers["money"] = word
            n = f.get("slipped_accounts")
            if isinstance(n, int) and n > 0:
                m = float(f.get("slipped_money") or 0.0)
                row.findings.append(
                    Finding(
                        "slipped",
                        f"{n:,} accounts ({money(m, word)}) left a healthy segment since "
                        f"{f.get('previous_as_of', 'the previous period')}: call them.",
                        _URGENCY["slipped"],
                        "analysis=customer_segmentation&table=slipping",
                        value=m,
                    )
                )
        fb = snap.analyses.get("customer_feedback")
        if fb is not None and _number(fb.facts.get("nps")) is not None:
            row.numbers.update(
                nps=fb.facts.get("nps"),
                nps_lo=fb.facts.get("nps_lo"),
                nps_hi=fb.facts.get("nps_hi"),
            )
        row.findings.extend(_metric_findings(snap, row.numbers))
        fd = snap.analyses.get("feature_demand")
        if fd is not None and "winner" in fd.facts:
            row.numbers["winner"] = fd.facts.get("winner")
        for c in _claims(snap):
            claims.append((row, snap, c))
    if claims:
        ps = [min(max(c["p"], 0.0), 1.0) for _, _, c in claims]
        reject, p_adj, _, _ = multipletests(ps, alpha=alpha, method="fdr_bh")
        for (row, snap, c), ok, q in zip(claims, reject, p_adj, strict=True):
            if c["kind"] == "leader":
                row.numbers["leader"] = c["name"]
                row.numbers["leader_p_adj"] = float(q)
                if not ok:
                    continue
                found, before = _previous_winner(row.team, snap.run_id)
                new = found and before != c["feature"]
                text = (
                    f"New demand leader: {c['name']}"
                    + (f" (was {c['names'].get(before, before)})" if before else "")
                    if new
                    else f"Demand leader: {c['name']}"
                )
                row.findings.append(
                    Finding(
                        "leader",
                        text + ".",
                        _URGENCY["leader"] if new else _URGENCY["leader"] + 3,
                        "analysis=feature_demand",
                        p=c["p"],
                        p_adj=float(q),
                    )
                )
            elif c["kind"] == "new_theme" and ok and (c["rise"] or 0) > 0:
                share = c.get("recent_share")
                before = c.get("earlier_share")
                words = (
                    f", {before:.0%} → {share:.0%} of comments"
                    if share is not None and before is not None
                    else ""
                )
                row.findings.append(
                    Finding(
                        "new_theme",
                        f"New in comments: “{c['name']}”{words}.",
                        _URGENCY["new_theme"],
                        "analysis=customer_feedback&table=emerging",
                        value=share,
                        p=c["p"],
                        p_adj=float(q),
                    )
                )
    for row in rows:
        row.findings.sort(key=lambda f: (f.urgency, -(f.value or 0.0)))
    rows.sort(key=lambda r: r.urgency)
    return Digest(now, rows, len(claims), alpha, stale_days)


def write_digest(
    digest: Digest, out: Path | None = None, *, base_url: str = "http://127.0.0.1:8866/"
) -> tuple[Path, Path]:
    """Write ``digest.md`` and ``digest.html`` into ``out`` (default
    ``outputs/_digest/<date>/``); returns both paths."""
    folder = out or paths.digest_dir() / f"{digest.generated_at:%Y-%m-%d}"
    folder.mkdir(parents=True, exist_ok=True)
    md, page = folder / "digest.md", folder / "digest.html"
    md.write_text(digest.markdown(base_url), encoding="utf-8")
    page.write_text(digest.html(base_url), encoding="utf-8")
    return md, page
