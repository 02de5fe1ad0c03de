"""Rows of ops/stream_progress from Spark progress reports: exact values, dedupe, idle reports."""

from __future__ import annotations

import datetime as dt
from typing import Any

from condolake import catalog
from condolake.monitoring import progress
from condolake.monitoring.progress import ProgressRow

NOW = dt.datetime(2026, 11, 26, 8, 0, tzinfo=dt.UTC)
QID = "5d1c0b7e-0000-4000-8000-000000000001"
RID = "9a8b7c6d-0000-4000-8000-000000000002"


def kafka_source(end: str, latest: str) -> dict[str, Any]:
    return {"description": "KafkaV2[Subscribe[p.public.transacoes]]",
            "startOffset": None, "endOffset": end, "latestOffset": latest,
            "numInputRows": 0}


def report(batch_id: int, rows: int, *, ran: bool = True, qid: str = QID,
           sources: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    duration = {"triggerExecution": 1500 + batch_id, "latestOffset": 3}
    if ran:
        duration["addBatch"] = 1200
    return {"id": qid, "runId": RID, "name": "kafka",
            "timestamp": f"2026-11-26T07:59:{batch_id:02d}.250Z", "batchId": batch_id,
            "durationMs": duration, "numInputRows": rows, "inputRowsPerSecond": 10.5,
            "processedRowsPerSecond": 200.0, "sources": sources or []}


def test_one_row_per_batch_with_exact_values() -> None:
    sources = [kafka_source('{"t":{"0":10,"1":5}}', '{"t":{"0":12,"1":9}}')]
    rows = progress.progress_rows("kafka", [report(0, 15, sources=sources)], {}, NOW)
    assert rows == [ProgressRow(
        query="kafka", query_id=QID, stream_run_id=RID, batch_id=0,
        batch_at=dt.datetime(2026, 11, 26, 7, 59, 0, 250_000, tzinfo=dt.UTC),
        input_rows=15, input_rows_per_s=10.5, processed_rows_per_s=200.0, duration_ms=1500,
        source_end_offsets='[{"t": {"0": 10, "1": 5}}]', lag=6, recorded_at=NOW,
    )]
    assert len(rows[0].as_row()) == len(catalog.STREAM_PROGRESS_SCHEMA.fields)


def test_lag_is_none_without_a_kafka_source_and_offsets_keep_their_order() -> None:
    delta_sources = [{"description": "DeltaSource[a]", "endOffset": '{"reservoirVersion": 3}'},
                     {"description": "DeltaSource[b]", "endOffset": "not json"}]
    (row,) = progress.progress_rows("landing", [report(4, 2, sources=delta_sources)], {},
                                    NOW)
    assert row.lag is None
    assert row.source_end_offsets == '[{"reservoirVersion": 3}, "not json"]'


def test_idle_reports_and_recorded_batches_are_skipped() -> None:
    reports = [report(3, 5), report(4, 7), report(4, 0, ran=False), report(5, 1),
               report(5, 1), report(0, 9, qid="other")]
    rows = progress.progress_rows("kafka", reports, {QID: 3}, NOW)
    assert [(r.query_id, r.batch_id, r.input_rows) for r in rows] == [
        (QID, 4, 7), (QID, 5, 1), ("other", 0, 9)]
    assert progress.progress_rows("kafka", reports, {QID: 5, "other": 0}, NOW) == []


def test_recorded_after_keeps_the_highest_batch_per_query() -> None:
    rows = progress.progress_rows("q", [report(6, 1), report(7, 1), report(0, 1, qid="b")],
                                  {}, NOW)
    assert progress.recorded_after({QID: 2, "c": 9}, rows) == {QID: 7, "b": 0, "c": 9}


def test_parse_timestamp_is_utc() -> None:
    assert progress.parse_timestamp("2026-11-26T07:30:00.123Z") == dt.datetime(
        2026, 11, 26, 7, 30, 0, 123_000, tzinfo=dt.UTC)
