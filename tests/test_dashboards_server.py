"""`workbook serve` as a user runs it: the one address it prints shows the team list, the token
never appears on a command line, and SIGINT or SIGTERM leaves no server or kernel behind.

The command runs in a fresh process with ``dashboards/`` pointed at a folder holding one live
notebook, so a preheated kernel and a visitor's kernel exist when the signal arrives.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import socket
import subprocess
import sys
import time

import psutil
import pytest
from support.dashboard_runs import write_live_notebook, write_params, write_run

pytestmark = pytest.mark.slow

TEAMS = ["admin", "analytics"]
TOKEN = "tok-" + "7q2K9xZ" * 4

_CLI = """
import sys
from pathlib import Path
import helpers.dashboards.server as server
server.DASHBOARDS_DIR = Path(sys.argv[1])
from helpers.cli import main
sys.exit(main(sys.argv[2:]))
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(port: int, path: str) -> tuple[int, str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", path)
    r = conn.getresponse()
    return r.status, r.read().decode("utf-8", "replace")


def _family(pid: int) -> list[psutil.Process]:
    root = psutil.Process(pid)
    return [root, *root.children(recursive=True)]


def _alive(procs: list[psutil.Process]) -> list[psutil.Process]:
    out = []
    for p in procs:
        try:
            if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
                out.append(p)
        except psutil.Error:
            pass
    return out


def _kernels(procs) -> list[psutil.Process]:
    found = []
    for p in _alive(procs):
        try:
            if "ipykernel" in " ".join(p.cmdline()):
                found.append(p)
        except psutil.Error:
            pass
    return found


@pytest.fixture
def site(tmp_path):
    root = tmp_path / "wb"
    write_params(root, TEAMS)
    for team in TEAMS:
        write_run(root / "outputs", team)
    live = tmp_path / "live"
    write_live_notebook(live)
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    token_file.chmod(0o600)
    return {"root": root, "live": live, "token_file": token_file}


def _start(site, port: int, *extra: str) -> subprocess.Popen:
    env = {**os.environ, "WORKBOOK_ROOT": str(site["root"])}
    env.pop("WORKBOOK_DASHBOARD_TOKEN", None)
    cmd = [sys.executable, "-c", _CLI, str(site["live"]), "serve", "--port", str(port), *extra]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for(proc: subprocess.Popen, port: int) -> list[psutil.Process]:
    """Wait until the address answers and a kernel is up; return every process of the server."""
    end = time.monotonic() + 90
    while time.monotonic() < end:
        assert proc.poll() is None, proc.communicate()
        try:
            family = _family(proc.pid)
            if _kernels(family) and _get(port, "/")[0] in (200, 302, 403):
                return family
        except (OSError, psutil.Error):
            pass
        time.sleep(0.3)
    raise AssertionError("the server did not start")


def _stops_everything(proc: subprocess.Popen, port: int, sig: int) -> str:
    """Send ``sig``; check no process of the server is left and the port is free; return
    what the command printed."""
    end = time.monotonic() + 30  # the visitor's kernel and the pool's refill
    while len(_kernels(_family(proc.pid))) < 2 and time.monotonic() < end:
        time.sleep(0.2)
    family = _family(proc.pid)
    assert len(_kernels(family)) >= 2
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode is not None
    time.sleep(0.5)
    assert _alive(family) == [], [p.pid for p in _alive(family)]
    with socket.socket() as s:  # the port is free for the next `make serve`
        s.bind(("127.0.0.1", port))
    return out


def test_serve_prints_the_root_address_which_is_the_team_list_and_sigint_stops_all(site):
    port = _free_port()
    proc = _start(site, port)
    try:
        _wait_for(proc, port)
        status, body = _get(port, "/")
        assert status == 200 and 'href="/team/analytics"' in body
        assert _get(port, "/voila/render/live.ipynb")[0] == 200  # a visitor's kernel
        printed = _stops_everything(proc, port, signal.SIGINT)
        assert f"PM dashboards: http://127.0.0.1:{port}/\n" in printed
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()


def test_serve_with_a_token_file_hides_the_token_and_sigterm_stops_all(site):
    port = _free_port()
    proc = _start(site, port, "--token-file", str(site["token_file"]))
    try:
        family = _wait_for(proc, port)
        assert _get(port, "/")[0] in (302, 403)  # no token: not in
        status, body = _get(port, f"/?token={TOKEN}")
        assert status == 200 and 'href="/team/admin"' in body
        assert _get(port, f"/voila/render/live.ipynb?token={TOKEN}")[0] == 200
        family = _family(proc.pid)
        for p in psutil.process_iter():  # `ps` never shows it, nor a kernel's environment
            with contextlib.suppress(psutil.Error):
                assert TOKEN not in " ".join(p.cmdline())
        for k in _kernels(family):
            assert TOKEN not in str(k.environ())
        _stops_everything(proc, port, signal.SIGTERM)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()
