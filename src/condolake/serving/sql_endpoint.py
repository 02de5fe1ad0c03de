"""`condolake serve sql`: the lake over JDBC/ODBC (Spark Thrift Server, HiveServer2 protocol).

Design: one JVM, driven from Python. The command starts a PySpark session with Hive support
and Delta Lake (the jars and settings of every CondoLake job, `condolake.spark.spark_conf`),
registers every Delta table of the lake as an external table (`sql_catalog.sync_catalog`),
then starts `HiveThriftServer2` inside that same session through py4j
(`startWithSparkSession`) and blocks until SIGTERM or SIGINT, when it stops the server, the
session and the JVM, and returns.

Why not `spark-submit` of HiveThriftServer2 with an init step: the embedded Derby metastore
admits one JVM at a time, so registering tables first means either a second JVM start (about
as long as the server's own) or SQL init files whose failures surface only as log lines. Here
registration is plain Python over a plan that unit tests check, errors reach the user as
CondoLakeErrors, and the session has exactly the configuration of the batch jobs. The price
is two pyspark internals: the py4j gateway (to call the server class) and the gateway's
process (to wait until the JVM has exited before returning).

State lives under `<state_dir>/sql-endpoint/`: the Derby metastore (`metastore_db`),
`derby.log`, the warehouse (unused: every table is external) and a lock file that keeps a
second endpoint off the same metastore. Tables are registered by location, so each query
reads the latest Delta snapshot: new versions are visible without a restart; new tables
appear at the next start.

The endpoint has no authentication (HiveServer2 `NONE`: any user name is accepted) and Spark
SQL can write: whoever reaches host:port can change the lake. It listens on loopback unless
told otherwise, and says so when it is not.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import logging
import os
import socket
import subprocess
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from py4j.protocol import Py4JError
from pyspark.errors import PySparkException
from pyspark.sql import SparkSession

from condolake.config import Settings
from condolake.errors import ConfigError, DependencyError, ServiceError
from condolake.services import daemons
from condolake.services.daemons import Readiness
from condolake.services.jars import SPARK_CORE, java_executable, pyspark_home, resolved_jars
from condolake.services.ports import LOOPBACK
from condolake.services.stop_signals import stop_requests
from condolake.serving.sql_catalog import (
    CatalogReport,
    discover_tables,
    hadoop_delta_folders,
    local_delta_folders,
    sync_catalog,
)
from condolake.spark import spark_conf

ENDPOINT_FOLDER = "sql-endpoint"
HIVE = "hive"
LOCK_FILE = "endpoint.lock"
DEFAULT_DATABASE = "gold"
THRIFT_SERVER_JAR = "spark-hive-thriftserver_*.jar"
# HiveServer2 reads these before its configuration: a stray one would move the port.
HIVE_PORT_ENV = ("HIVE_SERVER2_THRIFT_PORT", "HIVE_SERVER2_THRIFT_BIND_HOST")
WILDCARD_HOSTS = {"0.0.0.0": LOOPBACK, "::": "::1", "": LOOPBACK}
LOOPBACK_HOSTS = frozenset({LOOPBACK, "localhost", "::1"})
ACCEPT_TIMEOUT_S = 180.0
POLL_INTERVAL_S = 0.5
CONNECT_TIMEOUT_S = 2.0
HEALTH_INTERVAL_S = 1.0
JVM_EXIT_TIMEOUT_S = 60.0
MAX_PORT = 65535

log = logging.getLogger(__name__)


def endpoint_folder(settings: Settings) -> Path:
    return settings.state_path / ENDPOINT_FOLDER


def endpoint_conf(settings: Settings, jar_paths: list[str], host: str, port: int
                  ) -> dict[str, str]:
    """The Spark configuration of the endpoint: a CondoLake job's, plus Hive and HiveServer2."""
    folder = endpoint_folder(settings)
    metastore = folder / "metastore_db"
    conf = spark_conf(settings, jar_paths)
    # Appended: of two -Dderby.system.home, Java keeps the last (the jobs' own is elsewhere).
    java_options = conf.get("spark.driver.extraJavaOptions", "")
    conf.update({
        "spark.sql.catalogImplementation": HIVE,
        "spark.sql.warehouse.dir": str(folder / "warehouse"),
        "spark.driver.extraJavaOptions": f"{java_options} -Dderby.system.home={folder}".strip(),
        "spark.hadoop.javax.jdo.option.ConnectionURL":
            f"jdbc:derby:;databaseName={metastore};create=true",
        "spark.hadoop.hive.server2.transport.mode": "binary",
        "spark.hadoop.hive.server2.thrift.bind.host": host,
        "spark.hadoop.hive.server2.thrift.port": str(port),
        # HiveServer2 runs each connection's session on threads that see the JVM's own class
        # path, not the loader `spark.jars` feeds: without this, Delta's catalog class is not
        # found when a client connects.
        "spark.driver.extraClassPath": os.pathsep.join(jar_paths),
    })
    return conf


