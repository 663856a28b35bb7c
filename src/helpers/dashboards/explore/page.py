"""The explorer's widgets: pick team, metric, feature, grain, window, one segment filter
and a breakdown; the answer updates in place, and a link restores the view.

Only values the page offers can be chosen: each dropdown sends the *index* of one of its
options, which the kernel maps back to a value and checks again (:func:`check_view`);
widget messages never reach anything that runs code.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from typing import Any

from ...errors import WorkbookError
from ...secrets import scrub
from .compute import Explorer
from .html import STYLE, answer_html, notice_html
from .view import NONE, View, check_view, parse_explore_query

__all__ = ["ExplorerPage"]

log = logging.getLogger("helpers.dashboards.explore")
_ALL = ""  # the segment_column option "all accounts"
_COULD_NOT = "This view could not be computed; try another one, or tell the ops team."


class ExplorerPage:
    """The live page of ``dashboards/explore.ipynb``.

    Parameters
    ----------
    explorer
        The choices and the views (default: a new :class:`Explorer`).
    """

    def __init__(self, explorer: Explorer | None = None):
        _log_to_server()
        self.explorer = explorer or Explorer()
        self.view: View | None = None
        self._quiet = False
        self._built = False

    # ----------------------------------------------------------------- before the visitor
    def preheat(self) -> None:
        """Work done while the kernel waits in the pool, so a visitor's first view pays
        for its own question only: imports (statsmodels' models, seaborn, matplotlib warmed
        by one tiny analysis and figure), every team's source opened and the values the
        widgets offer read. No view is computed here: a refilled pool must not take a
        core from the visitors' questions."""
        import matplotlib

        matplotlib.use("Agg")
        import ipywidgets  # noqa: F401

        ex = self.explorer
        ex.warm_imports()
        for team in ex.teams():
            try:
                ex.metrics(team)
                ex.as_of(team)
                for column in ex.segment_columns(team):
                    ex.segment_values(team, column)
            except Exception as exc:  # a broken source shows on its own views, not here
                log.warning("Preheating %s: %s", team, scrub(str(exc))[:200])

    # ----------------------------------------------------------------- the widgets
    def _build(self) -> None:
        import ipywidgets as w

        def dd(name: str, description: str):
            d = w.Dropdown(description=description, style={"description_width": "8em"})
            d.add_class(f"wb-x-{name.replace('_', '-')}")
            return d

        self.w_team = dd("team", "Team")
        self.w_metric = dd("metric", "Metric")
        self.w_feature = dd("feature", "Feature")
        self.w_grain = dd("grain", "Grain")
        self.w_window = dd("window_days", "History")
        self.w_column = dd("segment_column", "Only accounts")
        self.w_value = dd("segment_value", "with value")
        self.w_compare = dd("compare_by", "Break down by")
        self.w_about = w.HTML(layout=w.Layout(margin="0 0 0 9em"))
        self.w_about.add_class("wb-x-about")
        self.w_share = w.HTML()
        self.w_share.add_class("wb-x-share")
        self.w_status = w.HTML()
        self.w_status.add_class("wb-x-status")
        self.w_out = w.HTML()
        self.w_out.add_class("wb-x-out")
        for d in (
            self.w_team,
            self.w_metric,
            self.w_feature,
            self.w_grain,
            self.w_window,
            self.w_column,
            self.w_value,
            self.w_compare,
        ):
            d.observe(self._changed, names="value")
        self.w_grain.options = [(g, g) for g in self.explorer.grains()]
        left = w.VBox([self.w_team, self.w_metric, self.w_about, self.w_feature, self.w_grain])
        right = w.VBox([self.w_window, self.w_column, self.w_value, self.w_compare])
        self.root = w.VBox(
            [w.HTML(STYLE + "<h1>Explore a metric</h1>"), w.HBox([left, right]), self.w_share,
             self.w_status, self.w_out]
        )  # fmt: skip
        self._built = True

    def _options(self, team: str) -> None:
        """Each dropdown's options for ``team``: only values that exist."""
        ex = self.explorer
        self.w_team.options = [(ex.title(t), t) for t in ex.teams()]
        self.w_metric.options = [(label, name) for name, (label, _) in ex.metrics(team).items()]
        self.w_feature.options = [(f, f) for f in ex.features(team)]
        self.w_window.options = [(f"{d} days", d) for d in ex.windows(team)]
        columns = ex.segment_columns(team)
        self.w_column.options = [("all accounts", _ALL), *[(c, c) for c in columns]]
        self.w_compare.options = [("no breakdown", NONE), *[(c, c) for c in columns]]

    def _value_options(self, team: str, column: str) -> None:
        values = self.explorer.segment_values(team, column) if column else []
        self.w_value.options = [(v, v) for v in values]
        self.w_value.layout.display = None if column else "none"

    def _set(self, view: View) -> None:
        """Show ``view`` in the widgets without triggering a computation."""
        self._quiet = True
        try:
            self._options(view.team)
            self.w_team.value = view.team
            self.w_metric.value = view.metric
            needs = self.explorer.needs_feature(view.team, view.metric)
            self.w_feature.layout.display = None if needs else "none"
            if view.feature is not None:
                self.w_feature.value = view.feature
            self.w_grain.value = view.grain
            self.w_window.value = view.window_days
            self.w_column.value = view.segment_column or _ALL
            self._value_options(view.team, view.segment_column or _ALL)
            if view.segment_value is not None:
                self.w_value.value = view.segment_value
            self.w_compare.value = view.compare_by or NONE
            label, about = self.explorer.metrics(view.team)[view.metric]
            self.w_about.value = f"<span class='wb-meta'>{_esc(about or label)}</span>"
        finally:
            self._quiet = False

    def _asked(self, change_owner: Any) -> dict[str, str]:
        """The widgets' values as a query (a changed team or column resets what follows)."""
        team = self.w_team.value
        if change_owner is self.w_team:
            return {"team": team}
        asked = {"team": team, "metric": self.w_metric.value, "grain": self.w_grain.value,
                 "window_days": str(self.w_window.value), "compare_by": self.w_compare.value}  # fmt: skip
        if self.explorer.needs_feature(team, self.w_metric.value) and self.w_feature.value:
            asked["feature"] = self.w_feature.value
        column = self.w_column.value
        if column:
            asked["segment_column"] = column
            values = self.explorer.segment_values(team, column)
            value = self.w_value.value if change_owner is not self.w_column else None
            value = value if value in values else (values[0] if values else None)
            if value is not None:
                asked["segment_value"] = value
        return asked

    def _changed(self, change: dict) -> None:
        if self._quiet:
            return
        try:
            view = check_view(self._asked(change["owner"]), self.explorer)
        except WorkbookError as exc:
            self._notice(str(exc))
            return
        self._set(view)
        self.render(view)

    # ----------------------------------------------------------------- showing
    def _notice(self, sentence: str) -> None:
        self.w_status.value = notice_html(scrub(sentence))

    def render(self, view: View) -> None:
        """Compute (or find) the view and show it in place; a link restores it."""
        self.view = view
        self.w_status.value = "<p class='wb-meta wb-working'>Working…</p>"
        try:
            answer = self.explorer.answer(view, early=lambda first: self._show(first, view))
        except WorkbookError as exc:
            self.w_out.value = ""
            self._notice(str(exc))
            return
        except Exception as exc:  # never a traceback on the page; the server log has it
            log.error("%s: %s", type(exc).__name__, scrub(str(exc))[:300])
            self.w_out.value = ""
            self._notice(_COULD_NOT)
            return
        self._show(answer, view)

    def _show(self, answer, view: View) -> None:
        """The answer in place (first without its forecast, while that is computed)."""
        self.w_out.value = STYLE + answer_html(answer, view.query())
        self.w_status.value = (
            "" if answer.complete else "<p class='wb-meta wb-working'>Computing the forecast…</p>"
        )
        self.w_share.value = (
            f'<p class="wb-meta">Link to this view: <a class="wb-share" '
            f'href="?{_esc(view.query())}">{_esc(view.query())}</a></p>'
        )

    def show(self, query: str | None) -> Any:
        """Build the page for the visitor's query string and return its root widget.

        An invalid value shows one plain sentence (and the widgets at the first team's
        scheduled view, nothing computed); a valid one restores the view.
        """
        if not self._built:
            self._build()
        asked: dict[str, str] = {}
        try:
            asked = parse_explore_query(query)
            view = check_view(asked, self.explorer)
        except WorkbookError as exc:
            # the widgets start at the asked team's scheduled view if that team is offered
            for start in ({"team": asked["team"]} if "team" in asked else {}, {}):
                with contextlib.suppress(WorkbookError):
                    self._set(check_view(start, self.explorer))
                    break
            self._notice(str(exc))
            return self.root
        self._set(view)
        self.render(view)
        return self.root


def _log_to_server() -> None:
    """Log lines go to the kernel process's own stderr (the server's log), never into the
    page: in a kernel, ``sys.stderr`` is a cell's output, which the visitor would see."""
    import warnings

    warnings.simplefilter("ignore")  # a library's deprecation notice is not for the PM
    root = logging.getLogger("helpers.dashboards.explore")
    if not root.handlers:
        handler = logging.StreamHandler(sys.__stderr__)
        handler.setFormatter(logging.Formatter("[explorer] %(levelname)s %(message)s"))
        root.addHandler(handler)
        root.propagate = False


def _esc(text: str) -> str:
    import html

    return html.escape(str(text))
