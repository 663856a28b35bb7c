"""Runs on several machines over shared outputs: what one machine may conclude about a run
recorded by another, and the lock that keeps ``latest`` moving forward."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time

from helpers.run import history
from helpers.run.lock import links_lock


def _dead_pid() -> int:
    done = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    return int(done.stdout)


def _record(root, run_id: str, host: str | None) -> None:
    folder = root / "outputs" / "analytics" / "runs" / run_id
    folder.mkdir(parents=True)
    m = {"team": "analytics", "run_id": run_id, "as_of": "2026-10-31", "status": "running"}
    m |= {"pid": _dead_pid(), "notebooks": []}
    if host is not None:
        m["host"] = host
    (folder / "manifest.json").write_text(json.dumps(m))


def test_a_run_recorded_on_another_machine_is_not_judged_from_here(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBOOK_ROOT", str(tmp_path))
    monkeypatch.delenv("WORKBOOK_OUTPUTS", raising=False)
    _record(tmp_path, "2026-11-01T061500-aaaa", host="worker-7.elsewhere")
    _record(tmp_path, "2026-11-02T061500-bbbb", host=socket.gethostname())
    _record(tmp_path, "2026-11-03T061500-cccc", host=None)  # recorded before hosts were
    status = {r["run_id"]: r["status"] for r in history("analytics")}
    assert status == {
        "2026-11-01T061500-aaaa": "running",  # its pid means nothing on this machine
        "2026-11-02T061500-bbbb": "interrupted",
        "2026-11-03T061500-cccc": "interrupted",
    }


def test_the_links_lock_makes_a_second_switcher_wait(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBOOK_ROOT", str(tmp_path))
    monkeypatch.delenv("WORKBOOK_OUTPUTS", raising=False)
    (tmp_path / "outputs" / "analytics").mkdir(parents=True)
    order = []

    def second():
        with links_lock("analytics"):
            order.append("second")

    with links_lock("analytics"):
        t = threading.Thread(target=second)
        t.start()
        time.sleep(0.3)
        order.append("first done")
    t.join(5)
    assert order == ["first done", "second"]
