"""Kafka Connect with Debezium's PostgreSQL connector: the real worker, the real connector, the
embedded PostgreSQL and Kafka broker; the records it publishes, value for value."""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer
from tests.integration.pipelines.run_cli import run_condolake

from condolake.app import cdc
from condolake.app.resources import Resources
from condolake.config import Settings, revealed
from condolake.monitoring.health import HealthCollector, cdc_breaches
from condolake.services.kafka import LocalKafkaBroker
from condolake.services.kafka_connect import ConnectClient, LocalKafkaConnect
from condolake.services.postgres import SourceDatabase
from condolake.source.connector import captured_topics
from condolake.source.ddl import init_schema
from condolake.source.replication import check_prerequisites, prepare_source
from condolake.source.tables import SOURCE_TABLES

pytestmark = pytest.mark.integration

CONSUME_TIMEOUT_S = 60.0
SLOT_RELEASE_TIMEOUT_S = 60.0
EPOCH = dt.date(1970, 1, 1)

Record = tuple[Any, Any]  # (key, value) as JSON, None for a null key or a tombstone


def days(day: dt.date) -> int:
    return (day - EPOCH).days


@pytest.fixture
def cdc_resources(kafka_connect: LocalKafkaConnect, kafka_broker: LocalKafkaBroker,
                  empty_database: SourceDatabase, base_settings: Settings
                  ) -> Iterator[Resources]:
    """A new database with the four tables, prepared for replication, and settings naming a
    connector, slot and topics of its own on the session's worker; both removed afterwards."""
    with empty_database.connect() as conn:
        init_schema(conn)
    suffix = uuid.uuid4().hex[:12]
    settings = base_settings.with_(
        state_dir=str(kafka_connect.folder.parent), source_url=empty_database.url,
        kafka_bootstrap=kafka_broker.bootstrap, kafka_topic_prefix=f"test-{suffix}",
        cdc_connector=f"test-{suffix}", cdc_slot=f"test_{suffix}", cdc_publication="condolake")
    prepare_source(empty_database, publication=settings.cdc_publication)
    try:
        yield Resources.from_settings(settings)
    finally:
        remove_connector(kafka_connect.client(), settings.cdc_connector, empty_database,
                         settings.cdc_slot)


def remove_connector(client: ConnectClient, name: str, db: SourceDatabase, slot: str) -> None:
    """Delete the connector, then its slot once the task has let go of it (a database with a
    slot cannot be dropped)."""
    client.delete(name)
    deadline = time.monotonic() + SLOT_RELEASE_TIMEOUT_S
    with db.connect(autocommit=True) as conn:
        while True:
            row = conn.execute("SELECT active FROM pg_replication_slots WHERE slot_name = %s",
                               (slot,)).fetchone()
            if row is None:
                return
            if not row[0]:
                conn.execute("SELECT pg_drop_replication_slot(%s)", (slot,))
                return
            assert time.monotonic() < deadline, f"slot {slot} still active after the delete"
            time.sleep(0.25)


def consume(bootstrap: str, topics: list[str], count: int) -> dict[str, list[Record]]:
    """The first `count` records of `topics` from the start, per topic in partition order."""
    consumer = Consumer({
        "bootstrap.servers": bootstrap, "group.id": f"test-{uuid.uuid4().hex}",
        "auto.offset.reset": "earliest", "enable.auto.commit": False, "log_level": 0,
    })
    found: dict[str, list[tuple[int, int, Record]]] = {topic: [] for topic in topics}
    deadline = time.monotonic() + CONSUME_TIMEOUT_S
    total = 0
    try:
        consumer.subscribe(topics)
        while total < count and time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is None or message.error() is not None:
                continue
            key, value = message.key(), message.value()
            record = (None if key is None else json.loads(key),
                      None if value is None else json.loads(value))
            found[message.topic()].append((message.partition(), message.offset(), record))
            total += 1
    finally:
        consumer.close()
    assert total == count, f"{total} records within {CONSUME_TIMEOUT_S:g} s, {count} expected"
    return {topic: [record for _, _, record in sorted(rows, key=lambda row: row[:2])]
            for topic, rows in found.items()}


def by_key(records: list[Record]) -> dict[str, list[tuple[str | None, Any, Any]]]:
    """Per key (as JSON text), the (op, before, after) of each record in order; a tombstone
    is (None, None, None)."""
    keyed: dict[str, list[tuple[str | None, Any, Any]]] = {}
    for key, value in records:
        change = (None, None, None) if value is None else (
            value["op"], value["before"], value["after"])
        keyed.setdefault(json.dumps(key), []).append(change)
    return keyed


