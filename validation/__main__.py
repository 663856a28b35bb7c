"""``python -m validation [--smoke] [--suite NAME ...] [--jobs N]``: run the validation suites."""

from __future__ import annotations

import argparse
import importlib
import inspect
import sys
import time
from pathlib import Path

from . import SUITES
from .report import markdown_table, write_tables

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m validation", description=__doc__)
    ap.add_argument("--smoke", action="store_true", help="a few cases per family; write nothing")
    ap.add_argument("--suite", action="append", choices=SUITES, help="run only these suites")
    ap.add_argument(
        "--jobs",
        type=int,
        default=1,
        help="processes for a suite that can spread its families (trends); same tables",
    )
    args = ap.parse_args(argv)
    if args.jobs < 1:
        ap.error(f"--jobs: must be at least 1, not {args.jobs}")
    for name in args.suite or SUITES:
        module = importlib.import_module(f".{name}", __package__)
        t0 = time.perf_counter()
        spread = "jobs" in inspect.signature(module.run).parameters
        tables = module.run(smoke=args.smoke, **({"jobs": args.jobs} if spread else {}))
        print(f"== {name}: {time.perf_counter() - t0:.1f} s")
        for title, df in tables.items():
            print(f"-- {title}\n{markdown_table(df)}\n")
        if not args.smoke:
            write_tables(ROOT / module.DOC, tables)
            print(f"written to {module.DOC}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
