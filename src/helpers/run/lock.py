"""The lock on one team and date: two runs of the same team and date never overlap."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
from pathlib import Path
from typing import Any

from ..errors import WorkbookError
from ..paths import TeamFolder
from .records import iso, now

__all__ = ["TeamLock", "alive"]


class TeamLock:
    """An exclusive lock on (team, as_of); a lock left by a dead process is cleared."""

    def __init__(self, team: str, as_of: dt.date):
        self.path = TeamFolder(team).lock_path(as_of)
        self.team, self.as_of = team, as_of
        self.held = False

    def acquire(self) -> None:
        try:
            self._acquire()
        except OSError as exc:  # a read-only or full outputs folder: one line, nothing touched
            raise WorkbookError(
                f"cannot write to {self.path.parent}: {exc.strerror or exc}"
            ) from None

    def _acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        for _ in range(2):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                holder = self._holder()
                if holder and alive(holder.get("pid")):
                    raise WorkbookError(
                        f"team {self.team} for {self.as_of} is already being run by process "
                        f"{holder['pid']} (started {holder.get('started', '?')}); not started"
                    ) from None
                self.path.unlink(missing_ok=True)  # stale: its process is gone
                continue
            with os.fdopen(fd, "w") as f:
                json.dump({"pid": os.getpid(), "started": iso(now())}, f)
            self.held = True
            return
        raise WorkbookError(f"cannot take the lock {self.path}")

    def _holder(self) -> dict | None:
        try:
            return json.loads(self.path.read_text())
        except (OSError, ValueError):
            return None

    def release(self) -> None:
        if self.held:
            self.path.unlink(missing_ok=True)
            self.held = False


def alive(pid: Any) -> bool:
    """Whether process ``pid`` is running (a zombie is not)."""
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    with contextlib.suppress(OSError):
        stat = Path(f"/proc/{pid}/stat").read_text()
        if stat.rsplit(")", 1)[1].split()[0] == "Z":
            return False
    return True
