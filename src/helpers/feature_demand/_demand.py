"""Feature demand: which features customers ask for most, and how sure the ranking is."""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from statsmodels.stats.contingency_tables import mcnemar
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import proportion_confint

from .. import paths
from ..data import Warehouse
from ..errors import WorkbookError, check_choice, did_you_mean

__all__ = [
    "EXACT_BELOW",
    "SEGMENT_COLUMNS",
    "WEIGHTINGS",
    "Comparison",
    "DemandData",
    "DemandResult",
    "adoption",
    "adoption_curve",
    "check_features",
    "compare",
    "compare_demand",
    "load_demand",
    "mcnemar_pairs",
    "wilson_shares",
]

#: How a feature's demand can be weighted.
WEIGHTINGS = ["accounts", "arr", "seats", "importance"]
#: Segment dimensions of the breakdown; ``segment`` reads the latest segmentation run.
SEGMENT_COLUMNS = ["plan", "region", "industry", "segment"]
SOURCES = ["support", "sales", "interview", "survey", "community", "other"]
#: McNemar's test is exact (binomial) when the discordant accounts number fewer than this.
EXACT_BELOW = 25
#: Segments with fewer active accounts are shown but not tested.
MIN_SEGMENT_ACCOUNTS = 20
_WEIGHT_WORDS = {
    "accounts": "of active accounts",
    "arr": "of active ARR",
    "seats": "of active seats",
    "importance": "of the maximum importance score",
}
# columns of a segmentation run's assignments that can name an account's segment, in order
_ASSIGNMENT_COLUMNS = ["segment", "cluster_name", "rfm_segment", "cluster"]


# --------------------------------------------------------------------------- inputs


def _catalogue(wh: Warehouse) -> pd.DataFrame:
    ft = wh.table("features")
    return ft.select("feature", "product_area", "name", "status", "released_at").to_pandas()


def check_features(wh: Warehouse, product_area: str, features: list[str]) -> None:
    """Raise a one-line error unless ``features`` are two or more features of ``product_area``.

    Parameters
    ----------
    wh
        The open warehouse (only its small ``features`` catalogue is read).
    product_area
        The team's product area.
    features
        The features to compare (param ``features``).

    Raises
    ------
    WorkbookError
        For an empty list, a single feature, a feature listed twice, or a feature the
        catalogue of ``product_area`` does not hold (naming the nearest known ones).
    """
    cat = _catalogue(wh)
    known = sorted(cat.loc[cat.product_area == product_area, "feature"])
    example = ", ".join(known[:4]) if known else "none"
    if not features:
        raise WorkbookError(
            f"`features` is empty: list two or more features of {product_area} to compare "
            f"(known: {example})"
        )
    if len(features) == 1:
        raise WorkbookError(
            f"`features` lists a single feature ({features[0]!r}): a comparison needs two or "
            f"more features of {product_area}"
        )
    twice = [f for f in dict.fromkeys(features) if features.count(f) > 1]
    if twice:
        raise WorkbookError(f"`features` lists {twice[0]!r} twice")
    for f in features:
        if f in known:
            continue
        elsewhere = cat.loc[cat.feature == f, "product_area"].tolist()
        where = f"; it belongs to {elsewhere[0]}" if elsewhere else ""
        hint = did_you_mean(f, known)
        if not hint:
            hint = f"; known features of {product_area}: " + (", ".join(known) or "none")
        raise WorkbookError(
            f"`features`: unknown feature {f!r} for product area {product_area}{where}{hint}"
        )


def _window(as_of: dt.date, window_days: int) -> tuple[dt.datetime, dt.datetime]:
    end = dt.datetime.combine(as_of, dt.time()) + dt.timedelta(days=1)
    return end - dt.timedelta(days=window_days), end


def _active_accounts(wh: Warehouse, product_area: str, t0: dt.datetime, t1: dt.datetime):
    """Ibis: accounts with an event in the area in the window and not churned before it."""
    ev = wh.table("events")
    used = ev.filter(ev.product_area == product_area, ev.ts >= t0, ev.ts < t1)
    used = used.select("account_id").distinct()
    acc = wh.table("accounts")
    acc = acc.filter(acc.churned_at.isnull() | (acc.churned_at >= t0.date()))
    return acc.semi_join(used, "account_id")


def _segment_assignments(team: str) -> pd.DataFrame | None:
    path = paths.outputs_dir() / team / "latest" / "tables" / "customer_segmentation"
    path = path / "assignments.parquet"
    if not path.exists():
        return None
    frame = pd.read_parquet(path)
    column = next((c for c in _ASSIGNMENT_COLUMNS if c in frame.columns), None)
    if column is None or "account_id" not in frame.columns:
        return None
    return (
        frame[["account_id", column]].rename(columns={column: "segment"}).astype({"segment": str})
    )


@dataclass
class DemandData:
    """The small per-account frames an analysis needs, brought from the engine.

    ``accounts`` holds one row per active account (the denominator) with ``segment``;
    ``asked`` and ``importance`` are account × feature matrices (asked at least once;
    highest importance 0–3 of the account's requests, 0 when it did not ask).
    """

    product_area: str
    features: list[str]
    names: dict[str, str]
    start: dt.date
    end: dt.date
    sources: list[str]
    segment_by: str
    accounts: pd.DataFrame
    asked: pd.DataFrame
    importance: pd.DataFrame
    first_asked: pd.DataFrame
    by_source: pd.DataFrame
    over_time: pd.DataFrame
    outside_accounts: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def n_requests(self) -> int:
        return int(self.by_source["requests"].sum()) if len(self.by_source) else 0


