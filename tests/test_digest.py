"""The Monday digest: numbers read from the recorded answers, stale and failed runs flagged,
claims across teams held to a false discovery rate, values escaped; `workbook digest`."""

from __future__ import annotations

import datetime as dt
import json

import pandas as pd
import pytest
from support.cli import cli
from support.dashboard_runs import write_params, write_run

from helpers.dashboards.digest import build_digest

TEAMS = ["admin", "analytics", "billing"]
NOW = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)


def _facts(run, notebook: str, **facts) -> None:
    path = run / "answers" / f"{notebook}.json"
    data = json.loads(path.read_text())
    data["facts"] = facts
    path.write_text(json.dumps(data))


def _demand(run, winner, p_values: dict[str, float]) -> None:
    """A recorded demand comparison: ``winner`` against each other feature, raw p-values."""
    folder = run / "tables" / "feature_demand"
    feats = [winner, *p_values]
    pd.DataFrame(
        {"feature": feats, "name": [f.replace("_", " ").title() for f in feats]}
    ).to_parquet(folder / "demand.parquet")
    pd.DataFrame(
        {"a": [winner] * len(p_values), "b": list(p_values), "p": list(p_values.values())}
    ).to_parquet(folder / "pairs.parquet")


def _themes(run, themes: dict[str, float]) -> None:
    folder = run / "tables" / "customer_feedback"
    folder.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(
        {
            "theme": range(len(themes)),
            "name": list(themes),
            "earlier_share": [0.02] * len(themes),
            "recent_share": [0.2] * len(themes),
            "rise": [0.18] * len(themes),
            "p": list(themes.values()),
            "new": [True] * len(themes),
        }
    ).to_parquet(folder / "emerging.parquet")
    (run / "answers" / "customer_feedback.json").write_text(
        json.dumps({"answer": ["NPS 12."], "facts": {"nps": 12.0, "nps_lo": 4.0, "nps_hi": 20.0}})
    )


@pytest.fixture
def root(tmp_path, monkeypatch):
    write_params(tmp_path, TEAMS)
    (tmp_path / "outputs").mkdir()
    monkeypatch.setenv("WORKBOOK_ROOT", str(tmp_path))
    monkeypatch.delenv("WORKBOOK_OUTPUTS", raising=False)
    return tmp_path


@pytest.fixture
def planted(root):
    """Three teams: admin fresh, analytics stale (run 30 days before NOW), billing failed.

    Planted p-values, 6 claims scanned in all: admin's leader (0.001 and 0.004 against its
    two rivals: the claim's p is the larger, 0.004), analytics's leader (0.04, 0.01 → 0.04),
    themes 0.0005, 0.02 and 0.3 (admin) and 0.045 (analytics).
    """
    out = root / "outputs"
    fresh = NOW - dt.timedelta(hours=3)
    admin = write_run(out, "admin", as_of="2026-11-01", started=fresh)
    _facts(
        admin,
        "customer_segmentation",
        slipped_accounts=12,
        slipped_money=1_234_567.0,
        at_risk_accounts=40,
        at_risk_money=2_500_000.0,
        money="ARR",
        previous_as_of="2026-10-04",
    )
    _facts(admin, "feature_demand", winner="dark_mode")
    _demand(admin, "dark_mode", {"sso": 0.001, "api": 0.004})
    _themes(admin, {"slow reports": 0.0005, "price": 0.02, "[click](http://x) <b>": 0.3})
    old = NOW - dt.timedelta(days=30)
    analytics = write_run(out, "analytics", as_of="2026-10-02", started=old)
    _facts(
        analytics,
        "customer_segmentation",
        slipped_accounts=3,
        slipped_money=50_000.0,
        money="ARR",
        previous_as_of="2026-09-04",
    )
    _facts(analytics, "feature_demand", winner="funnels")
    _demand(analytics, "funnels", {"cohorts": 0.04, "alerts": 0.01})
    _themes(analytics, {"crashes": 0.045})
    write_run(out, "billing", as_of="2026-11-01", started=fresh)  # succeeded, then …
    write_run(
        out, "billing", as_of="2026-11-01", started=fresh + dt.timedelta(hours=1), status="failed"
    )
    return root


def _bh(p: list[float], alpha: float = 0.05) -> list[bool]:
    """Benjamini–Hochberg by hand: reject the k smallest, k the largest with p_(k) ≤ k/m·α."""
    m = len(p)
    order = sorted(range(m), key=lambda i: p[i])
    k = max((r + 1 for r, i in enumerate(order) if p[i] <= (r + 1) / m * alpha), default=0)
    keep = set(order[:k])
    return [i in keep for i in range(m)]


