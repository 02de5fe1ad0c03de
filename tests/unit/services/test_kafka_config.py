from __future__ import annotations

import base64
from pathlib import Path

from condolake.services.kafka import (
    BrokerPorts,
    _pick_ports,
    new_cluster_id,
    render_log4j_config,
    render_server_properties,
)
from condolake.services.ports import free_port


def test_server_properties_of_a_one_node_kraft_cluster_on_loopback() -> None:
    text = render_server_properties(BrokerPorts(broker=9092, controller=9093),
                                    Path("/state/kafka/data"))

    assert text.splitlines() == [
        "process.roles=broker,controller",
        "node.id=1",
        "controller.quorum.voters=1@127.0.0.1:9093",
        "listeners=PLAINTEXT://127.0.0.1:9092,CONTROLLER://127.0.0.1:9093",
        "advertised.listeners=PLAINTEXT://127.0.0.1:9092",
        "controller.listener.names=CONTROLLER",
        "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "inter.broker.listener.name=PLAINTEXT",
        "log.dirs=/state/kafka/data",
        "num.partitions=1",
        "default.replication.factor=1",
        "offsets.topic.replication.factor=1",
        "offsets.topic.num.partitions=1",
        "transaction.state.log.replication.factor=1",
        "transaction.state.log.min.isr=1",
        "min.insync.replicas=1",
        "auto.create.topics.enable=false",
        "group.initial.rebalance.delay.ms=0",
        "broker.session.timeout.ms=3000",
        "broker.heartbeat.interval.ms=1000",
    ]


def test_log4j_config_writes_to_the_log_file_only() -> None:
    lines = render_log4j_config(Path("/state/kafka/broker.log")).splitlines()

    assert "appender.file.fileName = /state/kafka/broker.log" in lines
    assert "appender.file.filePattern = /state/kafka/broker.log.%i" in lines
    assert "rootLogger.level = INFO" in lines
    assert [line for line in lines if line.startswith("rootLogger.appenderRef")] == [
        "rootLogger.appenderRef.file.ref = file"
    ]


def test_cluster_id_is_16_bytes_in_22_url_safe_characters() -> None:
    cluster_id = new_cluster_id()

    assert len(cluster_id) == 22
    assert not cluster_id.startswith("-")
    assert len(base64.urlsafe_b64decode(cluster_id + "==")) == 16


def test_free_previous_ports_are_reused() -> None:
    previous = BrokerPorts(free_port(), free_port())
    if previous.broker == previous.controller:  # the kernel may hand out the same port twice
        previous = BrokerPorts(previous.broker, previous.broker + 1)

    assert _pick_ports(previous) == previous


def test_new_ports_are_two_distinct_ones() -> None:
    ports = _pick_ports(None)

    assert ports.broker != ports.controller
