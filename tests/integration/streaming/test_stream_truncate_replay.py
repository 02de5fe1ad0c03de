"""A micro-batch with a truncate, replayed after a crash (real Spark + Delta, no broker).

The first attempt commits its positions, silver and quarantine, then dies before gold and the
run log; the replay judges against silver as it was before, takes the same decisions and
commits nothing twice.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from condolake.catalog import KAFKA_EVENTS_SCHEMA
from condolake.lake import delta
from condolake.layout import Layer, table_path
from condolake.pipelines.stream_silver import (
    CDC_SOURCE,
    apply_changes,
    ensure_stream_tables,
    positions_path,
    stream_context,
)
from condolake.source.debezium import change_event, topic_name, truncate_event
from condolake.source.tables import CONDOMINIOS
from condolake.streaming.kafka_events import changes_from_events

PREFIX = "condomanage"
QUERY_ID = "fedcba9876543210"
APP_ID = f"kafka.{QUERY_ID}"
AT = dt.datetime(2026, 12, 6, 3, 0, 0, tzinfo=dt.UTC)
TOPIC = topic_name(PREFIX, CONDOMINIOS.name)
Record = tuple[bytes | None, bytes | None]


def create(condominio_id: int, lsn: int) -> Record:
    row = {"condominio_id": condominio_id, "nome": f"Condo {condominio_id}", "endereco": "Rua"}
    return change_event(CONDOMINIOS, "c", None, row, prefix=PREFIX, database="condomanage",
                        lsn=lsn, tx_id=lsn, commit_ms=lsn, produced_ms=lsn)


def truncate(lsn: int) -> Record:
    return truncate_event(CONDOMINIOS, prefix=PREFIX, database="condomanage", lsn=lsn,
                          tx_id=lsn, commit_ms=lsn, produced_ms=lsn)


def micro_batch(spark: SparkSession, lake: str, batch_id: int, records: list[Record], *,
                replay: bool = False) -> tuple[int, int, int, int]:
    """Applies `records` (offsets from batch_id * 100) as one micro-batch of condominios;
    its (read, valid, quarantined, duplicate)."""
    ctx, run = stream_context(spark, lake, "UTC", "kafka", QUERY_ID, batch_id)
    at = AT + dt.timedelta(seconds=batch_id)
    rows = [(None if key is None else key.decode(), None if value is None else value.decode(),
             TOPIC, 0, batch_id * 100 + i, at, f"kafka:{TOPIC}/0/{batch_id * 100 + i}",
             batch_id * 100 + i, ctx.run_id, at) for i, (key, value) in enumerate(records)]
    frame = spark.createDataFrame(rows, KAFKA_EVENTS_SCHEMA)
    apply_changes(ctx, run, {CONDOMINIOS.name: changes_from_events(frame, CONDOMINIOS,
                                                                    ctx.run_id)},
                  app_id=APP_ID, batch_id=batch_id, source=CDC_SOURCE, replay=replay)
    (counts,) = run.tables
    return (counts.rows_read, counts.rows_valid, counts.rows_quarantined,
            counts.rows_duplicate)


def silver(spark: SparkSession, lake: str) -> dict[int, int]:
    """condominio_id -> the order of its version."""
    frame = spark.read.format("delta").load(table_path(lake, Layer.SILVER, CONDOMINIOS.name))
    return {row["condominio_id"]: row["_source_position"] for row in frame.collect()}


@pytest.mark.integration
def test_a_replayed_truncate_takes_the_same_decisions_and_commits_nothing_twice(
    spark: SparkSession, tmp_path: Path,
) -> None:
    lake = str(tmp_path / "lake")
    ensure_stream_tables(spark, lake)
    assert micro_batch(spark, lake, 0, [create(7, 100), create(8, 150)]) == (2, 2, 0, 0)

    truncated = [create(6, 180), truncate(200), create(9, 300)]
    assert micro_batch(spark, lake, 1, truncated) == (3, 2, 0, 1)  # 6 precedes the truncate
    assert silver(spark, lake) == {9: 300}
    silver_path = table_path(lake, Layer.SILVER, CONDOMINIOS.name)
    versions = (delta.version(spark, silver_path), delta.version(spark, positions_path(lake)))

    # The process died before gold and the run log: the next start replays micro-batch 1.
    assert micro_batch(spark, lake, 1, truncated, replay=True) == (3, 2, 0, 1)
    assert silver(spark, lake) == {9: 300}
    assert (delta.version(spark, silver_path),
            delta.version(spark, positions_path(lake))) == versions
    truncates = spark.read.format("delta").load(positions_path(lake)).where("op = 't'")
    assert [(r["key"], r["order"]) for r in truncates.collect()] == [(None, 200)]

    # The next micro-batch: the truncate again, and an older create of a removed key.
    assert micro_batch(spark, lake, 2, [truncate(200), create(7, 100)]) == (2, 0, 0, 2)
    assert silver(spark, lake) == {9: 300}
