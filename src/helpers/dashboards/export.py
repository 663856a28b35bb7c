"""One clean HTML export per team: every analysis of its last good run in one file, for
mail and print.

The file is the team page rendered self-contained: the answers first, a table of contents,
each analysis's chart, action list and next step, the evidence under "How sure are we?"
(opened when printed), figures inside the file as PNG data, tables formatted (no index
column, dates as dates, money and percentages), and no script, font or stylesheet from
anywhere else: it opens offline, and nothing in it names a server path. Every recorded value
is escaped (:mod:`.render`).
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

from ..errors import WorkbookError
from .render import CURRENCY, document, team_html
from .snapshot import Snapshot, load_snapshot

__all__ = ["export_html", "export_pdf", "find_browser", "write_exports"]

#: Browsers that print a page to PDF headless, tried in order.
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def export_html(snapshot: Snapshot, *, currency: str = CURRENCY) -> str:
    """The team's export as one HTML document (a string).

    Parameters
    ----------
    snapshot
        The team's snapshot (:func:`helpers.dashboards.load_snapshot`).
    currency
        The sign of money columns.
    """
    body = team_html(snapshot, inline=True, currency=currency)
    title = f"{snapshot.title} · all analyses · as of {snapshot.as_of or 'unknown'}"
    return document(title, body)


def write_exports(teams: Sequence[str], folder: Path, *, currency: str = CURRENCY) -> list[Path]:
    """Write ``<team>.html`` (:func:`export_html`) into ``folder`` for each team with a
    successful run; returns the files written."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for team in teams:
        snap = load_snapshot(team)
        if snap is None:
            continue
        path = folder / f"{snap.team}.html"
        path.write_text(export_html(snap, currency=currency), encoding="utf-8")
        written.append(path)
    return written


def find_browser() -> str | None:
    """A Chromium-family browser on ``PATH`` that can print to PDF, or None."""
    for name in BROWSERS:
        found = shutil.which(name)
        if found:
            return found
    return None


def export_pdf(html_path: Path, pdf_path: Path, *, browser: str | None = None) -> Path:
    """Print an export to PDF with headless Chromium (the page's print style: every
    analysis, the evidence opened, no buttons), offline: networking is off and the file
    loads nothing from elsewhere anyway.

    Raises
    ------
    WorkbookError
        When no Chromium-family browser is installed, or it fails.
    """
    browser = browser or find_browser()
    if browser is None:
        raise WorkbookError(
            "Printing to PDF needs Chromium (apt-get install chromium); the HTML exports are "
            "written, print them from a browser instead"
        )
    with tempfile.TemporaryDirectory(prefix="workbook-pdf-") as profile:
        cmd = [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-extensions",
            "--no-first-run",
            f"--user-data-dir={profile}",
            "--no-pdf-header-footer",
            f"--print-to-pdf={pdf_path}",
            Path(html_path).resolve().as_uri(),
        ]
        try:
            subprocess.run(cmd, capture_output=True, timeout=120, check=True)
        except (OSError, subprocess.SubprocessError):
            raise WorkbookError(f"Chromium could not print {Path(html_path).name} to PDF") from None
    if not pdf_path.is_file() or pdf_path.stat().st_size == 0:
        raise WorkbookError(f"Chromium could not print {Path(html_path).name} to PDF")
    return pdf_path
