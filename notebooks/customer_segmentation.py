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
product_area = "analytics"  # the team's product area: only its events and features count
source = "data/demo.duckdb"  # DuckDB file, folder of Parquet/CSV tables, or env:VARIABLE
as_of = None  # analysis date (YYYY-MM-DD); None: the last complete day (the latest event's day once it is over, else the day before)
run_dir = ""  # run folder to record results into; "" records nothing
lookback_days = 90  # activity window ending at as_of, in days
previous_period_days = 28  # movement compares as_of with this many days earlier (whole weeks)
method = "both"  # rfm, clusters or both
monetary = "arr"  # RFM's M: arr, or event_value (sum of the events' value)
cluster_features = ["frequency", "intensity", "breadth", "nps"]  # features the clusters use
k = None  # fixed number of clusters; None picks k by silhouette over k_min..k_max
k_min = 2  # smallest k tried
k_max = 8  # largest k tried
stability_runs = 20  # bootstrap refits for the cluster stability score
rfm_rules = None  # None: the standard RFM rule table; or a list of rules (see docs)
seed = 42  # seeds k-means and the bootstrap

# %% [markdown]
# # Customer segmentation
#
# **Who are our customers in this product area, which groups matter, and who is slipping?**
#
# The team's accounts are the accounts with at least one event in the area in the
# window (the same definition in every analysis); those churned since count as churned.
# Every active one is scored on recency, frequency and money (RFM, eleven named
# segments) and grouped by how it uses the area (behavioural clusters, named against
# the whole company). We show how stable each cluster is, and which accounts and how
# much money moved between segments since the same weekday some weeks earlier.

# %%
# ruff: noqa: E402  (imports follow the parameters cell that papermill needs first)
from IPython.display import display

from helpers.customer_segmentation import plots, segment
from helpers.data import connect, resolve_as_of
from helpers.display import (
    show_answer,
    show_next_step,
    show_notes,
    show_quality,
    show_table,
    use_style,
)
from helpers.results import Recorder

use_style()
rec = Recorder(run_dir, "customer_segmentation")
wh = connect(source)
as_of_date = resolve_as_of(wh, as_of)

# %%
seg = segment(
    wh,
    product_area=product_area,
    as_of=as_of_date,
    lookback_days=lookback_days,
    previous_period_days=previous_period_days,
    method=method,
    monetary=monetary,
    cluster_features=cluster_features,
    k=k,
    k_min=k_min,
    k_max=k_max,
    stability_runs=stability_runs,
    rfm_rules=rfm_rules,
    seed=seed,
    team=team,
)


# %% [markdown]
# ## The answer

# %%
answer = seg.summary()
show_answer(answer, title=f"The answer for {team} at {as_of_date}")
rec.answer(answer, as_of=as_of_date, product_area=product_area, method=method, **seg.facts())

# %% [markdown]
# ## Who slipped
# The accounts that left a healthy segment (Champions, Loyal, Potential Loyalist, New
# Customers, Promising) for any other, for no activity or for churn since the previous
# period, largest ARR first: the list to call. All of them are in the `slipping` table
# (CSV); every account that moved is in `account_moves_<segments>`.

# %%
show_next_step(seg.next_step())
show_table(seg.slipping())

# %% [markdown]
# ## How sure are we?
# The evidence behind the answer, for the analyst: the accounts' features, how the RFM
# scores and segments are made, the behavioural clusters and how stable they are, and
# every move between segments.
#
# ### The accounts and their features
# Features over the window ending at `as_of`: recency (days since the last event),
# frequency (active days), intensity (events per active day), breadth (share of the
# area's released features used), monetary (ARR, company-wide, or spend in the area),
# tenure, NPS (missing when an account never answered) and open feature requests.
# Churned accounts are no longer customers: they only appear in the movement.

# %%
feats = seg.features
display(feats.groupby("status").size().rename("accounts").to_frame())
display(
    feats[feats.status == "active"][
        ["recency", "frequency", "intensity", "breadth", "monetary", "tenure", "nps", "requests"]
    ]
    .describe()
    .T.round(2)
)

