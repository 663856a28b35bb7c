"""Record a notebook's results (tables, figures, plain-words answer) into its run folder.

The run folder's layout is owned by :class:`helpers.paths.RunFolder`; this module
writes tables (Parquet, and CSV when asked: for CRMs and spreadsheets), figures (PNG)
and the plain-words answer that the dashboards show first, and reads them back,
including the one reader of a team's recorded segments (:func:`read_assignments`).

A notebook opened by hand in JupyterLab has no ``run_dir``; the recorder then
writes nothing, so exploring never touches run records.

CSV copies are opened in spreadsheets: a text cell that starts with ``=``, ``+``, ``-``,
``@``, a tab or a carriage return (an account named ``=HYPERLINK(...)``) would be run as
a formula, so it is written with a leading ``'`` (OWASP's advice for CSV injection). The
Parquet tables keep the values as they are.
"""

from __future__ import annotations

import io
import json
import re
import struct
from pathlib import Path

import pandas as pd

from .errors import MissingSegmentationError, WorkbookError
from .paths import RunFolder, TeamFolder

__all__ = [
    "SEGMENT_COLUMNS",
    "Recorder",
    "assignments_path",
    "attach_segments",
    "read_answer",
    "read_assignments",
    "read_table",
]

#: Columns of the segmentation's ``assignments`` table that can name an account's
#: segment, in order of preference: the first with any value is the team's segment.
SEGMENT_COLUMNS = ("rfm_segment", "cluster_name")

_NAME = re.compile(r"^[a-z0-9][a-z0-9_]{0,63}$")
# first characters that make a spreadsheet read a cell as a formula
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


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
        self.run = RunFolder(self.run_dir) if self.run_dir else None
        self.written: list[Path] = []

    @property
    def active(self) -> bool:
        return self.run_dir is not None

    def _path(self, kind: str, name: str, suffix: str) -> Path | None:
        if self.run is None:
            return None
        path = (
            self.run.table(self.notebook, _check_name(name), suffix)
            if kind == "tables"
            else self.run.figure(self.notebook, _check_name(name))
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def table(self, name: str, df: pd.DataFrame, *, csv: bool = False) -> Path | None:
        """Save ``df`` as Parquet (and CSV if ``csv``); returns the Parquet path."""
        path = self._path("tables", name, ".parquet")
        if path is None:
            return None
        frame = df.reset_index() if not isinstance(df.index, pd.RangeIndex) else df
        frame.to_parquet(path, index=False)
        self.written.append(path)
        if csv:
            _csv_safe(frame).to_csv(path.with_suffix(".csv"), index=False)
            self.written.append(path.with_suffix(".csv"))
        return path

    def figure(self, name: str, fig) -> None:
        """Save a matplotlib figure as PNG, and show that same PNG in the notebook.

        The figure is drawn once: in a kernel the saved image is displayed here and the
        figure closed, so the inline backend does not draw it a second time at the end of
        the cell (drawing is a large share of a notebook's CPU; :func:`show_png`). Outside
        a kernel, or without a run folder, the figure stays open as matplotlib leaves it.

        Returns None, as :meth:`answer` does: a notebook cell ending with this call must
        not print the run folder's path into the PM's copy (``self.written`` has it).
        """
        path = self._path("figures", name, ".png")
        if path is None:
            return None
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=FIGURE_DPI, bbox_inches="tight")
        data = buf.getvalue()
        path.write_bytes(data)
        self.written.append(path)
        show_png(fig, data)
        return None

    def answer(self, sentences: list[str] | str, **facts) -> None:
        """Save the plain-words answer (and any small facts) that the dashboards show first."""
        if isinstance(sentences, str):
            sentences = [sentences]
        if self.run is None:
            return None
        path = self.run.answer(self.notebook)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(
            json.dumps(
                {"notebook": self.notebook, "answer": list(sentences), "facts": facts},
                indent=1,
                default=str,
            )
        )
        self.written.append(path)
        return None  # a cell ending with this call prints nothing (no server path)


def _neutral(value):
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def _csv_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with every text cell (and header) that a spreadsheet would run as a
    formula prefixed by ``'``; numbers, dates and other text are left as they are."""
    out = frame.copy()
    for i in range(out.shape[1]):
        values = out.iloc[:, i]
        if values.dtype == object or isinstance(values.dtype, pd.StringDtype | pd.CategoricalDtype):
            out.isetitem(i, values.astype(object).map(_neutral))
    out.columns = [_neutral(c) for c in out.columns]
    return out


