"""A throwaway PostgreSQL server on loopback, loaded with a demo warehouse, for the tests.

Started from Debian's packages (``/usr/lib/postgresql/*/bin``) as the ``postgres`` user,
because the server refuses to run as root. One server per test session, shared by
``test_postgres.py`` and ``test_secrets.py`` through :func:`server`.
"""

from __future__ import annotations

import atexit
import contextlib
import glob
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import duckdb

__all__ = ["AS_OF", "TeamRun", "run_team", "server", "tiny_warehouse"]

USER = "workbook"
DATABASE = "warehouse"
# DuckDB type -> PostgreSQL type: the contract's kinds, kept exactly
_TYPES = {
    "VARCHAR": "TEXT",
    "DATE": "DATE",
    "TIMESTAMP": "TIMESTAMP",
    "INTEGER": "INTEGER",
    "BIGINT": "BIGINT",
    "DOUBLE": "DOUBLE PRECISION",
}


@dataclass
class Server:
    """A running server: where it listens and the URL (with its password) to reach it."""

    port: int
    password: str
    folder: Path
    bin: Path

    @property
    def url(self) -> str:
        return f"postgres://{USER}:{self.password}@127.0.0.1:{self.port}/{DATABASE}"

    def stop(self) -> None:
        subprocess.run(
            ["runuser", "-u", "postgres", "--", str(self.bin / "pg_ctl"), "-D"]
            + [str(self.folder / "data"), "-m", "immediate", "stop"],
            capture_output=True,
            check=False,
        )
        shutil.rmtree(self.folder, ignore_errors=True)


