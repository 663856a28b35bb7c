"""Record a notebook's results (tables, figures, plain-words answer) into its run folder.

Layout of ``outputs/<team>/<as_of>/`` written through this module::

    tables/<notebook>/<name>.parquet   (and .csv when asked: for CRMs and spreadsheets)
    figures/<notebook>/<name>.png
    answers/<notebook>.json            the sentences a PM reads first, for the dashboards

A notebook opened by hand in JupyterLab has no ``run_dir``; the recorder then
writes nothing, so exploring never touches run records.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd

from .errors import WorkbookError

__all__ = ["Recorder", "read_answer", "read_table"]

_NAME = re.compile(r"^[a-z0-9][a-z0-9_]{0,63}$")


def _check_name(name: str) -> str:
    if not _NAME.match(name):
        raise WorkbookError(
            f"result name {name!r} must be lower-case letters, digits and underscores"
        )
    return name


class Recorder:
    """Writes one notebook's results into a run folder (or nowhere, when ``run_dir`` is empty).

    Parameters
    ----------
    run_dir
        The run folder the runner passes as the ``run_dir`` parameter; empty or None
        when the notebook runs by hand.
    notebook
        The notebook's name, e.g. ``"metric_trends"``.
    """

    def __init__(self, run_dir: str | Path | None, notebook: str):
        self.notebook = _check_name(notebook)
        self.run_dir = Path(run_dir) if run_dir else None
        self.written: list[Path] = []

    @property
    def active(self) -> bool:
        return self.run_dir is not None

    def _path(self, kind: str, name: str, suffix: str) -> Path | None:
        if self.run_dir is None:
            return None
        folder = self.run_dir / kind / self.notebook
        folder.mkdir(parents=True, exist_ok=True)
        return folder / f"{_check_name(name)}{suffix}"

    def table(self, name: str, df: pd.DataFrame, *, csv: bool = False) -> Path | None:
        """Save ``df`` as Parquet (and CSV if ``csv``); returns the Parquet path."""
        path = self._path("tables", name, ".parquet")
        if path is None:
            return None
        frame = df.reset_index() if not isinstance(df.index, pd.RangeIndex) else df
        frame.to_parquet(path, index=False)
        self.written.append(path)
        if csv:
            frame.to_csv(path.with_suffix(".csv"), index=False)
            self.written.append(path.with_suffix(".csv"))
        return path

    def figure(self, name: str, fig) -> Path | None:
        """Save a matplotlib figure as PNG (the figure stays open for the notebook)."""
        path = self._path("figures", name, ".png")
        if path is None:
            return None
        fig.savefig(path, dpi=110, bbox_inches="tight")
        self.written.append(path)
        return path

    def answer(self, sentences: list[str] | str, **facts) -> Path | None:
        """Save the plain-words answer (and any small facts) that the dashboards show first."""
        if isinstance(sentences, str):
            sentences = [sentences]
        if self.run_dir is None:
            return None
        folder = self.run_dir / "answers"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{self.notebook}.json"
        path.write_text(
            json.dumps(
                {"notebook": self.notebook, "answer": list(sentences), "facts": facts},
                indent=1,
                default=str,
            )
        )
        self.written.append(path)
        return path


def read_table(run_dir: str | Path, notebook: str, name: str) -> pd.DataFrame:
    """Read back a recorded table."""
    return pd.read_parquet(Path(run_dir) / "tables" / notebook / f"{_check_name(name)}.parquet")


def read_answer(run_dir: str | Path, notebook: str) -> dict:
    """Read back a recorded answer (``{"answer": [...], "facts": {...}}``)."""
    return json.loads((Path(run_dir) / "answers" / f"{notebook}.json").read_text())
