"""Turn the benchmark figures into benchmarks/results.md, targets included."""

from __future__ import annotations

from pathlib import Path

__all__ = ["targets", "write_report"]


def _fmt(n) -> str:
    return f"{n:,}" if isinstance(n, int) else str(n)


def targets(r: dict) -> list[tuple[str, str, bool | None]]:
    """(target, measured, met?) for every target of the brief that the figures cover."""
    out: list[tuple[str, str, bool | None]] = []
    agg = r.get("aggregations", {})
    for size in (10_000_000, 100_000_000):
        res = agg.get(str(size)) or agg.get(size)
        if isinstance(res, dict) and "ratios" in res:
            worst = max(res["ratios"].values())
            out.append(
                (
                    f"helpers ≤ 1.25× hand-written SQL at {size:,} events",
                    f"worst ratio {worst:.2f}",
                    worst <= 1.25,
                )
            )
    team = r.get("team_run", {})
    t100 = team.get("100000000") or team.get(100_000_000)
    t10 = team.get("10000000") or team.get(10_000_000)
    if isinstance(t100, dict) and t100.get("peak_pss_mib"):
        out.append(
            (
                "team run at 100M events: peak memory ≤ 2 GiB PSS (runner and kernels)",
                f"{t100['peak_pss_mib']:,} MiB PSS ({t100['peak_mib']:,} MiB RSS summed)",
                t100["peak_pss_mib"] <= 2048,
            )
        )
    elif isinstance(t100, dict) and "peak_mib" in t100:
        out.append(
            (
                "team run at 100M events: peak memory ≤ 2 GiB (RSS summed; PSS not measured)",
                f"{t100['peak_mib']:,} MiB",
                t100["peak_mib"] <= 2048,
            )
        )
    if isinstance(t100, dict) and isinstance(t10, dict) and "seconds" in t100 and "seconds" in t10:
        ratio = t100["seconds"] / t10["seconds"]
        out.append(
            (
                "10M → 100M events at most doubles the team-run time",
                f"×{ratio:.2f} ({t10['seconds']} s → {t100['seconds']} s)",
                ratio <= 2.0,
            )
        )
    fleet = r.get("fleet", {}).get("12x4")
    if isinstance(fleet, dict) and "speedup" in fleet:
        out.append(
            (
                f"fleet {fleet['teams']} teams × all {fleet['notebooks'] // fleet['teams']} "
                "notebooks, `workbook run --all --jobs 2` ≥ 4× faster than a loop of plain "
                "`papermill`",
                f"×{fleet['speedup']} ({fleet['papermill_loop_s']} s vs "
                f"{fleet['workbook_run_s']} s)",
                fleet["speedup"] >= 4.0,
            )
        )
    dash = r.get("dashboard", {}).get("pages")
    if isinstance(dash, dict) and "first_chart_s" in dash:
        fc, mem, bogus = dash["first_chart_s"], dash.get("memory", {}), dash.get("bogus", {})
        after = dash.get("after_bogus", {})
        met = dash.get("met", {})
        out.append(
            (
                f"PM pages, {dash['visitors']} visitors × {dash['seconds']:.0f} s, {dash['teams']} "
                "teams: first chart median ≤ 0.5 s, p95 ≤ 1.5 s, max ≤ 3 s",
                f"median {fc.get('median')} s, p95 {fc.get('p95')} s, max {fc.get('max')} s "
                f"({fc.get('n')} page views)",
                bool(met.get("first_chart")),
            )
        )
        out.append(
            (
                "PM pages: server and kernels ≤ 1.5 GiB PSS",
                f"{mem.get('pss_mib_max', 0):,.0f} MiB PSS at most "
                f"(kernels at most: {mem.get('kernels_max', '?')})",
                bool(met.get("memory")),
            )
        )
        afc = after.get("first_chart_s", {})
        out.append(
            (
                f"{bogus.get('requests')} bogus requests in {bogus.get('seconds')} s: every one "
                "answered, memory and page speed unchanged",
                f"{bogus.get('refused_4xx_or_busy')} refused (4xx or busy), "
                f"{bogus.get('other_answers')} other; {bogus.get('pss_mib_max', 0):,.0f} MiB PSS "
                f"at most; afterwards median {afc.get('median')} s, p95 {afc.get('p95')} s, "
                f"max {afc.get('max')} s, {after.get('pss_mib_max', 0):,.0f} MiB",
                all(
                    met.get(k)
                    for k in (
                        "bogus_all_answered",
                        "bogus_memory",
                        "after_bogus_first_chart",
                        "after_bogus_memory",
                    )
                ),
            )
        )
    fb = r.get("feedback", {}).get("100k")
    if isinstance(fb, dict) and "seconds" in fb:
        out.append(
            (
                "feedback: 100,000 comments analysed ≤ 60 s and ≤ 1 GiB",
                f"{fb['seconds']} s ({fb.get('analysis_s')} s after imports), "
                f"peak {fb['peak_mib']:,} MiB, {fb.get('comments', 0):,} comments",
                fb["seconds"] <= 60 and fb["peak_mib"] <= 1024,
            )
        )
    gen = r.get("generation", {}).get("10M")
    if isinstance(gen, dict) and "seconds" in gen:
        out.append(
            (
                "demo-data 10M events ≤ 60 s",
                f"{gen['seconds']} s, peak {gen['peak_mib']:,} MiB",
                gen["seconds"] <= 60,
            )
        )
    return out


def write_report(r: dict, path: Path) -> None:
    m = r["machine"]
    lines = [
        "# Benchmark results",
        "",
        f"Measured {r['started']} – {r.get('finished', '?')} on {m['cores']} cores, "
        f"{m['memory_gib']} GiB ({m['cpu']}), Python {m['python']}.",
        "Versions: " + ", ".join(f"{k} {v}" for k, v in m["versions"].items()) + ".",
        "Each figure is the median of several runs (see results.json for every run).",
        "",
        "## Targets",
        "",
        "| target | measured | met |",
        "|---|---|---|",
    ]
    for name, measured, met in targets(r):
        lines.append(f"| {name} | {measured} | {'yes' if met else 'NO'} |")
    budget = r.get("cpu_budget", {}).get("team")
    if isinstance(budget, dict) and "notebooks" in budget:
        parts = list(next(iter(budget["notebooks"].values())))
        lines += [
            "",
            "## CPU budget per notebook",
            "",
            f"CPU seconds (all threads) of each notebook of one team at {budget['events']:,} "
            "events, each in a new kernel as plain papermill would run it "
            "(`benchmarks/cpu_budget.py`). With kernel reuse a scheduled run pays the "
            "kernel start and imports once per worker, not per notebook.",
            "",
            "| notebook | " + " | ".join(p.replace("_", " ") for p in parts) + " |",
            "|---|" + "---|" * len(parts),
        ]
        for nb, row in budget["notebooks"].items():
            lines.append(f"| {nb} | " + " | ".join(f"{row[p]:.2f}" for p in parts) + " |")
    for section in [
        "generation",
        "aggregations",
        "team_run",
        "naive",
        "fleet",
        "feedback",
        "dashboard",
    ]:
        data = r.get(section)
        if not data:
            continue
        lines += ["", f"## {section.replace('_', ' ')}", ""]
        for key, value in data.items():
            lines.append(
                f"- **{_fmt(int(key)) if str(key).isdigit() else key}**: "
                + (
                    ", ".join(f"{k} = {v}" for k, v in value.items())
                    if isinstance(value, dict)
                    else str(value)
                )
            )
    path.write_text("\n".join(lines) + "\n")
