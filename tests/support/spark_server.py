"""A throwaway Spark Connect server in local mode, loaded with a demo warehouse, for the tests.

One JVM per test session: ``spark-submit`` from the ``pyspark`` wheel starts
``SparkConnectServer`` with ``local[2]`` on loopback, and every notebook kernel reaches it
as a Spark Connect client (``sc://127.0.0.1:PORT``), the way a team reaches a Spark
cluster or Databricks. Java comes from Debian (``.ci/run`` installs it); nothing is
downloaded.

The demo's tables are written as Parquet by DuckDB and registered in the server's
catalogue as tables over those files, with the same column types.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb

__all__ = ["SparkServer", "find_java", "require_spark", "server", "stop_all"]

# Small data, two cores, a few hundred short queries: what costs is per query, not per
# row. Two shuffle partitions instead of Spark's 200, no whole-stage code generation nor
# adaptive re-planning, and a JVM that compiles with C1 only and a serial GC halve the
# JVM's CPU (66 s -> 30 s for one team's run, measured on 2 shared cores). None changes a
# result (the test compares every table).
_CONF = {
    "spark.master": "local[2]",
    "spark.ui.enabled": "false",
    "spark.sql.shuffle.partitions": "2",
    "spark.default.parallelism": "2",
    "spark.sql.codegen.wholeStage": "false",
    "spark.sql.adaptive.enabled": "false",
    "spark.driver.extraJavaOptions": "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC",
    "spark.sql.session.timeZone": "UTC",
    "spark.driver.memory": "1g",
    "spark.connect.grpc.binding.address": "127.0.0.1",
}
_START_TIMEOUT_S = 180


def find_java() -> str | None:
    """The ``java`` the server would use (``JAVA_HOME`` first, then ``PATH``), or None."""
    home = os.environ.get("JAVA_HOME")
    if home and (Path(home) / "bin" / "java").exists():
        return str(Path(home) / "bin" / "java")
    return shutil.which("java")


def require_spark() -> bool:
    """Whether Java and pyspark are here; outside CI their absence skips, in CI it fails."""
    try:
        import pyspark  # noqa: F401
        import pyspark.sql.connect.session  # noqa: F401  (grpc and friends)
    except ImportError as exc:
        if os.environ.get("CI"):
            raise AssertionError(f"CI must have pyspark[connect] installed ({exc})") from None
        return False
    if find_java() is None:
        if os.environ.get("CI"):
            raise AssertionError("CI must have Java installed (see .ci/run)")
        return False
    return True


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class SparkServer:
    """A running Spark Connect server: its URL, folder and process."""

    port: int
    folder: Path
    process: subprocess.Popen

    @property
    def url(self) -> str:
        return f"sc://127.0.0.1:{self.port}"

    def log(self) -> str:
        with contextlib.suppress(OSError):
            return (self.folder / "server.log").read_text(errors="replace")[-4000:]
        return ""

    def stop(self) -> None:
        if self.process.poll() is None:
            # the server's own process group: spark-submit's shell and its JVM
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        shutil.rmtree(self.folder, ignore_errors=True)


def start() -> SparkServer:
    """Start ``SparkConnectServer`` (local mode) and wait until it accepts connections."""
    import pyspark

    home = Path(pyspark.__file__).parent
    folder = Path(tempfile.mkdtemp(prefix="wb-spark-", dir="/tmp"))
    port = _free_port()
    conf = {
        **_CONF,
        "spark.connect.grpc.binding.port": str(port),
        "spark.sql.warehouse.dir": str(folder / "warehouse"),
        "spark.local.dir": str(folder / "tmp"),
    }
    args = [str(home / "bin" / "spark-submit"), "--class"]
    args += ["org.apache.spark.sql.connect.service.SparkConnectServer"]
    for k, v in conf.items():
        args += ["--conf", f"{k}={v}"]
    args += ["spark-internal"]
    env = {**os.environ, "SPARK_HOME": str(home), "SPARK_LOCAL_IP": "127.0.0.1"}
    java = find_java()
    if java and not os.environ.get("JAVA_HOME"):
        env["JAVA_HOME"] = str(Path(os.path.realpath(java)).parent.parent)
    log = open(folder / "server.log", "wb")  # noqa: SIM115 (the server writes it until stopped)
    process = subprocess.Popen(
        args, cwd=folder, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    log.close()
    srv = SparkServer(port, folder, process)
    deadline = time.monotonic() + _START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            text = srv.log()
            srv.stop()
            raise AssertionError(f"the Spark Connect server stopped at start:\n{text}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
            return srv
        time.sleep(0.5)
    text = srv.log()
    srv.stop()
    raise AssertionError(
        f"the Spark Connect server did not listen within {_START_TIMEOUT_S}s:\n{text}"
    )


def load_duckdb(srv: SparkServer, duckdb_path: Path) -> dict[str, int]:
    """Register every table of a DuckDB file in the server: Parquet written by DuckDB,
    read by Spark with the same column types (DuckDB's TIMESTAMP is Spark's TIMESTAMP_NTZ)."""
    from pyspark.sql import SparkSession

    files = srv.folder / "parquet"
    files.mkdir()
    src = duckdb.connect(str(duckdb_path), read_only=True)
    try:
        tables = [t for (t,) in src.execute("SHOW TABLES").fetchall()]
        counts = {}
        for t in tables:
            src.execute(f"COPY \"{t}\" TO '{files / t}.parquet' (FORMAT parquet)")
            counts[t] = src.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0]
    finally:
        src.close()
    session = SparkSession.builder.remote(srv.url).getOrCreate()
    try:
        for t in tables:
            session.sql(f"CREATE TABLE `{t}` USING parquet LOCATION '{files / t}.parquet'")
    finally:
        session.stop()
    return counts


_STARTED: dict[str, SparkServer] = {}


def server(duckdb_path: Path) -> SparkServer:
    """The session's server loaded with ``duckdb_path`` (started on first use)."""
    key = str(duckdb_path)
    if key not in _STARTED:
        srv = start()
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
