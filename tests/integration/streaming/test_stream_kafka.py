"""Kafka change events -> bronze -> silver -> gold, against the real broker and PostgreSQL.

One scenario, in order: a batch load (a copy of the session's), then simulated changes with
chaos (malformed, duplicate, late and out-of-order events, rule-breaking rows) streamed through
every layer; a second stream run with nothing new; then changes produced while no stream runs,
picked up from the checkpoint.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from tests.integration.conftest import new_topic_prefix
from tests.integration.pipelines.reconcile import expected_gold, expected_valid_ids
from tests.integration.streaming.streams import (
    LoadedLake,
    batch_recomputation,
    copy_of,
    create_topics,
    gold_rows,
    silver_ids,
    simulate,
    stream_settings,
    stream_totals,
)

from condolake.catalog import MART_NAMES, OFFSET, PARTITION, TOPIC
from condolake.config import Settings
from condolake.lake import delta
from condolake.layout import RUN_ID_COL, Layer, checkpoint_path, table_path
from condolake.pipelines.stream import (
    MicroBatch,
    StreamOptions,
    kafka_batch,
    kafka_handler,
    run_streams,
)
from condolake.services.kafka import LocalKafkaBroker
from condolake.services.postgres import SourceDatabase
from condolake.source.simulator import SimulationStats
from condolake.source.tables import SOURCE_TABLES
from condolake.streaming.queries import KAFKA, kafka_events_path, kafka_records, topics
from condolake.streaming.status import last_committed_batch

SEED = 20261126
EVENTS = 3_000
CHAOS = 0.05
JOB = "stream:kafka"


def today(settings: Settings) -> dt.date:
    return dt.datetime.now(ZoneInfo(settings.timezone)).date()


def unread_records(spark: SparkSession, settings: Settings) -> DataFrame:
    """The Kafka records bronze/kafka_events does not hold yet, as the query hands them over
    (read in batch: the micro-batch that the next start would run). Collected, so that they
    stay the same once the micro-batch has landed them in bronze."""
    landed = spark.read.format("delta").load(kafka_events_path(settings.lake_path)).select(
        TOPIC, PARTITION, OFFSET)
    raw = (spark.read.format("kafka")
           .option("kafka.bootstrap.servers", settings.kafka_bootstrap)
           .option("subscribe", ",".join(topics(settings.kafka_topic_prefix)))
           .option("startingOffsets", "earliest").option("endingOffsets", "latest").load())
    unread = kafka_records(raw).join(landed, on=[TOPIC, PARTITION, OFFSET], how="left_anti")
    return spark.createDataFrame(unread.collect(), unread.schema)


def lake_versions(spark: SparkSession, settings: Settings) -> dict[str, int | None]:
    """The Delta version of every table a Kafka micro-batch writes."""
    lake = settings.lake_path
    paths = [kafka_events_path(lake), table_path(lake, Layer.OPS, "runs"),
             table_path(lake, Layer.OPS, "run_tables"), table_path(lake, Layer.OPS,
                                                                   "change_positions")]
    paths += [table_path(lake, layer, t.name) for layer in (Layer.SILVER, Layer.QUARANTINE)
              for t in SOURCE_TABLES]
    paths += [table_path(lake, Layer.GOLD, name) for name in MART_NAMES]
    return {path: delta.version(spark, path) for path in paths}


@pytest.fixture(scope="module")
def settings(base_settings: Settings, kafka_broker: LocalKafkaBroker,
             tmp_path_factory: pytest.TempPathFactory) -> Settings:
    folder: Path = tmp_path_factory.mktemp("stream-kafka")
    settings = stream_settings(base_settings, folder, new_topic_prefix(), kafka_broker.bootstrap)
    create_topics(settings)
    return settings


@pytest.fixture(scope="module")
def source(loaded_lake: LoadedLake, postgres: SourceDatabase,
           settings: Settings) -> Iterator[SourceDatabase]:
    """This module's source, and its lake as the batch load left it."""
    with copy_of(loaded_lake, postgres, settings) as database:
        yield database


@pytest.fixture(scope="module")
def first_stream(spark: SparkSession, settings: Settings,
                 source: SourceDatabase) -> Iterator[SimulationStats]:
    stats = simulate(source, settings, events=EVENTS, seed=SEED, chaos=CHAOS)
    run_streams(spark, settings, settings.kafka_bootstrap, StreamOptions(once=True))
    yield stats


