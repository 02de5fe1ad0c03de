"""Fault tolerance of change data capture and the Kafka stream, against the real broker,
PostgreSQL, Debezium's connector on Kafka Connect, and Delta.

The stream runs as `condolake stream start` in a child process, as in production, while the
workload generator changes the source on a thread of the test and the scenario's connector
publishes (`cdc.capturing`); the lake then equals PostgreSQL, compared by SQL. The SIGTERM and
torn-gold tests publish directly (the simulator's test tool): they are about the stream alone.
"""

from __future__ import annotations

import datetime as dt
import random
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from pyspark.sql import SparkSession
from tests.integration.conftest import new_topic_prefix
from tests.integration.pipelines.run_cli import run_condolake
from tests.integration.streaming.cdc import capturing, fence_captured, lake_differences
from tests.integration.streaming.streams import (
    LoadedLake,
    Producer,
    StreamProcess,
    batch_in_progress,
    batch_recomputation,
    copy_of,
    create_topics,
    end_offsets_total,
    gold_rows,
    on_each_commit,
    silver_ids,
    stream_pid,
    stream_settings,
    wait_until,
)

from condolake.app import cdc
from condolake.catalog import MART_NAMES
from condolake.config import Settings
from condolake.lake import delta
from condolake.lake.gold_set import GoldSet, read_published
from condolake.lake.versions import latest_version
from condolake.layout import Layer, table_path
from condolake.pipelines.batch import batch
from condolake.pipelines.quality import gold_totals_result
from condolake.pipelines.stream import StreamOptions, run_streams
from condolake.services.kafka import LocalKafkaBroker
from condolake.services.kafka_connect import LocalKafkaConnect
from condolake.services.postgres import EmbeddedPostgres, SourceDatabase
from condolake.serving.auth import new_key
from condolake.serving.server import BackgroundServer
from condolake.source.connector import PASSWORD_VARIABLE
from condolake.streaming.queries import KAFKA

SEED = 4242
KILLS = 10
# Events per second while the stream is being killed: every micro-batch still has changes of
# several tables to apply, and the backlog left for the final run stays small.
RATE = 100
# Deadlines only for a run that hangs: the two cores may be shared with other work, and a
# `stream start` then takes minutes to run its first micro-batch (a passing run never waits
# for them).
START_TIMEOUT_S = 900
CATCH_UP_TIMEOUT_S = 900
STOP_TIMEOUT_S = 600
MAX_RUN_BEFORE_KILL_S = 4.0
KAFKA_ONLY = StreamOptions(once=True, landing=False)
# A kill aimed between two gold commits can land after the last one (they are a second or
# more apart, and the kill follows the first within milliseconds): the test then tries again.
TORN_ATTEMPTS = 5
KILL_POLL_S = 0.005
CONNECT_KILLS = 5
# Of the steps the workload generator writes, this share breaks a rule (quarantined rows, and
# orphans whose parent is invalid).
INVALID_SHARE = 0.05
WORKLOAD_RATE = 50  # events per second the workload generator writes under the connector
CAPTURE_TIMEOUT_S = 300


def today(settings: Settings) -> dt.date:
    return dt.datetime.now(ZoneInfo(settings.timezone)).date()


@pytest.fixture
def settings(base_settings: Settings, kafka_broker: LocalKafkaBroker, tmp_path: Path) -> Settings:
    settings = stream_settings(base_settings, tmp_path, new_topic_prefix(), kafka_broker.bootstrap)
    create_topics(settings)
    return settings


@pytest.fixture
def source(loaded_lake: LoadedLake, postgres: SourceDatabase,
           settings: Settings) -> Iterator[SourceDatabase]:
    """The scenario's own source, and its lake as the first batch load left it."""
    with copy_of(loaded_lake, postgres, settings) as database:
        yield database


