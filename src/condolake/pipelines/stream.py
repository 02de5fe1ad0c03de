"""`condolake stream start`: the streaming queries, their handlers, and their supervision."""

from __future__ import annotations

import json
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import FrameType

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.streaming import StreamingQuery

from condolake.config import Settings
from condolake.errors import CondoLakeError
from condolake.lake import delta
from condolake.lake.layout import Layer, bronze_schema, checkpoint_path
from condolake.monitoring.runlog import RunRecord
from condolake.pipelines.errors import root_cause
from condolake.pipelines.load import LoadContext
from condolake.pipelines.stream_gold import update_gold
from condolake.pipelines.stream_progress import ProgressRecorder
from condolake.pipelines.stream_silver import (
    CDC_SOURCE,
    LANDING_SOURCE,
    apply_changes,
    ensure_stream_tables,
    stream_context,
)
from condolake.source.tables import SOURCE_TABLES, SourceTable
from condolake.streaming import queries
from condolake.streaming.changes import MALFORMED_COL
from condolake.streaming.kafka_events import TOPIC, changes_from_events, table_of_topic
from condolake.streaming.landing import TABLE, changes_from_lines
from condolake.streaming.queries import BatchHandler, Trigger
from condolake.streaming.status import StatusFile
from condolake.transforms.silver.validate import LINEAGE_COLS

Progress = Callable[[str], None]
SUPERVISE_EVERY_S = 1.0
STOP_GRACE_S = 60.0
PROGRESS_FLUSH_EVERY_S = 10.0  # micro-batches to ops/stream_progress


class StreamError(CondoLakeError):
    """A streaming query stopped with an error."""


@dataclass
class StreamOptions:
    kafka: bool = True
    landing: bool = True
    once: bool = False  # process what is available now, then stop
    duration_s: float | None = None  # stop after this long (None: until stopped)


@dataclass
class StreamReport:
    batches: dict[str, int] = field(default_factory=dict)  # query -> micro-batches run
    rows: dict[str, int] = field(default_factory=dict)  # query -> input rows


class MicroBatch:
    """What a handler needs to know about the query it serves.

    The query id comes from the checkpoint's metadata (written when the query first starts),
    so it is stable across restarts and new after a reset: the Delta transaction ids built
    from it make a replayed micro-batch a no-op, and a fresh start a fresh sequence.
    """

    def __init__(self, settings: Settings, query: str) -> None:
        self.settings = settings
        self.query = query
        self._query_id: str | None = None

    def query_id(self, spark: SparkSession) -> str:
        if self._query_id is None:
            metadata = checkpoint_path(self.settings.lake_path, self.query) + "/metadata"
            line = spark.read.text(metadata).first()
            if line is None:
                raise StreamError(f"checkpoint metadata {metadata} is empty")
            self._query_id = str(json.loads(line[0])["id"])
        return self._query_id

    def app_id(self, spark: SparkSession) -> str:
        return f"{self.query}.{self.query_id(spark)}"

    def context(self, spark: SparkSession, batch_id: int) -> tuple[LoadContext, RunRecord]:
        return stream_context(spark, self.settings.lake_path, self.settings.timezone,
                              self.query, self.query_id(spark), batch_id)


def kafka_handler(settings: Settings, progress: Progress | None) -> BatchHandler:
    micro = MicroBatch(settings, queries.KAFKA_SILVER)

    def handle(batch: DataFrame, batch_id: int) -> None:
        spark = batch.sparkSession  # the query's own session: its conf is not shared
        ctx, run = micro.context(spark, batch_id)
        events = batch.select("*", table_of_topic(F.col(TOPIC)).alias(TABLE)).cache()
        try:
            present = _tables_in(events)
            changes = {
                table.name: changes_from_events(
                    events.where(F.col(TABLE) == table.name), table, ctx.run_id)
                for table in SOURCE_TABLES if table.name in present
            }
            apply_changes(ctx, run, changes, app_id=micro.app_id(spark), batch_id=batch_id,
                          source=CDC_SOURCE, progress=progress)
        finally:
            events.unpersist()

    return handle


def landing_handler(settings: Settings, progress: Progress | None) -> BatchHandler:
    micro = MicroBatch(settings, queries.LANDING_SILVER)

    def handle(lines: DataFrame, batch_id: int) -> None:
        spark = lines.sparkSession
        ctx, run = micro.context(spark, batch_id)
        app_id = micro.app_id(spark)
        lines = lines.cache()
        present = _tables_in(lines)
        changes = {table.name: changes_from_lines(lines, table, ctx.run_id).cache()
                   for table in SOURCE_TABLES if table.name in present}
        try:
            for table in SOURCE_TABLES:
                if table.name in changes:
                    _land(ctx, table, changes[table.name], f"{app_id}.{table.name}.bronze",
                          batch_id)
            apply_changes(ctx, run, changes, app_id=app_id, batch_id=batch_id,
                          source=LANDING_SOURCE, progress=progress)
        finally:
            for frame in changes.values():
                frame.unpersist()
            lines.unpersist()

    return handle


def _tables_in(records: DataFrame) -> set[str]:
    """The tables a micro-batch has records of (the others are skipped, not scanned)."""
    return {row[0] for row in records.select(TABLE).distinct().collect()}


def _land(ctx: LoadContext, table: SourceTable, changes: DataFrame, app_id: str,
          batch_id: int) -> None:
    """The readable records of landing files go to bronze/<table>, as batch loads do."""
    readable = changes.where(F.col(MALFORMED_COL).isNull()).select(
        *table.column_names, *LINEAGE_COLS)
    if readable.isEmpty():
        return
    path = ctx.path(Layer.BRONZE, table.name)
    delta.ensure_table(ctx.spark, path, bronze_schema(table))
    with delta.idempotent(ctx.spark, app_id, batch_id):
        delta.append(readable, path, ctx.tag(f"bronze.{table.name}"))


