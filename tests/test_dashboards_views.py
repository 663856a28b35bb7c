"""Table views of the PM pages without a browser: sort and filter from the address, the
downloads of a view, the one-file export, the action lists and next steps; the lists
behind them (who slipped, who asked) against plain pandas."""

from __future__ import annotations

import datetime as dt
import html
import io
import json
import re

import duckdb
import pandas as pd
import pytest
from support.dashboard_runs import write_params, write_run

from helpers import dashboards
from helpers.customer_segmentation.movement import account_moves, healthy_segments
from helpers.customer_segmentation.rfm import rfm_rules_table
from helpers.errors import WorkbookError

EVIL = "<img src=x onerror=alert(1)>"


@pytest.fixture
def outputs(tmp_path, monkeypatch):
    write_params(tmp_path, ["analytics"])
    (tmp_path / "outputs").mkdir()
    monkeypatch.setenv("WORKBOOK_ROOT", str(tmp_path))
    monkeypatch.delenv("WORKBOOK_OUTPUTS", raising=False)
    return tmp_path / "outputs"


@pytest.fixture
def slipping(outputs):
    """A run whose segmentation recorded a ``slipping`` list (ids, regions, ARR)."""
    run = write_run(outputs, "analytics")
    frame = pd.DataFrame(
        {
            "account_id": [f"acc-{i:03d}" for i in range(8)],
            "name": ["Acme", "=HYPERLINK(1)", "Blue", "Crane", "Delta", EVIL, "Echo", "Fox"],
            "region": ["EMEA", "APAC", "emea", "LATAM", "EMEA", "APAC", None, "EMEA"],
            "arr": [5.0, 80.0, 30.0, None, 12.5, 7.0, 60.0, 45.0],
        }
    )
    frame.to_parquet(run / "tables" / "customer_segmentation" / "slipping.parquet", index=False)
    return run, frame


def _ids(page: str, table: str) -> list[str]:
    """First cells of the body rows of the table under ``<h3 id=table>`` (the account IDs)."""
    part = page.split(f'id="{table}"', 1)[1]
    body = part[part.index("<tbody>") : part.index("</tbody>")]
    return [html.unescape(m) for m in re.findall(r"<tr><td[^>]*>(.*?)</td>", body)]


def test_parse_query_reads_sort_order_and_filter():
    q = dashboards.parse_query("analysis=a&table=t&sort=arr&order=asc&q=North%20America")
    assert q["sort"] == "arr" and q["order"] == "asc" and q["q"] == "North America"


@pytest.mark.parametrize("query", ["order=up", "q=" + "x" * 65, "q=%07bell", "sort=../x"])
def test_parse_query_refuses_bad_views(query):
    with pytest.raises(WorkbookError):
        dashboards.parse_query(query)


def test_sorted_view_follows_the_column_with_missing_values_last(slipping):
    run, frame = slipping
    snap = dashboards.load_snapshot("analytics")
    view = {"sort": "arr", "order": "desc"}
    page = dashboards.team_html(snap, "customer_segmentation", "slipping", view=view)
    expected = frame.sort_values("arr", ascending=False, na_position="last").account_id
    assert _ids(page, "customer_segmentation--slipping") == expected.tolist()
    assert 'aria-sort="descending"' in page


def test_filtered_view_keeps_rows_whose_text_contains_it_in_any_case(slipping):
    run, frame = slipping
    snap = dashboards.load_snapshot("analytics")
    page = dashboards.team_html(snap, "customer_segmentation", "slipping", view={"q": "EmEa"})
    text = frame[["account_id", "name", "region"]].fillna("")
    hit = text.apply(lambda c: c.str.lower().str.contains("emea", regex=False)).any(axis=1)
    assert _ids(page, "customer_segmentation--slipping") == frame[hit].account_id.tolist()
    assert "Download the 4 rows shown as CSV" in page


