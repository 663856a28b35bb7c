"""Serving the pages: ``workbook serve``, the server's command line, and stopping it cleanly."""

from __future__ import annotations

import contextlib
import ctypes
import ipaddress
import os
import re
import secrets
import signal
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from .. import paths
from ..errors import WorkbookError

__all__ = [
    "DASHBOARDS_DIR",
    "TOKEN_ENV",
    "is_loopback",
    "new_token_file",
    "read_token_file",
    "serve",
    "server_command",
    "stop_server",
]

#: The live (Voila) notebooks and the ``workbook`` Voila template.
DASHBOARDS_DIR = paths.dashboards_dir()
#: The environment variable that holds the token (the server removes it before kernels start).
TOKEN_ENV = "WORKBOOK_DASHBOARD_TOKEN"

_TOKEN = re.compile(r"^[A-Za-z0-9_-]{16,256}$")
_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$")


def is_loopback(host: str) -> bool:
    """Whether ``host`` is ``localhost`` or a loopback address."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _check_token(token: str) -> str:
    if not _TOKEN.match(token):
        raise WorkbookError("The token must be 16 to 256 letters, digits, '-' or '_'")
    return token


def read_token_file(path: str | os.PathLike[str]) -> str:
    """The token in ``path``: a file of this user that nobody else may read (mode 0600).

    Raises
    ------
    WorkbookError
        When the file is missing, not a regular file of this user, readable by others,
        or holds no valid token.
    """
    p = Path(path).expanduser()
    try:
        fd = os.open(p, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError as exc:
        raise WorkbookError(f"The token file {p} cannot be read: {exc.strerror}") from None
    with os.fdopen(fd, encoding="ascii", errors="replace") as f:
        info = os.fstat(f.fileno())
        if not stat.S_ISREG(info.st_mode) or info.st_uid != os.getuid():
            raise WorkbookError(f"The token file {p} must be a regular file of this user")
        if info.st_mode & 0o077:
            raise WorkbookError(
                f"The token file {p} is readable by others (mode {stat.S_IMODE(info.st_mode):o}): "
                f"run `chmod 600 {p}`"
            )
        text = f.read(1024).strip()
    try:
        return _check_token(text)
    except WorkbookError:
        raise WorkbookError(
            f"The token file {p} must hold one token of 16 to 256 letters, digits, '-' or '_'"
        ) from None


def new_token_file(path: str | os.PathLike[str]) -> str:
    """Write a fresh random token into a new file ``path`` (mode 0600) and return it."""
    token = secrets.token_urlsafe(32)
    fd = os.open(Path(path).expanduser(), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(token + "\n")
    return token


def _token(token: str | None, token_file: str | os.PathLike[str] | None) -> str | None:
    """The token to use: given (Python callers), else from the file, else the environment."""
    if token is not None:
        return _check_token(token)
    if token_file is not None:
        return read_token_file(token_file)
    env = os.environ.get(TOKEN_ENV)
    return _check_token(env) if env else None


def server_command(
    host: str = "127.0.0.1",
    port: int = 8866,
    *,
    has_token: bool = False,
    server_names: Sequence[str] = (),
    pool_size: int = 1,
    max_kernels: int = 4,
    cull_idle_s: int = 600,
    unconnected_s: int = 90,
    disconnected_s: int = 30,
    cull_interval_s: int = 10,
    base_url: str = "/",
    notebooks_dir: Path | None = None,
    verbose: bool = False,
    currency: str = "$",
    stale_days: int = 8,
) -> list[str]:
    """The server's command line (no secret in it: the token travels in the environment).

    See :func:`serve` for the options.
    """
    if not isinstance(port, int) or not 1 <= port <= 65535:
        raise WorkbookError(f"The value for `port` must be a number from 1 to 65535, not {port!r}")
    if not is_loopback(host) and not has_token:
        raise WorkbookError(
            f"Serving on {host!r} makes the dashboards reachable from other machines: "
            f"give a token (--token-file, or {TOKEN_ENV} in the environment), or keep "
            "host 127.0.0.1 behind a reverse proxy with authentication"
        )
    for name in server_names:
        if not _NAME.match(name) or len(name) > 253:
            raise WorkbookError(f"The server name {name!r} is not a host name")
    if not base_url.startswith("/") or not base_url.endswith("/"):
        raise WorkbookError(
            f"The value for `base_url` must start and end with '/', not {base_url!r}"
        )
    for key, value in {
        "pool_size": pool_size,
        "max_kernels": max_kernels,
        "cull_idle_s": cull_idle_s,
        "unconnected_s": unconnected_s,
        "disconnected_s": disconnected_s,
        "cull_interval_s": cull_interval_s,
    }.items():
        if not isinstance(value, int) or value < (0 if key == "pool_size" else 1):
            raise WorkbookError(f"The value for `{key}` must be a whole number ≥ 1, not {value!r}")
    if not isinstance(currency, str) or not 1 <= len(currency) <= 3 or not currency.isprintable():
        raise WorkbookError(
            f"The value for `currency` must be a sign of 1 to 3 characters, such as $ or €, "
            f"not {currency!r}"
        )
    if not isinstance(stale_days, int) or stale_days < 1:
        raise WorkbookError(
            f"The value for `stale_days` must be a whole number ≥ 1, not {stale_days!r}"
        )
    folder = notebooks_dir or DASHBOARDS_DIR
    manager = "helpers.dashboards.kernels.BoundedKernelManager"
    return [
        sys.executable,
        "-m",
        "helpers.dashboards.app",
        str(folder),
        f"--Voila.ip={host}",
        f"--Voila.port={port}",
        "--Voila.port_retries=0",
        "--Voila.open_browser=False",
        f"--Voila.base_url={base_url}",
        f"--Voila.config_file_paths={folder}",
        f"--Voila.log_level={'INFO' if verbose else 'WARN'}",
        f"--DashboardApp.notebooks_folder={folder}",
        *(f"--DashboardApp.server_names={name}" for name in server_names),
        f"--DashboardApp.currency={currency}",
        f"--DashboardApp.stale_days={stale_days}",
        # live pages: preheated kernels wait at wait_for_request() for their visitor
        f"--VoilaConfiguration.multi_kernel_manager_class={manager}",
        f"--VoilaConfiguration.preheat_kernel={pool_size > 0}",
        f"--VoilaConfiguration.default_pool_size={pool_size}",
        "--VoilaKernelManager.fill_delay=2",
        # no code, no tracebacks, no ?template= / ?theme= from visitors, no files served;
        # the workbook template writes the pages' own HTML straight into the page
        "--VoilaConfiguration.template=workbook",
        "--VoilaConfiguration.strip_sources=True",
        "--VoilaConfiguration.show_tracebacks=False",
        "--VoilaConfiguration.allow_template_override=NO",
        "--VoilaConfiguration.allow_theme_override=NO",
        # bounded kernels: a cap, and culling of unconnected, disconnected and idle ones
        f"--BoundedKernelManager.max_kernels={max_kernels}",
        f"--BoundedKernelManager.unconnected_timeout={unconnected_s}",
        f"--BoundedKernelManager.disconnected_timeout={disconnected_s}",
        f"--MappingKernelManager.cull_idle_timeout={cull_idle_s}",
        f"--MappingKernelManager.cull_interval={cull_interval_s}",
        "--MappingKernelManager.cull_connected=True",
        # kernels' sockets encrypted (CurveZMQ) where the kernel supports it
        "--MappingKernelManager.transport_encryption=auto",
    ]


def _check_port_free(host: str, port: int) -> None:
    """Refuse at once when something already listens on the port (an earlier server)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as exc:
            raise WorkbookError(
                f"Port {port} on {host} is taken ({exc.strerror}): is `workbook serve` already "
                "running? Stop it, or choose another --port"
            ) from None


