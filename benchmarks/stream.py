"""`./run bench stream`: throughput and end-to-end latency of the Kafka streaming path.

One run, on its own database (new, on the configured or embedded PostgreSQL), its own topics
(a unique prefix, deleted afterwards) and its own lake, state and landing folders under
`<state_dir>/bench/` (deleted afterwards):

0. generate the source, `condolake batch` it into a fresh lake, and run the stream once over
   empty topics (checkpoint made, JVM warm);
1. throughput: the simulator produces a backlog of N events first; a plain Kafka consumer
   reads it (the baseline, BASELINE_RUNS times); then the Kafka query drains it into gold,
   timed from its start to its end;
2. latency: the queries run continuously at the trigger interval while the simulator produces
   at a steady rate in a thread; each new transacao's publish time is matched with the gold
   commit that made it visible (see `latency`).

Results go to `<output_dir>/stream-<YYYYmmdd-HHMMSS>.{json,md}`; the Markdown is also printed.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

import confluent_kafka
from pyspark.sql import SparkSession

from benchmarks import latency as lat
from benchmarks.kafka_baseline import read_all
from benchmarks.machine import (
    busy_note,
    describe_machine,
    load_average,
    package_version,
    versions,
)
from benchmarks.measure import prepare_source
from benchmarks.model import Timing, Versions
from benchmarks.report import write_report
from benchmarks.stream_measure import (
    RecordingSink,
    bench_database,
    bench_topics,
    kafka_lag_now,
    last_batch,
    run_log_times,
    silver_inserts,
    silver_transacoes,
    stage_times,
    table_version,
    workspace,
)
from benchmarks.stream_model import (
    DEFAULT_DURATION_S,
    DEFAULT_RATE,
    DEFAULT_TRIGGER_S,
    Latency,
    StreamBenchmark,
    StreamSetup,
    Throughput,
)
from benchmarks.stream_report import render_markdown, to_json
from benchmarks.stream_run import BenchmarkError, run_continuously
from condolake import catalog
from condolake.app.resources import Resources
from condolake.config import Settings
from condolake.pipelines.batch import batch
from condolake.pipelines.stream import StreamOptions, run_streams
from condolake.services.jars import KAFKA_VERSION, SPARK_CORE, SPARK_KAFKA
from condolake.services.postgres import SourceDatabase
from condolake.source.debezium import topic_name
from condolake.source.event_sink import EventSink, KafkaSink
from condolake.source.simulator import SimulationStats, Simulator
from condolake.source.simulator_db import Connection
from condolake.source.simulator_plan import DIRECT_MIX
from condolake.source.simulator_publish import Publishing
from condolake.source.tables import TRANSACOES
from condolake.spark import build_spark
from condolake.streaming import queries

log = logging.getLogger(__name__)
BASELINE_RUNS = 2
# Fast enough to build the backlog quickly, small enough per tick (TICK_S) for one statement.
BACKLOG_RATE = 50_000.0
STREAM_JOB = f"stream:{queries.KAFKA}"
# Phase 2: production starts once every query has finished its first trigger (within
# START_TIMEOUT_S); the queries stop once drained, at the latest this long after production.
START_TIMEOUT_S = 120.0
DRAIN_LIMIT_MIN_S = 300.0
DRAIN_LIMIT_TRIGGERS = 30


@dataclass(frozen=True)
class StreamParams:
    scale: float
    events: int
    rate: float
    duration_s: float
    trigger_s: float
    seed: int


@dataclass(frozen=True)
class Measured:
    source_rows: dict[str, int]
    spark_start_s: float
    initial_batch_s: float
    throughput: Throughput
    latency: Latency
    versions: Versions
    kafka_broker: str
    notes: tuple[str, ...]


def run_stream_benchmark(
    settings: Settings,
    *,
    scale: float = 0.01,
    events: int = 200_000,
    rate: float = DEFAULT_RATE,
    duration_s: float = DEFAULT_DURATION_S,
    trigger_s: float = DEFAULT_TRIGGER_S,
    seed: int = 42,
    output_dir: Path,
) -> StreamBenchmark:
    """Runs the benchmark, writes its JSON and Markdown to `output_dir`, prints the Markdown."""
    params = StreamParams(scale, events, rate, duration_s, trigger_s, seed)
    _check(params)
    started_at = dt.datetime.now().replace(microsecond=0)
    load_before = load_average()
    with workspace(settings.state_path, settings.lake_root) as folder:
        measured = _measure(settings, folder, params)
    result = _result(settings, params, started_at, load_before, measured)
    write_report(output_dir, f"stream-{started_at:%Y%m%d-%H%M%S}",
                 markdown=render_markdown(result), json_document=to_json(result))
    return result


def _check(params: StreamParams) -> None:
    if params.events < 1 or params.rate <= 0 or params.duration_s <= 0 or params.trigger_s <= 0:
        raise BenchmarkError("--events, --rate, --duration and --trigger must be positive")


@dataclass(frozen=True)
class Phases:
    spark_start_s: float
    initial_batch_s: float
    throughput: Throughput
    backlog: SimulationStats
    latency: Latency


def _measure(settings: Settings, folder: Path, params: StreamParams) -> Measured:
    with Resources.from_settings(settings).source_database() as server, \
            bench_database(server) as db:
        prepared = prepare_source(db, params.scale, params.seed)
        with Resources.from_settings(settings).kafka() as bootstrap, \
                bench_topics(bootstrap, settings.kafka_partitions) as prefix:
            run_settings = settings.with_(
                lake_root=str(folder / "lake"), state_dir=str(folder / "state"),
                landing_dir=str(folder / "landing"), kafka_bootstrap=bootstrap,
                kafka_topic_prefix=prefix, stream_trigger_s=params.trigger_s)
            phases = _phases(run_settings, db, params)
        found_versions = versions(db)
    broker = (f"external Kafka at {settings.kafka_bootstrap}" if settings.kafka_bootstrap
              else f"embedded Kafka {KAFKA_VERSION} (single broker)")
    notes = _notes(settings, phases)
    return Measured(prepared.generation.rows, phases.spark_start_s, phases.initial_batch_s,
                    phases.throughput, phases.latency, found_versions, broker, notes)


def _phases(settings: Settings, db: SourceDatabase, params: StreamParams) -> Phases:
    """Spark, the initial batch and warm-up, then the two measured phases."""
    started = time.perf_counter()
    spark = build_spark(settings, "condolake-bench-stream", bundles=(SPARK_CORE, SPARK_KAFKA))
    spark_start_s = time.perf_counter() - started
    try:
        log.info(f"Spark started in {spark_start_s:.1f} s; initial condolake batch")
        started = time.perf_counter()
        batch(spark, settings, db)
        initial_batch_s = time.perf_counter() - started
        log.info("warm-up: the streams once over the empty topics")
        run_streams(spark, settings, settings.kafka_bootstrap,
                    StreamOptions(landing=False, once=True))
        with db.connect() as conn, KafkaSink(settings.kafka_bootstrap or "") as sink:
            throughput, backlog = _throughput(spark, settings, conn, sink, params)
            latency = _latency(spark, settings, conn, sink, params)
    finally:
        spark.stop()
    return Phases(spark_start_s, initial_batch_s, throughput, backlog, latency)


def _today(settings: Settings) -> dt.date:
    """The run date silver validates against (dates after it are rejected)."""
    return dt.datetime.now(ZoneInfo(settings.timezone)).date()


def _throughput(spark: SparkSession, settings: Settings, conn: Connection, sink: EventSink,
                params: StreamParams) -> tuple[Throughput, SimulationStats]:
    simulator = Simulator(conn, seed=params.seed, mix=DIRECT_MIX,
                          publish=Publishing(sink, settings.kafka_topic_prefix),
                          today=_today(settings))
    log.info(f"phase 1: producing a backlog of {params.events:,} events")
    stats = simulator.run(BACKLOG_RATE, events=params.events)
    log.info(f"backlog: {stats.events:,} events, {stats.published:,} records in "
             f"{stats.seconds:.1f} s")
    runs = []
    for attempt in range(1, BASELINE_RUNS + 1):
        run = read_all(settings.kafka_bootstrap or "", queries.topics(settings.kafka_topic_prefix))
        runs.append(run)
        log.info(f"plain consumer {attempt}/{BASELINE_RUNS}: {run.records:,} records in "
                 f"{run.seconds:.2f} s ({run.records / run.seconds:,.0f}/s)")
    log.info("phase 1: the Kafka query drains the backlog into gold")
    started_at = time.time()
    run_streams(spark, settings, settings.kafka_bootstrap,
                StreamOptions(landing=False, once=True))
    pipeline_s = time.time() - started_at
    log.info(f"backlog in gold after {pipeline_s:.1f} s "
             f"({stats.events / pipeline_s:,.0f} events/s)")
    times = stage_times(spark, settings.lake_path, STREAM_JOB, started_at)
    consumer = Timing(tuple(run.seconds for run in runs))
    return Throughput(
        events=stats.events, records=stats.published, produce_s=stats.seconds,
        pipeline_s=pipeline_s, stages=times, consumer=consumer,
        consumer_records=runs[-1].records, consumer_bytes=runs[-1].bytes_read,
    ), stats


def drain_limit_s(trigger_s: float) -> float:
    """How long after production the continuous run may take to drain, at most."""
    return max(DRAIN_LIMIT_MIN_S, DRAIN_LIMIT_TRIGGERS * trigger_s)


def _latency(spark: SparkSession, settings: Settings, conn: Connection, sink: EventSink,
             params: StreamParams) -> Latency:
    lake = settings.lake_path
    silver_before = table_version(spark, silver_transacoes(lake))
    batch_before = last_batch(lake, queries.KAFKA)
    recorder = RecordingSink(sink, topic_name(settings.kafka_topic_prefix, TRANSACOES.name))
    simulator = Simulator(conn, seed=params.seed + 1, mix=DIRECT_MIX,
                          publish=Publishing(recorder, settings.kafka_topic_prefix),
                          today=_today(settings))
    lag_at_end: list[int | None] = [None]

    def produce(stop: threading.Event) -> None:
        log.info(f"phase 2: producing {params.rate:g} events/s for {params.duration_s:g} s "
                 f"(trigger {params.trigger_s:g} s)")
        simulator.run(params.rate, duration_s=params.duration_s, stop=stop.is_set)
        lag_at_end[0] = kafka_lag_now(settings.kafka_bootstrap or "", lake, queries.KAFKA)
        log.info(f"phase 2: production done (Kafka lag {lag_at_end[0]}); waiting until everything "
                 "is in gold")

    log.info("phase 2: starting the Kafka query")
    run = run_continuously(spark, settings, settings.kafka_bootstrap or "", produce,
                           start_timeout_s=START_TIMEOUT_S,
                           drain_limit_s=drain_limit_s(params.trigger_s))
    log.info(f"phase 2: stream stopped after {run.seconds:.1f} s"
             + ("" if run.drained else " (time limit: not everything reached gold)"))
    stats = simulator.stats
    visible = {batch: at for batch, at in run_log_times(spark, lake, queries.KAFKA).items()
               if batch > batch_before}
    sample = lat.sample(recorder.published,
                        silver_inserts(spark, lake, silver_before, queries.KAFKA), visible,
                        set(stats.deleted_transacao_ids))
    return Latency(
        trigger_s=params.trigger_s, rate_asked=params.rate, duration_s=params.duration_s,
        events=stats.events, produce_s=stats.seconds, stream_s=run.seconds,
        created=len(recorder.published), deleted_first=sample.deleted_first,
        not_visible=sum(1 for value in sample.end_to_end if math.isinf(value)),
        drained=run.drained,
        gold_batches=len(visible),
        end_to_end=lat.summarize(sample.end_to_end), to_silver=lat.summarize(sample.to_silver),
        kafka_lag_at_end=lag_at_end[0],
    )


def _notes(settings: Settings, phases: Phases) -> tuple[str, ...]:
    throughput, latency, stats = phases.throughput, phases.latency, phases.backlog
    source = ("external server of CONDOLAKE_SOURCE_URL" if settings.source_url
              else "embedded PostgreSQL")
    bronze_rows = next((q.input_rows for q in throughput.stages
                        if q.name == f"bronze {catalog.KAFKA_EVENTS}"), 0)
    notes = [
        f"Source: a new database on the {source}, generated with 2 % invalid rows, loaded "
        "by `condolake batch`; the simulator ran without chaos (its normal mix: new "
        "transacoes, some updates, deletes, new moradores and imoveis).",
        "Before phase 1 the stream ran once over the empty topics: its checkpoint exists "
        "and the JVM is warm. Phase 1 includes starting the query; its steps' seconds are "
        "summed over its micro-batches from ops/run_tables (bronze, each silver table with "
        "its quarantine, each gold mart); the rest of the time is parsing, judging versions, "
        "positions, the run log and Spark's own work between micro-batches.",
        f"The plain consumer ran {BASELINE_RUNS} times right after the backlog was produced "
        "(best counts), on the same broker and topics, before the pipeline read them.",
    ]
    if bronze_rows and bronze_rows != stats.published:
        notes.append(f"the stream read {bronze_rows:,} records, {stats.published:,} were "
                     "published: the per-query rows come from the queries' recent progress.")
    if not latency.drained:
        notes.append(f"Phase 2 stopped at its time limit ({drain_limit_s(latency.trigger_s):g} "
                     f"s after production) with {latency.not_visible:,} transacoes not yet in "
                     "gold: the pipeline fell behind the producer; the percentiles that reach "
                     "them read `> end of run`.")
    return tuple(notes)


def _result(settings: Settings, params: StreamParams, started_at: dt.datetime,
            load_before: tuple[float, float, float], measured: Measured) -> StreamBenchmark:
    machine = describe_machine(load_before)
    notes = measured.notes
    busy = busy_note(max(machine.load_before[0], machine.load_after[0]), machine.cpu_count,
                     figures="figures")
    if busy:
        notes += (busy,)
    client = (f"confluent-kafka {package_version('confluent-kafka')}, "
              f"librdkafka {confluent_kafka.libversion()[0]}")
    setup = StreamSetup(settings.spark_master, settings.spark_driver_memory,
                        settings.shuffle_partitions, settings.kafka_partitions,
                        settings.stream_max_offsets, measured.kafka_broker, client)
    return StreamBenchmark(
        scale=params.scale, seed=params.seed, started_at=started_at.isoformat(),
        machine=machine, versions=measured.versions, setup=setup,
        source_rows=measured.source_rows, spark_start_s=measured.spark_start_s,
        initial_batch_s=measured.initial_batch_s, throughput=measured.throughput,
        latency=measured.latency, notes=notes,
    )
