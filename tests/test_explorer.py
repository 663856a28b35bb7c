"""The live explorer's kernel side, without a server: the query string and its whitelist,
the choices offered, the cache, the "keep this as a weekly report" box, credentials.

Runs on the session's small demo warehouse (tests/conftest.py); expected values come from
plain DuckDB queries and YAML reads, not from the explorer's code. The browser tests
(a served page, a papermill run to compare with) are in test_explorer_browser.py.
"""

from __future__ import annotations

import datetime as dt
import shutil

import duckdb
import pytest
import yaml
from traitlets import TraitError

from helpers import paths
from helpers.dashboards.explore import (
    EXPLORE_KEYS,
    Explorer,
    ExplorerPage,
    View,
    check_view,
    parse_explore_query,
)
from helpers.errors import VisitorError
from helpers.params import load_team

LINK = (
    "team=analytics&metric=active_accounts&grain=week&segment_column=plan&segment_value=enterprise"
)
ENV_VAR = "WB_EXPLORE_TEST_URL"
PASSWORD = "S3cret-explorer-Pass"


@pytest.fixture(scope="module")
def root(tmp_path_factory, demo_path):
    """A workbook root with the repo's params on the small demo warehouse, plus a team whose
    source is an environment variable holding a URL with a password."""
    root = tmp_path_factory.mktemp("explore")
    shutil.copytree(paths.ROOT / "params", root / "params")
    (root / "data").mkdir()
    (root / "data" / "demo.duckdb").symlink_to(demo_path)
    (root / "outputs").mkdir()
    (root / "params" / "vault.yaml").write_text(
        f"title: Vault\nproduct_area: analytics\nsource: env:{ENV_VAR}\n"
    )
    mp = pytest.MonkeyPatch()
    mp.setenv("WORKBOOK_ROOT", str(root))
    mp.delenv("WORKBOOK_OUTPUTS", raising=False)
    mp.setenv(ENV_VAR, f"postgresql://pm:{PASSWORD}@127.0.0.1:9/warehouse")
    yield root
    mp.undo()


@pytest.fixture(scope="module")
def explorer(root, tmp_path_factory):
    return Explorer(cache_dir=tmp_path_factory.mktemp("explore-cache"))


def _sql(demo_path, query: str) -> list:
    with duckdb.connect(str(demo_path), read_only=True) as con:
        return [r[0] for r in con.sql(query).fetchall()]


# ------------------------------------------------------------------ the whitelist


@pytest.mark.parametrize(
    "query",
    [
        "team=analytics&metric=nosuch_metric",  # unknown metric
        "team=analytics&segment_column=plan&segment_value=platinum",  # not in the data
        "team=analytics&metric=__import__('os').system('id')",  # code in a value
        "team=analytics&segment_column=plan&segment_value={{7*7}}",
        "team=<script>alert(1)</script>",
        "team=analytics&segment_column=plan&segment_value=" + "x" * 65,  # overlong
        "team=analytics&metric=" + "a" * 2000,  # an overlong address
        "team=analyt%C3%BDics",  # non-ASCII
        "team=analytics&segment_column=region&segment_value=%E2%80%AEASU",
        "team=analytics&grain=fortnight",
        "team=analytics&window_days=99999",
        "team=analytics&compare_by=plan;rm -rf /",
        "team=analytics&segment_column=plan%00",
        "team=analytics&segment_value=enterprise",  # a value without its column
        "team=analytics&metric=active_accounts&feature=dark_mode",  # takes no feature
        "team=analytics&metric=feature_adoption&feature=sso",  # another area's feature
        "team=analytics&team=admin",  # repeated
        "team=analytics&run_dir=/etc",  # not a key of the explorer
        "team=nosuch",
        "team=vault-x",
    ],
)
def test_a_value_outside_the_offered_choices_gives_one_plain_sentence(explorer, query):
    with pytest.raises(VisitorError) as caught:
        check_view(parse_explore_query(query), explorer)
    message = str(caught.value)
    assert "\n" not in message and message.endswith(".") and len(message) < 400
    for bad in ("Traceback", "import", "<script", "{{", "rm -rf", "\x00", "\u202e", "x" * 65):
        assert bad not in message