def load_demand(
    wh: Warehouse,
    product_area: str,
    features: list[str],
    *,
    as_of: dt.date,
    window_days: int = 365,
    sources: list[str] | None = None,
    segment_by: str = "plan",
    team: str | None = None,
) -> DemandData:
    """Count requests per account and feature in the engine and bring the small result back.

    Parameters
    ----------
    wh
        The open warehouse.
    product_area
        The team's product area; its active accounts are the denominator.
    features
        Two or more features of the area (checked with :func:`check_features`).
    as_of
        Last day of the window (inclusive).
    window_days
        Requests created, and activity, in this many days up to ``as_of``.
    sources
        Feedback sources to count (default: all).
    segment_by
        ``plan``, ``region``, ``industry``, or ``segment`` (the assignments of the team's
        latest segmentation run; plan when there is none, with a note).
    team
        The team whose segmentation run ``segment_by="segment"`` reads.

    Returns
    -------
    DemandData
    """
    check_features(wh, product_area, features)
    check_choice("segment_by", segment_by, SEGMENT_COLUMNS)
    sources = list(sources or SOURCES)
    for s in sources:
        check_choice("sources", s, SOURCES)
    t0, t1 = _window(as_of, window_days)
    notes: list[str] = []

    pop = _active_accounts(wh, product_area, t0, t1)
    accounts = pop.select("account_id", "plan", "region", "industry", "arr", "seats").to_pandas()
    accounts = accounts.sort_values("account_id", ignore_index=True)
    accounts["arr"] = accounts["arr"].astype(float).fillna(0.0)
    accounts["seats"] = accounts["seats"].astype(float).fillna(0.0)
    used_by = segment_by
    if segment_by == "segment":
        assigned = _segment_assignments(team or product_area)
        if assigned is None:
            used_by = "plan"
            notes.append(
                "No recorded segmentation run for this team "
                "(outputs/<team>/latest/tables/customer_segmentation/assignments.parquet), "
                "so the breakdown is by plan."
            )
            accounts["segment"] = accounts["plan"]
        else:
            accounts = accounts.merge(assigned, on="account_id", how="left")
            accounts["segment"] = accounts["segment"].fillna("not segmented")
    else:
        accounts["segment"] = accounts[segment_by]
    accounts["segment"] = accounts["segment"].astype(str)

    fr = wh.table("feature_requests")
    req = fr.filter(
        fr.feature.isin(features),
        fr.source.isin(sources),
        fr.created_at >= t0,
        fr.created_at < t1,
    )
    outside = req.anti_join(pop, "account_id").account_id.nunique().to_pyarrow().as_py()
    req = req.semi_join(pop, "account_id")
    per = (
        req.group_by(["account_id", "feature"])
        .aggregate(
            requests=req.count(),
            importance=req.importance.max(),
            first=req.created_at.min(),
        )
        .to_pandas()
    )
    by_source = (
        req.group_by(["feature", "source"])
        .aggregate(requests=req.count(), accounts=req.account_id.nunique())
        .to_pandas()
        .sort_values(["feature", "source"], ignore_index=True)
    )
    grain = "M" if window_days >= 180 else "W"
    timed = req.mutate(period=req.created_at.truncate(grain))
    over_time = (
        timed.group_by(["feature", "period"])
        .aggregate(requests=timed.count(), accounts=timed.account_id.nunique())
        .to_pandas()
        .sort_values(["feature", "period"], ignore_index=True)
    )

    index = pd.Index(accounts["account_id"], name="account_id")
    cols = pd.Index(features, name="feature")
    asked = per.pivot(index="account_id", columns="feature", values="requests")
    asked = asked.reindex(index=index, columns=cols).notna()
    imp = per.pivot(index="account_id", columns="feature", values="importance")
    imp = imp.reindex(index=index, columns=cols).fillna(0).astype(float).clip(0, 3)
    first = per.pivot(index="account_id", columns="feature", values="first")
    first = first.reindex(index=index, columns=cols)

    cat = _catalogue(wh)
    names = dict(zip(cat.feature, cat.name, strict=True))
    if outside:
        notes.append(
            f"{outside} requesting account(s) had no activity in {product_area} in the window "
            "(or had churned) and are not counted: demand is a share of active accounts."
        )
    return DemandData(
        product_area=product_area,
        features=list(features),
        names={f: names.get(f) or f for f in features},
        start=t0.date(),
        end=as_of,
        sources=sources,
        segment_by=used_by,
        accounts=accounts,
        asked=asked,
        importance=imp,
        first_asked=first,
        by_source=by_source,
        over_time=over_time,
        outside_accounts=int(outside or 0),
        notes=notes,
    )


# --------------------------------------------------------------------------- statistics


