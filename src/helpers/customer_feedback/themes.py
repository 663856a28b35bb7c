"""Themes found in free text without a tag list: TF-IDF and non-negative matrix factorisation.

The method (scikit-learn):

1. Each English comment (see :mod:`.text`), cut to :data:`~.text.MAX_CHARS` and scrubbed
   of e-mail addresses, URLs and phone numbers, becomes a TF-IDF vector of its words
   (English stop words out, words in at least two comments and at most 80% of them,
   sublinear term frequency). Single words, not word pairs: pairs let a phrase that is
   repeated word for word form a "theme" of its own.
2. NMF splits the comments × words matrix into ``k`` themes; a theme is named by its
   top words, and each comment belongs to the theme with its largest weight.
3. ``k`` is chosen by **stability**: for every ``k`` from ``k_min`` to ``k_max``, NMF is
   fitted on the comments (a random sample of at most :data:`SELECTION_SAMPLE`) and again
   on ``stability_runs`` random 80% subsamples; the grouping of each subsample's
   comments is compared with their grouping in the full fit by the adjusted Rand index
   (ARI). The ``k`` with the highest mean ARI is kept, or the largest ``k`` within
   :data:`TOLERANCE` of it: equally stable groupings, and finer themes tell a PM more.
   A fixed ``k`` skips the search.
4. Quotes: per theme, the comments most purely about it (its share of the comment's
   theme weights), shown scrubbed and shortened, no two alike.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.decomposition import NMF
from sklearn.exceptions import ConvergenceWarning
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics import adjusted_rand_score
from threadpoolctl import threadpool_limits

from .text import MAX_CHARS, scrub, shorten

__all__ = ["MIN_COMMENTS", "SELECTION_SAMPLE", "TOLERANCE", "Themes", "find_themes"]

#: Fewer English comments than this are not grouped into themes.
MIN_COMMENTS = 20
#: The number of themes is chosen on a random sample of at most this many comments.
SELECTION_SAMPLE = 3000
_QUOTES = 3
_TOP_TERMS = 8
_NGRAMS = (1, 1)
#: Numbers of themes whose stability is within this of the best count as equally stable.
TOLERANCE = 0.01


@dataclass
class Themes:
    """Themes of a set of comments.

    ``labels`` holds, for every comment given, its theme (0 … k-1, largest theme first)
    or -1 when none of its words is in the model's vocabulary; ``purity`` the share of
    the comment's theme weights that its theme holds.
    """

    k: int
    names: list[str]
    terms: list[list[str]]
    labels: np.ndarray
    purity: np.ndarray
    stability: pd.DataFrame
    quotes: pd.DataFrame
    chosen_by: str = "stability"
    message: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.message is None and self.k > 0

    def name(self, theme: int) -> str:
        return self.names[theme] if 0 <= theme < len(self.names) else "no theme"

    def table(self) -> pd.DataFrame:
        """One row per theme: name, top terms, comments and share of themed comments."""
        cols = ["theme", "name", "top_terms", "comments", "share"]
        if not self.ok:
            return pd.DataFrame(columns=cols)
        counts = np.bincount(self.labels[self.labels >= 0], minlength=self.k)
        total = max(int(counts.sum()), 1)
        return pd.DataFrame(
            {
                "theme": np.arange(1, self.k + 1),
                "name": self.names,
                "top_terms": [", ".join(t) for t in self.terms],
                "comments": counts,
                "share": counts / total,
            },
            columns=cols,
        )


def _empty(message: str, n: int, stability: pd.DataFrame | None = None) -> Themes:
    return Themes(
        k=0,
        names=[],
        terms=[],
        labels=np.full(n, -1),
        purity=np.zeros(n),
        stability=stability if stability is not None else pd.DataFrame(columns=["k", "stability"]),
        quotes=pd.DataFrame(columns=["theme", "name", "rank", "quote"]),
        message=message,
    )


def _nmf(k: int, seed: int, max_iter: int = 400) -> NMF:
    return NMF(n_components=k, init="nndsvda", max_iter=max_iter, random_state=seed)


def _fit(model: NMF, X) -> np.ndarray:
    # one BLAS thread: these matrices are small, and threads fight over 2 shared cores
    with warnings.catch_warnings(), threadpool_limits(limits=1):
        # a fit that stops at max_iter is still a usable grouping; PMs never see the warning
        warnings.simplefilter("ignore", ConvergenceWarning)
        return model.fit_transform(X)


def _stability(X, ks: list[int], runs: int, seed: int) -> pd.DataFrame:
    """Mean ARI between the full fit's grouping and each 80% subsample fit's, per ``k``."""
    rng = np.random.default_rng(seed)
    n = X.shape[0]
    if n > SELECTION_SAMPLE:
        X = X[np.sort(rng.choice(n, SELECTION_SAMPLE, replace=False))]
        n = SELECTION_SAMPLE
    subsets = [np.sort(rng.choice(n, int(0.8 * n), replace=False)) for _ in range(runs)]
    rows = []
    for k in ks:
        ref = _fit(_nmf(k, seed), X).argmax(axis=1)
        scores = [
            adjusted_rand_score(ref[sub], _fit(_nmf(k, seed), X[sub]).argmax(axis=1))
            for sub in subsets
        ]
        rows.append({"k": k, "stability": float(np.mean(scores)), "runs": runs})
    return pd.DataFrame(rows, columns=["k", "stability", "runs"])


def _name(terms: list[str]) -> tuple[str, list[str]]:
    """A theme's name: its top three terms, skipping terms whose words are already named."""
    chosen: list[str] = []
    seen: set[str] = set()
    for t in terms:
        words = set(t.split())
        if words <= seen:
            continue
        chosen.append(t)
        seen |= words
        if len(chosen) == 3:
            break
    return ", ".join(chosen), chosen