@pytest.mark.parametrize(
    "query", ["team=analytics&metric=__import__('os').system('id')", "team=analytics&grain=year"]
)
def test_the_page_shows_the_sentence_and_computes_nothing(explorer, query):
    page = ExplorerPage(explorer)
    page.show(query)
    assert page.w_status.value.count('class="wb-notice"') == 1
    assert "Traceback" not in page.w_status.value and "import" not in page.w_status.value
    assert page.w_out.value == "" and page.view is None
    assert page.w_team.value == "analytics"  # the widgets start at the asked team


def test_a_link_restores_its_view_in_the_widgets(explorer):
    view = check_view(parse_explore_query(LINK), explorer)
    assert view == View(
        team="analytics",
        metric="active_accounts",
        grain="week",
        window_days=540,  # the team's scheduled params fill what the link leaves out
        segment_column="plan",
        segment_value="enterprise",
        compare_by="plan",
    )
    assert check_view(parse_explore_query(view.query()), explorer) == view
    assert set(parse_explore_query(view.query())) <= set(EXPLORE_KEYS)
    page = ExplorerPage(explorer)
    page.show(LINK)
    shown = (page.w_team, page.w_metric, page.w_grain, page.w_column, page.w_value)
    assert [w.value for w in shown] == [
        "analytics",
        "active_accounts",
        "week",
        "plan",
        "enterprise",
    ]
    assert page.w_out.value.index("The answer") < page.w_out.value.index("wb-series")
    assert f'href="?{view.query()}"'.replace("&", "&amp;") in page.w_share.value


def test_widgets_offer_only_values_that_exist(explorer, demo_path):
    page = ExplorerPage(explorer)
    page.show("team=analytics&grain=month&segment_column=region&segment_value=EMEA&compare_by=none")
    values = [v for _, v in page.w_value.options]
    assert values == sorted(_sql(demo_path, "select distinct region from accounts"))
    features = _sql(demo_path, "select feature from features where product_area = 'analytics'")
    assert [v for _, v in page.w_feature.options] == sorted(features)
    registry = yaml.safe_load((paths.ROOT / "src/helpers/metric_trends/metrics.yaml").read_text())
    series = _sql(demo_path, "select distinct metric from metrics where product_area = 'analytics'")
    metrics = [v for _, v in page.w_metric.options]
    assert set(metrics) == set(registry) | set(series)
    assert [v for _, v in page.w_team.options] == ["admin", "analytics", "collaboration",
                                                   "integrations", "vault"]  # fmt: skip
    # no segmentation recorded for this team: `segment` is not offered
    assert [v for _, v in page.w_compare.options] == ["none", "plan", "region", "industry"]


def test_a_widget_takes_only_one_of_its_options(explorer):
    """What a browser sends for a dropdown is an index; anything else is refused by the
    widget before the page sees it, and nothing is run."""
    page = ExplorerPage(explorer)
    page.show("team=analytics&metric=nosuch")  # nothing computed
    for bad in ({"index": 999}, {"index": -5}):
        with pytest.raises(TraitError):
            page.w_metric.set_state(bad)
    with pytest.raises(TraitError):
        page.w_metric.value = "__import__('os').system('id')"
    assert page.view is None


# ------------------------------------------------------------------ cache


def test_a_repeated_view_is_kept_and_another_kernel_finds_it(explorer, tmp_path):
    view = check_view(
        parse_explore_query(LINK.replace("week", "month") + "&compare_by=none"), explorer
    )
    first = explorer.answer(view)
    again = explorer.answer(view)
    assert first.cached == "" and again.cached == "memory" and again.seconds < 0.5
    other = Explorer(cache_dir=explorer.cache_dir)  # a second visitor's kernel
    third = other.answer(view)
    assert third.cached == "disk" and third.sentences == first.sentences
    assert third.values == first.values
    mode = {p.stat().st_mode & 0o777 for p in explorer.cache_dir.glob("view-*.json")}
    assert mode == {0o600}


