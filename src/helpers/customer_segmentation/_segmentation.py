"""Customer segmentation: per-account features, RFM segments, behavioural clusters, movement."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import ibis
import numpy as np
import pandas as pd

from ..errors import WorkbookError, check_choice

__all__ = [
    "CLUSTER_FEATURES",
    "DEFAULT_CLUSTER_FEATURES",
    "DEFAULT_RFM_RULES",
    "ClusterResult",
    "Movement",
    "RFMResult",
    "Segmentation",
    "account_features",
    "answer_sentences",
    "assignments",
    "behaviour_clusters",
    "rfm_rules_table",
    "rfm_segments",
    "segment",
    "segment_movement",
    "segment_summary",
    "stability_reading",
]

#: Features a clustering may use (the `cluster_features` param), with how each is scaled.
#: Features bounded by the window or a scale (days in the window, shares, 0–10 scores) stay
#: linear; open-ended, skewed ones (counts per day, seats, money, days since created) are logged.
CLUSTER_FEATURES = {
    "recency": "linear",
    "frequency": "linear",
    "intensity": "log",
    "breadth": "linear",
    "seats": "log",
    "monetary": "log",
    "tenure": "log",
    "nps": "linear",
    "requests": "log",
}

#: How accounts behave, not when they were last seen: recency is RFM's job and movement's.
DEFAULT_CLUSTER_FEATURES = ("frequency", "intensity", "breadth", "nps")

# the words a cluster name is built from: feature -> (when high, when low)
_WORDS = {
    "recency": ("lapsing", "recently active"),
    "frequency": ("frequent users", "occasional users"),
    "intensity": ("heavy users", "light users"),
    "breadth": ("broad feature use", "narrow feature use"),
    "seats": ("large accounts", "small accounts"),
    "monetary": ("high value", "low value"),
    "tenure": ("long-standing", "newer accounts"),
    "nps": ("promoters", "detractors"),
    "requests": ("many open requests", "few open requests"),
}

#: The standard RFM rule table. R is the recency score, FM the mean of the frequency and
#: monetary scores; rules are tried in order and the first match names the segment.
DEFAULT_RFM_RULES: list[dict[str, Any]] = [
    {
        "segment": "Champions",
        "r_min": 4,
        "r_max": 5,
        "fm_min": 4,
        "fm_max": 5,
        "at_risk": False,
        "meaning": "recent, frequent and valuable: reward, ask for references",
    },
    {
        "segment": "Loyal",
        "r_min": 3,
        "r_max": 5,
        "fm_min": 3,
        "fm_max": 5,
        "at_risk": False,
        "meaning": "steady and valuable: upsell, ask for reviews",
    },
    {
        "segment": "Potential Loyalist",
        "r_min": 4,
        "r_max": 5,
        "fm_min": 2,
        "fm_max": 5,
        "at_risk": False,
        "meaning": "recent with average use: deepen adoption",
    },
    {
        "segment": "New Customers",
        "r_min": 5,
        "r_max": 5,
        "fm_min": 1,
        "fm_max": 5,
        "at_risk": False,
        "meaning": "just active, little history yet: onboard well",
    },
    {
        "segment": "Promising",
        "r_min": 4,
        "r_max": 4,
        "fm_min": 1,
        "fm_max": 5,
        "at_risk": False,
        "meaning": "recent but light: build the habit",
    },
    {
        "segment": "Need Attention",
        "r_min": 3,
        "r_max": 3,
        "fm_min": 2,
        "fm_max": 5,
        "at_risk": False,
        "meaning": "average on all counts and cooling: reach out",
    },
    {
        "segment": "About to Sleep",
        "r_min": 3,
        "r_max": 3,
        "fm_min": 1,
        "fm_max": 5,
        "at_risk": True,
        "meaning": "below average and cooling: re-engage before they go quiet",
    },
    {
        "segment": "Can't Lose",
        "r_min": 1,
        "r_max": 1,
        "fm_min": 4,
        "fm_max": 5,
        "at_risk": True,
        "meaning": "were among the best, now gone quiet: win them back first",
    },
    {
        "segment": "At Risk",
        "r_min": 1,
        "r_max": 2,
        "fm_min": 3,
        "fm_max": 5,
        "at_risk": True,
        "meaning": "used to be good, not seen for a while: personal outreach",
    },
    {
        "segment": "Hibernating",
        "r_min": 1,
        "r_max": 2,
        "fm_min": 2,
        "fm_max": 5,
        "at_risk": False,
        "meaning": "long quiet, low value: low-cost reactivation",
    },
    {
        "segment": "Lost",
        "r_min": 1,
        "r_max": 2,
        "fm_min": 1,
        "fm_max": 5,
        "at_risk": False,
        "meaning": "lowest on every count: do not spend much here",
    },
]
_RULE_KEYS = ["segment", "r_min", "r_max", "fm_min", "fm_max"]
UNCLASSIFIED = "Unclassified"
NO_ACTIVITY = "no activity in window"


def _as_date(value: str | dt.date) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise WorkbookError(f"`as_of` must be a date (YYYY-MM-DD), not {value!r}") from None


def _money(x: float) -> str:
    x = float(x)
    for div, unit in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(x) >= div:
            return f"${x / div:.1f}{unit}"
    return f"${x:,.0f}"


# --------------------------------------------------------------------------- features


def account_features(
    events,
    accounts,
    features,
    *,
    product_area: str,
    as_of: str | dt.date,
    lookback_days: int = 90,
    monetary: str = "arr",
    nps=None,
    requests=None,
) -> pd.DataFrame:
    """One row per account that existed at ``as_of``, with its usage features in the area.

    The group-bys run in the engine (Ibis); only the per-account frame reaches pandas.

    Parameters
    ----------
    events, accounts, features
        Ibis tables of the data contract.
    product_area
        The team's area; only its events and features count.
    as_of
        Last day of the window (inclusive).
    lookback_days
        Length of the window in days, ``as_of`` included.
    monetary
        ``"arr"`` (the account's ARR) or ``"event_value"`` (sum of the events' ``value``
        in the window).
    nps, requests
        Optional Ibis tables ``nps_responses`` and ``feature_requests``.

    Returns
    -------
    pandas.DataFrame
        Columns ``account_id, name, plan, region, industry, seats, arr, created_at,
        churned_at, status`` (``active``, ``inactive`` = no event in the window, or
        ``churned`` = churned on or before ``as_of``), ``last_active, events`` and the
        features ``recency`` (days since the last event in the window; ``lookback_days``
        when none), ``frequency`` (active days), ``intensity`` (events per active day),
        ``breadth`` (share of the area's released features used), ``seats``, ``monetary``,
        ``tenure`` (days since created), ``nps`` (mean score up to ``as_of``),
        ``nps_latest``, ``requests`` (open requests: for features of the area not released
        at ``as_of``).
    """
    check_choice("monetary", monetary, ["arr", "event_value"])
    if not isinstance(lookback_days, int) or lookback_days < 1:
        raise WorkbookError(
            f"`lookback_days` must be a whole number of days >= 1, not {lookback_days!r}"
        )
    as_of = _as_date(as_of)
    start = as_of - dt.timedelta(days=lookback_days - 1)
    lo = dt.datetime.combine(start, dt.time())
    hi = dt.datetime.combine(as_of + dt.timedelta(days=1), dt.time())

    ev = events.filter(events.product_area == product_area, events.ts >= lo, events.ts < hi)
    # the catalogue is small: its released features become a literal list, so breadth is
    # counted in the same single pass over the events as everything else
    released = features.filter(
        features.product_area == product_area,
        features.status == "released",
        features.released_at <= as_of,
    )
    released_list = sorted(set(released.feature.to_pyarrow().to_pylist()))
    n_released = len(released_list)
    aggs = {
        "last_ts": ev.ts.max(),
        "frequency": ev.ts.date().nunique(),
        "events": ev.count(),
        "used_features": ev.feature.nunique(where=ev.feature.isin(released_list or [""])),
    }
    if monetary == "event_value":  # read the `value` column only when it is used
        aggs["value_sum"] = ev.value.sum()
    per = ev.group_by(_k1=ev.account_id).aggregate(**aggs)

    acc = accounts.filter(accounts.created_at <= as_of)
    joined = acc.left_join(per, acc.account_id == per._k1)
    drop = ["_k1"]
    if nps is not None:
        nr = nps.filter(nps.submitted_at < hi)
        nr = nr.mutate(
            _rn=ibis.row_number().over(
                group_by=nr.account_id,
                order_by=[ibis.desc(nr.submitted_at), ibis.desc(nr.response_id)],
            )
        )
        na = nr.group_by(_k3=nr.account_id).aggregate(
            nps=nr.score.mean(), nps_latest=nr.score.max(where=nr._rn == 0)
        )
        joined = joined.left_join(na, joined.account_id == na._k3)
        drop.append("_k3")
    if requests is not None:
        area_feats = features.filter(features.product_area == product_area)
        still_open = (
            (area_feats.status != "released")
            | area_feats.released_at.isnull()
            | (area_feats.released_at > as_of)
        )
        open_feats = area_feats.filter(still_open).select("feature")
        rq = requests.filter(requests.created_at < hi).semi_join(open_feats, "feature")
        ra = rq.group_by(_k4=rq.account_id).aggregate(requests=rq.count())
        joined = joined.left_join(ra, joined.account_id == ra._k4)
        drop.append("_k4")
    df = joined.drop(*drop).to_pandas()
    return _finish_features(
        df, as_of=as_of, lookback_days=lookback_days, monetary=monetary, n_released=n_released
    )


def _finish_features(
    df: pd.DataFrame, *, as_of: dt.date, lookback_days: int, monetary: str, n_released: int
) -> pd.DataFrame:
    """Small per-account arithmetic on the frame the engine returned."""
    df = df.copy()
    for col in ("nps", "nps_latest"):
        if col not in df:
            df[col] = np.nan
    if "requests" not in df:
        df["requests"] = 0
    as_of_ts = pd.Timestamp(as_of)
    churned = pd.to_datetime(df["churned_at"]).le(as_of_ts).fillna(False).astype(bool)
    active = df["events"].fillna(0).gt(0)
    df["status"] = np.where(churned, "churned", np.where(active, "active", "inactive"))
    df["last_active"] = pd.to_datetime(df["last_ts"]).dt.normalize()
    df["events"] = df["events"].fillna(0).astype("int64")
    df["frequency"] = df["frequency"].fillna(0).astype("int64")
    df["recency"] = (
        (as_of_ts - df["last_active"]).dt.days.astype("float64").fillna(float(lookback_days))
    )
    df["intensity"] = np.where(
        df["frequency"] > 0, df["events"] / df["frequency"].where(df["frequency"] > 0, 1), 0.0
    )
    used = df["used_features"].fillna(0).astype("float64")
    df["breadth"] = used / n_released if n_released else 0.0
    df["monetary"] = (
        df["arr"].astype("float64")
        if monetary == "arr"
        else df["value_sum"].fillna(0.0).astype("float64")
    )
    df["tenure"] = (as_of_ts - pd.to_datetime(df["created_at"])).dt.days.astype("float64")
    df["requests"] = df["requests"].fillna(0).astype("int64")
    df["seats"] = df["seats"].astype("int64")
    df["arr"] = df["arr"].astype("float64")
    cols = [
        "account_id",
        "name",
        "plan",
        "region",
        "industry",
        "seats",
        "arr",
        "created_at",
        "churned_at",
        "status",
        "last_active",
        "events",
        "recency",
        "frequency",
        "intensity",
        "breadth",
        "monetary",
        "tenure",
        "nps",
        "nps_latest",
        "requests",
    ]
    out = df[cols].sort_values("account_id", kind="stable").reset_index(drop=True)
    out.attrs.update(
        as_of=as_of.isoformat(),
        lookback_days=lookback_days,
        monetary=monetary,
        released_features=n_released,
    )
    return out


def _current(feats: pd.DataFrame) -> pd.DataFrame:
    return feats[feats["status"] != "churned"]


def _window_words(feats: pd.DataFrame) -> str:
    a = feats.attrs
    if "as_of" in a and "lookback_days" in a:
        return f"in the {a['lookback_days']} days to {a['as_of']}"
    return "in the window"


# --------------------------------------------------------------------------- RFM


def rfm_rules_table(rules: list[dict[str, Any]] | None = None) -> pd.DataFrame:
    """The RFM rule table as a frame, checked: the default table or an override from params.

    Raises
    ------
    WorkbookError
        If a rule lacks a key, has a score outside 1–5, or a minimum above its maximum.
    """
    rows = DEFAULT_RFM_RULES if rules is None else rules
    if not isinstance(rows, list) or not rows:
        raise WorkbookError("`rfm_rules` must be a non-empty list of rules")
    out = []
    for i, rule in enumerate(rows, 1):
        if not isinstance(rule, dict):
            raise WorkbookError(f"`rfm_rules` rule {i} must be a mapping, not {rule!r}")
        missing = [k for k in _RULE_KEYS if k not in rule]
        if missing:
            raise WorkbookError(
                f"`rfm_rules` rule {i} lacks {', '.join(missing)} (each rule needs "
                f"{', '.join(_RULE_KEYS)})"
            )
        for lo, hi in (("r_min", "r_max"), ("fm_min", "fm_max")):
            a, b = rule[lo], rule[hi]
            if not all(isinstance(v, int | float) and 1 <= v <= 5 for v in (a, b)) or a > b:
                raise WorkbookError(
                    f"`rfm_rules` rule {i} ({rule['segment']}): `{lo}`/`{hi}` must be scores "
                    f"from 1 to 5 with {lo} <= {hi}, not {a!r}/{b!r}"
                )
        out.append(
            {
                "segment": str(rule["segment"]),
                **{k: rule[k] for k in _RULE_KEYS[1:]},
                "at_risk": bool(rule.get("at_risk", False)),
                "meaning": str(rule.get("meaning", "")),
            }
        )
    return pd.DataFrame(out)


def _quintile(values: pd.Series, ids: pd.Series, *, higher_is_better: bool) -> np.ndarray:
    """Scores 1–5: quintiles of the rank, ties broken by account_id so results never vary.

    Rank r = 1..n, worst value first; score = ceil(5 (r - 1) / (n - 1)), at least 1: the
    same bins as ``pd.qcut(rank, 5)``, in integer arithmetic so no bin edge is left to
    floating point.
    """
    frame = pd.DataFrame({"v": values.to_numpy(), "id": ids.to_numpy()})
    order = frame.sort_values(
        ["v", "id"], ascending=[higher_is_better, True], kind="stable"
    ).index.to_numpy()
    n = len(frame)
    r = np.arange(1, n + 1)
    scores = np.empty(n, dtype=np.int64)
    scores[order] = np.maximum(1, -(-5 * (r - 1) // max(n - 1, 1)))
    return scores


@dataclass
class RFMResult:
    """RFM scores and named segments of the current accounts.

    Attributes
    ----------
    table
        Per current account: ``account_id, recency, frequency, monetary, r, f, m, fm,
        rfm_segment`` (empty when ``message`` is set).
    rules
        The rule table used.
    message
        Why no segmentation could be made, else None.
    """

    table: pd.DataFrame
    rules: pd.DataFrame
    message: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.message is None

    def counts(self) -> pd.DataFrame:
        """Accounts per segment in rule order (segments with none included)."""
        order = list(dict.fromkeys([*self.rules["segment"], UNCLASSIFIED]))
        c = self.table["rfm_segment"].value_counts().reindex(order, fill_value=0)
        return c[(c > 0) | c.index.isin(self.rules["segment"])].rename("accounts").to_frame()

    def summary(self) -> list[str]:
        """Plain-words sentences."""
        if not self.ok:
            return [self.message]
        c = self.counts()["accounts"]
        top = c.sort_values(ascending=False, kind="stable")
        out = [
            f"RFM puts {len(self.table)} current accounts into {int((c > 0).sum())} named "
            f"segments; the largest is {top.index[0]} ({int(top.iloc[0])} accounts)."
        ]
        un = int(c.get(UNCLASSIFIED, 0))
        if un:
            out.append(f"{un} accounts match no rule of the rule table (shown as {UNCLASSIFIED}).")
        return out + self.notes


def rfm_segments(
    feats: pd.DataFrame, *, rules: list[dict[str, Any]] | None = None, min_accounts: int = 5
) -> RFMResult:
    """RFM scores (1–5 by quintile) and named segments for the current accounts.

    Scores: accounts are sorted by the value (worst first: highest recency, lowest
    frequency and monetary), ties by ``account_id``; the score is the quintile of that
    rank (``pd.qcut(rank, 5)``).
    FM is the mean of the F and M scores. The first rule whose R and FM ranges hold
    names the segment.

    Parameters
    ----------
    feats
        The frame of :func:`account_features`; churned accounts are left out.
    rules
        Overrides the standard rule table (the ``rfm_rules`` param).
    min_accounts
        Fewer current accounts than this give a message instead of scores.

    Returns
    -------
    RFMResult
    """
    table = rfm_rules_table(rules)
    cur = _current(feats)
    empty = pd.DataFrame(
        columns=[
            "account_id",
            "recency",
            "frequency",
            "monetary",
            "r",
            "f",
            "m",
            "fm",
            "rfm_segment",
        ]
    )
    if cur.empty:
        return RFMResult(empty, table, "There are no current (non-churned) accounts to segment.")
    if not (cur["status"] == "active").any():
        return RFMResult(
            empty,
            table,
            f"No account was active {_window_words(feats)}: "
            "RFM needs activity to score recency and frequency.",
        )
    if len(cur) < min_accounts:
        return RFMResult(
            empty,
            table,
            f"Only {len(cur)} current account(s): RFM quintile "
            f"scores need at least {min_accounts}.",
        )
    dims = cur[["recency", "frequency", "monetary"]]
    if (dims.nunique() <= 1).all():
        return RFMResult(
            empty,
            table,
            "Every current account has the same recency, frequency "
            "and monetary value: RFM scores cannot tell them apart.",
        )
    notes = [
        f"Every account has the same {c}, so its score only reflects the tie order."
        for c in dims.columns
        if dims[c].nunique() <= 1
    ]
    out = cur[["account_id", "recency", "frequency", "monetary"]].copy()
    out["r"] = _quintile(cur["recency"], cur["account_id"], higher_is_better=False)
    out["f"] = _quintile(cur["frequency"], cur["account_id"], higher_is_better=True)
    out["m"] = _quintile(cur["monetary"], cur["account_id"], higher_is_better=True)
    out["fm"] = (out["f"] + out["m"]) / 2
    out["rfm_segment"] = _apply_rules(out["r"], out["fm"], table)
    return RFMResult(out.reset_index(drop=True), table, None, notes)


def _apply_rules(r: pd.Series, fm: pd.Series, table: pd.DataFrame) -> np.ndarray:
    conds = [
        (r >= t.r_min) & (r <= t.r_max) & (fm >= t.fm_min) & (fm <= t.fm_max)
        for t in table.itertuples()
    ]
    return np.select(conds, list(table["segment"]), default=UNCLASSIFIED).astype(object)


# --------------------------------------------------------------------------- clusters


def stability_reading(score: float) -> str:
    """The reading of a bootstrap stability score (adjusted Rand)."""
    if score < 0.6:
        return "unstable"
    if score < 0.75:
        return "doubtful"
    if score <= 0.85:
        return "stable"
    return "highly stable"


@dataclass
class ClusterResult:
    """Behavioural clusters of the active current accounts.

    Attributes
    ----------
    labels
        Per current account: ``account_id, cluster, cluster_name`` (cluster -1 and name
        "no activity in window" for accounts without activity).
    profile
        Per cluster: accounts, the median of each raw feature, the mean scaled value
        (``z_<feature>``), name and description.
    k, silhouette
        The number of clusters and the silhouette score per k tried.
    stability, stability_runs
        Mean adjusted Rand index between the clustering and refits on bootstrap
        resamples.
    projection
        2-D PCA coordinates of the active accounts (``pc1, pc2, cluster_name``).
    """

    labels: pd.DataFrame
    profile: pd.DataFrame
    features: list[str]
    k: int | None = None
    silhouette: pd.Series | None = None
    stability: float | None = None
    stability_runs: int = 0
    projection: pd.DataFrame | None = None
    message: str | None = None
    model: Any = None

    @property
    def ok(self) -> bool:
        return self.message is None

    @property
    def stability_text(self) -> str:
        if self.stability is None:
            return "not measured"
        return f"{self.stability:.2f} ({stability_reading(self.stability)})"

    def predict(self, feats: pd.DataFrame) -> pd.DataFrame:
        """Assign other accounts (e.g. the previous period's) to these clusters."""
        cur = _current(feats)
        out = cur[["account_id"]].copy()
        out["cluster"] = -1
        out["cluster_name"] = NO_ACTIVITY
        if not self.ok:
            out["cluster_name"] = "not clustered"
            return out.reset_index(drop=True)
        act = cur["status"] == "active"
        if act.any():
            x = _design(cur.loc[act], self.features, self.model["fill"])
            from threadpoolctl import threadpool_limits

            with threadpool_limits(1):
                lab = self.model["kmeans"].predict(self.model["scaler"].transform(x))
            out.loc[act, "cluster"] = lab
            names = dict(zip(self.profile["cluster"], self.profile["cluster_name"], strict=True))
            out.loc[act, "cluster_name"] = [names[c] for c in lab]
        return out.reset_index(drop=True)

    def summary(self) -> list[str]:
        """Plain-words sentences, with the stability reading."""
        if not self.ok:
            return [self.message]
        p = self.profile.sort_values("accounts", ascending=False)
        parts = "; ".join(f"{r.cluster_name} ({r.accounts})" for r in p.itertuples())
        return [
            f"{self.k} behavioural clusters (k chosen "
            + (
                "by silhouette"
                if self.silhouette is not None and len(self.silhouette) > 1
                else "in params"
            )
            + f") from {', '.join(self.features)}: {parts}.",
            f"Stability over {self.stability_runs} bootstrap refits: adjusted Rand "
            f"{self.stability_text}; below 0.6 reads unstable, 0.6–0.75 doubtful, 0.75–0.85 "
            "stable, above 0.85 highly stable.",
        ]


def _design(df: pd.DataFrame, features: list[str], fill: dict[str, float]) -> np.ndarray:
    cols = []
    for f in features:
        v = df[f].astype("float64").fillna(fill.get(f, 0.0)).to_numpy()
        cols.append(np.log1p(np.clip(v, 0, None)) if CLUSTER_FEATURES[f] == "log" else v)
    return np.column_stack(cols)


def behaviour_clusters(
    feats: pd.DataFrame,
    *,
    features: list[str] | tuple[str, ...] = DEFAULT_CLUSTER_FEATURES,
    k: int | None = None,
    k_min: int = 2,
    k_max: int = 8,
    stability_runs: int = 20,
    seed: int = 42,
) -> ClusterResult:
    """K-means clusters of the active current accounts, named from their profile.

    Features are log-transformed where skewed (counts, days, money), then standardised
    (scikit-learn ``StandardScaler``). k is fixed or chosen by the best silhouette over
    ``k_min..k_max``; ``KMeans(n_clusters=k, random_state=seed, n_init=10)``. Stability
    is the mean adjusted Rand index between the fit and refits on bootstrap resamples
    (each refit predicts every account).

    Parameters
    ----------
    feats
        The frame of :func:`account_features`.
    features
        Names from :data:`CLUSTER_FEATURES`.
    k, k_min, k_max
        A fixed k, or the range searched by silhouette.
    stability_runs
        Bootstrap refits for the stability score.
    seed
        Seeds k-means and the bootstrap.

    Returns
    -------
    ClusterResult
    """
    from sklearn.cluster import KMeans
    from sklearn.decomposition import PCA
    from sklearn.metrics import adjusted_rand_score, silhouette_score
    from sklearn.preprocessing import StandardScaler
    from threadpoolctl import threadpool_limits

    features = list(features)
    if not features:
        raise WorkbookError("`cluster_features` must name at least one feature")
    for f in features:
        check_choice("cluster_features", f, list(CLUSTER_FEATURES))
    if k is not None and k < 2:
        raise WorkbookError(f"`k` must be at least 2, not {k}")
    if k is None and not 2 <= k_min <= k_max:
        raise WorkbookError(
            f"`k_min` and `k_max` must satisfy 2 <= k_min <= k_max, not {k_min} and {k_max}"
        )
    cur = _current(feats)
    base = cur[["account_id"]].assign(cluster=-1, cluster_name=NO_ACTIVITY)

    def fail(msg: str) -> ClusterResult:
        return ClusterResult(
            base.assign(cluster_name="not clustered").reset_index(drop=True),
            pd.DataFrame(),
            features,
            message=msg,
        )

    act = cur[cur["status"] == "active"]
    need = k if k is not None else k_min
    if act.empty:
        return fail(f"No account was active {_window_words(feats)}: there is nothing to cluster.")
    if len(act) <= need:
        return fail(
            f"Only {len(act)} active account(s), fewer than k = {need} clusters plus "
            "one: clustering needs more accounts than clusters."
        )
    fill = {f: float(act[f].median()) if act[f].notna().any() else 0.0 for f in features}
    x_raw = _design(act, features, fill)
    distinct = len(np.unique(x_raw, axis=0))
    if distinct == 1:
        return fail(
            "Every active account has the same values of "
            f"{', '.join(features)}: there is nothing to cluster."
        )
    if distinct < need:
        return fail(
            f"The active accounts have only {distinct} distinct profiles, fewer than "
            f"k = {need}: clustering cannot form that many groups."
        )
    scaler = StandardScaler().fit(x_raw)
    x = scaler.transform(x_raw)

    def fit(data: np.ndarray, n: int):
        # one BLAS/OpenMP thread: on a small frame, thread start-up costs 100x the work
        with threadpool_limits(1):
            return KMeans(n_clusters=n, random_state=seed, n_init=10).fit(data)

    # silhouette costs n² distances: above 5,000 accounts it is scored on a seeded sample
    sample = 5000 if len(x) > 5000 else None
    if k is not None:
        ks = [k]
        sil = None
    else:
        ks = [n for n in range(k_min, k_max + 1) if n < min(len(act), distinct + 1)]
        sil = pd.Series(
            {
                n: float(
                    silhouette_score(x, fit(x, n).labels_, sample_size=sample, random_state=seed)
                )
                for n in ks
            },
            name="silhouette",
        ).rename_axis("k")
    best = int(sil.idxmax()) if sil is not None else ks[0]
    km = fit(x, best)
    labels = km.labels_

    rng = np.random.default_rng(seed)
    scores = []
    for _ in range(stability_runs):
        idx = rng.integers(0, len(x), len(x))
        if len(np.unique(x[idx], axis=0)) < best:
            continue
        boot = fit(x[idx], best)
        with threadpool_limits(1):
            scores.append(adjusted_rand_score(labels, boot.predict(x)))
    stability = float(np.mean(scores)) if scores else None

    profile = _profile(act, x, labels, features)
    names = dict(zip(profile["cluster"], profile["cluster_name"], strict=True))
    lab = base.copy()
    lab.loc[act.index, "cluster"] = labels
    lab.loc[act.index, "cluster_name"] = [names[c] for c in labels]
    n_comp = min(2, x.shape[1])
    pcs = PCA(n_components=n_comp, random_state=seed).fit_transform(x)
    proj = pd.DataFrame(
        {
            "account_id": act["account_id"].to_numpy(),
            "pc1": pcs[:, 0],
            "pc2": pcs[:, 1] if n_comp > 1 else 0.0,
            "cluster_name": [names[c] for c in labels],
        }
    )
    return ClusterResult(
        labels=lab.reset_index(drop=True),
        profile=profile,
        features=features,
        k=best,
        silhouette=sil,
        stability=stability,
        stability_runs=len(scores),
        projection=proj,
        model={"scaler": scaler, "kmeans": km, "fill": fill},
    )


def _profile(
    act: pd.DataFrame, x: np.ndarray, labels: np.ndarray, features: list[str]
) -> pd.DataFrame:
    """Per cluster: size, medians, mean z-scores, a readable name and a one-line description."""
    z = pd.DataFrame(x, columns=[f"z_{f}" for f in features]).assign(cluster=labels)
    zm = z.groupby("cluster").mean()
    med = act[features].assign(cluster=labels).groupby("cluster").median()
    size = pd.Series(labels).value_counts().rename("accounts")
    prof = pd.concat([size, med, zm], axis=1).rename_axis("cluster").reset_index()
    overall = act[features].median()
    names, descs = [], []
    for row in prof.itertuples():
        zs = pd.Series({f: getattr(row, f"z_{f}") for f in features})
        order = zs.abs().sort_values(ascending=False, kind="stable").index
        # a word only for a clear difference: half a standard deviation from the mean
        words = [_WORDS[f][0 if zs[f] > 0 else 1] for f in order[:2] if abs(zs[f]) >= 0.5]
        names.append(" · ".join(words) if words else "middle of the pack")
        descs.append(
            f"{row.accounts} accounts; "
            + ", ".join(
                f"{f} {_fmt(f, getattr(row, f))} (all: {_fmt(f, overall[f])})" for f in order[:3]
            )
        )
    prof["cluster_name"] = _unique(names, prof, features)
    prof["description"] = descs
    return prof


def _unique(names: list[str], prof: pd.DataFrame, features: list[str]) -> list[str]:
    """Make names unique: add the next most distinctive word, then a number."""
    out = list(names)
    for name in set(names):
        same = [i for i, n in enumerate(names) if n == name]
        if len(same) < 2:
            continue
        for i in same:
            zs = pd.Series({f: prof.iloc[i][f"z_{f}"] for f in features})
            order = zs.abs().sort_values(ascending=False, kind="stable").index
            extra = [_WORDS[f][0 if zs[f] > 0 else 1] for f in order[len(name.split(" · ")) :][:1]]
            out[i] = " · ".join([name, *extra]) if extra else name
    counts: dict[str, int] = {}
    for i, n in enumerate(out):
        if out.count(n) > 1:
            counts[n] = counts.get(n, 0) + 1
            out[i] = f"{n} ({counts[n]})"
    return out


def _fmt(feature: str, value: float) -> str:
    if pd.isna(value):
        return "n/a"
    if feature == "breadth":
        return f"{value:.0%}"
    if feature == "monetary":
        return _money(value)
    if feature in ("recency", "tenure"):
        return f"{value:.0f} d"
    if feature in ("intensity", "nps"):
        return f"{value:.1f}"
    return f"{value:.0f}"


# --------------------------------------------------------------------------- summary, movement


def assignments(
    feats: pd.DataFrame, rfm: RFMResult | None, clusters: ClusterResult | None
) -> pd.DataFrame:
    """The export table: one row per current account with its RFM scores and cluster."""
    cur = _current(feats)[["account_id", "status", "arr"]].reset_index(drop=True)
    out = cur.copy()
    if rfm is not None and rfm.ok:
        out = out.merge(
            rfm.table[["account_id", "r", "f", "m", "rfm_segment"]], on="account_id", how="left"
        )
    else:
        out = out.assign(r=pd.NA, f=pd.NA, m=pd.NA, rfm_segment=None)
    if clusters is not None:
        out = out.merge(clusters.labels, on="account_id", how="left")
    else:
        out = out.assign(cluster=pd.NA, cluster_name=None)
    return out[
        ["account_id", "status", "arr", "r", "f", "m", "rfm_segment", "cluster", "cluster_name"]
    ]


def segment_summary(
    feats: pd.DataFrame, assigned: pd.DataFrame, by: str, *, previous: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Per segment: accounts, share, ARR, ARR share, median usage, mean NPS and churn rate.

    Parameters
    ----------
    feats
        Current features (:func:`account_features`).
    assigned
        Current assignments with a column ``by`` (``rfm_segment`` or ``cluster_name``).
    by
        The segment column.
    previous
        Assignments at the previous period (same column): the churn rate of a segment is
        the share of its accounts then that churned by ``as_of``.
    """
    check_choice("by", by, ["rfm_segment", "cluster_name"])
    df = assigned[["account_id", by]].merge(
        feats[["account_id", "arr", "frequency", "intensity", "breadth", "nps"]],
        on="account_id",
        how="left",
    )
    g = df.groupby(by, sort=False)
    out = pd.DataFrame(
        {
            "accounts": g.size(),
            "arr": g["arr"].sum(),
            "median_active_days": g["frequency"].median(),
            "median_events_per_day": g["intensity"].median(),
            "median_breadth": g["breadth"].median(),
            "mean_nps": g["nps"].mean(),
        }
    )
    out.insert(1, "share", out["accounts"] / out["accounts"].sum())
    out.insert(3, "arr_share", out["arr"] / out["arr"].sum() if out["arr"].sum() else 0.0)
    if previous is not None:
        status = feats.set_index("account_id")["status"]
        prev = previous[["account_id", by]].assign(
            churned=lambda d: d["account_id"].map(status).eq("churned")
        )
        out["churn_rate"] = prev.groupby(by)["churned"].mean().reindex(out.index)
    out.index.name = "segment"
    return out.sort_values("arr", ascending=False, kind="stable")


@dataclass
class Movement:
    """How accounts moved between segments from the previous period to ``as_of``.

    Attributes
    ----------
    accounts, arr
        Transition matrices: rows are the segment then (``new`` = not a customer then),
        columns the segment now (``churned`` = churned since).
    moves
        Off-diagonal cells: ``from, to, accounts, arr, worse`` (worse = to a lower-ranked
        segment or churned), by ARR.
    """

    accounts: pd.DataFrame
    arr: pd.DataFrame
    moves: pd.DataFrame
    by: str
    previous_as_of: dt.date | None = None
    message: str | None = None
    ordered: bool = False

    @property
    def ok(self) -> bool:
        return self.message is None

    def change(self) -> pd.DataFrame:
        """Accounts per segment then and now, and the difference."""
        segs = [s for s in self.accounts.columns if s != "churned"]
        then = self.accounts.sum(axis=1).reindex(segs, fill_value=0)
        now = self.accounts.sum(axis=0).reindex(segs, fill_value=0)
        return pd.DataFrame({"then": then, "now": now, "change": now - then})

    def summary(self, n: int = 3) -> list[str]:
        """The moves that matter, in words: the biggest slips first, then the biggest gain."""
        if not self.ok:
            return [self.message]
        when = f"since {self.previous_as_of}" if self.previous_as_of else "since last period"
        worse = self.moves[self.moves["worse"]]
        ranked = self.ordered
        what = "moved to a worse segment or churned" if ranked else "churned"
        if worse.empty:
            out = [f"No account {what} {when}."]
        else:
            out = [
                f"{int(worse['accounts'].sum())} accounts ({_money(worse['arr'].sum())} ARR) "
                f"{what} {when}."
            ]
        better = self.moves[~self.moves["worse"]]
        picks = [
            *worse.head(n - 1 if len(better) else n).itertuples(),
            *better.head(1).itertuples(),
        ]
        for row in picks:
            out.append(
                f"{row.accounts} accounts, {_money(row.arr)} ARR, moved from {row.from_} to "
                f"{row.to}."
            )
        return out


def segment_movement(
    previous: pd.DataFrame,
    current: pd.DataFrame,
    feats: pd.DataFrame,
    *,
    by: str,
    order: list[str] | None = None,
    previous_as_of: dt.date | None = None,
) -> Movement:
    """Transition matrices of accounts and ARR between two assignments.

    Parameters
    ----------
    previous, current
        Assignments (``account_id`` and column ``by``) at the previous period and at as_of.
    feats
        Current features: their ``status`` marks churned accounts, their ``arr`` weights.
    by
        ``rfm_segment`` or ``cluster_name``.
    order
        Segments from best to worst; a move to a later segment (or to churned) is "worse".
        Without it only churn counts as worse.
    previous_as_of
        The date of the previous period, for the sentences.
    """
    check_choice("by", by, ["rfm_segment", "cluster_name"])
    if previous.empty and current.empty:
        return Movement(
            pd.DataFrame(),
            pd.DataFrame(),
            pd.DataFrame(),
            by,
            previous_as_of,
            "No segments at either date: there is no movement to show.",
        )
    info = feats.set_index("account_id")
    prev = previous.set_index("account_id")[by].rename("from_")
    cur = current.set_index("account_id")[by].rename("to")
    churned = info.index[info["status"] == "churned"]
    to = cur.reindex(prev.index.union(cur.index))
    to.loc[to.index.isin(churned) & to.isna()] = "churned"
    frm = prev.reindex(to.index).fillna("new")
    df = pd.DataFrame({"from_": frm, "to": to}).dropna()
    df["arr"] = info["arr"].reindex(df.index).fillna(0.0).to_numpy()
    segs = list(dict.fromkeys([*(order or []), *sorted(set(df["from_"]) | set(df["to"]))]))
    rows = [s for s in segs if s not in ("churned",)]
    rows = [s for s in rows if s != "new"] + (["new"] if "new" in set(df["from_"]) else [])
    cols = [s for s in segs if s not in ("new", "churned")] + ["churned"]
    acc = pd.crosstab(df["from_"], df["to"]).reindex(index=rows, columns=cols, fill_value=0)
    arr = (
        pd.crosstab(df["from_"], df["to"], values=df["arr"], aggfunc="sum")
        .reindex(index=rows, columns=cols)
        .fillna(0.0)
    )
    acc.index.name = arr.index.name = "then"
    acc.columns.name = arr.columns.name = "now"
    rank = {s: i for i, s in enumerate(order or [])}
    moves = (
        df[df["from_"] != df["to"]]
        .groupby(["from_", "to"], as_index=False)
        .agg(accounts=("arr", "size"), arr=("arr", "sum"))
    )

    def worse(a: str, b: str) -> bool:
        if b == "churned":
            return True
        return a in rank and b in rank and rank[b] > rank[a]

    moves["worse"] = [worse(a, b) for a, b in zip(moves["from_"], moves["to"], strict=True)]
    moves = moves.sort_values(["arr", "accounts"], ascending=False, kind="stable")
    return Movement(acc, arr, moves.reset_index(drop=True), by, previous_as_of, ordered=bool(order))


# --------------------------------------------------------------------------- the whole analysis


@dataclass
class Segmentation:
    """Everything the notebook shows: features, RFM, clusters, summaries and movement."""

    product_area: str
    as_of: dt.date
    previous_as_of: dt.date
    method: str
    features: pd.DataFrame
    previous_features: pd.DataFrame
    rfm: RFMResult | None
    clusters: ClusterResult | None
    assignments: pd.DataFrame
    previous_assignments: pd.DataFrame
    summaries: dict[str, pd.DataFrame]
    movements: dict[str, Movement]
    message: str | None = None

    @property
    def ok(self) -> bool:
        return self.message is None

    def summary(self) -> list[str]:
        """The answer first: 3–5 sentences a PM can act on."""
        return answer_sentences(self)


def segment(
    wh,
    *,
    product_area: str,
    as_of: str | dt.date,
    lookback_days: int = 90,
    previous_period_days: int = 30,
    method: str = "both",
    monetary: str = "arr",
    cluster_features: list[str] | tuple[str, ...] = DEFAULT_CLUSTER_FEATURES,
    k: int | None = None,
    k_min: int = 2,
    k_max: int = 8,
    stability_runs: int = 20,
    rfm_rules: list[dict[str, Any]] | None = None,
    seed: int = 42,
) -> Segmentation:
    """Run the whole segmentation of one product area (the notebook's params as keywords).

    Parameters
    ----------
    wh
        A :class:`helpers.data.Warehouse`.
    product_area, as_of, lookback_days, monetary
        See :func:`account_features`.
    previous_period_days
        Movement compares the segments at ``as_of`` with those at ``as_of`` minus this.
    method
        ``"rfm"``, ``"clusters"`` or ``"both"``.
    cluster_features, k, k_min, k_max, stability_runs, seed
        See :func:`behaviour_clusters`.
    rfm_rules
        Overrides the RFM rule table (see :func:`rfm_segments`).

    Returns
    -------
    Segmentation
    """
    check_choice("method", method, ["rfm", "clusters", "both"])
    as_of = _as_date(as_of)
    prev_as_of = as_of - dt.timedelta(days=previous_period_days)
    tables = {
        "events": wh.table("events"),
        "accounts": wh.table("accounts"),
        "features": wh.table("features"),
        "nps": wh.table("nps_responses") if wh.has("nps_responses") else None,
        "requests": wh.table("feature_requests") if wh.has("feature_requests") else None,
    }
    kw = {"product_area": product_area, "lookback_days": lookback_days, "monetary": monetary}
    feats = account_features(**tables, as_of=as_of, **kw)
    prev = account_features(**tables, as_of=prev_as_of, **kw)
    rfm = rfm_segments(feats, rules=rfm_rules) if method in ("rfm", "both") else None
    prev_rfm = rfm_segments(prev, rules=rfm_rules) if rfm is not None else None
    clusters = None
    if method in ("clusters", "both"):
        clusters = behaviour_clusters(
            feats,
            features=cluster_features,
            k=k,
            k_min=k_min,
            k_max=k_max,
            stability_runs=stability_runs,
            seed=seed,
        )
    assigned = assignments(feats, rfm, clusters)
    prev_assigned = assignments(prev, prev_rfm, None)
    if clusters is not None:
        prev_assigned = prev_assigned.drop(columns=["cluster", "cluster_name"]).merge(
            clusters.predict(prev), on="account_id", how="left"
        )
    summaries: dict[str, pd.DataFrame] = {}
    movements: dict[str, Movement] = {}
    for by, res in (("rfm_segment", rfm), ("cluster_name", clusters)):
        if res is None or not res.ok:
            continue
        if by == "rfm_segment" and not prev_rfm.ok:
            prev_ok = prev_assigned.iloc[0:0]
        else:
            prev_ok = prev_assigned
        summaries[by] = segment_summary(feats, assigned, by, previous=prev_ok)
        order = list(res.rules["segment"]) if by == "rfm_segment" else None
        movements[by] = segment_movement(
            prev_ok, assigned, feats, by=by, order=order, previous_as_of=prev_as_of
        )
    message = None
    cur = _current(feats)
    if cur.empty:
        message = f"{product_area} has no current accounts at {as_of}: nothing to segment."
    elif not (cur["status"] == "active").any():
        message = (
            f"No account used {product_area} {_window_words(feats)}: there is nothing "
            "to segment. Check `product_area` and `as_of`."
        )
    return Segmentation(
        product_area,
        as_of,
        prev_as_of,
        method,
        feats,
        prev,
        rfm,
        clusters,
        assigned,
        prev_assigned,
        summaries,
        movements,
        message,
    )


def answer_sentences(seg: Segmentation) -> list[str]:
    """3–5 plain sentences built from the results: size, biggest segment, change, ARR at risk."""
    if not seg.ok:
        return [seg.message]
    cur = _current(seg.features)
    churned_since = seg.features[
        (seg.features["status"] == "churned")
        & (pd.to_datetime(seg.features["churned_at"]) > pd.Timestamp(seg.previous_as_of))
    ]
    inactive = int((cur["status"] == "inactive").sum())
    out = [
        f"{seg.product_area} has {len(cur)} current accounts ({_money(cur['arr'].sum())} ARR) "
        f"at {seg.as_of}; {inactive} of them had no activity in the area "
        f"{_window_words(seg.features)}."
    ]
    by = (
        "rfm_segment"
        if "rfm_segment" in seg.summaries
        else ("cluster_name" if "cluster_name" in seg.summaries else None)
    )
    if by is None:
        msgs = [r.message for r in (seg.rfm, seg.clusters) if r is not None and not r.ok]
        return out + msgs[:2]
    summ = seg.summaries[by]
    top = summ.index[0]
    out.append(
        f"The {top} segment holds the most ARR: {int(summ.loc[top, 'accounts'])} accounts, "
        f"{_money(summ.loc[top, 'arr'])} ({summ.loc[top, 'arr_share']:.0%} of ARR)."
    )
    mv = seg.movements.get(by)
    if mv is not None and mv.ok and not mv.accounts.empty:
        ch = mv.change()
        if ch["then"].sum() > 0 and (ch["change"] != 0).any():
            grow = ch["change"].idxmax()
            shrink = ch["change"].idxmin()
            parts = []
            if ch.loc[grow, "change"] > 0:
                parts.append(
                    f"{grow} grew most ({int(ch.loc[grow, 'then'])} → "
                    f"{int(ch.loc[grow, 'now'])} accounts)"
                )
            if ch.loc[shrink, "change"] < 0:
                parts.append(
                    f"{shrink} shrank most ({int(ch.loc[shrink, 'then'])} → "
                    f"{int(ch.loc[shrink, 'now'])})"
                )
            if parts:
                out.append(f"Since {seg.previous_as_of}, " + " and ".join(parts) + ".")
    if by == "rfm_segment":
        risky = seg.rfm.rules.loc[seg.rfm.rules["at_risk"], "segment"].tolist()
        at_risk = summ[summ.index.isin(risky)]
        if risky:
            out.append(
                f"ARR at risk: {_money(at_risk['arr'].sum())} in {int(at_risk['accounts'].sum())}"
                f" accounts ({', '.join(risky)}: valuable or average accounts that went quiet)."
            )
    if mv is not None and mv.ok and not mv.moves.empty:
        worse = mv.moves[mv.moves["worse"] & (mv.moves["to"] != "churned")]
        if not worse.empty:
            w = worse.iloc[0]
            out.append(
                f"Biggest slip: {int(w['accounts'])} accounts, {_money(w['arr'])} ARR, "
                f"moved from {w['from_']} to {w['to']}; {len(churned_since)} accounts "
                f"({_money(churned_since['arr'].sum())} ARR) churned since "
                f"{seg.previous_as_of}."
            )
    if seg.clusters is not None and seg.clusters.ok and len(out) < 5:
        c = seg.clusters
        out.append(
            f"Behaviour splits the active accounts into {c.k} groups; stability {c.stability_text}."
        )
    return out[:5]
