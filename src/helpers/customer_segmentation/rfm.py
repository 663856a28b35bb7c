"""RFM scores (quintiles) and the rule table that names the RFM segments."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..errors import WorkbookError
from ._common import _current, _window_words

__all__ = [
    "DEFAULT_RFM_RULES",
    "UNCLASSIFIED",
    "RFMResult",
    "rfm_rules_table",
    "rfm_segments",
]


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
