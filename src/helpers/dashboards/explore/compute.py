"""The explorer's engine side: the choices it offers, and each view computed by the
``metric_trends`` notebook's own call (``trend_report``) and kept.

The series is aggregated in the warehouse engine through Ibis (each kernel's DuckDB capped
by ``WORKBOOK_DUCKDB_MEMORY``); the statistics, the answer sentences and the figures are
those of the notebook, through the same helpers. A computed view is kept under a key of
(source, data fingerprint, as_of, the view, the team's other ``metric_trends`` params and
the helpers' code): in the kernel's memory, and as a JSON file in a folder only this user
can enter, so every visitor's kernel finds a view another one computed. JSON, never
pickle: a cache file can hold no code.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import io
import json
import logging
import os
import threading
import time
from collections import OrderedDict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ... import paths
from ...errors import VisitorError, WorkbookError
from ...params import TeamParams, load_team
from ...secrets import private_dir, scrub
from ..snapshot import served_teams
from .view import View

__all__ = ["WINDOWS", "Answer", "Explorer"]

log = logging.getLogger("helpers.dashboards.explore")

#: Windows (days of history) the page offers, besides the team's own ``window_days``.
WINDOWS = (90, 180, 365, 540, 730)
_ACCOUNT_COLUMNS = ["plan", "region", "industry"]
_CACHE_VERSION = 1
_MAX_CACHE_FILES = 2000


@dataclass
class Answer:
    """A computed view, as the page shows it (JSON-ready: it is what the cache keeps)."""

    query: str
    title: str
    sentences: list[str]
    notes: list[str]
    chart: str | None  # PNG, base64
    segments_chart: str | None
    segments: list[dict[str, Any]]
    comparison: str | None
    compare_by: str | None
    values: list[dict[str, Any]]  # period, value, status (the notebook's `series` table)
    as_of: str
    data_latest: str | None
    checked_at: str
    seconds: float
    grain: str
    cached: str = ""  # "", "memory" or "disk": where this view was found
    yaml: str = ""
    run_line: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    #: False while the forecast and its backtest are still being computed (shown first
    #: without them); a kept view is always complete
    complete: bool = True


def _png(fig) -> str:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _jsonable(v: Any) -> Any:
    if v is None or isinstance(v, (bool, int, str)):
        return v
    if isinstance(v, float):
        return v if v == v and v not in (float("inf"), float("-inf")) else None
    if hasattr(v, "isoformat"):
        return (
            v.isoformat()[:10] if hasattr(v, "hour") and not (v.hour or v.minute) else v.isoformat()
        )
    if hasattr(v, "item"):
        return _jsonable(v.item())
    return str(v)


def _records(frame) -> list[dict[str, Any]]:
    return [{k: _jsonable(v) for k, v in row.items()} for row in frame.to_dict("records")]


def _code_stamp() -> str:
    """What the cached views depend on in code: the helpers' version and the trends and
    registry files' modification times (an edited helper never serves an old answer)."""
    import helpers

    parts = [getattr(helpers, "__version__", "0")]
    folder = Path(__file__).resolve().parents[2] / "metric_trends"
    for p in sorted(
        [*folder.glob("*.py"), *folder.glob("*.yaml"), paths.params_dir() / "metrics.yaml"]
    ):
        try:
            st = p.stat()
        except OSError:
            continue
        parts.append(f"{p.name}:{st.st_mtime_ns}:{st.st_size}")
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]


