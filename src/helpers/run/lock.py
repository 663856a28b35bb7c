"""Locks on a team's outputs: two runs of the same team and date never overlap, and
``prune`` never removes a run that is being written.

The locks are :func:`fcntl.flock` locks, which the kernel releases when their process
ends however it ends: a lock is never judged "stale" and deleted by someone else, so two
runners cannot both take it. Each team has two kinds of lock file in ``outputs/<team>/``:

* ``.lock-<as_of>``: held exclusively by the run of that date (its pid and start time are
  written inside, for the message a second run shows); removed when the run ends;
* ``.lock-team``: held shared by every run of the team and exclusively by ``prune``;
* ``.lock-links``: held exclusively, for a moment, by a run that reads ``latest`` and
  switches its links, so two runs of different dates finishing together cannot move
  ``latest`` backwards.

On shared storage (runs on several machines) these promises hold when the file system
gives ``flock`` locks that every client sees and an atomic ``rename`` (docs/scheduling.md).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..errors import LockedError, WorkbookError
from ..paths import TeamFolder
from .records import iso, now

__all__ = ["TeamLock", "alive", "links_lock", "team_lock"]

# the team-wide lock shares the naming of the dated ones (no date is spelt "team")
_TEAM = "team"
# how long a run waits for a prune of its team to finish
_PRUNE_WAIT_S = 30.0


def _open(path: Path) -> int:
    """Open (or create) a lock file; a link planted in its place is refused, not followed."""
    flags = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC
    return os.open(path, flags, 0o640)


def _lock(path: Path, op: int) -> int | None:
    """The fd of ``path`` locked with ``op`` (no wait), or None when another process holds it.

    A holder removes its file before unlocking it; whoever opened the old file in between
    finds, once it has the lock, that the path names another file now, and tries again.
    """
    while True:
        fd = _open(path)
        try:
            fcntl.flock(fd, op | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        except BaseException:
            os.close(fd)
            raise
        try:
            on_disk = os.stat(path, follow_symlinks=False)
        except FileNotFoundError:
            os.close(fd)
            continue
        held = os.fstat(fd)
        if (on_disk.st_dev, on_disk.st_ino) == (held.st_dev, held.st_ino):
            return fd
        os.close(fd)


class TeamLock:
    """An exclusive lock on (team, as_of), plus a shared hold on the team (see the module)."""

    def __init__(self, team: str, as_of: dt.date, *, wait_s: float = 0.0):
        self.wait_s = wait_s  # how long to wait for another run of the team and date
        folder = TeamFolder(team)
        self.path = folder.lock_path(as_of)
        self.team_path = folder.lock_path(_TEAM)
        self.team, self.as_of = team, as_of
        self.held = False
        self._fd: int | None = None
        self._team_fd: int | None = None

    def acquire(self) -> None:
        try:
            self._acquire()
        except OSError as exc:  # a read-only or full outputs folder: one line, nothing touched
            self._close()
            raise WorkbookError(
                f"cannot write to {self.path.parent}: {exc.strerror or exc}"
            ) from None

    def _acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        deadline = time.monotonic() + _PRUNE_WAIT_S
        while (team_fd := _lock(self.team_path, fcntl.LOCK_SH)) is None:
            if time.monotonic() > deadline:
                raise LockedError(
                    f"team {self.team} is being pruned by another process; not started"
                )
            time.sleep(0.2)
        self._team_fd = team_fd
        fd = _lock(self.path, fcntl.LOCK_EX)
        waited_until = time.monotonic() + self.wait_s
        while fd is None and time.monotonic() < waited_until:
            time.sleep(min(1.0, self.wait_s))
            fd = _lock(self.path, fcntl.LOCK_EX)
        if fd is None:
            self._close()
            holder = self._holder()
            who = (
                f"process {holder['pid']} (started {holder.get('started', '?')})"
                if holder and isinstance(holder.get("pid"), int)
                else "another process"
            )
            waited = f" (waited {self.wait_s:g} s)" if self.wait_s else ""
            raise LockedError(
                f"team {self.team} for {self.as_of} is already being run by {who}{waited}; "
                "not started"
            )
        self._fd = fd
        try:
            os.ftruncate(fd, 0)
            os.write(fd, json.dumps({"pid": os.getpid(), "started": iso(now())}).encode())
        except OSError:  # a full disk: leave no empty lock file behind
            with contextlib.suppress(OSError):
                self.path.unlink()
            raise
        self.held = True

    def _holder(self) -> dict | None:
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def _close(self) -> None:
        for name in ("_fd", "_team_fd"):
            fd = getattr(self, name)
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)
                setattr(self, name, None)

    def release(self) -> None:
        if self.held:
            # removed while still locked, so no one can lock the old file and think it theirs
            with contextlib.suppress(OSError):
                self.path.unlink(missing_ok=True)
            self._close()
            self.held = False


@contextlib.contextmanager
def team_lock(team: str) -> Iterator[None]:
    """Hold the team exclusively (for ``prune``): no run of the team is being written.

    Raises
    ------
    WorkbookError
        When a run of the team holds it (try again when the run has ended).
    """
    path = TeamFolder(team).lock_path(_TEAM)
    try:
        fd = _lock(path, fcntl.LOCK_EX)
    except OSError as exc:
        raise WorkbookError(f"cannot lock team {team}: {exc.strerror or exc}") from None
    if fd is None:
        raise WorkbookError(f"team {team} is being run; try again when the run has ended")
    try:
        yield
    finally:
        os.close(fd)


@contextlib.contextmanager
def links_lock(team: str) -> Iterator[None]:
    """Hold the team's links exclusively while ``latest`` is read and switched (waits: the
    holder keeps it for a few file operations)."""
    fd = _open(TeamFolder(team).lock_path("links"))
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


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
