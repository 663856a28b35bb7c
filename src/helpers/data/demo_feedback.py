"""The demo's customer comments: planted themes with known shares, and one that emerges late.

Comment text is drawn from its own random stream (:func:`text_stream`), so adding or
changing comments never moves a single draw of the main generator: every other column
of every demo table stays byte-identical. Each comment is built from one planted
theme's phrases; which theme depends on who writes it (NPS detractors, passives,
promoters, or a feature request) and when (the emerging theme appears only after its
start date). A few comments are empty, in another language, very long, or carry an
e-mail address, phone number or URL, so the analysis has to cope with them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

__all__ = [
    "EMERGING",
    "EMERGE_DAYS",
    "KINDS",
    "LINKED_FEATURE",
    "SHARES",
    "THEMES",
    "Comments",
    "categories",
    "comments",
    "text_stream",
    "truth",
]


@dataclass(frozen=True)
class Theme:
    """A planted theme: what a PM would call it, and the phrases its comments are made of."""

    label: str
    subjects: tuple[str, ...]
    predicates: tuple[str, ...]


THEMES: dict[str, Theme] = {
    "slow_reports": Theme(
        "slow reports",
        (
            "Reports",
            "Our reports",
            "Custom reports",
            "Big reports",
            "Shared reports",
            "Weekly reports",
        ),
        (
            "are slow",
            "are so slow",
            "are slow every morning",
            "are slow since the update",
            "are painfully slow",
            "got slow lately",
            "are slow for big accounts",
            "are slow to open",
            "are slow on Mondays",
            "are slow and we wait",
        ),
    ),
    "pricing": Theme(
        "pricing",
        (
            "The price",
            "Our price",
            "The new price",
            "The renewal price",
            "The seat price",
            "The list price",
        ),
        (
            "is expensive",
            "is too expensive",
            "is expensive for us",
            "is expensive for a small company",
            "got expensive this year",
            "is expensive compared to others",
            "is expensive at renewal",
            "is expensive, finance pushes back",
            "is expensive for what we use",
            "feels expensive",
        ),
    ),
    "support": Theme(
        "helpful support",
        (
            "Support",
            "Your support team",
            "Support staff",
            "The support desk",
            "Support chat",
            "Phone support",
        ),
        (
            "was helpful",
            "was quick and helpful",
            "is always helpful",
            "was friendly and helpful",
            "was helpful on a Sunday",
            "was helpful with our migration",
            "was very helpful",
            "was patient and helpful",
            "was helpful again",
            "was helpful and kind",
        ),
    ),
    "ease_of_use": Theme(
        "easy to use",
        (
            "The product",
            "The interface",
            "The tool",
            "The layout",
            "The setup",
            "Navigation",
        ),
        (
            "is easy to use",
            "is easy",
            "is easy for new hires",
            "is easy and clean",
            "is easy, we love it",
            "is easy to learn",
            "is easy even for managers",
            "is easy on any device",
            "is easy and quick",
            "is easy and intuitive",
        ),
    ),
    "bugs": Theme(
        "bugs and crashes",
        (
            "The app",
            "The mobile app",
            "The desktop app",
            "The app editor",
            "The app on Windows",
            "The web app",
        ),
        (
            "crashes",
            "crashes a lot",
            "crashes every day",
            "crashes with an error",
            "crashes and loses work",
            "crashes on upload",
            "crashes after the release",
            "crashes when saving",
            "crashes twice a week",
            "crashes, a known bug",
        ),
    ),
    "integrations": Theme(
        "integrations",
        (
            "The integration",
            "The CRM integration",
            "Our integration",
            "The Salesforce integration",
            "The HubSpot integration",
            "The calendar integration",
        ),
        (
            "will not sync",
            "fails to sync",
            "needs a better sync",
            "has a broken sync",
            "drops records in the sync",
            "sync is unreliable",
            "sync lags hours behind",
            "sync misses fields",
            "sync stops at night",
            "sync needs manual restarts",
        ),
    ),
    "offline_mode": Theme(
        "offline mode",
        (
            "Offline mode",
            "Offline access",
            "Working offline",
            "An offline version",
            "Offline editing",
            "Offline use",
        ),
        (
            "is badly needed",
            "is a must for our field team",
            "please add it soon",
            "is what our reps need on the road",
            "matters, we travel a lot",
            "would help on flights",
            "is our top request",
            "is missing for site visits",
            "is needed for poor connections",
            "would unblock our technicians",
        ),
    ),
}
#: The theme that appears near the end of the demo's history.
EMERGING = "offline_mode"
#: It starts this many days before the demo's last day.
EMERGE_DAYS = 40
_EMERGED_SHARE = 0.30  # of themed comments after the start
_BACKGROUND_SHARE = 0.01  # before it (a rare early mention)

#: Who writes: NPS detractors (0–6), passives (7–8), promoters (9–10), or a feature request.
KINDS = ("detractor", "passive", "promoter", "request")
#: Shares of the themes among each kind's themed comments (before the emerging theme).
SHARES: dict[str, dict[str, float]] = {
    "detractor": {
        "slow_reports": 0.40,
        "bugs": 0.25,
        "pricing": 0.20,
        "support": 0.05,
        "ease_of_use": 0.05,
        "integrations": 0.05,
    },
    "passive": {
        "slow_reports": 0.15,
        "bugs": 0.10,
        "pricing": 0.20,
        "support": 0.15,
        "ease_of_use": 0.20,
        "integrations": 0.20,
    },
    "promoter": {
        "slow_reports": 0.03,
        "bugs": 0.02,
        "pricing": 0.05,
        "support": 0.35,
        "ease_of_use": 0.45,
        "integrations": 0.10,
    },
    "request": {
        "slow_reports": 0.25,
        "bugs": 0.20,
        "pricing": 0.10,
        "support": 0.10,
        "ease_of_use": 0.10,
        "integrations": 0.25,
    },
}
#: Request comments for an area's 7th catalogue feature are mostly about this theme.
LINKED_FEATURE = {"theme": "integrations", "feature_index": 6, "share": 0.60}

NPS_COMMENT_RATE = 0.55  # answers with a comment
REQUEST_COMMENT_RATE = 0.60
EMPTY_SHARE = 0.04  # of comments: blank or placeholder text
NON_ENGLISH_SHARE = 0.04
PII_SHARE = 0.05  # themed comments that end with an e-mail address, phone number or URL
LONG_SHARE = 0.01  # themed comments of many sentences

_EMPTY = ("", " ", "   ", "-", "n/a", ".")
_NON_ENGLISH = (
    "Los informes tardan mucho en cargar y el equipo se queja.",
    "El precio es demasiado alto para una empresa pequeña.",
    "Die Berichte laden sehr langsam und das ist ärgerlich.",
    "Der Support war schnell und sehr hilfreich, danke!",
    "Le support est très rapide et vraiment utile.",
    "L'application plante plusieurs fois par jour, c'est pénible.",
    "O preço está muito alto para nós este ano.",
    "A interface é fácil de usar e muito bonita.",
    "レポートの読み込みがとても遅いです。",
    "Отчёты загружаются очень медленно.",
    "Il prodotto è facile da usare ma costa troppo.",
    "De rapporten laden erg traag en dat is vervelend.",
)
# openers and closers: many, each rare, so no filler phrase makes a theme of its own
_OPENERS = ("",) * 22 + (
    "Honestly, ",
    "To be fair, ",
    "Overall, ",
    "For us, ",
    "Again: ",
    "In short, ",
    "As a team lead: ",
    "Quick note: ",
)
_CLOSERS = (
    (".",) * 16
    + ("!",) * 4
    + (
        ". Thanks.",
        ". Cheers.",
        ", as said in the QBR.",
        ", as I told our CSM.",
        ". Please fix.",
        ". Keep it up.",
        ", just saying.",
        ". That is all.",
    )
)
_FIRST = ("jane", "omar", "li", "maria", "sam", "priya", "tom", "ana")
_DOMAINS = ("example.com", "acme.io", "northwind.test", "contoso.org")


def text_stream(seed: int) -> np.random.Generator:
    """The comments' own random stream: independent of the main generator of ``seed``."""
    return np.random.default_rng([seed, 0x5EED_7E47])


