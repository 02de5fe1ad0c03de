from __future__ import annotations

from pathlib import Path

from condolake.services.kafka_connect import (
    ConnectorStatus,
    TaskStatus,
    env_reference,
    parse_status,
    render_worker_properties,
    trace_summary,
)

TRACE = """org.apache.kafka.connect.errors.ConnectException: An exception occurred
\tat io.debezium.pipeline.ErrorHandler.setProducerThrowable(ErrorHandler.java:67)
\tat java.base/java.lang.Thread.run(Thread.java:840)
Caused by: org.postgresql.util.PSQLException: FATAL: password authentication failed
\tat org.postgresql.core.v3.ConnectionFactoryImpl.doAuthentication(ConnectionFactoryImpl.java:1)
\t... 12 more
"""


def test_worker_properties_of_a_standalone_worker_on_loopback() -> None:
    text = render_worker_properties(8083, "127.0.0.1:9092", Path("/state/kafka-connect/o.dat"))

    assert text.splitlines() == [
        "bootstrap.servers=127.0.0.1:9092",
        "listeners=http://127.0.0.1:8083",
        "rest.advertised.host.name=127.0.0.1",
        "rest.advertised.port=8083",
        "key.converter=org.apache.kafka.connect.json.JsonConverter",
        "value.converter=org.apache.kafka.connect.json.JsonConverter",
        "key.converter.schemas.enable=false",
        "value.converter.schemas.enable=false",
        "offset.storage.file.filename=/state/kafka-connect/o.dat",
        "offset.flush.interval.ms=1000",
        "config.providers=env",
        "config.providers.env.class="
        "org.apache.kafka.common.config.provider.EnvVarConfigProvider",
        "plugin.discovery=service_load",
        "topic.creation.enable=true",
    ]


def test_env_reference() -> None:
    assert env_reference("PG_PASSWORD") == "${env:PG_PASSWORD}"


def test_status_document_with_a_failed_task() -> None:
    status = parse_status({
        "name": "c", "type": "source",
        "connector": {"state": "RUNNING", "worker_id": "127.0.0.1:8083"},
        "tasks": [{"id": 1, "state": "RUNNING", "worker_id": "w"},
                  {"id": 0, "state": "FAILED", "worker_id": "w", "trace": TRACE}],
    })

    assert status == ConnectorStatus("c", "RUNNING", "127.0.0.1:8083", (
        TaskStatus(0, "FAILED", "w", TRACE), TaskStatus(1, "RUNNING", "w")))
    assert (status.running, status.failed) == (False, True)
    assert status.describe() == "RUNNING, task 0 FAILED, task 1 RUNNING"
    assert status.failure() == (
        "org.apache.kafka.connect.errors.ConnectException: An exception occurred\n"
        "Caused by: org.postgresql.util.PSQLException: FATAL: password authentication failed")


def test_a_running_connector_needs_a_running_task() -> None:
    no_task = ConnectorStatus("c", "RUNNING", "w")
    running = ConnectorStatus("c", "RUNNING", "w", (TaskStatus(0, "RUNNING", "w"),))
    paused = ConnectorStatus("c", "PAUSED", "w", (TaskStatus(0, "PAUSED", "w"),))

    assert [s.running for s in (no_task, running, paused)] == [False, True, False]
    assert [s.paused for s in (no_task, running, paused)] == [False, False, True]
    assert [s.failure() for s in (no_task, running, paused)] == [None, None, None]
    assert no_task.describe() == "RUNNING, no task"


def test_trace_summary_keeps_the_exception_and_its_causes() -> None:
    assert trace_summary("java.lang.IllegalStateException: boom\n\tat a.b(C.java:1)") == (
        "java.lang.IllegalStateException: boom")
