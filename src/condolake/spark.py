"""The one SparkSession builder every job uses: Delta Lake on, jars from the local cache, the
JVM's own messages in a log file instead of the console."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

from pyspark import SparkConf, SparkContext
from pyspark.java_gateway import launch_gateway
from pyspark.sql import SparkSession

from condolake.config import Settings
from condolake.errors import ConfigError
from condolake.services.jars import SPARK_CORE, JarBundle, resolved_jars

log = logging.getLogger(__name__)
DELTA_EXTENSION = "io.delta.sql.DeltaSparkSessionExtension"
DELTA_CATALOG = "org.apache.spark.sql.delta.catalog.DeltaCatalog"
LOOPBACK = "127.0.0.1"
# pyspark logs every analysis error with its whole JVM stack before raising it; the jobs
# report failures themselves, in one readable sentence.
NOISY_PYSPARK_LOGGERS = ("SQLQueryContextLogger", "DataFrameQueryContextLogger")
# Python-side libraries whose messages belong in the log file, not on the console.
LIBRARY_LOGGERS = ("py4j", "pyspark")
LOG_FOLDER = "logs"
# Every Delta commit of delta-spark 4.0 verifies the table's whole file list when the session
# or the JVM is not in UTC (allFilesInCrc.verificationMode.forceOnNonUTC): Spark computes in
# UTC, and run dates are taken in CONDOLAKE_TIMEZONE by the jobs themselves.
SPARK_TIME_ZONE = "UTC"
LOG_LEVELS = ("OFF", "FATAL", "ERROR", "WARN", "INFO", "DEBUG", "TRACE", "ALL")
FILE_LOG_LEVEL = "WARN"  # the log file gets at least warnings, whatever the console shows
LOG4J_TEMPLATE = """\
# Written by condolake for one process: Spark's and its libraries' messages.
status = error
rootLogger.level = {root_level}
rootLogger.appenderRef.file.ref = file
rootLogger.appenderRef.console.ref = console
appender.file.type = File
appender.file.name = file
appender.file.fileName = {log_file}
appender.file.append = true
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = %d{{yyyy-MM-dd HH:mm:ss.SSS}} %p %c{{1}}: %m%n%ex
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_ERR
appender.console.filter.threshold.type = ThresholdFilter
appender.console.filter.threshold.level = {console_level}
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{{yy/MM/dd HH:mm:ss}} %p %c{{1}}: %m%n%ex
# The Kafka consumer's configuration dumps and Hadoop's native-library note are noise even
# in the file.
logger.kafka.name = org.apache.kafka
logger.kafka.level = warn
"""


def spark_conf(settings: Settings, jar_paths: list[str]) -> dict[str, str]:
    """The Spark configuration of a CondoLake job, as plain data (easy to inspect and test)."""
    warehouse = settings.state_path / "spark-warehouse"
    java_options = (f"-Dderby.system.home={settings.state_path / 'derby'} "
                    f"-Duser.timezone={SPARK_TIME_ZONE}")
    conf = {
        "spark.master": settings.spark_master,
        "spark.jars": ",".join(jar_paths),
        "spark.sql.extensions": DELTA_EXTENSION,
        "spark.sql.catalog.spark_catalog": DELTA_CATALOG,
        "spark.sql.shuffle.partitions": str(settings.shuffle_partitions),
        "spark.sql.session.timeZone": SPARK_TIME_ZONE,
        "spark.sql.warehouse.dir": str(warehouse),
        "spark.driver.memory": settings.spark_driver_memory,
        "spark.driver.extraJavaOptions": java_options,
        "spark.executor.extraJavaOptions": f"-Duser.timezone={SPARK_TIME_ZONE}",
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        # Delta rebuilds table state with this many tasks; the default (50) is far too many
        # for the small ops/silver tables of one machine.
        "spark.databricks.delta.snapshotPartitions": "2",
        "spark.databricks.delta.retentionDurationCheck.enabled": "true",
        "spark.sql.adaptive.enabled": "true",
        # Silver's change data feed names the gold keys a silver commit moved (pre- and
        # post-images of every update); new tables get it from the start.
        "spark.databricks.delta.properties.defaults.enableChangeDataFeed": "true",
    }
    if _on_this_machine(settings.spark_master):
        # Local mode or a cluster on this machine: keep every endpoint on loopback. A remote
        # cluster must reach the driver, so there Spark picks the host's address.
        conf["spark.driver.host"] = LOOPBACK
        conf["spark.driver.bindAddress"] = LOOPBACK
    conf.update(extra_conf(settings.spark_conf))
    return conf


def extra_conf(text: str) -> dict[str, str]:
    """CONDOLAKE_SPARK_CONF: `key=value` pairs separated by commas, applied last."""
    pairs = {}
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        key, sep, value = item.partition("=")
        if not sep or not key.strip().startswith("spark."):
            raise ConfigError(f"CONDOLAKE_SPARK_CONF: {item!r} is not a spark.<name>=<value> "
                              "pair")
        pairs[key.strip()] = value.strip()
    return pairs


def _on_this_machine(master: str) -> bool:
    return master.startswith("local") or any(
        f"://{host}:" in master for host in (LOOPBACK, "localhost")
    )


def console_log_level(settings: Settings) -> str:
    """CONDOLAKE_LOG_LEVEL: Spark's and its libraries' messages at or above it also go to the
    console (OFF, the default: only to the log file)."""
    level = settings.log_level.strip().upper()
    if level not in LOG_LEVELS:
        raise ConfigError(f"CONDOLAKE_LOG_LEVEL={settings.log_level!r} is not one of "
                          f"{', '.join(LOG_LEVELS)}")
    return level


def file_log_level(settings: Settings) -> str:
    """The log file's level: warnings, or more when the console asks for more."""
    console = console_log_level(settings)
    if console != "OFF" and LOG_LEVELS.index(console) > LOG_LEVELS.index(FILE_LOG_LEVEL):
        return console
    return FILE_LOG_LEVEL