def gold_handler(settings: Settings, progress: Progress | None) -> BatchHandler:
    micro = MicroBatch(settings, queries.SILVER_GOLD)

    def handle(changed: DataFrame, batch_id: int) -> None:
        spark = changed.sparkSession
        ctx, run = micro.context(spark, batch_id)
        update_gold(ctx, run, changed, app_id=micro.app_id(spark), batch_id=batch_id,
                    progress=progress)

    return handle


def prepare(spark: SparkSession, settings: Settings) -> None:
    """Every table and folder the queries read from exists before they start."""
    ensure_stream_tables(spark, settings.lake_path)
    delta.ensure_table(spark, queries.kafka_events_path(settings.lake_path),
                       queries.KAFKA_EVENTS_SCHEMA)
    for table in SOURCE_TABLES:
        (settings.landing_path / table.name).mkdir(parents=True, exist_ok=True)


def _writers(spark: SparkSession, settings: Settings, bootstrap: str | None,
             options: StreamOptions, trigger: Trigger, progress: Progress | None
             ) -> list[tuple[str, Callable[[], StreamingQuery]]]:
    """The queries to run, upstream first, as (name, start) pairs."""
    starts: list[tuple[str, Callable[[], StreamingQuery]]] = []
    if options.kafka and bootstrap:
        bronze = queries.kafka_bronze(spark, settings, bootstrap, trigger)
        starts.append((queries.KAFKA_BRONZE, bronze.start))
        silver = queries.kafka_silver(spark, settings, kafka_handler(settings, progress), trigger)
        starts.append((queries.KAFKA_SILVER, silver.start))
    if options.landing:
        landing = queries.landing_silver(spark, settings, landing_handler(settings, progress),
                                         trigger)
        starts.append((queries.LANDING_SILVER, landing.start))
    gold = queries.silver_gold(spark, settings, gold_handler(settings, progress), trigger)
    starts.append((queries.SILVER_GOLD, gold.start))
    return starts


def run_streams(
    spark: SparkSession,
    settings: Settings,
    bootstrap: str | None,
    options: StreamOptions,
    progress: Progress | None = None,
) -> StreamReport:
    """Runs the queries until stopped (SIGINT/SIGTERM), `duration_s` elapses, or, with
    `once`, everything available has gone through every layer."""
    prepare(spark, settings)
    trigger = Trigger(settings.stream_trigger_s, available_now=options.once)
    starts = _writers(spark, settings, bootstrap, options, trigger, progress)
    status = StatusFile(settings.state_path / "stream" / "status.json", settings)
    report = StreamReport()
    recorder = ProgressRecorder(spark, settings.lake_path)
    if options.once:
        # Each layer drains completely before the next one starts reading it.
        done: list[StreamingQuery] = []
        for name, start in starts:
            query = start()
            try:
                _await(query, name)
            finally:
                flush_progress(recorder, [query], progress)
            _record(report, name, query)
            done.append(query)
            status.write(done, running=False)  # every query run so far, not only the last
        return report
    with _stop_on_signals() as stop:
        running = [start() for _, start in starts]
        deadline = None if options.duration_s is None else time.monotonic() + options.duration_s
        next_flush = time.monotonic() + PROGRESS_FLUSH_EVERY_S
        try:
            while not stop.is_set() and (deadline is None or time.monotonic() < deadline):
                status.write(running, running=True)
                _raise_if_failed(running)
                if time.monotonic() >= next_flush:
                    flush_progress(recorder, running, progress)
                    next_flush = time.monotonic() + PROGRESS_FLUSH_EVERY_S
                stop.wait(SUPERVISE_EVERY_S)
        finally:
            for query in running:
                _stop_between_batches(query)
            flush_progress(recorder, running, progress)
            status.write(running, running=False)
        _raise_if_failed(running)
        for query in running:
            _record(report, query.name or "", query)
    return report


def flush_progress(recorder: ProgressRecorder, running: list[StreamingQuery],
                   progress: Progress | None) -> None:
    """Records the new micro-batches in ops/stream_progress. Monitoring must not stop the
    stream: a failed write is reported and retried at the next flush (nothing is lost while
    the batches stay in Spark's recent progress)."""
    try:
        recorder.flush(running)
    except Exception as error:
        (progress or print)(f"warning: ops/stream_progress not updated: {root_cause(error)}")


def _stop_between_batches(query: StreamingQuery) -> None:
    """Stops the query, after its micro-batch in progress if it ends soon enough (a stopped
    micro-batch is not lost: it runs again on the next start)."""
    deadline = time.monotonic() + STOP_GRACE_S
    while query.isActive and query.status.get("isTriggerActive") and time.monotonic() < deadline:
        time.sleep(SUPERVISE_EVERY_S / 10)
    query.stop()


def _await(query: StreamingQuery, name: str) -> None:
    try:
        query.awaitTermination()
    except Exception as error:
        raise StreamError(f"stream {name} failed: {root_cause(error)}") from error


def _raise_if_failed(running: list[StreamingQuery]) -> None:
    for query in running:
        error = query.exception()
        if error is not None:
            for other in running:
                other.stop()
            raise StreamError(f"stream {query.name} failed: {root_cause(error)}")


def _record(report: StreamReport, name: str, query: StreamingQuery) -> None:
    progresses = query.recentProgress
    report.batches[name] = len([p for p in progresses if p.numInputRows])
    report.rows[name] = sum(int(p.numInputRows) for p in progresses)


@contextmanager
def _stop_on_signals() -> Iterator[threading.Event]:
    """SIGINT and SIGTERM ask the queries to stop after their current micro-batch."""
    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)

