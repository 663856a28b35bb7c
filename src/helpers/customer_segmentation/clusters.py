"""Behavioural k-means clusters of the active accounts: fit, names and per-cluster stability."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..errors import WorkbookError, check_choice
from ._common import _current, _money, _window_words
from .features import CLUSTER_FEATURES, DEFAULT_CLUSTER_FEATURES

__all__ = [
    "MISSING_DATA",
    "TYPICAL",
    "ClusterResult",
    "behaviour_clusters",
    "cluster_words",
    "stability_reading",
]


# The fixed vocabulary of cluster names: per feature, one word when the cluster is above
# the company-wide baseline and one when below. Every word names its own axis, so a name
# can never say two opposite things ("occasional" and "heavy" are not on the same axis).
_WORDS = {
    "recency": ("long quiet", "recently active"),
    "frequency": ("many active days", "few active days"),
    "intensity": ("busy days", "light days"),
    "breadth": ("many features", "few features"),
    "seats": ("many seats", "few seats"),
    "monetary": ("high ARR", "low ARR"),
    "tenure": ("long-standing", "new accounts"),
    "nps": ("high NPS", "low NPS"),
    "requests": ("many open requests", "few open requests"),
}
_SPEND_WORDS = ("high spend", "low spend")
#: The name of a cluster that is near the company-wide middle on every feature.
TYPICAL = "typical use"
#: The name of accounts without a value for any clustering feature.
MISSING_DATA = "not enough data"
#: Words per name at most; beyond three, the most distinctive features are kept.
MAX_WORDS = 3
_SUFFIX = re.compile(r" \(\d+\)$")


def cluster_words(monetary: str = "arr") -> dict[str, tuple[str, str]]:
    """The vocabulary: feature -> (word when above the baseline, word when below)."""
    words = dict(_WORDS)
    if monetary == "event_value":
        words["monetary"] = _SPEND_WORDS
    return words


def stability_reading(score: float) -> str:
    """The reading of a stability score (Hennig's thresholds for the bootstrap Jaccard)."""
    if score < 0.6:
        return "unstable"
    if score < 0.75:
        return "doubtful"
    if score <= 0.85:
        return "stable"
    return "highly stable"


@dataclass
class ClusterResult:
    """Behavioural clusters of the team's active accounts.

    Attributes
    ----------
    labels
        Per active account: ``account_id, cluster, cluster_name`` (cluster -1 and name
        "not enough data" for an account with no value of any clustering feature).
    profile
        Per cluster: ``cluster, cluster_name, accounts``, the median of each feature,
        the mean scaled value (``z_<feature>``), the share of accounts missing each
        feature (``missing_<feature>``), ``stability`` (mean bootstrap Jaccard) and its
        ``reading``, ``named`` (``kept`` from the previous run or ``new``) and a
        one-line ``description`` against the company-wide medians.
    k, silhouette
        The number of clusters and the silhouette score per k tried.
    stability, stability_runs
        Mean adjusted Rand index between the clustering and the refits on bootstrap
        resamples (the whole clustering), and the number of refits.
    projection
        2-D PCA coordinates of the accounts with every feature (``pc1, pc2,
        cluster_name``).
    baseline
        The company-wide quantiles names are read against (``None``: this team's).
    notes
        Sentences about the names and the data behind them.
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
    baseline: pd.DataFrame | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.message is None

    @property
    def stability_text(self) -> str:
        if self.stability is None:
            return "not measured"
        return f"{self.stability:.2f} ({stability_reading(self.stability)})"

    def unstable(self) -> list[str]:
        """Names of the clusters whose stability reads unstable or doubtful."""
        if not self.ok or "reading" not in self.profile:
            return []
        bad = self.profile["reading"].isin(["unstable", "doubtful"])
        return self.profile.loc[bad, "cluster_name"].tolist()

    def predict(self, feats: pd.DataFrame) -> pd.DataFrame:
        """Assign other accounts (e.g. the previous period's) to these clusters."""
        cur = _current(feats)
        out = cur[["account_id"]].copy()
        out["cluster"] = -1
        out["cluster_name"] = MISSING_DATA
        if not self.ok:
            out["cluster_name"] = "not clustered"
            return out.reset_index(drop=True)
        if len(cur):
            x = self.model["scaler"].transform(_design(cur, self.features))
            lab = _assign(x, self.model["centers"])
            names = dict(zip(self.profile["cluster"], self.profile["cluster_name"], strict=True))
            out["cluster"] = lab
            out["cluster_name"] = [names.get(c, MISSING_DATA) for c in lab]
        return out.reset_index(drop=True)

    def summary(self) -> list[str]:
        """Plain-words sentences, with each cluster's stability."""
        if not self.ok:
            return [self.message]
        p = self.profile.sort_values("accounts", ascending=False, kind="stable")
        parts = "; ".join(
            f"{r.cluster_name} ({r.accounts} accounts, {r.reading})" for r in p.itertuples()
        )
        how = (
            "by silhouette"
            if self.silhouette is not None and len(self.silhouette) > 1
            else "in params"
        )
        out = [
            f"{self.k} behavioural clusters (k chosen {how}) from {', '.join(self.features)}: "
            f"{parts}.",
            "Stability per cluster is the mean Jaccard overlap with the best-matching cluster "
            f"over {self.stability_runs} bootstrap refits (Hennig's clusterboot): below 0.6 "
            "unstable, 0.6–0.75 doubtful, 0.75–0.85 stable, above 0.85 highly stable; "
            f"the whole clustering's adjusted Rand is {self.stability_text}.",
        ]
        bad = self.unstable()
        if bad:
            out.append(
                f"Do not act on {_and(bad)}: "
                + ("it does" if len(bad) == 1 else "they do")
                + " not come back when the accounts are resampled."
            )
        return out + self.notes


def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _design(df: pd.DataFrame, features: list[str]) -> np.ndarray:
    """The clustering matrix: skewed features logged; missing values stay missing (NaN)."""
    cols = []
    for f in features:
        v = df[f].astype("float64").to_numpy()
        cols.append(np.log1p(np.clip(v, 0, None)) if CLUSTER_FEATURES[f] == "log" else v)
    return np.column_stack(cols)


def _assign(x: np.ndarray, centers: np.ndarray) -> np.ndarray:
    """Nearest centre over each row's observed features (-1 when none is observed).

    For complete rows this is k-means' own assignment; a row missing a feature is
    placed by the features it has, never by an invented value.
    """
    seen = ~np.isnan(x)
    diff = np.where(seen[:, None, :], x[:, None, :] - centers[None, :, :], 0.0)
    lab = (diff**2).sum(axis=2).argmin(axis=1)
    return np.where(seen.any(axis=1), lab, -1)


def behaviour_clusters(
    feats: pd.DataFrame,
    *,
    features: list[str] | tuple[str, ...] = DEFAULT_CLUSTER_FEATURES,
    k: int | None = None,
    k_min: int = 2,
    k_max: int = 8,
    stability_runs: int = 20,
    seed: int = 42,
    baseline: pd.DataFrame | None = None,
    previous: pd.DataFrame | None = None,
) -> ClusterResult:
    """K-means clusters of the team's active accounts, named from a fixed vocabulary.

    Features are log-transformed where skewed (counts, money, days), then standardised
    (scikit-learn ``StandardScaler``). No value is invented: k-means
    (``KMeans(n_clusters=k, random_state=seed, n_init=10)``) is fitted on the accounts
    that have every clustering feature, and an account missing one (e.g. NPS, when it
    never answered) joins the nearest cluster by the features it has. A feature that
    more than half of the accounts lack is left out (with a note). k is fixed or
    chosen by the best silhouette over ``k_min..k_max``.

    Stability is measured per cluster as in Hennig's clusterboot: the clustering is
    refitted on ``stability_runs`` bootstrap resamples, and each cluster's stability is
    the mean Jaccard overlap with its best-matching refitted cluster.

    Names come from a fixed vocabulary (:func:`cluster_words`): a feature gives a word
    when the cluster's median is above the company-wide 67% quantile or below the 33%
    one (``baseline``), at most three words, most distinctive first. A cluster made of
    mostly the same accounts as a cluster of the previous run (Jaccard ≥ 0.5, matched
    one to one) keeps that cluster's name while the name is still true (each word on
    the same side of the company median).

    Parameters
    ----------
    feats
        The frame of :func:`account_features`.
    features
        Names from :data:`CLUSTER_FEATURES`.
    k, k_min, k_max
        A fixed k, or the range searched by silhouette.
    stability_runs
        Bootstrap refits for the stability.
    seed
        Seeds k-means and the bootstrap.
    baseline
        Company-wide quantiles (:func:`company_baseline`); None reads the names against
        this team's own accounts (and says so).
    previous
        The previous run's assignments (``account_id, cluster_name``), to keep names.

    Returns
    -------
    ClusterResult
    """
    from sklearn.cluster import KMeans
    from sklearn.decomposition import PCA
    from sklearn.metrics import silhouette_score
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
    act = _current(feats)
    base = act[["account_id"]].assign(cluster=-1, cluster_name=MISSING_DATA)

    def fail(msg: str) -> ClusterResult:
        return ClusterResult(
            base.assign(cluster_name="not clustered").reset_index(drop=True),
            pd.DataFrame(),
            features,
            message=msg,
        )

    need = k if k is not None else k_min
    if act.empty:
        return fail(f"No account was active {_window_words(feats)}: there is nothing to cluster.")
    # a feature most accounts lack would make the lacking accounts a cluster of their own
    notes: list[str] = []
    sparse = [f for f in features if act[f].isna().mean() > 0.5]
    if sparse and len(sparse) < len(features):
        notes.append(
            f"Clustered without {', '.join(sparse)}: more than half of the accounts have no "
            "value for it, and no value is invented."
        )
        features = [f for f in features if f not in sparse]
    x_raw = _design(act, features)
    complete = ~np.isnan(x_raw).any(axis=1)
    n_complete = int(complete.sum())
    if n_complete <= need:
        missing = [f for f in features if act[f].isna().any()]
        why = (
            f" with every clustering feature ({len(act) - n_complete} lack {', '.join(missing)})"
            if missing
            else ""
        )
        return fail(
            f"Only {n_complete} active account(s){why}, fewer than k = {need} clusters plus "
            "one: clustering needs more accounts than clusters."
        )
    distinct = len(np.unique(x_raw[complete], axis=0))
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
    scaler = StandardScaler().fit(x_raw[complete])
    x_all = scaler.transform(x_raw)
    x = x_all[complete]

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
        ks = [n for n in range(k_min, k_max + 1) if n < min(len(x), distinct + 1)]
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
    centers = km.cluster_centers_
    labels_all = _assign(x_all, centers)
    labels = labels_all[complete]

    jaccard, ari = _bootstrap_stability(x, labels, best, stability_runs, seed, fit)
    act = act.assign(_cluster=labels_all)
    ok_rows = labels_all >= 0
    profile = _profile(act[ok_rows], x_all[ok_rows], labels_all[ok_rows], features, best)
    profile["stability"] = [jaccard.get(c, np.nan) for c in profile["cluster"]]
    profile["reading"] = [
        "not measured" if np.isnan(s) else stability_reading(s) for s in profile["stability"]
    ]
    if baseline is None:
        quant = _own_baseline(act, features)
        notes.append("Cluster names compare with this team's accounts (no company baseline).")
    else:
        quant = baseline
    monetary = feats.attrs.get("monetary", "arr")
    words = cluster_words(monetary)
    names, named, name_notes = _names(profile, features, quant, words, previous, act)
    profile["cluster_name"] = names
    profile["named"] = named
    profile["description"] = _descriptions(profile, features, quant)
    notes += name_notes
    heavy = [
        (r.cluster_name, f, getattr(r, f"missing_{f}"))
        for r in profile.itertuples()
        for f in features
        if getattr(r, f"missing_{f}") > 0.5
    ]
    for name, f, share in heavy:
        notes.append(f"{share:.0%} of the accounts of {name} have no {f}: read it with care.")
    lookup = dict(zip(profile["cluster"], profile["cluster_name"], strict=True))
    lab = base.copy()
    lab["cluster"] = labels_all
    lab["cluster_name"] = [lookup.get(c, MISSING_DATA) for c in labels_all]
    # the picture shows the accounts with every feature (a projection needs them all)
    n_comp = min(2, x.shape[1])
    pcs = PCA(n_components=n_comp, random_state=seed).fit_transform(x)
    proj = pd.DataFrame(
        {
            "account_id": act["account_id"].to_numpy()[complete],
            "pc1": pcs[:, 0],
            "pc2": pcs[:, 1] if n_comp > 1 else 0.0,
            "cluster_name": lab["cluster_name"].to_numpy()[complete],
        }
    )
    return ClusterResult(
        labels=lab.reset_index(drop=True),
        profile=profile,
        features=features,
        k=best,
        silhouette=sil,
        stability=ari,
        stability_runs=stability_runs if jaccard else 0,
        projection=proj,
        model={"scaler": scaler, "kmeans": km, "centers": centers},
        baseline=baseline,
        notes=notes,
    )


def _bootstrap_stability(
    x: np.ndarray, labels: np.ndarray, k: int, runs: int, seed: int, fit
) -> tuple[dict[int, float], float | None]:
    """Per-cluster mean Jaccard (Hennig's clusterboot) and the mean adjusted Rand of refits.

    Each refit clusters a bootstrap resample; the points drawn (duplicates once) are
    labelled by it, and each original cluster, restricted to those points, is compared
    with its most similar refitted cluster.
    """
    from sklearn.metrics import adjusted_rand_score

    rng = np.random.default_rng(seed)
    n = len(x)
    sums = np.zeros(k)
    counts = np.zeros(k)
    aris = []
    for _ in range(runs):
        idx = rng.integers(0, n, n)
        if len(np.unique(x[idx], axis=0)) < k:
            continue
        boot = fit(x[idx], k)
        aris.append(adjusted_rand_score(labels, _assign(x, boot.cluster_centers_)))
        drawn = np.unique(idx)
        orig = labels[drawn]
        new = _assign(x[drawn], boot.cluster_centers_)
        table = np.zeros((k, k))
        np.add.at(table, (orig, new), 1)
        size_o, size_b = table.sum(axis=1), table.sum(axis=0)
        union = size_o[:, None] + size_b[None, :] - table
        with np.errstate(invalid="ignore", divide="ignore"):
            jac = np.where(union > 0, table / union, 0.0).max(axis=1)
        present = size_o > 0
        sums[present] += jac[present]
        counts[present] += 1
    jaccard = {c: float(sums[c] / counts[c]) for c in range(k) if counts[c] > 0}
    return jaccard, (float(np.mean(aris)) if aris else None)


def _profile(
    act: pd.DataFrame, x: np.ndarray, labels: np.ndarray, features: list[str], k: int
) -> pd.DataFrame:
    """Per cluster: size, medians, mean z-scores and the share missing each feature."""
    z = pd.DataFrame(x, columns=[f"z_{f}" for f in features]).assign(cluster=labels)
    zm = z.groupby("cluster").mean()
    grouped = act[features].assign(cluster=labels).groupby("cluster")
    med = grouped.median()
    miss = grouped.agg(lambda s: float(s.isna().mean())).add_prefix("missing_")
    size = pd.Series(labels).value_counts().rename("accounts")
    prof = pd.concat([size, med, zm, miss], axis=1).rename_axis("cluster").reset_index()
    prof["accounts"] = prof["accounts"].fillna(0).astype(int)
    return prof.sort_values("cluster", ignore_index=True)


def _own_baseline(act: pd.DataFrame, features: list[str]) -> pd.DataFrame:
    from .features import BASELINE_QUANTILES

    q = act[features].astype(float).quantile(list(BASELINE_QUANTILES)).T
    q.columns = ["q20", "q33", "q50", "q67", "q80"]
    q.index.name = "feature"
    return q


def _levels(profile: pd.DataFrame, features: list[str], quant: pd.DataFrame) -> pd.DataFrame:
    """Per cluster and feature: +1 above the baseline's 67% quantile, -1 below its 33%, else 0."""
    med = profile[features].astype(float)
    hi = med.gt(quant.loc[features, "q67"], axis=1)
    lo = med.lt(quant.loc[features, "q33"], axis=1)
    return hi.astype(int) - lo.astype(int)


def _fresh_name(
    row: pd.Series, lev: pd.Series, features: list[str], words: dict[str, tuple[str, str]]
) -> list[str]:
    """Words of a new name: the MAX_WORDS most distinctive features, in the vocabulary's order."""
    marked = sorted((f for f in features if lev[f] != 0), key=lambda f: -abs(row[f"z_{f}"]))[
        :MAX_WORDS
    ]
    order = [f for f in CLUSTER_FEATURES if f in marked]
    return [words[f][0 if lev[f] > 0 else 1] for f in order]


def _is_true(
    name: str,
    row: pd.Series,
    features: list[str],
    quant: pd.DataFrame,
    words: dict[str, tuple[str, str]],
) -> bool:
    """Whether a name is still true of a cluster: each word on its side of the company median.

    ``typical use`` stays true while every median lies between the 20% and 80% quantiles.
    """
    name = _SUFFIX.sub("", str(name))
    if name == TYPICAL:
        return all(
            quant.loc[f, "q20"] <= row[f] <= quant.loc[f, "q80"]
            for f in features
            if pd.notna(row[f])
        )
    reverse = {
        w: (f, sign) for f, pair in words.items() for sign, w in zip((1, -1), pair, strict=True)
    }
    for word in name.split(" · "):
        if word not in reverse:
            return False
        f, sign = reverse[word]
        if f not in features or pd.isna(row[f]):
            return False
        if sign * (row[f] - quant.loc[f, "q50"]) <= 0:
            return False
    return True


def _match_previous(
    act: pd.DataFrame, profile: pd.DataFrame, previous: pd.DataFrame
) -> dict[int, tuple[str, float]]:
    """One-to-one match of clusters to the previous run's clusters by shared accounts."""
    from scipy.optimize import linear_sum_assignment

    prev = previous.dropna(subset=["cluster_name"])
    prev = prev[
        ~prev["cluster_name"].isin([MISSING_DATA, "not clustered", "no activity in window"])
    ]
    if prev.empty:
        return {}
    prev_names = sorted(prev["cluster_name"].astype(str).unique())
    prev_sets = {p: set(prev.loc[prev["cluster_name"] == p, "account_id"]) for p in prev_names}
    clusters = list(profile["cluster"])
    cur_sets = {c: set(act.loc[act["_cluster"] == c, "account_id"]) for c in clusters}
    jac = np.zeros((len(clusters), len(prev_names)))
    for i, c in enumerate(clusters):
        for j, p in enumerate(prev_names):
            union = len(cur_sets[c] | prev_sets[p])
            jac[i, j] = len(cur_sets[c] & prev_sets[p]) / union if union else 0.0
    rows, cols = linear_sum_assignment(-jac)
    return {clusters[i]: (prev_names[j], float(jac[i, j])) for i, j in zip(rows, cols, strict=True)}


def _names(
    profile: pd.DataFrame,
    features: list[str],
    quant: pd.DataFrame,
    words: dict[str, tuple[str, str]],
    previous: pd.DataFrame | None,
    act: pd.DataFrame,
) -> tuple[list[str], list[str], list[str]]:
    """Cluster names: kept from the previous run where still true, else fresh and unique."""
    lev = _levels(profile, features, quant)
    matches = _match_previous(act, profile, previous) if previous is not None else {}
    names: list[str | None] = []
    named: list[str] = []
    renamed: list[str] = []
    for _, row in profile.iterrows():
        prev = matches.get(row["cluster"])
        if prev is not None and prev[1] >= 0.5:
            if _is_true(prev[0], row, features, quant, words):
                names.append(prev[0])
                named.append("kept")
                continue
            renamed.append(prev[0])
        names.append(None)
        named.append("new")
    taken = {n for n in names if n}
    fresh = {
        i: _fresh_name(profile.loc[i], lev.loc[i], features, words)
        for i, n in enumerate(names)
        if n is None
    }
    # fresh names that collide get the next most distinctive word (by the company median)
    for _ in range(len(features)):
        text = {i: " · ".join(w) or TYPICAL for i, w in fresh.items()}
        clash = {i for i, t in text.items() if t in taken or list(text.values()).count(t) > 1}
        if not clash:
            break
        for i in clash:
            row = profile.loc[i]
            used = {f for f in features if any(w in words[f] for w in fresh[i])}
            rest = [f for f in features if f not in used and pd.notna(row[f])]
            rest.sort(key=lambda f: -abs(row[f"z_{f}"]))
            for f in rest:
                d = row[f] - quant.loc[f, "q50"]
                if d != 0:
                    fresh[i] = fresh[i] + [words[f][0 if d > 0 else 1]]
                    break
    for i, w in fresh.items():
        names[i] = " · ".join(w) or TYPICAL
    # names still equal: numbered by size
    out = [str(n) for n in names]
    order = profile["accounts"].to_numpy().argsort(kind="stable")[::-1]
    seen: dict[str, int] = {}
    for i in order:
        n = out[i]
        if out.count(n) > 1 or n in seen:
            seen[n] = seen.get(n, 0) + 1
            out[i] = f"{n} ({seen[n]})"
    notes = []
    kept = named.count("kept")
    if matches:
        notes.append(
            f"{kept} of {len(out)} cluster names are kept from the previous run, where the "
            "same accounts form the cluster and the name is still true."
        )
    if renamed:
        notes.append(f"Renamed because the old name no longer fits: {', '.join(sorted(renamed))}.")
    return out, named, notes


def _descriptions(profile: pd.DataFrame, features: list[str], quant: pd.DataFrame) -> list[str]:
    out = []
    for row in profile.itertuples():
        zs = pd.Series({f: getattr(row, f"z_{f}") for f in features})
        order = zs.abs().sort_values(ascending=False, kind="stable").index
        out.append(
            f"{row.accounts} accounts; "
            + ", ".join(
                f"{f} {_fmt(f, getattr(row, f))} (company: {_fmt(f, quant.loc[f, 'q50'])})"
                for f in order[:3]
            )
        )
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
