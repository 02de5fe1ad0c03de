"""Writes the streaming queries' micro-batches to ops/stream_progress (I/O).

The `condolake stream start` process owns one `ProgressRecorder`. The first flush reads the
highest batch id already in the table per query id (one small aggregate); after that the
recorder remembers what it wrote. Only one process can run a query on its checkpoint, so
this process is the only writer of its query ids' rows, and appending the batches above the
recorded id is a dedupe on (query_id, batch_id): a restart or a repeated flush never writes a
batch twice. Each flush is one Delta append.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from pyspark.sql.streaming import StreamingQuery

from condolake.catalog import STREAM_PROGRESS, STREAM_PROGRESS_SCHEMA
from condolake.lake import delta
from condolake.layout import Layer, table_path
from condolake.monitoring.progress import progress_rows, recorded_after


def stream_progress_path(lake_root: str) -> str:
    return table_path(lake_root, Layer.OPS, STREAM_PROGRESS)


class ProgressRecorder:
    def __init__(self, spark: SparkSession, lake_root: str) -> None:
        self._spark = spark
        self._path = stream_progress_path(lake_root)
        self._recorded: dict[str, int] | None = None

    def _seed(self) -> dict[str, int]:
        if self._recorded is None:
            self._recorded = {}
            if delta.exists(self._spark, self._path):
                for row in (delta.read(self._spark, self._path).groupBy("query_id")
                            .agg(F.max("batch_id").alias("batch_id")).collect()):
                    self._recorded[row["query_id"]] = int(row["batch_id"])
        return self._recorded

    def flush(self, queries: Iterable[StreamingQuery]) -> int:
        """Appends the micro-batches of `queries` not written yet; returns how many."""
        now = dt.datetime.now(dt.UTC)
        reports = [(query.name or "", query.recentProgress) for query in queries]
        if not any(reports_of_query for _, reports_of_query in reports):
            return 0
        recorded = self._seed()
        rows = [row for name, progresses in reports
                for row in progress_rows(name, progresses, recorded, now)]
        if rows:
            frame = self._spark.createDataFrame([row.as_row() for row in rows],
                                                STREAM_PROGRESS_SCHEMA)
            delta.append(frame, self._path, commit_tag=f"stream_progress:{now:%Y%m%dT%H%M%S}")
            self._recorded = recorded_after(recorded, rows)
        return len(rows)
