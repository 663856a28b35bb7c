"""The feature-demand answer: verdict, segments, reversals, drivers and their wording."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from ..errors import check_choice
from .load import SOURCES, DemandData
from .stats import WEIGHTINGS, Comparison, _holm, compare, mcnemar_pairs, wilson_shares

__all__ = ["MIN_SEGMENT_ACCOUNTS", "DemandResult", "compare_demand"]

#: Segments with fewer active accounts are shown but not tested.
MIN_SEGMENT_ACCOUNTS = 20
_WEIGHT_WORDS = {
    "accounts": "of active accounts",
    "arr": "of active ARR",
    "seats": "of active seats",
    "importance": "of the maximum importance score",
}


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
