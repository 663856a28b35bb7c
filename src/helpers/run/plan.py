"""Planning a run: validate every team, decide what runs, what is up to date, and in what order.

No kernel starts here: a team whose params or source are wrong fails at once with
one line; the others are planned as usual.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..data import connect, describe, resolve_as_of
from ..errors import WorkbookError, did_you_mean
from ..params import NOTEBOOKS, SEGMENTATION, load_team, notebook_parameters
from ..paths import TeamFolder
from ..results import assignments_path
from .records import OK, TeamRun, changed, file_hash, helpers_hash, key, key_parts, notebook_path

__all__ = ["plan"]


def plan(
    teams: Iterable[str],
    *,
    notebooks: list[str] | None = None,
    as_of: dt.date | None = None,
    force: bool = False,
    retry_failed: bool = False,
) -> list[TeamRun]:
    """Validate every team and decide what to run; no kernel is started here.

    Teams sharing a source share one connection, one contract check and one fingerprint.
    """
    from ..data.contract import check

    helpers = helpers_hash()
    out = []
    open_sources: dict[str, Any] = {}
    facts: dict[str, tuple[list, dict]] = {}
    try:
        for team in teams:
            out.append(
                _plan_team(
                    team, notebooks, as_of, force, retry_failed, helpers, open_sources, facts, check
                )
            )
    finally:
        for wh in open_sources.values():
            wh.close()
    return out


def _preflight(tp, wh, notebooks: list[str], violations: list, warnings: list) -> None:
    """Checks against the source that must pass before a kernel starts (warnings appended)."""
    from ..data.contract import tables_needed

    needed = tables_needed(notebooks)  # a missing NPS table does not stop feature demand
    errors = [v for v in violations if v.severity == "error" and v.table in needed]
    if errors:
        first = errors[0]
        more = f" and {len(errors) - 1} more" if len(errors) > 1 else ""
        raise WorkbookError(
            f"{describe(tp.source)} breaks the data contract: {str(first).split(None, 1)[1]}"
            f"{more} (see `workbook check-data --team {tp.team}`)"
        )
    if "feature_demand" in notebooks:
        _check_features(tp, wh)
    if "metric_trends" in notebooks:
        from ..metric_trends.registry import (
            check_metric,
            check_metric_feature,
            check_metric_source,
        )

        section = tp.metric_trends
        keys = ["metric"] + [f"metrics[{i}]" for i in range(len(section.metrics))]
        for key, name in zip(keys, [section.metric, *section.metrics], strict=True):
            try:
                spec = check_metric(wh, name, tp.product_area)
                lead = key == "metric"
                feature = section.feature if lead or "feature" in spec.needs else None
                if "feature" in spec.needs or (lead and feature):
                    check_metric_feature(wh, feature, tp.product_area, spec)
                warnings.extend(check_metric_source(wh, spec, feature))
            except WorkbookError as exc:
                raise WorkbookError(
                    f"params/{tp.team}.yaml, key `metric_trends.{key}`: {exc}"
                ) from None


def _check_features(tp, wh) -> None:
    features = tp.feature_demand.features
    where = f"params/{tp.team}.yaml: key `feature_demand.features`"
    if len(features) < 2:
        raise WorkbookError(f"{where} needs at least two features to compare, got {len(features)}")
    cat = wh.table("features")
    known = cat.filter(cat.product_area == tp.product_area).feature.to_pyarrow().to_pylist()
    if not known:
        areas = sorted(set(cat.product_area.to_pyarrow().to_pylist()))
        raise WorkbookError(
            f"params/{tp.team}.yaml: key `product_area`: {tp.product_area!r} has no features "
            f"in the source's catalogue{did_you_mean(tp.product_area, areas)}; product areas: "
            + ", ".join(areas)
        )
    for f in features:
        if f not in known:
            raise WorkbookError(
                f"{where}: unknown feature {f!r} in product area {tp.product_area}"
                + (did_you_mean(f, known) or f"; known: {', '.join(sorted(known)[:12])}")
            )


def _check_twin(ipynb: Path) -> None:
    """Refuse a notebook whose jupytext twin (``<name>.py``) says something else.

    The ``.ipynb`` is what runs; an edit made only to the ``.py`` would otherwise be
    ignored while the run calls itself up to date. Each pair of files is compared once
    per process while neither changes (every team runs the same notebooks).
    """
    twin = ipynb.with_suffix(".py")
    if not twin.exists():
        return
    a, b = ipynb.stat(), twin.stat()
    _compare_twins(ipynb, a.st_mtime_ns, a.st_size, b.st_mtime_ns, b.st_size)


@functools.lru_cache(maxsize=64)
def _compare_twins(ipynb: Path, *stamps: int) -> None:
    del stamps  # part of the cache key only: an edited file is compared again
    twin = ipynb.with_suffix(".py")
    import jupytext
    import nbformat

    ran = [c.source for c in nbformat.read(ipynb, as_version=4).cells]
    edited = [c.source for c in jupytext.read(twin).cells]
    if ran != edited:
        newer, older = (
            (twin, ipynb) if twin.stat().st_mtime >= ipynb.stat().st_mtime else (ipynb, twin)
        )
        raise WorkbookError(
            f"{ipynb.name} and {twin.name} differ ({newer.name} is newer): run "
            f"`jupytext --sync {newer}` so {older.name} follows it, then run again"
        )


def _plan_team(
    team, notebooks, as_of, force, retry_failed, helpers, open_sources, facts, check
) -> TeamRun:
    try:
        tp = load_team(team)
    except WorkbookError as exc:
        return TeamRun(team, None, error=str(exc))
    tr = TeamRun(team, tp, helpers=helpers)
    try:
        selected = [n for n in NOTEBOOKS if n in tp.notebooks and (not notebooks or n in notebooks)]
        if not selected:
            raise WorkbookError(f"team {team}: none of {notebooks} is in its `notebooks`")
        for n in selected:
            if not notebook_path(n).exists():
                raise WorkbookError(f"notebook {notebook_path(n)} does not exist")
            _check_twin(notebook_path(n))
        if tp.source not in open_sources:
            open_sources[tp.source] = connect(tp.source)
        wh = open_sources[tp.source]
        if tp.source not in facts:
            facts[tp.source] = (check(wh), wh.fingerprint())
        tr.quality, tr.fingerprint = facts[tp.source]
        tr.as_of = as_of or tp.as_of or resolve_as_of(wh, None)
        _preflight(tp, wh, selected, tr.quality, tr.warnings)
        folder = TeamFolder(team)
        previous = folder.dated(tr.as_of)
        prev_manifest = previous.read_manifest() if previous else None
        prev = {e["notebook"]: e for e in (prev_manifest or {}).get("notebooks", [])}
        # segmentation runs first in this run when another notebook reads its segments
        segmenting = SEGMENTATION in selected
        for n in selected:
            if n != SEGMENTATION and segmenting and tp.uses_segments(n):
                tr.after[n] = [SEGMENTATION]
        for n in selected:  # segmentation first: its decision decides the dependents'
            params = notebook_parameters(tp, n, as_of=tr.as_of, run_dir="")
            tr.parameters[n] = params
            inputs = {}
            if n == "metric_trends":  # the project's own metric definitions
                from ..metric_trends.registry import project_registry_file

                inputs["metrics_yaml"] = file_hash(project_registry_file())
            if tp.uses_segments(n):
                source = previous if segmenting and SEGMENTATION in tr.reuse else folder.latest()
                inputs["assignments"] = file_hash(assignments_path(source) if source else None)
            tr.inputs[n] = inputs
            tr.keys[n] = key(n, params, tr.fingerprint, helpers, inputs)
            tr.parts[n] = key_parts(n, params, tr.fingerprint, helpers, inputs)
            old = prev.get(n)
            ok_before = bool(old) and old.get("status") in OK
            upstream_runs = any(d in tr.todo for d in tr.after.get(n, []))
            if not old:
                why = [f"no run yet for {tr.as_of}"]
            elif not ok_before:
                why = [f"it {old.get('status', 'did not finish')} last time"]
            elif force:
                why = ["--force"]
            else:
                why = (
                    changed(old.get("key_parts"), tr.parts[n])
                    if old.get("key") != tr.keys[n]
                    else []
                )
            if upstream_runs:
                why.append("segmentation runs first")
            tr.reasons[n] = why
            if (
                retry_failed
                and ok_before
                and not upstream_runs
                or (
                    not retry_failed
                    and not force
                    and ok_before
                    and old.get("key") == tr.keys[n]
                    and not upstream_runs
                )
            ):
                tr.reuse[n] = previous
            else:
                tr.todo.append(n)
    except WorkbookError as exc:
        tr.error = str(exc)
    return tr