def _die_with_parent() -> None:
    """In the server's process: get SIGTERM when ``workbook serve`` dies (Linux)."""
    with contextlib.suppress(Exception):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def serve(
    host: str = "127.0.0.1",
    port: int = 8866,
    token: str | None = None,
    *,
    token_file: str | os.PathLike[str] | None = None,
    server_names: Sequence[str] = (),
    pool_size: int = 1,
    max_kernels: int = 4,
    cull_idle_s: int = 600,
    unconnected_s: int = 90,
    disconnected_s: int = 30,
    cull_interval_s: int = 10,
    base_url: str = "/",
    notebooks_dir: Path | None = None,
    wait: bool = True,
    env: Mapping[str, str] | None = None,
    quiet: bool = False,
    verbose: bool = False,
    currency: str = "$",
    stale_days: int = 8,
) -> int | subprocess.Popen:
    """Serve the PM pages (``workbook serve``, ``make serve``).

    ``http://<host>:<port>/`` is the team list; ``/team/<team>`` a team's page. Both are
    the recorded results of each team's ``latest`` run, rendered once per run, with no
    kernel; only the interactive notebooks in ``dashboards/`` run in (bounded) kernels.

    Parameters
    ----------
    host
        Address to bind. Anything but a loopback address needs a token.
    port
        Port to bind (fails rather than picking another one when taken).
    token
        Access token (Python callers only). Otherwise read from ``token_file`` (a file of
        this user with mode 0600), else from ``$WORKBOOK_DASHBOARD_TOKEN``; never from a
        command line. Visitors give it once as ``?token=…`` (a cookie keeps them in).
    token_file
        File holding the token (see :func:`new_token_file` to create one).
    server_names
        Host names visitors use besides loopback addresses, e.g. a reverse proxy's public
        name; a request naming any other host is refused (DNS rebinding).
    pool_size
        Preheated kernels kept ready per live notebook (each ~110–175 MB).
    max_kernels
        Kernels serving visitors at once; above it live pages answer "busy" (503).
    cull_idle_s, unconnected_s, disconnected_s, cull_interval_s
        Seconds after which a connected idle kernel, a kernel no browser connected to,
        and a kernel whose page went away are shut down; how often that is checked.
    base_url
        URL prefix, for a reverse proxy serving the dashboards under a path.
    notebooks_dir
        Folder of the live notebooks (default ``dashboards/``).
    wait
        Block until the server stops and return its exit code (default): SIGINT and
        SIGTERM stop it with every kernel. With False, return the running
        :class:`subprocess.Popen` (tests, benchmarks; stop it with :func:`stop_server`).
    env
        Extra environment for the server and its kernels.
    quiet
        Send the server's log to /dev/null instead of the terminal.
    verbose
        Log every request (INFO) instead of warnings only.
    currency
        The sign of money columns on the pages (1 to 3 characters).
    stale_days
        The team list marks a team stale when its run finished more than this many days
        ago, or ran on data this much older than the run.

    Raises
    ------
    WorkbookError
        For a non-loopback ``host`` without a token, a bad token, token file or option.
    """
    token = _token(token, token_file)
    folder = notebooks_dir or DASHBOARDS_DIR
    cmd = server_command(
        host,
        port,
        has_token=token is not None,
        server_names=server_names,
        pool_size=pool_size,
        max_kernels=max_kernels,
        cull_idle_s=cull_idle_s,
        unconnected_s=unconnected_s,
        disconnected_s=disconnected_s,
        cull_interval_s=cull_interval_s,
        base_url=base_url,
        notebooks_dir=folder,
        verbose=verbose,
        currency=currency,
        stale_days=stale_days,
    )
    _check_port_free(host, port)
    run_env = {**os.environ, **(env or {})}
    run_env.pop(TOKEN_ENV, None)
    if token:
        run_env[TOKEN_ENV] = token  # the server reads it and removes it before any kernel
    # the preheated kernels fetch their request over this address
    wildcard = host in ("0.0.0.0", "::", "") or is_loopback(host)
    run_env["VOILA_APP_IP"] = "127.0.0.1" if wildcard else host
    # the `workbook` Voila template lives in dashboards/jupyter/voila/templates/
    templates = paths.dashboards_dir() / "jupyter"
    run_env["JUPYTER_PATH"] = os.pathsep.join(
        p for p in (str(templates), run_env.get("JUPYTER_PATH")) if p
    )
    run_env.setdefault("WORKBOOK_ROOT", str(paths.root()))
    # one BLAS/OpenMP thread per page kernel, as in a scheduled run (helpers.run.kernels)
    from ..run.kernels import MATHS_THREADS

    run_env.update({name: run_env.get(name, "1") for name in MATHS_THREADS})
    out = subprocess.DEVNULL if quiet else None
    # its own session, so a terminal's Ctrl-C reaches `workbook serve`, which stops it in order
    proc = subprocess.Popen(
        cmd,
        cwd=folder,
        env=run_env,
        stdin=subprocess.DEVNULL,
        stdout=out,
        stderr=out,
        start_new_session=True,
        preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
    )
    if not wait:
        return proc
    return _supervise(proc, host, port, base_url, token is not None, quiet)