class Explorer:
    """The choices the page offers and the views it computes, for one kernel.

    Parameters
    ----------
    teams
        Teams offered (default: every served ``params/<team>.yaml``).
    fingerprint_ttl
        Seconds a source's data fingerprint is trusted before it is read again (a new
        load of the warehouse shows within this time).
    cache_dir
        Folder of the shared view cache: by default ``$WORKBOOK_EXPLORE_CACHE``, else a
        temporary folder only this user can enter; ``False`` for memory only.
    memory_items
        Views kept in this kernel's memory.
    """

    def __init__(
        self,
        teams: list[str] | None = None,
        *,
        fingerprint_ttl: float = 30.0,
        cache_dir: Path | None | bool = None,
        memory_items: int = 64,
    ):
        self._teams = teams
        self.fingerprint_ttl = fingerprint_ttl
        if cache_dir is False:
            self.cache_dir = None
        else:
            env = os.environ.get("WORKBOOK_EXPLORE_CACHE")
            self.cache_dir = (
                Path(cache_dir)
                if cache_dir
                else Path(env)
                if env
                else private_dir("workbook-explore")
            )
        self.memory_items = memory_items
        self._memory: OrderedDict[str, dict] = OrderedDict()
        self._params: dict[str, tuple[tuple, TeamParams]] = {}
        self._warehouses: dict[str, Any] = {}
        self._facts: dict[tuple, Any] = {}
        self._fingerprints: dict[str, tuple[float, str, str | None, str]] = {}
        self._lock = threading.RLock()
        self._stamp = _code_stamp()

    def warm_imports(self) -> None:
        """Import what a view needs (statsmodels, seaborn, the trends helpers) ahead of time."""
        import numpy as np
        import pandas as pd

        from ...display import use_style
        from ...metric_trends import analyse, plots, trend_report  # noqa: F401

        use_style()
        # one tiny analysis and figure load the lazily imported models and fonts
        weeks = pd.date_range("2024-01-01", periods=30, freq="W-MON")
        y = pd.Series(100 + np.sin(np.arange(30)), index=weeks)
        a = analyse(y, "week", run_backtest=False, horizon=2)
        _png(plots.series_figure(a.values, a, title="warm-up"))

    # ----------------------------------------------------------------- teams and params
    def teams(self) -> list[str]:
        """Served teams whose params load (a team with invalid params is not offered)."""
        out = []
        for team in served_teams(self._teams):
            try:
                self.params(team)
            except WorkbookError:
                continue
            out.append(team)
        return out

    def default_team(self) -> str:
        teams = self.teams()
        if not teams:
            raise VisitorError("There is no team to explore: add a params/<team>.yaml.")
        return teams[0]

    def params(self, team: str) -> TeamParams:
        """The team's params after defaults (read again when a params file changes)."""
        folder = paths.params_dir()
        stamp = tuple(
            (p.name, p.stat().st_mtime_ns)
            for p in (folder / "_defaults.yaml", folder / f"{team}.yaml")
            if p.is_file()
        )
        cached = self._params.get(team)
        if cached and cached[0] == stamp:
            return cached[1]
        params = load_team(team)
        self._params[team] = (stamp, params)
        return params

    def title(self, team: str) -> str:
        p = self.params(team)
        return p.title or team

    def defaults(self, team: str) -> dict[str, Any]:
        """The team's scheduled ``metric_trends`` params: where the page starts."""
        return self.params(team).metric_trends.model_dump(mode="json")

    # ----------------------------------------------------------------- the source
    def warehouse(self, team: str):
        """The team's source, opened once per kernel (credentials stay in this process)."""
        from ...data import connect

        source = self.params(team).source
        with self._lock:
            wh = self._warehouses.get(source)
            if wh is None:
                try:
                    wh = connect(source)
                except WorkbookError as exc:
                    raise WorkbookError(scrub(str(exc))) from None
                self._warehouses[source] = wh
        return wh

    def fingerprint(self, team: str) -> tuple[str, str | None, str]:
        """(digest of the source's data fingerprint, latest event, when it was read),
        read again after ``fingerprint_ttl`` seconds."""
        source = self.params(team).source
        now = time.monotonic()
        with self._lock:
            got = self._fingerprints.get(source)
            if got and now - got[0] < self.fingerprint_ttl:
                return got[1], got[2], got[3]
        fp = self.warehouse(team).fingerprint()
        digest = hashlib.sha256(json.dumps(fp, sort_keys=True, default=str).encode()).hexdigest()
        latest = (fp.get("events") or {}).get("latest")
        checked = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
        with self._lock:
            if got is None or got[1] != digest:
                # new data: the offered values are read again
                self._facts = {k: v for k, v in self._facts.items() if k[0] != source}
            self._fingerprints[source] = (now, digest, latest, checked)
        return digest, latest, checked

    def _fact(self, team: str, name: str, compute):
        source = self.params(team).source
        digest = self.fingerprint(team)[0]
        key = (source, digest, self.params(team).product_area, team, name)
        with self._lock:
            if key in self._facts:
                return self._facts[key]
        value = compute()
        with self._lock:
            self._facts[key] = value
        return value

    def as_of(self, team: str) -> dt.date:
        """The team's as_of: its params' ``as_of``, else the last complete day of its data."""
        from ...data import resolve_as_of

        p = self.params(team)
        return self._fact(team, "as_of", lambda: resolve_as_of(self.warehouse(team), p.as_of))

    # ----------------------------------------------------------------- choices
    def metrics(self, team: str) -> dict[str, tuple[str, str]]:
        """Metric name → (label, description): the registry, and the source's `metrics` table."""
        from ...metric_trends.registry import check_metric, known_metrics

        def compute():
            wh = self.warehouse(team)
            area = self.params(team).product_area
            out = {}
            for name in known_metrics(wh, area):
                spec = check_metric(wh, name, area)
                out[name] = (spec.label, spec.description)
            return out

        return self._fact(team, "metrics", compute)

    def needs_feature(self, team: str, metric: str) -> bool:
        from ...metric_trends.registry import registry

        spec = registry().get(metric)
        return bool(spec and "feature" in spec.needs)

    def features(self, team: str) -> list[str]:
        """The team's product area's features (from the `features` table)."""

        def compute():
            wh = self.warehouse(team)
            f = wh.table("features")
            f = f.filter(f.product_area == self.params(team).product_area)
            return sorted(
                str(v) for v in f.select("feature").to_pyarrow().column(0).to_pylist() if v
            )

        return self._fact(team, "features", compute)

    def grains(self) -> list[str]:
        from ...metric_trends.registry import GRAINS

        return list(GRAINS)

    def windows(self, team: str) -> list[int]:
        return sorted({*WINDOWS, int(self.defaults(team)["window_days"])})

    def segment_columns(self, team: str) -> list[str]:
        """plan, region, industry, and ``segment`` when the team has a recorded segmentation."""
        return _ACCOUNT_COLUMNS + (["segment"] if self._segments(team) is not None else [])

    def _segments(self, team: str):
        from ...results import read_assignments

        try:
            return read_assignments(team)
        except WorkbookError:
            return None

    def segment_values(self, team: str, column: str) -> list[str]:
        """The values ``column`` takes in the data (accounts, or the latest segmentation)."""
        if column == "segment":
            seg = self._segments(team)
            return sorted(seg.segment.dropna().astype(str).unique()) if seg is not None else []
        if column not in _ACCOUNT_COLUMNS:
            return []

        def compute():
            acc = self.warehouse(team).table("accounts")
            col = acc.select(column).distinct().to_pyarrow().column(0).to_pylist()
            return sorted(str(v) for v in col if v is not None and str(v) != "")

        return self._fact(team, f"values:{column}", compute)

    # ----------------------------------------------------------------- the answer
    def cache_key(self, view: View) -> str:
        p = self.params(view.team)
        mt = p.metric_trends
        digest = self.fingerprint(view.team)[0]
        parts = [
            _CACHE_VERSION,
            self._stamp,
            p.source,
            p.product_area,
            digest,
            self.as_of(view.team).isoformat(),
            view.key(),
            [mt.horizon, mt.holidays_country, mt.min_coverage],
        ]
        if "segment" in (view.segment_column, view.compare_by):
            seg = self._segments(view.team)
            parts.append(
                hashlib.sha256(seg.to_csv(index=False).encode()).hexdigest()
                if seg is not None
                else None
            )
        return hashlib.sha256(json.dumps(parts, default=str).encode()).hexdigest()

    def answer(self, view: View, early=None) -> Answer:
        """The view computed by the notebook's helpers, or found in a cache.

        ``early``: called with the answer without its forecast (``complete=False``) as
        soon as the rest is known, while the forecast and its backtest are computed; only
        for a view computed now (a kept view comes whole).
        """
        t0 = time.perf_counter()
        key = self.cache_key(view)
        with self._lock:
            hit = self._memory.get(key)
            if hit is not None:
                self._memory.move_to_end(key)
        where = "memory" if hit is not None else ""
        if hit is None:
            hit = self._read_disk(key)
            where = "disk" if hit is not None else ""
        if hit is None:

            def first(partial: dict) -> None:
                out = self._finish(partial, view, "", t0)
                out.complete = False
                early(out)

            hit = self._compute(view, first if early else None)
            self._write_disk(key, hit)
        with self._lock:
            self._memory[key] = hit
            while len(self._memory) > self.memory_items:
                self._memory.popitem(last=False)
        return self._finish(hit, view, where, t0)

    def _finish(self, hit: dict, view: View, where: str, t0: float) -> Answer:
        out = Answer(**{k: v for k, v in hit.items() if k in Answer.__dataclass_fields__})
        out.cached = where
        out.seconds = round(time.perf_counter() - t0, 3)
        out.yaml, out.run_line = self.weekly_report(view)
        return out

    def _compute(self, view: View, early=None) -> dict:
        """One view, by the notebook's own calls (notebooks/metric_trends.py): the
        analysis without its forecast first (given to ``early``), then the forecast and
        its backtest added (:func:`~helpers.metric_trends.add_forecast`), as
        ``trend_report`` would have made them in one call."""
        from ...display import use_style
        from ...metric_trends import add_forecast, plots, trend_report

        use_style()
        p = self.params(view.team)
        mt = p.metric_trends
        wh = self.warehouse(view.team)
        as_of = self.as_of(view.team)
        _, latest, checked = self.fingerprint(view.team)
        t0 = time.perf_counter()
        report = trend_report(
            wh,
            view.metric,
            product_area=p.product_area,
            as_of=as_of,
            grain=view.grain,
            window_days=view.window_days,
            feature=view.feature,
            segment_column=view.segment_column,
            segment_value=view.segment_value,
            compare_by=view.compare_by,
            horizon=mt.horizon,
            holidays_country=mt.holidays_country,
            min_coverage=mt.min_coverage,
            team=view.team,
            forecast=False,
        )
        seg_chart = None  # the breakdown does not depend on the forecast: drawn once
        if not report.segments.empty:
            unit = report.series.spec.unit
            seg_chart = _png(plots.segments_figure(report.by_segment, report.segments, unit=unit))
        common = (view, as_of, latest, checked, t0, seg_chart)
        if early is not None:
            early(self._answer_dict(report, *common))
        add_forecast(report.analysis, mt.horizon)
        return self._answer_dict(report, *common)

    def _answer_dict(self, report, view: View, as_of, latest, checked, t0, seg_chart) -> dict:
        from ...metric_trends import plots

        analysis, series, unit = report.analysis, report.series, report.series.spec.unit
        chart = None
        if report.ok:
            chart = _png(
                plots.series_figure(analysis.values, analysis, title=series.title, unit=unit)
            )
        seg_rows = _records(report.segments) if not report.segments.empty else []
        values = (
            _records(series.frame[["period", "value", "status"]]) if not series.frame.empty else []
        )
        return asdict(
            Answer(
                query=view.query(),
                title=series.title,
                sentences=[str(s) for s in report.summary()],
                notes=[str(s) for s in report.notes()],
                chart=chart,
                segments_chart=seg_chart,
                segments=seg_rows,
                comparison=report.comparison_message,
                compare_by=view.compare_by,
                values=values,
                as_of=as_of.isoformat(),
                data_latest=latest,
                checked_at=checked,
                seconds=round(time.perf_counter() - t0, 3),
                grain=view.grain,
            )
        )

    # ----------------------------------------------------------------- the shared cache
    def _path(self, key: str) -> Path | None:
        return self.cache_dir / f"view-{key}.json" if self.cache_dir else None

    def _read_disk(self, key: str) -> dict | None:
        path = self._path(key)
        if path is None:
            return None
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
        except OSError:
            return None
        try:
            with os.fdopen(fd, encoding="utf-8") as f:
                if os.fstat(f.fileno()).st_uid != os.geteuid():
                    return None
                data = json.load(f)
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) and "sentences" in data else None

    def _write_disk(self, key: str, data: dict) -> None:
        path = self._path(key)
        if path is None:
            return
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(data, f)
            os.replace(tmp, path)
            self._prune()
        except OSError as exc:  # a full disk costs speed, never the answer
            log.warning("The explorer could not keep a view: %s", exc)
            tmp.unlink(missing_ok=True)

    def _prune(self) -> None:
        files = sorted(self.cache_dir.glob("view-*.json"), key=lambda p: p.stat().st_mtime)
        for p in files[: max(0, len(files) - _MAX_CACHE_FILES)]:
            p.unlink(missing_ok=True)

    # ----------------------------------------------------------------- from question to schedule
    def weekly_report(self, view: View) -> tuple[str, str]:
        """The params file that keeps this view as a team's scheduled ``metric_trends``,
        and the command that runs it: (YAML text, ``workbook run`` line).

        The new team has the view's team's area and source (a source is a path or
        ``env:VARIABLE``, never a credential) and runs only ``metric_trends``.
        """
        p = self.params(view.team)
        name = _report_name(view)
        from ...metric_trends.registry import registry

        spec = registry().get(view.metric)
        title = f"{p.title or view.team}: {spec.label if spec else view.metric}"
        if view.segment_value is not None:
            title += f" ({view.segment_column} = {view.segment_value})"
        section: dict[str, Any] = {"metric": view.metric}
        if view.feature is not None:
            section["feature"] = view.feature
        section["grain"] = view.grain
        section["window_days"] = view.window_days
        section["segment_column"] = view.segment_column
        section["segment_value"] = view.segment_value
        section["compare_by"] = view.compare_by
        mt = p.metric_trends
        section |= {
            "horizon": mt.horizon,
            "holidays_country": mt.holidays_country,
            "min_coverage": mt.min_coverage,
        }
        doc = {
            "title": title,
            "product_area": p.product_area,
            "source": p.source,
            "notebooks": ["metric_trends"],
            "metric_trends": section,
        }
        import yaml

        text = f"# params/{name}.yaml: {view.team}'s explorer view as a weekly report\n"
        text += yaml.safe_dump(doc, sort_keys=False, allow_unicode=False)
        line = f"workbook run --team {name} --notebook metric_trends"
        return text, line


def _report_name(view: View) -> str:
    """A team name (``[a-z0-9][a-z0-9_-]{0,63}``) for the view's scheduled report."""
    import re

    parts = [view.team, view.metric]
    if view.segment_value is not None:
        parts.append(view.segment_value)
    name = re.sub(r"[^a-z0-9_-]+", "-", "-".join(parts).lower()).strip("-_")
    return (name or "report")[:64].rstrip("-_")