def test_connector_publishes_inserts_updates_deletes_and_truncates_exactly(
        cdc_resources: Resources, kafka_broker: LocalKafkaBroker,
        empty_database: SourceDatabase) -> None:
    line = cdc.start(cdc_resources, handover=False)
    settings = cdc_resources.settings
    assert line.startswith(f"{settings.cdc_connector} RUNNING, task 0 RUNNING on ")
    state = cdc.state(cdc_resources)
    assert (state.reachable, state.status is not None and state.status.running) == (True, True)

    with empty_database.connect() as conn:  # one transaction per statement
        conn.autocommit = True
        conn.execute("INSERT INTO condominios VALUES (1, 'Aurora', 'Rua A, 1')")
        conn.execute("INSERT INTO moradores VALUES (1, 'Ana', 1, '2023-12-31')")
        conn.execute("INSERT INTO imoveis VALUES (1, 'apartamento', 1, 1234567.89)")
        conn.execute("INSERT INTO transacoes VALUES (1, 1, 1, '2024-01-15', 0.10)")
        conn.execute("UPDATE imoveis SET valor = 99.99 WHERE imovel_id = 1")
        conn.execute("DELETE FROM transacoes WHERE transacao_id = 1")
        conn.execute("INSERT INTO transacoes VALUES (2, 1, 1, '1969-12-31', -5.00)")
        conn.execute("TRUNCATE transacoes")

    condominios, moradores, imoveis, transacoes = captured_topics(settings.kafka_topic_prefix)
    records = consume(kafka_broker.bootstrap, [condominios, moradores, imoveis, transacoes], 9)

    condo = {"condominio_id": 1, "nome": "Aurora", "endereco": "Rua A, 1"}
    morador = {"morador_id": 1, "nome": "Ana", "condominio_id": 1,
               "data_registro": days(dt.date(2023, 12, 31))}
    imovel = {"imovel_id": 1, "tipo": "apartamento", "condominio_id": 1, "valor": "1234567.89"}
    first = {"transacao_id": 1, "imovel_id": 1, "morador_id": 1, "data_transacao": 19737,
             "valor_transacao": "0.10"}
    second = {"transacao_id": 2, "imovel_id": 1, "morador_id": 1, "data_transacao": -1,
              "valor_transacao": "-5.00"}
    assert by_key(records[condominios]) == {'{"condominio_id": 1}': [("c", None, condo)]}
    assert by_key(records[moradores]) == {'{"morador_id": 1}': [("c", None, morador)]}
    assert by_key(records[imoveis]) == {'{"imovel_id": 1}': [
        ("c", None, imovel), ("u", imovel, {**imovel, "valor": "99.99"})]}
    assert by_key(records[transacoes]) == {
        '{"transacao_id": 1}': [("c", None, first), ("d", first, None), (None, None, None)],
        '{"transacao_id": 2}': [("c", None, second)],
        "null": [("t", None, None)],
    }


def test_the_password_is_in_no_file_of_the_worker(cdc_resources: Resources,
                                                   kafka_connect: LocalKafkaConnect,
                                                   empty_database: SourceDatabase) -> None:
    cdc.start(cdc_resources, handover=False)
    password = empty_database.password
    assert password

    holding = [path for path in kafka_connect.folder.rglob("*") if path.is_file()
               and password.encode() in path.read_bytes()]

    assert holding == []
    stored = kafka_connect.client().config(cdc_resources.settings.cdc_connector)
    assert stored is not None
    assert stored["database.password"] == "${env:CONDOLAKE_CDC_DATABASE_PASSWORD}"


def test_an_external_connect_url_gets_the_connector_and_stop_pauses_it(
        cdc_resources: Resources, kafka_connect: LocalKafkaConnect, tmp_path: Path) -> None:
    external = Resources.from_settings(cdc_resources.settings.with_(
        connect_url=kafka_connect.url, state_dir=str(tmp_path / "no-worker-here")))
    name = external.settings.cdc_connector

    assert cdc.start(external, handover=False).startswith(f"{name} RUNNING, task 0 RUNNING on "
                                          f"{kafka_connect.url}: ")
    assert cdc.stop(external) == f"{name} paused on {kafka_connect.url} (resume with `cdc start`)"
    assert poll_state(external, "PAUSED") == "PAUSED, task 0 PAUSED"
    health = HealthCollector(external.settings).collect()
    assert health.cdc is not None and health.cdc.status is not None
    assert (health.cdc.connect_url, health.cdc.status.describe()) == (
        kafka_connect.url, "PAUSED, task 0 PAUSED")
    assert cdc_breaches(health.cdc) == [f"cdc {name}: connector PAUSED, task 0 PAUSED"]
    cdc.start(external, handover=False)
    assert poll_state(external, "RUNNING") == "RUNNING, task 0 RUNNING"
    assert not (tmp_path / "no-worker-here" / "kafka-connect").exists()


