"""Product Ops Workbook helpers: data access, contract checks and the analyses behind the notebooks."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

__all__ = ["__version__"]

try:
    __version__ = version("product-ops-workbook")
except PackageNotFoundError:  # running from a checkout without install
    __version__ = "0.0.0"
