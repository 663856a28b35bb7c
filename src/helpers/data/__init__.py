"""Data access: the warehouse connection (Ibis), the data contract and the demo warehouse."""

from __future__ import annotations

from .contract import CONTRACT, Column, Violation, check, format_violations
from .warehouse import OPTIONAL_TABLES, TABLES, Warehouse, connect, describe, resolve_as_of

__all__ = [
    "CONTRACT",
    "OPTIONAL_TABLES",
    "TABLES",
    "Column",
    "Violation",
    "Warehouse",
    "check",
    "connect",
    "describe",
    "format_violations",
    "resolve_as_of",
]
