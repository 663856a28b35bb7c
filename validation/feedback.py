"""Customer feedback on simulated comment sets: false "new" themes, and the planted one found.

Each set is one team's year of feedback made by the demo's comment generator
(:mod:`helpers.data.demo_feedback`): four quarterly NPS waves of about 400 answers with a
fixed mix of scores, and about 900 feature requests spread over the year; themes drawn
with the planted shares of each kind of writer. The analysis is the notebook's: English
comments grouped by :func:`~helpers.customer_feedback.find_themes` (number of themes by
stability), then :func:`~helpers.customer_feedback.emerging_themes` over the last 45 days
(within sources, Holm over themes, ``alpha`` 0.05, and the default ``min_rise`` of 10
points; the test alone, without ``min_rise``, is reported too).

Table ``feedback_new_claims`` (written between markers in docs/customer-feedback.md):

* **no emerging theme**: every theme keeps its share all year; any theme called "new"
  is a false claim. Target: ≤ 5% of sets (with the default ``min_rise``).
* **emerging theme**: the generator's emerging theme takes 30% of comments from 40 days
  before the end (1% before); found when the theme holding most of its comments is
  called new; the date error is the reported start minus the planted one.

Every set also scores the themes found against the planted ones (normalised mutual
information, and whether each planted theme has most of its comments in its own theme).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
from sklearn.metrics import normalized_mutual_info_score
from statsmodels.stats.proportion import proportion_confint

from helpers.customer_feedback import classify, emerging_themes, find_themes
from helpers.data import demo_feedback as fb
from helpers.params import CustomerFeedback

DOC = "docs/customer-feedback.md"
END = dt.date(2026, 10, 31)
WINDOW = 365
RECENT = 45
MIN_RISE = CustomerFeedback().min_rise
#: score mix of the NPS answers (0–10), about the demo's: 42% detractors, 25% promoters
SCORES = np.array([2, 1, 1, 2, 3, 4, 8, 9, 8, 7, 5], dtype=float) / 50


def comment_set(seed: int, *, emerging: bool) -> pd.DataFrame:
    """One simulated year of comments: ``at``, ``text``, ``source`` and the ``planted`` theme."""
    rng = np.random.default_rng([seed, 17])
    start = np.datetime64(END - dt.timedelta(days=WINDOW - 1))
    waves = [np.datetime64(f"{y}-{m:02d}-15") for y, m in [(2026, 1), (2026, 4), (2026, 7)]]
    waves.append(np.datetime64("2026-10-15"))
    nps_days = np.concatenate(
        [
            w + rng.integers(0, 5, int(rng.integers(350, 450))).astype("timedelta64[D]")
            for w in waves
        ]
    )
    scores = rng.choice(11, len(nps_days), p=SCORES)
    req_days = start + rng.integers(0, WINDOW, int(rng.integers(800, 1000))).astype(
        "timedelta64[D]"
    )
    emerge = END - dt.timedelta(days=fb.EMERGE_DAYS) if emerging else None
    text = fb.text_stream(seed)
    a = fb.comments(text, fb.categories(scores), nps_days, emerge_start=emerge, rate=0.55)
    b = fb.comments(
        text,
        np.full(len(req_days), "request"),
        req_days,
        emerge_start=emerge,
        rate=0.6,
        linked=rng.random(len(req_days)) < 0.2,
    )
    frame = pd.DataFrame(
        {
            "at": pd.to_datetime(np.concatenate([nps_days, req_days])),
            "text": np.concatenate([a.text, b.text]),
            "planted": np.concatenate([a.planted, b.planted]),
            "source": ["nps"] * len(nps_days) + ["request"] * len(req_days),
        }
    )
    return frame[frame["text"].notna()].reset_index(drop=True)


def analyse(frame: pd.DataFrame) -> dict:
    """The notebook's steps on one set: themes, then the test for what is new."""
    english = frame[classify(frame["text"]) == "english"].reset_index(drop=True)
    themes = find_themes(english["text"].tolist())
    english["theme"] = themes.labels
    themed = english[english["theme"] >= 0]
    table, message = emerging_themes(
        themed, themes.names, as_of=END, recent_days=RECENT, min_rise=0.0
    )
    new = table["new"] & (table["rise"] >= MIN_RISE) if message is None else table["new"]
    planted = themed["planted"].isin(list(fb.THEMES))
    cross = pd.crosstab(themed.loc[planted, "planted"], themed.loc[planted, "theme"])
    matched = bool(
        ((cross.max(axis=1) / cross.sum(axis=1)) > 0.5).all() and cross.idxmax(axis=1).is_unique
    )
    out = {
        "k": themes.k,
        "nmi": normalized_mutual_info_score(
            themed.loc[planted, "planted"], themed.loc[planted, "theme"]
        ),
        "matched": matched,
        "claimed": bool(message is None and new.any()),
        "claimed_test_alone": bool(message is None and table["new"].any()),
        "found": False,
        "date_error": np.nan,
    }
    if fb.EMERGING in cross.index and message is None:
        theme = int(cross.loc[fb.EMERGING].idxmax()) + 1
        row = table[table["theme"] == theme].iloc[0]
        out["found"] = bool(row["new"] and row["rise"] >= MIN_RISE)
        if out["found"] and row["rise_date"] is not None:
            start = END - dt.timedelta(days=fb.EMERGE_DAYS)
            out["date_error"] = (row["rise_date"] - start).days
    return out


def _rate(hits: int, n: int) -> str:
    lo, hi = proportion_confint(hits, n, alpha=0.05, method="wilson")
    return f"{hits}/{n} = {hits / n:.0%} (95% CI {lo:.0%}–{hi:.0%})"


def run(smoke: bool = False) -> dict[str, pd.DataFrame]:
    """``feedback_new_claims``: 50 sets per family (2 and 1 in a smoke run)."""
    sizes = (
        {"no emerging theme": 2, "emerging theme": 1}
        if smoke
        else dict.fromkeys(["no emerging theme", "emerging theme"], 50)
    )
    rows = []
    for family, sets in sizes.items():
        emerging = family == "emerging theme"
        results = [analyse(comment_set(1000 + i, emerging=emerging)) for i in range(sets)]
        r = pd.DataFrame(results)
        errors = r["date_error"].dropna().abs()
        rows.append(
            {
                "family": family,
                "sets": sets,
                '"new" claimed': _rate(int(r["claimed"].sum()), sets),
                "by the test alone (no min_rise)": _rate(int(r["claimed_test_alone"].sum()), sets),
                "planted theme found new": _rate(int(r["found"].sum()), sets) if emerging else "–",
                "date error, days (median, max)": (
                    f"{errors.median():.0f}, {errors.max():.0f}" if len(errors) else "–"
                ),
                "themes k (median, range)": (
                    f"{r['k'].median():.0f} ({r['k'].min()}–{r['k'].max()})"
                ),
                "NMI with planted (min, median)": f"{r['nmi'].min():.2f}, {r['nmi'].median():.2f}",
                "every planted theme matched": _rate(int(r["matched"].sum()), sets),
            }
        )
    return {"feedback_new_claims": pd.DataFrame(rows)}