def find_bin() -> Path | None:
    """The newest installed PostgreSQL's ``bin`` folder, or None."""
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/postgres"),
        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0,
    )
    return Path(found[-1]).parent if found else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(bin_dir: Path) -> Server:
    """initdb into a fresh folder owned by ``postgres``, start on 127.0.0.1 with passwords."""
    folder = Path(tempfile.mkdtemp(prefix="wb-pg-", dir="/tmp"))
    folder.chmod(0o755)  # the postgres user must reach its data folder
    shutil.chown(folder, "postgres")
    password = "pw-" + secrets.token_hex(12)
    pwfile = folder / "pw"
    pwfile.write_text(password + "\n")
    shutil.chown(pwfile, "postgres")
    run_as = ["runuser", "-u", "postgres", "--"]
    subprocess.run(
        [*run_as, str(bin_dir / "initdb"), "-D", str(folder / "data"), "-U", USER]
        + ["--pwfile", str(pwfile), "--auth", "scram-sha-256", "-E", "UTF8", "--no-sync"],
        capture_output=True,
        check=True,
    )
    pwfile.unlink()
    port = _free_port()
    options = (
        f"-c listen_addresses=127.0.0.1 -p {port} -c unix_socket_directories={folder} "
        "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    )
    subprocess.run(
        [*run_as, str(bin_dir / "pg_ctl"), "-D", str(folder / "data"), "-o", options]
        + ["-l", str(folder / "server.log"), "-w", "-t", "60", "start"],
        capture_output=True,
        check=True,
    )
    srv = Server(port, password, folder, bin_dir)
    import psycopg

    admin = f"postgres://{USER}:{password}@127.0.0.1:{port}/postgres"
    with psycopg.connect(admin, autocommit=True) as con:
        con.execute(f"CREATE DATABASE {DATABASE}")
    return srv


def load_duckdb(srv: Server, duckdb_path: Path) -> dict[str, int]:
    """Copy every table of a DuckDB file into the server, with the same column types."""
    import psycopg

    counts = {}
    src = duckdb.connect(str(duckdb_path), read_only=True)
    try:
        with psycopg.connect(srv.url) as con:
            for (table,) in src.execute("SHOW TABLES").fetchall():
                cols = src.execute(f'DESCRIBE "{table}"').fetchall()
                ddl = ", ".join(f'"{c[0]}" {_TYPES[c[1]]}' for c in cols)
                con.execute(f'CREATE TABLE "{table}" ({ddl})')
                names = ", ".join(f'"{c[0]}"' for c in cols)
                rows = src.execute(f'SELECT * FROM "{table}"').fetchall()
                with con.cursor().copy(f'COPY "{table}" ({names}) FROM STDIN') as copy:
                    for row in rows:
                        copy.write_row(row)
                counts[table] = len(rows)
            con.commit()
    finally:
        src.close()
    return counts


_STARTED: dict[str, Server] = {}


def server(duckdb_path: Path) -> Server:
    """The session's server loaded with ``duckdb_path`` (started on first use)."""
    key = str(duckdb_path)
    if key not in _STARTED:
        bin_dir = find_bin()
        assert bin_dir is not None, "PostgreSQL is not installed"
        srv = start(bin_dir)
        atexit.register(srv.stop)
        try:
            load_duckdb(srv, duckdb_path)
        except Exception:
            srv.stop()
            raise
        _STARTED[key] = srv
    return _STARTED[key]


def stop_all() -> None:
    for srv in _STARTED.values():
        with contextlib.suppress(Exception):
            srv.stop()
    _STARTED.clear()


#: the tiny demo's last day: both runs use it, so they answer for the same date
AS_OF = "2026-10-31"
_CACHE: dict[str, object] = {}


def _scratch() -> Path:
    if "scratch" not in _CACHE:
        folder = Path(tempfile.mkdtemp(prefix="wb-server-test-"))
        atexit.register(shutil.rmtree, folder, True)
        _CACHE["scratch"] = folder
    return _CACHE["scratch"]  # type: ignore[return-value]


def tiny_warehouse() -> Path:
    """A tiny demo DuckDB (30k events, 2 areas), built once per session."""
    if "tiny" not in _CACHE:
        from helpers.data.demo import DemoSpec, generate

        out = _scratch() / "tiny.duckdb"
        generate(DemoSpec(events=30_000, accounts=150, areas=2), out)
        _CACHE["tiny"] = out
    return _CACHE["tiny"]  # type: ignore[return-value]


@dataclass
class TeamRun:
    """One `workbook run` of a team in its own workbook root, with what it printed."""

    root: Path
    notebooks: list[str]
    returncode: int
    stdout: str
    stderr: str

    @property
    def run_dir(self) -> Path:
        return (self.root / "outputs" / self.team / "latest").resolve()

    @property
    def team(self) -> str:
        return self.root.name.split("-", 1)[1]


def run_team(team: str, *, url: str | None = None, label: str = "pg") -> TeamRun:
    """Run every notebook of ``team`` with the real CLI on the tiny warehouse.

    With ``url``, the team's params say ``source: env:WAREHOUSE_URL`` and the URL (with
    its password) is given only through the environment; ``label`` names the run's root
    (one per server kind). Cached per (team, url).
    """
    import sys

    from helpers import paths
    from helpers.params import NOTEBOOKS

    key = f"run:{team}:{url}"
    if key in _CACHE:
        return _CACHE[key]  # type: ignore[return-value]
    root = _scratch() / f"{label if url else 'duckdb'}-{team}"
    shutil.copytree(paths.ROOT / "params", root / "params")
    (root / "data").mkdir()
    (root / "data" / "demo.duckdb").symlink_to(tiny_warehouse())
    (root / "outputs").mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("WORKBOOK_")}
    env["WORKBOOK_ROOT"] = str(root)
    if url:
        with open(root / "params" / f"{team}.yaml", "a") as f:
            f.write("\nsource: env:WAREHOUSE_URL\n")
        env["WAREHOUSE_URL"] = url
    notebooks = [n for n in NOTEBOOKS if (paths.notebooks_dir() / f"{n}.ipynb").exists()]
    args = [sys.executable, "-m", "helpers", "run", "--team", team, "--as-of", AS_OF]
    for n in notebooks:
        args += ["--notebook", n]
    done = subprocess.run(args, capture_output=True, text=True, env=env, timeout=900)
    result = TeamRun(root, notebooks, done.returncode, done.stdout, done.stderr)
    _CACHE[key] = result
    return result


def require_postgres() -> Path | None:
    """The bin folder; None (skip) only outside CI, where a missing server is a failure."""
    bin_dir = find_bin()
    if bin_dir is None and os.environ.get("CI"):
        raise AssertionError("CI must have PostgreSQL installed (see .ci/run)")
    return bin_dir
