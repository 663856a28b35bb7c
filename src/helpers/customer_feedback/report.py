"""The customer-feedback notebook's one call: NPS with intervals, themes, who says what, what is new."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from statsmodels.stats.proportion import proportion_confint

from ..data import Warehouse
from ..errors import WorkbookError
from .breakdown import arr_groups, theme_features, theme_shares, top_theme
from .emerging import emerging_themes, rising_words
from .load import FeedbackData, load_feedback
from .nps import compare_segments, nps_change, nps_monthly, nps_table, nps_weighted
from .text import LANGUAGES, classify
from .themes import Themes, find_themes

__all__ = ["FeedbackReport", "feedback_report"]


def _p(p: float) -> str:
    if p < 0.001:
        return "p < 0.001"
    return f"p = {p:.3f}" if p < 0.1 else f"p = {p:.2f}"


def _pct(x: float) -> str:
    return f"{100 * x:.0f}%"


def _n(x: float) -> str:
    """A score in whole points, never "-0"."""
    return "0" if round(x) == 0 else f"{x:.0f}"


def _q(name: str) -> str:
    return f"“{name}”"


@dataclass
class FeedbackReport:
    """What the ``customer_feedback`` notebook shows, with the sentences a PM reads first.

    Tables: ``nps`` (overall and ARR-weighted), ``nps_by_segment``, ``nps_monthly``;
    ``themes`` (:class:`~.themes.Themes`) with ``themed`` (one row per English comment
    and its theme), the shares ``by_category`` (NPS detractors, passives, promoters),
    ``by_segment`` and ``by_arr``, the ``features`` that request comments point to, and
    ``emerging`` (the test for what is new).
    """

    data: FeedbackData
    nps: pd.DataFrame
    nps_by_segment: pd.DataFrame
    segment_p: float
    nps_monthly: pd.DataFrame
    change: dict | None
    set_aside: pd.DataFrame
    themes: Themes
    themed: pd.DataFrame
    by_category: pd.DataFrame
    by_segment: pd.DataFrame
    by_arr: pd.DataFrame
    features: pd.DataFrame
    emerging: pd.DataFrame
    emerging_message: str | None
    settings: dict = field(default_factory=dict)
    message: str | None = None

    @property
    def ok(self) -> bool:
        return self.message is None

    @property
    def ci(self) -> str:
        return f"{100 * (1 - self.settings.get('alpha', 0.05)):.0f}% CI"

    @property
    def new_themes(self) -> pd.DataFrame:
        return self.emerging[self.emerging["new"]] if len(self.emerging) else self.emerging

    # ------------------------------------------------------------------ sentences
    def summary(self) -> list[str]:
        """The answer in plain words, each figure with its uncertainty."""
        if self.message:
            return [self.message, *self.data.notes]
        out = self._nps_sentences()
        out += self._theme_sentences()
        return out + self.data.notes

    def _window(self) -> str:
        d = self.data
        return f"the {d.days} days to {d.end:%Y-%m-%d}"

    def _nps_sentences(self) -> list[str]:
        d, ci = self.data, self.ci
        row = self.nps.set_index("measure").loc["answers"]
        if not row["n"]:
            return [f"No NPS answers from {d.product_area} accounts in {self._window()}."]
        accounts = d.answers["account_id"].nunique()
        text = (
            f"NPS {_n(row.nps)} ({ci} {_n(row.lo)} to {_n(row.hi)}) from {int(row.n):,} "
            f"answers by {accounts:,} {d.product_area} accounts in {self._window()}"
        )
        w = self.nps.set_index("measure").loc["arr_weighted"]
        if pd.notna(w["nps"]):
            text += f"; ARR-weighted {_n(w.nps)} ({ci} {_n(w.lo)} to {_n(w.hi)})"
            if w["effective_accounts"] < 30:
                text += (
                    f", resting on about {w.effective_accounts:.0f} accounts' worth of ARR "
                    "(a few large accounts decide it)"
                )
        out = [text + "."]
        seg = self._segment_sentence()
        if seg:
            out.append(seg)
        out.append(self._coverage_sentence())
        return out

    def _segment_sentence(self) -> str | None:
        t, by, ci = self.nps_by_segment, self.data.segment_by, self.ci
        if t.empty:
            return None
        minimum = self.settings.get("min_responses", 30)
        readable = t[t.n >= minimum].sort_values("nps", ascending=False)
        few = t[(t.n > 0) & (t.n < minimum)]["segment"].astype(str).tolist()
        if readable.empty:
            return f"No {by} has {minimum} or more answers, too few to compare NPS by {by}."
        if len(readable) <= 4:
            parts = [f"{r.segment} {_n(r.nps)} (n={int(r.n):,})" for r in readable.itertuples()]
            text = f"By {by}: " + ", ".join(parts)
        else:
            hi, lo = readable.iloc[0], readable.iloc[-1]
            text = (
                f"By {by}: highest {hi.segment} {_n(hi.nps)} ({ci} {_n(hi.lo)} to {_n(hi.hi)}), "
                f"lowest {lo.segment} {_n(lo.nps)} ({ci} {_n(lo.lo)} to {_n(lo.hi)})"
            )
        p = self.segment_p
        if len(readable) >= 2 and pd.notna(p):
            alpha = self.settings.get("alpha", 0.05)
            text += (
                f"; the {by}s differ ({_p(p)}, chi-square test of the answer mix)"
                if p < alpha
                else f"; no {by} differs clearly from the others ({_p(p)}, chi-square test)"
            )
        if few:
            text += f"; too few answers to read: {', '.join(few)}"
        return text + "."

    def _coverage_sentence(self) -> str:
        m, ci = self.nps_monthly, self.ci
        minimum = self.settings.get("min_responses", 30)
        answered, readable = int((m.n > 0).sum()), m[m.enough]
        text = (
            f"Answers came in {answered} of {len(m)} months; {len(readable)} "
            f"{'has' if len(readable) == 1 else 'have'} at least {minimum} answers and "
            f"{'is' if len(readable) == 1 else 'are'} read month by month"
        )
        c = self.change
        if c is None or not np.isfinite(c.get("change", np.nan)):
            return text + "."
        month = pd.Timestamp(c["month"]).strftime("%B %Y")
        if c["lo"] > 0 or c["hi"] < 0:
            word = "up" if c["change"] > 0 else "down"
            text += (
                f". In {month} NPS was {_n(c['nps'])} ({c['n']:,} answers), {word} "
                f"{abs(c['change']):.0f} points on the earlier answers of the window "
                f"({ci} {c['lo']:+.0f} to {c['hi']:+.0f})"
            )
        else:
            text += (
                f". In {month} NPS was {_n(c['nps'])} ({c['n']:,} answers), no clear change "
                f"from the earlier answers (difference {c['change']:+.0f} points, {ci} "
                f"{c['lo']:+.0f} to {c['hi']:+.0f})"
            )
        return text + "."

    def _theme_sentences(self) -> list[str]:
        th, d, ci = self.themes, self.data, self.ci
        counts = self.set_aside.set_index("kind")["comments"]
        total = int(counts.sum())
        if total == 0:
            return [f"No comments from {d.product_area} accounts in {self._window()}."]
        aside = []
        if counts.get("non_english", 0):
            aside.append(f"{counts['non_english']:,} in other languages")
        if counts.get("empty", 0):
            aside.append(f"{counts['empty']:,} empty")
        set_aside = (" and ".join(aside) + " set aside") if aside else "none set aside"
        said = f"{total:,} comment{'s' if total != 1 else ''}"
        if not th.ok:
            return [f"{said} ({set_aside}). {th.message}"]
        how = "chosen by stability across resamples" if th.chosen_by == "stability" else "fixed"
        out = [
            f"{said}: {counts.get('english', 0):,} in English grouped into {th.k} "
            f"themes (the number {how}); {set_aside}."
        ]
        who = []
        det = top_theme(self.by_category, "category", "detractor")
        if det is not None:
            who.append(
                f"Detractors talk most about {_q(det['name'])} ({_pct(det.share)} of their "
                f"comments, {ci} {_pct(det.lo)}–{_pct(det.hi)})"
            )
        pro = top_theme(self.by_category, "category", "promoter")
        if pro is not None:
            who.append(f"promoters about {_q(pro['name'])} ({_pct(pro.share)})")
        if who:
            out.append("; ".join(who) + ".")
        top = top_theme(self.by_arr, "arr_group", "top 25% by ARR")
        if top is not None:
            out.append(
                f"Accounts in the top quarter by ARR talk most about {_q(top['name'])} "
                f"({_pct(top.share)} of their comments, {ci} {_pct(top.lo)}–{_pct(top.hi)})."
            )
        out.append(self._new_sentence())
        return out

    def _new_sentence(self) -> str:
        if self.emerging_message:
            return self.emerging_message
        days = self.settings.get("recent_days", 45)
        k = self.themes.k
        new = self.new_themes
        if new.empty:
            return (
                f"Nothing new: no theme's share of comments rose clearly in the last {days} "
                f"days compared with the rest of the window (tests within each source, Holm "
                f"over {k} themes)."
            )
        parts = []
        for r in new.itertuples():
            since = f", rising from {r.rise_date:%Y-%m-%d}" if r.rise_date else ""
            words = f"; the words that rose most in it: {r.rising_words}" if r.rising_words else ""
            parts.append(
                f"{_q(r.name)}, {_pct(r.earlier_share)} → {_pct(r.recent_share)} of comments "
                f"in the last {days} days ({_p(r.p_holm)}, Holm over {k} themes{since}{words})"
            )
        return "New: " + "; ".join(parts) + "."

    def notes(self) -> list[str]:
        """How the figures were made, and their caveats."""
        out = list(self.themes.notes)
        th = self.themes
        if th.ok and th.chosen_by == "stability" and len(th.stability):
            best = th.stability.set_index("k").loc[th.k, "stability"]
            out.append(
                f"{th.k} themes: their grouping agreed best between the full fit and "
                f"{int(th.stability.runs.iloc[0])} random 80% subsamples (adjusted Rand "
                f"{best:.2f}; see the stability table)."
            )
        return out

    def facts(self) -> dict:
        """The headline numbers as plain values (recorded beside the answer)."""
        row = self.nps.set_index("measure").loc["answers"]
        new = self.new_themes
        return {
            "window_days": self.settings.get("window_days"),
            "recent_days": self.settings.get("recent_days"),
            "nps": None if pd.isna(row["nps"]) else round(float(row["nps"]), 1),
            "nps_lo": None if pd.isna(row["lo"]) else round(float(row["lo"]), 1),
            "nps_hi": None if pd.isna(row["hi"]) else round(float(row["hi"]), 1),
            "answers": int(row["n"]),
            "comments": int(self.set_aside["comments"].sum()),
            "themes": list(self.themes.names),
            "new_themes": new["name"].tolist() if len(new) else [],
        }

    # ------------------------------------------------------------------ tables
    def tables(self) -> dict[str, pd.DataFrame]:
        """Every table worth recording, by name (CSV copies: see :attr:`CSV`)."""
        out = {
            "nps": self.nps,
            "nps_by_segment": self.nps_by_segment,
            "nps_monthly": self.nps_monthly,
            "comments_set_aside": self.set_aside,
        }
        if self.themes.ok:
            t = self.themes.table()
            n = max(int(t.comments.sum()), 1)
            lo, hi = proportion_confint(
                t.comments, n, alpha=self.settings.get("alpha", 0.05), method="wilson"
            )
            t["lo"], t["hi"] = np.asarray(lo), np.asarray(hi)
            out |= {
                "themes": t,
                "quotes": self.themes.quotes,
                "theme_stability": self.themes.stability,
                "themes_by_nps_category": self.by_category,
                "themes_by_segment": self.by_segment,
                "themes_by_arr": self.by_arr,
                "theme_features": self.features,
                "emerging": self.emerging.astype({"rise_date": "string"}),
                "comment_themes": self.themed[["id", "source", "account_id", "at", "theme"]],
            }
        return out

    #: tables also written as CSV, for spreadsheets and CRMs
    CSV = ("nps", "nps_by_segment", "themes", "comment_themes")


def _monthly_change(answers: pd.DataFrame, monthly: pd.DataFrame, alpha: float, minimum: int):
    readable = monthly[monthly.enough]
    if readable.empty:
        return None
    month = pd.Timestamp(readable["month"].iloc[-1])
    when = pd.to_datetime(answers["submitted_at"])
    latest = answers.loc[when >= month, "score"]
    earlier = answers.loc[when < month, "score"]
    if len(earlier) < minimum:
        return None
    c = nps_change(earlier, latest, alpha=alpha)
    return {**c, "month": month, "nps": readable["nps"].iloc[-1], "n": int(len(latest))}


def feedback_report(
    wh: Warehouse,
    product_area: str,
    *,
    as_of: dt.date,
    window_days: int = 365,
    recent_days: int = 45,
    segment_by: str = "plan",
    k: int | None = None,
    k_min: int = 3,
    k_max: int = 10,
    stability_runs: int = 5,
    min_responses: int = 30,
    min_rise: float = 0.10,
    alpha: float = 0.05,
    bootstrap_runs: int = 1000,
    seed: int = 42,
    team: str | None = None,
    run_dir: str | Path | None = None,
) -> FeedbackReport:
    """Load the window's answers and comments in the engine, then measure and group them.

    Parameters
    ----------
    wh
        The open warehouse.
    product_area
        The team's product area (its accounts: an event in it in the window).
    as_of
        Last day of the window.
    window_days
        Days of answers and comments up to ``as_of``.
    recent_days
        The recent period whose theme shares are tested against the rest of the window.
    segment_by
        ``plan``, ``region``, ``industry`` or ``segment`` (latest segmentation run).
    k, k_min, k_max, stability_runs
        A fixed number of themes, or the range searched and the subsample fits per
        ``k`` (see :func:`~.themes.find_themes`).
    min_responses
        Months and segments with fewer NPS answers are shown but not read.
    min_rise
        Smallest rise in a theme's share (0–1) that counts as new.
    alpha
        1 − confidence of the intervals; family-wise error rate of the "new" tests.
    bootstrap_runs, seed
        Resamples of accounts for the ARR-weighted NPS, and the seed of every random step.
    team, run_dir
        Where ``segment_by="segment"`` reads the team's segments.
    """
    if recent_days >= window_days:
        raise WorkbookError(
            f"`recent_days` ({recent_days}) must be shorter than `window_days` ({window_days}): "
            "the recent period is compared with the rest of the window"
        )
    if k_min > k_max:
        raise WorkbookError(f"`k_min` ({k_min}) must not be larger than `k_max` ({k_max})")
    data = load_feedback(
        wh,
        product_area,
        as_of=as_of,
        window_days=window_days,
        segment_by=segment_by,
        team=team,
        run_dir=run_dir,
    )
    settings = {
        "alpha": alpha,
        "recent_days": recent_days,
        "window_days": window_days,
        "min_responses": min_responses,
        "min_rise": min_rise,
    }
    answers = data.answers
    overall = nps_table(answers, alpha=alpha).assign(measure="answers")
    weighted = nps_weighted(answers, alpha=alpha, bootstrap_runs=bootstrap_runs, seed=seed)
    overall["accounts"] = answers["account_id"].nunique()
    overall["effective_accounts"] = np.nan
    nps = pd.concat(
        [overall, pd.DataFrame([{**weighted, "measure": "arr_weighted"}])], ignore_index=True
    )
    nps = nps[
        [
            "measure",
            "nps",
            "lo",
            "hi",
            "n",
            "promoters",
            "passives",
            "detractors",
            "accounts",
            "effective_accounts",
        ]
    ]
    by_segment = nps_table(answers, "segment", alpha=alpha)
    by_segment.insert(0, "segment_by", data.segment_by)
    segment_p = compare_segments(by_segment, "segment")
    monthly = nps_monthly(
        answers, start=data.start, end=data.end, min_responses=min_responses, alpha=alpha
    )
    change = _monthly_change(answers, monthly, alpha, min_responses)

    c = data.comments
    kind = classify(c["text"]) if len(c) else np.array([], dtype=object)
    set_aside = pd.DataFrame(
        {"kind": list(LANGUAGES), "comments": [int((kind == x).sum()) for x in LANGUAGES]}
    )
    english = c[kind == "english"].reset_index(drop=True)
    themes = find_themes(
        english["text"].tolist(),
        k=k,
        k_min=k_min,
        k_max=k_max,
        stability_runs=stability_runs,
        seed=seed,
    )
    english["theme"] = themes.labels
    themed = english[english["theme"] >= 0].drop(columns=["text"]).reset_index(drop=True)
    groups, _ = arr_groups(data.accounts)
    themed["arr_group"] = themed["account_id"].map(groups)
    names = themes.names
    by_category = theme_shares(themed, "category", names, alpha=alpha)
    by_seg = theme_shares(themed, "segment", names, alpha=alpha)
    by_seg.insert(0, "segment_by", data.segment_by)
    by_arr = theme_shares(themed, "arr_group", names, alpha=alpha)
    features = theme_features(themed, names, data.feature_names)
    if themes.ok:
        emerging, emerging_message = emerging_themes(
            themed,
            names,
            as_of=data.end,
            recent_days=recent_days,
            alpha=alpha,
            min_rise=min_rise,
        )
        late = english["at"] >= pd.Timestamp(data.end) + pd.Timedelta(days=1 - recent_days)
        earlier = english.loc[~late & (english["theme"] >= 0), "text"].tolist()
        emerging["rising_words"] = [
            ", ".join(
                rising_words(
                    english.loc[late & (english["theme"] == r.theme - 1), "text"].tolist(), earlier
                )
            )
            if r.new
            else ""
            for r in emerging.itertuples()
        ]
    else:
        emerging, emerging_message = pd.DataFrame(columns=["new"]), None
    message = None
    if answers.empty and c.empty:
        message = (
            f"No NPS answers and no comments from {product_area} accounts in the "
            f"{data.days} days to {data.end:%Y-%m-%d}: nothing to report. Widen "
            "`window_days`, or check that the source holds nps_responses and feature_requests."
        )
    return FeedbackReport(
        data=data,
        nps=nps,
        nps_by_segment=by_segment,
        segment_p=segment_p,
        nps_monthly=monthly,
        change=change,
        set_aside=set_aside,
        themes=themes,
        themed=themed,
        by_category=by_category,
        by_segment=by_seg,
        by_arr=by_arr,
        features=features,
        emerging=emerging,
        emerging_message=emerging_message,
        settings=settings,
        message=message,
    )
