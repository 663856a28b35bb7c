"""The ``workbook`` command: parses arguments and calls the helpers; nothing else."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from pathlib import Path

from . import __version__, paths
from .errors import LockedError, WorkbookError, did_you_mean
from .secrets import looks_like_connection, scrub

__all__ = ["EXIT", "main"]

#: Exit codes of ``workbook run`` (documented in the README and docs/scheduling.md). When
#: several apply, the first in this order wins: invalid, failed, locked, nothing to do.
EXIT = {
    "ok": 0,  # every selected notebook ran and succeeded (some may have been up to date)
    "failed": 1,  # a notebook failed, timed out or its kernel died; or outputs not writable
    "usage": 2,  # the command line itself is wrong (argparse)
    "invalid": 3,  # a team's params, source or data refused before any kernel started
    "locked": 4,  # another process runs the same team and date (see --wait)
    "nothing": 5,  # nothing to do: every selected notebook is up to date
}


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a date YYYY-MM-DD, not {text!r}") from None


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, not {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="workbook",
        description="Product Ops Workbook: run every product team's analysis notebooks.",
    )
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    d = sub.add_parser("demo-data", help="build the seeded demo warehouse (DuckDB)")
    d.add_argument(
        "--accounts",
        type=_positive,
        default=None,
        help="number of accounts (default: scales with --events, at least 1500)",
    )
    d.add_argument("--events", type=_positive, default=5_000_000, help="about this many events")
    d.add_argument("--areas", type=_positive, default=4, help="product areas (teams), 1 to 12")
    d.add_argument("--seed", type=int, default=7, help="random seed (same seed, same data)")
    d.add_argument(
        "--out",
        type=Path,
        default=None,
        help="DuckDB file to write (default data/demo.duckdb); the truth goes beside it",
    )

    c = sub.add_parser("check-data", help="check a source against the data contract")
    g = c.add_mutually_exclusive_group()
    g.add_argument("--team", help="check this team's source")
    g.add_argument("--source", help="a DuckDB file, a folder of Parquet/CSV, or env:VARIABLE")

    sub.add_parser("teams", help="list the teams (one params file each)")

    r = sub.add_parser("run", help="run teams' notebooks with papermill")
    r.add_argument("--team", action="append", default=[], metavar="T", help="a team (repeatable)")
    r.add_argument("--all", action="store_true", help="every team in params/")
    r.add_argument(
        "--notebook",
        action="append",
        default=[],
        metavar="N",
        help="only this notebook (repeatable)",
    )
    r.add_argument("--as-of", type=_date, default=None, help="analysis date (YYYY-MM-DD)")
    r.add_argument(
        "--jobs",
        type=_positive,
        default=None,
        help="notebooks run at once (default: number of cores)",
    )
    r.add_argument("--force", action="store_true", help="rerun notebooks that are up to date")
    r.add_argument(
        "--retry-failed", action="store_true", help="rerun only what failed in the last attempt"
    )
    r.add_argument(
        "--wait",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="wait this long for another run of the same team and date to end (default: 0)",
    )

    pl = sub.add_parser("plan", help="what `workbook run` would run, and why; starts nothing")
    pl.add_argument("--team", action="append", default=[], metavar="T", help="a team (repeatable)")
    pl.add_argument("--all", action="store_true", help="every team in params/ (the default)")
    pl.add_argument("--notebook", action="append", default=[], metavar="N")
    pl.add_argument("--as-of", type=_date, default=None, help="analysis date (YYYY-MM-DD)")
    pl.add_argument("--force", action="store_true")
    pl.add_argument("--retry-failed", action="store_true")

    v = sub.add_parser(
        "validate", help="check every team's params, source and metrics without a kernel (CI)"
    )
    v.add_argument("--team", action="append", default=[], metavar="T", help="a team (repeatable)")

    h = sub.add_parser("history", help="list past runs")
    h.add_argument("--team", default=None, help="only this team (a folder under outputs/)")

    pr = sub.add_parser(
        "prune", help="remove old runs (never `latest`; a team being run is left alone)"
    )
    pr.add_argument("--keep", type=_positive, required=True, help="runs to keep per team")
    pr.add_argument("--team", default=None, help="only this team (a folder under outputs/)")
    pr.add_argument(
        "--dry-run", action="store_true", help="list what would be removed; remove nothing"
    )

    pa = sub.add_parser("params", help="print a notebook's parameters as YAML for `papermill -f`")
    pa.add_argument("team")
    pa.add_argument("notebook")

    s = sub.add_parser("serve", help="serve the PM pages: the team list at http://127.0.0.1:8866/")
    s.add_argument("--host", default="127.0.0.1", help="address to bind (default loopback)")
    s.add_argument("--port", type=_positive, default=8866)
    s.add_argument(
        "--token-file",
        default=None,
        help="file (mode 0600) holding the visitors' token; created with a new token if "
        "absent. Or set WORKBOOK_DASHBOARD_TOKEN. Required when --host is not loopback",
    )
    s.add_argument(
        "--server-name",
        action="append",
        default=[],
        help="a host name visitors use, e.g. a reverse proxy's (repeatable); other names "
        "are refused",
    )
    s.add_argument(
        "--max-kernels",
        type=_positive,
        default=4,
        help="live (widget) pages open at once; above it they answer 'busy'",
    )
    s.add_argument("--currency", default="$", help="the sign of money columns (default $)")
    s.add_argument(
        "--stale-days",
        type=_positive,
        default=8,
        help="mark a team stale when its results are older than this many days (default 8)",
    )

    dg = sub.add_parser(
        "digest",
        help="the cross-team digest of the latest runs, as Markdown and HTML (for mail or chat)",
    )
    dg.add_argument("--team", action="append", default=None, help="only this team (repeatable)")
    dg.add_argument(
        "--out",
        default=None,
        help="folder to write digest.md and digest.html into (default outputs/_digest/<date>/)",
    )
    dg.add_argument(
        "--stale-days",
        type=_positive,
        default=None,
        help="a run older than this many days (or on data this much older) is stale (default 8)",
    )
    dg.add_argument(
        "--base-url",
        default="http://127.0.0.1:8866/",
        help="the address of the PM pages, for the digest's links",
    )
    dg.add_argument(
        "--pdf",
        action="store_true",
        help="also print each team's export to PDF (needs Chromium)",
    )

    sc = sub.add_parser(
        "schedule",
        help="print an Airflow DAG file or Kubernetes CronJobs: one job per team",
    )
    sc.add_argument("target", choices=["airflow", "kubernetes"], help="the orchestrator")
    sc.add_argument("--team", action="append", help="team (repeatable); default: every team")
    sc.add_argument("--at", default="15 6 * * *", help="cron schedule, UTC (default 15 6 * * *)")
    sc.add_argument("--root", default=None, help="airflow: the checkout on the workers")
    sc.add_argument("--image", default="workbook:latest", help="kubernetes: the image")
    sc.add_argument(
        "--claim", default="workbook-outputs", help="kubernetes: the ReadWriteMany volume claim"
    )
    sc.add_argument("--secret", default=None, help="kubernetes: Secret with WAREHOUSE_URL etc.")

    m = sub.add_parser("metrics", help="list the metrics (built-in and params/metrics.yaml)")
    m.add_argument("-v", "--verbose", action="store_true", help="labels, units and definitions")
    m.add_argument("--team", default=None, help="add the series of this team's own metrics table")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return _COMMANDS[args.command](args)
    except WorkbookError as exc:
        print(f"error: {scrub(exc)}", file=sys.stderr)
        if args.command in ("run", "plan", "validate"):
            return EXIT["locked"] if isinstance(exc, LockedError) else EXIT["invalid"]
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def _demo(args) -> int:
    from .data.demo import DemoSpec, generate

    out = args.out or paths.default_warehouse()
    spec = DemoSpec(accounts=args.accounts, events=args.events, areas=args.areas, seed=args.seed)
    t0 = time.perf_counter()
    summary = generate(spec, out)
    took = time.perf_counter() - t0
    rows = ", ".join(f"{k} {v:,}" for k, v in summary["rows"].items())
    print(f"wrote {out} in {took:.1f} s: {rows}")
    print(f"planted truth (for tests, not for analysts): {summary['truth']}")
    return 0


def _check(args) -> int:
    from .data import connect, describe
    from .data.contract import check, format_violations
    from .params import load_team

    source = load_team(args.team).source if args.team else (args.source or None)
    if (
        args.source
        and not args.source.startswith("env:")
        and not looks_like_connection(args.source)  # refused by connect, never made a path
        and not Path(args.source).is_absolute()
    ):
        source = str(Path.cwd() / args.source)  # a path typed here is relative to where you are
    with connect(source) as wh:
        violations = check(wh)
        name = describe(wh.source)
    if args.team:  # the team's own checks too: features, metric, the tables its notebooks read
        from .run import plan

        [planned] = plan([args.team], force=True)
        if planned.error:
            if violations:
                print(format_violations(violations))
            raise WorkbookError(planned.error)
    if not violations:
        print(f"{name}: every contract check passes")
        return 0
    print(format_violations(violations))
    errors = sum(v.severity == "error" for v in violations)
    print(f"{name}: {errors} error(s), {len(violations) - errors} warning(s)")
    return 1 if errors else 0


def _teams(args) -> int:
    from .data import describe
    from .params import known_teams
    from .run import latest_run, plan

    teams = known_teams()
    if not teams:
        print(f"no teams: add params/<team>.yaml files under {paths.params_dir()}")
        return 1
    bad = 0
    for tr in plan(teams, force=True):  # params, source, features and metric: no kernel
        t, tp = tr.team, tr.params
        if tr.error:
            print(f"{t:16} INVALID  {scrub(tr.error)}")
            bad += 1
            continue
        latest = latest_run(t)
        print(
            f"{t:16} {tp.title:24} area={tp.product_area:16} source={describe(tp.source)}"
            f"  latest={latest.name if latest else '-'}"
        )
    return 1 if bad else 0


def _run(args) -> int:
    from .params import known_teams
    from .run import run

    if args.all and args.team:
        raise WorkbookError("use either --team or --all, not both")
    teams = known_teams() if args.all else args.team
    if not teams:
        raise WorkbookError("name a team with --team T (repeatable) or use --all")
    progress = _Progress(sys.stdout.isatty())
    with progress:
        results = run(
            teams,
            notebooks=args.notebook or None,
            as_of=args.as_of,
            jobs=args.jobs,
            force=args.force,
            retry_failed=args.retry_failed,
            on_event=progress.event,
            wait_s=args.wait,
        )
    # a team stopped before any kernel (invalid params, lock) is reported in exactly one line:
    # the progress log's line, or on a terminal (whose live view is transient) this one
    if progress.tty:
        for r in results:
            if r.notebook == "-":
                print(f"{r.team}: failed: {scrub(r.error)}")
    ran = [r for r in results if r.notebook != "-"]
    if ran:
        _print_summary(ran)
    return exit_code(results)


def exit_code(results) -> int:
    """The documented exit code of a run's results (see :data:`EXIT`)."""
    refused = [r for r in results if r.notebook == "-"]
    if any(r.kind == "invalid" for r in refused):
        return EXIT["invalid"]
    if any(r.status == "failed" and r.kind != "locked" for r in results):
        return EXIT["failed"]
    if any(r.kind == "locked" for r in refused):
        return EXIT["locked"]
    if results and all(r.status == "up to date" for r in results):
        return EXIT["nothing"]
    return EXIT["ok"]


