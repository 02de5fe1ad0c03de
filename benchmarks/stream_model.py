"""What a streaming benchmark measured, as plain data, and its targets (pure)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from benchmarks.model import Machine, Timing, Versions, ratio

# The targets (benchmarked, not tested): events from Kafka into gold at this rate at least,
# and, at DEFAULT_RATE events/s with a DEFAULT_TRIGGER_S trigger, a 95th percentile of
# publish -> gold within LATENCY_TARGET_S.
THROUGHPUT_TARGET_EVENTS_S = 20_000.0
LATENCY_TARGET_S = 10.0
DEFAULT_RATE = 1_000.0
DEFAULT_TRIGGER_S = 2.0
DEFAULT_DURATION_S = 60.0


@dataclass(frozen=True)
class StreamSetup:
    spark_master: str
    driver_memory: str
    shuffle_partitions: int
    kafka_partitions: int
    max_offsets_per_trigger: int
    kafka_broker: str  # "embedded Kafka <version>" or the external bootstrap servers
    kafka_client: str  # confluent-kafka and librdkafka versions of the producer and consumer


@dataclass(frozen=True)
class QueryTime:
    """One step of the drain-everything run (bronze, a silver table, a gold mart): its
    seconds and rows summed over the micro-batches that had it."""

    name: str
    seconds: float
    batches: int
    input_rows: int


@dataclass(frozen=True)
class Throughput:
    """Phase 1: a backlog produced first, then the Kafka query drains it into gold."""

    events: int  # simulator steps (changes of the four tables)
    records: int  # Kafka records (tombstones included)
    produce_s: float  # how long producing the backlog took (not part of the figures)
    pipeline_s: float  # start of the query -> everything in gold
    stages: tuple[QueryTime, ...]  # each step, summed over the micro-batches
    consumer: Timing  # a plain consumer reading the same records, same broker, same run
    consumer_records: int
    consumer_bytes: int

    @property
    def events_per_s(self) -> float:
        return self.events / self.pipeline_s if self.pipeline_s > 0 else 0.0

    @property
    def records_per_s(self) -> float:
        return self.records / self.pipeline_s if self.pipeline_s > 0 else 0.0

    @property
    def consumer_records_per_s(self) -> float:
        seconds = self.consumer.seconds
        return self.consumer_records / seconds if seconds > 0 else 0.0

    @property
    def consumer_vs_pipeline(self) -> float:
        """How many times faster the plain consumer read the records than the pipeline."""
        return ratio(self.consumer_records_per_s, self.records_per_s)


@dataclass(frozen=True)
class Percentiles:
    """Seconds; None without any value, inf when the percentile falls on an unseen row."""

    count: int
    p50: float | None
    p95: float | None
    p99: float | None
    max: float | None


@dataclass(frozen=True)
class Latency:
    """Phase 2: the query runs continuously while the simulator produces at a steady rate."""

    trigger_s: float
    rate_asked: float  # events per second
    duration_s: float  # asked production time
    events: int
    produce_s: float
    stream_s: float  # how long the continuous run lasted (start-up and drain included)
    created: int  # transacoes created while producing
    deleted_first: int  # deleted in the source before reaching silver: not measured
    not_visible: int  # measured, but not in gold yet when the stream stopped
    drained: bool  # False: the stream was stopped at its time limit with work left
    gold_batches: int  # micro-batches that committed while measuring
    end_to_end: Percentiles  # publish -> the gold commit that covers the row
    to_silver: Percentiles  # publish -> the silver commit that inserted the row
    # Kafka offsets published but not yet taken by the stream when production ended (None:
    # not known); a stream that keeps up has at most a trigger's worth or so.
    kafka_lag_at_end: int | None = None

    @property
    def achieved_rate(self) -> float:
        return self.events / self.produce_s if self.produce_s > 0 else 0.0

    @property
    def target_s(self) -> float:
        return LATENCY_TARGET_S


@dataclass(frozen=True)
class StreamBenchmark:
    scale: float
    seed: int
    started_at: str  # local time, ISO 8601, seconds
    machine: Machine
    versions: Versions
    setup: StreamSetup
    source_rows: dict[str, int]  # generated per table, before the stream
    spark_start_s: float
    initial_batch_s: float
    throughput: Throughput
    latency: Latency
    notes: tuple[str, ...] = field(default=())


def throughput_met(throughput: Throughput) -> bool:
    return throughput.events_per_s >= THROUGHPUT_TARGET_EVENTS_S


def latency_met(latency: Latency) -> bool:
    """p95 within the target; never met without a measured row."""
    p95 = latency.end_to_end.p95
    return p95 is not None and not math.isinf(p95) and p95 <= latency.target_s
