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
as_of = None  # analysis date (YYYY-MM-DD); None: the last complete day (the latest event's day once it is over, else the day before)
run_dir = ""  # run folder to record results into; "" records nothing
metric = "active_accounts"  # a registry metric (docs/metrics.md) or a series of the metrics table
metrics = []  # more metrics, one section each after `metric` (same grain, window and filter)
feature = None  # the feature, for metrics that need one (feature_adoption)
grain = "week"  # day, week or month
window_days = 540  # days of history before as_of
segment_column = None  # filter accounts on plan, region, industry or segment (with segment_value)
segment_value = None  # the value of segment_column to keep (None: all accounts)
compare_by = "plan"  # compare segments side by side: plan, region, industry, segment or None
horizon = 8  # periods to forecast (also the backtest's forecast length)
holidays_country = "US"  # public holidays of this country (ISO code) are marked, never "unusual"; None: no calendar
min_coverage = 0.5  # share of periods with data below which there is no trend verdict
seed = 42  # reserved for randomised steps (none today): kept for reproducible runs

# %% [markdown]
# # Metric trends
#
# **What does this metric look like over time for this segment of customers?**
#
# The series is computed in the warehouse per period; incomplete periods (the current one,
# or a day still being loaded) are left out, never shown as a drop. We test the trend
# allowing for autocorrelation, date the level shifts that hold, report unusual episodes
# (holidays are marked as such), and forecast with intervals checked against history by
# backtests from many origins, compared with the naive forecast.

# %%
# ruff: noqa: E402  (imports follow the parameters cell that papermill needs first)
from IPython.display import display
from pandas import DataFrame

from helpers.data import connect, resolve_as_of
from helpers.display import show_answer, show_figure, show_notes, show_quality, use_style
from helpers.metric_trends import plots, trend_report
from helpers.results import Recorder

use_style()
rec = Recorder(run_dir, "metric_trends")
wh = connect(source)
as_of_date = resolve_as_of(wh, as_of)

# %%
report = trend_report(
    wh,
    metric,
    product_area=product_area,
    as_of=as_of_date,
    grain=grain,
    window_days=window_days,
    feature=feature,
    segment_column=segment_column,
    segment_value=segment_value,
    compare_by=compare_by,
    horizon=horizon,
    holidays_country=holidays_country,
    min_coverage=min_coverage,
    team=team,
    run_dir=run_dir,
)
analysis, series, unit = report.analysis, report.series, report.series.spec.unit
for name, table in report.tables().items():
    rec.table(name, table)

# %% [markdown]
# ## The answer

# %%
answer = report.summary()
show_answer(answer)
rec.answer(
    answer,
    metric=metric,
    more_metrics=metrics,
    grain=grain,
    filter=series.filter_label,
    as_of=str(as_of_date),
)

# %% [markdown]
# ## The series
# Complete periods only; dashed lines are level shifts, red points unusual periods, grey
# points holidays, the shaded bands the 80% and 95% forecast intervals.

# %%
show_notes(report.notes())
if report.ok:
    rec.figure(
        "series", plots.series_figure(analysis.values, analysis, title=series.title, unit=unit)
    )

# %% [markdown]
# ## Change against earlier periods

# %%
display(analysis.changes)

# %% [markdown]
# ## More metrics
# The team's further metrics (`metrics`), each with the same grain, window and filter: its
# answer, its notes and its series. Make one the lead `metric` for its full evidence.

# %%
for name in metrics:
    more = trend_report(
        wh,
        name,
        product_area=product_area,
        as_of=as_of_date,
        grain=grain,
        window_days=window_days,
        feature=feature,
        segment_column=segment_column,
        segment_value=segment_value,
        compare_by=None,
        horizon=horizon,
        holidays_country=holidays_country,
        min_coverage=min_coverage,
        team=team,
        run_dir=run_dir,
    )
    show_answer(more.summary(), title=more.series.title)
    show_notes(more.notes())
    rec.table(f"{name}__series", more.series.frame)
    rec.table(f"{name}__answer", DataFrame({"answer": more.summary()}))
    if more.ok:
        fig = plots.series_figure(
            more.analysis.values, more.analysis, title=more.series.title, unit=more.series.spec.unit
        )
        rec.figure(f"{name}__series", fig)
        show_figure(fig)

# %% [markdown]
# ## How sure are we?
# The evidence behind the answer, for the analyst: seasonality, the trend test and level
# shifts, unusual periods, and how well past forecasts held.
#
# ### Seasonality, trend test and level shifts

# %%
dec = analysis.decomposition
if dec is not None:
    show_notes(dec.summary())
if dec is not None and dec.ran:
    rec.figure("decomposition", plots.decomposition_figure(dec))
if analysis.trend is not None:
    show_notes(analysis.trend.summary()[:1])
display(analysis.changepoints)

# %% [markdown]
# ### Unusual periods and episodes
# Each period against the periods just before it (unusual ones and holidays left out),
# in units of the series' noise; unusual periods in a row are one episode. Holidays are
# listed apart: they are expected to differ.

# %%
display(analysis.episodes)
display(analysis.anomalies)
display(analysis.holidays)

# %% [markdown]
# ### Forecast and its backtest

# %%
fc, bt = analysis.forecast, analysis.backtest
show_notes([part.summary()[0] for part in (fc, bt) if part is not None])
if fc is not None:
    display(fc.frame)
if bt is not None and not bt.message:
    rec.figure("backtest", plots.backtest_figure(bt))

# %% [markdown]
# ## Segments side by side
# Each segment's trend test; `p_holm` is adjusted across the segments (Holm), and the
# trend label uses it. These labels read the rank test alone; the answer's trend above also
# needs the level-shift model's agreement.

# %%
if report.comparison_message:
    show_notes([report.comparison_message])
if not report.segments.empty:
    rec.figure("segments", plots.segments_figure(report.by_segment, report.segments, unit=unit))
    display(report.segments)

# %% [markdown]
# ## Data quality

# %%
show_quality(wh, run_dir)