def test_downloads_of_a_view_hold_its_rows_as_csv_and_xlsx(slipping):
    run, frame = slipping
    pages = dashboards.Pages("/")
    snap = pages.snapshot("analytics")
    args = ("analytics", snap.run_id, "tables", "customer_segmentation")
    csv = pages.file(*args, "slipping.csv", "sort=arr&order=asc&q=emea")
    xlsx = pages.file(*args, "slipping.xlsx", "sort=arr&order=asc&q=emea")
    expected = frame[frame.region.str.lower().eq("emea").fillna(False)].sort_values("arr")
    got = pd.read_csv(io.BytesIO(csv.body))
    assert got.account_id.tolist() == expected.account_id.tolist()
    book = pd.read_excel(io.BytesIO(xlsx.body), engine="openpyxl")
    assert book.account_id.tolist() == expected.account_id.tolist()
    assert book.arr.tolist() == expected.arr.tolist()
    assert xlsx.content_type.startswith("application/vnd.openxmlformats")


def test_xlsx_cells_are_never_formulas(slipping):
    from openpyxl import load_workbook

    pages = dashboards.Pages("/")
    snap = pages.snapshot("analytics")
    page = pages.file("analytics", snap.run_id, "tables", "customer_segmentation", "slipping.xlsx")
    sheet = load_workbook(io.BytesIO(page.body)).active
    values = [c.value for row in sheet.iter_rows() for c in row]
    assert "'=HYPERLINK(1)" in values
    assert not any(c.data_type == "f" for row in sheet.iter_rows() for c in row)


def test_a_download_with_an_unknown_key_is_400_in_one_sentence(slipping):
    pages = dashboards.Pages("/")
    snap = pages.snapshot("analytics")
    args = ("analytics", snap.run_id, "tables", "customer_segmentation", "slipping.csv")
    page = pages.file(*args, "team=analytics")
    assert page.status == 400 and b"Traceback" not in page.body


def test_sorting_needs_a_table(slipping):
    page = dashboards.Pages("/").team("analytics", "sort=arr")
    assert page.status == 400 and b"need an analysis and a table" in page.body


def test_action_list_and_next_step_come_before_the_collapsed_evidence(slipping):
    run, frame = slipping
    answer = run / "answers" / "customer_segmentation.json"
    data = json.loads(answer.read_text())
    data["facts"] = {"slipped_accounts": 8, "slipped_money": 239.5, "previous_as_of": "2026-10-03"}
    answer.write_text(json.dumps(data))
    page = dashboards.team_html(dashboards.load_snapshot("analytics"))
    section = page.split('id="customer_segmentation"', 1)[1].split("</section>")[0]
    assert section.index("Call these 8 accounts") < section.index("Who slipped")
    assert section.index("Who slipped") < section.index("How sure are we?")
    assert section.index("How sure are we?") < section.index("Segments</h3>")
    assert EVIL not in page and "&lt;img src=x onerror=alert(1)&gt;" in page


def test_the_export_is_one_file_with_figures_inside_and_no_script(slipping, outputs):
    snap = dashboards.load_snapshot("analytics")
    from helpers.dashboards.export import export_html

    text = export_html(snap)
    assert "<script" not in text and 'src="/' not in text and str(outputs) not in text
    assert text.count('src="data:image/png;base64,') == sum(
        len(a.figures) for a in snap.analyses.values()
    )
    assert "<title>Analytics · all analyses · as of 2026-10-31</title>" in text


def test_healthy_segments_of_the_standard_rules():
    # written out from the rule table's meanings: recent, or steady and valuable
    assert healthy_segments(rfm_rules_table()) == [
        "Champions",
        "Loyal",
        "Potential Loyalist",
        "New Customers",
        "Promising",
    ]


