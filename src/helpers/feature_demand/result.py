"""The feature-demand answer: verdict, segments, reversals, drivers and their wording."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.stats import ttest_ind

from ..data.accounts import base_sentence
from ..errors import check_choice
from .load import SOURCES, DemandData
from .stats import (
    FEW_ACCOUNTS,
    ONE_ACCOUNT_SHARE,
    WEIGHTINGS,
    Comparison,
    _holm,
    _pair_counts,
    compare,
    holm_stepdown,
    paired_tests,
    wilson_shares,
)

__all__ = ["MIN_SEGMENT_ACCOUNTS", "DemandResult", "compare_demand"]

#: Segments with fewer accounts are shown but not tested.
MIN_SEGMENT_ACCOUNTS = 20
_WEIGHT_WORDS = {
    "accounts": "of the team's accounts",
    "arr": "of the team's ARR (company-wide ARR of its accounts)",
    "seats": "of the team's seats",
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

    def base(self) -> str:
        """The accounts the answer counts, and how they compare with the segmentation's."""
        d = self.data
        cur = int((d.accounts["status"] != "churned").sum()) if len(d.accounts) else 0
        churned = len(d.accounts) - cur
        text = base_sentence(
            product_area=d.product_area,
            as_of=d.end,
            window_days=d.window_days,
            current=cur,
            churned=churned,
        )
        if churned:
            text = text[:-1] + "; churned accounts' requests count, made while customers."
        o = d.other_base
        if o:
            if o["window_days"] == d.window_days:
                text += " The customer segmentation counts the same accounts."
            else:
                text += (
                    f" The customer segmentation counts the same way over "
                    f"{o['window_days']} days: {o['current'] + o['churned']:,} accounts "
                    f"({o['current']:,} current), so its base differs by the window only."
                )
        return text

    def summary(self) -> list[str]:
        """The answer in plain words, with its uncertainty."""
        d = self.data
        if self.message:
            return [self.message, self.base(), *d.notes]
        c = self.overall
        assert c is not None
        out = [self._verdict(c)]
        if c.weighting in ("arr", "seats"):
            warn = self._few_accounts(c, c.weighting)
            if warn:
                out.append(warn)
        if c.weighting == "accounts" and "arr_share" in c.shares:
            out.append(self._arr_sentence(c))
        out += self._reversal_sentences()
        src = "all sources" if set(d.sources) == set(SOURCES) else "sources " + ", ".join(d.sources)
        out.append(self.base())
        out.append(f"Each account counted once per feature; {src}.")
        return out + d.notes

    # -- sentence builders
    def _name(self, f: str) -> str:
        return self.data.names.get(f, f)

    def _share_col(self, c: Comparison) -> str:
        return "share" if c.weighting == "accounts" else f"{c.weighting}_share"

    def _pair_words(self, c: Comparison, a: str, b: str) -> str:
        """Difference, its interval and the test: one method, so they always agree."""
        row = c.pair(a, b)
        sign = 1 if row.a == a else -1
        diff = sign * row[f"{c.weighting}_diff"] * 100
        words = f"difference {diff:+.1f} points"
        lo, hi = sorted([sign * row["lo"] * 100, sign * row["hi"] * 100])
        level = _pct(row["level"])
        if np.isfinite(lo) and np.isfinite(hi):
            words += f", {level} CI {lo:+.1f} to {hi:+.1f}"
        else:
            words += f", no {level} interval: too few resamples for that level"
        m = len(c.pairs)
        if c.weighting == "accounts":
            test = f"McNemar {_p(row.p_verdict)}"
        else:
            raw = row[f"{c.weighting}_p_boot"]
            floor = 2 / (c.bootstrap_runs + 1)
            test = f"paired bootstrap {_p(row.p_verdict, floor=floor if raw <= floor else None)}"
        holm = f"; Holm-adjusted over {m} pairs, interval included" if m > 1 else ""
        return f"{words}; {test}{holm}"

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
                "the interval includes zero, so the difference could be chance."
            )
        listed = ", ".join(f"{self._name(f)} {share[f]:.1%}" for f in top)
        return (
            f"No clear winner among {len(top)} features: {listed} {unit}; no difference "
            f"between {self._name(top[0])} and the others is significant "
            f"(Holm-adjusted over {len(c.pairs)} pairs)."
        )

    def _few_accounts(self, c: Comparison, key: str) -> str:
        """A warning when a weighted share rests on a few accounts, with the numbers."""
        s = c.shares.set_index("feature")
        if f"{key}_n_eff" not in s:
            return ""
        asked = s[s["accounts"] > 0]
        few = asked[
            (asked[f"{key}_n_eff"] < FEW_ACCOUNTS)
            | (asked[f"{key}_top_share"] >= ONE_ACCOUNT_SHARE)
        ]
        what = "ARR" if key == "arr" else "seats"
        n_eff = ", ".join(
            f"{self._name(f)} {asked.loc[f, f'{key}_n_eff']:.0f}" for f in asked.index
        )
        top = asked[f"{key}_top_share"].idxmax()
        text = (
            f"Effective number of requesting accounts behind the {what} shares: {n_eff}; the "
            f"largest single account holds {asked.loc[top, f'{key}_top_share']:.0%} of the "
            f"{what} behind {self._name(top)}."
        )
        if few.empty:
            return text
        return (
            text
            + f" {_and([self._name(f) for f in few.index])} "
            + ("rests" if len(few) == 1 else "rest")
            + f" on a few accounts: read the {what} comparison as indicative."
        )

    def _arr_sentence(self, c: Comparison) -> str:
        s = c.shares.set_index("feature")
        a, b = c.ranking.feature.tolist()[:2]
        row = c.pair(a, b)
        text = (
            f"By ARR (company-wide ARR of these accounts), the accounts asking for "
            f"{self._name(a)} hold {s.loc[a, 'arr_share']:.1%} of the team's ARR vs "
            f"{s.loc[b, 'arr_share']:.1%} for {self._name(b)}"
        )
        if "arr_diff_lo" in row and pd.notna(row["arr_diff_lo"]):
            sign = 1 if row.a == a else -1
            lo, hi = sorted([sign * row.arr_diff_lo * 100, sign * row.arr_diff_hi * 100])
            text += (
                f" (difference {sign * row.arr_diff * 100:+.1f} points, "
                f"{_pct(row.arr_level)} CI {lo:+.1f} to {hi:+.1f}, a description, not a verdict)"
            )
        warn = self._few_accounts(c, "arr")
        return text + "." + (" " + warn if warn else "")

    def _driver_sentence(self, winner: str, other: str) -> str:
        dr = self.drivers
        if dr.empty:
            return ""
        m = dr[(dr.winner == winner) & (dr.other == other) & dr.drives]
        if m.empty:
            return ""
        top = m.sort_values("gap_share", ascending=False).iloc[0]
        by = self.data.segment_by
        return (
            f"{str(top.segment).capitalize()} accounts drive it: {top.gap_share:.0%} of the "
            f"gap in requesting accounts comes from {top.account_share:.0%} of the accounts "
            f"(a gap of {100 * top.gap_per_account:+.1f} points per account there vs "
            f"{100 * top.gap_rest:+.1f} elsewhere; Welch {_p(top.p_holm)}, Holm-adjusted over "
            f"{int(top.tests)} {by} tests)."
        )

    def _reversal_sentences(self) -> list[str]:
        out = []
        by = self.data.segment_by
        n_tests = len(self.segment_pairs)
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
                f"{' or less' if len(g) > 1 else ''}, Holm-adjusted over all {n_tests} "
                f"{by} × pair tests)."
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
        if self.reversals.empty and overall and n_tests:
            out.append(
                f"No {by} shows a significant reversal of the overall order "
                f"(Holm over all {n_tests} {by} × pair tests)."
            )
        return out