class _Progress:
    """Live progress on a terminal; timestamped log lines otherwise (cron, CI)."""

    def __init__(self, tty: bool):
        self.tty = tty
        self.state: dict[tuple[str, str], str] = {}
        self.started: dict[tuple[str, str], float] = {}
        self.live = None

    def __enter__(self):
        if self.tty:
            from rich.live import Live

            self.live = Live(self._table(), refresh_per_second=4, transient=True)
            self.live.__enter__()
        return self

    def __exit__(self, *exc):
        if self.live:
            self.live.__exit__(*exc)

    def _table(self):
        from rich.table import Table

        t = Table("team", "notebook", "status", "cell", "elapsed", box=None)
        for (team, nb), status in self.state.items():
            cell = status.split("|", 1)[1] if "|" in status else ""
            shown = status.split("|", 1)[0]
            el = time.monotonic() - self.started.get((team, nb), time.monotonic())
            t.add_row(team, nb, shown, cell, f"{el:.0f}s" if shown == "running" else "")
        return t

    def _log(self, *parts: str) -> None:
        stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        print(stamp, *(scrub(p) for p in parts), flush=True)

    def event(self, kind: str, team: str, notebook: str, *rest) -> None:
        key = (team, notebook)
        if kind == "queued":
            self.state[key] = "queued"
        elif kind == "cell":
            index, total, source = rest
            if not self.state.get(key, "").startswith("running"):
                self.started[key] = time.monotonic()
                if not self.tty:
                    self._log(team, notebook, "started")
            self.state[key] = f"running|{index + 1}/{total} {source}"
        elif kind == "done":
            status = rest[0]
            self.state[key] = status
            if not self.tty:
                error = rest[1] if len(rest) > 1 and rest[1] else ""
                self._log(team, notebook, status, error)
        elif kind == "error":
            self.state[key] = "failed"
            if not self.tty:
                self._log(team, "-", "failed", rest[0])
        if self.live:
            self.live.update(self._table())


