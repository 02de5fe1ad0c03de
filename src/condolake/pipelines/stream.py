"""`condolake stream start`: the streaming queries, their handlers, and their supervision.

Each query's handler takes one micro-batch through every layer: bronze, silver and
quarantine, then the gold keys silver changed since the published gold set, then the run log.
Every append and MERGE of rows it read is a Delta transaction (`<query>.<query id>[.<table>]
.<step>`, batch id), and gold is recomputed from silver's versions, so a micro-batch replayed
after a crash completes what its first attempt left undone and repeats nothing.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.streaming import StreamingQuery

from condolake import catalog
from condolake.catalog import KAFKA_EVENTS, TOPIC, VALUE
from condolake.config import Settings
from condolake.errors import CondoLakeError
from condolake.lake import delta
from condolake.layout import RUN_ID_COL, Layer, bronze_schema, checkpoint_path
from condolake.monitoring.quality import schema_drift
from condolake.monitoring.runlog import RunRecord, TableCounts, write_run
from condolake.pipelines.errors import root_cause
from condolake.pipelines.gold import update_gold
from condolake.pipelines.load import LoadContext
from condolake.pipelines.quality import drifted_tables, write_results
from condolake.pipelines.stream_progress import ProgressRecorder
from condolake.pipelines.stream_silver import (
    CDC_SOURCE,
    LANDING_SOURCE,
    apply_changes,
    ensure_stream_tables,
    stream_context,
)
from condolake.services.stop_signals import stop_requests
from condolake.source.tables import SOURCE_TABLES, SourceTable
from condolake.spark import ignore_stop_signals
from condolake.streaming import queries
from condolake.streaming.changes import MALFORMED_COL
from condolake.streaming.drift import unknown_columns_by_table
from condolake.streaming.kafka_events import changes_from_events, table_of_topic
from condolake.streaming.landing import TABLE, changes_from_lines
from condolake.streaming.queries import BatchHandler, Trigger
from condolake.streaming.status import StatusFile, last_committed_batch
from condolake.transforms.silver.validate import LINEAGE_COLS

log = logging.getLogger(__name__)
SUPERVISE_EVERY_S = 1.0
PROGRESS_FLUSH_EVERY_S = 10.0  # micro-batches to ops/stream_progress
KAFKA_EVENTS_COLUMNS = [field.name for field in catalog.KAFKA_EVENTS_SCHEMA.fields]


class StreamError(CondoLakeError):
    """A streaming query stopped with an error."""


class ConservationError(CondoLakeError):
    """A micro-batch's counts do not add up: read != valid + quarantined + duplicate."""


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
    replayed: dict[str, int] = field(default_factory=dict)  # query -> batch left unfinished


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
        self._started = False
        self._drifted: set[str] | None = None  # tables whose latest schema_drift failed

    def record_drift(self, ctx: LoadContext, seen: dict[str, TableSeen], *,
                     batch_id: int) -> None:
        """A `schema_drift` result for each table of the micro-batch whose events carry
        columns the lake does not declare, and one (passed) when a drifted table's no longer
        do; nothing otherwise (one commit when there is something to write)."""
        if self._drifted is None:
            self._drifted = drifted_tables(ctx.spark, ctx.lake_root)
        results = []
        for name, table in seen.items():
            if table.unknown:
                log.warning(f"{name}: change events carry columns the lake does not declare: "
                            f"{', '.join(table.unknown)} (kept in bronze/{KAFKA_EVENTS}, not in "
                            "silver; see docs/streaming.md#schema-drift)")
            if table.unknown or name in self._drifted:
                results.append(schema_drift(name, table.unknown, table.drifting))
        if not results:
            return
        with delta.idempotent(ctx.spark, f"{self.app_id(ctx.spark)}.dq_results", batch_id):
            write_results(ctx.spark, ctx.lake_root, ctx.run_id, f"stream:{self.query}",
                          results, ctx.started_at)
        self._drifted = {result.table for result in results if result.failed} | (
            self._drifted - {result.table for result in results})

    def query_id(self, spark: SparkSession) -> str:
        if self._query_id is None:
            metadata = checkpoint_path(self.settings.lake_path, self.query) + "/metadata"
            line = spark.read.text(metadata).first()
            if line is None:
                raise StreamError(f"checkpoint metadata {metadata} is empty")
            self._query_id = str(json.loads(line[0])["id"])
        return self._query_id

    def may_be_replay(self) -> bool:
        """Only the first micro-batch after a start can be one that ran before (Spark replays
        an unfinished micro-batch first); it then looks up what its first attempt wrote."""
        first, self._started = not self._started, True
        return first

    def app_id(self, spark: SparkSession) -> str:
        return f"{self.query}.{self.query_id(spark)}"

    def context(self, spark: SparkSession, batch_id: int) -> tuple[LoadContext, RunRecord]:
        return stream_context(spark, self.settings.lake_path, self.settings.timezone,
                              self.query, self.query_id(spark), batch_id)

    def finish(self, ctx: LoadContext, run: RunRecord, *, batch_id: int) -> None:
        """Gold for what silver changed, then the run log: the micro-batch's last commits.

        Gold follows silver's versions, not this micro-batch's commits, so a replay whose
        first attempt stopped between two gold commits completes and publishes the set."""
        app_id = self.app_id(ctx.spark)
        if not run.conserved:
            _log_run(ctx, run, app_id, batch_id, "failed",
                     "conservation broken (rows read != valid + quarantined + duplicate)")
            # A counting bug must stop the stream loudly, not let it run on uncounted.
            raise ConservationError(f"{run.run_id}: {run.error}")
        update_gold(ctx, run, log_marts=False)  # `summary(run)` says what gold got
        if run.tables:
            _log_run(ctx, run, app_id, batch_id, "succeeded")
            log.info(summary(run))


