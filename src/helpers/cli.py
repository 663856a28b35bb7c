"""The ``workbook`` command: parses arguments and calls the helpers; nothing else."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from pathlib import Path

from . import __version__, paths
from .errors import WorkbookError
from .secrets import scrub

__all__ = ["main"]


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

    h = sub.add_parser("history", help="list past runs")
    h.add_argument("--team", default=None, help="only this team (a folder under outputs/)")

    pr = sub.add_parser(
        "prune", help="remove old runs (never `latest`; a team being run is left alone)"
    )
    pr.add_argument("--keep", type=_positive, required=True, help="runs to keep per team")
    pr.add_argument("--team", default=None, help="only this team (a folder under outputs/)")

    pa = sub.add_parser("params", help="print a notebook's parameters as YAML for `papermill -f`")
    pa.add_argument("team")
    pa.add_argument("notebook")

    s = sub.add_parser("serve", help="serve the PM dashboards on Voila")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=_positive, default=8866)
    s.add_argument("--token", default=None, help="required when --host is not a loopback address")

    sub.add_parser("metrics", help="list the metric registry")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return _COMMANDS[args.command](args)
    except WorkbookError as exc:
        print(f"error: {scrub(exc)}", file=sys.stderr)
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
    with connect(source) as wh:
        violations = check(wh)
        name = describe(wh.source)
    if not violations:
        print(f"{name}: every contract check passes")
        return 0
    print(format_violations(violations))
    errors = sum(v.severity == "error" for v in violations)
    print(f"{name}: {errors} error(s), {len(violations) - errors} warning(s)")
    return 1 if errors else 0


def _teams(args) -> int:
    from .data import describe
    from .params import known_teams, load_team
    from .run import latest_run

    teams = known_teams()
    if not teams:
        print(f"no teams: add params/<team>.yaml files under {paths.params_dir()}")
        return 1
    bad = 0
    for t in teams:
        try:
            tp = load_team(t)
        except WorkbookError as exc:
            print(f"{t:16} INVALID  {scrub(exc)}")
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
    return 0 if all(r.status in ("succeeded", "up to date") for r in results) else 1


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

    removed = prune(args.keep, args.team)
    for p in removed:
        print(f"removed {p}")
    print(f"{len(removed)} run(s) removed")
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
    from .dashboards import serve

    return serve(host=args.host, port=args.port, token=args.token) or 0


def _metrics(args) -> int:
    from .metric_trends import known_metrics

    for name in known_metrics():
        print(name)
    return 0


_COMMANDS = {
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