def gold_totals(spark: SparkSession, settings: Settings) -> dict[str, tuple[int, Decimal]]:
    """Each mart's total of transactions and of value."""
    return {name: (sum(row[-2] for row in rows), sum((row[-1] for row in rows), Decimal(0)))
            for name, rows in gold_rows(spark, settings).items()}


def lake_matches_source(spark: SparkSession, settings: Settings,
                        source: SourceDatabase) -> bool:
    return not lake_differences(spark, settings, source, today(settings))


def assert_exactly_the_source(spark: SparkSession, settings: Settings,
                              source: SourceDatabase) -> None:
    """Silver is PostgreSQL's valid rows, every column of the four tables; gold is the SQL
    aggregates to the cent, and what `condolake transform` computes from that silver."""
    assert lake_differences(spark, settings, source, today(settings)) == []
    assert gold_rows(spark, settings) == batch_recomputation(spark, settings)


@pytest.mark.integration
class TestStreamFaults:
    def test_ten_sigkills_while_debezium_publishes_lose_and_duplicate_nothing(
        self, spark: SparkSession, settings: Settings, source: SourceDatabase,
        kafka_connect: LocalKafkaConnect, tmp_path: Path,
    ) -> None:
        moments = random.Random(SEED)
        with capturing(kafka_connect, settings, source):
            workload = Producer(source, settings, rate=WORKLOAD_RATE, seed=SEED, direct=False,
                                invalid_share=INVALID_SHARE, today=today(settings))
            for _ in range(KILLS):
                stream = StreamProcess(settings, tmp_path, "--no-landing", short_lived=True)
                wait_until(lambda s=stream: stream_pid(settings) == s.process.pid,
                           START_TIMEOUT_S, "the stream's queries to start")
                # A random moment of its life: during a micro-batch, a commit, or between them.
                time.sleep(moments.uniform(0, MAX_RUN_BEFORE_KILL_S))
                stream.kill()
            stats = workload.stop()
            fence_captured(settings, source)
        assert settings.kafka_bootstrap
        run_streams(spark, settings, settings.kafka_bootstrap, KAFKA_ONLY)
        assert stats.changes["transacoes"]["c"] > 0
        assert_exactly_the_source(spark, settings, source)

    def test_broker_restart_mid_stream_loses_nothing(
        self, spark: SparkSession, settings: Settings, kafka_broker: LocalKafkaBroker,
        kafka_connect: LocalKafkaConnect, source: SourceDatabase, tmp_path: Path,
    ) -> None:
        loaded = set(silver_ids(spark, settings))
        with capturing(kafka_connect, settings, source):
            stream = StreamProcess(settings, tmp_path, "--no-landing")
            workload = Producer(source, settings, rate=WORKLOAD_RATE, seed=SEED + 1,
                                direct=False, invalid_share=INVALID_SHARE, today=today(settings))
            wait_until(on_each_commit(settings, KAFKA, lambda: set(silver_ids(spark, settings))
                                      > loaded),
                       CATCH_UP_TIMEOUT_S, "the stream to apply the workload's first changes")
            # Connect's producer and the stream's consumer both lose the broker for a while.
            kafka_broker.stop()
            kafka_broker.start()
            restarted = end_offsets_total(settings)
            wait_until(lambda: end_offsets_total(settings) > restarted, CATCH_UP_TIMEOUT_S,
                       "the connector to publish again after the broker's restart")
            workload.stop()
            fence_captured(settings, source)
        # Recovered means the live stream takes silver *and* gold to the source's state.
        recovered = on_each_commit(settings, KAFKA,
                                   lambda: lake_matches_source(spark, settings, source))
        wait_until(lambda: stream.process.poll() is not None or recovered(),
                   CATCH_UP_TIMEOUT_S, "the stream to recover or to stop")
        if stream.process.poll() is None:
            assert stream.terminate(timeout_s=STOP_TIMEOUT_S) == 0, stream.output()
        else:
            # It may stop instead; then loudly, and a restart recovers.
            assert stream.process.returncode != 0
            assert "condolake: error: stream kafka failed" in stream.output()
            assert settings.kafka_bootstrap
            run_streams(spark, settings, settings.kafka_bootstrap, KAFKA_ONLY)
        assert_exactly_the_source(spark, settings, source)

    def test_batch_and_stream_writing_silver_together_stay_consistent(
        self, spark: SparkSession, settings: Settings, source: SourceDatabase,
        kafka_connect: LocalKafkaConnect, tmp_path: Path,
    ) -> None:
        with capturing(kafka_connect, settings, source):
            stream = StreamProcess(settings, tmp_path, "--no-landing")
            wait_until(lambda: stream_pid(settings) == stream.process.pid, START_TIMEOUT_S,
                       "the stream's queries to start")
            status = run_condolake(["stream", "status"], tmp_path, {
                "state_dir": settings.state_dir, "lake_root": settings.lake_root})
            assert status.returncode == 0, status.stderr
            assert "a stream process is running" in status.stdout
            assert "kafka" in status.stdout and "running" in status.stdout
            workload = Producer(source, settings, rate=WORKLOAD_RATE, seed=SEED + 3,
                                direct=False, invalid_share=INVALID_SHARE, today=today(settings))
            # Two batch runs MERGE into silver while the stream MERGEs changes of the same
            # rows into the same tables.
            first, second = batch(spark, settings, source), batch(spark, settings, source)
            stats = workload.stop()
            fence_captured(settings, source)
        assert (first.status, second.status) == ("succeeded", "succeeded")
        assert stream.terminate(timeout_s=STOP_TIMEOUT_S) == 0, stream.output()
        assert settings.kafka_bootstrap
        run_streams(spark, settings, settings.kafka_bootstrap, KAFKA_ONLY)
        assert stats.changes["transacoes"]["c"] > 0
        assert_exactly_the_source(spark, settings, source)

    def test_connect_worker_sigkilled_while_the_workload_writes_loses_nothing(
        self, spark: SparkSession, settings: Settings, source: SourceDatabase,
        kafka_connect: LocalKafkaConnect, postgres_server: EmbeddedPostgres,
    ) -> None:
        assert settings.kafka_bootstrap
        environment = {PASSWORD_VARIABLE: SourceDatabase(postgres_server.url).password or ""}
        with capturing(kafka_connect, settings, source) as connector:
            workload = Producer(source, settings, rate=WORKLOAD_RATE, seed=SEED + 20, direct=False,
                                invalid_share=INVALID_SHARE, today=today(settings))
            try:
                for _ in range(CONNECT_KILLS):
                    # Each kill lands while the connector is publishing the workload's changes.
                    published = end_offsets_total(settings)
                    wait_until(lambda p=published: end_offsets_total(settings) > p,
                               CAPTURE_TIMEOUT_S, "the connector to publish new changes")
                    kafka_connect.kill()
                    kafka_connect.start(settings.kafka_bootstrap, environment)
                    # A standalone worker forgets its connectors: register it again; it resumes
                    # from the offsets it had flushed.
                    cdc.start(connector, handover=False)
            finally:
                if not kafka_connect.is_running():  # the session's other tests need it
                    kafka_connect.start(settings.kafka_bootstrap, environment)
            stats = workload.stop()
            fence_captured(settings, source)
        run_streams(spark, settings, settings.kafka_bootstrap, KAFKA_ONLY)
        assert stats.changes["transacoes"]["c"] > 0
        assert sum(sum(rules.values()) for rules in stats.invalid_rows.values()) > 0
        assert_exactly_the_source(spark, settings, source)

    @pytest.mark.parametrize("immediate", [False, True], ids=["fast", "immediate"])
    def test_postgres_restart_while_the_connector_captures_loses_nothing(
        self, spark: SparkSession, settings: Settings, source: SourceDatabase,
        kafka_connect: LocalKafkaConnect, postgres_server: EmbeddedPostgres, immediate: bool,
    ) -> None:
        assert settings.kafka_bootstrap
        url = postgres_server.url
        with capturing(kafka_connect, settings, source):
            workload = Producer(source, settings, rate=WORKLOAD_RATE, seed=SEED + 30, direct=False,
                                invalid_share=INVALID_SHARE, today=today(settings))
            published = end_offsets_total(settings)
            wait_until(lambda: end_offsets_total(settings) > published, CAPTURE_TIMEOUT_S,
                       "the connector to publish the workload's changes")
            try:
                if immediate:
                    postgres_server.kill_immediately()  # crash recovery at the next start
                else:
                    postgres_server.stop()
            finally:
                postgres_server.start()  # the session's other tests need it
            # The connector's configuration names the port: the server must come back on it.
            assert postgres_server.url == url
            restarted = end_offsets_total(settings)
            wait_until(lambda: end_offsets_total(settings) > restarted, CAPTURE_TIMEOUT_S,
                       "the connector to capture the workload's changes after the restart")
            stats = workload.stop()
            assert workload.reconnections > 0  # the workload was writing through the restart
            fence_captured(settings, source)
        run_streams(spark, settings, settings.kafka_bootstrap, KAFKA_ONLY)
        assert stats.changes["transacoes"]["c"] > 0
        assert_exactly_the_source(spark, settings, source)

    def test_sigterm_to_the_process_group_finishes_the_micro_batch_and_exits_0(
        self, spark: SparkSession, settings: Settings, source: SourceDatabase, tmp_path: Path,
    ) -> None:
        stream = StreamProcess(settings, tmp_path, "--no-landing")
        wait_until(lambda: stream_pid(settings) == stream.process.pid, START_TIMEOUT_S,
                   "the stream's queries to start")
        producer = Producer(source, settings, rate=RATE * 5, seed=SEED + 4)
        wait_until(lambda: end_offsets_total(settings) >= RATE * 10, CATCH_UP_TIMEOUT_S,
                   "the producer to publish")
        published = (producer.stop(), end_offsets_total(settings))[1]
        # Under load: the micro-batch that takes the last published records is running.
        wait_until(lambda: (batch_in_progress(settings, KAFKA) or (0, 0))[1] == published,
                   CATCH_UP_TIMEOUT_S, "the micro-batch of the last records to start")
        assert stream.terminate(timeout_s=STOP_TIMEOUT_S) == 0, stream.output()
        output = stream.output()
        assert "Traceback" not in output and "ERROR" not in output, output
        assert "micro-batches with data" in output, output  # the report of a clean exit
        # That micro-batch finished: right after the stop, the marts agree with each other
        # and with the source.
        totals = set(gold_totals(spark, settings).values())
        assert len(totals) == 1
        assert_exactly_the_source(spark, settings, source)

    def test_sigkill_between_two_gold_commits_keeps_readers_on_the_previous_set(
        self, spark: SparkSession, settings: Settings, source: SourceDatabase, tmp_path: Path,
    ) -> None:
        key, entry = new_key("admin-test", "admin", None)
        served = settings.with_(serve_keys=entry, serve_refresh_s=0.0)
        with BackgroundServer(served) as url, httpx.Client(base_url=url, timeout=60) as api:
            for attempt in range(TORN_ATTEMPTS):
                if attempt:  # the previous kill missed: its replay publishes the set first
                    run_streams(spark, settings, settings.kafka_bootstrap, KAFKA_ONLY)
                    assert_published_is_latest(spark, settings)
                stream = StreamProcess(settings, tmp_path, "--no-landing", short_lived=True)
                wait_until(lambda s=stream: stream_pid(settings) == s.process.pid,
                           START_TIMEOUT_S, "the stream's queries to start")
                producer = Producer(source, settings, rate=RATE, seed=SEED + 10 + attempt)
                kill_after_the_first_gold_commit(stream, settings)
                producer.stop()
                published = read_published(settings.lake_path)
                assert published is not None
                if torn(spark, settings, published):
                    break
            else:
                pytest.fail(f"no SIGKILL of {TORN_ATTEMPTS} landed between two gold commits")
            # The tables themselves disagree, and `condolake check` says so with the figures.
            check = gold_totals_result(spark, settings.lake_path)
            assert check.status == "failed" and "the marts disagree" in check.detail
            # The API answers from the published set: its marts agree in every answer.
            for _ in range(3):
                versions, totals = api_gold(api, key)
                assert versions == dict(published.gold)
                assert len(set(totals.values())) == 1, totals
            # A restart replays the micro-batch: the set completes and is published.
            run_streams(spark, settings, settings.kafka_bootstrap, KAFKA_ONLY)
            assert_exactly_the_source(spark, settings, source)
            assert gold_totals_result(spark, settings.lake_path).status == "passed"
            republished = read_published(settings.lake_path)
            assert republished is not None and republished.number > published.number
            latest = assert_published_is_latest(spark, settings)
            versions, totals = api_gold(api, key)
            assert versions == latest
            assert set(totals.values()) == {only(set(gold_totals(spark, settings).values()))}