def _log_run(ctx: LoadContext, run: RunRecord, app_id: str, batch_id: int, status: str,
             error: str | None = None) -> None:
    run.status, run.error = status, error
    run.finished_at = dt.datetime.now(dt.UTC)
    with delta.idempotent(ctx.spark, f"{app_id}.runlog", batch_id):
        write_run(ctx.spark, ctx.lake_root, run)


def summary(run: RunRecord) -> str:
    """One progress line per micro-batch: what each table got, and the gold keys moved."""
    seconds = (run.finished_at - run.started_at).total_seconds() if run.finished_at else 0.0
    tables = [f"{c.table} {c.rows_read:,} read, {c.rows_valid:,} applied, "
              f"{c.rows_quarantined:,} quarantined, {c.rows_duplicate:,} duplicate"
              + (f", {c.rows_reprocessed:,} re-processed" if c.rows_reprocessed else "")
              for c in run.tables if c.layer == "silver"]
    gold = sum(c.rows_read for c in run.tables if c.layer == "gold")
    return (f"{run.run_id}: " + "; ".join(tables or ["no source rows"])
            + f"; gold {gold:,} keys recomputed ({seconds:.1f} s)")


def kafka_handler(settings: Settings) -> BatchHandler:
    micro = MicroBatch(settings, queries.KAFKA)

    def handle(batch: DataFrame, batch_id: int) -> None:
        with kafka_batch(micro, batch, batch_id) as step:
            if step.records_read:
                step.land()
                step.apply()
                step.finish()

    return handle


class KafkaBatch:
    """The steps of one Kafka micro-batch, in the order the handler runs them: bronze,
    silver and quarantine, then gold and the run log. Each is a Delta transaction of the
    micro-batch, so a replay completes what an interrupted attempt left undone."""

    def __init__(self, micro: MicroBatch, ctx: LoadContext, run: RunRecord,
                 records: DataFrame, batch_id: int) -> None:
        self.micro, self.ctx, self.run, self.records, self.batch_id = (
            micro, ctx, run, records, batch_id)
        self.app_id = micro.app_id(ctx.spark)
        self.seen = _tables_seen(records)
        self.per_table = {name: table.rows for name, table in self.seen.items()}

    @property
    def records_read(self) -> int:
        return sum(self.per_table.values())

    def land(self) -> None:
        """bronze/kafka_events: every record as received."""
        started = time.monotonic()
        with delta.idempotent(self.ctx.spark, f"{self.app_id}.bronze", self.batch_id):
            delta.append(self.records.drop(TABLE), queries.kafka_events_path(self.ctx.lake_root),
                         self.ctx.tag(f"bronze.{KAFKA_EVENTS}"))
        self.run.tables.append(TableCounts(
            KAFKA_EVENTS, CDC_SOURCE, layer="bronze", rows_read=self.records_read,
            rows_valid=self.records_read, seconds=round(time.monotonic() - started, 3)))

    def apply(self) -> list[str]:
        """Silver and quarantine; returns the silver tables it changed."""
        changes = {
            table.name: changes_from_events(
                self.records.where(F.col(TABLE) == table.name), table, self.ctx.run_id)
            for table in SOURCE_TABLES if table.name in self.per_table
        }
        return apply_changes(self.ctx, self.run, changes, app_id=self.app_id,
                             batch_id=self.batch_id, source=CDC_SOURCE,
                             replay=self.micro.may_be_replay())

    def finish(self) -> None:
        self.micro.record_drift(self.ctx, self.seen, batch_id=self.batch_id)
        self.micro.finish(self.ctx, self.run, batch_id=self.batch_id)


