"""Serving the pages: the Voila command line and `workbook serve`."""

from __future__ import annotations

import ipaddress
import json
import os
import re
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from .. import paths
from ..errors import WorkbookError

__all__ = ["DASHBOARDS_DIR", "serve", "voila_command"]

#: The Voila notebooks (landing page ``index.ipynb`` and team page ``team.ipynb``).
DASHBOARDS_DIR = paths.dashboards_dir()


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def voila_command(
    host: str = "127.0.0.1",
    port: int = 8866,
    token: str | None = None,
    *,
    pool_size: int = 4,
    cull_idle_s: int = 900,
    base_url: str = "/",
    notebooks_dir: Path | None = None,
) -> list[str]:
    """The Voila command line :func:`serve` runs (see :func:`serve` for the options)."""
    if not isinstance(port, int) or not 1 <= port <= 65535:
        raise WorkbookError(f"The value for `port` must be a number from 1 to 65535, not {port!r}")
    if not _is_loopback(host) and not token:
        raise WorkbookError(
            f"Serving on {host!r} makes the dashboards reachable from other machines: "
            "give a token (--token or WORKBOOK_DASHBOARD_TOKEN), or keep host 127.0.0.1 "
            "behind a reverse proxy with authentication"
        )
    if token is not None and (len(token) < 16 or not re.fullmatch(r"[A-Za-z0-9_-]+", token)):
        raise WorkbookError("The value for `token` must be at least 16 letters, digits, '-' or '_'")
    pools = {"team.ipynb": {"pool_size": pool_size}, "index.ipynb": {"pool_size": 1}}
    folder = notebooks_dir or DASHBOARDS_DIR
    return [
        sys.executable,
        "-m",
        "voila",
        str(folder),
        "--no-browser",
        f"--Voila.ip={host}",
        f"--Voila.port={port}",
        "--Voila.port_retries=0",
        f"--Voila.base_url={base_url}",
        f"--Voila.token={token or ''}",
        f"--Voila.config_file_paths=['{folder}']",
        # every page view reads a small snapshot: kernels are preheated, the page waits
        # for the request (wait_for_request) before it reads the query string
        "--VoilaConfiguration.preheat_kernel=True",
        f"--VoilaKernelManager.kernel_pools_config={json.dumps(pools)}",
        "--VoilaKernelManager.fill_delay=2",
        # no code, no tracebacks, no ?template= / ?theme= from visitors, no files served
        # our template writes the pages' own HTML straight into the page (no JS wait)
        "--VoilaConfiguration.template=workbook",
        "--VoilaConfiguration.strip_sources=True",
        "--VoilaConfiguration.show_tracebacks=False",
        "--VoilaConfiguration.allow_template_override=NO",
        "--VoilaConfiguration.allow_theme_override=NO",
        "--VoilaConfiguration.file_allowlist=[]",
        # a closed or forgotten tab gives its kernel back
        f"--MappingKernelManager.cull_idle_timeout={cull_idle_s}",
        "--MappingKernelManager.cull_interval=60",
        "--MappingKernelManager.cull_connected=False",
    ]


def serve(
    host: str = "127.0.0.1",
    port: int = 8866,
    token: str | None = None,
    *,
    pool_size: int = 4,
    cull_idle_s: int = 900,
    base_url: str = "/",
    wait: bool = True,
    env: Mapping[str, str] | None = None,
    quiet: bool = False,
) -> int | subprocess.Popen:
    """Start Voila on the PM dashboards (``workbook serve``, ``make serve``).

    The landing page is ``http://<host>:<port>/voila/render/index.ipynb``; each team
    page is ``team.ipynb?team=<team>`` next to it. Pages read the runs in
    :func:`helpers.paths.outputs_dir`, never the warehouse.

    Parameters
    ----------
    host
        Address to bind. Anything but a loopback address needs ``token``.
    port
        Port to bind (fails rather than picking another one when taken).
    token
        Access token visitors add once as ``?token=...``; default
        ``$WORKBOOK_DASHBOARD_TOKEN`` if set. Required for a non-loopback ``host``.
    pool_size
        Preheated kernels kept ready for team pages (each ~100 MB).
    cull_idle_s
        Seconds after which an idle page's kernel is shut down.
    base_url
        URL prefix, for a reverse proxy serving the dashboards under a path.
    wait
        Block until the server stops and return its exit code (default); with False,
        return the running :class:`subprocess.Popen` (tests, benchmarks).
    env
        Extra environment for the server and its kernels.
    quiet
        Send the server's log to /dev/null instead of the terminal.

    Raises
    ------
    WorkbookError
        For a non-loopback ``host`` without a token, a bad token or port.
    """
    if token is None:
        token = os.environ.get("WORKBOOK_DASHBOARD_TOKEN") or None
    cmd = voila_command(
        host, port, token, pool_size=pool_size, cull_idle_s=cull_idle_s, base_url=base_url
    )
    run_env = {**os.environ, **(env or {})}
    # the preheated kernels fetch their request over this address
    wildcard = host in ("0.0.0.0", "::", "") or _is_loopback(host)
    run_env["VOILA_APP_IP"] = "127.0.0.1" if wildcard else host
    # the `workbook` Voila template lives in dashboards/jupyter/voila/templates/
    run_env["JUPYTER_PATH"] = os.pathsep.join(
        p for p in (str(DASHBOARDS_DIR / "jupyter"), run_env.get("JUPYTER_PATH")) if p
    )
    run_env.setdefault("WORKBOOK_ROOT", str(paths.root()))
    out = subprocess.DEVNULL if quiet else None
    # its own process group, so whoever started it can stop it with all its kernels
    proc = subprocess.Popen(
        cmd, cwd=DASHBOARDS_DIR, env=run_env, stdout=out, stderr=out, start_new_session=True
    )
    if not wait:
        return proc
    if not quiet:
        shown = "localhost" if _is_loopback(host) else host
        print(f"PM dashboards: http://{shown}:{port}{base_url}voila/render/index.ipynb")
    try:
        return proc.wait()
    except KeyboardInterrupt:
        proc.terminate()
        return proc.wait()
