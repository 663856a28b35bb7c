"""Run the `workbook` command as a user does: a fresh process, its output and exit code."""

from __future__ import annotations

import os
import subprocess
import sys


def cli(*args: str, env: dict[str, str] | None = None, timeout: float = 300, **kw):
    """``python -m helpers ARGS`` in a subprocess; returns the CompletedProcess (text)."""
    return subprocess.run(
        [sys.executable, "-m", "helpers", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=timeout,
        **kw,
    )