def log_file(settings: Settings, app_name: str) -> Path:
    """Where a process's Spark and library messages go: `<state>/logs/<app>.log`."""
    return settings.state_path / LOG_FOLDER / f"{app_name}.log"


def log4j_properties(log_path: Path, root_level: str, console_level: str) -> str:
    return LOG4J_TEMPLATE.format(log_file=log_path, root_level=root_level.lower(),
                                 console_level=console_level.lower())


def _quiet_python_libraries(log_path: Path, level: str) -> None:
    handler = logging.FileHandler(log_path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    for name in LIBRARY_LOGGERS:
        library = logging.getLogger(name)
        library.handlers = [handler]
        library.setLevel(level if level != "OFF" else logging.CRITICAL)
        library.propagate = False
    for name in NOISY_PYSPARK_LOGGERS:
        logging.getLogger(name).setLevel(logging.CRITICAL)


def _launch_jvm(conf: dict[str, str], log_path: Path) -> None:
    """Starts Spark's JVM with its stdout and stderr in the log file (what the JVM prints
    outside log4j, such as launcher notes, goes there too), when nothing of Spark's is to
    reach the console. Once per process."""
    if SparkContext._gateway is not None:  # a session of this process already started it
        return
    spark_conf = SparkConf(loadDefaults=False).setAll(list(conf.items()))
    with log_path.open("ab") as output:
        gateway = launch_gateway(spark_conf, popen_kwargs={"stdout": output, "stderr": output})
    SparkContext._gateway = gateway
    SparkContext._jvm = gateway.jvm


def build_spark(
    settings: Settings,
    app_name: str = "condolake",
    bundles: tuple[JarBundle, ...] = (SPARK_CORE,),
) -> SparkSession:
    """A SparkSession for `settings` (local by default, a cluster when spark_master says so)."""
    jars: list[str] = []
    for bundle in bundles:
        jars.extend(str(path) for path in resolved_jars(bundle, settings.jar_cache_path))
    # Executors of a standalone cluster start Python workers with the driver's interpreter.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    if _on_this_machine(settings.spark_master):
        os.environ.setdefault("SPARK_LOCAL_IP", LOOPBACK)
    log_path = log_file(settings, app_name)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log4j = log_path.with_suffix(".log4j2.properties")
    log4j.write_text(log4j_properties(log_path, file_log_level(settings),
                                      console_log_level(settings)), encoding="utf-8")
    conf = spark_conf(settings, jars)
    conf["spark.driver.extraJavaOptions"] += f" -Dlog4j2.configurationFile=file:{log4j}"
    log.info(f"starting Spark ({settings.spark_master}); its messages go to {log_path}")
    _quiet_python_libraries(log_path, file_log_level(settings))
    if console_log_level(settings) == "OFF":
        _launch_jvm(conf, log_path)
    builder = SparkSession.builder.appName(app_name)
    for key, value in conf.items():
        builder = builder.config(key, value)
    return builder.getOrCreate()


def ignore_stop_signals(spark: SparkSession) -> None:
    """The driver JVM ignores SIGTERM from now on, so a signal sent to the whole process group
    (a terminal, `kill -- -PGID`, systemd) no longer stops Spark under a running job: the
    Python side decides when to stop, and the JVM exits with it (it ends when its parent's
    pipe closes, also after a SIGKILL of the parent). SIGINT is ignored by pyspark already."""
    jvm = spark.sparkContext._jvm
    assert jvm is not None
    signals = jvm.sun.misc
    signals.Signal.handle(signals.Signal("TERM"), signals.SignalHandler.SIG_IGN)
