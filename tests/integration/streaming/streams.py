"""Helpers shared by the streaming tests: settings, the simulator, and what silver holds."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
from psycopg import sql
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from tests.integration.pipelines.run_cli import for_short_lived_driver

from condolake.catalog import MART_NAMES
from condolake.config import Settings
from condolake.layout import Layer, checkpoint_path, table_path
from condolake.services.kafka import describe_topics, ensure_topics
from condolake.services.postgres import SourceDatabase
from condolake.source.event_sink import KafkaSink
from condolake.source.simulator import SimulationStats, Simulator
from condolake.source.simulator_plan import DIRECT_MIX
from condolake.source.simulator_publish import Publishing
from condolake.source.tables import CONDOMINIOS, IMOVEIS, MORADORES, TRANSACOES, SourceTable
from condolake.streaming.queries import topics
from condolake.streaming.status import last_committed_batch
from condolake.transforms.gold.diarias_por_tipo import transacoes_diarias_por_tipo
from condolake.transforms.gold.por_condominio import transacoes_por_condominio
from condolake.transforms.gold.por_morador import transacoes_por_morador

# Shorter than production's 5 s: a scenario waits for a few micro-batches in a row.
TRIGGER_S = 0.5
PARTITIONS = 2
POLL_S = 0.2  # the conditions polled read small files; the Spark ones are gated on commits


@dataclasses.dataclass(frozen=True)
class LoadedLake:
    """A source database and the lake one `batch` made of it; scenarios work on copies."""

    source: SourceDatabase
    lake: Path


@contextlib.contextmanager
def copy_of(loaded: LoadedLake, server: SourceDatabase, settings: Settings
            ) -> Iterator[SourceDatabase]:
    """A new database and lake exactly as the batch load left them (the source copied by
    PostgreSQL itself, CREATE DATABASE ... TEMPLATE; the lake file by file: Delta logs name
    their files relative to the table); the database is dropped on exit."""
    shutil.copytree(loaded.lake, settings.lake_path)
    name = f"test_{uuid.uuid4().hex[:12]}"
    with server.connect(autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
            sql.Identifier(name), sql.Identifier(loaded.source.database)))
    try:
        yield server.with_database(name)
    finally:
        with server.connect(autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


def stream_settings(base: Settings, folder: Path, prefix: str, bootstrap: str) -> Settings:
    """Settings of one streaming scenario: its own lake, landing zone and topics."""
    return base.with_(
        lake_root=str(folder / "lake"), landing_dir=str(folder / "landing"),
        state_dir=str(folder / "state"), kafka_bootstrap=bootstrap, kafka_topic_prefix=prefix,
        kafka_partitions=PARTITIONS, stream_trigger_s=TRIGGER_S,
    )


def end_offsets_total(settings: Settings) -> int:
    """Records published to the scenario's topics so far (the sum of their end offsets)."""
    assert settings.kafka_bootstrap
    wanted = set(topics(settings.kafka_topic_prefix))
    return sum(sum(topic.end_offsets) for topic in describe_topics(settings.kafka_bootstrap)
               if topic.name in wanted)


def batch_in_progress(settings: Settings, query: str) -> tuple[int, int] | None:
    """(batch id, records up to its end offsets) of the micro-batch `query` has planned but
    not committed, or None between micro-batches."""
    checkpoint = Path(checkpoint_path(settings.lake_path, query))
    planned = [int(p.name) for p in (checkpoint / "offsets").glob("[0-9]*")]
    if not planned:
        return None
    last = max(planned)
    if last == last_committed_batch(checkpoint):
        return None
    offsets = json.loads((checkpoint / "offsets" / str(last)).read_text().splitlines()[-1])
    return last, sum(int(o) for partitions in offsets.values() for o in partitions.values())


def create_topics(settings: Settings) -> None:
    assert settings.kafka_bootstrap
    ensure_topics(settings.kafka_bootstrap, topics(settings.kafka_topic_prefix), PARTITIONS)


