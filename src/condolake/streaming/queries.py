"""The streaming queries: sources, sinks, checkpoints and triggers (Spark Structured Streaming).

    Kafka topics ──kafka_bronze──▶ bronze/kafka_events ──kafka_silver──▶ silver + quarantine
    <landing>/<table>/ files ─────────landing_silver──▶ bronze/<table> + silver + quarantine
    silver change data feed ──────────silver_gold────▶ gold (affected keys only)

Each query has its own checkpoint under `<lake_root>/_checkpoints/<query>`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import reduce

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.streaming import DataStreamWriter

from condolake.config import Settings
from condolake.lake.layout import (
    INGESTED_AT_COL,
    POSITION_COL,
    RUN_ID_COL,
    SOURCE_COL,
    Layer,
    checkpoint_path,
    table_path,
)
from condolake.lake.types import struct
from condolake.source.tables import CONDOMINIOS, IMOVEIS, MORADORES, SOURCE_TABLES, TRANSACOES
from condolake.streaming.kafka_events import (
    KAFKA_TIMESTAMP,
    KEY,
    OFFSET,
    PARTITION,
    TOPIC,
    VALUE,
)
from condolake.streaming.landing import with_file_columns

KAFKA_BRONZE = "kafka_bronze"
KAFKA_SILVER = "kafka_silver"
LANDING_SILVER = "landing_silver"
SILVER_GOLD = "silver_gold"
QUERY_NAMES = (KAFKA_BRONZE, KAFKA_SILVER, LANDING_SILVER, SILVER_GOLD)
KAFKA_EVENTS = "kafka_events"
KAFKA_EVENTS_SCHEMA = struct(
    f"{KEY}: string, {VALUE}: string, {TOPIC}: string, {PARTITION}: int, {OFFSET}: long, "
    f"{KAFKA_TIMESTAMP}: timestamp, {SOURCE_COL}: string, {POSITION_COL}: long, "
    f"{RUN_ID_COL}: string, {INGESTED_AT_COL}: timestamp"
)
CHANGE_TYPES = ("insert", "update_preimage", "update_postimage", "delete")

BatchHandler = Callable[[DataFrame, int], None]


@dataclass(frozen=True)
class Trigger:
    """How often micro-batches run: every `interval_s`, or once over what is available."""

    interval_s: float
    available_now: bool = False

    def apply(self, writer: DataStreamWriter) -> DataStreamWriter:
        if self.available_now:
            return writer.trigger(availableNow=True)
        return writer.trigger(processingTime=f"{self.interval_s} seconds")


def topics(prefix: str) -> list[str]:
    """Debezium's topic names: `<prefix>.public.<table>`."""
    return [f"{prefix}.public.{table.name}" for table in SOURCE_TABLES]


def kafka_events_path(lake_root: str) -> str:
    return table_path(lake_root, Layer.BRONZE, KAFKA_EVENTS)


def _writer(frame: DataFrame, settings: Settings, name: str, trigger: Trigger
            ) -> DataStreamWriter:
    writer = frame.writeStream.queryName(name).option(
        "checkpointLocation", checkpoint_path(settings.lake_path, name)
    )
    return trigger.apply(writer)