def _supervise(
    proc: subprocess.Popen, host: str, port: int, base_url: str, has_token: bool, quiet: bool
) -> int:
    """Wait for the server; on SIGINT or SIGTERM stop it and every kernel, then return."""
    stopping = []

    def on_signal(signum, frame):
        stopping.append(signum)
        raise KeyboardInterrupt

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        if _wait_listening(proc, host, port):
            if not quiet:
                shown = host if not host.startswith(":") and ":" not in host else f"[{host}]"
                if host in ("0.0.0.0", "::", ""):
                    shown = socket.gethostname()
                print(f"PM dashboards: http://{shown}:{port}{base_url}", flush=True)
                if has_token:
                    print("Visitors sign in once with the token (add ?token=<token>).", flush=True)
                print("Stop with Ctrl-C.", flush=True)
        elif proc.poll() not in (None, 0):
            print(f"The dashboards could not start on {host}:{port} (is the port taken?)")
        return proc.wait()
    except KeyboardInterrupt:
        return stop_server(proc)
    finally:
        if proc.poll() is None:
            stop_server(proc)
        for s, handler in previous.items():
            signal.signal(s, handler)


def _wait_listening(proc: subprocess.Popen, host: str, port: int, timeout: float = 120) -> bool:
    target = "127.0.0.1" if host in ("0.0.0.0", "") else "::1" if host == "::" else host
    end = time.monotonic() + timeout
    while time.monotonic() < end and proc.poll() is None:
        with contextlib.suppress(OSError), socket.create_connection((target, port), timeout=1):
            return True
        time.sleep(0.1)
    return False


def _family(pid: int) -> list:
    """The server and every process it started (kernels run in their own sessions)."""
    import psutil

    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.Error:
        return []


def _orphans(pid: int) -> list:
    """Kernels a dead server left behind: processes whose ``JPY_PARENT_PID`` is its pid."""
    import psutil

    found = []
    for p in psutil.process_iter(["pid"]):
        with contextlib.suppress(psutil.Error):
            if p.environ().get("JPY_PARENT_PID") == str(pid):
                found.append(p)
    return found


def stop_server(proc: subprocess.Popen, timeout: float = 20) -> int:
    """Stop a server started by :func:`serve` and every kernel it started.

    SIGTERM first (the server shuts its kernels down and exits); whatever is still
    running after ``timeout`` seconds, the server or a kernel, is killed.
    """
    import psutil

    family = _family(proc.pid)
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
    try:
        code = proc.wait(timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        code = proc.wait()
    for p in [*family[1:], *_orphans(proc.pid)]:
        with contextlib.suppress(psutil.Error):
            if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
                p.kill()
    return code