def test_claims_across_teams_are_held_to_the_false_discovery_rate(planted):
    d = build_digest(now=NOW)
    claims = {
        "admin leader": 0.004,
        "analytics leader": 0.04,
        "slow reports": 0.0005,
        "price": 0.02,
        "link theme": 0.3,
        "crashes": 0.045,
    }
    expected = dict(zip(claims, _bh(list(claims.values())), strict=True))
    assert d.scanned == len(claims)
    rows = {t.team: t for t in d.teams}
    texts = {team: " ".join(f.text for f in rows[team].findings) for team in rows}
    assert ("Dark Mode" in texts["admin"]) == expected["admin leader"]
    assert ("Funnels" in texts["analytics"]) == expected["analytics leader"]
    assert ("slow reports" in texts["admin"]) == expected["slow reports"]
    assert ("price" in texts["admin"]) == expected["price"]
    assert ("crashes" in texts["analytics"]) == expected["crashes"]
    # 0.04 and 0.045 would each pass alone at 5%: the digest does not claim them
    assert not expected["crashes"] and not expected["analytics leader"]


def test_stale_and_failed_runs_are_flagged_and_come_first(planted):
    d = build_digest(now=NOW)
    rows = {t.team: t for t in d.teams}
    assert rows["analytics"].stale and not rows["admin"].stale
    assert [f.kind for f in rows["billing"].findings][0] == "failed"
    assert [t.team for t in d.teams][0] == "billing"  # a failed run is the most urgent
    assert "Stale" in rows["analytics"].findings[0].text


def test_numbers_are_the_recorded_answers(planted):
    facts = json.loads(
        (planted / "outputs/admin/latest/answers/customer_segmentation.json").read_text()
    )["facts"]
    row = {t.team: t for t in build_digest(now=NOW).teams}["admin"]
    for key in ("slipped_accounts", "slipped_money", "at_risk_accounts", "at_risk_money"):
        assert row.numbers[key] == facts[key]


def test_recorded_text_cannot_make_links_or_tags(planted, root):
    d = build_digest(now=NOW)
    md, page = d.markdown(), d.html()
    assert "[click](http://x)" not in md and "<b>" not in md
    assert "<b>" not in page.split("<body>")[1]


@pytest.mark.slow  # a fresh process
def test_workbook_digest_writes_markdown_and_html_with_the_answers_numbers(planted, tmp_path):
    out = tmp_path / "digest"
    r = cli(
        "digest",
        "--out",
        str(out),
        "--base-url",
        "https://pm.example.com/",
        env={"WORKBOOK_ROOT": str(planted)},
    )
    assert r.returncode == 0, r.stderr
    md = (out / "digest.md").read_text()
    page = (out / "digest.html").read_text()
    facts = json.loads(
        (planted / "outputs/admin/latest/answers/customer_segmentation.json").read_text()
    )["facts"]
    # the answer's numbers, formatted here independently: 12 accounts, $1.2M ARR
    n, money = facts["slipped_accounts"], facts["slipped_money"]
    line = f"{n} accounts (${money / 1e6:.1f}M ARR) left a healthy segment since 2026-10-04"
    assert line in md and line in page and line in r.stdout
    assert "https://pm.example.com/team/admin?analysis=customer_segmentation&table=slipping" in md
    assert "<script" not in page and "http://" not in page.replace("http://www.w3.org", "")
    for team in ("admin", "analytics", "billing"):  # one clean export per team beside it
        export = (out / f"{team}.html").read_text()
        assert "<script" not in export and "PosixPath" not in export


@pytest.mark.slow  # a fresh process
def test_workbook_digest_refuses_an_unknown_team_in_one_sentence(planted):
    r = cli("digest", "--team", "nosuch", env={"WORKBOOK_ROOT": str(planted)})
    assert r.returncode == 1
    assert r.stderr.startswith("error: The value for `team`") and "Traceback" not in r.stderr


def test_a_new_significant_demand_leader_is_named_with_the_one_it_replaced(planted):
    out = planted / "outputs"
    # an earlier successful run of admin whose leader was API
    earlier = write_run(
        out, "admin", as_of="2026-10-25", started=NOW - dt.timedelta(days=7), link_latest=False
    )
    _facts(earlier, "feature_demand", winner="api")
    row = {t.team: t for t in build_digest(now=NOW).teams}["admin"]
    (leader,) = [f for f in row.findings if f.kind == "leader"]
    assert leader.text.startswith("New demand leader: Dark Mode (was Api)")


@pytest.mark.slow  # a fresh process and a headless Chromium
def test_workbook_digest_prints_each_export_to_a_pdf_with_every_analysis(planted, tmp_path):
    from pypdf import PdfReader

    out = tmp_path / "digest"
    r = cli(
        "digest", "--team", "admin", "--pdf", "--out", str(out), env={"WORKBOOK_ROOT": str(planted)}
    )
    assert r.returncode == 0, r.stderr
    text = " ".join(p.extract_text() for p in PdfReader(out / "admin.pdf").pages)
    for title in ("Customer segments", "Feature demand", "Metric trends", "Customer feedback"):
        assert title in text, title