def _print_summary(results) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table("team", "notebook", "status", "duration", "output / error", title="run summary")
    for r in results:
        detail = scrub(r.error) if r.error else (r.output or "")
        style = {"failed": "red", "succeeded": "green"}.get(r.status, "")
        table.add_row(
            r.team,
            r.notebook,
            f"[{style}]{r.status}[/]" if style else r.status,
            f"{r.duration_s:.1f}s" if r.duration_s else "",
            detail,
        )
    Console(width=160 if not sys.stdout.isatty() else None).print(table)


def _history(args) -> int:
    from .run import history

    rows = history(args.team)
    if not rows:
        print("no runs yet")
        return 0
    for r in rows:
        mark = "*" if r["latest"] else " "
        dur = f"{r['duration_s']:.1f}s" if r["duration_s"] is not None else "-"
        print(
            f"{mark} {r['team']:16} {r['run_id']:26} as_of={r['as_of'] or '-':10} "
            f"{r['status']:12} {dur:>8} {r['notebooks']}"
        )
    print("* = latest (last fully successful run)")
    return 0


def _prune(args) -> int:
    from .run import prune

    removed = prune(args.keep, args.team, dry_run=args.dry_run)
    verb = "would remove" if args.dry_run else "removed"
    for p in removed:
        print(f"{verb} {p}")
    print(f"{len(removed)} run(s) {'would be ' if args.dry_run else ''}removed")
    return 0


