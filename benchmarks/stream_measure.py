"""The service side of the streaming benchmark: its throw-away database, topics and folders,
the recording event sink, and what it reads back from checkpoints and Delta logs."""

from __future__ import annotations

import datetime as dt
import json
import logging
import shutil
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from confluent_kafka.admin import AdminClient
from delta.tables import DeltaTable
from psycopg import sql
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from benchmarks.latency import batch_commit_times, batch_of_run
from benchmarks.stream_model import QueryTime
from condolake.catalog import RUN_TABLES, RUNS
from condolake.errors import ConfigError
from condolake.layout import RUN_ID_COL, Layer, checkpoint_path, table_path
from condolake.monitoring.health import end_offsets, read_checkpoint, unread_offsets
from condolake.services.kafka import ensure_topics
from condolake.services.postgres import SourceDatabase
from condolake.source.event_sink import EventSink
from condolake.source.tables import TRANSACOES
from condolake.streaming import queries

log = logging.getLogger(__name__)
DATABASE_PREFIX = "condolake_bench_stream_"
TOPIC_PREFIX = "condolake-bench"
TOPIC_DELETE_TIMEOUT_S = 30.0
MS_PER_S = 1000.0
INSERT = "insert"


@contextmanager
def workspace(state_dir: Path, lake_root: str, benchmark: str = "stream") -> Iterator[Path]:
    """`<state>/bench/<benchmark>-<time>-<random>`, for the run's lake, state and landing
    zone; deleted afterwards."""
    if "://" in lake_root:
        raise ConfigError(f"bench {benchmark} needs a local lake root, not {lake_root}")
    name = f"{benchmark}-{dt.datetime.now():%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:6]}"
    folder = state_dir / "bench" / name
    folder.mkdir(parents=True)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def bench_database(server: SourceDatabase) -> Iterator[SourceDatabase]:
    """A new database of its own on the source server, dropped on exit."""
    name = f"{DATABASE_PREFIX}{uuid.uuid4().hex[:8]}"
    with server.connect(autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    log.info(f"benchmark database {name} created")
    try:
        yield server.with_database(name)
    finally:
        with server.connect(autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(name)))


@contextmanager
def bench_topics(bootstrap: str, partitions: int) -> Iterator[str]:
    """The four source topics under a new prefix (yielded); deleted from the broker on exit."""
    prefix = f"{TOPIC_PREFIX}-{uuid.uuid4().hex[:8]}"
    names = queries.topics(prefix)
    ensure_topics(bootstrap, names, partitions)
    try:
        yield prefix
    finally:
        _delete_topics(bootstrap, names)


def _delete_topics(bootstrap: str, topics: Sequence[str]) -> None:
    """Best effort: a leftover topic is reported, not worth failing the run for."""
    admin = AdminClient({"bootstrap.servers": bootstrap, "log_level": 0})
    futures = admin.delete_topics(list(topics), operation_timeout=TOPIC_DELETE_TIMEOUT_S)
    for topic, future in futures.items():
        try:
            future.result(timeout=TOPIC_DELETE_TIMEOUT_S)
        except Exception as error:  # noqa: BLE001 - reported, see above
            log.info(f"could not delete benchmark topic {topic}: {error}")


class RecordingSink:
    """An EventSink that remembers when the "c" event of each new transacao was published."""

    def __init__(self, sink: EventSink, transacoes_topic: str) -> None:
        self._sink = sink
        self._topic = transacoes_topic
        self.published: dict[int, float] = {}  # transacao_id -> epoch seconds

    def publish(self, topic: str, key: bytes, value: bytes | None) -> None:
        self._sink.publish(topic, key, value)
        if topic == self._topic and value is not None:
            at = time.time()
            event = json.loads(value)
            if event.get("op") == "c":
                self.published.setdefault(int(event["after"][TRANSACOES.primary_key]), at)

    def flush(self) -> None:
        self._sink.flush()


def _checkpoint(lake_root: str, query: str) -> Path:
    return Path(checkpoint_path(lake_root, query))


