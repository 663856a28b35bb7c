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
product_area = "analytics"  # the team's product area: its accounts are the denominator
source = "data/demo.duckdb"  # DuckDB file, folder of Parquet/CSV tables, or env:VARIABLE
as_of = None  # last day of the window (YYYY-MM-DD); None: the last complete day (the latest event's day once it is over, else the day before)
run_dir = ""  # run folder to record results into; empty: record nothing
features = ["ai_insights", "custom_metrics", "dark_mode", "pdf_reports"]  # two or more to compare
window_days = 365  # requests and activity in this many days up to as_of
weighting = "accounts"  # what "wanted more" means: accounts, arr, seats or importance
sources = ["support", "sales", "interview", "survey", "community", "other"]  # feedback to count
segment_by = "plan"  # breakdown: plan, region, industry, or segment (latest segmentation run)
bootstrap_runs = 2000  # resamples of accounts for ARR and weighted intervals
alpha = 0.05  # family-wise error rate (Holm over pairs)
seed = 42  # seed of the bootstrap

# %% [markdown]
# # Which of these features do customers want most, and how sure are we?
#
# Each account is counted once per feature. Demand is the share of the **team's
# accounts** (at least one event in the product area in the window: the definition every
# analysis uses; churned ones count, their requests were made while customers) that
# asked for a feature. The same account can ask for several features, so the
# comparison is paired, and each verdict comes with an interval from the same method:
# McNemar's score test with Tango's interval on accounts, a paired bootstrap for ARR,
# seats or importance; Holm's correction over all pairs. "Winner" is said exactly when
# the interval excludes zero; "no clear winner" means the data cannot tell the features
# apart yet.

# %%
# ruff: noqa: E402  (imports follow the parameters cell that papermill needs first)
from IPython.display import display

from helpers.data import connect, resolve_as_of
from helpers.display import (
    show_answer,
    show_next_step,
    show_notes,
    show_quality,
    show_table,
    use_style,
)
from helpers.feature_demand import demand_report, plots
from helpers.results import Recorder

use_style()
rec = Recorder(run_dir, "feature_demand")
wh = connect(source)
as_of_date = resolve_as_of(wh, as_of)

# %%
report = demand_report(
    wh,
    product_area,
    list(features),
    as_of=as_of_date,
    window_days=window_days,
    weighting=weighting,
    sources=list(sources),
    segment_by=segment_by,
    bootstrap_runs=bootstrap_runs,
    alpha=alpha,
    seed=seed,
    team=team,
    run_dir=run_dir,
)
result, data = report.result, report.data
for name, table in report.tables().items():
    rec.table(name, table, csv=name in report.CSV)

# %% [markdown]
# ## The answer

# %%
answer = report.summary()
show_answer(answer)
rec.answer(
    answer,
    winner=result.winner,
    weighting=weighting,
    as_of=as_of_date,
    window_days=window_days,
    team_accounts=len(data.accounts),
    next_step=report.next_step(),
)

# %% [markdown]
# ## Who asked
# The share of the team's accounts asking for each feature (with its interval), and the
# requesting accounts: per feature, most important and largest ARR first, with their
# latest comments. All of them are in the `requesting_accounts` table (CSV).

# %%
show_next_step(report.next_step())
if result.overall is not None:
    rec.figure("shares", plots.shares_figure(result))
show_table(report.tables()["requesting_accounts"])

# %% [markdown]
# ## How sure are we?
# The evidence behind the answer, for the analyst: the numbers per feature, the paired
# tests, the breakdown by segment, where and when requests came in, and usage.
#
# ### Demand per feature
# Requesting accounts, their share of the team's accounts (Wilson interval at 1 − `alpha`),
# ARR and seat shares and the importance-weighted score (highest importance 0–3 per
# account), with bootstrap intervals over accounts; for ARR and seats, the effective
# number of requesting accounts and the largest one's part. `rank` is tied where no
# difference is significant.

# %%
display(report.tables()["demand"])

# %% [markdown]
# ### Pairwise comparison
# McNemar's score test on the accounts that asked for exactly one of the two, with
# Tango's interval for the difference (the same statistic inverted); paired bootstrap
# differences for ARR, seats and importance. Holm over all pairs; `level` is each
# interval's confidence (its Holm step's), so `significant` is True exactly when
# `lo`–`hi` excludes zero.

# %%
if result.overall is not None:
    display(result.overall.pairs)

# %% [markdown]
# ### By segment
# Share of the team's accounts asking, per segment, with Wilson intervals; McNemar per
# segment and pair, Holm-adjusted over every segment × pair test. A segment is said to
# drive a difference only when Welch's test finds its per-account gap larger than the
# other accounts' (Holm over every pair × segment test) and it holds half the gap.

# %%
if not result.segments.empty:
    rec.figure("segment_heatmap", plots.segment_heatmap(result))
if not result.drivers.empty:
    display(result.drivers.round(4))
if not result.segments.empty and len(result.reversals):
    display(result.reversals)
if not result.segments.empty and not len(result.reversals):
    show_notes([f"No {data.segment_by} reverses a significant overall order."])

# %% [markdown]
# ### Where the requests come from, and when
# Periods the window cuts (the current month) are left out of the chart.

# %%
rec.figure("requests_over_time", plots.requests_over_time(result))
display(
    data.by_source.pivot_table(index="feature", columns="source", values="accounts", fill_value=0)
)

# %% [markdown]
# ### Usage of released features
# For released features, demand shows in use too: the share of the team's accounts
# active since the feature became available in the window that used it (so features
# released on different dates are compared fairly), and the weekly adoption curve.

# %%
if report.adoption_note:
    show_notes([report.adoption_note])
display(report.adoption)
rec.figure("adoption_curve", plots.adoption_curve_figure(report.curve))

# %% [markdown]
# ## Data quality

# %%
show_quality(wh, run_dir)
