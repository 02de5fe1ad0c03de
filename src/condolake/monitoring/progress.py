"""Rows of `ops/stream_progress` from Spark's progress reports (pure).

One row per (query, micro-batch) that ran. Spark also reports progress while a query waits
for data (an "idle" report, without `addBatch` in `durationMs`): no micro-batch ran, so it is
not a row. Batches already written -- `recorded` holds, per query id, the highest batch id in
the table -- are skipped, so a repeated flush or a restart on the same checkpoint (same query
id, batch ids carry on) never writes a batch twice.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from condolake.streaming.status import reported_lag

EXECUTED_MARK = "addBatch"  # in `durationMs` only when a micro-batch actually ran


@dataclass(frozen=True)
class ProgressRow:
    query: str
    query_id: str
    stream_run_id: str
    batch_id: int
    batch_at: dt.datetime
    input_rows: int
    input_rows_per_s: float | None
    processed_rows_per_s: float | None
    duration_ms: int | None
    source_end_offsets: str
    lag: int | None
    recorded_at: dt.datetime

    def as_row(self) -> tuple[object, ...]:
        """The row in STREAM_PROGRESS_SCHEMA's column order."""
        return (self.query, self.query_id, self.stream_run_id, self.batch_id, self.batch_at,
                self.input_rows, self.input_rows_per_s, self.processed_rows_per_s,
                self.duration_ms, self.source_end_offsets, self.lag, self.recorded_at)


def parse_timestamp(text: str) -> dt.datetime:
    """Spark's progress timestamp (`2026-11-26T07:30:00.123Z`) as an aware UTC datetime."""
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(dt.UTC)


def _json_value(value: Any) -> Any:
    """An offset as Spark reports it: JSON text (Kafka, Delta, files) parsed, else as is."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def end_offsets(sources: Iterable[Mapping[str, Any]]) -> str:
    """The `endOffset` of each source of the batch, in Spark's order, as one JSON array."""
    return json.dumps([_json_value(source.get("endOffset")) for source in sources],
                      sort_keys=True)


def batch_lag(sources: Iterable[Mapping[str, Any]]) -> int | None:
    """Kafka offsets between the batch's end and the topics' latest, summed over the Kafka
    sources; None when no source is Kafka."""
    lags = [lag for lag in (reported_lag(source) for source in sources) if lag is not None]
    return sum(lags) if lags else None


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def executed(progress: Mapping[str, Any]) -> bool:
    return EXECUTED_MARK in (progress.get("durationMs") or {})


def progress_rows(
    query: str,
    progresses: Iterable[Mapping[str, Any]],
    recorded: Mapping[str, int],
    recorded_at: dt.datetime,
) -> list[ProgressRow]:
    """Rows for the micro-batches in `progresses` (a query's `recentProgress`) that ran and
    are above the batch id `recorded` for their query id, in batch order, each once."""
    rows: dict[tuple[str, int], ProgressRow] = {}
    for progress in progresses:
        if not executed(progress):
            continue
        query_id = str(progress["id"])
        batch_id = int(progress["batchId"])
        if batch_id <= recorded.get(query_id, -1):
            continue
        sources = list(progress.get("sources") or [])
        rows[(query_id, batch_id)] = ProgressRow(
            query=query,
            query_id=query_id,
            stream_run_id=str(progress["runId"]),
            batch_id=batch_id,
            batch_at=parse_timestamp(str(progress["timestamp"])),
            input_rows=int(progress.get("numInputRows") or 0),
            input_rows_per_s=_float(progress.get("inputRowsPerSecond")),
            processed_rows_per_s=_float(progress.get("processedRowsPerSecond")),
            duration_ms=(progress.get("durationMs") or {}).get("triggerExecution"),
            source_end_offsets=end_offsets(sources),
            lag=batch_lag(sources),
            recorded_at=recorded_at,
        )
    return [rows[key] for key in sorted(rows)]


def recorded_after(recorded: Mapping[str, int], rows: Iterable[ProgressRow]) -> dict[str, int]:
    """`recorded` updated with the rows just written (highest batch id per query id)."""
    updated = dict(recorded)
    for row in rows:
        updated[row.query_id] = max(updated.get(row.query_id, -1), row.batch_id)
    return updated