def wilson_shares(asked: pd.DataFrame, *, alpha: float = 0.05) -> pd.DataFrame:
    """Per feature: requesting accounts, their share of all rows, and a Wilson interval.

    Parameters
    ----------
    asked
        Boolean account × feature matrix (rows are the denominator).
    alpha
        1 minus the confidence level.

    Returns
    -------
    DataFrame
        ``feature, accounts, active_accounts, share, share_lo, share_hi``.
    """
    n = len(asked)
    count = asked.sum(axis=0).astype(int)
    if n:
        lo, hi = proportion_confint(count.to_numpy(), n, alpha=alpha, method="wilson")
    else:
        lo = hi = np.full(len(count), np.nan)
    return pd.DataFrame(
        {
            "feature": asked.columns.astype(str),
            "accounts": count.to_numpy(),
            "active_accounts": n,
            "share": count.to_numpy() / n if n else np.nan,
            "share_lo": lo,
            "share_hi": hi,
        }
    )


def mcnemar_pairs(asked: pd.DataFrame, *, alpha: float = 0.05) -> pd.DataFrame:
    """McNemar's test on accounts for every pair of features, Holm-corrected.

    The test is exact (binomial) when fewer than :data:`EXACT_BELOW` accounts asked for
    exactly one of the two features, and the chi-square with continuity correction
    otherwise.

    Returns
    -------
    DataFrame
        ``a, b, both, only_a, only_b, neither, exact, statistic, p, p_holm, significant,
        leader`` (``leader``: the feature more accounts asked for, None when equal).
    """
    x = asked.to_numpy(dtype=bool)
    names = [str(c) for c in asked.columns]
    rows = []
    for i, j in itertools.combinations(range(len(names)), 2):
        a, b = x[:, i], x[:, j]
        both, only_a = int((a & b).sum()), int((a & ~b).sum())
        only_b, neither = int((~a & b).sum()), int((~a & ~b).sum())
        exact = only_a + only_b < EXACT_BELOW
        if only_a + only_b == 0:
            stat, p = (0.0 if exact else np.nan), 1.0
        else:
            res = mcnemar([[both, only_a], [only_b, neither]], exact=exact, correction=True)
            stat, p = float(res.statistic), float(res.pvalue)
        leader = names[i] if only_a > only_b else names[j] if only_b > only_a else None
        rows.append(
            {
                "a": names[i],
                "b": names[j],
                "both": both,
                "only_a": only_a,
                "only_b": only_b,
                "neither": neither,
                "exact": exact,
                "statistic": stat,
                "p": p,
                "leader": leader,
            }
        )
    out = pd.DataFrame(
        rows,
        columns=[
            "a",
            "b",
            "both",
            "only_a",
            "only_b",
            "neither",
            "exact",
            "statistic",
            "p",
            "leader",
        ],
    )
    out["p_holm"] = _holm(out["p"].to_numpy(), alpha)
    out["significant"] = (out["p_holm"] < alpha) & out["leader"].notna()
    return out


def _holm(p: np.ndarray, alpha: float) -> np.ndarray:
    if len(p) <= 1:  # Holm over one test is the test itself (and multipletests runs gc.collect)
        return np.minimum(np.asarray(p, dtype=float), 1.0)
    return multipletests(p, alpha=alpha, method="holm")[1]


