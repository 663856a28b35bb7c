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
    if isinstance(t100, dict) and "peak_mib" in t100:
        out.append(
            (
                "team run at 100M events: peak memory ≤ 2 GiB",
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
    fleet = r.get("fleet", {}).get("12x3")
    if isinstance(fleet, dict) and "speedup" in fleet:
        out.append(
            (
                "fleet 12 teams × 3 notebooks ≥ 2.5× faster than a papermill loop",
                f"×{fleet['speedup']} ({fleet['papermill_loop_s']} s vs "
                f"{fleet['workbook_run_s']} s)",
                fleet["speedup"] >= 2.5,
            )
        )
    dash = r.get("dashboard", {}).get("first_chart")
    if isinstance(dash, dict) and "ours_first_chart_s" in dash:
        ours = dash["ours_first_chart_s"]
        plain = dash.get("plain_voila_first_chart_s", {}).get("median", "?")
        out.append(
            (
                "PM page first chart ≤ 1 s (median of loads, 12 teams)",
                f"{ours['median']} s, slowest {ours['max']} s (plain Voila {plain} s)",
                ours["median"] <= 1.0,
            )
        )
        mem = dash.get("ours_server_memory", {})
        if "rss_mib" in mem:
            out.append(
                (
                    "dashboard server memory < 2 GiB with 12 teams",
                    f"{mem['rss_mib']:,.0f} MiB RSS summed ({mem.get('pss_mib', 0):,.0f} "
                    f"MiB PSS), {mem.get('kernels', '?')} kernels",
                    mem["rss_mib"] < 2048,
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
    for section in ["generation", "aggregations", "team_run", "naive", "fleet", "dashboard"]:
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
