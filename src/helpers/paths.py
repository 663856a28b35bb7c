"""Every path the workbook uses, in one place."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = [
    "ROOT",
    "RunFolder",
    "TeamFolder",
    "dashboards_dir",
    "data_dir",
    "digest_dir",
    "default_warehouse",
    "notebooks_dir",
    "outputs_dir",
    "params_dir",
    "resolve",
    "root",
    "team_folders",
]

#: The project checkout (``src/helpers/paths.py`` → three levels up).
ROOT = Path(__file__).resolve().parents[2]


def root() -> Path:
    """The workbook root: ``$WORKBOOK_ROOT`` if set (tests, deployments), else the checkout."""
    env = os.environ.get("WORKBOOK_ROOT")
    return Path(env).resolve() if env else ROOT


def params_dir() -> Path:
    """Folder of ``_defaults.yaml`` and one ``<team>.yaml`` per product team."""
    return root() / "params"


def outputs_dir() -> Path:
    """Folder of run records: ``outputs/<team>/`` (see :class:`TeamFolder`)."""
    env = os.environ.get("WORKBOOK_OUTPUTS")
    return Path(env).resolve() if env else root() / "outputs"


def digest_dir() -> Path:
    """Folder of the Monday digests: ``outputs/_digest/<date>/digest.{md,html}`` (a name no
    team can have)."""
    return outputs_dir() / "_digest"


def notebooks_dir() -> Path:
    """Folder of the parameterised notebooks (always the package's checkout)."""
    env = os.environ.get("WORKBOOK_NOTEBOOKS")
    return Path(env).resolve() if env else ROOT / "notebooks"


def dashboards_dir() -> Path:
    """Folder of the Voila pages PMs open (always the package's checkout)."""
    return ROOT / "dashboards"


def data_dir() -> Path:
    """Folder of the embedded demo warehouse."""
    return root() / "data"


def default_warehouse() -> Path:
    """The embedded DuckDB demo warehouse built by ``workbook demo-data``."""
    return data_dir() / "demo.duckdb"


def resolve(path: str | os.PathLike[str]) -> Path:
    """A path from params or the command line: relative ones are relative to the root."""
    p = Path(path).expanduser()
    return p if p.is_absolute() else root() / p


# --------------------------------------------------------------------------- the run folder
#
# outputs/<team>/
#     runs/<run_id>/                one immutable folder per run
#         manifest.json             what ran, with which inputs, and how it ended
#         data_quality.json         the runner's contract check of the source
#         <notebook>.ipynb|.html    the executed notebook and the PMs' copy
#         answers/<notebook>.json   the plain-words answer the pages show first
#         tables/<notebook>/<name>.parquet (.csv)
#         figures/<notebook>/<name>.png
#     <as_of> -> runs/<run_id>      the last attempt for that date
#     latest  -> runs/<run_id>      the last run in which every notebook succeeded
#     .lock-<as_of>                 held while a run of that date is written


class RunFolder:
    """Every path inside one run folder ``outputs/<team>/runs/<run_id>/``.

    The runner writes it, :class:`helpers.results.Recorder` records into it and the
    dashboards read it; none of them spells a path of their own.
    """

    MANIFEST = "manifest.json"
    DATA_QUALITY = "data_quality.json"
    KINDS = ("tables", "figures")

    def __init__(self, path: str | os.PathLike[str]):
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"RunFolder({str(self.path)!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RunFolder) and self.path == other.path

    def __hash__(self) -> int:
        return hash(self.path)

    @property
    def run_id(self) -> str:
        return self.path.name

    @property
    def manifest(self) -> Path:
        return self.path / self.MANIFEST

    @property
    def data_quality(self) -> Path:
        return self.path / self.DATA_QUALITY

    def notebook(self, name: str) -> Path:
        """The executed notebook ``<name>.ipynb``."""
        return self.path / f"{name}.ipynb"

    def html(self, name: str) -> Path:
        """The PMs' HTML copy of a notebook."""
        return self.path / f"{name}.html"

    def answer(self, name: str) -> Path:
        """The recorded plain-words answer of a notebook."""
        return self.path / "answers" / f"{name}.json"

    def folder(self, kind: str, name: str) -> Path:
        """``tables/<notebook>`` or ``figures/<notebook>``."""
        if kind not in self.KINDS:
            raise ValueError(f"kind must be one of {self.KINDS}, not {kind!r}")
        return self.path / kind / name

    def table(self, notebook: str, name: str, suffix: str = ".parquet") -> Path:
        return self.folder("tables", notebook) / f"{name}{suffix}"

    def figure(self, notebook: str, name: str) -> Path:
        return self.folder("figures", notebook) / f"{name}.png"

    def artifacts(self, notebook: str) -> list[Path]:
        """Every file a notebook left in this run (notebook, HTML, answer, tables, figures)."""
        files = [self.notebook(notebook), self.html(notebook), self.answer(notebook)]
        for kind in self.KINDS:
            folder = self.folder(kind, notebook)
            if folder.is_dir() and not folder.is_symlink():
                files.extend(sorted(folder.iterdir()))
        return [f for f in files if f.exists() and not f.is_symlink()]

    def read_manifest(self) -> dict | None:
        """The parsed ``manifest.json``, or None when it is missing or unreadable."""
        import json

        try:
            data = json.loads(self.manifest.read_text())
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None


class TeamFolder:
    """A team's folder ``outputs/<team>/``: its runs, its dated links, ``latest`` and locks."""

    def __init__(self, team: str, outputs: Path | None = None):
        self.team = team
        self.path = (outputs or outputs_dir()) / team

    @property
    def runs_dir(self) -> Path:
        return self.path / "runs"

    @property
    def latest_link(self) -> Path:
        return self.path / "latest"

    def dated_link(self, as_of) -> Path:
        """``outputs/<team>/<as_of>``: the last attempt for that date."""
        return self.path / (as_of if isinstance(as_of, str) else as_of.isoformat())

    def lock_path(self, as_of) -> Path:
        return self.path / f".lock-{as_of if isinstance(as_of, str) else as_of.isoformat()}"

    def run(self, run_id: str) -> RunFolder:
        return RunFolder(self.runs_dir / run_id)

    def runs(self) -> list[RunFolder]:
        """Every run folder of the team (real folders only, never a link)."""
        if not self.runs_dir.is_dir():
            return []
        return [
            RunFolder(p)
            for p in sorted(self.runs_dir.iterdir())
            if p.is_dir() and not p.is_symlink()
        ]

    def resolve(self, link: Path) -> RunFolder | None:
        """The run a link points at, or None when the link or its run is missing."""
        return RunFolder(link.resolve()) if link.exists() else None

    def latest(self) -> RunFolder | None:
        return self.resolve(self.latest_link)

    def dated(self, as_of) -> RunFolder | None:
        return self.resolve(self.dated_link(as_of))

    def links(self) -> list[Path]:
        """The dated links and ``latest``."""
        if not self.path.is_dir():
            return []
        return [p for p in self.path.iterdir() if p.is_symlink()]


def team_folders() -> list[TeamFolder]:
    """Every team folder under ``outputs/`` that holds runs."""
    out = outputs_dir()
    if not out.is_dir():
        return []
    return [TeamFolder(p.name) for p in sorted(out.iterdir()) if (p / "runs").is_dir()]