def read_table(run_dir: str | Path, notebook: str, name: str) -> pd.DataFrame:
    """Read back a recorded table."""
    return pd.read_parquet(RunFolder(run_dir).table(notebook, _check_name(name)))


def read_answer(run_dir: str | Path, notebook: str) -> dict:
    """Read back a recorded answer (``{"answer": [...], "facts": {...}}``)."""
    return json.loads(RunFolder(run_dir).answer(notebook).read_text())


def assignments_path(run: RunFolder) -> Path:
    """Where a run keeps the segmentation's per-account assignments."""
    return run.table("customer_segmentation", "assignments")


def read_assignments(team: str, run_dir: str | Path | None = None) -> pd.DataFrame:
    """The team's recorded segments: a frame ``account_id, segment`` (text).

    One rule for every analysis that breaks down by ``segment``: the assignments of
    this run (``run_dir``: the runner runs segmentation first), else of the team's
    ``latest`` run; the segment is the first of :data:`SEGMENT_COLUMNS` that holds any
    value (RFM segments, else behavioural clusters).

    Raises
    ------
    MissingSegmentationError
        When neither run recorded a segmentation, or its table has no segment column.
    """
    candidates = [assignments_path(RunFolder(run_dir))] if run_dir else []
    latest = TeamFolder(team).latest()
    if latest is not None:
        candidates.append(assignments_path(latest))
    for path in candidates:
        if not path.is_file():
            continue
        frame = pd.read_parquet(path)
        column = next(
            (c for c in SEGMENT_COLUMNS if c in frame.columns and frame[c].notna().any()), None
        )
        if column is None or "account_id" not in frame.columns:
            raise MissingSegmentationError(
                f"{path}: needs columns account_id and one of {list(SEGMENT_COLUMNS)} with values"
            )
        out = frame.loc[frame[column].notna(), ["account_id", column]]
        return (
            out.rename(columns={column: "segment"}).astype({"segment": str}).reset_index(drop=True)
        )
    raise MissingSegmentationError(
        f"no segmentation run found for team {team!r}; run the customer_segmentation "
        "notebook first, or break down by plan, region or industry"
    )


def attach_segments(
    accounts: pd.DataFrame,
    segment_by: str,
    team: str,
    run_dir: str | Path | None,
    notes: list[str],
) -> tuple[pd.DataFrame, str]:
    """Give ``accounts`` a text column ``segment`` after ``segment_by``; returns it and the
    breakdown actually used.

    ``segment`` takes the team's recorded segments (:func:`read_assignments`; accounts
    it does not cover are "not segmented"); without a recorded segmentation the
    breakdown falls back to ``plan`` and a line saying so is appended to ``notes``.
    Any other ``segment_by`` is a column of ``accounts``.
    """
    used_by = segment_by
    if segment_by == "segment":
        try:
            assigned = read_assignments(team, run_dir)
        except MissingSegmentationError:
            used_by = "plan"
            notes.append("No recorded segmentation run for this team, so the breakdown is by plan.")
            accounts["segment"] = accounts["plan"]
        else:
            accounts = accounts.merge(assigned, on="account_id", how="left")
            accounts["segment"] = accounts["segment"].fillna("not segmented")
    else:
        accounts["segment"] = accounts[segment_by]
    accounts["segment"] = accounts["segment"].astype(str)
    return accounts, used_by


#: resolution of the recorded figures (the notebook shows the same image, at its figure size)
FIGURE_DPI = 110


def show_png(fig, data: bytes) -> bool:
    """In a kernel, display ``data`` (``fig`` saved as PNG) in place of ``fig`` and close
    ``fig``; True if shown. The image keeps the on-screen size matplotlib would give it
    (its pixel width scaled from :data:`FIGURE_DPI` to the figure's dpi)."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython comes with every kernel
        return False
    shell = get_ipython()
    if shell is None or not hasattr(shell, "kernel"):
        return False
    from IPython.display import Image, display
    from matplotlib import pyplot

    width = struct.unpack(">I", data[16:20])[0] if data[:8] == b"\x89PNG\r\n\x1a\n" else None
    shown = round(width * fig.dpi / FIGURE_DPI) if width else None
    display(Image(data=data, format="png", width=shown))
    fig._workbook_shown = True
    pyplot.close(fig)
    return True
