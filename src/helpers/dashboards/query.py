"""What a visitor may ask for: the query string and picker values, checked before any lookup."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from ..errors import VisitorError, check_choice
from ..params import known_teams

__all__ = [
    "ALL",
    "MAX_QUERY",
    "MAX_VALUE",
    "QUERY_KEYS",
    "check_analysis",
    "check_table",
    "check_team",
    "parse_query",
]

if TYPE_CHECKING:
    from .snapshot import Snapshot


#: Query-string keys a page understands; ``token`` belongs to the server's login.
QUERY_KEYS = ("team", "analysis", "table", "sort", "order", "q")
_IGNORED_KEYS = ("token",)
MAX_QUERY = 512
MAX_VALUE = 64
ALL = "all"

_VALUE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


def _check_text(key: str, value: Any) -> str:
    """A visitor's value: short, ASCII, lower-case name characters (before any lookup)."""
    if not isinstance(value, str):
        raise VisitorError(f"The value for `{key}` must be text")
    if len(value) > MAX_VALUE:
        raise VisitorError(f"The value for `{key}` is too long (at most {MAX_VALUE} characters)")
    if not value.isascii() or not value.isprintable():
        raise VisitorError(f"The value for `{key}` must use plain ASCII letters and digits")
    if not _VALUE.match(value):
        raise VisitorError(
            f"The value for `{key}` must be lower-case letters, digits, '-' or '_', not {value!r}"
        )
    return value


def parse_query(query: str | None) -> dict[str, str]:
    """Split a page's query string into its known keys, each checked for shape.

    Parameters
    ----------
    query
        The raw query string (``QUERY_STRING`` as Voila passes it), without ``?``.

    Returns
    -------
    dict
        ``{"team": ..., "analysis": ..., "table": ...}`` for the keys present. The values
        have the shape of a name; whether they name something real is checked by
        :func:`check_team`, :func:`check_analysis` and :func:`check_table`.

    Raises
    ------
    WorkbookError
        For an overlong query string, an unknown or repeated key, or a value that is
        not a short lower-case ASCII name (so ``../``, ``%2e%2e`` and the like never pass).
    """
    query = query or ""
    if len(query) > MAX_QUERY:
        raise VisitorError(f"The address is too long (at most {MAX_QUERY} characters after '?')")
    try:
        pairs = parse_qsl(query, keep_blank_values=True, max_num_fields=8, errors="strict")
    except (ValueError, UnicodeDecodeError):
        raise VisitorError("The address has a malformed query string") from None
    out: dict[str, str] = {}
    for key, value in pairs:
        if key in _IGNORED_KEYS:
            continue
        if key not in QUERY_KEYS:
            shown = key if key.isascii() and len(key) <= MAX_VALUE else "(unreadable)"
            raise VisitorError(
                f"The address has an unknown key {shown!r}; known keys: {', '.join(QUERY_KEYS)}"
            )
        if key in out:
            raise VisitorError(f"The address gives `{key}` more than once")
        out[key] = _check_filter(value) if key == "q" else _check_text(key, value)
    if "order" in out:
        check_choice("order", out["order"], ["asc", "desc"])
    if not out.get("q", True):
        del out["q"]
    return out


def _check_filter(value: str) -> str:
    """A table filter typed by a visitor: short printable text, matched as text only."""
    if len(value) > MAX_VALUE:
        raise VisitorError(f"The filter is too long (at most {MAX_VALUE} characters)")
    if not value.isprintable():
        raise VisitorError("The filter must be printable text")
    return value.strip()


def check_team(value: Any, teams: Sequence[str] | None = None) -> str:
    """``value`` if it names a known team (``params/<team>.yaml``), else a `WorkbookError`."""
    value = _check_text("team", value)
    return check_choice("team", value, list(teams) if teams is not None else known_teams())


def check_analysis(snapshot: Snapshot, value: Any) -> str:
    """``value`` if it is ``"all"`` or an analysis the snapshot's run recorded."""
    value = _check_text("analysis", value)
    return check_choice("analysis", value, [ALL, *snapshot.analyses])


def check_table(snapshot: Snapshot, analysis: str, value: Any) -> str:
    """``value`` if it is a table that ``analysis`` recorded in the snapshot's run."""
    analysis = check_analysis(snapshot, analysis)
    value = _check_text("table", value)
    options = [] if analysis == ALL else list(snapshot.analyses[analysis].tables)
    return check_choice("table", value, options)
