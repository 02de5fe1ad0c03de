"""Operations a real Debezium connector emits, through the real broker, stream and Delta.

Two scenarios, each on its own copy of the session's batch-loaded lake and its own topics:

* condominios: an initial snapshot (`op: "r"`, every read at one LSN, whatever its
  `source.snapshot` marker) followed by streamed changes; primary-key updates (a delete of the
  old key, its tombstone and a create of the new key, one transaction) within one
  micro-batch and split over two in either order; an update carrying Debezium's placeholder
  for a value it could not read.
* transacoes: a TRUNCATE (`skipped.operations=none`: an `op: "t"` record with no key) after
  a batch load and streamed rows, with changes before and after it in its micro-batch, then
  a later micro-batch with a new row, replayed older events and the truncate again.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from tests.integration.conftest import new_topic_prefix
from tests.integration.streaming.streams import (
    LoadedLake,
    batch_recomputation,
    copy_of,
    create_topics,
    gold_rows,
    stream_settings,
)

from condolake.config import Settings
from condolake.layout import Layer, table_path
from condolake.pipelines.stream import StreamOptions, run_streams
from condolake.services.kafka import LocalKafkaBroker
from condolake.services.postgres import SourceDatabase
from condolake.source.debezium import change_event, tombstone, topic_name, truncate_event
from condolake.source.event_sink import KafkaSink
from condolake.source.tables import CONDOMINIOS, IMOVEIS, TRANSACOES, SourceTable

JOB = "stream:kafka"
SNAPSHOT_LSN = 5000
PLACEHOLDER = "__debezium_unavailable_value"
Record = tuple[bytes | None, bytes | None]
Row = dict[str, Any]


# --- helpers ---------------------------------------------------------------------------------

# Transaction ids of changes committed after the lake's batch load: above any snapshot the
# load took on the session's server (ids in the thousands), as Debezium would report them. A
# smaller id would be one the load already saw, and the stream would count it as loaded.
AFTER_LOAD_TX = 1_000_000_000

def event(settings: Settings, table: SourceTable, op: str, before: Row | None,
          after: Row | None, lsn: int, *, tx_id: int | None = None,
          snapshot: str = "false") -> Record:
    return change_event(table, op, before, after, prefix=settings.kafka_topic_prefix,
                        database="condomanage", lsn=lsn,
                        tx_id=AFTER_LOAD_TX + (lsn if tx_id is None else tx_id),
                        commit_ms=1764979200000, produced_ms=1764979200123, snapshot=snapshot)


def without_before(record: Record) -> Record:
    """An update as Debezium sends it under REPLICA IDENTITY DEFAULT: `before` is null."""
    key, value = record
    assert value is not None
    return key, json.dumps({**json.loads(value), "before": None}).encode()


def publish(settings: Settings, table: SourceTable, records: Sequence[Record]) -> None:
    """Sends `records` to the table's topic, in order, and waits for the broker's acks."""
    assert settings.kafka_bootstrap
    topic = topic_name(settings.kafka_topic_prefix, table.name)
    with KafkaSink(settings.kafka_bootstrap) as sink:
        for key, value in records:
            sink.publish(topic, key, value)  # type: ignore[arg-type]  # a truncate has no key
        sink.flush()


def stream_once(spark: SparkSession, settings: Settings) -> None:
    report = run_streams(spark, settings, settings.kafka_bootstrap, StreamOptions(once=True))
    assert sum(report.rows.values()) > 0


def silver_rows(spark: SparkSession, settings: Settings, table: SourceTable) -> dict[int, Row]:
    frame = spark.read.format("delta").load(
        table_path(settings.lake_path, Layer.SILVER, table.name))
    rows = [row.asDict() for row in frame.collect()]
    by_key = {row[table.primary_key]: row for row in rows}
    assert len(by_key) == len(rows)  # one row per key
    return by_key


def quarantine_rows(spark: SparkSession, settings: Settings, table: SourceTable) -> list[Row]:
    frame = spark.read.format("delta").load(
        table_path(settings.lake_path, Layer.QUARANTINE, table.name))
    return [row.asDict() for row in frame.collect()]


def batch_counts(spark: SparkSession, settings: Settings) -> list[dict[str, tuple[int, ...]]]:
    """Per micro-batch of the stream, in order: table -> (read, valid, quarantined,
    duplicate)."""
    lake = settings.lake_path
    runs = spark.read.format("delta").load(table_path(lake, Layer.OPS, "runs")).where(
        F.col("job") == JOB).select("run_id")
    tables = spark.read.format("delta").load(table_path(lake, Layer.OPS, "run_tables")).where(
        F.col("layer") == "silver").join(runs, on="run_id", how="left_semi")
    found: dict[str, dict[str, tuple[int, ...]]] = {}
    for row in tables.collect():
        found.setdefault(row["run_id"], {})[row["table"]] = (
            row["rows_read"], row["rows_valid"], row["rows_quarantined"], row["rows_duplicate"])
    return [found[run_id] for run_id in sorted(found)]


@pytest.fixture
def scenario(base_settings: Settings, kafka_broker: LocalKafkaBroker, loaded_lake: LoadedLake,
             postgres: SourceDatabase, tmp_path: Path) -> Iterator[Settings]:
    """Settings of a scenario with its own topics and its own copy of the loaded lake."""
    settings = stream_settings(base_settings, tmp_path, new_topic_prefix(),
                               kafka_broker.bootstrap)
    create_topics(settings)
    with copy_of(loaded_lake, postgres, settings):
        yield settings


# --- snapshot reads, primary-key updates, unavailable values ---------------------------------

def condo(condominio_id: int, nome: str, endereco: str = "Rua Debezium, 1") -> Row:
    return {"condominio_id": condominio_id, "nome": nome, "endereco": endereco}


@pytest.mark.integration
def test_snapshot_then_streaming_primary_key_updates_and_unavailable_values(
    spark: SparkSession, scenario: Settings,
) -> None:
    settings = scenario
    loaded = silver_rows(spark, settings, CONDOMINIOS)
    (existing,) = loaded  # the session's source has one condominium

    def snapshot_read(row: Row, marker: str) -> Record:
        return event(settings, CONDOMINIOS, "r", None, row, SNAPSHOT_LSN, tx_id=760,
                     snapshot=marker)

    def pk_delete(row: Row, lsn: int) -> list[Record]:
        return [event(settings, CONDOMINIOS, "d", row, None, lsn, tx_id=lsn),
                tombstone(CONDOMINIOS, row["condominio_id"])]

    def pk_create(row: Row, lsn: int) -> Record:
        return event(settings, CONDOMINIOS, "c", None, row, lsn, tx_id=lsn)

    # Micro-batch 1: the connector's initial snapshot, then the changes streamed after it.
    publish(settings, CONDOMINIOS, [
        snapshot_read(condo(existing, "Snapshot"), "first"),
        snapshot_read(condo(2001, "Snapshot 2001"), "true"),
        snapshot_read(condo(2002, "Snapshot 2002"), "true"),
        snapshot_read(condo(2003, "Snapshot 2003"), "true"),
        snapshot_read(condo(2005, "Snapshot 2005"), "last_in_data_collection"),
        # The same key read again at the same LSN (a snapshot restarted before any write):
        # the later offset wins.
        snapshot_read(condo(2001, "Snapshot 2001, read again"), "last"),
        event(settings, CONDOMINIOS, "u", condo(2001, "Snapshot 2001"),
              condo(2001, "Streamed 2001"), 5010),
        event(settings, CONDOMINIOS, "u", condo(2002, "Snapshot 2002"),
              condo(2002, "Streamed 2002"), 5020),
        event(settings, CONDOMINIOS, "d", condo(2003, "Snapshot 2003"), None, 5030),
        tombstone(CONDOMINIOS, 2003),
        # UPDATE ... SET condominio_id = 2006 WHERE condominio_id = 2005: all in this batch.
        *pk_delete(condo(2005, "Snapshot 2005"), 5040),
        pk_create(condo(2006, "Snapshot 2005"), 5040),
        # 2002 -> 2007: the delete now, the create in the next micro-batch.
        *pk_delete(condo(2002, "Streamed 2002"), 5050),
        # 2001 -> 2008: the create now, the delete in the next micro-batch.
        pk_create(condo(2008, "Streamed 2001"), 5060),
        # REPLICA IDENTITY DEFAULT and an unchanged TOASTed text: no before, a placeholder.
        without_before(event(settings, CONDOMINIOS, "u", condo(existing, "Snapshot"),
                             condo(existing, "Renamed", endereco=PLACEHOLDER), 5070)),
    ])
    stream_once(spark, settings)
    after_first = silver_rows(spark, settings, CONDOMINIOS)
    assert {key: (row["nome"], row["_source_position"]) for key, row in after_first.items()} == {
        existing: ("Snapshot", SNAPSHOT_LSN), 2001: ("Streamed 2001", 5010),
        2006: ("Snapshot 2005", 5040), 2008: ("Streamed 2001", 5060)}
    assert after_first[existing]["endereco"] == "Rua Debezium, 1"  # never the placeholder

    # Micro-batch 2: the other halves of the split key updates, and a snapshot read of a
    # deleted key delivered again (a connector restart): older than its delete.
    publish(settings, CONDOMINIOS, [
        pk_create(condo(2007, "Streamed 2002"), 5050),
        *pk_delete(condo(2001, "Streamed 2001"), 5060),
        snapshot_read(condo(2003, "Snapshot 2003"), "true"),
    ])
    stream_once(spark, settings)
    final = silver_rows(spark, settings, CONDOMINIOS)
    assert {key: (row["nome"], row["_source_position"]) for key, row in final.items()} == {
        existing: ("Snapshot", SNAPSHOT_LSN), 2006: ("Snapshot 2005", 5040),
        2007: ("Streamed 2002", 5050), 2008: ("Streamed 2001", 5060)}

    unavailable = [(row["_reasons"], row["_detail"], row["_resolution"])
                   for row in quarantine_rows(spark, settings, CONDOMINIOS)
                   if "unavailable_value" in row["_reasons"]]
    assert unavailable == [(["unavailable_value"],
                            "unavailable value (REPLICA IDENTITY not FULL) in: endereco", None)]
    # (read, valid, quarantined, duplicate): batch 1 applies the latest version of 7 keys
    # (3 of them deletes), quarantines the placeholder, and counts 6 older versions and 3
    # tombstones as duplicates; batch 2 applies 2 and finds a tombstone and a stale read.
    assert batch_counts(spark, settings) == [
        {CONDOMINIOS.name: (17, 7, 1, 9)}, {CONDOMINIOS.name: (4, 2, 0, 2)}]
    assert gold_rows(spark, settings) == batch_recomputation(spark, settings)


# --- TRUNCATE --------------------------------------------------------------------------------

@pytest.mark.integration
def test_a_truncate_removes_what_precedes_it_and_nothing_brings_it_back(
    spark: SparkSession, scenario: Settings,
) -> None:
    settings = scenario
    loaded = silver_rows(spark, settings, TRANSACOES)
    assert len(loaded) > 1000 and not any(r["_source"].startswith("kafka:")
                                          for r in loaded.values())  # a batch load's rows
    template = loaded[min(loaded)]
    imovel = next(iter(silver_rows(spark, settings, IMOVEIS).values()))
    orphan_parent = {**{c: imovel[c] for c in IMOVEIS.column_names}, "imovel_id": 990001}

    def transacao(transacao_id: int, valor: str, imovel_id: int | None = None) -> Row:
        row = {c: template[c] for c in TRANSACOES.column_names}
        return {**row, "transacao_id": transacao_id, "valor_transacao": Decimal(valor),
                "imovel_id": template["imovel_id"] if imovel_id is None else imovel_id}

    def create(row: Row, lsn: int) -> Record:
        return event(settings, TRANSACOES, "c", None, row, lsn)

    truncate = truncate_event(TRANSACOES, prefix=settings.kafka_topic_prefix,
                              database="condomanage", lsn=2000, tx_id=AFTER_LOAD_TX + 2000,
                              commit_ms=1764979200000, produced_ms=1764979200123)

    # Micro-batch 0: a streamed row, and an orphan that waits in quarantine for its property.
    publish(settings, TRANSACOES, [create(transacao(900000, "5.00"), 400),
                                   create(transacao(900001, "7.00", imovel_id=990001), 500)])
    stream_once(spark, settings)
    assert {900000, 900001} & set(silver_rows(spark, settings, TRANSACOES)) == {900000}
    open_before = [r for r in quarantine_rows(spark, settings, TRANSACOES)
                   if r["_resolution"] is None and r["transacao_id"] is not None]
    assert "900001" in {r["transacao_id"] for r in open_before}

    # Micro-batch 1: a change before the truncate, the truncate, a change after it, and an
    # older change that Kafka delivers after the truncate (another partition).
    publish(settings, TRANSACOES, [create(transacao(900002, "3.00"), 1000), truncate,
                                   create(transacao(900003, "10.01"), 3000),
                                   create(transacao(900004, "4.00"), 1500)])
    stream_once(spark, settings)
    assert {k: r["valor_transacao"] for k, r in silver_rows(spark, settings, TRANSACOES).items()
            } == {900003: Decimal("10.01")}

    # Micro-batch 2: a new row, older creates replayed (one streamed before the truncate, one
    # of a batch-loaded key), the truncate delivered again, and the orphan's property.
    publish(settings, TRANSACOES, [create(transacao(900005, "0.99"), 4000),
                                   create(transacao(900002, "3.00"), 1000),
                                   create({**template}, 1200), truncate])
    publish(settings, IMOVEIS, [event(settings, IMOVEIS, "c", None, orphan_parent, 4100)])
    stream_once(spark, settings)

    final = silver_rows(spark, settings, TRANSACOES)
    assert {k: r["valor_transacao"] for k, r in final.items()} == {
        900003: Decimal("10.01"), 900005: Decimal("0.99")}
    assert 990001 in silver_rows(spark, settings, IMOVEIS)  # the orphan stays closed

    # Gold follows silver: every batch-loaded and early streamed transaction is gone.
    gold = gold_rows(spark, settings)
    assert gold == batch_recomputation(spark, settings)
    condos = spark.read.format("delta").load(
        table_path(settings.lake_path, Layer.GOLD, "transacoes_por_condominio")).collect()
    assert [(r["condominio_id"], r["quantidade_transacoes"], r["valor_total"])
            for r in condos] == [(imovel["condominio_id"], 2, Decimal("11.00"))]
    days = spark.read.format("delta").load(
        table_path(settings.lake_path, Layer.GOLD, "transacoes_diarias_por_tipo")).collect()
    assert [(r["data_transacao"], r["quantidade_transacoes"], r["valor_total"])
            for r in days] == [(template["data_transacao"], 2, Decimal("11.00"))]

    # The truncate closed every open record of a key it preceded, the orphan included.
    quarantine = quarantine_rows(spark, settings, TRANSACOES)
    closed = {r["_record_id"]: r["_resolution"] for r in quarantine}
    assert {closed[r["_record_id"]] for r in open_before} == {"truncated"}
    assert [r for r in quarantine if r["_resolution"] is None
            and r["transacao_id"] is not None] == []

    positions = spark.read.format("delta").load(
        table_path(settings.lake_path, Layer.OPS, "change_positions")).where(
        F.col("table") == TRANSACOES.name).collect()
    assert [(r["source"], r["key"], r["order"], r["op"]) for r in positions
            if r["op"] == "t"] == [("kafka", None, 2000, "t")]

    # (read, valid, quarantined, duplicate) per micro-batch. Batch 1 applies the truncate and
    # the create after it; the two older creates are stale. Batch 2 applies one create; the
    # replays and the repeated truncate are stale.
    assert batch_counts(spark, settings) == [
        {TRANSACOES.name: (2, 1, 1, 0)},
        {TRANSACOES.name: (4, 2, 0, 2)},
        {TRANSACOES.name: (4, 1, 0, 3), IMOVEIS.name: (1, 1, 0, 0)},
    ]
