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
product_area = "analytics"  # the team's product area: only its rows count
source = "data/demo.duckdb"  # DuckDB file, folder of Parquet/CSV tables, or env:VARIABLE
as_of = None  # analysis date (YYYY-MM-DD); None: the day of the latest event
run_dir = ""  # run folder to record results into; "" records nothing
metric = "active_accounts"  # a registry metric (docs/metrics.md) or a series of the metrics table
feature = None  # the feature, for metrics that need one (feature_adoption)
grain = "week"  # day, week or month
window_days = 540  # days of history before as_of
segment_column = None  # filter accounts on plan, region, industry or segment (with segment_value)
segment_value = None  # the value of segment_column to keep (None: all accounts)
compare_by = "plan"  # compare segments side by side: plan, region, industry, segment or None
horizon = 8  # periods to forecast (also the backtest's forecast length)
seed = 42  # reserved for randomised steps (none today): kept for reproducible runs

# %% [markdown]
# # Metric trends
#
# **What does this metric look like over time for this segment of customers?**
#
# The series is computed in the warehouse per period; the incomplete current period is
# left out (never shown as a drop). We test the trend allowing for autocorrelation, date
# the level shifts, flag unusual periods, and forecast with intervals that are checked
# against history by a backtest.

# %%
# ruff: noqa: E402  (imports follow the parameters cell that papermill needs first)
from IPython.display import Markdown, display

from helpers import metric_trends as trends
from helpers.data import connect, resolve_as_of
from helpers.display import show_answer, show_quality, use_style
from helpers.metric_trends import metric_series
from helpers.metric_trends import plots as tplots
from helpers.results import Recorder

use_style()
wh = connect(source)
as_of = resolve_as_of(wh, as_of)
rec = Recorder(run_dir, "metric_trends")
series = metric_series(
    wh,
    metric,
    product_area=product_area,
    as_of=as_of,
    grain=grain,
    window_days=window_days,
    feature=feature,
    segment_column=segment_column,
    segment_value=segment_value,
    team=team,
    run_dir=run_dir,
)
unit = series.spec.unit
analysis = trends.analyse(series.values(), grain, title=series.title, unit=unit, horizon=horizon)

# %% [markdown]
# ## The answer

# %%
answer = (series.summary()[:1] if series.empty else []) + analysis.summary()
show_answer(answer)
rec.answer(answer, metric=metric, grain=grain, filter=series.filter_label, as_of=str(as_of))

# %% [markdown]
# ## The series
# Complete periods only; dashed lines are level shifts, red points unusual periods, the
# shaded bands the 80% and 95% forecast intervals.

# %%
display(Markdown("\n".join(f"- {s}" for s in series.summary() + analysis.notes)))
rec.table("series", series.frame)
if not series.empty and not analysis.message:
    fig = tplots.series_figure(analysis.values, analysis, title=series.title, unit=unit)
    rec.figure("series", fig)

# %% [markdown]
# ## Change against earlier periods

# %%
rec.table("changes", analysis.changes)
display(analysis.changes)

# %% [markdown]
# ## Seasonality, trend test and level shifts

# %%
dec = analysis.decomposition
if dec is not None:
    display(Markdown("\n".join(f"- {s}" for s in dec.summary())))
    if dec.ran:
        rec.figure("decomposition", tplots.decomposition_figure(dec))
if analysis.trend is not None:
    display(Markdown("- " + analysis.trend.summary()[0]))
rec.table("changepoints", analysis.changepoints)
display(analysis.changepoints)

# %% [markdown]
# ## Unusual periods
# Robust z-score (median and MAD) of the residual beyond 3.5.

# %%
rec.table("anomalies", analysis.anomalies)
display(analysis.anomalies)

# %% [markdown]
# ## Forecast and its backtest

# %%
fc, bt = analysis.forecast, analysis.backtest
for part in (fc, bt):
    if part is not None:
        display(Markdown("- " + part.summary()[0]))
if fc is not None:
    rec.table("forecast", fc.frame)
    display(fc.frame)
if bt is not None and not bt.message:
    rec.table("backtest", bt.table)
    rec.figure("backtest", tplots.backtest_figure(bt))

# %% [markdown]
# ## Segments side by side

# %%
from helpers.errors import WorkbookError

try:
    by_seg = (
        None
        if compare_by is None
        else metric_series(
            wh,
            metric,
            product_area=product_area,
            as_of=as_of,
            grain=grain,
            window_days=window_days,
            feature=feature,
            by=compare_by,
            team=team,
            run_dir=run_dir,
        )
    )
except WorkbookError as exc:  # e.g. no segmentation run yet: say so and carry on
    by_seg = None
    display(Markdown(f"**No comparison:** {exc}"))
if by_seg is not None and not by_seg.empty:
    table = trends.compare_segments(by_seg)
    rec.table("segments", table)
    rec.figure("segments", tplots.segments_figure(by_seg, table, unit=unit))
    display(table)

# %% [markdown]
# ## Data quality

# %%
show_quality(wh, run_dir)