@contextmanager
def kafka_batch(micro: MicroBatch, batch: DataFrame, batch_id: int) -> Iterator[KafkaBatch]:
    """One micro-batch of `queries.kafka`'s records, persisted while its steps run."""
    # The query's own session: its conf (the Delta transaction ids) is not shared.
    ctx, run = micro.context(batch.sparkSession, batch_id)
    records = batch.select(*KAFKA_EVENTS_COLUMNS[:-2], F.lit(ctx.run_id).alias(RUN_ID_COL),
                           *KAFKA_EVENTS_COLUMNS[-1:], table_of_topic(F.col(TOPIC)).alias(TABLE))
    records = records.persist(StorageLevel.MEMORY_AND_DISK)
    try:
        yield KafkaBatch(micro, ctx, run, records, batch_id)
    finally:
        records.unpersist()


def landing_handler(settings: Settings) -> BatchHandler:
    micro = MicroBatch(settings, queries.LANDING)

    def handle(lines: DataFrame, batch_id: int) -> None:
        spark = lines.sparkSession
        ctx, run = micro.context(spark, batch_id)
        app_id = micro.app_id(spark)
        lines = lines.persist(StorageLevel.MEMORY_AND_DISK)
        changes: dict[str, DataFrame] = {}
        try:
            present = _rows_per_table(lines)
            changes = {table.name: changes_from_lines(lines, table, ctx.run_id).persist(
                StorageLevel.MEMORY_AND_DISK) for table in SOURCE_TABLES if table.name in present}
            for table in SOURCE_TABLES:
                if table.name in changes:
                    _land(ctx, table, changes[table.name], f"{app_id}.{table.name}.bronze",
                          batch_id)
            apply_changes(ctx, run, changes, app_id=app_id, batch_id=batch_id,
                          source=LANDING_SOURCE, replay=micro.may_be_replay())
            micro.finish(ctx, run, batch_id=batch_id)
        finally:
            for frame in changes.values():
                frame.unpersist()
            lines.unpersist()

    return handle


@dataclass(frozen=True)
class TableSeen:
    """A table's records in a Kafka micro-batch: how many, and the columns its events carry
    that the lake does not declare (with how many events carry them)."""

    rows: int
    unknown: tuple[str, ...] = ()
    drifting: int = 0


def _tables_seen(records: DataFrame) -> dict[str, TableSeen]:
    """Each table's records in a micro-batch (the others are skipped, not scanned), and
    their undeclared columns, in the one Spark job that counts them."""
    unknown = unknown_columns_by_table(F.col(TABLE), F.col(VALUE))
    rows = records.groupBy(TABLE).agg(
        F.count(F.lit(1)).alias("rows"),
        F.array_sort(F.array_distinct(F.flatten(F.collect_list(unknown)))).alias("unknown"),
        F.count(F.when(F.size(unknown) > 0, F.lit(1))).alias("drifting"),
    ).collect()
    return {row[TABLE]: TableSeen(int(row["rows"]), tuple(row["unknown"]), int(row["drifting"]))
            for row in rows if row[TABLE] is not None}


def _rows_per_table(records: DataFrame) -> dict[str, int]:
    """Records of each table in a micro-batch (the others are skipped, not scanned)."""
    return {row[0]: int(row[1]) for row in records.groupBy(TABLE).count().collect()
            if row[0] is not None}


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


def prepare(spark: SparkSession, settings: Settings) -> None:
    """Every table and folder the queries read from exists before they start; checkpoints of
    the former four-query topology are refused with what to do."""
    former = [name for name in queries.FORMER_QUERY_NAMES
              if last_committed_batch(_checkpoint(settings, name)) is not None]
    if former:
        raise StreamError(
            f"the lake has checkpoints of the former streaming queries ({', '.join(former)}) "
            f"under {settings.lake_path}/_checkpoints. Drain them with the previous CondoLake "
            "version (`condolake stream start --once`), then remove those folders: the "
            "queries kafka and landing start from the topics' earliest offsets and the "
            "landing files, and changes already applied are counted as duplicates.")
    ensure_stream_tables(spark, settings.lake_path)
    delta.ensure_table(spark, queries.kafka_events_path(settings.lake_path),
                       catalog.KAFKA_EVENTS_SCHEMA)
    for table in SOURCE_TABLES:
        (settings.landing_path / table.name).mkdir(parents=True, exist_ok=True)


