"""A typed snapshot of the lake's health, collected without a JVM.

Sources: the run log and data-quality results in ops/ and the quarantine tables (read with
DuckDB's delta extension, each query's result kept until its tables get a new Delta version),
the commit time of each gold table's served version (the published gold set's), the streaming
process's status file and checkpoints, the Kafka broker's end offsets, and the logical
replication slots of the PostgreSQL source (the external one, or the embedded server when it
runs; the WAL they retain is what change data capture costs the source). A source that
cannot be read is noted in `LakeHealth.errors` (the exporter counts them) and its part of the
snapshot is left empty; it never stops the collection.

Pure parsing and arithmetic (`parse_offsets_file`, `unread_offsets`, the `*_from_rows` builders)
are separate from the I/O (`HealthCollector`), so they are tested on exact values.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import psycopg
from confluent_kafka import KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient, OffsetSpec

from condolake.catalog import mart_names
from condolake.config import Settings, revealed
from condolake.errors import CondoLakeError
from condolake.lake.versions import latest_version, served_versions
from condolake.layout import Layer, table_path
from condolake.monitoring.quality import INGEST_JOBS
from condolake.services.duckdb_extensions import load_extensions
from condolake.services.kafka import CLIENT_LOG_LEVEL, LocalKafkaBroker
from condolake.services.kafka_connect import ConnectState, LocalKafkaConnect, connect_state
from condolake.services.postgres import EmbeddedPostgres, SourceDatabase
from condolake.source.replication import SlotHealth, slot_healths
from condolake.source.tables import SOURCE_TABLES
from condolake.streaming.queries import QUERY_NAMES
from condolake.streaming.status import QueryState, read_states

RUNS, RUN_TABLES, DQ_RESULTS = "runs", "run_tables", "dq_results"
OUTCOMES = ("read", "valid", "quarantined", "duplicate")
RUNNING = "running"
KAFKA_TIMEOUT_S = 2.0  # a scrape must answer well within Prometheus' 10 s scrape timeout
SOURCE_CONNECT_TIMEOUT_S = 2  # libpq's connect_timeout: whole seconds, at least 2
SOURCE_STATEMENT_TIMEOUT = "-c statement_timeout=2000"
OFFSETS_DIR = "offsets"
# Where a scrape's errors are counted (`condolake_scrape_errors{source}`).
SOURCES = ("runs", "dq_results", "quarantine", "gold", "streams", "kafka", "replication")

Offsets = dict[tuple[str, int], int]  # (topic, partition) -> offset


# --- the snapshot ---------------------------------------------------------------------------


@dataclass(frozen=True)
class TableRows:
    """What one run did to one table (ops/run_tables)."""

    table: str
    layer: str
    read: int
    valid: int
    quarantined: int
    duplicate: int

    def outcome(self, name: str) -> int:
        return int(getattr(self, name))


@dataclass(frozen=True)
class JobRun:
    """The latest run of one job (ops/runs), with its per-table counts."""

    job: str
    run_id: str
    status: str
    started_at: float  # seconds since the epoch
    finished_at: float | None
    duration_s: float | None
    rows_read: int
    rows_valid: int
    rows_quarantined: int
    rows_duplicate: int
    error: str | None
    tables: tuple[TableRows, ...] = ()


@dataclass(frozen=True)
class JobHealth:
    job: str
    last: JobRun
    last_success_at: float | None  # finished_at of the latest succeeded run
    runs: Mapping[str, int]  # status -> runs in ops/runs


@dataclass(frozen=True)
class TableRate:
    """Quarantined and duplicate rows of the latest ingest run of one source table (a batch or
    ingest job: the runs `condolake check` judges; a run that read nothing has rate 0)."""

    table: str
    run_id: str
    job: str
    rows_read: int
    rows_quarantined: int
    rows_duplicate: int

    @property
    def quarantine_rate(self) -> float:
        return self.rows_quarantined / self.rows_read if self.rows_read else 0.0

    @property
    def duplicate_rate(self) -> float:
        return self.rows_duplicate / self.rows_read if self.rows_read else 0.0


@dataclass(frozen=True)
class QuarantineCount:
    table: str
    open: int  # not resolved yet
    total: int


@dataclass(frozen=True)
class DqCheck:
    """The latest `condolake check` result of one (check, table) (ops/dq_results)."""

    check: str
    table: str  # "" for a check of the whole lake
    status: str  # passed / failed
    observed: float | None
    threshold: float | None
    failures: int | None
    checked_at: float
    run_id: str
    detail: str | None

    @property
    def failed(self) -> bool:
        return self.status == "failed"


@dataclass(frozen=True)
class GoldFreshness:
    table: str
    version: int
    committed_at: float

    def age_s(self, now: float) -> float:
        return max(0.0, now - self.committed_at)


@dataclass(frozen=True)
class StreamHealth:
    query: str
    state: str
    last_batch: int | None
    last_progress_at: float | None
    input_rows_per_s: float | None
    processed_rows_per_s: float | None
    batch_duration_s: float | None
    kafka_lag: int | None  # None: not a Kafka query, or not known

    @property
    def up(self) -> bool:
        return self.state == RUNNING


@dataclass(frozen=True)
class Thresholds:
    freshness_sla_s: float
    batch_late_s: float
    quarantine_rate_max: float
    duplicate_rate_max: float
    stream_lag_max: int
    stream_stale_s: float

    @classmethod
    def of(cls, settings: Settings) -> Thresholds:
        return cls(settings.freshness_sla_s, settings.batch_late_s, settings.quarantine_rate_max,
                   settings.duplicate_rate_max, settings.stream_lag_max, settings.stream_stale_s)

    def items(self) -> list[tuple[str, float]]:
        return [(name, float(getattr(self, name))) for name in self.__dataclass_fields__]


@dataclass(frozen=True)
class LakeHealth:
    collected_at: float  # seconds since the epoch
    lake: str
    thresholds: Thresholds
    jobs: tuple[JobHealth, ...] = ()
    rates: tuple[TableRate, ...] = ()
    quarantine: tuple[QuarantineCount, ...] = ()
    checks: tuple[DqCheck, ...] = ()
    gold: tuple[GoldFreshness, ...] = ()
    streams: tuple[StreamHealth, ...] = ()
    stream_process_alive: bool = False
    slots: tuple[SlotHealth, ...] = ()  # logical replication slots of the source database
    cdc: ConnectState | None = None  # None: change data capture was never set up
    absent: tuple[str, ...] = ()  # tables not created yet (e.g. ops/dq_results before a check)
    errors: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # source -> messages


def breaches(health: LakeHealth) -> list[str]:
    """What is wrong, one line each, judged against the configured thresholds."""
    now, limits = health.collected_at, health.thresholds
    found = [f"{job.job}: last run {job.last.run_id} failed" for job in health.jobs
             if job.last.status == "failed"]
    found += [f"gold {gold.table}: {gold.age_s(now):.0f} s since its last commit (SLA "
              f"{limits.freshness_sla_s:.0f} s)" for gold in health.gold
              if gold.age_s(now) > limits.freshness_sla_s]
    found += [f"{rate.table}: quarantine rate {rate.quarantine_rate:.4f} > "
              f"{limits.quarantine_rate_max:g}" for rate in health.rates
              if rate.quarantine_rate > limits.quarantine_rate_max]
    found += [f"{rate.table}: duplicate rate {rate.duplicate_rate:.4f} > "
              f"{limits.duplicate_rate_max:g}" for rate in health.rates
              if rate.duplicate_rate > limits.duplicate_rate_max]
    found += [f"check {check.check}" + (f" on {check.table}" if check.table else "") + " failed"
              for check in health.checks if check.failed]
    found += [f"stream {stream.query}: Kafka lag {stream.kafka_lag} > {limits.stream_lag_max}"
              for stream in health.streams
              if stream.kafka_lag is not None and stream.kafka_lag > limits.stream_lag_max]
    found += cdc_breaches(health.cdc)
    found += [f"{source}: {message}" for source, messages in health.errors.items()
              for message in messages]
    return found


CDC_BREACH_STATES = frozenset({"FAILED", "PAUSED"})


def cdc_breaches(cdc: ConnectState | None) -> list[str]:
    """The connector or a task FAILED or PAUSED: changes no longer reach Kafka."""
    if cdc is None or cdc.status is None:
        return []
    status = cdc.status
    parts = [("connector", status.state)] + [(f"task {t.id}", t.state) for t in status.tasks]
    stopped = [f"{part} {state}" for part, state in parts if state in CDC_BREACH_STATES]
    return [f"cdc {cdc.connector}: {', '.join(stopped)}"] if stopped else []


# --- pure parsing and arithmetic --------------------------------------------------------------


def latest_batch_id(names: Iterable[str]) -> int | None:
    """The highest micro-batch id among a checkpoint log's file names (`.crc`, temp files and
    anything else not a plain number are ignored)."""
    ids = [int(name) for name in names if name.isdigit()]
    return max(ids) if ids else None


def parse_offsets_file(text: str) -> tuple[int | None, Offsets | None]:
    """(batch timestamp ms, Kafka source offsets) of a checkpoint's `offsets/<id>` file.

    The file is `v1`, a metadata line (`batchTimestampMs`, …), then one JSON line per source;
    a Kafka source's line maps topic -> partition -> next offset to read. Offsets are None when
    the last source is not Kafka (a Delta or file source).
    """
    lines = [line for line in text.splitlines() if line.strip()]
    if len(lines) < 3:
        return None, None
    try:
        metadata = json.loads(lines[1])
        source = json.loads(lines[-1])
    except json.JSONDecodeError:
        return None, None
    stamp = metadata.get("batchTimestampMs") if isinstance(metadata, dict) else None
    timestamp = stamp if isinstance(stamp, int) else None
    return timestamp, kafka_offsets(source)


def kafka_offsets(source: Any) -> Offsets | None:
    """`{"topic": {"0": 12, "1": 7}}` as {(topic, 0): 12, (topic, 1): 7}; None otherwise."""
    if not isinstance(source, dict) or not source:
        return None
    offsets: Offsets = {}
    for topic, partitions in source.items():
        if not isinstance(partitions, dict):
            return None
        for partition, offset in partitions.items():
            if not (isinstance(partition, str) and partition.isdigit()
                    and isinstance(offset, int)):
                return None
            offsets[(topic, int(partition))] = offset
    return offsets


def unread_offsets(committed: Offsets, latest: Offsets) -> int:
    """Offsets the query has not read yet, summed over the partitions of its topics.

    A partition the checkpoint does not know yet (added to a topic) counts from 0; offsets the
    query is ahead of (a topic recreated) count as 0, not as negative lag.
    """
    topics = {topic for topic, _ in committed}
    return sum(max(0, end - committed.get(partition, 0))
               for partition, end in latest.items() if partition[0] in topics)


def epoch_of(iso: str | None) -> float | None:
    """Seconds since the epoch of an ISO 8601 time (Spark's progress `timestamp`)."""
    if not iso:
        return None
    try:
        moment = dt.datetime.fromisoformat(iso)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.timestamp()


def jobs_from_rows(last_runs: Sequence[tuple[Any, ...]], counts: Sequence[tuple[Any, ...]],
                   successes: Sequence[tuple[Any, ...]], tables: Sequence[tuple[Any, ...]]
                   ) -> tuple[JobHealth, ...]:
    """Jobs by name from the rows of LAST_RUNS_SQL, RUN_COUNTS_SQL, LAST_SUCCESS_SQL and
    LAST_RUN_TABLES_SQL."""
    per_job: dict[str, list[TableRows]] = {}
    for job, table, layer, *values in tables:
        per_job.setdefault(job, []).append(TableRows(table, layer, *(int(v or 0) for v in values)))
    runs: dict[str, dict[str, int]] = {}
    for job, status, count in counts:
        runs.setdefault(job, {})[status] = int(count)
    success = {job: float(at) for job, at in successes if at is not None}
    result = []
    for (job, run_id, status, started, finished, duration, read, valid, quarantined, duplicate,
         error) in sorted(last_runs, key=lambda row: str(row[0])):
        last = JobRun(job, run_id, status, float(started),
                      None if finished is None else float(finished),
                      None if duration is None else float(duration), int(read or 0),
                      int(valid or 0), int(quarantined or 0), int(duplicate or 0), error,
                      tuple(sorted(per_job.get(job, []), key=lambda t: (t.layer, t.table))))
        result.append(JobHealth(job, last, success.get(job), dict(sorted(runs.get(job,
                                                                                   {}).items()))))
    return tuple(result)


def rates_from_rows(rows: Sequence[tuple[Any, ...]]) -> tuple[TableRate, ...]:
    return tuple(TableRate(table, run_id, job, int(read or 0), int(quarantined or 0),
                           int(duplicate or 0))
                 for table, run_id, job, read, quarantined, duplicate in sorted(rows))


def checks_from_rows(rows: Sequence[tuple[Any, ...]]) -> tuple[DqCheck, ...]:
    return tuple(
        DqCheck(check, table or "", status, _float(observed), _float(threshold),
                None if failures is None else int(failures), float(checked_at), run_id, detail)
        for check, table, status, observed, threshold, failures, checked_at, run_id, detail
        in sorted(rows, key=lambda row: (str(row[0]), str(row[1] or "")))
    )


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


# --- reading the lake -----------------------------------------------------------------------

LAST_RUN_ORDER = "row_number() OVER (PARTITION BY job ORDER BY started_at DESC, run_id DESC) = 1"
LAST_RUNS_SQL = (
    "SELECT job, run_id, status, epoch(started_at), epoch(finished_at), duration_s, rows_read, "
    "rows_valid, rows_quarantined, rows_duplicate, error FROM delta_scan($1) "
    f"QUALIFY {LAST_RUN_ORDER}"
)
RUN_COUNTS_SQL = "SELECT job, status, count(*) FROM delta_scan($1) GROUP BY job, status"
LAST_SUCCESS_SQL = ("SELECT job, max(epoch(finished_at)) FROM delta_scan($1) "
                    "WHERE status = 'succeeded' GROUP BY job")
LAST_RUN_TABLES_SQL = (
    f"WITH last AS (SELECT job, run_id FROM delta_scan($1) QUALIFY {LAST_RUN_ORDER}) "
    'SELECT last.job, t."table", t.layer, t.rows_read, t.rows_valid, t.rows_quarantined, '
    "t.rows_duplicate FROM delta_scan($2) AS t JOIN last USING (run_id)"
)
# The latest ingest run of each table, by the start of its run: the same runs `condolake check`
# judges (quality.INGEST_JOBS: batch loads, not the streams' micro-batches).
TABLE_RATES_SQL = (
    'SELECT t."table", t.run_id, r.job, t.rows_read, t.rows_quarantined, t.rows_duplicate '
    "FROM delta_scan($2) AS t JOIN delta_scan($1) AS r USING (run_id) WHERE t.layer = 'silver' "
    f"AND r.status = 'succeeded' AND r.job IN ({', '.join(map(repr, sorted(INGEST_JOBS)))}) "
    'QUALIFY row_number() OVER (PARTITION BY t."table" ORDER BY r.started_at DESC, '
    "t.run_id DESC) = 1"
)
QUARANTINE_SQL = ("SELECT count(*), count(*) FILTER (WHERE _resolved_run_id IS NULL) "
                  "FROM delta_scan($1)")
LATEST_CHECKS_SQL = (
    'SELECT "check", "table", status, observed, threshold, failures, epoch(checked_at), run_id, '
    "detail FROM delta_scan($1) WHERE kind = 'table' QUALIFY row_number() OVER "
    '(PARTITION BY "check", "table" ORDER BY checked_at DESC, run_id DESC) = 1'
)

Rows = list[tuple[Any, ...]]


class DeltaQueries:
    """SQL over Delta tables with DuckDB; a result is reused until one of its tables has a new
    Delta version (the version is looked at before the read: a commit landing during the read
    only makes the next call read again)."""

    def __init__(self, extension_dir: Path) -> None:
        self._extension_dir = extension_dir
        self._conn: duckdb.DuckDBPyConnection | None = None
        self._results: dict[tuple[str, tuple[str, ...]], tuple[tuple[int, ...], Rows]] = {}

    def rows(self, sql: str, tables: Sequence[Path]) -> Rows | None:
        """The query's rows ($1, $2… are `tables`), or None when one of them is not a Delta
        table (yet)."""
        versions = [latest_version(table) for table in tables]
        numbers = tuple(version.version for version in versions if version is not None)
        if len(numbers) < len(tables):
            return None
        key = (sql, tuple(str(table) for table in tables))
        cached = self._results.get(key)
        if cached is not None and cached[0] == numbers:
            return cached[1]
        result = self._connection().execute(sql, [str(table) for table in tables]).fetchall()
        self._results[key] = (numbers, result)
        return result

    def _connection(self) -> duckdb.DuckDBPyConnection:
        if self._conn is None:  # the delta extension is large: loaded at the first read
            self._extension_dir.mkdir(parents=True, exist_ok=True)
            conn = duckdb.connect(":memory:")
            load_extensions(conn, self._extension_dir, ["delta"])
            self._conn = conn
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


class _Errors:
    def __init__(self) -> None:
        self.by_source: dict[str, list[str]] = {}

    def add(self, source: str, message: str) -> None:
        self.by_source.setdefault(source, []).append(message)

    def frozen(self) -> dict[str, tuple[str, ...]]:
        return {source: tuple(messages) for source, messages in self.by_source.items()}


class HealthCollector:
    """Collects `LakeHealth` snapshots of one lake; safe to call from several threads."""

    def __init__(self, settings: Settings, clock: Callable[[], float] = time.time) -> None:
        if "://" in settings.lake_path and not settings.lake_path.startswith("file://"):
            raise CondoLakeError(f"monitoring reads a lake on the local file system, not "
                                 f"{settings.lake_path}")
        self._settings = settings
        self._lake = settings.lake_path.removeprefix("file://")
        self._clock = clock
        self._queries = DeltaQueries(settings.state_path / "duckdb-extensions")
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            self._queries.close()

    def _path(self, layer: Layer, table: str) -> Path:
        return Path(table_path(self._lake, layer, table))

    def collect(self) -> LakeHealth:
        with self._lock:
            return self._collect()

    def _collect(self) -> LakeHealth:
        errors, absent = _Errors(), list[str]()
        jobs, rates = self._jobs(errors, absent)
        checks = self._checks(errors, absent)
        quarantine = self._quarantine(errors, absent)
        gold = self._gold(errors, absent)
        alive, streams = self._streams(errors)
        slots = self._replication_slots(errors)
        return LakeHealth(
            collected_at=self._clock(), lake=self._lake,
            thresholds=Thresholds.of(self._settings), jobs=jobs, rates=rates,
            quarantine=quarantine, checks=checks, gold=gold, streams=streams,
            stream_process_alive=alive, slots=slots, cdc=self._cdc(),
            absent=tuple(absent),
            errors=errors.frozen(),
        )

    def _cdc(self) -> ConnectState | None:
        """The connector's state, when CONDOLAKE_CONNECT_URL is set or the embedded worker
        has been started once (its REST port is recorded)."""
        settings = self._settings
        if settings.connect_url is None and \
                LocalKafkaConnect.from_settings(settings).rest_url is None:
            return None
        return connect_state(settings, KAFKA_TIMEOUT_S)

    def _read(self, source: str, errors: _Errors, sql: str, *tables: Path) -> Rows | None:
        try:
            return self._queries.rows(sql, tables)
        except (OSError, duckdb.Error) as error:
            names = ", ".join(f"{t.parent.name}/{t.name}" for t in tables)
            errors.add(source, f"{names} could not be read: {type(error).__name__}: "
                               f"{str(error).splitlines()[0] if str(error) else ''}")
            return None

    def _jobs(self, errors: _Errors, absent: list[str]
              ) -> tuple[tuple[JobHealth, ...], tuple[TableRate, ...]]:
        runs, tables = self._path(Layer.OPS, RUNS), self._path(Layer.OPS, RUN_TABLES)
        last = self._read("runs", errors, LAST_RUNS_SQL, runs)
        if last is None:
            if "runs" not in errors.by_source:
                absent.append(f"ops/{RUNS}")
                errors.add("runs", f"ops/{RUNS} does not exist: no job has run on this lake")
            return (), ()
        counts = self._read("runs", errors, RUN_COUNTS_SQL, runs) or []
        successes = self._read("runs", errors, LAST_SUCCESS_SQL, runs) or []
        if not _has_versions(tables):
            absent.append(f"ops/{RUN_TABLES}")
            per_table: Rows = []
            rate_rows: Rows = []
        else:
            per_table = self._read("runs", errors, LAST_RUN_TABLES_SQL, runs, tables) or []
            rate_rows = self._read("runs", errors, TABLE_RATES_SQL, runs, tables) or []
        return jobs_from_rows(last, counts, successes, per_table), rates_from_rows(rate_rows)

    def _checks(self, errors: _Errors, absent: list[str]) -> tuple[DqCheck, ...]:
        path = self._path(Layer.OPS, DQ_RESULTS)
        if not _has_versions(path):
            absent.append(f"ops/{DQ_RESULTS}")  # normal until `condolake check` has run
            return ()
        return checks_from_rows(self._read("dq_results", errors, LATEST_CHECKS_SQL, path) or [])

    def _quarantine(self, errors: _Errors, absent: list[str]) -> tuple[QuarantineCount, ...]:
        counts = []
        for table in SOURCE_TABLES:
            path = self._path(Layer.QUARANTINE, table.name)
            if not _has_versions(path):
                absent.append(f"quarantine/{table.name}")
                continue
            rows = self._read("quarantine", errors, QUARANTINE_SQL, path)
            if rows:
                total, still_open = rows[0]
                counts.append(QuarantineCount(table.name, int(still_open), int(total)))
        return tuple(counts)

    def _gold(self, errors: _Errors, absent: list[str]) -> tuple[GoldFreshness, ...]:
        """The versions readers are served (the published gold set's)."""
        try:
            versions = served_versions(self._lake, mart_names())
        except (OSError, ValueError) as error:
            errors.add("gold", f"the published gold set: {type(error).__name__}: {error}")
            return ()
        fresh = []
        for name, version in versions.items():
            if version is None:
                absent.append(f"gold/{name}")
                errors.add("gold", f"gold/{name} is not served (not built, or not in the "
                                   "published gold set): run condolake batch")
                continue
            fresh.append(GoldFreshness(name, version.version, version.committed_at.timestamp()))
        return tuple(fresh)

    def _streams(self, errors: _Errors) -> tuple[bool, tuple[StreamHealth, ...]]:
        try:
            alive, states = read_states(self._settings, QUERY_NAMES)
        except (OSError, ValueError) as error:
            errors.add("streams", f"stream status could not be read: {error}")
            return False, ()
        checkpoints = {state.name: read_checkpoint(Path(state.checkpoint)) for state in states}
        committed = {name: offsets for name, (_, offsets) in checkpoints.items() if offsets}
        latest = self._broker_offsets(committed, errors) if committed else None
        streams = []
        for state in states:
            stamp, offsets = checkpoints[state.name]
            lag = unread_offsets(offsets, latest) if offsets and latest is not None else None
            streams.append(stream_health(state, stamp, lag))
        return alive, tuple(streams)

    def _broker_offsets(self, committed: Mapping[str, Offsets], errors: _Errors
                        ) -> Offsets | None:
        topics = sorted({topic for offsets in committed.values() for topic, _ in offsets})
        try:
            bootstrap = self._bootstrap()
            return end_offsets(bootstrap, topics, KAFKA_TIMEOUT_S)
        except (CondoLakeError, KafkaException, OSError) as error:
            errors.add("kafka", f"Kafka end offsets unavailable: {error}")
            return None

    def _replication_slots(self, errors: _Errors) -> tuple[SlotHealth, ...]:
        """The source database's logical slots; none while the embedded server is down."""
        db = self._source()
        if db is None:
            return ()
        try:
            with psycopg.connect(db.url, autocommit=True, options=SOURCE_STATEMENT_TIMEOUT,
                                 connect_timeout=SOURCE_CONNECT_TIMEOUT_S) as conn:
                return tuple(slot_healths(conn))
        except psycopg.Error as error:
            errors.add("replication", f"replication slots of {db.redacted_url} unavailable: "
                                      f"{str(error).strip().splitlines()[0] if str(error) else ''}")
            return ()

    def _source(self) -> SourceDatabase | None:
        if self._settings.source_url:
            return SourceDatabase(str(revealed(self._settings.source_url)))
        server = EmbeddedPostgres(self._settings.state_path)
        return SourceDatabase(server.url) if server.is_running() else None

    def _bootstrap(self) -> str:
        if self._settings.kafka_bootstrap:
            return self._settings.kafka_bootstrap
        broker = LocalKafkaBroker.from_settings(self._settings)
        if not broker.is_running():
            raise CondoLakeError(f"the local Kafka broker ({broker.folder}) is not running")
        return broker.bootstrap


def stream_health(state: QueryState, batch_timestamp_ms: int | None,
                  lag: int | None) -> StreamHealth:
    """One query's health: the status file's report, else what its checkpoint tells."""
    progress_at = epoch_of(state.last_batch_at)
    if progress_at is None and batch_timestamp_ms is not None:
        progress_at = batch_timestamp_ms / 1000
    duration_ms = state.batch_duration_ms
    return StreamHealth(
        query=state.name, state=state.state, last_batch=state.last_batch,
        last_progress_at=progress_at, input_rows_per_s=state.input_rows_per_s,
        processed_rows_per_s=state.processed_rows_per_s,
        batch_duration_s=None if duration_ms is None else duration_ms / 1000, kafka_lag=lag,
    )


def read_checkpoint(checkpoint: Path) -> tuple[int | None, Offsets | None]:
    """(batch timestamp ms, Kafka offsets) of the checkpoint's latest `offsets/<id>` file."""
    folder = checkpoint / OFFSETS_DIR
    try:
        latest = latest_batch_id(os.listdir(folder))
        if latest is None:
            return None, None
        return parse_offsets_file((folder / str(latest)).read_text(encoding="utf-8"))
    except (FileNotFoundError, NotADirectoryError):
        return None, None


def end_offsets(bootstrap: str, topics: Sequence[str], timeout_s: float) -> Offsets:
    """The next offset of every partition of `topics` on the broker."""
    admin = AdminClient({"bootstrap.servers": bootstrap, "log_level": CLIENT_LOG_LEVEL,
                         "socket.timeout.ms": int(timeout_s * 1000)})
    metadata = admin.list_topics(timeout=timeout_s)
    requests = {TopicPartition(topic, partition): OffsetSpec.latest()
                for topic in topics if topic in metadata.topics
                for partition in metadata.topics[topic].partitions}
    missing = [topic for topic in topics if topic not in metadata.topics]
    if missing:
        raise CondoLakeError(f"topics {', '.join(missing)} are not on {bootstrap}")
    offsets: Offsets = {}
    if requests:
        futures = admin.list_offsets(requests, request_timeout=timeout_s)
        for partition, future in futures.items():
            offsets[(partition.topic, partition.partition)] = future.result(
                timeout=timeout_s).offset
    return offsets


def _has_versions(table: Path) -> bool:
    """Whether `table` is a Delta table; one whose log cannot be read is, and reading it
    reports why."""
    try:
        return latest_version(table) is not None
    except OSError:
        return True