def test_account_moves_flags_leaving_a_healthy_segment_only():
    prev = pd.DataFrame(
        {
            "account_id": list("abcdef"),
            "rfm_segment": ["Champions", "Loyal", "Loyal", "At Risk", "Promising", "Lost"],
        }
    )
    cur = pd.DataFrame(
        {
            "account_id": list("abdeg"),
            "rfm_segment": ["Loyal", "At Risk", "Loyal", "Lost", "Champions"],
        }
    )
    info = pd.DataFrame(
        {
            "account_id": list("abcdefg"),
            "name": list("ABCDEFG"),
            "plan": ["pro"] * 7,
            "region": ["EMEA"] * 7,
            "status": ["active", "active", "churned", "active", "active", "inactive", "active"],
            "last_active": pd.to_datetime(["2026-10-01"] * 7),
            "requests": [0, 1, 2, 0, 3, 0, 0],
            "arr": [10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0],
        }
    )
    got = account_moves(
        prev, cur, info, by="rfm_segment", healthy=healthy_segments(rfm_rules_table())
    )
    by = got.set_index("account_id")
    # a: Champions → Loyal (healthy to healthy); b: Loyal → At Risk; c: Loyal → churned;
    # e: Promising → Lost; d: At Risk → Loyal (better); f: Lost → no activity; g: new
    assert set(by.index[by.slipped]) == {"b", "c", "e"}
    assert by.loc["c", "segment"] == "churned" and by.loc["f", "segment"] == "no activity"
    assert by.loc["g", "previous_segment"] == "new"
    assert got.account_id.tolist()[:3] == ["e", "c", "b"]  # slipped first, largest ARR first


@pytest.mark.slow  # queries the demo warehouse
def test_requesting_accounts_match_the_requests_table(demo_path):
    from helpers.data import connect, resolve_as_of
    from helpers.feature_demand.load import requesting_accounts

    feats = ["ai_insights", "dark_mode"]
    with connect(str(demo_path)) as wh:
        as_of = resolve_as_of(wh, None)
        got = requesting_accounts(wh, "analytics", feats, as_of=as_of, window_days=365)
    # plain SQL: requests in the window by accounts with an analytics event in the window
    start = dt.datetime.combine(as_of, dt.time()) - dt.timedelta(days=364)
    end = dt.datetime.combine(as_of, dt.time()) + dt.timedelta(days=1)
    con = duckdb.connect(str(demo_path), read_only=True)
    expected = con.execute(
        """
        select r.feature, r.account_id, count(*) as requests, max(r.importance) as imp
        from feature_requests r
        where r.feature in ('ai_insights', 'dark_mode')
          and r.created_at >= ? and r.created_at < ?
          and r.account_id in (select distinct account_id from events
                               where product_area = 'analytics' and ts >= ? and ts < ?)
        group by 1, 2
        """,
        [start, end, start, end],
    ).df()
    con.close()
    key = ["feature", "account_id"]
    merged = got.merge(expected, on=key, how="outer", indicator=True)
    assert (merged["_merge"] == "both").all()
    assert (merged.requests_x == merged.requests_y).all()
    words = {0: "not important", 1: "nice to have", 2: "important", 3: "critical"}
    assert (merged.importance == merged.imp.map(words)).all()
    assert not got.comments.str.contains("@", regex=False).any()


@pytest.mark.slow  # runs the demand comparison on the demo warehouse
def test_no_winner_next_step_names_enough_accounts_to_settle_it(demo_path):
    from statsmodels.stats.contingency_tables import mcnemar

    from helpers.data import connect, resolve_as_of
    from helpers.feature_demand import demand_report

    with connect(str(demo_path)) as wh:
        report = demand_report(
            wh,
            "analytics",
            ["ai_insights", "custom_metrics", "dark_mode", "pdf_reports"],
            as_of=resolve_as_of(wh, None),
            bootstrap_runs=200,
        )
    if report.result.winner:
        pytest.skip("the demo has a winner here: nothing to settle")
    top, more = report.requests_to_settle()
    assert f"about {more:,} more accounts" in report.next_step()
    c = report.result.overall
    worst = []
    for rival in c.contenders:
        if rival == top:
            continue
        row = c.pair(top, rival)
        x, y = (row.only_a, row.only_b) if row.a == top else (row.only_b, row.only_a)
        r = x / (x + y)

        def p(extra, x=x, y=y, r=r):
            # McNemar's score test (statsmodels, no continuity correction) at today's split
            a, b = x + extra * r, y + extra * (1 - r)
            return mcnemar([[0, a], [b, 0]], exact=False, correction=False).pvalue

        worst.append((p(more), p(more - 2), 1 - row.level))
    assert all(settled <= alpha for settled, _, alpha in worst)  # enough for every rival
    assert any(short > alpha for _, short, alpha in worst)  # and not much more than needed


