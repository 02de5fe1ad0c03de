"""Change data capture end to end through the real connector: a generated source, a first
batch load, `cdc start` (Debezium's PostgreSQL connector on the session's Kafka Connect worker,
then the handover load), the workload generator writing PostgreSQL while the stream runs, and
the lake compared with PostgreSQL by SQL: silver row for row, gold to the cent, quarantine
with exactly the rule-breaking rows the generator wrote. Then the source's schema changes
under the connector (a new column, a wider type) and the lake keeps its contract."""

from __future__ import annotations

import datetime as dt
import json
import threading
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from tests.integration.pipelines.reconcile import expected_gold
from tests.integration.services.test_kafka_connect import remove_connector
from tests.integration.streaming.cdc import silver_rows, source_rows
from tests.integration.streaming.streams import end_offsets_total, gold_rows, wait_until

from condolake.app import cdc
from condolake.app.resources import Resources
from condolake.config import Settings
from condolake.layout import (
    REASONS_COL,
    RESOLVED_RUN_ID_COL,
    Layer,
    checkpoint_path,
    table_path,
)
from condolake.pipelines.batch import batch
from condolake.pipelines.quality import dq_results_path, reconciliation_results
from condolake.pipelines.stream import StreamOptions, run_streams
from condolake.services.kafka import LocalKafkaBroker
from condolake.services.kafka_connect import LocalKafkaConnect
from condolake.services.postgres import SourceDatabase
from condolake.source.connector import published_records
from condolake.source.generator import generate
from condolake.source.replication import prepare_source
from condolake.source.simulator import SimulationStats, Simulator
from condolake.source.tables import CONDOMINIOS, SOURCE_TABLES, TRANSACOES, SourceTable
from condolake.streaming.queries import KAFKA, kafka_events_path
from condolake.streaming.status import last_committed_batch

pytestmark = pytest.mark.integration

SCALE = 0.002  # 1 condominio and a few hundred rows per table
SEED = 1313
EVENTS = 300
RATE = 150.0  # events per second: the workload lasts about 2 s
INVALID_SHARE = 0.1
STREAM_S = 8.0  # the stream runs this long while the workload writes
TRIGGER_S = 0.5
PUBLISHED_TIMEOUT_S = 60.0


@pytest.fixture
def cdc_lake(kafka_connect: LocalKafkaConnect, kafka_broker: LocalKafkaBroker,
             empty_database: SourceDatabase, base_settings: Settings, tmp_path: Path
             ) -> Iterator[Resources]:
    """A generated source prepared for replication, a lake of its own, and a connector, slot
    and topics of its own on the session's worker (removed afterwards)."""
    with empty_database.connect() as conn:
        generate(conn, scale=SCALE, seed=SEED)
    suffix = uuid.uuid4().hex[:12]
    settings = base_settings.with_(
        state_dir=str(kafka_connect.folder.parent), source_url=empty_database.url,
        lake_root=str(tmp_path / "lake"), kafka_bootstrap=kafka_broker.bootstrap,
        kafka_topic_prefix=f"test-{suffix}", cdc_connector=f"test-{suffix}",
        cdc_slot=f"test_{suffix}", cdc_publication="condolake", stream_trigger_s=TRIGGER_S)
    prepare_source(empty_database, publication=settings.cdc_publication)
    try:
        yield Resources.from_settings(settings)
    finally:
        remove_connector(kafka_connect.client(), settings.cdc_connector, empty_database,
                         settings.cdc_slot)


def committed_total(settings: Settings) -> int:
    """Records up to the end offsets of the stream's last committed micro-batch."""
    checkpoint = Path(checkpoint_path(settings.lake_path, KAFKA))
    last = last_committed_batch(checkpoint)
    if last is None:
        return 0
    offsets = json.loads((checkpoint / "offsets" / str(last)).read_text().splitlines()[-1])
    return sum(int(o) for partitions in offsets.values() for o in partitions.values())


def open_quarantine_keys(spark: SparkSession, settings: Settings,
                         table: SourceTable) -> list[tuple[object, ...]]:
    path = table_path(settings.lake_path, Layer.QUARANTINE, table.name)
    if not (Path(path) / "_delta_log").is_dir():
        return []
    rows = spark.read.format("delta").load(path).where(
        F.col(RESOLVED_RUN_ID_COL).isNull()).select(
        F.col(table.primary_key).cast("int")).collect()
    return [tuple(row) for row in rows]