def test_cli_status_json_and_print(cdc_resources: Resources, tmp_path: Path) -> None:
    cdc.start(cdc_resources, handover=False)
    settings = cdc_resources.settings
    environment = {"state_dir": settings.state_dir, "cdc_connector": settings.cdc_connector,
                   "source_url": str(revealed(settings.source_url)),
                   "kafka_topic_prefix": settings.kafka_topic_prefix,
                   "cdc_slot": settings.cdc_slot}

    status = run_condolake(["cdc", "status", "--json"], tmp_path, environment)
    printed = run_condolake(["cdc", "start", "--print"], tmp_path, environment)

    assert status.returncode == 0, status.stderr
    state = json.loads(status.stdout)
    assert (state["reachable"], state["status"]["state"],
            [task["state"] for task in state["status"]["tasks"]]) == (True, "RUNNING",
                                                                      ["RUNNING"])
    assert printed.returncode == 0, printed.stderr
    document = json.loads(printed.stdout)
    assert document == {"name": settings.cdc_connector,
                        "config": cdc.printable_config(cdc_resources)["config"]}
    assert document["config"]["database.password"] == "${env:CONDOLAKE_CDC_DATABASE_PASSWORD}"


def test_a_failed_task_is_reported_and_start_restarts_it(cdc_resources: Resources,
                                                  kafka_connect: LocalKafkaConnect,
                                                  empty_database: SourceDatabase) -> None:
    settings = cdc_resources.settings
    config = cdc.connector_config(cdc_resources, empty_database)
    client = kafka_connect.client()
    client.put_config(settings.cdc_connector,
                      {**config, "publication.name": "no_such_publication"})

    with pytest.raises(cdc.CdcError) as failure:
        cdc.wait_until_streaming(client, settings.cdc_connector, empty_database,
                                 settings.cdc_slot, timeout_s=60)

    assert str(failure.value) == (
        f"connector {settings.cdc_connector} failed on {client.url}:\n"
        "org.apache.kafka.connect.errors.ConnectException: Publication autocreation is "
        "disabled, please create one and restart the connector.")
    assert cdc.start(cdc_resources, handover=False).startswith(
        f"{settings.cdc_connector} RUNNING, task 0 RUNNING on ")


def poll_state(resources: Resources, wanted: str) -> str:
    """The connector's description once its state is `wanted` (deadline: 30 s)."""
    deadline = time.monotonic() + 30
    while True:
        state = cdc.state(resources)
        status = state.status
        if status is not None and status.state == wanted and all(
                task.state == wanted for task in status.tasks) or time.monotonic() > deadline:
            return "unregistered" if status is None else status.describe()
        time.sleep(0.25)


def test_an_external_source_without_its_prerequisites_is_refused_with_the_fixes(
        empty_database: SourceDatabase, kafka_broker: LocalKafkaBroker,
        base_settings: Settings, tmp_path: Path) -> None:
    with empty_database.connect() as conn:
        init_schema(conn)
    settings = base_settings.with_(
        state_dir=str(tmp_path), source_url=empty_database.url,
        kafka_bootstrap=kafka_broker.bootstrap, cdc_publication="not_created_yet")
    failing = [item for item in check_prerequisites(
        empty_database, publication="not_created_yet", slot=settings.cdc_slot) if not item.ok]
    assert [item.name for item in failing] == [
        *(f"replica identity public.{table.name}" for table in SOURCE_TABLES),
        "publication not_created_yet"]

    with pytest.raises(cdc.CdcError) as refusal:
        cdc.start(Resources.from_settings(settings))

    assert str(refusal.value) == (
        f"{empty_database.redacted_url} is not ready for logical replication "
        "(`condolake cdc check` lists every prerequisite):\n" + "\n".join(
            f"  {item.name}: found {item.found}" + (f"; fix: {item.fix}" if item.fix else "")
            for item in failing))
    assert not (tmp_path / "kafka-connect").exists()  # nothing was started
