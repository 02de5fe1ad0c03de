"""ops/stream_progress: one row per (query, micro-batch), written by `condolake stream start`.

Two `--once` runs over Kafka on a copy of the session's loaded lake (the `loaded_lake`
fixture): the rows name the query, batch ids run 0, 1, 2, ... without a gap or a repeat
across the runs, the Kafka query's input rows add up to the records published, and the lag
of each Kafka batch is what was left behind it. Then the recorder's dedupe on its own.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pyspark.sql import SparkSession
from tests.integration.conftest import new_topic_prefix
from tests.integration.streaming.streams import (
    LoadedLake,
    copy_of,
    create_topics,
    simulate,
    stream_settings,
)

from condolake.config import Settings
from condolake.layout import Layer, table_path
from condolake.pipelines.stream import StreamOptions, run_streams
from condolake.pipelines.stream_progress import ProgressRecorder
from condolake.services.kafka import LocalKafkaBroker
from condolake.services.postgres import SourceDatabase
from condolake.streaming.queries import KAFKA, topics

MAX_OFFSETS = 700  # several micro-batches per run
SEED = 77
FIRST_EVENTS, SECOND_EVENTS = 1_500, 600


@pytest.fixture(scope="module")
def settings(base_settings: Settings, kafka_broker: LocalKafkaBroker,
             tmp_path_factory: pytest.TempPathFactory) -> Settings:
    folder: Path = tmp_path_factory.mktemp("stream-progress")
    settings = stream_settings(base_settings, folder, new_topic_prefix(),
                               kafka_broker.bootstrap).with_(stream_max_offsets=MAX_OFFSETS)
    create_topics(settings)
    return settings


@pytest.fixture(scope="module")
def source(loaded_lake: LoadedLake, postgres: SourceDatabase,
           settings: Settings) -> Iterator[SourceDatabase]:
    """A copy of the loaded source (PostgreSQL's TEMPLATE) and of its lake."""
    with copy_of(loaded_lake, postgres, settings) as db:
        yield db


def progress_rows(spark: SparkSession, settings: Settings) -> list[dict[str, Any]]:
    rows = spark.read.format("delta").load(
        table_path(settings.lake_path, Layer.OPS, "stream_progress")).collect()
    return sorted((row.asDict() for row in rows), key=lambda r: (r["query"], r["batch_id"]))


@pytest.fixture(scope="module")
def two_runs(spark: SparkSession, settings: Settings,
             source: SourceDatabase) -> tuple[list[int], list[list[dict[str, Any]]]]:
    """Published records and the table's rows after each of two `--once` runs."""
    published, snapshots = [], []
    for events, seed in ((FIRST_EVENTS, SEED), (SECOND_EVENTS, SEED + 1)):
        published.append(simulate(source, settings, events=events, seed=seed).published)
        run_streams(spark, settings, settings.kafka_bootstrap,
                    StreamOptions(once=True, landing=False))
        snapshots.append(progress_rows(spark, settings))
    return published, snapshots


@pytest.mark.integration
class TestStreamProgress:
    def test_one_row_per_batch_contiguous_and_never_twice(
        self, two_runs: tuple[list[int], list[list[dict[str, Any]]]],
    ) -> None:
        published, (first, second) = two_runs
        assert {r["query"] for r in first} == {KAFKA}  # --no-landing: the Kafka query alone
        # The second run only added rows: the first run's are there unchanged, once.
        assert [r for r in second if r["recorded_at"] <= max(f["recorded_at"] for f in first)
                ] == first
        assert [r["batch_id"] for r in second] == list(range(len(second)))
        assert len({r["query_id"] for r in second}) == 1  # same checkpoint
        assert len({r["stream_run_id"] for r in second}) == 2  # two starts
        assert all(r["input_rows"] > 0 and r["duration_ms"] > 0 for r in second)

    def test_kafka_queries_read_every_published_record(
        self, two_runs: tuple[list[int], list[list[dict[str, Any]]]],
    ) -> None:
        published, (first, second) = two_runs
        assert sum(r["input_rows"] for r in first) == published[0]
        assert sum(r["input_rows"] for r in second) == sum(published)
        assert len(first) >= 2  # maxOffsetsPerTrigger split the backlog

    def test_kafka_lag_is_what_each_batch_left_behind(
        self, settings: Settings, two_runs: tuple[list[int], list[list[dict[str, Any]]]],
    ) -> None:
        published, (first, second) = two_runs
        bronze = [r for r in second if r["query"] == KAFKA]
        read, lags = 0, []
        for row in bronze:
            read += row["input_rows"]
            total = published[0] if read <= published[0] else sum(published)
            lags.append((row["batch_id"], total - read))
        assert [(r["batch_id"], r["lag"]) for r in bronze] == lags
        # The end offsets as Spark reported them: per topic and partition, summing to the
        # records read so far.
        last = json.loads(bronze[-1]["source_end_offsets"])
        assert sorted(last[0]) == sorted(topics(settings.kafka_topic_prefix))
        assert sum(int(o) for t in last[0].values() for o in t.values()) == sum(published)


class FakeQuery:
    """What the recorder reads of a StreamingQuery: its name and recent progress."""

    def __init__(self, name: str, progresses: list[dict[str, Any]]) -> None:
        self.name = name
        self.recentProgress = progresses


def report(batch_id: int) -> dict[str, Any]:
    return {"id": "q-1", "runId": "r-1", "name": "kafka", "batchId": batch_id,
            "timestamp": f"2026-11-26T08:00:0{batch_id}.000Z", "numInputRows": 10,
            "durationMs": {"addBatch": 5, "triggerExecution": 9}, "sources": []}


@pytest.mark.integration
def test_recorder_flushes_each_batch_once_across_flushes_and_restarts(
    spark: SparkSession, tmp_path: Path,
) -> None:
    lake = str(tmp_path / "lake")
    query = FakeQuery("kafka", [report(0), report(1)])
    recorder = ProgressRecorder(spark, lake)
    assert recorder.flush([query]) == 2  # type: ignore[list-item]
    assert recorder.flush([query]) == 0  # type: ignore[list-item]
    query.recentProgress.append(report(2))
    assert recorder.flush([query]) == 1  # type: ignore[list-item]
    restarted = ProgressRecorder(spark, lake)  # a new process: seeded from the table
    assert restarted.flush([query]) == 0  # type: ignore[list-item]
    rows = spark.read.format("delta").load(f"{lake}/ops/stream_progress").collect()
    assert sorted((r["query_id"], r["batch_id"]) for r in rows) == [
        ("q-1", 0), ("q-1", 1), ("q-1", 2)]
    assert {r["batch_at"].astimezone(dt.UTC).second for r in rows} == {0, 1, 2}
