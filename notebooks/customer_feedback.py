# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% tags=["parameters"]
team = "analytics"  # product team (a params/<team>.yaml)
product_area = "analytics"  # the team's product area: accounts active in it are counted
source = "data/demo.duckdb"  # DuckDB file, folder of Parquet/CSV tables, or env:VARIABLE
as_of = None  # last day of the window (YYYY-MM-DD); None: the last complete day (the latest event's day once it is over, else the day before)
run_dir = ""  # run folder to record results into; "" records nothing
window_days = 365  # NPS answers and comments in this many days up to as_of
recent_days = 45  # "what is new": this recent period against the rest of the window
segment_by = "plan"  # breakdown: plan, region, industry, or segment (latest segmentation run)
k = None  # fixed number of themes; None picks it by stability across resamples
k_min = 3  # fewest themes tried
k_max = 10  # most themes tried
stability_runs = 5  # subsample fits per number of themes
min_responses = 30  # months and segments with fewer NPS answers are shown but not read
min_rise = 0.10  # a theme is new only if its share of comments rose by at least this (0-1)
alpha = 0.05  # 1 - confidence of the intervals; error rate of the "new" tests (Holm)
bootstrap_runs = 1000  # resamples of accounts for the ARR-weighted NPS interval
seed = 42  # seed of the resamples and of the theme model

# %% [markdown]
# # Customer feedback
#
# **What are customers telling us, who says what, and what is new?**
#
# NPS of the team's accounts (an event in the product area in the window) with its
# interval, by segment, ARR-weighted and by month. Comments of NPS answers and of
# feature requests are grouped into themes found in the text itself (TF-IDF and NMF,
# the number of themes chosen by stability), each named by its top terms and shown with
# quotes scrubbed of e-mail addresses, phone numbers and links. A theme is **new** when
# its share of comments in the recent period is significantly above the rest of the
# window (two-proportion tests, Holm over themes).

# %%
# ruff: noqa: E402  (imports follow the parameters cell that papermill needs first)
from IPython.display import display

from helpers.customer_feedback import feedback_report, plots
from helpers.data import connect, resolve_as_of
from helpers.display import show_answer, show_notes, show_quality, use_style
from helpers.results import Recorder

use_style()
rec = Recorder(run_dir, "customer_feedback")
wh = connect(source)
as_of_date = resolve_as_of(wh, as_of)

# %%
report = feedback_report(
    wh,
    product_area,
    as_of=as_of_date,
    window_days=window_days,
    recent_days=recent_days,
    segment_by=segment_by,
    k=k,
    k_min=k_min,
    k_max=k_max,
    stability_runs=stability_runs,
    min_responses=min_responses,
    min_rise=min_rise,
    alpha=alpha,
    bootstrap_runs=bootstrap_runs,
    seed=seed,
    team=team,
    run_dir=run_dir,
)
themes = report.themes
for name, table in report.tables().items():
    rec.table(name, table, csv=name in report.CSV)

# %% [markdown]
# ## The answer

# %%
answer = report.summary()
show_answer(answer)
rec.answer(answer, as_of=as_of_date, **report.facts())

# %% [markdown]
# ## How sure are we?
# The evidence behind the answer, for the analyst: NPS with its intervals by segment and
# month, the themes and their quotes, who says what, and what is new.
#
# ### NPS by segment and by month
# Adjusted-Wald intervals (Rocks 2016). Months and segments with fewer than
# `min_responses` answers are shown hollow and not read; the change sentence compares
# the latest month with enough answers with the earlier answers of the window.

# %%
if report.ok:
    rec.figure("nps", plots.nps_figure(report))
display(report.nps)
display(report.nps_by_segment)
display(report.nps_monthly[report.nps_monthly.n > 0])

# %% [markdown]
# ### Themes
# Each English comment belongs to the theme with its largest weight; shares are of the
# themed comments (Wilson intervals). Comments in other languages and empty ones are
# counted and set aside.

# %%
if report.notes():
    show_notes(report.notes())
display(report.set_aside)
if themes.ok:
    rec.figure("themes", plots.themes_figure(report))
    display(report.tables()["themes"])
    display(themes.quotes)

# %% [markdown]
# ### Who says what
# Each theme's share of the comments of detractors (0–6), passives (7–8) and promoters
# (9–10), of each segment and of the top quarter of accounts by ARR; and the catalogue
# features that a theme's feature-request comments point to.

# %%
if themes.ok and len(report.by_category):
    rec.figure("themes_by_category", plots.category_figure(report))
if themes.ok:
    display(report.by_segment.pivot(index="name", columns="segment", values="share").round(3))
    display(report.by_arr.pivot(index="name", columns="arr_group", values="share").round(3))
    display(report.features)

# %% [markdown]
# ### What is new
# Share of each theme in the last `recent_days` against the rest of the window
# (one-sided two-proportion z-test, Holm over themes); a theme is new when the adjusted
# p-value is below `alpha` and its share rose by at least `min_rise`. The date is the
# most likely start of the rise.

# %%
if themes.ok and len(report.emerging):
    rec.figure("emerging", plots.emerging_figure(report))
    display(report.emerging)

# %% [markdown]
# ## Data quality

# %%
show_quality(wh, run_dir)