def simulate(db: SourceDatabase, settings: Settings, *, events: int, seed: int,
             chaos: float = 0.0, rate: float = 20_000) -> SimulationStats:
    """Changes the source and publishes them directly, as `condolake simulate --publish` does."""
    assert settings.kafka_bootstrap
    with db.connect() as conn, KafkaSink(settings.kafka_bootstrap) as sink:
        simulator = Simulator(conn, seed=seed, mix=DIRECT_MIX, publish=Publishing(
            sink, settings.kafka_topic_prefix, chaos_share=chaos))
        return simulator.run(rate, events=events)


def silver_ids(spark: SparkSession, settings: Settings) -> list[int]:
    """Every `transacao_id` in silver, duplicates kept (so a test can see them)."""
    rows = spark.read.format("delta").load(
        table_path(settings.lake_path, Layer.SILVER, "transacoes")).select("transacao_id")
    return [int(row[0]) for row in rows.collect()]


def gold_rows(spark: SparkSession, settings: Settings) -> dict[str, set[tuple[object, ...]]]:
    return {
        name: {tuple(row) for row in spark.read.format("delta").load(
            table_path(settings.lake_path, Layer.GOLD, name)).collect()}
        for name in MART_NAMES
    }


def batch_recomputation(spark: SparkSession,
                        settings: Settings) -> dict[str, set[tuple[object, ...]]]:
    """The gold tables as `condolake transform` computes them from the same silver."""
    def silver(table: SourceTable) -> DataFrame:
        return spark.read.format("delta").load(
            table_path(settings.lake_path, Layer.SILVER, table.name))

    marts = {
        "transacoes_por_condominio": transacoes_por_condominio(
            silver(CONDOMINIOS), silver(IMOVEIS), silver(TRANSACOES)),
        "transacoes_por_morador": transacoes_por_morador(silver(MORADORES), silver(TRANSACOES)),
        "transacoes_diarias_por_tipo": transacoes_diarias_por_tipo(
            silver(IMOVEIS), silver(TRANSACOES)),
    }
    return {name: {tuple(row) for row in mart.collect()} for name, mart in marts.items()}


def stream_totals(spark: SparkSession, settings: Settings, job: str) -> dict[str, int]:
    """Sums of the per-table counts the stream's micro-batches logged in ops/run_tables."""
    lake = settings.lake_path
    runs = spark.read.format("delta").load(table_path(lake, Layer.OPS, "runs")).where(
        F.col("job") == job).select("run_id")
    per_table = spark.read.format("delta").load(
        table_path(lake, Layer.OPS, "run_tables")).where(F.col("layer") == "silver")
    totals = per_table.join(runs, on="run_id", how="left_semi").agg(
        *[F.sum(name).alias(name) for name in
          ("rows_read", "rows_valid", "rows_quarantined", "rows_duplicate")]
    ).first()
    assert totals is not None
    return {name: int(totals[name] or 0) for name in totals.asDict()}


STREAM_CLI_SETTINGS = ("lake_root", "state_dir", "landing_dir", "jar_cache", "kafka_bootstrap",
                       "kafka_topic_prefix", "kafka_partitions", "stream_trigger_s",
                       "shuffle_partitions", "timezone")


