"""Write calibration tables into a docs page between named markers."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd


def markdown_table(df: pd.DataFrame) -> str:
    """A plain Markdown table (no index), numbers as given."""
    cols = [str(c) for c in df.columns]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for row in df.itertuples(index=False):
        lines.append("| " + " | ".join(str(v) for v in row) + " |")
    return "\n".join(lines)


def write_tables(doc: Path, tables: dict[str, pd.DataFrame]) -> None:
    """Replace each ``<!-- validation:NAME -->`` block of ``doc`` (appending it if absent)."""
    text = doc.read_text(encoding="utf-8")
    for name, df in tables.items():
        block = f"<!-- validation:{name} -->\n{markdown_table(df)}\n<!-- /validation:{name} -->"
        pattern = re.compile(
            rf"<!-- validation:{re.escape(name)} -->.*?<!-- /validation:{re.escape(name)} -->",
            re.S,
        )
        text = (
            pattern.sub(lambda _, b=block: b, text)
            if pattern.search(text)
            else text + "\n" + block + "\n"
        )
    doc.write_text(text, encoding="utf-8")