def _weights(
    accounts: pd.DataFrame | None, importance: pd.DataFrame | None, asked: pd.DataFrame
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per weighting: (numerator matrix n × k, denominator vector n)."""
    x = asked.to_numpy(dtype=float)
    n = len(x)
    out = {"accounts": (x, np.ones(n))}
    if accounts is not None:
        for col in ("arr", "seats"):
            w = accounts[col].to_numpy(dtype=float)
            out[col] = (x * w[:, None], w)
    if importance is not None:
        out["importance"] = (importance.to_numpy(dtype=float) * x, np.full(n, 3.0))
    return out


def _bootstrap(
    parts: dict[str, tuple[np.ndarray, np.ndarray]], runs: int, seed: int
) -> dict[str, np.ndarray]:
    """Resample accounts with replacement; per weighting a runs × k array of shares.

    Each resample is a multinomial count per account, so every weighting and every
    feature share the same resampled accounts (the pairing is kept). Chunks keep the
    count matrix small whatever the number of accounts.
    """
    keys = list(parts)
    nums = np.hstack([parts[k][0] for k in keys])
    dens = np.column_stack([parts[k][1] for k in keys])
    n = len(nums)
    k = parts[keys[0]][0].shape[1]
    rng = np.random.default_rng(seed)
    chunk = max(1, 4_000_000 // max(n, 1))
    out_num, out_den = [], []
    for lo in range(0, runs, chunk):
        counts = rng.multinomial(n, np.full(n, 1.0 / n), size=min(chunk, runs - lo))
        counts = counts.astype(float)
        out_num.append(counts @ nums)
        out_den.append(counts @ dens)
    num, den = np.vstack(out_num), np.vstack(out_den)
    with np.errstate(invalid="ignore", divide="ignore"):
        return {key: num[:, i * k : (i + 1) * k] / den[:, [i]] for i, key in enumerate(keys)}


@dataclass
class Comparison:
    """Shares, pairwise tests, ranking and verdict for one set of accounts.

    ``shares`` has one row per feature (counts, Wilson interval, weighted shares with
    bootstrap intervals); ``pairs`` one row per pair (McNemar, paired bootstrap
    differences, Holm-adjusted p-values for the chosen weighting); ``ranking`` ranks
    features by the chosen weighting, tied where no difference is significant.
    """

    features: list[str]
    weighting: str
    alpha: float
    shares: pd.DataFrame
    pairs: pd.DataFrame
    ranking: pd.DataFrame
    winner: str | None
    contenders: list[str]
    n_accounts: int

    def pair(self, a: str, b: str) -> pd.Series:
        """The row of ``pairs`` for features ``a`` and ``b`` (either order)."""
        m = ((self.pairs.a == a) & (self.pairs.b == b)) | (
            (self.pairs.a == b) & (self.pairs.b == a)
        )
        return self.pairs.loc[m].iloc[0]

    def beats(self, a: str, b: str) -> bool:
        """True when ``a`` is wanted significantly more than ``b`` (chosen weighting, Holm)."""
        row = self.pair(a, b)
        return bool(row.significant and row.winner == a)


def compare(
    asked: pd.DataFrame,
    *,
    accounts: pd.DataFrame | None = None,
    importance: pd.DataFrame | None = None,
    weighting: str = "accounts",
    alpha: float = 0.05,
    bootstrap_runs: int = 2000,
    seed: int = 42,
) -> Comparison:
    """Compare demand for two or more features over the same (paired) accounts.

    Parameters
    ----------
    asked
        Boolean account × feature matrix; each row is an active account.
    accounts
        ``arr`` and ``seats`` per row of ``asked`` (needed for those weightings).
    importance
        Highest importance (0–3) per row and feature (needed for ``importance``).
    weighting
        ``accounts`` (the verdict rests on McNemar's test), or ``arr``, ``seats``,
        ``importance`` (the verdict rests on the paired bootstrap of the weighted shares).
    alpha
        Family-wise error rate over all pairs (Holm).
    bootstrap_runs
        Resamples of accounts; 0 skips the bootstrap (then weighting must be accounts).
    seed
        Seed of the bootstrap.

    Returns
    -------
    Comparison
    """
    check_choice("weighting", weighting, WEIGHTINGS)
    if weighting != "accounts" and bootstrap_runs < 1:
        raise WorkbookError(f"weighting {weighting!r} needs `bootstrap_runs` of at least 1")
    features = [str(c) for c in asked.columns]
    shares = wilson_shares(asked, alpha=alpha)
    pairs = mcnemar_pairs(asked, alpha=alpha)
    n = len(asked)
    parts = _weights(accounts, importance, asked)
    if weighting not in parts:
        raise WorkbookError(f"weighting {weighting!r} needs the accounts' {weighting}")
    for key, (num, den) in parts.items():
        total = den.sum()
        shares[f"{key}_share"] = num.sum(axis=0) / total if total > 0 else np.nan
    if importance is not None:
        shares["importance_score"] = parts["importance"][0].sum(axis=0)
    idx = {f: i for i, f in enumerate(features)}
    q = [100 * alpha / 2, 100 * (1 - alpha / 2)]
    if bootstrap_runs > 0 and n > 0:
        boot = _bootstrap(parts, bootstrap_runs, seed)
        for key, draws in boot.items():
            lo, hi = np.nanpercentile(draws, q, axis=0)
            shares[f"{key}_lo"], shares[f"{key}_hi"] = lo, hi
            diffs = (
                np.column_stack(
                    [
                        draws[:, idx[a]] - draws[:, idx[b]]
                        for a, b in zip(pairs.a, pairs.b, strict=True)
                    ]
                )
                if len(pairs)
                else np.empty((len(draws), 0))
            )
            est = np.array(
                [
                    shares.loc[idx[a], f"{key}_share"] - shares.loc[idx[b], f"{key}_share"]
                    for a, b in zip(pairs.a, pairs.b, strict=True)
                ]
            )
            pairs[f"{key}_diff"] = est
            if len(pairs):
                dlo, dhi = np.nanpercentile(diffs, q, axis=0)
                p = 2 * np.minimum(np.mean(diffs <= 0, axis=0), np.mean(diffs >= 0, axis=0))
            else:
                dlo = dhi = p = np.empty(0)
            pairs[f"{key}_diff_lo"], pairs[f"{key}_diff_hi"] = dlo, dhi
            pairs[f"{key}_p_boot"] = np.minimum(p, 1.0)
    else:
        pairs["accounts_diff"] = [
            shares.loc[idx[a], "share"] - shares.loc[idx[b], "share"]
            for a, b in zip(pairs.a, pairs.b, strict=True)
        ]
    # the test the verdict rests on
    if weighting == "accounts":
        pairs["test"] = np.where(pairs["exact"], "McNemar exact", "McNemar")
        pairs["p_verdict"] = pairs["p_holm"]
        diff = pairs["accounts_diff"]
    else:
        pairs["test"] = "paired bootstrap"
        pairs["p_verdict"] = _holm(pairs[f"{weighting}_p_boot"].to_numpy(), alpha)
        diff = pairs[f"{weighting}_diff"]
    pairs["winner"] = np.where(diff > 0, pairs["a"], np.where(diff < 0, pairs["b"], None))
    pairs["significant"] = (pairs["p_verdict"] < alpha) & pairs["winner"].notna()

    est_col = "share" if weighting == "accounts" else f"{weighting}_share"
    estimate = dict(zip(shares.feature, shares[est_col], strict=True))
    beaten_by = {f: [] for f in features}
    for row in pairs.itertuples():
        if row.significant:
            loser = row.b if row.winner == row.a else row.a
            beaten_by[loser].append(row.winner)
    order = sorted(features, key=lambda f: (-np.nan_to_num(estimate[f], nan=-1), f))
    ranking = pd.DataFrame(
        {
            "feature": order,
            "estimate": [estimate[f] for f in order],
            "rank": [1 + len(beaten_by[f]) for f in order],
        }
    )
    ranking["rank"] = ranking["rank"].rank(method="min").astype(int)
    ranking["tied_with"] = [
        ", ".join(
            g for g in order if g != f and r == ranking.loc[ranking.feature == g, "rank"].iloc[0]
        )
        for f, r in zip(ranking.feature, ranking["rank"], strict=True)
    ]
    top = order[0]
    contenders = [top] + [
        f
        for f in order[1:]
        if not (lambda r: r.significant and r.winner == top)(_pair_row(pairs, top, f))
    ]
    winner = top if len(contenders) == 1 and n > 0 and estimate[top] > 0 else None
    return Comparison(features, weighting, alpha, shares, pairs, ranking, winner, contenders, n)


def _pair_row(pairs: pd.DataFrame, a: str, b: str):
    m = ((pairs.a == a) & (pairs.b == b)) | ((pairs.a == b) & (pairs.b == a))
    return pairs.loc[m].iloc[0]


# --------------------------------------------------------------------------- the analysis


@dataclass
class DemandResult:
    """The whole demand comparison for a team, with the sentence a PM reads first."""

    data: DemandData
    overall: Comparison | None
    segments: pd.DataFrame
    segment_pairs: pd.DataFrame
    reversals: pd.DataFrame
    drivers: pd.DataFrame
    segment_winners: pd.DataFrame = field(default_factory=pd.DataFrame)
    message: str | None = None

    @property
    def winner(self) -> str | None:
        return self.overall.winner if self.overall else None

    def table(self) -> pd.DataFrame:
        """Demand per feature: counts, shares and intervals, with readable names."""
        if self.overall is None:
            return pd.DataFrame()
        t = self.overall.shares.copy()
        t.insert(1, "name", t.feature.map(self.data.names))
        req = self.data.by_source.groupby("feature")["requests"].sum()
        t.insert(3, "requests", t.feature.map(req).fillna(0).astype(int))
        rank = self.overall.ranking.set_index("feature")
        t["rank"] = t.feature.map(rank["rank"])
        return t.sort_values(["rank", "feature"], ignore_index=True)

    def summary(self) -> list[str]:
        """The answer in plain words, with its uncertainty."""
        d = self.data
        window = f"the {(d.end - d.start).days + 1} days to {d.end:%Y-%m-%d}"
        if self.message:
            return [self.message, *d.notes]
        c = self.overall
        assert c is not None
        out = [self._verdict(c)]
        if c.weighting == "accounts" and "arr_share" in c.shares:
            out.append(self._arr_sentence(c))
        out += self._reversal_sentences()
        src = "all sources" if set(d.sources) == set(SOURCES) else "sources " + ", ".join(d.sources)
        out.append(
            f"Each account counted once per feature; {c.n_accounts:,} active {d.product_area} "
            f"accounts in {window}; {src}."
        )
        return out + d.notes

    # -- sentence builders
    def _name(self, f: str) -> str:
        return self.data.names.get(f, f)

    def _share_col(self, c: Comparison) -> str:
        return "share" if c.weighting == "accounts" else f"{c.weighting}_share"

    def _pair_words(self, c: Comparison, a: str, b: str) -> str:
        row = c.pair(a, b)
        sign = 1 if row.a == a else -1
        key = c.weighting
        diff = sign * row[f"{key}_diff"] * 100
        words = f"difference {diff:.1f} points"
        if f"{key}_diff_lo" in row and pd.notna(row[f"{key}_diff_lo"]):
            lo, hi = sorted(
                [sign * row[f"{key}_diff_lo"] * 100, sign * row[f"{key}_diff_hi"] * 100]
            )
            words += f", {100 * (1 - c.alpha):.0f}% CI {lo:.1f} to {hi:.1f}"
            if len(c.pairs) > 1:
                words += " before correction"
        test = "McNemar" if key == "accounts" else "paired bootstrap"
        holm = f", Holm-adjusted over {len(c.pairs)} pairs" if len(c.pairs) > 1 else ""
        return f"{words}; {test} {_p(row.p_verdict)}{holm}"

    def _verdict(self, c: Comparison) -> str:
        col = self._share_col(c)
        share = dict(zip(c.shares.feature, c.shares[col], strict=True))
        unit = _WEIGHT_WORDS[c.weighting]
        if c.winner:
            order = c.ranking.feature.tolist()
            second = order[1]
            head = (
                f"{self._name(c.winner)} is wanted more than {self._name(second)}"
                if len(order) == 2
                else f"{self._name(c.winner)} is wanted most; the next is {self._name(second)}"
            )
            text = (
                f"{head}: {share[c.winner]:.1%} vs {share[second]:.1%} {unit} "
                f"({self._pair_words(c, c.winner, second)})."
            )
            drive = self._driver_sentence(c.winner, second)
            return text + (" " + drive if drive else "")
        top = c.contenders
        if len(top) == 2:
            a, b = top
            return (
                f"No clear winner between {self._name(a)} and {self._name(b)}: "
                f"{share[a]:.1%} vs {share[b]:.1%} {unit} ({self._pair_words(c, a, b)}); "
                "the difference could be chance."
            )
        listed = ", ".join(f"{self._name(f)} {share[f]:.1%}" for f in top)
        return (
            f"No clear winner among {len(top)} features: {listed} {unit}; no difference "
            f"between {self._name(top[0])} and the others is significant "
            f"(Holm-adjusted over {len(c.pairs)} pairs)."
        )

    def _arr_sentence(self, c: Comparison) -> str:
        s = c.shares.set_index("feature")
        order = c.ranking.feature.tolist()[:2]
        a, b = order
        row = c.pair(a, b)
        text = (
            f"By ARR, the accounts asking for {self._name(a)} hold {s.loc[a, 'arr_share']:.1%} "
            f"of active ARR vs {s.loc[b, 'arr_share']:.1%} for {self._name(b)}"
        )
        if "arr_diff_lo" in row and pd.notna(row["arr_diff_lo"]):
            sign = 1 if row.a == a else -1
            lo, hi = sorted([sign * row.arr_diff_lo * 100, sign * row.arr_diff_hi * 100])
            text += (
                f" (difference {sign * row.arr_diff * 100:.1f} points, 95% CI {lo:.1f} to {hi:.1f})"
            )
        return text + "."

    def _driver_sentence(self, winner: str, other: str) -> str:
        dr = self.drivers
        if dr.empty:
            return ""
        m = dr[(dr.winner == winner) & (dr.other == other)]
        if m.empty:
            return ""
        top = m.sort_values("gap_share", ascending=False).iloc[0]
        if top.gap_share < 0.5:
            return ""
        return (
            f"{str(top.segment).capitalize()} accounts drive it ({top.gap_share:.0%} of the gap "
            f"in requesting accounts, from {top.account_share:.0%} of active accounts)."
        )

    def _reversal_sentences(self) -> list[str]:
        out = []
        by = self.data.segment_by
        for (segment, loser), g in self.reversals.groupby(["segment", "loser"], sort=True):
            g = g.sort_values("share_winner", ascending=False)
            who = _and(
                [
                    f"{self._name(w)} ({s:.1%})"
                    for w, s in zip(g.winner, g.share_winner, strict=True)
                ]
            )
            each = "is" if len(g) == 1 else "are each"
            out.append(
                f"The order differs by {by}: among {segment} accounts {who} {each} wanted more "
                f"than {self._name(loser)} ({g.share_loser.iloc[0]:.1%}), the reverse of the "
                f"overall order (McNemar {_p(g.p_holm.max())}"
                f"{' or less' if len(g) > 1 else ''}, Holm-adjusted over the {by}s)."
            )
        overall = self.overall.winner if self.overall else None
        for r in self.segment_winners.itertuples():
            reversed_here = set(self.reversals.segment) if len(self.reversals) else set()
            if pd.notna(r.winner) and r.winner != overall and r.segment not in reversed_here:
                out.append(
                    f"Among {r.segment} accounts {self._name(r.winner)} is the clear favourite "
                    f"({r.share:.1%} vs {r.next_share:.1%} for {self._name(r.next)}), unlike "
                    + (
                        "the overall picture."
                        if overall is None
                        else f"overall, where {self._name(overall)} leads."
                    )
                )
        if self.reversals.empty and overall and len(self.segment_pairs):
            out.append(f"No {by} shows a significant reversal of the overall order.")
        return out


def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _p(p: float) -> str:
    if p < 0.001:
        return "p < 0.001"
    return f"p = {p:.3f}" if p < 0.1 else f"p = {p:.2f}"


def compare_demand(
    data: DemandData,
    *,
    weighting: str = "accounts",
    alpha: float = 0.05,
    bootstrap_runs: int = 2000,
    seed: int = 42,
) -> DemandResult:
    """The full comparison: overall verdict, segment breakdown, reversals and drivers.

    Parameters
    ----------
    data
        From :func:`load_demand`.
    weighting
        ``accounts``, ``arr``, ``seats`` or ``importance`` (what "wanted more" means).
    alpha
        Family-wise error rate (Holm over pairs; in the breakdown, over the segments of
        each pair).
    bootstrap_runs
        Resamples of accounts for the weighted shares and paired differences.
    seed
        Seed of the bootstrap.

    Returns
    -------
    DemandResult
        ``summary()`` says what is missing when there are no active accounts or no requests.
    """
    check_choice("weighting", weighting, WEIGHTINGS)
    empty = pd.DataFrame()
    d = data
    window = f"the {(d.end - d.start).days + 1} days to {d.end:%Y-%m-%d}"
    names = ", ".join(d.names[f] for f in d.features)
    if d.accounts.empty:
        return DemandResult(
            d,
            None,
            empty,
            empty,
            empty,
            empty,
            message=f"No active {d.product_area} accounts in {window}: "
            "there is no one to count demand from.",
        )
    if not d.asked.to_numpy().any():
        return DemandResult(
            d,
            None,
            empty,
            empty,
            empty,
            empty,
            message=f"No requests for {names} in {window} from "
            f"{'all sources' if set(d.sources) == set(SOURCES) else ', '.join(d.sources)}"
            f" among {len(d.accounts):,} active accounts: nothing to "
            "compare yet. Widen `window_days` or `sources`.",
        )
    overall = compare(
        d.asked,
        accounts=d.accounts,
        importance=d.importance,
        weighting=weighting,
        alpha=alpha,
        bootstrap_runs=bootstrap_runs,
        seed=seed,
    )
    segments, seg_pairs = _segments(d, alpha)
    reversals = _reversals(overall, seg_pairs)
    drivers = _drivers(d, overall)
    winners = _segment_winners(segments, seg_pairs)
    return DemandResult(d, overall, segments, seg_pairs, reversals, drivers, winners)


def _segment_winners(shares: pd.DataFrame, pairs: pd.DataFrame) -> pd.DataFrame:
    """Per tested segment: the feature wanted significantly more than every other, or None."""
    cols = ["segment", "winner", "share", "next", "next_share"]
    rows = []
    if pairs.empty:
        return pd.DataFrame(columns=cols)
    for value, p in pairs.groupby("segment", sort=True):
        s = shares[shares.segment == value].sort_values(
            ["share", "feature"], ascending=[False, True]
        )
        top, nxt = s.iloc[0], s.iloc[1]
        mine = p[(p.a == top.feature) | (p.b == top.feature)]
        clear = bool((mine.significant & (mine.leader == top.feature)).all()) and top.share > 0
        rows.append(
            {
                "segment": value,
                "winner": top.feature if clear else None,
                "share": top.share,
                "next": nxt.feature,
                "next_share": nxt.share,
            }
        )
    return pd.DataFrame(rows, columns=cols)


def _segments(d: DemandData, alpha: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Shares with Wilson intervals per segment; McNemar per segment and pair, Holm per pair."""
    seg = d.accounts["segment"].to_numpy()
    shares, pairs = [], []
    for value in sorted(pd.unique(seg)):
        rows = d.asked.loc[seg == value]
        s = wilson_shares(rows, alpha=alpha)
        s.insert(0, "segment", value)
        shares.append(s)
        if len(rows) >= MIN_SEGMENT_ACCOUNTS:
            p = mcnemar_pairs(rows, alpha=alpha)
            p.insert(0, "segment", value)
            pairs.append(p)
    shares_df = pd.concat(shares, ignore_index=True)
    shares_df.insert(0, "segment_by", d.segment_by)
    if not pairs:
        return shares_df, pd.DataFrame()
    pairs_df = pd.concat(pairs, ignore_index=True)
    # one family per pair: "does the order of these two differ between segments?"
    pairs_df["p_holm"] = pairs_df.groupby(["a", "b"])["p"].transform(
        lambda p: _holm(p.to_numpy(), alpha)
    )
    pairs_df["significant"] = (pairs_df["p_holm"] < alpha) & pairs_df["leader"].notna()
    pairs_df.insert(0, "segment_by", d.segment_by)
    return shares_df, pairs_df


def _reversals(overall: Comparison, seg_pairs: pd.DataFrame) -> pd.DataFrame:
    """Segments where a pair's significant overall order is significantly reversed."""
    cols = ["segment_by", "segment", "winner", "loser", "share_winner", "share_loser", "p_holm"]
    rows = []
    if seg_pairs.empty:
        return pd.DataFrame(columns=cols)
    for r in seg_pairs[seg_pairs.significant].itertuples():
        if overall.weighting == "accounts":
            over = overall.pair(r.a, r.b)
            ok = over.significant
        else:  # the segment test is on accounts: compare with the overall McNemar result
            over = overall.pair(r.a, r.b)
            ok = over.p_holm < overall.alpha and over.leader is not None
            over = over.copy()
            over["winner"] = over.leader
        if not ok or over.winner == r.leader:
            continue
        loser = r.b if r.leader == r.a else r.a
        n = r.both + r.only_a + r.only_b + r.neither
        ask = {r.a: (r.both + r.only_a) / n, r.b: (r.both + r.only_b) / n}
        rows.append(
            {
                "segment_by": r.segment_by,
                "segment": r.segment,
                "winner": r.leader,
                "loser": loser,
                "share_winner": ask[r.leader],
                "share_loser": ask[loser],
                "p_holm": r.p_holm,
            }
        )
    return pd.DataFrame(rows, columns=cols)


def _drivers(d: DemandData, c: Comparison) -> pd.DataFrame:
    """For each overall significant pair: each segment's part of the gap in requesting accounts."""
    rows = []
    seg = d.accounts["segment"].to_numpy()
    n = len(seg)
    for r in c.pairs[c.pairs.significant].itertuples():
        w, o = r.winner, (r.b if r.winner == r.a else r.a)
        gap_all = int(d.asked[w].sum() - d.asked[o].sum())
        if gap_all <= 0:
            continue
        for value in sorted(pd.unique(seg)):
            m = seg == value
            gap = int(d.asked.loc[m, w].sum() - d.asked.loc[m, o].sum())
            rows.append(
                {
                    "winner": w,
                    "other": o,
                    "segment": value,
                    "gap_accounts": gap,
                    "gap_share": gap / gap_all,
                    "account_share": m.sum() / n,
                }
            )
    return pd.DataFrame(
        rows, columns=["winner", "other", "segment", "gap_accounts", "gap_share", "account_share"]
    )


# --------------------------------------------------------------------------- usage


def adoption(
    wh: Warehouse,
    product_area: str,
    *,
    as_of: dt.date,
    window_days: int = 365,
    features: list[str] | None = None,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Usage-based demand: share of active accounts that used each released feature.

    Parameters
    ----------
    wh, product_area, as_of, window_days
        As for :func:`load_demand`; the denominator is the same active accounts.
    features
        Restrict to these features (only released ones are kept); default every
        released feature of the area.
    alpha
        1 minus the confidence level of the Wilson interval.

    Returns
    -------
    DataFrame
        ``feature, name, released_at, adopting_accounts, active_accounts, adoption,
        adoption_lo, adoption_hi`` (empty when no feature is released).
    """
    t0, t1 = _window(as_of, window_days)
    cat = _released(wh, product_area, as_of, features)
    cols = [
        "feature",
        "name",
        "released_at",
        "adopting_accounts",
        "active_accounts",
        "adoption",
        "adoption_lo",
        "adoption_hi",
    ]
    if cat.empty:
        return pd.DataFrame(columns=cols)
    pop = _active_accounts(wh, product_area, t0, t1)
    n = int(pop.count().to_pyarrow().as_py())
    ev = wh.table("events")
    used = ev.filter(
        ev.product_area == product_area,
        ev.feature.isin(cat.feature.tolist()),
        ev.ts >= t0,
        ev.ts < t1,
    ).semi_join(pop, "account_id")
    counts = used.group_by("feature").aggregate(adopting_accounts=used.account_id.nunique())
    counts = counts.to_pandas()
    out = cat.merge(counts, on="feature", how="left")
    out["adopting_accounts"] = out["adopting_accounts"].fillna(0).astype(int)
    out["active_accounts"] = n
    if n:
        out["adoption"] = out["adopting_accounts"] / n
        lo, hi = proportion_confint(
            out["adopting_accounts"].to_numpy(), n, alpha=alpha, method="wilson"
        )
    else:
        out["adoption"] = np.nan
        lo = hi = np.full(len(out), np.nan)
    out["adoption_lo"], out["adoption_hi"] = lo, hi
    return out[cols].sort_values("adoption", ascending=False, ignore_index=True)


def _released(
    wh: Warehouse, product_area: str, as_of: dt.date, features: list[str] | None
) -> pd.DataFrame:
    cat = _catalogue(wh)
    cat = cat[
        (cat.product_area == product_area) & (cat.status == "released") & cat.released_at.notna()
    ]
    cat = cat[pd.to_datetime(cat.released_at) <= pd.Timestamp(as_of)]
    if features is not None:
        cat = cat[cat.feature.isin(features)]
    return cat[["feature", "name", "released_at"]].reset_index(drop=True)


def adoption_curve(
    wh: Warehouse,
    product_area: str,
    features: list[str],
    *,
    as_of: dt.date,
    window_days: int = 365,
) -> pd.DataFrame:
    """Weekly adoption since release: cumulative share of active accounts that have used it.

    First use per account and feature, and the weekly counts of new adopters, are
    computed in the engine; only one row per feature and week comes back.

    Returns
    -------
    DataFrame
        ``feature, name, week, weeks_since_release, new_adopters, adopters, adoption``
        (empty when none of ``features`` is released).
    """
    cols = [
        "feature",
        "name",
        "week",
        "weeks_since_release",
        "new_adopters",
        "adopters",
        "adoption",
    ]
    cat = _released(wh, product_area, as_of, features)
    if cat.empty:
        return pd.DataFrame(columns=cols)
    t0, t1 = _window(as_of, window_days)
    pop = _active_accounts(wh, product_area, t0, t1)
    n = int(pop.count().to_pyarrow().as_py())
    ft = wh.table("features").filter(lambda t: t.feature.isin(cat.feature.tolist()))
    ft = ft.select("feature", "released_at")
    ev = wh.table("events")
    ev = ev.filter(ev.product_area == product_area, ev.ts < t1).semi_join(pop, "account_id")
    ev = ev.inner_join(ft, "feature")
    ev = ev.filter(ev.ts >= ev.released_at.cast("timestamp"))
    first = ev.group_by(["feature", "account_id"]).aggregate(first=ev.ts.min())
    first = first.mutate(week=first["first"].truncate("W"))
    weekly = first.group_by(["feature", "week"]).aggregate(new_adopters=first.count()).to_pandas()
    rows = []
    for f in cat.itertuples():
        rel = pd.Timestamp(f.released_at)
        start = rel - pd.Timedelta(days=rel.weekday())
        weeks = pd.date_range(start, pd.Timestamp(as_of), freq="W-MON")
        w = weekly[weekly.feature == f.feature].set_index("week")["new_adopters"]
        w.index = pd.to_datetime(w.index)
        new = w.reindex(weeks, fill_value=0).astype(int)
        frame = pd.DataFrame(
            {
                "feature": f.feature,
                "name": f.name,
                "week": weeks,
                "weeks_since_release": np.arange(len(weeks)),
                "new_adopters": new.to_numpy(),
            }
        )
        frame["adopters"] = frame["new_adopters"].cumsum()
        frame["adoption"] = frame["adopters"] / n if n else np.nan
        rows.append(frame)
    return pd.concat(rows, ignore_index=True)[cols]
