"""`condolake serve sql` over the wire: the real command line, queried with beeline (JDBC).

One server per module, started as a user would (`python -m condolake.cli serve sql`) on a copy
of the serving lake whose folder name needs quoting in SQL. Every answer is compared, as text,
with what the test session's Spark reads from the same Delta tables. The last test stops the
server with SIGTERM.
"""

from __future__ import annotations

import csv
import dataclasses
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from condolake.catalog import MART_NAMES
from condolake.config import Settings
from condolake.layout import Layer, table_path
from condolake.services.jars import pyspark_home
from condolake.services.ports import LOOPBACK, free_port
from condolake.serving.sql_catalog import (
    DELTA_LOG,
    CatalogPlan,
    discover_tables,
    local_delta_folders,
    sync_catalog,
)

pytestmark = pytest.mark.integration

BEELINE = pyspark_home() / "bin" / "beeline"
# Two cores shared with other Spark work: generous deadlines, polled, never slept through.
START_TIMEOUT_S = 600.0
STOP_TIMEOUT_S = 120.0
BEELINE_TIMEOUT_S = 300.0
CLI_TIMEOUT_S = 120.0
POLL_S = 0.5
READY = re.compile(r"SQL endpoint ready: (jdbc:hive2://\S+)")
LAKE_FOLDER = "lake it's"  # a space and a quote: the LOCATION literal must be escaped
NEW_CONDOMINIO = ("Condominio Novo", 1, Decimal("123.45"))


@dataclasses.dataclass
class Endpoint:
    process: subprocess.Popen[bytes]
    port: int
    url: str
    log: Path
    workdir: Path


# --- helpers -------------------------------------------------------------------------------


def cli_environment(settings: Settings) -> dict[str, str]:
    """This process's environment with exactly the CONDOLAKE_* variables of `settings`."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("CONDOLAKE_")}
    environment.update({
        "CONDOLAKE_LAKE_ROOT": settings.lake_root,
        "CONDOLAKE_STATE_DIR": settings.state_dir,
        "CONDOLAKE_JAR_CACHE": settings.jar_cache,
        "CONDOLAKE_SPARK_MASTER": "local[2]",
        "CONDOLAKE_SPARK_DRIVER_MEMORY": "1g",
        "CONDOLAKE_SHUFFLE_PARTITIONS": "2",
        "CONDOLAKE_LOG_LEVEL": "ERROR",
    })
    return environment


def serve_sql(settings: Settings, port: int, workdir: Path) -> subprocess.CompletedProcess[str]:
    """`condolake serve sql --port PORT` run to its end (for the refusals)."""
    return subprocess.run(
        [sys.executable, "-m", "condolake.cli", "serve", "sql", "--port", str(port)],
        cwd=workdir, env=cli_environment(settings), capture_output=True, text=True,
        timeout=CLI_TIMEOUT_S, check=False)


def log_text(endpoint: Endpoint) -> str:
    return endpoint.log.read_text(encoding="utf-8", errors="replace")


def wait_until_ready(process: subprocess.Popen[bytes], log: Path, port: int) -> str:
    """The JDBC URL the server prints once it accepts connections; then a connection."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        found = READY.search(log.read_text(encoding="utf-8", errors="replace"))
        if found:
            with socket.create_connection((LOOPBACK, port), timeout=10):
                return found.group(1)
        if process.poll() is not None:
            pytest.fail(f"serve sql exited with {process.returncode}:\n{log.read_text()[-4000:]}")
        time.sleep(POLL_S)
    pytest.fail(f"serve sql not ready within {START_TIMEOUT_S:g}s:\n{log.read_text()[-4000:]}")


def beeline(endpoint: Endpoint, *statements: str) -> list[list[list[str]]]:
    """Runs the statements in one beeline session; one list of rows (no header) per result."""
    script = endpoint.workdir / f"queries-{uuid.uuid4().hex[:8]}.sql"
    script.write_text("".join(f"{statement};\n" for statement in statements), encoding="utf-8")
    result = subprocess.run(
        [str(BEELINE), "-u", endpoint.url, "-n", "test", "--outputformat=csv2",
         "--silent=true", "--showHeader=true", "-f", str(script)],
        cwd=endpoint.workdir, capture_output=True, text=True, timeout=BEELINE_TIMEOUT_S,
        check=False)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    blocks: list[list[list[str]]] = []
    lines: list[str] = []
    for line in [*result.stdout.splitlines(), ""]:
        if line.strip():
            lines.append(line)
        elif lines:
            blocks.append(list(csv.reader(lines))[1:])  # without the header
            lines = []
    assert len(blocks) == len(statements), result.stdout
    return blocks


def delta_folders(lake: str, layer: Layer) -> set[str]:
    folder = Path(lake) / layer.value
    return {child.name for child in folder.iterdir() if (child / DELTA_LOG).is_dir()}


