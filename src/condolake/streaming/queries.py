"""The streaming queries: sources, checkpoints and triggers (Spark Structured Streaming).

    Kafka topics ─────────kafka───▶ bronze/kafka_events + silver + quarantine + gold
    <landing>/<table>/ files ─landing─▶ bronze/<table> + silver + quarantine + gold

Each query hands its micro-batches to a handler (foreachBatch) that writes every layer from
the one micro-batch, and has its own checkpoint under `<lake_root>/_checkpoints/<query>`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.streaming import DataStreamWriter

from condolake.catalog import KAFKA_EVENTS, KAFKA_TIMESTAMP, KEY, OFFSET, PARTITION, TOPIC, VALUE
from condolake.config import Settings
from condolake.layout import (
    INGESTED_AT_COL,
    POSITION_COL,
    SOURCE_COL,
    Layer,
    checkpoint_path,
    table_path,
)
from condolake.source.tables import SOURCE_TABLES
from condolake.streaming.landing import with_file_columns

KAFKA = "kafka"
LANDING = "landing"
QUERY_NAMES = (KAFKA, LANDING)
# The queries of the four-query topology this one replaced (their checkpoints are refused).
FORMER_QUERY_NAMES = ("kafka_bronze", "kafka_silver", "landing_silver", "silver_gold")

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


def kafka(spark: SparkSession, settings: Settings, bootstrap: str, handler: BatchHandler,
          trigger: Trigger) -> DataStreamWriter:
    """Kafka -> every layer, through `handler` (foreachBatch): the raw records with their
    Kafka coordinates, in bronze/kafka_events' columns (but the run id, which the handler
    knows).

    `failOnDataLoss` stays on: offsets deleted before they were read stop the query loudly
    instead of skipping data.
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
    return _writer(kafka_records(reader.load()), settings, KAFKA, trigger).foreachBatch(handler)


def kafka_records(raw: DataFrame) -> DataFrame:
    """Spark's Kafka rows as bronze/kafka_events' columns (but the run id)."""
    coordinates = F.concat_ws("/", F.col("topic"), F.col("partition").cast("string"),
                              F.col("offset").cast("string"))
    return raw.select(
        F.col("key").cast("string").alias(KEY),
        F.col("value").cast("string").alias(VALUE),
        F.col("topic").alias(TOPIC),
        F.col("partition").alias(PARTITION),
        F.col("offset").alias(OFFSET),
        F.col("timestamp").alias(KAFKA_TIMESTAMP),
        F.concat(F.lit("kafka:"), coordinates).alias(SOURCE_COL),
        F.col("offset").alias(POSITION_COL),
        F.current_timestamp().alias(INGESTED_AT_COL),
    )


def landing(spark: SparkSession, settings: Settings, handler: BatchHandler,
            trigger: Trigger) -> DataStreamWriter:
    """Files in `<landing>/<table>/` -> every layer, through `handler` (foreachBatch)."""
    lines = (
        spark.readStream.format("text")
        .option("maxFilesPerTrigger", str(settings.stream_max_files))
        .load(f"{settings.landing_path}/*/")
    )
    return _writer(with_file_columns(lines), settings, LANDING, trigger).foreachBatch(
        handler
    )
