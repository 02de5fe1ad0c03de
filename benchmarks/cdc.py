"""`./run bench cdc`: commit -> visible in gold through Debezium, next to commit -> Kafka.

One run, in a scratch folder `<state_dir>/bench/cdc-<time>-<random>/` (deleted afterwards)
with services of its own there, whatever CONDOLAKE_SOURCE_URL, _KAFKA_BOOTSTRAP or
_CONNECT_URL say: an embedded PostgreSQL, a Kafka broker and a Kafka Connect worker with
Debezium's PostgreSQL connector, all stopped at the end.

1. generate the source at `scale` and load it with `condolake batch`;
2. `cdc start` (the connector streams, then the handover load); the topics are switched to
   the broker's append time;
3. the streaming query runs at the trigger interval while the workload generator
   (`condolake simulate`, a process of its own) writes PostgreSQL at `rate` row
   changes per second for `seconds`; it stops once everything the
   connector published has gone through; the gold sets are polled meanwhile;
4. the records are read back from Kafka and each committed transaction's latencies computed
   (see `cdc_latency`).

Results go to `<output_dir>/cdc-<YYYYmmdd-HHMMSS>.{json,md}`; the Markdown is also printed.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import confluent_kafka
from pyspark.sql import SparkSession

from benchmarks import cdc_latency
from benchmarks import latency as lat
from benchmarks.cdc_measure import (
    GoldSetPoller,
    batch_end_offsets,
    read_changes,
    stamp_append_time,
)
from benchmarks.cdc_model import CdcBenchmark, CdcLatency, CdcSetup, Workload
from benchmarks.cdc_report import render_markdown, to_json
from benchmarks.machine import busy_note, describe_machine, load_average, package_version, versions
from benchmarks.measure import INVALID_SHARE, prepare_source
from benchmarks.model import Versions
from benchmarks.report import write_report
from benchmarks.stream import START_TIMEOUT_S, drain_limit_s
from benchmarks.stream_measure import workspace
from benchmarks.stream_run import BenchmarkError, ContinuousRun, run_continuously
from condolake.app import cdc
from condolake.app.resources import Resources
from condolake.config import Settings
from condolake.monitoring.health import end_offsets
from condolake.pipelines.batch import batch
from condolake.services.jars import (
    DEBEZIUM_VERSION,
    KAFKA_CONNECT_VERSION,
    KAFKA_VERSION,
    SPARK_CORE,
    SPARK_KAFKA,
)
from condolake.services.kafka_connect import LocalKafkaConnect
from condolake.services.postgres import SourceDatabase
from condolake.source.connector import POLL_INTERVAL_MS, captured_topics, published_records
from condolake.spark import build_spark
from condolake.streaming.queries import KAFKA

log = logging.getLogger(__name__)
# After the generator stops, the connector publishes what is left within this time.
PUBLISHED_TIMEOUT_S = 120.0
PUBLISHED_POLL_S = 0.2
OFFSETS_TIMEOUT_S = 10.0
SIMULATE_STATS = "simulate-stats.json"
SOURCE_URL_VARIABLE = "CONDOLAKE_SOURCE_URL"
# Below this share of the asked rate, the report says the generator fell behind.
BEHIND_SHARE = 0.95


@dataclass(frozen=True)
class CdcParams:
    scale: float
    rate: float
    seconds: float
    trigger_s: float
    seed: int


@dataclass(frozen=True)
class Measured:
    source_rows: dict[str, int]
    workload: Workload
    latency: CdcLatency
    versions: Versions


def run_cdc_benchmark(settings: Settings, *, scale: float, rate: float, seconds: float,
                      trigger_s: float, seed: int, output_dir: Path) -> CdcBenchmark:
    """Runs the benchmark, writes its JSON and Markdown to `output_dir`, prints the Markdown."""
    params = CdcParams(scale, rate, seconds, trigger_s, seed)
    if params.scale <= 0 or rate <= 0 or seconds <= 0 or trigger_s <= 0:
        raise BenchmarkError("--scale, --rate, --seconds and --trigger must be positive")
    began = time.perf_counter()
    started_at = dt.datetime.now().replace(microsecond=0)
    load_before = load_average()
    with workspace(settings.state_path, settings.lake_root, "cdc") as folder:
        measured = _measure(_scratch_settings(settings, folder, trigger_s), params)
    result = _result(settings, params, started_at, time.perf_counter() - began, load_before,
                     measured)
    write_report(output_dir, f"cdc-{started_at:%Y%m%d-%H%M%S}",
                 markdown=render_markdown(result), json_document=to_json(result))
    return result


def _scratch_settings(settings: Settings, folder: Path, trigger_s: float) -> Settings:
    """Every service embedded and every folder under `folder`."""
    return settings.with_(
        state_dir=str(folder / "state"), lake_root=str(folder / "lake"),
        landing_dir=str(folder / "landing"), source_url=None, kafka_bootstrap=None,
        connect_url=None, stream_trigger_s=trigger_s)


@contextmanager
def _services(resources: Resources) -> Iterator[tuple[SourceDatabase, str]]:
    """PostgreSQL and Kafka started; on exit the Connect worker (started by `cdc start`),
    then they, stopped."""
    with resources.source_database() as db, resources.kafka() as bootstrap:
        try:
            yield db, bootstrap
        finally:
            LocalKafkaConnect.from_settings(resources.settings).stop()


def _measure(settings: Settings, params: CdcParams) -> Measured:
    resources = Resources.from_settings(settings)
    with _services(resources) as (db, bootstrap):
        prepared = prepare_source(db, params.scale, params.seed)
        spark = build_spark(settings, "condolake-bench-cdc", bundles=(SPARK_CORE, SPARK_KAFKA))
        try:
            log.info("initial condolake batch")
            batch(spark, settings, db)
            log.info(cdc.start(resources))
            topics = captured_topics(settings.kafka_topic_prefix)
            stamp_append_time(bootstrap, topics)
            workload, run, poller = _stream_while_writing(spark, resources, db, bootstrap,
                                                          params)
        finally:
            spark.stop()
        log.info("reading the change records back from Kafka")
        records = read_changes(bootstrap, topics)
        found_versions = versions(db)
    sets = cdc_latency.visible_at(poller.seen.values(), KAFKA)
    sample = cdc_latency.sample(records, batch_end_offsets(settings.lake_path, KAFKA), sets)
    latency = CdcLatency(
        trigger_s=params.trigger_s, stream_s=run.seconds, drained=run.drained,
        records=sample.records, transactions=len(sample.to_gold),
        not_visible=sum(1 for value in sample.to_gold if math.isinf(value)),
        gold_sets=len(sets), missed_sets=cdc_latency.missed_sets(poller.seen),
        to_kafka=lat.summarize(sample.to_kafka), to_gold=lat.summarize(sample.to_gold))
    return Measured(prepared.generation.rows, workload, latency, found_versions)


def _stream_while_writing(spark: SparkSession, resources: Resources, db: SourceDatabase,
                          bootstrap: str, params: CdcParams
                          ) -> tuple[Workload, ContinuousRun, GoldSetPoller]:
    """The Kafka query at the trigger interval; once it fired, the generator writes for
    `params.seconds`, then waits until the connector published every change."""
    settings = resources.settings
    stats: list[dict[str, Any]] = []

    def produce(stop: threading.Event) -> None:
        log.info(f"writing PostgreSQL at {params.rate:g} row changes/s for {params.seconds:g} s "
                 f"(trigger {params.trigger_s:g} s)")
        stats.append(_simulate(settings, db, params, stop))
        _wait_until_published(bootstrap, settings.kafka_topic_prefix, stats[0]["changes"], stop)

    poller = GoldSetPoller(settings.lake_path)
    with poller.running():
        run = run_continuously(spark, settings, bootstrap, produce,
                               start_timeout_s=START_TIMEOUT_S,
                               drain_limit_s=drain_limit_s(params.trigger_s))
    log.info(f"stream stopped after {run.seconds:.1f} s"
             + ("" if run.drained else " (time limit: not everything reached gold)"))
    return _workload(params, stats[0]), run, poller


def _simulate(settings: Settings, db: SourceDatabase, params: CdcParams,
              stop: threading.Event) -> dict[str, Any]:
    """`condolake simulate` in a process of its own, as an application writing the
    source would be (not sharing the Spark driver's interpreter); its stats file's contents."""
    stats_file = settings.state_path / SIMULATE_STATS
    command = [sys.executable, "-m", "condolake", "simulate",
               "--rate", f"{params.rate:g}", "--duration", f"{params.seconds:g}",
               "--invalid-share", f"{INVALID_SHARE:g}", "--seed", str(params.seed + 1),
               "--stats-file", str(stats_file)]
    environment = {**os.environ, SOURCE_URL_VARIABLE: db.url}
    with subprocess.Popen(command, env=environment, stdout=subprocess.DEVNULL) as process:
        interrupted = False
        while process.poll() is None:
            if stop.is_set() and not interrupted:
                process.send_signal(signal.SIGINT)  # stops after the tick in progress
                interrupted = True
            time.sleep(PUBLISHED_POLL_S)
    if process.returncode != 0 or not stats_file.exists():
        raise BenchmarkError(f"the workload generator failed (exit {process.returncode})")
    stats: dict[str, Any] = json.loads(stats_file.read_text(encoding="utf-8"))
    return stats


def _wait_until_published(bootstrap: str, prefix: str, changes: dict[str, dict[str, int]],
                          stop: threading.Event) -> None:
    """Until the topics hold every record the connector publishes for the `changes` made."""
    expected = published_records(changes)
    topics = captured_topics(prefix)
    deadline = time.monotonic() + PUBLISHED_TIMEOUT_S
    published = 0
    while time.monotonic() < deadline and not stop.is_set():
        published = sum(end_offsets(bootstrap, topics, OFFSETS_TIMEOUT_S).values())
        if published >= expected:
            log.info(f"the connector published all {expected:,} records")
            return
        time.sleep(PUBLISHED_POLL_S)
    raise BenchmarkError(f"the connector published {published:,} of {expected:,} records "
                         f"within {PUBLISHED_TIMEOUT_S:g} s")


def _workload(params: CdcParams, stats: dict[str, Any]) -> Workload:
    """From the generator's stats file (`SimulationStats.to_dict`)."""
    return Workload(
        rate_asked=params.rate, seconds_asked=params.seconds, seconds=float(stats["seconds"]),
        events=int(stats["events"]),
        rows=sum(sum(ops.values()) for ops in stats["changes"].values()),
        transactions=int(stats["transactions"]),
        invalid_rows=sum(sum(rules.values()) for rules in stats["invalid_rows"].values()))


def _notes(settings: Settings, measured: Measured) -> tuple[str, ...]:
    latency = measured.latency
    notes = [
        f"Services of the run's own, in a scratch folder under {settings.state_path}: "
        "embedded PostgreSQL, one Kafka broker, one standalone Kafka Connect worker; Spark "
        "in the benchmark's process; the generator (`condolake simulate`) in a "
        "process of its own. It wrote its normal mix with "
        f"{INVALID_SHARE:.0%} rule-breaking rows.",
        "All clocks are this machine's: PostgreSQL's commit time, the broker's append time "
        "and the gold set's publish time. Debezium's `source.ts_ms` has millisecond "
        "resolution.",
    ]
    workload = measured.workload
    if workload.rows_per_s < BEHIND_SHARE * workload.rate_asked:
        notes.append(f"The generator wrote {workload.rows_per_s:,.0f} row changes/s of the "
                     f"{workload.rate_asked:,.0f} asked: it shares the CPUs with Spark, "
                     "PostgreSQL, the broker and Connect, and a tick that falls behind "
                     "catches up by a bounded burst only.")
    if latency.missed_sets:
        notes.append(f"{latency.missed_sets} gold sets were replaced before the poller saw "
                     "them: their transactions count at the next set seen (later).")
    if not latency.drained:
        notes.append(f"The stream stopped at its time limit ({drain_limit_s(latency.trigger_s):g}"
                     " s after production) with work left.")
    return tuple(notes)


def _result(settings: Settings, params: CdcParams, started_at: dt.datetime, wall_s: float,
            load_before: tuple[float, float, float], measured: Measured) -> CdcBenchmark:
    machine = describe_machine(load_before)
    notes = _notes(settings, measured)
    # Only the load before counts: at the end it is mostly the run's own services.
    busy = busy_note(machine.load_before[0], machine.cpu_count, during=" before the run")
    if busy:
        notes += (busy,)
    setup = CdcSetup(
        spark_master=settings.spark_master, shuffle_partitions=settings.shuffle_partitions,
        kafka_partitions=settings.kafka_partitions,
        kafka_broker=f"embedded Kafka {KAFKA_VERSION} (single broker)",
        connect=(f"Kafka Connect {KAFKA_CONNECT_VERSION} standalone, Debezium "
                 f"{DEBEZIUM_VERSION} (pgoutput, poll.interval.ms {POLL_INTERVAL_MS})"),
        kafka_client=(f"confluent-kafka {package_version('confluent-kafka')}, "
                      f"librdkafka {confluent_kafka.libversion()[0]}"))
    return CdcBenchmark(
        scale=params.scale, seed=params.seed, started_at=started_at.isoformat(), wall_s=wall_s,
        machine=machine, versions=measured.versions, setup=setup,
        source_rows=measured.source_rows, workload=measured.workload,
        latency=measured.latency, notes=notes)
