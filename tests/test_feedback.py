"""Customer feedback on small frames built here: text handling, NPS, themes, what is new, edge cases."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.metrics import normalized_mutual_info_score

from helpers.customer_feedback import (
    classify,
    emerging_themes,
    feedback_report,
    find_themes,
    nps_change,
    nps_interval,
    nps_monthly,
    nps_table,
    nps_weighted,
    rise_date,
    scrub,
    theme_features,
    theme_shares,
)
from helpers.data import connect
from helpers.data.demo import create_tables
from helpers.errors import WorkbookError

# --------------------------------------------------------------------------- text


def test_scrub_removes_emails_urls_and_phone_numbers_but_keeps_dates():
    text = (
        "Mail jane.doe+ops@example.co.uk or see https://help.example.com/t/123?x=1 and "
        "www.example.org; call +1 (415) 555-0134 or 020 7946 0958. Since 2026-03-02."
    )
    out = scrub(text)
    for secret in ("jane.doe", "example", "415", "555", "7946", "0958"):
        assert secret not in out
    assert out.count("[phone]") == 2 and "[e-mail]" in out and out.count("[link]") == 2
    assert "2026-03-02" in out


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("Reports are slow", "english"),
        ("Great support", "english"),
        ("Love it", "english"),
        ("", "empty"),
        ("   ", "empty"),
        ("n/a", "empty"),
        ("-", "empty"),
        (None, "empty"),
        ("El precio es demasiado alto para una empresa pequeña.", "non_english"),
        ("Die Berichte laden sehr langsam und das ist ärgerlich.", "non_english"),
        ("Le support est très rapide et vraiment utile.", "non_english"),
        ("A interface é fácil de usar e muito bonita.", "non_english"),
        ("レポートの読み込みがとても遅いです。", "non_english"),
        ("Отчёты загружаются очень медленно.", "non_english"),
    ],
)
def test_classify_sorts_english_other_languages_and_empty_comments(text, kind):
    assert classify([text])[0] == kind


# --------------------------------------------------------------------------- NPS


def _scores(promoters: int, passives: int, detractors: int) -> pd.Series:
    return pd.Series([10] * promoters + [7] * passives + [3] * detractors)


def test_nps_interval_is_the_adjusted_wald_interval():
    got = nps_interval(60, 25, 15, alpha=0.05)
    # Rocks (2016) adjusted Wald, written out: +3/4 to promoters and detractors, n + 3
    n = 103
    pp, pd_ = 60.75 / n, 15.75 / n
    se = np.sqrt((pp + pd_ - (pp - pd_) ** 2) / n)
    z = stats.norm.ppf(0.975)
    assert got["nps"] == pytest.approx(45.0)
    assert got["lo"] == pytest.approx(100 * (pp - pd_ - z * se))
    assert got["hi"] == pytest.approx(100 * (pp - pd_ + z * se))


def test_nps_interval_never_has_zero_width_when_every_answer_is_a_promoter():
    got = nps_interval(12, 0, 0)
    assert got["nps"] == 100
    assert got["hi"] - got["lo"] > 10


def test_nps_by_segment_equals_plain_pandas(rng):
    answers = pd.DataFrame(
        {"score": rng.integers(0, 11, 500), "segment": rng.choice(["a", "b", "c"], 500)}
    )
    table = nps_table(answers, "segment").set_index("segment")
    for seg, g in answers.groupby("segment"):
        expected = 100 * ((g.score >= 9).mean() - (g.score <= 6).mean())
        assert table.loc[seg, "nps"] == pytest.approx(expected)
        assert table.loc[seg, "n"] == len(g)


def test_arr_weighted_nps_counts_each_accounts_arr_once(rng):
    answers = pd.DataFrame(
        {
            "account_id": ["big", "big", "big", "small"],
            "score": [10, 10, 6, 0],
            "arr": [900.0, 900.0, 900.0, 100.0],
        }
    )
    got = nps_weighted(answers, bootstrap_runs=200, seed=1)
    # big: mean of (+1, +1, -1) = 1/3 weighted 900; small: -1 weighted 100
    assert got["nps"] == pytest.approx(100 * (900 / 3 - 100) / 1000)
    assert got["accounts"] == 2
    assert got["effective_accounts"] == pytest.approx(1000**2 / (900**2 + 100**2))


def test_monthly_nps_lists_every_month_and_reads_only_months_with_enough_answers():
    answers = pd.DataFrame(
        {
            "submitted_at": pd.to_datetime(["2026-01-15"] * 40 + ["2026-03-02"] * 5),
            "score": [10] * 40 + [0] * 5,
        }
    )
    m = nps_monthly(answers, start=dt.date(2026, 1, 1), end=dt.date(2026, 4, 30), min_responses=30)
    assert m.n.tolist() == [40, 0, 5, 0]
    assert m.enough.tolist() == [True, False, False, False]


def test_nps_change_adds_the_variances_of_two_samples():
    a, b = _scores(30, 30, 40), _scores(50, 30, 20)
    got = nps_change(a, b)
    assert got["change"] == pytest.approx(40.0)
    ea, eb = nps_interval(30, 30, 40), nps_interval(50, 30, 20)
    z = stats.norm.ppf(0.975)
    half = z * np.hypot((ea["hi"] - ea["lo"]) / (2 * z), (eb["hi"] - eb["lo"]) / (2 * z))
    assert got["hi"] - got["lo"] == pytest.approx(2 * half)


# --------------------------------------------------------------------------- themes

_THEMES = {
    "price": ["price", "expensive", "cost", "budget", "pricing", "costly", "renewal", "invoice"],
    "speed": ["slow", "load", "loading", "reports", "dashboards", "lag", "timeout", "waiting"],
    "help": ["support", "helpful", "agent", "ticket", "friendly", "answered", "quickly", "staff"],
}
_FILLER = ["team", "week", "today", "again", "really", "product", "morning", "usually"]


def _corpus(rng, n: int = 240) -> tuple[list[str], np.ndarray]:
    """Comments of four theme words and two filler words (no fixed phrases to split on)."""
    names = list(_THEMES)
    truth = rng.choice(len(names), n)
    texts = [
        " ".join([*rng.choice(_THEMES[names[t]], 4, replace=False), *rng.choice(_FILLER, 2)])
        for t in truth
    ]
    return texts, truth


def test_themes_recover_three_planted_themes(rng):
    texts, truth = _corpus(rng)
    th = find_themes(texts, k_min=2, k_max=6, stability_runs=3)
    assert th.ok and th.k == 3
    assert normalized_mutual_info_score(truth, th.labels) > 0.9


def test_a_fixed_k_skips_the_search(rng):
    texts, _ = _corpus(rng)
    th = find_themes(texts, k=4)
    assert th.k == 4 and th.chosen_by == "fixed" and th.stability.empty


@pytest.mark.parametrize("n", [0, 1, 19])
def test_too_few_comments_give_a_message_not_a_crash(n):
    th = find_themes(["Reports are slow"] * n)
    assert not th.ok and "too few" in th.message and len(th.labels) == n


def test_comments_without_shared_words_give_a_message(rng):
    texts = [f"word{i}" for i in range(30)]  # digits are not words: no vocabulary at all
    th = find_themes(texts)
    assert not th.ok and "share too few words" in th.message


def test_quotes_never_show_contact_details(rng):
    texts, _ = _corpus(rng)
    texts = [t + " Reach me at sam@example.com or +44 20 7946 0958." for t in texts]
    th = find_themes(texts, k=3)
    joined = " ".join(th.quotes.quote)
    assert "@" not in joined and "7946" not in joined and "[e-mail]" in joined
    assert th.quotes.groupby("theme").size().max() <= 3


def test_a_very_long_comment_is_handled_and_quoted_short(rng):
    texts, _ = _corpus(rng)
    texts.append("reports slow loading dashboards lag. " * 15_000)  # half a megabyte
    th = find_themes(texts, k=3)
    assert th.ok and th.labels[-1] >= 0
    assert th.quotes.quote.str.len().max() <= 240


# --------------------------------------------------------------------------- what is new


def _timeline(rng, rise: bool, n: int = 2000) -> pd.DataFrame:
    days = pd.Timestamp("2026-01-01") + pd.to_timedelta(rng.integers(0, 300, n), unit="D")
    theme = rng.integers(0, 3, n)
    if rise:
        late = np.asarray(days >= pd.Timestamp("2026-09-01")) & (rng.random(n) < 0.4)
        theme = np.where(late, 3, theme)
    source = rng.choice(["nps", "request"], n)
    return pd.DataFrame({"at": days, "theme": theme, "source": source})


def test_a_planted_rise_is_new_with_its_holm_adjusted_p_and_start_date(rng):
    from statsmodels.stats.contingency_tables import StratifiedTable

    c = _timeline(rng, rise=True)
    got, message = emerging_themes(
        c, ["a", "b", "c", "d"], as_of=dt.date(2026, 10, 27), recent_days=45
    )
    assert message is None
    row = got.set_index("name").loc["d"]
    assert row["new"] and not got[got.name != "d"]["new"].any()
    # independent: statsmodels' Cochran-Mantel-Haenszel test over the two sources,
    # one-sided, times 4 for Holm's first step
    recent = c["at"] >= pd.Timestamp("2026-09-13")
    tables = []
    for _, g in c.groupby("source"):
        r, hit = recent[g.index], g.theme == 3
        tables.append([[(hit & r).sum(), (~hit & r).sum()], [(hit & ~r).sum(), (~hit & ~r).sum()]])
    chi2 = StratifiedTable(np.array(tables).transpose(1, 2, 0)).test_null_odds(True).statistic
    assert row["p"] == pytest.approx(stats.norm.sf(np.sqrt(chi2)), rel=1e-6)
    assert row["p_holm"] == pytest.approx(min(1.0, 4 * row["p"]))
    assert abs((pd.Timestamp(row["rise_date"]) - pd.Timestamp("2026-09-01")).days) <= 3


def test_a_rise_made_only_by_more_nps_answers_is_not_new(rng):
    """NPS writers mention theme 1 more; the recent period holds an NPS wave: no news."""
    n = 3000
    days = pd.Timestamp("2026-01-01") + pd.to_timedelta(rng.integers(0, 300, n), unit="D")
    wave = np.asarray(days >= pd.Timestamp("2026-09-20"))
    source = np.where(wave | (rng.random(n) < 0.2), "nps", "request")
    p1 = np.where(source == "nps", 0.45, 0.10)
    theme = np.where(rng.random(n) < p1, 1, 0)
    c = pd.DataFrame({"at": days, "theme": theme, "source": source})
    got, _ = emerging_themes(c, ["a", "b"], as_of=dt.date(2026, 10, 27), min_rise=0.0)
    assert not got["new"].any()
    pooled, _ = emerging_themes(c.drop(columns="source"), ["a", "b"], as_of=dt.date(2026, 10, 27))
    assert pooled.set_index("name").loc["b", "new"]  # without sources it would be "new"


def test_nothing_is_new_when_shares_stay_the_same(rng):
    got, message = emerging_themes(
        _timeline(rng, rise=False), ["a", "b", "c", "d"], as_of=dt.date(2026, 10, 27)
    )
    assert message is None and not got["new"].any()


def test_too_few_recent_comments_give_a_message():
    c = pd.DataFrame({"at": pd.to_datetime(["2026-01-01"] * 50 + ["2026-10-20"] * 3), "theme": 0})
    got, message = emerging_themes(c, ["a"], as_of=dt.date(2026, 10, 27))
    assert got.empty and "Too few themed comments" in message


def test_rising_words_name_what_is_new_in_a_mixed_theme():
    from helpers.customer_feedback import rising_words

    earlier = ["easy to use", "really easy interface", "easy and clean"] * 10
    recent = ["easy to use", "offline mode please", "need offline access"] * 5
    assert rising_words(recent, earlier)[0] == "offline"
    assert rising_words([], earlier) == [] and rising_words(recent, []) == []


def test_rise_date_is_none_without_a_rise():
    days = pd.Series(pd.date_range("2026-01-01", periods=10))
    assert rise_date(days, np.zeros(10, bool)) is None
    assert rise_date(days.iloc[:1], np.ones(1, bool)) is None


# --------------------------------------------------------------------------- who says what


def test_theme_shares_have_wilson_intervals_from_statsmodels():
    from statsmodels.stats.proportion import proportion_confint

    c = pd.DataFrame({"theme": [0] * 30 + [1] * 10, "category": "detractor"})
    got = theme_shares(c, "category", ["a", "b"]).set_index("name")
    lo, hi = proportion_confint(30, 40, alpha=0.05, method="wilson")
    assert got.loc["a", "share"] == 0.75
    assert (got.loc["a", "lo"], got.loc["a", "hi"]) == pytest.approx((lo, hi))


def test_theme_features_count_only_request_comments():
    c = pd.DataFrame(
        {
            "theme": [0, 0, 0, 1],
            "source": ["request", "request", "nps", "request"],
            "feature": ["sso", "sso", None, "dark_mode"],
        }
    )
    got = theme_features(c, ["a", "b"], {"sso": "SSO"})
    assert got.iloc[0][["feature", "feature_name", "requests", "share"]].tolist() == [
        "sso",
        "SSO",
        2,
        1.0,
    ]


# --------------------------------------------------------------------------- whole report


def _warehouse(path: Path, nps: list[tuple], requests: list[tuple]) -> Path:
    """Two active analytics accounts, a catalogue of one feature, and the given rows."""
    con = duckdb.connect(str(path))
    create_tables(con)
    con.execute("""
        INSERT INTO accounts VALUES
            ('a1', 'A', 'pro', 'EMEA', 'retail', DATE '2025-01-01', 5, 1000.0, NULL),
            ('a2', 'B', 'starter', 'APAC', 'finance', DATE '2025-01-01', 2, 200.0, NULL);
        INSERT INTO events VALUES
            ('a1', 'a1-u1', TIMESTAMP '2026-03-01 10:00', 'analytics', 'dashboards', NULL),
            ('a2', 'a2-u1', TIMESTAMP '2026-03-02 10:00', 'analytics', 'dashboards', NULL);
        INSERT INTO features VALUES ('dashboards', 'analytics', 'Dashboards', 'released',
            DATE '2024-01-01');
    """)
    for i, (account, ts, score, comment) in enumerate(nps):
        con.execute(
            "INSERT INTO nps_responses VALUES (?, ?, ?, ?, ?, ?)",
            [f"n{i}", account, f"{account}-u1", ts, score, comment],
        )
    for i, (account, ts, comment) in enumerate(requests):
        con.execute(
            "INSERT INTO feature_requests VALUES (?, ?, 'dashboards', ?, 'support', 2, ?)",
            [f"r{i}", account, ts, comment],
        )
    con.close()
    return path


def _report(path: Path, **kw):
    with connect(str(path)) as wh:
        return feedback_report(wh, "analytics", as_of=dt.date(2026, 3, 31), **kw)


def test_a_window_with_no_answers_or_comments_says_so(tmp_path):
    r = _report(_warehouse(tmp_path / "w.duckdb", [], []))
    assert not r.ok
    assert r.summary()[0].startswith("No NPS answers and no comments from analytics accounts")


def test_answers_without_comments_give_nps_and_say_there_are_no_comments(tmp_path):
    rows = [("a1", "2026-03-10", 10, None), ("a2", "2026-03-11", 3, None)]
    r = _report(_warehouse(tmp_path / "w.duckdb", rows, []))
    text = " ".join(r.summary())
    assert text.startswith("NPS 0 (95% CI")
    assert "No comments from analytics accounts" in text
    assert r.tables()["nps"].set_index("measure").loc["answers", "n"] == 2


def test_one_comment_gives_a_message_not_a_crash(tmp_path):
    r = _report(_warehouse(tmp_path / "w.duckdb", [("a1", "2026-03-10", 9, "Great")], []))
    assert any(
        s.startswith("1 comment (none set aside). Only 1 comment in English: too few")
        for s in r.summary()
    )
    assert "themes" not in r.tables()


def test_empty_and_foreign_comments_are_counted_and_set_aside(tmp_path):
    rows = [("a1", "2026-03-10", 9, "   "), ("a2", "2026-03-11", 5, "Das ist nicht gut")]
    rows += [("a1", "2026-03-12", 8, "")]
    r = _report(_warehouse(tmp_path / "w.duckdb", rows, [("a2", "2026-03-05", "n/a")]))
    counts = r.set_aside.set_index("kind").comments
    assert counts.to_dict() == {"english": 0, "non_english": 1, "empty": 3}
    assert any("1 in other languages and 3 empty set aside" in s for s in r.summary())


def test_very_long_comments_run_through_the_whole_report(tmp_path, rng):
    texts, _ = _corpus(rng, 60)
    texts[0] = "reports slow loading dashboards lag. " * 5000
    rows = [
        (f"a{1 + i % 2}", f"2026-03-{1 + i % 28:02d}", int(rng.integers(0, 11)), t)
        for i, t in enumerate(texts)
    ]
    r = _report(_warehouse(tmp_path / "w.duckdb", rows, []), k=3)
    assert r.ok and r.themes.ok
    assert r.tables()["quotes"].quote.str.len().max() <= 240


def test_recent_period_must_be_shorter_than_the_window(tmp_path):
    with pytest.raises(WorkbookError, match=r"`recent_days` \(90\) must be shorter"):
        _report(_warehouse(tmp_path / "w.duckdb", [], []), window_days=60, recent_days=90)


def test_segment_breakdown_without_a_segmentation_run_falls_back_to_plan(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBOOK_OUTPUTS", str(tmp_path / "outputs"))
    rows = [("a1", "2026-03-10", 10, None), ("a2", "2026-03-11", 3, None)]
    r = _report(_warehouse(tmp_path / "w.duckdb", rows, []), segment_by="segment")
    assert r.data.segment_by == "plan"
    assert any("No recorded segmentation run" in s for s in r.summary())


def test_the_window_reads_no_comment_outside_it(tmp_path):
    rows = [("a1", "2025-01-10", 10, "Old comment from last year"), ("a2", "2026-03-11", 3, "Now")]
    r = _report(_warehouse(tmp_path / "w.duckdb", rows, []), window_days=60, recent_days=30)
    assert r.data.comments.text.tolist() == ["Now"]
    assert r.data.answers.response_id.tolist() == ["n1"]


# --------------------------------------------------------------------------- params


def test_params_refuse_a_recent_period_as_long_as_the_window(workbook_root):
    from helpers.params import load_team

    (workbook_root / "params" / "t1.yaml").write_text(
        "customer_feedback:\n  window_days: 60\n  recent_days: 60\n"
    )
    with pytest.raises(WorkbookError) as err:
        load_team("t1")
    msg = str(err.value)
    assert msg.startswith("params/t1.yaml: key `customer_feedback.recent_days`")
    assert "must be shorter than window_days (60)" in msg


def test_a_breakdown_by_segment_runs_after_the_segmentation(workbook_root):
    from helpers.params import load_team

    (workbook_root / "params" / "t1.yaml").write_text("customer_feedback:\n  segment_by: segment\n")
    assert load_team("t1").uses_segments("customer_feedback")
    (workbook_root / "params" / "t2.yaml").write_text("title: T2\n")
    assert not load_team("t2").uses_segments("customer_feedback")


def test_segment_choices_are_the_params_models():
    from typing import get_args

    from helpers.customer_feedback import SEGMENT_COLUMNS
    from helpers.params import TeamParams

    model = TeamParams.model_fields["customer_feedback"].annotation.model_fields
    assert list(SEGMENT_COLUMNS) == list(get_args(model["segment_by"].annotation))
