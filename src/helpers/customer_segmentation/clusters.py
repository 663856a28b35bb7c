"""Behavioural k-means clusters of the active accounts: fit, names and stability."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..errors import WorkbookError, check_choice
from ._common import _current, _money, _window_words
from .features import CLUSTER_FEATURES, DEFAULT_CLUSTER_FEATURES

__all__ = [
    "NO_ACTIVITY",
    "ClusterResult",
    "behaviour_clusters",
    "stability_reading",
]


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
NO_ACTIVITY = "no activity in window"


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
