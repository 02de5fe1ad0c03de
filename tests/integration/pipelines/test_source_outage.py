"""A PostgreSQL outage in the middle of an ingest leaves the lake exactly as it was."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from pyspark.sql import SparkSession
from tests.integration.conftest import running_postgres
from tests.integration.pipelines.run_cli import for_short_lived_driver

from condolake.catalog import MART_NAMES
from condolake.config import Settings
from condolake.layout import Layer, table_path
from condolake.pipelines.batch import batch
from condolake.services.postgres import EmbeddedPostgres, SourceDatabase
from condolake.source.generator import append_transactions, generate
from condolake.source.tables import SOURCE_TABLES

# The read of the new transactions is made long (small fetches, one connection) so the
# server can be killed while it is surely under way.
NEW_TRANSACTIONS = 50_000
JDBC_MARKER = "transacoes_read"  # alias of the JDBC subquery, visible in pg_stat_activity
WAIT_FOR_READ_S = 300


@pytest.fixture(scope="module")
def server() -> Iterator[EmbeddedPostgres]:
    """A server of this module's own: the test kills it."""
    with running_postgres("outage-pg") as own:
        yield own


def lake_tables(lake: str) -> list[str]:
    paths = [table_path(lake, layer, t.name) for layer in (Layer.BRONZE, Layer.SILVER,
                                                           Layer.QUARANTINE) for t in SOURCE_TABLES]
    paths += [table_path(lake, Layer.GOLD, name) for name in MART_NAMES]
    return paths + [table_path(lake, Layer.OPS, "watermarks")]


def snapshot(spark: SparkSession, lake: str) -> dict[str, set[str]]:
    """Every row of every data table (as JSON text, so nested values compare too)."""
    return {
        path: {row[0] for row in spark.read.format("delta").load(path).toJSON()
               .map(lambda text: (text,)).collect()}
        for path in lake_tables(lake)
    }


def kill_when_reading(server: EmbeddedPostgres, db: SourceDatabase, fired: threading.Event,
                      done: threading.Event) -> None:
    deadline = time.monotonic() + WAIT_FOR_READ_S
    with psycopg.connect(db.url, autocommit=True) as watcher:
        while time.monotonic() < deadline and not done.is_set():
            (reading,) = watcher.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE query LIKE %s AND pid <> "
                "pg_backend_pid()", (f"%{JDBC_MARKER}%",)).fetchone()  # type: ignore[misc]
            if reading:
                break
            time.sleep(0.01)
        else:
            return
    server.kill_immediately()
    fired.set()


@pytest.mark.integration
def test_outage_mid_ingest_exits_nonzero_and_leaves_lake_untouched(
    spark: SparkSession, base_settings: Settings, server: EmbeddedPostgres, tmp_path: Path,
) -> None:
    db = SourceDatabase(server.url)
    settings = base_settings.with_(lake_root=str(tmp_path / "lake"))
    with db.connect() as conn:
        generate(conn, scale=0.005, seed=11, invalid_share=0.05)
    batch(spark, settings, db)
    with db.connect() as conn:
        append_transactions(conn, count=NEW_TRANSACTIONS, seed=12)
    before = snapshot(spark, settings.lake_path)

    env = for_short_lived_driver({
        **os.environ,
        "CONDOLAKE_SOURCE_URL": db.url,
        "CONDOLAKE_LAKE_ROOT": settings.lake_path,
        "CONDOLAKE_STATE_DIR": str(tmp_path / "state"),
        "CONDOLAKE_JAR_CACHE": str(settings.jar_cache_path),
        "CONDOLAKE_SPARK_MASTER": "local[1]",
        "CONDOLAKE_SPARK_DRIVER_MEMORY": "1g",
        "CONDOLAKE_JDBC_PARTITIONS": "1",
        "CONDOLAKE_JDBC_FETCHSIZE": "100",
    })
    fired, done = threading.Event(), threading.Event()
    killer = threading.Thread(target=kill_when_reading, args=(server, db, fired, done))
    killer.start()
    try:
        result = subprocess.run([sys.executable, "-m", "condolake.cli", "batch"], env=env,
                                capture_output=True, text=True, timeout=600, check=False)
    finally:
        done.set()
        killer.join()
    assert fired.is_set(), f"the read was never seen; stderr:\n{result.stderr[-2000:]}"

    assert result.returncode == 1, result.stderr[-3000:]
    assert "condolake: error: batch failed: the PostgreSQL source failed" in result.stderr
    assert "Nothing was changed in the lake" in result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    assert snapshot(spark, settings.lake_path) == before
    failed = spark.read.format("delta").load(table_path(settings.lake_path, Layer.OPS, "runs")) \
        .where("status = 'failed'").collect()
    assert len(failed) == 1 and "PostgreSQL" in failed[0]["error"]

    # Once the server is back, the same run goes through and reads the new rows.
    server.start()
    rerun = batch(spark, settings, db)
    transacoes = next(t for t in rerun.tables if t.table == "transacoes")
    assert transacoes.rows_read == NEW_TRANSACTIONS