def jdbc_url(host: str, port: int, database: str = DEFAULT_DATABASE) -> str:
    shown = f"[{host}]" if ":" in host else host  # an IPv6 address in a URL
    return f"jdbc:hive2://{shown}:{port}/{database}"


def beeline_command(host: str, port: int) -> str:
    return f"{pyspark_home() / 'bin' / 'beeline'} -u {jdbc_url(host, port)} -n $USER"


def check_port(host: str, port: int) -> None:
    """A ConfigError unless this process could listen on host:port right now."""
    if not 0 < port <= MAX_PORT:
        raise ConfigError(f"SQL endpoint port {port} is not a TCP port (1-{MAX_PORT})")
    try:
        family, kind, _, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except socket.gaierror as error:
        raise ConfigError(f"cannot listen on {host!r}: {error.strerror}") from error
    with socket.socket(family, kind) as probe:
        # As servers bind: connections of a previous run in TIME_WAIT do not block the port.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                raise ConfigError(
                    f"port {port} on {host} is already in use: stop what listens there, or "
                    "choose another port with --port or CONDOLAKE_SQL_PORT") from error
            raise ConfigError(f"cannot listen on {host}:{port}: {error.strerror}") from error


def thrift_server_jar() -> Path:
    """The HiveServer2 implementation in pyspark's jars; a DependencyError when absent."""
    jars = sorted((pyspark_home() / "jars").glob(THRIFT_SERVER_JAR))
    if not jars:
        raise DependencyError(
            f"{pyspark_home() / 'jars'} has no {THRIFT_SERVER_JAR}: the SQL endpoint needs "
            "the full pyspark distribution from PyPI (pip install pyspark)")
    return jars[-1]


@contextlib.contextmanager
def exclusive_folder(folder: Path) -> Iterator[None]:
    """Holds `folder`'s lock file for the duration; a ConfigError if another process does.

    The embedded Derby metastore accepts one JVM; the lock says so before a JVM starts, and
    the kernel releases it whenever this process ends, however it ends.
    """
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / LOCK_FILE).open("a+") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as error:
            raise ConfigError(
                f"another SQL endpoint already runs on {folder} (its metastore admits one "
                "server): stop it, or use another CONDOLAKE_STATE_DIR") from error
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def start_session(settings: Settings, jar_paths: list[str], host: str, port: int) -> SparkSession:
    for name in HIVE_PORT_ENV:
        os.environ.pop(name, None)
    if settings.spark_master.startswith("local"):
        os.environ.setdefault("SPARK_LOCAL_IP", LOOPBACK)
    log.info(f"starting Spark ({settings.spark_master}, driver memory "
             f"{settings.spark_driver_memory}) with Hive support and Delta Lake")
    builder = SparkSession.builder.appName("condolake-sql-endpoint")
    for key, value in endpoint_conf(settings, jar_paths, host, port).items():
        builder = builder.config(key, value)
    try:
        spark = builder.getOrCreate()
    except (PySparkException, Py4JError) as error:
        raise ServiceError(f"Spark did not start: {_first_line(error)}") from error
    if spark.conf.get("spark.sql.catalogImplementation") != HIVE:
        # getOrCreate hands back a session that already runs in this process, as it is.
        raise ServiceError("a Spark session without Hive support already runs in this "
                           "process; the SQL endpoint needs a process of its own")
    spark.sparkContext.setLogLevel(settings.log_level)
    return spark


def register_lake(spark: SparkSession, settings: Settings) -> None:
    """Every Delta table of the lake in the metastore, as `sql_catalog` plans it."""
    lake_path = settings.lake_path
    local_lake = "://" not in lake_path
    if local_lake and not Path(lake_path).is_dir():
        log.warning(f"warning: the lake {lake_path} does not exist yet")
    folders = local_delta_folders if local_lake else hadoop_delta_folders(spark)
    try:
        report = sync_catalog(spark, discover_tables(lake_path, folders))
    except (PySparkException, Py4JError) as error:
        raise ServiceError(
            f"the SQL endpoint's metastore in {endpoint_folder(settings)} failed: "
            f"{_first_line(error)}. It holds only table registrations: removing that folder "
            "is safe, the next start registers every table again") from error
    report_catalog(report, lake_path)


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def report_catalog(report: CatalogReport, lake_path: str) -> None:
    for conflict in report.plan.conflicts:
        log.warning(f"warning: {conflict}")
    for failure in report.failures:
        log.warning(f"warning: could not register: {failure}")
    if not (report.plan.created or report.plan.repointed or report.plan.unchanged):
        log.warning(f"warning: no Delta tables found in the lake {lake_path}: the databases are "
                    "empty; run `condolake batch`, then restart `condolake serve sql`")
    log.info(report.summary())