def _quotes(texts: list[str], labels, purity, weight, names) -> pd.DataFrame:
    rows = []
    for t, name in enumerate(names):
        idx = np.nonzero(labels == t)[0]
        if not len(idx):
            continue
        length = np.array([len(texts[i]) for i in idx])
        readable = (length >= 30) & (length <= 200)
        # readable first, then the most purely about the theme, then the strongest
        order = np.lexsort((-weight[idx], -np.round(purity[idx], 1), ~readable))
        seen: set[str] = set()
        for i in idx[order]:
            quote = shorten(scrub(texts[i]))
            key = quote.lower()
            if key in seen:
                continue
            seen.add(key)
            rows.append({"theme": t + 1, "name": name, "rank": len(seen), "quote": quote})
            if len(seen) == _QUOTES:
                break
    return pd.DataFrame(rows, columns=["theme", "name", "rank", "quote"])


def find_themes(
    texts: list[str] | pd.Series,
    *,
    k: int | None = None,
    k_min: int = 3,
    k_max: int = 10,
    stability_runs: int = 5,
    seed: int = 42,
) -> Themes:
    """Group English comments into themes named by their top terms.

    Parameters
    ----------
    texts
        English comments (see :func:`~helpers.customer_feedback.text.classify`).
    k
        A fixed number of themes; None chooses it by stability between ``k_min`` and
        ``k_max``.
    k_min, k_max
        The range of ``k`` searched.
    stability_runs
        Subsample fits per ``k`` in the stability search.
    seed
        Seed of the subsamples and of NMF.

    Returns
    -------
    Themes
        With ``message`` (and no themes) when there are too few comments or words.
    """
    texts = [str(t)[:MAX_CHARS] for t in texts]
    n = len(texts)
    if n < MIN_COMMENTS:
        return _empty(
            f"Only {n} comment{'s' if n != 1 else ''} in English: too few to find themes "
            f"(at least {MIN_COMMENTS} needed).",
            n,
        )
    docs = [scrub(t, tags=False) for t in texts]
    vec = TfidfVectorizer(
        stop_words="english",
        token_pattern=r"(?u)\b[^\W\d_]{2,}\b",
        ngram_range=_NGRAMS,
        min_df=2,
        max_df=0.8,
        sublinear_tf=True,
        max_features=20_000,
        dtype=np.float32,
    )
    try:
        X = vec.fit_transform(docs)
    except ValueError:  # no term occurs in two comments
        return _empty(
            f"The {n} English comments share too few words to find themes.",
            n,
        )
    terms = np.asarray(vec.get_feature_names_out())
    has_terms = np.asarray(X.getnnz(axis=1) > 0)
    X_used = X[has_terms]
    largest = min(k_max, X_used.shape[0] - 1, len(terms) - 1)
    if k is not None:
        ks, chosen_by = [min(k, largest)], "fixed"
    else:
        ks, chosen_by = list(range(min(k_min, largest), largest + 1)), "stability"
    if not ks or ks[0] < 2:
        return _empty(f"The {n} English comments share too few words to find themes.", n)
    if chosen_by == "stability" and len(ks) > 1:
        stability = _stability(X_used, ks, stability_runs, seed)
        score = stability.stability.round(3)
        best = stability.loc[score >= score.max() - TOLERANCE, "k"].max()
    else:
        stability = pd.DataFrame(columns=["k", "stability", "runs"])
        best = ks[0]
    model = _nmf(int(best), seed)
    W_used = _fit(model, X_used)
    W = np.zeros((n, int(best)))
    W[has_terms] = W_used
    total = W.sum(axis=1)
    raw = np.where(total > 0, W.argmax(axis=1), -1)
    # largest theme first
    sizes = np.bincount(raw[raw >= 0], minlength=int(best))
    order = np.argsort(-sizes, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    labels = np.where(raw >= 0, rank[np.maximum(raw, 0)], -1)
    H = model.components_[order]
    W = W[:, order]
    purity = np.divide(W.max(axis=1), total, out=np.zeros(n), where=total > 0)
    names, top = [], []
    for row in H:
        ranked = terms[np.argsort(-row)[: _TOP_TERMS * 2]].tolist()
        name, _ = _name(ranked)
        names.append(name)
        top.append(ranked[:_TOP_TERMS])
    weight = W.max(axis=1)
    quotes = _quotes(texts, labels, purity, weight, names)
    notes = []
    unthemed = int((labels < 0).sum())
    if unthemed:
        notes.append(
            f"{unthemed} English comment{'s' if unthemed != 1 else ''} use no word shared "
            "with other comments and belong to no theme."
        )
    return Themes(
        k=int(best),
        names=names,
        terms=top,
        labels=labels,
        purity=purity,
        stability=stability,
        quotes=quotes,
        chosen_by=chosen_by,
        notes=notes,
    )
