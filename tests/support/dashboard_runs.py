"""Write realistic run folders (the runner's layout) for the dashboard tests and benchmark.

The layout follows ``helpers.runner``: ``outputs/<team>/runs/<run_id>/`` with
``manifest.json``, ``answers/``, ``figures/``, ``tables/`` and the two symlinks
``outputs/<team>/<as_of>`` and ``outputs/<team>/latest``. Nothing here depends on the
analysis notebooks, so the dashboards can be tested while those change.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import zlib
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

__all__ = ["ANSWERS", "PLAIN_ANSWERS", "write_live_notebook", "write_params", "write_run"]

#: The first answer sentence of each analysis; tests look for these on the pages.
ANSWERS = {
    "customer_segmentation": "{title} has 4 customer segments; 38 accounts slipped to At risk.",
    "feature_demand": "Dark mode is most wanted by {title} customers (41% vs 28%, p = 0.003).",
    "metric_trends": "Active accounts in {title} grew 3.1% a week (95% CI 2.2% to 4.0%).",
}

#: The same answers as the answer box shows them, written out by hand: the method's words
#: and numbers (p-values, intervals) are left to "How sure are we?".
PLAIN_ANSWERS = {
    "customer_segmentation": ANSWERS["customer_segmentation"],
    "feature_demand": "Dark mode is most wanted by {title} customers (41% vs 28%).",
    "metric_trends": "Active accounts in {title} grew 3.1% a week.",
}


def write_params(root: Path, teams: list[str]) -> Path:
    """A params folder with one ``<team>.yaml`` per team (titles are the capitalised names)."""
    folder = root / "params"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "_defaults.yaml").write_text("source: data/demo.duckdb\n")
    for team in teams:
        (folder / f"{team}.yaml").write_text(f"title: {team.capitalize()}\nproduct_area: {team}\n")
    return folder


_PNG_CACHE: dict[tuple[int, str], bytes] = {}


def _figure(path: Path, seed: int, title: str, kind: str) -> None:
    """A small matplotlib chart; drawn once per (seed mod 3, kind) to keep tests fast."""
    key = (seed % 3, kind)
    if key in _PNG_CACHE:
        path.write_bytes(_PNG_CACHE[key])
        return
    rng = np.random.default_rng(seed)
    fig, ax = plt.subplots(figsize=(7, 3.2))
    if kind == "line":
        y = np.cumsum(rng.normal(1, 3, 60)) + 100
        ax.plot(np.arange(60), y, color="#3b6ea5")
        ax.set_xlabel("week")
    else:
        ax.bar(["A", "B", "C", "D"], rng.integers(10, 80, 4), color="#3b6ea5")
    ax.set_title(title)
    fig.savefig(path, dpi=80, bbox_inches="tight")
    plt.close(fig)
    _PNG_CACHE[key] = path.read_bytes()


def _link(link: Path, target: Path) -> None:
    tmp = link.with_name(f".{link.name}.tmp")
    tmp.symlink_to(os.path.relpath(target, link.parent))
    os.replace(tmp, link)


def write_run(
    outputs: Path,
    team: str,
    *,
    title: str | None = None,
    as_of: str = "2026-10-31",
    status: str = "succeeded",
    started: dt.datetime | None = None,
    notebooks: tuple[str, ...] = ("customer_segmentation", "feature_demand", "metric_trends"),
    link_latest: bool | None = None,
) -> Path:
    """Write one run folder and its symlinks; returns the run folder.

    ``latest`` is switched only for a succeeded run (as the runner does), unless
    ``link_latest`` says otherwise.
    """
    title = title or team.capitalize()
    started = started or dt.datetime(2026, 10, 31, 1, 30, 2, tzinfo=dt.UTC)
    finished = started + dt.timedelta(seconds=95)
    run_id = f"{as_of}T{started:%H%M%S}-{zlib.crc32(team.encode()) % 0xFFFF:04x}"
    run = outputs / team / "runs" / run_id
    run.mkdir(parents=True)
    entries = []
    for i, nb in enumerate(notebooks):
        ok = status == "succeeded" or i == 0
        (run / "answers").mkdir(exist_ok=True)
        (run / "answers" / f"{nb}.json").write_text(
            json.dumps(
                {
                    "notebook": nb,
                    "answer": [ANSWERS[nb].format(title=title), "The data pass every check."],
                    "facts": {"team": team, "n": 1200},
                }
            )
        )
        figs = run / "figures" / nb
        figs.mkdir(parents=True)
        _figure(figs / "overview.png", i, nb.replace("_", " "), "line")
        _figure(figs / "by_segment.png", i, "by segment", "bar")
        tables = run / "tables" / nb
        tables.mkdir(parents=True)
        frame = pd.DataFrame(
            {
                "segment": ["Champions", "Loyal", "At risk", "Hibernating"],
                "accounts": [120 + i, 340, 38, 210],
                "arr": [1.2e6, 2.3e6, 0.4e6, 0.9e6],
            }
        )
        frame.to_parquet(tables / "segments.parquet", index=False)
        frame.assign(share=frame.accounts / frame.accounts.sum()).to_parquet(
            tables / "shares.parquet", index=False
        )
        (run / f"{nb}.ipynb").write_text("{}")
        (run / f"{nb}.html").write_text("<html></html>")
        entries.append(
            {
                "notebook": nb,
                "status": "succeeded" if ok else "failed",
                "started_at": started.isoformat(timespec="seconds"),
                "finished_at": finished.isoformat(timespec="seconds"),
                "duration_s": 30.0,
                "output": f"{nb}.ipynb",
                "html": f"{nb}.html",
                "error": None if ok else "ValueError: the source has no events",
            }
        )
    manifest = {
        "team": team,
        "title": title,
        "as_of": as_of,
        "run_id": run_id,
        "status": status,
        "started_at": started.isoformat(timespec="seconds"),
        "finished_at": finished.isoformat(timespec="seconds"),
        "duration_s": 95.0,
        "helpers_version": "0.1.0",
        "git_commit": "0" * 40,
        "data_fingerprint": {"events": {"rows": 400000, "latest": f"{as_of}T23:59:00"}},
        "params": {"team": team},
        "notebooks": entries,
    }
    (run / "manifest.json").write_text(json.dumps(manifest, indent=1))
    _link(outputs / team / as_of, run)
    if link_latest if link_latest is not None else status == "succeeded":
        _link(outputs / team / "latest", run)
    return run


_LIVE = """\
import ipywidgets as w
from IPython.display import display

n = w.IntSlider(description="n", value=3)
shown = w.HTML(value="<b class='wb-live'>3</b>")
n.observe(lambda change: setattr(shown, "value", f"<b class='wb-live'>{change['new']}</b>"), "value")
display(n, shown)
"""


def write_live_notebook(folder: Path, name: str = "live") -> Path:
    """An interactive page (a slider and what it shows) for the live-page tests."""
    import nbformat

    folder.mkdir(parents=True, exist_ok=True)
    nb = nbformat.v4.new_notebook(
        metadata={
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}
        }
    )
    nb.cells = [nbformat.v4.new_code_cell(_LIVE)]
    path = folder / f"{name}.ipynb"
    nbformat.write(nb, path)
    return path