def test_money_takes_the_served_currency_sign(slipping):
    pages = dashboards.Pages("/", currency="€")
    body = pages.team("analytics", "analysis=customer_segmentation&table=slipping").body.decode()
    assert ">€80</td>" in body and ">€12.50</td>" in body and ">$80</td>" not in body
    cmd = dashboards.server_command(currency="€", stale_days=3)
    assert "--DashboardApp.currency=€" in cmd and "--DashboardApp.stale_days=3" in cmd


@pytest.mark.parametrize("bad", ["", "EURO", "\x00"])
def test_a_bad_currency_is_refused_in_one_sentence(bad):
    with pytest.raises(WorkbookError, match="`currency`"):
        dashboards.server_command(currency=bad)


def test_recorder_calls_print_no_path_into_a_notebook(tmp_path):
    """A cell ending with ``rec.figure(…)`` or ``rec.answer(…)`` displays its value: it
    must not be the run folder's path (the PMs' HTML showed ``PosixPath('…/outputs/…')``)."""
    import matplotlib.pyplot as plt

    from helpers.results import Recorder

    rec = Recorder(tmp_path, "feature_demand")
    fig = plt.figure()
    assert rec.figure("shares", fig) is None
    assert rec.answer(["An answer."]) is None
    plt.close(fig)
    assert (tmp_path / "figures" / "feature_demand" / "shares.png").is_file()


@pytest.mark.parametrize(
    ("sentence", "plain"),
    [
        (
            "Data residency is wanted most: 14.2% vs 8.6% of the team's accounts (difference "
            "+5.7 points, 98.8% CI +2.4 to +9.0; McNemar p < 0.001; Holm-adjusted over 6 "
            "pairs, interval included).",
            "Data residency is wanted most: 14.2% vs 8.6% of the team's accounts (difference "
            "+5.7 points).",
        ),
        ("Upward trend (Sen slope +6.93 a week, p = 0.034; Mann-Kendall).", "Upward trend."),
        (
            "Next 8 weeks: about 818 by 2026-12-14 (median forecast; 95% interval 713–938; "
            "ETS (additive errors, damped trend) on the log scale).",
            "Next 8 weeks: about 818 by 2026-12-14 (95% interval 713–938).",
        ),
        ("In backtests the 95% band held 173 of 192 values (MASE 0.66).", None),
        ("Base: admin's 1,068 accounts, i.e. accounts with an event.", None),
        ("5 requesting account(s) had no activity.", "5 requesting account(s) had no activity."),
    ],
)
def test_the_answer_box_leaves_the_method_to_how_sure_are_we(sentence, plain):
    from helpers.dashboards.render import plain_words

    assert plain_words(sentence) == plain


@pytest.mark.parametrize(
    ("periods", "step"),
    [
        (["2026-06-01", "2026-10-19"], "Find out what happened around 2026-10-19"),
        (["2026-06-01"], "Nothing unusual in active accounts lately"),
    ],
)
def test_metric_trends_next_step_reads_the_recorded_unusual_periods(outputs, periods, step):
    run = write_run(outputs, "analytics")  # as of 2026-10-31
    pd.DataFrame(
        {
            "period": pd.to_datetime(periods),
            "value": [1.0] * len(periods),
            "z": [4.0] * len(periods),
        }
    ).to_parquet(run / "tables" / "metric_trends" / "anomalies.parquet", index=False)
    answer = run / "answers" / "metric_trends.json"
    data = json.loads(answer.read_text())
    data["facts"] = {"metric": "active_accounts"}
    answer.write_text(json.dumps(data))
    page = dashboards.team_html(dashboards.load_snapshot("analytics"), "metric_trends")
    assert step in page
