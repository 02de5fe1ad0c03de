"""Fault tolerance of the Kafka stream, against the real broker, PostgreSQL and Delta.

The stream runs as `condolake stream start` in a child process, as in production, while the
simulator changes the source and publishes on a thread of the test.
"""

from __future__ import annotations

import datetime as dt
import random
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from pyspark.sql import DataFrame, SparkSession
from tests.integration.conftest import new_database, new_topic_prefix
from tests.integration.pipelines.reconcile import expected_gold, expected_valid_ids
from tests.integration.pipelines.run_cli import run_condolake
from tests.integration.streaming.streams import (
    Producer,
    StreamProcess,
    create_topics,
    gold_rows,
    silver_ids,
    simulate,
    stream_pid,
    stream_settings,
    wait_until,
)

from condolake.config import Settings
from condolake.lake.layout import Layer, table_path
from condolake.pipelines.batch import batch
from condolake.pipelines.stream import StreamOptions, run_streams
from condolake.services.kafka import LocalKafkaBroker
from condolake.services.postgres import SourceDatabase
from condolake.source.generator import generate
from condolake.source.tables import CONDOMINIOS, IMOVEIS, MORADORES, TRANSACOES, SourceTable
from condolake.transforms.gold.diarias_por_tipo import transacoes_diarias_por_tipo
from condolake.transforms.gold.por_condominio import transacoes_por_condominio
from condolake.transforms.gold.por_morador import transacoes_por_morador

SCALE = 0.01
SEED = 4242
KILLS = 10
RATE = 300  # events per second while the stream is being killed
START_TIMEOUT_S = 300
CATCH_UP_TIMEOUT_S = 300
MAX_RUN_BEFORE_KILL_S = 4.0
KAFKA_ONLY = StreamOptions(once=True, landing=False)


def today(settings: Settings) -> dt.date:
    return dt.datetime.now(ZoneInfo(settings.timezone)).date()


@pytest.fixture(scope="module")
def source(postgres: SourceDatabase) -> Iterator[SourceDatabase]:
    with new_database(postgres) as database:
        with database.connect() as conn:
            generate(conn, scale=SCALE, seed=SEED)
        yield database


def new_settings(base: Settings, broker: LocalKafkaBroker, folder: Path) -> Settings:
    settings = stream_settings(base, folder, new_topic_prefix(), broker.bootstrap)
    create_topics(settings)
    return settings


def batch_recomputation(spark: SparkSession,
                        settings: Settings) -> dict[str, set[tuple[object, ...]]]:
    """The gold tables as `condolake transform` computes them from the same silver."""
    def silver(table: SourceTable) -> DataFrame:
        return spark.read.format("delta").load(
            table_path(settings.lake_path, Layer.SILVER, table.name))

    marts = {
        "transacoes_por_condominio": transacoes_por_condominio(
            silver(CONDOMINIOS), silver(IMOVEIS), silver(TRANSACOES)),
        "transacoes_por_morador": transacoes_por_morador(silver(MORADORES), silver(TRANSACOES)),
        "transacoes_diarias_por_tipo": transacoes_diarias_por_tipo(
            silver(IMOVEIS), silver(TRANSACOES)),
    }
    return {name: {tuple(row) for row in mart.collect()} for name, mart in marts.items()}


def assert_exactly_the_source(spark: SparkSession, settings: Settings,
                              source: SourceDatabase) -> None:
    ids = silver_ids(spark, settings)
    assert [key for key, n in Counter(ids).items() if n > 1] == []
    assert set(ids) == expected_valid_ids(source, today(settings))
    gold = gold_rows(spark, settings)
    assert gold == batch_recomputation(spark, settings)
    assert gold == expected_gold(source, today(settings))


