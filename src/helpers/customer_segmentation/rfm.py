"""RFM scores (from cut-offs: equal values, equal scores) and the rule table that names the segments."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..errors import WorkbookError
from ._common import _current, _window_words

__all__ = [
    "DEFAULT_RFM_RULES",
    "FM_QUANTILES",
    "RECENCY_MULTIPLES",
    "UNCLASSIFIED",
    "RFMCutoffs",
    "RFMResult",
    "rfm_cutoffs",
    "rfm_rules_table",
    "rfm_segments",
    "score",
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


#: Recency bins, in multiples of the area's usual gap (``RFMCutoffs.unit_days``): R is 5
#: when last seen within one gap, 4 within two, 3 within four, 2 within eight, else 1.
RECENCY_MULTIPLES = (1, 2, 4, 8)
#: The quantiles of the frequency and monetary values that separate scores 1..5.
FM_QUANTILES = (0.2, 0.4, 0.6, 0.8)


@dataclass(frozen=True)
class RFMCutoffs:
    """The cut-offs that turn recency, frequency and monetary values into scores 1–5.

    Scores depend on an account's values only, never on its rank among equals, so
    accounts with equal values always get equal scores; and the same cut-offs can score
    another date (movement).

    Attributes
    ----------
    unit_days
        The area's usual gap between active days, rounded up to whole weeks (at least
        7): the median over accounts active on two or more days of their mean gap.
    recency
        Day counts: R = 5 below the first, 4 below the second, … 1 from the last on.
    frequency, monetary
        Value cut-offs (quintiles of the accounts' values at ``as_of``): the score is
        1 plus the number of cut-offs the value is above.
    cadence_days
        The median gap before rounding (``nan`` when no account was active twice).
    """

    unit_days: int
    recency: tuple[int, ...]
    frequency: tuple[float, ...]
    monetary: tuple[float, ...]
    cadence_days: float = float("nan")

    def table(self) -> pd.DataFrame:
        """One row per score: the range of values it covers, in words."""
        r, f, m = self.recency, self.frequency, self.monetary
        rows = []
        for score in range(5, 0, -1):
            i = 5 - score  # recency: score 5 is the first bin
            r_lo = 0 if i == 0 else r[i - 1]
            r_txt = f"{r_lo}–{r[i] - 1} days" if i < len(r) else f"{r_lo}+ days"
            rows.append(
                {
                    "score": score,
                    "recency": r_txt,
                    "frequency": _range(f, score),
                    "monetary": _range(m, score),
                }
            )
        return pd.DataFrame(rows)


def _range(edges: tuple[float, ...], score: int) -> str:
    lo = edges[score - 2] if score >= 2 else None
    hi = edges[score - 1] if score <= len(edges) else None
    if lo is not None and hi is not None and hi <= lo:
        return "none (equal cut-offs)"
    if lo is None:
        return f"≤ {hi:,.4g}"
    if hi is None:
        return f"> {lo:,.4g}"
    return f"> {lo:,.4g} and ≤ {hi:,.4g}"


def rfm_cutoffs(feats: pd.DataFrame) -> RFMCutoffs:
    """The cut-offs of :func:`rfm_segments`, from the team's active accounts at ``as_of``.

    Recency is scored in whole weeks that fit the area's cadence: the usual gap between
    an account's active days (``(last − first active day) / (active days − 1)``, median
    over accounts active on two or more days) is rounded up to whole weeks, at least one
    (so every weekday weighs the same), and the bins are 1, 2, 4 and 8 of those units.
    Frequency and monetary cut-offs are the 20/40/60/80% quantiles of the values.
    """
    cur = _current(feats)
    two = cur[cur["frequency"] >= 2]
    span = (pd.to_datetime(two["last_active"]) - pd.to_datetime(two["first_active"])).dt.days
    gaps = span / (two["frequency"] - 1)
    cadence = float(gaps.median()) if len(gaps) else float("nan")
    weeks = 1 if np.isnan(cadence) else max(1, int(np.ceil(cadence / 7)))
    unit = 7 * weeks
    q = list(FM_QUANTILES)
    return RFMCutoffs(
        unit_days=unit,
        recency=tuple(unit * k for k in RECENCY_MULTIPLES),
        frequency=tuple(float(v) for v in np.quantile(cur["frequency"].astype(float), q)),
        monetary=tuple(float(v) for v in np.quantile(cur["monetary"].astype(float), q)),
        cadence_days=cadence,
    )


def score(values: pd.Series, edges: tuple[float, ...], *, higher_is_better: bool) -> np.ndarray:
    """Scores 1–5 from cut-offs: equal values get equal scores, whatever their order.

    ``higher_is_better``: 1 plus the number of cut-offs the value is above (frequency,
    monetary); otherwise 5 minus the number of cut-offs the value has reached (recency
    in days).
    """
    v = values.to_numpy(dtype=float)[:, None]
    e = np.asarray(edges, dtype=float)[None, :]
    if higher_is_better:
        return (1 + (v > e).sum(axis=1)).astype(np.int64)
    return (5 - (v >= e).sum(axis=1)).astype(np.int64)


@dataclass
class RFMResult:
    """RFM scores and named segments of the team's active accounts.

    Attributes
    ----------
    table
        Per active account: ``account_id, recency, frequency, monetary, r, f, m, fm,
        rfm_segment`` (empty when ``message`` is set).
    rules
        The rule table used.
    cutoffs
        The :class:`RFMCutoffs` the scores come from (None when ``message`` is set).
    message
        Why no segmentation could be made, else None.
    """

    table: pd.DataFrame
    rules: pd.DataFrame
    message: str | None = None
    notes: list[str] = field(default_factory=list)
    cutoffs: RFMCutoffs | None = None

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
            f"RFM puts {len(self.table)} active accounts into {int((c > 0).sum())} named "
            f"segments; the largest is {top.index[0]} ({int(top.iloc[0])} accounts)."
        ]
        if self.cutoffs is not None:
            u = self.cutoffs.unit_days
            cad = self.cutoffs.cadence_days
            usual = "" if np.isnan(cad) else f" (accounts are usually active every {cad:.1f} days)"
            out.append(
                f"Recency is scored in steps of {u} days{usual}: R = 5 for accounts seen in "
                f"the last {u} days, 4 within {2 * u}, 3 within {4 * u}, 2 within {8 * u}, "
                "else 1. Equal values always get equal scores."
            )
        un = int(c.get(UNCLASSIFIED, 0))
        if un:
            out.append(f"{un} accounts match no rule of the rule table (shown as {UNCLASSIFIED}).")
        return out + self.notes


_EMPTY_COLUMNS = ["account_id", "recency", "frequency", "monetary", "r", "f", "m", "fm"]


def rfm_segments(
    feats: pd.DataFrame,
    *,
    rules: list[dict[str, Any]] | None = None,
    min_accounts: int = 5,
    cutoffs: RFMCutoffs | None = None,
) -> RFMResult:
    """RFM scores (1–5, from cut-offs) and named segments for the team's active accounts.

    Scores come from cut-offs (:func:`rfm_cutoffs`), never from an account's rank, so
    accounts with equal recency, frequency and monetary values always get the same
    scores and segment. FM is the mean of the F and M scores; the first rule whose R
    and FM ranges hold names the segment.

    Parameters
    ----------
    feats
        The frame of :func:`account_features`; churned accounts are left out.
    rules
        Overrides the standard rule table (the ``rfm_rules`` param).
    min_accounts
        Fewer active accounts than this give a message instead of scores.
    cutoffs
        Score with these cut-offs (e.g. those of a later date, for movement) instead of
        the ones of ``feats``.

    Returns
    -------
    RFMResult
    """
    table = rfm_rules_table(rules)
    cur = _current(feats)
    empty = pd.DataFrame(columns=[*_EMPTY_COLUMNS, "rfm_segment"])
    if cur.empty:
        return RFMResult(
            empty,
            table,
            f"No account was active {_window_words(feats)} (and still a customer): "
            "RFM needs activity to score recency and frequency.",
        )
    if len(cur) < min_accounts and cutoffs is None:
        return RFMResult(
            empty,
            table,
            f"Only {len(cur)} active account(s): RFM score cut-offs need at least {min_accounts}.",
        )
    dims = cur[["recency", "frequency", "monetary"]]
    if (dims.nunique() <= 1).all() and cutoffs is None:
        return RFMResult(
            empty,
            table,
            "Every active account has the same recency, frequency "
            "and monetary value: RFM scores cannot tell them apart.",
        )
    notes = [
        f"Every account has the same {c}, so its score is the same for all."
        for c in dims.columns
        if dims[c].nunique() <= 1
    ]
    cut = cutoffs or rfm_cutoffs(feats)
    out = cur[["account_id", "recency", "frequency", "monetary"]].copy()
    out["r"] = score(cur["recency"], cut.recency, higher_is_better=False)
    out["f"] = score(cur["frequency"], cut.frequency, higher_is_better=True)
    out["m"] = score(cur["monetary"], cut.monetary, higher_is_better=True)
    out["fm"] = (out["f"] + out["m"]) / 2
    out["rfm_segment"] = _apply_rules(out["r"], out["fm"], table)
    lookback = feats.attrs.get("lookback_days")
    if lookback is not None and cut.recency[-1] >= lookback:
        notes.append(
            f"The {lookback}-day window is shorter than {cut.recency[-1]} days, so the lowest "
            "recency scores cannot be reached; widen `lookback_days` to see them."
        )
    return RFMResult(out.reset_index(drop=True), table, None, notes, cut)


def _apply_rules(r: pd.Series, fm: pd.Series, table: pd.DataFrame) -> np.ndarray:
    conds = [
        (r >= t.r_min) & (r <= t.r_max) & (fm >= t.fm_min) & (fm <= t.fm_max)
        for t in table.itertuples()
    ]
    return np.select(conds, list(table["segment"]), default=UNCLASSIFIED).astype(object)
