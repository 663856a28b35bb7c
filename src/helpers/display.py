"""Small display helpers that make every notebook read like a report."""

from __future__ import annotations

import html
import json
import re
from dataclasses import asdict
from pathlib import Path

import pandas as pd

from .data import Warehouse
from .data.contract import check

__all__ = [
    "quality_table",
    "show_answer",
    "show_next_step",
    "show_notes",
    "show_quality",
    "show_table",
    "use_style",
]


def _md(text: object) -> str:
    """Plain text for Markdown: HTML escaped and Markdown's own marks backslashed, so a
    value from the data (a feature named ``<img src=x onerror=…>`` or ``[x](javascript:…)``)
    shows as written and never as markup."""
    escaped = html.escape(str(text), quote=False)
    return re.sub(r"([\\`*_\[\]#|~!])", r"\\\1", escaped)


def show_answer(sentences: list[str] | str, title: str = "The answer") -> None:
    """Display the plain-words answer as a short Markdown list at the top of a report."""
    from IPython.display import Markdown, display

    if isinstance(sentences, str):
        sentences = [sentences]
    display(Markdown(f"### {_md(title)}\n\n" + "\n".join(f"- {_md(s)}" for s in sentences)))


def show_notes(sentences: list[str] | str, title: str | None = None) -> None:
    """Display plain sentences (a result's summary, or why it is missing) as a list."""
    from IPython.display import Markdown, display

    if isinstance(sentences, str):
        sentences = [sentences]
    head = f"**{_md(title)}**\n\n" if title else ""
    display(Markdown(head + "\n".join(f"- {_md(s)}" for s in sentences)))


def show_next_step(text: str) -> None:
    """Display the suggested next step under an answer, in bold, escaped."""
    from IPython.display import Markdown, display

    display(Markdown(f"**Next step:** {_md(text)}"))


def show_table(df: pd.DataFrame, rows: int = 20) -> None:
    """Display the first ``rows`` rows of a table as a reader sees it: no index column,
    numbers rounded with thousands separators, missing values as —, every value escaped;
    says how many rows the full table (recorded as CSV) has."""
    from IPython.display import HTML, Markdown, display

    def number(x: float) -> str:
        return f"{x:,.0f}" if abs(x) >= 100 or float(x).is_integer() else f"{x:,.2f}"

    head = df.head(rows)
    display(HTML(head.to_html(index=False, na_rep="—", float_format=number, escape=True)))
    if len(df) > rows:
        display(Markdown(f"*The first {rows} of {len(df):,} rows; all are in the CSV.*"))


def show_figure(fig) -> None:
    """Display a matplotlib figure here and close it, so a figure drawn in a loop shows in
    its own section and not again at the end of the cell."""
    from IPython.display import display
    from matplotlib import pyplot

    if not getattr(fig, "_workbook_shown", False):  # Recorder.figure showed it already
        display(fig)
    pyplot.close(fig)


def quality_table(wh: Warehouse, run_dir: str | Path | None = None) -> pd.DataFrame:
    """Every contract violation of the source as a table (empty when all checks pass).

    In a scheduled run the runner has already checked the source and left the result in
    ``<run_dir>/data_quality.json``; it is read instead of checking again.
    """
    recorded = Path(run_dir) / "data_quality.json" if run_dir else None
    if recorded is not None and recorded.exists():
        found = json.loads(recorded.read_text())["violations"]
    else:
        found = [asdict(v) for v in check(wh)]
    columns = ["severity", "table", "column", "problem", "rows"]
    return pd.DataFrame([{k: v[k] for k in columns} for v in found], columns=columns)


def show_quality(wh: Warehouse, run_dir: str | Path | None = None) -> pd.DataFrame:
    """Display the data-quality section every report ends with; returns its table."""
    from IPython.display import Markdown, display

    table = quality_table(wh, run_dir)
    if table.empty:
        display(Markdown("**Data quality:** every contract check passes."))
    else:
        errors = int((table.severity == "error").sum())
        display(
            Markdown(
                f"**Data quality:** {errors} error(s) and {len(table) - errors} warning(s) "
                "against the data contract; results that touch these rows are less certain."
            )
        )
        display(table)
    return table


def use_style() -> None:
    """The one look every notebook shares (call once at the top of a notebook)."""
    import seaborn as sns

    sns.set_theme(style="whitegrid", context="notebook", palette="colorblind")