def test_new_data_are_computed_again(root, demo_path, tmp_path):
    """The cache key holds the source's data fingerprint: a changed table is a new view."""
    folder = tmp_path / "parquet"
    folder.mkdir()
    with duckdb.connect(str(demo_path), read_only=True) as con:
        for (table,) in con.sql("show tables").fetchall():
            con.sql(f"copy {table} to '{folder / table}.parquet' (format parquet)")
    (root / "params" / "copy.yaml").write_text(
        f"title: Copy\nproduct_area: analytics\nsource: {folder}\n"
    )
    try:
        ex = Explorer(cache_dir=tmp_path / "cache", fingerprint_ttl=0)
        (tmp_path / "cache").mkdir()
        query = "team=copy&metric=events&grain=month&compare_by=none"
        view = check_view(parse_explore_query(query), ex)
        assert ex.answer(view).cached == ""
        assert ex.answer(view).cached == "memory"
        with duckdb.connect() as con:
            path = folder / "accounts.parquet"
            con.sql(
                f"copy (select * replace (arr + 1 as arr) from '{path}') to '{path}.new' (format parquet)"
            )
        (folder / "accounts.parquet.new").replace(folder / "accounts.parquet")
        assert ex.answer(view).cached == ""  # a changed ARR: the data are not the same
    finally:
        (root / "params" / "copy.yaml").unlink()


# ------------------------------------------------------------------ weekly report, credentials


def test_the_weekly_report_box_is_a_team_file_that_reproduces_the_view(explorer, root):
    view = check_view(parse_explore_query(LINK), explorer)
    text, line = explorer.weekly_report(view)
    name = line.split("--team ")[1].split()[0]
    assert line == f"workbook run --team {name} --notebook metric_trends"
    path = root / "params" / f"{name}.yaml"
    path.write_text(text)
    try:
        params = load_team(name)
    finally:
        path.unlink()
    assert params.notebooks == ["metric_trends"] and params.product_area == "analytics"
    mt = params.metric_trends
    asked = (mt.metric, mt.grain, mt.window_days, mt.segment_column, mt.segment_value)
    assert asked == ("active_accounts", "week", 540, "plan", "enterprise")
    assert mt.compare_by == "plan"


def test_credentials_of_an_env_source_never_reach_the_page(explorer):
    page = ExplorerPage(explorer)
    page.show("team=vault")
    shown = page.w_status.value + page.w_out.value + page.w_share.value
    assert "wb-notice" in shown and "cannot connect" in shown
    assert PASSWORD not in shown and "pm:" not in shown
    text, _ = explorer.weekly_report(
        View(team="vault", metric="events", grain="week", window_days=540)
    )
    assert f"source: env:{ENV_VAR}" in text and PASSWORD not in text


@pytest.mark.slow  # two full views (the backtest included): the full suite, not the edit loop
def test_the_answer_and_chart_come_first_and_the_forecast_follows_with_the_notebooks_numbers(
    root, tmp_path
):
    """A fresh view is shown without its forecast first (the backtest is the slow part);
    the whole view then has exactly the sentences of the notebook's one `trend_report` call."""
    from helpers.dashboards.explore.html import answer_html
    from helpers.data import connect
    from helpers.metric_trends import trend_report

    ex = Explorer(cache_dir=tmp_path)
    view = check_view(parse_explore_query(LINK + "&compare_by=none"), ex)
    shown = []
    whole = ex.answer(view, early=shown.append)
    assert len(shown) == 1
    first = shown[0]
    assert first.complete is False and whole.complete is True
    assert first.chart and whole.chart and first.chart != whole.chart  # the forecast drawn
    assert first.values == whole.values
    # the oracle: the scheduled notebook's own call with the team's params
    p = load_team("analytics")
    mt = p.metric_trends
    with connect(p.source) as wh:
        report = trend_report(
            wh,
            "active_accounts",
            product_area=p.product_area,
            as_of=dt.date.fromisoformat(whole.as_of),
            grain="week",
            window_days=mt.window_days,
            segment_column="plan",
            segment_value="enterprise",
            compare_by=None,
            horizon=mt.horizon,
            holidays_country=mt.holidays_country,
            min_coverage=mt.min_coverage,
            team="analytics",
        )
        expected = [str(s) for s in report.summary()]
    assert whole.sentences == expected
    k = len(first.sentences)
    assert first.sentences == expected[:k]
    rest = expected[k:]
    assert rest and rest[0].startswith("Next ") and rest[-1].startswith("In backtests")
    html = answer_html(first, view.query())
    assert 'data-complete="0"' in html and "wb-pending" in html
    assert 'data-complete="1"' in answer_html(whole, view.query())
    # a kept view comes whole, without a first part
    again = []
    assert ex.answer(view, early=again.append).complete and not again
