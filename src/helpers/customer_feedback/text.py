"""Comment text before any model: which comments are usable, and quotes safe to show.

Two jobs, both plain and documented:

* :func:`classify` sorts comments into ``english``, ``non_english`` and ``empty``. The
  language test is a heuristic, not a language model: a comment is *not English* when
  most of its letters are outside ASCII (Japanese, Cyrillic…) or when it holds more
  common function words of Spanish, German, French, Portuguese, Italian or Dutch than
  of English (``de``, ``und``, ``est``, ``não``…). A comment with no letters, or a
  placeholder such as "n/a", is *empty*. Short comments with no function words at all
  ("Great support") count as English.
* :func:`scrub` removes e-mail addresses, URLs and phone numbers (nine digits or more,
  or a ``+`` and seven or more) from text before it is modelled or quoted.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

__all__ = ["LANGUAGES", "MAX_CHARS", "classify", "scrub", "shorten"]

#: The classes of :func:`classify`.
LANGUAGES = ("english", "non_english", "empty")
#: Longer comments are cut to this many characters before modelling (the rest adds
#: nothing to a theme and would only cost time); quotes are shortened further.
MAX_CHARS = 5000

_WORD = re.compile(r"[^\W\d_]+")
_PLACEHOLDERS = {"na", "n a", "none", "nothing", "no comment", "nil", "null", "no", "nope"}
# function words of other languages that are not English words ("a", "no", "me" are left out)
_OTHER_BY_LANGUAGE = {
    "es": "el la los las del que y es en un una por para con muy pero su lo al está son "
    "también más como este esta sin nos mucho demasiado",
    "de": "der die das und ist nicht sehr mit für auch sind wir ein eine den dem zu war "
    "ich sie es auf aber noch",
    "fr": "le les et est pas une des du très pour avec nous vous mais sont dans sur qui ce "
    "cette vraiment",
    "pt": "de e não muito para uma os das dos está são é também mais",
    "it": "il di che è della ma sono molto troppo questo",
    "nl": "het een niet zijn erg maar ook wij voor met van dat",
}
_OTHER = frozenset(w for words in _OTHER_BY_LANGUAGE.values() for w in words.split())
_ENGLISH = frozenset(ENGLISH_STOP_WORDS) - _OTHER  # scikit-learn's list holds "de", "con", "un"
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_URL = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
_PHONE = re.compile(r"\+?\(?\d[\d\s().-]{5,}\d")


def _phone(match: re.Match) -> str:
    text = match.group(0)
    digits = sum(c.isdigit() for c in text)
    return "[phone]" if digits >= 9 or (text.startswith("+") and digits >= 7) else text


def scrub(text: str, *, tags: bool = True) -> str:
    """``text`` without e-mail addresses, URLs and phone numbers.

    Each is replaced by a tag (``[e-mail]``, ``[link]``, ``[phone]``), or by nothing when
    ``tags`` is false (text for the model, where a tag would become a word).
    """
    text = _EMAIL.sub("[e-mail]" if tags else " ", text)
    text = _URL.sub("[link]" if tags else " ", text)
    return _PHONE.sub(
        _phone if tags else (lambda m: " " if _phone(m) != m.group(0) else m.group(0)), text
    )


def shorten(text: str, limit: int = 240) -> str:
    """One line of at most ``limit`` characters, cut at a word with an ellipsis."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1].rsplit(" ", 1)[0]
    return cut + "…"


def _one(text: str) -> str:
    words = _WORD.findall(text[:MAX_CHARS].lower())
    if not words or " ".join(words) in _PLACEHOLDERS:
        return "empty"
    letters = "".join(words)
    if sum(c.isascii() for c in letters) < 0.7 * len(letters):
        return "non_english"
    other = sum(w in _OTHER for w in words)
    english = sum(w in _ENGLISH for w in words)
    return "non_english" if other > english else "english"


def classify(texts: pd.Series | list[str]) -> np.ndarray:
    """``english``, ``non_english`` or ``empty`` for each comment (None counts as empty)."""
    return np.array([_one(t) if isinstance(t, str) else "empty" for t in texts], dtype=object)