@pytest.mark.integration
class TestKafkaStream:
    def test_silver_holds_every_valid_transaction_once(
        self, spark: SparkSession, settings: Settings, source: SourceDatabase,
        first_stream: SimulationStats,
    ) -> None:
        ids = silver_ids(spark, settings)
        assert [key for key, n in Counter(ids).items() if n > 1] == []
        assert set(ids) == expected_valid_ids(source, today(settings))
        assert first_stream.valid_transacao_ids <= set(ids)
        assert set(first_stream.deleted_transacao_ids).isdisjoint(ids)

    def test_gold_reconciles_with_postgres_to_the_cent(
        self, spark: SparkSession, settings: Settings, source: SourceDatabase,
        first_stream: SimulationStats,
    ) -> None:
        assert gold_rows(spark, settings) == expected_gold(source, today(settings))

    def test_every_event_is_counted(
        self, spark: SparkSession, settings: Settings, first_stream: SimulationStats,
    ) -> None:
        stats = first_stream
        totals = stream_totals(spark, settings, JOB)
        new_keys = sum(changes["c"] for changes in stats.changes.values())
        rejected = stats.chaos["malformed"] + stats.chaos["invalid_row"]
        assert stats.chaos["malformed"] > 0 and stats.chaos["duplicate"] > 0
        assert stats.chaos["late"] > 0 and stats.chaos["out_of_order"] > 0
        assert totals["rows_read"] == stats.published
        assert totals["rows_quarantined"] == rejected
        # One micro-batch: each new key ends as one applied change (its latest version, a
        # delete included) unless its latest version breaks a rule; every other record is
        # an older version, a repeat or a tombstone.
        assert totals["rows_valid"] == new_keys - stats.chaos["invalid_row"]
        assert totals["rows_duplicate"] == stats.published - totals["rows_valid"] - rejected

    def test_malformed_events_are_quarantined_with_their_reason(
        self, spark: SparkSession, settings: Settings, first_stream: SimulationStats,
    ) -> None:
        quarantine = spark.read.format("delta").load(
            table_path(settings.lake_path, Layer.QUARANTINE, "transacoes"))
        malformed = quarantine.where("array_contains(_reasons, 'malformed_event')")
        assert malformed.count() == first_stream.chaos["malformed"]
        assert malformed.where("_raw IS NULL OR _detail IS NULL").count() == 0

    def test_a_second_run_with_nothing_new_changes_nothing(
        self, spark: SparkSession, settings: Settings, first_stream: SimulationStats,
    ) -> None:
        before = gold_rows(spark, settings), sorted(silver_ids(spark, settings))
        report = run_streams(spark, settings, settings.kafka_bootstrap, StreamOptions(once=True))
        assert sum(report.rows.values()) == 0
        assert (gold_rows(spark, settings), sorted(silver_ids(spark, settings))) == before

    def test_changes_made_while_stopped_are_picked_up_from_the_checkpoint(
        self, spark: SparkSession, settings: Settings, source: SourceDatabase,
        first_stream: SimulationStats,
    ) -> None:
        later = simulate(source, settings, events=500, seed=SEED + 1)
        run_streams(spark, settings, settings.kafka_bootstrap, StreamOptions(once=True))
        ids = silver_ids(spark, settings)
        assert len(ids) == len(set(ids))
        assert later.valid_transacao_ids <= set(ids)
        assert set(ids) == expected_valid_ids(source, today(settings))
        assert gold_rows(spark, settings) == expected_gold(source, today(settings))

    def test_a_micro_batch_replayed_after_a_crash_completes_it_and_changes_nothing_else(
        self, spark: SparkSession, settings: Settings, source: SourceDatabase,
        first_stream: SimulationStats,
    ) -> None:
        later = simulate(source, settings, events=400, seed=SEED + 2, chaos=CHAOS)
        batch = unread_records(spark, settings)
        records = batch.count()
        assert records == later.published
        batch_id = (last_committed_batch(Path(checkpoint_path(settings.lake_path, KAFKA)))
                    or 0) + 1
        # The first attempt dies after its bronze, silver and quarantine commits, before gold
        # and the run log: the steps the handler runs, stopped there.
        with kafka_batch(MicroBatch(settings, KAFKA), batch, batch_id) as attempt:
            attempt.land()
            assert attempt.apply()  # silver changed
            run_id = attempt.ctx.run_id
        runs = spark.read.format("delta").load(table_path(settings.lake_path, Layer.OPS, "runs"))
        assert runs.where(F.col("run_id") == run_id).count() == 0
        assert gold_rows(spark, settings) != expected_gold(source, today(settings))

        # A new process replays the micro-batch (its first), then once more.
        kafka_handler(settings)(batch, batch_id)
        ids = silver_ids(spark, settings)
        assert [key for key, n in Counter(ids).items() if n > 1] == []
        assert set(ids) == expected_valid_ids(source, today(settings))
        gold = gold_rows(spark, settings)
        assert gold == expected_gold(source, today(settings))
        assert gold == batch_recomputation(spark, settings)
        logged = runs.where(F.col("run_id") == run_id).collect()
        assert [(row["status"], row["rows_read"], row["conserved"]) for row in logged] == [
            ("succeeded", records, True)]
        landed = spark.read.format("delta").load(kafka_events_path(settings.lake_path))
        assert landed.where(F.col(RUN_ID_COL) == run_id).count() == records

        versions = lake_versions(spark, settings)
        kafka_handler(settings)(batch, batch_id)
        assert lake_versions(spark, settings) == versions