class StreamProcess:
    """`condolake stream start` in a child process of its own group (so SIGKILL takes the
    JVM down with it, as a crash of the machine's process would). A `short_lived` one, killed
    seconds after its queries start, gets a JVM tuned to start fast (run_cli.py)."""

    started: list[StreamProcess] = []  # every one of the session, see kill_leftover_streams

    def __init__(self, settings: Settings, cwd: Path, *arguments: str,
                 short_lived: bool = False) -> None:
        environment = {k: v for k, v in os.environ.items() if not k.startswith("CONDOLAKE_")}
        environment.update({f"CONDOLAKE_{name.upper()}": str(getattr(settings, name))
                            for name in STREAM_CLI_SETTINGS})
        environment.update(CONDOLAKE_SPARK_MASTER="local[2]", CONDOLAKE_SPARK_DRIVER_MEMORY="1g")
        self.log = cwd / f"stream-{time.monotonic_ns()}.log"
        self._log_file = self.log.open("w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "condolake.cli", "stream", "start", *arguments],
            cwd=cwd, env=for_short_lived_driver(environment) if short_lived else environment,
            stdout=self._log_file, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        StreamProcess.started.append(self)

    def kill(self) -> None:
        """SIGKILL to the whole group: Python driver and Spark's JVM at once."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()
        self._log_file.close()

    def terminate(self, timeout_s: float) -> int:
        """SIGTERM to the whole group, JVM included, as a terminal's job control, `kill --
        -PGID` or systemd deliver it: the stream finishes its current micro-batch and exits."""
        os.killpg(self.process.pid, signal.SIGTERM)
        return self.wait(timeout_s)

    def wait(self, timeout_s: float) -> int:
        code = self.process.wait(timeout=timeout_s)
        self._log_file.close()
        return code

    def output(self) -> str:
        return self.log.read_text()


def kill_leftover_streams() -> None:
    """SIGKILL to the group of every stream process started so far (a no-op for those that
    ended): one a failed test left behind would load the cores for the rest of the session."""
    while StreamProcess.started:
        StreamProcess.started.pop().kill()


def wait_until(condition: Callable[[], bool], timeout_s: float, what: str) -> None:
    """Polls `condition` until it holds; fails the test with `what` after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")
        time.sleep(POLL_S)


def on_each_commit(settings: Settings, query: str, check: Callable[[], bool]
                   ) -> Callable[[], bool]:
    """`check` as a polled condition that only asks again once `query` has committed a new
    micro-batch (its writes are visible before its checkpoint commit), so a Spark read of the
    lake runs once per micro-batch, not every poll. For a condition that stays true once it
    holds (nothing else writes): after the first success it answers True without asking."""
    checkpoint = Path(checkpoint_path(settings.lake_path, query))
    checked: list[int | None] = [None]
    held = [False]

    def condition() -> bool:
        committed = last_committed_batch(checkpoint)
        if not held[0] and committed is not None and committed != checked[0]:
            checked[0] = committed
            held[0] = check()
        return held[0]

    return condition


def stream_pid(settings: Settings) -> int | None:
    """The pid a running stream process wrote in its status file, once its queries run."""
    path = settings.state_path / "stream" / "status.json"
    try:
        document = json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None
    return int(document["pid"]) if document.get("running") else None


class Producer:
    """The simulator on a thread, changing the source at `rate` until stopped. `direct`: it
    also publishes each change itself (`simulate --publish`'s mix). Otherwise it is the
    workload generator, writing PostgreSQL only (`invalid_share` of the steps rule-breaking),
    and the connector publishes; when the server goes away under it, it waits for the server
    and goes on with a new connection and a new seed."""

    def __init__(self, db: SourceDatabase, settings: Settings, *, rate: float, seed: int,
                 direct: bool = True, invalid_share: float = 0.0,
                 today: dt.date | None = None) -> None:
        self._stop = threading.Event()
        self.runs: list[SimulationStats] = []
        self.reconnections = 0
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, daemon=True, args=(
            db, settings, rate, seed, direct, invalid_share, today))
        self._thread.start()

    def _run(self, db: SourceDatabase, settings: Settings, rate: float, seed: int,
             direct: bool, invalid_share: float, today: dt.date | None) -> None:
        try:
            if direct:
                assert settings.kafka_bootstrap
                with db.connect() as conn, KafkaSink(settings.kafka_bootstrap) as sink:
                    simulator = Simulator(conn, seed=seed, mix=DIRECT_MIX, publish=Publishing(
                        sink, settings.kafka_topic_prefix))
                    self.runs.append(simulator.run(rate, stop=self._stop.is_set))
                return
            while not self._stop.is_set():
                try:
                    with db.connect() as conn:
                        simulator = Simulator(conn, seed=seed + len(self.runs),
                                              invalid_share=invalid_share, today=today)
                        self.runs.append(simulator.stats)
                        simulator.run(rate, stop=self._stop.is_set)
                except (psycopg.OperationalError, psycopg.InterfaceError):  # the server stopped
                    self.reconnections += 1
                    time.sleep(POLL_S)
        except BaseException as error:  # reported to the test by stop()
            self.error = error

    def stop(self) -> SimulationStats:
        """Stops writing; what the first connection's run did."""
        self._stop.set()
        self._thread.join()
        if self.error is not None:
            raise self.error
        return self.runs[0]