def test_changes_reach_silver_gold_and_quarantine_through_debezium(
        spark: SparkSession, cdc_lake: Resources, empty_database: SourceDatabase) -> None:
    settings = cdc_lake.settings
    run_date = cdc_lake.today()
    first = batch(spark, settings, empty_database, run_date=run_date)
    assert (first.status, first.total("rows_quarantined")) == ("succeeded", 0)
    # Before capture begins: a deleted transacao only the handover load can remove.
    with empty_database.connect() as conn:
        (gone,) = conn.execute("DELETE FROM transacoes WHERE transacao_id = "
                               "(SELECT min(transacao_id) FROM transacoes) "
                               "RETURNING transacao_id").fetchone() or (None,)
    assert gone is not None

    line = cdc.start(cdc_lake)
    assert f"{settings.cdc_connector} RUNNING, task 0 RUNNING" in line
    assert "; handover load " in line
    assert gone not in {row[0] for row in silver_rows(spark, settings, TRANSACOES)}

    stats: list[SimulationStats] = []

    def workload() -> None:
        with empty_database.connect() as conn:
            simulator = Simulator(conn, seed=SEED + 1, invalid_share=INVALID_SHARE,
                                  today=run_date)
            stats.append(simulator.run(RATE, events=EVENTS))

    writer = threading.Thread(target=workload, daemon=True)
    writer.start()
    assert settings.kafka_bootstrap
    run_streams(spark, settings, settings.kafka_bootstrap,
                StreamOptions(landing=False, duration_s=STREAM_S))
    writer.join(timeout=60)
    assert not writer.is_alive() and len(stats) == 1, "the workload did not finish"
    (workload_stats,) = stats
    published = published_records(workload_stats.changes)
    wait_until(lambda: end_offsets_total(settings) == published, PUBLISHED_TIMEOUT_S,
               f"Debezium to publish the workload's {published} records")
    run_streams(spark, settings, settings.kafka_bootstrap,
                StreamOptions(landing=False, once=True))
    assert committed_total(settings) == end_offsets_total(settings) == published

    for table in SOURCE_TABLES:
        expected = source_rows(empty_database, table, run_date, valid=True)
        silver = silver_rows(spark, settings, table)
        assert len(silver) == len(set(silver)), f"{table.name}: duplicate rows in silver"
        assert set(silver) == expected, table.name
        quarantined = open_quarantine_keys(spark, settings, table)
        assert len(quarantined) == sum(workload_stats.invalid_rows.get(table.name, {}).values()), \
            table.name
        assert set(quarantined) == source_rows(empty_database, table, run_date, valid=False), \
            table.name
    # The workload did what the scenario is about: rule-breaking rows, updates and deletes.
    assert sum(sum(rules.values()) for rules in workload_stats.invalid_rows.values()) > 0
    assert all(workload_stats.changes[TRANSACOES.name][op] > 0 for op in "cud")
    assert gold_rows(spark, settings) == expected_gold(empty_database, run_date)
    # `condolake check` reconciles the source with silver and the stream's open quarantine.
    reconciled = reconciliation_results(spark, settings.lake_path, empty_database, None)
    assert [(check.table, check.status) for check in reconciled] == [
        (table.name, "passed") for table in SOURCE_TABLES]

    schema_changes_keep_the_contract(spark, settings, empty_database, run_date)


def schema_changes_keep_the_contract(spark: SparkSession, settings: Settings,
                                     db: SourceDatabase, run_date: dt.date) -> None:
    """`ALTER TABLE … ADD COLUMN` and a wider money type while capturing: the raw events keep
    the new column in bronze, silver keeps its declared columns, a `schema_drift` result names
    the table and the column, and a value with a third decimal is quarantined, not rounded."""
    published_before = end_offsets_total(settings)
    with db.connect() as conn:
        conn.execute("ALTER TABLE condominios ADD COLUMN zona text")
        (condominio,) = conn.execute(
            "UPDATE condominios SET zona = 'norte', nome = nome || ' (norte)' WHERE condominio_id"
            " = (SELECT min(condominio_id) FROM condominios) RETURNING condominio_id").fetchone() \
            or (None,)
        conn.execute("ALTER TABLE transacoes ALTER COLUMN valor_transacao TYPE numeric(16, 3)")
        conn.commit()
        inserted = conn.execute(
            "INSERT INTO transacoes (imovel_id, morador_id, data_transacao, valor_transacao) "
            "SELECT imovel_id, morador_id, data_transacao, v FROM transacoes, "
            "unnest(ARRAY[20.5, 10.125]::numeric(16, 3)[]) WITH ORDINALITY AS u(v, n) "
            "WHERE transacao_id = (SELECT max(transacao_id) FROM transacoes) "
            "ORDER BY n RETURNING transacao_id").fetchall()
    (two_decimals,), (three_decimals,) = inserted
    # One update and two inserts: three records, as Debezium publishes them.
    wait_until(lambda: end_offsets_total(settings) == published_before + 3, PUBLISHED_TIMEOUT_S,
               "Debezium to publish the changes made after the schema changes")
    assert settings.kafka_bootstrap
    run_streams(spark, settings, settings.kafka_bootstrap,
                StreamOptions(landing=False, once=True))

    silver = spark.read.format("delta").load(
        table_path(settings.lake_path, Layer.SILVER, CONDOMINIOS.name))
    assert silver.columns[:len(CONDOMINIOS.column_names)] == list(CONDOMINIOS.column_names)
    assert "zona" not in silver.columns
    assert set(silver_rows(spark, settings, CONDOMINIOS)) == source_rows(
        db, CONDOMINIOS, run_date, valid=True)
    raw = [json.loads(row["value"])["after"] for row in spark.read.format("delta").load(
        kafka_events_path(settings.lake_path)).where(F.col("value").isNotNull()).collect()]
    assert any(image and image.get("condominio_id") == condominio and image.get("zona") == "norte"
               for image in raw)
    drift = spark.read.format("delta").load(dq_results_path(settings.lake_path)).where(
        F.col("check") == "schema_drift").collect()
    assert [(row["table"], row["status"], row["detail"]) for row in drift] == [(
        "condominios", "failed",
        "new columns: zona; in 1 change events, kept in bronze/kafka_events and not in silver "
        "(docs/streaming.md#schema-drift)")]

    transacoes = spark.read.format("delta").load(
        table_path(settings.lake_path, Layer.SILVER, TRANSACOES.name)).where(
        F.col("transacao_id").isin(two_decimals, three_decimals)).collect()
    assert [(row["transacao_id"], row["valor_transacao"]) for row in transacoes] == [
        (two_decimals, Decimal("20.50"))]
    quarantined = spark.read.format("delta").load(
        table_path(settings.lake_path, Layer.QUARANTINE, TRANSACOES.name)).where(
        F.col(RESOLVED_RUN_ID_COL).isNull()
        & (F.col("transacao_id") == str(three_decimals))).collect()
    assert [(row["valor_transacao"], list(row[REASONS_COL])) for row in quarantined] == [
        ("10.125", ["valor_transacao_not_decimal_15_2"])]
