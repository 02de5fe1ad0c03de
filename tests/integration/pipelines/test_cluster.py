"""`condolake batch` on a real Spark standalone cluster gives the same gold as local mode, and the
same gold as SQL over the valid rows in PostgreSQL itself.

Both runs are the real command line in a child process; only the Spark master differs.
"""

from __future__ import annotations

import datetime as dt
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pyspark.sql import SparkSession
from tests.integration.conftest import new_database
from tests.integration.pipelines.reconcile import expected_gold
from tests.integration.pipelines.run_cli import run_condolake

from condolake.catalog import MART_NAMES
from condolake.config import Settings
from condolake.layout import Layer, table_path
from condolake.services.postgres import SourceDatabase
from condolake.services.spark_cluster import LocalSparkCluster
from condolake.source.generator import generate

pytestmark = pytest.mark.integration

SCALE = 0.005
SEED = 20261126
INVALID_SHARE = 0.03
APP_NAME = "condolake-batch"
APP_LISTED_TIMEOUT_S = 120.0
POLL_INTERVAL_S = 0.5
# The contract columns of each mart, in the order reconcile.py selects them.
GOLD_COLUMNS = {
    "transacoes_por_condominio": ["condominio_id", "nome", "quantidade_transacoes", "valor_total"],
    "transacoes_por_morador": ["morador_id", "nome", "condominio_id", "quantidade_transacoes",
                               "valor_total"],
    "transacoes_diarias_por_tipo": ["data_transacao", "tipo", "quantidade_transacoes",
                                    "valor_total"],
}

Gold = dict[str, Counter[tuple[Any, ...]]]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalSparkCluster]:
    # One core and 1 GB: the machine has two cores, and the test session's driver runs too.
    with LocalSparkCluster(tmp_path_factory.mktemp("cluster-state"), cores_per_worker=1,
                           memory_per_worker="1g") as running:
        yield running


@pytest.fixture(scope="module")
def source(postgres: SourceDatabase) -> Iterator[SourceDatabase]:
    with new_database(postgres) as database:
        with database.connect() as conn:
            generate(conn, scale=SCALE, seed=SEED, invalid_share=INVALID_SHARE)
        yield database


def run_batch(
    spark_master: str, source: SourceDatabase, base_settings: Settings, folder: Path
) -> tuple[subprocess.CompletedProcess[str], str]:
    """`condolake batch` against `spark_master` into a new lake under `folder`."""
    lake = folder / "lake"
    done = run_condolake(["batch"], cwd=folder, settings={
        "spark_master": spark_master,
        "source_url": source.url,
        "lake_root": str(lake),
        "state_dir": str(folder / "state"),
        "jar_cache": str(base_settings.jar_cache_path),
        "spark_driver_memory": "1g",
    })
    return done, str(lake)


@pytest.fixture(scope="module")
def cluster_run(
    cluster: LocalSparkCluster, source: SourceDatabase, base_settings: Settings,
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[subprocess.CompletedProcess[str], str]:
    return run_batch(cluster.master_url, source, base_settings, tmp_path_factory.mktemp("on-a"))


@pytest.fixture(scope="module")
def local_run(
    source: SourceDatabase, base_settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> tuple[subprocess.CompletedProcess[str], str]:
    return run_batch("local[1]", source, base_settings, tmp_path_factory.mktemp("local-b"))


def finished_app(cluster: LocalSparkCluster, name: str) -> dict[str, Any]:
    """The master's record of the completed application `name` (waits for the master to list it:
    it learns of the driver's exit asynchronously)."""
    deadline = time.monotonic() + APP_LISTED_TIMEOUT_S
    completed: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        try:
            completed = cluster.status()["completedapps"]
        except OSError:  # a busy master may answer late: ask again
            continue
        apps = [app for app in completed if app["name"] == name]
        if apps:
            return apps[0]
        time.sleep(POLL_INTERVAL_S)
    raise AssertionError(f"the master lists no completed application {name!r}: {completed}")


def gold(spark: SparkSession, lake: str) -> Gold:
    return {
        name: Counter(
            tuple(row) for row in spark.read.format("delta")
            .load(table_path(lake, Layer.GOLD, name)).select(*GOLD_COLUMNS[name]).collect()
        )
        for name in MART_NAMES
    }


def batch_run_date(spark: SparkSession, lake: str) -> dt.date:
    runs = spark.read.format("delta").load(table_path(lake, Layer.OPS, "runs")).collect()
    assert [(run["job"], run["status"]) for run in runs] == [("batch", "succeeded")]
    run_date: dt.date = runs[0]["run_date"]
    return run_date


def test_batch_runs_on_the_cluster(
    cluster: LocalSparkCluster, cluster_run: tuple[subprocess.CompletedProcess[str], str]
) -> None:
    done, _ = cluster_run
    assert done.returncode == 0, done.stderr
    app = finished_app(cluster, APP_NAME)
    # The worker launched an executor for the application: it has a folder in the work dir.
    executors = cluster.folder / "spark-work" / app["id"]
    assert [path.name for path in executors.iterdir()], f"no executor ran for {app['id']}"
    assert (next(executors.iterdir()) / "stderr").exists()


def test_cluster_gold_equals_local_gold_row_for_row(
    spark: SparkSession,
    cluster_run: tuple[subprocess.CompletedProcess[str], str],
    local_run: tuple[subprocess.CompletedProcess[str], str],
) -> None:
    (on_cluster, cluster_lake), (local, local_lake) = cluster_run, local_run
    assert (on_cluster.returncode, local.returncode) == (0, 0), local.stderr
    cluster_gold, local_gold = gold(spark, cluster_lake), gold(spark, local_lake)
    for name in MART_NAMES:
        assert cluster_gold[name] == local_gold[name], name
        assert cluster_gold[name], f"{name} is empty: the comparison would prove nothing"


def test_cluster_gold_equals_postgres_reconciliation(
    spark: SparkSession, source: SourceDatabase,
    cluster_run: tuple[subprocess.CompletedProcess[str], str],
) -> None:
    done, lake = cluster_run
    assert done.returncode == 0, done.stderr
    expected = expected_gold(source, batch_run_date(spark, lake))
    actual = gold(spark, lake)
    for name in MART_NAMES:
        # Counter: every expected row exactly once (a set would hide a duplicated row).
        assert actual[name] == Counter(expected[name]), name