def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _pct(level: float) -> str:
    """A confidence level in words: 95%, 98.3%."""
    v = 100 * float(level)
    return f"{v:.0f}%" if abs(v - round(v)) < 0.05 else f"{v:.1f}%"


def _p(p: float, *, floor: float | None = None) -> str:
    """A p-value in words; ``floor``: the smallest a bootstrap could show (never "p = 0")."""
    if floor is not None:
        return f"p ≤ {max(p, floor):.2g} (no resample crossed zero)"
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
        Family-wise error rate: Holm over the pairs; in the breakdown, over every
        segment × pair test; for drivers, over every pair × segment test.
    bootstrap_runs
        Resamples of accounts for the weighted shares and paired differences.
    seed
        Seed of the bootstrap.

    Returns
    -------
    DemandResult
        ``summary()`` says what is missing when there are no accounts or no requests.
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
            message=f"No account used {d.product_area} in {window}: "
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
            f" among the team's {len(d.accounts):,} accounts: nothing to "
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
    drivers = _drivers(d, overall, alpha)
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
    """Shares with Wilson intervals per segment; McNemar per segment and pair, Holm over all.

    One family: every segment × pair test run, so a reversal is claimed only when it
    survives the correction over all of them.
    """
    seg = d.accounts["segment"].to_numpy()
    shares, counts = [], []
    for value in sorted(pd.unique(seg)):
        rows = d.asked.loc[seg == value]
        s = wilson_shares(rows, alpha=alpha)
        s.insert(0, "segment", value)
        shares.append(s)
        if len(rows) >= MIN_SEGMENT_ACCOUNTS:
            p = _pair_counts(rows)
            p.insert(0, "segment", value)
            counts.append(p)
    shares_df = pd.concat(shares, ignore_index=True)
    shares_df.insert(0, "segment_by", d.segment_by)
    if not counts:
        return shares_df, pd.DataFrame()
    pairs_df = paired_tests(pd.concat(counts, ignore_index=True), alpha=alpha)
    pairs_df.insert(0, "segment_by", d.segment_by)
    return shares_df, pairs_df