def start_thrift_server(spark: SparkSession) -> Any:
    """HiveServer2 in the session's JVM; it binds its port on a thread of its own."""
    jvm: Any = spark.sparkContext._jvm
    thriftserver = jvm.org.apache.spark.sql.hive.thriftserver
    try:
        # False: a failure is reported to us instead of ending the JVM (System.exit).
        return thriftserver.HiveThriftServer2.startWithSparkSession(spark._jsparkSession, False)
    except Py4JError as error:
        raise ServiceError(f"the Spark Thrift Server did not start: {error}") from error


def wait_until_accepting(host: str, port: int, alive: Callable[[], bool],
                         timeout_s: float = ACCEPT_TIMEOUT_S) -> None:
    """Polls host:port until a TCP connection succeeds; ServiceError on timeout or death."""
    target = WILDCARD_HOSTS.get(host, host)
    readiness = daemons.wait_for(
        lambda: daemons.accepts_connections(target, port, CONNECT_TIMEOUT_S),
        running=alive, timeout_s=timeout_s, poll_s=POLL_INTERVAL_S)
    if readiness is Readiness.EXITED:
        raise ServiceError("the SQL endpoint's Spark driver stopped during start-up "
                           "(see the log above)")
    if readiness is Readiness.TIMED_OUT:
        raise ServiceError(f"the SQL endpoint did not accept connections on {host}:{port} "
                           f"within {timeout_s:g}s (see the log above)")


def session_alive(spark: SparkSession) -> bool:
    try:
        return not spark.sparkContext._jsc.sc().isStopped()  # type: ignore[union-attr]
    except Py4JError:
        return False


def stop_session(spark: SparkSession) -> None:
    """Stops the session and waits until its JVM has exited (killed after a grace period).

    pyspark leaves the JVM running until Python exits; closing its stdin is how pyspark
    itself tells the gateway to exit.
    """
    gateway_process: subprocess.Popen[bytes] | None = getattr(
        spark.sparkContext._gateway, "proc", None)
    with contextlib.suppress(Py4JError):
        spark.stop()
    if gateway_process is None:
        return
    with contextlib.suppress(OSError):
        if gateway_process.stdin is not None:
            gateway_process.stdin.close()
    try:
        gateway_process.wait(timeout=JVM_EXIT_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        gateway_process.kill()
        gateway_process.wait()


def run_sql_endpoint(settings: Settings, host: str, port: int) -> None:
    """Serves the lake over HiveServer2 on host:port until SIGTERM or SIGINT."""
    check_port(host, port)
    java_executable()
    thrift_server_jar()
    # SIGTERM or SIGINT stops the endpoint cleanly; a second one interrupts at once.
    with (exclusive_folder(endpoint_folder(settings)),
          stop_requests(second_interrupts=True) as stopping):
        jars = [str(path) for path in resolved_jars(SPARK_CORE, settings.jar_cache_path)]
        spark = start_session(settings, jars, host, port)
        try:
            register_lake(spark, settings)
            if not stopping.is_set():
                _serve(spark, host, port, stopping)
        finally:
            log.info("stopping the SQL endpoint")
            stop_session(spark)
    log.info("SQL endpoint stopped")


def _serve(spark: SparkSession, host: str, port: int, stopping: threading.Event) -> None:
    server = start_thrift_server(spark)
    try:
        wait_until_accepting(host, port, lambda: session_alive(spark))
        log.info(f"SQL endpoint ready: {jdbc_url(host, port)} "
                 "(databases bronze, silver, gold, quarantine, ops)")
        log.info(f"connect with: {beeline_command(host, port)}")
        if host not in LOOPBACK_HOSTS:
            log.warning(f"warning: no authentication: anyone who reaches {host}:{port} can read "
                        "and change the lake's tables")
        log.info("stop with Ctrl+C (or SIGTERM)")
        while not stopping.wait(HEALTH_INTERVAL_S):
            if not session_alive(spark):
                raise ServiceError("the SQL endpoint's Spark driver stopped on its own "
                                   "(see the log above)")
    finally:
        with contextlib.suppress(Py4JError):
            server.stop()
