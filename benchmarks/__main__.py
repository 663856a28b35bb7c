"""`make bench`: measure speed and memory against the naive way; write results.md and .json.

python -m benchmarks            # full: 1M, 10M, 100M events (about an hour, ~10 GB disk)
python -m benchmarks --smoke    # tiny sizes, to check the benchmark code runs (no figures)
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import traceback
from pathlib import Path

from .harness import machine
from .report import write_report
from .suites import (
    bench_aggregations,
    bench_feedback,
    bench_fleet,
    bench_generation,
    bench_naive,
    bench_team_run,
    make_root,
    make_warehouse,
)

HERE = Path(__file__).parent


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks")
    p.add_argument("--smoke", action="store_true", help="tiny sizes, no figures kept")
    p.add_argument("--sizes", default=None, help="comma-separated event counts")
    p.add_argument(
        "--only",
        default=None,
        help=(
            "comma-separated: generation,aggregations,team_run,naive,cpu_budget,fleet,"
            "feedback,dashboard,explore"
        ),
    )
    p.add_argument("--work", type=Path, default=HERE / "_work")
    p.add_argument("--out", type=Path, default=None, help="folder for results.md/json")
    p.add_argument(
        "--merge",
        action="store_true",
        help="keep the figures already in results.json that this run does not measure",
    )
    args = p.parse_args(argv)

    smoke = args.smoke
    sizes = (
        [int(s) for s in args.sizes.split(",")]
        if args.sizes
        else [20_000]
        if smoke
        else [1_000_000, 10_000_000, 100_000_000]
    )
    only = (
        set(args.only.split(","))
        if args.only
        else {
            "generation",
            "aggregations",
            "team_run",
            "naive",
            "cpu_budget",
            "fleet",
            "feedback",
            "dashboard",
            "explore",
        }
    )
    repeats = 1 if smoke else 3
    work = args.work
    work.mkdir(parents=True, exist_ok=True)
    out_dir = args.out or (work if smoke else HERE)
    previous = out_dir / "results.json"
    results: dict = json.loads(previous.read_text()) if args.merge and previous.exists() else {}
    results.update({"machine": machine(), "smoke": smoke})
    results["sizes"] = sorted(set(results.get("sizes", [])) | set(sizes))
    results.setdefault("started", time.strftime("%FT%TZ"))

    def step(name, fn):
        if name.split(":")[0] not in only:
            return
        print(f"[bench] {name} ...", flush=True)
        t0 = time.perf_counter()
        try:
            results.setdefault(name.split(":")[0], {})
            value = fn()
        except Exception as exc:  # a failed benchmark is reported, the others still run
            value = {"error": f"{type(exc).__name__}: {exc}"[:2000]}
            traceback.print_exc()
        key = name.split(":", 1)[1] if ":" in name else "result"
        results[name.split(":")[0]][key] = value
        print(
            f"[bench] {name}: {json.dumps(value)[:300]} ({time.perf_counter() - t0:.0f}s)",
            flush=True,
        )

    step(
        "generation:10M" if not smoke else "generation:smoke",
        lambda: bench_generation(work, 20_000 if smoke else 10_000_000, repeats),
    )
    # the per-size warehouses only when a per-size benchmark is asked for
    for n in sizes if only & {"aggregations", "team_run", "naive"} else []:
        wh = make_warehouse(work, n)
        root = make_root(work, wh, f"team_{n}")
        step(
            f"aggregations:{n}",
            lambda wh=wh: bench_aggregations(wh, "analytics", 2 if smoke else 5),
        )
        step(f"team_run:{n}", lambda root=root: bench_team_run(root, "analytics", repeats))
        step(
            f"naive:{n}", lambda wh=wh: bench_naive(wh, "analytics", limit_gib=8.0, repeats=repeats)
        )

    def budget():
        from .cpu_budget import cpu_budget

        events = 20_000 if smoke else 2_000_000
        wh = make_warehouse(work, events, areas=1 if smoke else 12)
        root = make_root(work, wh, "cpu_budget")
        chosen = ["feature_demand"] if smoke else None
        return {"events": events, "notebooks": cpu_budget(root, "analytics", work, chosen)}

    step("cpu_budget:team", budget)
    step(
        "fleet:12x4",
        lambda: bench_fleet(
            work,
            20_000 if smoke else 2_000_000,
            teams=1 if smoke else 12,
            notebooks=["feature_demand"] if smoke else None,
        ),
    )

    step(
        "feedback:smoke" if smoke else "feedback:100k",
        lambda: bench_feedback(work, 2_000 if smoke else 100_000, repeats),
    )

    def dashboard():
        from . import dashboard_bench

        if smoke:
            return dashboard_bench.run(
                teams=2, visitors=2, seconds=10, bogus=20, bogus_seconds=4, after_seconds=5
            )
        return dashboard_bench.run()

    step("dashboard:pages", dashboard)

    def explore():
        from . import explore_bench

        return explore_bench.run(20_000 if smoke else 5_000_000, work / "explore")

    step("explore:questions", explore)
    results["finished"] = time.strftime("%FT%TZ")
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "results.json").write_text(json.dumps(results, indent=1, default=str))
    write_report(results, out_dir / "results.md")
    print(f"[bench] wrote {out_dir / 'results.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