def kafka_lag_now(bootstrap: str, lake_root: str, query: str, timeout_s: float = 10.0
                  ) -> int | None:
    """Offsets on the broker that `query` has not taken into a micro-batch yet (None: it has
    no Kafka offsets in its checkpoint)."""
    _, taken = read_checkpoint(Path(checkpoint_path(lake_root, query)))
    if not taken:
        return None
    topics = sorted({topic for topic, _ in taken})
    return unread_offsets(taken, end_offsets(bootstrap, topics, timeout_s))


def committed_batches(lake_root: str, query: str) -> dict[int, float]:
    """Batch id -> when its checkpoint commit file was written (epoch seconds)."""
    folder = _checkpoint(lake_root, query) / "commits"
    if not folder.is_dir():
        return {}
    return {int(path.name): path.stat().st_mtime for path in folder.iterdir()
            if path.name.isdigit()}


def last_batch(lake_root: str, query: str) -> int:
    """Id of the query's last committed micro-batch (-1 before the first)."""
    return max(committed_batches(lake_root, query), default=-1)


def stage_times(spark: SparkSession, lake_root: str, job: str, started_at: float
                ) -> tuple[QueryTime, ...]:
    """Seconds each step of the micro-batches of `job` started after `started_at` took,
    summed (from ops/run_tables: bronze, each silver table, each gold mart)."""
    runs = spark.read.format("delta").load(table_path(lake_root, Layer.OPS, RUNS)).where(
        (F.col("job") == job) & (F.unix_millis("started_at") >= int(started_at * MS_PER_S))
    ).select("run_id")
    steps = (spark.read.format("delta").load(table_path(lake_root, Layer.OPS, RUN_TABLES))
             .join(runs, on="run_id", how="left_semi")
             .groupBy("layer", "table")
             .agg(F.sum("seconds").alias("seconds"), F.count(F.lit(1)).alias("batches"),
                  F.sum("rows_read").alias("rows"))
             .collect())
    order = {"bronze": 0, "silver": 1, "gold": 2}
    return tuple(QueryTime(f"{row['layer']} {row['table']}", float(row["seconds"] or 0.0),
                           int(row["batches"]), int(row["rows"] or 0))
                 for row in sorted(steps, key=lambda r: (order.get(r["layer"], 3), r["table"])))


def silver_transacoes(lake_root: str) -> str:
    return table_path(lake_root, Layer.SILVER, TRANSACOES.name)


def table_version(spark: SparkSession, path: str) -> int:
    row = DeltaTable.forPath(spark, path).history(1).select("version").first()
    return int(row[0]) if row else -1


def silver_inserts(spark: SparkSession, lake_root: str, after_version: int, query: str
                   ) -> dict[int, tuple[int, float]]:
    """transacao_id -> (micro-batch id of `query`, epoch seconds) of the silver commit that
    inserted it, for the commits after `after_version` (from the change data feed)."""
    rows = (
        spark.read.format("delta").option("readChangeFeed", "true")
        .option("startingVersion", after_version + 1)
        .load(silver_transacoes(lake_root))
        .where(F.col("_change_type") == INSERT)
        .groupBy(TRANSACOES.primary_key)
        .agg(F.min(F.struct(F.col("_commit_version").alias("version"),
                            F.unix_millis("_commit_timestamp").alias("at_ms"),
                            F.col(RUN_ID_COL).alias("run_id"))).alias("commit"))
        .select(TRANSACOES.primary_key, "commit.run_id", "commit.at_ms")
        .collect()
    )
    inserts = {}
    for transacao_id, run_id, at_ms in rows:
        batch_id = batch_of_run(run_id, query)
        if batch_id is not None:
            inserts[int(transacao_id)] = (batch_id, int(at_ms) / MS_PER_S)
    return inserts


def run_log_times(spark: SparkSession, lake_root: str, query: str) -> dict[int, float]:
    """Micro-batch id of `query` -> when its ops/runs row was committed (epoch seconds)."""
    history = DeltaTable.forPath(spark, table_path(lake_root, Layer.OPS, RUNS)).history()
    commits = [(row[0], int(row[1]) / MS_PER_S) for row in
               history.select("userMetadata", F.unix_millis("timestamp")).collect()]
    return batch_commit_times(commits, query)