def as_text(value: object) -> str:
    """A value as beeline's CSV prints it."""
    return "NULL" if value is None else str(value)


def read(spark: SparkSession, lake: str, layer: Layer, table: str) -> DataFrame:
    return spark.read.format("delta").load(table_path(lake, layer, table))


def count_and_sum(spark: SparkSession, lake: str, layer: Layer, table: str,
                  column: str) -> list[list[str]]:
    row = read(spark, lake, layer, table).agg(F.count(F.lit(1)), F.sum(column)).first()
    assert row is not None
    return [[as_text(row[0]), as_text(row[1])]]


def child_pids(pid: int) -> list[int]:
    """Processes whose parent is `pid` (from /proc)."""
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid:
            children.append(int(stat.parent.name))
    return children


def stop_process(process: subprocess.Popen[bytes]) -> None:
    """Teardown safety net: SIGTERM, then SIGKILL, the server's whole session."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


# --- fixtures ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sql_settings(serving_lake: Settings, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """A copy of the serving lake (this module writes a new version to it), own state dir."""
    lake = tmp_path_factory.mktemp("sql-endpoint") / LAKE_FOLDER
    shutil.copytree(serving_lake.lake_path, lake, ignore=shutil.ignore_patterns("_checkpoints"))
    state = tmp_path_factory.mktemp("sql-endpoint-state")
    return serving_lake.with_(lake_root=str(lake), state_dir=str(state))


@pytest.fixture(scope="module")
def endpoint(sql_settings: Settings, tmp_path_factory: pytest.TempPathFactory
             ) -> Iterator[Endpoint]:
    workdir = tmp_path_factory.mktemp("sql-endpoint-cli")
    port = free_port()
    log = workdir / "serve-sql.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "condolake.cli", "serve", "sql", "--port", str(port)],
            cwd=workdir, env=cli_environment(sql_settings), stdin=subprocess.DEVNULL,
            stdout=output, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        url = wait_until_ready(process, log, port)
        yield Endpoint(process, port, url, log, workdir)
    finally:
        stop_process(process)


# --- tests ---------------------------------------------------------------------------------


def test_the_printed_url_opens_gold_on_loopback(endpoint: Endpoint) -> None:
    assert endpoint.url == f"jdbc:hive2://127.0.0.1:{endpoint.port}/gold"
    assert f"{BEELINE} -u {endpoint.url} -n $USER" in log_text(endpoint)


def test_every_lake_table_is_in_the_database_of_its_layer(endpoint: Endpoint,
                                                          sql_settings: Settings) -> None:
    layers = list(Layer)
    databases, *tables = beeline(endpoint, "SHOW DATABASES",
                                 *(f"SHOW TABLES IN {layer.value}" for layer in layers))
    assert {row[0] for row in databases} >= {"bronze", "silver", "gold", "quarantine", "ops"}
    listed = {layer: {row[1] for row in rows} for layer, rows in zip(layers, tables, strict=True)}
    assert listed[Layer.GOLD] == set(MART_NAMES)
    for layer in layers:
        expected = delta_folders(sql_settings.lake_path, layer)
        assert expected and listed[layer] == expected, layer


def test_answers_equal_what_spark_reads_from_the_delta_tables(
        endpoint: Endpoint, sql_settings: Settings, spark: SparkSession) -> None:
    lake = sql_settings.lake_path
    por_condominio, silver, diarias, rows = beeline(
        endpoint,
        "SELECT count(*), sum(valor_total) FROM gold.transacoes_por_condominio",
        "SELECT count(*), sum(valor_transacao), min(data_transacao), max(data_transacao) "
        "FROM silver.transacoes",
        # The URL's database (gold) is the session's current one.
        "SELECT count(*), sum(valor_total) FROM transacoes_diarias_por_tipo",
        "SELECT condominio_id, nome, quantidade_transacoes, valor_total "
        "FROM gold.transacoes_por_condominio ORDER BY condominio_id",
    )
    assert por_condominio == count_and_sum(spark, lake, Layer.GOLD,
                                           "transacoes_por_condominio", "valor_total")
    expected_silver = read(spark, lake, Layer.SILVER, "transacoes").agg(
        F.count(F.lit(1)), F.sum("valor_transacao"), F.min("data_transacao"),
        F.max("data_transacao")).first()
    assert expected_silver is not None
    assert silver == [[as_text(value) for value in expected_silver]]
    assert diarias == count_and_sum(spark, lake, Layer.GOLD, "transacoes_diarias_por_tipo",
                                    "valor_total")
    gold = read(spark, lake, Layer.GOLD, "transacoes_por_condominio").orderBy("condominio_id")
    assert rows == [[as_text(value) for value in row] for row in gold.select(
        "condominio_id", "nome", "quantidade_transacoes", "valor_total").collect()]
    assert Decimal(por_condominio[0][1]).as_tuple().exponent == -2  # to the cent


def test_a_new_delta_version_is_read_without_restart(
        endpoint: Endpoint, sql_settings: Settings, spark: SparkSession) -> None:
    lake = sql_settings.lake_path
    query = "SELECT count(*), sum(valor_total) FROM gold.transacoes_por_condominio"
    [before] = beeline(endpoint, query)
    gold = read(spark, lake, Layer.GOLD, "transacoes_por_condominio")
    new_id = gold.agg(F.max("condominio_id")).first()[0] + 1  # type: ignore[index]
    extra = spark.createDataFrame([(new_id, *NEW_CONDOMINIO)], gold.schema)
    extra.write.format("delta").mode("append").save(
        table_path(lake, Layer.GOLD, "transacoes_por_condominio"))
    [after] = beeline(endpoint, query)
    assert after == [[str(int(before[0][0]) + 1),
                      str(Decimal(before[0][1]) + NEW_CONDOMINIO[2])]]
    assert after == count_and_sum(spark, lake, Layer.GOLD, "transacoes_por_condominio",
                                  "valor_total")


def test_a_busy_port_and_a_second_endpoint_are_refused_with_a_message(
        endpoint: Endpoint, sql_settings: Settings) -> None:
    busy = serve_sql(sql_settings, endpoint.port, endpoint.workdir)
    assert busy.returncode == 1
    assert f"port {endpoint.port} on 127.0.0.1 is already in use" in busy.stderr
    second = serve_sql(sql_settings, free_port(), endpoint.workdir)
    assert second.returncode == 1
    assert "another SQL endpoint already runs" in second.stderr
    assert "Traceback" not in busy.stderr + second.stderr


def test_registration_follows_the_lake(spark: SparkSession, tmp_path: Path) -> None:
    """Against the session's own catalog, under databases of this test's own."""
    prefix = f"sqltest_{uuid.uuid4().hex[:8]}"
    database = f"{prefix}_gold"

    def save(lake: Path, name: str, value: str) -> None:
        spark.createDataFrame([(1, value)], "id INT, v STRING").write.format("delta").mode(
            "overwrite").save(str(lake / "gold" / name))

    def register(lake: Path) -> CatalogPlan:
        tables = [dataclasses.replace(table, database=f"{prefix}_{table.database}")
                  for table in discover_tables(str(lake), local_delta_folders)]
        report = sync_catalog(spark, tables, [database])
        assert report.failures == [] and report.plan.conflicts == []
        return report.plan

    def names() -> set[str]:
        return {row.tableName for row in spark.sql(f"SHOW TABLES IN {database}").collect()}

    lake, moved = tmp_path / LAKE_FOLDER, tmp_path / "moved lake"
    for name in ("a", "b", "c"):
        save(lake, name, f"{name} v0")
    try:
        assert register(lake).created == [f"{database}.{name}" for name in ("a", "b", "c")]
        assert spark.sql(f"SELECT v FROM {database}.a").first() == ("a v0",)
        again = register(lake)
        assert again.statements == [] and len(again.unchanged) == 3
        spark.sql(f"CREATE VIEW {database}.mine AS SELECT 1 AS one")
        shutil.rmtree(lake / "gold" / "c")  # gone from the lake for good
        shutil.copytree(lake, moved)  # the lake moves, and b is not in the new one
        shutil.rmtree(moved / "gold" / "b")
        save(moved, "a", "a v1")
        plan = register(moved)
        assert plan.repointed == [f"{database}.a"]
        assert plan.dropped == [f"{database}.b", f"{database}.c"]
        assert spark.sql(f"SELECT v FROM {database}.a").first() == ("a v1",)
        assert names() == {"a", "mine"}
        # Dropping an external table leaves the lake's files alone.
        assert spark.read.format("delta").load(str(lake / "gold" / "b")).first() == (1, "b v0")
    finally:
        spark.sql(f"DROP DATABASE IF EXISTS {database} CASCADE")


def test_sigterm_stops_the_server_and_its_jvm(endpoint: Endpoint) -> None:
    """Runs last: the module's server is gone afterwards."""
    jvms = child_pids(endpoint.process.pid)
    assert jvms, "the server's JVM runs as a child of the command"
    endpoint.process.send_signal(signal.SIGTERM)
    assert endpoint.process.wait(STOP_TIMEOUT_S) == 0, log_text(endpoint)[-4000:]
    assert [pid for pid in jvms if Path(f"/proc/{pid}").exists()] == []
    assert "SQL endpoint stopped" in log_text(endpoint)
    assert "Traceback" not in log_text(endpoint)
    with pytest.raises(OSError):
        socket.create_connection((LOOPBACK, endpoint.port), timeout=5).close()