def categories(scores: np.ndarray) -> np.ndarray:
    """NPS category of each score: detractor (0–6), passive (7–8), promoter (9–10)."""
    s = np.asarray(scores)
    return np.where(s >= 9, "promoter", np.where(s >= 7, "passive", "detractor"))


@dataclass
class Comments:
    """Generated comments (None: no comment) and what each one was planted as.

    ``planted`` holds the theme name, ``empty``, ``non_english``, or ``""`` for no comment.
    """

    text: np.ndarray
    planted: np.ndarray


def comments(
    rng: np.random.Generator,
    kinds: np.ndarray,
    days: np.ndarray,
    *,
    emerge_start: dt.date | None,
    rate: float,
    linked: np.ndarray | None = None,
) -> Comments:
    """Draw a comment (or none) for each row.

    Parameters
    ----------
    rng
        The text stream (:func:`text_stream`), never the main generator.
    kinds
        One of :data:`KINDS` per row.
    days
        The row's date (``datetime64[D]``), for the emerging theme.
    emerge_start
        From this date on, :data:`EMERGING` takes 30% of themed comments (1% before);
        None: it never emerges (and is not mentioned at all).
    rate
        Chance that a row has a comment.
    linked
        Rows whose comment is mostly about :data:`LINKED_FEATURE`'s theme.
    """
    kinds = np.asarray(kinds)
    m = len(kinds)
    has = rng.random(m) < rate
    kind_of = rng.random(m)
    planted = np.full(m, "", dtype=object)
    u = rng.random(m)
    names = list(THEMES)
    for kind in KINDS:
        sel = kinds == kind
        if not sel.any():
            continue
        shares = SHARES[kind]
        cum = np.cumsum([shares.get(t, 0.0) for t in names])
        idx = np.minimum(np.searchsorted(cum / cum[-1], u[sel], side="right"), len(names) - 1)
        planted[sel] = np.array(names, dtype=object)[idx]
    if linked is not None:
        link = np.asarray(linked) & (rng.random(m) < LINKED_FEATURE["share"])
        planted[link] = LINKED_FEATURE["theme"]
    if emerge_start is not None:
        after = np.asarray(days) >= np.datetime64(emerge_start)
        share = np.where(after, _EMERGED_SHARE, _BACKGROUND_SHARE)
        planted[rng.random(m) < share] = EMERGING
    planted[kind_of < EMPTY_SHARE + NON_ENGLISH_SHARE] = "non_english"
    planted[kind_of < EMPTY_SHARE] = "empty"
    planted[~has] = ""

    # the phrases: drawn for every row (a fixed number of draws), used where needed
    subj, pred, opener, closer = (rng.random(m) for _ in range(4))
    extra = rng.random(m)
    pii, pii_kind, pii_num = rng.random(m), rng.integers(0, 3, m), rng.integers(10, 99, m)
    long_ = rng.random(m) < LONG_SHARE
    pick = rng.integers(0, 1 << 30, m)
    text = np.full(m, None, dtype=object)
    for i in np.nonzero(has)[0]:
        p = planted[i]
        if p == "empty":
            text[i] = _EMPTY[pick[i] % len(_EMPTY)]
            continue
        if p == "non_english":
            text[i] = _NON_ENGLISH[pick[i] % len(_NON_ENGLISH)]
            continue
        th = THEMES[p]
        sentences = 1 + (extra[i] < 0.3) + (7 * long_[i])
        parts = []
        for j in range(sentences):
            s = th.subjects[(int(subj[i] * 1000) + j) % len(th.subjects)]
            v = th.predicates[(int(pred[i] * 1000) + 3 * j) % len(th.predicates)]
            o = _OPENERS[int(opener[i] * len(_OPENERS))] if j == 0 else ""
            c = _CLOSERS[int(closer[i] * len(_CLOSERS))] if j == 0 else "."
            parts.append(f"{o}{s.lower() if o else s} {v}{c}")
        if pii[i] < PII_SHARE:
            who = _FIRST[pick[i] % len(_FIRST)]
            parts.append(
                [
                    f"Reach me at {who}.ops@{_DOMAINS[pick[i] % len(_DOMAINS)]}.",
                    f"Call me on +1 415 555 01{pii_num[i]}.",
                    f"Details: https://support.{_DOMAINS[pick[i] % 4]}/t/{pick[i] % 99991}",
                ][pii_kind[i]]
            )
        text[i] = " ".join(parts)
    return Comments(text=text, planted=planted)


def truth(emerge_start: dt.date, links: dict[str, str]) -> dict:
    """What the comments plant, for ``<warehouse>.truth.json`` (``links``: area → feature)."""
    return {
        "themes": {
            name: {
                "label": th.label,
                "subjects": list(th.subjects),
                "predicates": list(th.predicates),
            }
            for name, th in THEMES.items()
        },
        "shares": SHARES,
        "emerging": {
            "theme": EMERGING,
            "start": str(emerge_start),
            "share_after": _EMERGED_SHARE,
            "share_before": _BACKGROUND_SHARE,
        },
        "feature_link": {
            area: {
                "theme": LINKED_FEATURE["theme"],
                "feature": f,
                "share": LINKED_FEATURE["share"],
            }
            for area, f in links.items()
        },
        "rates": {
            "nps_comment": NPS_COMMENT_RATE,
            "request_comment": REQUEST_COMMENT_RATE,
            "empty": EMPTY_SHARE,
            "non_english": NON_ENGLISH_SHARE,
            "pii": PII_SHARE,
            "long": LONG_SHARE,
        },
    }