def kafka_bronze(spark: SparkSession, settings: Settings, bootstrap: str,
                 trigger: Trigger) -> DataStreamWriter:
    """Kafka -> bronze/kafka_events: raw key and value with their Kafka coordinates.

    The Delta sink commits each micro-batch once (it records the query id and batch id in the
    table's log). `failOnDataLoss` stays on: offsets deleted before they were read stop the
    query loudly instead of skipping data.
    """
    reader = (
        spark.readStream.format("kafka")
        .option("kafka.bootstrap.servers", bootstrap)
        .option("subscribe", ",".join(topics(settings.kafka_topic_prefix)))
        .option("startingOffsets", "earliest")
        .option("maxOffsetsPerTrigger", str(settings.stream_max_offsets))
        .option("failOnDataLoss", "true")
    )
    if settings.stream_min_partitions:
        reader = reader.option("minPartitions", str(settings.stream_min_partitions))
    coordinates = F.concat_ws("/", F.col("topic"), F.col("partition").cast("string"),
                              F.col("offset").cast("string"))
    events = reader.load().select(
        F.col("key").cast("string").alias(KEY),
        F.col("value").cast("string").alias(VALUE),
        F.col("topic").alias(TOPIC),
        F.col("partition").alias(PARTITION),
        F.col("offset").alias(OFFSET),
        F.col("timestamp").alias(KAFKA_TIMESTAMP),
        F.concat(F.lit("kafka:"), coordinates).alias(SOURCE_COL),
        F.col("offset").alias(POSITION_COL),
        F.lit(f"stream-{KAFKA_BRONZE}").alias(RUN_ID_COL),
        F.current_timestamp().alias(INGESTED_AT_COL),
    )
    return _writer(events, settings, KAFKA_BRONZE, trigger).format("delta").outputMode(
        "append").option("path", kafka_events_path(settings.lake_path))


def kafka_silver(spark: SparkSession, settings: Settings, handler: BatchHandler,
                 trigger: Trigger) -> DataStreamWriter:
    """bronze/kafka_events -> silver and quarantine, through `handler` (foreachBatch)."""
    events = spark.readStream.format("delta").load(kafka_events_path(settings.lake_path))
    return _writer(events, settings, KAFKA_SILVER, trigger).foreachBatch(handler)


def landing_silver(spark: SparkSession, settings: Settings, handler: BatchHandler,
                   trigger: Trigger) -> DataStreamWriter:
    """Files in `<landing>/<table>/` -> bronze/<table>, silver and quarantine."""
    lines = (
        spark.readStream.format("text")
        .option("maxFilesPerTrigger", str(settings.stream_max_files))
        .load(f"{settings.landing_path}/*/")
    )
    return _writer(with_file_columns(lines), settings, LANDING_SILVER, trigger).foreachBatch(
        handler
    )


def _feed(spark: SparkSession, lake_root: str, table: str) -> DataFrame:
    return (
        spark.readStream.format("delta").option("readChangeFeed", "true")
        .load(table_path(lake_root, Layer.SILVER, table))
        .where(F.col("_change_type").isin(*CHANGE_TYPES))
    )


def _none(sql_type: str) -> F.Column:
    return F.lit(None).cast(sql_type)


def silver_changes(spark: SparkSession, lake_root: str) -> DataFrame:
    """The keys named by every change of the four silver tables (see transforms/gold)."""
    condominios = _feed(spark, lake_root, CONDOMINIOS.name).select(
        "condominio_id", _none("int").alias("morador_id"), _none("int").alias("imovel_id"),
        _none("date").alias("data_transacao"), _none("string").alias("tipo"),
    )
    moradores = _feed(spark, lake_root, MORADORES.name).select(
        _none("int").alias("condominio_id"), "morador_id", _none("int").alias("imovel_id"),
        _none("date").alias("data_transacao"), _none("string").alias("tipo"),
    )
    imoveis = _feed(spark, lake_root, IMOVEIS.name).select(
        "condominio_id", _none("int").alias("morador_id"), "imovel_id",
        _none("date").alias("data_transacao"), "tipo",
    )
    transacoes = _feed(spark, lake_root, TRANSACOES.name).select(
        _none("int").alias("condominio_id"), "morador_id", "imovel_id", "data_transacao",
        _none("string").alias("tipo"),
    )
    return reduce(DataFrame.unionByName, [condominios, moradores, imoveis, transacoes])


def silver_gold(spark: SparkSession, settings: Settings, handler: BatchHandler,
                trigger: Trigger) -> DataStreamWriter:
    """Silver's change data feed -> gold, through `handler` (foreachBatch)."""
    changes = silver_changes(spark, settings.lake_path)
    return _writer(changes, settings, SILVER_GOLD, trigger).foreachBatch(handler)
