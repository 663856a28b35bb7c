"""The workbook's exceptions (one base, a subclass per kind of mistake) and the check helpers."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Any

__all__ = [
    "DataError",
    "LockedError",
    "MissingSegmentationError",
    "ParamsError",
    "VisitorError",
    "WorkbookError",
    "check_choice",
    "did_you_mean",
]


class WorkbookError(Exception):
    """A mistake in params, data or a command line: shown as one line, never a traceback."""


class ParamsError(WorkbookError):
    """A params file (``params/*.yaml``) is missing, unreadable or invalid."""


class DataError(WorkbookError):
    """A source cannot be opened or breaks the data contract, or a query names what is not there."""


class LockedError(WorkbookError):
    """Another process runs (or prunes) the same team and date: nothing was started."""


class VisitorError(WorkbookError):
    """A dashboard visitor's input (query string, widget value) is not one of the offered choices."""


class MissingSegmentationError(WorkbookError):
    """A breakdown by ``segment`` was asked for, but no segmentation run is recorded for the team."""


def did_you_mean(value: str, options: Iterable[str], n: int = 3) -> str:
    """``" (did you mean 'x'?)"`` for the nearest options, or ``""`` if none is close."""
    close = difflib.get_close_matches(str(value), [str(o) for o in options], n=n, cutoff=0.5)
    if not close:
        return ""
    return " (did you mean " + " or ".join(repr(c) for c in close) + "?)"


def check_choice(name: str, value: Any, options: Iterable[Any]) -> Any:
    """Return ``value`` if it is one of ``options``, else raise a uniform message.

    >>> check_choice("grain", "week", ["day", "week", "month"])
    'week'
    """
    options = list(options)
    if value not in options:
        raise WorkbookError(
            f"The value for `{name}` must be one of {options}, not {value!r}"
            + did_you_mean(str(value), [str(o) for o in options])
        )
    return value
