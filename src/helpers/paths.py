"""Every path the workbook uses, in one place."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = [
    "ROOT",
    "dashboards_dir",
    "data_dir",
    "default_warehouse",
    "notebooks_dir",
    "outputs_dir",
    "params_dir",
    "resolve",
    "root",
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
    """Folder of run records: ``outputs/<team>/<as_of>/``."""
    env = os.environ.get("WORKBOOK_OUTPUTS")
    return Path(env).resolve() if env else root() / "outputs"


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
