"""A column added to a source table while streaming: nothing is lost, silver keeps its
contract, and a `schema_drift` result names the table and the new columns until its events
carry the declared columns only (real broker, Spark and Delta; events as Debezium's)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from tests.integration.streaming.streams import create_topics, stream_settings

from condolake.config import Settings
from condolake.layout import Layer, table_path
from condolake.pipelines.quality import dq_results_path
from condolake.pipelines.stream import StreamOptions, run_streams
from condolake.services.kafka import LocalKafkaBroker
from condolake.source.debezium import change_event, topic_name
from condolake.source.event_sink import KafkaSink
from condolake.source.tables import CONDOMINIOS
from condolake.streaming.queries import kafka_events_path

KAFKA_ONLY = StreamOptions(kafka=True, landing=False, once=True)


def _publish(settings: Settings, lsn: int, row: dict[str, object],
             extra: dict[str, object] | None = None) -> None:
    key, value = change_event(CONDOMINIOS, "c", None, row, prefix=settings.kafka_topic_prefix,
                              database="condomanage", lsn=lsn, tx_id=lsn, commit_ms=lsn,
                              produced_ms=lsn)
    if extra:  # the column the source now has, as Debezium adds it to the row image
        event = json.loads(value)
        event["after"].update(extra)
        value = json.dumps(event).encode()
    assert settings.kafka_bootstrap
    with KafkaSink(settings.kafka_bootstrap) as sink:
        sink.publish(topic_name(settings.kafka_topic_prefix, CONDOMINIOS.name), key, value)
        sink.flush()


def _drift_results(spark: SparkSession, settings: Settings) -> list[tuple[str, str, str]]:
    rows = spark.read.format("delta").load(dq_results_path(settings.lake_path)).where(
        F.col("check") == "schema_drift").orderBy("checked_at").collect()
    return [(row["table"], row["status"], row["detail"]) for row in rows]


@pytest.mark.integration
def test_new_source_columns_are_kept_in_bronze_reported_and_silver_keeps_its_contract(
    spark: SparkSession, base_settings: Settings, kafka_broker: LocalKafkaBroker,
    tmp_path: Path,
) -> None:
    settings = stream_settings(base_settings, tmp_path, "drift", kafka_broker.bootstrap)
    create_topics(settings)
    _publish(settings, 100, {"condominio_id": 1, "nome": "Aurora", "endereco": "Rua 1"},
             {"zona": "norte", "andares": 12})
    _publish(settings, 101, {"condominio_id": 2, "nome": "Bela", "endereco": "Rua 2"})
    run_streams(spark, settings, kafka_broker.bootstrap, KAFKA_ONLY)

    silver = spark.read.format("delta").load(
        table_path(settings.lake_path, Layer.SILVER, CONDOMINIOS.name))
    assert sorted((row["condominio_id"], row["nome"]) for row in silver.collect()) == [
        (1, "Aurora"), (2, "Bela")]
    assert "zona" not in silver.columns
    raw = [json.loads(row["value"])["after"] for row in spark.read.format("delta").load(
        kafka_events_path(settings.lake_path)).collect()]
    assert {"condominio_id": 1, "nome": "Aurora", "endereco": "Rua 1", "zona": "norte",
            "andares": 12} in raw
    assert _drift_results(spark, settings) == [(
        "condominios", "failed",
        "new columns: andares, zona; in 1 change events, kept in bronze/kafka_events and not "
        "in silver (docs/streaming.md#schema-drift)")]

    # The column adopted, or dropped again: the next events carry the declared ones only.
    _publish(settings, 102, {"condominio_id": 3, "nome": "Cedro", "endereco": "Rua 3"})
    run_streams(spark, settings, kafka_broker.bootstrap, KAFKA_ONLY)
    _publish(settings, 103, {"condominio_id": 4, "nome": "Dália", "endereco": "Rua 4"})
    run_streams(spark, settings, kafka_broker.bootstrap, KAFKA_ONLY)
    assert [status for _, status, _ in _drift_results(spark, settings)] == ["failed", "passed"]
