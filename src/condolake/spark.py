"""The one SparkSession builder every job uses: Delta Lake on, jars from the local cache."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable

from pyspark.sql import SparkSession

from condolake.config import Settings
from condolake.services.jars import SPARK_CORE, JarBundle, resolved_jars

DELTA_EXTENSION = "io.delta.sql.DeltaSparkSessionExtension"
DELTA_CATALOG = "org.apache.spark.sql.delta.catalog.DeltaCatalog"
LOOPBACK = "127.0.0.1"
# pyspark logs every analysis error with its whole JVM stack before raising it; the jobs
# report failures themselves, in one readable sentence.
NOISY_PYSPARK_LOGGERS = ("SQLQueryContextLogger", "DataFrameQueryContextLogger")


def spark_conf(settings: Settings, jar_paths: list[str]) -> dict[str, str]:
    """The Spark configuration of a CondoLake job, as plain data (easy to inspect and test)."""
    warehouse = settings.state_path / "spark-warehouse"
    conf = {
        "spark.master": settings.spark_master,
        "spark.jars": ",".join(jar_paths),
        "spark.sql.extensions": DELTA_EXTENSION,
        "spark.sql.catalog.spark_catalog": DELTA_CATALOG,
        "spark.sql.shuffle.partitions": str(settings.shuffle_partitions),
        "spark.sql.session.timeZone": settings.timezone,
        "spark.sql.warehouse.dir": str(warehouse),
        "spark.driver.memory": settings.spark_driver_memory,
        "spark.driver.extraJavaOptions": f"-Dderby.system.home={settings.state_path / 'derby'}",
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        # Delta rebuilds table state with this many tasks; the default (50) is far too many
        # for the small ops/silver tables of one machine.
        "spark.databricks.delta.snapshotPartitions": "2",
        "spark.databricks.delta.retentionDurationCheck.enabled": "true",
        "spark.sql.adaptive.enabled": "true",
        # Silver's change data feed drives the incremental gold stream (pre- and post-images
        # of every update); new tables get it from the start.
        "spark.databricks.delta.properties.defaults.enableChangeDataFeed": "true",
    }
    if _on_this_machine(settings.spark_master):
        # Local mode or a cluster on this machine: keep every endpoint on loopback. A remote
        # cluster must reach the driver, so there Spark picks the host's address.
        conf["spark.driver.host"] = LOOPBACK
        conf["spark.driver.bindAddress"] = LOOPBACK
    return conf


def _on_this_machine(master: str) -> bool:
    return master.startswith("local") or any(
        f"://{host}:" in master for host in (LOOPBACK, "localhost")
    )


def build_spark(
    settings: Settings,
    app_name: str = "condolake",
    bundles: tuple[JarBundle, ...] = (SPARK_CORE,),
    progress: Callable[[str], None] | None = None,
) -> SparkSession:
    """A SparkSession for `settings` (local by default, a cluster when spark_master says so)."""
    jars: list[str] = []
    for bundle in bundles:
        jars.extend(str(path) for path in resolved_jars(bundle, settings.jar_cache_path,
                                                         progress=progress))
    # Executors of a standalone cluster start Python workers with the driver's interpreter.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    if _on_this_machine(settings.spark_master):
        os.environ.setdefault("SPARK_LOCAL_IP", LOOPBACK)
    settings.state_path.mkdir(parents=True, exist_ok=True)
    if progress:
        progress(f"starting Spark ({settings.spark_master})")
    builder = SparkSession.builder.appName(app_name)
    for key, value in spark_conf(settings, jars).items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel(settings.log_level)
    for name in NOISY_PYSPARK_LOGGERS:
        logging.getLogger(name).setLevel(logging.CRITICAL)
    return spark