def assert_published_is_latest(spark: SparkSession, settings: Settings) -> dict[str, int]:
    """The published set names every mart's latest version; returns them."""
    published = read_published(settings.lake_path)
    latest = {name: delta.version(spark, table_path(settings.lake_path, Layer.GOLD, name))
              for name in MART_NAMES}
    assert published is not None and dict(published.gold) == latest
    return {name: int(number or 0) for name, number in latest.items()}


def kill_after_the_first_gold_commit(stream: StreamProcess, settings: Settings) -> None:
    """SIGKILL as soon as transacoes_por_condominio, the first mart an update commits, has a
    version the published set does not have (the others are then usually not committed)."""
    first = Path(table_path(settings.lake_path, Layer.GOLD, MART_NAMES[0]))
    deadline = time.monotonic() + CATCH_UP_TIMEOUT_S
    while True:
        published = read_published(settings.lake_path)
        latest = latest_version(first)
        if published is not None and latest is not None and (
                latest.version > published.gold[MART_NAMES[0]]):
            break
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for the stream's next gold commit")
        time.sleep(KILL_POLL_S)
    stream.kill()


def torn(spark: SparkSession, settings: Settings, published: GoldSet) -> bool:
    """Some marts, not all, have commits after the published set, and their totals differ."""
    ahead = [name for name in MART_NAMES if (delta.version(spark, table_path(
        settings.lake_path, Layer.GOLD, name)) or 0) > published.gold[name]]
    return 0 < len(ahead) < len(MART_NAMES) and len(set(gold_totals(spark, settings).values())) > 1


def api_gold(api: httpx.Client, key: str) -> tuple[dict[str, int], dict[str, tuple[int, Decimal]]]:
    """(version, (transactions, value) total) of each mart, as the API answers every page."""
    versions: dict[str, int] = {}
    totals: dict[str, tuple[int, Decimal]] = {}
    for name in MART_NAMES:
        count, value, offset = 0, Decimal(0), 0
        while offset is not None:
            response = api.get(f"/v1/{name.replace('_', '-')}", headers={"X-API-Key": key},
                               params={"limit": 1000, "offset": offset})
            assert response.status_code == 200, response.text
            body = response.json()
            versions[name] = body["table_version"]
            count += sum(item["quantidade_transacoes"] for item in body["items"])
            value += sum((Decimal(item["valor_total"]) for item in body["items"]), Decimal(0))
            offset = body["next_offset"]
        totals[name] = (count, value)
    return versions, totals


def only(values: set[tuple[int, Decimal]]) -> tuple[int, Decimal]:
    (value,) = values
    return value
