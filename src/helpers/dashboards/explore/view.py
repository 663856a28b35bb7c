"""What a visitor may ask the explorer: the query string, checked for shape, then against
the choices the page offers (a whitelist), before anything is computed.

The keys are the ``metric_trends`` notebook's parameter names, so a link reads like the
params a scheduled report would use:
``?team=analytics&metric=active_accounts&grain=week&segment_column=plan&segment_value=enterprise``.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode

from ...errors import VisitorError

__all__ = [
    "EXPLORE_KEYS",
    "MAX_QUERY",
    "MAX_VALUE",
    "NONE",
    "View",
    "check_view",
    "parse_explore_query",
    "shown",
]

#: Query-string keys of the explorer, in the order links write them (the notebook's names).
EXPLORE_KEYS = (
    "team",
    "metric",
    "feature",
    "grain",
    "window_days",
    "segment_column",
    "segment_value",
    "compare_by",
)
_IGNORED_KEYS = ("token",)
MAX_QUERY = 1024
MAX_VALUE = 64
#: How a link says "no comparison" (``compare_by: null`` in params).
NONE = "none"
_SAFE_TO_SHOW = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _.-]{0,39}$")


def shown(value: Any) -> str:
    """A visitor's value as a sentence may repeat it: quoted when it is a short plain name,
    else not at all (code, markup or an overlong value is never echoed)."""
    if isinstance(value, str) and _SAFE_TO_SHOW.match(value):
        return repr(value)
    return "the value given"


def _check_text(key: str, value: str) -> str:
    if len(value) > MAX_VALUE:
        raise VisitorError(f"The value for `{key}` is too long (at most {MAX_VALUE} characters).")
    if not value.isascii() or not value.isprintable():
        raise VisitorError(f"The value for `{key}` must use plain ASCII letters and digits.")
    if value != value.strip() or not value:
        raise VisitorError(f"The value for `{key}` is empty or has spaces around it.")
    return value


def parse_explore_query(query: str | None) -> dict[str, str]:
    """Split the explorer's query string into its known keys, each checked for shape.

    Parameters
    ----------
    query
        The raw query string (Voila's ``QUERY_STRING``), without ``?``.

    Returns
    -------
    dict
        The keys present, each a short printable ASCII text. Whether a value is one the
        page offers is checked by :func:`check_view`.

    Raises
    ------
    VisitorError
        One plain sentence: an overlong or malformed query, an unknown or repeated key,
        an empty, overlong or non-ASCII value.
    """
    query = query or ""
    if len(query) > MAX_QUERY:
        raise VisitorError(f"The address is too long (at most {MAX_QUERY} characters after '?').")
    try:
        pairs = parse_qsl(query, keep_blank_values=True, max_num_fields=16, errors="strict")
    except (ValueError, UnicodeDecodeError):
        raise VisitorError("The address has a malformed query string.") from None
    out: dict[str, str] = {}
    for key, value in pairs:
        if key in _IGNORED_KEYS:
            continue
        if key not in EXPLORE_KEYS:
            name = repr(key) if _SAFE_TO_SHOW.match(key) else "it does not know"
            raise VisitorError(
                f"The address has a key {name}; the explorer knows: {', '.join(EXPLORE_KEYS)}."
            )
        if key in out:
            raise VisitorError(f"The address gives `{key}` more than once.")
        out[key] = _check_text(key, value)
    return out


@dataclass(frozen=True)
class View:
    """One question: the ``metric_trends`` parameters the page computes (None: not set)."""

    team: str
    metric: str
    grain: str
    window_days: int
    feature: str | None = None
    segment_column: str | None = None
    segment_value: str | None = None
    compare_by: str | None = None

    def key(self) -> tuple:
        return tuple(sorted(asdict(self).items()))

    def query(self) -> str:
        """The query string of a link that restores this view (the notebook's names)."""
        q: dict[str, Any] = {"team": self.team, "metric": self.metric}
        if self.feature is not None:
            q["feature"] = self.feature
        q["grain"] = self.grain
        q["window_days"] = self.window_days
        if self.segment_column is not None and self.segment_value is not None:
            q["segment_column"] = self.segment_column
            q["segment_value"] = self.segment_value
        q["compare_by"] = self.compare_by if self.compare_by is not None else NONE
        return urlencode(q)


def _pick(key: str, value: str, options: list[str], what: str) -> str:
    if value not in options:
        listed = ", ".join(options[:12]) + (", …" if len(options) > 12 else "")
        raise VisitorError(
            f"The value for `{key}` is not {what}: {shown(value)}; choose one of: {listed}."
            if options
            else f"The value for `{key}` is not {what}: there is none to choose here."
        )
    return value


def check_view(asked: dict[str, str], choices) -> View:
    """The view ``asked`` for, every value one of the offered ``choices``.

    Parameters
    ----------
    asked
        From :func:`parse_explore_query` or the widgets.
    choices
        The offered values (:class:`helpers.dashboards.explore.compute.Explorer`):
        ``teams()``, ``defaults(team)``, ``metrics(team)``, ``features(team)``,
        ``needs_feature(team, metric)``, ``grains()``, ``windows(team)``,
        ``segment_columns(team)``, ``segment_values(team, column)``.
        Values not given take the team's scheduled ``metric_trends`` params.

    Raises
    ------
    VisitorError
        One plain sentence naming the key, for any value not offered.
    """
    teams = choices.teams()
    team = _pick("team", asked.get("team") or choices.default_team(), teams, "a team here")
    d = choices.defaults(team)
    metrics = choices.metrics(team)
    metric = _pick(
        "metric", asked.get("metric", d["metric"]), list(metrics), "a metric of this team"
    )
    feature = None
    if choices.needs_feature(team, metric):
        features = choices.features(team)
        given = asked.get("feature", d.get("feature") or (features[0] if features else ""))
        feature = _pick("feature", given, features, f"a feature of {team}")
    elif "feature" in asked:
        raise VisitorError(f"The metric {metric!r} takes no `feature`; leave it out.")
    grain = _pick("grain", asked.get("grain", d["grain"]), choices.grains(), "a grain")
    windows = [str(w) for w in choices.windows(team)]
    window = int(_pick("window_days", asked.get("window_days", str(d["window_days"])), windows,
                       "an offered window"))  # fmt: skip
    columns = choices.segment_columns(team)
    column = asked.get("segment_column", d.get("segment_column"))
    value = asked.get("segment_value", d.get("segment_value") if column else None)
    if value is not None and column is None:
        raise VisitorError("The address gives `segment_value` without `segment_column`.")
    if column is not None:
        column = _pick("segment_column", column, columns, "a segment column of this team")
        if value is not None:
            what = f"a value of {column} in the data"
            value = _pick("segment_value", value, choices.segment_values(team, column), what)
        else:
            column = None  # a column without a value filters nothing
    compare = asked.get("compare_by", d.get("compare_by") or NONE)
    compare = _pick("compare_by", compare, [NONE, *columns], "a breakdown of this team")
    return View(
        team=team,
        metric=metric,
        grain=grain,
        window_days=window,
        feature=feature,
        segment_column=column,
        segment_value=value,
        compare_by=None if compare == NONE else compare,
    )
