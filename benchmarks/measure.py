"""The measurements of the batch benchmark, one function each (they run real services)."""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from psycopg import sql
from pyspark.sql import SparkSession

from benchmarks.copy_baseline import copy_all
from benchmarks.duckdb_baseline import duckdb_gold
from benchmarks.model import INCREMENTAL_SHARE, Timing
from benchmarks.stages import Event
from condolake.config import Settings
from condolake.console import PACKAGE_LOGGER
from condolake.ingestion.postgres import key_range, read_table
from condolake.monitoring.runlog import RunRecord
from condolake.pipelines.batch import batch
from condolake.services.postgres import SourceDatabase
from condolake.source.generator import GenerationReport, append_transactions, generate
from condolake.source.tables import SOURCE_TABLES
from condolake.spark import build_spark

log = logging.getLogger(__name__)
BENCH_DATABASE = "condolake_bench"
INVALID_SHARE = 0.02


@contextmanager
def bench_database(server: SourceDatabase) -> Iterator[SourceDatabase]:
    """A new, empty database on the source server, dropped on exit (never the real source)."""
    name = sql.Identifier(BENCH_DATABASE)
    with server.connect(autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(name))
    log.info(f"benchmark database {BENCH_DATABASE} created")
    try:
        yield server.with_database(BENCH_DATABASE)
    finally:
        with server.connect(autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))


@dataclass(frozen=True)
class PreparedSource:
    generation: GenerationReport
    vacuum_analyze_s: float


def prepare_source(db: SourceDatabase, scale: float, seed: int) -> PreparedSource:
    """Generates the data, then VACUUM ANALYZE so no reader pays for hint bits or statistics."""
    with db.connect() as conn:
        generation = generate(conn, scale=scale, seed=seed, invalid_share=INVALID_SHARE)
    started = time.perf_counter()
    with db.connect(autocommit=True) as conn:
        for table in SOURCE_TABLES:
            conn.execute(sql.SQL("VACUUM (ANALYZE) {}").format(sql.Identifier(table.name)))
    return PreparedSource(generation, time.perf_counter() - started)


def measure_copy(db: SourceDatabase, runs: int) -> tuple[Timing, int]:
    """Best-of-`runs` binary COPY of the four tables; also the bytes one COPY reads."""
    seconds: list[float] = []
    bytes_read = 0
    for attempt in range(1, runs + 1):
        copied = copy_all(db)
        seconds.append(copied.seconds)
        bytes_read = copied.bytes_read
        log.info(f"COPY baseline {attempt}/{runs}: {copied.seconds:.2f} s, "
                 f"{copied.bytes_read:,} bytes")
    return Timing(tuple(seconds)), bytes_read


def measure_duckdb(db: SourceDatabase, workdir: Path, run_date: dt.date,
                   runs: int) -> tuple[Timing, Path]:
    """Best-of-`runs` DuckDB build of silver and gold; also the DuckDB file of the last run."""
    workdir.mkdir(parents=True, exist_ok=True)
    database_file = workdir / "gold.duckdb"
    seconds: list[float] = []
    for attempt in range(1, runs + 1):
        took = duckdb_gold(db, database_file, workdir, run_date)
        seconds.append(took)
        log.info(f"DuckDB baseline {attempt}/{runs}: {took:.2f} s")
    return Timing(tuple(seconds)), database_file


def start_spark(settings: Settings) -> tuple[SparkSession, float]:
    started = time.perf_counter()
    spark = build_spark(settings, "condolake-bench-batch")
    return spark, time.perf_counter() - started


class StageRecorder(logging.Handler):
    """Keeps each record the package logs, with its time, while attached (`recording`)."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.started = time.perf_counter()
        self.events: list[Event] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.events.append(Event.of(record, time.perf_counter() - self.started))


@contextmanager
def recording() -> Iterator[StageRecorder]:
    """A StageRecorder on the package's logger for the duration of the block (its INFO
    records reach it even when nothing prints them)."""
    logger = logging.getLogger(PACKAGE_LOGGER)
    recorder, level = StageRecorder(), logger.level
    logger.addHandler(recorder)
    if not logger.isEnabledFor(logging.INFO):
        logger.setLevel(logging.INFO)
    try:
        yield recorder
    finally:
        logger.removeHandler(recorder)
        logger.setLevel(level)


@dataclass(frozen=True)
class BatchRun:
    record: RunRecord
    seconds: float
    events: tuple[Event, ...]

    def load_seconds(self) -> dict[str, float]:
        return {c.table: c.seconds for c in self.record.tables if c.layer == "silver"}

    def valid_rows(self) -> dict[str, int]:
        return {c.table: c.rows_valid for c in self.record.tables if c.layer == "silver"}


def measure_batch(spark: SparkSession, settings: Settings, db: SourceDatabase) -> BatchRun:
    """`condolake batch` through the library, timed from the call to its return, with the
    stage records it logs."""
    with recording() as recorder:
        record = batch(spark, settings, db)
        seconds = time.perf_counter() - recorder.started
    return BatchRun(record, seconds, tuple(recorder.events))


def measure_jdbc_read(spark: SparkSession, settings: Settings, db: SourceDatabase,
                      runs: int) -> Timing:
    """Best-of-`runs` JDBC read of the four tables into Spark's no-op sink: the read alone,
    as the batch does it (same partitions and fetch size), without converting or writing."""
    seconds: list[float] = []
    for attempt in range(1, runs + 1):
        started = time.perf_counter()
        for table in SOURCE_TABLES:
            rows = read_table(spark, db, table, key_range(db, table, None), settings)
            rows.write.format("noop").mode("overwrite").save()
        seconds.append(time.perf_counter() - started)
        log.info(f"Spark JDBC read -> noop {attempt}/{runs}: {seconds[-1]:.2f} s")
    return Timing(tuple(seconds))


@dataclass(frozen=True)
class Reruns:
    no_change_s: float  # the batch again, nothing new in the source
    incremental_s: float  # the batch after `appended` new transacoes
    appended: int


def measure_reruns(spark: SparkSession, settings: Settings, db: SourceDatabase,
                   transacoes: int, seed: int) -> Reruns:
    """After a full load: `condolake batch` with no source change, then after appending
    INCREMENTAL_SHARE of `transacoes` new ones (each timed from the call to its return)."""
    log.info("re-run: condolake batch with no change in the source")
    no_change = measure_batch(spark, settings, db)
    appended = max(1, round(transacoes * INCREMENTAL_SHARE))
    with db.connect() as conn:
        append_transactions(conn, count=appended, seed=seed + 1)
    log.info(f"incremental: {appended:,} new transacoes appended; condolake batch")
    incremental = measure_batch(spark, settings, db)
    return Reruns(no_change.seconds, incremental.seconds, appended)
