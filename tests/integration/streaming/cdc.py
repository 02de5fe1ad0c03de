"""Helpers of the streaming tests that run the real connector: a connector of the scenario's
own on the session's Kafka Connect worker, the point where everything written so far has been
captured, and the lake compared with PostgreSQL by SQL (silver row for row, gold to the cent)."""

from __future__ import annotations

import contextlib
import datetime as dt
import uuid
from collections.abc import Iterator

from psycopg import sql
from pyspark.sql import SparkSession
from tests.integration.pipelines.reconcile import VALID_ROWS, expected_gold
from tests.integration.services.test_kafka_connect import remove_connector
from tests.integration.streaming.streams import gold_rows, wait_until

from condolake.app import cdc
from condolake.app.resources import Resources
from condolake.config import Settings
from condolake.layout import Layer, table_path
from condolake.services.kafka import describe_topics
from condolake.services.kafka_connect import LocalKafkaConnect
from condolake.services.postgres import SourceDatabase
from condolake.source.debezium import topic_name
from condolake.source.replication import prepare_source
from condolake.source.tables import CONDOMINIOS, SOURCE_TABLES, SourceTable

# Per table, the valid-rows CTE (reconcile.VALID_ROWS) that holds its valid keys.
VALID_CTE = {"condominios": "vc", "moradores": "vm", "imoveis": "vi", "transacoes": "vt"}
PUBLICATION = "condolake"
CAPTURED_TIMEOUT_S = 300.0


def source_rows(db: SourceDatabase, table: SourceTable, run_date: dt.date, *,
                valid: bool) -> set[tuple[object, ...]]:
    """Every column of the rows the rules call valid (silver's contract: tipo trimmed and
    lower-cased), or only the keys of those they reject."""
    key = sql.Identifier(table.primary_key)
    valid_keys = sql.SQL(VALID_ROWS + "SELECT {} FROM {}").format(
        key, sql.Identifier(VALID_CTE[table.name]))
    if valid:
        columns = sql.SQL(", ").join(
            sql.SQL("lower(btrim(tipo))") if column.name == "tipo"
            else sql.Identifier(column.name) for column in table.columns)
        query = sql.SQL("SELECT {} FROM {} WHERE {} IN ({})").format(
            columns, sql.Identifier(table.name), key, valid_keys)
    else:
        query = sql.SQL("SELECT {} FROM {} WHERE {} NOT IN ({})").format(
            key, sql.Identifier(table.name), key, valid_keys)
    with db.connect() as conn:
        return {tuple(row) for row in conn.execute(query, {"run_date": run_date})}


def silver_rows(spark: SparkSession, settings: Settings,
                table: SourceTable) -> list[tuple[object, ...]]:
    """Every row of silver's `table`, its declared columns only, duplicates kept."""
    rows = spark.read.format("delta").load(
        table_path(settings.lake_path, Layer.SILVER, table.name)).select(
        *[column.name for column in table.columns]).collect()
    return [tuple(row) for row in rows]


def lake_differences(spark: SparkSession, settings: Settings, db: SourceDatabase,
                     run_date: dt.date) -> list[str]:
    """What differs between the lake and PostgreSQL: per table, silver's rows (every column)
    against the valid rows, duplicates included; then each mart against its SQL aggregate.
    Empty when the lake is exactly the source."""
    differences = []
    for table in SOURCE_TABLES:
        silver = silver_rows(spark, settings, table)
        expected = source_rows(db, table, run_date, valid=True)
        if len(silver) != len(set(silver)):
            differences.append(f"{table.name}: {len(silver) - len(set(silver))} duplicate rows")
        if set(silver) != expected:
            differences.append(
                f"{table.name}: only in silver {sorted(set(silver) - expected)[:5]}, "
                f"only in PostgreSQL {sorted(expected - set(silver))[:5]}")
    gold, expected_marts = gold_rows(spark, settings), expected_gold(db, run_date)
    differences += [f"{name}: only in gold {sorted(gold[name] - rows)[:5]}, only in SQL "
                    f"{sorted(rows - gold[name])[:5]}"
                    for name, rows in expected_marts.items() if gold[name] != rows]
    return differences


@contextlib.contextmanager
def capturing(worker: LocalKafkaConnect, settings: Settings, db: SourceDatabase
              ) -> Iterator[Resources]:
    """Debezium's connector for `db` on the session's worker, with a connector name and slot
    of its own, publishing to `settings`' topics; deleted with its slot on exit. Started with
    no handover load: the scenario's lake already holds what `db` holds (see `copy_of`), and
    nothing writes `db` before the slot exists."""
    suffix = uuid.uuid4().hex[:12]
    connector = Resources.from_settings(settings.with_(
        state_dir=str(worker.folder.parent), source_url=db.url,
        cdc_connector=f"test-{suffix}", cdc_slot=f"test_{suffix}", cdc_publication=PUBLICATION))
    prepare_source(db, publication=PUBLICATION)
    try:
        cdc.start(connector, handover=False)
        yield connector
    finally:
        remove_connector(worker.client(), connector.settings.cdc_connector, db,
                         connector.settings.cdc_slot)


def fence_captured(settings: Settings, db: SourceDatabase) -> None:
    """Writes a fence, an update of a condominio that changes nothing (the workload never
    writes condominios), and waits until Debezium has published it: Connect's producer
    sends in order (one request in flight), so everything committed before it is in Kafka."""
    assert settings.kafka_bootstrap
    bootstrap, topic = settings.kafka_bootstrap, topic_name(settings.kafka_topic_prefix,
                                                           CONDOMINIOS.name)

    def published() -> int:
        return sum(sum(found.end_offsets) for found in describe_topics(bootstrap)
                   if found.name == topic)

    before = published()
    with db.connect() as conn:
        conn.execute("UPDATE condominios SET nome = nome WHERE condominio_id = "
                     "(SELECT min(condominio_id) FROM condominios)")
    wait_until(lambda: published() > before, CAPTURED_TIMEOUT_S,
               "Debezium to publish the fence written after the workload")