def _reversals(overall: Comparison, seg_pairs: pd.DataFrame) -> pd.DataFrame:
    """Segments where a pair's significant overall order is significantly reversed."""
    cols = ["segment_by", "segment", "winner", "loser", "share_winner", "share_loser", "p_holm"]
    rows = []
    if seg_pairs.empty:
        return pd.DataFrame(columns=cols)
    for r in seg_pairs[seg_pairs.significant].itertuples():
        over = overall.pair(r.a, r.b)
        if overall.weighting == "accounts":
            ok, lead = bool(over.significant), over.winner
        else:  # the segment test is on accounts: compare with the overall accounts test
            ok = bool(over.p_holm < overall.alpha and over.leader is not None)
            lead = over.leader
        if not ok or lead == r.leader:
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


_DRIVER_COLUMNS = [
    "winner",
    "other",
    "segment",
    "accounts",
    "gap_accounts",
    "gap_share",
    "account_share",
    "gap_per_account",
    "gap_rest",
    "p",
    "p_holm",
    "tests",
    "drives",
]


def _drivers(d: DemandData, c: Comparison, alpha: float) -> pd.DataFrame:
    """Which segment drives a significant overall difference, tested.

    For each significant pair (winner w, other o) and each segment with at least
    :data:`MIN_SEGMENT_ACCOUNTS` accounts: per account, the gap ``asked w − asked o``
    (−1, 0 or 1); Welch's t-test that the segment's mean gap exceeds the other
    accounts' (one-sided), Holm over every pair × segment test. A segment *drives* the
    difference when that test is significant and it holds at least half of the gap.
    """
    seg = d.accounts["segment"].to_numpy()
    values = [v for v in sorted(pd.unique(seg)) if (seg == v).sum() >= MIN_SEGMENT_ACCOUNTS]
    rows = []
    if len(values) < 2:
        return pd.DataFrame(columns=_DRIVER_COLUMNS)
    n = len(seg)
    for r in c.pairs[c.pairs.significant].itertuples():
        w, o = r.winner, (r.b if r.winner == r.a else r.a)
        gap = d.asked[w].to_numpy(dtype=float) - d.asked[o].to_numpy(dtype=float)
        gap_all = gap.sum()
        if gap_all <= 0:
            continue
        for value in values:
            m = seg == value
            inside, rest = gap[m], gap[~m]
            if inside.var() == 0 and rest.var() == 0:
                p = 1.0 if inside.mean() <= rest.mean() else 0.0
            else:
                p = float(ttest_ind(inside, rest, equal_var=False, alternative="greater").pvalue)
            rows.append(
                {
                    "winner": w,
                    "other": o,
                    "segment": value,
                    "accounts": int(m.sum()),
                    "gap_accounts": int(inside.sum()),
                    "gap_share": inside.sum() / gap_all,
                    "account_share": m.sum() / n,
                    "gap_per_account": inside.mean(),
                    "gap_rest": rest.mean() if len(rest) else np.nan,
                    "p": p if np.isfinite(p) else 1.0,
                }
            )
    out = pd.DataFrame(rows, columns=_DRIVER_COLUMNS[:-3])
    if out.empty:
        return pd.DataFrame(columns=_DRIVER_COLUMNS)
    p = out["p"].to_numpy()
    out["p_holm"] = _holm(p, alpha)
    reject, _ = holm_stepdown(-p, lambda i, a: bool(p[i] < a), alpha)
    out["tests"] = len(out)
    out["drives"] = reject & (out["gap_share"].to_numpy() >= 0.5)
    return out