# %% [markdown]
# ### RFM segments
# Scores 1–5 from cut-offs, so equal values always get equal scores: recency in steps
# of the area's usual gap between active days (whole weeks), frequency and monetary by
# the quintiles of their values. FM = mean of the F and M scores; the first rule that
# matches names the segment. The cut-offs and the rule table (override it with the
# `rfm_rules` parameter):

# %%
if seg.rfm is not None and seg.rfm.cutoffs is not None:
    display(seg.rfm.cutoffs.table())
if seg.rfm is not None:
    display(seg.rfm.rules)
    show_notes(seg.rfm.summary())
else:
    show_notes([f"RFM is off (method = {method!r})."])

# %%
if "rfm_segment" in seg.summaries:
    display(seg.summaries["rfm_segment"].round(3))
    fig = plots.size_and_arr_bars(seg.summaries["rfm_segment"], title="RFM segments")
    rec.figure("rfm_segments", fig)

# %% [markdown]
# ### Behavioural clusters
# Features standardised (counts per day, seats, money and tenure logged first), k-means
# with a fixed seed on the accounts with every feature (an account without an NPS
# answer joins the nearest cluster by the features it has: no value is invented), k by
# the best silhouette. Each cluster's stability is its mean Jaccard overlap over
# bootstrap refits (Hennig's clusterboot): below 0.6 unstable, 0.6–0.75 doubtful,
# 0.75–0.85 stable, above 0.85 highly stable. Names use a fixed vocabulary, against the
# company-wide medians, and a cluster keeps last run's name while it is the same
# accounts and the name still holds.

# %%
cl = seg.clusters
if cl is not None:
    show_notes(cl.summary())
else:
    show_notes([f"Clusters are off (method = {method!r})."])

# %%
if cl is not None and cl.ok:
    display(
        cl.profile[["cluster", "cluster_name", "accounts", "stability", "reading", "named"]]
        .assign(description=cl.profile["description"])
        .round(2)
    )
    if cl.silhouette is not None and len(cl.silhouette) > 1:
        rec.figure("silhouette", plots.silhouette_curve(cl.silhouette, cl.k))

# %%
if cl is not None and cl.ok:
    rec.figure("cluster_profiles", plots.profile_heatmap(cl.profile, cl.features))
    rec.figure("cluster_projection", plots.projection_scatter(cl.projection))

# %%
if "cluster_name" in seg.summaries:
    display(seg.summaries["cluster_name"].round(3))
    fig = plots.size_and_arr_bars(seg.summaries["cluster_name"], title="Clusters")
    rec.figure("cluster_sizes", fig)

# %% [markdown]
# ### Who moved since the previous period
# Segments at `as_of` against `previous_period_days` earlier (whole weeks: the same
# weekday, the same window length), scored with today's cut-offs and clusters, so a
# move is a change of the account, not of the scale. `new` = not one of the team's
# active accounts then; `churned` = churned since; `no activity` = no event in the area
# in the window now. ARR is today's (the data keep no history of it).

# %%
for by, mv in seg.movements.items():
    show_notes(mv.summary(), title="RFM segments" if by == "rfm_segment" else "Clusters")
    if mv.ok:
        rec.figure(
            f"movement_{by}_accounts",
            plots.transition_heatmap(mv.accounts, title="Accounts: then → now"),
        )
        rec.figure(
            f"movement_{by}_{mv.money}",
            plots.transition_heatmap(mv.arr, money=True, title=f"{mv.money_label}: then → now"),
        )
if not seg.movements:
    show_notes(["No segmentation to compare: see the messages above."])

# %% [markdown]
# ### Exports
# The assignments (for a CRM or follow-up) and the summary tables, as Parquet and CSV in
# the run folder.

# %%
for name, table in seg.tables().items():
    rec.table(name, table, csv=True)
seg.assignments.head(10)

# %% [markdown]
# ## Data quality

# %%
show_quality(wh, run_dir)