def _params(args) -> int:
    import yaml

    from .params import load_team, notebook_parameters

    tp = load_team(args.team)
    params = notebook_parameters(tp, args.notebook, as_of=tp.as_of or dt.date.today(), run_dir="")
    if tp.as_of is None:
        params["as_of"] = None  # the notebook takes the latest event's day
    print(yaml.safe_dump(params, sort_keys=False), end="")
    return 0


def _serve(args) -> int:
    from pathlib import Path

    from .dashboards import new_token_file, serve

    if args.token_file and not Path(args.token_file).expanduser().exists():
        new_token_file(args.token_file)
        print(f"A new token was written to {args.token_file} (mode 0600).")
    return (
        serve(
            host=args.host,
            port=args.port,
            token_file=args.token_file,
            server_names=args.server_name,
            max_kernels=args.max_kernels,
            currency=args.currency,
            stale_days=args.stale_days,
        )
        or 0
    )


def _digest(args) -> int:
    from urllib.parse import urlsplit

    from .dashboards.digest import STALE_DAYS, build_digest, write_digest
    from .dashboards.export import export_pdf, write_exports
    from .errors import check_choice
    from .params import known_teams

    teams = args.team
    if teams:
        known = known_teams()
        for t in teams:
            check_choice("team", t, known)
    url = urlsplit(args.base_url)
    if url.scheme not in ("http", "https") or not url.netloc:
        raise WorkbookError(
            f"`--base-url` must be an http(s) address such as http://127.0.0.1:8866/, "
            f"not {args.base_url!r}"
        )
    digest = build_digest(
        teams, stale_days=args.stale_days if args.stale_days is not None else STALE_DAYS
    )
    out = Path(args.out) if args.out else None
    md, page = write_digest(digest, out, base_url=args.base_url)
    exports = write_exports([t.team for t in digest.teams], md.parent)
    for html_path in exports if args.pdf else []:
        export_pdf(html_path, html_path.with_suffix(".pdf"))
    print(digest.markdown(args.base_url))
    print(f"wrote {md}, {page} and {len(exports)} team export(s)", file=sys.stderr)
    return 0


