"""The local Kafka broker: a real KRaft broker JVM on loopback, on temporary folders."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest
from confluent_kafka import Consumer, Producer
from pyspark.sql import SparkSession
from tests.integration.conftest import new_topic_prefix, running_kafka, server_folder
from tests.integration.pipelines.run_cli import run_condolake

from condolake.app.resources import Resources
from condolake.config import Settings
from condolake.errors import ServiceError
from condolake.services.kafka import (
    LocalKafkaBroker,
    TopicInfo,
    describe_topics,
    ensure_topics,
)

pytestmark = pytest.mark.integration

MESSAGES = 100
PARTITIONS = 2
CONSUME_TIMEOUT_S = 60.0
KEYS = {f"key-{number:03d}" for number in range(MESSAGES)}


def produce_keyed(bootstrap: str, topic: str) -> None:
    """MESSAGES messages `key-000`… with values `value-000`…, acknowledged by the broker."""
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "log_level": 0})
    failures: list[str] = []

    def delivered(error: object, _message: object) -> None:
        if error is not None:
            failures.append(str(error))

    for number in range(MESSAGES):
        producer.produce(topic, key=f"key-{number:03d}", value=f"value-{number:03d}",
                         on_delivery=delivered)
    assert producer.flush(CONSUME_TIMEOUT_S) == 0
    assert failures == []


def consume_keys(bootstrap: str, topic: str, count: int) -> list[str]:
    """The keys of the first `count` messages a new consumer group reads from the start."""
    consumer = Consumer({
        "bootstrap.servers": bootstrap, "group.id": f"test-{uuid.uuid4().hex}",
        "auto.offset.reset": "earliest", "enable.auto.commit": False, "log_level": 0,
    })
    keys: list[str] = []
    deadline = time.monotonic() + CONSUME_TIMEOUT_S
    try:
        consumer.subscribe([topic])
        while len(keys) < count and time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is None:
                continue
            assert message.error() is None, message.error()
            key = message.key()
            assert key is not None
            keys.append(key.decode())
    finally:
        consumer.close()
    return keys


def topic_info(bootstrap: str, topic: str) -> TopicInfo:
    return next(info for info in describe_topics(bootstrap) if info.name == topic)


def test_messages_with_keys_are_consumed_back_exactly(
    kafka_broker: LocalKafkaBroker, topic_prefix: str
) -> None:
    topic = f"{topic_prefix}.messages"
    ensure_topics(kafka_broker.bootstrap, [topic], PARTITIONS)

    produce_keyed(kafka_broker.bootstrap, topic)
    keys = consume_keys(kafka_broker.bootstrap, topic, MESSAGES)

    assert len(keys) == MESSAGES
    assert set(keys) == KEYS
    assert sum(topic_info(kafka_broker.bootstrap, topic).end_offsets) == MESSAGES


def test_ensure_topics_is_idempotent(kafka_broker: LocalKafkaBroker, topic_prefix: str) -> None:
    topics = [f"{topic_prefix}.a", f"{topic_prefix}.b"]

    first = ensure_topics(kafka_broker.bootstrap, topics, 3)
    second = ensure_topics(kafka_broker.bootstrap, topics, 3)

    assert first == topics
    assert second == []
    mine = [info for info in describe_topics(kafka_broker.bootstrap)
            if info.name.startswith(topic_prefix)]
    assert mine == [TopicInfo(topics[0], (0, 0, 0)), TopicInfo(topics[1], (0, 0, 0))]


def test_spark_reads_the_topic_in_a_batch(
    spark: SparkSession, kafka_broker: LocalKafkaBroker, topic_prefix: str
) -> None:
    topic = f"{topic_prefix}.spark"
    ensure_topics(kafka_broker.bootstrap, [topic], PARTITIONS)
    produce_keyed(kafka_broker.bootstrap, topic)

    frame = (
        spark.read.format("kafka")
        .option("kafka.bootstrap.servers", kafka_broker.bootstrap)
        .option("subscribe", topic)
        .option("startingOffsets", "earliest")
        .load()
    )
    rows = frame.selectExpr("CAST(key AS STRING) AS key",
                            "CAST(value AS STRING) AS value").collect()

    assert len(rows) == MESSAGES
    assert {(row.key, row.value) for row in rows} == {
        (key, key.replace("key", "value")) for key in KEYS
    }


def test_a_stopped_broker_restarts_on_its_port_with_its_data(base_settings: Settings) -> None:
    topic = f"{new_topic_prefix()}.kept"
    with running_kafka("kafka-restart", base_settings.jar_cache_path) as broker:
        bootstrap = broker.start()
        ensure_topics(bootstrap, [topic], PARTITIONS)
        produce_keyed(bootstrap, topic)
        before = topic_info(bootstrap, topic)

        broker.stop()
        assert not broker.is_running()
        assert not (broker.folder / "broker.pid").exists()
        restarted = broker.start()

        assert restarted == bootstrap
        assert topic_info(restarted, topic) == before
        assert sum(before.end_offsets) == MESSAGES
        assert set(consume_keys(restarted, topic, MESSAGES)) == KEYS


def test_a_killed_broker_recovers_its_data_on_start(base_settings: Settings) -> None:
    topic = f"{new_topic_prefix()}.crash"
    with running_kafka("kafka-kill", base_settings.jar_cache_path) as broker:
        bootstrap = broker.start()
        ensure_topics(bootstrap, [topic], PARTITIONS)
        produce_keyed(bootstrap, topic)
        before = topic_info(bootstrap, topic)

        broker.kill()
        assert not broker.is_running()
        restarted = broker.start()

        assert restarted == bootstrap
        assert topic_info(restarted, topic) == before
        assert set(consume_keys(restarted, topic, MESSAGES)) == KEYS


def test_start_is_idempotent(kafka_broker: LocalKafkaBroker) -> None:
    again = LocalKafkaBroker(kafka_broker.folder.parent, kafka_broker.jar_cache)

    assert again.is_running()
    assert again.start() == kafka_broker.bootstrap


def test_a_broker_that_cannot_start_fails_with_its_log(base_settings: Settings) -> None:
    with server_folder("kafka-bad") as folder:
        broker = LocalKafkaBroker(folder, base_settings.jar_cache_path, heap="lots")

        with pytest.raises(ServiceError) as failure:
            broker.start()

        assert str(broker.log_file) in str(failure.value)
        assert "Invalid maximum heap size: -Xmxlots" in str(failure.value)
        assert not broker.is_running()


def test_kafka_bootstrap_prefers_the_external_cluster(base_settings: Settings) -> None:
    settings = base_settings.with_(kafka_bootstrap="kafka.example:9092")

    with Resources.from_settings(settings).kafka() as bootstrap:
        assert bootstrap == "kafka.example:9092"

    assert not (settings.state_path / "kafka").exists()


def test_kafka_bootstrap_stops_only_the_broker_it_started(base_settings: Settings) -> None:
    with server_folder("kafka-ctx") as folder:
        settings = base_settings.with_(state_dir=str(folder))
        broker = LocalKafkaBroker.from_settings(settings)

        with Resources.from_settings(settings).kafka() as bootstrap:
            assert broker.is_running()
            assert bootstrap == broker.bootstrap
        assert not broker.is_running()

        broker.start()
        try:
            with Resources.from_settings(settings).kafka() as bootstrap:
                assert bootstrap == broker.bootstrap
            assert broker.is_running()
        finally:
            broker.stop()


def test_cli_starts_reports_and_stops_a_broker_that_outlives_it(
    tmp_path: Path, base_settings: Settings
) -> None:
    with server_folder("kafka-cli") as folder:
        settings = {"state_dir": str(folder), "jar_cache": str(base_settings.jar_cache_path)}
        broker = LocalKafkaBroker(folder, base_settings.jar_cache_path)
        try:
            started = run_condolake(["broker", "start"], tmp_path, settings)
            assert started.returncode == 0, started.stderr
            assert started.stdout.strip() == broker.bootstrap
            assert broker.is_running()  # the command returned; the broker is still there
            ensure_topics(broker.bootstrap, ["cli.topic"], 3)

            status = run_condolake(["broker", "status"], tmp_path, settings)
            assert status.returncode == 0, status.stderr
            assert status.stdout.splitlines() == [
                f"Kafka broker running on {broker.bootstrap} (data folder {broker.folder})",
                "cli.topic: 3 partitions, end offsets [0, 0, 0]",
            ]

            stopped = run_condolake(["broker", "stop"], tmp_path, settings)
            assert stopped.returncode == 0, stopped.stderr
            assert not broker.is_running()
        finally:
            broker.stop()


def test_cli_with_an_external_cluster_starts_nothing_and_lists_its_topics(
    tmp_path: Path, kafka_broker: LocalKafkaBroker, topic_prefix: str
) -> None:
    topic = f"{topic_prefix}.external"
    ensure_topics(kafka_broker.bootstrap, [topic], 1)
    settings = {"state_dir": str(tmp_path / "state"), "kafka_bootstrap": kafka_broker.bootstrap}

    started = run_condolake(["broker", "start"], tmp_path, settings)
    status = run_condolake(["broker", "status"], tmp_path, settings)

    assert started.returncode == 0, started.stderr
    assert started.stdout == ""
    assert "external cluster" in started.stderr
    assert not (tmp_path / "state" / "kafka").exists()
    assert status.returncode == 0, status.stderr
    assert f"{topic}: 1 partitions, end offsets [0]" in status.stdout.splitlines()