@pytest.mark.integration
class TestStreamFaults:
    def test_ten_sigkills_while_producing_lose_and_duplicate_nothing(
        self, spark: SparkSession, base_settings: Settings, kafka_broker: LocalKafkaBroker,
        source: SourceDatabase, tmp_path: Path,
    ) -> None:
        settings = new_settings(base_settings, kafka_broker, tmp_path)
        batch(spark, settings, source)
        moments = random.Random(SEED)
        producer = Producer(source, settings, rate=RATE, seed=SEED)
        for _ in range(KILLS):
            stream = StreamProcess(settings, tmp_path, "--no-landing")
            wait_until(lambda s=stream: stream_pid(settings) == s.process.pid,
                       START_TIMEOUT_S, "the stream's queries to start")
            # A random moment of its life: during a micro-batch, a commit, or between them.
            time.sleep(moments.uniform(0, MAX_RUN_BEFORE_KILL_S))
            stream.kill()
        stats = producer.stop()
        run_streams(spark, settings, settings.kafka_bootstrap, KAFKA_ONLY)
        assert stats.valid_transacao_ids <= set(silver_ids(spark, settings))
        assert_exactly_the_source(spark, settings, source)

    def test_broker_restart_mid_stream_loses_nothing(
        self, spark: SparkSession, base_settings: Settings, kafka_broker: LocalKafkaBroker,
        source: SourceDatabase, tmp_path: Path,
    ) -> None:
        settings = new_settings(base_settings, kafka_broker, tmp_path)
        batch(spark, settings, source)
        stream = StreamProcess(settings, tmp_path, "--no-landing")
        before = simulate(source, settings, events=300, seed=SEED + 1)
        wait_until(lambda: before.valid_transacao_ids <= set(silver_ids(spark, settings)),
                   CATCH_UP_TIMEOUT_S, "the stream to apply the first changes")
        kafka_broker.stop()
        kafka_broker.start()
        after = simulate(source, settings, events=300, seed=SEED + 2)
        wait_until(lambda: stream.process.poll() is not None
                   or after.valid_transacao_ids <= set(silver_ids(spark, settings)),
                   CATCH_UP_TIMEOUT_S, "the stream to recover or to stop")
        if stream.process.poll() is None:
            assert stream.terminate(timeout_s=120) == 0, stream.output()
        else:
            # It may stop instead; then loudly, and a restart recovers.
            assert stream.process.returncode != 0
            assert "condolake: error: stream kafka_bronze failed" in stream.output()
            run_streams(spark, settings, settings.kafka_bootstrap, KAFKA_ONLY)
        assert after.valid_transacao_ids <= set(silver_ids(spark, settings))
        assert_exactly_the_source(spark, settings, source)

    def test_batch_and_stream_writing_silver_together_stay_consistent(
        self, spark: SparkSession, base_settings: Settings, kafka_broker: LocalKafkaBroker,
        source: SourceDatabase, tmp_path: Path,
    ) -> None:
        settings = new_settings(base_settings, kafka_broker, tmp_path)
        batch(spark, settings, source)
        stream = StreamProcess(settings, tmp_path, "--no-landing")
        wait_until(lambda: stream_pid(settings) == stream.process.pid, START_TIMEOUT_S,
                   "the stream's queries to start")
        status = run_condolake(["stream", "status"], tmp_path, {
            "state_dir": settings.state_dir, "lake_root": settings.lake_root})
        assert status.returncode == 0, status.stderr
        assert "a stream process is running" in status.stdout
        assert "kafka_silver" in status.stdout and "running" in status.stdout
        producer = Producer(source, settings, rate=RATE, seed=SEED + 3)
        # Two batch runs MERGE into silver while the stream MERGEs into the same tables.
        first, second = batch(spark, settings, source), batch(spark, settings, source)
        stats = producer.stop()
        assert (first.status, second.status) == ("succeeded", "succeeded")
        assert stream.terminate(timeout_s=300) == 0, stream.output()
        run_streams(spark, settings, settings.kafka_bootstrap, KAFKA_ONLY)
        assert stats.valid_transacao_ids <= set(silver_ids(spark, settings))
        assert_exactly_the_source(spark, settings, source)