def _metrics(args) -> int:
    from .metric_trends.registry import _from_table, known_metrics, project_registry_file, registry

    reg = registry()
    own = set()
    if project_registry_file().is_file():
        from .metric_trends.registry import _read

        st = project_registry_file().stat()
        own = set(_read(project_registry_file(), (st.st_mtime_ns, st.st_size)))
    names = list(reg)
    if args.team:
        from .data import connect
        from .params import load_team

        tp = load_team(args.team)
        with connect(tp.source) as wh:
            names = known_metrics(wh, tp.product_area)
    for name in names:
        spec = reg.get(name) or _from_table(name)
        origin = (
            "params/metrics.yaml"
            if name in own
            else ("built-in" if name in reg else "the source's metrics table")
        )
        if not args.verbose:
            print(name)
            continue
        unit = f" ({spec.unit})" if spec.unit else ""
        print(f"{name:28} {spec.label}{unit} — {spec.kind} from `{spec.table}`; {origin}")
        if spec.description:
            print(f"{'':28} {spec.description}")
    return 0


def _selected(args) -> list[str]:
    from .params import known_teams

    teams = args.team or known_teams()
    if not teams:
        raise WorkbookError(f"no teams: add params/<team>.yaml files under {paths.params_dir()}")
    return teams


def _plan(args) -> int:
    from .run import plan

    planned = plan(
        _selected(args),
        notebooks=args.notebook or None,
        as_of=args.as_of,
        force=args.force,
        retry_failed=args.retry_failed,
    )
    for tr in planned:
        if tr.error:
            print(f"{tr.team}: refused: {scrub(tr.error)}")
            continue
        print(f"{tr.team} (as of {tr.as_of}):")
        for w in tr.warnings:
            print(f"  warning     {scrub(w)}")
        for n in tr.parameters:
            if n in tr.todo:
                why = "; ".join(tr.reasons.get(n) or ["its inputs changed"])
                order = f", after {', '.join(tr.after[n])}" if tr.after.get(n) else ""
                print(f"  run         {n:24} {why}{order}")
            else:
                print(f"  up to date  {n:24} (as in {tr.reuse[n].run_id})")
    if any(tr.error for tr in planned):
        return EXIT["invalid"]
    return EXIT["ok"] if any(tr.todo for tr in planned) else EXIT["nothing"]


def _validate(args) -> int:
    from .run import plan

    bad = 0
    for tr in plan(_selected(args), force=True):
        if tr.error:
            bad += 1
            print(f"{tr.team:16} INVALID  {scrub(tr.error)}")
        else:
            warnings = [v for v in tr.quality if v.severity != "error"]
            note = f"; {len(warnings)} data warning(s)" if warnings else ""
            print(f"{tr.team:16} ok       {', '.join(tr.parameters)}{note}")
            for w in tr.warnings:
                print(f"{'':16} warning  {scrub(w)}")
    return EXIT["invalid"] if bad else EXIT["ok"]


def _schedule(args) -> int:
    from .params import known_teams
    from .run import schedule

    known = known_teams()
    for team in args.team or []:
        if team not in known:
            raise WorkbookError(f"unknown team {team!r}{did_you_mean(team, known)}")
    teams = args.team or known
    if args.target == "airflow":
        root = args.root or str(paths.ROOT)
        print(schedule.airflow_dag(teams, root=root, schedule=args.at), end="")
    else:
        print(
            schedule.kubernetes_cronjobs(
                teams, image=args.image, claim=args.claim, secret=args.secret, schedule=args.at
            ),
            end="",
        )
    return 0


_COMMANDS = {
    "schedule": _schedule,
    "digest": _digest,
    "plan": _plan,
    "validate": _validate,
    "demo-data": _demo,
    "check-data": _check,
    "teams": _teams,
    "run": _run,
    "history": _history,
    "prune": _prune,
    "params": _params,
    "serve": _serve,
    "metrics": _metrics,
}