def _checkpoint(settings: Settings, query: str) -> Path:
    return Path(checkpoint_path(settings.lake_path, query))


def writers(spark: SparkSession, settings: Settings, bootstrap: str | None,
            options: StreamOptions, trigger: Trigger
            ) -> list[tuple[str, Callable[[], StreamingQuery]]]:
    """The queries to run, as (name, start) pairs."""
    starts: list[tuple[str, Callable[[], StreamingQuery]]] = []
    if options.kafka and bootstrap:
        kafka = queries.kafka(spark, settings, bootstrap, kafka_handler(settings),
                              trigger)
        starts.append((queries.KAFKA, kafka.start))
    if options.landing:
        landing = queries.landing(spark, settings, landing_handler(settings),
                                  trigger)
        starts.append((queries.LANDING, landing.start))
    return starts


def run_streams(
    spark: SparkSession,
    settings: Settings,
    bootstrap: str | None,
    options: StreamOptions,
) -> StreamReport:
    """Runs the queries until stopped (SIGINT/SIGTERM), `duration_s` elapses, or, with
    `once`, everything available has gone through every layer.

    A stop lets each query finish its micro-batch in progress, for up to
    `settings.stream_stop_grace_s`; one still running then is stopped and replayed whole on
    the next start (nothing is lost)."""
    prepare(spark, settings)
    ignore_stop_signals(spark)
    trigger = Trigger(settings.stream_trigger_s, available_now=options.once)
    starts = writers(spark, settings, bootstrap, options, trigger)
    status = StatusFile(settings.state_path / "stream" / "status.json", settings)
    report = StreamReport()
    recorder = ProgressRecorder(spark, settings.lake_path)
    grace_s = settings.stream_stop_grace_s
    # SIGINT and SIGTERM ask the queries to stop after their current micro-batch.
    with stop_requests() as stop:
        running = [start() for _, start in starts]
        deadline = None if options.duration_s is None else time.monotonic() + options.duration_s
        next_flush = time.monotonic() + PROGRESS_FLUSH_EVERY_S
        try:
            while not stop.is_set() and (deadline is None or time.monotonic() < deadline):
                status.write(running, running=True)
                _raise_if_failed(running)
                if options.once and not any(query.isActive for query in running):
                    break
                if time.monotonic() >= next_flush:
                    flush_progress(recorder, running)
                    next_flush = time.monotonic() + PROGRESS_FLUSH_EVERY_S
                stop.wait(SUPERVISE_EVERY_S / (10 if options.once else 1))
        finally:
            for query in running:
                unfinished = stop_between_batches(query, grace_s)
                if unfinished is not None:
                    report.replayed[query.name or ""] = unfinished
                    log.warning(
                        f"{query.name}: micro-batch {unfinished} did not finish within "
                        f"{grace_s:g} s of the stop; it will be replayed on the next start")
            flush_progress(recorder, running)
            status.write(running, running=False)
        _raise_if_failed(running)
        for query in running:
            _record(report, query.name or "", query)
    return report


def flush_progress(recorder: ProgressRecorder, running: list[StreamingQuery]) -> None:
    """Records the new micro-batches in ops/stream_progress. Monitoring must not stop the
    stream: a failed write is reported and retried at the next flush (nothing is lost while
    the batches stay in Spark's recent progress)."""
    try:
        recorder.flush(running)
    except Exception as error:
        log.warning(f"warning: ops/stream_progress not updated: {root_cause(error)}")


def stop_between_batches(query: StreamingQuery, grace_s: float) -> int | None:
    """Stops the query once its micro-batch in progress has ended, waiting at most `grace_s`;
    returns the id of a micro-batch still running then (it is stopped and runs again on the
    next start), None when the query stopped between micro-batches."""
    deadline = time.monotonic() + grace_s
    while _busy(query) and time.monotonic() < deadline:
        time.sleep(SUPERVISE_EVERY_S / 10)
    unfinished = _current_batch(query) if _busy(query) else None
    query.stop()
    return unfinished


def _busy(query: StreamingQuery) -> bool:
    return bool(query.isActive and query.status.get("isTriggerActive"))


def _current_batch(query: StreamingQuery) -> int | None:
    last = query.lastProgress
    return None if last is None else int(last.batchId) + 1


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
