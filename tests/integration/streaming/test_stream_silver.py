"""One table's change rows applied micro-batch by micro-batch (real Spark + Delta, no broker).

The quarantine's bookkeeping after a silver write: a rejected version of a key, then a newer
valid one in a later micro-batch, which closes the quarantined record as superseded. The
order a late event is judged by, after a newer change that left the values as they were.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from condolake.catalog import KAFKA_EVENTS_SCHEMA
from condolake.layout import (
    POSITION_COL,
    RESOLUTION_COL,
    RESOLVED_RUN_ID_COL,
    Layer,
    table_path,
)
from condolake.pipelines.stream_silver import (
    CDC_SOURCE,
    apply_changes,
    ensure_stream_tables,
    stream_context,
)
from condolake.source.debezium import change_event, topic_name
from condolake.source.tables import CONDOMINIOS
from condolake.streaming.kafka_events import changes_from_events

PREFIX = "condomanage"
QUERY_ID = "0123456789abcdef"
APP_ID = f"kafka.{QUERY_ID}"
AT = dt.datetime(2026, 12, 5, 3, 0, 0, tzinfo=dt.UTC)


def micro_batch(spark: SparkSession, lake: str, batch_id: int, op: str, nome: str,
                lsn: int) -> tuple[list[str], dict[str, int]]:
    """Applies one change of condominio 7; (silver tables changed, its counts)."""
    ctx, run = stream_context(spark, lake, "UTC", "kafka", QUERY_ID, batch_id)
    before = {"condominio_id": 7, "nome": "Antigo", "endereco": "Rua 7"}
    after = {"condominio_id": 7, "nome": nome, "endereco": "Rua 7"}
    key, value = change_event(CONDOMINIOS, op, before if op == "u" else None, after,
                              prefix=PREFIX, database="condomanage", lsn=lsn, tx_id=lsn,
                              commit_ms=lsn, produced_ms=lsn)
    topic = topic_name(PREFIX, CONDOMINIOS.name)
    at = AT + dt.timedelta(seconds=batch_id)  # each micro-batch ingests later
    records = spark.createDataFrame(
        [(key.decode(), value.decode(), topic, 0, batch_id, at, f"kafka:{topic}/0/{batch_id}",
          batch_id, ctx.run_id, at)], KAFKA_EVENTS_SCHEMA)
    changed = apply_changes(
        ctx, run, {CONDOMINIOS.name: changes_from_events(records, CONDOMINIOS, ctx.run_id)},
        app_id=APP_ID, batch_id=batch_id, source=CDC_SOURCE)
    (counts,) = run.tables
    return changed, {"read": counts.rows_read, "valid": counts.rows_valid,
                     "quarantined": counts.rows_quarantined,
                     "duplicate": counts.rows_duplicate, "superseded": counts.rows_superseded}


@pytest.mark.integration
def test_a_newer_valid_version_supersedes_the_quarantined_one(spark: SparkSession,
                                                              tmp_path: Path) -> None:
    lake = str(tmp_path / "lake")
    ensure_stream_tables(spark, lake)
    assert micro_batch(spark, lake, 0, "c", "   ", lsn=100) == (
        [], {"read": 1, "valid": 0, "quarantined": 1, "duplicate": 0, "superseded": 0})
    assert micro_batch(spark, lake, 1, "u", "Aurora", lsn=200) == (
        [CONDOMINIOS.name],
        {"read": 1, "valid": 1, "quarantined": 0, "duplicate": 0, "superseded": 1})
    silver = spark.read.format("delta").load(table_path(lake, Layer.SILVER, CONDOMINIOS.name))
    assert [(r["condominio_id"], r["nome"]) for r in silver.collect()] == [(7, "Aurora")]
    quarantine = spark.read.format("delta").load(
        table_path(lake, Layer.QUARANTINE, CONDOMINIOS.name))
    assert [(r[RESOLUTION_COL], r[RESOLVED_RUN_ID_COL] is not None)
            for r in quarantine.where(F.col("condominio_id") == "7").collect()] == [
        ("superseded", True)]


@pytest.mark.integration
def test_a_change_with_the_same_values_still_advances_the_order(spark: SparkSession,
                                                                tmp_path: Path) -> None:
    lake = str(tmp_path / "lake")
    ensure_stream_tables(spark, lake)
    applied = {"read": 1, "valid": 1, "quarantined": 0, "duplicate": 0, "superseded": 0}
    assert micro_batch(spark, lake, 0, "c", "Aurora", lsn=100) == ([CONDOMINIOS.name], applied)
    assert micro_batch(spark, lake, 1, "u", "Aurora", lsn=200) == ([CONDOMINIOS.name], applied)
    # A late event from between the two: older than what silver holds, so a duplicate.
    assert micro_batch(spark, lake, 2, "u", "Antiga", lsn=150) == (
        [], {"read": 1, "valid": 0, "quarantined": 0, "duplicate": 1, "superseded": 0})
    silver = spark.read.format("delta").load(table_path(lake, Layer.SILVER, CONDOMINIOS.name))
    assert [(r["condominio_id"], r["nome"], r[POSITION_COL]) for r in silver.collect()] == [
        (7, "Aurora", 200)]
