from __future__ import annotations

import json
import re
from pathlib import Path

from condolake.config import Settings
from condolake.services.postgres import SourceDatabase
from condolake.source.connector import (
    ConnectorDatabase,
    captured_topics,
    connector_config,
    published_records,
)
from condolake.streaming.queries import topics

DATABASE = ConnectorDatabase("db.example.com", 5433, "condomanage", "debezium")
STREAMING_DOC = Path(__file__).resolve().parents[3] / "docs" / "streaming.md"
DOC_SECTION = "## Change data capture with Debezium"
JSON_BLOCK = re.compile(r"```json\n(.*?)\n```", re.DOTALL)


def test_connector_config_has_every_setting_the_stream_and_the_slot_need() -> None:
    settings = Settings(kafka_topic_prefix="cm", kafka_partitions=3, cdc_slot="slot_a",
                        cdc_publication="pub_a")

    assert connector_config(settings, DATABASE) == {
        "connector.class": "io.debezium.connector.postgresql.PostgresConnector",
        "tasks.max": "1",
        "plugin.name": "pgoutput",
        "database.hostname": "db.example.com",
        "database.port": "5433",
        "database.dbname": "condomanage",
        "database.user": "debezium",
        "database.password": "${env:CONDOLAKE_CDC_DATABASE_PASSWORD}",
        "topic.prefix": "cm",
        "table.include.list":
            "public.condominios,public.moradores,public.imoveis,public.transacoes",
        "slot.name": "slot_a",
        "publication.name": "pub_a",
        "publication.autocreate.mode": "disabled",
        "snapshot.mode": "no_data",
        "decimal.handling.mode": "string",
        "time.precision.mode": "adaptive",
        "skipped.operations": "none",
        "tombstones.on.delete": "true",
        "poll.interval.ms": "50",
        "heartbeat.interval.ms": "10000",
        "retriable.restart.connector.wait.ms": "2000",
        "key.converter": "org.apache.kafka.connect.json.JsonConverter",
        "key.converter.schemas.enable": "false",
        "value.converter": "org.apache.kafka.connect.json.JsonConverter",
        "value.converter.schemas.enable": "false",
        "topic.creation.default.partitions": "3",
        "topic.creation.default.replication.factor": "-1",
    }


def test_snapshot_mode_is_a_parameter() -> None:
    config = connector_config(Settings(), DATABASE, snapshot_mode="initial")

    assert config["snapshot.mode"] == "initial"


def test_the_password_never_enters_the_config() -> None:
    db = SourceDatabase("postgresql://debezium:s%40cret@db.example.com:5433/condomanage")

    config = connector_config(Settings(), ConnectorDatabase.of(db))

    assert ConnectorDatabase.of(db) == DATABASE
    assert not any("s@cret" in value or "s%40cret" in value for value in config.values())


def test_the_connector_writes_the_topics_the_stream_reads() -> None:
    assert captured_topics("cm") == topics("cm") == [
        "cm.public.condominios", "cm.public.moradores", "cm.public.imoveis",
        "cm.public.transacoes"]


def test_the_documented_connector_is_the_generated_one() -> None:
    """docs/streaming.md shows the configuration for the default settings and a source at
    db.example.com:5432/condomanage with user debezium."""
    section = STREAMING_DOC.read_text(encoding="utf-8").split(DOC_SECTION, 1)[1]
    documented = json.loads(JSON_BLOCK.findall(section)[0])
    settings = Settings()
    database = ConnectorDatabase("db.example.com", 5432, "condomanage", "debezium")

    assert documented == {"name": settings.cdc_connector,
                          "config": connector_config(settings, database)}


def test_published_records_counts_a_tombstone_per_delete() -> None:
    changes = {"transacoes": {"c": 5, "u": 3, "d": 2}, "moradores": {"c": 1, "u": 0, "d": 1},
               "imoveis": {}}
    assert published_records(changes) == 5 + 3 + 2 * 2 + 1 + 1 * 2
